"""Missing-value codes: declared ones become missing cells, logged; undeclared ones are flagged as suspects."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_IDATA, ASEM_STANDARD, PACKAGE_DATA, SHARED, need_shared

from smartcities.build import load_spec
from smartcities.errors import InputError
from smartcities.inputs import load_inputs
from smartcities.io.coinr import IMETA
from smartcities.io.inventory import read_indicators, read_inventory
from smartcities.io.missing import MissingCodes, suspected_codes
from smartcities.io.tables import Field, Schema, read_table
from smartcities.io.wide import wide_indicators
from smartcities.model.spec import parse_spec

AU = SHARED / "data" / "au_national_cities_performance_framework" / "data_file.csv"
WIDE = Schema((Field("city", nullable=False),), extra="float")
# the indicators of the Australian file that hold 999.01, and how many cities hold it in each
AU_CODED = {"peak_travel_delay": 13, "air_quality": 7, "office_energy_efficiency": 4, "public_transport_access": 4,
            "greenhouse_gas": 2, "house_price_to_income_ratio": 1, "housing_construction_costs": 1,
            "jobs_accessible_proportion": 1, "jobs_accessible_number": 1, "gross_regional_product": 1}


def test_codes_match_numbers_as_numbers_and_text_after_strip():
    codes = MissingCodes.of([999.01, "n/a", -9999])
    assert codes.match("999.010") == "999.01" and codes.match("9.9901e2") == "999.01"
    assert codes.match("-9999.0") == "-9999" and codes.match("n/a") == "'n/a'"
    assert codes.match("999.011") is None and codes.match("N/A") is None and codes.match("nan") is None
    assert not MissingCodes.of() and codes


def test_australian_codes_become_missing_and_are_counted():
    need_shared(AU)
    raw = read_table(AU, WIDE)
    assert int((raw.drop(columns=["city", "_line"]) == 999.01).sum().sum()) == 35
    frame = read_table(AU, WIDE, MissingCodes.of([999.01, "n/a", "-"]))
    values = frame.drop(columns=["city", "_line"])
    assert int((values == 999.01).sum().sum()) == 0
    assert int(values.isna().sum().sum()) == int(raw.drop(columns=["city", "_line"]).isna().sum().sum()) + 35
    notes = pd.DataFrame(frame.attrs["log"])
    assert set(notes.action) == {"missing-code"} and set(notes.severity) == {"note"}
    assert notes["count"].sum() == 35
    assert notes.groupby("indicator")["count"].sum().to_dict() == AU_CODED
    assert {"Darwin", "Western Sydney"} <= set(notes.unit)
    assert notes.detail.str.contains("999.01 in .*data_file.csv").all()


def test_codes_in_a_long_table_name_the_indicator_and_city(tmp_path):
    need_shared(AU)
    wide = read_table(AU, Schema((Field("city", nullable=False),), extra="text"))
    long = wide.drop(columns="_line").melt(id_vars="city", var_name="indicator")
    path = tmp_path / "indicators.csv"
    long.to_csv(path, index=False)
    frame = read_indicators(path, MissingCodes.of([999.01]))
    assert frame.value.isna().sum() == 35 + int((long.value.isna() | (long.value == "")).sum())
    notes = pd.DataFrame(frame.attrs["log"])
    assert notes.groupby("indicator")["count"].sum().to_dict() == AU_CODED
    coded = long[long.value == "999.01"]
    assert sorted(zip(notes.unit, notes.indicator)) == sorted(zip(coded.city, coded.indicator))


def test_text_codes_in_the_inventory_only_where_declared(tmp_path):
    inventory = pd.read_csv(PACKAGE_DATA / "sci2022" / "inventory.csv", dtype=str, keep_default_na=False)
    inventory.loc[1, "start_year"] = " n/a "
    path = tmp_path / "inventory.csv"
    inventory.to_csv(path, index=False)
    with pytest.raises(InputError, match="line 3, column start_year: 'n/a' is not a whole number"):
        read_inventory(path)
    frame = read_inventory(path, MissingCodes.of(["n/a"]))
    assert pd.isna(frame.start_year[1]) and frame.start_year[2] == int(inventory.start_year[2])
    (note,) = frame.attrs["log"]
    assert note["indicator"] == "start_year" and note["unit"] == "Amsterdam" and note["count"] == 1
    assert f"'n/a' in {path} read as missing" in note["detail"]


@pytest.mark.parametrize("word", ["NA", "nan", "NaN", "null", "None", "n/a", "-"])
def test_a_word_in_a_number_cell_is_an_error_until_the_spec_declares_it_a_code(tmp_path, word):
    small = tmp_path / "indicators.csv"
    small.write_text(f"city,indicator,value\nseoul,x,2.5\nparis,x,{word}\n")
    large = tmp_path / "large.csv"  # read at once, not cell by cell
    large.write_text("city,indicator,value\n" + "".join(f"c{i},x,{i}\n" for i in range(1500)) + f"paris,x,{word}\n")
    wide = tmp_path / "wide.csv"
    wide.write_text(f"id,x\nseoul,2.5\nparis,{word}\n")
    for path, read in ((small, read_indicators), (large, read_indicators),
                       (wide, lambda p, *codes: wide_indicators(p, ["id"], {"x": "x"}, "utf-8", *codes))):
        with pytest.raises(InputError) as err:
            read(path)
        (problem,) = err.value.problems
        assert problem.line == (1502 if path == large else 3) and problem.column in ("value", "x")
        assert f"{word!r} is not a number" in problem.message
        assert problem.message.endswith("if it means missing, add it to the spec's missing_values")
        frame = read(path, MissingCodes.of([word]))
        assert math.isnan(frame.value.iloc[-1]) and frame.value.notna().sum() == len(frame) - 1
        (note,) = frame.attrs["log"]
        assert note["action"] == "missing-code" and note["count"] == 1
    with pytest.raises(InputError, match=f"{word!r} is not a number; leave the cell empty if it has no value"):
        read_table(write_imeta(tmp_path, word), IMETA)  # metadata, which the spec's codes do not apply to


def write_imeta(folder: Path, weight: str) -> Path:
    path = folder / "iMeta.csv"
    path.write_text(f"Level,iCode,Direction,Weight,Parent,Type\n1,x,1,1,top,Indicator\n2,top,,{weight},,Aggregate\n")
    return path


def test_a_code_where_a_value_is_required_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("city,value\nn/a,1\nb,2\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_table(path, WIDE, MissingCodes.of(["n/a"]))
    (p,) = err.value.problems
    assert p.line == 2 and p.column == "city" and "'n/a' is a missing-value code" in p.message


def test_spec_key_is_checked():
    spec = parse_spec("framework: sci-2022\nmissing_values: [999.01, n/a, '-', -9999]\npipeline: []\n",
                      Path("s.yaml"))
    assert spec.model.missing_values == [999.01, "n/a", "-", -9999.0]
    assert parse_spec("framework: sci-2022\npipeline: []\n", Path("s.yaml")).model.missing_values == []
    for bad in ("[true]", "[.nan]", "999", "[[1]]"):
        with pytest.raises(InputError) as err:
            parse_spec(f"framework: sci-2022\nmissing_values: {bad}\npipeline: []\n", Path("s.yaml"))
        (p,) = err.value.problems
        assert p.line == 2 and "is not a missing-value code" in p.message


def _au_coinr_spec(folder: Path, codes: str | None) -> Path:
    """The Australian table as a COINr pair: one iMeta row per indicator, all under one index."""
    wide = read_table(AU, Schema((Field("city", nullable=False),), extra="text")).drop(columns="_line")
    wide.rename(columns={"city": "uCode"}).to_csv(folder / "iData.csv", index=False)
    leaves = [c for c in wide.columns if c != "city"]
    meta = pd.DataFrame({"Level": 1, "iCode": leaves, "Direction": 1, "Weight": 1, "Parent": "Index",
                         "Type": "Indicator"})
    top = pd.DataFrame([{"Level": 2, "iCode": "Index", "Direction": 1, "Weight": 1, "Parent": "",
                         "Type": "Aggregate"}])
    pd.concat([meta, top]).to_csv(folder / "iMeta.csv", index=False)
    spec = folder / "au.yaml"
    declared = f"missing_values: {codes}\n" if codes else ""
    spec.write_text("name: AU\ndata: {format: coinr, idata: iData.csv, imeta: iMeta.csv}\n" + declared
                    + "pipeline:\n  - normalise: {method: minmax}\n  - aggregate: {method: arithmetic}\n",
                    encoding="utf-8")
    return spec


def test_undeclared_australian_code_is_flagged_and_declared_one_is_logged(tmp_path):
    need_shared(AU)
    undeclared = load_inputs(load_spec(_au_coinr_spec(tmp_path, None))).log.table
    assert set(undeclared.severity) == {"warning"} and set(undeclared.action) == {"suspected-missing-code"}
    flagged = dict(zip(undeclared.indicator, undeclared["count"]))
    assert flagged == {k: n for k, n in AU_CODED.items() if n >= 2}
    assert undeclared.detail.str.contains("exactly 999.01, the indicator's maximum").all()
    assert undeclared.detail.str.contains("5 cells of other indicators hold it too").all()

    declared = load_inputs(load_spec(_au_coinr_spec(tmp_path, "[999.01]")))
    log = declared.log.table
    assert set(log.action) == {"missing-code"} and log["count"].sum() == 35 and not len(declared.log.warnings())
    assert np.isnan(declared.X).sum() == np.isnan(load_inputs(load_spec(_au_coinr_spec(tmp_path, None))).X).sum() + 35


def test_real_data_without_codes_is_not_flagged():
    need_shared(ASEM_IDATA)
    asem = load_inputs(load_spec(ASEM_STANDARD))
    assert suspected_codes(asem.X) == [] and len(asem.log) == 0
    demo = load_inputs(load_spec(PACKAGE_DATA / "demo" / "sci2022.yaml"))
    assert suspected_codes(demo.X) == [] and len(demo.log) == 0


def test_the_rule_on_shapes_that_must_and_must_not_be_flagged():
    rng = np.random.default_rng(1)
    shares = rng.uniform(0.2, 0.9, 40)
    capped = np.minimum(rng.uniform(60, 130, 40), 100)  # many units at exactly 100 %, next to the rest
    yes_no = (rng.uniform(size=40) > 0.7).astype(float)
    heavy = np.exp(rng.normal(0, 2, 40))  # a heavy tail, its maximum held twice
    heavy[[3, 7]] = heavy.max() * 1.5
    counts = rng.integers(0, 50, 40).astype(float)
    counts[[0, 5, 9]] = -9999
    coded = shares.copy()
    coded[[1, 2]] = 999.01
    X = np.column_stack([shares, capped, yes_no, heavy, counts, coded])
    found = suspected_codes(X)
    assert [(s.column, s.value, s.count, s.side) for s in found] == [(4, -9999, 3, "minimum"),
                                                                      (5, 999.01, 2, "maximum")]
    assert all(s.elsewhere == 0 for s in found)
    few = np.array([[1.0], [999.01], [999.01], [2.0], [3.0]])  # too few other values to judge
    assert suspected_codes(few) == [] and suspected_codes(np.full((10, 1), math.nan)) == []
