"""The processing log: what each step of a build dropped, filled, clipped, transformed or failed.

Why: a wrong result must never be silent. Every part of a build that changes what the user gave (reading the
inputs, the pipeline's steps, the uncertainty runs) adds rows here; the log travels in the `Result`, is written
as `processing.csv`, summarised in `run.json`, said on screen and shown in the report. A row is a *note* when a
step did what the spec asked (impute filled values) and a *warning* when the user may not have meant it (a city
with no data, rows for a city the cities table lacks, failed runs); `--strict` turns warnings into errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ["step", "action", "unit", "indicator", "count", "detail", "severity"]
NOTE, WARNING = "note", "warning"
MAX_DETAILS = 3  # a summary line spells out up to this many distinct details


# Every action a row may name, and what it means: the catalogue docs/reference.md shows, and the one place a new
# kind of row must be added (a row naming another action is a programming error).
ACTIONS = {
    "sensor-indicators": "values of an indicator computed from the sensor store by the spec's sensor rules",
    "outside-districts": "sensors outside every district of the sensor rules, left out of their indicators",
    "separator": "a table was read with a separator other than comma (and decimal commas where it uses them)",
    "missing-code": "cells holding one of the spec's `missing_values` codes were read as missing",
    "suspected-missing-code": "an indicator's extreme value, held by several units far from the rest, looks like "
                              "an undeclared missing-value code",
    "filled": "values of the cities table filled from the shipped GeoNames gazetteer",
    "not-filled": "a city the gazetteer could not match keeps its empty cells",
    "units-are-countries": "the cities table names countries, not cities: no place coordinates or populations are "
                           "looked up for them",
    "fallback-encoding": "a line of a wide table not valid in its `encoding` was read in its `fallback_encoding`",
    "duplicate-left-out": "a row of a wide table whose id an earlier row has was left out (`duplicates: first`)",
    "not-in-cities": "rows of a city the cities table does not list were left out",
    "not-in-framework": "rows of an indicator that is no leaf of the framework (a typo, an unknown id, an aggregate, "
                        "whose score is computed) were left out",
    "no-data": "a unit (or indicator) with no value at all was left out: never ranked from imputed values alone",
    "direction-unstated": "an indicator whose framework states no direction (`direction_basis: unstated`) was read "
                          "as higher-is-better",
    "removed-unit": "screening removed a unit for every later step",
    "removed-indicator": "screening removed an indicator for every later step",
    "imputed": "a missing value was imputed (one row per value)",
    "not-imputed": "a value imputation was asked to fill stays missing, and why: the unit has no group, or no unit "
                   "(of its group) has a value of the indicator (one row per value)",
    "winsorised": "extreme values of an indicator were clipped to the next value",
    "clipped": "values of an indicator beyond its goalposts (`normalise: goalposts`) or past its target "
               "(`distance-to-target`) were clipped to the end of the scale",
    "transformed": "an indicator was transformed (the fallback when winsorising did not fix its skew and kurtosis)",
    "lost": "a step turned a present value into a missing one",
    "unscored": "a unit still in the build got no score for the top node",
    "panel-imputed": "a missing value of an edition was filled from the city's own series over the other editions "
                     "(`editions: impute_panel`; one row per value)",
    "undated-left-out": "initiatives of a city with no start_year, left out of every edition by start_year "
                        "(`editions: undated: leave-out`)",
    "undated-counted": "initiatives of a city with no start_year, counted in every edition by start_year "
                       "(`editions: undated: every-edition`)",
    "started-later": "initiatives of a city started after an edition's year, not in that edition (editions by "
                     "start_year are cumulative)",
    "trend-across-break": "trends of a node cross a methodological break of one of its indicators (`editions: "
                          "breaks`): they compare unlike values; an error under --strict",
    "weighted": "the weight step set the node weights: its method, and what it found (consistency ratios, fit "
                "residuals, BoD scores); an inconsistent AHP matrix is a warning",
    "failed-runs": "uncertainty runs of one configuration could not be evaluated and were left out",
    "sobol-samples-dropped": "Sobol indices were estimated on the base samples whose every run succeeded",
    "rank-quantiles-binned": "the runs' ranks exceeded backend.rank_memory_mb, so the aggregates' rank quantiles "
                             "come from rank histograms (the count is the bin width in places)",
    "not-printed": "what the printed report leaves out: report.pdf itself when no Chromium was found to print it "
                   "(a warning; everything else was published), or the city pages beyond its limit (a note)",
    "not-in-report": "cities beyond report.html's limit, left out of its ranking table and city pages (every city "
                     "is in scores.csv and on the published site)",
}


def entry(step: str, action: str, *, unit: str = "", indicator: str = "", count: int = 1, detail: str = "",
          warning: bool = False) -> dict:
    """One row of the log: `count` values (or units, or runs) that `step` handled by `action`."""
    _known(action)
    return {"step": step, "action": action, "unit": unit, "indicator": indicator, "count": int(count),
            "detail": detail, "severity": WARNING if warning else NOTE}


@dataclass(frozen=True)
class ProcessingLog:
    """Rows `step,action,unit,indicator,count,detail,severity`, in the order the build produced them."""

    table: pd.DataFrame

    @classmethod
    def of(cls, rows: Iterable[dict] | pd.DataFrame = ()) -> ProcessingLog:
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=COLUMNS)
        frame = frame.reindex(columns=COLUMNS)
        frame[["step", "action", "unit", "indicator", "detail", "severity"]] = frame[
            ["step", "action", "unit", "indicator", "detail", "severity"]].fillna("").astype(str)
        frame["count"] = frame["count"].fillna(0).astype("int64")
        return cls(frame.reset_index(drop=True))

    @classmethod
    def rows(cls, step: str, action: str, *, units=(), indicators=(), counts=1, detail="",
             warning: bool = False) -> ProcessingLog:
        """Many rows of one action at once (arrays of equal length; a scalar applies to every row). Why: one
        row per imputed value of a 100,000-city build must cost a vectorised frame, not a Python loop."""
        _known(action)
        given = [np.asarray(a, dtype=object) for a in (units, indicators, counts, detail)]
        n = max(len(a) for a in given if a.ndim)  # units or indicators is always an array

        def column(a, default):
            return np.broadcast_to(a if a.ndim == 0 or len(a) else np.asarray(default, dtype=object), n)

        frame = pd.DataFrame({
            "step": step, "action": action,
            "unit": column(given[0], ""), "indicator": column(given[1], ""),
            "count": column(given[2], 0).astype("int64"), "detail": column(given[3], ""),
            "severity": WARNING if warning else NOTE,
        }, index=pd.RangeIndex(n))
        return cls(frame)

    @classmethod
    def concat(cls, *logs: ProcessingLog) -> ProcessingLog:
        frames = [log.table for log in logs if len(log)]
        return cls(pd.concat(frames, ignore_index=True)) if frames else cls.of()

    def __len__(self) -> int:
        return len(self.table)

    def warnings(self) -> ProcessingLog:
        return ProcessingLog(self.table[self.table["severity"] == WARNING].reset_index(drop=True))

    def summary(self) -> list[dict]:
        """One record per (step, action, severity): total count, rows, the units and indicators named (first
        five of each) and their distinct details when there are at most three; in the order the actions first
        occurred."""
        out = []
        groups = self.table.groupby(["step", "action", "severity"], sort=False)
        for (step, action, severity), rows in groups:
            units = [u for u in dict.fromkeys(rows["unit"]) if u]
            indicators = [i for i in dict.fromkeys(rows["indicator"]) if i]
            details = [d for d in dict.fromkeys(rows["detail"]) if d]
            out.append({"step": step, "action": action, "severity": severity, "count": int(rows["count"].sum()),
                        "rows": len(rows), "units": len(units), "indicators": len(indicators),
                        "examples_units": units[:5], "examples_indicators": indicators[:5],
                        "detail": "; ".join(details) if len(details) <= MAX_DETAILS else ""})
        return out

    def lines(self) -> list[tuple[str, str]]:
        """(severity, sentence) per summary record, for the screen and the report."""
        return [(s["severity"], describe(s)) for s in self.summary()]


def describe(summary: dict) -> str:
    """'impute imputed 35 (12 units: adelaide, hobart, …; 5 indicators: pm25, …): group-median within region'"""
    parts = []
    for kind in ("units", "indicators"):
        n, names = summary[kind], summary[f"examples_{kind}"]
        if n:
            more = ", …" if n > len(names) else ""
            parts.append(f"{n} {kind[:-1] if n == 1 else kind}: {', '.join(names)}{more}")
    where = f" ({'; '.join(parts)})" if parts else ""
    detail = f": {summary['detail']}" if summary["detail"] else ""
    return f"{summary['step']} {summary['action']} {summary['count']}{where}{detail}"


def _known(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"processing-log action {action!r} is not in ACTIONS; add it there with its meaning")
