"""Aggregate children into their parents, level by level, with weights rescaled within each parent.

Aggregators take the children's scores `Y (runs, units, children)` and a weight matrix `W` of shape
`(children, parents)` or `(runs, children, parents)` whose columns sum to 1, and return
`(runs, units, parents)`. Missing children are skipped and the remaining weights renormalised.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError, Problem, did_you_mean, one_of
from .context import Context
from .registry import methods, parameters, register


def _weighted(Y: np.ndarray, W: np.ndarray, f, f_inv) -> np.ndarray:
    """The weighted mean f_inv(sum w f(y) / sum w) over the children present. Where every child is present (as
    after imputation) each parent's sum of weights is the same for every unit, so the weights are rescaled before
    the one product: no second product, and no pass over the (often wide) result to divide it."""
    present = ~np.isnan(Y)
    with np.errstate(all="ignore"):
        if present.all():
            den = W.sum(axis=-2, keepdims=True)
            if np.all(den > 0):
                return f_inv(_product(f(Y), W / den))
            num = _product(f(Y), W)
        else:
            num = np.where(present, f(Y), 0.0) @ W
            den = present.astype(float) @ W
        return np.where(den > 0, f_inv(num / den), np.nan)


def _product(Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """`Y @ W`. One data set (`Y (1, units, children)`) is multiplied as `(Wᵀ Yᵀ)ᵀ`, so that the result holds
    each parent's units side by side in memory, the order ranking reads them in (a level of many runs' parents
    is then copied and ranked without a transposing pass); many runs' weights (`W (runs, children, parents)`)
    become one matrix product with every run's parents side by side, which BLAS does many times faster than a
    product per run."""
    if Y.shape[0] != 1:
        return Y @ W
    if W.ndim == 2:
        return (W.T @ Y[0].T).T[None]
    runs, children, parents = W.shape
    wide = W.transpose(0, 2, 1).reshape(runs * parents, children) @ Y[0].T  # (runs · parents, units)
    return wide.reshape(runs, parents, Y.shape[1]).transpose(0, 2, 1)


@register("aggregator", "arithmetic")
def arithmetic(Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted arithmetic mean: fully compensatory."""
    return _weighted(Y, W, lambda y: y, lambda m: m)


@register("aggregator", "geometric")
def geometric(Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted geometric mean: partly compensatory, rewards balance. Needs positive values."""
    if np.any(Y <= 0):
        raise InputError.single("spec", "aggregate: the geometric mean needs positive values, and some are 0 or "
                                f"below (lowest {np.nanmin(Y):.4g}; minmax with a range from 0 gives each "
                                "indicator's lowest unit 0); normalise to a positive range such as minmax with "
                                "range [1, 100]", column="method")
    return _weighted(Y, W, np.log, np.exp)


@register("aggregator", "harmonic")
def harmonic(Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted harmonic mean: the least compensatory of the means. Needs non-zero values."""
    if np.any(Y == 0):
        raise InputError.single("spec", "aggregate: the harmonic mean needs non-zero values, and some are 0 (minmax "
                                "with a range from 0 gives each indicator's lowest unit 0); normalise to a range "
                                "such as minmax with range [1, 100]", column="method")
    return _weighted(Y, W, lambda y: 1 / y, lambda m: 1 / m)


P_ZERO = "aggregate: p = 0 is the geometric mean; use method: geometric"


@register("aggregator", "generalised")
def generalised(Y: np.ndarray, W: np.ndarray, *, p: float = 2.0) -> np.ndarray:
    """Weighted power mean of order p (p=1 arithmetic, p→0 geometric, p=−1 harmonic)."""
    if p == 0:
        raise InputError.single("spec", P_ZERO, column="p")
    if p < 0 and np.any(Y <= 0):
        raise InputError.single("spec", "aggregate: a generalised mean with negative p needs positive values, and "
                                f"some are 0 or below (lowest {np.nanmin(Y):.4g}); normalise to a positive range "
                                "such as minmax with range [1, 100]", column="p")
    return _weighted(Y, W, lambda y: y**p, lambda m: m ** (1 / p))


@register("aggregator", "copeland")
def copeland(Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Copeland score: pairwise wins minus losses, a pair won when the weights of the children in which a unit
    beats the other (ties count half) exceed one half. Non-compensatory. O(units²) per parent."""
    runs, units, _ = Y.shape
    W3 = np.broadcast_to(W, (runs,) + W.shape[-2:])
    out = np.empty((runs, units, W3.shape[-1]))
    for r in range(runs):
        for p in range(W3.shape[-1]):
            w = W3[r, :, p]
            kids = np.flatnonzero(w > 0)
            y, wk = Y[r][:, kids], w[kids] / w[kids].sum()
            a, b = y[:, None, :], y[None, :, :]
            orm = ((a > b) * wk).sum(-1) + ((a == b) * wk).sum(-1) / 2
            vote = np.sign(orm - 0.5)
            np.fill_diagonal(vote, 0)
            out[r, :, p] = vote.sum(axis=1)
    return out


# --- non-compensatory aggregators: a mean penalised by the children's imbalance -------------------------------------

PENALTIES = ("POS", "NEG")
SDS = ("population", "sample")


def _moments(Y: np.ndarray, W: np.ndarray, sd: str) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and standard deviation of each unit's present children, per parent. With equal weights the
    sd is the plain one: `population` divides by n, `sample` by n − 1 (Compind's var()); with other weights
    `sample` uses the reliability-weights correction Σw − Σw²/Σw. A single present child has sd 0."""
    present = (~np.isnan(Y)).astype(float)
    y = np.where(present > 0, Y, 0.0)
    with np.errstate(all="ignore"):
        total = present @ W
        mean = (y @ W) / total
        spread = y**2 @ W / total - mean**2
        if sd == "sample":
            spread *= total**2 / (total**2 - present @ W**2)
        S = np.sqrt(np.clip(spread, 0.0, None))
        S = np.where(np.isfinite(S), S, 0.0)
        return np.where(total > 0, mean, np.nan), np.where(total > 0, S, np.nan)


def _penalised(Y: np.ndarray, W: np.ndarray, penalty: str, sd: str, fix: str) -> np.ndarray:
    if problems := _choice_problems(penalty, sd):
        raise InputError(problems)
    if np.any(Y <= 0):
        raise InputError.single("spec", "aggregate: the Mazziotta–Pareto index needs positive values, and some are 0 "
                                f"or below (lowest {np.nanmin(Y):.4g}); {fix}", column="method")
    M, S = _moments(Y, W, sd)
    sign = -1.0 if penalty == "POS" else 1.0
    return M + sign * S * (S / M)


@register("aggregator", "mpi")
def mpi(Y: np.ndarray, W: np.ndarray, *, penalty: str = "POS", sd: str = "population") -> np.ndarray:
    """Mazziotta–Pareto index M ∓ S·cv (cv = S/M) of each unit's children, meant for children standardised to
    mean 100, sd 10 (normalise: zscore with mean 100, sd 10). `penalty: POS` (the index rises with its children)
    subtracts the imbalance penalty, `NEG` adds it. `sd: population` is the canonical index, `sample` Compind's
    ci_mpi. Weights give a weighted mean and sd (equal weights: the published formula). Missing children are
    skipped: M and S are taken over the present ones, weights renormalised."""
    return _penalised(Y, W, penalty, sd, "normalise with zscore and mean: 100, sd: 10")


@register("aggregator", "ampi")
def ampi(Y: np.ndarray, W: np.ndarray, *, penalty: str = "POS", sd: str = "population",
         goalposts: tuple[float, float] | None = None, reference=None) -> np.ndarray:
    """Adjusted Mazziotta–Pareto index: each child rescaled by goalposts, (y − (ref − Δ))/(2Δ)·60 + 70 with
    Δ = (high − low)/2 (the reference scores 100, a span of the goalposts 60), then M ∓ S·cv as in `mpi`.
    `goalposts` are one [low, high] for every child (on minmax-normalised data, the scale's own bounds; an
    editions build sets them, and the reference, the same for every edition); none: each child's lowest and
    highest unit in this build.
    `reference` is one value for every child, or one per child (NaN: that child's mean); none: the children's
    means. Missing children are skipped as in `mpi`; missing units play no part in the goalposts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if goalposts is None:
            low, high = np.nanmin(Y, axis=1, keepdims=True), np.nanmax(Y, axis=1, keepdims=True)
        else:
            low, high = (np.full((1, 1, Y.shape[2]), float(g)) for g in goalposts)
        mean = np.nanmean(Y, axis=1, keepdims=True)
    ref = np.broadcast_to(np.nan if reference is None else np.asarray(reference, dtype=float), Y.shape[2:])
    ref = np.where(np.isnan(ref), mean, ref)
    half = (high - low) / 2
    with np.errstate(all="ignore"):
        Z = np.where(half > 0, (Y - (ref - half)) / (2 * half) * 60 + 70, 100.0)
    return _penalised(np.where(np.isnan(Y), np.nan, Z), W, penalty, sd,
                      "set goalposts that hold the children's values")


@register("aggregator", "mean-min")
def mean_min(Y: np.ndarray, W: np.ndarray, *, alpha: float = 0.5, beta: float = 1.0) -> np.ndarray:
    """Mean–min function (Casadio Tarabusi & Guarini) M − α(√((M − min)² + β²) − β), meant for children as
    z-scores rescaled to mean 100, sd 10: α = 0 is the weighted mean, α = 1 with β = 0 the lowest child; β
    softens the penalty for small gaps. Missing children are skipped: M over the present ones (weights
    renormalised), min over the present children of the parent."""
    if problems := _mean_min_problems(alpha, beta):
        raise InputError(problems)
    M = arithmetic(Y, W)
    return M - alpha * (np.sqrt((M - _lowest(Y, W)) ** 2 + beta**2) - beta)


def _lowest(Y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Each unit's lowest present child of every parent, one minimum per distinct set of children (the many
    weight sets of uncertainty runs mostly share their parents' children)."""
    if W.ndim == 3:
        return np.concatenate([_lowest(Y[min(r, len(Y) - 1)][None], W[r]) for r in range(len(W))])
    kids, which = np.unique(W.T > 0, axis=0, return_inverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.stack([np.nanmin(Y[..., k], axis=-1) for k in kids], axis=-1)
    return low[..., which.reshape(-1)]


def _choice_problems(penalty: str = "POS", sd: str = "population", **_) -> list[Problem]:
    return ([Problem("spec", "aggregate: penalty " + one_of(str(penalty), list(PENALTIES)), column="penalty")]
            * (penalty not in PENALTIES)
            + [Problem("spec", "aggregate: sd " + one_of(str(sd), list(SDS)), column="sd")] * (sd not in SDS))


def _mean_min_problems(alpha: float = 0.5, beta: float = 1.0, **_) -> list[Problem]:
    problems = []
    if not 0 <= alpha <= 1:
        problems.append(Problem("spec", f"aggregate: alpha must lie in [0, 1] (0: the mean, 1: the full penalty), "
                                        f"not {alpha}", column="alpha"))
    if beta < 0:
        problems.append(Problem("spec", f"aggregate: beta must be 0 or more, not {beta}", column="beta"))
    return problems


def _apply(name: str, Y: np.ndarray, W: np.ndarray, params: dict) -> np.ndarray:
    """One aggregator over children Y (runs or 1, units, children) and weights W ((runs,) children, parents),
    given the parameters of `params` it takes."""
    fn = methods("aggregator")[name]
    own = {key: params[key] for key in parameters(fn) if key in params}
    if W.ndim == 3 and Y.shape[0] == 1 and W.shape[0] > 1:
        if name == "copeland":
            return fn(np.broadcast_to(Y, (W.shape[0],) + Y.shape[1:]), W, **own)
        # one set of children, many weight sets: every run's parents become columns of one wide matrix, so the
        # level is a single matrix product (the aggregators treat parent columns independently)
        runs, kids, parents = W.shape
        wide = fn(Y, W.transpose(1, 0, 2).reshape(kids, runs * parents), **own)
        return wide.reshape(Y.shape[1], runs, parents).transpose(1, 0, 2)
    return fn(Y, W, **own)


def _of_children(params: dict, children: slice, n_nodes: int) -> dict:
    """The parameters for one level: a per-node `reference` (one value per node) cut to that level's children."""
    ref = params.get("reference")
    if isinstance(ref, np.ndarray) and ref.shape == (n_nodes,):
        return {**params, "reference": ref[children]}
    return params


def aggregate_levels(X: np.ndarray, matrices, methods_by_level: list, *, min_share: float = 0.0,
                     with_leaves: bool = True, **params) -> np.ndarray:
    """Scores of every node `(runs, units, nodes)`: the normalised leaves followed by each level's aggregates
    (the aggregates alone without `with_leaves`, which spares copying the leaves into every run).

    `matrices` are the per-level weight matrices, each with or without a run axis (one set of leaves can meet
    many weight sets). Each entry of `methods_by_level` names one method per parent of that level (a single
    name serves the whole level). A parent whose share of present children is below `min_share` is missing.
    `params` are the methods' parameters (`p`, `penalty`, …), each method taking those it knows; a `reference`
    may hold one value per node, in compiled order.
    """
    columns = [X] if with_leaves else []
    Y = X
    start, n_nodes = 0, X.shape[2] + sum(W.shape[-1] for W in matrices)
    for W, names in zip(matrices, methods_by_level):
        level = _of_children(params, slice(start, start + W.shape[-2]), n_nodes)
        start += W.shape[-2]
        names = np.broadcast_to(np.asarray(names, dtype=object), W.shape[-1:])
        parts = {name: np.flatnonzero(names == name) for name in dict.fromkeys(names)}
        if len(parts) == 1:
            Y_next = _apply(names[0], Y, W, level)
        else:
            runs = max(Y.shape[0], W.shape[0] if W.ndim == 3 else 1)
            Y_next = np.empty((runs, Y.shape[1], W.shape[-1]))
            for name, cols in parts.items():
                Y_next[..., cols] = _apply(name, Y, W[..., cols], level)
        if min_share > 0:
            links = (W > 0).astype(float)
            share = (~np.isnan(Y)).astype(float) @ links / links.sum(axis=-2, keepdims=True)
            Y_next = np.where(share >= min_share - 1e-12, Y_next, np.nan)
        columns.append(Y_next)
        Y = Y_next
    runs, units, nodes = max(col.shape[0] for col in columns), X.shape[1], sum(col.shape[2] for col in columns)
    # when every level holds its units side by side (`_product`), so does the result: ranking reads it so
    units_last = all(col.strides[1] == col.itemsize for col in columns if col.shape[1] > 1)
    out = np.empty((runs, nodes, units)).transpose(0, 2, 1) if units_last else np.empty((runs, units, nodes))
    start = 0
    for col in columns:
        out[..., start:start + col.shape[2]] = col  # a level without a run axis serves every run
        start += col.shape[2]
    return out


def level_methods(compiled, method: str = "arithmetic", by_level: dict | None = None,
                  by_node: dict | None = None) -> list[list[str]]:
    """The aggregation method of every parent, level by level: `by_node` over `by_level` over `method`."""
    by_level, by_node = by_level or {}, by_node or {}
    chosen = []
    for lev, sl in enumerate(compiled.level_slices[1:], start=2):
        level_method = str(by_level.get(lev, by_level.get(str(lev), method)))
        chosen.append([str(by_node.get(n, level_method)) for n in compiled.nodes[sl]])
    return chosen


def weights_problems(ctx: Context, weights: str | dict) -> list[Problem]:
    """A weight choice must be `framework`, `equal`, a named set (the spec's `weights:` or the framework's, checked
    where they are read), or a mapping from node ids to weights that the framework's own weights' rule holds for."""
    if isinstance(weights, dict):
        return [Problem("spec", f"aggregate: weights: unknown node {node!r}{did_you_mean(node, ctx.compiled.nodes)}",
                        column=f"weights.{node}") for node in weights if node not in ctx.framework.by_id] + [
            Problem("spec", f"aggregate: weights: node {node!r}: {fault}",
                    column=f"weights.{node}" if node in weights else "weights")
            for node, fault in ctx.framework.weight_faults(weights)]
    known = ["framework", "equal", *ctx.framework.weight_sets]
    if weights in known:
        return []
    return [Problem("spec", "aggregate: weights " + one_of(weights, known), column="weights")]


def node_weights(ctx: Context, weights: str | dict) -> np.ndarray:
    """The weight of every node (in compiled order) for a weight choice: `framework`, `equal`, the name of an
    alternative set, or a mapping node → weight overriding the framework's."""
    c = ctx.compiled
    if problems := weights_problems(ctx, weights):
        raise InputError(problems)
    if isinstance(weights, dict):
        return np.array([float(weights.get(n, w)) for n, w in zip(c.nodes, c.weights)])
    if weights == "framework":
        return c.weights.copy()
    if weights == "equal":
        return np.ones_like(c.weights)
    return node_weights(ctx, ctx.framework.weight_sets[weights])


def known_aggregators(method: str = "arithmetic", by_level: dict | None = None, by_node: dict | None = None,
                      **_) -> list[Problem]:
    """Every aggregation method an aggregate step names (`method`, and per level or node) must be registered."""
    known = list(methods("aggregator"))
    chosen = [("method", method), *((f"by_level.{k}", v) for k, v in (by_level or {}).items()),
              *((f"by_node.{k}", v) for k, v in (by_node or {}).items())]
    return [Problem("spec", f"aggregate: {key.replace('.', ' ')} " + one_of(str(name), known), column=key)
            for key, name in chosen if str(name) not in known]


def check_aggregate(ctx: Context, *, method: str = "arithmetic", by_level: dict | None = None,
                    by_node: dict | None = None, weights: str | dict = "framework", p: float = 2.0,
                    penalty: str = "POS", sd: str = "population", alpha: float = 0.5, beta: float = 1.0,
                    goalposts: tuple[float, float] | None = None, reference: float | dict | None = None,
                    **_) -> list[Problem]:
    """The levels, nodes, weights and method parameters an aggregate step names, checked against the framework."""
    c = ctx.compiled
    aggregates = list(c.nodes[c.n_leaves:])
    levels = [str(lev) for lev in range(2, len(c.level_slices) + 1)]
    problems = [Problem("spec", f"aggregate: by_level: level {lev!r} has no aggregates; levels "
                                f"{', '.join(levels)} do", column=f"by_level.{lev}")
                for lev in (by_level or {}) if str(lev) not in levels]
    problems += [Problem("spec", f"aggregate: by_node names {node!r}, which is not an aggregate node"
                                 f"{did_you_mean(node, aggregates)}", column=f"by_node.{node}")
                 for node in (by_node or {}) if node not in aggregates]
    named = {str(method), *map(str, (by_level or {}).values()), *map(str, (by_node or {}).values())}
    if p == 0 and "generalised" in named:
        problems.append(Problem("spec", P_ZERO, column="p"))
    problems += _choice_problems(penalty, sd) + _mean_min_problems(alpha, beta)
    if goalposts is not None and not goalposts[0] < goalposts[1]:
        problems.append(Problem("spec", f"aggregate: goalposts must be [low, high] with low below high, not "
                                        f"{list(goalposts)}", column="goalposts"))
    problems += [Problem("spec", f"aggregate: reference names {node!r}, which is not a node"
                                 f"{did_you_mean(node, c.nodes)}", column=f"reference.{node}")
                 for node in (reference if isinstance(reference, dict) else {}) if node not in c.nodes]
    return problems + weights_problems(ctx, weights)


def aggregate(X: np.ndarray, ctx: Context, *, method: str = "arithmetic", by_level: dict | None = None,
              by_node: dict | None = None, weights: str | dict = "framework", min_share: float = 0.0,
              p: float = 2.0, penalty: str = "POS", sd: str = "population", alpha: float = 0.5, beta: float = 1.0,
              goalposts: tuple[float, float] | None = None,
              reference: float | dict[str, float] | None = None) -> np.ndarray:
    """Scores of every node. `method` applies everywhere unless `by_level` names another for a level
    (`{3: geometric}`: level 3 = the parents of level-2 nodes) or `by_node` for one aggregate node.

    `weights` chooses the node weights: `framework`, `equal`, the name of a weight set, or a mapping node → weight
    overriding the framework's. A parent whose share of present children is below `min_share` is missing. The
    methods' own parameters: `p` the order of the `generalised` mean; `penalty` (POS, NEG) and `sd` (population,
    sample) of `mpi` and `ampi`; `goalposts` [low, high] and `reference` (one value, or node → value) of `ampi`;
    `alpha`, `beta` of `mean-min`."""
    return aggregate_with(X, ctx, weights, method=method, by_level=by_level, by_node=by_node, min_share=min_share,
                          p=p, penalty=penalty, sd=sd, alpha=alpha, beta=beta, goalposts=goalposts,
                          reference=reference)


def aggregate_with(X: np.ndarray, ctx: Context, weights: str | dict | np.ndarray, *, method: str = "arithmetic",
                   by_level: dict | None = None, by_node: dict | None = None, min_share: float = 0.0,
                   **params) -> np.ndarray:
    """`aggregate`, whose weights may also be node weights (runs or 1, nodes) already set, those of a weight step.
    Why apart from `aggregate`: its parameters are what a spec may set, and node weights are not one of them."""
    chosen = {"method": method, "by_level": by_level, "by_node": by_node}
    named = "framework" if isinstance(weights, np.ndarray) else weights
    if problems := known_aggregators(**chosen) or check_aggregate(ctx, **chosen, weights=named, **params):
        raise InputError(problems)
    W = weights if isinstance(weights, np.ndarray) else node_weights(ctx, weights)
    return aggregate_levels(X, ctx.compiled.matrices_for(W), level_methods(ctx.compiled, method, by_level, by_node),
                            min_share=min_share, **method_params(ctx.compiled, params))


METHOD_PARAMS = ("p", "penalty", "sd", "alpha", "beta", "goalposts", "reference")
"""The aggregators' own parameters an aggregate step may carry."""


def method_params(compiled, config: dict) -> dict:
    """The aggregators' parameters of an aggregate step's configuration as `aggregate_levels` takes them: those
    given (each method's default for the rest), a node → value `reference` as one value per compiled node. One
    reading for the build, the uncertainty runs and the what-if, so none of them drops a parameter."""
    params = {k: config[k] for k in METHOD_PARAMS if config.get(k) is not None}
    if isinstance(params.get("reference"), dict):
        params["reference"] = np.array([float(params["reference"].get(n, np.nan)) for n in compiled.nodes])
    return params
