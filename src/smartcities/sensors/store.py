"""The sensor store: one DuckDB file in the OGC SensorThings data model.

A Thing (a station, a counter, a pole) has a Location and Datastreams; a Datastream is the series of one
ObservedProperty measured by one Sensor on one Thing; an Observation is one (time, value) of a Datastream. Times are
UTC timestamps. An observation is unique by (datastream, time), so importing a file twice adds nothing; `imports`
records every file by its SHA-256. Quality flags (`sensors qc`) live beside the observations in `flags`.

`observations` has no primary-key index, for bulk-import speed (an index costs more to build than the import itself):
uniqueness by (datastream_id, time) is kept by every import instead, which drops a file's own repeats and anti-joins
against the stored rows (`ingest.store_observations`). Sessions run in UTC, so naive times are read as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..errors import InputError
from ..io.outputs import discard_new_store, folder_for

SCHEMA = """
create table if not exists things (
    thing_id varchar primary key, name varchar, description varchar, properties json);
create table if not exists locations (
    thing_id varchar primary key, lat double not null, lon double not null, name varchar);
create table if not exists sensors (
    sensor_id varchar primary key, name varchar, description varchar);
create table if not exists observed_properties (
    property varchar primary key, name varchar, definition varchar, unit varchar);
create table if not exists datastreams (
    datastream_id integer primary key, thing_id varchar not null, sensor_id varchar not null,
    property varchar not null, unit varchar, unique (thing_id, sensor_id, property));
create table if not exists observations (
    datastream_id integer not null, time timestamp not null, value double not null);
create table if not exists flags (
    datastream_id integer not null, time timestamp not null, flag varchar not null, detail varchar,
    primary key (datastream_id, time, flag));
create table if not exists imports (
    source varchar, sha256 varchar primary key, format varchar, observations bigint, imported_at timestamp);
"""
FLAGS = ("out-of-range", "spike", "stuck", "duplicate", "gap")


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The store at `path`, its tables created when it is new (a read-only store must exist)."""
    path = Path(path)
    if read_only and not path.exists():
        raise InputError.single(path, "sensor store does not exist; create it with `smartcities sensors import`")
    if not read_only:
        folder_for(path)
    try:
        db = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as err:
        raise InputError.single(path, f"cannot open the sensor store: {err}") from None
    db.execute("set TimeZone = 'UTC'")
    if not read_only:
        db.execute(SCHEMA)
    return db


@contextmanager
def transaction(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store at `path` for one unit of work: committed whole when the block ends, rolled back on any error
    (a bad file changes nothing, and a store the block created is removed), closed either way."""
    new = not Path(path).exists()
    db = connect(path)
    try:
        db.begin()
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        db.close()
        if new:
            discard_new_store(Path(path))
        raise
    db.close()
