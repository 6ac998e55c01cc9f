"""The offline city map of a sensor store: districts coloured by an indicator (a time slider over its periods),
sensors as dots, the network's lines; one HTML file that draws itself as SVG and asks the network for nothing.

The document is data only (`map_document`); the page's script projects and draws it.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import shapely

from ..errors import InputError
from ..io.documents import read_text
from .rules import RulesFile, compute, read_districts

DIGITS = 5  # coordinates to about a metre
CLASSES = 7  # colour classes, by quantiles of every value of every period (skewed counts stay readable)


def map_document(db: duckdb.DuckDBPyConnection, rules: RulesFile | None = None, indicator: str | None = None,
                 network: Path | None = None, title: str = "City sensors") -> dict:
    """Sensors (id, name, lat, lon, properties), district outlines with one indicator's value per period (from
    district rules) and its colour classes' breaks, network lines, and the bounds of it all."""
    sensors = [{"id": t, "name": n, "lat": round(lat, DIGITS), "lon": round(lon, DIGITS), "properties": p or ""}
               for t, n, lat, lon, p in db.execute(
                   "select t.thing_id, coalesce(nullif(t.name, ''), t.thing_id), l.lat, l.lon, "
                   "string_agg(distinct d.property, ', ' order by d.property) from things t "
                   "join locations l using (thing_id) left join datastreams d using (thing_id) "
                   "group by all order by 1").fetchall()]
    document = {"title": title, "sensors": sensors, "districts": [], "indicator": None, "periods": [],
                "values": {}, "breaks": [], "network": _lines(network) if network else []}
    if rules is not None:
        document.update(_districts(db, rules, indicator))
    points = [(s["lon"], s["lat"]) for s in sensors]
    points += [xy for d in document["districts"] for ring in d["rings"] for xy in ring]
    points += [xy for line in document["network"] for xy in line]
    if not points:
        raise InputError.single("store", "the sensor store has no located sensors and no districts to draw")
    xy = np.array(points, dtype=float)
    document["bounds"] = [float(v) for v in (*xy.min(axis=0), *xy.max(axis=0))]
    return document


def _districts(db, rules: RulesFile, indicator: str | None) -> dict:
    """District outlines and the chosen indicator's values by period and district (rules with districts)."""
    model = rules.model
    if model.spatial_unit != "district":
        raise InputError.single(rules.path, f"a map colours districts: spatial_unit is {model.spatial_unit}, "
                                "expected district", line=rules.line("spatial_unit"))
    names = list(model.indicators)
    chosen = indicator or names[0]
    if chosen not in model.indicators:
        from ..errors import did_you_mean

        raise InputError.single(rules.path, f"no indicator {chosen!r} in the rules{did_you_mean(chosen, names)}; "
                                f"the rules have {', '.join(names)}")
    districts = read_districts(rules.path.parent / model.districts, model.id_property)
    table = compute(rules, db).indicators
    table = table[table["indicator"] == chosen]
    periods = sorted(set(table["period"].fillna("")))
    values = {p: {c: (None if v != v else round(float(v), 6)) for c, v in zip(rows["city"], rows["value"])}
              for p, rows in table.assign(period=table["period"].fillna("")).groupby("period")}
    outlines = [{"id": i, "rings": _rings(shape)} for i, shape in zip(districts.ids, districts.shapes)]
    present = table["value"].dropna().to_numpy(dtype=float)
    breaks = np.unique(np.quantile(present, np.linspace(0, 1, CLASSES + 1))).round(6).tolist() if len(present) else []
    return {"districts": outlines, "indicator": chosen, "periods": periods, "values": values, "breaks": breaks}


def _rings(shape) -> list[list[list[float]]]:
    """The outer and inner rings of a (multi)polygon, rounded."""
    polygons = shape.geoms if isinstance(shape, shapely.MultiPolygon) else [shape]
    return [np.round(np.asarray(ring.coords)[:, :2], DIGITS).tolist()
            for polygon in polygons for ring in (polygon.exterior, *polygon.interiors)]


def _lines(path: Path) -> list[list[list[float]]]:
    """The LineStrings of a GeoJSON file (a cycle network, a road network), rounded; other geometries skipped."""
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
    return [np.round(np.asarray(line, dtype=float)[:, :2], DIGITS).tolist() for line in out if len(line) > 1]


def write_map(document: dict, out: str | Path) -> Path:
    """The map as one HTML file, written to a temporary name and renamed into place."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("smartcities.sensors", "templates"), autoescape=True)
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    html = env.get_template("map.html.j2").render(title=document["title"], data=data)
    out = Path(out)
    temporary = out.with_name(f".{out.name}.tmp")
    temporary.write_text(html, encoding="utf-8")
    temporary.replace(out)
    return out
