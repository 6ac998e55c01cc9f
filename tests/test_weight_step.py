"""The pipeline's weight step in whole builds: COINr's PCA weights on ASEM, a fit to the Smart City Index 2019,
weights.csv from the command line, the weighting method as an uncertainty factor, and located errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, asem_spec, need_fixture, need_shared
from typer.testing import CliRunner

from smartcities.build import build
from smartcities.cli import app
from smartcities.errors import InputError

SCI_2019 = SHARED / "data" / "smart_city_index_2019" / "Smart_City_index_headers.csv"
DIMENSIONS = ["Smart_Mobility", "Smart_Environment", "Smart_Government", "Smart_Economy", "Smart_People",
              "Smart_Living"]


def with_weight(path, step: str, extra: str = "") -> None:
    """The spec at `path` with `step` inserted before its aggregate step (and `extra` appended)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(\n  - aggregate:)", f"\n  - weight: {step}\\1", text, count=1)
    path.write_text(text + extra, encoding="utf-8")


def build_with(folder: Path, step: str):
    """The ASEM build with `step` before its aggregate step."""
    folder.mkdir(exist_ok=True)
    spec = asem_spec(folder, "standard")
    with_weight(spec, step)
    return build(spec)


def pca_beside_coinr(folder: Path, step: str, level: int):
    """The ASEM build with `step` before its aggregate step, its node weights by id, and COINr's first-component
    loadings at `level` (get_PCA on the aggregated data set)."""
    (pca,) = need_fixture("pca.csv")
    result = build_with(folder, step)
    raw = pd.Series(result.stages.weighting.weights[0], index=result.context.compiled.nodes)
    ref = pd.read_csv(pca)
    return result, raw, ref[(ref["Level"] == level) & (ref["Component"] == "PC1")]


def test_pca_weights_equal_coinr_on_asem(tmp_path):
    result, raw, ref = pca_beside_coinr(tmp_path, "{method: pca}", 1)
    c = result.context.compiled
    assert len(ref) == 49
    for group, part in ref.groupby("Group"):  # COINr's sign is arbitrary; ours makes the loadings sum positive
        assert np.allclose(raw[part["iCode"]].to_numpy(), flip_sign(part), atol=1e-10), group
    # the aggregate step used them: each pillar is the loading-weighted mean of its normalised indicators
    X = result.stages.data["normalise"][0]
    pillar = c.nodes.index("ConEcFin")
    kids = [c.nodes.index(k) for k in result.context.framework.children["ConEcFin"]]
    w = raw.iloc[kids].to_numpy()
    present = ~np.isnan(X[:, kids])
    expected = np.nansum(X[:, kids] * w, axis=1) / (present * w).sum(axis=1)
    assert np.allclose(result.stages.scores[0, :, pillar], expected)
    log = result.processing.table
    weighted = log[log["action"] == "weighted"]
    assert list(weighted["severity"]) == ["note", "warning"]
    # three pillars get a negative loading, as in COINr; said once, naming each
    said = weighted["detail"].iloc[1]
    assert said.startswith("negative pca weights within 3 parents: Instit (TBTs -0.443); Environ (Forest -0.235)")
    assert "SusEcFin (RDExp -0.475, NEET -0.46)" in said
    assert [g for g, part in ref.groupby("Group") if (flip_sign(part) < 0).any()] == ["Environ", "Instit",
                                                                                       "SusEcFin"]


def flip_sign(part: pd.DataFrame) -> np.ndarray:
    """COINr's loadings of one group, signed as ours: summing positive."""
    theirs = part["Loading"].to_numpy()
    return np.sign(theirs.sum()) * theirs


def test_pca_weights_of_pillars_equal_coinr_on_asem(tmp_path):
    """`levels: [2]`: the pillars weighed within each sub-index from their scores, the indicators keeping the
    framework's weights, as COINr's get_PCA at Level 2 on its aggregated data set."""
    result, raw, ref = pca_beside_coinr(tmp_path, "{method: pca, levels: [2]}", 2)
    c = result.context.compiled
    assert np.allclose(raw.iloc[:c.n_leaves], c.weights[:c.n_leaves])  # level 1 untouched
    assert set(ref["Group"]) == {"Conn", "Sust"}
    for group, part in ref.groupby("Group"):
        assert np.allclose(raw[part["iCode"]].to_numpy(), flip_sign(part), atol=1e-10), group
    assert raw["Social"] < 0  # a pillar running against the others keeps its negative loading, as in COINr


def test_children_that_cancel_out_are_refused(tmp_path):
    """Weighed by PCA at every level, ASEM's Connectivity and Sustainability scores run against each other
    (Sustainability's Social pillar gets a negative weight); the PCA loadings of two children that correlate
    negatively are ±0.7071 and sum to 0, which leaves the index undefined."""
    with pytest.raises(InputError, match=r"pca weights of 'Index' cancel out \(Conn [-+]0.7071, Sust [-+]0.7071\)"):
        build_with(tmp_path, "{method: pca, levels: [1, 2, 3]}")


def test_levels_are_weighed_from_the_bottom_up(tmp_path):
    """`levels: [1, 2]`: the pillars' weights come from the pillar scores that the indicators' PCA weights
    give, by hand: aggregate with the level-1 weights, then PCA of each sub-index's pillars."""
    from smartcities.engine.aggregate import aggregate_with
    from smartcities.engine.weighting import pca_weights

    result = build_with(tmp_path, "{method: pca, levels: [1, 2]}")
    c, fw = result.context.compiled, result.context.framework
    W = result.stages.weighting.weights[0]
    level_one = np.where(np.arange(len(c.nodes)) < c.n_leaves, W, c.weights)
    X = result.stages.data["normalise"]
    scores = aggregate_with(X, result.context, level_one[None], method="arithmetic")[0]
    for parent in ("Conn", "Sust"):
        kids = [c.nodes.index(k) for k in fw.children[parent]]
        assert np.allclose(W[kids], pca_weights(scores[:, kids]), atol=1e-12), parent
    pillar = c.nodes.index("ConEcFin")  # and the indicators' weights are level 1's PCA, as with levels [1]
    one = build_with(tmp_path / "one", "{method: pca}")
    kids = [c.nodes.index(k) for k in fw.children["ConEcFin"]]
    assert np.allclose(W[kids], one.stages.weighting.weights[0][kids])
    assert np.isfinite(result.stages.scores[0, :, pillar]).all()


def sci_index(folder: Path, pipeline: str) -> Path:
    """The Smart City Index 2019 as a city index: six dimension indicators under one index, the published index
    as a numeric column of the cities table."""
    need_shared(SCI_2019)
    d = pd.read_csv(SCI_2019)
    slug = "city-" + d["Id"].astype(str)
    pd.DataFrame({"city": slug, "name": d["City"], "country": d["Country"],
                  "SmartCity_Index": d["SmartCity_Index"]}).to_csv(folder / "cities.csv", index=False)
    d.assign(city=slug).melt(id_vars="city", value_vars=DIMENSIONS, var_name="indicator").to_csv(
        folder / "indicators.csv", index=False)
    children = "\n".join(f"  - {{id: {dim}, name: {dim}}}" for dim in DIMENSIONS)
    (folder / "fw.yaml").write_text(f"id: Index\nname: Smart City Index\nchildren:\n{children}\n", encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(f"name: SCI 2019\nframework: fw.yaml\ncities: cities.csv\nindicators: indicators.csv\n"
                    f"pipeline:\n{pipeline}", encoding="utf-8")
    return spec


def test_fit_reproduces_the_smart_city_index_2019(tmp_path):
    spec = sci_index(tmp_path, "  - weight: {method: fit, target: SmartCity_Index}\n"
                               "  - aggregate: {method: arithmetic}\n")
    result = build(spec)
    published = pd.read_csv(SCI_2019)["SmartCity_Index"].to_numpy(float)
    index = result.stages.scores[0, :, -1]
    assert np.abs(index - published).max() < 1  # within a point for every city, on the 0–10,000 scale
    table = result.stages.weighting.table(result.context).set_index("node")
    assert np.allclose(table.loc[DIMENSIONS, "weight"], [0.2405, 0.1646, 0.1308, 0.1392, 0.1350, 0.1899],
                       atol=5e-5)
    assert (table["method"] == "fit (least squares to SmartCity_Index)").all()
    details = " ".join(result.processing.table["detail"])
    assert "fit to SmartCity_Index: max abs residual 0.639" in details and "RMSE" in details
    assert "SmartCity_Index" not in set(result.scores_table()["node"])  # read, never scored


def test_cli_build_writes_weights_csv(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    matrix = "[[1, 3], [0.3333333, 1]]"
    with_weight(spec, f"{{method: ahp, matrices: {{Index: {matrix}}}}}")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    weights = pd.read_csv(out / "weights.csv")
    assert list(weights.columns) == ["node", "parent", "weight", "method"]
    top = weights[weights["parent"] == "Index"].set_index("node")["weight"]
    assert top.to_dict() == pytest.approx({"Conn": 0.75, "Sust": 0.25}, abs=1e-6)
    assert weights.groupby("parent")["weight"].sum().to_numpy() == pytest.approx(1)
    assert (weights["method"] == "ahp (principal eigenvector)").all()
    processing = pd.read_csv(out / "processing.csv")
    assert (processing["action"] == "weighted").any()


def test_a_build_without_a_weight_step_writes_no_weights_csv(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["build", str(spec), "--out", str(out), "--quiet"]).exit_code == 0
    assert not (out / "weights.csv").exists()


def test_weighting_method_as_an_uncertainty_factor(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    with_weight(spec, "{method: framework}", """uncertainty:
  target: Index
  runs: 16
  seed: 3
  factors:
    weighting: {step: weight, alternatives: [{method: equal}, {method: pca}, {method: entropy},
                                             {method: critic, levels: [1, 2, 3]}]}
    winsorisation: {step: treat, parameter: max_points, values: [1, 5]}
""")
    result = build(spec)
    sens = result.uncertainty.sensitivity
    row = sens[(sens["factor"] == "weighting") & (sens["city"] == "")]
    assert len(row) == 1 and np.isfinite(row["ST"].iloc[0]) and row["ST"].iloc[0] > 0
    # each data configuration's weights are those a single build with the weighting it chose sets
    from smartcities.engine.pipeline import run_pipeline
    from smartcities.robustness.uncertainty import Plan, Where

    steps = list(result.steps)
    plan = Plan.resolve(result.context, steps, result.spec.model.uncertainty, Where.of(result.spec))
    runs = plan.decode(plan.design(result.spec.model.uncertainty).u)
    _, _, step_weights = plan.data_arrays(result.inputs.X, runs)
    assert step_weights.shape == (len(runs.data_keys), len(result.context.compiled.nodes))
    g = [f.name for f in plan.factors].index("weighting")
    for option, method in enumerate(["equal", "pca", "entropy", "critic"]):
        r = int(np.flatnonzero(runs.choices[:, g] == option)[0])
        alone = plan.steps_for(runs, r)[:-1] + steps[-1:]  # the aggregate step as the spec has it
        assert alone[-2].step == "weight" and alone[-2].method == method
        single = run_pipeline(result.inputs.X, result.context, alone)
        assert np.allclose(step_weights[runs.data_key[r]], single.weighting.weights[0])
    c = result.context.compiled  # the critic option weighed the sub-indices too, from their scores
    assert not np.allclose(single.weighting.weights[0][c.level_slices[2]], c.weights[c.level_slices[2]])


def test_weights_per_run_with_a_run_axis(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    with_weight(spec, "{method: critic}")
    result = build(spec)
    from smartcities.engine.pipeline import run_pipeline

    X = result.inputs.X
    two = np.stack([X, X * np.where(np.arange(X.shape[1]) == 0, 3.0, 1.0)])  # run 2 triples one indicator
    stages = run_pipeline(two, result.context, list(result.steps))
    assert stages.weighting.weights.shape[0] == 2
    assert np.allclose(stages.scores[0], result.stages.scores[0], equal_nan=True)


ERRORS = [
    ("{method: ahp, matrices: {Conn: [[1, 2, 3], [0.5, 1, 1]]}}", "matrices: 'Conn': the matrix is not square",
     "Conn"),
    ("{method: ahp, matrices: {Index: [[1, -2], [-0.5, 1]]}}", "not positive", "Index"),
    ("{method: pcaa}", "weight: method 'pcaa'", "method"),
    ("{method: fit, target: Populaton}", "did you mean", "target"),
    ("{method: bod, bounds: [0.5, 0.9]}", "cannot be met", "bounds"),
    ("{method: pca, levels: [1, 4]}", "level 4 has no parent to weigh within", "levels"),
    ("{method: optimise, levels: [2], targets: {Goods: 2}}", "'Goods' is not a node of the levels weighed",
     "targets"),
    ("{method: budget, experts: [{Conn: 0, Sust: 0}]}", "expert 1: node 'Index': all children have weight 0",
     "experts"),
    ("{method: budget, experts: [{Conn: 70, Sust: 30}, {Conn: -70, Sust: 30}]}",
     "expert 2: node 'Conn': weight -70 must be zero or positive", "experts"),
]


@pytest.mark.parametrize("step, said, key", ERRORS)
def test_errors_are_located_at_the_step(tmp_path, step, said, key):
    spec = asem_spec(tmp_path, "standard")
    with_weight(spec, step.replace("{method: ahp, matrices: {", "{method: ahp,\n      matrices: {")
                .replace(", target:", ",\n      target:").replace(", bounds:", ",\n      bounds:")
                .replace(", levels:", ",\n      levels:").replace(", targets:", ",\n      targets:"))
    lines = spec.read_text(encoding="utf-8").splitlines()
    weight_line = next(i for i, t in enumerate(lines, 1) if "- weight:" in t)
    expected = next(i for i, t in enumerate(lines, 1) if i >= weight_line and f"{key}" in t)
    with pytest.raises(InputError) as err:
        build(spec)
    found = [p for p in err.value.problems if said in p.message]
    assert found and all(p.file == str(spec) and p.line == expected for p in found), found
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2 and f"line {expected}" in result.stderr


def test_a_fit_to_an_empty_target_is_refused_at_its_line(tmp_path):
    (tmp_path / "fw.yaml").write_text("id: index\nname: Index\nchildren:\n  - {id: x1, name: X1}\n"
                                      "  - {id: x2, name: X2}\n", encoding="utf-8")
    pd.DataFrame({"city": ["aa", "bb", "cc"], "name": ["A", "B", "C"], "country": "FR", "region": "Europe",
                  "population": np.nan}).to_csv(tmp_path / "cities.csv", index=False)
    pd.DataFrame({"city": ["aa", "bb", "cc"] * 2, "indicator": ["x1"] * 3 + ["x2"] * 3,
                  "value": [1.0, 2.0, 3.0, 3.0, 1.0, 2.0]}).to_csv(tmp_path / "indicators.csv", index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: Fit\nframework: fw.yaml\ncities: cities.csv\nindicators: indicators.csv\npipeline:\n"
                    "  - normalise: {method: minmax}\n  - weight: {method: fit, target: population}\n"
                    "  - aggregate: {method: arithmetic}\n", encoding="utf-8")
    said = (f"{spec} line 7: weight: target 'population' has no values; fitting the weights of 2 indicators needs "
            "its value for at least 2 units")
    for command in (["validate", str(spec)], ["build", str(spec), "--out", str(tmp_path / "out")]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2 and said in " ".join(result.stderr.split()), result.output
    assert not (tmp_path / "out").exists()


def test_weight_after_aggregate_is_refused(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        "  - aggregate: {method: arithmetic}", "  - aggregate: {method: arithmetic}\n  - weight: {method: equal}"),
        encoding="utf-8")
    with pytest.raises(InputError, match="must come before aggregate"):
        build(spec)


def test_aggregate_weights_beside_a_weight_step_are_refused(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        "  - aggregate: {method: arithmetic}", "  - weight: {method: pca}\n  - aggregate:\n      method: arithmetic\n"
        "      weights: equal"), encoding="utf-8")
    lines = spec.read_text(encoding="utf-8").splitlines()
    with pytest.raises(InputError) as err:
        build(spec)
    (p,) = err.value.problems
    assert "would ignore the weight step's weights" in p.message
    assert lines[p.line - 1].strip().startswith("weights: equal")


def test_inconsistent_ahp_is_an_error_under_strict(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    circle = "[[1, 3, 0.3333333], [0.3333333, 1, 3], [3, 0.3333333, 1]]"
    with_weight(spec, f"{{method: ahp, matrices: {{Sust: {circle}}}}}")
    result = build(spec)
    warned = result.processing.warnings().table
    weight = warned[warned["step"] == "weight"]
    assert len(weight) == 1 and "'Sust': consistency ratio" in weight["detail"].iloc[0]
    with pytest.raises(InputError) as err:
        build(spec, strict=True)
    assert any("consistency ratio" in p.message and "under --strict" in p.message for p in err.value.problems)


def test_experts_disagreement_as_an_uncertainty_factor(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    experts = "[{Conn: 70, Sust: 30}, {Conn: 50, Sust: 50}, {Conn: 20, Sust: 80}]"
    with_weight(spec, f"{{method: budget, experts: {experts}}}", """uncertainty:
  target: Index
  runs: 8
  seed: 2
  factors:
    expert: {step: weight, parameter: expert, values: [0, 1, 2]}
""")
    result = build(spec)
    top = result.stages.weighting.table(result.context).set_index("node")["weight"]
    assert top["Conn"] == pytest.approx(0.4667, abs=1e-4)  # the mean of 0.7, 0.5 and 0.2
    assert "budget (mean of 3 experts)" in set(result.stages.weighting.table(result.context)["method"])
    sens = result.uncertainty.sensitivity
    row = sens[(sens["factor"] == "expert") & (sens["city"] == "")]
    assert len(row) == 1 and row["ST"].iloc[0] > 0


def test_what_if_model_starts_from_the_weight_steps_weights(tmp_path):
    from smartcities.online import whatif

    spec = asem_spec(tmp_path, "standard")
    with_weight(spec, "{method: entropy}")
    result = build(spec, uncertainty=False)
    model = whatif.model_document(result)
    assert np.allclose(whatif.recompute(model).scores, result.stages.scores[0], equal_nan=True)


def test_a_weight_step_keeps_the_aggregators_own_parameters(tmp_path):
    """Equal weights set by a weight step aggregate as `weights: equal` does, with the method's own parameters
    (mean-min's alpha and beta here) kept, not its defaults."""
    spec = asem_spec(tmp_path, "standard")
    text = re.sub(r"  - aggregate:.*", "  - aggregate: {method: mean-min, alpha: 0.9, beta: 0.0}",
                  spec.read_text(encoding="utf-8"))
    spec.write_text(text, encoding="utf-8")
    equal = tmp_path / "equal.yaml"
    equal.write_text(text.replace("beta: 0.0}", "beta: 0.0, weights: equal}"), encoding="utf-8")
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text(text.replace("{method: mean-min, alpha: 0.9, beta: 0.0}", "{method: mean-min}"),
                        encoding="utf-8")
    for path in (spec, defaults):
        with_weight(path, "{method: equal}")
    stepped, direct = build(spec, uncertainty=False), build(equal, uncertainty=False)
    assert np.allclose(stepped.stages.scores, direct.stages.scores, rtol=0, atol=1e-12, equal_nan=True)
    by_default = build(defaults, uncertainty=False)
    assert not np.allclose(by_default.stages.scores[0, :, -1], stepped.stages.scores[0, :, -1], equal_nan=True)
