"""A build a user can trust, on the real Australian cities: nothing ranked from imputed values alone, nothing
screened out brought back, no city dropped without a word, and every step's effect in the processing log."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SHARED, need_shared
from typer.testing import CliRunner

from smartcities.build import build
from smartcities.cli import app
from smartcities.robustness.audit import audit

AU_DATA = SHARED / "data" / "au_national_cities_performance_framework" / "data_file.csv"
CAPITALS = {"Sydney", "Melbourne", "Brisbane", "Adelaide", "Perth", "Hobart", "Darwin", "Canberra"}
DOMAINS = {  # 34 of the file's indicators, none of them holding its 999.01 missing-value code
    "people": ["population_growth", "life_expectancy", "disability", "obesity", "suicide", "safety",
               "crisis_support", "volunteering", "access_to_open_space"],
    "housing": ["housing_price", "unit_price", "public_housing", "homelessness", "mortgage_stress", "rent_stress",
                "building_approvals", "household_size", "tenure_owned"],
    "economy": ["household_income", "knowledge_industries", "new_business", "patent_application",
                "employment_growth", "unemployment", "youth_unemployment", "participation"],
    "mobility": ["public_transport", "active_transport", "broadband_connections", "education_year_12",
                 "education_certificate", "education_bachelor", "lg_fragmentation", "indigenous_unemployment"],
}
runner = CliRunner()


def au_index(folder, pipeline, *, drop_from_cities=(), extra_cities=(), blank=None) -> dict:
    """Write a spec, cities table, framework and long indicators table over the 22 Australian cities.
    `blank` maps a city name to how many of its values to leave out of the indicators table."""
    need_shared(AU_DATA)
    data = pd.read_csv(AU_DATA)
    cities = pd.DataFrame({"city": [n.lower().replace(" - ", "-").replace(" ", "-") for n in data.city],
                           "name": data.city, "country": "Australia",
                           "type": ["capital" if n in CAPITALS else "regional" for n in data.city]})
    data["city"] = cities["city"]
    indicators = [i for kids in DOMAINS.values() for i in kids]
    long = data.melt(id_vars="city", value_vars=indicators, var_name="indicator")
    for name, n in (blank or {}).items():
        rows = long.index[long.city == cities.city[cities.name == name].item()][:n]
        long = long.drop(rows)
    table = cities[~cities.name.isin(drop_from_cities)]
    table = pd.concat([table, pd.DataFrame(list(extra_cities))], ignore_index=True)
    table.to_csv(folder / "cities.csv", index=False)
    long.to_csv(folder / "indicators.csv", index=False)
    framework = {"id": "index", "name": "Australian cities", "children": [
        {"id": d, "name": d.title(), "children": [{"id": i, "name": i, "direction": 1} for i in kids]}
        for d, kids in DOMAINS.items()]}
    (folder / "framework.yaml").write_text(yaml.safe_dump(framework, sort_keys=False), encoding="utf-8")
    spec = {"name": "Australian cities", "cities": "cities.csv", "indicators": "indicators.csv",
            "framework": "framework.yaml", "pipeline": pipeline + [{"normalise": {"method": "minmax"}},
                                                               {"aggregate": {"method": "arithmetic"}}]}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return {"spec": folder / "spec.yaml", "long": long}


def processing(out) -> pd.DataFrame:
    return pd.read_csv(out / "processing.csv", keep_default_na=False)


def test_a_city_with_no_data_is_not_ranked_and_is_said(tmp_path):
    made = au_index(tmp_path, [{"impute": {"method": "group-median", "group": "type"}}],
                    extra_cities=[{"city": "geraldton", "name": "Geraldton", "country": "Australia",
                                   "type": "regional"}])
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(made["spec"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out / "scores.csv")
    assert "geraldton" not in set(scores.city) and scores.city.nunique() == 22
    log = processing(out)
    row = log[(log.action == "no-data") & (log.unit == "geraldton")]
    assert len(row) == 1 and row.severity.item() == "warning" and "not ranked" in row.detail.item()
    assert "smartcities: warning: inputs no-data 1 (1 unit: geraldton)" in result.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["units"] == 23 and run["units_kept"] == 22 and run["processing"]["warnings"] >= 1
    strict = runner.invoke(app, ["build", str(made["spec"]), "--out", str(tmp_path / "strict"), "--strict"])
    assert strict.exit_code == 2 and "no-data" in strict.stderr and "an error under --strict" in strict.stderr
    assert not (tmp_path / "strict").exists()


@pytest.mark.parametrize("order", ["screen, impute", "impute, screen"])
def test_a_screened_city_stays_out_and_measured_values_are_kept(tmp_path, order):
    screen = {"screen": {"min_coverage": 0.8}}
    impute = {"impute": {"method": "group-median", "group": "type"}}
    made = au_index(tmp_path, [screen, impute] if order == "screen, impute" else [impute, screen],
                    blank={"Hobart": 20})  # 14 of 34 values measured: 41% coverage
    result = build(made["spec"], uncertainty=False)
    hobart = result.context.units.index("hobart")
    log = result.processing.table
    measured = made["long"][made["long"].city == "hobart"]
    assert len(measured) == 14
    imputed = result.stages.data["impute"][0, hobart]
    columns = [result.context.indicators.index(i) for i in measured.indicator]
    if order == "screen, impute":
        assert np.isnan(result.node_scores("index")["hobart"])
        assert "hobart" not in set(result.scores_table().city)
        assert np.isnan(imputed).all()  # imputation did not fill the removed city
        removed = log[(log.action == "removed-unit") & (log.unit == "hobart")]
        assert removed.detail.item() == "coverage 41% below min_coverage 80%" and removed["count"].item() == 14
        assert not ((log.action == "imputed") & (log.unit == "hobart")).any()
        # the audit describes the index as built: Hobart is in no stage's statistics, the raw data's included
        stats = audit(result.stages, result.context).stats
        raw = stats[stats.stage == "raw"].set_index("indicator")
        assert raw.loc["life_expectancy", "n_avail"] == 21
        life = result.stages.data["raw"][0, :, result.context.indicators.index("life_expectancy")]
        assert raw.loc["life_expectancy", "max"] == np.nanmax(np.delete(life, hobart))
    else:  # imputed first, Hobart is complete when screened: ranked, its 14 measured values as given
        assert np.array_equal(imputed[columns], measured.value.to_numpy())
        assert ((log.action == "imputed") & (log.unit == "hobart")).sum() == 20
        assert not np.isnan(result.node_scores("index")["hobart"])


def test_a_city_missing_from_the_cities_table_is_said_and_left_out(tmp_path):
    made = au_index(tmp_path, [], drop_from_cities=["Launceston"])
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(made["spec"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "launceston" not in set(pd.read_csv(out / "indicators.csv").city)
    assert "launceston" not in set(pd.read_csv(out / "scores.csv").city)
    log = processing(out)
    row = log[log.action == "not-in-cities"]
    assert row.unit.tolist() == ["launceston"] and row["count"].item() == 34
    assert row.severity.item() == "warning"
    assert "indicators.csv line" in row.detail.item() and "its rows are left out" in row.detail.item()
    assert "not-in-cities" in result.stderr
    validate = runner.invoke(app, ["validate", str(made["spec"]), "--strict"])
    assert validate.exit_code == 2 and "not-in-cities" in validate.stderr


def test_processing_log_in_every_output(tmp_path):
    made = au_index(tmp_path, [{"impute": {"method": "median"}},
                               {"treat": {"method": "winsorise", "max_points": 2}}], blank={"Darwin": 3})
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(made["spec"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    log = processing(out)
    assert list(log.columns) == ["step", "action", "unit", "indicator", "count", "detail", "severity"]
    imputed = log[log.action == "imputed"]
    assert len(imputed) == 3 and set(imputed.unit) == {"darwin"} and set(imputed.detail) == {"median"}
    treated = log[log.step == "treat"]
    assert len(treated) and set(treated.action) <= {"winsorised", "transformed"}
    assert "note: impute imputed 3 (1 unit: darwin; 3 indicators:" in result.stdout
    run = json.loads((out / "run.json").read_text())
    kinds = {(s["step"], s["action"]): s["count"] for s in run["processing"]["summary"]}
    assert kinds[("impute", "imputed")] == 3
    assert kinds.get(("treat", "winsorised"), 0) + kinds.get(("treat", "transformed"), 0) == treated["count"].sum()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="processing"' in html and "imputed" in html and "darwin" in html
    quiet = runner.invoke(app, ["build", str(made["spec"]), "--out", str(out), "--quiet"])
    assert quiet.exit_code == 0 and quiet.stdout == ""


def test_a_city_without_a_domain_score_gets_its_profile_and_report(tmp_path):
    made = au_index(tmp_path, [], blank={"Hobart": 9})  # every "people" value of Hobart left out
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(made["spec"]), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    profiles = pd.read_csv(out / "profiles.csv")
    hobart = profiles[(profiles.city == "hobart") & (profiles.kind == "domain")].set_index("domain")
    assert np.isnan(hobart.loc["people", "score"]) and hobart.loc["people", "verdict"] == "no-score"
    assert hobart.drop(index="people")["score"].notna().all()
    assert (profiles[profiles.kind == "peer"].groupby("city").size() == 3).all()
    page = (out / "report.html").read_text(encoding="utf-8")
    block = page[page.index('<details id="learn-hobart">'):]
    assert '<td>People</td><td class="muted" colspan="5">no score</td>' in block[:block.index("</details>")]
    section = page[page.index("<h2>Learn from</h2>"):page.index('<details id="learn-')]
    assert "The build has no inventory, so there are no initiatives to point to." in section
    assert "Which initiatives count" not in section  # the inventory's reading of each domain does not apply
