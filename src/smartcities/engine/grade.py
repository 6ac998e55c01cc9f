"""Ranks (1 = best, ties share the lowest rank), grades 1–5 and letter ratings within peer groups."""

from __future__ import annotations

import math

import numpy as np

from .layout import moved_last
from .registry import register
from .threads import map_threads, row_chunks

LETTERS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


def ranks(scores: np.ndarray, axis: int = 1, *, ties: str = "min") -> np.ndarray:
    """Rank of each unit along `axis` (units): 1 for the highest score, NaN for missing scores. Tied units share
    the lowest rank (`ties="min"`, as in published rankings) or the mean of their positions (`"average"`).
    NaN sorts last so it never takes a rank. Blocks of columns run on every core; columns already contiguous
    (each node's units side by side, as a Monte Carlo's levels come) are ranked where they are, not copied."""
    A = np.moveaxis(scores, axis, -1)
    if not A.flags.c_contiguous:
        A = moved_last(scores, axis)  # each column contiguous
    columns = A.reshape(math.prod(A.shape[:-1]), A.shape[-1])
    out = np.empty(columns.shape)

    def rank_block(block: slice) -> None:
        out[block] = _ranks_of_rows(columns[block], ties)

    map_threads(rank_block, row_chunks(*columns.shape), worth_it=scores.size >= 1_000_000)
    return np.moveaxis(out.reshape(A.shape), -1, axis)


SIGN = np.uint64(1 << 63)
LAST = np.uint64(np.iinfo(np.uint64).max)


def _order_keys(a: np.ndarray) -> np.ndarray:
    """Unsigned integers in the reverse order of the floats `a` (the highest first), −0 equal to 0 and every
    NaN equal, after every number: the bits of a non-negative float with its sign bit set, those of a negative
    one inverted, and all of them inverted again."""
    bits = (a + 0.0).view(np.uint64)  # + 0.0 turns −0 into 0
    keys = (bits >> np.uint64(63)) * ~SIGN  # every bit set for a negative value, none for the others
    keys |= SIGN
    keys ^= bits  # ascending order …
    np.invert(keys, out=keys)  # … reversed
    keys[np.isnan(a)] = LAST
    return keys


def _ranks_of_rows(a: np.ndarray, ties: str) -> np.ndarray:
    """Ranks within each row of a (rows, units) block (1 for the highest value), from one sort of integer keys
    that carry each value's place in the block in their low bits. Why: NumPy sorts integers with its vectorised
    sort, several times faster than an argsort, and the places it gives back gather and scatter the whole block
    at once. Values whose keys differ only in those low bits (within about 1e-10 of each other, relative) may
    come out in the order of their places; that is checked, and such a row is ordered by argsort instead."""
    rows, n = a.shape
    if not a.size:
        return np.empty(a.shape)
    keys = _order_keys(a)
    low = np.uint64(max(1, (a.size - 1).bit_length()))
    packed = keys >> low
    packed <<= low
    packed |= np.arange(a.size, dtype=np.uint64).reshape(rows, n)
    packed.sort(axis=1)
    packed &= (np.uint64(1) << low) - np.uint64(1)
    order = packed.view(np.intp).reshape(-1)  # places in the block, each row in the order of its values
    ordered = keys.reshape(-1)[order].reshape(rows, n)
    for r in np.flatnonzero((ordered[:, 1:] < ordered[:, :-1]).any(axis=1)):
        by_value = np.argsort(keys[r], kind="stable")
        order[r * n:(r + 1) * n] = r * n + by_value
        ordered[r] = keys[r][by_value]
    ranked = _tied_ranks(ordered, ties)
    ranked[ordered == LAST] = np.nan  # NaN sorts last
    out = np.empty(a.size)
    out[order] = ranked.reshape(-1)
    return out.reshape(rows, n)


def _tied_ranks(ordered: np.ndarray, ties: str) -> np.ndarray:
    """Ranks 1…n along each row of sorted values, each run of equal values sharing its lowest rank (`min`) or
    their mean (`average`); the work grows with the tied values, not with the block."""
    rows, n = ordered.shape
    ranked = np.empty((rows, n))
    ranked[:] = np.arange(1.0, n + 1)
    flat = ordered.reshape(-1)
    same = flat[1:] == flat[:-1]
    same[n - 1::n] = False  # a row's first value follows the row before
    later = np.flatnonzero(same) + 1  # places equal to the one before
    if not later.size:
        return ranked
    starts_run = np.r_[True, later[1:] != later[:-1] + 1]
    run = np.cumsum(starts_run) - 1
    first = later[starts_run] - 1  # the place each run of equal values begins at
    into = ranked.reshape(-1)
    if ties == "min":
        into[later] = (first % n + 1.0)[run]
        return ranked
    last = later[np.r_[starts_run[1:], True]]
    mean = (first % n + last % n) / 2 + 1.0
    into[later], into[first] = mean[run], mean
    return ranked


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
