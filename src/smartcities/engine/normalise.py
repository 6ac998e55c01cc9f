"""Normalise indicators onto a common scale, after flipping direction −1 indicators so higher is better.

Every method works along the units axis of `(runs, units, indicators)`, ignoring missing values.
"""

from __future__ import annotations

import warnings
from typing import Annotated

import numpy as np
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from ..errors import InputError, Problem
from .context import Context
from .grade import ranks
from .registry import Positive, register


def oriented(X: np.ndarray, ctx: Context) -> np.ndarray:
    """The values as every normaliser sees them: direction −1 indicators flipped so higher is better."""
    return X * ctx.compiled.direction


def _nan_stats(fn, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(X, axis=1, keepdims=True)


def _rising(bounds: tuple[float, float]) -> tuple[float, float]:
    """A reversed scale would invert every ranking, and an empty one tie every unit."""
    if not bounds[0] < bounds[1]:
        raise PydanticCustomError("rising", "must be [low, high] with low below high")
    return bounds


Range = Annotated[tuple[float, float], AfterValidator(_rising)]

Pooled = dict[str, tuple[float, float]]
"""Fixed parameters of a normaliser, per indicator, on the oriented values (after the direction flip): min and max
of `minmax`, mean and sd of `zscore`. Editions give them (pooled over every edition, or a reference edition's) so
every edition is scaled alike and any one rebuilds alone."""


def pooled_stats(method: str, arrays: list[np.ndarray], indicators) -> Pooled:
    """The fixed parameters of `method` over several arrays of oriented values `(units, indicators)` at once
    (COINr's `global = TRUE`: the statistics of the stacked panel)."""
    stacked = np.concatenate(arrays, axis=0)[None]
    if method == "minmax":
        a, b = _nan_stats(np.nanmin, stacked), _nan_stats(np.nanmax, stacked)
    elif method == "zscore":
        a = _nan_stats(np.nanmean, stacked)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            b = np.nanstd(stacked, axis=1, ddof=1, keepdims=True)
    else:
        raise ValueError(f"no pooled parameters for normalise: {method}")
    return {ind: (float(x), float(y)) for ind, x, y in zip(indicators, a.ravel(), b.ravel())}


def check_pooled(ctx: Context, pooled: Pooled | None = None, **_) -> list[Problem]:
    lacking = [ind for ind in ctx.indicators if pooled is not None and ind not in pooled]
    if not lacking:
        return []
    return [Problem("spec", f"normalise: pooled has no parameters for {len(lacking)} indicator(s): "
                            f"{', '.join(lacking[:5])}{', …' if len(lacking) > 5 else ''}", column="pooled")]


def _fixed(pooled: Pooled, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    if problems := check_pooled(ctx, pooled):
        raise InputError(problems)
    a, b = np.array([pooled[ind] for ind in ctx.indicators], dtype=float).T
    return a.reshape(1, 1, -1), b.reshape(1, 1, -1)


@register("normalise", "minmax", check=check_pooled)
def minmax(X: np.ndarray, ctx: Context, *, range: Range = (0.0, 100.0),
           pooled: Pooled | None = None) -> np.ndarray:
    """(x − min) / (max − min), scaled to `range` [low, high], low below high; min and max per indicator from
    `pooled` when given (editions)."""
    lo, hi = float(range[0]), float(range[1])
    Y = oriented(X, ctx)
    if pooled is None:
        mn, mx = _nan_stats(np.nanmin, Y), _nan_stats(np.nanmax, Y)
    else:
        mn, mx = _fixed(pooled, ctx)
    with np.errstate(all="ignore"):  # in place: the same operations in the same order, one array instead of four
        Y -= mn
        Y /= mx - mn
        Y *= hi - lo
        Y += lo
    return Y


@register("normalise", "zscore", check=check_pooled)
def zscore(X: np.ndarray, ctx: Context, *, mean: float = 0.0, sd: Positive = 1.0,
           pooled: Pooled | None = None) -> np.ndarray:
    """Standard scores with the n−1 standard deviation, rescaled to the given mean and sd; the indicators' means
    and sds from `pooled` when given (editions)."""
    Y = oriented(X, ctx)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if pooled is None:
            m, s = np.nanmean(Y, axis=1, keepdims=True), np.nanstd(Y, axis=1, ddof=1, keepdims=True)
        else:
            m, s = _fixed(pooled, ctx)
        return (Y - m) / s * sd + mean


@register("normalise", "rank")
def rank(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Rank of each unit (1 = lowest value; ties share the lowest rank), so higher is better."""
    return ranks(-oriented(X, ctx))


@register("normalise", "percentile")
def percentile(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Percentile rank in [0, 1]: share of other units with a lower value (ties averaged)."""
    Y = oriented(X, ctx)
    r = ranks(-Y, ties="average")
    n = np.sum(~np.isnan(Y), axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        return (r - 1) / (n - 1)


@register("normalise", "borda")
def borda(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Borda score: the number of units each unit beats (rank − 1, ties at the lowest rank)."""
    return rank(X, ctx) - 1


def _needs(ctx: Context, attribute: str, method: str, what: str) -> list[Problem]:
    """Every indicator must carry `attribute` in the framework for `method` to be defined."""
    lacking = [ind for ind in ctx.indicators if getattr(ctx.framework.by_id[ind], attribute) is None]
    if not lacking:
        return []
    more = ", …" if len(lacking) > 5 else ""
    return [Problem("spec", f"normalise: {method} needs {what} on every indicator; {len(lacking)} of "
                            f"{len(ctx.indicators)} in {ctx.framework.source} have none: "
                            f"{', '.join(lacking[:5])}{more}")]


def has_goalposts(ctx: Context, **_) -> list[Problem]:
    return _needs(ctx, "goalposts", "goalposts", "goalposts: [lower, upper]")


def has_targets(ctx: Context, **_) -> list[Problem]:
    return _needs(ctx, "target", "distance-to-target", "a target")


@register("normalise", "goalposts", check=has_goalposts)
def goalposts(X: np.ndarray, ctx: Context, *, scale: Positive = 100.0, truncate: bool = True) -> np.ndarray:
    """Distance between the framework's goalposts (lower, upper), times `scale`; truncated to [0, scale].

    For a direction −1 indicator the lower goalpost is the good end, as in COINr's n_goalposts.
    """
    if problems := has_goalposts(ctx):
        raise InputError(problems)
    Y = _between_goalposts(X, ctx)
    if truncate:
        Y = np.clip(Y, 0, 1)
    return Y * scale


def _between_goalposts(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Each value's share of the way from the bad goalpost to the good one: below 0 or above 1 beyond them."""
    lo, hi = np.array([ctx.framework.by_id[ind].goalposts for ind in ctx.indicators], dtype=float).T
    d = ctx.compiled.direction
    return np.where(d > 0, (X - lo) / (hi - lo), (hi - X) / (hi - lo))


@register("normalise", "distance-to-max")
def distance_to_max(X: np.ndarray, ctx: Context, *, scale: Positive = 100.0) -> np.ndarray:
    """Share of the best value's distance from the worst: 1 − (max − x)/(max − min), times `scale`."""
    Y = oriented(X, ctx)
    mn, mx = _nan_stats(np.nanmin, Y), _nan_stats(np.nanmax, Y)
    with np.errstate(all="ignore"):
        return (1 - (mx - Y) / (mx - mn)) * scale


@register("normalise", "distance-to-target", check=has_targets)
def distance_to_target(X: np.ndarray, ctx: Context, *, scale: Positive = 100.0, cap: bool = True) -> np.ndarray:
    """Progress from the worst value to the indicator's target, capped at the target (COINr's n_dist2targ).

    Direction +1: (x − min)/(target − min); direction −1: (max − x)/(max − target).
    """
    if problems := has_targets(ctx):
        raise InputError(problems)
    Y = _towards_target(X, ctx)
    if cap:
        Y = np.minimum(Y, 1)
    return Y * scale


def _towards_target(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Each value's progress from the worst value to the target: above 1 past the target."""
    t = np.array([ctx.framework.by_id[ind].target for ind in ctx.indicators], dtype=float)
    d = ctx.compiled.direction
    mn, mx = _nan_stats(np.nanmin, X), _nan_stats(np.nanmax, X)
    with np.errstate(all="ignore"):
        return np.where(d > 0, (X - mn) / (t - mn), (mx - X) / (mx - t))


def clipped(X: np.ndarray, ctx: Context, method: str, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Where normalising `X` (runs, units, indicators) with `method` clips a value to an end of its scale: the
    values beyond the good goalpost or past the target (high), and those beyond the bad goalpost (low). Why: the
    processing log counts every clipped value, as it counts winsorising's."""
    none = np.zeros(X.shape, bool)
    with np.errstate(all="ignore"):
        if method == "goalposts" and params.get("truncate", True):
            share = _between_goalposts(X, ctx)
            return share > 1, share < 0
        if method == "distance-to-target" and params.get("cap", True):
            return _towards_target(X, ctx) > 1, none
    return none, none
