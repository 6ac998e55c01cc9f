"""Variance-based sensitivity indices from a Saltelli design, for many outputs at once.

For outputs f(A), f(B) and f(AB_i) (the design of `sampling.saltelli`), with V the variance of f over A and B:

- first order, Saltelli (2010):  S_i  = mean(f(B) · (f(AB_i) − f(A))) / V
- total order, Jansen (1999):    ST_i = mean((f(A) − f(AB_i))²) / (2V)

These are the estimators COINr's SA_estimate and SALib's sobol.analyze use. Outputs are first centred on their
mean over A and B (as SALib does; COINr does not): the expectation of the S1 estimator is unchanged, since
f(AB_i) − f(A) has mean zero, but its variance drops sharply for outputs far from zero such as ranks.
Confidence: the rows of the design are resampled with replacement (all blocks together, V re-estimated each
time) and `*_conf` is the half-width of the 95% interval, z₀.₉₇₅ · sd of the bootstrap estimates, as SALib
reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# z₀.₉₇₅ exactly as scipy.stats.norm.ppf gives it (SALib's value): written out, since importing scipy.stats costs
# more than a whole build, and the standard library's NormalDist().inv_cdf differs from it in the last bits
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class SobolIndices:
    """Arrays of shape (factors, outputs)."""

    S1: np.ndarray
    S1_conf: np.ndarray
    ST: np.ndarray
    ST_conf: np.ndarray


def _split(y: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ya, yb = y[:n], y[n: 2 * n]
    yab = y[2 * n: (k + 2) * n].reshape(k, n, *y.shape[1:])
    return ya, yb, yab


def _estimate(ya: np.ndarray, yb: np.ndarray, yab: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """S1 and ST along the sample axis `axis` of ya/yb (yab has the factor axis in front of it)."""
    var = np.var(np.concatenate([ya, yb], axis=axis), axis=axis)
    with np.errstate(all="ignore"):
        s1 = np.mean(yb * (yab - ya), axis=axis + 1) / var
        st = 0.5 * np.mean((ya - yab) ** 2, axis=axis + 1) / var
    return s1, st


def sobol_indices(y: np.ndarray, n: int, k: int, *, bootstrap: int = 200, seed: int = 0) -> SobolIndices:
    """First and total order indices of k factors for outputs `y` of shape (N·(k + 2),) or (N·(k + 2), outputs).

    Outputs with zero variance get NaN indices (no variance to share out).
    """
    y = np.asarray(y, dtype=float)
    flat = y.ndim == 1
    if flat:
        y = y[:, None]
    if y.shape[0] != n * (k + 2):
        raise ValueError(f"expected {n * (k + 2)} outputs for N={n}, k={k}; got {y.shape[0]}")
    y = y - y[: 2 * n].mean(axis=0)  # centring leaves both estimators unbiased and makes S1 much less noisy
    ya, yb, yab = _split(y, n, k)
    s1, st = _estimate(ya, yb, yab, axis=0)
    # bootstrap: each resample is a count per design row, so every resampled mean is one matrix product
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(bootstrap, n))
    offsets = (np.arange(bootstrap) * n)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=bootstrap * n).reshape(bootstrap, n) / n
    first = (yb * (yab - ya)).transpose(1, 0, 2).reshape(n, -1)  # (n, k * outputs)
    total = ((ya - yab) ** 2).transpose(1, 0, 2).reshape(n, -1)
    mean = counts @ (ya + yb) / 2
    var = counts @ (ya**2 + yb**2) / 2 - mean**2  # (boot, outputs)
    with np.errstate(all="ignore"):
        bs1 = (counts @ first).reshape(bootstrap, k, -1) / var[:, None, :]
        bst = 0.5 * (counts @ total).reshape(bootstrap, k, -1) / var[:, None, :]
    s1_sd, st_sd = np.std(bs1, axis=0, ddof=1), np.std(bst, axis=0, ddof=1)
    out = SobolIndices(s1, Z_95 * s1_sd, st, Z_95 * st_sd)
    if flat:
        out = SobolIndices(*(a[:, 0] for a in (out.S1, out.S1_conf, out.ST, out.ST_conf)))
    return out


def ishigami(u: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami test function on [0, 1)³ mapped to [−π, π)³; analytic indices in `ishigami_indices`."""
    x = (2 * u - 1) * np.pi
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic (S1, ST) of the Ishigami function."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v
