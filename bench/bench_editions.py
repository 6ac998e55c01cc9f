"""Editions: the 5-edition ASEM build (docs/asem-editions.yaml) as a whole command, and in process against five
single builds of the yearly files, measured side by side.

    .venv/bin/python bench/bench_editions.py [--repeat 3]

Cases:
1. `smartcities build docs/asem-editions.yaml --out DIR -q`: start-up, reading, panel imputation, pooled
   normalisation, five builds with 3,000 Monte Carlo runs each (shared draws), the tables and report.html;
2. the same with `--no-uncertainty`;
3. in process, `build()` of the editions spec without uncertainty against five single builds of each year's rows
   (the ratio is the editions build's overhead: reading once, pooling, rank changes and trends).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "asem-editions.yaml"
PANEL = ROOT.parent / "shared" / "data" / "coinr_asem" / "ASEM_iData_p.csv"
IMETA = PANEL.parent / "ASEM_iMeta.csv"
CLI = Path(sys.executable).parent / "smartcities"


def command(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            subprocess.run([str(CLI), "build", str(SPEC), "--out", str(Path(tmp) / "out"), "-q", *args], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def in_process(repeat: int) -> tuple[float, float]:
    from smartcities.build import build

    lines = PANEL.read_text(encoding="utf-8").splitlines(keepends=True)
    t = lines[0].split(",").index("Time")
    with tempfile.TemporaryDirectory() as tmp:
        singles = []
        for year in (2018, 2019, 2020, 2021, 2022):
            data = Path(tmp) / f"{year}.csv"
            data.write_text(lines[0] + "".join(r for r in lines[1:] if float(r.split(",")[t]) == year))
            spec = Path(tmp) / f"{year}.yaml"
            spec.write_text(f"data: {{format: coinr, idata: {data}, imeta: {IMETA}}}\npipeline:\n"
                            "  - normalise: {method: minmax, range: [0, 100]}\n  - aggregate: {method: arithmetic}\n")
            singles.append(spec)
        build(SPEC, uncertainty=False)  # warm imports
        editions, single = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            build(SPEC, uncertainty=False)
            editions.append(time.perf_counter() - started)
            started = time.perf_counter()
            for spec in singles:
                build(spec)
            single.append(time.perf_counter() - started)
    return statistics.median(editions), statistics.median(single)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    whole = command([], args.repeat)
    nominal = command(["--no-uncertainty"], args.repeat)
    editions, singles = in_process(args.repeat)
    print(f"1. whole command, 5 editions x 3,000 Monte Carlo runs: {whole:.2f} s (median of {args.repeat})")
    print(f"2. whole command, 5 editions, no uncertainty:          {nominal:.2f} s")
    print(f"3. in process, editions build {editions:.3f} s vs five single builds {singles:.3f} s: "
          f"ratio {editions / singles:.2f}")


if __name__ == "__main__":
    main()
