"""Ranks (1 = best, ties share the lowest rank), grades 1–5 and letter ratings within peer groups."""

from __future__ import annotations

import math

import numpy as np

from .registry import register
from .threads import WORKERS, blocks, map_threads

LETTERS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


def ranks(scores: np.ndarray, axis: int = 1, *, ties: str = "min") -> np.ndarray:
    """Rank of each unit along `axis` (units): 1 for the highest score, NaN for missing scores. Tied units share
    the lowest rank (`ties="min"`, as in published rankings) or the mean of their positions (`"average"`).
    One sort per column, blocks of columns on every core; NaN sorts last so it never takes a rank."""
    moved = np.moveaxis(scores, axis, -1)
    A = np.negative(moved, out=np.empty(moved.shape))  # each column contiguous, highest first
    columns = A.reshape(math.prod(A.shape[:-1]), A.shape[-1])
    out = np.empty(columns.shape)

    def rank_block(block: slice) -> None:
        for c in range(block.start, block.stop):
            out[c] = _ranks(columns[c], ties)

    map_threads(rank_block, blocks(len(columns), 4 * WORKERS), worth_it=scores.size >= 1_000_000)
    return np.moveaxis(out.reshape(A.shape), -1, axis)


def _ranks(a: np.ndarray, ties: str) -> np.ndarray:
    """Ranks of one column (1 for the lowest value), by runs of tied values in sorted order. Why one column at a
    time: the column and its order stay in cache, where gathering by an order across many columns does not."""
    order = np.argsort(a)
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


@register("grade", "quantile")
def quantile_grades(scores: np.ndarray, *, n: int = 5) -> np.ndarray:
    """Grade 1 (top) to n by equal-sized quantile bands of the score along axis 1."""
    return quantile_grades_of(ranks(scores), scores, n=n)


def quantile_grades_of(ranked: np.ndarray, scores: np.ndarray, *, n: int = 5) -> np.ndarray:
    """`quantile_grades` from the scores' ranks, for a caller that has them already (a build's stages do)."""
    g = ranked - 1
    count = np.sum(~np.isnan(scores), axis=1, keepdims=True)
    with np.errstate(all="ignore"):  # in place: floor((r − 1) / count · n) + 1
        g /= count
        g *= n
        np.floor(g, out=g)
        g += 1
    np.putmask(g, np.isnan(scores), np.nan)
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
