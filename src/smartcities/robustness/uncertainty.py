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

A `weight` step is varied like a data step (its factor's options are configurations of the weighting, e.g.
`alternatives: [{method: equal}, {method: pca}]`): each distinct data configuration sets its own node weights
from its own data, which the runs' weight noise and leave-outs then scale.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..engine.aggregate import aggregate as aggregate_signature
from ..engine.aggregate import aggregate_levels, level_methods, method_params, node_weights
from ..engine.context import Context
from ..engine.grade import ranks
from ..engine.pipeline import Kept, Step, apply_step, check_step, key_path, run_pipeline, weigh
from ..engine.registry import methods, parameters
from ..engine.threads import blocks
from ..errors import InputError, Problem, did_you_mean
from ..model.columns import labels, lex_order, sort_places
from ..model.processing import ProcessingLog, entry
from ..model.spec import Backend, Spec, Uncertainty
from .sampling import Design, montecarlo, saltelli
from .sensitivity import _estimate, _split, sobol_indices
from .tally import RankTally

MOVES = (1, 3, 10)
_CHUNK_BYTES = 64 * 2**20  # working memory per chunk of runs


FAILURE_COLUMNS = ["configuration", "runs", "reason"]


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
    # one row per failing configuration (with `failed_runs: allow`): configuration (factor → option, only the
    # factors that decide it), runs, reason
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FAILURE_COLUMNS))
    sobol_samples: int = 0  # base samples the Sobol indices were estimated on (whole Saltelli block succeeded)
    base_samples: int = 0  # base samples of the design (N)
    sobol_unvaried: tuple[str, ...] = ()  # factors those samples never vary (all other options failed): no indices
    # with `keep_runs`: the target's rank in each independent run (runs, units), the design's A and B samples for
    # a Sobol design, every run of a Monte Carlo one; NaN for a failed run or a unit without a rank. The same seed
    # and factors give the same runs, so editions pair their runs by index (rank changes with intervals).
    target_runs: np.ndarray | None = None
    rank_width: int = 0  # aggregates' rank quantiles: 0 exact, else from histograms of bins this many places wide

    @cached_property
    def intervals_by_node(self) -> dict[str, pd.DataFrame]:
        """`rank_intervals` cut by node once, indexed by city: each node's ranking reads its own rows, not a
        comparison over every node's (a million rows at 10,000 cities)."""
        return {str(node): rows.set_index("city") for node, rows in self.rank_intervals.groupby("node", sort=False)}

    def log(self) -> ProcessingLog:
        """Failed runs as processing-log warnings: one row per failing configuration, and one for the base
        samples the Sobol indices had to leave out."""
        rows = [entry("uncertainty", "failed-runs", count=f.runs, warning=True,
                      detail=f"{describe(f.configuration)} in {f.runs:,} of {self.runs:,} runs: {f.reason}")
                for f in self.failures.itertuples()]
        if self.design == "sobol" and self.sobol_samples < self.base_samples:
            rows.append(entry("uncertainty", "sobol-samples-dropped", count=self.base_samples - self.sobol_samples,
                              warning=True, detail=f"Sobol indices estimated on the {self.sobol_samples:,} of "
                              f"{self.base_samples:,} base samples whose whole Saltelli block succeeded" + (
                                  f"; no indices for {', '.join(map(repr, self.sobol_unvaried))}, which these samples "
                                  "never vary" if self.sobol_unvaried else "")))
        if self.rank_width > 1:
            rows.append(entry("uncertainty", "rank-quantiles-binned", count=self.rank_width, warning=True,
                              detail=f"the runs' ranks exceed backend.rank_memory_mb, so the aggregates' rank "
                              f"quantiles come from histograms of {self.rank_width}-place bins: each within "
                              f"{self.rank_width / 2:g} places of the exact one (means exact); raise "
                              "rank_memory_mb for exact quantiles"))
        return ProcessingLog.of(rows)


def describe(configuration: dict[str, str]) -> str:
    """"factor 'aggregation' = geometric fails", "factors 'a' = x and 'b' = y together fail", "every run fails"."""
    parts = [f"{name!r} = {option}" for name, option in configuration.items()]
    if not parts:
        return "every configuration fails"
    if len(parts) == 1:
        return f"factor {parts[0]} fails"
    return f"factors {', '.join(parts[:-1])} and {parts[-1]} together fail"


def option_label(value) -> str:
    """An option as the spec writes it: `geometric`, `3`, `{method: zscore, mean: 10, sd: 2}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {option_label(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(option_label, value)) + "]"
    return str(value)


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
    scale: np.ndarray  # (runs, nodes): the weight noise and leave-outs that multiply each run's base weights

    def set_by_step(self, step_weights: np.ndarray, by_step: np.ndarray) -> Runs:
        """These runs with the weights of a weight step (per data configuration, (K, nodes)) as the base of the
        runs whose aggregation configuration keeps `weights: framework` (`by_step`, per configuration)."""
        use = by_step[self.agg_key][:, None]
        weights = np.where(use, step_weights[self.data_key] * self.scale, self.weights)
        return Runs(self.data_key, self.data_keys, self.agg_key, self.agg_configs, weights, self.choices, self.scale)

    def ordered(self, order: np.ndarray) -> Runs:
        """The runs in another order (configurations stay as they are)."""
        return Runs(self.data_key[order], self.data_keys, self.agg_key[order], self.agg_configs, self.weights[order],
                    self.choices[order], self.scale[order])


@dataclass(frozen=True)
class Where:
    """Where the uncertainty block was written, so that every problem names the spec file and line."""

    file: str = "uncertainty"
    line: Callable[..., int | None] = lambda *keys: None

    @classmethod
    def of(cls, spec: Spec) -> Where:
        return cls(str(spec.path), spec.line)

    def problem(self, message: str, *keys) -> Problem:
        """A problem at the key path `keys` inside the uncertainty block."""
        return Problem(self.file, f"uncertainty: {message}", self.line("uncertainty", *keys))

    def option_line(self, factor: ResolvedFactor, option: int, *keys) -> int | None:
        kind = "alternatives" if factor.replace else "values"
        return self.line("uncertainty", "factors", factor.name, kind, option, *keys)


@dataclass(frozen=True)
class Plan:
    """The pipeline and factors, checked: everything needed to turn a design row into a configuration."""

    ctx: Context
    steps: tuple[Step, ...]
    factors: tuple[ResolvedFactor, ...]
    target: str
    agg_step: int

    @classmethod
    def resolve(cls, ctx: Context, steps: list[Step], unc: Uncertainty, where: Where = Where()) -> Plan:
        """Check every factor as the build would meet it (each value or alternative as its step checks it) and
        resolve it against the pipeline; raises InputError with every problem, located by `where`."""
        problems: list[Problem] = []
        names = [s.step for s in steps]
        if "aggregate" not in names:
            raise InputError([where.problem("the pipeline has no aggregate step")])
        agg_step = names.index("aggregate")
        fw, c = ctx.framework, ctx.compiled
        root = fw.root()
        target = unc.target or root
        if target not in fw.by_id:
            problems.append(where.problem(f"target {target!r} is not a node of the framework"
                                          f"{did_you_mean(target, fw.by_id)}", "target"))
        resolved = []
        for name, f in unc.factors.items():
            def bad(msg, *keys, name=name, problems=problems):
                problems.append(where.problem(f"factor {name!r}: {msg}", "factors", name, *keys))
            if f.leave_out is not None:
                wrong = [(j, n) for j, n in enumerate(f.leave_out) if n not in fw.by_id or n == root]
                for j, node in wrong:
                    bad(f"leave_out: {node!r} is the top node" if node == root else
                        f"leave_out: {node!r} is not a node{did_you_mean(node, fw.by_id)}", "leave_out", j)
                if not wrong:
                    resolved.append(ResolvedFactor(name, "leave_out", options=(None, *f.leave_out)))
                continue
            if f.step not in names:
                bad(f"step {f.step!r} is not in the pipeline (steps: {', '.join(names)})"
                    f"{did_you_mean(f.step, names)}", "step")
                continue
            i = names.index(f.step)
            if f.noise is not None:
                if f.step != "aggregate":
                    bad("weight noise belongs to the aggregate step", "step")
                    continue
                top = int(c.levels.max())
                levels = f.levels or list(range(1, top))
                wrong = [lv for lv in levels if lv < 1 or lv >= top]
                if wrong:
                    bad(f"levels {wrong} have no weights to perturb (levels 1..{top - 1})", "levels")
                    continue
                nodes = tuple(int(j) for j in np.flatnonzero(np.isin(c.levels, levels)))
                resolved.append(ResolvedFactor(name, "noise", step=i, nodes=nodes, noise=float(f.noise)))
                continue
            if f.alternatives is not None:
                rf = ResolvedFactor(name, "step", step=i, options=tuple(dict(a) for a in f.alternatives), replace=True)
            else:
                rf = ResolvedFactor(name, "step", step=i, options=tuple(f.values), parameter=f.parameter)
            kind = "alternatives" if rf.replace else "values"
            if len(rf.options) < 1:
                bad(f"{kind} needs at least one option", kind)
                continue
            if (unknown := _unknown_parameter(steps[i], rf)) is not None:
                bad(unknown, "parameter")
                continue
            found = [p for opt in range(len(rf.options)) for p in check_step(
                _configure(steps[i], [(rf, opt)]), ctx, where.file,
                lambda key, opt=opt, rf=rf: where.option_line(rf, opt, *(key_path(key) if rf.replace else ())))]
            problems += [Problem(p.file, f"uncertainty: factor {name!r}: {p.message}", p.line) for p in found]
            resolved.append(rf)
        if not resolved and not problems:
            problems.append(where.problem("no factors", "factors"))
        if problems:
            raise InputError(list(dict.fromkeys(problems)))
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
        for g, f in enumerate(self.factors):
            if f.kind == "leave_out":
                for opt, node in enumerate(f.options):
                    if node is not None:
                        mult[choices[:, g] == opt, ctx.compiled.nodes.index(node)] = 0.0
        return Runs(data_key, data_keys, agg_key, configs, base[agg_key] * mult, choices, mult)

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

    def data_arrays(self, X: np.ndarray, runs: Runs) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """For each distinct data configuration: the data entering aggregation (K, units, leaves), the units
        screened out (K, units) and, with a weight step, the node weights it set (K, nodes). Shared pipeline
        prefixes are evaluated once."""
        data_f = self._factor_ids(data=True)
        cache: dict[tuple, tuple[np.ndarray, Kept]] = {}
        leaves, dropped, weights = [], [], []
        X = X[None] if X.ndim == 2 else X
        for key in runs.data_keys:
            choice_of = dict(zip(data_f, map(int, key)))
            Y, kept, at_agg = X, Kept.measured(X), None
            for i in range(len(self.steps)):
                if i == self.agg_step:
                    at_agg = Y
                    continue
                prefix = (i, tuple(sorted((g, c) for g, c in choice_of.items() if self.factors[g].step <= i)))
                if self.steps[i].step == "weight":
                    if prefix not in cache:
                        step, aggregate = self.step_for(i, choice_of), self.steps[self.agg_step]
                        cache[prefix] = weigh(Y, self.ctx, step, aggregate).weights[0]
                    weights.append(cache[prefix])
                    continue
                if prefix not in cache:
                    cache[prefix] = apply_step(Y, kept, self.ctx, self.step_for(i, choice_of))
                Y, kept = cache[prefix]
            leaves.append(at_agg[0])
            dropped.append(~kept.units[0] | np.all(np.isnan(Y[0]), axis=1))
        return np.stack(leaves), np.stack(dropped), np.stack(weights) if weights else None


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


def _unknown_parameter(base: Step, factor: ResolvedFactor) -> str | None:
    """A values factor's parameter must be one the step's method takes (or the method itself); said once for the
    factor rather than once per value."""
    if factor.replace or factor.parameter == "method":
        return None
    fn = aggregate_signature if base.step == "aggregate" else methods(base.step).get(base.method)
    known = parameters(fn) if fn is not None else {}
    if fn is None or factor.parameter in known:
        return None
    return (f"{base.step}: unknown parameter {factor.parameter!r}{did_you_mean(factor.parameter, known)}; "
            f"known: {', '.join(known)}")


def check_uncertainty(spec: Spec, ctx: Context) -> list[Problem]:
    """Everything the spec's uncertainty block names, checked against the pipeline and the build's context before
    any run: factor steps, parameters, every value and alternative, leave_out nodes, the target, levels."""
    if spec.model.uncertainty is None:
        return []
    steps = [Step.parse(e) for e in spec.model.pipeline]
    try:
        Plan.resolve(ctx, steps, spec.model.uncertainty, Where.of(spec))
    except InputError as err:
        return err.problems
    return []


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
    return aggregate_levels(leaves, matrices, chosen, min_share=float(config.get("min_share", 0.0)),
                            with_leaves=False, **method_params(ctx.compiled, config))


def evaluate_chunk(leaves: np.ndarray, dropped: np.ndarray, data_key: np.ndarray, agg_key: np.ndarray,
                   weights: np.ndarray, agg_configs: tuple[dict, ...], ctx: Context,
                   dtype: str = "uint16") -> tuple[np.ndarray, np.ndarray]:
    """Ranks of every aggregate node for a chunk of runs, as unsigned integers (0 = no rank), and per run why it
    failed ('' when it did not). Runs sharing data and aggregation settings are evaluated together; when such a
    group fails, its runs are tried one by one, since their weights may decide it."""
    c = ctx.compiled
    n_agg = len(c.nodes) - c.n_leaves
    out = np.zeros((len(data_key), leaves.shape[1], n_agg), dtype=dtype)
    errors = np.full(len(data_key), "", dtype=object)

    def ranked(k: int, g: int, w: np.ndarray) -> np.ndarray:
        # a level whose weights no run changes is aggregated once for all of them
        matrices = tuple(m[0] if m.ndim == 3 and np.all(m == m[0]) else m for m in c.matrices_for(w))
        scores = _aggregate_runs(leaves[k][None], matrices, agg_configs[g], ctx)
        if dropped[k].any():
            scores = np.where(dropped[k][None, :, None], np.nan, scores)
        placed = ranks(scores)
        placed[np.isnan(placed)] = 0  # no rank; in place, since ranks are never infinite
        return placed.astype(dtype)

    pairs = np.unique(np.stack([data_key, agg_key], axis=1), axis=0)
    for k, g in pairs:
        sel = np.flatnonzero((data_key == k) & (agg_key == g))
        w = weights[sel]
        same = bool(np.all(w == w[0]))
        try:
            out[sel] = ranked(k, g, w[0] if same else w)
            continue
        except InputError as err:
            if same:
                errors[sel] = failure_reason(err)
                continue
        for r, wr in zip(sel, w):
            try:
                out[r] = ranked(k, g, wr)[0]
            except InputError as err:
                errors[r] = failure_reason(err)
    return out, errors


def failure_reason(err: InputError) -> str:
    """What a method said when a run failed, without its step prefix."""
    return "; ".join(p.message.removeprefix("aggregate: ") for p in err.problems)


def _first_level(params: dict, c) -> dict:
    """The parameters for the leaves and the first level alone: a per-node `reference` cut to those nodes."""
    ref = params.get("reference")
    if isinstance(ref, np.ndarray):
        return {**params, "reference": ref[:c.n_leaves + c.matrices[0].shape[-1]]}
    return params


def first_level_failures(plan: Plan, leaves: np.ndarray, runs: Runs) -> dict[tuple[int, int], str]:
    """The (data configuration, aggregation configuration) pairs whose first level of aggregation fails, with the
    reason. That level sees the configuration's leaves alone, whatever the weights, so every run of such a pair
    fails: a check over the distinct configurations, before any run is evaluated."""
    c = plan.ctx.compiled
    out = {}
    for k, g in np.unique(np.stack([runs.data_key, runs.agg_key], axis=1), axis=0):
        config = runs.agg_configs[g]
        chosen = level_methods(c, config["method"], config.get("by_level"), config.get("by_node"))
        try:
            aggregate_levels(leaves[k][None], c.matrices[:1], chosen[:1], **_first_level(method_params(c, config), c))
        except InputError as err:
            out[(int(k), int(g))] = failure_reason(err)
    return out


# --- running the chunks -------------------------------------------------------------------------------------------

@dataclass
class _Work:
    """The chunks of runs to evaluate, and where their ranks go: the independent runs (design rows below
    `counted`) to the tally, and with `target` (Sobol indices, kept runs) every run's rank of the target node."""

    leaves: np.ndarray
    dropped: np.ndarray
    runs: Runs  # in evaluation order
    ctx: Context
    tally: RankTally
    order: np.ndarray  # evaluation position → design row
    counted: int
    target: np.ndarray | None = None  # (runs, units) the target aggregate's ranks, design order
    target_column: int = 0
    chunks: list[slice] = field(default_factory=list)
    errors: np.ndarray = field(init=False)  # (runs,) why each run failed, '' when it did not; design order

    def __post_init__(self) -> None:
        self.errors = np.full(len(self.order), "", dtype=object)

    @property
    def target_node(self) -> int | None:
        """The aggregate column whose every run's ranks are kept (`target`), None when none are."""
        return self.target_column if self.target is not None else None

    def piece(self, sl: slice) -> tuple:
        """The chunk `sl` as `tally_chunks` takes it: data keys, aggregation keys, weights, which runs count."""
        r = self.runs
        return r.data_key[sl], r.agg_key[sl], r.weights[sl], self.order[sl] < self.counted

    def record(self, rows: np.ndarray, counted: np.ndarray | RankTally, targets: np.ndarray | None,
               errors: np.ndarray) -> None:
        """What `tally_chunks` gave for the design rows `rows`: their errors, their target ranks, and their
        counted runs' ranks (or a part of the histograms holding them) into the tally."""
        self.errors[rows] = errors
        if targets is not None:
            self.target[rows] = targets
        if isinstance(counted, RankTally):
            self.tally.merge(counted)
        elif len(counted):
            self.tally.add(rows[rows < self.counted], counted)


def _chunks(n_runs: int, units: int, nodes: int, chunk_runs: int) -> list[slice]:
    per_run = max(1, units * nodes * 8 * 4)
    size = max(1, min(chunk_runs, _CHUNK_BYTES // per_run))
    return [slice(lo, min(lo + size, n_runs)) for lo in range(0, n_runs, size)]


def _progress(progress: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("uncertainty runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True, disable=not progress)


def tally_chunks(leaves: np.ndarray, dropped: np.ndarray, chunks: list[tuple], agg_configs: tuple[dict, ...],
                 ctx: Context, layout: tuple | None, dtype: str, target_column: int | None
                 ) -> tuple[np.ndarray | RankTally, np.ndarray | None, np.ndarray]:
    """`evaluate_chunk` over `chunks` (data key, aggregation key, weights, counted mask) in turn. Returns the
    counted runs' ranks in order, or with a histogram `layout` (`RankTally.layout_for`) those runs added into a
    part of the histograms; every run's ranks of the target node (None without a target); every run's errors.
    What a Dask worker runs: with histograms its ranks never cross the network, only its part does."""
    part = RankTally.part_of(layout) if layout is not None else None
    counted_ranks, targets, errors = [], [], []
    for data_key, agg_key, weights, counted in chunks:
        ranked, failed = evaluate_chunk(leaves, dropped, data_key, agg_key, weights, agg_configs, ctx, dtype)
        if part is not None:
            part.add(np.arange(int(counted.sum())), ranked[counted])
        else:
            counted_ranks.append(ranked[counted])
        errors.append(failed)
        if target_column is not None:
            targets.append(ranked[:, :, target_column])
    return (part if part is not None else np.concatenate(counted_ranks),
            np.concatenate(targets) if target_column is not None else None, np.concatenate(errors))


def _run_numpy(work: _Work, progress: bool) -> None:
    with _progress(progress) as bar:
        task = bar.add_task("runs", total=len(work.order))
        for sl in work.chunks:
            work.record(work.order[sl], *tally_chunks(work.leaves, work.dropped, [work.piece(sl)],
                                                      work.runs.agg_configs, work.ctx, None, work.tally.dtype,
                                                      work.target_node))
            bar.advance(task, sl.stop - sl.start)


CLIENT_ADD_SHARE = 0.4
"""What adding a run's ranks into histograms costs the client, as a share of what evaluating the run costs a worker
(0.29 s against 0.70 s for 100,000 units, bench/bench_streaming.py): beyond 1 / 0.4 workers the client would be
what bounds a cluster, so the workers add their own runs instead."""


def _run_dask(work: _Work, backend: Backend, progress: bool) -> None:
    """The chunks as Dask tasks: on the scheduler `backend.scheduler`, or on a local cluster of `backend.workers`
    worker processes started (and stopped) here. Each task tallies its runs (`tally_chunks`) and the client
    merges its part. A task is one chunk, whose ranks come back as they are; but on a cluster large enough for the
    client's adding to bound it (`CLIENT_ADD_SHARE`), when a worker's share of the runs has more ranks than the
    histograms have counts, each worker gets one task of consecutive chunks and sends back histograms, so the
    client adds once per worker instead of once per run."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if backend.scheduler:
        client = Client(backend.scheduler)
    else:
        cluster = LocalCluster(n_workers=backend.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        r = work.runs
        leaves, dropped, ctx = client.scatter([work.leaves, work.dropped, work.ctx], broadcast=True)
        workers = max(1, sum(client.nthreads().values()))
        groups = [[sl] for sl in work.chunks]
        if workers * CLIENT_ADD_SHARE > 1 and work.tally.layout_for(-(-work.counted // workers)) is not None:
            groups = [work.chunks[sl] for sl in blocks(len(work.chunks), workers) if work.chunks[sl]]
        futures, rows_of = [], {}
        for group in groups:
            rows = np.concatenate([work.order[sl] for sl in group])
            layout = work.tally.layout_for(int((rows < work.counted).sum()))
            fut = client.submit(tally_chunks, leaves, dropped, [work.piece(sl) for sl in group], r.agg_configs, ctx,
                                layout, work.tally.dtype, work.target_node, pure=False)
            futures.append(fut)
            rows_of[fut.key] = rows
        with _progress(progress) as bar:
            task = bar.add_task("runs", total=r.data_key.shape[0])
            for fut in as_completed(futures):
                rows = rows_of[fut.key]
                work.record(rows, *fut.result())
                fut.release()
                bar.advance(task, len(rows))
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


def rank_intervals(ctx: Context, nominal: np.ndarray, tally: RankTally, leaf_ranks: np.ndarray,
                   leaf_counts: np.ndarray) -> pd.DataFrame:
    """city, node, nominal_rank, median_rank, mean_rank, p05, p95 for every node: the leaves' from their ranks in
    each data configuration (weighted by its runs), the aggregates' from the tally."""
    c = ctx.compiled
    L = c.n_leaves
    med, mean, p05, p95 = (np.empty(nominal.shape) for _ in range(4))  # (units, nodes)
    lm = _weighted_quantiles(leaf_ranks, leaf_counts, (0.5, 0.05, 0.95))
    med[:, :L], p05[:, :L], p95[:, :L] = lm
    w = np.where(np.isnan(leaf_ranks), 0, leaf_counts[:, None, None])
    with np.errstate(all="ignore"):
        mean[:, :L] = np.nansum(leaf_ranks * w, axis=0) / w.sum(axis=0)
    med[:, L:], mean[:, L:], p05[:, L:], p95[:, L:] = tally.intervals()
    units, nodes = nominal.shape
    unit, node = np.repeat(np.arange(units), nodes), np.tile(np.arange(nodes), units)
    # the top node first, then by nominal rank (unranked last), then by city id: sorted on numbers, the ids once
    keep = np.flatnonzero(~(np.isnan(nominal) & np.isnan(med)).ravel())
    ranked = np.where(np.isnan(nominal), units + 1, nominal).astype(np.int64).ravel()  # 1 … n, unranked after
    rows = keep[lex_order((nodes - 1 - node[keep], nodes), (ranked[keep], units + 2),
                          (sort_places(ctx.units)[unit[keep]], units))]
    frame = pd.DataFrame({
        "city": labels(ctx.units, unit[rows]), "node": labels(c.nodes, node[rows]),
        "nominal_rank": nominal.ravel()[rows], "median_rank": med.ravel()[rows], "mean_rank": mean.ravel()[rows],
        "p05": p05.ravel()[rows], "p95": p95.ravel()[rows],
    })
    frame["nominal_rank"] = frame["nominal_rank"].astype("Int64")  # whole places; empty where unranked
    return frame


def movement(intervals: pd.DataFrame, moves: tuple[int, ...] = MOVES) -> pd.DataFrame:
    """Per node, the share of cities whose median rank is more than k places from their nominal rank."""
    ranked = intervals["nominal_rank"].notna().to_numpy() & intervals["median_rank"].notna().to_numpy()
    shift = np.abs(intervals["median_rank"].to_numpy(dtype=float)[ranked]
                   - intervals["nominal_rank"].to_numpy(dtype=float)[ranked])
    node, nodes = pd.factorize(intervals["node"][ranked])  # nodes in the order they first come
    cities = np.bincount(node, minlength=len(nodes))
    return pd.DataFrame({"node": nodes, **{f"moved_gt_{k}": np.bincount(node, weights=shift > k,
                                                                        minlength=len(nodes)) / cities
                                          for k in moves}})


SENSITIVITY_COLUMNS = ["factor", "node", "city", "S1", "S1_conf", "ST", "ST_conf"]
CONVERGENCE_COLUMNS = ["factor", "node", "S1_half", "S1_full", "ST_half", "ST_full", "ST_change", "converged"]


def _sensitivity(plan: Plan, n: int, k: int, target_ranks: np.ndarray, nominal: np.ndarray, unc: Uncertainty,
                 units: tuple[str, ...], varied: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sobol indices of the factors, from the target's ranks in a Saltelli design of n base samples; NaN for the
    factors that are not `varied` between its A and AB blocks (nothing to estimate from)."""
    kept = np.flatnonzero(~np.isnan(nominal))
    seed = int(np.random.SeedSequence(unc.seed).generate_state(1)[0])
    with warnings.catch_warnings():  # few base samples (many failed runs) give resamples without variance
        warnings.simplefilter("ignore", RuntimeWarning)
        shift = np.nanmean(np.abs(target_ranks - nominal[None, :]), axis=1)
        y = np.column_stack([shift, target_ranks[:, kept]])
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
    unvaried = ~np.asarray(varied)
    frame.loc[np.repeat(unvaried, len(cities)), ["S1", "S1_conf", "ST", "ST_conf"]] = np.nan
    conv.loc[unvaried, ["S1_half", "S1_full", "ST_half", "ST_full", "ST_change"]] = np.nan
    conv.loc[unvaried, "converged"] = False
    return frame, conv


# --- failed runs ------------------------------------------------------------------------------------------------

def failures(plan: Plan, choices: np.ndarray, errors: np.ndarray) -> list[tuple[dict[int, int], int, str]]:
    """The failing configurations: (factor → option of the step factors that decide it, runs, first reason).

    A failing run's configuration is shortened, one factor at a time, while every run that matches the shorter
    configuration still fails; so `aggregation = geometric` stands alone when geometric fails whatever the other
    factors chose, and `normalisation = zscore` joins it when only that pairing fails."""
    step_factors = [g for g, f in enumerate(plan.factors) if f.kind == "step"]
    failed = errors != ""
    chosen = choices[:, step_factors]
    distinct, first, counts = np.unique(chosen[failed], axis=0, return_index=True, return_counts=True)
    found: dict[tuple, list] = {}
    for row, r, count in zip(distinct, np.flatnonzero(failed)[first], counts):
        config = dict(zip(step_factors, map(int, row)))
        for g in step_factors:
            shorter = {h: o for h, o in config.items() if h != g}
            match = np.all([choices[:, h] == o for h, o in shorter.items()] or [np.ones(len(errors), bool)], axis=0)
            if failed[match].all():
                config = shorter
        key = tuple(sorted(config.items()))
        found.setdefault(key, [dict(key), 0, str(errors[r])])[1] += int(count)
    return [tuple(v) for v in sorted(found.values(), key=lambda v: -v[1])]


def _labelled(plan: Plan, config: dict[int, int]) -> dict[str, str]:
    return {plan.factors[g].name: option_label(plan.factors[g].options[o]) for g, o in config.items()}


def _failed_runs_error(plan: Plan, found, total: int, where: Where) -> InputError:
    """Failed runs as problems at the spec line of the option that decides them (an aggregation option first)."""
    problems = []
    for config, count, reason in found:
        line = where.line("uncertainty", "factors")
        on_aggregate = sorted(config, key=lambda g: plan.factors[g].step != plan.agg_step)
        if on_aggregate:
            g = on_aggregate[0]
            line = where.option_line(plan.factors[g], config[g])
        problems.append(Problem(where.file, f"uncertainty: {describe(_labelled(plan, config))} in {count:,} "
                                f"of {total:,} runs: {reason}, or add failed_runs: allow to the uncertainty block",
                                line))
    return InputError(problems)


# --- the analysis -----------------------------------------------------------------------------------------------

def analyse(X: np.ndarray, ctx: Context, steps: list[Step], uncertainty: Uncertainty, backend: Backend,
            progress: bool = False, where: Where = Where(), keep_runs: bool = False) -> UncertaintyResult:
    """Run the spec's uncertainty design over the raw data X (units, indicators) and summarise it. Runs that
    fail are an error naming the factor options at fault, unless the spec says `failed_runs: allow`; then the
    summaries use the runs that succeeded. `keep_runs` keeps the target's rank in every independent run."""
    started = time.perf_counter()
    plan = Plan.resolve(ctx, steps, uncertainty, where)
    nominal = run_pipeline(X, ctx, list(steps)).ranks[0]  # (units, nodes)
    design = plan.design(uncertainty)
    runs = plan.decode(design.u)
    leaves, dropped, step_weights = plan.data_arrays(X, runs)
    if step_weights is not None:
        runs = runs.set_by_step(step_weights, np.array([cfg["weights"] == "framework" for cfg in runs.agg_configs]))
    allow = uncertainty.failed_runs == "allow"
    if not allow and (doomed := first_level_failures(plan, leaves, runs)):
        errors = np.full(design.runs, "", dtype=object)
        for (k, g), reason in doomed.items():
            errors[(runs.data_key == k) & (runs.agg_key == g)] = reason
        raise _failed_runs_error(plan, failures(plan, runs.choices, errors), design.runs, where)
    c = ctx.compiled
    units = len(ctx.units)
    n_agg = len(c.nodes) - c.n_leaves
    independent = 2 * design.n if design.kind == "sobol" else design.runs  # the runs the intervals count
    tally = RankTally.within(independent, units, n_agg, backend.rank_memory_mb * 2**20)
    t = c.nodes.index(plan.target)
    per_run_target = t >= c.n_leaves and (design.kind == "sobol" or keep_runs)
    # runs are evaluated grouped by configuration, so a chunk holds few groups and the levels their runs share
    # are aggregated once per chunk; results go back into design order
    order = np.lexsort((runs.agg_key, runs.data_key))
    grouped = runs.ordered(order)
    work = _Work(leaves, dropped, grouped, ctx, tally, order, independent,
                 np.zeros((design.runs, units), tally.dtype) if per_run_target else None, t - c.n_leaves,
                 _chunks(design.runs, units, max(n_agg, 1), backend.chunk_runs))
    if backend.name == "dask":
        _run_dask(work, backend, progress)
    else:
        _run_numpy(work, progress)
    ok = work.errors == ""
    found = failures(plan, runs.choices, work.errors)
    if found and (not allow or not ok.any()):
        raise _failed_runs_error(plan, found, design.runs, where)
    leaf_ranks = ranks(np.where(dropped[:, :, None], np.nan, leaves))  # (K, units, leaves)

    used = np.flatnonzero(ok[:independent])
    counts = np.bincount(runs.data_key[used], minlength=leaves.shape[0])
    intervals = rank_intervals(ctx, nominal, tally, leaf_ranks, counts)

    if t < c.n_leaves:
        target_ranks = leaf_ranks[runs.data_key][:, :, t]
    elif per_run_target:
        target_ranks = work.target.astype(float)
        target_ranks[target_ranks == 0] = np.nan
    kept_runs = None
    if keep_runs:
        kept_runs = np.array(target_ranks[:independent], dtype=float)
        kept_runs[~ok[:independent]] = np.nan
    samples = design.complete(ok) if design.kind == "sobol" else np.arange(0)
    unvaried: tuple[str, ...] = ()
    if len(samples) >= 2:
        rows = design.rows(samples)
        chosen = runs.choices[rows].reshape(design.k + 2, len(samples), -1)
        varied = np.array([f.kind == "noise" or bool((chosen[2 + g, :, g] != chosen[0, :, g]).any())
                           for g, f in enumerate(plan.factors)])
        unvaried = tuple(f.name for f, v in zip(plan.factors, varied) if not v)
        sens, conv = _sensitivity(plan, len(samples), design.k, target_ranks[rows], nominal[:, t], uncertainty,
                                  ctx.units, varied)
    else:
        sens, conv = pd.DataFrame(columns=SENSITIVITY_COLUMNS), pd.DataFrame(columns=CONVERGENCE_COLUMNS)
    table = pd.DataFrame([(_labelled(plan, config), count, reason) for config, count, reason in found],
                         columns=FAILURE_COLUMNS)
    return UncertaintyResult(intervals, movement(intervals), sens, conv, design.runs,
                             time.perf_counter() - started, plan.target, design.kind, int((~ok).sum()), table,
                             len(samples), design.n if design.kind == "sobol" else 0, unvaried, kept_runs,
                             tally.width)


def with_runs(uncertainty: Uncertainty, runs: int, design: str | None = None) -> Uncertainty:
    """The same uncertainty set-up with another sample size (and design)."""
    return uncertainty.model_copy(update={"runs": runs, **({"design": design} if design else {})})


