"""Uncertainty analysis: the vectorised runs equal single builds, rank intervals are the plain percentiles, and on
ASEM the results agree with COINr 1.1.14's reference run of the same design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_IDATA, ASEM_IMETA, EXAMPLES, make_context, need_fixture, need_shared

from smartcities.engine.context import Context
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.errors import InputError
from smartcities.model.spec import Backend, Uncertainty
from smartcities.robustness.uncertainty import (
    Plan,
    _weighted_quantiles,
    analyse,
    evaluate_chunk,
    movement,
)

ASEM_UNCERTAINTY = EXAMPLES / "asem-coinr-uncertainty.yaml"
STEPS = [Step.parse({"normalise": {"method": "minmax", "range": [1, 100]}}), Step.parse({"aggregate": {}})]


def hand_data(units: int = 12, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(size=(units, 4))


def unc(**factors) -> Uncertainty:
    return Uncertainty.model_validate({"runs": 16, "seed": 3, "factors": factors})


AGG_AND_NOISE = {"aggregation": {"step": "aggregate", "parameter": "method", "values": ["arithmetic", "geometric"]},
                 "weights": {"step": "aggregate", "noise": 0.5, "levels": [1, 2]}}


def loop_ranks(X, ctx, plan, runs) -> np.ndarray:
    """Ranks of every aggregate node, one plain build per run."""
    L = ctx.compiled.n_leaves
    return np.stack([run_pipeline(X, ctx, plan.steps_for(runs, r)).ranks[0, :, L:]
                     for r in range(len(runs.data_key))])


# --- building blocks --------------------------------------------------------------------------------------------

def test_weighted_quantiles_equal_quantiles_of_the_expanded_sample():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 9, size=(4, 3)).astype(float)
    values[2, 1] = np.nan
    counts = np.array([3, 1, 5, 2])
    got = _weighted_quantiles(values, counts, (0.05, 0.5, 0.95))
    for j in range(3):
        sample = np.repeat(values[:, j], counts)
        sample = sample[~np.isnan(sample)]
        np.testing.assert_allclose([g[j] for g in got], np.quantile(sample, [0.05, 0.5, 0.95]))


def test_movement_shares():
    ri = pd.DataFrame({"city": list("abcd"), "node": "Index", "nominal_rank": [1, 2, 3, 4],
                       "median_rank": [1, 4, 7, 15]})
    m = movement(ri).set_index("node").loc["Index"]
    assert (m.moved_gt_1, m.moved_gt_3, m.moved_gt_10) == (0.75, 0.5, 0.25)


# --- the vectorised path against single builds --------------------------------------------------------------------

def test_runs_equal_single_builds_on_hand_framework():
    X, ctx = hand_data(), make_context(12)
    u = unc(**AGG_AND_NOISE, normalisation={"step": "normalise", "alternatives": [
        {"method": "minmax", "range": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 1}]},
        mixed={"step": "aggregate", "alternatives": [{"method": "arithmetic"},
                                                     {"method": "arithmetic", "by_node": {"A": "harmonic"}}]})
    plan = Plan.resolve(ctx, STEPS, u)
    runs = plan.decode(plan.design(u).u)
    leaves, dropped, _ = plan.data_arrays(X, runs)
    assert leaves.shape[0] == 2  # two normalisations, evaluated once each
    got, errors = evaluate_chunk(leaves, dropped, runs.data_key, runs.agg_key, runs.weights, runs.agg_configs, ctx)
    assert (errors == "").all()
    np.testing.assert_array_equal(got, loop_ranks(X, ctx, plan, runs))


def test_rank_intervals_are_percentiles_of_the_a_and_b_runs():
    X, ctx = hand_data(), make_context(12)
    u = unc(**AGG_AND_NOISE)
    res = analyse(X, ctx, STEPS, u, Backend())
    plan = Plan.resolve(ctx, STEPS, u)
    design = plan.design(u)
    assert res.runs == design.runs == 16 * 4
    runs = plan.decode(design.u)
    ranks = loop_ranks(X, ctx, plan, runs)[: 2 * 16]  # COINr also summarises the A and B blocks only
    top = ctx.compiled.nodes.index("Index") - ctx.compiled.n_leaves
    ri = res.rank_intervals[res.rank_intervals["node"] == "Index"].set_index("city").loc[list(ctx.units)]
    np.testing.assert_allclose(ri["median_rank"], np.median(ranks[:, :, top], axis=0))
    np.testing.assert_allclose(ri["mean_rank"], ranks[:, :, top].mean(axis=0))
    np.testing.assert_allclose(ri["p05"], np.quantile(ranks[:, :, top], 0.05, axis=0))
    np.testing.assert_allclose(ri["p95"], np.quantile(ranks[:, :, top], 0.95, axis=0))
    nominal = run_pipeline(X, ctx, STEPS).ranks[0, :, ctx.compiled.nodes.index("Index")]
    np.testing.assert_array_equal(ri["nominal_rank"], nominal)
    by_node = res.intervals_by_node  # the same rows, cut by node once
    assert set(by_node) == set(res.rank_intervals["node"])
    assert sum(map(len, by_node.values())) == len(res.rank_intervals)
    pd.testing.assert_frame_equal(by_node["Index"].drop(columns="node").loc[list(ctx.units)],
                                  ri.drop(columns="node"))
    assert set(res.rank_intervals["node"]) == set(ctx.compiled.nodes)  # every node, indicators included


def test_same_seed_same_results_other_seed_other_results():
    X, ctx = hand_data(), make_context(12)
    a = analyse(X, ctx, STEPS, unc(**AGG_AND_NOISE), Backend())
    b = analyse(X, ctx, STEPS, unc(**AGG_AND_NOISE), Backend(chunk_runs=7))
    pd.testing.assert_frame_equal(a.rank_intervals, b.rank_intervals)
    pd.testing.assert_frame_equal(a.sensitivity, b.sensitivity)
    c = analyse(X, ctx, STEPS, unc(**AGG_AND_NOISE).model_copy(update={"seed": 4}), Backend())
    assert not np.allclose(a.sensitivity["ST"], c.sensitivity["ST"], equal_nan=True)


def test_leave_out_removes_the_node():
    X, ctx = hand_data(), make_context(12)
    u = unc(leave={"leave_out": ["a2", "B"]}, aggregation=AGG_AND_NOISE["aggregation"])
    plan = Plan.resolve(ctx, STEPS, u)
    runs = plan.decode(plan.design(u).u)
    leaves, dropped, _ = plan.data_arrays(X, runs)
    got, _ = evaluate_chunk(leaves, dropped, runs.data_key, runs.agg_key, runs.weights, runs.agg_configs, ctx)
    left = list(plan.factors[0].options)
    for node, keep_cols in (("a2", [0, 2, 3]), ("B", [0, 1])):
        sel = np.flatnonzero((runs.choices[:, 0] == left.index(node)) & (runs.choices[:, 1] == 0))
        assert sel.size, node
        small = Context.of(ctx.units, ctx.framework.without({node}))
        ref = run_pipeline(X[:, keep_cols], small, STEPS)
        j_ours = ctx.compiled.nodes.index("Index") - ctx.compiled.n_leaves
        j_ref = small.compiled.nodes.index("Index")
        for r in sel:
            np.testing.assert_array_equal(got[r, :, j_ours], ref.ranks[0, :, j_ref])
            scores = run_pipeline(X, ctx, plan.steps_for(runs, r)).scores[0, :, ctx.compiled.nodes.index("Index")]
            np.testing.assert_allclose(scores, ref.scores[0, :, j_ref], rtol=1e-12)


def test_imputation_on_and_off():
    X, ctx = hand_data(), make_context(12)
    X[[1, 5, 7], [0, 2, 3]] = np.nan
    steps = [Step.parse({"impute": {"method": "mean"}}), *STEPS]
    u = unc(imputation={"step": "impute", "alternatives": [{"method": "none"}, {"method": "mean"}]},
            aggregation=AGG_AND_NOISE["aggregation"])
    plan = Plan.resolve(ctx, steps, u)
    runs = plan.decode(plan.design(u).u)
    leaves, dropped, _ = plan.data_arrays(X, runs)
    assert leaves.shape[0] == 2 and np.isnan(leaves).any() and not np.isnan(leaves).all(axis=0).any()
    got, _ = evaluate_chunk(leaves, dropped, runs.data_key, runs.agg_key, runs.weights, runs.agg_configs, ctx)
    np.testing.assert_array_equal(got, loop_ranks(X, ctx, plan, runs))


def test_treatment_values_are_evaluated_once_each():
    X, ctx = hand_data(30), make_context(30)
    X[0, 1] = 1e3  # an outlier for the treatment to work on
    steps = [Step.parse({"treat": {"method": "winsorise", "max_points": 5}}), *STEPS]
    u = unc(winsorisation={"step": "treat", "parameter": "max_points", "values": [1, 2, 3]},
            aggregation=AGG_AND_NOISE["aggregation"]).model_copy(update={"runs": 64})
    plan = Plan.resolve(ctx, steps, u)
    runs = plan.decode(plan.design(u).u)
    assert len(runs.data_keys) == 3 and len(runs.data_key) == 64 * 4


@pytest.mark.parametrize("factor, message", [
    ({"step": "impute", "alternatives": [{"method": "none"}]}, "not in the pipeline"),
    ({"step": "normalise", "noise": 0.2}, "aggregate step"),
    ({"leave_out": ["Index"]}, "top node"),
    ({"leave_out": ["nope"]}, "not a node"),
    ({"step": "normalise", "parameter": "rnage", "values": [[0, 1]]}, "unknown parameter"),
    ({"step": "aggregate", "parameter": "method", "values": ["median"]}, "not one of"),
])
def test_bad_factors_are_reported(factor, message):
    with pytest.raises(InputError, match=message):
        Plan.resolve(make_context(4), STEPS, unc(f=factor))


# --- ASEM against COINr 1.1.14 ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def asem():
    need_shared(ASEM_UNCERTAINTY, ASEM_IDATA, ASEM_IMETA)
    from smartcities.build import load_spec
    from smartcities.inputs import load_inputs

    spec = load_spec(ASEM_UNCERTAINTY)
    inputs = load_inputs(spec)
    steps = [Step.parse(e) for e in spec.model.pipeline]
    return spec, inputs, steps, analyse(inputs.X, inputs.context, steps, spec.model.uncertainty, Backend())


def test_asem_design_runs_as_written(asem):
    spec, inputs, _steps, res = asem
    assert res.runs == 500 * 6 and res.failed_runs == 0
    assert set(res.sensitivity["factor"]) == set(spec.model.uncertainty.factors)
    whole = res.sensitivity[res.sensitivity["city"] == ""]
    assert len(whole) == 4 and len(res.sensitivity) == 4 * (1 + len(inputs.context.units))
    assert res.convergence["converged"].all()


def test_asem_vectorised_runs_equal_single_builds(asem):
    spec, inputs, steps, _ = asem
    u = spec.model.uncertainty.model_copy(update={"runs": 8})
    ctx = inputs.context
    plan = Plan.resolve(ctx, steps, u)
    runs = plan.decode(plan.design(u).u)
    leaves, dropped, _ = plan.data_arrays(inputs.X, runs)
    got, _ = evaluate_chunk(leaves, dropped, runs.data_key, runs.agg_key, runs.weights, runs.agg_configs, ctx)
    np.testing.assert_array_equal(got, loop_ranks(inputs.X, ctx, plan, runs))


@pytest.mark.parametrize("reference", ["sa_ranks.csv", "ua_ranks.csv"])
def test_asem_rank_intervals_agree_with_coinr(asem, reference):
    (path,) = need_fixture(reference)
    ref = pd.read_csv(path).set_index("uCode")
    ri = asem[3].rank_intervals
    ours = ri[ri["node"] == "Index"].set_index("city").loc[ref.index]
    np.testing.assert_array_equal(ours["nominal_rank"], ref["Nominal"])
    assert ((ours["median_rank"] - ref["Median"]).abs() <= 1).mean() >= 0.9
    assert ((ours["p05"] - ref["Q5"]).abs() <= 3).mean() >= 0.9
    assert ((ours["p95"] - ref["Q95"]).abs() <= 3).mean() >= 0.9


def test_asem_total_order_indices_agree_with_coinr(asem):
    (path,) = need_fixture("sa_sobol.csv")
    ref = pd.read_csv(path).set_index("Variable")["STi"]
    names = {"winsorisation": "Winmax", "normalisation": "Normalisation", "weights": "Weights",
             "aggregation": "Aggregation"}
    s = asem[3].sensitivity
    ours = s[s["city"] == ""].set_index("factor")["ST"].rename(index=names)
    assert ours.idxmax() == ref.idxmax() == "Aggregation"
    assert ours.idxmin() == ref.idxmin() == "Winmax"
    assert list(ours.sort_values().index) == list(ref.sort_values().index)
    assert ours["Aggregation"] > 2 * ours.drop("Aggregation").max()
    # COINr's N = 100 run has a Monte Carlo error of about ±0.05 (its 90% bootstrap bands)
    np.testing.assert_allclose(ours.loc[ref.index], ref, atol=0.08)


def test_charts_follow_the_nominal_order():
    from smartcities.report.robustness_charts import rank_interval_chart, sensitivity_chart

    X, ctx = hand_data(), make_context(12)
    res = analyse(X, ctx, STEPS, unc(**AGG_AND_NOISE), Backend())
    fig = rank_interval_chart(res, "Index")
    ri = res.rank_intervals[res.rank_intervals["node"] == "Index"]
    assert list(fig["data"][0]["x"]) == list(ri.sort_values(["nominal_rank", "city"])["city"])
    assert list(fig["data"][1]["y"]) == sorted(ri["nominal_rank"])
    bars = sensitivity_chart(res, "Index")
    total = np.asarray(bars["data"][0]["y"]) + np.asarray(bars["data"][1]["y"])
    whole = res.sensitivity[res.sensitivity["city"] == ""].sort_values("ST", ascending=False)
    np.testing.assert_allclose(total, whole["ST"].clip(lower=0))
