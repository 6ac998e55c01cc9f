"""The processing log: its rows, summaries and sentences, and what the engine's steps are recorded as doing."""

from __future__ import annotations

import numpy as np
from conftest import cube, flat_framework, make_context

from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.engine.step_log import step_log
from smartcities.model.processing import COLUMNS, ProcessingLog, describe, entry

NAN = np.nan


def test_rows_and_entries_make_the_same_table():
    one = ProcessingLog.of([entry("impute", "imputed", unit="a", indicator="x", detail="mean"),
                            entry("impute", "imputed", unit="b", indicator="x", detail="mean")])
    many = ProcessingLog.rows("impute", "imputed", units=np.array(["a", "b"], dtype=object), indicators=["x", "x"],
                              detail="mean")
    assert list(one.table.columns) == COLUMNS
    assert one.table.equals(many.table)
    assert len(ProcessingLog.rows("screen", "removed-unit", units=np.array([], dtype=object), detail="x")) == 0


def test_summary_lines_and_warnings():
    log = ProcessingLog.concat(
        ProcessingLog.rows("impute", "imputed", units=["a", "b", "c", "d", "e", "f"], indicators="x",
                           detail="median"),
        ProcessingLog.of([entry("inputs", "no-data", unit="z", warning=True, detail="not ranked")]),
        ProcessingLog.of())
    assert len(log) == 7 and len(log.warnings()) == 1
    imputed, nodata = log.summary()
    assert (imputed["count"], imputed["units"], imputed["indicators"]) == (6, 6, 1)
    assert imputed["examples_units"] == ["a", "b", "c", "d", "e"] and imputed["detail"] == "median"
    assert log.lines() == [("note", "impute imputed 6 (6 units: a, b, c, d, e, …; 1 indicator: x): median"),
                           ("warning", "inputs no-data 1 (1 unit: z): not ranked")]
    assert describe(nodata) == "inputs no-data 1 (1 unit: z): not ranked"


def test_distinct_details_are_spelled_out_up_to_three():
    three = ProcessingLog.rows("treat", "winsorised", indicators=["p", "q", "r"], counts=[1, 2, 3],
                               detail=["1 high", "2 high", "3 low"])
    assert three.summary()[0]["detail"] == "1 high; 2 high; 3 low"
    four = ProcessingLog.rows("treat", "winsorised", indicators=list("pqrs"), detail=list("abcd"))
    assert four.summary()[0]["detail"] == ""


def test_step_log_by_hand():
    """Six units, three indicators: unit 5 has no data, unit 4 a third of its data, indicator i1 is constant once
    unit 4 is screened out; a median imputation fills one value."""
    X = cube([[1, 5, 1], [2, 5, 2], [NAN, 5, 3], [4, 5, 4], [50, NAN, NAN], [NAN, NAN, NAN]])
    ctx = make_context(6, flat_framework((1, 1, 1)))
    steps = [Step.parse({"screen": {"min_coverage": 0.6}}), Step.parse({"impute": {"method": "median"}}),
             Step.parse({"normalise": {"method": "minmax"}}), Step.parse({"aggregate": {"method": "arithmetic"}})]
    log = step_log(run_pipeline(X, ctx, steps), ctx, steps).table
    got = {(r.step, r.action, r.unit, r.indicator, r.count, r.severity) for r in log.itertuples()}
    units, inds = ctx.units, ctx.indicators
    assert (("inputs", "no-data", units[5], "", 1, "warning")) in got
    assert ("screen", "removed-unit", units[4], "", 1, "note") in got
    assert ("impute", "imputed", units[2], inds[0], 1, "note") in got
    # b is 5 for every unit left: min-max cannot scale it, and each of its four values is lost, said per value
    lost = log[log.action == "lost"]
    assert set(lost.unit) == set(units[:4]) and set(lost.indicator) == {inds[1]}
    assert (lost.severity == "warning").all() and "one value throughout" in lost.detail.iloc[0]
    detail = log[log.action == "removed-unit"].detail.item()
    assert detail == "coverage 33% below min_coverage 60%"


def test_goal_post_truncation_and_target_capping_count_every_clipped_value():
    """i0 higher and i1 lower is better; unit 5, beyond every goalpost and target, is screened out first."""
    X = cube([[1, 10], [2, 20], [3, 30], [4, 40], [6, 50], [100, NAN]])
    ctx = make_context(6, flat_framework((1, -1), goalposts=[(2.0, 5.0), (15.0, 50.0)], target=[5.0, 20.0]))

    def clipped(method):
        steps = [Step.parse({"screen": {"min_coverage": 0.6}}), Step.parse({"normalise": {"method": method}}),
                 Step.parse({"aggregate": {"method": "arithmetic"}})]
        log = step_log(run_pipeline(X, ctx, steps), ctx, steps).table
        return [(r.step, r.indicator, r.count, r.detail, r.severity) for r in log[log.action == "clipped"].itertuples()]

    # i0: 1 below the lower post, 6 above the upper; i1: 10 is past the good (lower) post, 50 on the bad one
    assert clipped("goalposts") == [("normalise", "i0", 2, "1 high, 1 low values truncated to the goalposts", "note"),
                                    ("normalise", "i1", 1, "1 high, 0 low values truncated to the goalposts", "note")]
    # past the target: 6 of i0 (target 5), 10 of i1 (target 20, lower is better)
    assert clipped("distance-to-target") == [("normalise", "i0", 1, "1 capped at the target", "note"),
                                             ("normalise", "i1", 1, "1 capped at the target", "note")]
    assert clipped("minmax") == []


def test_every_action_is_catalogued():
    import pytest

    with pytest.raises(ValueError, match="'dropped' is not in ACTIONS"):
        entry("impute", "dropped")
    with pytest.raises(ValueError, match="not in ACTIONS"):
        ProcessingLog.rows("impute", "dropped", units=["a"])
