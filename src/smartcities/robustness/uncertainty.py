"""Uncertainty and sensitivity analysis of a build: how far ranks move when the method's choices change, and
which choice moves them.

A spec's `uncertainty:` section names the uncertain choices (factors). Each run of the design picks one option
per factor; the analysis then

1. evaluates every *distinct* configuration of the data steps once (e.g. treatment with max_points 1..5 gives
   five treated arrays, however many runs there are), caching shared prefixes of the pipeline;
2. aggregates and ranks all runs as array operations over chunks of the run axis, each run with its own
   weights and aggregation method (on the local process, or as Dask tasks);
3. summarises ranks into intervals, and the Saltelli design into Sobol indices.

Factor kinds (see `model.spec.Factor`):
- a step parameter drawn from `values`, or alternative configurations of a step (`alternatives`);
- weight noise: each weight at the chosen `levels` times U(1 − noise, 1 + noise), one input column per weight,
  all grouped into one factor;
- leave one of `leave_out` out (or none): its weight becomes zero, so its parent re-weights the rest.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..engine.aggregate import aggregate as _aggregate_signature
from ..engine.aggregate import aggregate_levels, level_methods, node_weights
from ..engine.context import Context
from ..engine.grade import ranks
from ..engine.pipeline import Kept, Step, apply_step, check_params, run_pipeline
from ..engine.registry import methods, parameters
from ..errors import InputError, Problem
from ..model.spec import Backend, Uncertainty
from .sampling import Design, montecarlo, saltelli
from .sensitivity import _estimate, _split, sobol_indices

WHERE = "uncertainty"
MOVES = (1, 3, 10)
_CHUNK_BYTES = 64 * 2**20  # working memory per chunk of runs


@dataclass(frozen=True)
class UncertaintyResult:
    """What an uncertainty analysis found. `city` holds unit codes; in `sensitivity` an empty city is the whole
    ranking (output: mean absolute rank shift from the nominal ranking)."""

    rank_intervals: pd.DataFrame  # city, node, nominal_rank, median_rank, mean_rank, p05, p95
    movement: pd.DataFrame  # node, moved_gt_1, moved_gt_3, moved_gt_10: shares of cities
    sensitivity: pd.DataFrame  # factor, node, city, S1, S1_conf, ST, ST_conf
    convergence: pd.DataFrame  # factor, node, S1_half, S1_full, ST_half, ST_full, ST_change, converged
    runs: int
    seconds: float
    target: str = ""
    design: str = "sobol"
    failed_runs: int = 0  # runs whose configuration could not be evaluated (e.g. geometric mean of values ≤ 0)


# --- factors resolved against the pipeline ----------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvedFactor:
    name: str
    kind: str  # "step" (one of several step configurations), "noise" or "leave_out"
    step: int | None = None  # index into the pipeline's steps
    options: tuple = ()  # "step": configurations (replace=True) or parameter values; "leave_out": None, then nodes
    replace: bool = False
    parameter: str | None = None
    nodes: tuple[int, ...] = ()  # "noise": compiled indices of the perturbed weights
    noise: float = 0.0

    @property
    def columns(self) -> int:
        return len(self.nodes) if self.kind == "noise" else 1


@dataclass(frozen=True)
class Runs:
    """A design decoded into configurations: per run, a data-configuration key and an aggregation key (indices
    into `data_keys` / `agg_configs`) and its node weights."""

    data_key: np.ndarray  # (runs,) index into data_keys
    data_keys: np.ndarray  # (K, data factors) choices
    agg_key: np.ndarray  # (runs,)
    agg_configs: tuple[dict, ...]
    weights: np.ndarray  # (runs, nodes)
    choices: np.ndarray  # (runs, factors), -1 for noise factors


@dataclass(frozen=True)
class Plan:
    """The pipeline and factors, checked: everything needed to turn a design row into a configuration."""

    ctx: Context
    steps: tuple[Step, ...]
    factors: tuple[ResolvedFactor, ...]
    target: str
    agg_step: int

    @classmethod
    def resolve(cls, ctx: Context, steps: list[Step], unc: Uncertainty) -> Plan:
        problems: list[Problem] = []
        names = [s.step for s in steps]
        if "aggregate" not in names:
            raise InputError.single(WHERE, "the pipeline has no aggregate step")
        agg_step = names.index("aggregate")
        fw, c = ctx.framework, ctx.compiled
        root = fw.root()
        target = unc.target or root
        if target not in fw.by_id:
            problems.append(Problem(WHERE, f"target {target!r} is not a node of the framework"))
        resolved = []
        for name, f in unc.factors.items():
            def bad(msg, name=name, problems=problems):
                problems.append(Problem(WHERE, f"factor {name!r}: {msg}"))
            if f.leave_out is not None:
                unknown = [n for n in f.leave_out if n not in fw.by_id]
                if unknown or root in f.leave_out:
                    bad(f"leave_out names {', '.join(map(repr, unknown or [root]))}, which "
                        + ("is not a node" if unknown else "is the top node"))
                    continue
                resolved.append(ResolvedFactor(name, "leave_out", options=(None, *f.leave_out)))
                continue
            if f.step not in names:
                bad(f"step {f.step!r} is not in the pipeline (steps: {', '.join(names)})")
                continue
            i = names.index(f.step)
            if f.noise is not None:
                if f.step != "aggregate":
                    bad("weight noise belongs to the aggregate step")
                    continue
                levels = f.levels or list(range(1, int(c.levels.max())))
                wrong = [lv for lv in levels if lv < 1 or lv >= int(c.levels.max())]
                if wrong:
                    bad(f"levels {wrong} have no weights to perturb (levels 1..{int(c.levels.max()) - 1})")
                    continue
                nodes = tuple(int(j) for j in np.flatnonzero(np.isin(c.levels, levels)))
                resolved.append(ResolvedFactor(name, "noise", step=i, nodes=nodes, noise=float(f.noise)))
                continue
            if f.alternatives is not None:
                rf = ResolvedFactor(name, "step", step=i, options=tuple(dict(a) for a in f.alternatives), replace=True)
            else:
                rf = ResolvedFactor(name, "step", step=i, options=tuple(f.values), parameter=f.parameter)
            if len(rf.options) < 1:
                bad("needs at least one option")
                continue
            for opt in range(len(rf.options)):
                problems += _check_step(_configure(steps[i], [(rf, opt)]), name)
            resolved.append(rf)
        if not resolved and not problems:
            problems.append(Problem(WHERE, "no factors"))
        if problems:
            raise InputError(problems)
        return cls(ctx, tuple(steps), tuple(resolved), target, agg_step)

    # --- the design ---------------------------------------------------------------------------------------------
    @property
    def groups(self) -> tuple[int, ...]:
        return tuple(g for g, f in enumerate(self.factors) for _ in range(f.columns))

    def design(self, unc: Uncertainty) -> Design:
        if unc.design == "sobol":
            return saltelli(unc.runs, self.groups, unc.seed)
        return montecarlo(unc.runs, self.groups, unc.seed)

    def decode(self, u: np.ndarray) -> Runs:
        ctx = self.ctx
        runs = u.shape[0]
        choices = np.full((runs, len(self.factors)), -1, dtype=np.int64)
        mult = np.ones((runs, len(ctx.compiled.nodes)))
        col = 0
        for g, f in enumerate(self.factors):
            block = u[:, col: col + f.columns]
            col += f.columns
            if f.kind == "noise":
                mult[:, list(f.nodes)] *= 1 + f.noise * (2 * block - 1)
            else:
                n = len(f.options)
                choices[:, g] = np.minimum((block[:, 0] * n).astype(np.int64), n - 1)
        data_f = self._factor_ids(data=True)
        agg_f = self._factor_ids(data=False)
        data_keys, data_key = _unique_rows(choices[:, data_f])
        agg_keys, agg_key = _unique_rows(choices[:, agg_f])
        configs = tuple(self.aggregate_params(dict(zip(agg_f, row))) for row in agg_keys)
        base = np.array([node_weights(ctx, cfg["weights"]) for cfg in configs])
        weights = base[agg_key] * mult
        for g, f in enumerate(self.factors):
            if f.kind == "leave_out":
                for opt, node in enumerate(f.options):
                    if node is not None:
                        weights[choices[:, g] == opt, ctx.compiled.nodes.index(node)] = 0.0
        return Runs(data_key, data_keys, agg_key, configs, weights, choices)

    def _factor_ids(self, data: bool) -> list[int]:
        return [g for g, f in enumerate(self.factors)
                if f.kind == "step" and (self.steps[f.step].step != "aggregate") == data]

    # --- configurations -----------------------------------------------------------------------------------------
    def step_for(self, i: int, choice_of: dict[int, int]) -> Step:
        """Step i of the pipeline with the options the factors on it chose (`choice_of`: factor → option)."""
        chosen = [(f, choice_of[g]) for g, f in enumerate(self.factors)
                  if f.kind == "step" and f.step == i and g in choice_of]
        return _configure(self.steps[i], chosen)

    def aggregate_params(self, choice_of: dict[int, int]) -> dict:
        params = dict(self.step_for(self.agg_step, choice_of).params)
        params.setdefault("method", "arithmetic")
        params.setdefault("weights", "framework")
        return params

    def steps_for(self, runs: Runs, r: int) -> list[Step]:
        """The plain pipeline that run r amounts to (for checking the vectorised path against single builds)."""
        choice_of = {g: int(runs.choices[r, g]) for g, f in enumerate(self.factors) if f.kind == "step"}
        out = []
        for i in range(len(self.steps)):
            if i == self.agg_step:
                params = self.aggregate_params(choice_of)
                params["weights"] = dict(zip(self.ctx.compiled.nodes, map(float, runs.weights[r])))
                out.append(Step("aggregate", params["method"], params))
            else:
                out.append(self.step_for(i, choice_of))
        return out

    def data_arrays(self, X: np.ndarray, runs: Runs) -> tuple[np.ndarray, np.ndarray]:
        """For each distinct data configuration: the data entering aggregation (K, units, leaves) and the units
        screened out (K, units). Shared pipeline prefixes are evaluated once."""
        data_f = self._factor_ids(data=True)
        cache: dict[tuple, tuple[np.ndarray, Kept]] = {}
        leaves, dropped = [], []
        X = X[None] if X.ndim == 2 else X
        for key in runs.data_keys:
            choice_of = dict(zip(data_f, map(int, key)))
            Y, kept, at_agg = X, Kept.measured(X), None
            for i in range(len(self.steps)):
                if i == self.agg_step:
                    at_agg = Y
                    continue
                prefix = (i, tuple(sorted((g, c) for g, c in choice_of.items() if self.factors[g].step <= i)))
                if prefix not in cache:
                    cache[prefix] = apply_step(Y, kept, self.ctx, self.step_for(i, choice_of))
                Y, kept = cache[prefix]
            leaves.append(at_agg[0])
            dropped.append(~kept.units[0] | np.all(np.isnan(Y[0]), axis=1))
        return np.stack(leaves), np.stack(dropped)


def _configure(base: Step, chosen: list[tuple[ResolvedFactor, int]]) -> Step:
    """A step with the factors' options applied. When an option changes the method, parameters inherited from
    the pipeline that the new method does not take are dropped; those the factor names itself are kept (and
    checked)."""
    step, method, params = base.step, base.method, dict(base.params)
    named: set[str] = set()
    for f, opt in chosen:
        value = f.options[opt]
        if f.replace:
            parsed = Step.parse({step: dict(value)})
            method, params = parsed.method, dict(parsed.params)
            named = set(params)
        elif f.parameter == "method" and step != "aggregate":
            method = str(value)
        else:
            params[f.parameter] = value
            named.add(f.parameter)
            if step == "aggregate" and f.parameter == "method":
                method = str(value)
    if step != "aggregate" and method in methods(step):
        known = parameters(methods(step)[method])
        params = {k: v for k, v in params.items() if k in known or k in named}
    return Step(step, method, params)


def _check_step(step: Step, factor: str) -> list[Problem]:
    where = f"{WHERE}: factor {factor!r}"
    if step.step == "aggregate":
        known = methods("aggregator")
        method = step.params.get("method", "arithmetic")
        if method not in known:
            return [Problem(where, f"aggregate: method {method!r} is not one of {', '.join(known)}")]
        return check_params(where, "aggregate", _aggregate_signature, step.params, lambda key: None)
    if step.method not in methods(step.step):
        return [Problem(where, f"{step.step}: method {step.method!r} is not one of "
                               f"{', '.join(methods(step.step))}")]
    return check_params(where, step.step, methods(step.step)[step.method], step.params, lambda key: None)


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[1] == 0:
        return np.zeros((1, 0), dtype=a.dtype), np.zeros(a.shape[0], dtype=np.int64)
    keys, inverse = np.unique(a, axis=0, return_inverse=True)
    return keys, inverse.reshape(-1)


# --- evaluating runs: aggregation and ranks over a chunk of the run axis -----------------------------------------

def _aggregate_runs(leaves: np.ndarray, matrices, config: dict, ctx: Context) -> np.ndarray:
    """Scores of the aggregate nodes (runs, units, aggregates) for leaves (1, units, leaves) and per-level weight
    matrices with or without a run axis, with the methods `engine.aggregate` would choose."""
    chosen = level_methods(ctx.compiled, config["method"], config.get("by_level"), config.get("by_node"))
    scores = aggregate_levels(leaves, matrices, chosen, min_share=float(config.get("min_share", 0.0)),
                              p=float(config.get("p", 2.0)))
    return scores[..., ctx.compiled.n_leaves:]


def evaluate_chunk(leaves: np.ndarray, dropped: np.ndarray, data_key: np.ndarray, agg_key: np.ndarray,
                   weights: np.ndarray, agg_configs: tuple[dict, ...], ctx: Context,
                   dtype: str = "uint16") -> tuple[np.ndarray, int]:
    """Ranks of every aggregate node for a chunk of runs, as unsigned integers (0 = no rank), and the number
    of runs that failed. Runs sharing data and aggregation settings are evaluated together."""
    c = ctx.compiled
    n_agg = len(c.nodes) - c.n_leaves
    out = np.zeros((len(data_key), leaves.shape[1], n_agg), dtype=dtype)
    failed = 0
    pairs = np.unique(np.stack([data_key, agg_key], axis=1), axis=0)
    for k, g in pairs:
        sel = np.flatnonzero((data_key == k) & (agg_key == g))
        w = weights[sel]
        same = bool(np.all(w == w[0]))
        # a level whose weights no run changes is aggregated once for all of them
        matrices = tuple(m[0] if m.ndim == 3 and np.all(m == m[0]) else m
                         for m in c.matrices_for(w[0] if same else w))
        try:
            scores = _aggregate_runs(leaves[k][None], matrices, agg_configs[g], ctx)
        except InputError:
            failed += len(sel)
            continue
        scores = np.where(dropped[k][None, :, None], np.nan, scores)
        ranked = np.nan_to_num(ranks(scores), nan=0.0).astype(dtype)
        out[sel] = ranked if not same else np.broadcast_to(ranked, (len(sel),) + ranked.shape[1:])
    return out, failed


# --- running the chunks -------------------------------------------------------------------------------------------

@dataclass
class _Work:
    """The chunks of runs to evaluate, and where their ranks go: `out[order[chunk]]` (design order)."""

    leaves: np.ndarray
    dropped: np.ndarray
    runs: Runs  # in evaluation order
    ctx: Context
    out: np.ndarray  # (runs, units, aggregates) in design order
    order: np.ndarray  # evaluation position → design row
    chunks: list[slice] = field(default_factory=list)

    def store(self, sl: slice, ranks: np.ndarray) -> None:
        self.out[self.order[sl]] = ranks


def _chunks(n_runs: int, units: int, nodes: int, chunk_runs: int) -> list[slice]:
    per_run = max(1, units * nodes * 8 * 4)
    size = max(1, min(chunk_runs, _CHUNK_BYTES // per_run))
    return [slice(lo, min(lo + size, n_runs)) for lo in range(0, n_runs, size)]


def _progress(progress: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("uncertainty runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True, disable=not progress)


def _run_numpy(work: _Work, progress: bool) -> int:
    failed = 0
    r = work.runs
    with _progress(progress) as bar:
        task = bar.add_task("runs", total=r.data_key.shape[0])
        for sl in work.chunks:
            ranks, f = evaluate_chunk(work.leaves, work.dropped, r.data_key[sl], r.agg_key[sl], r.weights[sl],
                                      r.agg_configs, work.ctx, work.out.dtype.name)
            work.store(sl, ranks)
            failed += f
            bar.advance(task, sl.stop - sl.start)
    return failed


def _run_dask(work: _Work, backend: Backend, progress: bool) -> int:
    """The same chunks as Dask tasks: on the scheduler `backend.scheduler`, or on a local cluster of two worker
    processes started (and stopped) here."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if backend.scheduler:
        client = Client(backend.scheduler)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        r = work.runs
        leaves, dropped, ctx = client.scatter([work.leaves, work.dropped, work.ctx], broadcast=True)
        futures = [client.submit(evaluate_chunk, leaves, dropped, r.data_key[sl], r.agg_key[sl], r.weights[sl],
                                 r.agg_configs, ctx, work.out.dtype.name, pure=False) for sl in work.chunks]
        position = {f.key: i for i, f in enumerate(futures)}
        failed = 0
        with _progress(progress) as bar:
            task = bar.add_task("runs", total=r.data_key.shape[0])
            for fut in as_completed(futures):
                sl = work.chunks[position[fut.key]]
                ranks, f = fut.result()
                work.store(sl, ranks)
                failed += f
                fut.release()
                bar.advance(task, sl.stop - sl.start)
        return failed
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --- summaries ------------------------------------------------------------------------------------------------------

def _weighted_quantiles(values: np.ndarray, counts: np.ndarray, probs: tuple[float, ...],
                        block: int = 65536) -> list[np.ndarray]:
    """Quantiles (R type 7, numpy's default) along axis 0 of a sample in which values[k] occurs counts[k] times;
    NaN values are left out. Works through the other axes a block at a time."""
    flat = values.reshape(values.shape[0], -1)
    out = [np.empty(flat.shape[1]) for _ in probs]
    for lo in range(0, flat.shape[1], block):
        v = flat[:, lo: lo + block]
        w = np.where(np.isnan(v), 0, counts[:, None]).astype(float)
        order = np.argsort(np.where(np.isnan(v), np.inf, v), axis=0, kind="stable")
        vs = np.take_along_axis(v, order, axis=0)
        cum = np.cumsum(np.take_along_axis(w, order, axis=0), axis=0)
        n = cum[-1]
        for arr, p in zip(out, probs):
            h = (n - 1) * p
            first = np.floor(h)
            i_lo = np.minimum(np.sum(cum <= first, axis=0), v.shape[0] - 1)
            i_hi = np.minimum(np.sum(cum <= np.minimum(first + 1, n - 1), axis=0), v.shape[0] - 1)
            x_lo = np.take_along_axis(vs, i_lo[None], axis=0)[0]
            x_hi = np.take_along_axis(vs, i_hi[None], axis=0)[0]
            with np.errstate(invalid="ignore"):
                arr[lo: lo + block] = np.where(n > 0, x_lo + (h - first) * (x_hi - x_lo), np.nan)
    return [a.reshape(values.shape[1:]) for a in out]


def _interval_stats(ranks: np.ndarray, block: int = 4096) -> list[np.ndarray]:
    """median, mean, p05, p95 over axis 0 of stored ranks (runs, units), 0 = no rank; a block of units at a
    time to bound memory."""
    out = [np.empty(ranks.shape[1]) for _ in range(4)]
    for lo in range(0, ranks.shape[1], block):
        part = ranks[:, lo: lo + block]
        x = part.astype(float)
        missing = part == 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if missing.any():
                x[missing] = np.nan
                q, mean = np.nanquantile(x, [0.5, 0.05, 0.95], axis=0), np.nanmean(x, axis=0)
            else:
                q, mean = np.quantile(x, [0.5, 0.05, 0.95], axis=0), x.mean(axis=0)
        for arr, val in zip(out, (q[0], mean, q[1], q[2])):
            arr[lo: lo + block] = val
    return out


def rank_intervals(ctx: Context, nominal: np.ndarray, agg_ranks: np.ndarray, leaf_ranks: np.ndarray,
                   leaf_counts: np.ndarray) -> pd.DataFrame:
    """city, node, nominal_rank, median_rank, mean_rank, p05, p95 for every node."""
    c = ctx.compiled
    L = c.n_leaves
    med, mean, p05, p95 = (np.empty(nominal.shape) for _ in range(4))  # (units, nodes)
    lm = _weighted_quantiles(leaf_ranks, leaf_counts, (0.5, 0.05, 0.95))
    med[:, :L], p05[:, :L], p95[:, :L] = lm
    w = np.where(np.isnan(leaf_ranks), 0, leaf_counts[:, None, None])
    with np.errstate(all="ignore"):
        mean[:, :L] = np.nansum(leaf_ranks * w, axis=0) / w.sum(axis=0)
    for j in range(agg_ranks.shape[2]):
        med[:, L + j], mean[:, L + j], p05[:, L + j], p95[:, L + j] = _interval_stats(agg_ranks[:, :, j])
    units, nodes = nominal.shape
    frame = pd.DataFrame({
        "city": np.repeat(np.array(ctx.units, dtype=object), nodes),
        "node": np.tile(np.array(c.nodes, dtype=object), units),
        "nominal_rank": nominal.ravel(), "median_rank": med.ravel(), "mean_rank": mean.ravel(),
        "p05": p05.ravel(), "p95": p95.ravel(),
    })
    keep = ~(np.isnan(frame["nominal_rank"]) & np.isnan(frame["median_rank"]))
    order = pd.Categorical(frame["node"], categories=list(c.nodes)[::-1], ordered=True)
    frame = frame.assign(_o=order)[keep].sort_values(["_o", "nominal_rank", "city"]).drop(columns="_o")
    frame["nominal_rank"] = frame["nominal_rank"].astype("Int64")  # whole places; empty where unranked
    return frame.reset_index(drop=True)


def movement(intervals: pd.DataFrame, moves: tuple[int, ...] = MOVES) -> pd.DataFrame:
    """Per node, the share of cities whose median rank is more than k places from their nominal rank."""
    ri = intervals.dropna(subset=["nominal_rank", "median_rank"])
    shift = (ri["median_rank"] - ri["nominal_rank"]).abs()
    out = pd.DataFrame({f"moved_gt_{k}": (shift > k).groupby(ri["node"], sort=False).mean() for k in moves})
    return out.reset_index().rename(columns={"index": "node"})


SENSITIVITY_COLUMNS = ["factor", "node", "city", "S1", "S1_conf", "ST", "ST_conf"]
CONVERGENCE_COLUMNS = ["factor", "node", "S1_half", "S1_full", "ST_half", "ST_full", "ST_change", "converged"]


def _sensitivity(plan: Plan, design: Design, target_ranks: np.ndarray, nominal: np.ndarray, unc: Uncertainty,
                 units: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    n, k = design.n, design.k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shift = np.nanmean(np.abs(target_ranks - nominal[None, :]), axis=1)
    kept = np.flatnonzero(~np.isnan(nominal))
    y = np.column_stack([shift, target_ranks[:, kept]])
    seed = int(np.random.SeedSequence(unc.seed).generate_state(1)[0])
    idx = sobol_indices(y, n, k, bootstrap=unc.bootstrap, seed=seed)
    names = [f.name for f in plan.factors]
    cities = [""] + [units[i] for i in kept]
    frame = pd.DataFrame({
        "factor": np.repeat(names, len(cities)), "node": plan.target, "city": np.tile(cities, k),
        "S1": idx.S1.ravel(), "S1_conf": idx.S1_conf.ravel(), "ST": idx.ST.ravel(), "ST_conf": idx.ST_conf.ravel(),
    })
    half = n // 2
    centred = shift - np.nanmean(shift[: 2 * n])
    ya, yb, yab = _split(centred, n, k)
    s1_h, st_h = _estimate(ya[:half], yb[:half], yab[:, :half], axis=0)
    conv = pd.DataFrame({"factor": names, "node": plan.target, "S1_half": s1_h, "S1_full": idx.S1[:, 0],
                         "ST_half": st_h, "ST_full": idx.ST[:, 0]})
    conv["ST_change"] = (conv["ST_full"] - conv["ST_half"]).abs()
    conv["converged"] = conv["ST_change"] <= np.maximum(0.05, idx.ST_conf[:, 0])
    return frame, conv


# --- the analysis -----------------------------------------------------------------------------------------------

def analyse(X: np.ndarray, ctx: Context, steps: list[Step], uncertainty: Uncertainty, backend: Backend,
            progress: bool = False) -> UncertaintyResult:
    """Run the spec's uncertainty design over the raw data X (units, indicators) and summarise it."""
    started = time.perf_counter()
    plan = Plan.resolve(ctx, steps, uncertainty)
    nominal = run_pipeline(X, ctx, list(steps)).ranks[0]  # (units, nodes)
    design = plan.design(uncertainty)
    runs = plan.decode(design.u)
    leaves, dropped = plan.data_arrays(X, runs)
    c = ctx.compiled
    units = len(ctx.units)
    n_agg = len(c.nodes) - c.n_leaves
    dtype = "uint16" if units < 2**16 - 1 else "uint32"
    # runs are evaluated grouped by configuration, so a chunk holds few groups and the levels their runs share
    # are aggregated once per chunk; results go back into design order
    order = np.lexsort((runs.agg_key, runs.data_key))
    grouped = Runs(runs.data_key[order], runs.data_keys, runs.agg_key[order], runs.agg_configs,
                   runs.weights[order], runs.choices[order])
    agg_ranks = np.empty((design.runs, units, n_agg), dtype=dtype)  # (runs, units, aggregates), design order
    work = _Work(leaves, dropped, grouped, ctx, agg_ranks, order,
                 _chunks(design.runs, units, max(n_agg, 1), backend.chunk_runs))
    failed = _run_dask(work, backend, progress) if backend.name == "dask" else _run_numpy(work, progress)
    leaf_ranks = ranks(np.where(dropped[:, :, None], np.nan, leaves))  # (K, units, leaves)

    used = slice(0, 2 * design.n) if design.kind == "sobol" else slice(0, design.runs)
    counts = np.bincount(runs.data_key[used], minlength=leaves.shape[0])
    intervals = rank_intervals(ctx, nominal, agg_ranks[used], leaf_ranks, counts)

    t = c.nodes.index(plan.target)
    if t >= c.n_leaves:
        target_ranks = agg_ranks[:, :, t - c.n_leaves].astype(float)
        target_ranks[target_ranks == 0] = np.nan
    else:
        target_ranks = leaf_ranks[runs.data_key][:, :, t]
    if design.kind == "sobol":
        sens, conv = _sensitivity(plan, design, target_ranks, nominal[:, t], uncertainty, ctx.units)
    else:
        sens, conv = pd.DataFrame(columns=SENSITIVITY_COLUMNS), pd.DataFrame(columns=CONVERGENCE_COLUMNS)
    return UncertaintyResult(intervals, movement(intervals), sens, conv, design.runs,
                             time.perf_counter() - started, plan.target, design.kind, failed)


def with_runs(uncertainty: Uncertainty, runs: int, design: str | None = None) -> Uncertainty:
    """The same uncertainty set-up with another sample size (and design)."""
    return uncertainty.model_copy(update={"runs": runs, **({"design": design} if design else {})})


