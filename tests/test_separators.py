"""Tables separated by semicolons, tabs or '|' read like comma-separated ones; semicolon files may use decimal
commas; when the header still does not fit, the error says which separator was found."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_IDATA, ASEM_IMETA, ASEM_STANDARD, PACKAGE_DATA, SHARED, need_shared

from smartcities.build import load_spec
from smartcities.errors import InputError
from smartcities.inputs import load_inputs
from smartcities.io.coinr import read_coinr
from smartcities.io.inventory import read_cities, read_indicators, read_inventory
from smartcities.io.tables import Field, Schema, detect_separator, read_table

AU = SHARED / "data" / "au_national_cities_performance_framework" / "data_file.csv"
CITIES = PACKAGE_DATA / "cities" / "cities.csv"
INVENTORY = PACKAGE_DATA / "sci2022" / "inventory.csv"


def convert(source, target, separator: str, decimal_comma: bool = False):
    """`source` rewritten with another separator (and, if asked, a comma as decimal mark in every number)."""
    with open(source, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if decimal_comma:
        rows = [rows[0]] + [[_comma(c) for c in row] for row in rows[1:]]
    with open(target, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=separator, lineterminator="\n").writerows(rows)
    return target


def _comma(cell: str) -> str:
    try:
        float(cell)
    except ValueError:
        return cell
    return cell.replace(".", ",") if "e" not in cell.lower() else cell


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_detect_separator(separator):
    assert detect_separator(separator.join(["city", "name", "value"]) + "\n1,5" + separator + "x\n") == separator


def test_detect_separator_ignores_separators_inside_quotes():
    assert detect_separator('"a;b";"c,d,e"\n') == ";"
    assert detect_separator('"a;b;c",d\n') == ","
    assert detect_separator("city\n") == ","


def test_semicolon_file_with_decimal_commas_reads_as_the_original(tmp_path):
    need_shared(AU)
    schema = Schema((Field("city", nullable=False),), extra="float")
    original = read_table(AU, schema)
    path = convert(AU, tmp_path / "data_file.csv", ";", decimal_comma=True)
    assert "0,0191369361146501" in path.read_text(encoding="utf-8")
    frame = read_table(path, schema)
    assert frame.attrs["separator"] == ";"
    pd.testing.assert_frame_equal(frame.drop(columns="_line"), original.drop(columns="_line"), check_like=True)
    (note,) = frame.attrs["log"]
    assert note["action"] == "separator" and note["severity"] == "note"
    assert f"{path} read as semicolon-separated, with decimal commas" in note["detail"]


def test_tab_separated_coinr_pair_builds_the_same_inputs(tmp_path):
    need_shared(ASEM_IDATA, ASEM_IMETA)
    idata = convert(ASEM_IDATA, tmp_path / "ASEM_iData.csv", "\t")
    imeta = convert(ASEM_IMETA, tmp_path / "ASEM_iMeta.csv", "\t")
    tab, comma = read_coinr(idata, imeta), read_coinr(ASEM_IDATA, ASEM_IMETA)
    np.testing.assert_array_equal(tab.values, comma.values)
    assert tab.units == comma.units and tab.framework.leaves() == comma.framework.leaves()
    spec = tmp_path / "asem.yaml"
    spec.write_text(ASEM_STANDARD.read_text(encoding="utf-8").replace("../data/coinr_asem/", ""), encoding="utf-8")
    log = load_inputs(load_spec(spec)).log.table
    assert list(log.action) == ["separator", "separator"]
    assert log.detail.str.contains("read as tab-separated").all() and set(log.severity) == {"note"}


def test_semicolon_cities_and_pipe_inventory(tmp_path):
    cities = read_cities(convert(CITIES, tmp_path / "cities.csv", ";", decimal_comma=True))
    pd.testing.assert_frame_equal(cities.drop(columns="_line"), read_cities(CITIES).drop(columns="_line"))
    inventory = read_inventory(convert(INVENTORY, tmp_path / "inventory.csv", "|"))
    assert inventory.attrs["separator"] == "|"
    pd.testing.assert_frame_equal(inventory.drop(columns="_line"), read_inventory(INVENTORY).drop(columns="_line"))


def test_decimal_commas_stay_an_error_in_a_comma_file(tmp_path):
    path = tmp_path / "indicators.csv"
    path.write_text('city,indicator,value\nseoul,pm25,"3,5"\n', encoding="utf-8")
    with pytest.raises(InputError, match="'3,5' uses a decimal comma"):
        read_indicators(path)
    path.write_text("city;indicator;value\nseoul;pm25;3,5\n", encoding="utf-8")
    assert read_indicators(path).value.tolist() == [3.5]


def test_header_that_does_not_fit_names_the_separator_found(tmp_path):
    path = convert(CITIES, tmp_path / "cities.csv", ";")
    path.write_text(path.read_text(encoding="utf-8").replace("city;name;", "city;nme;", 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_cities(path)
    messages = [p.message for p in err.value.problems]
    assert any("missing column 'name'" in m for m in messages)
    assert any("header line was read as semicolon-separated, giving 7 columns" in m for m in messages)
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("city indicator value\nseoul pm25 3.5\n", encoding="utf-8")
    with pytest.raises(InputError, match="read as comma-separated, giving 1 column;"):
        read_indicators(spaced)


def test_a_thousands_point_is_refused_where_the_file_writes_decimal_commas(tmp_path):
    path = tmp_path / "indicators.csv"
    path.write_text("city;indicator;value\nseoul;pm25;3,5\nseoul;population;741.636\nseoul;share;0.125\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_indicators(path)
    (p,) = err.value.problems
    assert (p.line, p.column) == (3, "value")
    assert "'741.636' is ambiguous" in p.message and "write 741636" in p.message and "741,636" in p.message
    path.write_text("city;indicator;value\nseoul;pm25;3.5\nseoul;lat;37.566\n", encoding="utf-8")
    assert read_indicators(path).value.tolist() == [3.5, 37.566]  # points throughout: plain decimals
