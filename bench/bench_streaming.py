"""Rank intervals at the scale of every city: a Monte Carlo over 100,000 units × 100 indicators × a 4-level tree
(100 indicators in 20 groups in 5 pillars under one index: 26 aggregates), its ranks streamed into histograms
within the memory budget, on the local process and on a local Dask cluster.

Each case runs in its own process, so its peak memory is its own. Printed per case: runs, wall seconds, runs/s,
peak RSS, the tally's bin width; then, side by side on a 10,000-unit case where both fit, the streamed tally
against keeping every run's ranks (the exact path), and the projection of 10,000 runs to this machine and to a
cluster of W workers, from the cost of one more run (the big case at R and 2R runs): each worker evaluates its runs
on its core into its own part of the tally, and the client merges one part per worker.

    .venv/bin/python bench/bench_streaming.py [--units 100000 --runs 104 --budget-mb 1024]
"""

from __future__ import annotations  # noqa: I001 (smartcities before NumPy: its kernels)

import argparse
import json
import resource
import subprocess
import sys
import time

import smartcities  # noqa: F401 (first, so NumPy runs the kernels a smartcities process runs)
import numpy as np


def setup(units: int, runs: int):
    from smartcities.engine.context import Context
    from smartcities.engine.pipeline import Step
    from smartcities.model.framework import Framework, Node
    from smartcities.model.spec import Uncertainty

    nodes = [Node("index", "Index")] + [Node(f"p{k}", f"Pillar {k}", "index") for k in range(5)]
    nodes += [Node(f"g{k}", f"Group {k}", f"p{k // 4}") for k in range(20)]
    nodes += [Node(f"i{j}", f"Indicator {j}", f"g{j // 5}", weight=1.0 + j % 3) for j in range(100)]
    rng = np.random.default_rng(0)
    X = rng.lognormal(size=(units, 100))
    X[rng.random(X.shape) < 0.02] = np.nan
    ctx = Context.of([f"c{k}" for k in range(units)], Framework.from_nodes(nodes))
    steps = [Step.parse({"impute": {"method": "mean"}}),
             Step.parse({"normalise": {"method": "minmax", "range": [1, 100]}}), Step.parse({"aggregate": {}})]
    unc = Uncertainty.model_validate({"design": "montecarlo", "runs": runs, "seed": 1, "factors": {
        "weights": {"step": "aggregate", "noise": 0.25, "levels": [1, 2]},
        "aggregation": {"step": "aggregate", "parameter": "method", "values": ["arithmetic", "geometric"]}}})
    return X, ctx, steps, unc


def case(units: int, runs: int, backend: str, workers: int, budget_mb: int, chunk: int) -> dict:
    """One analysis in this process: wall and CPU seconds, peak RSS, and the tally's bin width."""
    from smartcities.model.spec import Backend
    from smartcities.robustness.uncertainty import analyse

    X, ctx, steps, unc = setup(units, runs)
    cpu0, t0 = time.process_time(), time.perf_counter()
    res = analyse(X, ctx, steps, unc, Backend(name=backend, workers=workers, rank_memory_mb=budget_mb,
                                               chunk_runs=chunk))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"units": units, "runs": res.runs, "backend": backend, "workers": workers, "wall": wall, "cpu": cpu,
            "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "width": res.rank_width}


def merge_seconds(units: int, budget_mb: int) -> float:
    """What the client pays to merge one worker's part of the tally (histograms of the whole budget)."""
    from smartcities.robustness.tally import RankTally

    tally = RankTally.within(10_000, units, 26, budget_mb * 2**20)
    part = RankTally.part_of(tally.layout_for(10_000))
    part.counts[:] = 1
    t0 = time.perf_counter()
    for _ in range(3):
        tally.merge(part)
    return (time.perf_counter() - t0) / 3


def in_child(**kw) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(kw)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(label: str, r: dict) -> str:
    width = "exact" if r["width"] == 0 else f"bins of {r['width']}"
    return (f"{label:<40} {r['runs']:>6,} runs {r['wall']:8.2f} s {r['runs'] / r['wall']:8.1f} runs/s "
            f"peak {r['rss_gb']:5.2f} GB  {width}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=104, help="104: more than 1 GB keeps for 100,000 units, so histograms")
    ap.add_argument("--budget-mb", type=int, default=1024)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(case(**json.loads(args.child))))
        return
    big = dict(units=args.units, runs=args.runs, budget_mb=args.budget_mb, chunk=8)
    numpy_run = in_child(backend="numpy", workers=1, **big)
    twice = in_child(backend="numpy", workers=1, **{**big, "runs": 2 * args.runs})
    print(line(f"{args.units:,} units, this process", numpy_run))
    print(line(f"{args.units:,} units, this process", twice))
    dask_runs = {w: in_child(backend="dask", workers=w, **big) for w in (1, 2)}
    for w, r in dask_runs.items():
        print(line(f"{args.units:,} units, Dask, {w} worker(s)", r))
    small = dict(units=10_000, runs=1_000, chunk=256)
    kept = in_child(backend="numpy", workers=1, budget_mb=2048, **small)
    streamed = in_child(backend="numpy", workers=1, budget_mb=64, **small)
    print(line("10,000 units, every run kept (exact)", kept))
    print(line("10,000 units, streamed in 64 MB", streamed))
    print(f"{'  streamed / kept':<40} time {streamed['wall'] / kept['wall']:.2f}×, "
          f"peak memory {streamed['rss_gb'] / kept['rss_gb']:.2f}×")
    per_run = (twice["wall"] - numpy_run["wall"]) / (twice["runs"] - numpy_run["runs"])  # set-up left out
    merge = merge_seconds(args.units, args.budget_mb)
    moved = args.budget_mb / 1024 * 8 / 10  # seconds to move one part over a 10 Gbit/s network
    print(f"projection, 10,000 runs of {args.units:,} units ({per_run:.2f} s a run beyond the set-up, its own "
          f"tally included): this process {10_000 * per_run / 60:.0f} min; a cluster of W workers ≈ "
          f"10,000 × {per_run:.2f} s / W + W × ({merge:.2f} s to merge a worker's part + {moved:.1f} s to move "
          f"its {args.budget_mb} MB at 10 Gbit/s) = {(10_000 * per_run / 16 + 16 * (merge + moved)) / 60:.0f} min "
          f"at W = 16, {(10_000 * per_run / 64 + 64 * (merge + moved)) / 60:.0f} min at W = 64")


if __name__ == "__main__":
    main()
