"""What-if from the published model alone: re-weight and re-aggregate, best and worst ranks over all domain
weightings, and a new or changed city scored under the build's frozen normalisation.

The `model` document holds the exact input the aggregate step saw (the normalised leaves of every city), the
framework's shape, weights and methods, and — per data step — the parameters that map a raw value to what the next
step sees (`frozen`). Everything here computes from that document alone, so the API can answer from the published
files and the browser's script can recompute the same numbers. Aggregation and ranking reuse the engine's own
functions, so a what-if equals a build with the same weights.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..engine.aggregate import aggregate_levels, level_methods, method_params
from ..engine.grade import ranks
from ..engine.impute import NO_GROUP, group_labels
from ..engine.pipeline import weights_used
from ..errors import InputError, Problem, did_you_mean, one_of
from ..model.framework import CompiledFramework

RANK_RANGE_SAMPLES = 4096  # domain weightings sampled for best and worst ranks (plus the simplex's corners)
TOLERANCE = 1e-12  # a frozen step must reproduce the build's stage to this (relative) precision


class Scores(NamedTuple):
    """Scores and ranks of every node: arrays (cities, nodes), NaN where a city has no score."""

    scores: np.ndarray
    ranks: np.ndarray


# --- the model document -------------------------------------------------------------------------------------------

def model_document(result) -> dict[str, Any]:
    """The what-if model of a build: framework shape, the weights and methods the build aggregated with, the
    leaves the aggregate step saw, every city's raw values and the frozen form of each data step."""
    ctx = result.context
    c = ctx.compiled
    agg = next(s for s in result.steps if s.step == "aggregate").params
    weights = weights_used(ctx, agg, result.stages.weighting)[0]
    chosen = level_methods(c, str(agg.get("method", "arithmetic")), agg.get("by_level"), agg.get("by_node"))
    index = {n: j for j, n in enumerate(c.nodes)}
    fw = ctx.framework
    data = result.stages.data
    leaves = data[list(data)[-1]][0]  # the aggregate step's input: the last data stage
    return {
        "indicators": list(ctx.indicators),
        "nodes": list(c.nodes),
        "names": [fw.by_id[n].name for n in c.nodes],
        "parent": [index[fw.by_id[n].parent] if fw.by_id[n].parent is not None else -1 for n in c.nodes],
        "level": [int(v) for v in c.levels],
        "weights": [float(w) for w in weights],
        "methods": [None] * c.n_leaves + [m for level in chosen for m in level],
        "min_share": float(agg.get("min_share", 0.0)),
        "params": {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in method_params(c, agg).items()},
        "cities": list(ctx.units),
        "leaves": _matrix(leaves),
        "raw": _matrix(data["raw"][0]),
        "frozen": frozen_document(result),
    }


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in values]


def _array(rows) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float).reshape(len(rows), -1)


_PREPARED: dict[int, tuple[dict, dict]] = {}  # id -> (model, its arrays): a few models at most


def _prepared(model: dict) -> dict:
    """The arrays of a model document (read as immutable), made once per document. Why: a server answers many
    what-ifs from one model, and turning its lists into arrays costs more than the arithmetic."""
    held = _PREPARED.get(id(model))
    if held is not None and held[0] is model:
        return held[1]
    arrays = {"compiled": _compiled(model), "leaves": _array(model["leaves"])}
    if "raw" in model:
        arrays["raw"] = _array(model["raw"])
    if len(_PREPARED) >= 8:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[id(model)] = (model, arrays)
    return arrays


def _compiled(model: dict) -> CompiledFramework:
    """The engine's compiled framework rebuilt from the model (links from the parent of every node)."""
    levels = np.array(model["level"])
    parent = np.array(model["parent"])
    slices = tuple(slice(int(np.flatnonzero(levels == lev)[0]), int(np.flatnonzero(levels == lev)[-1]) + 1)
                   for lev in range(1, int(levels.max()) + 1))
    links = tuple((parent[child][:, None] == np.arange(up.start, up.stop)[None, :])
                  for child, up in zip(slices, slices[1:]))
    weights = np.array(model["weights"], dtype=float)
    shell = CompiledFramework(tuple(model["nodes"]), levels, np.ones(slices[0].stop), weights, slices, (), links)
    return CompiledFramework(shell.nodes, levels, shell.direction, weights, slices, shell.matrices_for(weights),
                             links)


# --- re-weighting --------------------------------------------------------------------------------------------------

AGGREGATIONS = ("arithmetic", "geometric")


def what_if_weights(model: dict, weights: dict[str, float] | None) -> np.ndarray:
    """The weight of every node: the model's, with those `weights` names replaced (relative within each parent).
    Unknown nodes, negative or non-finite weights and a parent whose children all weigh 0 are errors."""
    nodes = model["nodes"]
    position = {n: j for j, n in enumerate(nodes)}
    out = np.array(model["weights"], dtype=float)
    problems = []
    for node, w in (weights or {}).items():
        if node not in position:
            problems.append(Problem("request", f"weights: unknown node {node!r}{did_you_mean(node, nodes)}",
                                    column=f"weights.{node}"))
        elif not isinstance(w, (int, float)) or isinstance(w, bool) or not np.isfinite(w) or w < 0:
            problems.append(Problem("request", f"weights: {node}: {w!r} must be a number zero or above",
                                    column=f"weights.{node}"))
        else:
            out[position[node]] = float(w)
    if problems:
        raise InputError(problems)
    parent = np.array(model["parent"])
    for p in np.unique(parent[parent >= 0]):
        with np.errstate(over="ignore"):
            total = out[parent == p].sum()
        if not total > 0:
            raise InputError.single("request", f"weights: every child of {nodes[p]!r} has weight 0; at least one "
                                    "must be above 0", column="weights")
        if not np.isfinite(total):
            raise InputError.single("request", f"weights: the weights of the children of {nodes[p]!r} add up to "
                                    "more than a number can hold; use smaller weights", column="weights")
    return out


def chosen_methods(model: dict, aggregation: str | None) -> list[list[str]]:
    """Per level, the method of each parent: the build's, or `aggregation` everywhere."""
    c = _prepared(model)["compiled"]
    if aggregation is None:
        names = model["methods"]
        return [names[sl] for sl in c.level_slices[1:]]
    if aggregation not in AGGREGATIONS:
        raise InputError([Problem("request", "aggregation " + one_of(aggregation, AGGREGATIONS),
                                  column="aggregation")])
    return level_methods(c, aggregation)


def recompute(model: dict, weights: dict[str, float] | None = None, aggregation: str | None = None) -> Scores:
    """Scores and ranks of every node with some weights replaced and (optionally) one aggregation method for all
    levels: equal to a build of the same spec with `aggregate: {method: aggregation, weights: weights}`."""
    arrays = _prepared(model)
    w = what_if_weights(model, weights)
    scores = _aggregate(arrays["leaves"], arrays["compiled"], w, chosen_methods(model, aggregation), model)
    return Scores(scores, ranks(scores[None])[0])


def _params(model: dict) -> dict:
    """The build's aggregator parameters as the model document carries them (a per-node reference as an array)."""
    params = dict(model.get("params", {}))
    if isinstance(params.get("reference"), list):
        params["reference"] = np.array(params["reference"], dtype=float)
    return params


def _aggregate(leaves: np.ndarray, c: CompiledFramework, weights: np.ndarray, chosen, model: dict) -> np.ndarray:
    try:
        scores = aggregate_levels(leaves[None], c.matrices_for(weights), chosen, min_share=model["min_share"],
                                  **_params(model))[0]
    except InputError as err:  # the engine's own wording, about the request's aggregation
        raise InputError([Problem("request", p.message, column="aggregation") for p in err.problems]) from None
    return np.where(np.all(np.isnan(leaves), axis=1)[:, None], np.nan, scores)


# --- best and worst ranks over every domain weighting ----------------------------------------------------------

def domain_weightings(k: int, samples: int = RANK_RANGE_SAMPLES, seed: int = 0) -> np.ndarray:
    """`samples` weight vectors spread evenly over the simplex of k weights, then its k corners and its centre.
    The points are a randomly shifted Kronecker sequence (frac(shift + n·α), α the powers of 1/φ_k, φ_k the root
    of x^(k+1) = x + 1: the generalised golden ratio, whose points fill the cube as evenly as a Sobol sequence's),
    taken to the simplex through the exponential map, which makes uniform points uniform on the simplex. Why not
    scipy's Sobol: importing scipy.stats costs 0.9 s, more than every other document of a published site."""
    phi = 2.0
    for _ in range(60):  # fixed-point iteration, converging to φ_k in far fewer steps
        phi = (1 + phi) ** (1 / (k + 1))
    alpha = (1 / phi) ** np.arange(1, k + 1)
    shift = np.random.default_rng(seed).random(k)
    u = np.mod(shift + np.arange(1, samples + 1)[:, None] * alpha, 1.0)
    e = -np.log1p(-u)  # exponential variates: normalised, they are uniform on the simplex
    inner = e / e.sum(axis=1, keepdims=True)
    return np.vstack([inner, np.eye(k), np.full((1, k), 1 / k)])


def best_worst_ranks(model: dict, samples: int = RANK_RANGE_SAMPLES, seed: int = 0) -> tuple[np.ndarray,
                                                                                                np.ndarray]:
    """Each city's best and worst rank of the top node over `domain_weightings`: the domains' scores stay as
    built, the top node re-aggregates them with its own method under every weighting. NaN for unscored cities.
    Why: free weights can be gamed; the range shows how far a city's place depends on them."""
    built = recompute(model).scores
    top = len(model["nodes"]) - 1
    domains = np.flatnonzero(np.array(model["parent"]) == top)
    Y = built[:, domains][None]
    params = _params(model)
    if isinstance(params.get("reference"), np.ndarray):  # the domains and the top node alone
        params["reference"] = np.append(params["reference"][domains], params["reference"][top])
    W = domain_weightings(len(domains), samples, seed)[:, :, None]  # (weightings, domains, 1)
    method = [[model["methods"][top]]]
    best = np.full(Y.shape[1], np.inf)
    worst = np.full(Y.shape[1], -np.inf)
    block = max(1, 2_000_000 // max(1, Y.shape[1] * (len(domains) + 1)))
    for start in range(0, len(W), block):
        s = aggregate_levels(Y, [W[start:start + block]], method, min_share=model["min_share"], **params)[..., -1]
        r = ranks(s)
        best = np.fmin(best, np.nanmin(np.where(np.isnan(r), np.inf, r), axis=0))
        worst = np.fmax(worst, np.nanmax(np.where(np.isnan(r), -np.inf, r), axis=0))
    unscored = np.isnan(built[:, top])
    return np.where(unscored | np.isinf(best), np.nan, best), np.where(unscored | np.isinf(worst), np.nan, worst)


# --- frozen normalisation -------------------------------------------------------------------------------------------

def frozen_document(result) -> dict[str, Any]:
    """Per data step, the parameters that map what the step received to what it gave, derived from the build's
    stages and checked: each frozen step applied to every city's input reproduces the build's stage. A step that
    has no frozen form (or fails the check) is recorded with the reason, and scoring names it."""
    ctx = result.context
    stages = result.stages
    names = list(stages.data)
    steps = [s for s in result.steps if s.step not in ("weight", "aggregate")]
    out: dict[str, Any] = {"measured": [bool(v) for v in stages.kept["raw"].indicators[0]], "steps": []}
    for name, step in zip(names[1:], steps):
        before = stages.data[names[names.index(name) - 1]][0]
        after = stages.data[name][0]
        kept = stages.kept[name]
        freezer = FREEZERS.get((step.step, step.method)) or FREEZERS.get((step.step, "*"))
        entry: dict[str, Any] = {"step": step.step, "method": step.method}
        if freezer is None:
            entry["reason"] = f"{step.step}: method {step.method!r} has no frozen form"
        else:
            entry.update(freezer(before, after, ctx, step.params))
            entry["kept"] = [bool(v) for v in kept.indicators[0]]
            if reason := _check_frozen(entry, before, after, kept.units[0], ctx, out):
                entry = {"step": step.step, "method": step.method, "reason": reason}
        out["steps"].append(entry)
    return out


def _check_frozen(entry: dict, before: np.ndarray, after: np.ndarray, units: np.ndarray, ctx, doc: dict) -> str:
    """'' when the frozen step maps every kept city's input to its stage value, else why not."""
    extra = _context_of(entry, ctx, doc)
    mapped, dropped = apply_step(entry, before, before, extra)
    if np.any(dropped[units]) or not np.all(dropped[~units] | np.all(np.isnan(after[~units]), axis=1)):
        return f"{entry['step']}: the frozen rule does not keep the cities the build kept"
    a, b = mapped[units], after[units]
    same = (np.isnan(a) == np.isnan(b)) & (np.isnan(a) | (np.abs(a - b) <= TOLERANCE * np.maximum(1, np.abs(b))))
    if not same.all():
        return f"{entry['step']}: method {entry['method']!r} gives values no frozen form reproduces"
    return ""


def _context_of(entry: dict, ctx, doc: dict) -> dict:
    """What a frozen step reads besides the values (denominators, a group column), stored once in the model."""
    extra = {}
    if entry.get("denominator"):
        names = sorted({d for d in entry["denominator"] if d})
        for d in names:
            doc.setdefault("denominators", {})[d] = [None if np.isnan(v) else float(v) for v in ctx.denominators[d]]
        extra["denominators"] = {d: np.asarray(ctx.denominators[d], dtype=float) for d in names}
    if entry.get("group"):
        labels = list(group_labels(ctx, entry["group"]))
        doc.setdefault("groups", {})[entry["group"]] = labels
        extra["group"] = np.array(labels, dtype=object)
    return extra


def _column(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in np.ravel(values)]


def _nan_stat(fn, X: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(X, axis=0)


def _freeze_identity(before, after, ctx, params) -> dict:
    return {"kind": "identity"}


def _freeze_denominate(before, after, ctx, params) -> dict:
    return {"kind": "divide", "denominator": [ctx.framework.by_id[i].denominator for i in ctx.indicators],
            "scale": float(params.get("scale", 1.0))}


def _freeze_fill(stat):
    def freeze(before, after, ctx, params) -> dict:
        return {"kind": "fill", "fill": _column(_nan_stat(stat, before))}
    return freeze


def _freeze_group_fill(stat):
    def freeze(before, after, ctx, params) -> dict:
        labels = group_labels(ctx, params["group"])
        names = sorted(set(labels) - {NO_GROUP})  # a unit with no group is imputed nothing, as in the build
        return {"kind": "group-fill", "group": params["group"], "labels": names,
                "fill": [_column(_nan_stat(stat, before[labels == g])) for g in names]}
    return freeze


def _freeze_screen(before, after, ctx, params) -> dict:
    return {"kind": "screen", "min_coverage": float(params.get("min_coverage", 0.0)),
            "zeros_missing": bool(params.get("zeros_missing", False))}


def _freeze_treat(op: str, lam_key: str):
    """Per indicator: untouched, clipped to the bounds the build reached, or transformed by `op` (log, or Box-Cox
    with the step's lambda) with the build's minimum and maximum. Which one is read from the stages and checked
    by the caller."""
    def freeze(before, after, ctx, params) -> dict:
        ops, lower, upper = [], [], []
        for x, y in zip(before.T, after.T):
            present = ~np.isnan(x) & ~np.isnan(y)
            x, y = x[present], y[present]
            low = float(y.min()) if np.any(y > x) else None
            high = float(y.max()) if np.any(y < x) else None
            clipped = np.clip(x, -np.inf if low is None else low, np.inf if high is None else high)
            if np.array_equal(clipped, y):
                ops.append("none" if low is None and high is None else "clip"), lower.append(low), upper.append(high)
            else:
                ops.append(op), lower.append(float(x.min())), upper.append(float(x.max()))
        return {"kind": "transform", "op": ops, "lower": lower, "upper": upper,
                "lam": float(params.get(lam_key) or 0.0)}
    return freeze


def _direction(ctx) -> list[float]:
    return [float(d) for d in ctx.compiled.direction]


def _freeze_minmax(before, after, ctx, params) -> dict:
    Y = before * ctx.compiled.direction
    lo, hi = params.get("range", (0.0, 100.0))
    return {"kind": "minmax", "direction": _direction(ctx), "min": _column(_nan_stat(np.nanmin, Y)),
            "max": _column(_nan_stat(np.nanmax, Y)), "range": [float(lo), float(hi)]}


def _freeze_zscore(before, after, ctx, params) -> dict:
    Y = before * ctx.compiled.direction
    sd = _nan_stat(lambda a, axis: np.nanstd(a, axis=axis, ddof=1), Y)
    return {"kind": "zscore", "direction": _direction(ctx), "mean": _column(_nan_stat(np.nanmean, Y)),
            "sd": _column(sd), "to_mean": float(params.get("mean", 0.0)), "to_sd": float(params.get("sd", 1.0))}


def _freeze_distance_to_max(before, after, ctx, params) -> dict:
    Y = before * ctx.compiled.direction
    return {"kind": "distance-to-max", "direction": _direction(ctx), "min": _column(_nan_stat(np.nanmin, Y)),
            "max": _column(_nan_stat(np.nanmax, Y)), "scale": float(params.get("scale", 100.0))}


def _freeze_goalposts(before, after, ctx, params) -> dict:
    lo, hi = np.array([ctx.framework.by_id[i].goalposts for i in ctx.indicators], dtype=float).T
    return {"kind": "goalposts", "direction": _direction(ctx), "lower": _column(lo), "upper": _column(hi),
            "scale": float(params.get("scale", 100.0)), "truncate": bool(params.get("truncate", True))}


def _freeze_distance_to_target(before, after, ctx, params) -> dict:
    t = np.array([ctx.framework.by_id[i].target for i in ctx.indicators], dtype=float)
    return {"kind": "distance-to-target", "direction": _direction(ctx), "target": _column(t),
            "min": _column(_nan_stat(np.nanmin, before)), "max": _column(_nan_stat(np.nanmax, before)),
            "scale": float(params.get("scale", 100.0)), "cap": bool(params.get("cap", True))}


def _freeze_placing(kind: str):
    def freeze(before, after, ctx, params) -> dict:
        Y = before * ctx.compiled.direction
        return {"kind": kind, "direction": _direction(ctx),
                "values": [sorted(float(v) for v in col[~np.isnan(col)]) for col in Y.T]}
    return freeze


FREEZERS = {
    ("denominate", "by-framework"): _freeze_denominate,
    ("impute", "none"): _freeze_identity,
    ("impute", "mean"): _freeze_fill(np.nanmean),
    ("impute", "median"): _freeze_fill(np.nanmedian),
    ("impute", "group-mean"): _freeze_group_fill(np.nanmean),
    ("impute", "group-median"): _freeze_group_fill(np.nanmedian),
    ("screen", "coverage"): _freeze_screen,
    ("treat", "none"): _freeze_identity,
    ("treat", "winsorise"): lambda *a: _freeze_treat(a[3].get("fallback", "log"), "boxcox_lambda")(*a),
    ("treat", "boxcox"): _freeze_treat("boxcox", "lam"),
    ("normalise", "minmax"): _freeze_minmax,
    ("normalise", "zscore"): _freeze_zscore,
    ("normalise", "distance-to-max"): _freeze_distance_to_max,
    ("normalise", "goalposts"): _freeze_goalposts,
    ("normalise", "distance-to-target"): _freeze_distance_to_target,
    ("normalise", "rank"): _freeze_placing("rank"),
    ("normalise", "borda"): _freeze_placing("borda"),
    ("normalise", "percentile"): _freeze_placing("percentile"),
}


def apply_step(entry: dict, x: np.ndarray, own: np.ndarray, extra: dict) -> tuple[np.ndarray, np.ndarray]:
    """One frozen step over cities' values `x (cities, indicators)`: the values it gives and the cities it drops
    (screening). `own` is each city's value at this step in the build (NaN for a new city): a city is placed
    among the build's other cities, never against itself."""
    kind = entry["kind"]
    dropped = np.zeros(len(x), dtype=bool)
    with np.errstate(all="ignore"):
        if kind == "identity":
            y = x.copy()
        elif kind == "divide":
            y = x.copy()
            for j, name in enumerate(entry["denominator"]):
                if name:
                    y[:, j] = x[:, j] / extra["denominators"][name] * entry["scale"]
        elif kind == "fill":
            y = np.where(np.isnan(x), np.array(entry["fill"], dtype=float), x)
        elif kind == "group-fill":
            fills = {g: np.array(f, dtype=float) for g, f in zip(entry["labels"], entry["fill"])}
            nothing = np.full(x.shape[1], np.nan)
            labels = extra.get("group", [None] * len(x))  # (none needed where nothing is missing)
            rows = np.array([fills.get(g, nothing) for g in labels]).reshape(x.shape)
            y = np.where(np.isnan(x), rows, x)
        elif kind == "screen":
            present = ~np.isnan(x)
            if entry["zeros_missing"]:
                present &= x != 0
            dropped = ~(present.mean(axis=1) >= entry["min_coverage"] - 1e-12)
            y = x.copy()
        elif kind == "transform":
            y = _transform(entry, x)
        else:
            y = _normalise(entry, x, own)
    y[:, ~np.array(entry["kept"])] = np.nan
    y[dropped] = np.nan
    return y, dropped


def _values(entry: dict, key: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in entry[key]], dtype=float)


def _transform(entry: dict, x: np.ndarray) -> np.ndarray:
    y = x.copy()
    lower, upper = _values(entry, "lower"), _values(entry, "upper")
    for j, op in enumerate(entry["op"]):
        if op == "clip":
            y[:, j] = np.clip(x[:, j], -np.inf if np.isnan(lower[j]) else lower[j],
                              np.inf if np.isnan(upper[j]) else upper[j])
        elif op == "log":  # log(x − min + 0.01·(max − min)) with the build's min and max
            y[:, j] = np.log(x[:, j] - lower[j] + 0.01 * (upper[j] - lower[j]))
        elif op == "boxcox":
            shifted = x[:, j] - lower[j] + 1
            lam = entry["lam"]
            y[:, j] = np.log(shifted) if lam == 0 else (shifted**lam - 1) / lam
    return y


def _normalise(entry: dict, x: np.ndarray, own: np.ndarray) -> np.ndarray:
    kind, d = entry["kind"], np.array(entry["direction"])
    if kind == "minmax":
        lo, hi = entry["range"]
        mn, mx = _values(entry, "min"), _values(entry, "max")
        y = x * d
        y -= mn
        y /= mx - mn
        y *= hi - lo
        y += lo
        return y
    if kind == "zscore":
        return (x * d - _values(entry, "mean")) / _values(entry, "sd") * entry["to_sd"] + entry["to_mean"]
    if kind == "distance-to-max":
        mn, mx = _values(entry, "min"), _values(entry, "max")
        return (1 - (mx - x * d) / (mx - mn)) * entry["scale"]
    if kind == "goalposts":
        lo, hi = _values(entry, "lower"), _values(entry, "upper")
        y = np.where(d > 0, (x - lo) / (hi - lo), (hi - x) / (hi - lo))
        return (np.clip(y, 0, 1) if entry["truncate"] else y) * entry["scale"]
    if kind == "distance-to-target":
        t, mn, mx = _values(entry, "target"), _values(entry, "min"), _values(entry, "max")
        y = np.where(d > 0, (x - mn) / (t - mn), (mx - x) / (mx - t))
        return (np.minimum(y, 1) if entry["cap"] else y) * entry["scale"]
    return _placed(entry, x * d, own * d)


def _placed(entry: dict, y: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Rank, Borda or percentile of values among the build's values of the other cities (a city's own build
    value taken out): the rank is 1 + the number below, ties share the lowest; the percentile counts ties half."""
    out = np.full(y.shape, np.nan)
    for j, values in enumerate(entry["values"]):
        ref = np.asarray(values, dtype=float)
        v, o = y[:, j], own[:, j]
        below = np.searchsorted(ref, v, side="left") - (o < v)
        equal = np.searchsorted(ref, v, side="right") - np.searchsorted(ref, v, side="left") - (o == v)
        others = ref.size - (~np.isnan(o)).astype(int)
        if entry["kind"] == "rank":
            col = below + 1.0
        elif entry["kind"] == "borda":
            col = below + 1.0 - 1
        else:
            col = (below + equal / 2) / others
        out[:, j] = np.where(np.isnan(v), np.nan, col)
    return out


# --- scoring a new or changed city -----------------------------------------------------------------------------------

def score(model: dict, values: dict[str, float | None], city: str | None = None, *,
          groups: dict[str, str] | None = None, denominators: dict[str, float] | None = None,
          weights: dict[str, float] | None = None, aggregation: str | None = None) -> list[dict]:
    """Scores and ranks of every node for one city under the build's frozen steps: a new city from its raw
    indicator values (`values`, missing ones missing), or — with `city` — a city of the build with some of its
    raw values changed. A new city gives its group labels and denominators where a step needs them. Ranks place
    the city among the other cities as built (or as re-weighted with `weights`/`aggregation`).
    Rows: node, name, score, rank, ranked (how many cities the rank is among, the city included)."""
    indicators = model["indicators"]
    problems = [Problem("request", f"values: unknown indicator {k!r}{did_you_mean(k, indicators)}",
                        column=f"values.{k}") for k in values if k not in indicators]
    problems += [Problem("request", f"values: {k}: {v!r} must be a number or null", column=f"values.{k}")
                 for k, v in values.items() if k in indicators and v is not None
                 and (isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v))]
    if city is not None and city not in model["cities"]:
        problems.append(Problem("request", f"city {city!r} is not a city of this index"
                                f"{did_you_mean(city, model['cities'])}", column="city"))
    if problems:
        raise InputError(problems)
    at = model["cities"].index(city) if city is not None else None
    arrays = _prepared(model)
    original = arrays["raw"][at] if at is not None else np.full(len(indicators), np.nan)
    raw = original.copy()
    for k, v in values.items():
        raw[indicators.index(k)] = np.nan if v is None else float(v)
    leaves = frozen_leaves(model, raw, at, groups or {}, denominators or {})
    c = arrays["compiled"]
    w = what_if_weights(model, weights)
    chosen = chosen_methods(model, aggregation)
    if "copeland" in {m for level in chosen for m in level}:
        raise InputError.single("request", "score: the copeland aggregation compares every city with every other; "
                                "one city cannot be scored against frozen scores", column="aggregation")
    all_leaves = arrays["leaves"]
    built = _aggregate(all_leaves, c, w, chosen, model)
    # the city's row computed inside the whole matrix, as the build computed it (one product, same rounding)
    with_city = np.vstack([all_leaves, leaves[None]]) if at is None else np.where(
        (np.arange(len(all_leaves)) == at)[:, None], leaves[None], all_leaves)
    mine = _aggregate(with_city, c, w, chosen, model)[len(all_leaves) if at is None else at]
    if at is not None:
        built = np.delete(built, at, axis=0)
    if np.isinf(mine).any():
        raise InputError.single("request", "values: the values give scores beyond what a number can hold; give "
                                "values nearer the build's range", column="values")
    rows = []
    for j, node in enumerate(model["nodes"]):
        s = mine[j]
        theirs = built[:, j][~np.isnan(built[:, j])]
        rows.append({"node": node, "name": model["names"][j], "score": None if np.isnan(s) else float(s),
                     "rank": None if np.isnan(s) else int(1 + np.count_nonzero(theirs > s)),
                     "ranked": int(theirs.size + (not np.isnan(s)))})
    return rows


def frozen_leaves(model: dict, raw: np.ndarray, at: int | None, groups: dict, denominators: dict) -> np.ndarray:
    """One city's normalised leaves from its raw values, step by step under the frozen parameters. `at` is the
    city's row in the build (its own build values are then left out of any placing), None for a new city."""
    frozen = model["frozen"]
    x = raw.copy()[None]
    x[:, ~np.array(frozen["measured"])] = np.nan
    arrays = _prepared(model)
    own = arrays["raw"][at][None] if at is not None else np.full_like(x, np.nan)
    if np.all(np.isnan(x)):
        raise InputError.single("request", "values: the city has no indicator value at all; give at least one",
                                column="values")
    lost_at = np.full(x.shape[1], np.nan)  # the step at which a present value stopped being a number
    steps_seen: list[dict] = []
    for entry in frozen["steps"]:
        if "reason" in entry:
            raise InputError.single("request", f"score: step {entry['step']!r} (method {entry['method']!r}) has "
                                    f"no frozen form: {entry['reason']}", column="values")
        extra = _request_context(model, entry, x[0], at, groups, denominators)
        new_x, dropped = apply_step(entry, x, own, extra)
        if dropped[0]:
            share = np.count_nonzero(~np.isnan(x)) / x.shape[1]
            raise InputError.single("request", f"score: step 'screen' drops the city: it has values for "
                                    f"{share:.0%} of the indicators, and the build keeps cities with at least "
                                    f"{entry['min_coverage']:.0%}", column="values")
        if np.isinf(new_x).any():
            j = int(np.flatnonzero(np.isinf(new_x[0]))[0])
            raise out_of_range(model, entry, j, x[0, j])
        lost_at[np.isnan(lost_at) & ~np.isnan(x[0]) & np.isnan(new_x[0])] = len(steps_seen)
        steps_seen.append(entry)
        if at is not None:  # the city's own values as built, step by step, to leave out of any placing
            own = apply_step(entry, own, own, _request_context(model, entry, own[0], at, {}, {}))[0]
        x = new_x
    # a value the build's own cities keep as a number must stay one (a log of a value below the build's range
    # would not): only removed indicators and columns the build itself leaves empty may lose it
    built = arrays["leaves"]
    lost = ~np.isnan(lost_at) & np.isnan(x[0]) & ~np.all(np.isnan(built), axis=0)
    if at is not None:  # nor a value the build lost for this very city (a missing denominator)
        lost &= ~(np.isnan(built[at]) & ~np.isnan(arrays["raw"][at]))
    if lost.any():
        j = int(np.flatnonzero(lost)[0])
        raise out_of_range(model, steps_seen[int(lost_at[j])], j, raw[j])
    if np.all(np.isnan(x)):
        raise InputError.single("request", "score: no indicator value is left after the build's steps",
                                column="values")
    return x[0]


def out_of_range(model: dict, entry: dict, j: int, value: float) -> InputError:
    indicator = model["indicators"][j]
    return InputError.single("request", f"values: {indicator}: step {entry['step']!r} (method {entry['method']!r}) "
                             f"gives no number for {value:.6g} under the build's frozen parameters; give a value "
                             "nearer the build's range", column=f"values.{indicator}")


def _request_context(model: dict, entry: dict, x: np.ndarray, at: int | None, groups: dict,
                     denominators: dict) -> dict:
    """The denominators and group label a frozen step needs for one city's values `x`: the build's for a city of
    the build (unless the request gives others), the request's for a new city (only those its values need)."""
    extra = {}
    named = entry.get("denominator") or [None] * len(x)
    needed = sorted({d for d, v in zip(named, x) if d and not np.isnan(v)})
    if any(named):
        stored = model["frozen"].get("denominators", {})
        values = {d: np.array([np.nan]) for d in named if d}  # a missing value divided by anything stays missing
        for d in needed:
            v = denominators[d] if d in denominators else stored[d][at] if at is not None else None
            if v is None and at is None:
                raise InputError.single("request", f"denominators: {d!r} is needed (step 'denominate' divides "
                                        f"indicators by it); give denominators: {{{d!r}: number}}",
                                        column=f"denominators.{d}")
            values[d] = np.array([np.nan if v is None else float(v)])
        extra["denominators"] = values
    if entry.get("group") and np.isnan(x).any():
        g = entry["group"]
        label = groups[g] if g in groups else model["frozen"]["groups"][g][at] if at is not None else None
        if label is None:
            raise InputError.single("request", f"groups: {g!r} is needed (step 'impute' fills missing values "
                                    f"within it); give groups: {{{g!r}: one of {', '.join(entry['labels'])}}}",
                                    column=f"groups.{g}")
        if str(label) not in entry["labels"]:
            raise InputError.single("request", f"groups: {g}: " + one_of(str(label), entry["labels"]),
                                    column=f"groups.{g}")
        extra["group"] = np.array([str(label)], dtype=object)
    return extra

