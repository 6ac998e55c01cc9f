"""The city map of a sensor store: districts coloured by an indicator (a selector over the rules' indicators, a
time slider over its periods), sensors as dots, the network's lines. The standalone page draws itself as SVG and
asks the network for nothing; a build with a `sensors:` block carries the same document to its site and dashboard.

The document is data only (`map_document`); the pages' scripts project and draw it.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, did_you_mean
from ..io.documents import read_text
from ..io.outputs import atomic_path
from .rules import RulesFile, read_districts

DIGITS = 5  # coordinates to about a metre
CLASSES = 7  # colour classes, by quantiles of every value of every period (skewed counts stay readable)


def map_document(db: duckdb.DuckDBPyConnection, rules: RulesFile | None = None,
                 indicators: pd.DataFrame | None = None, indicator: str | None = None, network: Path | None = None,
                 title: str = "City sensors") -> dict:
    """Sensors (id, name, lat, lon, properties), network lines, the bounds of it all and, for district rules, the
    district outlines with every rule's values by period and district and its colour classes' breaks.

    `indicators` is the table `rules.compute(rules, db).indicators` the caller has already computed (a build
    computes its rules once, for the index and for this map); `indicator` names the one shown first (default:
    the first rule). Rules of sensors or of the whole city have no districts to colour: the map shows the sensors."""
    sensors = [{"id": t, "name": n, "lat": round(lat, DIGITS), "lon": round(lon, DIGITS), "properties": p or ""}
               for t, n, lat, lon, p in db.execute(
                   "select t.thing_id, coalesce(nullif(t.name, ''), t.thing_id), l.lat, l.lon, "
                   "string_agg(distinct d.property, ', ' order by d.property) from things t "
                   "join locations l using (thing_id) left join datastreams d using (thing_id) "
                   "group by all order by 1").fetchall()]
    document = {"title": title, "sensors": sensors, "districts": [], "indicator": None, "indicators": {},
                "network": _lines(network) if network else []}
    if rules is not None and rules.model.spatial_unit == "district":
        if indicators is None:
            raise ValueError("district rules need their computed indicators table (rules.compute(...).indicators)")
        document.update(_districts(rules, indicators, indicator))
    points = [(s["lon"], s["lat"]) for s in sensors]
    points += [xy for d in document["districts"] for ring in d["rings"] for xy in ring]
    points += [xy for line in document["network"] for xy in line]
    if not points:
        raise InputError.single("store", "the sensor store has no located sensors and no districts to draw")
    xy = np.array(points, dtype=float)
    document["bounds"] = [float(v) for v in (*xy.min(axis=0), *xy.max(axis=0))]
    return document


def _districts(rules: RulesFile, table: pd.DataFrame, indicator: str | None) -> dict:
    """District outlines and every rule's values by period and district, with its colour breaks."""
    model = rules.model
    names = list(model.indicators)
    chosen = indicator or names[0]
    if chosen not in model.indicators:
        raise InputError.single(rules.path, f"no indicator {chosen!r} in the rules{did_you_mean(chosen, names)}; "
                                f"the rules have {', '.join(names)}")
    districts = read_districts(rules.path.parent / model.districts, model.id_property)
    table = table.assign(period=table["period"].fillna(""))
    by_name = {name: rows for name, rows in table.groupby("indicator", sort=False)}
    return {"districts": [{"id": i, "rings": _rings(shape)} for i, shape in zip(districts.ids, districts.shapes)],
            "indicator": chosen,
            "indicators": {name: _series(by_name.get(name, table.iloc[:0])) for name in names}}


def _series(rows: pd.DataFrame) -> dict:
    """One rule's periods in order, its values by period and district (null where the rule gave no number) and
    the breaks of its colour classes."""
    values = {p: {c: (None if v != v else round(float(v), 6)) for c, v in zip(group["city"], group["value"])}
              for p, group in rows.groupby("period", sort=True)}
    present = rows["value"].dropna().to_numpy(dtype=float)
    breaks = np.unique(np.quantile(present, np.linspace(0, 1, CLASSES + 1))).round(6).tolist() if len(present) else []
    return {"periods": sorted(values), "values": values, "breaks": breaks}


def latest_values(document: dict) -> dict[str, list[dict]]:
    """Each district's latest value of every rule of the document (indicator, period, value), for the city page
    of an index unit; districts without any value are left out."""
    out: dict[str, list[dict]] = {}
    for name, series in document["indicators"].items():
        latest: dict[str, tuple[str, float]] = {}
        for period in series["periods"]:
            for district, value in series["values"][period].items():
                if value is not None:
                    latest[district] = (period, value)
        for district, (period, value) in latest.items():
            out.setdefault(district, []).append({"indicator": name, "period": period, "value": value})
    return out


def _rings(shape) -> list[list[list[float]]]:
    """The outer and inner rings of a (multi)polygon, rounded."""
    polygons = shape.geoms if isinstance(shape, shapely.MultiPolygon) else [shape]
    return [np.round(np.asarray(ring.coords)[:, :2], DIGITS).tolist()
            for polygon in polygons for ring in (polygon.exterior, *polygon.interiors)]


def _lines(path: Path) -> list[list[list[float]]]:
    """The LineStrings of a GeoJSON file (a cycle network, a road network), rounded; other geometries skipped. A
    file that is not JSON, or holds no line at all, is an error naming it."""
    try:
        document = json.loads(read_text(path, "network GeoJSON"))
    except json.JSONDecodeError as err:
        raise InputError.single(path, f"not valid JSON: {err.msg}", line=err.lineno) from None
    features = document.get("features", []) if isinstance(document, dict) else []
    out = []
    for feature in features:
        geometry = (feature or {}).get("geometry") or {}
        if geometry.get("type") == "LineString":
            out.append(geometry["coordinates"])
        elif geometry.get("type") == "MultiLineString":
            out.extend(geometry["coordinates"])
    lines = [np.round(np.asarray(line, dtype=float)[:, :2], DIGITS).tolist() for line in out if len(line) > 1]
    if not lines:
        raise InputError.single(path, "the network GeoJSON holds no LineString or MultiLineString feature")
    return lines


def write_map(document: dict, out: str | Path) -> Path:
    """The map as one HTML file, written to a temporary name and renamed into place."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("smartcities.sensors", "templates"), autoescape=True)
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    html = env.get_template("map.html.j2").render(title=document["title"], data=data)
    out = Path(out)
    with atomic_path(out) as temporary:
        temporary.write_text(html, encoding="utf-8")
    return out
