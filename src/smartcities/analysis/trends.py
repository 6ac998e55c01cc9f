"""The report's three trends — inclusivity, intelligence, integration — measured on a coded inventory.

Each trend is a flag on one initiative; a trend's level for a city, a region or a period is the share of its
initiatives that carry the flag, with a Wilson 95% interval so that a share of 2 out of 12 is read as the
rough estimate it is. Everything here is a pure function of the inventory (and the cities table for regions).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from ..io.inventory import continents
from ..model.codebook import INTELLIGENT_TECHNOLOGIES
from .statistics import chi_square, wilson_interval

TRENDS = ("inclusivity", "intelligence", "integration")
"""The three trends, in the order the report names them."""

TREND_DEFINITIONS = {
    "inclusivity": "serves vulnerable groups or closes a digital divide (coded `inclusive`)",
    "intelligence": "uses at least one of " + ", ".join(INTELLIGENT_TECHNOLOGIES),
    "integration": "joins data or services across silos (coded `integrates_data`), or is an integrated "
                   "platform, operations centre, data hub or open-data service by its name or description",
}
"""What each trend counts, in words a reader of the report can check against the codebook."""

INTEGRATION_PHRASES = (
    "open data", "open-data", "integrated platform", "integrated operation", "integrated control",
    "integrated data", "data hub", "data platform", "data portal", "operation centre", "operation center",
    "operations centre", "operations center", "city platform",
)
"""Integration beyond the coded flag: integrated platforms, operations centres, data hubs and open data are
named in an initiative's text, not coded. A text counts when it contains one of these, in any case."""


def initiative_text(inventory: pd.DataFrame) -> pd.Series:
    """Each initiative's name and description, as one string (missing parts empty)."""
    parts = [inventory[c].fillna("").astype(str).to_numpy(dtype=object) if c in inventory else
             np.full(len(inventory), "", dtype=object) for c in ("name", "description")]
    return pd.Series([f"{a} {b}" for a, b in zip(*parts)], index=inventory.index, dtype=object)


def mentions_integration(text: pd.Series) -> pd.Series:
    """Whether each text contains one of `INTEGRATION_PHRASES`, in any case.

    The lower-cased texts are joined into one UTF-8 byte string, NUL between them (no phrase holds one; an ASCII
    phrase cannot match inside a multi-byte character), and each phrase is found there by plain substring
    search; a hit belongs to the text it starts in. Why: one regular expression call per initiative was most of
    the insight's time on a million initiatives.
    """
    lowered = [t.lower().encode() if isinstance(t, str) else b"" for t in text.to_numpy(dtype=object)]
    lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    joined = b"\0".join(lowered)
    found = np.zeros(len(lowered), dtype=bool)
    for phrase in (p.encode() for p in INTEGRATION_PHRASES):
        at, hits = joined.find(phrase), []
        while at >= 0:
            hits.append(at)
            at = joined.find(phrase, at + 1)
        found[np.searchsorted(starts, np.asarray(hits, dtype=np.int64), side="right") - 1] = True
    return pd.Series(found, index=text.index)


def technology_codes(inventory: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Each initiative's technologies as a code into a list of distinct combinations (tuples).

    Why: technologies come from a short codebook list, so a million initiatives share a few hundred
    combinations; a question about technologies is then asked once per combination, not once per initiative.
    """
    cells = inventory["technologies"]
    try:
        codes, combos = pd.factorize(cells, use_na_sentinel=False)
    except TypeError:  # lists are not hashable
        codes, combos = pd.factorize(cells.map(_as_tuple), use_na_sentinel=False)
    return codes, [_as_tuple(c) for c in combos]


def uses_technology(coded: tuple[np.ndarray, list[tuple[str, ...]]], technologies) -> np.ndarray:
    """Whether each initiative uses at least one of `technologies`, from its `technology_codes`."""
    codes, combos = coded
    wanted = set(technologies)
    return np.array([any(t in wanted for t in c) for c in combos], dtype=bool)[codes]


PERIOD_BREAKS = (2015, 2020)
"""Start years that open a new period: before 2015, 2015–2019, 2020 onwards (the report's 2019 and 2022 cycles)."""

def trend_flags(inventory: pd.DataFrame) -> pd.DataFrame:
    """One boolean column per trend for every initiative (same index as `inventory`).

    Why: the three trends are the report's headline reading of where smart cities are going; fixing each as a
    flag on one initiative makes every share below countable and checkable line by line.
    """
    return pd.DataFrame({
        "inclusivity": _bool(inventory["inclusive"]),
        "intelligence": uses_technology(technology_codes(inventory), INTELLIGENT_TECHNOLOGIES),
        "integration": _bool(inventory["integrates_data"]) | mentions_integration(initiative_text(inventory)),
    }, index=inventory.index)


def period_of(years: pd.Series, breaks: tuple[int, ...] = PERIOD_BREAKS) -> pd.Series:
    """The period label of each start year ('before 2015', '2015–2019', '2020 onwards'); missing years stay NA.

    Why: single years hold a handful of initiatives each; periods are coarse enough to compare.
    """
    labels = period_labels(breaks)
    y = pd.to_numeric(years, errors="coerce").astype(float)
    idx = np.searchsorted(np.asarray(breaks), y.to_numpy(), side="right")
    out = np.array(labels, dtype=object)[np.minimum(idx, len(labels) - 1)]
    out[np.isnan(y.to_numpy())] = pd.NA
    return pd.Series(out, index=years.index, dtype="object")


def period_labels(breaks: tuple[int, ...] = PERIOD_BREAKS) -> list[str]:
    """The labels `period_of` uses, oldest first."""
    labels = [f"before {breaks[0]}"]
    labels += [f"{a}–{b - 1}" for a, b in pairwise(breaks)]
    labels.append(f"{breaks[-1]} onwards")
    return labels


def trend_shares(inventory: pd.DataFrame, by: str | list[str] | None = None,
                 flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Count and share of initiatives carrying each trend, per group of `by` columns (or overall).

    Returns one row per (group, trend): the `by` columns, trend, n, count, share, ci_low, ci_high. `flags` are
    the inventory's `trend_flags` when the caller has them already (reading every text is the slow part).
    Why: the same tidy shape serves cities, regions and periods, so the report and trends.csv read alike.
    """
    flags = trend_flags(inventory) if flags is None else flags
    keys = [by] if isinstance(by, str) else list(by or [])
    frame = pd.concat([inventory[keys].reset_index(drop=True), flags.reset_index(drop=True)], axis=1)
    if keys:
        grouped = frame.groupby(keys, sort=True, dropna=True)
        n = grouped.size().rename("n")
        counts = grouped[list(TRENDS)].sum()
    else:
        n = pd.Series([len(frame)], name="n")
        counts = frame[list(TRENDS)].sum().to_frame().T
    groups = len(counts)
    each = np.repeat(np.arange(groups), len(TRENDS))  # one row per group and trend
    out = counts.index.to_frame(index=False).iloc[each].reset_index(drop=True) if keys else pd.DataFrame(
        index=range(groups * len(TRENDS)))
    out["trend"] = np.tile(np.array(TRENDS, dtype=object), groups)
    out["n"] = np.asarray(n.reindex(counts.index) if keys else n, dtype=np.int64)[each]
    out["count"] = counts[list(TRENDS)].to_numpy().astype(np.int64).ravel()
    out["share"] = out["count"] / out["n"]
    out["ci_low"], out["ci_high"] = wilson_interval(out["count"], out["n"])
    return out


def with_region(inventory: pd.DataFrame, cities: pd.DataFrame) -> pd.DataFrame:
    """The inventory with each initiative's `region`: its city's continent (joined on the `city_id` slug)."""
    return inventory.assign(region=inventory["city_id"].map(continents(cities)))


def trends_table(inventory: pd.DataFrame, cities: pd.DataFrame, breaks: tuple[int, ...] = PERIOD_BREAKS,
                 flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """trends.csv: trend shares overall, per region, per city, per period and per region × period.

    Columns: scope (all | region | city | period | region_period), region, city, period, trend, n, count,
    share, ci_low, ci_high; cells that do not apply to a scope are empty. Periods count only initiatives with
    a start year; `flags` are the inventory's `trend_flags` when the caller has them already. Why: one tidy
    file answers "which cities, which regions, and is it rising?" without joins.
    """
    inv = with_region(inventory, cities).assign(period=lambda f: period_of(f["start_year"], breaks))
    name = continents(cities)
    flags = trend_flags(inventory) if flags is None else flags
    parts = [
        trend_shares(inv, flags=flags).assign(scope="all"),
        trend_shares(inv, "region", flags).assign(scope="region"),
        trend_shares(inv, "city_id", flags).rename(columns={"city_id": "city"}).assign(
            scope="city", region=lambda f: f["city"].map(name)),
        trend_shares(inv, "period", flags).assign(scope="period"),
        trend_shares(inv, ["region", "period"], flags).assign(scope="region_period"),
    ]
    out = pd.concat(parts, ignore_index=True)
    columns = ["scope", "region", "city", "period", "trend", "n", "count", "share", "ci_low", "ci_high"]
    for c in columns:
        if c not in out:
            out[c] = pd.NA
    order = {p: i for i, p in enumerate(period_labels(breaks))}
    out["_p"] = out["period"].map(order)
    scope_order = {s: i for i, s in enumerate(("all", "region", "city", "period", "region_period"))}
    out["_s"] = out["scope"].map(scope_order)
    out["_t"] = out["trend"].map({t: i for i, t in enumerate(TRENDS)})
    out = out.sort_values(["_s", "region", "city", "_p", "_t"], na_position="first", kind="stable")
    return out[columns].reset_index(drop=True)


def city_trend_shares(inventory: pd.DataFrame, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cities × trends table of shares (index: city slug). Why: the trend part of a city's profile."""
    flags = trend_flags(inventory) if flags is None else flags
    return flags.groupby(inventory["city_id"].to_numpy()).mean().astype(float)


@dataclass(frozen=True)
class PeriodTest:
    """Whether a trend's share differs between periods: chi-square on periods × (flag, no flag)."""

    trend: str
    shares: dict[str, float]
    n: dict[str, int]
    chi2: float
    dof: int
    p: float
    cramers_v: float
    slope: float  # least-squares change in share per period step (positive: rising)


def period_tests(inventory: pd.DataFrame, breaks: tuple[int, ...] = PERIOD_BREAKS,
                 flags: pd.DataFrame | None = None) -> list[PeriodTest]:
    """For each trend, is its share rising or falling across periods (initiatives with a start year only)?

    Why: the report reads its trends from one edition to the next; with start years we can ask the same of one
    inventory, and say how strong the change is (Cramér's V) rather than only whether it exists.
    """

    period = period_of(inventory["start_year"], breaks)
    keep = period.notna().to_numpy()
    flags = (trend_flags(inventory) if flags is None else flags)[keep]
    labels = [p for p in period_labels(breaks) if (period[keep] == p).any()]
    out = []
    for trend in TRENDS:
        table = pd.crosstab(period[keep], flags[trend]).reindex(index=labels, columns=[False, True], fill_value=0)
        test = chi_square(table.to_numpy())
        n = table.sum(axis=1)
        shares = table[True] / n
        slope = float(np.polyfit(np.arange(len(labels)), shares.to_numpy(dtype=float), 1)[0]) if len(labels) > 1 \
            else float("nan")
        out.append(PeriodTest(trend, {k: float(v) for k, v in shares.items()}, {k: int(v) for k, v in n.items()},
                              test.chi2, test.dof, test.p, test.cramers_v, slope))
    return out


def _bool(column: pd.Series) -> pd.Series:
    if column.dtype == bool or str(column.dtype) == "boolean":
        return column.fillna(False).astype(bool)
    return column.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))


def _as_tuple(cell) -> tuple[str, ...]:
    if isinstance(cell, (tuple, list)):
        return tuple(cell)
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return ()
    return tuple(x.strip() for x in str(cell).split(";") if x.strip())


def period_sentence(test: PeriodTest) -> str:
    """A period test as one plain sentence: the shares by period, the direction, V and p.

    Why: "inclusivity rose from 3% to 21%" is what a reader takes away; the V and p say how far to trust it.
    """
    parts = ", ".join(f"{test.shares[k]:.0%} of {test.n[k]} ({k})" for k in test.shares)
    values = list(test.shares.values())
    first, last = values[0], values[-1]
    if test.p < 0.05:
        move = "rises" if last > first else "falls"
        verdict = f"{test.trend.capitalize()} {move} over time"
    else:
        verdict = f"{test.trend.capitalize()} shows no clear change over time"
    p = "p < 0.001" if test.p < 0.001 else f"p = {test.p:.3f}" if test.p < 0.01 else f"p = {test.p:.2f}"
    return f"{verdict}: {parts}; chi-square {test.chi2:.1f} on {test.dof} df, {p}, Cramér's V = {test.cramers_v:.2f}."
