"""Ranks (1 = best, ties share the lowest rank), grades 1–5 and letter ratings within peer groups."""

from __future__ import annotations

import numpy as np

from .registry import register
from .threads import WORKERS, blocks, map_threads

LETTERS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


def ranks(scores: np.ndarray, axis: int = 1, *, ties: str = "min") -> np.ndarray:
    """Rank of each unit along `axis` (units): 1 for the highest score, NaN for missing scores. Tied units share
    the lowest rank (`ties="min"`, as in published rankings) or the mean of their positions (`"average"`).
    One sort per column, blocks of columns on every core; NaN sorts last so it never takes a rank."""
    if scores.size < 1_000_000 or scores.shape[-1] < 2 or axis % scores.ndim == scores.ndim - 1:
        return _ranks(scores, axis, ties)
    out = np.empty(scores.shape)
    parts = blocks(scores.shape[-1], 4 * WORKERS)
    for sl, part in zip(parts, map_threads(lambda sl: _ranks(scores[..., sl], axis, ties), parts)):
        out[..., sl] = part
    return out


def _ranks(scores: np.ndarray, axis: int, ties: str) -> np.ndarray:
    moved = np.moveaxis(scores, axis, -1)
    A = np.negative(moved, out=np.empty(moved.shape))  # contiguous along units, highest first
    order = np.argsort(A, axis=-1)
    ordered = np.take_along_axis(A, order, axis=-1)
    n = A.shape[-1]
    starts = np.empty(A.shape, bool)  # where a run of tied values begins in sorted order
    starts[..., :1] = True
    np.not_equal(ordered[..., 1:], ordered[..., :-1], out=starts[..., 1:])
    position = np.arange(n, dtype=float)
    rank_sorted = np.maximum.accumulate(np.where(starts, position, 0.0), axis=-1)
    if ties == "average":
        ends = np.empty(A.shape, bool)
        ends[..., -1:] = True
        ends[..., :-1] = starts[..., 1:]
        last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, position, n), -1), axis=-1), -1)
        rank_sorted += last
        rank_sorted /= 2
    rank_sorted += 1.0
    np.putmask(rank_sorted, np.isnan(ordered), np.nan)
    out = np.empty_like(rank_sorted)
    np.put_along_axis(out, order, rank_sorted, axis=-1)
    return np.moveaxis(out, -1, axis)


@register("grade", "quantile")
def quantile_grades(scores: np.ndarray, *, n: int = 5) -> np.ndarray:
    """Grade 1 (top) to n by equal-sized quantile bands of the score along axis 1."""
    r = ranks(scores)
    count = np.sum(~np.isnan(scores), axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        g = np.floor((r - 1) / count * n) + 1
    return np.where(np.isnan(scores), np.nan, g)


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
