"""The shipped editions examples and what they need: editions of an inventory (cumulative by start_year), each
equal to a single build of the inventory as of that year; the Smart Cities Index sample as 2019 and 2022; IMD's
smoothing by hand; the bad input of an editions block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PACKAGE_DATA
from test_editions import assert_same_build, city_index

from smartcities.analysis.editions import Panel, smooth
from smartcities.build import build
from smartcities.errors import InputError
from smartcities.report.editions_view import edition_view, editions_section

DEMO = PACKAGE_DATA / "demo"
EXAMPLE = DEMO / "sci2022-editions.yaml"
INVENTORY = PACKAGE_DATA / "sci2022" / "inventory.csv"
CITIES = PACKAGE_DATA / "cities" / "cities.csv"


def inventory_spec(folder: Path, inventory: Path = INVENTORY, editions: str | None = None) -> Path:
    """The demo's spec without its uncertainty block, on `inventory`, with an editions block when given."""
    path = folder / ("editions.yaml" if editions else "single.yaml")
    path.write_text(f"""name: sample
inventory: {inventory}
cities: {CITIES}
framework: sci-2022
{"editions: " + editions if editions else ""}
pipeline:
  - treat: {{method: winsorise, max_points: 3, skew: 2, kurtosis: 3.5, fallback: log}}
  - normalise: {{method: minmax, range: [1, 100]}}
  - aggregate: {{method: arithmetic}}
grades: {{method: quantile, n: 5, peer_group: region}}
""", encoding="utf-8")
    return path


def inventory_as_of(folder: Path, year: int, undated: bool) -> Path:
    """The inventory's rows started in or before `year` (and the undated ones when `undated`), copied as text."""
    lines = INVENTORY.read_text(encoding="utf-8").splitlines(keepends=True)
    frame = pd.read_csv(INVENTORY)
    keep = (frame["start_year"] <= year) | (frame["start_year"].isna() & undated)
    path = folder / f"inventory_{year}_{int(undated)}.csv"
    path.write_text(lines[0] + "".join(line for line, k in zip(lines[1:], keep) if k), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample_editions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inv")
    return folder, build(inventory_spec(folder, editions="{column: start_year, values: [2019, 2022]}"),
                         uncertainty=False)


@pytest.mark.parametrize("year", [2019, 2022])
def test_an_inventory_edition_is_a_single_build_of_the_inventory_as_of_its_year(sample_editions, tmp_path, year):
    _, result = sample_editions
    single = build(inventory_spec(tmp_path, inventory_as_of(tmp_path, year, undated=False)), uncertainty=False)
    assert_same_build(result.editions.result(float(year)), single)


def test_undated_every_edition_counts_them_in_each(tmp_path):
    result = build(inventory_spec(tmp_path, editions="{column: start_year, values: [2019, 2022], "
                                                     "undated: every-edition}"), uncertainty=False)
    single = build(inventory_spec(tmp_path, inventory_as_of(tmp_path, 2019, undated=True)), uncertainty=False)
    assert_same_build(result.editions.result(2019.0), single)
    rows = result.processing.table.query("action == 'undated-counted'")
    assert rows.groupby("step")["count"].sum().to_dict() == {"editions [2019]": 118, "editions [2022]": 118}


def test_the_log_counts_undated_and_later_initiatives(sample_editions):
    _, result = sample_editions
    frame = pd.read_csv(INVENTORY)
    log = result.processing.table
    undated = log.query("action == 'undated-left-out'")
    later = log.query("action == 'started-later'")
    assert undated.groupby("step")["count"].sum().to_dict() == {"editions [2019]": 118, "editions [2022]": 118}
    assert later.groupby("step")["count"].sum().to_dict() == {"editions [2019]": 397 - 118 - 206,
                                                               "editions [2022]": 11}
    assert int((frame["start_year"] > 2022).sum()) == 11 and int((frame["start_year"] <= 2019).sum()) == 206
    # per city: Amsterdam has 7 undated initiatives
    assert undated.query("unit == 'amsterdam' and step == 'editions [2019]'")["count"].item() == \
        int((frame["start_year"].isna() & (frame["city"] == "Amsterdam")).sum())


def test_the_shipped_sample_as_two_editions(tmp_path):
    result = build(EXAMPLE)
    assert result.editions.labels() == ["2019", "2022"]
    changes = result.editions.changes.query("node == 'index'").set_index(["edition", "city"])
    new, old = changes.loc["2022"], changes.loc["2019"]
    assert len(new) == len(old) == 31
    assert (new["rank_change"] == old["rank"] - new["rank"]).all()
    assert new["significant"].notna().all() and old["significant"].isna().all()
    # every flagged change has an interval that excludes 0, every unflagged one an interval that holds it
    flagged = new[new["significant"].astype(bool)]
    assert ((flagged["change_p05"] > 0) | (flagged["change_p95"] < 0)).all()
    calm = new[~new["significant"].astype(bool)]
    assert ((calm["change_p05"] <= 0) & (calm["change_p95"] >= 0)).all()
    # Tokyo's 20 places (31 of its initiatives started 2020-2022 or undated and left out) are flagged
    assert new.loc["tokyo", "rank_change"] == 20 and bool(new.loc["tokyo", "significant"])
    assert len(flagged) == 19  # docs/editions.md's figure


def test_inventory_edition_errors(tmp_path):
    with pytest.raises(InputError, match=r"edition 1980 is before the first start_year of the inventory \(1984\)"):
        build(inventory_spec(tmp_path, editions="{column: start_year, values: [1980, 2022]}"), uncertainty=False)
    with pytest.raises(InputError, match="whose editions are cumulative by its start_year: write column: "
                                         "start_year"):
        build(inventory_spec(tmp_path, editions="{column: year}"), uncertainty=False)
    with pytest.raises(InputError, match="editions.undated"):
        build(inventory_spec(tmp_path, editions="{column: start_year, undated: drop}"), uncertainty=False)


# --- smoothing ------------------------------------------------------------------------------------------------

def test_smoothing_by_hand():
    nan = np.nan
    # three editions, three cities, one node; city b lacks the middle edition, city c the last one
    scores = np.array([[[10.0], [40.0], [30.0]],
                       [[20.0], [nan], [60.0]],
                       [[50.0], [10.0], [nan]]])
    panel = Panel((2018.0, 2019.0, 2020.0), ("a", "b", "c"), ("Index",), scores, np.full_like(scores, nan))
    s, r = smooth(panel, [3, 2, 1])
    assert s[0, :, 0].tolist() == [10.0, 40.0, 30.0]  # one edition: the score itself
    assert s[1, 0, 0] == pytest.approx((3 * 20 + 2 * 10) / 5)
    assert np.isnan(s[1, 1, 0])  # no score in the edition itself: no smoothed score
    assert s[2, 0, 0] == pytest.approx((3 * 50 + 2 * 20 + 1 * 10) / 6)
    assert s[2, 1, 0] == pytest.approx((3 * 10 + 1 * 40) / 4)  # the missing 2019 skipped, weights 3 and 1
    assert np.isnan(s[2, 2, 0])
    assert r[2, :, 0].tolist()[:2] == [1.0, 2.0] and np.isnan(r[2, 2, 0])
    s2, _ = smooth(panel, [1, 1])  # two weights: the current and previous editions only
    assert s2[2, 0, 0] == pytest.approx(35.0) and s2[2, 1, 0] == pytest.approx(10.0)


def test_smoothing_in_a_build(tmp_path):
    spec = city_index(tmp_path, years=(2017, 2019, 2021), shift={"city3": 30.0}, uncertainty=False,
                      editions="{column: year, smooth: {weights: [3, 2, 1]}}")
    result = build(spec)
    table = result.editions.changes.query("node == 'Index'").set_index(["city", "edition"])
    got = table.loc[("city3", "2021"), "smoothed_score"]
    by_hand = (3 * table.loc[("city3", "2021"), "score"] + 2 * table.loc[("city3", "2019"), "score"]
               + table.loc[("city3", "2017"), "score"]) / 6
    assert got == pytest.approx(by_hand, rel=1e-12)
    latest = table.xs("2021", level="edition")
    assert latest["smoothed_rank"].min() == 1
    assert (latest["smoothed_rank"].to_numpy() == latest["smoothed_score"].rank(ascending=False, method="min")
            .to_numpy()).all()
    section = editions_section(edition_view(result))
    assert "<th class=\"num\">Smoothed rank</th>" in section and "weights 3 : 2 : 1" in section
    row = section.split('data-city="city3"')[1].split("</tr>")[0]
    assert f'<td class="num smoothed">{latest.loc["city3", "smoothed_rank"]}</td>' in row


@pytest.mark.parametrize("weights, message", [("[]", "at least 1 item"), ("[3, -1]", "positive number"),
                                               ("[3, 2, 1], step: 2", "unknown key 'step'")])
def test_bad_smoothing_is_located(tmp_path, weights, message):
    spec = city_index(tmp_path, uncertainty=False, editions=f"{{column: year, smooth: {{weights: {weights}}}}}")
    with pytest.raises(InputError) as err:
        build(spec)
    assert message in str(err.value) and "spec.yaml line 5" in str(err.value), str(err.value)


# --- bad input the issue lists --------------------------------------------------------------------------------

@pytest.mark.parametrize("cell, message", [("twenty", "line 3, column year"), ("2019.5x", "line 3, column year")])
def test_an_unparseable_year_names_its_line(tmp_path, cell, message):
    spec = city_index(tmp_path, uncertainty=False)
    lines = (tmp_path / "indicators.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[2].split(",")
    cells[3] = cell + "\n"
    lines[2] = ",".join(cells)
    (tmp_path / "indicators.csv").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as err:
        build(spec)
    assert message in str(err.value) and "indicators.csv" in str(err.value), str(err.value)


def test_linear_on_a_one_observation_series_names_it(tmp_path):
    spec = city_index(tmp_path, years=(2017, 2019, 2021), uncertainty=False,
                      editions="{column: year, impute_panel: linear}")
    data = pd.read_csv(tmp_path / "indicators.csv")
    data.loc[(data.city == "city4") & (data.indicator == "b2") & (data.year != 2019), "value"] = np.nan
    data.to_csv(tmp_path / "indicators.csv", index=False)
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        build(spec)
    text = str(err.value)
    assert "city4/b2 has one (in 2019)" in text and "linear-constant" in text and "spec.yaml line 5" in text, text
    assert not out.exists()
    spec.write_text(spec.read_text(encoding="utf-8").replace("impute_panel: linear", "impute_panel: "
                                                             "linear-constant"), encoding="utf-8")
    result = build(spec)
    rows = result.processing.table.query("action == 'panel-imputed' and unit == 'city4'")
    assert len(rows) == 2 and set(rows["indicator"]) == {"b2"}


# --- Australian cities, two vintages ----------------------------------------------------------------------------

AU = PACKAGE_DATA / "au_cities"


@pytest.fixture(scope="module")
def au():
    return build(AU / "au-cities-editions.yaml")


def test_au_cities_counts(au):
    assert au.editions.labels() == ["2017", "2019"]
    for edition in (2017.0, 2019.0):
        r = au.editions.result(edition)
        assert len(r.context.units) == 22 and len(r.context.indicators) == 33
    names = pd.read_csv(AU / "city_names.csv")
    assert len(names) == 22 and (names["name_2017"] != names["name_2018_19"]).sum() == 9
    assert names.set_index("name_2017").loc["Greater Sydney", "city"] == "sydney"


def test_au_cities_missing_codes_are_logged(au):
    log = au.processing.table.query("action == 'missing-code'")
    assert log.groupby("step")["count"].sum().to_dict() == {"inputs [2019]": 32}
    text = (AU / "indicators.csv").read_text(encoding="utf-8")
    assert text.count(",999.01,2019\n") == 32 and ",999.01,2017" not in text
    assert log.query("indicator == 'peak_travel_delay'")["count"].sum() == 13
    raw = au.editions.result(2019.0).stages.data["raw"][0]
    assert not (raw == 999.01).any() and np.isnan(raw).sum() == 32


def test_au_cities_values_by_hand(au):
    # Sydney's broadband: 81.4% of dwellings in the 2017 file (Greater Sydney), 88% in the 2018/19 file; pooled
    # min-max over both vintages' 44 values
    long = pd.read_csv(AU / "indicators.csv").query("indicator == 'broadband_connections'")
    assert long.query("city == 'sydney' and year == 2017")["value"].item() == 0.814
    assert long.query("city == 'sydney' and year == 2019")["value"].item() == 0.88
    lo, hi = long["value"].min(), long["value"].max()
    for edition, value in ((2017.0, 0.814), (2019.0, 0.88)):
        r = au.editions.result(edition)
        got = r.stages.data["normalise"][0][r.context.units.index("sydney"), r.context.indicators.index(
            "broadband_connections")]
        assert got == pytest.approx((value - lo) / (hi - lo) * 100, rel=1e-12)
    changes = au.editions.changes.query("node == 'index'").set_index(["edition", "city"])
    new, old = changes.loc["2019"], changes.loc["2017"]
    assert len(new) == 22 and new["significant"].notna().all()
    assert (new["rank_change"] == old["rank"] - new["rank"]).all()
    assert sorted(new["rank"]) == list(range(1, 23))
    assert int(new["significant"].sum()) == 10 and new.loc["mackay", "rank_change"] == -9  # docs/editions.md
    assert new.loc["canberra", "rank"] == old.loc["canberra", "rank"] == 1


def test_au_cities_breaks_are_flagged(au):
    rows = au.processing.table.query("action == 'trend-across-break'")
    assert {"access_to_open_space", "air_quality", "knowledge_industries", "index"} <= set(rows["indicator"])
    trends = au.editions.trends.query("node == 'index'")
    assert (trends["across_break"].str.count("@2019") == 3).all()
