"""Outlier treatment: winsorise one extreme point at a time until skew and kurtosis pass, else transform.

Follows the JRC/COINr procedure: an indicator fails when |skew| ≥ `skew` and kurtosis ≥ `kurtosis`.
A failing indicator has its most extreme value on the side of the skew replaced by the next one, re-checked
after each point, up to `max_points`. If it still fails, the *original* values get the fallback transform.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, Problem, one_of
from .context import Context
from .layout import moved_last, put_columns
from .registry import Count, Positive, register
from .stats import central_sums, kurtosis_from, passes, passes_sums, skew_from
from .threads import map_threads, row_chunks


def log_ct(x: np.ndarray) -> np.ndarray:
    """COIN Tool log: log(x − min + 0.01·(max − min)), defined for any sign of x."""
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def boxcox(x: np.ndarray, lam: float) -> np.ndarray:
    """Box-Cox with a fixed lambda after shifting so the minimum is 1."""
    y = x - np.nanmin(x) + 1
    return np.log(y) if lam == 0 else (y**lam - 1) / lam


class _Moments:
    """Running power sums of a column's values about a fixed shift (their mean, for precision), so that skew and
    kurtosis after replacing a few extreme points cost O(1) instead of a pass over the data."""

    def __init__(self, n: float, sums: list[float]):
        self.n, self.s = n, sums

    @classmethod
    def of(cls, y: np.ndarray) -> _Moments:
        """The sums of values `y` already shifted."""
        y2 = y * y
        return cls(float(y.size), [float(y.sum()), float(y2.sum()), float((y2 * y).sum()), float((y2 * y2).sum())])

    def move(self, count: int, old: float, new: float) -> None:
        """`count` points that were at `old` are now at `new`."""
        for k in range(4):
            self.s[k] += count * (new ** (k + 1) - old ** (k + 1))

    def passes(self, skew_limit: float, kurtosis_limit: float) -> bool:
        n, (s1, s2, s3, s4) = self.n, self.s
        a = s1 / n
        m2 = s2 - n * a * a
        if n < 4 or m2 <= 1e-300 * max(1.0, abs(s2)):
            return True
        m3 = s3 - 3 * a * s2 + 2 * n * a**3
        m4 = s4 - 4 * a * s3 + 6 * a * a * s2 - 3 * n * a**4
        g, k = skew_from(n, m2, m3), kurtosis_from(n, m2, m4)
        return bool(abs(g) < skew_limit or k < kurtosis_limit)

    def skew_sign(self) -> float:
        n, (s1, s2, s3, _) = self.n, self.s
        a = s1 / n
        return s3 - 3 * a * s2 + 2 * n * a**3


def winsorise_column(x: np.ndarray, max_points: int, skew_limit: float,
                     kurtosis_limit: float) -> tuple[np.ndarray, bool]:
    """One column winsorised point by point; returns the values and whether they now pass."""
    present = x[~np.isnan(x)]
    if present.size < 4:
        return x.copy(), True
    shift = present.mean()
    floor, cap, ok = winsorised_limits(present, shift, _Moments.of(present - shift), max_points, skew_limit,
                                       kurtosis_limit)
    return np.clip(x, floor, cap), ok


def winsorised_limits(present: np.ndarray, shift: float, moments: _Moments, max_points: int, skew_limit: float,
                      kurtosis_limit: float) -> tuple[float, float, bool]:
    """The floor and cap that point-by-point winsorising reaches, and whether the values then pass.

    Each step replaces every point at the current extreme (on the side of the skew) by the next distinct value,
    so after some steps the column is the original clipped to [floor, cap]; the number of points treated is the
    number of values beyond the cap plus those beyond the floor. Why only a partial sort: fewer than
    `max_points` steps reach no further than the `max_points + 1` values at each end, unless ties at an end
    leave steps to take; then the whole column is sorted. The values at each end are found from a sample: the
    m-th largest of a sample is at most the m-th largest of all, so every value above it includes the top m."""
    ends = max_points + 1
    if present.size >= 2 * SAMPLE_EVERY * ends:
        sample = np.sort(present[::SAMPLE_EVERY])
        low = np.sort(present[present <= sample[ends - 1]])
        high = np.sort(present[present >= sample[-ends]])
        found = _walk(low, high, shift, moments, max_points, skew_limit, kurtosis_limit)
        if found is not None:
            return found
    ordered = np.sort(present)
    return _walk(ordered, ordered, shift, moments, max_points, skew_limit, kurtosis_limit)


SAMPLE_EVERY = 64  # about 64 values per point that may be treated are sorted at each end


def _walk(low: np.ndarray, high: np.ndarray, shift: float, start: _Moments, max_points: int, skew_limit: float,
          kurtosis_limit: float) -> tuple[float, float, bool] | None:
    """The steps of winsorising over the sorted lowest values `low` and highest `high` (both the whole sorted
    column when it is sorted); None when a step needs a value beyond them."""
    moments = _Moments(start.n, list(start.s))
    lows, highs = _distinct(low), _distinct(high)
    floor_at, cap_at = 0, highs.size - 1
    treated_high = treated_low = 0
    ok = moments.passes(skew_limit, kurtosis_limit)
    while not ok and treated_high + treated_low < max_points and lows[floor_at] < highs[cap_at]:
        if moments.skew_sign() >= 0:
            if cap_at == 0:
                return None
            old, new = highs[cap_at], highs[cap_at - 1]
            treated_high = int(high.size - np.searchsorted(high, new, side="right"))
            moments.move(treated_high, old - shift, new - shift)
            cap_at -= 1
        else:
            if floor_at == lows.size - 1:
                return None
            old, new = lows[floor_at], lows[floor_at + 1]
            treated_low = int(np.searchsorted(low, new, side="left"))
            moments.move(treated_low, old - shift, new - shift)
            floor_at += 1
        ok = moments.passes(skew_limit, kurtosis_limit)
    return lows[floor_at], highs[cap_at], ok


def _distinct(ordered: np.ndarray) -> np.ndarray:
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


@register("treat", "none")
def none(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Leave every value as it is."""
    return X


FALLBACKS = ("log", "boxcox", "none")


def known_fallback(ctx: Context, *, fallback: str = "log", **_) -> list[Problem]:
    if fallback in FALLBACKS:
        return []
    return [Problem("spec", "treat: fallback " + one_of(fallback, FALLBACKS), column="fallback")]


@register("treat", "winsorise", check=known_fallback)
def winsorise(X: np.ndarray, ctx: Context, *, max_points: Count = 5, skew: Positive = 2.0, kurtosis: Positive = 3.5,
              fallback: str = "log", boxcox_lambda: float | None = None) -> np.ndarray:
    """Winsorise failing indicators (per run), falling back to `log` (COINr's log_CT), `boxcox` or `none`."""
    if problems := known_fallback(ctx, fallback=fallback):
        raise InputError(problems)
    sums = central_sums(X)
    failing = ~np.squeeze(passes_sums(sums, skew, kurtosis), axis=1)  # (runs, indicators)
    if not failing.any():
        return X

    def treat_column(item: tuple[np.ndarray, int, int]) -> np.ndarray:
        x, r, j = item  # column j of run r
        moments = _Moments(float(sums.n[r, 0, j]), [float(s[r, 0, j]) for s in sums[2:]])
        floor, cap, fixed = winsorised_limits(x[~np.isnan(x)], float(sums.mean[r, 0, j]), moments, max_points,
                                              skew, kurtosis)
        if not fixed and fallback == "log":
            return log_ct(x)
        if not fixed and fallback == "boxcox":
            return boxcox(x, 0.0 if boxcox_lambda is None else boxcox_lambda)
        return np.clip(x, floor, cap)

    out = X.copy()
    for r, fails in enumerate(failing):
        cols = np.flatnonzero(fails)
        columns = moved_last(X[r][:, cols], 0)  # one copy makes every failing column contiguous
        items = [(x, r, j) for x, j in zip(columns, cols)]
        for i, col in enumerate(map_threads(treat_column, items, worth_it=X.shape[1] >= 10_000)):
            columns[i] = col
        put_columns(out[r], cols, columns)
    return out


@register("treat", "boxcox")
def boxcox_all(X: np.ndarray, ctx: Context, *, lam: float = 0.0, skew: Positive = 2.0,
               kurtosis: Positive = 3.5) -> np.ndarray:
    """Box-Cox transform of the indicators that fail the skew/kurtosis rule."""
    out = X.copy()
    ok = passes(X, skew, kurtosis)
    for r, j in zip(*np.nonzero(~ok)):
        out[r, :, j] = boxcox(X[r, :, j], lam)
    return out


def treatment_details(before: np.ndarray, after: np.ndarray) -> list[dict]:
    """What treatment did to each column of one run (units × indicators): derived by comparing the stages.

    A column is transformed when every one of its (more than two) present values changed; otherwise its values
    that went down were clipped high and those that went up clipped low. Counted over chunks of units, on every
    core."""
    def counts(rows: slice) -> np.ndarray:
        b, a = before[rows], after[rows]
        present = ~np.isnan(b)
        return np.stack([np.count_nonzero(a < b, axis=0), np.count_nonzero(a > b, axis=0),
                         np.count_nonzero(present & np.isnan(a), axis=0),  # changed, but neither down nor up
                         np.count_nonzero(present, axis=0)])

    parts = map_threads(counts, row_chunks(*before.shape), worth_it=before.size >= 1_000_000)
    high, low, blanked, counted = np.sum(parts, axis=0)
    changed = high + low + blanked
    transformed = (changed > 0) & (changed == counted) & (counted > 2)
    return [{"high": 0, "low": 0, "transformed": True} if t else {"high": int(h), "low": int(lo), "transformed": False}
            for h, lo, t in zip(high, low, transformed)]
