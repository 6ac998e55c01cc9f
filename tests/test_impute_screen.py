"""Denominate, impute and screen: the data steps before treatment, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cube, flat_framework, hand_framework, make_context

from smartcities.engine.denominate import by_framework
from smartcities.engine.impute import group_mean, group_median, mean, median, none
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.engine.registry import methods
from smartcities.engine.screen import coverage
from smartcities.engine.step_log import step_log
from smartcities.errors import InputError
from smartcities.model.framework import Framework, Node

NAN = np.nan
# six units in two groups (E, E, E, A, A, A), two indicators
X = cube([[1, 10], [2, NAN], [6, 30], [NAN, 100], [20, 200], [40, NAN]])
GROUPS = {"region": np.array(["E", "E", "E", "A", "A", "A"], dtype=object)}


def ctx():
    return make_context(6, flat_framework((1, 1)), groups=GROUPS)


def test_registered():
    assert set(methods("impute")) == {"none", "mean", "median", "group-mean", "group-median"}
    assert "coverage" in methods("screen")
    assert "by-framework" in methods("denominate")


def test_none_leaves_gaps():
    out = none(X, ctx())
    assert np.array_equal(out, X, equal_nan=True)


def test_mean_and_median():
    out = mean(X, ctx())[0]
    assert out[3, 0] == pytest.approx((1 + 2 + 6 + 20 + 40) / 5)
    assert out[1, 1] == out[5, 1] == pytest.approx((10 + 30 + 100 + 200) / 4)
    assert out[0, 0] == 1  # present values untouched
    out = median(X, ctx())[0]
    assert out[3, 0] == 6
    assert out[1, 1] == pytest.approx((30 + 100) / 2)


def test_group_mean_uses_the_units_group():
    out = group_mean(X, ctx(), group="region")[0]
    assert out[3, 0] == pytest.approx(30)  # A: (20 + 40)/2
    assert out[1, 1] == pytest.approx(20)  # E: (10 + 30)/2
    assert out[5, 1] == pytest.approx(150)  # A: (100 + 200)/2
    assert not np.isnan(out).any()


def test_group_median():
    Xm = cube([[1, 0], [2, 0], [9, 0], [NAN, 0], [5, 0], [7, 0], [100, 0]])
    g = {"g": np.array(["x", "x", "x", "x", "y", "y", "y"], dtype=object)}
    out = group_median(Xm, make_context(7, flat_framework((1, 1)), groups=g), group="g")[0]
    assert out[3, 0] == 2


def test_group_with_nothing_present_stays_missing():
    Xm = cube([[NAN, 1], [NAN, 2], [3, 3], [4, 4]])
    g = {"g": np.array(["x", "x", "y", "y"], dtype=object)}
    out = group_mean(Xm, make_context(4, flat_framework((1, 1)), groups=g), group="g")[0]
    assert np.isnan(out[:2, 0]).all()


def test_units_with_no_group_are_not_imputed_from_each_other_and_the_log_says_why_per_value():
    """u2 and u3 have no group (an empty iData cell, an empty cities-table cell); group y has no value of i0."""
    Xm = cube([[1, 1], [3, NAN], [NAN, 5], [7, NAN], [NAN, 9], [NAN, 11]])
    g = {"g": np.array(["x", "x", np.nan, "nan", "y", "y"], dtype=object)}
    c = make_context(6, flat_framework((1, 1)), groups=g)
    steps = _pipeline({"impute": {"method": "group-mean", "group": "g"}})
    stages = run_pipeline(Xm, c, steps)
    out = stages.data["impute"][0]
    assert out[1, 1] == 1 and np.isnan(out[3, 1]) and np.isnan(out[2, 0])  # u2 and u3 take nothing from each other
    log = step_log(stages, c, steps).table
    left = log[log.action == "not-imputed"]
    assert [(r.unit, r.indicator, r.count, r.severity) for r in left.itertuples()] == [
        ("u2", "i0", 1, "warning"), ("u3", "i1", 1, "warning"), ("u4", "i0", 1, "warning"),
        ("u5", "i0", 1, "warning")]
    assert list(left.detail) == ["group-mean within g: the unit has no g; the value stays missing"] * 2 + [
        "group-mean within g: no unit of its g has a value of the indicator; the value stays missing"] * 2


def test_unknown_group():
    with pytest.raises(InputError, match="unknown group 'regoin'.*have: region"):
        group_mean(X, ctx(), group="regoin")


def test_screen_by_unit_coverage():
    Xs = cube([[1, 2, 3, 4], [1, NAN, 3, 4], [1, NAN, NAN, 4], [NAN, NAN, NAN, 4]])
    c = make_context(4)  # hand framework: four indicators
    units, indicators = coverage(Xs, c, min_coverage=0.75)
    assert units[0].tolist() == [True, True, False, False]  # 4/4, 3/4 = 0.75 kept; 2/4 and 1/4 removed
    assert indicators[0].all()
    assert coverage(Xs, c)[0].all()  # default keeps everything


def test_screen_by_indicator_coverage():
    Xs = cube([[1, 2, 3, 4], [1, NAN, 3, 4], [1, NAN, NAN, 4], [NAN, NAN, NAN, 4]])
    units, indicators = coverage(Xs, make_context(4), min_indicator_coverage=0.5)
    assert indicators[0].tolist() == [True, False, True, True]  # b: present for 1 of 4 units
    assert units[0].all()


def test_screen_counts_only_units_still_in_the_data():
    """A unit with no value at all (removed before) does not lower an indicator's coverage."""
    Xs = cube([[1, 2], [3, NAN], [NAN, NAN]])
    assert coverage(Xs, make_context(2, flat_framework((1, 1))), min_indicator_coverage=0.5)[1][0].tolist() == [
        True, True]


def test_screen_zeros_as_missing():
    Xs = cube([[0, 0, 3, 4], [1, 2, 3, 4]])
    c = make_context(2)
    assert coverage(Xs, c, min_coverage=0.75)[0].all()
    assert coverage(Xs, c, min_coverage=0.75, zeros_missing=True)[0][0].tolist() == [False, True]


def _pipeline(*entries):
    return [Step.parse(e) for e in entries] + [Step.parse({"aggregate": {"method": "arithmetic"}})]


@pytest.mark.parametrize("order", ["screen-impute", "impute-screen"])
def test_screened_unit_stays_removed_whatever_follows(order):
    """A unit screened out is not brought back by imputation, and imputation never replaces a measured value."""
    Xs = cube([[1, 10], [2, NAN], [6, 30], [NAN, NAN], [20, 200], [40, NAN]])
    Xs[0, 3, 0] = 7.0  # unit 3: one of two values measured, 50% coverage
    screen = {"screen": {"min_coverage": 0.6}}
    impute = {"impute": {"method": "group-median", "group": "region"}}
    steps = _pipeline(screen, impute) if order == "screen-impute" else _pipeline(impute, screen)
    stages = run_pipeline(Xs, ctx(), steps)
    if order == "screen-impute":
        assert np.isnan(stages.scores[0, 3]).all() and np.isnan(stages.ranks[0, 3]).all()
        assert np.isnan(stages.data["impute"][0, 3]).all()  # stays blank after imputation
        assert not stages.kept["impute"].units[0, 3]
        # unit 1 (E, 50%) is removed too; unit 5 (A, 50%) likewise: nothing of theirs is filled
        assert np.isnan(stages.data["impute"][0, [1, 5]]).all()
    else:  # imputed first, every unit is complete when screened: all are ranked, as COINr does
        assert not np.isnan(stages.ranks[0, :, -1]).any()
    measured = ~np.isnan(Xs[0]) & stages.kept["impute"].cells()[0]
    assert np.array_equal(stages.data["impute"][0][measured], Xs[0][measured])


def test_impute_never_replaces_a_measured_value():
    """Whatever a method returns, the pipeline keeps present values as they were."""
    from smartcities.engine.pipeline import Kept, apply_step

    step = Step.parse({"impute": {"method": "mean"}})
    Y, _ = apply_step(X, Kept.measured(X), ctx(), step)
    present = ~np.isnan(X)
    assert np.array_equal(Y[present], X[present])
    assert not np.isnan(Y).any()


def test_unit_with_no_data_is_never_ranked():
    Xs = cube([[1, 10], [2, 20], [NAN, NAN], [4, 40], [5, 50], [6, 60]])
    stages = run_pipeline(Xs, ctx(), _pipeline({"impute": {"method": "group-mean", "group": "region"}}))
    assert np.isnan(stages.data["impute"][0, 2]).all()
    assert np.isnan(stages.ranks[0, 2]).all()
    assert not stages.kept["raw"].units[0, 2]


def test_screened_out_units_get_no_score_or_rank():
    Xs = cube([[10, 20, 30, 40], [40, 30, 20, 10], [NAN, NAN, NAN, 5], [20, 20, 20, 20]])
    c = make_context(4)
    steps = [Step.parse({"screen": {"min_coverage": 0.5}}), Step.parse({"normalise": {"method": "minmax"}}),
             Step.parse({"aggregate": {"method": "arithmetic"}})]
    stages = run_pipeline(Xs, c, steps)
    assert np.isnan(stages.scores[0, 2]).all()
    assert np.isnan(stages.ranks[0, 2]).all()
    assert set(stages.ranks[0, [0, 1, 3], -1]) <= {1.0, 2.0, 3.0}
    # the dropped unit's 5 does not set b2's minimum
    assert stages.data["normalise"][0, 1, 3] == 0.0


def test_denominate_by_framework():
    fw = Framework.from_nodes([Node("I", "I"), Node("flights", "f", "I", denominator="pop"),
                               Node("area_raw", "a", "I")])
    c = make_context(3, fw, denominators={"pop": np.array([2.0, 4.0, 10.0])})
    Xd = cube([[10, 1], [10, 2], [10, 3]])
    out = by_framework(Xd, c)[0]
    assert np.allclose(out[:, 0], [5, 2.5, 1])
    assert np.array_equal(out[:, 1], [1, 2, 3])  # no denominator: unchanged
    assert np.allclose(by_framework(Xd, c, scale=1000)[0, :, 0], [5000, 2500, 1000])


def test_denominate_with_an_unknown_denominator():
    fw = Framework.from_nodes([Node("I", "I"), Node("x", "x", "I", denominator="GDP")])
    with pytest.raises(InputError, match="'GDP', which is not in the data"):
        by_framework(cube([[1], [2]]), make_context(2, fw, denominators={"Area": np.ones(2)}))


def test_impute_then_aggregate_in_a_pipeline():
    c = make_context(2, hand_framework(), groups={"g": np.array(["x", "x"], dtype=object)})
    Xp = cube([[10, NAN, 30, 50], [20, 40, 10, 70]])
    steps = [Step.parse({"impute": {"method": "group-mean", "group": "g"}}),
             Step.parse({"aggregate": {}})]
    stages = run_pipeline(Xp, c, steps)
    assert stages.data["impute"][0, 0, 1] == 40
    assert stages.scores[0, 0, 4] == pytest.approx(0.25 * 10 + 0.75 * 40)


def test_kept_blanks_removed_cells_and_leaves_full_data_alone():
    from smartcities.engine.pipeline import Kept

    X = cube([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    everything = Kept.measured(X)
    assert everything.blank(X) is X  # nothing removed: no copy
    kept = everything & Kept(np.array([[True, False, True]]), np.array([[True, False]]))
    Y = kept.blank(X)
    assert np.array_equal(Y, cube([[1.0, np.nan], [np.nan, np.nan], [5.0, np.nan]]), equal_nan=True)
    assert X[0, 0, 1] == 2.0  # the input is not modified
