"""Column statistics shared by treatment and the audit: bias-adjusted skewness and excess kurtosis.

These are the sample estimators of type 2 in e1071 (Excel's SKEW and KURT), which COINr uses to decide
whether an indicator has outliers. All work along axis 1 (units) and ignore NaN.
"""

from __future__ import annotations

import numpy as np


def skew(X: np.ndarray, axis: int = 1) -> np.ndarray:
    n = np.sum(~np.isnan(X), axis=axis, keepdims=True).astype(float)
    d = X - np.nanmean(X, axis=axis, keepdims=True)
    m2 = np.nansum(d**2, axis=axis, keepdims=True)
    m3 = np.nansum(d**3, axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        g1 = np.sqrt(n) * m3 / m2**1.5
        out = g1 * np.sqrt(n * (n - 1)) / (n - 2)
    return np.squeeze(np.where(n >= 3, out, np.nan), axis=axis)


def kurtosis(X: np.ndarray, axis: int = 1) -> np.ndarray:
    """Excess kurtosis (0 for a normal distribution), bias-adjusted."""
    n = np.sum(~np.isnan(X), axis=axis, keepdims=True).astype(float)
    d = X - np.nanmean(X, axis=axis, keepdims=True)
    m2 = np.nansum(d**2, axis=axis, keepdims=True)
    m4 = np.nansum(d**4, axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        r = n * m4 / m2**2
        out = ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    return np.squeeze(np.where(n >= 4, out, np.nan), axis=axis)


def passes(X: np.ndarray, skew_limit: float, kurtosis_limit: float, axis: int = 1) -> np.ndarray:
    """True where a column has no outlier problem: |skew| < limit or kurtosis < limit (COINr's rule).

    A column whose skew cannot be computed (constant, or too few points) passes: there is nothing to treat.
    """
    s, k = skew(X, axis), kurtosis(X, axis)
    ok = (np.abs(s) < skew_limit) | (k < kurtosis_limit)
    return ok | np.isnan(s) | np.isnan(k)
