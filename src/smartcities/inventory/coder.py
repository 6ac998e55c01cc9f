"""The automatic coder: sentence embeddings of an initiative's text plus one small classifier head per coded column.

How a row is coded:

1. Its text is `name. description` (`text_of`).
2. The text becomes a unit vector. Two embeddings are shipped (`EMBEDDINGS`), each with its own heads:
   - `minilm` (the default): a 384-dimensional vector from all-MiniLM-L6-v2 fine-tuned on the training
     inventory (no hold-out city) and shipped as fused int8 ONNX (`data/coder/encoder/model.onnx`, built by
     `scripts/tune_encoder.py`; the graph itself mean-pools over real tokens and normalises), tokenised with the
     vendored `tokenizer.json`. The ONNX session is loaded once, lazily, with at most two CPU threads (`Embedder`).
   - `static`: a 256-dimensional vector from a static token table distilled from the untuned model
     (`data/coder/static/`, built by `scripts/distill_static_model.py`): the mean of the text's token vectors,
     read with the `model2vec` package. No neural network runs, so it is about 20 times faster, and less
     accurate (on the hold-out cities service_domain macro-F1 0.793 against 0.805 for MiniLM; see docs/coder.md)
     (`StaticEmbedder`).
3. Beside the vector, the text's words and word pairs are weighed by tf-idf over the training texts' vocabulary
   (`Lexicon`): the cue words a person codes by survive there, where an embedding blurs them.
4. Each coded column has a head (`Head`): a linear layer (logistic regression weights) over both, giving class
   probabilities. Single-valued columns take the
   most probable class; `technologies` is multi-label (one-vs-rest): every label with probability ≥ 0.5, or the
   single most probable one when none reaches it.
5. Each value gets a confidence in [0, 1]: the winning class's probability (after temperature scaling, when the
   heads were fitted with it), or for the multi-label column the weakest of its yes/no decisions. Values a
   person already coded are kept (unless `overwrite`), with an empty confidence, and are never sent to review.

Heads and lexicon are plain arrays (`heads.npz`) and a JSON manifest (`manifest.json`) in `smartcities/data/coder/`
(for the static embedding `heads_static.npz` and `manifest_static.json`), so loading them runs no pickled code.
`smartcities train-coder [--embedding static]` (see `inventory.train`) refits them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, one_of
from ..io.outputs import atomic_path, write_all
from ..io.tables import Field, Schema, read_table
from ..model.codebook import CODED_COLUMNS, COLUMN_BY_NAME

CODER_DIR = Path(str(resources.files("smartcities") / "data" / "coder"))
TOKENIZER_FILE = CODER_DIR / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
ENCODER_FILE = CODER_DIR / "encoder" / "model.onnx"
ENCODER_SHA256 = "3fc36fd70967fd0e3b7e277e1d32c587e75fe7977af41d04b95fa18bc7fa139c"
# fingerprints (`text_digest`) of the texts the shipped encoder was fine-tuned on: figures on rows with these texts
# are not held-out for the encoder (scripts/tune_encoder.py --evaluate gives the held-out figures)
ENCODER_TUNED_ON_FILE = ENCODER_FILE.with_name("tuned_on.txt")
EMBEDDING_DIM = 384
MAX_TOKENS = 128
THREADS = 2
STATIC_DIR = CODER_DIR / "static"
STATIC_SHA256 = "3ad0f737a50e1eb792dad270e26461f7eb9f1b9d0ff47bd699b4e2d67af01611"  # static/model.safetensors
STATIC_DIM = 256
STATIC_MAX_TOKENS = 512
EMBEDDINGS = ("minilm", "static")
DEFAULT_EMBEDDING = "minilm"
EMPTY_LIST_FALLBACK = "none"


# --- text -------------------------------------------------------------------------------------------------------

def text_of(name: object, description: object) -> str:
    """The text the coder reads for one initiative: its name, a full stop, its description."""
    parts = [str(p).strip() for p in (name, description) if isinstance(p, str) and p.strip()]
    if len(parts) == 2 and not parts[0].endswith((".", "!", "?", ":")):
        parts[0] += "."
    return " ".join(parts)


def texts_of(frame: pd.DataFrame) -> list[str]:
    description = frame["description"] if "description" in frame else [None] * len(frame)
    return [text_of(n, d) for n, d in zip(frame["name"], description)]


# --- embedding --------------------------------------------------------------------------------------------------

def text_digest(text: str) -> str:
    """A short fingerprint of a text: enough to tell whether the encoder was fine-tuned on it, whatever file or
    row it comes from."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _tuned_on() -> frozenset[str]:
    return frozenset(ENCODER_TUNED_ON_FILE.read_text(encoding="ascii").split())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Embedder:
    """Texts → unit vectors with the shipped encoder (`model`: another ONNX file with the same inputs and a
    `sentence_embedding` output); CPU only, at most `threads` threads."""

    name = "minilm"
    dim = EMBEDDING_DIM

    def __init__(self, threads: int = THREADS, max_tokens: int = MAX_TOKENS, verify: bool = True,
                 model: str | Path | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = Path(model) if model is not None else ENCODER_FILE
        if not model_path.exists():
            raise RuntimeError(f"{model_path} is missing; reinstall smartcities")
        self.model_sha256 = _sha256(model_path)
        self.tuned_on = _tuned_on() if model is None else frozenset()
        if verify:
            if _sha256(TOKENIZER_FILE) != TOKENIZER_SHA256:
                raise RuntimeError(f"{TOKENIZER_FILE} does not match its recorded sha256; reinstall smartcities")
            if model is None and self.model_sha256 != ENCODER_SHA256:
                raise RuntimeError(f"{model_path} does not match its recorded sha256; reinstall smartcities")
        self.max_tokens = max_tokens
        self.tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
        self.tokenizer.no_padding()  # the file pads every text to 128 tokens; each text runs alone here
        self.tokenizer.enable_truncation(max_tokens)
        self.threads = threads
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one text per call is too small to split: `threads` callers share it
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str], progress=None) -> np.ndarray:
        """Unit vectors (n, 384), float32. Identical texts are embedded once, and every text runs alone: the
        encoder quantises its activations with one scale per call, so a text in a padded batch would get a vector
        that depends on its neighbours (cosine about 0.99), and the same initiative could be coded differently in
        two files. Texts run on `threads` threads that share the one-thread session, which is faster than one call
        spread over the threads. `progress(done)` is called every 16 distinct texts (with duplicates, scaled to
        `len(texts)`)."""
        from concurrent.futures import ThreadPoolExecutor

        keys = [t or "" for t in texts]
        unique = list(dict.fromkeys(keys))
        first = {t: i for i, t in enumerate(unique)}
        out = np.zeros((len(unique), EMBEDDING_DIM), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(unique)
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            for i, vector in enumerate(pool.map(self._one, encodings)):
                out[i] = vector
                if progress is not None and ((i + 1) % 16 == 0 or i + 1 == len(unique)):
                    progress((i + 1) * len(keys) // len(unique))
        return out[[first[t] for t in keys]]

    def _one(self, encoding) -> np.ndarray:
        ids = np.array([encoding.ids], dtype=np.int64)
        return self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                       "token_type_ids": np.zeros_like(ids)})[0][0]


@functools.lru_cache(maxsize=4)
def embedder(threads: int = THREADS, max_tokens: int = MAX_TOKENS) -> Embedder:
    """The shared MiniLM embedder, loaded on first use and kept."""
    return Embedder(threads=threads, max_tokens=max_tokens)


class StaticEmbedder:
    """Texts → unit vectors (n, 256) from the shipped static token table: the mean of a text's token vectors
    (WordPiece tokens of all-MiniLM-L6-v2, at most `max_tokens`), scaled to unit length. Loaded from the package
    folder with `model2vec`; no network, no torch."""

    name = "static"
    dim = STATIC_DIM
    tuned_on = frozenset()  # distilled from the untuned model: no inventory row shaped it

    def __init__(self, folder: str | Path | None = None, max_tokens: int = STATIC_MAX_TOKENS, verify: bool = True):
        from model2vec import StaticModel

        folder = Path(folder) if folder is not None else STATIC_DIR
        weights = folder / "model.safetensors"
        if not weights.exists():
            raise RuntimeError(f"{weights} is missing; reinstall smartcities")
        self.model_sha256 = _sha256(weights)
        if verify and folder == STATIC_DIR and self.model_sha256 != STATIC_SHA256:
            raise RuntimeError(f"{weights} does not match its recorded sha256; reinstall smartcities")
        self.max_tokens = max_tokens
        before = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"  # the folder is local: never ask a hub for anything while loading
        try:
            self.model = StaticModel.from_pretrained(str(folder))
        finally:
            if before is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = before
        self.dim = int(self.model.dim)

    def embed(self, texts: Sequence[str], progress=None, batch_size: int = 1024) -> np.ndarray:
        """Unit vectors (n, 256), float32; an empty text gets the zero vector. A text's vector does not depend
        on the batch it is read in."""
        keys = [t or "" for t in texts]
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        for start in range(0, len(keys), batch_size):
            chunk = keys[start:start + batch_size]
            vectors = self.model.encode(chunk, max_length=self.max_tokens,
                                        use_multiprocessing=False).astype(np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[start:start + len(chunk)] = np.where(norms > 1e-12, vectors / np.maximum(norms, 1e-12), 0.0)
            if progress is not None:
                progress(start + len(chunk))
        return out


@functools.lru_cache(maxsize=2)
def static_embedder() -> StaticEmbedder:
    """The shared static embedder, loaded on first use and kept."""
    return StaticEmbedder()


def check_embedding(name: str) -> str:
    if name not in EMBEDDINGS:
        raise InputError.single("--embedding", one_of(name, EMBEDDINGS))
    return name


def embedder_for(name: str = DEFAULT_EMBEDDING) -> Embedder | StaticEmbedder:
    """The shared embedder called `name` (`minilm` or `static`)."""
    return static_embedder() if check_embedding(name) == "static" else embedder()


# --- heads ------------------------------------------------------------------------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class Head:
    """One column's classifier over a text's features (`features`).

    `kind` is `single` (one class per row: softmax over `coef @ x + intercept`, or a sigmoid when there is one
    row of weights for two classes) or `multi` (one independent sigmoid per class). The linear scores of a
    `single` head are divided by `temperature` before the softmax (temperature scaling, fitted on held-out
    training folds; 1 leaves them as fitted): it changes the confidences, never the chosen class.
    """

    column: str
    kind: str
    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    info: dict = field(default_factory=dict)
    temperature: float = 1.0

    def proba(self, X) -> np.ndarray:
        z = np.asarray(X @ self.coef.T) + self.intercept
        if self.kind == "multi":
            return _sigmoid(z)
        z = z / self.temperature
        if self.coef.shape[0] == 1:
            p = _sigmoid(z[:, 0])
            return np.column_stack([1.0 - p, p])
        return _softmax(z)


def decide(head: Head, proba: np.ndarray) -> tuple[list[str | tuple[str, ...]], np.ndarray]:
    """Values and confidences from probabilities."""
    classes = np.array(head.classes)
    if head.kind == "single":
        best = proba.argmax(axis=1)
        return list(classes[best]), proba[np.arange(len(best)), best]
    chosen = proba >= 0.5
    values: list[tuple[str, ...]] = []
    confidence = np.empty(len(proba))
    for i, row in enumerate(chosen):
        if not row.any():
            row = np.zeros_like(row)
            row[proba[i].argmax()] = True
        labels = tuple(classes[row])
        if len(labels) > 1 and EMPTY_LIST_FALLBACK in labels:  # "none" next to a technology contradicts itself
            labels = tuple(x for x in labels if x != EMPTY_LIST_FALLBACK)
            row = np.isin(classes, labels)
        values.append(labels)
        confidence[i] = np.where(row, proba[i], 1.0 - proba[i]).min()
    return values, confidence


class Lexicon:
    """The words and word pairs of the training texts, each with its inverse document frequency: the lexical part
    of a text's features. An embedding blurs the few words a person codes by (“operated by”, “start-up”, “residents
    co-design”); sublinear tf-idf over words and word pairs, each row scaled to unit length and then by `weight`,
    keeps them. A text's vector depends on that text alone."""

    NGRAMS = (1, 2)
    MIN_DF = 2  # a term must occur in two training texts: one-off names and typos carry no signal

    def __init__(self, terms: Sequence[str], idf: np.ndarray, weight: float = 1.0):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.terms = tuple(terms)
        self.idf = np.asarray(idf, dtype=np.float64)
        self.weight = float(weight)
        self._vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=self.NGRAMS, dtype=np.float32,
                                           vocabulary={t: i for i, t in enumerate(self.terms)})
        self._vectorizer.idf_ = self.idf

    @classmethod
    def fit(cls, texts: Sequence[str], weight: float = 1.0) -> Lexicon:
        from sklearn.feature_extraction.text import TfidfVectorizer

        fitted = TfidfVectorizer(sublinear_tf=True, ngram_range=cls.NGRAMS, min_df=cls.MIN_DF).fit(texts)
        return cls(fitted.get_feature_names_out().tolist(), fitted.idf_, weight)

    def transform(self, texts: Sequence[str]):
        """A sparse (n, terms) float32 matrix."""
        return self._vectorizer.transform([t or "" for t in texts]) * np.float32(self.weight)


@dataclass
class Coder:
    """The heads of every coded column, the lexicon their features include (None: the embedding alone), and the
    facts needed to reproduce them."""

    heads: dict[str, Head]
    manifest: dict
    lexicon: Lexicon | None = None

    @property
    def embedding(self) -> str:
        """The embedding the heads were fitted on (`minilm` for manifests older than the static model)."""
        return self.manifest.get("embedding", {}).get("name", "minilm")

    def predict(self, vectors: np.ndarray, texts: Sequence[str]) -> dict[str, tuple[list, np.ndarray]]:
        X = features(vectors, self.lexicon, texts)
        return {col: decide(head, head.proba(X)) for col, head in self.heads.items()}


def features(vectors: np.ndarray, lexicon: Lexicon | None, texts: Sequence[str]):
    """What heads read: the embeddings alone, or the embeddings and the lexicon's tf-idf of the same texts side by
    side (a CSR matrix)."""
    if lexicon is None:
        return vectors
    import scipy.sparse as sparse

    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts for {len(vectors)} vectors")
    return sparse.hstack([sparse.csr_matrix(vectors, dtype=np.float32), lexicon.transform(texts)], format="csr")


def head_files(embedding: str = DEFAULT_EMBEDDING) -> tuple[str, str]:
    """The manifest and array file names of an embedding's heads: `manifest.json` + `heads.npz` for MiniLM,
    `manifest_static.json` + `heads_static.npz` for the static model."""
    suffix = "" if check_embedding(embedding) == "minilm" else f"_{embedding}"
    return f"manifest{suffix}.json", f"heads{suffix}.npz"


def save_coder(coder: Coder, folder: str | Path, embedding: str | None = None) -> None:
    """Write the manifest and the arrays (`head_files`) into `folder`, each through a temporary file, then
    renamed. `embedding` defaults to the one the coder's manifest names."""
    embedding = embedding or coder.embedding
    manifest_name, arrays_name = head_files(embedding)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    columns = {}
    for col, head in coder.heads.items():
        arrays[f"{col}.coef"] = head.coef.astype(np.float32)
        arrays[f"{col}.intercept"] = head.intercept.astype(np.float32)
        columns[col] = {"kind": head.kind, "classes": list(head.classes), **head.info,
                        **({"temperature": head.temperature} if head.temperature != 1.0 else {})}
    manifest = dict(coder.manifest, columns=columns)
    if coder.lexicon is not None:
        arrays["lexicon.terms"] = np.array(coder.lexicon.terms, dtype=str)
        arrays["lexicon.idf"] = coder.lexicon.idf
        manifest["lexicon"] = {"terms": len(coder.lexicon.terms), "weight": coder.lexicon.weight,
                               "ngrams": list(Lexicon.NGRAMS), "min_df": Lexicon.MIN_DF, "tf": "sublinear",
                               "norm": "l2"}
    with atomic_path(folder / arrays_name) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    with atomic_path(folder / manifest_name) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def load_coder(folder: str | Path | None = None, embedding: str = DEFAULT_EMBEDDING) -> Coder:
    """The heads for `embedding` in `folder` (default: the ones shipped with the package)."""
    folder = Path(folder) if folder is not None else CODER_DIR
    manifest_name, arrays_name = head_files(embedding)
    missing = [name for name in (manifest_name, arrays_name) if not (folder / name).is_file()]
    if missing:
        raise InputError.single(folder, f"holds no {embedding} heads ({missing[0]} is missing); "
                                "write them with smartcities train-coder --out")
    manifest = json.loads((folder / manifest_name).read_text(encoding="utf-8"))
    heads = {}
    with np.load(folder / arrays_name, allow_pickle=False) as arrays:
        for col, entry in manifest["columns"].items():
            info = {k: v for k, v in entry.items() if k not in ("kind", "classes", "temperature")}
            heads[col] = Head(col, entry["kind"], tuple(entry["classes"]), arrays[f"{col}.coef"].astype(np.float32),
                              arrays[f"{col}.intercept"].astype(np.float32), info,
                              float(entry.get("temperature", 1.0)))
        lexicon = (Lexicon(arrays["lexicon.terms"].tolist(), arrays["lexicon.idf"], manifest["lexicon"]["weight"])
                   if "lexicon" in manifest else None)
    return Coder(heads, {k: v for k, v in manifest.items() if k not in ("columns", "lexicon")}, lexicon)


@functools.lru_cache(maxsize=2)
def packaged_coder(embedding: str = DEFAULT_EMBEDDING) -> Coder:
    return load_coder(embedding=embedding)


# --- reading initiatives to code --------------------------------------------------------------------------------

def coded_field(name: str) -> Field:
    column = COLUMN_BY_NAME[name]
    return Field(name, column.kind, column.values, required=False)


INPUT_SCHEMA = Schema(
    fields=(
        Field("id", "text", required=False),
        Field("city", "text", required=False),
        Field("name", "text", nullable=False),
        Field("description", "text"),
        *(coded_field(c) for c in CODED_COLUMNS),
        *(Field(f"{c}_confidence", "float", required=False) for c in CODED_COLUMNS),
    ),
    extra="text",
    unique=("id",),
)


def read_initiatives(path: str | Path) -> pd.DataFrame:
    """Initiatives to code: at least `name` and `description`; coded columns, where present, must hold codebook
    values (or be empty). Raises InputError naming file, line and column for every problem."""
    return read_table(path, INPUT_SCHEMA)


# --- coding a frame ---------------------------------------------------------------------------------------------

def _is_empty(value) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, (tuple, list)) and not value:
        return True
    return isinstance(value, str) and not value.strip()


def code_frame(frame: pd.DataFrame, coder: Coder | None = None, vectors: np.ndarray | None = None,
               overwrite: bool = False, columns: Iterable[str] = CODED_COLUMNS,
               embed: Embedder | StaticEmbedder | None = None, progress=None,
               embedding: str | None = None) -> pd.DataFrame:
    """A copy of `frame` with every coded column filled and a `<column>_confidence` column after each.

    Cells already filled are kept unless `overwrite`: with an empty confidence when a person coded them, with
    their previous confidence when the input is an earlier run's output. `vectors` may be given (embeddings of
    `texts_of(frame)`) to skip embedding. `embedding` (`minilm` or `static`; default: the coder's, else
    `DEFAULT_EMBEDDING`) picks the packaged heads and the embedder together.
    """
    embedding = check_embedding(embedding or (coder.embedding if coder else None) or getattr(embed, "name", None)
                                or DEFAULT_EMBEDDING)
    coder = coder or packaged_coder(embedding)
    texts = texts_of(frame)
    if vectors is None:
        embed = embed or embedder_for(coder.embedding)
        if coder.embedding != getattr(embed, "name", coder.embedding):
            raise ValueError(f"heads fitted on {coder.embedding!r} embeddings cannot read {embed.name!r} ones")
        vectors = embed.embed(texts, progress=progress)
    predictions = coder.predict(vectors, texts)
    out = frame.copy()
    for col in columns:
        values, confidence = predictions[col]
        existing = list(out[col]) if col in out else [None] * len(out)
        kept = np.array([not overwrite and not _is_empty(v) for v in existing])
        if COLUMN_BY_NAME[col].kind == "bool":
            values = [v == "true" for v in values]
        merged = [e if k else v for e, v, k in zip(existing, values, kept)]
        out[col] = pd.Series(merged, index=out.index, dtype="boolean" if COLUMN_BY_NAME[col].kind == "bool"
                             else object)
        # a kept value that carries a confidence came from an earlier model run: its confidence stays with it
        previous = (pd.to_numeric(frame[f"{col}_confidence"], errors="coerce").to_numpy(dtype=float)
                    if f"{col}_confidence" in frame else np.full(len(out), np.nan))
        out[f"{col}_confidence"] = np.where(kept, previous, np.round(confidence, 3))
    return _ordered(out, columns)


def _ordered(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    order = [c for c in frame.columns if not c.endswith("_confidence") and c != "_line"]
    for col in columns:
        if col in order:
            order.remove(col)
    # coded columns go where the codebook puts them: after `name` (or at the end of the identifying columns)
    anchor = order.index("name") + 1 if "name" in order else len(order)
    coded = []
    for col in columns:
        coded += [col, f"{col}_confidence"]
    order = order[:anchor] + coded + order[anchor:]
    if "_line" in frame:
        order.append("_line")
    return frame[order]


def review_rows(coded: pd.DataFrame, below: float, columns: Iterable[str] = CODED_COLUMNS) -> pd.DataFrame:
    """One row per model-filled value whose confidence is below `below`, lowest confidence first, in the shape of
    the review file a person corrects (`inventory.review.REVIEW_COLUMNS`): id, line, city, name, description,
    column, value, confidence and an empty `corrected`."""
    records = []
    for idx, row in coded.iterrows():
        for col in columns:
            conf = row.get(f"{col}_confidence")
            if conf is None or pd.isna(conf) or conf >= below:
                continue
            records.append({
                "id": row.get("id"),
                "line": int(row["_line"]) if "_line" in coded else idx,
                "city": row.get("city"),
                "name": row["name"],
                "description": row.get("description"),
                "column": col,
                "value": format_cell(row[col]),
                "confidence": round(float(conf), 3),
                "corrected": "",
            })
    frame = pd.DataFrame(records, columns=["id", "line", "city", "name", "description", "column", "value",
                                           "confidence", "corrected"])
    return frame.sort_values(["confidence", "line"], kind="stable").reset_index(drop=True)


# --- writing ----------------------------------------------------------------------------------------------------

def format_cell(value) -> str:
    if _is_empty(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ";".join(value)
    if isinstance(value, float):
        return f"{value:g}" if not value.is_integer() or abs(value) >= 1e15 else str(int(value))
    return str(value)


def to_csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV text with codebook formatting (true/false, `;`-joined lists, empty for missing)."""
    body = frame.drop(columns=[c for c in frame.columns if c == "_line"])
    cells = pd.DataFrame({c: [format_cell(v) for v in body[c]] for c in body.columns}, columns=body.columns)
    return cells.to_csv(index=False, lineterminator="\n")


# --- the whole job: file in, files out --------------------------------------------------------------------------

@dataclass
class CodingResult:
    coded: pd.DataFrame
    review: pd.DataFrame
    written: list[Path]


def code_file(source: str | Path, out: str | Path, overwrite: bool = False, review_below: float | None = None,
              review_out: str | Path | None = None, coder: Coder | None = None, progress=None,
              embedding: str | None = None) -> CodingResult:
    """Read `source`, code it, write `out` (and `review_out` when given). Input problems raise InputError before
    anything is written; the outputs are staged in temporary files and renamed together at the end. `embedding`
    chooses the embedding and its heads (`minilm` or `static`; default `DEFAULT_EMBEDDING`)."""
    if embedding is not None:
        check_embedding(embedding)
    source, out = Path(source), Path(out)
    if review_below is not None and not 0.0 <= review_below <= 1.0:
        raise InputError.single("--review-below", f"{review_below:g} is not a confidence between 0 and 1")
    if out.resolve() == source.resolve():
        raise InputError.single(out, "is the input file; write the coded table to a new file")
    frame = read_initiatives(source)
    coded = code_frame(frame, coder, overwrite=overwrite, progress=progress, embedding=embedding)
    review = review_rows(coded, review_below) if review_below is not None else review_rows(coded, -1.0)
    texts = {out: to_csv_text(coded)}
    if review_out is not None:
        texts[Path(review_out)] = review.to_csv(index=False, lineterminator="\n")
    write_all(texts)
    return CodingResult(coded, review, list(texts))
