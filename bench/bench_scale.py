"""A whole `smartcities build` at the scale of every city: a synthetic 10,000 cities × 100 indicators index with a
1,000-run Monte Carlo, and the two covenant-city examples (GCoM's 7,493 cities, ClimActor's 14,706 cities and
regions) when the shared data are present.

Each command is a fresh process from start to exit; each line gives the best wall time of `--repeat` rounds, the
CPU time (user + system) of that round, and beside it the baseline measured in the same run: the same process
importing the package and exiting (`python -c "import smartcities.build"`), what any command pays before it
starts. With `--against SRC` (another checkout's `src` folder) every command also runs on that code in the same
loop, the two sides alternating, so a busy machine slows both alike.

    .venv/bin/python bench/bench_scale.py [--cities 10000 --indicators 100 --runs 1000 --repeat 3] [--against SRC]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parents[1]
EXAMPLES = {name: HERE / "docs" / f"{name}.yaml" for name in ("covenant-cities", "climactor-cities")}
SHARED = HERE.parent / "shared" / "data"


def synthetic(folder: Path, cities: int, indicators: int, runs: int, seed: int = 0) -> tuple[Path, Path]:
    """The specs and files of a synthetic index: skewed indicators with 2% missing, 10 indicators per pillar, the
    pillars under one index; every city with its country, continent, coordinates and population (so the
    gazetteer is not asked), a Monte Carlo of weight noise. The same values twice: as the long indicators table
    beside a cities CSV, and as one wide table (one row per city) read by both."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pillars = [f"p{k}" for k in range(-(-indicators // 10))]
    rows = [("index", "Index", "", 1, "")] + [(p, f"Pillar {p}", "index", 1, "") for p in pillars]
    rows += [(f"i{j}", f"Indicator {j}", pillars[j // 10], 1 + j % 4, 1 if j % 3 else -1) for j in range(indicators)]
    pd.DataFrame(rows, columns=["id", "name", "parent", "weight", "direction"]).to_csv(folder / "framework.csv",
                                                                                      index=False)
    ids = [f"c{k}" for k in range(cities)]
    countries = np.array(["FR", "DE", "ES", "IT", "PL"])[np.arange(cities) % 5]
    table = pd.DataFrame({"city": ids, "name": [f"City {k}" for k in range(cities)], "country": countries,
                          "region": "Europe", "lat": rng.uniform(36, 60, cities), "lon": rng.uniform(-9, 24, cities),
                          "population": rng.integers(1_000, 2_000_000, cities)})
    table.to_csv(folder / "cities.csv", index=False)
    X = rng.lognormal(size=(cities, indicators))
    X[rng.random(X.shape) < 0.02] = np.nan
    leaves = [f"i{j}" for j in range(indicators)]
    pd.DataFrame({"city": np.repeat(ids, indicators), "indicator": np.tile(leaves, cities),
                  "value": X.ravel()}).to_csv(folder / "indicators.csv", index=False, float_format="%.6g")
    pd.concat([table, pd.DataFrame(X, columns=leaves)], axis=1).to_csv(folder / "wide.csv", index=False,
                                                                       float_format="%.6g")
    tail = f"""pipeline:
  - impute: {{method: group-mean, group: country}}
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {{method: arithmetic}}
uncertainty:
  design: montecarlo
  runs: {runs}
  seed: 1
  factors:
    weights: {{step: aggregate, noise: 0.25, levels: [1, 2]}}
"""
    long, wide = folder / "synthetic.yaml", folder / "synthetic-wide.yaml"
    long.write_text(f"name: Synthetic {cities:,} cities\nframework: framework.csv\ncities: cities.csv\n"
                    f"indicators: indicators.csv\n{tail}")
    columns = "{name: name, country: country, region: region, lat: lat, lon: lon, population: population}"
    wide.write_text(f"name: Synthetic {cities:,} cities\nframework: framework.csv\n"
                    f"cities: {{file: wide.csv, format: wide, id: city, columns: {columns}}}\n"
                    f"indicators: {{file: wide.csv, format: wide, id: city, columns: [{', '.join(leaves)}]}}\n{tail}")
    return long, wide


def run_once(argv: list[str], src: str) -> tuple[float, float] | None:
    """Wall and CPU seconds of `python ARGV` with the package taken from `src`; None when it fails (an older
    checkout may not read the examples' wide tables)."""
    env = {**os.environ, "PYTHONPATH": src}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"python {' '.join(argv)} failed (from {src}):\n{proc.stderr.read().decode()[-500:]}", file=sys.stderr)
        return None
    return wall, usage.ru_utime + usage.ru_stime


def commands(tmp: Path, args) -> dict[str, list[str]]:
    long, wide = synthetic(tmp / "synthetic", args.cities, args.indicators, args.runs)
    size = f"{args.cities:,} × {args.indicators}, {args.runs} runs"
    found = {"import (baseline)": ["-c", "import smartcities.build"],
             f"build synthetic {size}": ["-m", "smartcities", "build", str(long), "--out", "{out}/synthetic", "-q"],
             "  the same from one wide table": ["-m", "smartcities", "build", str(wide), "--out", "{out}/wide", "-q"]}
    for name, example in EXAMPLES.items():
        if example.exists() and SHARED.exists():
            found[f"build {name}"] = ["-m", "smartcities", "build", str(example), "--out", "{out}/" + name, "-q"]
    return found


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode as Python does by default: timed as users run it
    parser = argparse.ArgumentParser()
    parser.add_argument("--cities", type=int, default=10_000)
    parser.add_argument("--indicators", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", help="another checkout's src folder, run in the same loop")
    args = parser.parse_args()
    sides = {"this": str(HERE / "src")}
    if args.against:
        sides["other"] = str(Path(args.against).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        todo = commands(Path(tmp), args)
        best: dict[tuple[str, str], tuple[float, float] | None] = {}
        for _ in range(args.repeat):
            for name, argv in todo.items():
                for side, src in sides.items():
                    out = Path(tmp) / side
                    sample = run_once([a.replace("{out}", str(out)) for a in argv], src)
                    if sample is None and side == "this":
                        raise SystemExit(f"{name} failed on this checkout")
                    earlier = best.get((name, side), sample)
                    best[name, side] = None if sample is None else min(earlier or sample, sample)
        print(f"best of {args.repeat} rounds, wall (CPU) seconds" + (f"; this checkout vs {sides['other']}"
                                                                      if args.against else ""))
        for name in todo:
            wall, cpu = best[name, "this"]
            line = f"  {name:<48} {wall:6.2f} s ({cpu:5.2f})"
            if args.against and best[name, "other"] is None:
                line += "  vs fails"
            elif args.against:
                other, other_cpu = best[name, "other"]
                line += f"  vs {other:6.2f} s ({other_cpu:5.2f})  = {other / wall:4.1f}× faster"
            print(line)


if __name__ == "__main__":
    main()
