"""Indicator rules: sensor observations turned into the long indicators table an index spec reads.

A rules file names a spatial unit (each sensor, the whole city, or districts from a GeoJSON) and indicators, each
a bucket (15 min … year, or the whole period), a statistic and optional validity, threshold, growth and
normalisation. Everything is computed in DuckDB SQL over the store; Python only reads the rules and the districts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InputError, Problem, did_you_mean, one_of
from ..io.documents import line_at, parse_document, read_text
from ..io.outputs import atomic_path

SPATIAL_UNITS = ("sensor", "city", "district")
BUCKETS = ("15min", "hour", "day", "week", "month", "year", "period")
STATISTICS = ("mean", "median", "min", "max", "sum", "count", "p90", "p95", "p99", "percentile",
              "sensors", "freshness", "uptime")
NETWORK_STATISTICS = ("sensors", "freshness", "uptime")
NORMALISATIONS = ("area", "population")
ALLOWED = {"spatial_unit": SPATIAL_UNITS, "bucket": BUCKETS, "statistic": STATISTICS, "normalise": NORMALISATIONS,
           "per": ("period", "year")}
PER_RESIDENTS = 10_000

_BUCKET_SQL = {
    "15min": "time_bucket(interval '15 minutes', {t})", "hour": "date_trunc('hour', {t})",
    "day": "date_trunc('day', {t})", "week": "date_trunc('week', {t})", "month": "date_trunc('month', {t})",
    "year": "date_trunc('year', {t})",
}
_LABEL_FORMAT = {"15min": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "%G-W%V",
                 "month": "%Y-%m", "year": "%Y"}
_BUCKET_SECONDS = {"15min": 900, "hour": 3600, "day": 86400, "week": 7 * 86400}
_STATISTIC_SQL = {"mean": "avg(v)", "median": "median(v)", "min": "min(v)", "max": "max(v)", "sum": "sum(v)",
                  "count": "count(v)::double"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Validity(_Strict):
    """Which hours and days count (EU air-quality practice: a day needs 75 % of its hours)."""

    hour: int = Field(default=1, ge=1, description="Readings an hour needs to count.")
    day: float = Field(default=0.75, gt=0, le=1, description="Share of its 24 hours a valid day needs.")


class Period(_Strict):
    """The time range read: `from` inclusive, `to` exclusive (a date `to` includes that whole day)."""

    start: date | datetime | None = Field(default=None, alias="from", description="First time read (UTC).")
    to: date | datetime | None = Field(default=None, description="End of the range (UTC); a date includes its day.")

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        start = _as_datetime(self.start) if self.start is not None else None
        end = self.to
        if isinstance(end, date) and not isinstance(end, datetime):
            end = _as_datetime(end) + timedelta(days=1)
        return start, _as_datetime(end) if end is not None else None


class Indicator(_Strict):
    """One indicator: the statistic of a property per spatial unit and bucket, or a network statistic."""

    property: str | None = Field(default=None, description="The observed property (`pm25`, `count`, …); "
                                                           "optional for `statistic: sensors`.")
    bucket: Literal[BUCKETS] = Field(default="period", description="The time bucket: 15min, hour, day, week, "
                                                                   "month, year or period (the whole range).")
    statistic: Literal[STATISTICS] = Field(default="mean", description="The statistic per unit and bucket.")
    percentile: float | None = Field(default=None, gt=0, lt=100, description="`statistic: percentile`'s q.")
    count_above: float | None = Field(default=None, description="Report the number of buckets whose value "
                                                                "exceeds this threshold.")
    share_above: float | None = Field(default=None, description="Report the share of buckets whose value exceeds "
                                                                "this threshold.")
    growth: bool = Field(default=False, description="Report the year-on-year change of the yearly value "
                                                    "(needs `bucket: year`), as a fraction.")
    per: Literal["period", "year"] = Field(default="period", description="For count_above, share_above, sensors "
                                                                         "and uptime: one value over the whole "
                                                                         "range or one per calendar year.")
    validity: Validity | None = Field(default=None, description="Count only valid hours and days.")
    normalise: Literal[NORMALISATIONS] | None = Field(default=None, description="Per km² (`area`) or per 10,000 "
                                                                                "residents (`population`).")
    exclude_flags: bool = Field(default=False, description="Leave out observations that quality control flagged.")

    @model_validator(mode="after")
    def _consistent(self):
        reducers = [k for k in ("count_above", "share_above") if getattr(self, k) is not None] + \
            (["growth"] if self.growth else [])
        if len(reducers) > 1:
            raise ValueError(f"give one of count_above, share_above, growth (not {' and '.join(reducers)})")
        if self.property is None and self.statistic != "sensors":
            raise ValueError("property is required (only `statistic: sensors` may leave it out)")
        if (self.statistic == "percentile") != (self.percentile is not None):
            raise ValueError("`statistic: percentile` and `percentile: q` go together")
        if reducers and self.bucket == "period":
            raise ValueError(f"{reducers[0]} counts buckets: give a bucket finer than the period")
        if self.per == "year" and not {"count_above", "share_above"} & set(reducers) \
                and self.statistic not in ("sensors", "uptime"):
            raise ValueError("`per: year` is for count_above, share_above, statistic sensors and statistic uptime")
        if self.growth and self.bucket != "year":
            raise ValueError("growth is the change from year to year: it needs `bucket: year`")
        if self.validity is not None and self.bucket == "15min":
            raise ValueError("validity counts hours and days: use a bucket of an hour or more")
        if self.statistic in ("sensors", "freshness") and self.bucket != "period":
            raise ValueError(f"statistic {self.statistic} is over the whole range: use `bucket: period`")
        if self.statistic == "uptime" and self.bucket == "period":
            raise ValueError("uptime counts the buckets with data: give the expected bucket (hour, day, …)")
        if self.statistic in NETWORK_STATISTICS and (reducers or self.validity is not None):
            raise ValueError(f"statistic {self.statistic} takes no threshold, growth or validity")
        return self


class Rules(_Strict):
    """A rules file: the spatial unit and the indicators computed for it."""

    spatial_unit: Literal[SPATIAL_UNITS] = Field(description="sensor, city or district.")
    city: str = Field(default="city", description="The city's id for `spatial_unit: city`.")
    districts: str | None = Field(default=None, description="GeoJSON of district polygons (path relative to the "
                                                            "rules file), for `spatial_unit: district`.")
    id_property: str | None = Field(default=None, description="The districts' property naming each district.")
    period: Period = Field(default=Period(), description="The time range read (`from`, `to`).")
    indicators: dict[str, Indicator] = Field(min_length=1, description="Indicators by id.")

    @model_validator(mode="after")
    def _districts_given(self):
        if self.spatial_unit == "district" and (self.districts is None or self.id_property is None):
            raise ValueError("spatial_unit district needs `districts: FILE.geojson` and `id_property: NAME`")
        if self.spatial_unit != "district" and self.districts is not None:
            raise ValueError(f"districts are for spatial_unit district, not {self.spatial_unit}")
        for name, rule in self.indicators.items():
            if rule.normalise is not None and self.spatial_unit != "district":
                raise ValueError(f"indicator {name}: normalise needs spatial_unit district (areas and population "
                                 f"come from the districts)")
        return self


@dataclass(frozen=True)
class RulesFile:
    """Checked rules, where they came from (districts resolve against its folder) and each key's line."""

    model: Rules
    path: Path
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, *keys) -> int | None:
        """Line of a key path such as ('indicators', 'pm25_mean', 'property'), else of its nearest parent."""
        return line_at(self.lines, keys)


@dataclass(frozen=True)
class Result:
    """The indicators table (city, indicator, value, period, source, note), the coverage per rule and unit,
    and the sensors left out of every district."""

    indicators: pd.DataFrame
    coverage: pd.DataFrame
    outside: list[str]


def read_rules(path: str | Path) -> RulesFile:
    """The rules at `path`, checked; each problem names the file, line, rule and key."""
    path = Path(path)
    name = str(path)
    raw, lines = parse_document(read_text(path, "rules file"), name)
    if not isinstance(raw, dict):
        raise InputError.single(name, "a rules file must be a mapping (spatial_unit, indicators, …)")
    try:
        model = Rules.model_validate(raw)
    except ValidationError as err:
        raise InputError([_problem(name, e, lines) for e in err.errors()]) from None
    return RulesFile(model, path, lines)


_KNOWN_KEYS = {"indicators": Indicator.model_fields, "validity": Validity.model_fields,
               "period": ["from", "to"]}


def _problem(name: str, error: dict, lines: dict) -> Problem:
    loc = tuple(error["loc"])
    line, probe = None, loc
    while probe and line is None:
        line = lines.get(probe)
        probe = probe[:-1]
    where = _where(loc)
    if error["type"] == "extra_forbidden":
        parent = "validity" if "validity" in loc[:-1] else "period" if loc[:1] == ("period",) else \
            "indicators" if len(loc) == 3 else None
        known = list(_KNOWN_KEYS[parent]) if parent else list(Rules.model_fields)
        return Problem(name, f"{where}: unknown key {loc[-1]!r}{did_you_mean(loc[-1], known)}; known keys: "
                             f"{', '.join(known)}", line)
    if error["type"] == "literal_error" and str(loc[-1]) in ALLOWED:
        return Problem(name, f"{where}: {one_of(str(error['input']), ALLOWED[str(loc[-1])])}", line)
    message = error["msg"].removeprefix("Value error, ")
    return Problem(name, f"{where}: {message}", line)


def _where(loc: tuple) -> str:
    if loc[:1] == ("indicators",) and len(loc) > 1:
        keys = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        return f"rule {loc[1]!r}" + (f", key {keys!r}" if keys else "")
    return ".".join(str(p) for p in loc) or "rules"


# --- districts ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Districts:
    """District polygons: their ids, shapes, equal-area km² and population (NaN when the GeoJSON has none)."""

    ids: list[str]
    shapes: np.ndarray
    area_km2: np.ndarray
    population: np.ndarray


def read_districts(path: Path, id_property: str) -> Districts:
    """The polygons of a GeoJSON FeatureCollection; anything but polygons and multipolygons is an error."""
    name = str(path)
    try:
        document = json.loads(read_text(path, "districts GeoJSON"))
    except json.JSONDecodeError as err:
        raise InputError.single(name, f"not valid JSON: {err.msg}", line=err.lineno) from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise InputError.single(name, "expected a GeoJSON FeatureCollection of district polygons")
    ids, shapes, population, problems = [], [], [], []
    for i, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        properties = (feature or {}).get("properties") or {}
        kind = geometry.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            problems.append(Problem(name, f"feature {i}: geometry is {kind or 'missing'}; districts must be "
                                          f"Polygon or MultiPolygon"))
            continue
        if properties.get(id_property) is None:
            problems.append(Problem(name, f"feature {i}: no property {id_property!r} (id_property)"
                                          f"{did_you_mean(id_property, properties)}"))
            continue
        ids.append(str(properties[id_property]))
        shapes.append(shapely.geometry.shape(geometry))
        value = properties.get("population")
        population.append(float(value) if isinstance(value, int | float) else math.nan)
    if problems:
        raise InputError(problems)
    shapes_array = np.array(shapes, dtype=object)
    return Districts(ids, shapes_array, equal_area_km2(shapes_array), np.array(population))


_A, _E2 = 6378137.0, 6.69437999014e-3  # WGS84
_E = math.sqrt(_E2)


def _authalic_q(lat_rad: np.ndarray) -> np.ndarray:
    s = np.sin(lat_rad)
    return (1 - _E2) * (s / (1 - _E2 * s * s) - np.log((1 - _E * s) / (1 + _E * s)) / (2 * _E))


def equal_area_km2(shapes: np.ndarray) -> np.ndarray:
    """Each lon/lat polygon's area in km² on the WGS84 ellipsoid: a Lambert azimuthal equal-area projection
    centred on the polygon, through the authalic latitude (areas are exact up to the polygon's straight edges)."""
    q_pole = _authalic_q(np.array(math.pi / 2))
    radius = _A * math.sqrt(q_pole / 2)
    areas = np.empty(len(shapes))
    for i, shape in enumerate(shapes):
        centre = shape.centroid
        lon0, beta0 = math.radians(centre.x), math.asin(_authalic_q(np.radians(centre.y)) / q_pole)

        def project(coords, lon0=lon0, beta0=beta0):
            lon = np.radians(coords[:, 0]) - lon0
            beta = np.arcsin(np.clip(_authalic_q(np.radians(coords[:, 1])) / q_pole, -1, 1))
            k = np.sqrt(2 / (1 + math.sin(beta0) * np.sin(beta) + math.cos(beta0) * np.cos(beta) * np.cos(lon)))
            return np.column_stack([radius * k * np.cos(beta) * np.sin(lon),
                                    radius * k * (math.cos(beta0) * np.sin(beta)
                                                  - math.sin(beta0) * np.cos(beta) * np.cos(lon))])

        areas[i] = shapely.area(shapely.transform(shape, project)) / 1e6
    return areas


# --- computing ---------------------------------------------------------------------------------------------------

def compute(rules: RulesFile, db: duckdb.DuckDBPyConnection, store_name: str = "store") -> Result:
    """Every indicator of `rules` over the store `db`, in SQL; unknown properties are errors naming the rule."""
    model = rules.model
    known = sorted(r[0] for r in db.execute(
        "select property from observed_properties union select distinct property from datastreams").fetchall())
    problems = [Problem(str(rules.path), f"rule {name!r}, key 'property': unknown property {rule.property!r}"
                                         f"{did_you_mean(rule.property, known)}; the store has "
                                         f"{', '.join(known) or 'no properties'}",
                        rules.line("indicators", name, "property"))
                for name, rule in model.indicators.items() if rule.property is not None and rule.property not in known]
    if problems:
        raise InputError(problems)
    units, outside = _units(rules, db)
    db.register("rule_units", units)
    start, end = model.period.bounds()
    rows, coverage = [], []
    hourly_tables: dict[tuple, str] = {}
    try:
        for name, rule in model.indicators.items():
            head, params = _sources(rule, start, end)
            hourly = None
            if rule.validity is not None:
                key = (rule.property, rule.exclude_flags)
                if key not in hourly_tables:
                    hourly_tables[key] = f"rule_hourly_{len(hourly_tables)}"
                    db.execute(f"create or replace temp table {hourly_tables[key]} as {head} select datastream_id, "
                               f"date_trunc('hour', time) as t, avg(v) as v, count(*) as n from obs "
                               f"group by datastream_id, t", params)
                hourly = hourly_tables[key]
            values, cover = _indicator(db, rule, head, params, start, end, hourly)
            values.insert(1, "indicator", name)
            what = f"{rule.property or 'all properties'}, {rule.bucket} {rule.statistic}"
            extra = next((f", {k} {getattr(rule, k):g}" for k in ("count_above", "share_above")
                          if getattr(rule, k) is not None), ", growth" if rule.growth else "")
            values["source"] = f"sensor store {store_name}, rule {name}"
            notes = cover.set_index("city")
            values["note"] = [f"{what}{extra}; {_coverage_note(notes, city)}" for city in values["city"]]
            rows.append(values)
            cover.insert(0, "indicator", name)
            coverage.append(cover)
    finally:
        db.unregister("rule_units")
        for table in hourly_tables.values():
            db.execute(f"drop table if exists {table}")
    columns = ["city", "indicator", "value", "period", "source", "note"]
    table = pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)
    return Result(table, pd.concat(coverage, ignore_index=True), outside)


def _coverage_note(cover: pd.DataFrame, city: str) -> str:
    if city not in cover.index:
        return "no datastreams"
    row = cover.loc[city]
    note = f"{int(row.datastreams)} datastream{'s' if row.datastreams != 1 else ''}"
    return note + (f", {row.valid_days:.0%} of days valid" if not pd.isna(row.valid_days) else "")


def _units(rules: RulesFile, db: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, list[str]]:
    """thing_id → unit (with its km² and population for districts), and the things outside every district."""
    model = rules.model
    things = db.execute("select distinct d.thing_id, l.lon, l.lat from datastreams d "
                        "left join locations l using (thing_id) order by 1").df()
    if model.spatial_unit == "sensor":
        return pd.DataFrame({"thing_id": things.thing_id, "unit": things.thing_id,
                             "area_km2": math.nan, "population": math.nan}), []
    if model.spatial_unit == "city":
        return pd.DataFrame({"thing_id": things.thing_id, "unit": model.city,
                             "area_km2": math.nan, "population": math.nan}), []
    path = Path(model.districts)
    districts = read_districts(path if path.is_absolute() else rules.path.parent / path, model.id_property)
    located = things.dropna(subset=["lon", "lat"])
    points = shapely.points(located.lon.to_numpy(), located.lat.to_numpy())
    point_at, district_at = shapely.STRtree(districts.shapes).query(points, predicate="within")
    first = pd.DataFrame({"point": point_at, "district": district_at}).drop_duplicates("point")
    ids = np.array(districts.ids, dtype=object)
    inside = located.iloc[first.point.to_numpy()]
    units = pd.DataFrame({"thing_id": inside.thing_id.to_numpy(), "unit": ids[first.district.to_numpy()],
                          "area_km2": districts.area_km2[first.district.to_numpy()],
                          "population": districts.population[first.district.to_numpy()]})
    # districts without sensors still count for `statistic: sensors` (zero); a null thing marks them
    empty = [i for i, d in enumerate(ids) if d not in set(units.unit)]
    units = pd.concat([units, pd.DataFrame({"thing_id": None, "unit": ids[empty],
                                            "area_km2": districts.area_km2[empty],
                                            "population": districts.population[empty]})], ignore_index=True)
    outside = sorted(set(things.thing_id) - set(units.thing_id.dropna()))
    return units, outside


def _sources(rule: Indicator, start, end) -> tuple[str, list]:
    """The SQL `with` head naming the rule's datastreams (`streams`, with their unit) and observations (`obs`:
    in the period, flagged ones left out on request), and its parameters."""
    params: list = []
    where = []
    if start is not None:
        where.append("o.time >= ?")
        params.append(start)
    if end is not None:
        where.append("o.time < ?")
        params.append(end)
    if rule.exclude_flags:
        where.append("not exists (select 1 from flags f where f.datastream_id = o.datastream_id "
                     "and f.time = o.time)")
    prop_filter = "where d.property = ?" if rule.property is not None else ""
    streams = (f"streams as (select d.datastream_id, u.unit, u.area_km2, u.population from datastreams d "
               f"join rule_units u on u.thing_id = d.thing_id {prop_filter})")
    stream_params = [rule.property] if rule.property is not None else []
    obs = (f"obs as (select o.datastream_id, s.unit, o.time, o.value as v from observations o "
           f"join streams s using (datastream_id) {'where ' + ' and '.join(where) if where else ''})")
    return f"with {streams}, {obs}", stream_params + params


def _indicator(db, rule: Indicator, head: str, params: list, start, end,
               hourly: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rule's values (city, value, period) and coverage (city, datastreams, valid_days); `hourly` names the
    table of the rule's hourly means and reading counts per datastream, when the rule has validity."""
    if rule.statistic in NETWORK_STATISTICS:
        values = _network(db, rule, head, params, start, end)
    else:
        values = _statistic(db, rule, head, params, hourly)
    if rule.normalise is not None:
        factors = db.execute("select distinct unit, area_km2, population from rule_units").df().set_index("unit")
        scale = 1 / factors.area_km2 if rule.normalise == "area" else PER_RESIDENTS / factors.population
        values["value"] = values.value.to_numpy() * scale.reindex(values.city).to_numpy()
    return values, _coverage(db, rule, head, params, start, end, hourly)


def _bucket(bucket: str, column: str) -> str:
    return _BUCKET_SQL[bucket].format(t=column) if bucket != "period" else "null::timestamp"


def _label(bucket: str, column: str) -> str:
    return f"strftime({column}, '{_LABEL_FORMAT[bucket]}')" if bucket != "period" else "''"


def _statistic(db, rule: Indicator, head: str, params: list, hourly_table: str | None) -> pd.DataFrame:
    """The bucket statistic per unit, over raw readings or (with validity) over the valid values one level down:
    readings of valid hours (bucket hour), valid hourly means of valid days (bucket day), valid daily means."""
    aggregate = _STATISTIC_SQL.get(rule.statistic)
    if aggregate is None:
        q = rule.percentile / 100 if rule.statistic == "percentile" else int(rule.statistic[1:]) / 100
        aggregate = f"quantile_cont(v, {q!r})"
    if rule.validity is None:
        base = "base as (select unit, time as t, v from obs)"
    else:
        n, share = rule.validity.hour, rule.validity.day
        hourly = _valid_hours(hourly_table, n)
        daily = ("daily as (select datastream_id, any_value(unit) as unit, date_trunc('day', t) as t, avg(v) as v "
                 f"from hourly group by datastream_id, date_trunc('day', t) having count(*) >= {share!r} * 24)")
        if rule.bucket == "hour":
            base = f"{hourly}, base as (select o.unit, o.time as t, o.v from obs o semi join hourly h " \
                   f"on h.datastream_id = o.datastream_id and h.t = date_trunc('hour', o.time))"
        elif rule.bucket == "day":
            base = f"{hourly}, {daily}, base as (select h.unit, h.t, h.v from hourly h semi join daily d " \
                   f"on d.datastream_id = h.datastream_id and d.t = date_trunc('day', h.t))"
        else:
            base = f"{hourly}, {daily}, base as (select unit, t, v from daily)"
    buckets = (f"buckets as (select unit, {_bucket(rule.bucket, 't')} as b, {aggregate} as value from base "
               f"group by unit, b)")
    if rule.count_above is not None or rule.share_above is not None:
        threshold = rule.count_above if rule.count_above is not None else rule.share_above
        reduce = "count_if(value > {x})::double" if rule.count_above is not None else "avg((value > {x})::double)"
        period = "date_trunc('year', b)" if rule.per == "year" else "null::timestamp"
        label = _label("year", "p") if rule.per == "year" else "''"
        final = (f"select unit as city, {reduce.format(x=float(threshold))} as value, {label} as period "
                 f"from (select *, {period} as p from buckets) group by unit, p")
    elif rule.growth:
        final = ("select unit as city, value / previous - 1 as value, strftime(b, '%Y') as period from "
                 "(select *, lag(value) over (partition by unit order by b) as previous, "
                 "lag(b) over (partition by unit order by b) as previous_b from buckets) "
                 "where previous_b = b - interval 1 year")
    else:
        final = f"select unit as city, value, {_label(rule.bucket, 'b')} as period from buckets"
    sql = f"{head}, {base}, {buckets} {final} order by city, period"
    return db.execute(sql, params).df()


def _expected_buckets(bucket: str, first: str, last: str) -> str:
    """SQL for the number of `bucket`s from the one holding `first` to the one holding `last`."""
    b_first, b_last = _bucket(bucket, first), _bucket(bucket, last)
    if bucket in _BUCKET_SECONDS:
        return f"((epoch({b_last}) - epoch({b_first})) // {_BUCKET_SECONDS[bucket]} + 1)"
    return f"(date_diff('{bucket}', {b_first}, {b_last}) + 1)"


def _range_sql(start, end, table: str = "obs", column: str = "time") -> tuple[str, list]:
    """SQL for the range's first and last instants: the period's bounds, else those of the table's times."""
    first = "?::timestamp" if start is not None else f"(select min({column}) from {table})"
    last = "(?::timestamp - interval 1 microsecond)" if end is not None else f"(select max({column}) from {table})"
    return f"range as (select {first} as first, {last} as last)", [x for x in (start, end) if x is not None]


def _network(db, rule: Indicator, head: str, params: list, start, end) -> pd.DataFrame:
    """Sensors per unit, hours since each datastream's latest observation (mean per unit), or uptime: the share
    of the range's expected buckets that have data, pooled over the unit's datastreams. Per year, sensors are
    those that reported in the year (0 when none did), and uptime's expected buckets are the year's part of the
    range."""
    if rule.statistic == "sensors" and rule.per != "year":
        prop = "and d.property = ?" if rule.property is not None else ""
        sql = ("select u.unit as city, count(distinct d.thing_id)::double as value, '' as period "
               f"from rule_units u left join datastreams d on d.thing_id = u.thing_id {prop} "
               "group by u.unit order by city")
        return db.execute(sql, [rule.property] if rule.property is not None else []).df()
    if rule.statistic == "freshness":
        now = "?::timestamp" if end is not None else "(now() at time zone 'UTC')::timestamp"
        sql = (f"{head} select unit as city, avg(epoch({now} - last) / 3600) as value, '' as period from "
               "(select datastream_id, any_value(unit) as unit, max(time) as last from obs group by datastream_id) "
               "group by unit order by city")
        return db.execute(sql, params + ([end] if end is not None else [])).df()
    range_cte, range_params = _range_sql(start, end)
    label, spans = _spans(rule.per)
    if rule.statistic == "sensors":
        sql = (f"{head}, {range_cte}, {spans}, reporting as (select o.unit, {label} as label, "
               "count(distinct d.thing_id) as n from obs o join datastreams d using (datastream_id) group by all) "
               "select u.unit as city, coalesce(any_value(r.n), 0)::double as value, sp.label as period "
               "from (select distinct unit from rule_units) u cross join spans sp "
               "left join reporting r on r.unit = u.unit and r.label = sp.label group by u.unit, sp.label "
               "order by city, period")
    else:
        expected = _expected_buckets(rule.bucket, "sp.first", "sp.last")
        sql = (f"{head}, {range_cte}, {spans}, seen as (select datastream_id, {label} as label, "
               f"count(distinct {_bucket(rule.bucket, 'time')}) as buckets from obs group by all) "
               f"select s.unit as city, sum(coalesce(seen.buckets, 0)) / sum({expected}) as value, "
               "sp.label as period from streams s cross join spans sp "
               "left join seen on seen.datastream_id = s.datastream_id and seen.label = sp.label "
               "group by s.unit, sp.label order by city, period")
    return db.execute(sql, params + range_params).df()


def _spans(per: str) -> tuple[str, str]:
    """SQL for an observation's span label (of its `time`) and the `spans` (label, first, last) of the range:
    the whole range (label ''), or each calendar year's part of it."""
    if per != "year":
        return "''", "spans as (select '' as label, first, last from range)"
    return "year(time)::varchar", (
        "spans as (select y::varchar as label, greatest(first, make_timestamp(y, 1, 1, 0, 0, 0)) as first, "
        "least(last, make_timestamp(y + 1, 1, 1, 0, 0, 0) - interval 1 microsecond) as last "
        "from (select unnest(generate_series(year(first), year(last))) as y, first, last from range))")


def _valid_hours(hourly_table: str, readings: int) -> str:
    return (f"hourly as (select h.datastream_id, s.unit, h.t, h.v from {hourly_table} h "
            f"join streams s using (datastream_id) where h.n >= {readings})")


def _coverage(db, rule: Indicator, head: str, params: list, start, end, hourly_table: str | None) -> pd.DataFrame:
    """Per unit: datastreams with data in the range, and (with validity) the share of their days that are valid."""
    if rule.validity is None or rule.statistic in NETWORK_STATISTICS:
        sql = (f"{head} select unit as city, count(distinct datastream_id) as datastreams, null::double as "
               f"valid_days from obs group by unit order by city")
        return db.execute(sql, params).df()
    range_cte, range_params = _range_sql(start, end, hourly_table, "t")
    n, share = rule.validity.hour, rule.validity.day
    sql = (f"{head}, {range_cte}, {_valid_hours(hourly_table, n)}, "
           f"valid as (select datastream_id, count(*) as days from (select datastream_id from hourly "
           f"group by datastream_id, date_trunc('day', t) having count(*) >= {share!r} * 24) group by datastream_id), "
           f"present as (select distinct h.datastream_id, s.unit from {hourly_table} h join streams s "
           f"using (datastream_id)) "
           f"select p.unit as city, count(*) as datastreams, sum(coalesce(v.days, 0)) / "
           f"sum({_expected_buckets('day', 'r.first', 'r.last')}) as valid_days "
           f"from present p left join valid v using (datastream_id), range r group by p.unit order by city")
    return db.execute(sql, params + range_params).df()


def _as_datetime(value: date | datetime) -> datetime:
    """A naive UTC datetime, as the store keeps times."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def yearly(labels: pd.Series) -> pd.Series:
    """Which period labels an index reads as they are: a year, or empty (the whole range)."""
    return labels.fillna("").astype(str).str.fullmatch(r"\d{4}|")


def years(labels: pd.Series) -> pd.arrays.IntegerArray:
    """Yearly period labels as the indicators table's `year` (missing for the whole range)."""
    return pd.array([int(x) if x else None for x in labels.fillna("").astype(str)], dtype="Int64")


def write_indicators(table: pd.DataFrame, out: str | Path) -> Path:
    """Write the table as the index's long indicators CSV, atomically (a temporary file renamed into place).

    Yearly and whole-range values give `city,indicator,value[,year],source,note`, which `read_indicators` reads;
    finer buckets (days, months) keep their label in a `period` column instead.
    """
    out = Path(out)
    frame = table.copy()
    labels = frame.pop("period").fillna("")
    if yearly(labels).all():
        if (labels != "").any():
            frame.insert(3, "year", years(labels))
    else:
        frame.insert(3, "period", labels)
    with atomic_path(out) as temporary:
        frame.to_csv(temporary, index=False, float_format="%.10g")
    return out
