"""The coder commands end to end: real files in, files out, located errors and nothing written on failure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import smartcities.cli.coding  # noqa: F401  (registers the commands)
from smartcities.cli.app import app, console
from smartcities.inventory.coder import load_coder
from smartcities.model.codebook import CODED_COLUMNS

runner = CliRunner()
INPUT = (
    "id,city,name,description,service_domain,lead_actor\n"
    "x-01,Testville,Bus arrival app,A mobile app shows when the next bus arrives at each stop.,,\n"
    "x-02,Testville,Digital literacy classes,Free courses teach older residents to use smartphones and online "
    "services.,education,public\n"
    'x-03,Testville,Flood sensors,"Water-level sensors along the river warn residents, by text message, of floods.",,\n'
)


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "initiatives.csv"
    path.write_text(INPUT, encoding="utf-8")
    return path


def test_code_fills_every_coded_column_and_keeps_person_coded_values(source, tmp_path):
    out, review = tmp_path / "coded.csv", tmp_path / "review.csv"
    result = run("code", str(source), "--out", str(out), "--review", str(review), "--review-below", "0.99")
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert [r["id"] for r in rows] == ["x-01", "x-02", "x-03"]
    for column in CODED_COLUMNS:
        assert column in rows[0] and f"{column}_confidence" in rows[0]
    assert rows[1]["service_domain"] == "education" and rows[1]["service_domain_confidence"] == ""
    assert rows[1]["lead_actor"] == "public"
    assert rows[0]["service_domain"] == "transport"
    assert rows[2]["description"].startswith("Water-level sensors along the river warn residents, by text")
    assert all(r["inclusive"] in ("true", "false") for r in rows)
    assert 0 <= float(rows[0]["item_type_confidence"]) <= 1
    listed = read_csv(review)
    assert listed and all(float(r["confidence"]) < 0.99 for r in listed)
    assert not any(r["id"] == "x-02" and r["column"] == "service_domain" for r in listed)
    assert "values below confidence 0.99" in result.output
    assert not list(tmp_path.glob(".*.tmp"))


def test_code_overwrite_replaces_person_coded_values(source, tmp_path):
    out = tmp_path / "coded.csv"
    assert run("code", str(source), "--out", str(out), "--overwrite", "--quiet").exit_code == 0
    assert read_csv(out)[1]["service_domain_confidence"] != ""


def test_code_json_summary(source, tmp_path):
    result = run("code", str(source), "--out", str(tmp_path / "o.csv"), "--json", "--review-below", "1")
    summary = json.loads(result.output)
    confidences = [r[f"{c}_confidence"] for r in read_csv(tmp_path / "o.csv") for c in CODED_COLUMNS]
    coded = [float(v) for v in confidences if v]  # a person's values have no confidence
    below = [v for v in coded if v < 1]
    assert summary["rows"] == 3 and len(coded) >= 3 * len(CODED_COLUMNS) - 3 and all(0 < v <= 1 for v in coded)
    assert below and len(summary["review"]) == len(below)  # every value below the threshold is queued, no other


def _fails_and_writes_nothing(tmp_path, source: Path, *expected: str, out_exists: bool = False):
    out, review = tmp_path / "coded.csv", tmp_path / "review.csv"
    if out_exists:
        out.write_text("previous,output\n")
    result = runner.invoke(app, ["code", str(source), "--out", str(out), "--review", str(review)])
    assert result.exit_code == 2
    message = result.output
    assert message.startswith("smartcities: error: ")
    for text in expected:
        assert text in message, message
    assert not review.exists()
    assert (out.read_text() == "previous,output\n") if out_exists else not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_description_column_is_located(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\nx-01,Bus app\n", encoding="utf-8")
    _fails_and_writes_nothing(tmp_path, bad, f"{bad} line 1: missing column 'description'")


def test_non_utf8_bytes_are_located(tmp_path):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("id,name,description\nx-01,Bus app,ok\nx-02,Caf\u00e9 wifi,free\n".encode("latin-1"))
    _fails_and_writes_nothing(tmp_path, bad, f"{bad} line 3", "0xe9", "UTF-8", out_exists=True)


def test_bad_value_in_an_already_coded_column_is_located(tmp_path):
    bad = tmp_path / "coded_badly.csv"
    bad.write_text("id,name,description,lead_actor,technologies\n"
                   "x-01,Bus app,App,public,mobile\n"
                   "x-02,Portal,Web portal,goverment,iot\n"
                   "x-03,Twin,Digital twin,public,digitaltwin\n", encoding="utf-8")
    _fails_and_writes_nothing(tmp_path, bad, f"{bad} line 3, column lead_actor: 'goverment' is not one of",
                              f"{bad} line 4, column technologies: 'digitaltwin'", "did you mean 'digital_twin'")


def test_empty_name_and_duplicate_id_are_located(tmp_path):
    bad = tmp_path / "dup.csv"
    bad.write_text("id,name,description\nx-01,A,a\nx-01,,b\n", encoding="utf-8")
    _fails_and_writes_nothing(tmp_path, bad, "line 3, column name", "duplicate id 'x-01'")


def test_bad_review_threshold_and_output_over_input(source):
    result = runner.invoke(app, ["code", str(source), "--out", str(source.with_name("o.csv")),
                                 "--review-below", "1.5"])
    assert result.exit_code == 2 and "not a confidence between 0 and 1" in result.output
    before = source.read_text()
    result = runner.invoke(app, ["code", str(source), "--out", str(source)])
    assert result.exit_code == 2 and "is the input file" in result.output
    assert source.read_text() == before


def test_counts_out_of_range_are_refused(source, tmp_path):
    result = runner.invoke(app, ["code", str(source), "--out", str(tmp_path / "o.csv"), "--show", "-1"])
    assert result.exit_code == 2 and "Invalid value for '--show'" in result.output
    assert not (tmp_path / "o.csv").exists()
    result = runner.invoke(app, ["evaluate-coder", "--folds", "1", "--no-cdp"])
    assert result.exit_code == 2 and "one fold leaves nothing to train on" in result.output
    result = runner.invoke(app, ["evaluate-coder", "--folds", "-2", "--no-cdp"])
    assert result.exit_code == 2 and "Invalid value for '--folds'" in result.output


def test_agree_compares_model_output_with_a_person(source, tmp_path):
    out = tmp_path / "coded.csv"
    run("code", str(source), "--out", str(out), "--quiet")
    person = tmp_path / "person.csv"
    rows = read_csv(out)
    rows[0]["item_type"] = "strategy" if rows[0]["item_type"] != "strategy" else "project"
    with open(person, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", *CODED_COLUMNS])
        writer.writeheader()
        writer.writerows([{k: r[k] for k in ["id", *CODED_COLUMNS]} for r in rows])
    table = tmp_path / "agreement.csv"
    result = run("agree", str(out), str(person), "--out", str(table))
    assert result.exit_code == 0, result.output
    assert "Krippendorff" in result.output
    by_column = {r["column"]: r for r in read_csv(table)}
    assert float(by_column["service_domain"]["percent_agreement"]) == 1.0
    assert float(by_column["item_type"]["percent_agreement"]) == pytest.approx(2 / 3, abs=1e-3)
    assert set(CODED_COLUMNS) <= set(by_column)


def test_agree_needs_two_files_and_reports_bad_ones(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("id,item_type\n1,project\n")
    result = runner.invoke(app, ["agree", str(a)])
    assert result.exit_code == 2 and "at least two files" in result.output
    b = tmp_path / "b.csv"
    b.write_text("id,item_type\n1,projekt\n")
    result = runner.invoke(app, ["agree", str(a), str(b), "--out", str(tmp_path / "t.csv")])
    assert result.exit_code == 2 and f"{b} line 2, column item_type: 'projekt'" in result.output
    assert not (tmp_path / "t.csv").exists()


def test_train_coder_writes_loadable_heads(tmp_path):
    from smartcities.inventory.train import DATA

    sample = DATA / "sci2022" / "inventory.csv"  # the 397-row sample: the same steps as the full inventory, faster
    result = run("train-coder", "--inventory", str(sample), "--out", str(tmp_path / "heads"), "--C", "3", "--quiet")
    assert result.exit_code == 0, result.output
    coder = load_coder(tmp_path / "heads")
    assert set(coder.heads) == set(CODED_COLUMNS)
    assert coder.manifest["training"]["C"] == "3" and coder.manifest["training"]["rows"] == 397
    # temperature-scaled by default: a temperature per single-valued head, fitted on held-out folds
    assert "temperature" in coder.manifest["training"] and coder.heads["technologies"].temperature == 1.0
    assert any(h.temperature != 1.0 for h in coder.heads.values())
    result = run("train-coder", "--inventory", str(sample), "--out", str(tmp_path / "plain"), "--C", "3", "--quiet",
                 "--no-calibrate")
    assert result.exit_code == 0, result.output
    plain = load_coder(tmp_path / "plain")
    assert "temperature" not in plain.manifest["training"]
    assert all(h.temperature == 1.0 for h in plain.heads.values())


def test_train_coder_keep_C_refits_with_each_columns_C_of_the_heads_it_replaces(tmp_path):
    from smartcities.inventory.coder import packaged_coder
    from smartcities.inventory.train import DATA

    sample = DATA / "sci2022" / "inventory.csv"
    heads = tmp_path / "heads"
    assert run("train-coder", "--inventory", str(sample), "--out", str(heads), "--C", "3", "-q",
               "--no-calibrate").exit_code == 0
    manifest = json.loads((heads / "manifest.json").read_text())
    manifest["columns"]["lead_actor"]["C"], manifest["columns"]["inclusive"]["C"] = 0.1, 30.0  # as a search might
    (heads / "manifest.json").write_text(json.dumps(manifest))
    result = run("train-coder", "--inventory", str(sample), "--out", str(heads), "--keep-C", "--no-calibrate")
    assert result.exit_code == 0, result.output
    assert "lead_actor: 3 classes, C=0.1" in result.output and "inclusive: 2 classes, C=30" in result.output
    kept = load_coder(heads)
    assert {col: h.info["C"] for col, h in kept.heads.items()} == {**{col: 3.0 for col in CODED_COLUMNS},
                                                                   "lead_actor": 0.1, "inclusive": 30.0}
    assert kept.manifest["training"]["C"].startswith("kept per column: item_type 3, ")
    # a folder without heads keeps the package's C
    fresh = tmp_path / "fresh"
    assert run("train-coder", "--inventory", str(sample), "--out", str(fresh), "--keep-C", "-q",
               "--no-calibrate").exit_code == 0
    assert ({col: h.info["C"] for col, h in load_coder(fresh).heads.items()}
            == {col: h.info["C"] for col, h in packaged_coder().heads.items()})
    both = run("train-coder", "--inventory", str(sample), "--out", str(fresh), "--keep-C", "--C", "3")
    assert both.exit_code == 2 and "give --C or --keep-C, not both" in both.output


def test_evaluate_coder_reports_grouped_scores(evaluations, monkeypatch):
    result = run("evaluate-coder", "--folds", "3", "--C", "3", "--no-cdp", "--no-calibrate", "--json")
    assert result.exit_code == 0, result.output
    whole = json.loads(result.output)
    report = whole["inventory"]
    assert report["scheme"] == "3 folds grouped by city" and report["rows"] == 2370 and report["cities"] == 114
    assert set(report["columns"]) == set(CODED_COLUMNS)
    for scores in report["columns"].values():
        assert 0 < scores["macro_f1"] <= 1 and 0 < scores["accuracy"] <= 1
    assert report["columns"]["service_domain"]["accuracy"] > 0.5  # eight domains: chance is about 0.125
    matrix = report["service_domain_confusion"]["matrix"]
    assert sum(map(sum, matrix)) == 2370
    # the shipped encoder was fine-tuned on every training row, and on no row of a hold-out city
    assert report["encoder_tuned_on_these_rows"] is True and report["encoder_saw_rows"] == 2370
    held = whole["holdout"]
    assert held["rows"] == 154 and held["cities"] == 10 and held["encoder_saw_rows"] == 0
    assert held["city_names"] == ["Adelaide", "Calgary", "Curitiba", "Daejeon", "Glasgow", "Kuala Lumpur", "Ljubljana",
                                 "Nairobi", "Pittsburgh", "Tampere"]
    assert set(held["columns"]) == set(CODED_COLUMNS)
    assert sum(map(sum, held["service_domain_confusion"]["matrix"])) == 154
    for part, rows in ((report, 2370), (held, 154)):  # every held-out value's confidence, binned
        for column, rel in part["calibration"].items():
            assert sum(b["count"] for b in rel["bins"]) == rows and 0 <= rel["ece"] <= 1, column
        assert part["calibration"]["service_domain"]["accuracy"] == pytest.approx(
            part["columns"]["service_domain"]["accuracy"])
    ceiling = whole["agreement"]  # the second coder, beside the model's figures
    assert ceiling["rows"] == 253 and ceiling["columns"]["service_domain"]["cohen_kappa"] > 0.8
    evaluations.replay()  # the same report, shown as text, on a terminal wide enough for the table
    monkeypatch.setattr(console, "width", 160)
    shown = run("evaluate-coder", "--folds", "3", "--C", "3", "--no-cdp", "--no-calibrate", "--quiet").output
    shown = " ".join(shown.split())
    assert "Hold-out cities (Adelaide," in shown
    assert "ECE" in shown and "2nd" in shown and "agreement between people" in shown
    figure = held["columns"]["inclusive"]["true_f1"]  # each column beside the figure it is judged by
    assert f"inclusive │ F1 of true {figure:.3f} │" in shown
    assert f"technologies │ micro-F1 {held['columns']['technologies']['micro_f1']:.3f} │" in shown
    assert "not held-out for the encoder, fine-tuned on 2370 of these 2370" in shown
    assert "Held out: neither the heads nor the encoder saw any row of these cities." in shown


def test_evaluate_coder_knows_which_rows_the_encoder_saw(tmp_path):
    from smartcities.inventory.train import DATA

    sample = DATA / "sci2022" / "inventory.csv"  # all 397 rows are training rows: the encoder saw their texts
    result = run("evaluate-coder", "--inventory", str(sample), "--folds", "3", "--C", "3", "--no-cdp", "--no-calibrate",
                 "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["inventory"]["encoder_saw_rows"] == 397 and "holdout" not in report
    with sample.open(encoding="utf-8", newline="") as f:  # the same rows, each described with one more sentence
        reader = csv.DictReader(f)
        rows = [{**r, "description": r["description"] + " Listed in the city's programme."} for r in reader]
    other = tmp_path / "other.csv"
    with other.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    result = run("evaluate-coder", "--inventory", str(other), "--folds", "3", "--C", "3", "--no-cdp", "--no-calibrate",
                 "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["inventory"]["encoder_saw_rows"] == 0 and report["inventory"]["encoder_tuned_on_these_rows"] is False


def test_evaluate_coder_names_a_missing_cdp_file(tmp_path):
    result = runner.invoke(app, ["evaluate-coder", "--cdp", str(tmp_path / "nope.csv"), "--folds", "3"])
    assert result.exit_code == 2 and "nope.csv: file does not exist" in result.output
