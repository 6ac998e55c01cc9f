"""The what-if model: re-weighting equals a build with the same weights, best/worst ranks over domain weightings
against brute force, and frozen-normalisation scoring that reproduces every city's built scores."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from conftest import ASEM_IDATA, ASEM_IMETA, EXAMPLES, cube, flat_framework, make_context, need_shared

from smartcities.build import build
from smartcities.cli.build import DEMO_SPEC
from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.errors import InputError
from smartcities.online import whatif


def variant(source: Path, tmp_path: Path, *, aggregate: dict | None = None, step: dict | None = None,
            name: str = "spec.yaml") -> Path:
    """A copy of a spec with its input paths made absolute, its aggregate step replaced and (optionally) one data
    step replaced by another of the same kind."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    for key in ("inventory", "cities"):
        if key in raw:
            raw[key] = str((source.parent / raw[key]).resolve())
    if "data" in raw:
        for key in ("idata", "imeta"):
            raw["data"][key] = str((source.parent / raw["data"][key]).resolve())
    raw.pop("uncertainty", None)
    pipeline = []
    for entry in raw["pipeline"]:
        (kind, _), = entry.items()
        if kind == "aggregate" and aggregate is not None:
            entry = {"aggregate": aggregate}
        elif step is not None and kind in step:
            entry = {kind: step[kind]}
        pipeline.append(entry)
    raw["pipeline"] = pipeline
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def asem(example: str) -> Path:
    source = EXAMPLES / f"asem-coinr-{example}.yaml"
    need_shared(source, ASEM_IDATA, ASEM_IMETA)
    return source


@pytest.fixture(scope="module")
def demo():
    result = build(DEMO_SPEC, uncertainty=False)
    return result, whatif.model_document(result)


@pytest.fixture(scope="module")
def asem_build():
    result = build(asem("standard"), uncertainty=False)
    return result, whatif.model_document(result)


# --- re-weighting ---------------------------------------------------------------------------------------------------

def test_the_model_alone_gives_back_the_build(demo, asem_build):
    for result, model in (demo, asem_build):
        again = whatif.recompute(model)
        assert np.array_equal(again.scores, result.stages.scores[0], equal_nan=True)
        assert np.array_equal(again.ranks, result.stages.ranks[0], equal_nan=True)


@pytest.mark.parametrize("source, aggregation", [("demo", "arithmetic"), ("demo", "geometric"),
                                                 ("geometric", "geometric"), ("geometric", "arithmetic"),
                                                 ("standard", "arithmetic")])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_weights_equal_a_build_with_those_weights(tmp_path, source, aggregation, seed):
    spec = DEMO_SPEC if source == "demo" else asem(source)
    model = whatif.model_document(build(spec, uncertainty=False))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(model["nodes"]) - 1, size=len(model["nodes"]) // 2, replace=False)
    weights = {model["nodes"][j]: float(rng.uniform(0.05, 5)) for j in chosen}
    expected = build(variant(spec, tmp_path, aggregate={"method": aggregation, "weights": weights}),
                     uncertainty=False)
    got = whatif.recompute(model, weights, aggregation)
    assert np.allclose(got.scores, expected.stages.scores[0], rtol=1e-12, atol=1e-12, equal_nan=True)
    assert np.array_equal(got.ranks, expected.stages.ranks[0], equal_nan=True)
    top = got.scores[:, -1]
    assert not np.allclose(top[~np.isnan(top)], whatif.recompute(model).scores[:, -1][~np.isnan(top)])


def test_geometric_on_values_of_zero_is_the_engines_error(tmp_path, asem_build):
    _, model = asem_build  # minmax to [0, 100]: every indicator's lowest unit is 0
    with pytest.raises(InputError) as engine:
        build(variant(asem("standard"), tmp_path, aggregate={"method": "geometric"}), uncertainty=False)
    with pytest.raises(InputError) as ours:
        whatif.recompute(model, aggregation="geometric")
    assert "geometric mean needs positive values" in ours.value.problems[0].message
    assert ours.value.problems[0].message == engine.value.problems[0].message
    assert ours.value.problems[0].column == "aggregation"


def test_weights_and_aggregation_are_checked(demo):
    _, model = demo
    cases = [({"governence": 2}, "weights: unknown node 'governence' (did you mean 'governance'?)"),
             ({"governance": -1}, "weights: governance: -1 must be a number zero or above"),
             ({"governance": float("nan")}, "must be a number zero or above"),
             ({"governance": True}, "must be a number zero or above"),
             ({d: 0 for d in model["nodes"] if model["parent"][model["nodes"].index(d)] == len(model["nodes"]) - 1},
              "every child of 'index' has weight 0")]
    for weights, message in cases:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
            whatif.recompute(model, weights)
    with pytest.raises(InputError, match="aggregation 'harmonik' is not one of arithmetic, geometric"):
        whatif.recompute(model, aggregation="harmonik")


def test_weights_are_relative_within_each_parent(demo):
    _, model = demo
    domains = [n for n, p in zip(model["nodes"], model["parent"]) if p == len(model["nodes"]) - 1]
    double = whatif.recompute(model, {d: 2.0 for d in domains})
    assert np.allclose(double.scores, whatif.recompute(model).scores, rtol=1e-13, equal_nan=True)
    only = whatif.recompute(model, {d: float(d == domains[0]) for d in domains})
    assert np.allclose(only.scores[:, -1], only.scores[:, model["nodes"].index(domains[0])], rtol=1e-13)


# --- best and worst ranks over domain weightings ---------------------------------------------------------------------

def flat_model(leaves: np.ndarray, method: str = "arithmetic") -> dict:
    """A two-level model: the columns of `leaves` are the domains of one top node."""
    k = leaves.shape[1]
    return {"nodes": [f"d{j}" for j in range(k)] + ["top"], "names": [f"D{j}" for j in range(k)] + ["Top"],
            "parent": [k] * k + [-1], "level": [1] * k + [2], "weights": [1.0] * (k + 1),
            "methods": [None] * k + [method], "min_share": 0.0, "p": 2.0,
            "cities": [f"c{i}" for i in range(len(leaves))], "leaves": leaves.tolist()}


def test_best_and_worst_ranks_of_a_hand_case():
    # A = w1, B = w2, C = 0.4 whatever the weights: C is 2nd when one of A, B falls below 0.4, else 3rd
    model = flat_model(np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.4]]))
    best, worst = whatif.best_worst_ranks(model)
    assert best.tolist() == [1, 1, 2] and worst.tolist() == [3, 3, 3]


@pytest.mark.parametrize("method", ["arithmetic", "geometric"])
def test_best_and_worst_ranks_equal_brute_force_over_a_fine_grid(method):
    rng = np.random.default_rng(7)
    leaves = rng.uniform(1, 100, size=(9, 3))
    step = 1 / 120
    grid = np.array([(a, b, 1 - a - b) for a in np.arange(0, 1 + 1e-9, step) for b in np.arange(0, 1 - a + 1e-9,
                                                                                                 step)])
    grid = np.clip(grid, 0, None)
    if method == "arithmetic":
        index = leaves @ grid.T
    else:
        index = np.exp(np.log(leaves) @ grid.T)
    place = np.array([[1 + np.sum(index[:, s] > index[i, s]) for s in range(len(grid))] for i in range(len(leaves))])
    best, worst = whatif.best_worst_ranks(flat_model(leaves, method))
    assert best.tolist() == place.min(axis=1).tolist()
    assert worst.tolist() == place.max(axis=1).tolist()


def test_best_and_worst_ranks_bracket_the_built_rank(demo, asem_build):
    for result, model in (demo, asem_build):
        best, worst = whatif.best_worst_ranks(model)
        built = result.stages.ranks[0, :, -1]
        scored = ~np.isnan(built)
        assert np.all(best[scored] <= built[scored]) and np.all(built[scored] <= worst[scored])
        assert np.isnan(best[~scored]).all()
        assert best.min() == 1 and (worst > best).any()


def test_domain_weightings_cover_the_simplex():
    w = whatif.domain_weightings(4, 1024)
    assert w.shape == (1024 + 4 + 1, 4)
    assert np.allclose(w.sum(axis=1), 1) and (w >= 0).all()
    assert np.allclose(w[:1024].mean(axis=0), 0.25, atol=0.01)  # uniform on the simplex: every weight's mean 1/k
    # and each weight's distribution Beta(1, k - 1): P(w < t) = 1 - (1 - t)^(k - 1)
    used = whatif.domain_weightings(4)[:whatif.RANK_RANGE_SAMPLES]
    for t in (0.05, 0.1, 0.25, 0.5):
        assert np.allclose((w[:1024] < t).mean(axis=0), 1 - (1 - t) ** 3, atol=0.02)
        assert np.allclose((used < t).mean(axis=0), 1 - (1 - t) ** 3, atol=0.005)
    assert np.array_equal(w, whatif.domain_weightings(4, 1024)) and not np.array_equal(
        w, whatif.domain_weightings(4, 1024, seed=1))


# --- frozen normalisation --------------------------------------------------------------------------------------------

def own_scores_reproduced(result, model) -> int:
    scored = 0
    for i, city in enumerate(model["cities"]):
        rows = whatif.score(model, {}, city)
        got = np.array([np.nan if r["score"] is None else r["score"] for r in rows])
        ranked = np.array([np.nan if r["rank"] is None else r["rank"] for r in rows])
        if np.isnan(result.stages.scores[0, i, -1]):
            continue
        assert np.array_equal(got, result.stages.scores[0, i], equal_nan=True), city
        assert np.array_equal(ranked, result.stages.ranks[0, i], equal_nan=True), city
        scored += 1
    return scored


def test_every_city_scored_from_its_own_raw_values_gets_its_built_scores(demo, asem_build):
    for result, model in (demo, asem_build):
        assert own_scores_reproduced(result, model) == int(result.kept.sum())


@pytest.mark.parametrize("step", [
    {"normalise": {"method": "zscore", "mean": 10, "sd": 2}},
    {"normalise": {"method": "rank"}},
    {"normalise": {"method": "percentile"}},
    {"normalise": {"method": "borda"}},
    {"normalise": {"method": "distance-to-max"}},
    {"impute": {"method": "median"}},
    {"impute": {"method": "mean"}},
    {"treat": {"method": "boxcox", "lam": 0.5}},
    {"treat": {"method": "winsorise", "max_points": 1, "fallback": "log"}},
    {"treat": {"method": "winsorise", "max_points": 1, "fallback": "boxcox", "boxcox_lambda": 0.5}},
])
def test_each_frozen_step_reproduces_the_build(tmp_path, step):
    result = build(variant(asem("standard"), tmp_path, step=step), uncertainty=False)
    model = whatif.model_document(result)
    (kind, params), = step.items()
    entry = next(e for e in model["frozen"]["steps"] if e["step"] == kind)
    assert "reason" not in entry
    assert own_scores_reproduced(result, model) == int(result.kept.sum())


@pytest.mark.parametrize("step", [
    {"normalise": {"method": "goalposts", "truncate": True}},
    {"normalise": {"method": "goalposts", "truncate": False, "scale": 10}},
    {"normalise": {"method": "distance-to-target"}},
    {"normalise": {"method": "distance-to-target", "cap": False}},
])
def test_goalposts_and_targets_are_frozen_from_the_framework(step):
    """A hand index whose indicators carry goalposts and targets (one of them reached beyond by some cities)."""
    fw = flat_framework(directions=(1, -1, 1), goalposts=[(0, 10), (0, 50), (2, 4)], target=[8, 5, 3.5])
    ctx = make_context(6, fw)
    X = cube([[1, 40, 2.5], [5, 5, 3], [12, 20, 3.9], [7, 1, 2.2], [3, 60, 3.1], [9, 30, 4.5]])
    steps = [Step.parse(e) for e in (step, {"aggregate": {"method": "arithmetic"}})]
    stages = run_pipeline(X, ctx, steps)
    result = SimpleNamespace(context=ctx, stages=stages, steps=tuple(steps))
    model = whatif.model_document(result)
    assert "reason" not in model["frozen"]["steps"][0]
    for i, city in enumerate(model["cities"]):
        rows = whatif.score(model, {}, city)
        assert [r["score"] for r in rows] == list(stages.scores[0, i])
    beyond = whatif.score(model, {"i0": 100.0})  # far above the upper goalpost and the target
    if step["normalise"].get("truncate", step["normalise"].get("cap", True)):
        assert beyond[0]["score"] == 100.0
    else:
        assert beyond[0]["score"] > step["normalise"].get("scale", 100)


def test_treatment_is_frozen_as_the_bounds_and_transforms_the_build_used(asem_build):
    result, model = asem_build
    entry = next(e for e in model["frozen"]["steps"] if e["step"] == "treat")
    before, after = result.stages.data["screen"][0], result.stages.data["treat"][0]
    ops = np.array(entry["op"])
    assert set(ops) >= {"none", "clip"}
    for j in np.flatnonzero(ops == "clip"):
        x, y = before[:, j], after[:, j]
        if entry["upper"][j] is not None:
            assert entry["upper"][j] == np.nanmax(y) < np.nanmax(x)
        if entry["lower"][j] is not None:
            assert entry["lower"][j] == np.nanmin(y) > np.nanmin(x)
    for j in np.flatnonzero(ops == "none"):
        assert np.array_equal(before[:, j], after[:, j], equal_nan=True)


def test_a_changed_value_moves_only_its_ancestors(demo):
    result, model = demo
    nodes, parent = model["nodes"], model["parent"]
    city = "berlin"
    i = model["cities"].index(city)
    j = next(j for j, ind in enumerate(model["indicators"]) if model["raw"][i][j] is not None
             and model["frozen"]["steps"][0]["op"][j] == "none")
    indicator = model["indicators"][j]
    column = np.array([v[j] for v in model["raw"]], dtype=float)
    new = float(np.nanmax(column))  # the best value any city has: inside the build's range, so not clipped
    assert new > model["raw"][i][j]
    rows = whatif.score(model, {indicator: new}, city)
    ancestors, k = set(), j
    while parent[k] >= 0:
        k = parent[k]
        ancestors.add(nodes[k])
    for row, built in zip(rows, result.stages.scores[0, i]):
        if row["node"] == indicator or row["node"] in ancestors:
            assert row["score"] > built, row["node"]
        else:
            assert row["score"] == built, row["node"]
    assert rows[-1]["rank"] <= result.stages.ranks[0, i, -1]
    # the others stay as built: the rank counts the cities above the new score
    others = np.delete(result.stages.scores[0, :, -1], i)
    assert rows[-1]["rank"] == 1 + int(np.sum(others > rows[-1]["score"]))
    assert rows[-1]["ranked"] == len(model["cities"])


def test_a_new_city_with_a_build_citys_values_ties_with_it(demo, asem_build):
    for result, model in (demo, asem_build):
        i = int(np.flatnonzero(result.stages.ranks[0, :, -1] == 3)[0])
        values = dict(zip(model["indicators"], model["raw"][i]))
        frozen = model["frozen"]
        groups = {g: labels[i] for g, labels in frozen.get("groups", {}).items()}
        denominators = {d: v[i] for d, v in frozen.get("denominators", {}).items()}
        rows = whatif.score(model, values, groups=groups, denominators=denominators)
        assert [r["score"] for r in rows] == pytest.approx(list(result.stages.scores[0, i]), rel=1e-12)
        assert rows[-1]["rank"] == 3 and rows[-1]["ranked"] == int(result.kept.sum()) + 1


def test_scoring_explains_what_it_cannot_do(asem_build):
    _, model = asem_build
    some = model["indicators"][0]
    cases = [
        (dict(values={"LPJ": 1.0}), "values: unknown indicator 'LPJ' (did you mean 'LPI'?)"),
        (dict(values={some: "high"}), f"values: {some}: 'high' must be a number or null"),
        (dict(values={}, city="XYZ"), "city 'XYZ' is not a city of this index"),
        (dict(values={}), "values: the city has no indicator value at all"),
        (dict(values={some: 3.0}), "groups: 'EurAsia_group' is needed"),
        (dict(values={some: 3.0}, groups={"EurAsia_group": "Europa"}),
         "groups: EurAsia_group: 'Europa' is not one of Asia, Europe (did you mean 'Europe'?)"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError) as err:
            whatif.score(model, **kwargs)
        assert message in str(err.value)
    denominated = [ind for ind, d in zip(model["indicators"], model["frozen"]["steps"][0]["denominator"]) if d]
    full = {ind: 1.0 for ind in model["indicators"]}
    with pytest.raises(InputError, match="denominators: '.*' is needed"):
        whatif.score(model, full, groups={"EurAsia_group": "Europe"})
    assert denominated


def test_a_value_a_frozen_step_cannot_take_is_refused(tmp_path):
    step = {"treat": {"method": "winsorise", "max_points": 1, "fallback": "log"}}
    model = whatif.model_document(build(variant(asem("standard"), tmp_path, step=step), uncertainty=False))
    treat = next(e for e in model["frozen"]["steps"] if e["step"] == "treat")
    divided = model["frozen"]["steps"][0]["denominator"]
    j = next(j for j, op in enumerate(treat["op"]) if op == "log" and divided[j] is None)
    indicator, low, high = model["indicators"][j], treat["lower"][j], treat["upper"][j]
    city = model["cities"][0]
    below = low - (high - low)  # log(x − min + 0.01·(max − min)) has no value here
    with pytest.raises(InputError, match=f"values: {indicator}: step 'treat' \\(method 'winsorise'\\) gives no "
                                         "number for .* under the build's frozen parameters"):
        whatif.score(model, {indicator: below}, city)
    assert whatif.score(model, {indicator: low}, city)[-1]["score"] is not None


def test_weights_too_large_to_add_up_are_refused(demo):
    _, model = demo
    with pytest.raises(InputError, match="add up to more than a number can hold"):
        whatif.recompute(model, {"governance": 1e308, "urban_openness": 1e308})


def test_a_city_the_screen_would_drop_is_not_scored(tmp_path):
    result = build(variant(asem("standard"), tmp_path, step={"impute": {"method": "none"}}), uncertainty=False)
    model = whatif.model_document(result)
    some = model["indicators"][0]
    with pytest.raises(InputError, match="score: step 'screen' drops the city: it has values for 2% of the "
                                         "indicators, and the build keeps cities with at least 90%"):
        whatif.score(model, {some: 3.0})
    everything = dict(zip(model["indicators"], model["raw"][0]))
    assert whatif.score(model, everything, denominators={d: v[0] for d, v in model["frozen"]["denominators"].items()})


def test_a_step_without_a_frozen_form_is_named(demo):
    _, model = demo
    broken = {**model, "frozen": {**model["frozen"], "steps": [
        {"step": "treat", "method": "custom", "reason": "treat: method 'custom' has no frozen form"}]}}
    with pytest.raises(InputError, match="score: step 'treat' \\(method 'custom'\\) has no frozen form"):
        whatif.score(broken, {}, "berlin")
    with pytest.raises(InputError, match="copeland aggregation compares every city"):
        whatif.score({**model, "methods": [m and "copeland" for m in model["methods"]]}, {}, "berlin")


def test_the_model_is_plain_json(demo):
    import json

    _, model = demo
    assert json.loads(json.dumps(model, allow_nan=False)) == model
    assert model["nodes"][-1] == "index" and model["parent"][-1] == -1
    assert len(model["leaves"]) == len(model["cities"]) and len(model["leaves"][0]) == len(model["indicators"])


@pytest.mark.parametrize("aggregate", [{"method": "mean-min", "alpha": 0.8, "beta": 2.0},
                                       {"method": "ampi", "goalposts": [0, 100], "reference": 40,
                                        "penalty": "NEG", "sd": "sample"}])
def test_the_model_carries_the_aggregators_own_parameters(tmp_path, aggregate):
    """A build with a method's own parameters (not only p) is given back by its model document, and the same
    method with its defaults gives other scores: no parameter is dropped on the way to the page."""
    spec = variant(asem("standard"), tmp_path, aggregate=aggregate)
    result = build(spec, uncertainty=False)
    model = whatif.model_document(result)
    again = whatif.recompute(model)
    assert np.allclose(again.scores, result.stages.scores[0], rtol=1e-12, atol=1e-12, equal_nan=True)
    defaults = build(variant(asem("standard"), tmp_path, aggregate={"method": aggregate["method"]}, name="d.yaml"),
                     uncertainty=False)
    assert not np.allclose(defaults.stages.scores[0, :, -1], result.stages.scores[0, :, -1], equal_nan=True)


def test_uncertainty_runs_keep_the_aggregators_own_parameters(tmp_path):
    """Runs that vary nothing the scores depend on rank every city as the nominal build does: the runs aggregate
    with the step's own alpha and beta, not the method's defaults."""
    spec = variant(asem("standard"), tmp_path, aggregate={"method": "mean-min", "alpha": 0.9, "beta": 0.0})
    raw = yaml.safe_load(spec.read_text(encoding="utf-8"))
    raw["uncertainty"] = {"runs": 16, "design": "montecarlo", "seed": 3,
                          "factors": {"method": {"step": "aggregate", "parameter": "method",
                                                 "values": ["mean-min", "mean-min"]}}}
    spec.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    intervals = build(spec).uncertainty.rank_intervals.dropna(subset=["nominal_rank"])
    assert len(intervals) > 0
    assert (intervals["p05"] == intervals["nominal_rank"]).all()
    assert (intervals["p95"] == intervals["nominal_rank"]).all()
