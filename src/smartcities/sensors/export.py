"""The sensor store written out for other platforms: SensorThings JSON and NGSI-LD entities.

SensorThings: every Thing with its Locations and Datastreams (Sensor and ObservedProperty inline), each
Datastream's Observations in the dataArray result format (`components` + `dataArray`), which `sensors import
--format sensorthings` reads back. NGSI-LD: one entity per Thing holding the newest value of each of its
Datastreams as a Property with `observedAt`, its Location as a GeoJSON `location`, and the core @context.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from ..errors import InputError
from ..io.outputs import atomic_path
from ..online.bundle import plain

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
NGSI_LD_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"

LATEST = """
with newest as (
    select datastream_id, max(time) as time, arg_max(value, time) as value
    from observations group by datastream_id)
select d.datastream_id, d.thing_id, t.name as thing_name, d.sensor_id, d.property,
       coalesce(d.unit, p.unit) as unit, l.lat, l.lon, n.time, n.value
from newest n
join datastreams d using (datastream_id)
left join things t on t.thing_id = d.thing_id
left join locations l on l.thing_id = d.thing_id
left join observed_properties p on p.property = d.property
order by d.datastream_id
"""


def iso(time: datetime) -> str:
    """A stored (UTC) time as ISO 8601 with Z, the form SensorThings and NGSI-LD use."""
    return time.isoformat() + "Z"


def latest(db) -> list[dict]:
    """The newest observation of every Datastream that has one, with its Thing, property, unit and location: one
    grouped pass with arg_max, not a query per Datastream."""
    return rows(db, LATEST)


def rows(db, sql: str, parameters: list | None = None) -> list[dict]:
    """The answer of a query as dicts by column name."""
    cursor = db.execute(sql, parameters or [])
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def to_sensorthings(db) -> dict:
    """Every Thing, with its Location, Datastreams and all their Observations (dataArray), as `{"value": [...]}`."""
    locations = {r["thing_id"]: r for r in rows(db, "select * from locations")}
    sensors = {r["sensor_id"]: r for r in rows(db, "select * from sensors")}
    properties = {r["property"]: r for r in rows(db, "select * from observed_properties")}
    streams: dict[str, list[dict]] = {}
    for stream in rows(db, "select * from datastreams order by datastream_id"):
        streams.setdefault(stream["thing_id"], []).append(stream)
    observations: dict[int, list] = {}
    for ds, time, value in db.execute("select datastream_id, time, value from observations "
                                      "order by datastream_id, time").fetchall():
        observations.setdefault(ds, []).append([iso(time), value])
    things = []
    for thing in rows(db, "select * from things order by thing_id"):
        tid = thing["thing_id"]
        entry = {"@iot.id": tid, "name": thing["name"] or tid, "description": thing["description"] or "",
                 "properties": json.loads(thing["properties"]) if thing["properties"] else {}}
        if tid in locations:
            entry["Locations"] = [sensorthings_location(locations[tid])]
        entry["Datastreams"] = [{
            **sensorthings_datastream(s, thing["name"] or tid, properties.get(s["property"])),
            "Sensor": sensorthings_sensor(sensors.get(s["sensor_id"]) or {"sensor_id": s["sensor_id"]}),
            "ObservedProperty": sensorthings_property(properties.get(s["property"]) or {"property": s["property"]}),
            "Observations": {"components": ["phenomenonTime", "result"],
                             "dataArray@iot.count": len(observations.get(s["datastream_id"], [])),
                             "dataArray": observations.get(s["datastream_id"], [])},
        } for s in streams.get(tid, [])]
        things.append(entry)
    return {"value": things}


def sensorthings_location(row: dict) -> dict:
    return {"@iot.id": row["thing_id"], "name": row.get("name") or row["thing_id"], "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}


def sensorthings_sensor(row: dict) -> dict:
    return {"@iot.id": row["sensor_id"], "name": row.get("name") or row["sensor_id"],
            "description": row.get("description") or "", "encodingType": "text/plain", "metadata": ""}


def sensorthings_property(row: dict) -> dict:
    return {"@iot.id": row["property"], "name": row.get("name") or row["property"],
            "definition": row.get("definition") or "", "description": row.get("name") or row["property"]}


def sensorthings_datastream(row: dict, thing_name: str, observed: dict | None) -> dict:
    unit = row["unit"] or (observed or {}).get("unit") or ""
    return {"@iot.id": row["datastream_id"], "name": f"{thing_name} {row['property']}", "description": "",
            "observationType": OM_MEASUREMENT,
            "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": ""}}


def ngsi_ld_id(thing_id: str) -> str:
    return "urn:ngsi-ld:Thing:" + quote(thing_id, safe="")


def to_ngsi_ld(db) -> list[dict]:
    """One NGSI-LD entity per Thing: its newest value of each property (a Property with observedAt and the unit in
    unitCode, as the store names it), `dateObserved` the newest of those times, `location` a GeoJSON Point. A
    property measured by several Datastreams of one Thing is a multi-attribute told apart by datasetId."""
    newest: dict[str, list[dict]] = {}
    for row in latest(db):
        newest.setdefault(row["thing_id"], []).append(row)
    locations = {r["thing_id"]: r for r in rows(db, "select * from locations")}
    entities = []
    for thing in rows(db, "select * from things order by thing_id"):
        tid = thing["thing_id"]
        entity: dict = {"id": ngsi_ld_id(tid), "type": "Thing",
                        "name": {"type": "Property", "value": thing["name"] or tid}}
        if tid in locations:
            place = locations[tid]
            entity["location"] = {"type": "GeoProperty",
                                  "value": {"type": "Point", "coordinates": [place["lon"], place["lat"]]}}
        values = newest.get(tid, [])
        if values:
            entity["dateObserved"] = {"type": "Property", "value": iso(max(v["time"] for v in values))}
        by_property: dict[str, list[dict]] = {}
        for row in values:
            by_property.setdefault(row["property"], []).append(row)
        for prop, streams in by_property.items():
            if prop in entity or prop == "@context":
                raise InputError.single("--store", f"property {prop!r} of Thing {tid!r} has the name of an NGSI-LD "
                                        "attribute the entity already has; rename the property")
            attributes = [ngsi_ld_property(row, len(streams) > 1) for row in streams]
            entity[prop] = attributes[0] if len(attributes) == 1 else attributes
        entity["@context"] = [NGSI_LD_CONTEXT]
        entities.append(entity)
    return entities


def ngsi_ld_property(row: dict, with_dataset: bool) -> dict:
    attribute = {"type": "Property", "value": row["value"], "observedAt": iso(row["time"])}
    if row["unit"]:
        attribute["unitCode"] = row["unit"]
    if with_dataset:
        attribute["datasetId"] = "urn:ngsi-ld:Dataset:" + quote(row["sensor_id"], safe="")
    return attribute


EXPORTERS = {"sensorthings": to_sensorthings, "ngsi-ld": to_ngsi_ld}


def write_json(document: dict | list, out: str | Path) -> Path:
    """Write the document as JSON, atomically (a temporary file renamed into place)."""
    out = Path(out)
    with atomic_path(out) as temporary:
        temporary.write_text(json.dumps(plain(document), ensure_ascii=False, allow_nan=False), encoding="utf-8")
    return out
