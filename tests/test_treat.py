"""Outlier treatment: point-by-point winsorisation with re-checks, then the log fallback on the original values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import column, flat_framework, make_context, need_fixture

from smartcities.engine.treat import boxcox, boxcox_all, log_ct, treatment_details, winsorise, winsorise_column
from smartcities.errors import InputError

DOCS_X = np.array([*range(1, 11), 30, 100], dtype=float)  # COINr's documentation example
TWO_STEPS = np.array([*range(1, 21), 40, 60, 200], dtype=float)  # needs two re-checked steps
TIED_TOP = np.array([*range(1, 23), 80, 100, 100], dtype=float)  # two tied maxima, then three tied


def treat_one(x, **params):
    ctx = make_context(len(x), flat_framework())
    return winsorise(column(x), ctx, **params)[0, :, 0]


def test_coinr_docs_example_winsorises_one_point():
    # skew 3.06 / kurtosis 9.74 fail; 100 becomes 30 (the next value); then skew 1.71 < 2 passes
    expected = DOCS_X.copy()
    expected[-1] = 30.0
    for max_points in (1, 2, 5):
        out = treat_one(DOCS_X, max_points=max_points, skew=2, kurtosis=3.5)
        assert np.array_equal(out, expected)
    col, ok = winsorise_column(DOCS_X, 5, 2.0, 3.5)
    assert ok and np.array_equal(col, expected)


def test_rechecks_after_each_point():
    # step 1: 200 → 60 (skew 2.0009, kurtosis 3.57: still failing); step 2: both 60s → 40, passes
    after_one = TWO_STEPS.copy()
    after_one[-1] = 60.0
    col, ok = winsorise_column(TWO_STEPS, 1, 2.0, 3.5)
    assert not ok and np.array_equal(col, after_one)
    expected = TWO_STEPS.copy()
    expected[-2:] = 40.0
    for max_points in (2, 3, 5):
        col, ok = winsorise_column(TWO_STEPS, max_points, 2.0, 3.5)
        assert ok and np.array_equal(col, expected)  # stops as soon as it passes: 40 is never touched


def test_tied_extremes_move_together_and_count_as_points():
    # step 1 moves both 100s to 80 (two points, still failing); step 2 moves the three 80s to 22 (passes)
    col, ok = winsorise_column(TIED_TOP, 5, 2.0, 3.5)
    expected = TIED_TOP.copy()
    expected[-3:] = 22.0
    assert ok and np.array_equal(col, expected)
    col, ok = winsorise_column(TIED_TOP, 3, 2.0, 3.5)
    assert ok and np.array_equal(col, expected)
    # with two points allowed, the first step already uses them up
    col, ok = winsorise_column(TIED_TOP, 2, 2.0, 3.5)
    after_one = TIED_TOP.copy()
    after_one[-2:] = 80.0
    assert not ok and np.array_equal(col, after_one)


def test_log_fallback_uses_the_original_values():
    # max_points = 1 is not enough for TWO_STEPS: the untouched column gets log(x − min + 0.01·(max − min))
    out = treat_one(TWO_STEPS, max_points=1, skew=2, kurtosis=3.5, fallback="log")
    assert np.allclose(out, np.log(TWO_STEPS - 1.0 + 0.01 * 199.0))
    assert out[0] == pytest.approx(np.log(1.99))
    assert out[-1] == pytest.approx(np.log(200.99))
    # same for the tied case with two points
    out = treat_one(TIED_TOP, max_points=2)
    assert np.allclose(out, np.log(TIED_TOP - 1.0 + 0.99))


def test_fallback_none_keeps_the_partly_winsorised_values():
    out = treat_one(TWO_STEPS, max_points=1, fallback="none")
    expected = TWO_STEPS.copy()
    expected[-1] = 60.0
    assert np.array_equal(out, expected)


def test_fallback_boxcox():
    out = treat_one(TWO_STEPS, max_points=1, fallback="boxcox", boxcox_lambda=0.5)
    y = TWO_STEPS - 1.0 + 1.0
    assert np.allclose(out, (np.sqrt(y) - 1) / 0.5)
    out = treat_one(TWO_STEPS, max_points=1, fallback="boxcox")  # lambda 0: log(x − min + 1)
    assert np.allclose(out, np.log(TWO_STEPS))


def test_unknown_fallback_is_an_input_error():
    with pytest.raises(InputError, match="did you mean 'log'"):
        treat_one(DOCS_X, fallback="logg")


def test_negative_skew_winsorises_the_low_end():
    x = -DOCS_X
    out = treat_one(x)
    expected = x.copy()
    expected[-1] = -30.0
    assert np.array_equal(out, expected)


def test_passing_indicators_are_untouched():
    ctx = make_context(12, flat_framework((1, 1)))
    X = np.stack([DOCS_X, np.arange(12.0)], axis=1)[None]
    out = winsorise(X, ctx)
    assert np.array_equal(out[0, :, 1], np.arange(12.0))
    assert out[0, -1, 0] == 30.0
    assert np.array_equal(X[0, :, 0], DOCS_X)  # the input array is not modified


def test_missing_values_stay_missing():
    x = np.concatenate([DOCS_X, [np.nan]])
    out = treat_one(x)
    assert np.isnan(out[-1])
    assert out[-2] == 30.0
    logged = treat_one(np.concatenate([TWO_STEPS, [np.nan]]), max_points=1)
    assert np.isnan(logged[-1])
    assert np.allclose(logged[:-1], np.log(TWO_STEPS - 1 + 1.99))


def test_each_run_is_treated_on_its_own():
    ctx = make_context(12, flat_framework())
    X = np.stack([DOCS_X, np.arange(12.0)])[:, :, None]
    out = winsorise(X, ctx)
    assert out[0, -1, 0] == 30.0
    assert np.array_equal(out[1, :, 0], np.arange(12.0))


def test_log_ct_and_boxcox_by_hand():
    x = np.array([2.0, 3.0, 12.0])
    assert np.allclose(log_ct(x), np.log([0.1, 1.1, 10.1]))  # 0.01·(12 − 2) = 0.1
    assert np.allclose(log_ct(np.array([-5.0, 5.0])), np.log([0.1, 10.1]))  # any sign
    assert np.allclose(boxcox(x, 0.0), np.log([1.0, 2.0, 11.0]))
    assert np.allclose(boxcox(x, 2.0), ([1.0, 4.0, 121.0] - np.ones(3)) / 2)


def test_boxcox_method_transforms_only_failing_indicators():
    ctx = make_context(12, flat_framework((1, 1)))
    X = np.stack([DOCS_X, np.arange(12.0)], axis=1)[None]
    out = boxcox_all(X, ctx, lam=0.0)
    assert np.allclose(out[0, :, 0], np.log(DOCS_X - 1 + 1))
    assert np.array_equal(out[0, :, 1], np.arange(12.0))


def test_treatment_details():
    before = np.stack([DOCS_X, -DOCS_X, np.arange(12.0), TWO_STEPS[:12]], axis=1)
    after = before.copy()
    after[-1, 0] = 30.0
    after[-1, 1] = -30.0
    after[:, 3] = np.log(before[:, 3] + 1)
    rows = treatment_details(before, after)
    assert rows == [
        {"high": 1, "low": 0, "transformed": False},
        {"high": 0, "low": 1, "transformed": False},
        {"high": 0, "low": 0, "transformed": False},
        {"high": 0, "low": 0, "transformed": True},
    ]


def test_asem_treatment_matches_coinr(asem_standard):
    """Points winsorised per indicator (COINr's nwin) and the treated values."""
    (table,) = need_fixture("standard_treatment.csv")
    ref = pd.read_csv(table).set_index("iCode")
    inds = list(asem_standard.context.indicators)
    before, after = asem_standard.stages.data["screen"][0], asem_standard.stages.data["treat"][0]
    details = dict(zip(inds, treatment_details(before, after)))
    for ind in inds:
        nwin = ref.loc[ind, "winsorise.nwin"]
        counted = details[ind]["high"] + details[ind]["low"]
        assert counted == (0 if pd.isna(nwin) else int(nwin)), ind
        assert not details[ind]["transformed"], ind


@pytest.mark.parametrize("seed", range(4))
def test_limits_from_the_ends_equal_limits_from_the_whole_sorted_column(seed):
    """Long columns are winsorised from the values at each end only; ties at an end that leave steps to take fall
    back to sorting the whole column. Either way the floor, cap and verdict are those of the full sort."""
    from smartcities.engine.treat import _Moments, _walk, winsorised_limits

    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=20_000), 1)
    x[:7] = 9.0 + np.arange(7) // (seed + 1)  # high outliers, tied more with each seed
    x[-40:] = -6.0  # forty tied low values: the low end needs more than its share of the sample
    if seed == 3:
        x[:500] = 9.0  # so many tied maxima that the sample holds nothing below them: the whole column is sorted
    for max_points, skew, kurtosis in ((5, 0.05, 0.5), (12, 0.01, 0.1), (1, 0.5, 1.0)):
        shift = x.mean()
        moments = _Moments.of(x - shift)
        ordered = np.sort(x)
        assert winsorised_limits(x, shift, moments, max_points, skew, kurtosis) == _walk(
            ordered, ordered, shift, moments, max_points, skew, kurtosis)
        col, ok = winsorise_column(x, max_points, skew, kurtosis)
        floor, cap, fixed = winsorised_limits(x, shift, moments, max_points, skew, kurtosis)
        assert ok == fixed and np.array_equal(col, np.clip(x, floor, cap))


def test_nothing_to_treat_returns_the_data_itself():
    ctx = make_context(12, flat_framework())
    X = column(np.arange(12.0))
    assert winsorise(X, ctx) is X


def test_treatment_details_of_a_large_array_count_every_chunk():
    """Counted over chunks of units on every core: the same counts as the comparisons done whole."""
    rng = np.random.default_rng(5)
    before = rng.normal(size=(30_000, 40))
    before[rng.random(before.shape) < 0.03] = np.nan
    after = np.clip(before, -2.5, 2.0)
    after[:, 7] = np.log(before[:, 7] - np.nanmin(before[:, 7]) + 1)  # changes every present value
    after[5, 3] = np.nan  # blanked: neither clipped up nor down
    rows = treatment_details(before, after)
    assert rows[7] == {"high": 0, "low": 0, "transformed": True}
    for j in (0, 3, 39):
        assert rows[j] == {"high": int(np.sum(before[:, j] > 2.0)), "low": int(np.sum(before[:, j] < -2.5)),
                           "transformed": False}
