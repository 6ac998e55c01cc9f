"""Weights of the nodes within each parent, set by the pipeline's `weight` step for every later step.

The methods that judge weights from the data (pca, factor, bod, entropy, critic, optimise) weigh the children of
every parent at the `levels` they are given: `[1]` (the indicators) by default, as COINr's functions weigh one
level at a time. Levels are weighed from the bottom up, each from its nodes' scores under the weights set below it
(the data at the weight step, aggregated as the pipeline's aggregate step does), so a level sees its children as
the index will score them; levels not named keep the framework's weights. The others (equal, framework, ahp,
budget, fit) take their weights from the spec or, for fit, from one parent's indicators.

A weight method is `fn(X, ctx, **params) -> Weighting`: X is the data at that point of the pipeline
`(runs, units, indicators)`, and the weights come back per run, `(runs, nodes)` in compiled order (the aggregate
step rescales them within each parent). A data method takes a third argument, `scored(W) -> (runs, units,
nodes)`: every node's score under node weights W, which the pipeline gives it.

The pure functions below take the children's data of one parent `Y (units, children)` (NaN = missing; a unit
missing any child is left out of the fit, as COINr does) and return that parent's child weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, did_you_mean
from ..model.processing import ProcessingLog, entry
from .context import Context
from .registry import register

# Saaty's random consistency index for n = 1..10
RANDOM_INDEX = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49)
CR_LIMIT = 0.1


@dataclass(frozen=True)
class Weighting:
    """What a weight step set: node weights per run, the method's label for weights.csv, and what it found that the
    processing log should say (notes, and warnings such as an inconsistent AHP matrix)."""

    weights: np.ndarray  # (runs, nodes)
    method: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def log(self) -> ProcessingLog:
        """One note naming the method, then what it found: notes, and warnings (errors under --strict)."""
        return ProcessingLog.of([entry("weight", "weighted", detail=f"node weights set by {self.method}"),
                                 *(entry("weight", "weighted", detail=n) for n in self.notes),
                                 *(entry("weight", "weighted", detail=w, warning=True) for w in self.warnings)])

    def table(self, ctx: Context) -> pd.DataFrame:
        """weights.csv: node, parent, weight (its share of its parent, in the nominal run), method."""
        c = ctx.compiled
        share = within_parent(c, self.weights[0])
        rows = [(n, ctx.framework.by_id[n].parent or "", float(share[i]), self.method)
                for i, n in enumerate(c.nodes) if ctx.framework.by_id[n].parent]
        return pd.DataFrame(rows, columns=["node", "parent", "weight", "method"])


# --- pure weight functions over one parent's children ----------------------------------------------------------

def complete(Y: np.ndarray) -> np.ndarray:
    """The units with every child present."""
    return Y[~np.isnan(Y).any(axis=1)]


def pca_weights(Y: np.ndarray) -> np.ndarray:
    """COINr's get_PCA weights: the loadings of the first principal component of the standardised children
    (prcomp with scale=TRUE). The sign of a component is arbitrary (COINr leaves it to LAPACK); here it is fixed
    so that the loadings sum to a positive number, so that a unit higher on most children scores higher."""
    Z = complete(Y)
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0, ddof=1)
    _, _, vt = np.linalg.svd(Z, full_matrices=False)
    v = vt[0]
    return v if v.sum() >= 0 else -v


def varimax(L: np.ndarray, iterations: int = 1000, tol: float = 1e-12) -> np.ndarray:
    """Kaiser's varimax rotation of loadings L (variables, factors): the orthogonal rotation maximising the variance
    of the squared loadings within each factor, so each variable loads mainly on one factor. Iterated until the
    rotation stops changing."""
    p, k = L.shape
    R = np.eye(k)
    for _ in range(iterations):
        Lr = L @ R
        u, _, vt = np.linalg.svd(L.T @ (Lr**3 - Lr @ np.diag((Lr**2).sum(axis=0)) / p))
        R, before = u @ vt, R
        if np.abs(R - before).max() < tol:
            break
    return L @ R


def factor_weights(Y: np.ndarray) -> np.ndarray:
    """The OECD/JRC Handbook (2008) factor-analysis weights: principal-component factors of the correlation matrix
    with eigenvalue above 1 (at least one), rotated by varimax; each factor's squared loadings scaled to sum to 1;
    each child assigned to the factor it loads on most; that factor's share of the explained variance times the
    child's scaled squared loading is the child's weight (rescaled to sum to 1)."""
    R = np.corrcoef(complete(Y), rowvar=False)
    values, vectors = np.linalg.eigh(R)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    keep = max(1, int((values > 1).sum()))
    loadings = vectors[:, :keep] * np.sqrt(values[:keep])
    rotated = varimax(loadings) if keep > 1 else loadings
    squared = rotated**2
    explained = squared.sum(axis=0)
    scaled = squared / explained
    top = scaled.argmax(axis=1)
    w = scaled[np.arange(len(top)), top] * explained[top] / explained.sum()
    return w / w.sum()


def bod(Y: np.ndarray, bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Benefit of the doubt: for each unit, the weights most favourable to it, found by the linear programme
    max Σ w·y_unit subject to Σ w·y_other ≤ 1 for every unit and w ≥ 0 (HiGHS). Returns each unit's score
    (1 = on the frontier) and its weights as shares summing to 1 (units, children). `bounds` (lo, hi) bound each
    share w_i / Σ w. Scaling a child multiplies its weight by the inverse, so the scores do not depend on units."""
    Z = complete(Y)
    k = Z.shape[1]
    A_ub, b_ub = [Z], [np.ones(len(Z))]
    if bounds is not None:
        lo, hi = bounds
        A_ub += [lo - np.eye(k), np.eye(k) - hi]  # lo·Σw − w_i ≤ 0 and w_i − hi·Σw ≤ 0
        b_ub += [np.zeros(k), np.zeros(k)]
    from scipy.optimize import linprog  # here: scipy.optimize costs a quarter second to import, every build

    A, b = np.vstack(A_ub), np.concatenate(b_ub)
    scores, shares = np.full(len(Y), np.nan), np.full(Y.shape, np.nan)
    for j, y in enumerate(Y):
        if np.isnan(y).any():
            continue
        res = linprog(-y, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
        if res.status != 0:
            raise InputError.single("spec", f"weight: the benefit-of-the-doubt programme has no solution "
                                    f"({res.message})", column="bounds")
        scores[j] = -res.fun
        total = res.x.sum()
        shares[j] = res.x / total if total > 0 else np.full(k, 1 / k)
    return scores, shares


def ahp(M: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Saaty's AHP: the principal eigenvector of the pairwise comparison matrix (weights summing to 1), the
    consistency ratio CR = (λmax − n)/(n − 1) / RI(n) (0 for n ≤ 2) and λmax."""
    values, vectors = np.linalg.eig(np.asarray(M, dtype=float))
    i = int(np.argmax(values.real))
    w = np.abs(vectors[:, i].real)
    lam, n = float(values[i].real), len(M)
    ri = RANDOM_INDEX[n - 1] if n <= len(RANDOM_INDEX) else RANDOM_INDEX[-1]
    cr = (lam - n) / (n - 1) / ri if ri > 0 else 0.0
    return w / w.sum(), cr, lam


def matrix_problems(M, n: int) -> list[str]:
    """What makes M unusable as a pairwise comparison matrix of n children: not square, the wrong size, a
    non-positive entry, a diagonal other than 1, or a pair that is not reciprocal (a_ij·a_ji = 1, to 1%)."""
    try:
        A = np.asarray(M, dtype=float)
    except (TypeError, ValueError):
        return ["is not a matrix of numbers"]
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        return [f"is not square (shape {'×'.join(map(str, A.shape))})"]
    if len(A) != n:
        return [f"is {len(A)}×{len(A)} but the parent has {n} children"]
    if not np.all(np.isfinite(A)) or np.any(A <= 0):
        return ["has entries that are not positive"]
    if not np.allclose(np.diag(A), 1):
        return ["has a diagonal other than 1"]
    bad = np.argwhere(np.triu(np.abs(A * A.T - 1) > 0.01))
    return [f"is not reciprocal: a[{i + 1}][{j + 1}]·a[{j + 1}][{i + 1}] = {A[i, j] * A[j, i]:.3g}, expected 1"
            for i, j in bad[:3]]


def entropy_weights(Y: np.ndarray) -> np.ndarray:
    """Shannon entropy weights: with p_ij = y_ij / Σ_i y_ij, e_j = −Σ p ln p / ln m; weights ∝ 1 − e_j, so a child
    that differs more between units weighs more. Needs values of one sign (normalised data are)."""
    Z = complete(Y)
    P = Z / Z.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(P > 0, P * np.log(P), 0.0)
    d = 1 + plogp.sum(axis=0) / np.log(len(Z))
    return d / d.sum()


def critic_weights(Y: np.ndarray) -> np.ndarray:
    """CRITIC (Diakoulaki et al. 1995): each child min-max scaled, then weights ∝ σ_j Σ_k (1 − r_jk), so a child
    that varies much and agrees little with the others weighs more (σ with ddof 0)."""
    Z = complete(Y)
    Z = (Z - Z.min(axis=0)) / (Z.max(axis=0) - Z.min(axis=0))
    c = Z.std(axis=0) * (1 - np.corrcoef(Z, rowvar=False)).sum(axis=0)
    return c / c.sum()


def correlations_with_parent(Z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson correlation of each child with the weighted arithmetic mean of the children."""
    parent = Z @ (w / w.sum())
    return np.array([np.corrcoef(Z[:, j], parent)[0, 1] for j in range(Z.shape[1])])


def optimise_weights(Y: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """COINr's get_opt_weights (optype "balance"): the weights whose children's correlations with their parent (the
    weighted mean), as shares of their sum, come closest to the target importances (equal by default) in the
    least-squares sense (Nelder–Mead over positive weights)."""
    Z = complete(Y)
    k = Z.shape[1]
    t = np.ones(k) if targets is None else np.asarray(targets, dtype=float)
    t = t / t.sum()

    from scipy.optimize import minimize  # here: a quarter second to import, for every build otherwise

    def loss(v):
        r = correlations_with_parent(Z, np.exp(v))
        return float(((r / r.sum() - t) ** 2).sum())

    res = minimize(loss, np.zeros(k), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14,
                                                                   "maxiter": 4000 * k})
    w = np.exp(res.x)
    return w / w.sum()


def fit_weights(Y: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-negative weights summing to 1 whose weighted sum of the children best reproduces `target` (least
    squares, SLSQP); returns the weights and the residuals target − fit per unit (NaN where a value is missing)."""
    ok = ~np.isnan(Y).any(axis=1) & ~np.isnan(target)
    Z, t = Y[ok], target[ok]
    k = Z.shape[1]
    scale = float(np.abs(t).max()) or 1.0
    from scipy.optimize import minimize  # here: a quarter second to import, for every build otherwise

    res = minimize(lambda w: float(((Z @ w - t) / scale) @ ((Z @ w - t) / scale)), np.full(k, 1 / k),
                   jac=lambda w: 2 * Z.T @ ((Z @ w - t) / scale) / scale, method="SLSQP", bounds=[(0, 1)] * k,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}], options={"ftol": 1e-15,
                                                                                        "maxiter": 1000})
    w = np.clip(res.x, 0, None)
    w = w / w.sum()
    return w, np.where(ok, target - np.nan_to_num(Y) @ w, np.nan)


# --- the weight step's methods ------------------------------------------------------------------------------------

Scored = Callable[[np.ndarray], np.ndarray]
"""Every node's scores (runs, units, nodes) under node weights (runs, nodes), as the pipeline aggregates."""


def parents_at(ctx: Context, level: int) -> list[tuple[str, np.ndarray]]:
    """Each parent of two or more nodes of `level` (1 = the indicators) with its children's compiled indices (a
    parent of one node has nothing to weigh)."""
    c = ctx.compiled
    kids = ctx.framework.children
    nodes = c.nodes[c.level_slices[level - 1]] if level <= len(c.level_slices) else ()
    parents = dict.fromkeys(ctx.framework.by_id[n].parent for n in nodes)
    return [(p, np.array([c.nodes.index(k) for k in kids[p]])) for p in parents if p and len(kids[p]) > 1]


def weighed_levels(levels: list[int] | None) -> list[int]:
    """The levels a data method weighs, bottom first: `[1]` (the indicators) when none are named."""
    return sorted(set(levels or [1]))


def check_levels(ctx: Context, *, levels: list[int] | None = None, **_) -> list[Problem]:
    """The levels a data method weighs are levels with a parent above them: 1 (the indicators) to one below
    the top."""
    top = len(ctx.compiled.level_slices) - 1
    return [Problem("spec", f"weight: levels: level {lev} has no parent to weigh within; the levels are 1 (the "
                            f"indicators) to {top}", column="levels")
            for lev in levels or () if not 1 <= lev <= top]


def by_data(X: np.ndarray, ctx: Context, scored: Scored | None, fn: Callable[[np.ndarray, np.ndarray], tuple],
            method: str, label: str, levels: list[int] | None = None, least: Callable[[int], int] = lambda k: 1,
            present: str = "every child present") -> Weighting:
    """The weighting `label`: node weights (runs, nodes), the framework's with the children of each parent at
    `levels` (default [1]) weighted by `fn(Y, idx) -> (weights, note | None)` from their data `Y (units,
    children)` run by run; and the nominal run's notes and warnings, named by parent. A level's data are the
    indicators (level 1) or the scores of its nodes under the weights set below it. A parent needs
    `least(children)` units with every child present (at least one; `present` says what a unit the method can use
    has). Weights the data leave undefined (every child of a parent constant) or that cancel out (two children that
    run against each other get PCA loadings summing to 0) are an error naming the parent, never NaN passed on; a
    negative weight is a warning, since it lets the parent's score leave its children's range."""
    if problems := check_levels(ctx, levels=levels):
        raise InputError(problems)
    X = X[None] if X.ndim == 2 else X
    out = np.tile(ctx.compiled.weights, (X.shape[0], 1))
    notes, negative = [], []
    for level in weighed_levels(levels):
        data = X if level == 1 else scored(out)
        for parent, idx in parents_at(ctx, level):
            complete_units, need = int((~np.isnan(data[0][:, idx]).any(axis=1)).sum()), least(len(idx))
            if complete_units < need:
                raise InputError.single("spec", f"weight: {method} weights of {parent!r} need at least {need} "
                                        f"unit{'s' * (need > 1)} with {present}; {complete_units} have",
                                        column="method")
            for r in range(X.shape[0]):
                with np.errstate(all="ignore"):
                    w, note = fn(data[r][:, idx], idx)
                if not np.all(np.isfinite(w)):
                    raise InputError.single("spec", f"weight: {method} weights of {parent!r} are undefined for "
                                            "these data (a child with one value throughout?)", column="method")
                if abs(w.sum()) <= 1e-9 * np.abs(w).sum():
                    named = ", ".join(f"{ctx.compiled.nodes[i]} {v:+.4g}" for i, v in zip(idx, w))
                    raise InputError.single("spec", f"weight: {method} weights of {parent!r} cancel out ({named}): "
                                            "its children run against each other, so its score is undefined; "
                                            "weigh that level another way", column="method")
                out[r, idx] = w
                if r == 0 and note:
                    notes.append(f"{parent!r}: {note}")
                if r == 0 and (w < 0).any():
                    negative.append(f"{parent} (" + ", ".join(f"{ctx.compiled.nodes[i]} {v:.3g}"
                                                             for i, v in zip(idx, w) if v < 0) + ")")
    warnings = (f"negative {method} weights within {len(negative)} parent{'s' * (len(negative) > 1)}: "
                f"{'; '.join(negative)}; a score with a negative weight can leave its children's range",) \
        if negative else ()
    return Weighting(out, label, tuple(notes), warnings)


def _plain(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], tuple]:
    """A pure weight function as `by_data` calls it: no note."""
    return lambda Y, idx: (fn(Y), None)


def _correlations(k: int) -> int:
    """Units a correlation-based method needs with every child present, for k children."""
    return 3


def _components(k: int) -> int:
    """Units a component or factor model of k children needs with every child present."""
    return max(3, k)


def _spread(k: int) -> int:
    """Units entropy weights need: a child's entropy over fewer than two units is undefined."""
    return 2


def _unknowns(k: int) -> int:
    """Units a least-squares fit of k weights needs: one for each weight."""
    return k


@register("weight", "framework")
def framework_method(X: np.ndarray, ctx: Context) -> Weighting:
    """The framework's own weights (the baseline an uncertainty factor can choose)."""
    return Weighting(np.tile(ctx.compiled.weights, (_runs(X), 1)), "framework")


@register("weight", "equal")
def equal_method(X: np.ndarray, ctx: Context) -> Weighting:
    """Every child of a parent weighs the same."""
    return Weighting(np.ones((_runs(X), len(ctx.compiled.nodes))), "equal")


def _runs(X: np.ndarray) -> int:
    return 1 if X.ndim == 2 else X.shape[0]


@register("weight", "pca", check=check_levels)
def pca_method(X: np.ndarray, ctx: Context, scored: Scored | None = None, *,
               levels: list[int] | None = None) -> Weighting:
    """COINr's PCA weights: the first principal component loadings of each parent's standardised children (the
    indicators; at `levels` above 1, the scores of those levels' nodes), signed so that they sum positive.
    Loadings can be negative for a child that runs against the others: such a weight is kept, as COINr keeps it."""
    return by_data(X, ctx, scored, _plain(pca_weights), "pca", "pca (first principal component loadings)", levels,
                   _components)


@register("weight", "factor", check=check_levels)
def factor_method(X: np.ndarray, ctx: Context, scored: Scored | None = None, *,
                  levels: list[int] | None = None) -> Weighting:
    """OECD/JRC Handbook factor-analysis weights of each parent's children: factors with eigenvalue above 1,
    varimax-rotated; each child weighted by its scaled squared loading on its main factor times that factor's
    share of the explained variance."""
    return by_data(X, ctx, scored, _plain(factor_weights), "factor", "factor (varimax factors, explained variance)",
                   levels, _components)


def check_bod(ctx: Context, *, bounds: list[float] | None = None, levels: list[int] | None = None) -> list[Problem]:
    """Share bounds every parent weighed can meet: lo·n ≤ 1 ≤ hi·n for each parent's n children, 0 ≤ lo ≤ hi."""
    if problems := check_levels(ctx, levels=levels):
        return problems
    if bounds is None:
        return []
    if len(bounds) != 2 or not 0 <= bounds[0] <= bounds[1] <= 1:
        return [Problem("spec", f"weight: bounds {bounds} must be [lo, hi] with 0 ≤ lo ≤ hi ≤ 1", column="bounds")]
    lo, hi = bounds
    return [Problem("spec", f"weight: bounds [{lo}, {hi}] cannot be met by the {len(idx)} children of {parent!r}: "
                    f"their shares sum to 1, so lo must be at most {1 / len(idx):.4g} and hi at least "
                    f"{1 / len(idx):.4g}", column="bounds")
            for level in weighed_levels(levels) for parent, idx in parents_at(ctx, level)
            if lo * len(idx) > 1 + 1e-12 or hi * len(idx) < 1 - 1e-12]


@register("weight", "bod", check=check_bod)
def bod_method(X: np.ndarray, ctx: Context, scored: Scored | None = None, *, bounds: list[float] | None = None,
               levels: list[int] | None = None) -> Weighting:
    """Benefit of the doubt. Its weights are each unit's own; a framework needs one set, so the step uses, within
    each parent, the mean over units of their optimal weight shares. The units' BoD scores themselves are noted in
    the processing log (their mean and how many units are on the frontier), not used as scores."""
    if problems := check_bod(ctx, bounds=bounds, levels=levels):
        raise InputError(problems)

    def mean_shares(Y, idx):
        scores, shares = bod(Y, tuple(bounds) if bounds else None)
        return np.nanmean(shares, axis=0), (f"BoD scores: mean {np.nanmean(scores):.6f}, "
                                            f"{int((scores > 1 - 1e-9).sum())} units on the frontier")

    return by_data(X, ctx, scored, mean_shares, "bod", "bod (mean of the units' optimal weight shares)", levels)


@register("weight", "entropy", check=check_levels)
def entropy_method(X: np.ndarray, ctx: Context, scored: Scored | None = None, *,
                   levels: list[int] | None = None) -> Weighting:
    """Entropy weights of each parent's children from the data at this point (normalise first)."""
    if np.nanmin(X) < 0:
        raise InputError.single("spec", "weight: entropy weights need values of 0 or above (lowest "
                                f"{np.nanmin(X):.4g}); place the weight step after normalise: minmax",
                                column="method")
    return by_data(X, ctx, scored, _plain(entropy_weights), "entropy", "entropy", levels, _spread)


@register("weight", "critic", check=check_levels)
def critic_method(X: np.ndarray, ctx: Context, scored: Scored | None = None, *,
                  levels: list[int] | None = None) -> Weighting:
    """CRITIC weights of each parent's children from the data at this point."""
    return by_data(X, ctx, scored, _plain(critic_weights), "critic", "critic", levels, _correlations)


def check_optimise(ctx: Context, *, targets: dict[str, float] | None = None,
                   levels: list[int] | None = None) -> list[Problem]:
    """Targets name nodes of the levels weighed (the indicators by default), with positive importances."""
    if problems := check_levels(ctx, levels=levels):
        return problems
    c = ctx.compiled
    weighed = [n for level in weighed_levels(levels) for n in c.nodes[c.level_slices[level - 1]]]
    what = "an indicator" if not levels or set(levels) == {1} else "a node of the levels weighed"
    return [Problem("spec", f"weight: targets: {node!r} is not {what}{did_you_mean(node, weighed)}"
                    if node not in weighed else f"weight: targets: {node!r} must be positive",
                    column=f"targets.{node}")
            for node, v in (targets or {}).items() if node not in weighed or not float(v) > 0]


@register("weight", "optimise", check=check_optimise)
def optimise_method(X: np.ndarray, ctx: Context, scored: Scored | None = None, *,
                    targets: dict[str, float] | None = None, levels: list[int] | None = None) -> Weighting:
    """Weights balancing each child's correlation with its parent to the `targets` importances (by node; 1 where
    not named), as COINr's get_opt_weights does."""
    if problems := check_optimise(ctx, targets=targets, levels=levels):
        raise InputError(problems)
    importance = np.array([float((targets or {}).get(n, 1.0)) for n in ctx.compiled.nodes])
    return by_data(X, ctx, scored, lambda Y, idx: (optimise_weights(Y, importance[idx]), None), "optimise",
                   "optimise (balanced correlations with the parent)", levels, _correlations)


def check_fit(ctx: Context, *, target: str) -> list[Problem]:
    """The target must be a numeric column the build read besides the indicators (a numeric column of the cities
    table, or a denominator column of COINr's iData), with a value for at least as many units as the largest
    parent has indicators to weigh (`_unknowns`)."""
    if target not in ctx.denominators:
        known = list(ctx.denominators)
        return [Problem("spec", f"weight: target {target!r} is not a numeric column of the cities table"
                        f"{did_you_mean(target, known)}" + (f"; columns: {', '.join(known)}" if known else
                                                            "; the cities table has no numeric column"),
                        column="target")]
    values = int(np.count_nonzero(~np.isnan(ctx.denominators[target])))
    need = max((_unknowns(len(idx)) for _, idx in parents_at(ctx, 1)), default=0)
    if values >= need:
        return []
    return [Problem("spec", f"weight: target {target!r} has {f'only {values}' if values else 'no'} values; "
                    f"fitting the weights of {need} indicators needs its value for at least {need} units",
                    column="target")]


@register("weight", "fit", check=check_fit)
def fit_method(X: np.ndarray, ctx: Context, *, target: str) -> Weighting:
    """The weights that best reproduce a published index (`target`, a numeric column of the cities table: read
    with the cities, never scored) as the weighted sum of the indicators of its one parent; the residuals go to
    the processing log. The indicators must be on the index's own scale where the step meets them and where
    aggregate does (a pipeline without normalisation reproduces the index itself)."""
    if problems := check_fit(ctx, target=target):
        raise InputError(problems)
    t = ctx.denominators[target]
    X = np.where(np.isnan(t)[:, None], np.nan, X)  # a unit without the target has nothing to fit

    def fitted(Y, idx):
        w, residuals = fit_weights(Y, t)
        return w, (f"fit to {target}: max abs residual {np.nanmax(np.abs(residuals)):.4g}, "
                   f"RMSE {np.sqrt(np.nanmean(residuals**2)):.4g} over {int((~np.isnan(residuals)).sum())} units")

    return by_data(X, ctx, None, fitted, "fit", f"fit (least squares to {target})", least=_unknowns,
                   present="every indicator and the target present")


def _children(ctx: Context, parent: str) -> list[str]:
    return ctx.framework.children.get(parent, [])


def check_ahp(ctx: Context, *, matrices: dict[str, list[list[float]]]) -> list[Problem]:
    """Each matrix names an aggregate node and is a usable comparison matrix of its children (framework order)."""
    problems = []
    aggregates = list(ctx.compiled.nodes[ctx.compiled.n_leaves:])
    for parent, M in matrices.items():
        if parent not in aggregates:
            problems.append(Problem("spec", f"weight: matrices: {parent!r} is not an aggregate node"
                                            f"{did_you_mean(parent, aggregates)}", column=f"matrices.{parent}"))
            continue
        problems += [Problem("spec", f"weight: matrices: {parent!r}: the matrix {p} (rows and columns: "
                                     f"{', '.join(_children(ctx, parent))})", column=f"matrices.{parent}")
                     for p in matrix_problems(M, len(_children(ctx, parent)))]
    return problems


@register("weight", "ahp", check=check_ahp)
def ahp_method(X: np.ndarray, ctx: Context, *, matrices: dict[str, list[list[float]]]) -> Weighting:
    """AHP weights of each named parent's children from its pairwise comparison matrix (rows and columns in the
    framework's order of the children; a_ij = how much more child i matters than child j). Parents not named keep
    the framework's weights. A consistency ratio above 0.1 is a warning."""
    if problems := check_ahp(ctx, matrices=matrices):
        raise InputError(problems)
    c = ctx.compiled
    w = c.weights.copy()
    notes, warnings = [], []
    for parent, M in matrices.items():
        wp, cr, lam = ahp(np.asarray(M, dtype=float))
        w[[c.nodes.index(k) for k in _children(ctx, parent)]] = wp
        said = f"AHP {parent!r}: consistency ratio {cr:.3f} (λmax {lam:.4f})"
        (warnings if cr > CR_LIMIT else notes).append(said + (f", above {CR_LIMIT}: the judgements contradict "
                                                               "each other" if cr > CR_LIMIT else ""))
    return Weighting(np.tile(w, (_runs(X), 1)), "ahp (principal eigenvector)", tuple(notes), tuple(warnings))


def check_budget(ctx: Context, *, experts: list[dict[str, float]], expert: int | None = None) -> list[Problem]:
    """Experts allocate points to nodes the framework has, among all the children of a parent or none of them
    (points are shares of what the expert gave that parent), by the rule of the framework's weights (finite, zero or
    positive, not all 0 within a parent); `expert` picks one of them."""
    problems = []
    for i, allocation in enumerate(experts):
        for parent, kids in ctx.framework.children.items():
            named = [k for k in kids if k in allocation]
            if named and len(named) < len(kids):
                left = [k for k in kids if k not in allocation]
                problems.append(Problem("spec", f"weight: experts: expert {i + 1} allocates points within "
                                                f"{parent!r} but not to {', '.join(map(repr, left))}; give every "
                                                "child of a parent points, or none", column=f"experts.{i}"))
        problems += [Problem("spec", f"weight: experts: expert {i + 1}: unknown node {node!r}"
                                     f"{did_you_mean(node, ctx.framework.by_id)}", column=f"experts.{i}")
                     for node in allocation if node not in ctx.framework.by_id]
        problems += [Problem("spec", f"weight: experts: expert {i + 1}: node {node!r}: {fault}", column=f"experts.{i}")
                     for node, fault in ctx.framework.weight_faults(allocation)]
    if not experts:
        problems.append(Problem("spec", "weight: experts: at least one expert's allocation is needed",
                                column="experts"))
    if expert is not None and not 0 <= expert < len(experts):
        problems.append(Problem("spec", f"weight: expert {expert} is not one of the {len(experts)} experts "
                                        f"(0 to {len(experts) - 1})", column="expert"))
    return problems


@register("weight", "budget", check=check_budget)
def budget_method(X: np.ndarray, ctx: Context, *, experts: list[dict[str, float]],
                  expert: int | None = None) -> Weighting:
    """Budget allocation: each expert's points, as shares within each parent, averaged over the experts (a parent
    an expert leaves out keeps the framework's shares). `expert` (0-based) takes one expert's allocation instead: an
    uncertainty factor over `expert` makes the experts' disagreement a source of rank uncertainty."""
    if problems := check_budget(ctx, experts=experts, expert=expert):
        raise InputError(problems)
    c = ctx.compiled
    chosen = experts if expert is None else [experts[expert]]
    shares = []
    for allocation in chosen:
        w = np.array([float(allocation.get(n, wn)) for n, wn in zip(c.nodes, c.weights)])
        shares.append(within_parent(c, w))
    w = np.mean(shares, axis=0)
    label = f"budget (mean of {len(experts)} experts)" if expert is None else f"budget (expert {expert})"
    spread = np.std(shares, axis=0) if len(shares) > 1 else np.zeros_like(w)
    top = int(np.argmax(spread))
    notes = (f"experts disagree most on {c.nodes[top]!r}: share sd {spread[top]:.3f}",) if len(shares) > 1 else ()
    return Weighting(np.tile(w, (_runs(X), 1)), label, notes)


def within_parent(c, w: np.ndarray) -> np.ndarray:
    """Node weights as shares of their parent's total (the root keeps 1): each child's entry of the aggregation
    matrices these weights give."""
    out = np.ones_like(w)
    for matrix, sl in zip(c.matrices_for(w), c.level_slices):
        out[sl] = matrix.sum(axis=-1)
    return np.nan_to_num(out)

