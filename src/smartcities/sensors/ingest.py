"""Import sensor files into the store, checked, in one transaction, without storing anything twice.

Every reader turns its format into one table `raw` (line, thing, sensor, property, unit, time_text, value_text, lat,
lon, value_at, thing_name); `stage` parses and checks it in bulk SQL and `store_observations` adds what is new. A
file whose SHA-256 was imported before is skipped, and an observation already stored (same datastream and time) is
not added again, so importing twice adds nothing. Times are stored in UTC: a time with an offset is converted, a
time without one is read as UTC, and a file mixing the two is refused because its naive times would be ambiguous.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ..errors import InputError, Problem, did_you_mean, display_name, one_of
from ..io.documents import load_json, load_yaml, read_text
from .store import transaction

FORMATS = ("auto", "long", "wide", "sensor-community", "sensorthings", "ngsi-ld")
SUFFIXES = (".csv", ".txt", ".tsv", ".parquet", ".json", ".jsonld", ".geojson")
ISO_8601 = "an ISO 8601 time such as 2024-05-01T13:00:00Z or 2024-05-01 13:00:00+02:00"
LONG_COLUMNS = ("sensor", "time", "property", "value")
SENSOR_COMMUNITY_HEADER = ("sensor_id", "sensor_type", "location", "lat", "lon", "timestamp")
# sensor.community column → (property, unit); P1 is PM10 and P2 is PM2.5 in its archive.
SENSOR_COMMUNITY_PROPERTIES = {"P1": ("pm10", "µg/m³"), "P2": ("pm25", "µg/m³"), "temperature": ("temperature", "°C"),
                               "humidity": ("humidity", "%"), "pressure": ("pressure", "Pa")}
NGSI_TIMES = ("dateObserved", "dateObservedFrom")
NGSI_NOT_PROPERTIES = {"id", "type", "@context", "location", "dateObserved", "dateObservedFrom", "dateObservedTo",
                       "dateCreated", "dateModified", "refDevice", "refPointOfInterest", "laneId"}
EARLIEST = "1970-01-01"
OPTIONAL = {"sensor": "thing", "unit": "null::varchar", "lat": "null::double", "lon": "null::double",
            "value_at": "null::varchar", "thing_name": "null::varchar"}  # raw's optional columns, and their stand-ins


@dataclass
class ImportSummary:
    """What one `sensors import` stored: files read and skipped, new things and datastreams, observations."""

    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    things: int = 0
    datastreams: int = 0
    observations: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class Layout:
    """How a reader's `raw` table is checked and located: labels of its time and value columns, and whether it needs
    a location per sensor. JSON readers name each observation's place in `value_at` and have no file lines."""

    time_label: str
    value_label: str
    time_format: str | None = None
    decimal: str = "."
    needs_location: bool = False
    file_lines: bool = True
    first_line: int | None = None  # raw's rows in file order from this line: lines from the staged row's position


def import_files(store: str | Path, paths: list[str | Path], fmt: str = "auto",
                 adapter: str | Path | None = None) -> ImportSummary:
    """Import files and folders (walked) into the store at `store`: all or nothing."""
    if fmt not in FORMATS:
        raise InputError.single("--format", one_of(fmt, FORMATS))
    files = walk(paths)
    spec = load_adapter(adapter) if adapter is not None else None
    summary = ImportSummary()
    with transaction(store) as db:
        things, streams = _count(db, "things"), _count(db, "datastreams")
        seen = set()
        for file in files:
            digest = sha256(file)
            if digest in seen or db.execute("select 1 from imports where sha256 = ?", [digest]).fetchone():
                summary.skipped.append(display_name(file))
                continue
            seen.add(digest)
            kind = detect(file, spec) if fmt == "auto" else fmt
            _read_and_stage(db, file, kind, spec)
            added, repeated = store_observations(db)
            db.execute("insert into imports values (?, ?, ?, ?, now())", [display_name(file), digest, kind, added])
            summary.files.append(display_name(file))
            summary.observations += added
            summary.duplicates += repeated
        summary.things = _count(db, "things") - things
        summary.datastreams = _count(db, "datastreams") - streams
    return summary


def walk(paths: list[str | Path]) -> list[Path]:
    """Files as given, and the data files inside folders (sorted, hidden ones left out)."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError.single(path, "no such file or folder")
    if not files:
        raise InputError.single(" ".join(map(str, paths)), f"no data files ({', '.join(SUFFIXES)}) found")
    return files


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_adapter(path: str | Path) -> dict:
    """A wide table's adapter: `time` (its column) and optional `date_format`, `decimal`, `delimiter`, `sensor`,
    `property`, `unit` (defaults for every column), `aliases` (column name → name), `columns` (name → sensor,
    property, unit), `ignore` (columns to leave out), `locations` (sensor → lat, lon and an optional name)."""
    spec, _ = load_yaml(read_text(path, "adapter"), display_name(path))
    if not isinstance(spec, dict) or not isinstance(spec.get("time"), str):
        raise InputError.single(path, "an adapter is a mapping with at least `time: <name of the time column>`")
    allowed = ("time", "date_format", "decimal", "delimiter", "sensor", "property", "unit", "aliases", "columns",
               "ignore", "locations")
    for key in spec:
        if key not in allowed:
            raise InputError.single(path, f"unknown key {one_of(key, allowed)}", column=key)
    return {**spec, "file": display_name(path)}


def detect(file: Path, spec: dict | None) -> str:
    """The format of `file` by its extension and header (or, for JSON, its top-level keys)."""
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return "long"
    if suffix in (".json", ".jsonld", ".geojson"):
        document = _load_json(file)
        first = document[0] if isinstance(document, list) and document else document
        if isinstance(first, dict) and any(key in first for key in NGSI_TIMES):
            return "ngsi-ld"
        if isinstance(first, dict) and ({"value", "Datastreams", "@iot.id", "Locations"} & first.keys()):
            return "sensorthings"
        raise InputError.single(file, "cannot tell the JSON format: expected SensorThings Things or NGSI-LD "
                                      "entities with dateObserved; say it with --format")
    with file.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline().strip().lstrip("\ufeff")
    if header.startswith(";".join(SENSOR_COMMUNITY_HEADER[:3])):
        return "sensor-community"
    names = {name.strip().strip('"').lower() for name in header.replace(";", ",").replace("\t", ",").split(",")}
    if set(LONG_COLUMNS) <= names:
        return "long"
    if spec is not None:
        return "wide"
    raise InputError.single(file, f"cannot tell the format from the header {header[:80]!r}: a long table has columns "
                                  f"{','.join(LONG_COLUMNS)}; a wide table needs --adapter", line=1)


def _read_and_stage(db, file: Path, kind: str, spec: dict | None) -> None:
    """Run the reader of `kind` and stage its rows, turning DuckDB's own errors (a malformed CSV) into the file's."""
    readers = {"long": read_long, "wide": read_wide, "sensor-community": read_sensor_community,
               "sensorthings": read_sensorthings, "ngsi-ld": read_ngsi_ld}
    if kind == "wide" and spec is None:
        raise InputError.single(file, "a wide table needs --adapter naming its time column and what each column is")
    try:
        stage(db, file, readers[kind](db, file, spec) if kind == "wide" else readers[kind](db, file))
    except duckdb.Error as err:
        raise InputError.single(file, f"cannot read it as {kind}: {str(err).splitlines()[0]}") from None


def _csv(file: Path, delimiter: str | None = None) -> str:
    """DuckDB's CSV reader over `file`, every column as text so the checks can say what is wrong and where. The
    delimiter is the header's (DuckDB's sniffer would read a file with one malformed row as a single column). A
    column with an empty header cell is named `unnamed_N` by its position (1 first), so an adapter can name it
    whatever else the file holds."""
    with file.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    if delimiter is None:
        delimiter = max((",", ";", "\t", "|"), key=header.count)
    cells = next(csv.reader([header], delimiter=delimiter), [])
    if any(not cell.strip() for cell in cells):
        names = ", ".join(_quote(cell.strip() or f"unnamed_{i}") for i, cell in enumerate(cells, start=1))
        return (f"read_csv({_quote(str(file))}, header = true, skip = 0, all_varchar = true, "
                f"delim = {_quote(delimiter)}, names = [{names}])")
    return f"read_csv({_quote(str(file))}, header = true, skip = 0, all_varchar = true, delim = {_quote(delimiter)})"


def _columns(db, source: str) -> list[str]:
    return [row[0] for row in db.execute(f"describe select * from {source}").fetchall()]


def _require(file: Path, columns: list[str], required) -> None:
    for name in required:
        if name not in columns:
            raise InputError.single(file, f"no column {name!r}{did_you_mean(name, columns)}; the columns are "
                                          f"{', '.join(columns)}", line=1, column=name)


def read_long(db, file: Path) -> Layout:
    """A long table: sensor, time, property, value[, unit][, lat, lon], from CSV or Parquet."""
    parquet = file.suffix.lower() == ".parquet"
    source = f"read_parquet({_quote(str(file))})" if parquet else _csv(file)
    columns = _columns(db, source)
    _require(file, columns, LONG_COLUMNS)
    located = "lat" in columns and "lon" in columns
    extra = (", unit::varchar as unit" if "unit" in columns else "") + (
        ", try_cast(lat as double) as lat, try_cast(lon as double) as lon" if located else "")
    db.execute(f"""create or replace temp view raw as select row_number() over () + {0 if parquet else 1} as line,
        sensor::varchar as thing, property::varchar as property, time as time_text, value as value_text{extra}
        from {source}""")
    # a Parquet file's "line" is its row number
    return Layout("time", "value", needs_location=located, first_line=1 if parquet else 2)


def read_wide(db, file: Path, spec: dict) -> Layout:
    """A wide table: a time column and one column per sensor or per property, as the adapter says."""
    db.execute(f"create or replace temp table wide as select row_number() over () + 1 as line, * "
               f"from {_csv(file, spec.get('delimiter'))}")
    names = _columns(db, "wide")[1:]
    aliases = spec.get("aliases") or {}
    canonical = {name: str(aliases.get(name, name)) for name in names}
    time = next((name for name in names if canonical[name] == spec["time"]), None)
    if time is None:
        raise InputError.single(file, f"no time column {spec['time']!r} (adapter {spec['file']})"
                                      f"{did_you_mean(spec['time'], names)}", line=1, column=spec["time"])
    ignore = {str(name) for name in spec.get("ignore") or []}
    columns, locations = spec.get("columns") or {}, spec.get("locations") or {}
    mapping = []
    for name in names:
        if name == time or canonical[name] in ignore:
            continue
        own = columns.get(canonical[name]) or {}
        sensor = own.get("sensor") or spec.get("sensor")
        prop = own.get("property") or spec.get("property")
        if sensor is None and prop is None:
            raise InputError.single(file, f"the adapter {spec['file']} says neither the sensor nor the property of "
                                          "this column (give `sensor:` or `property:`, or list it under `ignore:`)",
                                    line=1, column=name)
        sensor, prop = str(sensor or canonical[name]), str(prop or canonical[name])
        place = locations.get(sensor) or {}
        mapping.append({"column": name, "sensor": sensor, "property": prop, "unit": own.get("unit") or spec.get("unit"),
                        "lat": place.get("lat"), "lon": place.get("lon"), "thing_name": place.get("name")})
    if not mapping:
        raise InputError.single(file, "no value columns besides the time column", line=1)
    _table(db, "wide_mapping", pd.DataFrame(mapping).astype({"lat": "float64", "lon": "float64", "unit": "object",
                                                             "thing_name": "object"}))
    value_columns = ", ".join(_ident(row["column"]) for row in mapping)
    db.execute(f"""create or replace temp view raw as select u.line, m.sensor as thing, m.sensor, m.property,
        m.unit::varchar as unit, u.{_ident(time)} as time_text, u.value_text, m.lat, m.lon, u.column_name as value_at,
        m.thing_name::varchar as thing_name
        from (unpivot wide on {value_columns} into name column_name value value_text) u
        join wide_mapping m on m."column" = u.column_name""")
    return Layout(time, "value", time_format=spec.get("date_format"), decimal=str(spec.get("decimal", ".")),
                  needs_location=bool(locations))


def read_sensor_community(db, file: Path) -> Layout:
    """The sensor.community archive: one `;`-separated file per sensor and day, P1 = PM10, P2 = PM2.5."""
    source = _csv(file, ";")
    columns = _columns(db, source)
    _require(file, columns, ("sensor_id", "sensor_type", "lat", "lon", "timestamp"))
    measured = [name for name in columns if name in SENSOR_COMMUNITY_PROPERTIES]
    if not measured:
        raise InputError.single(file, "no measurement columns; expected some of "
                                      f"{', '.join(SENSOR_COMMUNITY_PROPERTIES)}", line=1)
    db.execute(f"create or replace temp table community as select row_number() over () + 1 as line, * from {source}")
    _table(db, "community_mapping", pd.DataFrame([{"column": name, "property": prop, "unit": unit}
                                                   for name, (prop, unit) in SENSOR_COMMUNITY_PROPERTIES.items()]))
    db.execute(f"""create or replace temp view raw as select u.line, u.sensor_id as thing, u.sensor_type as sensor,
        m.property, m.unit, u.timestamp as time_text, u.value_text, try_cast(u.lat as double) as lat,
        try_cast(u.lon as double) as lon, u.column_name as value_at
        from (unpivot community on {', '.join(map(_ident, measured))} into name column_name value value_text) u
        join community_mapping m on m."column" = u.column_name""")
    return Layout("timestamp", "value", needs_location=True)


def read_sensorthings(db, file: Path) -> Layout:
    """SensorThings JSON: Things (a list, or `{"value": [...]}`) with Locations and Datastreams, each Datastream's
    Observations as objects or in the dataArray result format (`components` + `dataArray`)."""
    document = _load_json(file)
    things = document.get("value", [document]) if isinstance(document, dict) else document
    parts = []
    for i, thing in enumerate(things):
        where = f"Things[{i}]"
        if not isinstance(thing, dict):
            raise InputError.single(file, "expected a Thing object", column=where)
        thing_id = str(thing.get("@iot.id", thing.get("name", "")))
        if not thing_id:
            raise InputError.single(file, "a Thing needs @iot.id or name", column=where)
        lat, lon = _point(file, (thing.get("Locations") or [{}])[0].get("location"), f"{where}.Locations[0]")
        for j, stream in enumerate(thing.get("Datastreams") or []):
            at = f"{where}.Datastreams[{j}]"
            prop = _key(stream.get("ObservedProperty") or {})
            if not prop:
                raise InputError.single(file, "a Datastream needs ObservedProperty.name", column=at)
            frame = _observations(file, stream, at)
            frame["thing"], frame["sensor"] = thing_id, _key(stream.get("Sensor") or {}) or thing_id
            frame["property"], frame["unit"] = str(prop), (stream.get("unitOfMeasurement") or {}).get("symbol")
            frame["lat"], frame["lon"], frame["thing_name"] = lat, lon, thing.get("name")
            parts.append(frame)
    _register_raw(db, parts)
    return Layout("phenomenonTime", "result", file_lines=False)


def _key(entity: dict) -> str:
    """A Sensor's or ObservedProperty's key: its @iot.id when that is text (a name its producer chose, as `sensors
    export` writes), else its name (a server's numeric ids mean nothing outside it)."""
    key = entity.get("@iot.id")
    return key if isinstance(key, str) and key else str(entity.get("name") or "")


def _observations(file: Path, stream: dict, at: str) -> pd.DataFrame:
    """One Datastream's observations as (value_at, time_text, value_text), from objects or a dataArray."""
    observations = stream.get("Observations", [])
    if isinstance(observations, dict) or "dataArray" in stream:
        block = observations if isinstance(observations, dict) else stream
        components = block.get("components") or []
        for needed in ("phenomenonTime", "result"):
            if needed not in components:
                raise InputError.single(file, f"dataArray components {components} lack {needed!r}", column=at)
        frame = pd.DataFrame(block.get("dataArray") or [], columns=components)
        label = f"{at}.dataArray["
    else:
        frame = pd.DataFrame(observations, columns=["phenomenonTime", "result"])
        label = f"{at}.Observations["
    times = frame["phenomenonTime"].astype("string").str.split("/").str[0]  # an interval's start
    results = frame["result"].astype("string")
    return pd.DataFrame({"value_at": label + frame.index.astype(str) + "]", "time_text": times,
                         "value_text": results})


def read_ngsi_ld(db, file: Path) -> Layout:
    """NGSI-LD / Smart Data Models entities (AirQualityObserved, TrafficFlowObserved …), normalized or keyValues:
    dateObserved (or dateObservedFrom; a Property's own `observedAt` where given), a GeoJSON location, each
    numeric attribute one observed property."""
    document = _load_json(file)
    entities = document if isinstance(document, list) else [document]
    flat = pd.json_normalize(entities)
    flat.columns = [name.removesuffix(".value") for name in flat.columns]
    present = [name for name in NGSI_TIMES if name in flat.columns]
    if not present or "id" not in flat.columns:
        raise InputError.single(file, f"NGSI-LD entities need id and one of {', '.join(NGSI_TIMES)}")
    times = flat[present[0]].astype("string")
    for name in present[1:]:
        times = times.fillna(flat[name].astype("string"))
    points = [_point(file, place, f"entity {i} ({entities[i].get('id')}).location")
              for i, place in enumerate(_locations(flat))]
    lat, lon = zip(*points) if points else ((), ())
    sensor = flat["refDevice"].astype("string") if "refDevice" in flat.columns else flat["type"].astype("string")
    attributes = sorted({name.split(".")[0] for name in flat.columns} - NGSI_NOT_PROPERTIES)
    parts = []
    for name in attributes:
        if name not in flat.columns:
            continue
        values = flat[name]
        numeric = values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v == v)
        if not numeric.any():
            continue
        unit = flat[f"{name}.unitCode"] if f"{name}.unitCode" in flat.columns else None
        own = f"{name}.observedAt"  # a Property's own time, where it has one, over the entity's
        at = flat[own].astype("string").fillna(times) if own in flat.columns else times
        parts.append(pd.DataFrame({
            "value_at": "entity " + flat.index.astype(str) + " (" + flat["id"].astype(str) + ")." + name,
            "time_text": at, "value_text": values.astype("string"),
            "thing": flat["id"].astype("string"), "sensor": sensor, "property": name,
            "unit": unit.astype("string") if unit is not None else None, "lat": lat, "lon": lon,
            "thing_name": flat["name"].astype("string") if "name" in flat.columns else None}))
    _register_raw(db, parts)
    return Layout("/".join(present), "value", needs_location=True, file_lines=False)


def _locations(flat: pd.DataFrame) -> list:
    """Each entity's GeoJSON location, from normalized (`location.value`) or keyValues form."""
    for prefix in ("location.value.", "location."):
        if f"{prefix}type" in flat.columns and f"{prefix}coordinates" in flat.columns:
            return [None if pd.isna(kind) else {"type": kind, "coordinates": coords}
                    for kind, coords in zip(flat[f"{prefix}type"], flat[f"{prefix}coordinates"])]
    return [None] * len(flat)


def _point(file: Path, place, where: str) -> tuple[float | None, float | None]:
    """(lat, lon) of a GeoJSON Point, or of a LineString's first vertex (a traffic lane); (None, None) if absent."""
    if not place:
        return None, None
    if not isinstance(place, dict) or place.get("type") not in ("Point", "LineString"):
        raise InputError.single(file, f"location {str(place)[:60]} is not a GeoJSON Point or LineString", column=where)
    coords = place.get("coordinates")
    coords = coords[0] if place["type"] == "LineString" and coords else coords
    try:
        return float(coords[1]), float(coords[0])
    except (TypeError, ValueError, IndexError):
        raise InputError.single(file, f"coordinates {coords!r} are not [lon, lat]", column=where) from None


def _register_raw(db, parts: list[pd.DataFrame]) -> None:
    columns = ["value_at", "time_text", "value_text", "thing", "sensor", "property", "unit", "lat", "lon",
               "thing_name"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame = frame.reindex(columns=columns).astype({"lat": "float64", "lon": "float64"})
    for name in ("value_at", "time_text", "value_text", "thing", "sensor", "property", "unit", "thing_name"):
        frame[name] = frame[name].astype("string")
    _table(db, "observation_rows", frame)
    db.execute("""create or replace temp view raw as select row_number() over () as line, thing, sensor, property,
        unit, time_text, value_text, lat, lon, value_at, thing_name from observation_rows""")


def _table(db, name: str, frame: pd.DataFrame) -> None:
    """A temporary table holding `frame` (a reader's mapping or rows), dropped after the file is stored."""
    db.register("frame", frame)
    db.execute(f"create or replace temp table {name} as select * from frame")
    db.unregister("frame")


def stage(db, file: Path, layout: Layout) -> None:
    """Parse `raw` into `staged` (UTC time, finite value) and refuse the file at its first bad line.

    `staged` keeps only the columns the reader gave (the absent ones are constants in its view), because copying
    even a column of nulls costs as much as parsing one. A reader whose rows are in file order (`first_line`) gets
    its lines from each row's position in `staged_rows`, which keeps every row for that, rather than numbering them
    while parsing (which costs as much as the parse)."""
    types = dict(db.execute("select column_name, column_type from (describe raw)").fetchall())
    time_type, value_type = types["time_text"], types["value_text"]
    if time_type == "TIMESTAMP WITH TIME ZONE":
        time, aware = _utc("time_text"), "null"
    elif time_type in ("TIMESTAMP", "DATE") or time_type.startswith("TIMESTAMP_"):
        time, aware = "time_text::timestamp", "null"
    elif layout.time_format:
        parsed = f"try_strptime(trim(time_text), {_quote(layout.time_format)})"  # strptime wants exact text
        time = _utc(parsed) if "%z" in layout.time_format else parsed
        aware = "null"
    else:
        time = _utc("try_cast(time_text as timestamptz)")  # the cast allows spaces around
        # an offset is Z, +hh[:mm] or -hh[:mm]: a Z, a plus, or a third hyphen after the date's two
        aware = ("(time_text like '%Z%' or time_text like '%z%' or time_text like '%+%' "
                 "or time_text like '%-%-%-%')")
    if value_type == "VARCHAR":
        text = "value_text" if layout.decimal == "." else f"replace(value_text, {_quote(layout.decimal)}, '.')"
        value = f"try_cast({text} as double)"  # the cast allows spaces around
        present = "value_text is not null and value_text <> ''"
    else:
        value, present = "value_text::double", "value_text is not null"
    given = [name for name in OPTIONAL if name in types]
    key = f"hash(thing, {'sensor' if 'sensor' in types else 'thing'}, property)"
    numbered = layout.first_line is not None
    db.execute(f"""create or replace temp table staged_rows as select {'' if numbered else 'line, '}{key} as key,
        thing, property, {''.join(name + ', ' for name in given)}{time} as time, {value} as value, {aware} as aware,
        {present} as present from raw""")
    # row ids are consecutive in insertion order, from a base that differs inside a transaction
    line = f"rowid - (select min(rowid) from staged_rows) + {layout.first_line} as line, " if numbered else ""
    absent = "".join(f", {OPTIONAL[name]} as {name}" for name in OPTIONAL if name not in given)
    db.execute(f"create or replace temp view staged as select {line}*{absent} from staged_rows where present")
    db.execute("""create or replace temp table meta as select key, any_value(thing) as thing,
        any_value(sensor) as sensor, any_value(property) as property, any_value(unit) as unit,
        arg_max(lat, line) filter (where lat is not null and lon is not null) as lat,
        arg_max(lon, line) filter (where lat is not null and lon is not null) as lon, min(line) as line,
        arg_max(thing_name, line) filter (where thing_name <> '') as thing_name from staged group by key""")
    _check(db, file, layout)


def _check(db, file: Path, layout: Layout) -> None:
    """Refuse `staged` at its first bad row: one scan finds the first line breaking each rule."""
    latest = (pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1)).isoformat(sep=" ")
    expected = f"the adapter's date_format {layout.time_format!r}" if layout.time_format else ISO_8601
    decimal = f" with decimal mark {layout.decimal!r}" if layout.decimal != "." else ""
    checks = [  # (condition, message from the raw row, which column it is about)
        ("thing is null or thing = ''", lambda row: "no sensor id", "value"),
        ("property is null or property = ''", lambda row: "no property", "value"),
        ("time is null", lambda row: f"timestamp {row['time_text']!r} cannot be read; expected {expected}", "time"),
        ("value is null", lambda row: f"value {row['value_text']!r} is text; expected a number{decimal}", "value"),
        ("not isfinite(value)", lambda row: f"value {row['value_text']!r} is not a finite number", "value"),
        (f"time < timestamp '{EARLIEST}' or time > timestamp '{latest}'",
         lambda row: f"time {row['time_text']!r} is outside {EARLIEST} … tomorrow", "time"),
        ("lat not between -90 and 90 or lon not between -180 and 180",
         lambda row: f"location ({row['lat']}, {row['lon']}) is not a latitude in -90…90 and a longitude in -180…180",
         "lat"),
    ]
    firsts = ", ".join(f"min(line) filter (where {cond})" for cond, _, _ in checks)
    found = db.execute(f"""select {firsts}, min(line) filter (where aware), min(line) filter (where not aware)
        from staged""").fetchone()
    for line, (cond, message, about) in zip(found, checks):
        if line is not None:
            value_at = db.execute(f"select min(value_at) from staged where line = ? and ({cond})", [line]).fetchone()[0]
            raise _located(file, layout, line, value_at, message(_raw_row(db, line, value_at)), about)
    with_offset, without = found[-2], found[-1]
    if with_offset is not None and without is not None:
        later = max(with_offset, without)
        row, other = _raw_row(db, later, None), _raw_row(db, min(with_offset, without), None)
        has = "has" if later == with_offset else "has no"
        message = (f"mixed time zones: {row['time_text']!r} {has} UTC offset but {other['time_text']!r} "
                   f"(earlier) {'has none' if later == with_offset else 'has one'}; give every time with its "
                   "offset, or none (read as UTC)")
        raise _located(file, layout, later, row.get("value_at"), message, "time")
    if layout.needs_location:
        unlocated = db.execute("""select m.line from meta m left join locations l on l.thing_id = m.thing
            where coalesce(m.lat, l.lat) is null order by m.line limit 1""").fetchone()
        if unlocated:
            row = _raw_row(db, unlocated[0], None)
            raise _located(file, layout, unlocated[0], row.get("value_at"),
                           f"sensor {row['thing']!r} has no location (lat, lon), which this format needs", "lat")


def _raw_row(db, line: int, value_at: str | None) -> dict:
    """The raw row at `line` (and, in an unpivoted table, in column `value_at`)."""
    cursor = db.execute("select * from raw where line = ? and (? is null or value_at = ?) limit 1"
                        if value_at is not None else "select * from raw where line = ? limit 1",
                        [line, value_at, value_at] if value_at is not None else [line])
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone()))


def _located(file: Path, layout: Layout, line: int, value_at: str | None, message: str, about: str) -> InputError:
    """The problem at `line` of `raw`, named by file line and column, or by its JSON place."""
    label = {"time": layout.time_label, "value": layout.value_label, "lat": "lat"}[about]
    if layout.file_lines:
        column = value_at if value_at and about == "value" else label
        return InputError([Problem(display_name(file), message, line, column)])
    return InputError([Problem(display_name(file), message, None, f"{value_at}.{label}")])


def store_observations(db) -> tuple[int, int]:
    """Add `staged`'s things, sensors, properties, datastreams and new observations; (added, skipped as repeats)."""
    db.execute("""insert into things select thing,
        coalesce(arg_max(thing_name, line) filter (where thing_name is not null), thing), null, null from meta
        group by thing on conflict (thing_id) do update set name = excluded.name
        where excluded.name <> excluded.thing_id""")  # a file naming a Thing names it; one that does not keeps it
    db.execute("""insert into locations select thing, arg_max(lat, line), arg_max(lon, line), null from meta
        where lat is not null group by thing
        on conflict (thing_id) do update set lat = excluded.lat, lon = excluded.lon""")
    db.execute("""insert into sensors select distinct sensor, sensor, null from meta
        where sensor not in (select sensor_id from sensors)""")
    db.execute("""insert into observed_properties select property, property, null, any_value(unit) from meta
        where property not in (select property from observed_properties) group by property""")
    db.execute("""insert into datastreams select (select coalesce(max(datastream_id), 0) from datastreams)
        + row_number() over (order by thing, sensor, property), thing, sensor, property, unit from meta m
        where not exists (select 1 from datastreams d
        where d.thing_id = m.thing and d.sensor_id = m.sensor and d.property = m.property)""")
    db.execute("""create or replace temp table keys as select m.key, d.datastream_id from meta m join datastreams d
        on d.thing_id = m.thing and d.sensor_id = m.sensor and d.property = m.property""")
    added = db.execute("""insert into observations select f.* from (select k.datastream_id, s.time,
        arg_min(s.value, s.line) as value from staged s join keys k using (key) group by all) f
        anti join (select datastream_id, time from observations
                   where datastream_id in (select datastream_id from keys)) o
        on o.datastream_id = f.datastream_id and o.time = f.time""").fetchone()[0]
    staged = _count(db, "staged")
    for view in ("staged", "raw"):
        db.execute(f"drop view {view}")
    for table in ("staged_rows", "meta", "keys", "wide", "wide_mapping", "community", "community_mapping",
                  "observation_rows"):
        db.execute(f"drop table if exists {table}")
    return added, staged - added


def _utc(timestamptz: str) -> str:
    """SQL for a timestamptz as the naive UTC timestamp the store keeps (plain arithmetic, unlike `timezone`)."""
    return f"make_timestamp(epoch_us({timestamptz}))"


def _count(db, table: str) -> int:
    return db.execute(f"select count(*) from {table}").fetchone()[0]


def _load_json(file: Path):
    try:
        return load_json(file.read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError.single(file, f"cannot read it: {err}") from None
    except json.JSONDecodeError as err:
        raise InputError.single(file, f"not JSON: {err.msg}", line=err.lineno, column=str(err.colno)) from None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
