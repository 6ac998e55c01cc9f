"""Uncertainty analysis: the vectorised path against a loop of single nominal builds, measured side by side.

    .venv/bin/python bench/bench_uncertainty.py            # everything (about two minutes)
    .venv/bin/python bench/bench_uncertainty.py --quick    # loops over a sample of runs, extrapolated

Cases:
1. ASEM, the Sobol design of asem-coinr-uncertainty.yaml (N = 500, 4 factors: 3,000 runs, treatment included);
2. ASEM, 10,000 Monte Carlo runs;
3. 10,000 synthetic cities × 100 indicators, 1,000 Monte Carlo runs (own process, peak RSS reported);
4. case 1 on the Dask backend (a local cluster of two worker processes, start-up included).

The loop rebuilds each run with `run_pipeline` on the plain pipeline the run amounts to, which is what a tool
without a run axis does; the ratio is loop time / vectorised time.
"""

from __future__ import annotations  # noqa: I001 (smartcities before NumPy: its kernels)

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import smartcities  # noqa: F401 (first, so NumPy runs the kernels a smartcities process runs)
import numpy as np

from smartcities.engine.context import Context
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.errors import InputError
from smartcities.model.framework import Framework, Node
from smartcities.model.spec import Backend, Uncertainty
from smartcities.robustness.uncertainty import Plan, analyse

HERE = Path(__file__).resolve().parent
SPEC = HERE.parents[1] / "shared" / "examples" / "asem-coinr-uncertainty.yaml"
COINR_N500_SECONDS = 896.0  # COINr 1.1.14, same design, N = 500, 2 cores (research notes)


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def loop_seconds(X, ctx, steps, unc: Uncertainty, sample: int | None) -> tuple[float, int]:
    """Seconds for single builds of every run (or of `sample` evenly spread runs, scaled up)."""
    plan = Plan.resolve(ctx, steps, unc)
    runs = plan.decode(plan.design(unc).u)
    total = len(runs.data_key)
    chosen = range(total) if sample is None or sample >= total else np.linspace(0, total - 1, sample).astype(int)
    started = time.perf_counter()
    for r in chosen:
        try:
            run_pipeline(X, ctx, plan.steps_for(runs, int(r)))
        except InputError:  # a configuration that cannot be built (the vectorised path counts it as failed)
            pass
    took = time.perf_counter() - started
    return took * total / len(chosen), len(chosen)


def asem():
    from smartcities.build import load_spec
    from smartcities.inputs import load_inputs

    spec = load_spec(SPEC)
    inputs = load_inputs(spec)
    return spec, inputs.X, inputs.context, [Step.parse(e) for e in spec.model.pipeline]


def row(name, runs, wall, cpu, loop, looped, extra=""):
    note = "" if looped == runs else f" (loop of {looped} runs, scaled)"
    print(f"{name:<44} {runs:>7,} runs  vectorised {wall:7.2f} s wall {cpu:7.2f} s cpu   "
          f"loop {loop:8.1f} s{note}   ratio {loop / wall:6.0f}×  {extra}")


def synthetic(cities: int, indicators: int, seed: int = 0):
    """A three-level framework (index → 2 sub-indices → 10 pillars → indicators) over lognormal data."""
    rng = np.random.default_rng(seed)
    nodes = [Node("Index", "Index")] + [Node(f"S{s}", f"S{s}", "Index") for s in range(2)]
    per = indicators // 10
    for p in range(10):
        nodes.append(Node(f"P{p}", f"P{p}", f"S{p % 2}", weight=1.0 + p % 3))
        nodes += [Node(f"i{p}_{j}", f"i{p}_{j}", f"P{p}", direction=1 if j % 4 else -1) for j in range(per)]
    fw = Framework.from_nodes(nodes)
    X = rng.lognormal(sigma=0.8, size=(cities, per * 10))
    X[rng.random(X.shape) < 0.03] = np.nan
    ctx = Context.of([f"c{i:05d}" for i in range(cities)], fw)
    steps = [Step.parse(e) for e in (
        {"impute": {"method": "mean"}},
        {"treat": {"method": "winsorise", "max_points": 5}},
        {"normalise": {"method": "minmax", "range": [1, 100]}},
        {"aggregate": {"method": "arithmetic"}},
    )]
    unc = Uncertainty.model_validate({"runs": 1000, "seed": 1, "design": "montecarlo", "factors": {
        "winsorisation": {"step": "treat", "parameter": "max_points", "values": [1, 3, 5]},
        "normalisation": {"step": "normalise", "alternatives": [{"method": "minmax", "range": [1, 100]},
                                                                {"method": "zscore", "mean": 100, "sd": 10}]},
        "weights": {"step": "aggregate", "noise": 0.25, "levels": [2, 3]},
        "aggregation": {"step": "aggregate", "parameter": "method", "values": ["arithmetic", "geometric"]},
    }})
    return X, ctx, steps, unc


def scale_case(loop_sample: int) -> dict:
    X, ctx, steps, unc = synthetic(10_000, 100)
    res, wall, cpu = timed(lambda: analyse(X, ctx, steps, unc, Backend()))
    loop, looped = loop_seconds(X, ctx, steps, unc, loop_sample)
    return {"runs": res.runs, "wall": wall, "cpu": cpu, "loop": loop, "looped": looped, "failed": res.failed_runs,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="loop over a sample of runs and scale up")
    ap.add_argument("--scale-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    if args.scale_only:
        print(json.dumps(scale_case(5)))
        return
    sample = 300 if args.quick else None
    spec, X, ctx, steps = asem()
    unc = spec.model.uncertainty
    analyse(X, ctx, steps, unc.model_copy(update={"runs": 8}), Backend())  # warm imports and caches

    res, wall, cpu = timed(lambda: analyse(X, ctx, steps, unc, Backend()))
    loop, looped = loop_seconds(X, ctx, steps, unc, sample)
    row("ASEM Sobol design, N=500, 4 factors", res.runs, wall, cpu, loop, looped,
        f"COINr: {COINR_N500_SECONDS:.0f} s → {COINR_N500_SECONDS / wall:,.0f}× faster")

    mc = unc.model_copy(update={"runs": 10_000, "design": "montecarlo"})
    res, wall, cpu = timed(lambda: analyse(X, ctx, steps, mc, Backend()))
    loop, looped = loop_seconds(X, ctx, steps, mc, 300 if sample else 1000)
    row("ASEM Monte Carlo", res.runs, wall, cpu, loop, looped)

    out = subprocess.run([sys.executable, __file__, "--scale-only"], capture_output=True, text=True, check=True)
    s = json.loads(out.stdout.strip().splitlines()[-1])
    row("10,000 cities × 100 indicators, Monte Carlo", s["runs"], s["wall"], s["cpu"], s["loop"], s["looped"],
        f"peak RSS {s['peak_rss_mb']:.0f} MB")

    if not args.no_dask:
        res, wall, cpu = timed(lambda: analyse(X, ctx, steps, unc, Backend(name="dask")))
        print(f"{'ASEM Sobol N=500 on Dask (2 local workers)':<44} {res.runs:>7,} runs  {wall:7.2f} s wall "
              f"(cluster start-up and shutdown included)")


if __name__ == "__main__":
    main()
