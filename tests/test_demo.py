"""The bundled demo: the 31 cities of the 2022 edition, built from the shipped inventory and cities table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smartcities.cli import app

DOMAINS = ["service_innovation", "urban_intelligence", "urban_sustainability", "urban_openness",
           "infrastructure_integration", "urban_innovation", "collaborative_partnership", "governance"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--json", "--top", "5"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def test_demo_prints_top_cities_with_grades_and_domain_leaders(demo):
    _, summary = demo
    assert [r["rank"] for r in summary["top"]] == sorted(r["rank"] for r in summary["top"])
    assert len(summary["top"]) == 5 and all(1 <= r["grade"] <= 5 for r in summary["top"])
    assert {r["domain"] for r in summary["leaders"]} == set(DOMAINS)


def test_demo_scores_cover_every_city_and_node(demo):
    out, summary = demo
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["city", "node", "level", "score", "rank", "grade"]
    assert scores["city"].nunique() == 31
    index = scores[scores.node == "index"].sort_values("rank")
    assert index["level"].unique().tolist() == [3]
    assert index["city"].iloc[0] == summary["top"][0]["city"]
    assert set(scores[scores.level == 2].node) == set(DOMAINS)
    leaves = scores[scores.level == 1]
    assert leaves["score"].between(1, 100).all()  # indicators are the normalised values, minmax to [1, 100]
    assert scores.groupby("node")["rank"].min().eq(1).all()


def test_demo_writes_indicators_run_record_uncertainty_insight_and_report(demo):
    out, _ = demo
    names = {p.name for p in out.iterdir()}
    assert {"scores.csv", "indicators.csv", "report.html", "run.json", "rank_intervals.csv", "sensitivity.csv",
            "trends.csv", "regions.csv", "archetypes.csv", "profiles.csv"} <= names
    indicators = pd.read_csv(out / "indicators.csv")
    assert set(indicators["origin"]) == {"derived"} and indicators["city"].nunique() == 31
    run = json.loads((out / "run.json").read_text())
    assert set(run["inputs_sha256"]) == {"inventory", "cities"} and run["versions"]["smartcities"]
    intervals = pd.read_csv(out / "rank_intervals.csv")
    top = intervals[intervals.node == "index"]
    assert len(top) == 31 and (top.p05 <= top.median_rank).all() and (top.median_rank <= top.p95).all()
    html = (out / "report.html").read_text()
    for section in ("Ranking", "Domain leaders", "City profiles", "Regional summary", "Robustness", "Method"):
        assert section in html
    assert "src=\"http" not in html and "src='http" not in html


def test_strengths_and_weaknesses_of_every_city_at_once():
    from smartcities.analysis import results as readings
    from smartcities.build import build
    from smartcities.cli.build import DEMO_SPEC

    result = build(DEMO_SPEC, uncertainty=False)
    every = readings.all_strengths_weaknesses(result)
    assert len(every) == 31
    table = readings.domain_scores(result)
    for city in ("seoul", "london"):
        expected = pd.DataFrame({"domain": table.columns, "score": table.loc[city].values,
                                 "median": table.median().values,
                                 "rank": table.rank(ascending=False, method="min").loc[city].values})
        expected["gap"] = expected["score"] - expected["median"]
        expected["verdict"] = ["strength" if g > 0 else "weakness" if g < 0 else "par" for g in expected["gap"]]
        expected = expected.sort_values("gap", ascending=False, ignore_index=True)
        pd.testing.assert_frame_equal(pd.DataFrame(every[city]), expected)
        pd.testing.assert_frame_equal(readings.strengths_weaknesses(result, city), expected)


def test_strengths_and_weaknesses_keep_missing_gaps_last_and_ties_in_order():
    from smartcities.analysis.results import _descending

    gaps = np.array([0.0, np.nan, 2.0, 0.0, -1.0, 2.0])
    expect = pd.Series(gaps).sort_values(ascending=False).index.to_numpy()
    assert list(_descending(gaps)) == list(expect)
    assert list(_descending(gaps))[-1] == 1


def test_domain_leaders_are_every_city_ranked_first_in_each_domain():
    """Each domain's best-scoring cities, by city id, with their scores: a tie for first (the demo has one)
    gives a row per city."""
    from smartcities.analysis import results as readings
    from smartcities.build import build
    from smartcities.cli.build import DEMO_SPEC

    result = build(DEMO_SPEC, uncertainty=False)
    table = readings.domain_scores(result)
    got = readings.leaders(result)
    assert list(got.columns) == ["domain", "domain_name", "city", "name", "score"]
    expected = [(d, c) for d in table.columns for c in sorted(table.index[table[d] == table[d].max()])]
    assert list(zip(got["domain"], got["city"])) == expected
    assert len(expected) > len(table.columns)  # a shared first place
    assert all(row.score == table.loc[row.city, row.domain] for row in got.itertuples())
