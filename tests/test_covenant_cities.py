"""The covenant-city examples (GCoM's covariates, ClimActor's contextuals) build from the files as they are, and
their wide-table loaders handle what those files hold: a stray latin-1 line in UTF-8, zeros under a geometric
mean, missing areas, thousands written with commas, names that repeat, rows listed twice, a footer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, need_shared

from smartcities.build import build, load_spec
from smartcities.errors import InputError
from smartcities.io.inventory import slug
from smartcities.io.missing import MissingCodes
from smartcities.io.wide import read_wide, wide_cities, wide_indicators
from smartcities.model.spec import parse_spec
from smartcities.publish import write_outputs

DOCS = Path(__file__).resolve().parents[1] / "docs"
GCOM = SHARED / "data" / "gcom_cities_covariates" / "gcom_cities.csv"
CLIMACTOR = SHARED / "data" / "climactor_subnational_contextuals" / "subnational_contextuals_database_Dec2022.csv"
GCOM_INDICATORS = {"heating_degree_days": "HDD", "cooling_degree_days": "CDD", "density": "Density_method1",
                   "population": "Population"}


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


def _subset(path: Path, rows: list[int], out: Path) -> Path:
    """The header and the given data rows (1 = the first under the header) of a real file."""
    lines = _lines(path)
    out.write_text("\n".join([lines[0], *(lines[r] for r in rows)]) + "\n", encoding="utf-8")
    return out


def built(tmp_path_factory, name: str, data: Path):
    """An example built from its shared file and written, once per module."""
    need_shared(data)
    result = build(load_spec(DOCS / f"{name}-cities.yaml"))
    out = tmp_path_factory.mktemp(name) / "out"
    write_outputs(result, out)
    return result, out


@pytest.fixture(scope="module")
def covenant(tmp_path_factory):
    return built(tmp_path_factory, "covenant", GCOM)


@pytest.fixture(scope="module")
def climactor(tmp_path_factory):
    return built(tmp_path_factory, "climactor", CLIMACTOR)


def test_the_covenant_example_ranks_every_gcom_city_with_intervals(covenant):
    result, out = covenant
    scores = pd.read_csv(out / "scores.csv")
    assert scores[scores.node == "context"].shape[0] == 7493
    assert scores.loc[scores.node == "context", "score"].notna().all()
    assert len(pd.read_csv(out / "indicators.csv")) == 7493 * 10
    intervals = pd.read_csv(out / "rank_intervals.csv")
    top = intervals[intervals.node == "context"]
    assert len(top) == 7493 and (top.p05 <= top.nominal_rank).mean() > 0.9  # most nominal ranks inside
    assert (top.p05 <= top.p95).all()
    # Namibia's cities have no country code in the file (its ISO code is "NA"): the gazetteer gives it
    cities = result.inputs.cities.set_index("city")
    assert list(cities.loc[["na0001", "na0002", "na0003"], "country"]) == ["NA"] * 3
    assert result.spec.model.name == "Covenant cities context index"
    assert "not a measure of smart-city performance" in result.spec.model.description


def test_zeros_of_degree_days_stay_finite_under_the_geometric_mean(covenant):
    result, _ = covenant
    raw = pd.read_csv(GCOM)
    zero_hdd = raw.loc[raw.HDD == 0, "new_id"].str.lower()
    assert len(zero_hdd) == 125
    ctx = result.context
    units = [ctx.units.index(c) for c in zero_hdd]
    j = ctx.indicators.index("heating_degree_days")
    assert np.all(result.stages.data["raw"][0, units, j] == 0)
    root = ctx.compiled.nodes.index("context")
    assert np.isfinite(result.stages.scores[0, units, root]).all()
    normalised = result.stages.data["normalise"][0][:, j]
    assert math.isclose(np.nanmin(normalised), 1.0) and math.isclose(np.nanmax(normalised), 100.0)


def test_a_geometric_mean_over_zeros_scaled_to_zero_is_refused_with_its_fix(tmp_path):
    need_shared(GCOM)
    zeros = pd.read_csv(GCOM).index[pd.read_csv(GCOM).HDD == 0][:3].tolist()
    data = _subset(GCOM, [1, 2, 3, 4, 5, *[z + 1 for z in zeros]], tmp_path / "gcom.csv")
    (tmp_path / "f.yaml").write_text("id: c\nchildren:\n  - {id: heating_degree_days}\n  - {id: population}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"""framework: f.yaml
cities: {{file: {data}, format: wide, id: new_id, columns: {{name: city, country: cc, lat: lat, lon: lon}}}}
indicators: {{file: {data}, format: wide, id: new_id, columns: {{heating_degree_days: HDD, population: Population}}}}
pipeline:
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {{method: geometric}}
""")
    with pytest.raises(Exception) as err:
        build(load_spec(spec), uncertainty=False)
    assert "geometric" in str(err.value).lower()


def test_missing_areas_are_missing_then_imputed_by_country(covenant):
    result, out = covenant
    raw = pd.read_csv(GCOM)
    no_area = raw.loc[raw.Area_method2.isna(), "new_id"].str.lower()
    assert len(no_area) == 420
    indicators = pd.read_csv(out / "indicators.csv")
    density = indicators[(indicators.indicator == "density") & indicators.city.isin(no_area)]
    assert len(density) == 420 and density.value.isna().all()
    log = pd.read_csv(out / "processing.csv")
    imputed = log[(log.action == "imputed") & (log.indicator == "density")]
    assert set(imputed.unit) <= set(no_area) and len(imputed) == 254
    kept_missing = log[(log.action == "not-imputed") & (log.indicator == "density")]
    assert len(kept_missing) == 420 - 254  # cities of countries with no area at all: said per city, and left missing
    assert set(kept_missing.unit) == set(no_area) - set(imputed.unit) and (kept_missing.severity == "warning").all()


def test_the_climactor_example_reads_its_text_and_keeps_the_first_of_rows_listed_twice(climactor):
    result, out = climactor
    log = pd.read_csv(out / "processing.csv")
    twice = log[log.action == "duplicate-left-out"]
    assert len(twice) == 66 and (twice.severity == "warning").all()
    scores = pd.read_csv(out / "scores.csv")
    assert scores[scores.node == "context"].shape[0] == 14706 - 66
    names = set(result.inputs.cities["name"])
    assert {"Arzago d’Adda", "Cornate d’Adda"} <= names  # UTF-8, not read as latin-1 mojibake
    (fallen,) = log.loc[log.action == "fallback-encoding", "detail"]
    assert fallen.startswith("line 4555 of ")  # its one latin-1 line, read as latin-1 and said
    assert "Shizuoka\xa0Prefecture" not in names and any("Fujikawa" == n for n in names)
    # two places named Hidaka in Japan, told apart by their state
    assert {"hidaka-jpn-city-saitama-prefecture", "hidaka-jpn-city-kochi-prefecture"} <= set(result.context.units)
    row = pd.read_csv(CLIMACTOR, encoding="latin-1", dtype=str).iloc[621 - 2]  # line 621 writes 1,765.00
    assert row.area == "1,765.00"
    area = pd.read_csv(out / "indicators.csv").query("indicator == 'area'").set_index("city")["value"]
    assert area[slug(" ".join([row["name"], row.iso, row.entity_type, row.state]))] == 1765.0


def test_a_stray_latin1_byte_names_its_line_and_the_fix():
    need_shared(CLIMACTOR)
    with pytest.raises(InputError) as err:
        read_wide(CLIMACTOR, ["name", "iso"], {"population": "population"})
    (problem,) = err.value.problems
    assert problem.line == 4555 and "byte 0xca is not utf-8" in problem.message
    assert "fallback_encoding" in problem.message
    frame = read_wide(CLIMACTOR, ["name", "iso", "entity_type", "state"], {"state": "state"},
                      fallback_encoding="latin-1", duplicates="first")
    assert frame.loc[frame._line == 4555, "state"].item() == "Shizuoka\xcaPrefecture"  # as the line writes it
    assert [r["detail"].split(" of ")[0] for r in frame.attrs["log"] if r["action"] == "fallback-encoding"] == [
        "line 4555"]


def test_thousands_repeats_footers_and_unknown_columns_are_located_errors(tmp_path):
    need_shared(CLIMACTOR)
    # line 621 writes its area 1,765.00; lines 4160 and 4161 are one town in two cases
    data = _subset(CLIMACTOR, [620, 4159, 4160], tmp_path / "c.csv")
    with pytest.raises(InputError) as err:
        wide_indicators(data, ["name", "iso"], {"area": "area"}, duplicates="first")
    (problem,) = err.value.problems
    assert (problem.line, problem.column) == (2, "area") and "thousands: true" in problem.message
    long = wide_indicators(data, ["name", "iso"], {"area": "area"}, duplicates="first", thousands=True)
    assert long.value.tolist() == [1765.0, 16.6]
    with pytest.raises(InputError) as err:
        read_wide(data, ["name", "iso"], {"area": "area"})
    (problem,) = err.value.problems
    assert problem.line == 4 and "first on line 3" in problem.message and "second id column" in problem.message
    footer = tmp_path / "footer.csv"
    footer.write_text(data.read_text() + ',,,,,,,,,,,,,\n"Source: ClimActor",,,,,,,,,,,,,\n')
    with pytest.raises(InputError) as err:
        read_wide(footer, ["iso"], {"area": "area"}, duplicates="first")
    assert [(p.line, "footer" in p.message) for p in err.value.problems] == [(6, True)]
    with pytest.raises(InputError) as err:
        read_wide(data, ["name", "iso"], {"area": "Area"})
    assert "no column 'Area'" in str(err.value) and "did you mean 'area'" in str(err.value)


def test_a_cities_problem_names_the_wide_files_line_and_column(tmp_path):
    need_shared(GCOM)
    lines = _lines(GCOM)
    lines[3] = lines[3].replace(",AL,Albania,", ",QQ,Albania,", 1)  # the third city's country code
    data = tmp_path / "g.csv"
    data.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        wide_cities(data, ["new_id"], {"name": "city", "country": "cc"})
    (problem,) = err.value.problems
    assert (problem.file, problem.line, problem.column) == (str(data), 4, "cc")
    assert "unknown country 'QQ'" in problem.message
    data.write_text("\n".join(_lines(GCOM)[:6]) + "\n", encoding="utf-8")
    cities = wide_cities(data, ["new_id"], {"name": "city", "country": "cc", "lat": "lat", "lon": "lon"})
    assert list(cities.city[:2]) == ["al0001", "al0002"] and cities.lat.iat[0] == pytest.approx(41.3279457)


def test_a_misspelt_key_of_a_wide_table_gets_a_did_you_mean():
    text = ("framework: f.yaml\ncities: c.csv\nindicators:\n  file: g.csv\n  format: wide\n  id: new_id\n"
            "  columns: [GDP]\n  encodng: latin-1\npipeline:\n  - aggregate: {}\n")
    with pytest.raises(InputError) as err:
        parse_spec(text, Path("s.yaml"))
    (problem,) = err.value.problems
    assert problem.line == 8 and "did you mean 'encoding'" in problem.message
    spec = parse_spec(text.replace("encodng", "encoding"), Path("s.yaml"))
    assert spec.model.indicators.column_map == {"GDP": "GDP"} and spec.model.indicators.encoding == "latin-1"


def test_missing_value_codes_of_a_wide_table_are_missing_and_counted(tmp_path):
    need_shared(GCOM)
    lines = _lines(GCOM)
    data = tmp_path / "g.csv"
    data.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    plain = wide_indicators(data, ["new_id"], {"hdd": "HDD", "cdd": "CDD"})
    assert plain.set_index(["city", "indicator"]).value[("al0001", "hdd")] == 2929  # Tirana's HDD as written
    codes = MissingCodes.of([2929, "n/a"])
    korca = lines[2].replace(",4746,640,", ",4746,n/a,", 1)  # Korca's cooling degree days, a text code
    assert korca != lines[2]
    data.write_text("\n".join([lines[0], lines[1], korca, *lines[3:6]]) + "\n", encoding="utf-8")
    coded = wide_indicators(data, ["new_id"], {"hdd": "HDD", "cdd": "CDD"}, missing=codes)
    values = coded.set_index(["city", "indicator"]).value
    assert np.isnan(values[("al0001", "hdd")]) and values[("al0002", "hdd")] == 4746
    assert np.isnan(values[("al0002", "cdd")]) and values[("al0001", "cdd")] == 1535
    assert [(r["indicator"], r["count"]) for r in coded.attrs["log"] if r["action"] == "missing-code"] == [
        ("hdd", 1), ("cdd", 1)]
