"""The static site and the single-file dashboard, rendered from the documents of `online.bundle`.

Every page is plain HTML with the data it needs inlined as `<script type="application/json">`, so a page works from
a static host and from file:// alike (file:// forbids fetching a neighbour file). One classic script, `app.js`,
draws every view from that data; `whatif.js` recomputes the index for the what-if. City pages inline only their own
city, so ten thousand of them stay small; the site loads plotly.js once from `assets/`, the dashboard inlines it.
"""

from __future__ import annotations

import json
import math
import shutil
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from ..report.plotly_html import PLOTLY_DATA, plotly_js
from ..report.templating import environment
from .bundle import write_bytes, write_documents

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
WORLD = ASSETS / "world" / "countries-110m.json"
RANKING_FIELDS = ("score", "rank", "grade", "rating", "median_rank", "p05", "p95", "best_rank", "worst_rank",
                  "rank_change", "change_p05", "change_p95", "significant",  # these four: editions builds only
                  "smoothed_score", "smoothed_rank")  # these two: editions builds with `editions: smooth` only
PAGES = {  # page -> (file, title, the documents it inlines)
    "ranking": ("index.html", "Ranking", ("cities", "ranking")),
    "map": ("map.html", "Map", ("cities", "ranking", "map")),
    "sensors": ("sensors.html", "Sensors", ("cities", "sensors")),  # a build with a `sensors:` block only
    "whatif": ("whatif.html", "What-if", ("cities", "ranking", "model")),
    "compare": ("compare.html", "Compare", ("cities", "ranking")),
    "methodology": ("methodology.html", "Methodology", ("methodology",)),
    "downloads": ("downloads.html", "Downloads", ("files",)),
}
SCRIPTS = ("whatif.js", "app.js")
# the pages with an edition control, where the build has editions
EDITION_PAGES = ("ranking", "map", "compare", "whatif", "dashboard")


# --- the map: world-atlas TopoJSON decoded once into SVG paths -------------------------------------------------------

MAP_SCALE = 170.0
EE = (1.340264, -0.081106, 0.000893, 0.003796)
X_MAX, Y_MAX = 2.7066, 1.3175  # the Equal Earth projection's half width and half height on the unit sphere


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    """SVG coordinates of a longitude and latitude in the Equal Earth projection (an equal-area world map)."""
    a1, a2, a3, a4 = EE
    m = math.sqrt(3) / 2
    theta = math.asin(m * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = math.radians(lon) * math.cos(theta) / (m * (a1 + 3 * a2 * t2 + t6 * (7 * a3 + 9 * a4 * t2)))
    y = theta * (a1 + a2 * t2 + t6 * (a3 + a4 * t2))
    return round((x + X_MAX) * MAP_SCALE, 1), round((Y_MAX - y) * MAP_SCALE, 1)


def _arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """The topology's arcs as longitude/latitude points (quantised deltas undone)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    out = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        out.append(points)
    return out


def _ring(arcs: list, indices: list[int]) -> list[tuple[float, float]]:
    """One closed ring from arc indices (a negative index ~i is arc i reversed); shared end points once."""
    points: list[tuple[float, float]] = []
    for i in indices:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def _across_antimeridian(ring: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """A ring that crosses the 180th meridian (Fiji, Chukotka) made continuous and drawn on both sides of the map,
    the map's edge cutting it; otherwise a straight line would run across the world. A ring round a pole
    (Antarctica: one crossing) stays as it is."""
    shift, points, crossings = 0.0, [], 0
    for i, (lon, lat) in enumerate(ring):
        if i and abs(lon + shift - points[-1][0]) > 180:
            shift += 360 if points[-1][0] > lon + shift else -360
            crossings += 1
        points.append((lon + shift, lat))
    if crossings == 0 or crossings % 2:
        return [ring]
    side = 360 if min(lon for lon, _ in points) < -180 else -360
    return [points, [(lon + side, lat) for lon, lat in points]]


@cache
def world_shapes() -> tuple[tuple[str, str], ...]:
    """(country name, SVG path) for every country of the shipped world atlas, projected with Equal Earth."""
    topology = json.loads(WORLD.read_text(encoding="utf-8"))
    arcs = _arcs(topology)
    shapes = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        polygons = {"Polygon": [geometry.get("arcs", [])], "MultiPolygon": geometry.get("arcs", [])}.get(
            geometry["type"], [])
        d = []
        for polygon in polygons:
            for ring in polygon:
                for points in _across_antimeridian(_ring(arcs, ring)):
                    xy = [equal_earth(lon, lat) for lon, lat in points]
                    d.append("M" + "L".join(f"{x:g},{y:g}" for x, y in xy) + "Z")
        shapes.append((geometry.get("properties", {}).get("name", ""), "".join(d)))
    return tuple(shapes)


def map_size() -> tuple[float, float]:
    return round(2 * X_MAX * MAP_SCALE, 1), round(2 * Y_MAX * MAP_SCALE, 1)


# --- documents -> what the pages inline ------------------------------------------------------------------------------

def _meta(docs: dict, mode: str) -> dict:
    """What every page needs: names of the framework's nodes, the domains, weights and the peer-group columns."""
    index = docs["index"]
    cities = docs.get("cities") or []
    columns = set(cities[0]) if cities else set()
    peer_columns = [g for g in index.get("peer_groups", []) if g != "region" and g in columns]  # region: own filter
    meta = {
        "mode": mode, "name": index.get("name"), "root": index.get("root"), "domains": index.get("domains", []),
        "framework": index.get("framework", []), "weight_sets": index.get("weight_sets", {}),
        "aggregation": index.get("aggregation", {}),
        "spec_sha256": index.get("spec_sha256"), "peer_columns": peer_columns,
        "regions": sorted({c.get("region") for c in cities if c.get("region")}),
    }
    if "editions" in index:  # only an editions build's pages know of editions
        meta["editions"] = index["editions"]
    return meta


def editions_block(docs: dict) -> dict:
    """Every edition's ranking as columns (`ranking_columns`) over every city of any edition: the latest
    edition's cities first, in the order of the `cities` block, then those only earlier editions have."""
    rows = docs.get("editions") or []
    known = {c["city"]: c for c in docs.get("cities") or []}
    cities: dict[str, dict] = {c: {"city": c, "name": row.get("name"), "country": row.get("country"),
                                   "region": row.get("region")} for c, row in known.items()}
    by_edition: dict[str, list[dict]] = {}
    for row in rows:
        by_edition.setdefault(row["edition"], []).append(row)
        if row["city"] not in cities:
            cities[row["city"]] = {"city": row["city"], "name": row["name"], "country": row["country"],
                                   "region": row["region"]}
    order = list(cities)
    labels = docs["index"]["editions"]["editions"]
    return {"editions": labels, "cities": list(cities.values()),
            "data": {label: ranking_columns(by_edition.get(label, []), order) for label in labels}}


def ranking_columns(rows: list[dict], cities: list[str]) -> dict:
    """The ranking rows as columns, one array per field per node in the order of `cities`: a tenth of the size of
    row objects, which is what lets a 10,000-city ranking page paint quickly. Fields all null are left out."""
    position = {c: i for i, c in enumerate(cities)}
    by_node: dict[str, list[dict]] = {}
    for row in rows:
        by_node.setdefault(row["node"], []).append(row)
    out = {}
    for node, node_rows in by_node.items():
        at = [position[row["city"]] for row in node_rows]
        fields = {}
        for f in RANKING_FIELDS:
            column: list = [None] * len(cities)
            for i, row in zip(at, node_rows):
                value = row.get(f)
                column[i] = None if value != value else value  # NaN as null
            if any(x is not None for x in column):
                fields[f] = column
        out[node] = fields
    return out


def city_data(docs: dict, city: str, standing: dict[str, dict]) -> dict:
    """What a city's page shows: its card and profile, its row of the index ranking (rank interval, rating, best
    and worst rank) and its peers' domain scores (for the chart against the peers)."""
    profile = docs.get(f"cities/{city}/profile") or {}
    domains = set(docs["index"].get("domains", []))
    peers = {}
    for peer in profile.get("peers") or []:
        card = docs.get(f"cities/{peer['city']}") or {}
        peers[peer["city"]] = {s["node"]: s["score"] for s in card.get("scores", []) if s["node"] in domains}
    return {"card": docs.get(f"cities/{city}"), "profile": profile, "standing": standing.get(city),
            "peer_scores": peers}


def _files(docs: dict) -> list[dict]:
    """The API mirror's files the downloads page lists, tables with their CSV."""
    return [{"key": key, "table": isinstance(value, list)} for key, value in docs.items() if "/" not in key]


class Blocks:
    """The data blocks pages inline, each made and encoded once however many pages share it (ten thousand city
    pages share one `meta`; the ranking, map and what-if pages one `ranking`)."""

    def __init__(self, docs: dict, mode: str):
        self.docs, self.mode, self._made = docs, mode, {}
        self.cities = docs.get("cities") or []
        self.meta = _meta(docs, mode)
        self.pages = {page: about for page, about in PAGES.items() if page != "sensors" or "sensors" in docs}

    def _make(self, name: str) -> Any:
        docs, cities = self.docs, self.cities
        if name == "meta":
            return self.meta
        if name == "cities":
            return cities
        if name == "ranking":
            return ranking_columns(docs.get("ranking") or [], [c["city"] for c in cities])
        if name == "map":
            return {"size": map_size(), "points": {c["city"]: equal_earth(c["lon"], c["lat"]) for c in cities
                                                   if c.get("lat") is not None and c.get("lon") is not None}}
        if name == "model":
            return docs.get("model")
        if name == "models":  # an editions build's what-if models of its earlier editions, by edition
            return {key.split("/", 1)[1]: doc for key, doc in docs.items() if key.startswith("models/")}
        if name == "sensors":
            return docs["sensors"]
        if name == "editions":
            return editions_block(docs)
        if name == "methodology":
            return {"steps": docs["index"].get("steps", []), "processing_summary": docs["index"].get("processing", {}),
                    "processing": docs.get("processing") or [], "audit": docs.get("audit"),
                    "sensitivity": docs.get("sensitivity") or []}
        if name == "files":
            return _files(docs)
        if name == "profiles":
            return {c["city"]: city_data(docs, c["city"], self.standing) for c in cities}
        raise KeyError(name)

    def encoded(self, name: str) -> str:
        if name not in self._made:
            self._made[name] = json_block(self._make(name))
        return self._made[name]

    def page(self, names: tuple[str, ...], page: str = "") -> dict[str, str]:
        """A page's blocks by name, encoded: `meta`, the names given and, on a page with an edition control of an
        editions build, `editions` (and `models` beside `model`)."""
        more = ("editions",) if page in EDITION_PAGES and "editions" in self.docs else ()
        if "model" in names and "editions" in self.docs:  # the what-if recomputes any edition
            more += ("models",)
        return {name: self.encoded(name) for name in ("meta", *names, *more)}

    @property
    def standing(self) -> dict[str, dict]:
        """Each city's row of the index ranking."""
        if "_standing" not in self._made:
            root = self.docs["index"].get("root")
            self._made["_standing"] = {r["city"]: r for r in self.docs.get("ranking") or [] if r["node"] == root}
        return self._made["_standing"]


def json_block(value: Any) -> str:
    """JSON safe inside a <script> element: `<`, `>` and `&` escaped, so no text can close the element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _plain(value: Any) -> Any:
    """numpy scalars and the like as plain JSON values."""
    if hasattr(value, "item"):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    raise TypeError(f"not JSON-able: {type(value).__name__}")


# --- rendering ------------------------------------------------------------------------------------------------------

def _render(page: str, blocks: Blocks, data: dict[str, str], *, root: str, inline: bool, title: str) -> str:
    """One page: `data` are its encoded blocks by name."""
    assets = {name: (ASSETS / name).read_text(encoding="utf-8") for name in ("site.css", *SCRIPTS)} if inline else {}
    width, height = map_size()
    return environment(HERE / "templates").get_template("page.html.j2").render(
        page=page, data=data, meta=blocks.meta, root=root, inline=inline, assets=assets, scripts=SCRIPTS,
        title=title, name=blocks.meta["name"] or "Index", pages=blocks.pages,
        plotly_js=plotly_js() if inline else None,
        shapes=world_shapes() if page in ("map", "dashboard") else (), map_width=width, map_height=height,
    )


def _write(path: Path, text: str) -> Path:
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True)
    write_bytes(path, text.encode("utf-8"))
    return path


def _licences(folder: Path) -> None:
    """plotly.js and the map shapes keep their licence beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLOTLY_DATA / "plotly.min.js", folder / "plotly.min.js")
    licence = next((f for f in metadata.distribution("plotly").files or () if f.name.upper().startswith("LICENSE")),
                   None)
    if licence is not None:
        shutil.copyfile(licence.locate(), folder / "plotly.LICENSE.txt")
    for name in ("LICENSE", "PROVENANCE.md"):
        shutil.copyfile(ASSETS / "world" / name, folder / f"world-atlas.{name}")


def write_site(docs: dict, folder: str | Path) -> list[Path]:
    """`folder/site/`: the ranking (index.html), map, what-if, compare, methodology and downloads pages (and the
    sensors page of a build with sensors), one page per city under city/, the scripts and styles under assets/ and
    the API mirror under api/v1/."""
    site = Path(folder) / "site"
    write_documents(docs, folder)
    assets = site / "assets"
    _licences(assets)
    for name in ("site.css", *SCRIPTS):
        shutil.copyfile(ASSETS / name, assets / name)
    blocks = Blocks(docs, "site")
    written = [_write(site / file, _render(page, blocks, blocks.page(names, page), root="", inline=False,
                                             title=title))
               for page, (file, title, names) in blocks.pages.items()]
    for city in blocks.cities:
        key = city["city"]
        data = {**blocks.page(()), "city": json_block(city_data(docs, key, blocks.standing))}
        written.append(_write(site / "city" / city_file(key), _render("city", blocks, data, root="../", inline=False,
                                                                      title=city.get("name") or key)))
    return written


def city_file(city: str) -> str:
    """The file name of a city's page (ids are kept as they are, only path separators made safe)."""
    return city.replace("/", "_").replace("\\", "_") + ".html"


def write_dashboard(docs: dict, path: str | Path) -> Path:
    """The single self-contained dashboard: every view as a tab, all data, styles and scripts inline; it fetches
    nothing, so it works opened from disk."""
    blocks = Blocks(docs, "dashboard")
    names = ("cities", "ranking", "map", "model", "methodology", "profiles")
    if "sensors" in docs:
        names += ("sensors",)
    return _write(Path(path), _render("dashboard", blocks, blocks.page(names, "dashboard"), root="", inline=True,
                                      title="Dashboard"))
