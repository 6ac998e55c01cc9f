"""Nominal build speed: a synthetic 100,000 units × 200 indicators index, and the ASEM example in-process.

Each figure is printed beside a baseline measured in the same run. The synthetic build is timed in its parts — the
pipeline (`run_pipeline`), the processing log read off its stages (`step_log`: one row per imputed value, about
400,000 here) and the grades with letter ratings (`build.grade`) — each beside the time numpy needs just to read
through the data once (a floor), all measured in one loop and the best of `--repeat` rounds kept (the machine may
be busy). `--against SRC` times the same parts of another checkout's code (its `src` folder) in the same loop, each
round a fresh process for either side. The vectorised ASEM build is compared with the same steps run indicator by
indicator in plain Python loops (the way a per-column implementation would do them).

    .venv/bin/python bench/bench_build.py [--units 100000 --indicators 200 --repeat 5] [--against ../main/src]
"""

from __future__ import annotations  # noqa: I001 (smartcities before NumPy: its kernels)

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import smartcities  # noqa: F401 (first, so NumPy runs the kernels a smartcities process runs)
import numpy as np
import pandas as pd

from smartcities.build import build, grade
from smartcities.engine.context import Context
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.engine.step_log import step_log
from smartcities.inputs import Inputs
from smartcities.model.framework import Framework, Node
from smartcities.model.spec import parse_spec

SHARED = Path(__file__).resolve().parents[2] / "shared"
NUMPY_CHOICES = ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")
"""NumPy's kernel settings, which the package may set for the processes it starts (smartcities.numpy_kernels;
an older checkout, run beside this one, does not read it from there)."""


def synthetic(units: int, indicators: int, seed: int = 0) -> tuple[np.ndarray, Context]:
    """Skewed indicators with 2% missing, 10 indicators per pillar, 4 pillars per sub-index, one index."""
    rng = np.random.default_rng(seed)
    X = rng.lognormal(mean=0.0, sigma=1.0, size=(units, indicators))
    X[rng.random(X.shape) < 0.02] = np.nan
    nodes = [Node("index", "Index")]
    pillars = [f"p{k}" for k in range(indicators // 10)]
    subs = [f"s{k}" for k in range(-(-len(pillars) // 4))]
    nodes += [Node(s, s, parent="index") for s in subs]
    nodes += [Node(p, p, parent=subs[k // 4]) for k, p in enumerate(pillars)]
    nodes += [Node(f"i{j}", f"i{j}", parent=pillars[j // 10], direction=1 if j % 3 else -1,
                   weight=1.0 + (j % 4)) for j in range(indicators)]
    fw = Framework.from_nodes(nodes)
    groups = {"group": np.array(["a", "b", "c"], dtype=object)[np.arange(units) % 3]}
    return X, Context.of([f"u{k}" for k in range(units)], fw, groups)


STEPS = [Step.parse(e) for e in (
    {"impute": {"method": "group-mean", "group": "group"}},
    {"screen": {"min_coverage": 0.5}},
    {"treat": {"method": "winsorise", "max_points": 5}},
    {"normalise": {"method": "minmax", "range": [0, 100]}},
    {"aggregate": {"method": "arithmetic"}},
)]


SPEC = """name: synthetic
framework: framework.csv
indicators: indicators.csv
pipeline: []
grades: {method: quantile, n: 5, peer_group: group}
"""
PARTS = ("floor", "pipeline", "step_log", "grade")


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def one_round(X: np.ndarray, ctx: Context) -> dict[str, float]:
    """Seconds of each part of one synthetic build, and of the floor, measured back to back."""
    spec, inputs = parse_spec(SPEC, Path("synthetic.yaml")), Inputs(X, ctx, pd.DataFrame(), {})
    seconds = {"floor": timed(lambda: np.nanmean(X, axis=0))[0]}
    seconds["pipeline"], stages = timed(lambda: run_pipeline(X, ctx, STEPS))
    seconds["step_log"], log = timed(lambda: step_log(stages, ctx, STEPS))
    seconds["grade"], _ = timed(lambda: grade(stages, spec, inputs))
    seconds["log_rows"] = len(log)
    return seconds


def best(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {part: min(r[part] for r in rounds) for part in rounds[0]}


def print_parts(title: str, seconds: dict[str, float]) -> None:
    floor = seconds["floor"]
    total = sum(seconds[p] for p in PARTS[1:])
    print(f"{title}: one pass over the data (nanmean) {floor:.3f} s")
    for part in PARTS[1:]:
        print(f"  {part:<9} {seconds[part]:6.2f} s  = {seconds[part] / floor:4.0f}× one pass")
    print(f"  {'total':<9} {total:6.2f} s  = {total / floor:4.0f}× one pass "
          f"(the log has {int(seconds['log_rows']):,} rows)")


def against(args) -> None:
    """Both checkouts' parts, a fresh process per round and side, the sides alternating."""
    sides = {"this": str(Path(__file__).resolve().parents[1] / "src"), "other": str(Path(args.against).resolve())}
    rounds: dict[str, list] = {side: [] for side in sides}
    for _ in range(args.repeat):
        for side, src in sides.items():
            # each side chooses NumPy's kernels as a fresh process does, not as this one chose them
            env = {**{k: v for k, v in os.environ.items() if k not in NUMPY_CHOICES}, "PYTHONPATH": src}
            out = subprocess.run([sys.executable, __file__, "--units", str(args.units), "--indicators",
                                  str(args.indicators), "--child"], env=env, capture_output=True, text=True,
                                 check=True).stdout
            rounds[side].append(json.loads(out))
    this, other = best(rounds["this"]), best(rounds["other"])
    print(f"synthetic {args.units:,} units × {args.indicators} indicators, best of {args.repeat} rounds; "
          f"this checkout vs {sides['other']}")
    for part in PARTS:
        print(f"  {part:<9} {this[part]:6.2f} s vs {other[part]:6.2f} s  ({other[part] / this[part]:.1f}× faster)")
    total, total_other = (sum(s[p] for p in PARTS[1:]) for s in (this, other))
    print(f"  {'total':<9} {total:6.2f} s vs {total_other:6.2f} s  ({total_other / total:.1f}× faster)")


def best_of(fn, repeat: int) -> float:
    return min(timed(fn)[0] for _ in range(repeat))


def main() -> None:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # cache bytecode as Python does by default: timed as users run it
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", help="another checkout's src folder, timed in the same loop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.against:
        return against(args)

    X, ctx = synthetic(args.units, args.indicators)
    if args.child:
        print(json.dumps(one_round(X, ctx)))
        return
    print_parts(f"synthetic {args.units:,} units × {args.indicators} indicators, best of {args.repeat} rounds",
                best([one_round(X, ctx) for _ in range(args.repeat)]))

    spec = SHARED / "examples" / "asem-coinr-standard.yaml"
    if not spec.exists():
        print("ASEM: skipped (../shared/examples not found)")
        return
    build(spec)  # warm imports
    asem_s = best_of(lambda: build(spec), 20)
    result = build(spec)
    Xa, ctx_a = result.inputs.X, result.context
    vector_s = best_of(lambda: run_pipeline(Xa, ctx_a, list(result.steps)), 20)

    def per_indicator():
        for j in range(Xa.shape[1]):  # the same data steps, one indicator at a time
            sub = Context.of(ctx_a.units, ctx_a.framework.without(
                {i for i in ctx_a.indicators if i != ctx_a.indicators[j]}), ctx_a.groups, ctx_a.denominators)
            run_pipeline(Xa[:, [j]], sub, list(result.steps))

    loop_s = best_of(per_indicator, 3)
    print(f"ASEM (51 units × 49 indicators), whole build in-process incl. reading files: {asem_s * 1000:.1f} ms; "
          f"pipeline alone {vector_s * 1000:.1f} ms vs one indicator at a time {loop_s * 1000:.0f} ms "
          f"(ratio {loop_s / vector_s:.0f}×)")


if __name__ == "__main__":
    main()
