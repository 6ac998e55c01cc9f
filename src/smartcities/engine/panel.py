"""Panel imputation: a city's missing value in one edition filled from its own series over the other editions.

The array is `(editions, units, indicators)` with the editions in time order; `present` says which units each
edition has (a city absent from an edition gets no values there). The methods are COINr's `impute_panel`:

- `latest`: the last earlier observation (leading gaps stay missing);
- `constant`: R's `approx(method = "constant", rule = 2)`: the last earlier observation, and the first one
  before the series starts;
- `linear`: R's `approx(method = "linear", rule = 2)`: interpolated between the observations around the gap,
  the nearest observation outside them; a series with one observation cannot be interpolated (an error);
- `linear-constant`: `linear`, with a one-observation series held at its value.

A series with no observation at all stays missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PANEL_METHODS = ("none", "latest", "constant", "linear", "linear-constant")


@dataclass(frozen=True)
class PanelImputed:
    values: np.ndarray  # (editions, units, indicators), the filled array
    filled: np.ndarray  # (editions, units, indicators) bool: the cells filled
    source: np.ndarray  # (editions, units, indicators) float: the time the value came from (latest/constant),
    #                     NaN where interpolated or not filled
    one_observation: list[tuple[int, int, int]]  # (unit, indicator, edition) of series with one observation


def impute_panel(X: np.ndarray, times: np.ndarray, method: str, present: np.ndarray | None = None) -> PanelImputed:
    """Fill the gaps of every (unit, indicator) series of X along its first axis (times ascending)."""
    if method not in PANEL_METHODS:
        raise ValueError(f"impute_panel: {method!r} is not one of {', '.join(PANEL_METHODS)}")
    X = np.asarray(X, dtype=float)
    times = np.asarray(times, dtype=float)
    T = X.shape[0]
    if present is None:
        present = np.ones(X.shape[:2], dtype=bool)
    observed = ~np.isnan(X)
    n_obs = observed.sum(axis=0)  # (units, indicators)
    singles = np.argwhere(n_obs == 1)
    one = [(int(u), int(i), int(np.argmax(observed[:, u, i]))) for u, i in singles]
    Y = X.copy()
    source = np.full(X.shape, np.nan)
    if method == "none":
        return PanelImputed(Y, np.zeros(X.shape, dtype=bool), source, one)
    # index of the last observation at or before t, and of the first at or after t (T when none)
    idx = np.where(observed, np.arange(T)[:, None, None], -1)
    last = np.maximum.accumulate(idx, axis=0)
    idx_next = np.where(observed, np.arange(T)[:, None, None], T)
    nxt = np.minimum.accumulate(idx_next[::-1], axis=0)[::-1]
    units, inds = np.indices(X.shape[1:])

    def take(k: np.ndarray) -> np.ndarray:
        return X[np.clip(k, 0, T - 1), units[None], inds[None]]

    has_last, has_next = last >= 0, nxt < T
    gap = ~observed & present[:, :, None] & (n_obs > 0)[None]
    if method in ("latest", "constant"):
        fill_last = gap & has_last
        Y[fill_last] = take(last)[fill_last]
        source[fill_last] = times[last[fill_last]]
        if method == "constant":
            lead = gap & ~has_last & has_next
            Y[lead] = take(nxt)[lead]
            source[lead] = times[nxt[lead]]
    else:
        usable = n_obs >= 2 if method == "linear" else n_obs >= 1
        g = gap & usable[None]
        inner = g & has_last & has_next
        i, j = last[inner], nxt[inner]
        yi, yj = take(last)[inner], take(nxt)[inner]
        v, xi, xj = np.broadcast_to(times[:, None, None], X.shape)[inner], times[i], times[j]
        Y[inner] = yi + (yj - yi) * ((v - xi) / (xj - xi))  # R's approx1, operation for operation
        before = g & ~has_last & has_next
        Y[before] = take(nxt)[before]
        after = g & has_last & ~has_next
        Y[after] = take(last)[after]
        source[before] = times[nxt[before]]
        source[after] = times[last[after]]
    filled = ~observed & ~np.isnan(Y)
    return PanelImputed(Y, filled, source, one)
