"""Trends: flags per initiative, shares with Wilson intervals, periods, and the trends.csv table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from smartcities.analysis import statistics as st
from smartcities.analysis import trends as tr


def _inventory() -> pd.DataFrame:
    rows = [
        # city_id, technologies, inclusive, integrates_data, name, start_year
        ("a", ("ai",), True, False, "Chatbot", 2012),
        ("a", ("none",), False, False, "Open Data Portal", 2016),
        ("a", ("mobile",), False, True, "Service hub", 2021),
        ("b", ("iot", "big_data"), False, False, "Sensors", 2021),
        ("b", ("mobile",), True, False, "Digital literacy classes", None),
        ("c", ("cloud",), False, False, "Cloud move", 2017),
    ]
    frame = pd.DataFrame(rows, columns=["city_id", "technologies", "inclusive", "integrates_data", "name",
                                        "start_year"])
    frame["start_year"] = frame["start_year"].astype("Int64")
    frame["description"] = ""
    return frame


CITIES = pd.DataFrame({"city": ["a", "b", "c"], "name": ["A", "B", "C"], "region": ["Europe", "Europe", "Asia"]})


def test_flags_follow_the_definitions():
    flags = tr.trend_flags(_inventory())
    assert flags["inclusivity"].tolist() == [True, False, False, False, True, False]
    # intelligence: only the intelligent technologies count (mobile and cloud do not)
    assert flags["intelligence"].tolist() == [True, False, False, True, False, False]
    # integration: the coded flag, or an open-data / integrated platform named in the text
    assert flags["integration"].tolist() == [False, True, True, False, False, False]


def test_flags_read_text_coded_inventories_too():
    inv = _inventory().assign(technologies=lambda f: f["technologies"].map(";".join),
                              inclusive=lambda f: f["inclusive"].map(str).str.lower(),
                              integrates_data=lambda f: f["integrates_data"].map(str).str.lower())
    pd.testing.assert_frame_equal(tr.trend_flags(inv), tr.trend_flags(_inventory()))


def test_wilson_interval_matches_the_formula_and_statsmodels_style_values():
    low, high = st.wilson_interval(np.array([2, 0]), np.array([12, 10]))
    # hand value for 2/12: centre (p + z²/2n)/(1 + z²/n), half-width z·sqrt(p(1-p)/n + z²/4n²)/(1 + z²/n)
    z = stats.norm.ppf(0.975)
    p, n = 2 / 12, 12
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert low[0] == pytest.approx(centre - half) and high[0] == pytest.approx(centre + half)
    assert low[0] == pytest.approx(0.0470, abs=1e-4) and high[0] == pytest.approx(0.4480, abs=1e-4)
    assert low[1] == pytest.approx(0.0, abs=1e-12) and 0 < high[1] < 0.35


def test_periods():
    years = pd.Series([1999, 2014, 2015, 2019, 2020, 2025, None], dtype="Int64")
    got = tr.period_of(years).tolist()
    assert got[:6] == ["before 2015", "before 2015", "2015–2019", "2015–2019", "2020 onwards", "2020 onwards"]
    assert pd.isna(got[6])
    assert tr.period_labels((2010, 2015, 2020)) == ["before 2010", "2010–2014", "2015–2019", "2020 onwards"]


def test_shares_by_city_and_overall():
    shares = tr.trend_shares(_inventory(), "city_id").set_index(["city_id", "trend"])
    assert shares.loc[("a", "integration"), "count"] == 2
    assert shares.loc[("a", "integration"), "share"] == pytest.approx(2 / 3)
    assert shares.loc[("b", "inclusivity"), "n"] == 2
    overall = tr.trend_shares(_inventory()).set_index("trend")
    assert overall.loc["intelligence", "share"] == pytest.approx(2 / 6)


def test_trends_table_scopes_and_columns():
    table = tr.trends_table(_inventory(), CITIES)
    assert list(table.columns) == ["scope", "region", "city", "period", "trend", "n", "count", "share", "ci_low",
                                   "ci_high"]
    assert set(table["scope"]) == {"all", "region", "city", "period", "region_period"}
    europe = table[(table["scope"] == "region") & (table["region"] == "Europe") & (table["trend"] == "inclusivity")]
    assert europe["n"].item() == 5 and europe["count"].item() == 2
    # periods count only initiatives with a start year
    periods = table[(table["scope"] == "period") & (table["trend"] == "intelligence")]
    assert periods["n"].sum() == 5
    city_rows = table[table["scope"] == "city"]
    assert set(city_rows["region"]) == {"Europe", "Asia"}
    assert (table["ci_low"] <= table["share"] + 1e-12).all() and (table["share"] <= table["ci_high"] + 1e-12).all()


def test_period_tests_report_direction_and_effect():
    rows = []
    for year, inclusive in [(2010, False)] * 9 + [(2010, True)] + [(2021, True)] * 6 + [(2021, False)] * 4:
        rows.append(("a", ("none",), inclusive, False, "x", year))
    inv = pd.DataFrame(rows, columns=["city_id", "technologies", "inclusive", "integrates_data", "name",
                                      "start_year"])
    test = next(t for t in tr.period_tests(inv) if t.trend == "inclusivity")
    assert test.shares == {"before 2015": 0.1, "2020 onwards": 0.6}
    expected = stats.chi2_contingency(np.array([[9, 1], [4, 6]]), correction=False)
    assert test.chi2 == pytest.approx(expected[0]) and test.p == pytest.approx(expected[1])
    assert test.cramers_v == pytest.approx(np.sqrt(expected[0] / 20))
    assert test.slope > 0
    assert tr.period_sentence(test).startswith("Inclusivity rises over time: 10% of 10 (before 2015)")


def test_integration_terms_match_in_any_case():
    text = pd.Series(["An Integrated Operations Centre", "OPEN-DATA portal", "a data hub", "parking app", ""])
    assert tr.mentions_integration(text).tolist() == [True, True, True, False, False]
    # accents and emoji before a phrase do not move it into another text
    text = pd.Series(["İstanbul 🚦 café", "city platform", "Zürich open-data", "plat", "form"])
    assert tr.mentions_integration(text).tolist() == [False, True, True, False, False]
