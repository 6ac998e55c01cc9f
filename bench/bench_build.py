"""Nominal build speed: a synthetic 100,000 units × 200 indicators index, and the ASEM example in-process.

Each figure is printed beside a baseline measured in the same run: the synthetic build against the time numpy
needs just to read through the data once (a floor), and the vectorised ASEM build against the same steps run
indicator by indicator in plain Python loops (the way a per-column implementation would do them).

    .venv/bin/python bench/bench_build.py [--units 100000 --indicators 200]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from smartcities.build import build
from smartcities.engine.context import Context
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.model.framework import Framework, Node

SHARED = Path(__file__).resolve().parents[2] / "shared"


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


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--indicators", type=int, default=200)
    args = parser.parse_args()

    X, ctx = synthetic(args.units, args.indicators)
    build_s = best_of(lambda: run_pipeline(X, ctx, STEPS), 3)
    floor_s = best_of(lambda: np.nanmean(X, axis=0), 3)
    print(f"synthetic {args.units:,} units × {args.indicators} indicators: nominal build {build_s:.2f} s "
          f"(one pass of nanmean over the data {floor_s:.3f} s; build = {build_s / floor_s:.0f}× one pass)")

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
