"""Non-compensatory aggregators: the Mazziotta–Pareto index (plain and adjusted) and the mean–min function.

MPI and mean–min are checked by hand; AMPI against the Compind vignette's table on the Europe 2020 data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, cube, flat_framework, hand_framework, make_context, need_shared

from smartcities.engine.aggregate import aggregate, aggregate_levels, ampi, arithmetic, mean_min, mpi
from smartcities.engine.normalise import zscore
from smartcities.errors import InputError

EU_2020 = SHARED / "data" / "compind_examples" / "EU_2020.csv"
EQUAL2 = np.array([[0.5], [0.5]])
A, B, INDEX = 4, 5, 6


def one(rows, W=EQUAL2):
    return cube(rows), W


def test_mpi_by_hand_both_sd_conventions():
    Y, W = one([[90, 110]])  # M = 100; population S = 10, sample S = 10·√2
    assert mpi(Y, W)[0, 0, 0] == pytest.approx(100 - 10 * 0.1)  # M − S·S/M
    assert mpi(Y, W, penalty="NEG")[0, 0, 0] == pytest.approx(101)
    assert mpi(Y, W, sd="sample")[0, 0, 0] == pytest.approx(100 - 200 / 100)  # the penalty doubles with 2 children


def test_mpi_equals_the_published_formula_with_equal_weights():
    rng = np.random.default_rng(4)
    Y = rng.normal(100, 10, size=(1, 6, 5))
    W = np.full((5, 1), 0.2)
    M, S = Y.mean(axis=2), Y.std(axis=2)
    assert np.allclose(mpi(Y, W)[..., 0], M * (1 - (S / M) ** 2), rtol=0, atol=1e-9)
    S1 = Y.std(axis=2, ddof=1)
    assert np.allclose(mpi(Y, W, sd="sample")[..., 0], M - S1 * S1 / M, rtol=0, atol=1e-9)


def test_mpi_weighted_mean_and_sd_by_hand():
    Y = cube([[80, 120]])
    W = np.array([[0.25], [0.75]])  # M = 110; population variance 0.25·30² + 0.75·10² = 300
    assert mpi(Y, W)[0, 0, 0] == pytest.approx(110 - 300 / 110)
    # sample: 300 · 1/(1 − (0.25² + 0.75²)) = 300 / 0.375 = 800
    assert mpi(Y, W, sd="sample")[0, 0, 0] == pytest.approx(110 - 800 / 110)


def test_mpi_penalises_imbalance_not_level():
    Y, W = one([[100, 100], [95, 105], [80, 120]])
    out = mpi(Y, W)[0, :, 0]
    assert out[0] == 100 and out[0] > out[1] > out[2]  # same mean, more spread, lower score
    assert np.all(mpi(Y, W, penalty="NEG")[0, :, 0] >= 100)


def test_mpi_skips_missing_children():
    Y = cube([[90, np.nan, 110], [np.nan, np.nan, 100], [np.nan, np.nan, np.nan]])
    W = np.full((3, 1), 1 / 3)
    out = mpi(Y, W)[0, :, 0]
    assert out[0] == pytest.approx(99)  # the two present: M 100, S 10
    assert out[1] == pytest.approx(100)  # one child: no imbalance
    assert np.isnan(out[2])
    assert mpi(Y, W, sd="sample")[0, 1, 0] == pytest.approx(100)


def test_mpi_needs_positive_values():
    with pytest.raises(InputError, match="zscore and mean: 100, sd: 10"):
        mpi(*one([[0, 110]]))


def test_zscore_at_mean_100_sd_10_is_the_mpi_standardisation():
    ctx = make_context(4, flat_framework(directions=(1, 1)))
    X = cube([[1, 10], [2, 30], [3, 20], [6, 60]])
    Z = zscore(X, ctx, mean=100, sd=10)
    assert np.allclose(np.nanmean(Z, axis=1), 100) and np.allclose(np.nanstd(Z, axis=1, ddof=1), 10)
    M, S = Z[0].mean(axis=1), Z[0].std(axis=1)
    assert np.allclose(mpi(Z, EQUAL2)[0, :, 0], M - S**2 / M)


def test_ampi_rescales_by_goalposts_by_hand():
    Y = cube([[0, 100], [50, 50], [100, 0]])
    # goalposts [0, 100], reference 50: Δ = 50, z = (y − 0)/100·60 + 70 → 70 … 130, the reference at 100
    out = ampi(Y, EQUAL2, goalposts=(0, 100), reference=50)[0, :, 0]
    assert out[1] == pytest.approx(100)
    assert out[0] == pytest.approx(100 - 30 * 30 / 100) == out[2]
    # the data's own bounds (0, 100) and the children's means (50) as reference give the same
    assert np.allclose(ampi(Y, EQUAL2)[0, :, 0], out)


def test_ampi_reference_per_child():
    Y = cube([[10, 10]])
    out = ampi(Y, EQUAL2, goalposts=(0, 20), reference=[10, 5])[0, 0, 0]
    z = np.array([100, (10 - (5 - 10)) / 20 * 60 + 70])  # 100 and 115
    assert out == pytest.approx(z.mean() - z.std() ** 2 / z.mean())


def ampi_compind_2018(year: int) -> np.ndarray:
    need_shared(EU_2020)
    data = pd.read_csv(EU_2020)
    Y = data[[f"employ_{year}", f"finalenergy_{year}"]].to_numpy(float)[None]
    return ampi(Y, EQUAL2, reference=[50, 100], sd="sample", penalty="NEG")[0, :, 0]


def test_ampi_reproduces_the_compind_vignette():
    """Compind's vignette: ci_ampi on EU_2020 employ/finalenergy 2010–2011, gp = c(50, 100), penalty "POS".
    Compind 2.0 took the bounds per year and the n − 1 sd, and added the penalty under "POS": here `NEG`."""
    rows = [0, 1, 2, 28]  # the vignette's rows 1, 2, 3, 29: EU28, EU27, Belgium, Sweden
    assert np.round(ampi_compind_2018(2010)[rows], 2).tolist() == [156.05, 155.89, 138.84, 170.52]
    assert np.round(ampi_compind_2018(2011)[rows], 2).tolist() == [152.17, 152.12, 131.66, 162.23]


def test_ampi_on_pooled_minmax_scale_equals_raw_goalposts():
    """Rescaling is affine: AMPI on minmax [0, 100] data with goalposts [0, 100] equals AMPI on the raw values
    with the raw bounds, the reference carried along."""
    raw = cube([[3, 40], [5, 10], [9, 70], [6, 25]])
    lo, hi = raw.min(axis=1), raw.max(axis=1)
    scaled = (raw - lo) / (hi - lo) * 100
    ref = np.array([4.0, 50.0])
    direct = ampi(raw, EQUAL2, reference=ref)
    assert np.allclose(ampi(scaled, EQUAL2, goalposts=(0, 100), reference=(ref - lo[0]) / (hi[0] - lo[0]) * 100),
                       direct)


def test_mean_min_by_hand_and_limits():
    Y, W = one([[90, 110]])  # M = 100, min = 90
    assert mean_min(Y, W, alpha=0.5, beta=0)[0, 0, 0] == pytest.approx(95)
    assert mean_min(Y, W, alpha=0.5, beta=5)[0, 0, 0] == pytest.approx(100 - 0.5 * (np.sqrt(125) - 5))
    assert mean_min(Y, W, alpha=0, beta=3)[0, 0, 0] == pytest.approx(100)  # the mean
    assert mean_min(Y, W, alpha=1, beta=0)[0, 0, 0] == pytest.approx(90)  # the minimum


def test_mean_min_weighted_and_missing():
    Y = cube([[80, 120, np.nan], [np.nan, 100, np.nan]])
    W = np.array([[0.25], [0.5], [0.25]])  # present a, b: M = (0.25·80 + 0.5·120)/0.75
    out = mean_min(Y, W, alpha=1, beta=0)[0, :, 0]
    assert out[0] == pytest.approx(80)
    assert mean_min(Y, W, alpha=0.5, beta=0)[0, 0, 0] == pytest.approx((80 / 0.75 + 80) / 2 + 0 * out[0])
    assert out[1] == 100


def test_mean_min_minimum_is_per_parent():
    Y = cube([[10, 50, 90, 60]])
    W = np.array([[0.5, 0], [0.5, 0], [0, 0.5], [0, 0.5]])
    assert mean_min(Y, W, alpha=1, beta=0)[0, 0].tolist() == [10, 60]


@pytest.mark.parametrize("params, key", [
    ({"alpha": 1.5}, "alpha must lie in \\[0, 1\\]"),
    ({"alpha": -0.1}, "alpha must lie in"),
    ({"beta": -1}, "beta must be 0 or more"),
    ({"penalty": "POSITIVE"}, "penalty"),
    ({"sd": "samples"}, "did you mean 'sample'"),
    ({"goalposts": (100, 0)}, "goalposts must be"),
    ({"reference": {"a3": 1}}, "reference names 'a3'"),
])
def test_bad_parameters_are_located(params, key):
    ctx = make_context(1, hand_framework())
    with pytest.raises(InputError, match=key) as err:
        aggregate(cube([[100, 100, 100, 100]]), ctx, method="mpi", **params)
    assert err.value.problems[0].column.split(".")[0] == next(iter(params))


def test_through_the_framework_with_missing_children():
    ctx = make_context(1, hand_framework())
    out = aggregate(cube([[90, 110, np.nan, 100]]), ctx, method="mpi", weights="equal")[0, 0]
    assert out[A] == pytest.approx(99) and out[B] == 100
    assert out[INDEX] == pytest.approx(mpi(cube([[99, 100]]), EQUAL2)[0, 0, 0])


def test_reference_by_node_reaches_its_level():
    ctx = make_context(2, hand_framework())
    X = cube([[90, 110, 100, 100], [110, 90, 100, 100]])
    out = aggregate(X, ctx, method="ampi", weights="equal", goalposts=(80, 120), reference={"a1": 90})[0]
    a1 = (np.array([90, 110]) - 70) / 40 * 60 + 70  # reference 90: Δ 20, low goalpost 70 for a1
    a2 = (np.array([110, 90]) - 80) / 40 * 60 + 70  # a2's reference is its mean, 100
    M, S = (a1 + a2) / 2, np.abs(a1 - a2) / 2
    assert np.allclose(out[:, A], M - S**2 / M)


def test_methods_with_a_run_axis_of_weights():
    Y = cube([[90, 110], [100, 120]])
    W = np.stack([EQUAL2, np.array([[0.2], [0.8]])])  # two runs of weights, one set of children
    for method, params in [("mpi", {"sd": "sample"}), ("ampi", {}), ("mean-min", {"alpha": 0.3, "beta": 2.0})]:
        runs = aggregate_levels(Y, [W], [[method]], **params)[..., -1]
        for r in range(2):
            alone = aggregate_levels(Y, [W[r]], [[method]], **params)[0, :, -1]
            assert np.allclose(runs[r], alone), method


def test_mixed_methods_in_one_level_and_arithmetic_unchanged():
    Y = cube([[10, 50, 90, 60]])
    W = np.array([[0.5, 0], [0.5, 0], [0, 0.5], [0, 0.5]])
    out = aggregate_levels(Y, [W], [["arithmetic", "mean-min"]], alpha=1.0, beta=0.0)[0, 0, 4:]
    assert out.tolist() == [30, 60]
    assert np.allclose(aggregate_levels(Y, [W], [["arithmetic"]])[..., 4:], arithmetic(Y, W))
