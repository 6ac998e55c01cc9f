"""Column statistics shared by treatment and the audit: bias-adjusted skewness and excess kurtosis.

These are the sample estimators of type 2 in e1071 (Excel's SKEW and KURT), which COINr uses to decide
whether an indicator has outliers. All work along one axis (units by default) and ignore NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .threads import WORKERS, blocks, map_threads


class Sums(NamedTuple):
    """Per column: the count of values, their mean, and the sums of the first four powers of the deviations
    from that mean (keeping the reduced axis)."""

    n: np.ndarray
    mean: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    s3: np.ndarray
    s4: np.ndarray


def central_sums(X: np.ndarray, axis: int = 1) -> Sums:
    """`Sums` of every column, ignoring NaN. Why this shape: the deviations are formed once and every power is
    built in place from them (products, not pow), so a large array costs two temporaries instead of five; blocks
    of columns run on every core. Each column is still summed over units in order, so blocks change no bit."""
    A = np.moveaxis(X, axis, -2)  # (..., units, columns)
    columns = blocks(A.shape[-1], 4 * WORKERS) or [slice(None)]  # (no columns: one empty block)
    parts = map_threads(lambda sl: _sums(A[..., sl]), columns, worth_it=A.size >= 1_000_000)
    return Sums(*(np.moveaxis(np.concatenate(p, axis=-1), -2, axis) for p in zip(*parts)))


def _sums(A: np.ndarray) -> tuple[np.ndarray, ...]:
    missing = np.isnan(A)
    count = A.shape[-2] - missing.sum(axis=-2, keepdims=True)
    d = np.where(missing, 0.0, A)
    with np.errstate(all="ignore"):  # an all-missing column has no mean: it stays NaN
        mean = d.sum(axis=-2, keepdims=True) / count
    np.subtract(d, mean, out=d)
    np.putmask(d, missing, 0.0)
    s1 = d.sum(axis=-2, keepdims=True)
    d2 = d * d
    s2 = d2.sum(axis=-2, keepdims=True)
    s3 = np.multiply(d, d2, out=d).sum(axis=-2, keepdims=True)
    s4 = np.multiply(d2, d2, out=d2).sum(axis=-2, keepdims=True)
    return count.astype(float), mean, s1, s2, s3, s4


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
    s = central_sums(X, axis)
    return np.squeeze(skew_from(s.n, s.s2, s.s3), axis=axis)


def kurtosis(X: np.ndarray, axis: int = 1) -> np.ndarray:
    """Excess kurtosis (0 for a normal distribution), bias-adjusted."""
    s = central_sums(X, axis)
    return np.squeeze(kurtosis_from(s.n, s.s2, s.s4), axis=axis)


def passes_sums(s: Sums, skew_limit: float, kurtosis_limit: float) -> np.ndarray:
    """`passes` from sums already computed (keeping the reduced axis)."""
    g, k = skew_from(s.n, s.s2, s.s3), kurtosis_from(s.n, s.s2, s.s4)
    return (np.abs(g) < skew_limit) | (k < kurtosis_limit) | np.isnan(g) | np.isnan(k)


def passes(X: np.ndarray, skew_limit: float, kurtosis_limit: float, axis: int = 1) -> np.ndarray:
    """True where a column has no outlier problem: |skew| < limit or kurtosis < limit (COINr's rule).

    A column whose skew cannot be computed (constant, or too few points) passes: there is nothing to treat.
    """
    return np.squeeze(passes_sums(central_sums(X, axis), skew_limit, kurtosis_limit), axis=axis)
