"""Normalisation methods against hand-computed values; direction −1 indicators are flipped first."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cube, flat_framework, make_context

from smartcities.engine.normalise import (
    borda,
    distance_to_max,
    distance_to_target,
    goalposts,
    minmax,
    percentile,
    rank,
    zscore,
)
from smartcities.engine.registry import methods
from smartcities.errors import InputError

# two indicators over five units: i0 higher is better, i1 lower is better
X = cube([[1, 10], [2, 20], [3, 30], [4, 40], [6, 50]])


def ctx(**node_kwargs):
    return make_context(5, flat_framework((1, -1), **node_kwargs))


def test_registered_names():
    assert set(methods("normalise")) >= {"minmax", "zscore", "rank", "percentile", "borda", "goalposts",
                                         "distance-to-max", "distance-to-target"}


def test_minmax_default_range():
    out = minmax(X, ctx())[0]
    assert np.allclose(out[:, 0], [0, 20, 40, 60, 100])  # (x − 1)/(6 − 1)·100
    assert np.allclose(out[:, 1], [100, 75, 50, 25, 0])  # flipped: the lowest value is best


def test_minmax_range_1_100():
    out = minmax(X, ctx(), range=(1, 100))[0]
    assert np.allclose(out[:, 0], [1, 20.8, 40.6, 60.4, 100])  # 1 + 99·(0, .2, .4, .6, 1)
    assert np.allclose(out[:, 1], [100, 75.25, 50.5, 25.75, 1])


def test_minmax_skips_missing_values():
    Xm = X.copy()
    Xm[0, 4, 0] = np.nan  # the maximum is gone: 4 becomes the top
    out = minmax(Xm, ctx())[0]
    assert np.isnan(out[4, 0])
    assert np.allclose(out[:4, 0], [0, 100 / 3, 200 / 3, 100])


def test_zscore_uses_n_minus_1_sd():
    out = zscore(X, ctx())[0]
    # i0: mean 3.2, deviations (-2.2, -1.2, -0.2, 0.8, 2.8), sum of squares 14.8, variance 14.8/4 = 3.7
    assert np.allclose(out[:, 0], np.array([-2.2, -1.2, -0.2, 0.8, 2.8]) / np.sqrt(3.7))
    # i1 flipped: (-10 … -50), mean -30, variance 1000/4 = 250
    assert np.allclose(out[:, 1], np.array([20, 10, 0, -10, -20]) / np.sqrt(250))
    scaled = zscore(X, ctx(), mean=10, sd=2)[0]
    assert np.allclose(scaled, 10 + 2 * out)


def test_rank_borda_percentile_with_ties():
    Xt = cube([[3, 3], [1, 1], [3, 3], [2, 2], [5, 5]])
    r = rank(Xt, ctx())[0]
    assert np.array_equal(r[:, 0], [3, 1, 3, 2, 5])  # 1 = lowest, ties share the lower rank
    assert np.array_equal(r[:, 1], [2, 5, 2, 4, 1])  # flipped: the lowest value ranks highest
    assert np.array_equal(borda(Xt, ctx())[0], r - 1)
    p = percentile(Xt, ctx())[0]
    # average ranks (3.5, 1, 3.5, 2, 5): (r − 1)/(n − 1)
    assert np.allclose(p[:, 0], [0.625, 0, 0.625, 0.25, 1])
    assert np.allclose(p[:, 1], [0.375, 1, 0.375, 0.75, 0])  # flipped: average ranks (2.5, 5, 2.5, 4, 1)


def test_rank_keeps_missing():
    Xm = cube([[3, 1], [np.nan, 2], [1, 3], [2, 4], [5, 5]])
    r = rank(Xm, ctx())[0]
    assert np.isnan(r[1, 0])
    assert np.array_equal(r[[0, 2, 3, 4], 0], [3, 1, 2, 4])


def test_goalposts():
    c = ctx(goalposts=[(0.0, 5.0), (0.0, 50.0)])
    out = goalposts(X, c)[0]
    assert np.allclose(out[:, 0], [20, 40, 60, 80, 100])  # 6 is past the upper post: truncated
    assert np.allclose(out[:, 1], [80, 60, 40, 20, 0])  # direction −1: the lower post is the good end
    free = goalposts(X, c, truncate=False, scale=1)[0]
    assert free[4, 0] == pytest.approx(1.2)


def test_goalposts_need_every_indicator_to_have_them():
    with pytest.raises(InputError, match="goalposts"):
        goalposts(X, ctx())


def test_distance_to_max_equals_minmax():
    assert np.allclose(distance_to_max(X, ctx()), minmax(X, ctx()))
    assert np.allclose(distance_to_max(X, ctx(), scale=1)[0, :, 0], [0, 0.2, 0.4, 0.6, 1])


def test_distance_to_target():
    c = ctx(target=[5.0, 20.0])
    out = distance_to_target(X, c)[0]
    assert np.allclose(out[:, 0], [0, 25, 50, 75, 100])  # (x − 1)/(5 − 1), capped at the target
    assert np.allclose(out[:, 1], [100, 100, 200 / 3, 100 / 3, 0])  # (50 − x)/(50 − 20), capped
    uncapped = distance_to_target(X, c, cap=False, scale=1)[0]
    assert uncapped[4, 0] == pytest.approx(1.25)
    assert uncapped[0, 1] == pytest.approx(4 / 3)


def test_distance_to_target_needs_targets():
    with pytest.raises(InputError, match="target"):
        distance_to_target(X, ctx())


def test_constant_indicator_gives_missing_not_an_error():
    out = minmax(cube([[2, 1], [2, 2], [2, 3], [2, 4], [2, 5]]), ctx())[0]
    assert np.isnan(out[:, 0]).all()
    assert np.allclose(out[:, 1], [100, 75, 50, 25, 0])


def test_runs_are_normalised_separately():
    two = np.concatenate([X, 2 * X])
    out = minmax(two, ctx())
    assert np.allclose(out[0], out[1])
