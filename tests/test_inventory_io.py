"""Reading the inventory, cities and indicator tables: good files, and malformed ones with located errors."""

from __future__ import annotations

import math
from datetime import date
from importlib.resources import files

import pandas as pd
import pytest

from smartcities.errors import InputError
from smartcities.io.inventory import (
    EARLIEST_START_YEAR,
    LEAD_YEARS,
    check_cities_known,
    read_cities,
    read_indicators,
    read_inventory,
    slug,
)

DATA = files("smartcities") / "data"
HEADER = ("id,city,country,name,item_type,service_domain,technologies,lead_actor,energy_environment,inclusive,"
          "integrates_data,citizen_participation,start_year,description,source_url,confidence")
ROW_1 = ("seoul-01,Seoul,KR,Open Data Plaza,infrastructure_service,administration,big_data,public,none,false,true,"
         "true,2012,Portal.,https://example.org/a,high")
ROW_2 = ("seoul-02,Seoul,KR,Sensor net,infrastructure_service,environment_energy,iot;big_data,public_private,direct,"
         "false,true,false,,\"Sensors, many.\",https://example.org/b,medium")
ROW_3 = ("sao-paulo-01,São Paulo,BR,App,app_web_service,transport,none,public,none,true,false,false,2020,App.,"
         "https://example.org/c,high")
CITIES = """city,name,country,region,lat,lon,population
seoul,Seoul,KR,Asia,37.566,126.9784,10349312
new-york,New York,US,North America,40.71427,-74.00597,8804190
"""


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def problems_of(call) -> list[str]:
    with pytest.raises(InputError) as err:
        call()
    return [str(p) for p in err.value.problems]


# --- slug ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("New York", "new-york"), ("São Paulo", "sao-paulo"), ("Los Angeles", "los-angeles"),
    ("Zürich", "zurich"), ("St. John's", "st-john-s"), ("  Seoul ", "seoul"), ("Bogotá D.C.", "bogota-d-c"),
])
def test_slug(name, expected):
    assert slug(name) == expected


# --- inventory -------------------------------------------------------------------------------------------------

def test_good_inventory_is_typed_and_gets_city_ids(tmp_path):
    path = write(tmp_path, "inventory.csv", f"{HEADER}\n{ROW_1}\n{ROW_2}\n{ROW_3}" + "\n")
    inv = read_inventory(path)
    assert list(inv["id"]) == ["seoul-01", "seoul-02", "sao-paulo-01"]
    assert list(inv["city_id"]) == ["seoul", "seoul", "sao-paulo"]
    assert list(inv["technologies"]) == [("big_data",), ("iot", "big_data"), ("none",)]
    assert list(inv["energy_environment"]) == ["none", "direct", "none"]
    assert list(inv["integrates_data"]) == [True, True, False]
    assert list(inv["_line"]) == [2, 3, 4]
    assert inv["start_year"].iloc[0] == 2012 and pd.isna(inv["start_year"].iloc[1])
    assert inv["description"].iloc[1] == "Sensors, many."


def test_bundled_inventory_reads():
    inv = read_inventory(DATA / "sci2022" / "inventory.csv")
    assert len(inv) == 397
    assert inv["city_id"].nunique() == 31
    assert (inv["item_type"].value_counts()[["app_web_service", "project", "living_lab"]] == [102, 97, 36]).all()
    assert inv["lead_actor"].value_counts()["private"] == 3


def test_misspelt_enum_names_file_line_column_and_allowed_values(tmp_path):
    bad = ROW_2.replace("public_private", "goverment")
    path = write(tmp_path, "inventory.csv", f"{HEADER}\n{ROW_1}\n{bad}" + "\n")
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line 3, column lead_actor: 'goverment' is not one of public, private, public_private"]


def test_near_miss_enum_gets_did_you_mean(tmp_path):
    path = write(tmp_path, "inventory.csv", "\n".join([HEADER, ROW_1.replace("infrastructure_service",
                                                                             "infrastructure_servce")]) + "\n")
    (message,) = problems_of(lambda: read_inventory(path))
    assert message.startswith(f"{path} line 2, column item_type: 'infrastructure_servce' is not one of")
    assert message.endswith("(did you mean 'infrastructure_service'?)")


def test_every_bad_cell_is_reported_together_including_none_valued_columns(tmp_path):
    # energy_environment and technologies allow 'none', so they are checked apart from the other columns;
    # their problems must still come out with the rest, in line order.
    row_2 = ROW_1.replace(",none,", ",indirrect,").replace(",public,", ",pubic,")
    row_3 = ROW_2.replace("iot;big_data", "iot;bigdata")
    path = write(tmp_path, "inventory.csv", f"{HEADER}\n{row_2}\n{row_3}" + "\n")
    got = problems_of(lambda: read_inventory(path))
    assert got == [
        (f"{path} line 2, column lead_actor: 'pubic' is not one of public, private, public_private "
        "(did you mean 'public'?)"),
        (f"{path} line 2, column energy_environment: 'indirrect' is not one of direct, indirect, none "
        "(did you mean 'indirect'?)"),
        (f"{path} line 3, column technologies: 'bigdata' is not one of iot, big_data, ai, blockchain, xr, "
        "digital_twin, metaverse, 5g, cloud, robotics, drones, mobile, none (did you mean 'big_data'?)"),
    ]


def test_empty_required_coded_cell_is_an_error(tmp_path):
    row = ROW_1.replace(",none,false,", ",,false,")
    path = write(tmp_path, "inventory.csv", f"{HEADER}\n{row}" + "\n")
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line 2, column energy_environment: empty, expected one of direct, indirect, none"]


def test_bad_boolean(tmp_path):
    path = write(tmp_path, "inventory.csv", "\n".join([HEADER, ROW_1.replace(",true,true,", ",maybe,true,")]) + "\n")
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line 2, column integrates_data: 'maybe' is not true or false"]


def test_a_start_year_outside_the_plausible_range_is_an_error(tmp_path):
    latest = date.today().year + LEAD_YEARS
    def rows(*years):
        return "\n".join([HEADER, *(ROW_1.replace(",2012,", f",{y},").replace("seoul-01", f"s-{y}") for y in years)])

    bad = (-5, EARLIEST_START_YEAR - 1, latest + 1, 3020)
    path = write(tmp_path, "inventory.csv", rows(*bad) + "\n")
    expected = f"expected {EARLIEST_START_YEAR} to {latest}, or empty if unknown"
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line {line}, column start_year: {year} is not a plausible start year: {expected}"
        for line, year in zip(range(2, 6), bad)]
    inventory = read_inventory(write(tmp_path, "edges.csv", rows(EARLIEST_START_YEAR, latest) + "\n"))
    assert inventory.start_year.tolist() == [EARLIEST_START_YEAR, latest]


def test_missing_column(tmp_path):
    header = HEADER.replace(",lead_actor", "")
    rows = [r.replace(",public,", ",", 1).replace(",public_private,", ",", 1) for r in (ROW_1, ROW_2)]
    path = write(tmp_path, "inventory.csv", "\n".join([header, *rows]) + "\n")
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line 1: missing column 'lead_actor' (one of public, private, public_private)"]


def test_unknown_column_gets_did_you_mean(tmp_path):
    path = write(tmp_path, "inventory.csv", "\n".join([HEADER + ",sevice", ROW_1 + ",x"]) + "\n")
    (message,) = problems_of(lambda: read_inventory(path))
    assert message.startswith(f"{path} line 1, column sevice: unknown column; not one of id, city,")


def test_duplicate_id(tmp_path):
    path = write(tmp_path, "inventory.csv", "\n".join([HEADER, ROW_1, ROW_2.replace("seoul-02", "seoul-01")]) + "\n")
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line 3, column id: duplicate id 'seoul-01' (first on line 2)"]


def test_empty_file(tmp_path):
    path = write(tmp_path, "inventory.csv", "")
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path}: file is empty, expected a header row and data rows"]


def test_header_only(tmp_path):
    path = write(tmp_path, "inventory.csv", HEADER + "\n")
    assert problems_of(lambda: read_inventory(path)) == [f"{path}: has a header but no data rows"]


def test_non_utf8_bytes_give_the_line(tmp_path):
    text = f"{HEADER}\n{ROW_1}\n{ROW_3}".encode().replace("São".encode(), b"S\xe3o") + b"\n"
    path = write(tmp_path, "inventory.csv", text)
    assert problems_of(lambda: read_inventory(path)) == [
        f"{path} line 3: byte 0xe3 is not UTF-8; save the file as UTF-8"]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    assert problems_of(lambda: read_inventory(path)) == [f"{path}: file does not exist"]


# --- cities ----------------------------------------------------------------------------------------------------

def test_good_cities_with_extra_columns(tmp_path):
    text = CITIES.replace("population\n", "population,income_group,gdp_per_capita\n")
    text = text.replace("10349312\n", "10349312,high,44000\n").replace("8804190\n", "8804190,high,\n")
    cities = read_cities(write(tmp_path, "cities.csv", text))
    assert list(cities["city"]) == ["seoul", "new-york"]
    assert cities["population"].dtype == float and cities["population"].iloc[0] == 10349312
    assert cities["gdp_per_capita"].dtype == float
    assert cities["gdp_per_capita"].iloc[0] == 44000 and math.isnan(cities["gdp_per_capita"].iloc[1])
    assert list(cities["income_group"]) == ["high", "high"]


def test_bundled_cities_table():
    cities = read_cities(DATA / "cities" / "cities.csv")
    assert len(cities) == 31
    by_id = cities.set_index("city")
    assert by_id.loc["moscow", "region"] == "Europe"
    assert by_id.loc["dubai", "region"] == "Middle East & Africa"
    assert by_id.loc["santiago", "region"] == "Latin America"
    assert by_id.loc["sydney", "region"] == "Oceania" and by_id.loc["brisbane", "region"] == "Oceania"
    assert by_id.loc["taipei", "region"] == "Asia"
    assert by_id.loc["santiago", "country"] == "CL" and by_id.loc["santiago", "lat"] < -33
    assert by_id.loc["incheon", "country"] == "KR" and 126 < by_id.loc["incheon", "lon"] < 127
    assert by_id.loc["los-angeles", "lon"] < -118
    assert by_id.loc["new-york", "name"] == "New York"
    assert set(cities["region"]) == {"Europe", "Asia", "North America", "Latin America", "Middle East & Africa",
                                     "Oceania"}
    inv = read_inventory(DATA / "sci2022" / "inventory.csv")
    assert check_cities_known(inv, cities, "inventory.csv") == []


def test_cities_out_of_range_and_bad_ids(tmp_path):
    text = CITIES.replace("37.566", "97.5").replace("-74.00597", "-190").replace("8804190", "0")
    text = text.replace("seoul,Seoul,KR", "Seoul,Seoul,Sth Korea")
    path = write(tmp_path, "cities.csv", text)
    assert problems_of(lambda: read_cities(path)) == [
        f"{path} line 2, column city: 'Seoul' is not a slug id (lowercase letters, digits and '-'); write 'seoul'",
        (f"{path} line 2, column country: unknown country 'Sth Korea': expected an ISO 3166 code (AU, AUS) or an "
         "English name (did you mean 'South Korea'?)"),
        f"{path} line 2, column lat: 97.5 is out of range, expected a number between -90 and 90",
        f"{path} line 3, column lon: -190 is out of range, expected a number between -180 and 180",
        f"{path} line 3, column population: 0 is out of range, expected a number of residents above 0",
    ]


def test_cities_bad_region_duplicate_and_decimal_comma_in_extra_column(tmp_path):
    text = ("city,name,country,region,lat,lon,population,area_km2\n"
            "seoul,Seoul,KR,East Asia,37.5,127.0,10000000,\"605,2\"\n"
            "seoul,Seoul,KR,Asia,37.5,127.0,10000000,605\n")
    path = write(tmp_path, "cities.csv", text)
    got = problems_of(lambda: read_cities(path))
    assert got[0].startswith(f"{path} line 2, column region: 'East Asia' is not one of Europe, Asia, North America")
    assert got[1] == f"{path} line 3, column city: duplicate city 'seoul' (first on line 2)"
    # range and extra-column checks run once every cell parses
    fixed = text.replace("East Asia", "Asia").replace("seoul,Seoul,KR,Asia,37.5,127.0,10000000,605",
                                                       "busan,Busan,KR,Asia,35.1,129.0,3300000,770")
    path = write(tmp_path, "cities2.csv", fixed)
    assert problems_of(lambda: read_cities(path)) == [
        f"{path} line 2, column area_km2: '605,2' uses a decimal comma; write 605.2 (a point as decimal mark)"]


# --- indicators ------------------------------------------------------------------------------------------------

def test_good_indicators(tmp_path):
    path = write(tmp_path, "indicators.csv", "city,indicator,value,year,source\n"
                                             "seoul,broadband,97.5,2021,ITU\nseoul,broadband,98.1,2022,ITU\n"
                                             "new-york,broadband,,2022,\n")
    ind = read_indicators(path)
    assert list(ind["value"].iloc[:2]) == [97.5, 98.1] and math.isnan(ind["value"].iloc[2])
    assert list(ind["year"]) == [2021, 2022, 2022]


def test_indicators_decimal_comma(tmp_path):
    path = write(tmp_path, "indicators.csv", "city,indicator,value\nseoul,pm25,\"18,5\"\n")
    assert problems_of(lambda: read_indicators(path)) == [
        f"{path} line 2, column value: '18,5' uses a decimal comma; write 18.5 (a point as decimal mark)"]


def test_indicators_duplicates(tmp_path):
    path = write(tmp_path, "indicators.csv", "city,indicator,value,year\nseoul,pm25,18,2021\nseoul,pm25,19,2022\n"
                                             "seoul,pm25,20,2021\n")
    assert problems_of(lambda: read_indicators(path)) == [
        (f"{path} line 4, column indicator: second value for city 'seoul', indicator 'pm25' in 2021 "
        "(first on line 2)")]
    path = write(tmp_path, "no_year.csv", "city,indicator,value\nseoul,pm25,18\nseoul,pm25,19\n")
    assert problems_of(lambda: read_indicators(path)) == [
        f"{path} line 3, column indicator: second value for city 'seoul', indicator 'pm25' (first on line 2)"]


def test_indicators_unknown_column(tmp_path):
    path = write(tmp_path, "indicators.csv", "city,indicator,valeu\nseoul,pm25,18\n")
    got = problems_of(lambda: read_indicators(path))
    assert f"{path} line 1, column valeu: unknown column; not one of city, indicator, value, year, source, note " \
           "(did you mean 'value'?)" in got
    assert f"{path} line 1: missing column 'value' (a number); is it 'valeu'?" in got


# --- unknown cities --------------------------------------------------------------------------------------------

def test_unknown_cities_in_indicators(tmp_path):
    cities = read_cities(write(tmp_path, "cities.csv", CITIES))
    ind = read_indicators(write(tmp_path, "indicators.csv", "city,indicator,value\nseoul,a,1\nnew-yrok,a,2\n"
                                                            "new-yrok,b,3\nnew-yrok,c,3\nparis,a,1\n"))
    assert [str(p) for p in check_cities_known(ind, cities, "indicators.csv")] == [
        ("indicators.csv line 3, column city: unknown city 'new-yrok': not in the cities table "
        "(did you mean 'new-york'?); also on lines 4, 5"),
        "indicators.csv line 6, column city: unknown city 'paris': not in the cities table",
    ]


def test_unknown_cities_in_inventory_suggest_names(tmp_path):
    cities = read_cities(write(tmp_path, "cities.csv", CITIES))
    row = ROW_1.replace("seoul-01,Seoul", "nyc-01,New Yrok")
    inv = read_inventory(write(tmp_path, "inventory.csv", f"{HEADER}\n{ROW_1}\n{row}" + "\n"))
    assert [str(p) for p in check_cities_known(inv, cities, "inventory.csv")] == [
        ("inventory.csv line 3, column city: unknown city 'New Yrok': not in the cities table "
        "(did you mean 'New York'?)")]
