"""The float columns of a large table read at once give the same frame as the cell-by-cell reading, and a bad
cell in such a column is still named by line and column."""

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


def test_fast_columns_equal_the_cell_by_cell_reading(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    a = [repr(v) for v in (rng.normal(0, 1e3, 2000) * 10.0 ** rng.integers(-6, 6, 2000)).tolist()]
    b = [f"{v:.4f}" for v in rng.uniform(0, 1, 2000)]
    b[5] = ""  # an empty cell: b is read cell by cell, a at once
    path = write(tmp_path / "t.csv", a, b)
    assert set(tables._fast_columns(*tables.read_rows(path)[:2], [SCHEMA.field(c) for c in ("city", "a", "b")],
                                    MissingCodes(), False)) == {"a"}
    fast = read_table(path, SCHEMA)
    monkeypatch.setattr(tables, "_fast_columns", lambda *args: {})
    slow = read_table(path, SCHEMA)
    pd.testing.assert_frame_equal(fast, slow)
    assert np.isnan(fast["b"].iloc[5]) and fast["a"].tolist() == [float(x) for x in a]


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
