"""Input designs on the unit hypercube: a quasi-random Monte Carlo sample and the Saltelli design for Sobol indices.

Both draw from a scrambled Sobol sequence, so a fixed seed gives the same design on every machine. Inputs
may be grouped: a factor such as weight noise owns several columns but counts as one factor, and in the
Saltelli design all its columns are swapped together.

The Saltelli layout is in blocks, `A` (N rows), `B` (N rows), then one block `AB_g` per factor g: `A` with
the columns of g taken from `B`. That is N·(k + 2) rows for k factors.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

BITS = 30  # bits of each coordinate, as scipy.stats.qmc.Sobol draws by default


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


@cache
def _joe_kuo() -> tuple[np.ndarray, np.ndarray]:
    """Joe and Kuo's primitive polynomials and initial direction numbers, from the file scipy ships: read
    directly, since importing scipy.stats to reach them costs more than a whole build."""
    scipy_dir = Path(importlib.util.find_spec("scipy").submodule_search_locations[0])
    with np.load(scipy_dir / "stats" / "_sobol_direction_numbers.npz") as numbers:
        return numbers["poly"], numbers["vinit"]


def _direction_numbers(dims: int) -> np.ndarray:
    """(dims, BITS) direction numbers, column j scaled to bit BITS-1-j (Bratley and Fox's recurrence)."""
    poly, vinit = _joe_kuo()
    v = [[1] * BITS][:dims]
    for d in range(1, dims):
        p = int(poly[d])
        m = p.bit_length() - 1
        row = [int(x) for x in vinit[d, :m]]
        for j in range(m, BITS):
            new = row[j - m]
            for k in range(m):
                if (p >> (m - 1 - k)) & 1:
                    new ^= row[j - k - 1] << (k + 1)
            row.append(new)
        v.append(row)
    return np.array(v, dtype=np.uint64).reshape(dims, BITS) << (BITS - 1 - np.arange(BITS, dtype=np.uint64))


def _msb_first_bits(x: np.ndarray) -> np.ndarray:
    """The BITS bits of each integer, most significant first, on a new last axis."""
    return (x[..., None] >> (BITS - 1 - np.arange(BITS, dtype=np.uint64))) & 1


def scrambled_directions(dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The digital shift (dims,) and the scrambled direction numbers (dims, BITS) of a seed, drawn as scipy
    draws them: from a child it spawns of the generator it is given, the shift first, then one random
    lower-triangular matrix (unit diagonal) per dimension that multiplies the direction numbers' bits."""
    rng = np.random.default_rng(seed).spawn(1)[0]
    shift = rng.integers(2, size=(dims, BITS), dtype=np.uint32).astype(np.uint64) @ (
        np.uint64(1) << np.arange(BITS, dtype=np.uint64))
    lower = np.tril(rng.integers(2, size=(dims, BITS, BITS), dtype=np.uint32)).astype(np.uint64)
    lower[:, np.arange(BITS), np.arange(BITS)] = 1
    bits = (_msb_first_bits(_direction_numbers(dims)) @ lower.transpose(0, 2, 1)) % 2
    return shift, bits @ (np.uint64(1) << (BITS - 1 - np.arange(BITS, dtype=np.uint64)))


def sobol_points(n: int, dims: int, seed: int) -> np.ndarray:
    """The first n points of a scrambled Sobol sequence in `dims` dimensions (any n, not only powers of 2).

    Bit for bit `scipy.stats.qmc.Sobol(dims, scramble=True, rng=default_rng(seed)).random(n)`: the same
    scrambled direction numbers, and point i the shift XOR those picked by the bits of i's Gray code.
    """
    shift, v = scrambled_directions(dims, seed)
    i = np.arange(n, dtype=np.uint64)
    gray = i ^ (i >> np.uint64(1))
    points = np.broadcast_to(shift, (n, dims)).copy()
    for j in range(int(max(n - 1, 0)).bit_length()):
        points[((gray >> np.uint64(j)) & np.uint64(1)).astype(bool)] ^= v[:, j]
    return points * 2.0**-BITS


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
