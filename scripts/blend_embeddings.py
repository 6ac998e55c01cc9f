"""Would the coder code better with the MiniLM heads' and the static heads' probabilities blended?

A build-time measurement, never run by the package. It needs vectors held out for the encoder as well as for the
heads, which `scripts/tune_encoder.py --evaluate 5 --vectors folds.npz` writes (each fold's encoder fine-tuned
without that fold's cities; its docstring has the set-up). Then, in the package's own environment:

    python scripts/blend_embeddings.py folds.npz [--report blend.json]

In each fold, the package's MiniLM heads are fitted on that fold's encoder's vectors of the training rows and the
static heads on the static table's (which was distilled from the untuned model, so it never saw these rows), each
with its lexicon, each column's C fixed at the shipped heads' and temperatures fitted as `train-coder` fits them.
The held-out rows' probabilities are blended, `w` MiniLM and `1 - w` static, for `w` in 0, 0.25, …, 1, and decided
as the coder decides. Printed per column is the figure its target is set in. The hold-out cities are never read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def fold_probabilities(vectors: dict[str, np.ndarray], frame, texts: list[str], train: np.ndarray,
                       test: np.ndarray, C: dict[str, dict[str, float]]) -> dict[str, dict[str, tuple]]:
    """Per embedding and column: the head's classes and its probabilities for the `test` rows, the heads fitted on
    the `train` rows."""
    from smartcities.inventory.coder import features
    from smartcities.inventory.train import TrainingSettings, fit_coder

    out = {}
    for name, X in vectors.items():
        coder = fit_coder(X[train], frame.iloc[train], frame["city"].iloc[train].tolist(),
                          TrainingSettings(fixed_C=C[name]), texts=[texts[i] for i in train])
        F = features(X[test], coder.lexicon, [texts[i] for i in test])
        out[name] = {column: (head, head.proba(F)) for column, head in coder.heads.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vectors", type=Path, help="the npz that tune_encoder.py --evaluate --vectors wrote")
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from smartcities.inventory.coder import decide, load_coder, static_embedder, texts_of
    from smartcities.inventory.train import headline, labelled, labels_of, read_training_inventory, score
    from smartcities.model.codebook import CODED_COLUMNS

    frame = read_training_inventory()  # never a row of a hold-out city
    texts = texts_of(frame)
    saved = np.load(args.vectors)
    tuned, fold_of = saved["tuned"], saved["fold"]
    if tuned.shape[1] != len(frame):
        raise SystemExit(f"{args.vectors} holds vectors of {tuned.shape[1]} rows, the training inventory {len(frame)}")
    static = static_embedder().embed(texts)
    C = {name: {column: head.info["C"] for column, head in load_coder(embedding=name).heads.items()}
         for name in ("minilm", "static")}
    predicted = {w: {column: [None] * len(frame) for column in CODED_COLUMNS} for w in SHARES}
    for k, fold in enumerate(sorted(set(fold_of))):
        test, train = np.flatnonzero(fold_of == fold), np.flatnonzero(fold_of != fold)
        probabilities = fold_probabilities({"minilm": tuned[k], "static": static}, frame, texts, train, test, C)
        for column in CODED_COLUMNS:
            head, p_minilm = probabilities["minilm"][column]
            static_head, p_static = probabilities["static"][column]
            assert head.classes == static_head.classes  # the same training rows give the same classes
            for w in SHARES:
                values, _ = decide(head, w * p_minilm + (1 - w) * p_static)
                for i, value in zip(test, values):
                    predicted[w][column][i] = value
        print(f"fold {fold} done", flush=True)
    figures = {}
    for column in CODED_COLUMNS:
        rows = np.flatnonzero(labelled(frame, column))
        truth = labels_of(frame.iloc[rows], column)
        figures[column] = {str(w): round(headline(column, score(column, truth, [predicted[w][column][i] for i in rows])
                                                  ), 3) for w in SHARES}
    print(f"{'column':24s} " + " ".join(f"w={w:<5g}" for w in SHARES) + "   (w: the MiniLM share)")
    for column, row in figures.items():
        print(f"{column:24s} " + " ".join(f"{row[str(w)]:7.3f}" for w in SHARES))
    if args.report:
        args.report.write_text(json.dumps({"folds": int(len(set(fold_of))), "shares": SHARES, "C": C,
                                           "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
