"""Sobol designs and the Saltelli/Jansen estimators against analytic results and SALib."""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np
import pytest

from smartcities.robustness.sampling import montecarlo, saltelli, scrambled_directions, sobol_points
from smartcities.robustness.sensitivity import Z_95, ishigami, ishigami_indices, sobol_indices


def test_saltelli_design_layout():
    d = saltelli(8, (0, 1, 1, 2), seed=1)
    assert d.u.shape == (8 * 5, 4) and d.k == 3
    assert ((d.u >= 0) & (d.u < 1)).all()
    A, B = d.u[d.block("A")], d.u[d.block("B")]
    for g, cols in enumerate(([0], [1, 2], [3])):
        ab = d.u[d.block(g)]
        others = [c for c in range(4) if c not in cols]
        np.testing.assert_array_equal(ab[:, cols], B[:, cols])  # a group's columns move together
        np.testing.assert_array_equal(ab[:, others], A[:, others])


def test_designs_are_fixed_by_the_seed():
    np.testing.assert_array_equal(saltelli(16, (0, 1), 5).u, saltelli(16, (0, 1), 5).u)
    assert not np.array_equal(saltelli(16, (0, 1), 5).u, saltelli(16, (0, 1), 6).u)
    mc = montecarlo(1000, (0, 1, 2), 2).u
    assert mc.shape == (1000, 3)
    assert abs(mc.mean() - 0.5) < 0.005  # quasi-random: far more even than 1/sqrt(n)


def test_ishigami_analytic_indices():
    s1, st = ishigami_indices()
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=1e-4)


def test_ishigami_estimates_within_tolerance():
    n = 2**13
    d = saltelli(n, (0, 1, 2), seed=7)
    idx = sobol_indices(ishigami(d.u), n, 3, bootstrap=100, seed=1)
    s1, st = ishigami_indices()
    np.testing.assert_allclose(idx.S1, s1, atol=0.03)
    np.testing.assert_allclose(idx.ST, st, atol=0.02)
    assert (idx.ST_conf < 0.05).all()
    # the analytic value lies within three half-widths of the 95% interval
    assert (np.abs(idx.ST - st) < 3 * idx.ST_conf).all()


def test_linear_model_and_a_dummy_input():
    # y = x1 + 2 x2 + 3 x3 + 0 x4 with uniform inputs: S_i = a_i² / Σ a² and no interactions
    n = 2**12
    d = saltelli(n, (0, 1, 2, 3), seed=2)
    y = d.u @ np.array([1.0, 2.0, 3.0, 0.0])
    idx = sobol_indices(y, n, 4, seed=0)
    expected = np.array([1, 4, 9, 0]) / 14
    np.testing.assert_allclose(idx.S1, expected, atol=0.02)
    np.testing.assert_allclose(idx.ST, expected, atol=0.02)
    assert idx.S1[3] == 0 and idx.ST[3] == 0 and idx.ST_conf[3] == 0  # COINr's test: a dummy gets exactly 0


def test_grouped_factor_total_index():
    n = 2**12
    d = saltelli(n, (0, 1, 1), seed=3)  # x2 and x3 of Ishigami as one factor
    idx = sobol_indices(ishigami(d.u), n, 2, seed=0)
    s1, st = ishigami_indices()
    assert idx.ST[1] == pytest.approx(st[1] + st[2], abs=0.03)
    assert idx.S1[0] == pytest.approx(s1[0], abs=0.04)


def test_many_outputs_at_once_equal_one_at_a_time():
    n = 256
    d = saltelli(n, (0, 1, 2), seed=4)
    Y = np.column_stack([ishigami(d.u), d.u.sum(axis=1), d.u[:, 0] * d.u[:, 1]])
    together = sobol_indices(Y, n, 3, bootstrap=50, seed=9)
    for j in range(3):
        alone = sobol_indices(Y[:, j], n, 3, bootstrap=50, seed=9)
        for name in ("S1", "S1_conf", "ST", "ST_conf"):
            np.testing.assert_allclose(getattr(together, name)[:, j], getattr(alone, name), rtol=1e-10)


def test_agrees_with_salib_on_the_same_sample():
    analyze = pytest.importorskip("SALib.analyze.sobol")
    n, k = 1024, 3
    d = saltelli(n, (0, 1, 2), seed=11)
    y = ishigami(d.u)
    ya, yb, yab = y[:n], y[n: 2 * n], y[2 * n:].reshape(k, n)
    interleaved = np.column_stack([ya, yab.T, yb]).ravel()  # SALib's row order: A, AB_1..AB_k, B per point
    ref = analyze.analyze({"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}, interleaved,
                          calc_second_order=False, seed=1)
    ours = sobol_indices(y, n, k, seed=1)
    np.testing.assert_allclose(ours.ST, ref["ST"], atol=1e-12)
    # SALib centres on the mean of every row of the design, this module on the A and B rows: S1 differs by
    # (mean difference) · mean(f(AB_i) − f(A)) / V, which is tiny
    np.testing.assert_allclose(ours.S1, ref["S1"], atol=1e-6)


def test_constant_output_has_no_indices():
    n = 64
    idx = sobol_indices(np.ones(n * 4), n, 2, bootstrap=20)
    assert np.isnan(idx.S1).all() and np.isnan(idx.ST).all()


def test_wrong_length_is_an_error():
    with pytest.raises(ValueError, match="expected"):
        sobol_indices(np.zeros(10), 4, 2)


@pytest.mark.parametrize("dims", [1, 2, 5, 40, 333])
@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_sobol_points_are_scipys_bit_for_bit(dims, seed):
    # the whole state (shift and all 30 scrambled direction numbers of every dimension) equals scipy's, and the
    # points, drawn from that state alone, equal scipy's up to a size that uses 15 of the 30 direction numbers
    qmc = pytest.importorskip("scipy.stats.qmc")
    engine = qmc.Sobol(d=dims, scramble=True, rng=np.random.default_rng(seed))
    shift, directions = scrambled_directions(dims, seed)
    np.testing.assert_array_equal(shift, engine._shift)
    np.testing.assert_array_equal(directions, engine._sv)
    for n in (1, 2, 3, 500, 2**14 + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # scipy's warning that n is not a power of 2
            expected = engine.reset().random(n)
        np.testing.assert_array_equal(sobol_points(n, dims, seed), expected)
    assert sobol_points(0, dims, seed).shape == (0, dims)


def test_z_of_the_95_percent_interval_is_scipys():
    norm = pytest.importorskip("scipy.stats").norm
    assert Z_95 == norm.ppf(0.975)
    assert abs(Z_95 - NormalDist().inv_cdf(0.975)) < 1e-15
