"""Outlier treatment: winsorise one extreme point at a time until skew and kurtosis pass, else transform.

Follows the JRC/COINr procedure: an indicator fails when |skew| ≥ `skew` and kurtosis ≥ `kurtosis`.
A failing indicator has its most extreme value on the side of the skew replaced by the next one, re-checked
after each point, up to `max_points`. If it still fails, the *original* values get the fallback transform.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .registry import register
from .stats import passes, skew


def log_ct(x: np.ndarray) -> np.ndarray:
    """COIN Tool log: log(x − min + 0.01·(max − min)), defined for any sign of x."""
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def boxcox(x: np.ndarray, lam: float) -> np.ndarray:
    """Box-Cox with a fixed lambda after shifting so the minimum is 1."""
    y = x - np.nanmin(x) + 1
    return np.log(y) if lam == 0 else (y**lam - 1) / lam


def winsorise_column(x: np.ndarray, max_points: int, skew_limit: float, kurtosis_limit: float) -> tuple[np.ndarray, bool]:
    """One column winsorised point by point; returns the values and whether they now pass."""
    x = x.copy()
    treated_high = treated_low = 0
    ok = bool(passes(x[None, :], skew_limit, kurtosis_limit)[0])
    while not ok and treated_high + treated_low < max_points:
        if skew(x[None, :])[0] >= 0:
            top = np.nanmax(x)
            hit = x == top
            x[hit] = np.nanmax(np.where(hit, np.nan, x))
            treated_high = int(hit.sum())
        else:
            bottom = np.nanmin(x)
            hit = x == bottom
            x[hit] = np.nanmin(np.where(hit, np.nan, x))
            treated_low = int(hit.sum())
        ok = bool(passes(x[None, :], skew_limit, kurtosis_limit)[0])
    return x, ok


FALLBACKS = {"log": log_ct, "none": None}


@register("treat", "none")
def none(X: np.ndarray, ctx: Context) -> np.ndarray:
    return X


@register("treat", "winsorise")
def winsorise(X: np.ndarray, ctx: Context, *, max_points: int = 5, skew: float = 2.0, kurtosis: float = 3.5,
              fallback: str = "log", boxcox_lambda: float | None = None) -> np.ndarray:
    """Winsorise failing indicators (per run), falling back to `log` (COINr's log_CT), `boxcox` or `none`."""
    if fallback not in ("log", "boxcox", "none"):
        from ..errors import InputError, one_of

        raise InputError.single("spec", "treat: fallback " + one_of(fallback, ("log", "boxcox", "none")))
    out = X.copy()
    ok = passes(X, skew, kurtosis)  # (runs, indicators)
    for r, j in zip(*np.nonzero(~ok)):
        col, fixed = winsorise_column(X[r, :, j], max_points, skew, kurtosis)
        if not fixed and fallback == "log":
            col = log_ct(X[r, :, j])
        elif not fixed and fallback == "boxcox":
            col = boxcox(X[r, :, j], 0.0 if boxcox_lambda is None else boxcox_lambda)
        out[r, :, j] = col
    return out


@register("treat", "boxcox")
def boxcox_all(X: np.ndarray, ctx: Context, *, lam: float = 0.0, skew: float = 2.0, kurtosis: float = 3.5) -> np.ndarray:
    """Box-Cox transform of the indicators that fail the skew/kurtosis rule."""
    out = X.copy()
    ok = passes(X, skew, kurtosis)
    for r, j in zip(*np.nonzero(~ok)):
        out[r, :, j] = boxcox(X[r, :, j], lam)
    return out


def treatment_details(before: np.ndarray, after: np.ndarray) -> list[dict]:
    """What treatment did to each column of one run (units × indicators): derived by comparing the stages."""
    rows = []
    for j in range(before.shape[1]):
        b, a = before[:, j], after[:, j]
        present = ~np.isnan(b)
        changed = present & ~np.isclose(a, b, rtol=0, atol=0, equal_nan=True)
        if not changed.any():
            rows.append({"high": 0, "low": 0, "transformed": False})
        elif changed.sum() == present.sum() and present.sum() > 2:
            rows.append({"high": 0, "low": 0, "transformed": True})
        else:
            rows.append({"high": int((changed & (a < b)).sum()), "low": int((changed & (a > b)).sum()),
                         "transformed": False})
    return rows
