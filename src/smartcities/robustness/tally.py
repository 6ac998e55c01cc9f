"""The ranks of an uncertainty analysis's runs, gathered chunk by chunk into rank intervals, within a memory budget.

Within the budget every counted run's ranks are kept and the intervals are exact quantiles (R's type 7, NumPy's
default). Beyond it — a hundred thousand units over ten thousand runs would need tens of gigabytes — each
(unit, node) keeps a histogram of its ranks in bins of `width` places, so memory is set by the number of units and
the budget, not by the number of runs: the mean stays exact (a sum of ranks), and a quantile is exact when `width`
is 1 and within `width / 2` places of the exact one otherwise. Kept ranks and histogram counts both add up the
same whatever the order and size of the chunks, and parts filled apart (one per Dask worker) merge exactly, so
results do not depend on the chunk size or the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

PROBS = (0.5, 0.05, 0.95)  # median, p05, p95
_BLOCK = 4096  # cells summarised at a time


@dataclass
class RankTally:
    """Ranks of `runs` counted runs × `units` × `nodes` (0 = no rank: a failed run, a dropped unit)."""

    units: int
    nodes: int
    width: int  # 0: every run's ranks kept (exact quantiles); else histogram bins of this many places
    kept: np.ndarray | None  # (runs, units, nodes) ranks, with width 0
    counts: np.ndarray | None  # (nodes, units, bins) rank counts, with a width
    sums: np.ndarray  # (units, nodes) sum of ranks
    n: np.ndarray  # (units, nodes) ranks counted

    @classmethod
    def within(cls, runs: int, units: int, nodes: int, budget_bytes: int) -> RankTally:
        """A tally that keeps every run when that fits `budget_bytes`, else histograms as fine as fit it."""
        dtype = np.uint16 if units < 2**16 - 1 else np.uint32
        sums, n = np.zeros((units, nodes), np.int64), np.zeros((units, nodes), np.int64)
        if runs * units * nodes * np.dtype(dtype).itemsize <= budget_bytes:
            return cls(units, nodes, 0, np.zeros((runs, units, nodes), dtype), None, sums, n)
        count_type = np.uint16 if runs < 2**16 else np.uint32
        bins = max(1, min(units, budget_bytes // max(1, units * nodes * np.dtype(count_type).itemsize)))
        width = -(-units // bins)
        bins = -(-units // width)
        return cls(units, nodes, width, None, np.zeros((nodes, units, bins), count_type), sums, n)

    def layout_for(self, runs: int) -> tuple | None:
        """What `part_of` needs to make an empty part of this tally's histograms for `runs` counted runs (a few
        numbers a Dask worker gets instead of arrays); None when their ranks as they are take no more room than
        such a part (or the tally keeps ranks), so the ranks are what is sent."""
        if self.counts is None or runs * self.units * self.nodes * np.dtype(self.dtype).itemsize <= self.counts.nbytes:
            return None
        return self.units, self.nodes, self.width, self.counts.shape[2], self.counts.dtype.str

    @classmethod
    def part_of(cls, layout: tuple) -> RankTally:
        """Empty histograms of a `layout_for` another tally: a Dask worker adds the runs it evaluates into them
        and the client `merge`s them in, so the client adds once per worker rather than once per run."""
        units, nodes, width, bins, count_type = layout
        return cls(units, nodes, width, None, np.zeros((nodes, units, bins), count_type),
                   np.zeros((units, nodes), np.int64), np.zeros((units, nodes), np.int64))

    def merge(self, part: RankTally) -> None:
        """Add the histograms of a `part_of` this tally."""
        self.sums += part.sums
        self.n += part.n
        self.counts += part.counts

    @property
    def dtype(self) -> str:
        """The integer type ranks come in."""
        return "uint16" if self.units < 2**16 - 1 else "uint32"

    def add(self, rows: np.ndarray, ranks: np.ndarray) -> None:
        """Count the ranks (len(rows), units, nodes) of the counted runs `rows`."""
        present = ranks > 0
        self.sums += ranks.sum(axis=0, dtype=np.int64)
        self.n += present.sum(axis=0)
        if self.kept is not None:
            self.kept[rows] = ranks
            return
        flat = self.counts.reshape(-1)
        for run, has in zip(ranks, present):  # within one run each cell meets one rank: a plain increment
            bin_ = (run.T.astype(np.int64) - 1) // self.width
            flat[(self._row_starts + bin_)[has.T]] += 1

    @cached_property
    def _row_starts(self) -> np.ndarray:
        """(nodes, units): where each cell's histogram starts in the flat counts, made once for every chunk."""
        return (np.arange(self.nodes)[:, None] * self.units + np.arange(self.units)[None, :]) * self.counts.shape[2]

    def intervals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """median, mean, p05, p95 of each (unit, node)'s ranks, (units, nodes); NaN where it has none. Cells are
        summarised a block of units at a time, every node of them together: a block's ranks are gathered in one
        pass over the runs, not one pass per node."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.n > 0, self.sums / self.n, np.nan)
        order_stats = self._kept_order_stats if self.kept is not None else self._binned_order_stats
        qs = [np.empty((self.units, self.nodes)) for _ in PROBS]
        step = max(1, _BLOCK // max(1, self.nodes))
        for lo in range(0, self.units, step):
            hi = min(lo + step, self.units)
            order_stat = order_stats(lo, hi)
            for q, p in zip(qs, PROBS):
                q[lo:hi] = _type7(order_stat, self.n[lo:hi], p)
        return qs[0], mean, qs[1], qs[2]

    def _kept_order_stats(self, lo: int, hi: int):
        """x(j): the j-th smallest rank (0-based) of each cell of units lo:hi, (units, nodes), from the kept ranks
        sorted per cell."""
        # (units, nodes, runs) as 32-bit integers, which NumPy sorts with its vectorised sort (16-bit ones it
        # sorts five to ten times slower where the CPU lacks AVX-512)
        ordered = self.kept[:, lo:hi, :].transpose(1, 2, 0).astype(np.int32, order="C")
        ordered.sort(axis=2)  # zeros (no rank) first
        runs = ordered.shape[2]
        skip = runs - self.n[lo:hi]
        return lambda j: np.take_along_axis(ordered, np.minimum(skip + j, runs - 1)[..., None],
                                            axis=2)[..., 0].astype(float)

    def _binned_order_stats(self, lo: int, hi: int):
        """x(j) as the middle of the bin holding the j-th smallest rank, for the cells of units lo:hi."""
        cum = np.cumsum(self.counts[:, lo:hi], axis=2, dtype=np.int64).transpose(1, 0, 2)  # (units, nodes, bins)
        width, units = self.width, self.units

        def at(j: np.ndarray) -> np.ndarray:
            b = np.minimum((cum <= j[..., None]).sum(axis=2), cum.shape[2] - 1)
            first, last = 1 + b * width, np.minimum((b + 1) * width, units)
            return (first + last) / 2
        return at


def _type7(order_stat, n: np.ndarray, p: float) -> np.ndarray:
    """The p-quantile of each cell's n values by linear interpolation between order statistics (R type 7), with
    NumPy's rounding (its lerp), so that kept ranks give np.quantile's numbers exactly."""
    h = np.maximum(n - 1, 0) * p
    j = np.floor(h).astype(np.int64)
    t = h - j
    a, b = order_stat(j), order_stat(np.minimum(j + 1, np.maximum(n - 1, 0)))
    diff = b - a
    value = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    return np.where(n > 0, value, np.nan)
