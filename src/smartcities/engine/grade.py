"""Ranks (1 = best, ties share the lowest rank), grades 1–5 and letter ratings within peer groups."""

from __future__ import annotations

import math

import numpy as np

from .layout import moved_last
from .registry import register
from .threads import WORKERS, blocks, map_threads

LETTERS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


SHORT_COLUMN = 256  # units: columns up to this long are ranked many at a time (faster below, slower above)


def ranks(scores: np.ndarray, axis: int = 1, *, ties: str = "min") -> np.ndarray:
    """Rank of each unit along `axis` (units): 1 for the highest score, NaN for missing scores. Tied units share
    the lowest rank (`ties="min"`, as in published rankings) or the mean of their positions (`"average"`).
    NaN sorts last so it never takes a rank. Long columns are ranked one at a time, blocks of columns on every
    core; short ones (few units, many runs or nodes) many at a time, since one sort call per short column costs
    more in the call than in the sort."""
    A = moved_last(scores, axis, negate=True)  # each column contiguous, highest first
    columns = A.reshape(math.prod(A.shape[:-1]), A.shape[-1])
    out = np.empty(columns.shape)
    short = columns.shape[1] <= SHORT_COLUMN
    per_block = max(1, 2**18 // max(1, columns.shape[1])) if short else 1

    def rank_block(block: slice) -> None:
        if short:
            out[block] = _ranks_many(columns[block], ties)
            return
        for c in range(block.start, block.stop):
            out[c] = _ranks(columns[c], ties)

    parts = max(1, -(-len(columns) // per_block)) if short else 4 * WORKERS
    map_threads(rank_block, blocks(len(columns), parts), worth_it=scores.size >= 1_000_000)
    return np.moveaxis(out.reshape(A.shape), -1, axis)


def _sort_key(a: np.ndarray) -> np.ndarray:
    """`a` with NaN as +inf, which sorts NaN last as before and lets NumPy take its vectorised sort (five times
    faster; it leaves arrays holding NaN to a slower one). Kept as it is when it holds +inf itself, which NaN
    must not tie with."""
    missing = np.isnan(a)
    if not missing.any() or np.isposinf(a).any():
        return a
    return np.where(missing, np.inf, a)


def _ranks(a: np.ndarray, ties: str) -> np.ndarray:
    """Ranks of one column (1 for the lowest value), by runs of tied values in sorted order. Why one column at a
    time: the column and its order stay in cache, where gathering by an order across many columns does not."""
    order = np.argsort(_sort_key(a))
    ordered = a[order]
    rank_sorted = np.arange(1.0, a.size + 1)
    tied = ordered[1:] == ordered[:-1]  # NaN is never tied
    if tied.any():
        starts = np.flatnonzero(np.r_[True, ~tied])  # where each run of tied values begins
        lengths = np.diff(starts, append=a.size)
        rank_sorted = np.repeat(starts + (1.0 if ties == "min" else (lengths - 1) / 2 + 1.0), lengths)
    if a.size and np.isnan(ordered[-1]):
        rank_sorted[a.size - np.count_nonzero(np.isnan(a)):] = np.nan  # NaN sorts last
    out = np.empty(a.size)
    out[order] = rank_sorted
    return out


def _ranks_many(a: np.ndarray, ties: str) -> np.ndarray:
    """`_ranks` of every row of a (rows, units) block at once: one sort along the rows, and each run of tied
    values found by carrying its first (and last) position along the sorted row."""
    n = a.shape[1]
    order = np.argsort(_sort_key(a), axis=1)
    ordered = np.take_along_axis(a, order, axis=1)
    position = np.arange(n)
    new_run = np.ones(a.shape, dtype=bool)
    np.not_equal(ordered[:, 1:], ordered[:, :-1], out=new_run[:, 1:])  # NaN is never tied
    first = np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
    if ties == "min":
        rank_sorted = first + 1.0
    else:
        ends = np.ones(a.shape, dtype=bool)
        ends[:, :-1] = new_run[:, 1:]
        last = np.minimum.accumulate(np.where(ends, position, n - 1)[:, ::-1], axis=1)[:, ::-1]
        rank_sorted = first + (last - first) / 2 + 1.0
    rank_sorted[np.isnan(ordered)] = np.nan  # NaN sorts last
    out = np.empty(a.shape)
    np.put_along_axis(out, order, rank_sorted, axis=1)
    return out


@register("grade", "quantile")
def quantile_grades(scores: np.ndarray, *, n: int = 5) -> np.ndarray:
    """Grade 1 (top) to n by equal-sized quantile bands of the score along axis 1."""
    return quantile_grades_of(ranks(scores), scores, n=n)


def quantile_grades_of(ranked: np.ndarray, scores: np.ndarray, *, n: int = 5) -> np.ndarray:
    """`quantile_grades` from the scores' ranks, for a caller that has them already (a build's stages do). A
    missing score has a missing rank, which stays missing through the arithmetic."""
    g = ranked - 1
    count = np.sum(~np.isnan(scores), axis=1, keepdims=True)
    with np.errstate(all="ignore"):  # in place: floor((r − 1) / count · n) + 1
        g /= count
        g *= n
        np.floor(g, out=g)
        g += 1
    return g


@register("grade", "cutoffs")
def cutoff_grades(scores: np.ndarray, *, cutoffs: tuple[float, ...] = (80, 60, 40, 20)) -> np.ndarray:
    """Grade 1 for scores at or above the first cut-off, 2 for the next band, …, len(cutoffs)+1 below all."""
    cuts = np.sort(np.asarray(cutoffs, dtype=float))[::-1]
    g = 1 + np.sum(scores[..., None] < cuts, axis=-1).astype(float)
    return np.where(np.isnan(scores), np.nan, g)


def letter_ratings(score: np.ndarray, peer_group: np.ndarray) -> np.ndarray:
    """IMD-style letters: within each peer group, units are split into ten equal bands AAA … D by rank."""
    out = np.full(score.shape, None, dtype=object)
    for label in np.unique(peer_group.astype(str)):
        members = (peer_group.astype(str) == label) & ~np.isnan(score)
        if not members.any():
            continue
        r = ranks(score[members], axis=0)
        band = np.floor((r - 1) / members.sum() * len(LETTERS)).astype(int)
        out[members] = [LETTERS[b] for b in band]
    return out
