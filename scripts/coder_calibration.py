"""The coder's calibration on held-out rows, without and with temperature scaling (the shipped heads are scaled); the
reliability diagram of docs/coder.md.

    python scripts/coder_calibration.py --folds 10 --svg docs/coder_reliability.svg --json /tmp/calibration.json
    python scripts/coder_calibration.py --embedding static    # the static embedding's heads

The same evaluation as `smartcities evaluate-coder` (the hold-out cities of HOLDOUT.md scored by heads fitted on
every other row, and cross-validation grouped by city on those rows), column by column, with each column's C fixed
at the one the shipped heads chose (data/coder/manifest.json): minutes instead of the hour it takes to choose C
again inside every fold. Each evaluation runs twice: unscaled, and with the single-valued heads temperature-scaled
(`TrainingSettings.calibrate`: the temperature is fitted inside each fold's training rows, 5 folds grouped by city,
never on the rows it is scored on). Prints markdown tables; `--svg` writes the service_domain reliability diagram.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from smartcities.inventory import train as T
from smartcities.inventory.calibration import reliability_svg
from smartcities.inventory.coder import DEFAULT_EMBEDDING, embedder_for, features, load_coder, texts_of
from smartcities.io.inventory import read_inventory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--svg", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--embedding", default=DEFAULT_EMBEDDING, help="minilm or static: whose shipped heads")
    args = parser.parse_args()

    whole = read_inventory(T.INVENTORY_FILE)
    holdout = T.is_holdout(whole)
    frame = whole[~holdout].reset_index(drop=True)
    whole_texts = texts_of(whole)
    texts = [t for t, h in zip(whole_texts, holdout) if not h]
    Xw = embedder_for(args.embedding).embed(whole_texts)
    X = Xw[~holdout]
    shipped = load_coder(embedding=args.embedding)
    F = features(X, shipped.lexicon, texts)
    result: dict = {}
    for column, head in shipped.heads.items():
        C = head.info["C"]
        result[column] = {"C": C, "temperature": T.fit_temperature(F, T.labels_of(frame, column),
                                                                   frame["city"].tolist(), column, C)}
        for calibrate in (False, True):
            settings = T.TrainingSettings(columns=(column,), fixed_C=C, calibrate=calibrate)
            key = "scaled" if calibrate else "unscaled"
            held = T.evaluate_holdout(Xw, whole, holdout, settings, texts=whole_texts)
            folds = T.evaluate_inventory(X, frame, settings, n_splits=args.folds, texts=texts)
            result[column][key] = {"holdout": {**held.scores[column], "calibration": held.calibration[column]},
                                   "folds": {**folds.scores[column], "calibration": folds.calibration[column]}}
        print(column, json.dumps({k: result[column][k] for k in ("C", "temperature")}), flush=True)

    print(f"\n| column | C | temperature | hold-out ECE (unscaled → scaled) | {args.folds} grouped folds ECE "
          "(unscaled → scaled) | hold-out accuracy | folds accuracy |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for column, r in result.items():
        print(f"| {column} | {r['C']:g} | {r['temperature']:g} | "
              f"{r['unscaled']['holdout']['calibration']['ece']:.3f} → "
              f"{r['scaled']['holdout']['calibration']['ece']:.3f} | {r['unscaled']['folds']['calibration']['ece']:.3f}"
              f" → {r['scaled']['folds']['calibration']['ece']:.3f} | {r['unscaled']['holdout']['accuracy']:.3f}"
              f" ({r['scaled']['holdout']['accuracy']:.3f}) | {r['unscaled']['folds']['accuracy']:.3f}"
              f" ({r['scaled']['folds']['accuracy']:.3f}) |")
    for key in ("unscaled", "scaled"):
        print(f"\nservice_domain, {key}: | confidence | values (folds) | mean confidence | share right | "
              "values (hold-out) | mean confidence | share right |")
        folds = {b["low"]: b for b in result["service_domain"][key]["folds"]["calibration"]["bins"]}
        held = {b["low"]: b for b in result["service_domain"][key]["holdout"]["calibration"]["bins"]}
        for low in sorted(set(folds) | set(held)):
            cells = [f"{low:.1f}–{low + 0.1:.1f}"]
            for part in (folds, held):
                b = part.get(low)
                cells += ([str(b["count"]), f"{b['mean_confidence']:.2f}", f"{b['accuracy']:.2f}"] if b
                          else ["0", "", ""])
            print("| " + " | ".join(cells) + " |")
    if args.svg:
        sd = result["service_domain"]
        args.svg.write_text(reliability_svg({
            f"{args.folds} grouped folds, unscaled": sd["unscaled"]["folds"]["calibration"],
            f"{args.folds} grouped folds, temperature-scaled (shipped)": sd["scaled"]["folds"]["calibration"],
            "hold-out cities, unscaled": sd["unscaled"]["holdout"]["calibration"],
            "hold-out cities, temperature-scaled (shipped)": sd["scaled"]["holdout"]["calibration"],
        }, "service_domain reliability (held-out values)", size=420), encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
