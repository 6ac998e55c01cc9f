"""The sensor store: its tables made on first use, one unit of work committed whole or not at all."""

from __future__ import annotations

import pytest

from smartcities.errors import InputError
from smartcities.io.documents import line_at
from smartcities.sensors.store import connect, transaction


def count(path) -> int:
    db = connect(path, read_only=True)
    try:
        return db.execute("select count(*) from things").fetchone()[0]
    finally:
        db.close()


def test_a_transaction_commits_whole_or_leaves_the_store_as_it_was(tmp_path):
    store = tmp_path / "s.duckdb"
    with transaction(store) as db:
        db.execute("insert into things values ('a', 'A', '', '{}')")
    assert count(store) == 1
    with pytest.raises(RuntimeError), transaction(store) as db:
        db.execute("insert into things values ('b', 'B', '', '{}')")
        raise RuntimeError("a bad file")
    assert count(store) == 1


def test_a_failed_transaction_leaves_no_new_store_behind(tmp_path):
    store = tmp_path / "new.duckdb"
    with pytest.raises(RuntimeError), transaction(store) as db:
        db.execute("insert into things values ('a', 'A', '', '{}')")
        raise RuntimeError("a bad file")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="sensor store does not exist"):
        connect(store, read_only=True)


def test_a_missing_store_is_refused_for_reading(tmp_path):
    with pytest.raises(InputError, match="sensor store does not exist"):
        connect(tmp_path / "none.duckdb", read_only=True)


def test_line_at_falls_back_to_the_nearest_parent():
    lines = {("indicators",): 3, ("indicators", "pm25"): 4}
    assert line_at(lines, ("indicators", "pm25", "bucket")) == 4
    assert line_at(lines, ("indicators", "no2")) == 3 and line_at(lines, ("period",)) is None
