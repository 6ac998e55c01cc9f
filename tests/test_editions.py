"""Editions: one build per edition, each equal to a single build of its data; pooled parameters that rebuild an
edition alone; rank changes with intervals from shared runs; breaks; the outputs, the CLI and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_DATA, ASEM_IMETA, PANEL_CITIES, need_shared, write_city_panel
from typer.testing import CliRunner

from smartcities.analysis.editions import Panel, cagr, prc_change, rank_changes
from smartcities.build import build
from smartcities.cli.app import app
from smartcities.engine.panel import impute_panel
from smartcities.errors import InputError
from smartcities.model.spec import parse_spec
from smartcities.publish import write_outputs
from smartcities.report.editions_view import edition_view, editions_section

PANEL = ASEM_DATA / "ASEM_iData_p.csv"
DOCS = Path(__file__).resolve().parents[1] / "docs"
runner = CliRunner()


def coinr_spec(folder: Path, idata: Path = PANEL, editions: str = "{column: Time, normalise: pooled}",
               pipeline: str = "") -> Path:
    need_shared(PANEL, ASEM_IMETA)
    path = folder / "spec.yaml"
    path.write_text(f"""name: ASEM panel
data: {{format: coinr, idata: {idata}, imeta: {ASEM_IMETA}}}
{"editions: " + editions if editions else ""}
pipeline:
{pipeline or '''  - impute: {method: group-mean, group: EurAsia_group}
  - treat: {method: winsorise, max_points: 5, skew: 2, kurtosis: 3.5, fallback: log}
  - normalise: {method: minmax, range: [0, 100]}
  - aggregate: {method: arithmetic}'''}
""", encoding="utf-8")
    return path


def one_year(folder: Path, year: int) -> Path:
    """The rows of one year of the panel, copied as text: the data a single build of that edition reads."""
    lines = PANEL.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].split(",")
    t = header.index("Time")
    path = folder / f"iData_{year}.csv"
    path.write_text(lines[0] + "".join(row for row in lines[1:] if float(row.split(",")[t]) == year),
                    encoding="utf-8")
    return path


def same(a, b) -> bool:
    return np.array_equal(a, b, equal_nan=True)


def assert_same_build(edition, single) -> None:
    assert edition.context.units == single.context.units
    assert set(edition.stages.data) == set(single.stages.data)
    for name in edition.stages.data:
        assert same(edition.stages.data[name], single.stages.data[name]), name
    assert same(edition.stages.scores, single.stages.scores)
    assert same(edition.stages.ranks, single.stages.ranks)
    assert same(edition.grades, single.grades)


@pytest.fixture(scope="module")
def per_edition(tmp_path_factory):
    folder = tmp_path_factory.mktemp("per")
    return folder, build(coinr_spec(folder, editions="{column: Time}"))


@pytest.mark.parametrize("year", [2018, 2020, 2022])
def test_each_edition_is_bit_identical_to_a_single_build(per_edition, tmp_path, year):
    _, result = per_edition
    single = build(coinr_spec(tmp_path, idata=one_year(tmp_path, year), editions=""))
    assert_same_build(result.editions.result(float(year)), single)


def test_the_result_is_the_latest_edition(per_edition):
    _, result = per_edition
    assert result.editions.editions == (2018.0, 2019.0, 2020.0, 2021.0, 2022.0)
    assert result.stages is result.editions.results[-1].stages
    assert result.editions.normalise == "per-edition"


@pytest.mark.parametrize("normalise", ["pooled", "reference"])
def test_pooled_parameters_rebuild_an_edition_alone(tmp_path, normalise):
    editions = "{column: Time, normalise: pooled}" if normalise == "pooled" else \
        "{column: Time, normalise: reference, reference: 2020}"
    result = build(coinr_spec(tmp_path, editions=editions))
    for year in (2018, 2022):
        edition = result.editions.result(float(year))
        steps = [{k: v for k, v in entry.items() if k != "seconds"} for entry in edition.log]
        norm = next(s["normalise"] for s in steps if "normalise" in s)
        assert len(norm["pooled"]) == 49
        folder = tmp_path / str(year)
        folder.mkdir()
        pipeline = "".join(f"  - {json.dumps(s)}\n" for s in steps)
        single = build(coinr_spec(folder, idata=one_year(folder, year), editions="", pipeline=pipeline))
        assert_same_build(edition, single)
    # the stored parameters are the pooled (or reference) min and max, not the edition's own
    own = build(coinr_spec(tmp_path / "2018", idata=tmp_path / "2018" / "iData_2018.csv", editions=""))
    assert not same(own.stages.scores, result.editions.result(2018.0).stages.scores)
    if normalise == "reference":
        ref = result.editions.result(2020.0).stages.data["normalise"][0]
        assert np.nanmin(ref) == 0 and np.nanmax(ref) == 100  # the reference edition spans the range itself


# --- a city index with a year column ------------------------------------------------------------------------

CITIES = PANEL_CITIES


def city_index(folder: Path, years=(2019, 2021), shift: dict | None = None, editions: str = "",
               uncertainty: bool = True) -> Path:
    """Ten cities, four indicators; every year the same values unless `shift` (city → added to a1 and a2 in the
    last year)."""
    def shifted(city, year, values):
        if shift and city in shift and year == years[-1]:
            values[:2] += shift[city]

    write_city_panel(folder, years, shifted)
    unc = """uncertainty:
  design: montecarlo
  runs: 300
  factors:
    weights: {step: aggregate, noise: 0.4, levels: [1, 2]}
""" if uncertainty else ""
    spec = folder / "spec.yaml"
    spec.write_text(f"""name: Cities
framework: fw.yaml
cities: cities.csv
indicators: indicators.csv
editions: {editions or '{column: year}'}
pipeline:
  - normalise: {{method: minmax}}
  - aggregate: {{method: arithmetic}}
{unc}""", encoding="utf-8")
    return spec


def test_identical_editions_give_no_change_and_no_flags(tmp_path):
    result = build(city_index(tmp_path))
    changes = result.editions.changes
    later = changes[changes["edition"] == "2021"]
    assert len(later) == 10 * 7 and (later["rank_change"] == 0).all()
    top = later[later["node"] == "Index"]
    assert (top["change_p05"] == 0).all() and (top["change_p95"] == 0).all()
    assert not top["significant"].any()
    assert later[later["node"] != "Index"]["significant"].isna().all()  # intervals only for the target node
    first = changes[changes["edition"] == "2019"]
    assert first["rank_change"].isna().all()
    trends = result.editions.trends
    assert (trends["cagr"] == 0).all() and (trends["prc_change"] == 0).all() and (trends["editions_used"] == 2).all()


def test_a_planted_shift_is_flagged(tmp_path):
    result = build(city_index(tmp_path, shift={"city9": 60.0}))
    top = result.editions.changes.query("node == 'Index' and edition == '2021'").set_index("city")
    before = result.editions.changes.query("node == 'Index' and edition == '2019'").set_index("city")
    assert top.loc["city9", "rank"] <= before.loc["city9", "rank"] - 3
    assert top.loc["city9", "rank_change"] == before.loc["city9", "rank"] - top.loc["city9", "rank"]
    assert bool(top.loc["city9", "significant"]) and top.loc["city9", "change_p05"] > 0
    unmoved = top[top["rank_change"] == 0]
    assert len(unmoved) and not unmoved["significant"].any()


def test_a_city_edition_equals_a_single_build_of_that_year(tmp_path):
    result = build(city_index(tmp_path, shift={"city3": 20.0}, uncertainty=False))
    data = pd.read_csv(tmp_path / "indicators.csv")
    data[data["year"] == 2021].to_csv(tmp_path / "indicators.csv", index=False)
    text = (tmp_path / "spec.yaml").read_text(encoding="utf-8").replace("editions: {column: year}\n", "")
    (tmp_path / "single.yaml").write_text(text, encoding="utf-8")
    assert_same_build(result.editions.result(2021.0), build(tmp_path / "single.yaml"))


def test_outputs(tmp_path):
    result = build(city_index(tmp_path, shift={"city9": 60.0}))
    written = write_outputs(result, tmp_path / "out", report=False)
    names = {p.name for p in written}
    assert {"scores.csv", "editions.csv", "edition_trends.csv", "processing.csv", "run.json"} <= names
    scores = pd.read_csv(tmp_path / "out" / "scores.csv")
    assert list(scores.columns[:2]) == ["edition", "city"] and set(scores["edition"]) == {2019, 2021}
    assert len(scores) == 2 * 10 * 7
    editions = pd.read_csv(tmp_path / "out" / "editions.csv")
    assert list(editions.columns) == ["city", "node", "edition", "score", "rank", "rank_change", "change_p05",
                                      "change_p95", "significant"]
    trends = pd.read_csv(tmp_path / "out" / "edition_trends.csv")
    assert {"city", "node", "cagr", "prc_change", "editions_used", "across_break"} <= set(trends.columns)
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert [e["edition"] for e in record["editions"]] == ["2019", "2021"]
    processing = pd.read_csv(tmp_path / "out" / "processing.csv")
    assert processing.empty or processing["step"].str.contains(r"\[20(19|21)\]|editions").all()


def test_breaks_flag_trends_and_strict_refuses(tmp_path):
    spec = city_index(tmp_path, years=(2017, 2019, 2021), uncertainty=False,
                      editions="{column: year, breaks: [{indicator: b1, edition: 2019, reason: new source}]}")
    result = build(spec)
    trends = result.editions.trends.set_index(["city", "node"])
    assert (trends.xs("b1", level="node")["across_break"] == "b1@2019").all()
    assert (trends.xs("Index", level="node")["across_break"] == "b1@2019").all()
    assert (trends.xs("a1", level="node")["across_break"] == "").all()
    rows = result.processing.table.query("action == 'trend-across-break'")
    assert set(rows["indicator"]) == {"b1", "B", "Index"} and (rows["severity"] == "warning").all()
    assert (rows["count"] == 10).all()
    with pytest.raises(InputError, match="across the break of b1 in 2019: new source.*--strict"):
        build(spec, strict=True)


def test_panel_imputation_is_logged(tmp_path):
    spec = city_index(tmp_path, years=(2017, 2019, 2021), uncertainty=False,
                      editions="{column: year, impute_panel: latest}")
    data = pd.read_csv(tmp_path / "indicators.csv")
    data.loc[(data.city == "city2") & (data.indicator == "a1") & (data.year == 2019), "value"] = np.nan
    data.to_csv(tmp_path / "indicators.csv", index=False)
    result = build(spec)
    rows = result.processing.table.query("action == 'panel-imputed'")
    assert len(rows) == 1 and rows.iloc[0]["unit"] == "city2" and rows.iloc[0]["indicator"] == "a1"
    assert rows.iloc[0]["detail"] == "2019 from 2017 (latest)"
    edition = result.editions.result(2019.0)
    got = edition.stages.data["raw"][0][edition.context.units.index("city2"), 0]
    assert got == data.query("city == 'city2' and indicator == 'a1' and year == 2017")["value"].iloc[0]


# --- the functions on their own -------------------------------------------------------------------------------

def test_impute_panel_methods_by_hand():
    t = np.array([2000.0, 2001.0, 2002.0, 2004.0])
    X = np.array([np.nan, 1.0, np.nan, 4.0]).reshape(4, 1, 1)
    assert same(impute_panel(X, t, "latest").values.ravel(), [np.nan, 1, 1, 4])
    assert same(impute_panel(X, t, "constant").values.ravel(), [1, 1, 1, 4])
    assert same(impute_panel(X, t, "linear").values.ravel(), [1, 1, 2, 4])
    one = np.array([np.nan, 3.0, np.nan, np.nan]).reshape(4, 1, 1)
    done = impute_panel(one, t, "linear")
    assert done.one_observation == [(0, 0, 1)] and same(done.values.ravel(), one.ravel())
    assert same(impute_panel(one, t, "linear-constant").values.ravel(), [3, 3, 3, 3])
    absent = impute_panel(X, t, "latest", present=np.array([[True], [True], [False], [True]]))
    assert np.isnan(absent.values[2, 0, 0])  # a city absent from an edition gets no values there
    with pytest.raises(ValueError):
        impute_panel(X, t, "spline")


def test_cagr_and_prc_change_by_hand():
    x = np.array([2018.0, 2019.0, 2020.0])
    y = np.array([[10.0, np.nan, 40.0], [5.0, 5.0, 5.0], [np.nan, np.nan, 1.0], [0.0, 1.0, 2.0], [1.0, 2.0, 4.0]])
    assert same(cagr(y, x), [1.0, 0.0, np.nan, np.inf, 1.0])
    p = prc_change(y, x)
    assert p[0] == pytest.approx(150.0) and p[1] == 0 and np.isnan(p[2])
    assert p[3] == np.inf  # the least-squares line is 0 at the first edition
    assert p[4] == pytest.approx(1.5 / (7 / 3 - 1.5) * 100)  # slope 1.5 over the line's 0.833 at 2018


def test_rank_changes_by_hand():
    panel = Panel((1.0, 2.0), ("a", "b"), ("Index",), np.array([[[2.0], [1.0]], [[1.0], [2.0]]]),
                  np.array([[[1.0], [2.0]], [[2.0], [1.0]]]))
    runs = [np.array([[1.0, 2.0]] * 10), np.array([[2.0, 1.0]] * 9 + [[1.0, 2.0]])]
    table = rank_changes(panel, "Index", runs).set_index(["edition", "city"])
    assert table.loc[("2", "a"), "rank_change"] == -1 and table.loc[("2", "b"), "rank_change"] == 1
    assert table.loc[("2", "b"), "change_p95"] == 1 and table.loc[("2", "b"), "change_p05"] == pytest.approx(0.45)
    assert bool(table.loc[("2", "b"), "significant"])


# --- the spec and bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("block, message, line", [
    ("normalise: reference", "editions.reference: Value error, normalise: reference needs reference", 3),
    ("reference: 2019", "reference is only for normalise: reference", 5),
    ("values: [2019, 2020]\n  normalise: reference\n  reference: 2018", "reference 2018 is not among", 7),
    ("values: [2019, 2019]", "editions.values: Value error, an edition is named twice", 5),
    ("backcast: false", "backcast: false keeps an earlier edition's own scores, which needs its own pipeline", 3),
    ("published: p.csv\n  methods: {2019: [aggregate: {}]}", "methods and published both give the method part", 3),
    ("impute_panel: spline", "editions.impute_panel", 5),
    ("normalize: pooled", "unknown key 'normalize' (did you mean 'normalise'?)", 5),
    ("breaks:\n    - {indicator: LPI, edition: 2020}", "reason", 6),
])
def test_spec_errors_are_located(block, message, line):
    text = f"name: x\ndata: {{format: coinr, idata: a.csv, imeta: b.csv}}\neditions:\n  column: Time\n  {block}\n" \
           "pipeline:\n  - aggregate: {}\n"
    with pytest.raises(InputError) as err:
        parse_spec(text, Path("spec.yaml"))
    assert message in str(err.value) and f"spec.yaml line {line}:" in str(err.value), str(err.value)


@pytest.mark.parametrize("block, message", [
    ("{column: Time, values: [2018, 2030]}", "the data have no edition 2030 (column Time); have: 2018, 2019, "
                                             "2020, 2021, 2022"),
    ("{column: Year}", "the time column of COINr's iData is Time"),
    ("{column: Time, values: [2020, 2018]}", "in time order"),
    ("{column: Time, breaks: [{indicator: LPY, edition: 2020, reason: x}]}", "unknown indicator 'LPY' (did you "
                                                                             "mean 'LPI'?)"),
])
def test_data_errors_are_located(tmp_path, block, message):
    with pytest.raises(InputError) as err:
        build(coinr_spec(tmp_path, editions=block), uncertainty=False)
    assert message in str(err.value) and "spec.yaml line" in str(err.value)


def test_pooled_needs_a_poolable_normalise(tmp_path):
    spec = coinr_spec(tmp_path, pipeline="  - normalise: {method: rank}\n  - aggregate: {method: arithmetic}")
    with pytest.raises(InputError, match="normalise: pooled needs a normalise step with method minmax or zscore; "
                                         "the pipeline's normalise is rank"):
        build(spec)


def test_bad_time_values_name_the_line(tmp_path):
    need_shared(PANEL)
    lines = PANEL.read_text(encoding="utf-8").splitlines(keepends=True)
    t = lines[0].split(",").index("Time")
    cells = lines[5].split(",")
    cells[t] = "twenty"
    lines[5] = ",".join(cells)
    dup = lines[6]
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines) + dup, encoding="utf-8")
    with pytest.raises(InputError) as err:
        build(coinr_spec(tmp_path, idata=bad, editions="{column: Time}"))
    assert "bad.csv line 6, column Time" in str(err.value)
    lines[5] = lines[4]
    bad.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv line 6, column uCode: duplicate uCode .* in Time 2018"):
        build(coinr_spec(tmp_path, idata=bad, editions="{column: Time}"))


def test_an_edition_with_no_unit_left_is_an_error(tmp_path):
    spec = city_index(tmp_path, uncertainty=False)
    data = pd.read_csv(tmp_path / "indicators.csv")
    data.loc[data.year == 2019, "value"] = np.nan
    data.to_csv(tmp_path / "indicators.csv", index=False)
    with pytest.raises(InputError, match="no unit has a value for any indicator, so no unit can be ranked in "
                                         "edition 2019; the processing log: inputs no-data 14"):
        build(spec)


# --- the command line and the example ---------------------------------------------------------------------------

def test_cli_validate_and_build_the_example(tmp_path):
    need_shared(PANEL)
    example = DOCS / "asem-editions.yaml"
    result = runner.invoke(app, ["validate", str(example)])
    assert result.exit_code == 0, result.output
    assert "5 editions" in result.output
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", str(example), "--out", str(out), "--quiet", "--no-uncertainty"])
    assert result.exit_code == 0, result.output
    assert {"editions.csv", "edition_trends.csv"} <= {p.name for p in out.iterdir()}
    strict = runner.invoke(app, ["build", str(example), "--out", str(tmp_path / "strict"), "--strict",
                                 "--no-uncertainty"])
    assert strict.exit_code == 2 and "trend-across-break" in strict.output + strict.stderr
    assert not (tmp_path / "strict").exists()


def test_cli_validate_reports_a_bad_editions_block(tmp_path):
    spec = coinr_spec(tmp_path, editions="{column: Time, values: [2018, 2031]}")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2 and "no edition 2031" in result.stderr


def test_reference_lists_the_edition_outputs(tmp_path):
    from smartcities.reference import EDITION_OUTPUTS, render_reference

    write_outputs(build(city_index(tmp_path, shift={"city9": 60.0})), tmp_path / "out", report=False)
    for name, (_, columns) in EDITION_OUTPUTS.items():
        assert list(pd.read_csv(tmp_path / "out" / name).columns) == list(columns), name
    assert "#### edition_trends.csv" in render_reference()


def test_rank_change_decomposition_is_an_identity(tmp_path):
    """A city leaves, one enters, one city's values move, and the earlier edition was published with another
    method: for every city in both editions rank_change = performance + method + sample."""
    spec = city_index(tmp_path, shift={"city4": 50.0}, uncertainty=False,
                      editions="{column: year, published: published.csv}")
    data = pd.read_csv(tmp_path / "indicators.csv")
    leaver = data[(data.city == "city1") & (data.year == 2021)].index
    entrant = data[(data.city == "city2") & (data.year == 2019)].index
    data.loc[leaver.union(entrant), "value"] = np.nan
    data.to_csv(tmp_path / "indicators.csv", index=False)
    published = pd.DataFrame({"city": CITIES, "edition": 2019, "rank": list(range(10, 0, -1))})
    published.to_csv(tmp_path / "published.csv", index=False)
    result = build(spec)
    split = result.editions.decomposition.set_index("city")
    assert set(split.index) == set(CITIES) - {"city1", "city2"}  # only the cities in both editions
    assert (split["rank_change"] == split["performance"] + split["method"] + split["sample"]).all()
    backcast = result.editions.changes.query("node == 'Index' and edition == '2019'").set_index("city")["rank"]
    assert (split["method"] == published.set_index("city").loc[split.index, "rank"] - backcast[split.index]).all()
    assert (split["previous_rank"] == published.set_index("city").loc[split.index, "rank"]).all()
    assert (split["sample"] != 0).any() and split.loc["city4", "performance"] > 0
    write_outputs(result, tmp_path / "out", report=False)
    assert list(pd.read_csv(tmp_path / "out" / "rank_decomposition.csv").columns) == list(split.reset_index().columns)


def test_without_published_ranks_method_is_zero(tmp_path):
    result = build(city_index(tmp_path, shift={"city9": 60.0}, uncertainty=False))
    split = result.editions.decomposition
    assert len(split) == 10 and (split["method"] == 0).all() and (split["sample"] == 0).all()
    assert (split["rank_change"] == split["performance"]).all()


THEN = "{2019: [{normalise: {method: rank}}, {aggregate: {method: geometric}}]}"


@pytest.mark.parametrize("backcast", [True, False])
def test_an_earlier_editions_own_method_gives_the_method_part(tmp_path, backcast):
    """2019 was built in its day by ranks and a geometric mean: that build's ranks against the same edition
    back-cast with today's pipeline are the method part of each rank change; with backcast: false they are also
    2019's scores and ranks, and its change intervals are left empty (the runs measure today's method)."""
    spec = city_index(tmp_path, shift={"city4": 50.0},
                      editions=f"{{column: year, backcast: {str(backcast).lower()}, methods: {THEN}}}")
    result = build(spec)
    (tmp_path / "today").mkdir(), (tmp_path / "then").mkdir()
    today = build(city_index(tmp_path / "today", shift={"city4": 50.0}))
    then_spec = city_index(tmp_path / "then", shift={"city4": 50.0}, uncertainty=False)
    then_spec.write_text(then_spec.read_text().replace(
        "  - normalise: {method: minmax}\n  - aggregate: {method: arithmetic}",
        "  - normalise: {method: rank}\n  - aggregate: {method: geometric}"))
    then = build(then_spec).editions.changes.query("node == 'Index' and edition == '2019'").set_index("city")
    back = today.editions.changes.query("node == 'Index' and edition == '2019'").set_index("city")
    split = result.editions.decomposition.set_index("city")
    assert (split["method"] == then["rank"] - back["rank"]).all() and (split["method"] != 0).any()
    assert (split["rank_change"] == split["performance"] + split["method"] + split["sample"]).all()
    assert (split["previous_rank"] == then["rank"]).all()
    shown = result.editions.changes.query("node == 'Index'").set_index(["edition", "city"])
    expected = (back if backcast else then)["rank"]
    assert (shown.loc["2019", "rank"] == expected).all()
    assert result.editions.results[1] is result.editions.results[-1]  # the latest edition: today's pipeline
    later = shown.loc["2021"]
    assert later["change_p05"].notna().all() if backcast else later["change_p05"].isna().all()
    steps = result.editions.record()[0]["steps"]
    assert [next(iter(s)) for s in steps][:2] == ["normalise", "aggregate"]
    assert (steps[0]["normalise"]["method"] == "minmax") == backcast
    said = editions_section(edition_view(result))
    assert ("method except 2019, whose scores and ranks are those of its own" in said) != backcast
    assert "Smoothed rank" not in said


@pytest.mark.parametrize("methods, message, line", [
    ("{2021: [aggregate: {}]}", "editions: methods: 2021 is not an earlier edition (the latest edition is built "
                                "with the pipeline)", 5),
    ("{2017: [aggregate: {}]}", "editions: methods: 2017 is not an earlier edition (the editions are 2019, 2021)", 5),
    ("{2019: [{normalise: {method: minmx}}, aggregate: {}]}", "normalise: method 'minmx' is not one of", 5),
    ("{2019: [{normalise: {method: minmax}}]}", "the editions: methods: 2019 pipeline has no aggregate step", 5),
])
def test_bad_methods_are_located(tmp_path, methods, message, line):
    spec = city_index(tmp_path, uncertainty=False, editions=f"{{column: year, methods: {methods}}}")
    with pytest.raises(InputError) as err:
        build(spec)
    assert message in str(err.value) and f"spec.yaml line {line}" in str(err.value), str(err.value)


def test_published_ranks_of_an_unknown_city_name_the_line(tmp_path):
    spec = city_index(tmp_path, uncertainty=False, editions="{column: year, published: published.csv}")
    (tmp_path / "published.csv").write_text("city,edition,rank\ncity1,2019,1\ncity99,2019,2\ncity2,2018,3\n")
    with pytest.raises(InputError) as err:
        build(spec)
    assert "published.csv line 3, column city: unknown city 'city99'" in str(err.value)
    assert "published.csv line 4, column edition: edition 2018 is not among the editions (2019, 2021)" in str(
        err.value)
