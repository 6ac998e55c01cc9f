"""Editions: the 5-edition ASEM build (docs/asem-editions.yaml) as a whole command, and in process against five
single builds of the yearly files, measured side by side.

    .venv/bin/python bench/bench_editions.py [--repeat 3]

Cases:
1. `smartcities build docs/asem-editions.yaml --out DIR -q`: start-up, reading, panel imputation, pooled
   normalisation, five builds with 3,000 Monte Carlo runs each (shared draws), the tables and report.html;
2. the same with `--no-uncertainty`;
3. in process, `build()` of the editions spec without uncertainty against five single builds of each year's rows
   (the ratio is the editions build's overhead: reading once, pooling, rank changes and trends);
4. the nominal large case, synthetic: 10 editions x 10,000 cities x 100 indicators (a COINr panel, pooled min-max,
   arithmetic aggregation over 10 groups), in process, against 10 single builds of each edition's rows
   (`--large-only` runs this case alone; `--cities`, `--editions` and `--indicators` change its size).
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
        return side_by_side(SPEC, singles, repeat)


def side_by_side(spec: Path, singles: list[Path], repeat: int) -> tuple[float, float]:
    """Median seconds of the editions build of `spec` and of the single builds `singles`, alternating, in process."""
    from smartcities.build import build

    both, single = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        build(spec, uncertainty=False)
        both.append(time.perf_counter() - started)
        started = time.perf_counter()
        for one in singles:
            build(one, uncertainty=False)
        single.append(time.perf_counter() - started)
    return statistics.median(both), statistics.median(single)


def synthetic(folder: Path, editions: int, cities: int, indicators: int) -> tuple[Path, list[Path]]:
    """A COINr panel of `editions` years, `cities` units and `indicators` indicators in 10 groups (values drift a
    little from year to year), its editions spec, and one single-build spec per year."""
    import numpy as np

    rng = np.random.default_rng(11)
    codes = [f"i{j:03d}" for j in range(indicators)]
    groups = [f"g{j % 10}" for j in range(indicators)]
    meta = ["Level,iCode,iName,Direction,Weight,Unit,Target,Denominator,Parent,Type"]
    meta += [f"1,{c},{c},{1 if j % 4 else -1},1,,,,{g},Indicator" for j, (c, g) in enumerate(zip(codes, groups))]
    meta += [f"2,{g},{g},1,1,,,,Index,Aggregate" for g in sorted(set(groups))] + ["3,Index,Index,1,1,,,,,Aggregate"]
    imeta = folder / "iMeta.csv"
    imeta.write_text("\n".join(meta) + "\n")
    base = rng.uniform(10, 90, size=(cities, indicators))
    header = "uName,uCode,Time," + ",".join(codes) + "\n"
    years = list(range(2015, 2015 + editions))
    names = [f"c{u},C{u:05d}" for u in range(cities)]
    panel = folder / "panel.csv"
    singles = []
    with panel.open("w") as out:
        out.write(header)
        for y in years:
            values = base + rng.normal(0, 2, size=base.shape)
            rows = "".join(f"{n},{y},{','.join(r)}\n" for n, r in zip(names, np.char.mod("%.4f", values)))
            out.write(rows)
            one = folder / f"{y}.csv"
            one.write_text(header + rows)
            spec = folder / f"{y}.yaml"
            spec.write_text(f"data: {{format: coinr, idata: {one}, imeta: {imeta}}}\n{PIPELINE}")
            singles.append(spec)
    spec = folder / "editions.yaml"
    spec.write_text(f"data: {{format: coinr, idata: {panel}, imeta: {imeta}}}\n"
                    "editions: {column: Time, normalise: per-edition}\n" + PIPELINE)
    return spec, singles


PIPELINE = "pipeline:\n  - normalise: {method: minmax, range: [0, 100]}\n  - aggregate: {method: arithmetic}\n"


def large(repeat: int, editions: int, cities: int, indicators: int) -> tuple[float, float]:
    """Median seconds of the editions build and of the single builds of every edition, in process."""
    with tempfile.TemporaryDirectory() as tmp:
        spec, singles = synthetic(Path(tmp), editions, cities, indicators)
        return side_by_side(spec, singles, repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-only", action="store_true")
    parser.add_argument("--editions", type=int, default=10)
    parser.add_argument("--cities", type=int, default=10_000)
    parser.add_argument("--indicators", type=int, default=100)
    args = parser.parse_args()
    big, big_singles = large(args.repeat, args.editions, args.cities, args.indicators)
    size = f"{args.editions} editions x {args.cities:,} cities x {args.indicators} indicators"
    if args.large_only:
        print(f"4. in process, {size}: editions build {big:.2f} s vs {args.editions} single builds "
              f"{big_singles:.2f} s: ratio {big / big_singles:.2f} (target 10 s)")
        return
    whole = command([], args.repeat)
    nominal = command(["--no-uncertainty"], args.repeat)
    editions, singles = in_process(args.repeat)
    print(f"1. whole command, 5 editions x 3,000 Monte Carlo runs: {whole:.2f} s (median of {args.repeat})")
    print(f"2. whole command, 5 editions, no uncertainty:          {nominal:.2f} s")
    print(f"3. in process, editions build {editions:.3f} s vs five single builds {singles:.3f} s: "
          f"ratio {editions / singles:.2f}")
    print(f"4. in process, {size}: editions build {big:.2f} s vs {args.editions} single builds {big_singles:.2f} "
          f"s: ratio {big / big_singles:.2f} (target 10 s)")


if __name__ == "__main__":
    main()
