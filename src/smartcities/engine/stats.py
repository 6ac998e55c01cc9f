"""Column statistics shared by treatment and the audit: bias-adjusted skewness and excess kurtosis.

These are the sample estimators of type 2 in e1071 (Excel's SKEW and KURT), which COINr uses to decide
whether an indicator has outliers. All work along one axis (units by default) and ignore NaN.
"""

from __future__ import annotations

import warnings

import numpy as np


def _moments(X: np.ndarray, axis: int):
    """Count and central sums of squares, cubes and fourth powers (products, not pow: much faster)."""
    missing = np.isnan(X)
    n = X.shape[axis] - missing.sum(axis=axis, keepdims=True).astype(float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no mean: it stays NaN
        d = X - np.nanmean(X, axis=axis, keepdims=True) if missing.any() else X - X.mean(axis=axis, keepdims=True)
    d[missing] = 0.0
    d2 = d * d
    return n, d2.sum(axis=axis, keepdims=True), (d2 * d).sum(axis=axis, keepdims=True), \
        (d2 * d2).sum(axis=axis, keepdims=True)


def skew_from(n, m2, m3):
    with np.errstate(all="ignore"):
        out = np.sqrt(n) * m3 / m2**1.5 * np.sqrt(n * (n - 1)) / (n - 2)
    return np.where(n >= 3, out, np.nan)


def kurtosis_from(n, m2, m4):
    with np.errstate(all="ignore"):
        r = n * m4 / m2**2
        out = ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    return np.where(n >= 4, out, np.nan)


def skew(X: np.ndarray, axis: int = 1) -> np.ndarray:
    n, m2, m3, _ = _moments(X, axis)
    return np.squeeze(skew_from(n, m2, m3), axis=axis)


def kurtosis(X: np.ndarray, axis: int = 1) -> np.ndarray:
    """Excess kurtosis (0 for a normal distribution), bias-adjusted."""
    n, m2, _, m4 = _moments(X, axis)
    return np.squeeze(kurtosis_from(n, m2, m4), axis=axis)


def passes(X: np.ndarray, skew_limit: float, kurtosis_limit: float, axis: int = 1) -> np.ndarray:
    """True where a column has no outlier problem: |skew| < limit or kurtosis < limit (COINr's rule).

    A column whose skew cannot be computed (constant, or too few points) passes: there is nothing to treat.
    """
    n, m2, m3, m4 = _moments(X, axis)
    s, k = skew_from(n, m2, m3), kurtosis_from(n, m2, m4)
    ok = (np.abs(s) < skew_limit) | (k < kurtosis_limit) | np.isnan(s) | np.isnan(k)
    return np.squeeze(ok, axis=axis)
