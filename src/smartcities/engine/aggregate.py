"""Aggregate children into their parents, level by level, with weights rescaled within each parent.

Aggregators take the children's scores `Y (runs, units, children)` and a weight matrix `W` of shape
`(children, parents)` or `(runs, children, parents)` whose columns sum to 1, and return
`(runs, units, parents)`. Missing children are skipped and the remaining weights renormalised.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..errors import InputError, Problem, did_you_mean, one_of
from .context import Context
from .registry import methods, register


def _weighted(Y: np.ndarray, W: np.ndarray, f, f_inv) -> np.ndarray:
    present = ~np.isnan(Y)
    with np.errstate(all="ignore"):
        num = np.where(present, f(Y), 0.0) @ W
        den = present.astype(float) @ W
        return np.where(den > 0, f_inv(num / den), np.nan)


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


def _apply(name: str, Y: np.ndarray, W: np.ndarray, p: float) -> np.ndarray:
    """One aggregator over children Y (runs or 1, units, children) and weights W ((runs,) children, parents)."""
    fn = methods("aggregator")[name]
    fn = partial(fn, p=p) if name == "generalised" else fn
    if W.ndim == 3 and Y.shape[0] == 1 and W.shape[0] > 1:
        if name == "copeland":
            return fn(np.broadcast_to(Y, (W.shape[0],) + Y.shape[1:]), W)
        # one set of children, many weight sets: every run's parents become columns of one wide matrix, so the
        # level is a single matrix product (the means treat parent columns independently)
        runs, kids, parents = W.shape
        wide = fn(Y, W.transpose(1, 0, 2).reshape(kids, runs * parents))
        return wide.reshape(Y.shape[1], runs, parents).transpose(1, 0, 2)
    return fn(Y, W)


def aggregate_levels(X: np.ndarray, matrices, methods_by_level: list, *, min_share: float = 0.0,
                     p: float = 2.0) -> np.ndarray:
    """Scores of every node `(runs, units, nodes)`: the normalised leaves followed by each level's aggregates.

    `matrices` are the per-level weight matrices, each with or without a run axis (one set of leaves can meet
    many weight sets). Each entry of `methods_by_level` names one method per parent of that level (a single
    name serves the whole level). A parent whose share of present children is below `min_share` is missing.
    """
    columns = [X]
    Y = X
    for W, names in zip(matrices, methods_by_level):
        names = np.broadcast_to(np.asarray(names, dtype=object), W.shape[-1:])
        parts = {name: np.flatnonzero(names == name) for name in dict.fromkeys(names)}
        if len(parts) == 1:
            Y_next = _apply(names[0], Y, W, p)
        else:
            runs = max(Y.shape[0], W.shape[0] if W.ndim == 3 else 1)
            Y_next = np.empty((runs, Y.shape[1], W.shape[-1]))
            for name, cols in parts.items():
                Y_next[..., cols] = _apply(name, Y, W[..., cols], p)
        if min_share > 0:
            links = (W > 0).astype(float)
            share = (~np.isnan(Y)).astype(float) @ links / links.sum(axis=-2, keepdims=True)
            Y_next = np.where(share >= min_share - 1e-12, Y_next, np.nan)
        columns.append(Y_next)
        Y = Y_next
    runs = max(col.shape[0] for col in columns)
    return np.concatenate([np.broadcast_to(col, (runs,) + col.shape[1:]) for col in columns], axis=2)


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
    """A weight choice must be `framework`, `equal`, a named set (the spec's `weights:` or the framework's), or a
    mapping from node ids to weights."""
    if isinstance(weights, dict):
        return [Problem("spec", f"aggregate: weights: unknown node {node!r}{did_you_mean(node, ctx.compiled.nodes)}",
                        column=f"weights.{node}") for node in weights if node not in ctx.framework.by_id]
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
                    **_) -> list[Problem]:
    """The levels, nodes and weights an aggregate step names, checked against the framework."""
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
    return problems + weights_problems(ctx, weights)


def aggregate(X: np.ndarray, ctx: Context, *, method: str = "arithmetic", by_level: dict | None = None,
              by_node: dict | None = None, weights: str | dict = "framework", min_share: float = 0.0,
              p: float = 2.0) -> np.ndarray:
    """Scores of every node. `method` applies everywhere unless `by_level` names another for a level
    (`{3: geometric}`: level 3 = the parents of level-2 nodes) or `by_node` for one aggregate node.

    `weights` chooses the node weights: `framework`, `equal`, the name of a weight set, or a mapping node → weight
    overriding the framework's. A parent whose share of present children is below `min_share` is missing; `p` is
    the order of the `generalised` mean."""
    chosen = {"method": method, "by_level": by_level, "by_node": by_node}
    if problems := known_aggregators(**chosen) or check_aggregate(ctx, **chosen, weights=weights, p=p):
        raise InputError(problems)
    chosen = level_methods(ctx.compiled, method, by_level, by_node)
    return aggregate_levels(X, ctx.compiled.matrices_for(node_weights(ctx, weights)), chosen, min_share=min_share,
                            p=p)
