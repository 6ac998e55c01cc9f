"""The columns of a large table read at once (floats, empty cells among them, texts, enums) give the same frame as
the cell-by-cell reading, and a bad cell in such a column is still named by line and column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smartcities.errors import InputError
from smartcities.io import tables
from smartcities.io.missing import MissingCodes
from smartcities.io.tables import Field, Schema, read_table

SCHEMA = Schema(fields=(Field("city", "text", nullable=False), Field("a", "float"), Field("b", "float")),
                unique=("city",))


def write(path, a, b):
    rows = "".join(f"c{i},{x},{y}\n" for i, (x, y) in enumerate(zip(a, b)))
    path.write_text("city,a,b\n" + rows, encoding="utf-8")
    return path


def one_by_one(monkeypatch, path, schema):
    """The table read line by line and cell by cell."""
    with monkeypatch.context() as m:
        m.setattr(tables, "read_clean", lambda *args: None)
        m.setattr(tables, "_fast_columns", lambda *args: {})
        return read_table(path, schema)


def test_fast_columns_equal_the_cell_by_cell_reading(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    a = [repr(v) for v in (rng.normal(0, 1e3, 2000) * 10.0 ** rng.integers(-6, 6, 2000)).tolist()]
    b = [f"{v:.4f}" for v in rng.uniform(0, 1, 2000)]
    b[5], b[6] = "", "  "  # empty cells: NaN
    path = write(tmp_path / "t.csv", a, b)
    header, lines, cells, _ = tables.read_clean(path)
    assert set(tables._fast_columns(cells, [SCHEMA.field(c) for c in header], MissingCodes())) == {"city", "a", "b"}
    fast = read_table(path, SCHEMA)
    slow = one_by_one(monkeypatch, path, SCHEMA)
    pd.testing.assert_frame_equal(fast, slow)
    assert np.isnan(fast["b"].iloc[5]) and np.isnan(fast["b"].iloc[6]) and fast["a"].tolist() == [float(x) for x in a]


ENUMS = Schema(fields=(Field("city", "text", nullable=False), Field("kind", "enum", values=("x", "y")),
                       Field("note", "text")))


def test_text_and_enum_columns_read_at_once_equal_the_cell_by_cell_reading(tmp_path, monkeypatch):
    rows = "".join(f"c{i}, {'xy'[i % 2]} ,{'' if i % 3 else f'note {i}'}\n" for i in range(1500))
    path = tmp_path / "t.csv"
    path.write_text("city,kind,note\n" + rows, encoding="utf-8")
    fast = read_table(path, ENUMS)
    pd.testing.assert_frame_equal(fast, one_by_one(monkeypatch, path, ENUMS))
    assert fast["kind"].iloc[1] == "y" and fast["note"].iloc[1] is None and fast["note"].iloc[3] == "note 3"


@pytest.mark.parametrize("cells, message", [({"kind": "z"}, "kind"), ({"city": ""}, "empty, expected text")])
def test_a_bad_text_or_enum_cell_of_a_large_column_is_named(tmp_path, cells, message):
    rows = [{"city": f"c{i}", "kind": "x", "note": "n/a"} for i in range(1500)]
    rows[700].update(cells)
    path = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_table(path, ENUMS)
    assert "line 702" in str(err.value) and message in str(err.value), str(err.value)


def test_text_missing_codes_in_a_large_table_are_counted(tmp_path):
    rows = "".join(f"c{i},x,{'n/a' if i == 9 else 'ok'}\n" for i in range(1500))
    path = tmp_path / "t.csv"
    path.write_text("city,kind,note\n" + rows, encoding="utf-8")
    frame = read_table(path, ENUMS, MissingCodes.of(["n/a"]))
    assert frame["note"].iloc[9] is None and frame["note"].iloc[8] == "ok"
    assert [row["count"] for row in frame.attrs["log"] if row["action"] == "missing-code"] == [1]


@pytest.mark.parametrize("cell, message", [("1e", "'1e' is not a number"), ("1,5", "uses a decimal comma; write 1.5"),
                                           ("inf", "'inf' is not a number")])
def test_a_bad_cell_of_a_large_column_is_named(tmp_path, cell, message):
    a = [str(float(i)) for i in range(1500)]
    a[700] = cell if "," not in cell else f'"{cell}"'
    path = write(tmp_path / "t.csv", a, a)
    with pytest.raises(InputError) as err:
        read_table(path, SCHEMA)
    assert "t.csv line 702, column a" in str(err.value) and message in str(err.value), str(err.value)


def test_missing_codes_in_a_large_column_are_read_as_missing_and_counted(tmp_path):
    a = [str(float(i)) for i in range(1500)]
    a[10] = "999.01"
    frame = read_table(write(tmp_path / "t.csv", a, a), SCHEMA, MissingCodes.of([999.01]))
    assert np.isnan(frame["a"].iloc[10]) and frame["a"].notna().sum() == 1499
    assert sum(row["count"] for row in frame.attrs["log"] if row["action"] == "missing-code") == 2


TYPED = Schema(fields=(Field("city", "text", nullable=False), Field("year", "int"), Field("ok", "bool"),
                       Field("v", "float")))


def test_a_plain_large_table_is_read_at_once_with_its_lines(tmp_path, monkeypatch):
    """Blank lines and CRLF endings keep every row's line; ints and booleans parse as cell by cell."""
    lines = ["city,year,ok,v"] + [f"c{i},{2000 + i % 20},{'yes' if i % 2 else 'FALSE'},{i / 7}" for i in range(1200)]
    lines[5:5] = ["", ",,,"]
    path = tmp_path / "t.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    header, at, cells, sep = tables.read_clean(path)
    assert header == ["city", "year", "ok", "v"] and sep == "," and at[:5].tolist() == [2, 3, 4, 5, 8]
    frame = read_table(path, TYPED)
    pd.testing.assert_frame_equal(frame, one_by_one(monkeypatch, path, TYPED))
    assert frame["_line"].iloc[4] == 8 and frame["year"].iloc[4] == 2004 and frame["ok"].iloc[4] == False  # noqa: E712


@pytest.mark.parametrize("change", ["quote", "ragged", "semicolon", "small"])
def test_other_tables_are_left_to_the_line_by_line_reading(tmp_path, change):
    rows = [f"c{i},{i}" for i in range(1200 if change != "small" else 50)]
    if change == "quote":
        rows[3] = '"c3",3'
    if change == "ragged":
        rows[3] = "c3,3,4"
    path = tmp_path / "t.csv"
    text = "\n".join(["city,v"] + rows) + "\n"
    path.write_text(text.replace(",", ";") if change == "semicolon" else text)
    assert tables.read_clean(path) is None
    if change == "ragged":
        with pytest.raises(InputError, match="line 5: has 3 fields, expected 2"):
            read_table(path, Schema(fields=(Field("city"), Field("v", "float"))))


ODD_CELLS = ["nan", "NaN", "-nan", "+nan", " nan ", "NA", " NA ", "Null", "none", "", "   ", "inf", "-Infinity",
             "1e5", "1E-5", "+.5", "1.", "1.e5", "  2.5\t", "0001", "1 5", "1e", "--1", "0x10", "1_0", "١٢", "nan(1)",
             "1.7000000000000001776", "0.00000000000001953", "4.9e-324", "1e308", "1e309", "-0.0"]


@pytest.mark.parametrize("cell", ODD_CELLS)
def test_a_float_column_parsed_at_once_reads_any_cell_as_the_cell_by_cell_reading(tmp_path, monkeypatch, cell):
    """Where read_clean parses a float column as numbers, each cell reads as `_parse` reads it, or the table goes
    to the reading that names the cell: same values, or the same message."""
    a = [repr(float(i) / 3) for i in range(1500)]
    a[700] = cell
    path = write(tmp_path / "t.csv", a, a[::-1])
    outcomes = []
    for read in (lambda: read_table(path, SCHEMA), lambda: one_by_one(monkeypatch, path, SCHEMA)):
        try:
            outcomes.append(read())
        except InputError as err:
            outcomes.append(str(err))
    fast, slow = outcomes
    if isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast, slow)


def test_a_plain_float_column_is_parsed_as_numbers_by_read_clean(tmp_path):
    a = [repr(float(i) / 7) for i in range(1500)]
    a[3] = ""
    path = write(tmp_path / "t.csv", a, [f"{i}.25" for i in range(1500)])
    _, _, cells, _ = tables.read_clean(path, SCHEMA)
    assert isinstance(cells["a"], np.ndarray) and np.isnan(cells["a"][3]) and cells["a"][4] == 4 / 7
    assert isinstance(cells["city"], list) and cells["city"][:2] == ["c0", "c1"]
    a[3] = "NULL"  # a word is no empty cell: read as text, for the cell-by-cell reading to name or to match a code
    _, _, cells, _ = tables.read_clean(write(tmp_path / "t.csv", a, [f"{i}.25" for i in range(1500)]), SCHEMA)
    assert cells["a"][3] == "NULL"


def test_checked_columns_read_at_once_equal_the_cell_by_cell_reading_and_a_failing_cell_is_named(
        tmp_path, monkeypatch):
    """A large cities table (checked columns: slug ids, known countries, coordinates in range) is read at once,
    its checks run on each distinct value, and gives the frame the cell-by-cell reading gives; one cell failing
    its check sends the column back to that reading, which names it."""
    from smartcities.io.inventory import CITIES_SCHEMA

    rows = [{"city": f"c{i}", "name": f"City {i}", "country": ["FR", "Australia", "KR"][i % 3],
             "lat": round(-40 + i * 0.03, 4), "lon": "" if i % 7 == 0 else round(100 + i * 0.01, 4)}
            for i in range(2000)]
    path = tmp_path / "cities.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    header, _, cells, _ = tables.read_clean(path)
    fields = [CITIES_SCHEMA.field(c) for c in header]
    assert set(tables._fast_columns(cells, fields, MissingCodes())) == set(header)
    pd.testing.assert_frame_equal(read_table(path, CITIES_SCHEMA), one_by_one(monkeypatch, path, CITIES_SCHEMA))
    rows[1500]["lat"] = 95.0
    pd.DataFrame(rows).to_csv(path, index=False)
    header, _, cells, _ = tables.read_clean(path)
    assert "lat" not in tables._fast_columns(cells, fields, MissingCodes())
    with pytest.raises(InputError) as err:
        read_table(path, CITIES_SCHEMA)
    assert "line 1502" in str(err.value) and "95 is out of range" in str(err.value), str(err.value)
