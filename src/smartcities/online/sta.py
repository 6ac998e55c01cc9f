"""A read-only OGC SensorThings API (v1.1) over the sensor store, and the newest value of every Datastream.

`sta_router(STORE)` serves, under /sta/v1.1, the entity sets Things, Locations, Datastreams, Sensors,
ObservedProperties and Observations in SensorThings' JSON shape (`@iot.id`, `@iot.selfLink`, navigation links,
`value` arrays, `@iot.count`, `@iot.nextLink`), with $top, $skip, $count, $orderby, $expand (Things: Datastreams,
Locations) and a small $filter: conditions `FIELD OP VALUE` joined by `and`. Anything the parser does not
understand is a 400 problem naming that part, never silently ignored; every user value reaches SQL as a
parameter. `/sta/v1.1/latest` answers what dashboards ask most (the newest observation of each Datastream) in one
grouped query instead of a `$orderby=phenomenonTime desc&$top=1` per Datastream.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ..sensors.export import OM_MEASUREMENT, iso, latest
from ..sensors.store import connect
from .problems import ApiError

PREFIX = "/sta/v1.1"
DEFAULT_TOP = 100
MAX_TOP = 10_000
OPTIONS = ("$top", "$skip", "$count", "$orderby", "$filter", "$expand")
OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
CONFORMANCE = ["http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
               "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
               "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data"]


# --- the entity sets -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntitySet:
    """One entity set: the SQL giving its rows (with its id as `id`), how a row becomes SensorThings JSON, and the
    fields $filter and $orderby may name (name -> (SQL column, kind))."""

    name: str
    base: str
    shape: Callable[[str, dict], dict]
    filters: dict[str, tuple[str, str]]
    orders: dict[str, str]
    key_kind: str = "text"  # text ids are quoted in paths: Things('s1'); integer ids are not: Datastreams(3)
    expands: dict[str, tuple[str, str]] = field(default_factory=dict)  # navigation -> (set, its column = our id)


def link(base: str, name: str, key) -> str:
    """The URL of one entity: integer ids bare, text ids quoted (a quote doubled), as SensorThings writes them."""
    text = str(key) if isinstance(key, int) else "'" + str(key).replace("'", "''") + "'"
    return f"{base}/{name}({quote(text, safe=chr(39) + ':')})"


def thing(base: str, row: dict) -> dict:
    self = link(base, "Things", row["id"])
    return {"@iot.id": row["id"], "@iot.selfLink": self, "name": row["name"] or row["id"],
            "description": row["description"] or "",
            "properties": json.loads(row["properties"]) if row["properties"] else {},
            "Locations@iot.navigationLink": f"{self}/Locations",
            "Datastreams@iot.navigationLink": f"{self}/Datastreams"}


def location(base: str, row: dict) -> dict:
    self = link(base, "Locations", row["id"])
    return {"@iot.id": row["id"], "@iot.selfLink": self, "name": row["name"] or row["id"], "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [finite(row["lon"]), finite(row["lat"])]},
            "Things@iot.navigationLink": f"{self}/Things"}


def sensor(base: str, row: dict) -> dict:
    self = link(base, "Sensors", row["id"])
    return {"@iot.id": row["id"], "@iot.selfLink": self, "name": row["name"] or row["id"],
            "description": row["description"] or "", "encodingType": "text/plain", "metadata": "",
            "Datastreams@iot.navigationLink": f"{self}/Datastreams"}


def observed_property(base: str, row: dict) -> dict:
    self = link(base, "ObservedProperties", row["id"])
    return {"@iot.id": row["id"], "@iot.selfLink": self, "name": row["name"] or row["id"],
            "definition": row["definition"] or "", "description": row["name"] or row["id"],
            "Datastreams@iot.navigationLink": f"{self}/Datastreams"}


def datastream(base: str, row: dict) -> dict:
    self = link(base, "Datastreams", row["id"])
    unit = row["unit"] or ""
    return {"@iot.id": row["id"], "@iot.selfLink": self,
            "name": f"{row['thing_name'] or row['thing_id']} {row['property']}", "description": "",
            "observationType": OM_MEASUREMENT, "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": ""},
            "Thing@iot.navigationLink": f"{self}/Thing", "Sensor@iot.navigationLink": f"{self}/Sensor",
            "ObservedProperty@iot.navigationLink": f"{self}/ObservedProperty",
            "Observations@iot.navigationLink": f"{self}/Observations"}


def observation(base: str, row: dict) -> dict:
    key = observation_id(row["datastream_id"], row["time"])
    self = link(base, "Observations", key)
    return {"@iot.id": key, "@iot.selfLink": self,
            "phenomenonTime": iso(row["time"]), "resultTime": None, "result": finite(row["value"]),
            "Datastream@iot.navigationLink": f"{self}/Datastream"}


def observation_id(datastream_id: int, time: datetime) -> str:
    """An Observation is unique by its Datastream and time, so those two are its id: '3:2019-06-01T00:00:00Z'."""
    return f"{datastream_id}:{iso(time)}"


NAMED = {"@iot.id": ("id", "text"), "name": ("name", "text")}  # what the sets with text ids filter on
BY_NAME = {"@iot.id": "id", "name": "name"}  # and order by
SETS = {s.name: s for s in [
    EntitySet("Things", "select thing_id as id, name, description, properties from things", thing, NAMED, BY_NAME,
              expands={"Datastreams": ("Datastreams", "thing_id"), "Locations": ("Locations", "id")}),
    EntitySet("Locations", "select thing_id as id, lat, lon, name from locations", location, NAMED, BY_NAME),
    EntitySet("Sensors", "select sensor_id as id, name, description from sensors", sensor, NAMED, BY_NAME),
    EntitySet("ObservedProperties", "select property as id, name, definition, unit from observed_properties",
              observed_property, NAMED, BY_NAME),
    EntitySet("Datastreams",
              "select d.datastream_id as id, d.thing_id, d.sensor_id, d.property, coalesce(d.unit, p.unit) as unit, "
              "t.name as thing_name from datastreams d left join things t on t.thing_id = d.thing_id "
              "left join observed_properties p on p.property = d.property", datastream,
              {"@iot.id": ("id", "integer"), "Thing/@iot.id": ("thing_id", "text"),
               "Sensor/@iot.id": ("sensor_id", "text"), "ObservedProperty/@iot.id": ("property", "text")},
              {"@iot.id": "id"}, key_kind="integer"),
    EntitySet("Observations", "select datastream_id, time, value from observations", observation,
              {"phenomenonTime": ("time", "time"), "result": ("value", "number"),
               "Datastream/@iot.id": ("datastream_id", "integer")},
              {"@iot.id": "datastream_id, time", "phenomenonTime": "time", "result": "value"}, key_kind="observation"),
]}

# parent set, navigation -> (child set, the child rows' condition on the parent's key, one entity or a list)
NAVIGATION = {
    ("Things", "Datastreams"): ("Datastreams", "thing_id = ?", False),
    ("Things", "Locations"): ("Locations", "id = ?", False),
    ("Locations", "Things"): ("Things", "id = ?", False),
    ("Sensors", "Datastreams"): ("Datastreams", "sensor_id = ?", False),
    ("ObservedProperties", "Datastreams"): ("Datastreams", "property = ?", False),
    ("Datastreams", "Observations"): ("Observations", "datastream_id = ?", False),
    ("Datastreams", "Thing"): ("Things", "id = (select thing_id from datastreams where datastream_id = ?)", True),
    ("Datastreams", "Sensor"): ("Sensors", "id = (select sensor_id from datastreams where datastream_id = ?)", True),
    ("Datastreams", "ObservedProperty"):
        ("ObservedProperties", "id = (select property from datastreams where datastream_id = ?)", True),
    ("Observations", "Datastream"):
        ("Datastreams", "id = (select datastream_id from observations where datastream_id = ? and time = ?)", True),
}


# --- query options -------------------------------------------------------------------------------------------------

@dataclass
class Options:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    order: list[str] = field(default_factory=list)  # SQL terms, from the set's own names only
    where: list[str] = field(default_factory=list)  # SQL conditions with ? placeholders
    parameters: list = field(default_factory=list)
    expand: list[str] = field(default_factory=list)


def query_options(request: Request,
                  top: str | None = Query(None, alias="$top", description=f"at most this many (default "
                                          f"{DEFAULT_TOP}, at most {MAX_TOP:,}; beyond, follow @iot.nextLink)"),
                  skip: str | None = Query(None, alias="$skip", description="skip this many first"),
                  count: str | None = Query(None, alias="$count", description="true: give @iot.count"),
                  orderby: str | None = Query(None, alias="$orderby", description="e.g. `phenomenonTime desc` or "
                                              "`@iot.id`; terms joined by commas"),
                  filter: str | None = Query(None, alias="$filter", description="conditions FIELD OP VALUE joined "
                                             "by `and`, e.g. `phenomenonTime ge 2019-06-01T00:00:00Z and "
                                             "Datastream/@iot.id eq 3`; OP eq, ne, gt, ge, lt, le"),
                  expand: str | None = Query(None, alias="$expand", description="Things: Datastreams, Locations")
                  ) -> dict[str, str | None]:
    """The SensorThings query options as given; a `$` option this server does not read is a 400."""
    for name in request.query_params:
        if name.startswith("$") and name not in OPTIONS:
            raise ApiError(400, [(name, f"{name} is not supported; this server reads {', '.join(OPTIONS)}")])
    return {"$top": top, "$skip": skip, "$count": count, "$orderby": orderby, "$filter": filter, "$expand": expand}


def read_options(given: dict[str, str | None], entity: EntitySet) -> Options:
    """The options checked against what `entity` offers."""
    options = Options()
    if given["$top"] is not None:
        options.top = min(whole_number("$top", given["$top"]), MAX_TOP)
    if given["$skip"] is not None:
        options.skip = whole_number("$skip", given["$skip"])
    if given["$count"] is not None:
        if given["$count"] not in ("true", "false"):
            raise ApiError(400, [("$count", f"$count must be true or false (got {given['$count']!r})")])
        options.count = given["$count"] == "true"
    if given["$orderby"] is not None:
        options.order = order_terms(given["$orderby"], entity)
    options.order.append(entity.orders["@iot.id"])  # ties broken by id: pages never overlap
    if given["$filter"] is not None:
        options.where, options.parameters = parse_filter(given["$filter"], entity)
    if given["$expand"] is not None:
        options.expand = [part.strip() for part in given["$expand"].split(",")]
        for part in options.expand:
            if part not in entity.expands:
                offered = ", ".join(entity.expands) or "nothing"
                raise ApiError(400, [("$expand", f"$expand: {part!r} is not understood; {entity.name} expand "
                                      f"{offered} (without nested options)")])
    return options


def whole_number(name: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text):  # at most 18 digits: within DuckDB's LIMIT and OFFSET
        raise ApiError(400, [(name, f"{name} must be a whole number from 0 to 18 digits (got {text!r})")])
    return int(text)


def order_terms(text: str, entity: EntitySet) -> list[str]:
    terms = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in entity.orders or words[1:] not in ([], ["asc"], ["desc"]):
            raise ApiError(400, [("$orderby", f"$orderby: {part.strip()!r} is not understood; expected NAME [asc|desc] "
                                  f"with NAME one of {', '.join(entity.orders)}")])
        direction = " desc" if words[1:] == ["desc"] else ""
        terms.extend(f"{column.strip()}{direction}" for column in entity.orders[words[0]].split(","))
    return terms


TOKEN = re.compile(r"""\s*(?:(?P<text>'(?:[^']|'')*')
                   |(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
                   |(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
                   |(?P<word>[A-Za-z@][A-Za-z0-9@/._]*))""", re.VERBOSE)


def parse_filter(text: str, entity: EntitySet) -> tuple[list[str], list]:
    """`FIELD OP VALUE [and FIELD OP VALUE]…` as SQL conditions and their parameters. Times are ISO 8601 with a
    zone (`Z` or `+01:00`, the `+` sent as %2B), text is quoted ('s1'), numbers bare."""
    fields = ", ".join(entity.filters) or "none"
    expected = (f"conditions FIELD OP VALUE joined by and, FIELD one of {fields}, OP one of "
                f"{', '.join(OPERATORS)}")
    where, parameters, at = [], [], 0

    def refuse(what: str, position: int):
        rest = text[position:].lstrip()
        character = len(text) - len(rest) + 1  # where the part not understood starts, counted from 1
        shown = rest.rstrip() if len(rest) <= 40 else rest[:40] + "…"
        raise ApiError(400, [("$filter", f"$filter: {what} at {shown!r} (character {character}); expected "
                              f"{expected}")])

    def token(kind: str) -> str | None:
        """The next token if it is of `kind` and ends at a space or the end (then `at` moves past it)."""
        nonlocal at
        match = TOKEN.match(text, at)
        if match is None or match.group(kind) is None or text[match.end():match.end() + 1].strip():
            return None
        at = match.end()
        return match.group(kind)

    while True:
        start = at
        name = token("word")
        if name not in entity.filters:
            refuse(f"field {name!r} is not one this server filters {entity.name} on" if name else "no field", start)
        column, kind = entity.filters[name]
        start = at
        op = token("word")
        if op not in OPERATORS:
            refuse("no comparison eq, ne, gt, ge, lt or le", start)
        start = at
        value = literal(token, kind)
        if value is None:
            refuse(f"no {KIND_WORDS[kind]} for {name}", start)
        parameters.append(value)
        where.append(f"{column} {OPERATORS[op]} ?")
        if not text[at:].strip():
            return where, parameters
        start = at
        if token("word") != "and":
            refuse("only 'and' may join conditions", start)


KIND_WORDS = {"time": "ISO 8601 time with a zone (2019-06-01T00:00:00Z)", "integer": "whole number",
              "number": "number", "text": "quoted text ('…')"}


def literal(token: Callable[[str], str | None], kind: str):
    """The next value as the field's kind, or None when it is not one."""
    if kind == "time":
        found = token("time")
        try:
            return None if found is None else datetime.fromisoformat(found).astimezone(UTC).replace(tzinfo=None)
        except ValueError:  # shaped like a time but none (hour 25)
            return None
    if kind == "text":
        found = token("text")
        return None if found is None else found[1:-1].replace("''", "'")
    found = token("number")
    if found is None or (kind == "integer" and not re.fullmatch(r"-?\d+", found)):
        return None
    return int(found) if kind == "integer" else float(found)


# --- the router ----------------------------------------------------------------------------------------------------

def key_of(entity: EntitySet, text: str) -> tuple[str, list]:
    """The condition and parameters selecting the entity a path names (`Things('s1')`, `Datastreams(3)`); an id
    that cannot be one is a 404."""
    if entity.key_kind == "integer":
        if not re.fullmatch(r"[0-9]+", text):
            raise ApiError(404, [(None, f"{entity.name}({text}) does not exist: its ids are whole numbers")])
        return "id = ?", [int(text)]
    unquoted = text[1:-1].replace("''", "'") if len(text) >= 2 and text[0] == text[-1] == "'" else text
    if entity.key_kind == "observation":
        stream, _, time = unquoted.partition(":")
        try:
            moment = datetime.fromisoformat(time).astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            moment = None
        if not re.fullmatch(r"[0-9]+", stream) or moment is None:
            raise ApiError(404, [(None, f"Observations({text}) does not exist: its ids are 'DATASTREAM:ISO-TIME'")])
        return "datastream_id = ? and time = ?", [int(stream), moment]
    return "id = ?", [unquoted]


class Reader:
    """The store opened read-only once; each query runs on its own cursor, so requests may run side by side."""

    def __init__(self, store_path: str | Path):
        self.store = connect(store_path, read_only=True)
        self.newest = latest(self.store)  # read at start, as `serve` reads the published documents
        self.newest_answers: dict[str, bytes] = {}  # link base -> the latest values as JSON

    def query(self, sql: str, parameters: list) -> list[dict]:
        cursor = self.store.cursor()
        try:
            result = cursor.execute(sql, parameters)
            names = [c[0] for c in result.description]
            return [dict(zip(names, row)) for row in result.fetchall()]
        finally:
            cursor.close()

    def latest(self, base: str) -> bytes:
        """The newest observation of every Datastream, found once when the server starts: a store open read-only
        cannot change while it is served, since DuckDB lets one process write or several read, never both."""
        if base not in self.newest_answers:
            self.newest_answers[base] = encoded({"value": [{
                "datastream": r["datastream_id"], "thing": r["thing_id"], "name": r["thing_name"] or r["thing_id"],
                "property": r["property"], "unit": r["unit"], "lat": finite(r["lat"]), "lon": finite(r["lon"]),
                "phenomenonTime": iso(r["time"]), "result": finite(r["value"]),
                "Datastream@iot.navigationLink": link(base, "Datastreams", r["datastream_id"])}
                for r in self.newest]})
        return self.newest_answers[base]

    def listing(self, request: Request, entity: EntitySet, given: dict, where: list[str], parameters: list) -> dict:
        """One page of `entity` (rows meeting `where` and the $filter), with @iot.count and @iot.nextLink."""
        options = read_options(given, entity)
        conditions = where + options.where
        values = parameters + options.parameters
        sql = f"select * from ({entity.base}) e" + (" where " + " and ".join(conditions) if conditions else "")
        found = self.query(f"{sql} order by {', '.join(options.order)} limit ? offset ?",
                           values + [options.top + 1, options.skip])
        rows = found[:options.top]
        base = root_of(request)
        body: dict = {}
        if options.count:
            body["@iot.count"] = self.query(f"select count(*) as n from ({sql})", values)[0]["n"]
        if options.top and len(found) > options.top:  # $top=0 asks for the count alone: no next page
            body["@iot.nextLink"] = next_link(request, options.skip + options.top, options.top)
        body["value"] = self.shaped(base, entity, rows, options.expand)
        return body

    def one(self, request: Request, entity: EntitySet, given: dict, where: str, parameters: list,
            what: str) -> dict:
        """The one entity `where` selects (404 when none), with $expand."""
        if any(given[name] is not None for name in OPTIONS if name != "$expand"):
            raise ApiError(400, [(None, f"{what} is one entity: of the query options only $expand applies")])
        options = read_options(given, entity)
        found = self.query(f"select * from ({entity.base}) e where {where}", parameters)
        if not found:
            raise ApiError(404, [(None, f"{what} does not exist")])
        return self.shaped(root_of(request), entity, found, options.expand)[0]

    def exists(self, entity: EntitySet, where: str, parameters: list) -> bool:
        return bool(self.query(f"select 1 from ({entity.base}) e where {where} limit 1", parameters))

    def shaped(self, base: str, entity: EntitySet, rows: list[dict], expand: list[str]) -> list[dict]:
        """The rows as SensorThings JSON, each with its expanded navigations inline (one query per navigation
        for the whole page)."""
        page = [entity.shape(base, row) for row in rows]
        for navigation in expand:
            ids = [row["id"] for row in rows]
            child_name, column = entity.expands[navigation]
            child = SETS[child_name]
            inline: dict = {key: [] for key in ids}
            for row in self.query(f"select * from ({child.base}) e where list_contains(?, {column}) "
                                  f"order by {child.orders['@iot.id']}", [ids]):
                inline[row[column]].append(child.shape(base, row))
            for key, shaped in zip(ids, page):
                shaped[navigation] = inline[key]
        return page


def root_of(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def next_link(request: Request, skip: int, top: int) -> str:
    """This request's URL for the next page: the same options with $skip moved on."""
    parameters = {**dict(request.query_params), "$skip": str(skip), "$top": str(top)}
    return str(request.url.replace(query=urlencode(parameters, safe="$/@,'():", quote_via=quote)))


def json_response(body: dict | bytes) -> Response:
    return Response(body if isinstance(body, bytes) else encoded(body), media_type="application/json")


def encoded(body: dict) -> bytes:
    """The body as JSON: the shapes hold plain Python values (numbers made finite by `finite`), so no walk first."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def finite(value: float | None) -> float | None:
    """A number JSON can hold: NaN and infinities (a store may hold them) as null."""
    return value if value is not None and math.isfinite(value) else None


def sta_router(store_path: str | Path) -> APIRouter:
    """The SensorThings read API and the latest values over the store at `store_path`, under /sta/v1.1."""
    reader = Reader(store_path)
    router = APIRouter(prefix=PREFIX, tags=["sensorthings"])

    @router.get("", summary="The service root: the entity sets")
    def service_root(request: Request) -> Response:
        base = root_of(request)
        return json_response({"value": [{"name": name, "url": f"{base}/{name}"} for name in SETS],
                              "serverSettings": {"conformance": CONFORMANCE, "latest": f"{base}/latest"}})

    @router.get("/latest", summary="The newest observation of every Datastream")
    def newest(request: Request) -> Response:
        """One row per Datastream with observations: its newest time and value, Thing, property, unit and
        location, from one grouped query (arg_max over the observations)."""
        return json_response(reader.latest(root_of(request)))

    for entity in SETS.values():
        add_entity_routes(router, reader, entity)
    for (parent, navigation), (child, condition, single) in NAVIGATION.items():
        add_navigation_route(router, reader, SETS[parent], navigation, SETS[child], condition, single)
    return router


def add_entity_routes(router: APIRouter, reader: Reader, entity: EntitySet) -> None:
    @router.get(f"/{entity.name}", summary=entity.name)
    def collection(request: Request, given: dict = Depends(query_options)) -> Response:
        return json_response(reader.listing(request, entity, given, [], []))

    @router.get(f"/{entity.name}({{key}})", summary=f"One of the {entity.name}")
    def member(request: Request, key: str, given: dict = Depends(query_options)) -> Response:
        where, parameters = key_of(entity, key)
        return json_response(reader.one(request, entity, given, where, parameters, f"{entity.name}({key})"))


def add_navigation_route(router: APIRouter, reader: Reader, parent: EntitySet, navigation: str, child: EntitySet,
                         condition: str, single: bool) -> None:
    @router.get(f"/{parent.name}({{key}})/{navigation}", summary=f"The {navigation} of one of the {parent.name}")
    def related(request: Request, key: str, given: dict = Depends(query_options)) -> Response:
        where, parameters = key_of(parent, key)
        if not reader.exists(parent, where, parameters):
            raise ApiError(404, [(None, f"{parent.name}({key}) does not exist")])
        if single:
            return json_response(reader.one(request, child, given, condition, parameters,
                                            f"{parent.name}({key})/{navigation}"))
        return json_response(reader.listing(request, child, given, [condition], parameters))
