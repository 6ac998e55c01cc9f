"""Column statistics shared by treatment and the audit: bias-adjusted skewness and excess kurtosis.

These are the sample estimators of type 2 in e1071 (Excel's SKEW and KURT), which COINr uses to decide
whether an indicator has outliers. All work along one axis (units by default) and ignore NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .threads import map_threads, row_chunks


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
    """`Sums` of every column, ignoring NaN, in two passes over chunks: the means, then the powers of the
    deviations from them, each power built in place from the deviations (products, not pow). Why chunks: a pass
    over a whole large array goes to memory for each of its dozen operations, a chunk stays in cache. A chunk
    is some units of one run, or some whole runs when a run is small; the chunks run on every core, and their
    partial sums are added in order, so the number of cores changes no bit."""
    A = np.moveaxis(X, axis, -2)  # (..., units, columns)
    lead, (n, columns) = A.shape[:-2], A.shape[-2:]
    A = A.reshape(-1, n, columns)
    of_a_run = row_chunks(n, columns)
    items = [(runs, units) for runs in row_chunks(len(A), n * columns) for units in of_a_run]
    worth_it = A.size >= 1_000_000

    def added(parts: list) -> np.ndarray:  # (runs, columns): each run's partial sums, in order
        step = len(of_a_run)
        return np.concatenate([np.sum(parts[i:i + step], axis=0) for i in range(0, len(parts), step)])

    counts, totals = zip(*map_threads(lambda item: _count_and_total(A[item]), items, worth_it=worth_it))
    count = added(counts)
    with np.errstate(all="ignore"):  # an all-missing column has no mean: it stays NaN
        mean = added(totals) / count
    powers = zip(*map_threads(lambda item: _power_sums(A[item], mean[item[0], None]), items, worth_it=worth_it))
    shaped = (np.moveaxis(a.reshape(*lead, 1, columns), -2, axis) for a in (count, mean, *map(added, powers)))
    return Sums(*shaped)


def _count_and_total(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(runs, units, columns) → per run and column: the values present, and their sum."""
    missing = np.isnan(chunk)
    return ((chunk.shape[1] - missing.sum(axis=1)).astype(float), np.where(missing, 0.0, chunk).sum(axis=1))


def _power_sums(chunk: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, ...]:
    """(runs, units, columns) and the runs' means (runs, 1, columns) → the sums of the first four powers of the
    deviations, per run and column."""
    d = chunk - mean
    np.putmask(d, np.isnan(chunk), 0.0)
    d2 = d * d
    s1, s2 = d.sum(axis=1), d2.sum(axis=1)
    s3 = np.multiply(d, d2, out=d).sum(axis=1)
    return s1, s2, s3, np.multiply(d2, d2, out=d2).sum(axis=1)


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
