"""Editions over time, read: rank changes with their uncertainty, and trends of every city's scores.

- `rank_changes`: per city, node and edition, the score, the rank and the change of rank since the previous
  edition (positive: the city climbed). With an uncertainty analysis, each edition's runs share one design (the
  same draws), so run r of one edition is paired with run r of the previous: the changes over the runs give a
  90% interval of the target node's rank change, `significant` when it excludes 0.
- `smooth`: IMD's smoothing, each edition's score of a node as the weighted mean of the city's scores in that
  edition and the previous ones (weights `[3, 2, 1]`: this edition 3, the previous 2, the one before 1), over
  the editions the city has a score in, the weights of those present normalised to sum 1; ranked within the
  edition like the scores.
- `trends`: per city and node, COINr's `get_trends` measures over the editions a city has a score in: `cagr`
  (compound annual growth rate from the first to the last score, 0 when they are equal) and `prc_change`
  (percentage change a year: from the first and last score with two points, else from the least-squares line
  at the first edition), with the number of editions used and the breaks the trend crosses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.columns import labels

CHANGE_COLUMNS = ["city", "node", "edition", "score", "rank", "rank_change", "change_p05", "change_p95",
                  "significant"]
DECOMPOSITION_COLUMNS = ["city", "edition", "previous_edition", "rank", "previous_rank", "rank_change",
                         "performance", "method", "sample"]
TREND_COLUMNS = ["city", "node", "cagr", "prc_change", "editions_used", "first_edition", "last_edition",
                 "across_break"]


@dataclass(frozen=True)
class Panel:
    """Scores and ranks of every edition on one grid: `(editions, cities, nodes)`, NaN where a city is not in an
    edition (or has no score)."""

    editions: tuple[float, ...]
    cities: tuple[str, ...]
    nodes: tuple[str, ...]
    scores: np.ndarray
    ranks: np.ndarray


def edition_label(edition: float) -> str:
    """2019, not 2019.0."""
    return str(int(edition)) if float(edition).is_integer() else str(edition)


def edition_labels(editions) -> list[str]:
    return [edition_label(e) for e in editions]


def rank_changes(panel: Panel, target: str | None = None, runs: list[np.ndarray | None] | None = None
                 ) -> pd.DataFrame:
    """The long table of editions.csv. `runs[t]` is edition t's target ranks per run `(runs, cities)` on the
    panel's city grid (NaN: no rank), or None without an uncertainty analysis."""
    T, C, N = panel.scores.shape
    change = np.full((T, C, N), np.nan)
    change[1:] = panel.ranks[:-1] - panel.ranks[1:]
    p05 = np.full((T, C), np.nan)
    p95 = np.full((T, C), np.nan)
    if runs is not None and target is not None:
        for t in range(1, T):
            if runs[t] is None or runs[t - 1] is None:
                continue
            moved = runs[t - 1] - runs[t]  # (runs, cities), paired by run
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a city in neither edition: all NaN
                p05[t], p95[t] = np.nanquantile(moved, [0.05, 0.95], axis=0)
    frame = pd.DataFrame({
        "city": labels(panel.cities, np.tile(np.repeat(np.arange(C), N), T)),
        "node": labels(panel.nodes, np.tile(np.arange(N), T * C)),
        "edition": labels(edition_labels(panel.editions), np.repeat(np.arange(T), C * N)),
        "score": panel.scores.ravel(),
        "rank": panel.ranks.ravel(),
        "rank_change": change.ravel(),
    })
    frame = frame.astype({"rank": "Int64", "rank_change": "Int64"})
    lo = np.full((T, C, N), np.nan)
    hi = np.full((T, C, N), np.nan)
    if target is not None and target in panel.nodes:
        j = panel.nodes.index(target)
        lo[:, :, j], hi[:, :, j] = p05, p95
    frame["change_p05"], frame["change_p95"] = lo.ravel(), hi.ravel()
    known = ~np.isnan(lo.ravel())
    frame["significant"] = pd.arrays.BooleanArray((lo.ravel() > 0) | (hi.ravel() < 0), ~known)
    return frame[~np.isnan(panel.scores.ravel())].reset_index(drop=True)[CHANGE_COLUMNS]


def smooth(panel: Panel, weights: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed scores and their ranks `(editions, cities, nodes)`. Edition t's smoothed score of a city is
    sum_k w_k s[t-k] / sum_k w_k over k = 0 … len(weights)-1 with s[t-k] present (the edition exists and the city
    has a score there); NaN when the city has no score in edition t itself. Ranks are 1 for the highest smoothed
    score of the edition, ties sharing the lowest rank."""
    from ..engine.grade import ranks

    T = panel.scores.shape[0]
    total = np.zeros_like(panel.scores)
    mass = np.zeros_like(panel.scores)
    for k, w in enumerate(weights):
        if k >= T:
            break
        past = panel.scores[:T - k]  # edition t-k, for t = k … T-1
        here = ~np.isnan(past)
        total[k:] += np.where(here, w * past, 0.0)
        mass[k:] += np.where(here, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(np.isnan(panel.scores), np.nan, total / mass)
    return out, ranks(out, axis=1)


def cagr(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """COINr's CAGR over the last axis: (y_last / y_first)^(1 / (x_last − x_first)) − 1 between the first and
    last non-missing values, 0 when they are equal, NaN with fewer than two values."""
    first, last, ok = _ends(y)
    y0, y1 = _at(y, first), _at(y, last)
    x0, x1 = x[first], x[last]
    with np.errstate(all="ignore"):
        out = np.power(y1 / y0, 1.0 / (x1 - x0)) - 1
    out = np.where(y1 == y0, 0.0, out)
    return np.where(ok, out, np.nan)


def prc_change(y: np.ndarray, x: np.ndarray, per: float = 1.0) -> np.ndarray:
    """COINr's prc_change over the last axis: 0 when every value is the same; with two values the change from the
    first to the last in percent of the first, per `per` time units; with three or more, the least-squares slope
    in percent of the line's value at the first time."""
    observed = ~np.isnan(y)
    n = observed.sum(axis=-1)
    first, last, ok = _ends(y)
    y0, y1 = _at(y, first), _at(y, last)
    x0, x1 = x[first], x[last]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        two = ((y1 - y0) * 100 / y0) * (per / (x1 - x0))
        xx = np.where(observed, x, np.nan)
        xm, ym = np.nanmean(xx, axis=-1, keepdims=True), np.nanmean(y, axis=-1, keepdims=True)
        slope = (np.nansum((xx - xm) * (y - ym), axis=-1) / np.nansum((xx - xm) ** 2, axis=-1))
        intercept = ym[..., 0] - slope * xm[..., 0]
        line = (slope * per) / (intercept + slope * x0) * 100
        same = np.nanmax(y, axis=-1) == np.nanmin(y, axis=-1)
    out = np.where(n >= 3, line, two)
    out = np.where(same, 0.0, out)
    return np.where(ok, out, np.nan)


def _ends(y: np.ndarray):
    observed = ~np.isnan(y)
    T = y.shape[-1]
    first = np.argmax(observed, axis=-1)
    last = T - 1 - np.argmax(observed[..., ::-1], axis=-1)
    return first, last, observed.sum(axis=-1) >= 2


def _at(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.take_along_axis(y, k[..., None], axis=-1)[..., 0]


def trends(panel: Panel, breaks: list[tuple[str, float, str]] = (), ancestors: dict[str, set[str]] | None = None
           ) -> pd.DataFrame:
    """edition_trends.csv: per city and node, cagr and prc_change over the editions the city has a score in.
    `breaks` are (indicator, edition, reason); a trend of a node over the indicator (the indicator itself or an
    aggregate above it) that starts before the break's edition and ends at or after it crosses the break.
    `ancestors[indicator]` holds the indicator and every node above it."""
    x = np.asarray(panel.editions, dtype=float)
    y = np.moveaxis(panel.scores, 0, -1)  # (cities, nodes, editions)
    first, last, ok = _ends(y)
    used = (~np.isnan(y)).sum(axis=-1)
    start, end = x[first], x[last]
    crossed = np.full(y.shape[:2], "", dtype=object)
    for indicator, edition, _ in breaks:
        over = [j for j, node in enumerate(panel.nodes) if node in (ancestors or {}).get(indicator, {indicator})]
        for j in over:
            hit = ok[:, j] & (start[:, j] < edition) & (end[:, j] >= edition)
            label = f"{indicator}@{edition_label(edition)}"
            crossed[hit, j] = np.where(crossed[hit, j] == "", label, crossed[hit, j] + ";" + label)
    C, N = y.shape[:2]
    frame = pd.DataFrame({
        "city": labels(panel.cities, np.repeat(np.arange(C), N)),
        "node": labels(panel.nodes, np.tile(np.arange(N), C)),
        "cagr": cagr(y, x).ravel(),
        "prc_change": prc_change(y, x).ravel(),
        "editions_used": used.ravel(),
        "first_edition": labels(edition_labels(x), first.ravel()),
        "last_edition": labels(edition_labels(x), last.ravel()),
        "across_break": crossed.ravel(),
    })
    return frame[frame["editions_used"] > 0].reset_index(drop=True)[TREND_COLUMNS]


def decomposition(panel: Panel, node: str, published: dict[tuple[str, float], float] | None = None) -> pd.DataFrame:
    """rank_decomposition.csv: each city's change of rank at `node` from the previous edition, split so that
    rank_change = performance + method + sample holds for every city in both editions:

    - `method`: the previous edition's published rank (`published[city, edition]`, made with the method of its
      day) minus its rank back-cast with today's method; 0 without a published rank;
    - `sample`: what cities entering and leaving did: (previous rank − previous rank among the cities in both
      editions) − (rank − rank among the cities in both editions);
    - `performance`: the change of rank among the cities in both editions, today's method for both.

    `previous_rank` is the published rank where there is one, else the back-cast rank."""
    from ..engine.grade import ranks

    j = panel.nodes.index(node)
    rows = []
    for t in range(1, len(panel.editions)):
        prev, cur = panel.scores[t - 1, :, j], panel.scores[t, :, j]
        both = ~np.isnan(prev) & ~np.isnan(cur)
        common_prev = ranks(np.where(both, prev, np.nan)[None], axis=1)[0]
        common_cur = ranks(np.where(both, cur, np.nan)[None], axis=1)[0]
        r_prev, r_cur = panel.ranks[t - 1, :, j], panel.ranks[t, :, j]
        for c in np.flatnonzero(both):
            city = panel.cities[c]
            pub = (published or {}).get((city, panel.editions[t - 1]))
            method = 0.0 if pub is None else pub - r_prev[c]
            sample = (r_prev[c] - common_prev[c]) - (r_cur[c] - common_cur[c])
            performance = common_prev[c] - common_cur[c]
            before = r_prev[c] if pub is None else pub
            rows.append((city, edition_label(panel.editions[t]), edition_label(panel.editions[t - 1]), r_cur[c],
                         before, before - r_cur[c], performance, method, sample))
    frame = pd.DataFrame(rows, columns=DECOMPOSITION_COLUMNS)
    for col in ("rank", "previous_rank", "rank_change", "performance", "method", "sample"):
        frame[col] = frame[col].astype("Int64")
    return frame
