"""Aggregation: each mean by hand on the small framework, missing children, thresholds, methods per level, weights.

The hand framework (see conftest): Index = (1·A + 2·B)/3, A = (1·a1 + 3·a2)/4, B = (b1 + b2)/2.
Score columns: a1, a2, b1, b2, A, B, Index.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cube, hand_framework, make_context

from smartcities.engine.aggregate import (
    aggregate,
    aggregate_levels,
    arithmetic,
    copeland,
    generalised,
    geometric,
    harmonic,
    node_weights,
)
from smartcities.errors import InputError
from smartcities.model.framework import Framework, Node

A, B, INDEX = 4, 5, 6


def run(rows, **params):
    ctx = make_context(len(rows), hand_framework(weight_sets=params.pop("weight_sets", None)))
    return aggregate(cube(rows), ctx, **params)[0]


def test_column_order_and_leaves_pass_through():
    ctx = make_context(1)
    assert ctx.compiled.nodes == ("a1", "a2", "b1", "b2", "A", "B", "Index")
    out = aggregate(cube([[40, 80, 20, 60]]), ctx)
    assert out.shape == (1, 1, 7)
    assert np.array_equal(out[0, 0, :4], [40, 80, 20, 60])


def test_arithmetic_by_hand():
    out = run([[40, 80, 20, 60]])
    assert out[0, A] == pytest.approx(70)  # 0.25·40 + 0.75·80
    assert out[0, B] == pytest.approx(40)
    assert out[0, INDEX] == pytest.approx(50)  # (70 + 2·40)/3


def test_arithmetic_skips_missing_children_and_renormalises():
    out = run([[10, np.nan, 30, 50], [np.nan, np.nan, 0, 100]])
    assert out[0, A] == pytest.approx(10)  # a2 missing: a1 alone
    assert out[0, INDEX] == pytest.approx((10 + 2 * 40) / 3)
    assert np.isnan(out[1, A])  # no child present
    assert out[1, INDEX] == pytest.approx(50)  # B alone


def test_weighted_means_rescale_weights_and_leave_a_weightless_parent_missing():
    Y = np.array([[[40.0, 80.0, 20.0]]])  # every child present
    W = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 0.0]])  # weights not summing to 1; the second parent has none
    out = arithmetic(Y, W)
    assert out[0, 0, 0] == pytest.approx(70)  # (1·40 + 3·80)/4
    assert np.isnan(out[0, 0, 1])
    assert geometric(Y, W)[0, 0, 0] == pytest.approx(40**0.25 * 80**0.75)


def test_geometric_by_hand():
    out = run([[1, 16, 27, 27]], method="geometric")
    assert out[0, A] == pytest.approx(8)  # 1^0.25 · 16^0.75
    assert out[0, B] == pytest.approx(27)
    assert out[0, INDEX] == pytest.approx(18)  # 8^(1/3) · 27^(2/3) = 2 · 9


def test_geometric_skips_missing():
    out = run([[np.nan, 16, 4, 9]], method="geometric")
    assert out[0, A] == pytest.approx(16)
    assert out[0, B] == pytest.approx(6)


def test_geometric_needs_positive_values():
    with pytest.raises(InputError, match="positive"):
        run([[0, 16, 27, 27]], method="geometric")


def test_harmonic_by_hand():
    out = run([[1, 3, 2, 6]], method="harmonic")
    assert out[0, A] == pytest.approx(2)  # 1/(0.25/1 + 0.75/3)
    assert out[0, B] == pytest.approx(3)  # 1/(0.5/2 + 0.5/6)
    assert out[0, INDEX] == pytest.approx(18 / 7)  # 1/((1/3)/2 + (2/3)/3)


def test_harmonic_rejects_zero():
    with pytest.raises(InputError, match="non-zero"):
        run([[0, 3, 2, 6]], method="harmonic")


def test_generalised_p2_by_hand():
    out = run([[1, 3, 2, 6]], method="generalised", p=2)
    assert out[0, A] == pytest.approx(np.sqrt(7))  # sqrt(0.25·1 + 0.75·9)
    assert out[0, B] == pytest.approx(np.sqrt(20))  # sqrt(0.5·4 + 0.5·36)
    assert out[0, INDEX] == pytest.approx(np.sqrt(47 / 3))  # sqrt((7 + 2·20)/3)


def test_generalised_special_cases():
    rng = np.random.default_rng(3)
    rows = rng.uniform(1, 100, size=(8, 4))
    rows[2, 1] = np.nan
    assert np.allclose(run(rows, method="generalised", p=1), run(rows), equal_nan=True)
    assert np.allclose(run(rows, method="generalised", p=-1), run(rows, method="harmonic"), equal_nan=True)
    near_zero = run(rows, method="generalised", p=1e-7)
    assert np.allclose(near_zero, run(rows, method="geometric"), rtol=1e-5, equal_nan=True)
    assert np.all(run(rows, method="generalised", p=3)[:, 4:] >= run(rows)[:, 4:] - 1e-9)  # power-mean order


def test_generalised_p0_is_refused():
    with pytest.raises(InputError, match="geometric"):
        run([[1, 3, 2, 6]], method="generalised", p=0)


def test_generalised_negative_p_needs_positive_values():
    with pytest.raises(InputError, match="positive"):
        run([[-1, 3, 2, 6]], method="generalised", p=-2)


def test_copeland_three_units_by_hand():
    # children weights 0.5, 0.25, 0.25
    #   U = (3, 1, 2), V = (2, 2, 2), Z = (1, 3, 1)
    #   U vs V: wins child 1, loses child 2, ties child 3 → 0.5 + 0.25/2 = 0.625 > 0.5: U wins
    #   U vs Z: 0.5 + 0.25 = 0.75: U wins;  V vs Z: 0.5 + 0.25 = 0.75: V wins
    Y = np.array([[[3, 1, 2], [2, 2, 2], [1, 3, 1]]], dtype=float)
    W = np.array([[0.5], [0.25], [0.25]])
    assert np.array_equal(copeland(Y, W)[0, :, 0], [2, 0, -2])


def test_copeland_exact_half_is_a_draw():
    # U = (3, 1, 1) and V = (1, 3, 3) with weights 0.5, 0.25, 0.25: U's share is exactly 0.5
    Y = np.array([[[3, 1, 1], [1, 3, 3], [0, 0, 0]]], dtype=float)
    W = np.array([[0.5], [0.25], [0.25]])
    assert np.array_equal(copeland(Y, W)[0, :, 0], [1, 1, -2])
    # equal thirds: U = (3, 1, 2) vs V = (2, 2, 2) wins 1/3 and ties 1/3 → 1/3 + 1/6 = 1/2, a draw
    Y = np.array([[[3, 1, 2], [2, 2, 2], [1, 3, 1]]], dtype=float)
    assert np.array_equal(copeland(Y, np.full((3, 1), 1 / 3))[0, :, 0], [1, 1, -2])


def test_copeland_through_the_framework():
    out = run([[3, 1, 0, 0], [1, 3, 0, 0], [2, 2, 0, 0]], method="copeland")
    # A with weights 0.25/0.75: the unit best on a2 wins every pair
    assert np.array_equal(out[:, A], [-2, 2, 0])
    assert np.array_equal(out[:, B], [0, 0, 0])  # all tied


def test_min_share():
    rows = [[10, np.nan, 30, 50], [40, 80, 20, 60]]
    out = run(rows, min_share=0.6)
    assert np.isnan(out[0, A])  # one of two children: share 0.5 < 0.6
    assert out[0, B] == pytest.approx(40)
    assert np.isnan(out[0, INDEX])  # then Index has one of its two children: 0.5 < 0.6 too
    kept = run(rows, min_share=0.5)
    assert kept[0, A] == pytest.approx(10)
    assert kept[0, INDEX] == pytest.approx((10 + 2 * 40) / 3)
    assert np.allclose(out[1], run(rows)[1])  # complete units are unaffected


def test_min_share_blanks_a_parent_with_too_few_children():
    out = run([[np.nan, np.nan, 30, 50]], min_share=0.75)
    assert np.isnan(out[0, A])
    assert np.isnan(out[0, INDEX])  # Index has 1 of 2 children present: 0.5 < 0.75


def test_methods_per_level():
    out = run([[1, 16, 27, 27]], by_level={3: "geometric"})
    assert out[0, A] == pytest.approx(0.25 + 12)  # level 2 stays arithmetic
    assert out[0, INDEX] == pytest.approx(12.25 ** (1 / 3) * 27 ** (2 / 3))
    out = run([[1, 16, 27, 27]], method="geometric", by_level={2: "arithmetic"})
    assert out[0, INDEX] == pytest.approx(12.25 ** (1 / 3) * 27 ** (2 / 3))


def test_methods_per_node():
    out = run([[1, 16, 4, 9]], by_node={"B": "geometric"})
    assert out[0, A] == pytest.approx(12.25)  # arithmetic: 0.25·1 + 0.75·16
    assert out[0, B] == pytest.approx(6)  # geometric: sqrt(4·9)
    assert out[0, INDEX] == pytest.approx((12.25 + 2 * 6) / 3)
    out = run([[1, 16, 4, 9]], by_level={2: "geometric"}, by_node={"A": "harmonic"})
    assert out[0, A] == pytest.approx(1 / (0.25 + 0.75 / 16))
    assert out[0, B] == pytest.approx(6)
    with pytest.raises(InputError, match="'a1', which is not an aggregate node"):
        run([[1, 16, 4, 9]], by_node={"a1": "geometric"})


def test_unknown_method_is_an_input_error_with_suggestion():
    with pytest.raises(InputError, match="did you mean 'geometric'"):
        run([[1, 16, 27, 27]], method="geometrc")
    with pytest.raises(InputError, match="did you mean 'harmonic'"):
        run([[1, 16, 27, 27]], by_level={2: "harmonik"})


def test_weight_choices():
    rows = [[40, 80, 20, 60]]
    flip = {"flip": {"a1": 3.0, "a2": 1.0, "B": 1.0}}
    out = run(rows, weights="flip", weight_sets=flip)
    assert out[0, A] == pytest.approx(50)  # 0.75·40 + 0.25·80
    assert out[0, INDEX] == pytest.approx(45)  # (50 + 40)/2
    out = run(rows, weights={"B": 1.0})  # mapping overriding the framework's weights
    assert out[0, A] == pytest.approx(70)
    assert out[0, INDEX] == pytest.approx(55)
    out = run(rows, weights="equal")
    assert out[0, A] == pytest.approx(60)
    assert out[0, INDEX] == pytest.approx(50)
    out = run(rows, weights="framework")
    assert out[0, INDEX] == pytest.approx(50)


def test_unknown_weight_set():
    with pytest.raises(InputError, match="did you mean 'flip'"):
        run([[40, 80, 20, 60]], weights="flp", weight_sets={"flip": {"a1": 2.0}})


def test_node_weights():
    ctx = make_context(1, hand_framework(weight_sets={"s": {"a2": 5.0}}))
    assert np.array_equal(node_weights(ctx, "framework"), [1, 3, 1, 1, 1, 2, 1])
    assert np.array_equal(node_weights(ctx, "equal"), np.ones(7))
    assert np.array_equal(node_weights(ctx, "s"), [1, 5, 1, 1, 1, 2, 1])


def test_weights_with_a_run_axis():
    """One weight vector per run (as the uncertainty analysis uses) equals separate builds."""
    ctx = make_context(3)
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 100, size=(2, 3, 4))
    w = np.stack([node_weights(ctx, "framework"), node_weights(ctx, "equal")])
    mats = ctx.compiled.matrices_for(w)
    assert mats[0].shape == (2, 4, 2)
    both = aggregate_levels(X, mats, ["arithmetic", "arithmetic"])
    assert np.allclose(both[0], aggregate(X[:1], ctx)[0])
    assert np.allclose(both[1], aggregate(X[1:], ctx, weights="equal")[0])


@pytest.mark.parametrize("method", ["arithmetic", "geometric"])
def test_one_data_set_under_many_runs_weights_keeps_each_nodes_units_side_by_side(method):
    """The leaves of one data set under every run's weights, aggregated as one product: each run equals its own
    build, and the result holds each node's units side by side in memory (what ranking reads)."""
    ctx = make_context(40)
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 100, size=(1, 40, 4))
    w = np.stack([node_weights(ctx, "framework"), node_weights(ctx, "equal"), rng.uniform(0.5, 2, size=7)])
    mats = ctx.compiled.matrices_for(w)
    runs = aggregate_levels(X, mats, [method, method], with_leaves=False)
    assert runs.shape == (3, 40, 3) and runs.strides[1] == runs.itemsize
    for r in range(3):
        alone = aggregate_levels(X, [m[r] for m in mats], [method, method], with_leaves=False)[0]
        assert np.allclose(runs[r], alone, rtol=1e-14, atol=0)
    assert np.allclose(runs[1], aggregate(X, ctx, method=method, weights="equal")[0][:, 4:], rtol=1e-14, atol=0)


def test_aggregators_directly():
    Y = np.array([[[2.0, 8.0, np.nan]]])
    W = np.array([[0.5], [0.5], [0.0]])
    assert arithmetic(Y, W)[0, 0, 0] == pytest.approx(5)
    assert geometric(Y, W)[0, 0, 0] == pytest.approx(4)
    assert harmonic(Y, W)[0, 0, 0] == pytest.approx(3.2)
    assert generalised(Y, W, p=2)[0, 0, 0] == pytest.approx(np.sqrt(34))


def test_weight_set_can_revive_a_zero_weight_child():
    fw = Framework.from_nodes([Node("I", "I"), Node("a1", "a1", "I"), Node("a2", "a2", "I", weight=0.0)],
                              weight_sets={"both": {"a2": 1.0}})
    ctx = make_context(1, fw)
    X = cube([[10, 30]])
    assert aggregate(X, ctx)[0, 0, 2] == pytest.approx(10)  # framework: a2 has no weight
    assert aggregate(X, ctx, weights="both")[0, 0, 2] == pytest.approx(20)  # (10 + 30)/2
    assert aggregate(X, ctx, weights={"a2": 3.0})[0, 0, 2] == pytest.approx(25)  # (10 + 3·30)/4
    assert aggregate(X, ctx, weights="equal")[0, 0, 2] == pytest.approx(20)
    assert np.allclose(ctx.compiled.matrices[0][:, 0], [1, 0])


@pytest.mark.parametrize("mean", [arithmetic, geometric, harmonic])
def test_a_block_with_every_child_present_gives_the_mean_of_the_children_present_by_hand(mean):
    """Every child present: the weights' sums stand for the per-unit denominators; the same numbers as with a
    missing child elsewhere in the block, and a parent whose weights are all zero has no score either way."""
    W = np.array([[0.25, 0.0], [0.75, 0.0]])  # parent 0: 1·c0 + 3·c1; parent 1: no weight at all
    full = np.array([[[2.0, 8.0], [4.0, 4.0]]])  # (runs, units, children)
    hand = {arithmetic: [0.25 * 2 + 0.75 * 8, 4.0], geometric: [2 ** 0.25 * 8 ** 0.75, 4.0],
            harmonic: [1 / (0.25 / 2 + 0.75 / 8), 4.0]}[mean]
    out = mean(full, W)
    assert out[0, :, 0] == pytest.approx(hand, rel=1e-15) and np.isnan(out[0, :, 1]).all()
    gap = np.concatenate([full, [[[np.nan, 5.0]]]], axis=1)  # a third unit lacking child 0
    with_gap = mean(gap, W)
    assert with_gap[0, :2, 0] == pytest.approx(out[0, :, 0], rel=1e-15) and with_gap[0, 2, 0] == pytest.approx(5.0)
    assert np.isnan(with_gap[0, :, 1]).all()
    runs = mean(full, np.stack([W, W[::-1]]))  # weights per run
    assert runs[1, :, 0] == pytest.approx({arithmetic: [0.75 * 2 + 0.25 * 8, 4.0], geometric: [
        2 ** 0.75 * 8 ** 0.25, 4.0], harmonic: [1 / (0.75 / 2 + 0.25 / 8), 4.0]}[mean], rel=1e-15)
