"""What each step of the nominal build did to the data, read off its stages: the processing log's engine part.

Why read it off the stages: the methods stay pure functions of the data, and the log cannot disagree with what
was computed. Units and indicators are named by their ids.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import numpy as np

from ..model.processing import ProcessingLog
from .context import Context
from .impute import NO_GROUP, group_labels
from .normalise import clipped
from .pipeline import Kept, Stages, Step
from .treat import treatment_details

INPUTS = "inputs"
LOST_BECAUSE = {
    "denominate": "the unit's denominator is missing or zero",
    "normalise": "an indicator with one value throughout cannot be scaled",
    "treat": "the transform is undefined for these values",
}


def step_log(stages: Stages, ctx: Context, steps: list[Step]) -> ProcessingLog:
    """Rows for what had no data, what screening removed, what imputation filled (one row per value), what
    treatment clipped or transformed, values a step lost, and units left without a score."""
    units = np.array(ctx.units, dtype=object)
    indicators = np.array(ctx.indicators, dtype=object)
    missing = _Missing()
    raw, kept = stages.data["raw"][0], stages.kept["raw"]
    parts = [no_data(ctx, kept)]
    before, before_kept = raw, kept
    data_steps = [s for s in steps if s.step in stages.data]
    for step in data_steps:
        after, after_kept = stages.data[step.step][0], stages.kept[step.step]
        if step.step == "screen":
            parts += _screened(step, before, before_kept, after_kept, units, indicators, missing)
        elif step.step == "impute":
            parts += _imputed(step, before, after, after_kept, ctx, missing)
        elif step.step == "treat":
            parts.append(_treated(step, before, after, indicators, missing))
        elif step.step == "normalise":
            parts.append(_clipped(step, before, after_kept, ctx, indicators))
        if step.step != "screen":
            ui, ij = _positions(_lost(before, after, after_kept, missing))
            parts.append(ProcessingLog.rows(step.step, "lost", units=units[ui], indicators=indicators[ij],
                                            warning=True,
                                            detail=f"{step.method} left present values missing: "
                                                   + LOST_BECAUSE.get(step.step, "see the step's method")))
        before, before_kept = after, after_kept
    top = ctx.compiled.nodes.index(ctx.framework.root())
    unscored = before_kept.units[0] & np.isnan(stages.scores[0, :, top]) & ~np.all(missing(before), axis=1)
    parts.append(ProcessingLog.rows("aggregate", "unscored", units=units[unscored], warning=True,
                                    detail="too few values present for a score of the top node"))
    if stages.weighting is not None:
        parts.append(stages.weighting.log())
    return ProcessingLog.concat(*parts)


def no_data(ctx: Context, kept: Kept) -> ProcessingLog:
    """Rows for the units and indicators with no value at all (`kept`, Kept.measured of the raw values), left out
    before the first step: what `validate` says of the inputs, as a build does."""
    return ProcessingLog.concat(
        ProcessingLog.rows(INPUTS, "no-data", units=np.array(ctx.units, dtype=object)[~kept.units[0]], warning=True,
                           detail="no value for any indicator: not ranked"),
        ProcessingLog.rows(INPUTS, "no-data", indicators=np.array(ctx.indicators, dtype=object)[~kept.indicators[0]],
                           warning=True, detail="no value for any unit: left out of every score"))


class _Missing:
    """`np.isnan` of each stage, computed once: the log reads most stages three or four times, and a step that
    left its data as it was hands on the same memory. A stage is known by where its values are (memory, shape,
    strides); each stage seen is kept alive here, so no other array can come to have its place."""

    def __init__(self) -> None:
        self._found: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # place → (the stage; its mask)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        place = (X.__array_interface__["data"][0], X.shape, X.strides, X.dtype.str)
        if place not in self._found:
            self._found[place] = (X, np.isnan(X))
        return self._found[place][1]


def _positions(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """`np.nonzero(mask)`, through the flat positions: many times faster on a large 2-D mask."""
    return np.unravel_index(np.flatnonzero(mask), mask.shape)


def _lost(before: np.ndarray, after: np.ndarray, kept, missing: _Missing) -> np.ndarray:
    """Cells present before a step, missing after it and still in the build."""
    if after is before:
        return np.zeros(before.shape, bool)
    lost = missing(after) & ~missing(before)
    return lost if kept.units.all() and kept.indicators.all() else lost & kept.cells()[0]


def _screened(step: Step, before, kept_before, kept_after, units, indicators, missing: _Missing
              ) -> list[ProcessingLog]:
    present = ~missing(before)
    if step.params.get("zeros_missing"):
        present &= before != 0
    out = []
    gone = np.flatnonzero(kept_before.units[0] & ~kept_after.units[0])
    share = present.mean(axis=1)
    minimum = float(step.params.get("min_coverage", 0.0))
    out.append(ProcessingLog.rows("screen", "removed-unit", units=units[gone], counts=present[gone].sum(axis=1),
                                  detail=[f"coverage {share[i]:.0%} below min_coverage {minimum:.0%}"
                                          for i in gone]))
    gone = np.flatnonzero(kept_before.indicators[0] & ~kept_after.indicators[0])
    counted = max(int(present.any(axis=1).sum()), 1)
    share = present.sum(axis=0) / counted
    minimum = float(step.params.get("min_indicator_coverage", 0.0))
    out.append(ProcessingLog.rows("screen", "removed-indicator", indicators=indicators[gone],
                                  counts=present[:, gone].sum(axis=0),
                                  detail=[f"coverage {share[j]:.0%} below min_indicator_coverage {minimum:.0%}"
                                          for j in gone]))
    return out


def _imputed(step: Step, before, after, kept, ctx: Context, missing: _Missing) -> list[ProcessingLog]:
    """A note per value imputed; a warning per value the step was asked to impute and left missing, with why."""
    units, indicators = np.array(ctx.units, dtype=object), np.array(ctx.indicators, dtype=object)
    group = step.params.get("group")
    how = step.method + (f" within {group}" if group else "")
    filled = missing(before) & ~missing(after)
    ui, ij = _positions(filled)
    out = [ProcessingLog.rows("impute", "imputed", units=units[ui], indicators=indicators[ij], detail=how)]
    if step.method != "none":
        ui, ij = _positions(missing(after) & kept.cells()[0])
        why = "no unit has a value of the indicator"
        if group:
            why = np.where(group_labels(ctx, group)[ui] == NO_GROUP, f"the unit has no {group}",
                           f"no unit of its {group} has a value of the indicator").astype(object)
        out.append(ProcessingLog.rows("impute", "not-imputed", units=units[ui], indicators=indicators[ij],
                                      warning=True, detail=f"{how}: " + why + "; the value stays missing"))
    return out


def _clipped(step: Step, before, kept, ctx: Context, indicators) -> ProcessingLog:
    """One row per indicator whose values goal-post truncation or distance-to-target capping clipped."""
    high, low = (mask[0] if kept.units.all() and kept.indicators.all() else mask[0] & kept.cells()[0]
                 for mask in clipped(before[None], ctx, step.method, step.params))
    high, low = np.count_nonzero(high, axis=0), np.count_nonzero(low, axis=0)
    cols = np.flatnonzero(high + low)
    detail = ([f"{high[j]} high, {low[j]} low values truncated to the goalposts" for j in cols]
              if step.method == "goalposts" else [f"{high[j]} capped at the target" for j in cols])
    return ProcessingLog.rows("normalise", "clipped", indicators=indicators[cols], counts=(high + low)[cols],
                              detail=detail)


def _treated(step: Step, before, after, indicators, missing: _Missing) -> ProcessingLog:
    rows = treatment_details(before, after)
    fallback = step.params.get("fallback", "log") if step.method == "winsorise" else step.method
    transform = (f"{fallback}: winsorising did not bring skew and kurtosis within limits"
                 if step.method == "winsorise" else f"{step.method} transform")
    present = np.count_nonzero(~missing(before), axis=0)
    found = [("transformed", indicators[j], present[j], transform) if r["transformed"] else
             ("winsorised", indicators[j], r["high"] + r["low"], f"{r['high']} high, {r['low']} low values clipped")
             for j, r in enumerate(rows) if r["transformed"] or r["high"] or r["low"]]
    runs = [list(run) for _, run in groupby(found, key=itemgetter(0))]  # one frame per run of the same action
    return ProcessingLog.concat(*(ProcessingLog.rows("treat", run[0][0], indicators=[f[1] for f in run],
                                                     counts=[f[2] for f in run], detail=[f[3] for f in run])
                                  for run in runs))
