"""Uncertainty runs that cannot be evaluated (a geometric mean meeting a 0 from minmax [0, 100]) are an error naming
the factor options at fault, unless the spec says `failed_runs: allow`; then the summaries use the runs that
succeeded and the failures are carried in the result and its processing log."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import asem_spec, make_context
from test_validate import edit, line_of
from typer.testing import CliRunner

from smartcities.build import build, load_spec
from smartcities.cli import app
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.errors import InputError
from smartcities.inputs import load_inputs
from smartcities.model.spec import Backend, Uncertainty
from smartcities.robustness.uncertainty import Plan, analyse, evaluate_chunk

runner = CliRunner()
RUNS = 16
GEOMETRIC_FAILS = "the geometric mean needs positive values, and some are 0 or below (lowest 0; minmax with a range " \
                  "from 0 gives each indicator's lowest unit 0)"


def failing_spec(tmp_path, allow: bool = False, normalisation: str | None = None):
    """The ASEM uncertainty example on minmax [0, 100] with geometric aggregation as a factor, RUNS base samples."""
    spec = asem_spec(tmp_path, "uncertainty")
    text = spec.read_text(encoding="utf-8")
    text = re.sub(r"    normalisation: .*\n", f"    normalisation: {normalisation}\n" if normalisation else "", text)
    text = text.replace("runs: 500", f"runs: {RUNS}")
    if allow:
        text = text.replace("  seed: 1\n", "  seed: 1\n  failed_runs: allow\n")
    spec.write_text(text, encoding="utf-8")
    return spec


def design_of(spec):
    """The decoded design of a spec's uncertainty block, and the plan behind it."""
    checked = load_spec(spec)
    inputs = load_inputs(checked)
    steps = [Step.parse(e) for e in checked.model.pipeline]
    plan = Plan.resolve(inputs.context, steps, checked.model.uncertainty)
    design = plan.design(checked.model.uncertainty)
    return plan, design, plan.decode(design.u), inputs


def chose(plan, runs, factor: str, option) -> np.ndarray:
    g = [f.name for f in plan.factors].index(factor)
    return runs.choices[:, g] == list(plan.factors[g].options).index(option)


def test_failed_runs_are_an_error_at_the_factor_line(tmp_path):
    spec = failing_spec(tmp_path)
    plan, design, runs, _ = design_of(spec)
    geometric = int(chose(plan, runs, "aggregation", "geometric").sum())
    assert 0 < geometric < design.runs == RUNS * 5
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and not out.exists()
    line = line_of(spec, "aggregation:")
    assert result.stderr == (f"smartcities: error: {spec} line {line}: uncertainty: factor 'aggregation' = geometric "
                             f"fails in {geometric} of {design.runs} runs: {GEOMETRIC_FAILS}; normalise to a positive "
                             "range such as minmax with range [1, 100], or add failed_runs: allow to the uncertainty "
                             "block\n")


def test_a_pairing_of_options_is_named_together(tmp_path):
    spec = failing_spec(tmp_path, normalisation="{step: normalise, alternatives: [{method: minmax, range: [1, 100]}, "
                                                "{method: minmax, range: [0, 100]}]}")
    plan, design, runs, _ = design_of(spec)
    zero = {"method": "minmax", "range": [0, 100]}
    both = int((chose(plan, runs, "aggregation", "geometric") & chose(plan, runs, "normalisation", zero)).sum())
    with pytest.raises(InputError) as err:
        build(spec)
    (p,) = err.value.problems
    assert p.line == line_of(spec, "aggregation:")
    assert p.message.startswith(f"uncertainty: factors 'normalisation' = {{method: minmax, range: [0, 100]}} and "
                                f"'aggregation' = geometric together fail in {both} of {design.runs} runs: ")


def test_allowed_failures_are_reported_and_left_out(tmp_path):
    spec = failing_spec(tmp_path, allow=True)
    plan, design, runs, inputs = design_of(spec)
    geometric = chose(plan, runs, "aggregation", "geometric")
    res = build(spec).uncertainty
    assert res.failed_runs == geometric.sum() and res.runs == design.runs
    (row,) = res.failures.itertuples()
    assert row.configuration == {"aggregation": "geometric"} and row.runs == geometric.sum()
    assert row.reason.startswith(GEOMETRIC_FAILS)

    log = res.log().table
    assert list(log["action"]) == ["failed-runs", "sobol-samples-dropped"]
    assert (log["step"] == "uncertainty").all() and (log["severity"] == "warning").all()
    assert log["count"][0] == geometric.sum()
    assert log["detail"][0].startswith(f"factor 'aggregation' = geometric fails in {geometric.sum()} of "
                                       f"{design.runs} runs: the geometric mean needs positive values")

    # rank intervals: percentiles over the A and B runs that succeeded, each equal to a plain build
    ab = np.arange(2 * RUNS)
    ab = ab[~geometric[ab]]
    ctx = inputs.context
    top = ctx.compiled.nodes.index("Index") - ctx.compiled.n_leaves
    plain = np.stack([run_pipeline(inputs.X, ctx, plan.steps_for(runs, r)).ranks[0, :, ctx.compiled.n_leaves + top]
                      for r in ab])
    ri = res.rank_intervals[res.rank_intervals["node"] == "Index"].set_index("city").loc[list(ctx.units)]
    np.testing.assert_allclose(ri["median_rank"], np.median(plain, axis=0))
    np.testing.assert_allclose(ri["p95"], np.quantile(plain, 0.95, axis=0))

    # Sobol indices: on the base samples whose A, B and AB rows all succeeded; they never vary the aggregation
    blocks = (~geometric).reshape(design.k + 2, RUNS)
    assert res.sobol_samples == blocks.all(axis=0).sum() < res.base_samples == RUNS
    assert f"on the {res.sobol_samples} of {RUNS} base samples" in log["detail"][1]
    whole = res.sensitivity[res.sensitivity["city"] == ""].set_index("factor")
    assert whole.loc["aggregation", ["S1", "ST"]].isna().all()
    assert whole.drop(index="aggregation")["ST"].notna().all()
    assert res.sobol_unvaried == ("aggregation",)


def test_a_failing_nominal_build_points_at_its_step(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    line = edit(spec, "{method: arithmetic}", "{method: geometric}")
    result = runner.invoke(app, ["build", str(spec), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"smartcities: error: {spec} line {line}: aggregate: {GEOMETRIC_FAILS}")


# --- failures that only the runs reveal ------------------------------------------------------------------------------

def test_failures_above_the_first_level_are_found_run_by_run():
    """zscore leaves are fine for an arithmetic first level; a geometric top level then meets negative domain scores
    in some runs only, depending on their weights."""
    X = np.random.default_rng(7).lognormal(size=(12, 4))
    ctx = make_context(12)
    steps = [Step.parse({"normalise": {"method": "zscore", "mean": 1, "sd": 1}}), Step.parse({"aggregate": {}})]
    factors = {"top": {"step": "aggregate", "parameter": "by_level", "values": [{}, {3: "geometric"}]},
               "weights": {"step": "aggregate", "noise": 0.9, "levels": [1]}}
    u = Uncertainty.model_validate({"runs": 32, "seed": 2, "factors": factors})
    plan = Plan.resolve(ctx, steps, u)
    runs = plan.decode(plan.design(u).u)
    leaves, dropped, _ = plan.data_arrays(X, runs)
    got, errors = evaluate_chunk(leaves, dropped, runs.data_key, runs.agg_key, runs.weights, runs.agg_configs, ctx)
    ok = errors == ""
    for r in range(len(runs.data_key)):  # each run as a plain build: it fails, or gives the same ranks
        try:
            plain = run_pipeline(X, ctx, plan.steps_for(runs, r)).ranks[0, :, ctx.compiled.n_leaves:]
        except InputError as err:
            assert errors[r] == err.problems[0].message.removeprefix("aggregate: ")
            continue
        assert ok[r]
        np.testing.assert_array_equal(got[r], plain)
    assert 0 < (~ok).sum() < (runs.choices[:, 0] == 1).sum()  # some geometric runs fail, not all

    with pytest.raises(InputError, match=rf"factor 'top' = \{{3: geometric\}} fails in {(~ok).sum()} of "):
        analyse(X, ctx, steps, u, Backend())
    res = analyse(X, ctx, steps, u.model_copy(update={"failed_runs": "allow"}), Backend())
    assert res.failed_runs == (~ok).sum()


def test_allowed_failures_reach_the_screen_run_record_and_report(tmp_path):
    import json

    import pandas as pd

    spec = failing_spec(tmp_path, allow=True)
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(spec), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert re.search(r"smartcities: warning: uncertainty failed-runs \d+: factor 'aggregation' = geometric fails",
                     result.stderr), result.stderr
    log = pd.read_csv(out / "processing.csv", keep_default_na=False)
    failed = log[log.action == "failed-runs"]
    assert len(failed) == 1 and failed.severity.item() == "warning" and failed["count"].item() > 0
    run = json.loads((out / "run.json").read_text())
    summary = {s["action"]: s for s in run["processing"]["summary"]}
    assert summary["failed-runs"]["count"] == failed["count"].item()
    assert "geometric" in summary["failed-runs"]["detail"]
    assert len(pd.read_csv(out / "sensitivity.csv")) > 0  # indices from the runs that succeeded
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="warnings"' in html and "failed-runs" in html
    strict = runner.invoke(app, ["build", str(spec), "--out", str(tmp_path / "strict"), "--strict"])
    assert strict.exit_code == 2 and "failed-runs" in strict.stderr
