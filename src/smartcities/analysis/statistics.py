"""The statistics behind the regional and trend readings: shares with intervals, contingency tests, effect
sizes, permutation tests that shuffle whole cities, and multiple-testing control."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..robustness.sensitivity import Z_95

N_PERMUTATIONS = 9999
SEED = 20220220
ALPHA = 0.05
Z95 = Z_95  # the same z₀.₉₇₅ as every other interval of the project


def wilson_interval(count, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a share `count/n` (arrays allowed); (nan, nan) where n is 0.

    Why: with a dozen initiatives per city the plain ±1.96·se interval runs below 0 or above 1; Wilson's does not.
    """
    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = count / n
        denom = 1 + z ** 2 / n
        centre = (p + z ** 2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / denom
    return centre - half, centre + half


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of independence on a contingency table, with Cramér's V as its effect size."""

    chi2: float
    dof: int
    p: float
    cramers_v: float
    n: int
    min_expected: float


def chi_square(table) -> ChiSquare:
    """Chi-square (no continuity correction) and Cramér's V of a contingency table; empty rows/columns dropped.

    Why: the standard test of "does the mix differ between groups", with V = sqrt(chi2 / (n·(min(r,c)−1)))
    saying how much, on a 0–1 scale comparable across tables of different size.
    """
    t = np.asarray(table, dtype=float)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    n = round(t.sum())
    if t.ndim != 2 or min(t.shape) < 2:
        return ChiSquare(0.0, 0, 1.0, 0.0, n, float("nan"))
    from scipy.special import chdtrc  # here, and not scipy.stats: a build without an inventory never tests

    chi2, expected = _pearson(t)
    dof = (t.shape[0] - 1) * (t.shape[1] - 1)
    return ChiSquare(chi2, dof, float(chdtrc(dof, chi2)), cramers_v(t, chi2), n, float(expected.min()))


def _pearson(t: np.ndarray) -> tuple[float, np.ndarray]:
    """Pearson's chi-square statistic of a table without empty rows or columns, and the expected counts."""
    expected = np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()
    return float(((t - expected) ** 2 / expected).sum()), expected


def cramers_v(table, chi2: float | None = None) -> float:
    """Cramér's V of a contingency table (0: no association, 1: the row fixes the column)."""
    t = np.asarray(table, dtype=float)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if min(t.shape) < 2:
        return 0.0
    if chi2 is None:
        chi2 = _pearson(t)[0]
    return float(math.sqrt(chi2 / (t.sum() * (min(t.shape) - 1))))


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN p-values stay NaN and do not count as tests.

    Why: a table of region × feature tests makes dozens of comparisons; controlling the false discovery rate
    keeps "Europe differs on X" from being the one lucky draw out of forty.
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def newcombe_interval(count1, n1, count2, n2, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95% interval for the difference of two shares p1 − p2 (Newcombe's hybrid score method, from Wilson).

    Why: it stays inside [−1, 1] and behaves with small counts, where the Wald interval does not. It treats
    initiatives as independent, so it is narrower than the city-level permutation test warrants.
    """
    c1, m1, c2, m2 = (np.asarray(v, dtype=float) for v in (count1, n1, count2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = c1 / m1, c2 / m2
        l1, u1 = wilson_interval(c1, m1, z)
        l2, u2 = wilson_interval(c2, m2, z)
        d = p1 - p2
        low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


CELLS = 512 * 10_000
"""Draws × units evaluated at a time: memory stays bounded whatever the number of permutations, and few units
take many draws at once (the draws do not depend on the block size)."""


def _block(n_units: int) -> int:
    """Draws per block for `n_units` units."""
    return max(1, CELLS // max(n_units, 1))


def memberships(n_units: int, k: int, n_permutations: int = N_PERMUTATIONS,
                seed: int = SEED) -> tuple[np.ndarray, bool]:
    """Boolean (draws, units) arrays each choosing k of n units: every choice when there are at most
    `n_permutations` of them (an exact test), else that many random draws from a seeded generator."""
    blocks, exact = membership_blocks(n_units, k, n_permutations, seed)
    return np.concatenate(list(blocks)), exact


def membership_blocks(n_units: int, k: int, n_permutations: int = N_PERMUTATIONS,
                      seed: int = SEED) -> tuple[Iterator[np.ndarray], bool]:
    """`memberships` in blocks of at most `_block(n_units)` draws, and whether the draws are every choice (exact).

    A random draw chooses the k units with the smallest of n uniform keys (a partition, not a sort: the same
    choice in linear time), and the keys come from one generator block after block, so the draws do not depend
    on the block size.
    """
    if math.comb(n_units, k) <= n_permutations:
        rows = np.zeros((math.comb(n_units, k), n_units), dtype=bool)
        for i, chosen in enumerate(combinations(range(n_units), k)):
            rows[i, list(chosen)] = True
        return iter([rows]), True

    def blocks() -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        chunk = _block(n_units)
        for start in range(0, n_permutations, chunk):
            keys = rng.random((min(chunk, n_permutations - start), n_units))
            rows = np.zeros(keys.shape, dtype=bool)
            np.put_along_axis(rows, np.argpartition(keys, k - 1, axis=1)[:, :k], True, axis=1)
            yield rows

    return blocks(), False


def permutation_difference(numerators, denominators, member, n_permutations: int = N_PERMUTATIONS,
                           seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Difference between a group and the rest in pooled ratio sum(num)/sum(den), and its two-sided p-value
    from reshuffling which units form the group (exact when the shuffles are few enough to list).

    `numerators` is (units, features) — e.g. each city's count of initiatives with a feature — and
    `denominators` (units,) or (units, features) — e.g. each city's number of initiatives; with a numerator of
    scores and a denominator of ones it compares mean scores. Why: it is valid for any sample size, including a
    group of one city, and it moves whole cities, so clustering within a city cannot fake a regional effect.
    """
    return permutation_differences([(numerators, denominators, member)], n_permutations, seed)[0]


def permutation_differences(tests, n_permutations: int = N_PERMUTATIONS,
                            seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """`permutation_difference` of several (numerators, denominators, member) tests at once.

    Random draws depend only on the seed and the number of units: each draw gives every unit a uniform key, and
    a group of k takes the units whose keys are at most the k-th smallest. Tests on the same units therefore
    share the keys of each block of draws, tests of the same group size share its draws, and each test gets
    exactly the draws it would get alone. Whole counts are summed in single precision, where their sums are
    still exact (below 2**24), at twice the speed.
    """
    prepared = [_Ratios.of(*test) for test in tests]
    out: list = [None] * len(prepared)
    shared: dict[int, dict[int, list[int]]] = {}  # units -> group size -> tests
    for t, test in enumerate(prepared):
        units = len(test.member)
        if math.comb(units, test.k) <= n_permutations:  # exact: every choice of k units
            draws, _ = memberships(units, test.k, n_permutations, seed)
            out[t] = (test.observed, test.extreme(draws.astype(test.num.dtype)) / len(draws))
        else:
            shared.setdefault(units, {}).setdefault(test.k, []).append(t)
    for units, by_size in shared.items():
        extreme = {t: 0 for group in by_size.values() for t in group}
        rng = np.random.default_rng(seed)
        # blocks of draws are written into the same arrays: fresh ones of this size cost more than filling them
        chunk = _block(units)
        rows = min(chunk, n_permutations)
        buffers = {dtype: np.empty((rows, units), dtype) for dtype in (np.float32, np.float64)}
        all_keys, scratch = np.empty((rows, units)), np.empty((rows, units))
        for start in range(0, n_permutations, chunk):
            keys = rng.random(out=all_keys[:min(chunk, n_permutations - start)])
            limits = _kth_smallest(keys, list(by_size), scratch[:len(keys)])
            for k, group in by_size.items():
                drawn = {}  # the draws as 0/1 in each precision the tests of this size need
                for t in group:
                    dtype = prepared[t].num.dtype.type
                    if dtype not in drawn:
                        drawn[dtype] = np.less_equal(keys, limits[k], out=buffers[dtype][:len(keys)],
                                                     casting="unsafe")
                    extreme[t] = extreme[t] + prepared[t].extreme(drawn[dtype])
        for group in by_size.values():
            for t in group:
                out[t] = (prepared[t].observed, (extreme[t] + 1) / (n_permutations + 1))
    return out


def _kth_smallest(keys: np.ndarray, sizes: list[int], scratch: np.ndarray) -> dict[int, np.ndarray]:
    """For each k of `sizes`, the k-th smallest key of every row (a column, a view into `scratch`): the keys
    are partitioned in `scratch` at the largest k, then the part before it at the next k, and so on. Why: a
    third of the time of a sort."""
    np.copyto(scratch, keys)
    out, within = {}, scratch.shape[1]
    for k in sorted(sizes, reverse=True):
        scratch[:, :within].partition(k - 1, axis=1)
        out[k], within = scratch[:, k - 1:k], k - 1
    return out


@dataclass(frozen=True)
class _Ratios:
    """One (numerators, denominators, member) test, ready to be read on many draws at once."""

    num: np.ndarray  # (units, features), float32 when every sum of it is exact in single precision
    den: np.ndarray  # (units,) or (units, features), in the same precision
    totals: tuple[np.ndarray, np.ndarray]  # sums over every unit, in double precision
    member: np.ndarray
    observed: np.ndarray  # (features,)

    @classmethod
    def of(cls, numerators, denominators, member) -> _Ratios:
        num = np.asarray(numerators, dtype=float)
        num = num[:, None] if num.ndim == 1 else num
        den = np.asarray(denominators, dtype=float)
        den = den if den.ndim == 1 else np.broadcast_to(den, num.shape)
        member = np.asarray(member, dtype=bool)
        totals = (num.sum(0), den.sum(0))
        observed = _ratio_difference(member[None].astype(float) @ num, member[None].astype(float) @ den, totals)[0]
        dtype = np.float32 if _exact_in_single(num) and _exact_in_single(den) else float
        return cls(num.astype(dtype), den.astype(dtype), totals, member, observed)

    @property
    def k(self) -> int:
        return int(self.member.sum())

    def extreme(self, drawn: np.ndarray) -> np.ndarray:
        """How many of the `drawn` groups (0/1, draws × units, in this test's precision) differ from the rest
        at least as much as the observed group, per feature."""
        diff = _ratio_difference((drawn @ self.num).astype(float), (drawn @ self.den).astype(float), self.totals)
        return (np.abs(diff) >= np.abs(self.observed) - 1e-12).sum(axis=0)


def _exact_in_single(values: np.ndarray) -> bool:
    """Whether every sum of `values` is exact in single precision: whole numbers totalling below 2**24."""
    return bool(np.all(values == np.round(values)) and np.abs(values).sum() < 2 ** 24)


def _ratio_difference(group_num: np.ndarray, group_den: np.ndarray, totals) -> np.ndarray:
    """Pooled ratio of each drawn group minus that of the rest, (draws, features), from the group's sums. A
    denominator shared by every feature (units,) is summed once, not once per feature."""
    rest_num, rest_den = totals[0] - group_num, totals[1] - group_den
    if group_den.ndim == 1:
        group_den, rest_den = group_den[:, None], rest_den[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return group_num / group_den - rest_num / rest_den


def permutation_chi_square(counts, labels, n_permutations: int = N_PERMUTATIONS,
                           seed: int = SEED) -> tuple[ChiSquare, float]:
    """Chi-square of groups × categories on pooled counts, with a p-value from shuffling group labels over units.

    `counts` is (units, categories), `labels` (units,). Why: sparse regional tables break the chi-square
    approximation (expected counts below 5), and initiatives cluster in cities; shuffling cities fixes both.
    """
    return permutation_chi_squares([(counts, labels)], n_permutations, seed)[0]


def permutation_chi_squares(tests, n_permutations: int = N_PERMUTATIONS,
                            seed: int = SEED) -> list[tuple[ChiSquare, float]]:
    """`permutation_chi_square` of several (counts, labels) tests on the same units, sharing the shuffles.

    A shuffle of labels is a shuffle of unit positions, and the seed fixes the positions whatever the labels:
    drawing them once for every test gives each test the very shuffles it would draw alone. Within a block of
    shuffles, each distinct group of units (a region is a group in the all-regions test and in its own test)
    is moved once and summed once over every distinct count table (whole counts, so the sums are exact). Why:
    the mix tests are dozens of tests on one set of cities; shuffling ten thousand cities is the costly part.
    """
    groups: dict[bytes, int] = {}  # each distinct group of units -> its row in `masks`
    masks: list[np.ndarray] = []
    columns: dict[bytes, slice] = {}  # each distinct count table -> its columns in `stacked`
    blocks: list[np.ndarray] = []
    prepared = []
    for counts, labels in tests:
        counts = np.asarray(counts, dtype=float)
        names, codes = np.unique(np.asarray(labels), return_inverse=True)
        observed = chi_square(np.eye(len(names))[codes].T @ counts)
        kept = counts[:, counts.sum(0) > 0]
        rows = []
        for g in range(len(names) - 1):  # the last group holds the rest
            mask = codes == g
            rows.append(groups.setdefault(mask.tobytes(), len(groups)))
            if rows[-1] == len(masks):
                masks.append(mask)
        key = kept.tobytes() + str(kept.shape).encode()
        if key not in columns:
            start = sum(b.shape[1] for b in blocks)
            columns[key] = slice(start, start + kept.shape[1])
            blocks.append(kept)
        prepared.append((rows, columns[key], kept, observed))
    stacked = np.hstack(blocks)
    units = stacked.shape[0]
    dtype = np.float32 if _exact_in_single(stacked) else np.float64
    stacked = stacked.astype(dtype)
    # units in the same groups move alike: one label per pattern of membership, one gather per block
    patterns, kind = np.unique(np.column_stack(masks) if masks else np.zeros((units, 0), bool), axis=0,
                               return_inverse=True)
    kind = kind.ravel()
    rng = np.random.default_rng(seed)
    as_large = np.zeros(len(prepared), dtype=np.int64)
    chunk = _block(units)
    rows_max = min(chunk, n_permutations)
    every, picked = np.empty((rows_max, units), dtype=np.int64), np.empty((rows_max, units), dtype=dtype)
    for start in range(0, n_permutations, chunk):  # the generator runs on block after block: same shuffles
        positions = every[:min(chunk, n_permutations - start)]
        positions[:] = np.arange(units)
        rng.permuted(positions, axis=1, out=positions)
        moved = kind[positions]
        by_pattern = [np.equal(moved, k, out=picked[:len(moved)], casting="unsafe") @ stacked
                      for k in range(len(patterns))]
        sums = [sum(by_pattern[k] for k in np.flatnonzero(patterns[:, m])) for m in range(len(masks))]
        for t, (rows, cols, kept, observed) in enumerate(prepared):
            tables = np.empty((len(positions), len(rows) + 1, kept.shape[1]))
            for g, row in enumerate(rows):
                tables[:, g] = sums[row][:, cols]  # whole counts: exact in either precision
            tables[:, -1] = kept.sum(0) - tables[:, :-1].sum(1)
            rows_total = tables.sum(2, keepdims=True)
            cols_total = tables.sum(1, keepdims=True)
            expected = rows_total * cols_total / tables.sum((1, 2), keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                chi = np.nansum(np.where(expected > 0, (tables - expected) ** 2 / expected, 0.0), axis=(1, 2))
            as_large[t] += int(np.sum(chi >= observed.chi2 - 1e-9))
    return [(observed, float((k + 1) / (n_permutations + 1))) for (*_, observed), k in zip(prepared, as_large)]
