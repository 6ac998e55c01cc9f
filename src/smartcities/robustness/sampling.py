"""Input designs on the unit hypercube: a quasi-random Monte Carlo sample and the Saltelli design for Sobol indices.

Both draw from a scrambled Sobol sequence, so a fixed seed gives the same design on every machine. Inputs
may be grouped: a factor such as weight noise owns several columns but counts as one factor, and in the
Saltelli design all its columns are swapped together.

The Saltelli layout is in blocks, `A` (N rows), `B` (N rows), then one block `AB_g` per factor g: `A` with
the columns of g taken from `B`. That is N·(k + 2) rows for k factors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc


@dataclass(frozen=True)
class Design:
    """A sample on [0, 1)^columns and how its columns group into factors."""

    u: np.ndarray  # (runs, columns)
    groups: tuple[int, ...]  # factor index of each column
    n: int  # base sample size N
    kind: str  # "sobol" (Saltelli blocks) or "montecarlo"

    @property
    def k(self) -> int:
        return max(self.groups) + 1 if self.groups else 0

    @property
    def runs(self) -> int:
        return self.u.shape[0]

    def block(self, name: str | int) -> slice:
        """Rows of a block of the Saltelli design: "A", "B" or a factor index (its AB block)."""
        n = self.n
        if name == "A":
            return slice(0, n)
        if name == "B":
            return slice(n, 2 * n)
        return slice((2 + int(name)) * n, (3 + int(name)) * n)

    def complete(self, ok: np.ndarray) -> np.ndarray:
        """The base samples whose every row (in A, B and each AB block) is marked `ok`."""
        return np.flatnonzero(ok.reshape(self.k + 2, self.n).all(axis=0))

    def rows(self, samples: np.ndarray) -> np.ndarray:
        """The design rows of some base samples, block after block: a Saltelli design of len(samples) samples."""
        return (np.arange(self.k + 2)[:, None] * self.n + np.asarray(samples)[None, :]).ravel()


def sobol_points(n: int, dims: int, seed: int) -> np.ndarray:
    """The first n points of a scrambled Sobol sequence in `dims` dimensions (any n, not only powers of 2)."""
    engine = qmc.Sobol(d=dims, scramble=True, seed=np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance properties need n = 2^m; any n is still valid
        return engine.random(n)


def montecarlo(n: int, groups: tuple[int, ...], seed: int) -> Design:
    """n quasi-random points, one column per input."""
    return Design(sobol_points(n, len(groups), seed), tuple(groups), n, "montecarlo")


def saltelli(n: int, groups: tuple[int, ...], seed: int) -> Design:
    """The N·(k + 2) rows of the Saltelli design for the k factors the column `groups` name."""
    d = len(groups)
    base = sobol_points(n, 2 * d, seed)
    a, b = base[:, :d], base[:, d:]
    g = np.asarray(groups)
    k = int(g.max()) + 1
    blocks = [a, b]
    for f in range(k):
        ab = a.copy()
        ab[:, g == f] = b[:, g == f]
        blocks.append(ab)
    return Design(np.vstack(blocks), tuple(groups), n, "sobol")
