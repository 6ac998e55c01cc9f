"""The embedded store: one DuckDB file holding imported tables and a record of every run.

Imports are atomic: the file is fully checked by the same reader a build uses before anything is written,
and the table is replaced inside one transaction, so a bad file changes nothing; a store the failing command
created is removed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .errors import InputError, one_of
from .io.outputs import discard_new_store, folder_for
from .io.tables import file_hash

KINDS = ("cities", "inventory", "indicators")


class Store:
    """A DuckDB file. Use as a context manager; tables are named by the user (default: the kind). A store the
    block created is removed when the block fails."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise InputError.single(self.path, "store does not exist; create it with `smartcities import`")
        self.new = not self.path.exists()
        if not read_only:
            folder_for(self.path)
        try:
            self.db = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as err:
            raise InputError.single(self.path, f"cannot open the store: {err}") from None
        if not read_only:
            self.db.execute("""
                create table if not exists imports (name varchar, kind varchar, source varchar, sha256 varchar,
                    rows integer, imported_at timestamp);
                create table if not exists runs (run_id varchar, started_at timestamp, spec_name varchar,
                    spec_sha256 varchar, inputs json, outputs json, versions json, seconds double);
                create table if not exists run_scores (run_id varchar, city varchar, node varchar, level integer,
                    score double, rank integer, grade integer);
            """)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.db.close()
        if exc_type is not None and self.new:
            discard_new_store(self.path)

    def tables(self) -> list[str]:
        return [r[0] for r in self.db.execute("select name from imports group by name order by name").fetchall()]

    def table(self, name: str) -> pd.DataFrame:
        known = self.tables()
        if name not in known:
            raise InputError.single(self.path, "table " + one_of(name, known) if known else
                                    f"table {name!r} not found: the store holds no imported tables")
        frame = self.db.execute(f'select * from "{name}"').df()
        for col in frame.columns:  # list columns (technologies) come back as lists or arrays: tuples, as read
            if frame[col].dtype == object and frame[col].map(lambda v: isinstance(v, (list, np.ndarray))).any():
                frame[col] = frame[col].map(lambda v: tuple(v) if isinstance(v, (list, np.ndarray)) else v)
        return frame

    def import_table(self, kind: str, path: str | Path, name: str | None = None) -> int:
        """Check `path` as a table of `kind` and replace table `name` with it, all or nothing."""
        from .io.inventory import read_cities, read_indicators, read_inventory

        readers = {"cities": read_cities, "inventory": read_inventory, "indicators": read_indicators}
        if kind not in readers:
            raise InputError.single(path, "kind " + one_of(kind, KINDS))
        frame = readers[kind](path).drop(columns=["_line"], errors="ignore")
        for col in frame.columns:
            if frame[col].map(lambda v: isinstance(v, tuple)).any():
                frame[col] = frame[col].map(lambda v: list(v) if isinstance(v, tuple) else v)
        name = name or kind
        self.db.execute("begin transaction")
        try:
            self.db.register("incoming", frame)
            self.db.execute(f'create or replace table "{name}" as select * from incoming')
            self.db.unregister("incoming")
            self.db.execute("delete from imports where name = ?", [name])
            self.db.execute("insert into imports values (?, ?, ?, ?, ?, ?)",
                            [name, kind, str(path), file_hash(Path(path)), len(frame), _now()])
            self.db.execute("commit")
        except Exception:
            self.db.execute("rollback")
            raise
        return len(frame)

    def record_run(self, result, outputs: list[Path]) -> str:
        """Record a build: spec hash, input hashes, output files, versions, and its scores."""
        record = result.run_record()
        run_id = f"{record['spec_sha256'][:12]}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
        scores = result.scores_table().assign(run_id=run_id)[
            ["run_id", "city", "node", "level", "score", "rank", "grade"]]
        self.db.execute("begin transaction")
        try:
            self.db.execute("insert into runs values (?, ?, ?, ?, ?, ?, ?, ?)", [
                run_id, _now(), record["name"], record["spec_sha256"], json.dumps(record["inputs_sha256"]),
                json.dumps([str(p) for p in outputs]), json.dumps(record["versions"]), record["seconds"]])
            self.db.register("incoming", scores)
            self.db.execute("insert into run_scores select * from incoming")
            self.db.unregister("incoming")
            self.db.execute("commit")
        except Exception:
            self.db.execute("rollback")
            raise
        return run_id

    def runs(self) -> pd.DataFrame:
        return self.db.execute("select * from runs order by started_at").df()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
