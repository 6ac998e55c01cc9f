"""The cities table as a user writes it: country names or codes, their own regions, no coordinates; the gaps
filled from the shipped GeoNames gazetteer, each fill logged; and a build over the real Australian cities."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import PACKAGE_DATA, SHARED, need_shared, script_module

from smartcities.analysis.trends import with_region
from smartcities.build import build, load_spec
from smartcities.errors import InputError
from smartcities.io import gazetteer
from smartcities.io.inventory import continent_column, continents, read_cities, slug
from smartcities.model.processing import ProcessingLog

AU = SHARED / "data" / "au_national_cities_performance_framework"
GEONAMES = SHARED / "data" / "geonames_cities15000"
CAPITALS = {"Sydney", "Melbourne", "Brisbane", "Adelaide", "Perth", "Hobart", "Darwin", "Canberra"}


def write(tmp_path, text: str, name: str = "cities.csv"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def log_of(cities: pd.DataFrame) -> pd.DataFrame:
    return ProcessingLog.of(cities.attrs["log"]).table


def geonames() -> pd.DataFrame:
    need_shared(GEONAMES / "cities15000.csv")
    return pd.read_csv(GEONAMES / "cities15000.csv", keep_default_na=False, dtype={"countrycode": str})


# --- the gazetteer ---------------------------------------------------------------------------------------------

def test_countries_by_code_name_and_common_variant():
    for written in ("AU", "au", "AUS", "Australia", "AUSTRALIA"):
        assert gazetteer.country(written).iso2 == "AU"
    for written in ("United States", "USA", "United States of America", "us"):
        assert gazetteer.country(written).iso2 == "US"
    for written in ("UK", "United Kingdom", "GBR", "England"):
        assert gazetteer.country(written).iso2 == "GB"
    for written in ("South Korea", "Korea, Republic of", "KOR", "republic of korea"):
        assert gazetteer.country(written).iso2 == "KR"
    assert gazetteer.country("Côte d’Ivoire").iso2 == gazetteer.country("Ivory Coast").iso2 == "CI"
    assert gazetteer.country("Narnia") is None
    # "Korea" alone is the OECD's (and the World Bank's "Korea, Rep.") name of the Republic of Korea; a city of
    # the North written so is not found in KR, and the warning says GeoNames has it in KP
    assert gazetteer.country("Korea").iso2 == "KR"


def test_country_regions_follow_the_project_rule():
    region = {code: gazetteer.country(code).region for code in ("AU", "FR", "JP", "US", "MX", "BR", "AE", "NG",
                                                                "RU", "AQ")}
    assert region == {"AU": "Oceania", "FR": "Europe", "JP": "Asia", "US": "North America", "MX": "Latin America",
                      "BR": "Latin America", "AE": "Middle East & Africa", "NG": "Middle East & Africa",
                      "RU": "Europe", "AQ": None}
    assert gazetteer.region("SA", "AS") == "Middle East & Africa" and gazetteer.region("CA", "NA") == "North America"


def test_match_key_folds_accents_case_and_punctuation():
    assert gazetteer.match_key("São Paulo") == gazetteer.match_key("SAO PAULO") == "saopaulo"
    assert gazetteer.match_key("St. John's") == "stjohns"


def test_places_named_most_populous_first_and_alternate_names():
    sydney = gazetteer.places_named("Sydney", "AU")[0]
    assert (sydney.geonameid, sydney.name, sydney.country) == (2147714, "Sydney", "AU")
    assert -34 < sydney.lat < -33.5 and 151 < sydney.lon < 151.5 and sydney.population > 4_000_000
    assert str(sydney) == "Sydney, AU, geonameid 2147714"
    assert gazetteer.places_named("new york", "US")[0].name == "New York City"  # an alternate name
    assert gazetteer.places_named("sao paulo", "BR")[0].name == "São Paulo"  # accents folded
    anywhere = gazetteer.places_named("Perth")
    assert anywhere[0].country == "AU" and "GB" in {p.country for p in anywhere}
    populations = [p.population for p in anywhere]
    assert populations == sorted(populations, reverse=True)
    assert gazetteer.places_named("Albury - Wodonga", "AU") == []
    in_britain = gazetteer.places_named("Perth", "GB")  # a country's places: those of the name in it alone
    assert in_britain and in_britain == [p for p in anywhere if p.country == "GB"]
    assert gazetteer.places_named("new york", "GB") == []  # US's New York City is no place of Britain


def test_gazetteer_agrees_with_the_bundled_cities_table():
    """The fill rule picks, for each of the 31 bundled cities, the place scripts/make_cities.py picked."""
    bundled = pd.read_csv(PACKAGE_DATA / "cities" / "cities.csv", keep_default_na=False)
    for row in bundled.itertuples(index=False):
        place = gazetteer.places_named(row.name, row.country)[0]
        assert (place.lat, place.lon, place.population) == (row.lat, row.lon, row.population), row.name
        assert gazetteer.country(row.country).region == row.region, row.name


def test_shipped_gazetteer_matches_geonames():
    need_shared(GEONAMES)
    shipped = pd.read_csv(gazetteer.GAZETTEER / "cities15000.csv.gz", keep_default_na=False, dtype={"country": str})
    source = geonames()
    assert len(shipped) == len(source) == 34006
    assert (shipped["geonameid"].to_numpy() == source["geonameid"].to_numpy()).all()
    assert (shipped["population"].to_numpy() == source["population"].to_numpy()).all()
    assert (shipped["lat"].to_numpy() == source["latitude"].to_numpy()).all()
    assert (shipped["country"].to_numpy() == source["countrycode"].to_numpy()).all()
    sydney = shipped.set_index("geonameid").loc[2147714]
    assert "Sidney" in sydney["alternatenames"].split("|")  # a Latin-script alternate name kept
    letters = {ch for ch in "".join(shipped["alternatenames"]) if ch.isalpha()}
    assert all(ord(ch) < 0x250 or 0x1E00 <= ord(ch) < 0x1F00 for ch in letters)  # Latin alphabets only


def test_make_gazetteer_reproduces_the_shipped_files(tmp_path):
    need_shared(GEONAMES)
    pytest.importorskip("pycountry")
    module = script_module("make_gazetteer")
    module.main(["--geonames", str(GEONAMES), "--out", str(tmp_path)])
    for name in ("cities15000.csv.gz", "countries.csv"):
        assert (tmp_path / name).read_bytes() == (gazetteer.GAZETTEER / name).read_bytes(), name


# --- reading a user's table ------------------------------------------------------------------------------------

def test_country_names_and_iso3_become_iso2(tmp_path):
    path = write(tmp_path, """\
        city,name,country,lat,lon,population
        seoul,Seoul,"Korea, Republic of",37.566,126.978,10349312
        new-york,New York,USA,40.714,-74.006,8804190
        london,London,UK,51.507,-0.128,8961989
        paris,Paris,fra,48.853,2.349,2138551
        lyon,Lyon,France,45.748,4.847,522969
        """)
    cities = read_cities(path)
    assert list(cities["country"]) == ["KR", "US", "GB", "FR", "FR"]
    assert list(cities["region"]) == ["Asia", "North America", "Europe", "Europe", "Europe"]
    log = log_of(cities)
    assert set(log["action"]) == {"filled"} and set(log["severity"]) == {"note"}
    assert log.set_index("unit").loc["seoul", "detail"] == "region Asia from country KR"
    assert cities.loc[0, "population"] == 10349312  # the user's own values are kept


def test_unknown_country_is_a_located_error_with_a_suggestion(tmp_path):
    path = write(tmp_path, "city,name,country\nsydney,Sydney,Australia\nperth,Perth,Austrlia\noslo,Oslo,XX\n")
    with pytest.raises(InputError) as err:
        read_cities(path)
    messages = {(p.line, p.column): p.message for p in err.value.problems}
    assert messages == {
        (3, "country"): "unknown country 'Austrlia': expected an ISO 3166 code (AU, AUS) or an English name "
                        "(did you mean 'Australia'?)",
        (4, "country"): "unknown country 'XX': expected an ISO 3166 code (AU, AUS) or an English name"}


def test_city_stays_a_slug_id(tmp_path):
    path = write(tmp_path, "city,name,country\nSydney,Sydney,Australia\n")
    with pytest.raises(InputError) as err:
        read_cities(path)
    (problem,) = err.value.problems
    assert (problem.line, problem.column) == (2, "city") and "write 'sydney'" in problem.message


def test_only_city_and_name_are_required(tmp_path):
    with pytest.raises(InputError) as err:
        read_cities(write(tmp_path, "city,country\nsydney,AU\n"))
    assert [p.message for p in err.value.problems] == ["missing column 'name' (text)"]


def test_missing_values_filled_from_geonames_and_logged(tmp_path):
    path = write(tmp_path, """\
        city,name,country,region,lat,lon,population
        sydney,Sydney,Australia,,,,
        zurich,Zürich,Switzerland,Europe,47.37,8.54,
        sao-paulo,Sao Paulo,Brazil,Latin America,,,12000000
        """)
    cities = read_cities(path).set_index("city")
    source = geonames().set_index("geonameid")
    sydney = source.loc[2147714]
    assert cities.loc["sydney", ["lat", "lon", "population"]].tolist() == [
        sydney["latitude"], sydney["longitude"], sydney["population"]]
    assert cities.loc["sydney", "region"] == "Oceania"
    assert cities.loc["zurich", "lat"] == 47.37 and cities.loc["zurich", "population"] == \
        source.loc[2657896, "population"]  # Zürich matched with its accent
    assert cities.loc["sao-paulo", "population"] == 12000000 and cities.loc["sao-paulo", "lat"] == \
        source.loc[3448439, "latitude"]  # São Paulo matched without its accent
    detail = log_of(read_cities(path)).set_index("unit")["detail"]
    assert detail["sydney"] == ("lat, lon, population from GeoNames cities15000 (Sydney, AU, geonameid 2147714); "
                                "region Oceania from country AU")
    assert detail["zurich"] == "population from GeoNames cities15000 (Zürich, CH, geonameid 2657896)"
    assert detail["sao-paulo"] == "lat, lon from GeoNames cities15000 (São Paulo, BR, geonameid 3448439)"


def test_unmatched_city_is_a_warning_and_stays_empty(tmp_path):
    path = write(tmp_path, "city,name,country\nsydney,Sydney,AU\natlantis,Atlantis,Greece\n")
    cities = read_cities(path).set_index("city")
    assert math.isnan(cities.loc["atlantis", "lat"]) and math.isnan(cities.loc["atlantis", "population"])
    assert cities.loc["atlantis", "region"] == "Europe"  # the continent still comes from the country
    log = log_of(cities.reset_index())
    (warning,) = log[log["severity"] == "warning"].to_dict("records")
    assert warning["step"] == "cities" and warning["unit"] == "atlantis" and warning["count"] == 3
    assert warning["detail"] == ("no place named 'Atlantis' in GR in GeoNames cities15000 (places of 15,000 or "
                                 "more residents); GeoNames has it in ZA (Atlantis, ZA, geonameid 3370352): give "
                                 "that country to fill from it: lat, lon, population left empty (no map point, no "
                                 "per-resident denominator)")


def test_an_unmatched_city_gets_a_hint_of_what_may_be_meant(tmp_path):
    """The 2019 Smart City Index writes Hong Kong as a city of China, which GeoNames files under HK, and misspells
    Kuala Lumpur."""
    path = write(tmp_path, "city,name,country\nhong-kong,Hong Kong,China\nkl,Kuala Lampur,Malaysia\n")
    cities = read_cities(path).set_index("city")
    assert cities[["lat", "lon", "population"]].isna().all().all()  # nothing filled from another country
    log = log_of(cities.reset_index())
    log = log[log["action"] == "not-filled"].set_index("unit")["detail"]
    assert "no place named 'Hong Kong' in CN" in log["hong-kong"]
    assert "GeoNames has it in HK (Hong Kong, HK, geonameid 1819729): give that country" in log["hong-kong"]
    assert "no place named 'Kuala Lampur' in MY in GeoNames cities15000 (places of 15,000 or more residents) " \
           "(did you mean 'Kuala Lumpur'?)" in log["kl"]


def test_no_country_column_matches_by_name_and_warns_when_ambiguous(tmp_path):
    cities = read_cities(write(tmp_path, "city,name\nperth,Perth\ncanberra,Canberra\n"))
    assert list(cities["country"]) == ["AU", "AU"] and list(cities["region"]) == ["Oceania", "Oceania"]
    log = log_of(cities).set_index("unit")
    assert log.loc["perth", "severity"] == "warning" and "also a place of that name in GB" in log.loc["perth",
                                                                                                        "detail"]
    assert log.loc["canberra", "severity"] == "note" and "matched by name alone" in log.loc["canberra", "detail"]
    assert log.loc["canberra", "count"] == 5  # lat, lon, population, country, region


def test_own_regions_kept_as_a_group_and_continent_in_its_own_column(tmp_path):
    path = write(tmp_path, """\
        city,name,country,region
        sydney,Sydney,Australia,capital
        geelong,Geelong,Australia,regional
        auckland,Auckland,New Zealand,
        """)
    cities = read_cities(path)
    assert list(cities["region"]) == ["capital", "regional", None]
    assert list(cities["continent"]) == ["Oceania"] * 3
    assert continent_column(cities) == "continent"
    assert continents(cities).to_dict() == {"sydney": "Oceania", "geelong": "Oceania", "auckland": "Oceania"}
    assert "continent Oceania from country AU" in log_of(cities)["detail"].iloc[0]
    inventory = pd.DataFrame({"city_id": ["sydney", "geelong"]})
    assert list(with_region(inventory, cities)["region"]) == ["Oceania", "Oceania"]  # regional analysis: continents


def test_a_misspelt_continent_is_still_an_error(tmp_path):
    path = write(tmp_path, "city,name,country,region\nparis,Paris,FR,Eurpoe\n")
    with pytest.raises(InputError) as err:
        read_cities(path)
    (problem,) = err.value.problems
    assert (problem.line, problem.column) == (2, "region") and "did you mean 'Europe'" in problem.message


def test_a_given_continent_column_is_checked_and_filled(tmp_path):
    path = write(tmp_path, "city,name,country,continent\nparis,Paris,FR,Europe\ntokyo,Tokyo,JP,\n")
    cities = read_cities(path)
    assert list(cities["continent"]) == ["Europe", "Asia"] and "region" not in cities
    bad = write(tmp_path, "city,name,country,continent\nparis,Paris,FR,Europa\n", "bad.csv")
    with pytest.raises(InputError, match="did you mean 'Europe'"):
        read_cities(bad)


def test_a_full_table_needs_no_gazetteer(tmp_path, monkeypatch):
    """A table with every value given never loads the places table."""
    monkeypatch.setattr(gazetteer, "places_named", lambda *a: pytest.fail("the places table was consulted"))
    cities = read_cities(PACKAGE_DATA / "cities" / "cities.csv")
    assert len(cities) == 31 and cities.attrs["log"] == []


# --- the Australian cities, end to end -------------------------------------------------------------------------

FRAMEWORK = """\
id: Index
name: Australian cities
children:
  - id: digital
    name: Digital
    children:
      - {id: broadband_connections, name: Broadband connections}
      - {id: knowledge_industries, name: Knowledge industries}
  - id: green
    name: Green
    children:
      - {id: air_quality, name: PM2.5, direction: -1}
      - {id: greenhouse_gas, name: Greenhouse gas per person, direction: -1}
      - {id: public_transport, name: Public transport use}
"""


@pytest.fixture
def au_tables(tmp_path):
    """A user's cities table for the 22 cities of the AU data file (name, country, capital/regional type, nothing
    else) and the file's indicators melted into the long city,indicator,value table."""
    need_shared(AU)
    data = pd.read_csv(AU / "data_file.csv")
    cities = pd.DataFrame({"city": [slug(n) for n in data["city"]], "name": data["city"], "country": "Australia",
                           "type": ["capital" if n in CAPITALS else "regional" for n in data["city"]]})
    cities.to_csv(tmp_path / "cities.csv", index=False)
    indicators = ["broadband_connections", "knowledge_industries", "air_quality", "greenhouse_gas",
                  "public_transport"]
    long = data.assign(city=cities["city"]).melt(id_vars="city", value_vars=indicators, var_name="indicator")
    long.to_csv(tmp_path / "indicators.csv", index=False)
    (tmp_path / "fw.yaml").write_text(FRAMEWORK, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(textwrap.dedent("""\
        name: Australian cities
        cities: cities.csv
        indicators: indicators.csv
        framework: fw.yaml
        missing_values: [999.01]       # the file's code for a missing value
        pipeline:
          - normalise: {method: minmax}
          - aggregate: {method: arithmetic}
        grades: {method: quantile, n: 3, peer_group: type}
        """), encoding="utf-8")
    return tmp_path


def test_au_cities_filled_against_geonames(au_tables):
    cities = read_cities(au_tables / "cities.csv").set_index("city")
    assert len(cities) == 22 and set(cities["country"]) == {"AU"} and set(cities["region"]) == {"Oceania"}
    source = geonames()
    source = source[source["countrycode"] == "AU"]
    for city in ("sydney", "melbourne", "perth", "canberra", "newcastle", "townsville", "launceston"):
        name = cities.loc[city, "name"]
        expected = source[source["name"] == name].sort_values("population").iloc[-1]
        assert cities.loc[city, ["lat", "lon", "population"]].tolist() == [
            expected["latitude"], expected["longitude"], expected["population"]], city
    assert cities.loc["sydney", "population"] > cities.loc["hobart", "population"] > 200_000
    unmatched = {"albury-wodonga", "gold-coast-tweed", "western-sydney"}  # GeoNames lists the parts, not these
    assert set(cities.index[cities["lat"].isna()]) == unmatched
    assert (cities.loc[[slug(c) for c in CAPITALS], "type"] == "capital").all()
    assert (cities["type"] == "regional").sum() == 14


def test_au_log_rows(au_tables):
    log = log_of(read_cities(au_tables / "cities.csv"))
    assert set(log["step"]) == {"cities"}
    warnings = log[log["severity"] == "warning"]
    assert set(warnings["unit"]) == {"albury-wodonga", "gold-coast-tweed", "western-sydney"}
    assert set(warnings["action"]) == {"not-filled"} and "no map point" in warnings["detail"].iloc[0]
    filled = log[log["action"] == "filled"].set_index("unit")
    assert len(filled) == 22 and filled.loc["albury-wodonga", "detail"] == "region Oceania from country AU"
    assert filled.loc["darwin", "detail"].startswith("lat, lon, population from GeoNames cities15000 (Darwin, AU,")
    assert filled.loc["darwin", "count"] == 4


def test_au_build_end_to_end(au_tables):
    result = build(load_spec(au_tables / "spec.yaml"), uncertainty=False)
    ctx = result.context
    assert len(ctx.units) == 22
    assert list(ctx.groups["type"]).count("capital") == 8 and set(ctx.groups["type"]) == {"capital", "regional"}
    assert set(ctx.groups["region"]) == {"Oceania"} and set(ctx.groups["country"]) == {"AU"}
    population = dict(zip(ctx.units, ctx.denominators["population"]))
    assert population["sydney"] > 4_000_000 and math.isnan(population["western-sydney"])
    assert "lat" not in ctx.denominators and "lat" not in ctx.groups
    log = result.inputs.log.table
    assert (log["action"] == "not-filled").sum() == 3 and len(result.inputs.log.warnings()) == 3
    assert log.loc[log["action"] == "missing-code", "count"].sum() == 9  # 7 of PM2.5, 2 of greenhouse gas
    scores = result.scores_table()
    index = scores[scores["node"] == "Index"]
    assert len(index) == 22 and index["score"].notna().all()
    assert index["grade"].notna().all()  # graded within capital and regional peers


def test_values_array_places_the_last_present_value_of_each_cell():
    from smartcities.inputs import values_array

    long = pd.DataFrame({"city": ["a", "b", "a", "a", "zz", "b"], "indicator": ["x", "x", "y", "y", "x", "q"],
                         "value": [1.0, 2.0, 3.0, np.nan, 9.0, 7.0]})
    X = values_array(long, ["a", "b", "c"], ["x", "y"])
    # a/y: 3 then missing, so 3; c has no rows; zz and q are not in the build
    np.testing.assert_array_equal(X, [[1.0, 3.0], [2.0, np.nan], [np.nan, np.nan]])
    later = values_array(long.assign(value=[1.0, 2.0, 3.0, 4.0, 9.0, 7.0]), ["a"], ["y"])
    assert later[0, 0] == 4.0  # of two present values, the later row's


def test_a_table_of_countries_looks_up_no_places(tmp_path):
    """The OECD Better Life Index names countries, Korea as the OECD writes it: the countries and continents are
    filled, and Luxembourg does not get the city of Luxembourg's coordinates and population."""
    bli = SHARED / "data" / "compind_examples" / "BLI_2017.csv"
    need_shared(bli)
    names = pd.read_csv(bli)["country"]
    path = write(tmp_path, "city,name\n" + "".join(f"{slug(n)},{n}\n" for n in names))
    cities = read_cities(path).set_index("city")
    assert cities.loc["korea", "country"] == "KR" and cities.loc["luxembourg", "country"] == "LU"
    assert cities[["lat", "lon", "population"]].isna().all().all()
    assert set(cities["region"]) <= {"Europe", "Asia", "North America", "Latin America", "Middle East & Africa",
                                     "Oceania"} and cities["region"].notna().all()
    log = log_of(cities.reset_index())
    (note,) = log[log["action"] == "units-are-countries"].to_dict("records")
    assert note["count"] == len(names) == 35 and note["severity"] == "note"
    assert not (log["severity"] == "warning").any()


def test_a_city_state_among_cities_is_still_a_city(tmp_path):
    cities = read_cities(write(tmp_path, "city,name,country\nsingapore,Singapore,SG\nseoul,Seoul,KR\n"
                                         "paris,Paris,FR\n")).set_index("city")
    assert cities["lat"].notna().all() and cities.loc["singapore", "population"] > 1_000_000
    assert "units-are-countries" not in set(log_of(cities.reset_index())["action"])


def test_world_bank_country_names_are_known():
    for written, iso2 in (("Korea, Rep.", "KR"), ("Egypt, Arab Rep.", "EG"), ("Congo, Dem. Rep.", "CD"),
                          ("Congo, Rep.", "CG"), ("Hong Kong SAR, China", "HK"), ("St. Lucia", "LC"),
                          ("Korea", "KR"), ("Lao PDR", "LA")):
        assert gazetteer.country(written).iso2 == iso2, written
