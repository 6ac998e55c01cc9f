"""The review loop (code --review → a person corrects → train-coder / evaluate-coder --add), calibration and the
agreement ceiling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import smartcities.cli.coding  # noqa: F401  (registers the commands)
from smartcities.cli.app import app
from smartcities.cli.coding import service_domain_diagram
from smartcities.errors import InputError
from smartcities.inventory import coder as C
from smartcities.inventory import train as T
from smartcities.inventory.calibration import reliability, reliability_svg
from smartcities.inventory.review import REVIEW_COLUMNS, Additions, describe, parse_value, read_additions
from smartcities.io.inventory import read_inventory
from smartcities.model.codebook import CODED_COLUMNS

runner = CliRunner()
HEADER = ",".join(REVIEW_COLUMNS)


def _write(path, rows: list[str]):
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


# --- the review file ---------------------------------------------------------------------------------------------

def test_review_file_carries_what_a_person_needs_and_an_empty_corrected_column():
    coded = pd.DataFrame({"id": ["a"], "city": ["Oslo"], "name": ["A"], "description": ["About A."], "_line": [2],
                          "item_type": ["project"], "item_type_confidence": [0.3]})
    review = C.review_rows(coded, 0.5, columns=("item_type",))
    assert tuple(review.columns) == REVIEW_COLUMNS
    assert review.iloc[0].to_dict() == {"id": "a", "line": 2, "city": "Oslo", "name": "A", "description": "About A.",
                                        "column": "item_type", "value": "project", "confidence": 0.3,
                                        "corrected": ""}


def test_parse_value_takes_codebook_values_only():
    assert parse_value("service_domain", " transport ") == ("transport", None)
    assert parse_value("inclusive", "true") == (True, None)
    assert parse_value("technologies", "iot; ai") == (("iot", "ai"), None)
    assert parse_value("technologies", "none") == (("none",), None)
    assert parse_value("energy_environment", "none") == ("none", None)
    value, problem = parse_value("service_domain", "transprt")
    assert problem.startswith("'transprt' is not one of ") and "did you mean 'transport'" in problem
    assert parse_value("inclusive", "maybe")[1] == "'maybe' is not true or false"
    assert "expected ';'-separated values" in parse_value("technologies", ";")[1]


def test_read_additions_checks_merges_and_leaves_out(tmp_path):
    training = pd.DataFrame({"name": ["Known"], "description": ["Already coded."], "city": ["Oslo"]})
    first = _write(tmp_path / "first.csv", [
        "n1,2,Oslo,Bus app,Next bus times.,service_domain,other,0.3,transport",
        "n1,2,Oslo,Bus app,Next bus times.,inclusive,true,0.4,false",
        "n2,3,Oslo,Parks,Green spaces.,item_type,project,0.2,",
        "n3,4,Tampere,Tram,New tram line.,service_domain,other,0.3,transport",
        "n4,5,Oslo,Known,Already coded.,service_domain,other,0.3,transport",
    ])
    second = _write(tmp_path / "second.csv", ["n1,2,Oslo,Bus app,Next bus times.,service_domain,other,0.3,transport",
                                              "n5,9,Oslo,Sensors,Air sensors.,technologies,ai,0.2,iot;5g"])
    added = read_additions([first, second], training, ("Tampere",))
    assert len(added.frame) == 2 and added.values == 3  # the repeated correction of n1 counts once
    bus = added.frame.set_index("id").loc["n1"]
    assert bus["service_domain"] == "transport" and bus["inclusive"] is False and bus["item_type"] is None
    assert added.frame.set_index("id").loc["n5", "technologies"] == ("iot", "5g")
    stats = added.files[0]
    assert (stats["file"], stats["rows"], stats["used"], stats["unreviewed"], stats["holdout"],
            stats["in_training"], stats["holdout_cities"]) == ("first.csv", 5, 2, 1, 1, 1, ["Tampere"])
    assert len(stats["sha256"]) == 64 and added.files[1]["used"] == 1
    lines = describe(added.files)
    assert lines[0] == ("first.csv: 2 reviewed values of 5 rows added; left out: 1 not reviewed (corrected empty); "
                        "1 of hold-out cities (Tampere), never trained on; 1 already in the training inventory "
                        "(correct the inventory instead)")
    assert lines[1] == "second.csv: 1 reviewed values of 2 rows added"


def test_read_additions_locates_bad_and_conflicting_corrections(tmp_path):
    nothing = pd.DataFrame({"name": [], "description": []})
    shape = _write(tmp_path / "shape.csv", ["n2,3,,Parks,Green spaces.,item_type,project,0.2,project",
                                            "n3,4,Oslo,Tram,New tram.,colour,x,0.2,red"])
    values = _write(tmp_path / "values.csv", ["n1,2,Oslo,Bus app,Next bus times.,service_domain,other,0.3,transprt",
                                              "n1,2,Oslo,Bus app,Next bus times.,inclusive,true,0.3,false",
                                              "n1,2,Oslo,Bus app,Next bus times.,inclusive,true,0.3,true"])
    with pytest.raises(InputError) as err:
        read_additions([shape, values], nothing, ())
    problems = [str(p) for p in err.value.problems]
    assert problems == [
        f"{shape} line 2, column city: empty, expected text",
        f"{shape} line 3, column column: 'colour' is not one of " + ", ".join(CODED_COLUMNS),
        f"{values} line 2, column corrected: 'transprt' is not one of "
        + ", ".join(T.COLUMN_BY_NAME["service_domain"].values) + " (did you mean 'transport'?)",
        f"{values} line 4, column corrected: corrects inclusive of this initiative to 'true', but {values} line 3 "
        "gives another value",
    ]


def test_labelled_rows_are_those_with_a_value_false_and_empty_lists_included():
    frame = pd.DataFrame({"inclusive": pd.Series([True, False, None, pd.NA, np.nan], dtype=object),
                          "technologies": pd.Series([("ai",), (), None, None, None], dtype=object)})
    assert T.labelled(frame, "inclusive").tolist() == [True, True, False, False, False]
    assert T.labelled(frame, "technologies").tolist() == [True, True, False, False, False]


def test_with_additions_and_fit_coder_use_each_value_where_it_is_given():
    X, y = np.eye(3)[[0] * 6 + [1] * 6], ["transport"] * 6 + ["education"] * 6
    frame = pd.DataFrame({"city": [f"c{i % 3}" for i in range(12)], "service_domain": y,
                          "item_type": ["project"] * 6 + ["strategy"] * 6})
    extra = pd.DataFrame({"city": ["new"] * 4, "name": ["n"] * 4, "description": ["d"] * 4,
                          "service_domain": ["administration"] * 4, "item_type": [None] * 4})
    both = T.with_additions(frame, Additions(extra))
    assert len(both) == 16 and T.with_additions(frame, None) is frame
    X2 = np.vstack([X, np.eye(3)[[2] * 4]])
    heads = T.fit_coder(X2, both, both["city"].tolist(), T.TrainingSettings(columns=("service_domain", "item_type"),
                                                                            fixed_C=10.0)).heads
    assert heads["service_domain"].classes == ("administration", "education", "transport")
    assert heads["item_type"].classes == ("project", "strategy")  # the reviewed rows carry no item_type
    assert C.decide(heads["service_domain"], heads["service_domain"].proba(np.eye(3)[[2]]))[0] == ["administration"]


# --- the loop end to end on real inventory rows ------------------------------------------------------------------

@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """A small training inventory (rows of 30 training cities and of every hold-out city), the rows of 30 other
    training cities coded by heads fitted on it, and a review file whose wrong service_domain values a person
    corrected to the inventory's value (plus one hold-out row, corrected too)."""
    folder = tmp_path_factory.mktemp("loop")
    whole = pd.read_csv(T.INVENTORY_FILE, dtype=str, keep_default_na=False)
    holdout = whole["city"].isin(T.holdout_cities())
    cities = sorted(set(whole.loc[~holdout, "city"]))
    small = whole[whole["city"].isin(cities[::4][:30]) | holdout]
    new = whole[whole["city"].isin(cities[2::4][:30])]
    small.to_csv(folder / "small.csv", index=False)
    new.drop(columns=list(CODED_COLUMNS)).to_csv(folder / "new.csv", index=False)
    before = T.train_coder(folder / "small.csv", T.TrainingSettings(fixed_C=3.0, calibrate=False))
    coded = C.code_file(folder / "new.csv", folder / "coded.csv", review_below=1.0, review_out=folder / "r.csv",
                        coder=before)
    review = pd.read_csv(folder / "r.csv", dtype=str, keep_default_na=False)
    truth = new.set_index("id")["service_domain"]
    wrong = review[(review["column"] == "service_domain") & (review["value"] != review["id"].map(truth))].copy()
    wrong["corrected"] = wrong["id"].map(truth)
    tampere = whole[whole["city"] == "Tampere"].iloc[0]
    held = {"id": tampere["id"], "line": "2", "city": "Tampere", "name": tampere["name"],
            "description": tampere["description"], "column": "service_domain", "value": "other",
            "confidence": "0.2", "corrected": tampere["service_domain"]}
    reviewed = pd.concat([wrong, pd.DataFrame([held]), review[review["column"] == "item_type"].head(5)])
    reviewed.to_csv(folder / "reviewed.csv", index=False)
    return {"folder": folder, "wrong": wrong, "before": before, "coded": coded.coded, "new": new}


def test_corrected_examples_are_coded_as_corrected_after_train_coder_add(loop):
    folder, wrong = loop["folder"], loop["wrong"]
    assert len(wrong) >= 20  # heads fitted on 30 cities miscode many rows of 30 others
    result = runner.invoke(app, ["train-coder", "--inventory", str(folder / "small.csv"), "--add",
                                 str(folder / "reviewed.csv"), "--C", "3", "--no-calibrate", "--out",
                                 str(folder / "heads")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert (f"reviewed.csv: {len(wrong)} reviewed values of {len(wrong) + 6} rows added; left out: 5 not reviewed "
            "(corrected empty); 1 of hold-out cities (Tampere), never trained on") in shown
    after = C.load_coder(folder / "heads")
    training = after.manifest["training"]
    assert training["added"]["values"] == len(wrong) == training["added"]["examples"]
    [stats] = training["added"]["files"]
    assert stats["sha256"] == T._file_sha256(folder / "reviewed.csv") and stats["holdout"] == 1
    assert training["rows"] == len(read_inventory(folder / "small.csv"))  # the inventory's rows; added ones apart
    rows = loop["new"].set_index("id").loc[wrong["id"]].reset_index()
    texts = C.texts_of(rows)
    X = C.embedder().embed(texts)
    before = loop["before"].predict(X, texts)["service_domain"][0]
    now = after.predict(X, texts)["service_domain"][0]
    assert not any(b == t for b, t in zip(before, wrong["corrected"]))  # every one was wrong before
    assert np.mean([n == t for n, t in zip(now, wrong["corrected"])]) >= 0.6  # 0.70 when written
    # a head no reviewed row touched is the same head
    assert np.allclose(after.heads["lead_actor"].coef, loop["before"].heads["lead_actor"].coef, atol=1e-6)
    # and `code --heads` codes with the refitted heads
    coded = folder / "recoded.csv"
    result = runner.invoke(app, ["code", str(folder / "new.csv"), "--out", str(coded), "--heads",
                                 str(folder / "heads"), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    recoded = pd.read_csv(coded, dtype=str).set_index("id").loc[wrong["id"], "service_domain"]
    assert list(recoded) == list(now)
    missing = runner.invoke(app, ["code", str(folder / "new.csv"), "--out", str(coded), "--heads", str(folder)])
    assert missing.exit_code == 2 and f"{folder}: holds no minilm heads (manifest.json is missing)" in missing.output


def test_evaluate_coder_add_shows_the_figures_with_and_without_the_reviewed_rows(loop, tmp_path, evaluations):
    folder = loop["folder"]
    args = ["evaluate-coder", "--inventory", str(folder / "small.csv"), "--add", str(folder / "reviewed.csv"),
            "--folds", "3", "--C", "3", "--no-cdp", "--no-calibrate"]
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"]["values"] == len(loop["wrong"]) and report["added"]["files"][0]["holdout"] == 1
    for key in ("holdout", "inventory"):
        plus = report[key]["with_added"]
        assert set(plus["columns"]) == set(CODED_COLUMNS) and set(plus["calibration"]) == set(CODED_COLUMNS)
        assert sum(map(sum, plus["service_domain_confusion"]["matrix"])) == report[key]["rows"]  # same rows scored
        # only service_domain was corrected: the other columns are fitted on the same rows as before
        assert plus["columns"]["lead_actor"] == report[key]["columns"]["lead_actor"]
    assert report["holdout"]["with_added"]["columns"]["service_domain"] != report["holdout"]["columns"][
        "service_domain"]
    assert "agreement" not in report  # another inventory: the shipped second coding does not apply
    evaluations.replay()  # the same report, shown as text
    shown = " ".join(runner.invoke(app, [*args, "--diagram", str(tmp_path / "d.svg")]).output.split())
    assert "+reviewed" in shown and "Δ" in shown and "ECE" in shown and "Reliability, hold-out cities" in shown
    assert "never a reviewed row of a scored city" in shown
    assert (tmp_path / "d.svg").read_text().startswith("<svg")


# --- calibration -------------------------------------------------------------------------------------------------

def test_reliability_table_and_expected_calibration_error_by_hand():
    conf = [0.15, 0.15, 0.95, 0.95, 0.95, 0.95, 1.0, 0.55]
    right = [False, True, True, True, True, False, True, True]
    rel = reliability(conf, right)
    assert [(b["low"], b["count"]) for b in rel["bins"]] == [(0.1, 2), (0.5, 1), (0.9, 5)]
    top = rel["bins"][2]
    assert top["mean_confidence"] == pytest.approx(0.96) and top["accuracy"] == pytest.approx(0.8)
    # |0.5 - 0.15| * 2/8 + |1 - 0.55| * 1/8 + |0.8 - 0.96| * 5/8
    assert rel["ece"] == pytest.approx(0.35 * 2 / 8 + 0.45 / 8 + 0.16 * 5 / 8)
    assert rel["rows"] == 8 and rel["accuracy"] == pytest.approx(0.75)
    assert reliability([0.7] * 10, [True] * 7 + [False] * 3)["ece"] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        reliability([1.2], [True])
    with pytest.raises(ValueError):
        reliability([0.5, 0.5], [True])


def test_reliability_svg_draws_a_point_per_bin_and_names_each_series():
    a = reliability([0.15, 0.95, 0.95], [False, True, True])
    b = reliability([0.55, 0.65], [True, False])
    svg = reliability_svg({"folds": a, "hold-out <cities>": b}, "service_domain")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count("<circle") == 4 and svg.count("<polyline") == 2
    assert "folds: 3 values, ECE " + f"{a['ece']:.3f}" in svg and "hold-out &lt;cities&gt;" in svg


def test_grouped_evaluation_reports_calibration_of_its_held_out_values():
    rng = np.random.default_rng(2)
    domains = ["transport", "education", "administration"]
    frame = pd.DataFrame([{"id": f"{c}-{i}", "city": f"city{c}", "service_domain": domains[i % 3]}
                          for c in range(6) for i in range(9)])
    X = np.vstack([np.eye(3)[domains.index(d)] + 0.4 * rng.normal(size=3) for d in frame["service_domain"]])
    ev = T.evaluate_inventory(X, frame, T.TrainingSettings(columns=("service_domain",), fixed_C=1.0), n_splits=3)
    rel = ev.calibration["service_domain"]
    assert rel["rows"] == 54 == sum(b["count"] for b in rel["bins"])
    assert rel["accuracy"] == pytest.approx(ev.scores["service_domain"]["accuracy"])
    conf = ev.predictions["service_domain_confidence"]
    assert rel["mean_confidence"] == pytest.approx(conf.mean()) and (conf >= 1 / 3).all()
    assert ev.table()["ece"].iloc[0] == pytest.approx(rel["ece"])


def test_service_domain_diagram_plots_folds_and_holdout():
    rel = reliability([0.9, 0.6], [True, False])
    report = {"embedding": "minilm", "inventory": {"scheme": "3 folds grouped by city",
                                                   "calibration": {"service_domain": rel}},
              "holdout": {"calibration": {"service_domain": rel}}}
    svg = service_domain_diagram(report)
    assert "grouped folds (3 folds grouped by city): 2 values" in svg and "hold-out cities: 2 values" in svg
    del report["holdout"]
    assert "hold-out cities" not in service_domain_diagram(report)


# --- the agreement ceiling ---------------------------------------------------------------------------------------

def test_agreement_ceiling_scores_the_second_coding_like_the_model():
    from smartcities.inventory.agree import agreement_of_files

    ceiling = T.agreement_ceiling()
    table = agreement_of_files([T.SECOND_CODING_FILE, T.INVENTORY_FILE], per_label=False).set_index("column")
    assert ceiling["rows"] == 253 and set(ceiling["columns"]) == set(CODED_COLUMNS)
    for column, s in ceiling["columns"].items():
        assert s["cohen_kappa"] == pytest.approx(table.loc[column, "cohen_kappa"])
        # two coders: the share of agreeing pairs is the second coding's accuracy against the first
        assert s["accuracy"] == pytest.approx(table.loc[column, "percent_agreement"])
    assert ceiling["columns"]["service_domain"]["macro_f1"] > 0.8


def test_temperature_sharpens_an_under_confident_head_without_changing_its_choices(tmp_path):
    rng = np.random.default_rng(3)
    domains = ["transport", "education", "administration"]
    y = [domains[i % 3] for i in range(90)]
    X = np.vstack([2 * np.eye(3)[domains.index(d)] + 0.3 * rng.normal(size=3) for d in y])
    groups = [f"c{i % 6}" for i in range(90)]
    # a strongly regularised head: right almost always, with low probabilities
    head = T.fit_head(X, y, "service_domain", C=0.01)
    t = T.fit_temperature(X, y, groups, "service_domain", C=0.01)
    assert t < 1 and t in T.TEMPERATURES
    scaled = T.fit_head(X, y, "service_domain", C=0.01)
    scaled.temperature = t
    values, conf = C.decide(head, head.proba(X))
    scaled_values, scaled_conf = C.decide(scaled, scaled.proba(X))
    assert scaled_values == values and (scaled_conf > conf).all()
    right = [v == truth for v, truth in zip(values, y)]
    assert reliability(scaled_conf, right)["ece"] < reliability(conf, right)["ece"]
    assert T.fit_temperature(X, [("ai",)] * 90, groups, "technologies", C=1.0) == 1.0
    C.save_coder(C.Coder({"service_domain": scaled}, {"format": 1}), tmp_path)
    assert C.load_coder(tmp_path).heads["service_domain"].temperature == t
    heads = T.fit_coder(X, pd.DataFrame({"service_domain": y}), groups,
                        T.TrainingSettings(columns=("service_domain",), fixed_C=0.01, calibrate=True)).heads
    assert heads["service_domain"].temperature == t
