"""Skewness and kurtosis: the bias-adjusted sample estimators (e1071 type 2, Excel's SKEW and KURT)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import need_fixture
from scipy import stats as sp

from smartcities.engine.stats import kurtosis, passes, skew

# COINr's documentation example: the numbers 1 to 10 and two outliers
DOCS_X = np.array([*range(1, 11), 30, 100], dtype=float)


def test_hand_values():
    # x = 0, 0, 0, 1: mean 1/4, m2 = 3/4, m3 = 3/8, m4 = 21/64 (sums of powers of deviations)
    # g1 = sqrt(4)·(3/8)/(3/4)^1.5, G1 = g1·sqrt(4·3)/2 = 2 exactly; r = 4·m4/m2² = 7/3,
    # G2 = ((5)(7/3 − 3) + 6)·3/(2·1) = 4 exactly
    x = np.array([[0.0, 0.0, 0.0, 1.0]])
    assert skew(x)[0] == pytest.approx(2.0, abs=1e-12)
    assert kurtosis(x)[0] == pytest.approx(4.0, abs=1e-12)


def test_symmetric_data_has_zero_skew():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    assert skew(x)[0] == pytest.approx(0.0, abs=1e-15)
    # uniform 1..5: G2 = -1.2 (Excel: KURT(1,2,3,4,5) = -1.2)
    assert kurtosis(x)[0] == pytest.approx(-1.2, abs=1e-12)


def test_coinr_documentation_example():
    # COINr's skew(x) and kurt(x) for x = c(1:10, 30, 100)
    assert skew(DOCS_X[None])[0] == pytest.approx(3.063241, abs=1e-6)
    assert kurtosis(DOCS_X[None])[0] == pytest.approx(9.741391, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_matches_scipy_bias_adjusted(seed):
    rng = np.random.default_rng(seed)
    X = rng.lognormal(size=(3, 40, 6))
    X[rng.random(X.shape) < 0.15] = np.nan  # missing values are ignored
    s, k = skew(X), kurtosis(X)
    assert s.shape == k.shape == (3, 6)
    for r in range(3):
        for j in range(6):
            col = X[r, :, j]
            col = col[~np.isnan(col)]
            assert s[r, j] == pytest.approx(sp.skew(col, bias=False), rel=1e-10)
            assert k[r, j] == pytest.approx(sp.kurtosis(col, bias=False, fisher=True), rel=1e-10)


def test_missing_values_are_dropped_not_counted():
    with_gap = np.array([[1.0, 2.0, np.nan, 10.0, 3.0]])
    without = np.array([[1.0, 2.0, 10.0, 3.0]])
    assert skew(with_gap)[0] == pytest.approx(skew(without)[0])
    assert kurtosis(with_gap)[0] == pytest.approx(kurtosis(without)[0])


def test_too_few_points_give_nan():
    assert np.isnan(skew(np.array([[1.0, 2.0, np.nan]]))[0])  # skew needs 3 points
    assert not np.isnan(skew(np.array([[1.0, 2.0, 4.0]]))[0])
    assert np.isnan(kurtosis(np.array([[1.0, 2.0, 4.0]]))[0])  # kurtosis needs 4
    assert not np.isnan(kurtosis(np.array([[1.0, 2.0, 4.0, 8.0]]))[0])


def test_other_axis():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(30, 4))
    assert np.allclose(skew(X.T, axis=1), skew(X, axis=0))
    assert np.allclose(kurtosis(X, axis=0), sp.kurtosis(X, axis=0, bias=False))


def test_passing_rule_is_skew_or_kurtosis():
    # skew 2, kurtosis 4: fails only when both limits are reached
    x = np.array([[0.0, 0.0, 0.0, 1.0]])
    assert passes(x, 2.5, 3.5)[0]  # |skew| below its limit
    assert passes(x, 1.5, 5.0)[0]  # kurtosis below its limit
    assert not passes(x, 1.5, 3.5)[0]  # both over
    assert not passes(DOCS_X[None], 2.0, 3.5)[0]
    assert passes(DOCS_X[None], 3.1, 3.5)[0]


def test_negative_skew_uses_absolute_value():
    x = -DOCS_X[None]
    assert skew(x)[0] == pytest.approx(-3.063241, abs=1e-6)
    assert not passes(x, 2.0, 3.5)[0]


def test_untreatable_columns_pass():
    X = np.array([[5.0, 5.0, 5.0, 5.0, 5.0], [1.0, 2.0, np.nan, np.nan, np.nan]])
    assert passes(X, 2.0, 3.5).all()  # constant column, and too few points


def test_asem_skew_and_kurtosis_match_coinr(asem_standard):
    """COINr's check on the screened ASEM data: skew, kurtosis and pass/fail of every indicator."""
    (treatment,) = need_fixture("standard_treatment.csv")
    result = asem_standard
    screened = result.stages.data["screen"]
    ref = pd.read_csv(treatment).set_index("iCode")
    inds = list(result.context.indicators)
    ref = ref.loc[inds]
    assert np.allclose(skew(screened)[0], ref["check_SkewKurt0.Skew"].to_numpy(), rtol=0, atol=1e-9)
    assert np.allclose(kurtosis(screened)[0], ref["check_SkewKurt0.Kurt"].to_numpy(), rtol=0, atol=1e-9)
    expected = ref["check_SkewKurt0.Pass"].astype(str).str.upper().eq("TRUE").to_numpy()
    assert (passes(screened, 2.0, 3.5)[0] == expected).all()


def test_central_sums_per_column_and_in_blocks():
    rng = np.random.default_rng(7)
    X = rng.lognormal(size=(2, 3000, 400))  # large enough to be summed in blocks of columns on every core
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, :, 5] = np.nan  # an indicator with no value at all
    from smartcities.engine.stats import central_sums, passes_sums

    s = central_sums(X)
    assert s.n.shape == s.mean.shape == s.s4.shape == (2, 1, 400)
    col = X[1, :, 3]
    col = col[~np.isnan(col)]
    d = col - col.mean()
    assert s.n[1, 0, 3] == col.size
    assert s.mean[1, 0, 3] == pytest.approx(col.mean(), rel=1e-13)
    assert abs(s.s1[1, 0, 3]) < 1e-9
    for k, got in ((2, s.s2), (3, s.s3), (4, s.s4)):
        assert got[1, 0, 3] == pytest.approx((d**k).sum(), rel=1e-10)
    assert s.n[0, 0, 5] == 0 and np.isnan(s.mean[0, 0, 5])
    assert np.array_equal(np.squeeze(passes_sums(s, 2.0, 3.5), axis=1), passes(X, 2.0, 3.5))
    assert passes(X, 2.0, 3.5)[0, 5]  # nothing to treat


@pytest.mark.parametrize("shape", [(3, 20_000, 60), (900, 40, 30)])
def test_central_sums_over_chunks_whatever_the_cores(monkeypatch, shape):
    """Summed in chunks (of units when a run is long: 20,000 units of 60 columns; of whole runs when runs are
    small: 900 runs of 40 units) whose partial sums are added in order: the sums equal a plain two-pass
    computation to rounding, and one core or two give the same bits."""
    from smartcities.engine import threads
    from smartcities.engine.stats import central_sums

    rng = np.random.default_rng(3)
    X = rng.lognormal(size=shape)
    X[rng.random(X.shape) < 0.05] = np.nan
    runs, units, columns = shape
    assert len(threads.row_chunks(units, columns)) > 2 or len(threads.row_chunks(runs, units * columns)) > 2
    two = central_sums(X)
    monkeypatch.setattr(threads, "WORKERS", 1)
    one = central_sums(X)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(one, two))
    col = X[2, :, 17]
    col = col[~np.isnan(col)]
    d = col - col.mean()
    assert two.n[2, 0, 17] == col.size and two.mean[2, 0, 17] == pytest.approx(col.mean(), rel=1e-14)
    for k, got in ((2, two.s2), (3, two.s3), (4, two.s4)):
        assert got[2, 0, 17] == pytest.approx((d**k).sum(), rel=1e-12)
    by_unit = central_sums(np.moveaxis(X[1], 0, 1), axis=1)  # (indicators, units): the units along axis 1 …
    assert np.allclose(np.squeeze(by_unit.s2), np.squeeze(two.s2[1]), rtol=1e-12)  # … give the same sums
