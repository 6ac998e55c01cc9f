"""Malformed input tables, written as real files: every problem names the file, the line and the column."""

from __future__ import annotations

import csv
import io
import math

import pytest
from conftest import PACKAGE_DATA

from smartcities.errors import InputError
from smartcities.io.inventory import read_cities, read_indicators, read_inventory
from smartcities.io.tables import LARGEST_VALUE, Field, Schema, read_rows, read_table
from smartcities.io.wide import wide_indicators

SCHEMA = Schema(
    fields=(Field("id", "text", nullable=False), Field("kind", "enum", ("park", "road", "school")),
            Field("value", "float"), Field("count", "int", required=False), Field("open", "bool", required=False)),
    unique=("id",),
)
CITIES_HEADER = "city,name,country,region,lat,lon,population"


def write(tmp_path, text: str | bytes, name="table.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems(fn, path) -> list:
    with pytest.raises(InputError) as err:
        fn(path)
    return err.value.problems


def test_good_table(tmp_path):
    path = write(tmp_path, "id,kind,value,count,open\na,park,1.5,3,true\nb,road,,,no\n\nc,school,-2e3,4.0,0\n")
    frame = read_table(path, SCHEMA)
    assert list(frame.id) == ["a", "b", "c"]
    assert frame.value[0] == 1.5 and math.isnan(frame.value[1]) and frame.value[2] == -2000
    assert frame["count"].isna().tolist() == [False, True, False]
    assert frame["count"][0] == 3 and frame["count"][2] == 4  # "4.0" is a whole number
    assert list(frame["open"]) == [True, False, False]
    assert list(frame._line) == [2, 3, 5]  # the blank line 4 is skipped but still counted


def test_missing_column(tmp_path):
    (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind\na,park\n"))
    assert p.line == 1 and "missing column 'value' (a number)" in p.message


def test_unknown_column_with_suggestion(tmp_path):
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,value,cuont\na,park,1,2\n"))
    (p,) = found
    assert p.line == 1 and p.column == "cuont"
    assert "unknown column" in p.message and "did you mean 'count'" in p.message
    assert str(p).endswith("line 1, column cuont: " + p.message)


def test_unknown_and_missing_reported_together(tmp_path):
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,vale\na,park,1\n"))
    messages = " | ".join(p.message for p in found)
    assert "did you mean 'value'" in messages and "missing column 'value'" in messages


def test_duplicate_header_column(tmp_path):
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,value,value\na,park,1,2\n"))
    assert any(p.column == "value" and "twice" in p.message for p in found)


def test_bad_enum_with_suggestion(tmp_path):
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,value\na,park,1\nb,raod,2\n"))
    (p,) = found
    assert (p.line, p.column) == (3, "kind")
    assert "'raod' is not one of park, road, school (did you mean 'road'?)" == p.message


def test_cell_problems_all_reported(tmp_path):
    text = "id,kind,value,count,open\na,park,abc,1.5,maybe\n,road,1,2,yes\n"
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, text))
    where = {(p.line, p.column): p.message for p in found}
    assert "'abc' is not a number" in where[(2, "value")]
    assert "'1.5' is not a whole number" in where[(2, "count")]
    assert "'maybe' is not true or false" in where[(2, "open")]
    assert "empty, expected text" in where[(3, "id")]


def test_field_check(tmp_path):
    schema = Schema(fields=(Field("id"), Field("share", "float", check=lambda v: None if 0 <= v <= 1 else
                                              f"{v:g} is out of range, expected a share between 0 and 1")))
    text = "id,share\na,0.5\nb,1.5\nc,\n"
    (p,) = problems(lambda f: read_table(f, schema), write(tmp_path, text))
    assert (p.line, p.column) == (3, "share") and "1.5 is out of range" in p.message


def test_duplicate_ids(tmp_path):
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,value\na,park,1\nb,road,2\na,park,3\n"))
    (p,) = found
    assert (p.line, p.column) == (4, "id") and "duplicate id 'a' (first on line 2)" in p.message


def test_empty_file(tmp_path):
    for text in ("", "\n\n  \n"):
        (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, text))
        assert "file is empty" in p.message and p.line is None


def test_header_only(tmp_path):
    (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,value\n"))
    assert "header but no data rows" in p.message


def test_missing_file_and_folder(tmp_path):
    (p,) = problems(lambda f: read_table(f, SCHEMA), tmp_path / "absent.csv")
    assert "does not exist" in p.message and p.file == str(tmp_path / "absent.csv")
    (p,) = problems(lambda f: read_table(f, SCHEMA), tmp_path)
    assert "is a folder" in p.message


def test_non_utf8_byte_reports_its_line(tmp_path):
    raw = b"id,kind,value\na,park,1\nb,road,2\n" + b"Z\xfcrich,park,3\nd,road,4\n"
    (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, raw))
    assert p.line == 4 and "byte 0xfc is not UTF-8" in p.message
    assert str(p).startswith(f"{tmp_path / 'table.csv'} line 4: ")


def test_non_utf8_after_a_multiline_cell(tmp_path):
    raw = b'id,kind,value\n"a\nb",park,1\nc,road,\xe9\n'
    (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, raw))
    assert p.line == 4  # physical line of the byte


def test_utf8_bom_is_accepted(tmp_path):
    frame = read_table(write(tmp_path, "\ufeffid,kind,value\na,park,1\n"), SCHEMA)
    assert list(frame.columns[:3]) == ["id", "kind", "value"]


def test_decimal_comma(tmp_path):
    (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, 'id,kind,value\na,park,1\nb,road,"3,75"\n'))
    assert (p.line, p.column) == (3, "value")
    assert "'3,75' uses a decimal comma; write 3.75" in p.message


def test_unquoted_decimal_comma_is_a_ragged_row(tmp_path):
    (p,) = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, "id,kind,value\na,park,1\nb,road,3,75\n"))
    assert p.line == 3 and "has 4 fields, expected 3" in p.message


def test_ragged_rows_with_line_numbers_after_a_multiline_cell(tmp_path):
    text = 'id,kind,value\n"x\ny",park,1\nb,road\nc,school,2,9\nd,park,4\n'
    found = problems(lambda f: read_table(f, SCHEMA), write(tmp_path, text))
    assert [(p.line, p.message) for p in found] == [
        (4, "has 2 fields, expected 3 as in the header"),
        (5, "has 4 fields, expected 3 as in the header"),
    ]


def test_read_rows_lines(tmp_path):
    header, rows, _ = read_rows(write(tmp_path, 'a,b\n1,"two\nlines"\n\n3,4\n'))
    assert header == ["a", "b"]
    assert [line for line, _ in rows] == [2, 5]


# --- the city-level readers ---------------------------------------------------------------------------------------

def test_cities_bad_region_with_suggestion(tmp_path):
    text = f"{CITIES_HEADER}\nseoul,Seoul,KR,Asia,37.5,127.0,9700000\nparis,Paris,FR,Eurpoe,48.9,2.35,2100000\n"
    (p,) = problems(read_cities, write(tmp_path, text, "cities.csv"))
    assert (p.line, p.column) == (3, "region") and "did you mean 'Europe'" in p.message


def test_cities_contract_checks(tmp_path):
    text = f"{CITIES_HEADER}\nSeoul City,Seoul,KRR,Asia,137.5,127.0,0\nparis,Paris,FR,Europe,48.9,2.35,2100000\n"
    found = problems(read_cities, write(tmp_path, text, "cities.csv"))
    where = {(p.line, p.column): p.message for p in found}
    assert "write 'seoul-city'" in where[(2, "city")]
    assert "unknown country 'KRR'" in where[(2, "country")]
    assert "between -90 and 90" in where[(2, "lat")]
    assert "above 0" in where[(2, "population")]
    assert len(found) == 4


def test_cities_duplicate_id(tmp_path):
    text = f"{CITIES_HEADER}\nparis,Paris,FR,Europe,48.9,2.35,2100000\nparis,Paris 2,FR,Europe,48.9,2.35,2100000\n"
    (p,) = problems(read_cities, write(tmp_path, text, "cities.csv"))
    assert (p.line, p.column) == (3, "city") and "duplicate city 'paris' (first on line 2)" in p.message


def test_cities_report_all_problems_together(tmp_path):
    text = (f"{CITIES_HEADER}\nparis,Paris,Frnace,Europe,48.9,2.35,2100000\n"
            "paris,Paris 2,FR,Europe,48.9,2.35,2100000\n")
    found = problems(read_cities, write(tmp_path, text, "cities.csv"))
    assert {(p.line, p.column) for p in found} == {(2, "country"), (3, "city")}


def test_cities_extra_column_decimal_comma(tmp_path):
    text = (f"{CITIES_HEADER},gdp\nseoul,Seoul,KR,Asia,37.5,127.0,9700000,\"1,5\"\n"
            "paris,Paris,FR,Europe,48.9,2.35,2100000,2.5\n")
    (p,) = problems(read_cities, write(tmp_path, text, "cities.csv"))
    assert (p.line, p.column) == (2, "gdp") and "decimal comma" in p.message


def test_cities_extra_columns_typed(tmp_path):
    text = (f"{CITIES_HEADER},gdp,tier\nseoul,Seoul,KR,Asia,37.5,127.0,9700000,1.5,alpha\n"
            "paris,Paris,FR,Europe,48.9,2.35,2100000,,beta\n")
    frame = read_cities(write(tmp_path, text, "cities.csv"))
    assert frame.gdp.dtype == float and math.isnan(frame.gdp[1])
    assert list(frame.tier) == ["alpha", "beta"]


def test_indicators_second_value(tmp_path):
    text = "city,indicator,value,year\nseoul,x,1,2020\nseoul,x,2,2021\nseoul,x,3,2020\n"
    (p,) = problems(read_indicators, write(tmp_path, text, "ind.csv"))
    assert p.line == 4 and "second value for city 'seoul', indicator 'x' in 2020 (first on line 2)" in p.message


def test_indicators_decimal_comma_and_missing_values(tmp_path):
    text = 'city,indicator,value\nseoul,x,"2,5"\nparis,x,\n'
    (p,) = problems(read_indicators, write(tmp_path, text, "ind.csv"))
    assert (p.line, p.column) == (2, "value") and "decimal comma" in p.message
    frame = read_indicators(write(tmp_path, "city,indicator,value\nseoul,x,2.5\nparis,x,\n", "ok.csv"))
    assert frame.value[0] == 2.5 and math.isnan(frame.value[1])


@pytest.mark.parametrize("cell", ["1e308", "-1.7e308", "1e101", "1e999"])
def test_a_value_beyond_the_largest_magnitude_is_refused_with_what_to_do(tmp_path, cell):
    small = write(tmp_path, f"city,indicator,value\nseoul,x,20\nparis,x,{cell}\n", "small.csv")
    large = write(tmp_path, "city,indicator,value\n" + "".join(f"c{i},x,{i}\n" for i in range(1500))
                  + f"paris,x,{cell}\n", "large.csv")  # read at once, not cell by cell
    wide = write(tmp_path, f"id,x\nseoul,20\nparis,{cell}\n", "wide.csv")
    for path, read in ((small, read_indicators), (large, read_indicators),
                       (wide, lambda p: wide_indicators(p, ["id"], {"x": "x"}))):
        (p,) = problems(read, path)
        assert p.line == (1502 if path == large else 3) and p.column in ("value", "x")
        assert p.message.startswith(f"{cell!r} is too large for a number: values beyond ±{LARGEST_VALUE:g}")
        assert "rescale the column's unit" in p.message
    edge = read_indicators(write(tmp_path, "city,indicator,value\nseoul,x,-1e100\nparis,x,1e100\n", "edge.csv"))
    assert edge.value.tolist() == [-LARGEST_VALUE, LARGEST_VALUE]


def test_bundled_tables_read_cleanly():
    cities = read_cities(PACKAGE_DATA / "cities" / "cities.csv")
    assert len(cities) == 31 and cities.city.is_unique
    inventory = read_inventory(PACKAGE_DATA / "sci2022" / "inventory.csv")
    assert len(inventory) == 397 and set(inventory.city_id) <= set(cities.city)


def inventory_rows(n: int) -> list[list[str]]:
    text = (PACKAGE_DATA / "sci2022" / "inventory.csv").read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))[: n + 1]


def csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def test_inventory_bad_codes(tmp_path):
    rows = inventory_rows(3)
    header = rows[0]
    rows[1][header.index("item_type")] = "stratgy"
    rows[3][header.index("id")] = rows[2][header.index("id")]
    rows[3][header.index("inclusive")] = "sometimes"
    found = problems(read_inventory, write(tmp_path, csv_text(rows), "inventory.csv"))
    where = {(p.line, p.column): p.message for p in found}
    assert "did you mean 'strategy'" in where[(2, "item_type")]
    assert f"duplicate id {rows[2][0]!r} (first on line 3)" in where[(4, "id")]
    assert "'sometimes' is not true or false" in where[(4, "inclusive")]


def test_inventory_missing_required_column(tmp_path):
    rows = inventory_rows(2)
    j = rows[0].index("lead_actor")
    found = problems(read_inventory, write(tmp_path, csv_text([r[:j] + r[j + 1:] for r in rows]), "inventory.csv"))
    assert any("missing column 'lead_actor'" in p.message and p.line == 1 for p in found)


def test_noted_year_reads_back_the_year_a_missing_code_note_was_written_with():
    from collections import Counter

    import pandas as pd

    from smartcities.io.tables import _notes, noted_year

    notes = _notes("data.csv", ",", 0, Counter({("c1", "x", "2019", "999"): 2, ("c2", "x", "", "999"): 1}))
    years = noted_year(pd.Series([n["detail"] for n in notes]))
    assert years.iloc[0] == "2019" and pd.isna(years.iloc[1])


def test_a_missing_column_names_the_header_column_that_looks_like_it(tmp_path):
    for header, hint in (("city,Name,country", "; is it 'Name'?"), ("city,nme,country", "; is it 'nme'?"),
                         ("city,label,country", "")):
        path = tmp_path / "cities.csv"
        path.write_text(f"{header}\nx,X,FR\n", encoding="utf-8")
        with pytest.raises(InputError) as err:
            read_cities(path)
        assert [p.message for p in err.value.problems] == [f"missing column 'name' (text){hint}"]
