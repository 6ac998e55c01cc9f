"""Training the coder's heads and measuring them on cities they never saw.

- `train_coder` fits one head per coded column on the training inventory shipped in the package
  (`data/initiatives/inventory.csv`) without its hold-out cities (named in `HOLDOUT.md` before any modelling), on
  the MiniLM embeddings or on the static ones (`embedding`). The regularisation strength C of each head is chosen
  by cross-validation grouped by city.
- `evaluate_inventory` runs cross-validation grouped by city (leave-one-city-out by default): for every fold the
  heads, including their choice of C, are fitted on the other cities only, and the held-out city is coded.
  It reports accuracy and macro-F1 per column and the service_domain confusion matrix. `evaluate_holdout` fits
  the heads on every row outside the hold-out cities and scores the hold-out cities' rows. Both also give each
  column's reliability table and expected calibration error (`inventory.calibration`) of the held-out values.
- Reviewed rows (`inventory.review`, `--add`) join the training rows of `train_coder` and, as a second run beside
  the first, of every evaluation; `agreement_ceiling` scores the blind second coding of the inventory against the
  first, the ceiling the figures are read against. `TrainingSettings.calibrate` temperature-scales the
  single-valued heads (`fit_temperature`).
- `evaluate_cdp` is a second, larger benchmark: CDP city climate actions (2012–2017) classified into their CDP
  sector, grouped by reporting city. It also codes every CDP action whose sector maps honestly onto a
  `service_domain` with the inventory-trained head (`CDP_TO_SERVICE_DOMAIN`), a transfer test across datasets.

CDP data is never used to fit the shipped heads: the inventory alone trains them, so `train-coder` needs nothing
outside the package and the shipped files carry nothing derived from CDP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from ..errors import InputError
from ..model.codebook import CODED_COLUMNS, COLUMN_BY_NAME
from .calibration import reliability
from .coder import (
    DEFAULT_EMBEDDING,
    ENCODER_FILE,
    TOKENIZER_SHA256,
    Coder,
    Embedder,
    Head,
    Lexicon,
    StaticEmbedder,
    check_embedding,
    decide,
    embedder_for,
    features,
    text_digest,
    texts_of,
)
from .review import Additions, read_additions

DATA = Path(str(resources.files("smartcities") / "data"))
INVENTORY_FILE = DATA / "initiatives" / "inventory.csv"
HOLDOUT_FILE = DATA / "initiatives" / "HOLDOUT.md"
SECOND_CODING_FILE = DATA / "initiatives" / "second_coding.csv"  # a blind second coding of a tenth of the rows
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
TEMPERATURES = tuple(round(float(t), 3) for t in np.geomspace(0.25, 4.0, 25))  # 0.25 … 4, ratio 2^(1/6)
MIN_POSITIVES = 3  # a technology label with fewer positive rows has no head (it is never predicted)
LEXICON_WEIGHT = 1.0  # the tf-idf part's length beside the unit embedding (grouped folds: 1 beat 0.5 and none)
SEED = 0

# CDP sectors as reported → a normalised sector (the benchmark's classes). "Other"/"Other: …" and the rare
# "Public procurement" (18 rows) are left out of the benchmark.
CDP_SECTORS = {
    "buildings": "buildings", "energy demand in buildings": "buildings",
    "private transport": "transport", "mass transit": "transport", "transport": "transport",
    "other: transport": "transport",
    "waste": "waste", "community-scale development": "community_development", "energy supply": "energy_supply",
    "water": "water", "outdoor lighting": "outdoor_lighting", "urban land use": "urban_land_use",
    "food and agriculture": "food_agriculture", "food": "food_agriculture",
    "finance and economic development": "finance_economy", "finance": "finance_economy",
    "education": "education",
}
# Normalised CDP sector → service_domain, only where the codebook's definition clearly covers the sector.
# Every CDP action is a climate-mitigation action, so energy supply, building energy use, waste and water are
# environment_energy. Outdoor lighting, urban land use and community-scale development have no clear single
# domain (facility management? environment? planning?) and are left unmapped.
CDP_TO_SERVICE_DOMAIN = {
    "transport": "transport",
    "energy_supply": "environment_energy",
    "buildings": "environment_energy",
    "waste": "environment_energy",
    "water": "environment_energy",
    "food_agriculture": "environment_energy",
    "education": "education",
    "finance_economy": "employment_economy",
}


# --- labels -----------------------------------------------------------------------------------------------------

def labels_of(frame: pd.DataFrame, column: str) -> list:
    """A column's labels as codebook strings: enums as they are, booleans 'true'/'false', lists as tuples."""
    kind = COLUMN_BY_NAME[column].kind
    if kind == "bool":
        return ["true" if bool(v) else "false" for v in frame[column]]
    if kind == "list":
        return [tuple(v) if v else ("none",) for v in frame[column]]
    return [str(v) for v in frame[column]]


def labelled(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Which rows of `frame` carry a value in `column` (a reviewed row may carry values for some columns only)."""
    return frame[column].map(lambda v: v is not None and v is not pd.NA and v == v).to_numpy(dtype=bool)


def _multi_matrix(values: Sequence[tuple[str, ...]], classes: Sequence[str]) -> np.ndarray:
    return np.array([[c in v for c in classes] for v in values], dtype=np.int64)


# --- fitting ----------------------------------------------------------------------------------------------------

def _logistic(C: float, balanced: bool) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced" if balanced else None, solver="newton-cg", max_iter=500)


def fit_head(X, labels: Sequence, column: str, C: float = 3.0, balanced: bool = True) -> Head:
    """One column's head fitted on features `X` (dense or sparse) and labels (strings, or tuples for the
    multi-label column)."""
    if COLUMN_BY_NAME[column].kind == "list":
        allowed = COLUMN_BY_NAME[column].values
        counts = {c: sum(c in v for v in labels) for c in allowed}
        classes = tuple(c for c in allowed if counts[c] >= MIN_POSITIVES)
        Y = _multi_matrix(labels, classes)
        coef = np.zeros((len(classes), X.shape[1]))
        intercept = np.zeros(len(classes))
        for j in range(len(classes)):
            model = _logistic(C, balanced).fit(X, Y[:, j])
            coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
        return Head(column, "multi", classes, coef, intercept, {"C": C, "balanced": balanced})
    model = _logistic(C, balanced).fit(X, np.asarray(labels))
    classes = tuple(str(c) for c in model.classes_)
    return Head(column, "single", classes, model.coef_, model.intercept_, {"C": C, "balanced": balanced})


def score(column: str, truth: Sequence, predicted: Sequence, classes: Sequence[str] | None = None) -> dict:
    """Accuracy and macro-F1; for a yes/no column also the F1 of `true`. For the multi-label column: exact-set
    accuracy, and macro-F1 over labels (each label a yes/no decision, F1 of the yes class, averaged over labels
    present in truth or prediction)."""
    kind = getattr(COLUMN_BY_NAME.get(column), "kind", None)
    if kind == "list":
        labels = sorted({x for v in list(truth) + list(predicted) for x in v})
        T, P = _multi_matrix(truth, labels), _multi_matrix(predicted, labels)
        return {
            "accuracy": float(np.mean([set(t) == set(p) for t, p in zip(truth, predicted)])),
            "macro_f1": float(f1_score(T, P, average="macro", zero_division=0)),
            "micro_f1": float(f1_score(T, P, average="micro", zero_division=0)),
            "per_label_f1": {lab: float(f1_score(T[:, j], P[:, j], zero_division=0)) for j, lab in enumerate(labels)},
        }
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    labels = sorted(set(truth))  # macro-F1 over the classes that occur in the data
    out = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
    }
    if kind == "bool":
        # a flag is there to find the initiatives that have it: its figure is the F1 of `true`
        out["true_f1"] = float(f1_score(truth, predicted, labels=["true"], average="macro", zero_division=0))
    return out


HEADLINE_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "micro_f1": "micro-F1", "true_f1": "F1 of true"}
"""How each `headline_key` is named where people read it."""


def headline_key(column: str) -> str:
    """The key of `score()`'s result that a column is judged by: accuracy for item_type (one type per
    initiative), micro-F1 for technologies (every label found counts), the F1 of `true` for a flag (it is there to
    find the initiatives that have it), macro-F1 otherwise (every class counts alike, however rare)."""
    kind = COLUMN_BY_NAME[column].kind
    if kind == "list":
        return "micro_f1"
    if kind == "bool":
        return "true_f1"
    return "accuracy" if column == "item_type" else "macro_f1"


def headline(column: str, scores: dict) -> float:
    """The one figure a column is judged by (`headline_key`), from a `score()` result."""
    return scores[headline_key(column)]


def choose_C(X: np.ndarray, labels: Sequence, groups: Sequence, column: str, grid: Sequence[float] = C_GRID,
             balanced: bool = True, n_splits: int = 5) -> float:
    """The C of `grid` with the best macro-F1 under cross-validation grouped by `groups` (ties: smaller C)."""
    splits = list(GroupKFold(n_splits=min(n_splits, len(set(groups)))).split(X, groups=groups))
    best, best_score = grid[0], -1.0
    labels = list(labels)
    for C in grid:
        predicted: list = [None] * len(labels)
        for train, test in splits:
            head = fit_head(X[train], [labels[i] for i in train], column, C, balanced)
            values, _ = decide(head, head.proba(X[test]))
            for i, v in zip(test, values):
                predicted[i] = v
        value = score(column, labels, predicted)["macro_f1"]
        if value > best_score + 1e-9:
            best, best_score = C, value
    return best


def fit_temperature(X: np.ndarray, labels: Sequence, groups: Sequence, column: str, C: float,
                    balanced: bool = True, n_splits: int = 5, grid: Sequence[float] = TEMPERATURES) -> float:
    """The temperature of `grid` that gives the out-of-fold probabilities of a single-valued head (fitted with
    `C` under cross-validation grouped by `groups`) the smallest log loss; 1 for the multi-label column. Only
    the confidences change with it, never the chosen class."""
    if COLUMN_BY_NAME[column].kind == "list":
        return 1.0
    labels = np.asarray(labels)
    folds = []  # per fold: its head, the test rows it can score, and their class indices
    for train, test in GroupKFold(n_splits=min(n_splits, len(set(groups)))).split(X, groups=groups):
        head = fit_head(X[train], list(labels[train]), column, C, balanced)
        known = np.isin(labels[test], head.classes)  # a class missing from the training part cannot be scored
        folds.append((head, X[test][known], np.searchsorted(head.classes, labels[test][known])))
    if not any(len(y) for _, _, y in folds):
        return 1.0

    def loss(t: float) -> float:
        return -float(np.mean(np.concatenate([
            np.log(np.maximum(replace(head, temperature=t).proba(Z)[np.arange(len(y)), y], 1e-12))
            for head, Z, y in folds])))

    return min(grid, key=loss)


@dataclass(frozen=True)
class TrainingSettings:
    """How the heads are fitted (a frozen value, so a shared default cannot drift)."""

    columns: tuple[str, ...] = CODED_COLUMNS
    grid: tuple[float, ...] = C_GRID
    balanced: bool = True
    lexicon_weight: float = LEXICON_WEIGHT  # 0: the heads read the embedding alone
    fixed_C: float | Mapping[str, float] | None = None  # skip the search: this C for every column, or per column
    calibrate: bool = True  # temperature-scale the single-valued heads (fit_temperature): on held-out folds it
    # brings the confidences closer to the share right, most of all lead_actor's (docs/coder.md, Calibration)

    def C_for(self, column: str) -> float | None:
        """The fixed C of `column`, or None when it is to be chosen by cross-validation."""
        if isinstance(self.fixed_C, Mapping):
            return self.fixed_C.get(column)
        return self.fixed_C

    def C_described(self) -> str:
        """How C was set, for the heads' manifest."""
        if self.fixed_C is None:
            return "chosen per column by 5-fold cross-validation grouped by city from " + ", ".join(
                f"{c:g}" for c in self.grid)
        if isinstance(self.fixed_C, Mapping):
            return "kept per column: " + ", ".join(f"{column} {C:g}" for column, C in self.fixed_C.items())
        return f"{self.fixed_C:g}"


def fit_coder(X: np.ndarray, frame: pd.DataFrame, groups: Sequence, settings: TrainingSettings = TrainingSettings(),
              progress: Callable[[str], None] | None = None, texts: Sequence[str] | None = None,
              reviewed: int = 0) -> Coder:
    """One head per column of `settings`, each fitted on the rows of `frame` (embedded as `X`, grouped by `groups`
    for the choice of C) that have a value in its column. Given the rows' `texts`, a lexicon is fitted on them and
    the heads read it beside the embedding (unless `settings.lexicon_weight` is 0). The last `reviewed` rows are
    reviewed examples (`inventory.review`): they carry values for some columns only and add no words to the
    lexicon, so a head whose column no reviewed row carries stays the head it was."""
    lexicon = (Lexicon.fit(texts[:len(texts) - reviewed], settings.lexicon_weight)
               if texts is not None and settings.lexicon_weight > 0 else None)
    F = features(X, lexicon, texts)
    heads = {}
    groups = np.asarray(groups, dtype=object)
    for column in settings.columns:
        rows = labelled(frame, column)
        labels = labels_of(frame[rows], column)
        C = settings.C_for(column) or choose_C(F[rows], labels, list(groups[rows]), column, settings.grid,
                                               settings.balanced)
        heads[column] = fit_head(F[rows], labels, column, C, settings.balanced)
        if settings.calibrate:
            heads[column].temperature = fit_temperature(F[rows], labels, list(groups[rows]), column, C,
                                                        settings.balanced)
        if progress:
            progress(column)
    return Coder(heads, {}, lexicon)


def holdout_cities() -> tuple[str, ...]:
    """The hold-out cities: the comma-separated last paragraph of `HOLDOUT.md`."""
    last = HOLDOUT_FILE.read_text(encoding="utf-8").strip().split("\n\n")[-1]
    return tuple(c.strip() for c in " ".join(last.split()).split(",") if c.strip())


def is_holdout(frame: pd.DataFrame) -> np.ndarray:
    """Which rows belong to a hold-out city."""
    return frame["city"].isin(holdout_cities()).to_numpy()


def read_training_inventory(path: str | Path | None = None) -> pd.DataFrame:
    """The inventory at `path`, or by default the shipped training inventory without its hold-out cities."""
    from ..io.inventory import read_inventory

    if path is not None:
        return read_inventory(path)
    frame = read_inventory(INVENTORY_FILE)
    return frame[~is_holdout(frame)].reset_index(drop=True)


def encoder_saw(embed: Embedder | StaticEmbedder, frame: pd.DataFrame) -> int:
    """How many rows of `frame` have a text the encoder was fine-tuned on (0 for an untuned embedding)."""
    return sum(text_digest(t) in embed.tuned_on for t in texts_of(frame))


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def embedding_manifest(embed: Embedder | StaticEmbedder) -> dict:
    """What the heads' manifest records about the embedding they were fitted on."""
    if embed.name == "static":
        import model2vec

        return {"name": "static", "folder": "smartcities/data/coder/static", "reader": "model2vec",
                "reader_version": model2vec.__version__, "dim": embed.dim,
                "model": "static token vectors distilled from all-MiniLM-L6-v2 (PCA 256, SIF 1e-4, float16)",
                "sha256": embed.model_sha256, "max_tokens": embed.max_tokens,
                "pooling": "mean of token vectors, L2-normalised", "text": "name + '. ' + description"}
    return {"name": "minilm", "file": f"smartcities/data/coder/encoder/{ENCODER_FILE.name}",
            "model": "all-MiniLM-L6-v2 fine-tuned on the training inventory without its hold-out cities "
                     "(scripts/tune_encoder.py), ONNX, int8",
            "sha256": embed.model_sha256, "tokenizer_sha256": TOKENIZER_SHA256, "max_tokens": embed.max_tokens,
            "pooling": "mean over tokens, L2-normalised (in the ONNX graph)", "text": "name + '. ' + description"}


def with_additions(frame: pd.DataFrame, additions: Additions | None) -> pd.DataFrame:
    """The training rows followed by the reviewed examples (columns they do not carry are None)."""
    if additions is None or not len(additions.frame):
        return frame
    return pd.concat([frame.astype(object), additions.frame], ignore_index=True)


def train_coder(inventory: str | Path | None = None, settings: TrainingSettings = TrainingSettings(),
                embed: Embedder | StaticEmbedder | None = None, progress: Callable[[str], None] | None = None,
                embedding: str = DEFAULT_EMBEDDING, add: Sequence[str | Path] = ()) -> Coder:
    """Heads for every coded column, trained on the inventory (default: the shipped training inventory without
    its hold-out cities), on the embedding called `embedding` (`minilm` or `static`) unless an embedder is given,
    plus the reviewed rows of the files in `add` (see `inventory.review`; hold-out cities' rows are left out)."""
    path = Path(inventory) if inventory else INVENTORY_FILE
    training = read_training_inventory(inventory)
    additions = read_additions(add, training, holdout_cities()) if add else None
    frame = with_additions(training, additions)
    embed = embed or embedder_for(check_embedding(embedding))
    texts = texts_of(frame)
    fitted = fit_coder(embed.embed(texts), frame, frame["city"].tolist(), settings, progress, texts,
                       reviewed=len(frame) - len(training))
    import sklearn

    manifest = {
        "format": 1,
        "embedding": embedding_manifest(embed),
        "training": {"data": "smartcities/data/initiatives/inventory.csv without the hold-out cities of HOLDOUT.md"
                     if inventory is None else path.name,
                     "sha256": _file_sha256(path), "rows": int(len(training)),
                     "cities": int(training["city"].nunique()),
                     **({"holdout_cities": list(holdout_cities())} if inventory is None else {}),
                     "model": "LogisticRegression (newton-cg; multinomial for single-valued columns, one-vs-rest "
                              "for technologies) over the embedding"
                              + (" and the lexicon's tf-idf" if fitted.lexicon is not None else ""),
                     "class_weight": "balanced" if settings.balanced else None,
                     "C": settings.C_described(),
                     **({"temperature": "per single-valued column, the one of 0.25–4 with the least log loss "
                                        "on 5 folds grouped by city"} if settings.calibrate else {}),
                     "scikit_learn": sklearn.__version__},
    }
    if additions is not None:
        manifest["training"]["added"] = {"examples": int(len(additions.frame)), "values": additions.values,
                                         "files": additions.files}
    return replace(fitted, manifest=manifest)


# --- grouped evaluation on the inventory ------------------------------------------------------------------------

@dataclass
class Evaluation:
    """Scores per column on held-out cities, the service_domain confusion matrix, and each column's reliability
    table (`inventory.calibration`) of the held-out values' confidences."""

    scores: dict[str, dict]
    confusion_labels: list[str]
    confusion: np.ndarray
    folds: int
    rows: int
    predictions: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    calibration: dict[str, dict] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"column": c, "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                              "ece": self.calibration[c]["ece"] if c in self.calibration else np.nan}
                             for c, s in self.scores.items()])


Added = tuple[np.ndarray, pd.DataFrame]  # reviewed examples (inventory.review) and their embeddings


def _training_part(X: np.ndarray, frame: pd.DataFrame, rows: np.ndarray, added: Added | None,
                   test_cities: set, texts: Sequence[str] | None
                   ) -> tuple[np.ndarray, pd.DataFrame, list[str] | None]:
    """The training rows of a fold (their vectors, rows and texts), followed by the reviewed examples of cities
    outside the fold's test cities."""
    part = frame.iloc[rows]
    part_texts = None if texts is None else [texts[i] for i in rows]
    if added is None or not len(added[1]):
        return X[rows], part, part_texts
    keep = ~added[1]["city"].isin(test_cities).to_numpy()
    extra = added[1][keep]
    return (np.vstack([X[rows], added[0][keep]]), pd.concat([part.astype(object), extra], ignore_index=True),
            None if texts is None else part_texts + texts_of(extra))


def _scored(frame: pd.DataFrame, truth: dict, predicted: dict, confidence: dict, columns: Sequence[str],
            folds: int) -> Evaluation:
    scores = {c: score(c, truth[c], predicted[c]) for c in columns}
    calibration = {c: reliability(confidence[c], [_same(c, t, p) for t, p in zip(truth[c], predicted[c])])
                   for c in columns}
    labels, matrix = _service_domain_confusion(truth, predicted, columns)
    table = pd.DataFrame({"id": frame["id"].tolist(), "city": frame["city"].tolist()})
    for c in columns:
        table[c] = truth[c]
        table[f"{c}_predicted"] = predicted[c]
        table[f"{c}_confidence"] = confidence[c]
    return Evaluation(scores, labels, matrix, folds, len(frame), table, calibration)


def _same(column: str, truth, predicted) -> bool:
    """Whether a coded value is right: the same class, or for `technologies` the same set."""
    return set(truth) == set(predicted) if COLUMN_BY_NAME[column].kind == "list" else truth == predicted


def evaluate_inventory(X: np.ndarray, frame: pd.DataFrame, settings: TrainingSettings = TrainingSettings(),
                       n_splits: int | None = None, progress: Callable[[int, int], None] | None = None,
                       added: Added | None = None, texts: Sequence[str] | None = None) -> Evaluation:
    """Cross-validation grouped by city: leave-one-city-out, or `n_splits` grouped folds. C and, given the rows'
    `texts`, the lexicon are fitted inside each training fold (nested), so the held-out city plays no part in any
    choice. `added` reviewed examples join every fold's training rows, except those of the fold's test cities;
    they are never scored."""
    groups = frame["city"].tolist()
    splitter = LeaveOneGroupOut() if n_splits is None else GroupKFold(n_splits=n_splits)
    splits = list(splitter.split(X, groups=groups))
    truth = {c: labels_of(frame, c) for c in settings.columns}
    predicted: dict[str, list] = {c: [None] * len(frame) for c in settings.columns}
    confidence = {c: np.zeros(len(frame)) for c in settings.columns}
    for done, (train, test) in enumerate(splits, 1):
        X_train, train_frame, train_texts = _training_part(X, frame, train, added, {groups[i] for i in test}, texts)
        coder = fit_coder(X_train, train_frame, train_frame["city"].tolist(), settings, texts=train_texts,
                          reviewed=len(train_frame) - len(train))
        coded = coder.predict(X[test], None if texts is None else [texts[i] for i in test])
        for column, (values, conf) in coded.items():
            confidence[column][test] = conf
            for i, v in zip(test, values):
                predicted[column][i] = v
        if progress:
            progress(done, len(splits))
    return _scored(frame, truth, predicted, confidence, settings.columns, len(splits))


def evaluate_holdout(X: np.ndarray, frame: pd.DataFrame, holdout: np.ndarray,
                     settings: TrainingSettings = TrainingSettings(), added: Added | None = None,
                     texts: Sequence[str] | None = None) -> Evaluation:
    """Heads (C chosen by grouped cross-validation on the training rows only) fitted on the rows outside
    `holdout` (plus the `added` reviewed examples of cities outside it) and scored on the rows inside it,
    exactly as the shipped heads meet cities they never saw."""
    test = frame[holdout]
    X_train, train_frame, train_texts = _training_part(X, frame, np.flatnonzero(~holdout), added,
                                                       set(test["city"]), texts)
    coder = fit_coder(X_train, train_frame, train_frame["city"].tolist(), settings, texts=train_texts,
                      reviewed=len(train_frame) - int((~holdout).sum()))
    truth = {c: labels_of(test, c) for c in settings.columns}
    coded = coder.predict(X[holdout], None if texts is None else [t for t, h in zip(texts, holdout) if h])
    predicted = {c: values for c, (values, _) in coded.items()}
    confidence = {c: conf for c, (_, conf) in coded.items()}
    return _scored(test, truth, predicted, confidence, settings.columns, 1)


def _service_domain_confusion(truth: dict, predicted: dict, columns: Sequence[str]) -> tuple[list[str], np.ndarray]:
    if "service_domain" not in columns:
        return [], np.zeros((0, 0), dtype=int)
    labels = [d for d in COLUMN_BY_NAME["service_domain"].values
              if d in set(truth["service_domain"]) | set(predicted["service_domain"])]
    return labels, confusion_matrix(truth["service_domain"], predicted["service_domain"], labels=labels)


# --- the CDP benchmark ------------------------------------------------------------------------------------------

DEFAULT_CDP = Path("../shared/data/cdp_city_actions_2012_2017/cdp_city_emissions_reduction_actions_2012_2017.csv")
CDP_TEXT = "Action description"


def default_cdp_path() -> Path | None:
    """The shared CDP actions file relative to the working directory, if it is there."""
    return DEFAULT_CDP if DEFAULT_CDP.exists() else None


def read_cdp(path: str | Path) -> pd.DataFrame:
    """CDP city actions with a description and a sector the benchmark uses: columns `city` (the CDP account
    number, so that namesakes stay apart), `text`, `sector` (normalised) and `service_domain` (mapped, or None)."""
    path = Path(path)
    if path.is_dir():
        path = path / DEFAULT_CDP.name
    if not path.exists():
        raise InputError.single(path, "file does not exist; pass the CDP actions CSV with --cdp")
    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError.single(path, "is not UTF-8; expected the CDP actions CSV saved as UTF-8") from None
    missing = [c for c in ("Account number", "Sector", CDP_TEXT) if c not in raw.columns]
    if missing:
        raise InputError.single(path, f"missing column {missing[0]!r} (expected the CDP city actions 2012–2017 CSV)",
                                line=1)
    raw = raw[raw[CDP_TEXT].notna() & raw[CDP_TEXT].str.strip().astype(bool)]
    sector = raw["Sector"].fillna("").str.strip().str.lower().map(CDP_SECTORS)
    frame = pd.DataFrame({
        "city": raw["Account number"].astype(str).to_numpy(),
        "text": raw[CDP_TEXT].str.strip().to_numpy(),
        "sector": sector.to_numpy(),
    })
    frame = frame[frame["sector"].notna()].reset_index(drop=True)
    frame["service_domain"] = frame["sector"].map(CDP_TO_SERVICE_DOMAIN)
    return frame


def evaluate_cdp(X: np.ndarray, frame: pd.DataFrame, coder: Coder | None = None, n_splits: int = 5,
                 C: float = 3.0, balanced: bool = True) -> dict:
    """CDP sector classification with `n_splits` folds grouped by city (a logistic head on the same embeddings,
    C fixed), and — when `coder` is given — the inventory-trained service_domain head on the mapped rows."""
    groups = frame["city"].to_numpy()
    labels = frame["sector"].tolist()
    predicted: list = [None] * len(frame)
    for train, test in GroupKFold(n_splits=n_splits).split(X, groups=groups):
        model = _logistic(C, balanced).fit(X[train], [labels[i] for i in train])
        for i, v in zip(test, model.predict(X[test])):
            predicted[i] = v
    result = {
        "rows": int(len(frame)), "cities": int(frame["city"].nunique()), "folds": n_splits,
        "sector": score("sector", labels, predicted),
        "sector_labels": sorted(set(labels)),
        "sector_confusion": confusion_matrix(labels, predicted, labels=sorted(set(labels))),
    }
    if coder is not None and "service_domain" in coder.heads:
        mapped = frame["service_domain"].notna().to_numpy()
        values, _ = coder.predict(X[mapped], frame.loc[mapped, "text"].tolist())["service_domain"]
        truth = frame.loc[mapped, "service_domain"].tolist()
        result["transfer"] = {"rows": int(mapped.sum()), **score("service_domain", truth, values),
                              "labels": sorted(set(truth))}
        result["transfer"]["per_class_recall"] = {
            d: float(np.mean([v == d for v, t in zip(values, truth) if t == d])) for d in sorted(set(truth))}
    return result


# --- the agreement ceiling -------------------------------------------------------------------------------------

def agreement_ceiling(first: str | Path = INVENTORY_FILE, second: str | Path = SECOND_CODING_FILE) -> dict:
    """How far a second coder, coding the same rows blind, agrees with the first (the inventory): per coded
    column the rows both coded, accuracy and macro-F1 of the second coding scored against the first exactly as
    the model is (`score`), and Cohen's kappa (`agree.agreement`). No model is involved: it is the ceiling the
    model's figures are read against."""
    from .agree import agreement, read_coding

    a, b = read_coding(first), read_coding(second)
    kappa = agreement([b, a], per_label=False).set_index("column")
    both = a.set_index("id").loc[b["id"]].reset_index()
    out = {"file": Path(second).name, "rows": int(len(b)), "columns": {}}
    for column in CODED_COLUMNS:
        if column in b and column in a:
            out["columns"][column] = {**score(column, labels_of(both, column), labels_of(b, column)),
                                      "cohen_kappa": float(kappa.loc[column, "cohen_kappa"])}
    return out


# --- the whole evaluation, as the command runs it ---------------------------------------------------------------

def evaluate(inventory: str | Path | None = None, cdp: str | Path | None = None, folds: int | None = None,
             settings: TrainingSettings = TrainingSettings(), embed: Embedder | StaticEmbedder | None = None,
             progress: Callable[[str, int, int], None] | None = None, embedding: str = DEFAULT_EMBEDDING,
             add: Sequence[str | Path] = ()) -> dict:
    """On the inventory (default: the shipped training inventory), the hold-out cities of HOLDOUT.md are set
    aside: grouped cross-validation runs on the other rows, and heads fitted on all of those code the hold-out
    rows. Each part carries every column's scores and reliability table; with `add` (reviewed files, see
    `inventory.review`) each part is run a second time with the reviewed examples added to the training rows
    (`with_added`). For the shipped inventory, the second coder's agreement (`agreement_ceiling`). With `cdp`,
    the CDP benchmark too. Each part counts the rows whose text the encoder was fine-tuned on (so their figures
    are not held out for the encoder). A plain dict (confusion matrices as lists)."""
    from ..io.inventory import read_inventory

    embed = embed or embedder_for(check_embedding(embedding))
    whole = read_inventory(inventory or INVENTORY_FILE)
    holdout = is_holdout(whole)
    frame = whole[~holdout].reset_index(drop=True)
    additions = read_additions(add, frame, holdout_cities()) if add else None  # fail fast on bad files
    cdp_frame = read_cdp(cdp) if cdp is not None else None
    whole_texts = texts_of(whole)
    texts = [t for t, h in zip(whole_texts, holdout) if not h]
    Xw = embed.embed(whole_texts, progress=(lambda d: progress("embedding inventory", d, len(whole)))
                     if progress else None)
    X = Xw[~holdout]
    added = (embed.embed(texts_of(additions.frame)), additions.frame) if additions is not None else None

    def part(ev: Evaluation, rows: pd.DataFrame) -> dict:
        seen = encoder_saw(embed, rows)
        return {"rows": ev.rows, "cities": int(rows["city"].nunique()), "encoder_saw_rows": seen,
                "encoder_tuned_on_these_rows": seen > 0, "columns": ev.scores, "calibration": ev.calibration,
                "service_domain_confusion": {"labels": ev.confusion_labels, "matrix": ev.confusion.tolist()}}

    def with_added(ev: Evaluation) -> dict:
        return {"columns": ev.scores, "calibration": ev.calibration,
                "service_domain_confusion": {"labels": ev.confusion_labels, "matrix": ev.confusion.tolist()}}

    def grouped(extra: Added | None, stage: str) -> Evaluation:
        return evaluate_inventory(X, frame, settings, n_splits=folds, added=extra, texts=texts,
                                  progress=(lambda d, n: progress(stage, d, n)) if progress else None)

    ev = grouped(None, "grouped cross-validation")
    report: dict = {
        "embedding": embed.name, "calibrated": settings.calibrate,
        "inventory": {**part(ev, frame), "folds": ev.folds,
                      "scheme": "leave-one-city-out" if folds is None else f"{folds} folds grouped by city"},
    }
    if added is not None:
        report["added"] = {"examples": int(len(additions.frame)), "values": additions.values,
                           "files": additions.files}
        report["inventory"]["with_added"] = with_added(grouped(added, "grouped cross-validation, reviewed rows added"))
    if holdout.any():
        held = whole[holdout]
        report["holdout"] = {**part(evaluate_holdout(Xw, whole, holdout, settings, texts=whole_texts), held),
                             "city_names": sorted(set(held["city"]))}
        if added is not None:
            report["holdout"]["with_added"] = with_added(evaluate_holdout(Xw, whole, holdout, settings, added,
                                                                          whole_texts))
    if inventory is None:
        report["agreement"] = agreement_ceiling()
    if cdp_frame is not None:
        Xc = embed.embed(cdp_frame["text"].tolist(),
                         progress=(lambda d: progress("embedding CDP actions", d, len(cdp_frame))) if progress
                         else None)
        coder = fit_coder(X, frame, frame["city"].tolist(), replace(settings, columns=("service_domain",),
                                                                    calibrate=False), texts=texts)
        result = evaluate_cdp(Xc, cdp_frame, coder)
        result["sector_confusion"] = {"labels": result.pop("sector_labels"),
                                      "matrix": result["sector_confusion"].tolist()}
        report["cdp"] = result
    return report
