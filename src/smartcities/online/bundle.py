"""A build as the documents every online face reads: the site, the single-file dashboard, the report and the API.

`documents(result)` is the single source: keys are API paths under /api/v1 (without extension), values plain
JSON (lists of row dicts for tables, dicts otherwise). `write_documents` writes them as site/api/v1/<key>.json,
and every table also as CSV. Cities are named by id with their names alongside, so faces show names.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import results as readings
from ..engine.aggregate import node_weights
from ..engine.pipeline import weights_used
from ..errors import InputError
from ..model.columns import labels
from . import whatif

API = Path("site") / "api" / "v1"
SAFE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # each segment of a document key: a file name on any host
RANKING_COLUMNS = ["city", "name", "country", "region", "node", "node_name", "level", "score", "rank", "grade",
                   "rating", "median_rank", "p05", "p95", "best_rank", "worst_rank"]
CHANGE_COLUMNS = ["rank_change", "change_p05", "change_p95", "significant"]  # an editions build's, from editions.csv
EDITION_COLUMNS = ["edition", "city", "name", "country", "region", "node", "node_name", "level", "score", "rank",
                   "grade", "median_rank", "p05", "p95", *CHANGE_COLUMNS]
SMOOTHED_COLUMNS = ["smoothed_score", "smoothed_rank"]  # editions.csv's with `editions: smooth`, after the rest


def documents(result, insight=None) -> dict[str, Any]:
    """Every document of a build, by API path. `insight` (analysis.insight.Insight) is reused when the caller has
    it; otherwise the profiles are computed here (and the trends, when the build has an inventory)."""
    from ..report.editions_view import edition_view

    model = whatif.model_document(result)
    cities = cities_rows(result)
    scores = scores_rows(result)
    view = edition_view(result)
    ranking = ranking_rows(result, model)
    if view is not None:  # the latest edition's ranking gains its change from the previous edition (and smoothing)
        ranking = with_changes(ranking, view)
    docs: dict[str, Any] = {
        "index": index_document(result),
        "ranking": ranking,
        "cities": cities,
        "scores": scores,
        "indicators": indicators_rows(result),
        "sensitivity": records(result.uncertainty.sensitivity) if result.uncertainty is not None else [],
        "processing": records(result.processing.table),
        "audit": audit_document(result),
        "model": model,
    }
    if result.inputs.sensor_map is not None:  # a `sensors:` block's city map (an editions build: the latest's)
        docs["sensors"] = result.inputs.sensor_map
    docs.update(city_documents(result, cities, scores, insight))
    if view is not None:
        docs.update(edition_documents(result, view, docs))
    return docs


# --- editions -------------------------------------------------------------------------------------------------------

def with_changes(ranking: list[dict], view) -> list[dict]:
    """The ranking rows with the latest edition's rank change, its 90% interval and significance, and its
    smoothed score and rank with `editions: smooth` (editions.csv)."""
    columns = CHANGE_COLUMNS + (SMOOTHED_COLUMNS if view.smoothed else [])
    latest = view.changes[view.changes["edition"] == view.latest]
    found = {(c, n): row for c, n, row in zip(latest["city"], latest["node"], records(latest[columns]))}
    empty = dict.fromkeys(columns)
    return [{**row, **found.get((row["city"], row["node"]), empty)} for row in ranking]


def edition_documents(result, view, docs: dict[str, Any]) -> dict[str, Any]:
    """An editions build's documents: `editions` (editions.csv with each city's name, country and region, the
    node's name and level, and the edition's own grade and rank interval), `edition_trends`
    (edition_trends.csv), `rank_decomposition` (rank_decomposition.csv), the index's `editions` (which, the
    latest, the normalisation, the node with intervals, the breaks, and the smoothing weights with `editions:
    smooth`), scores.csv of every edition (an `edition` column), and each city's rows of `editions` in
    `cities/<id>`, and `models/<edition>`: the what-if model of every edition but the latest (whose model is
    `model`), so the what-if recomputes any edition. With `editions: smooth` the rows of `editions` end with
    editions.csv's smoothed score and rank."""
    e = result.editions
    fw = result.context.framework
    parts = []
    for label, r in zip(e.labels(), e.results):
        table = r.scores_table()[["city", "node", "level", "grade"]].assign(edition=label)
        for group in ("country", "region"):
            table[group] = table["city"].map(dict(zip(r.context.units, r.context.groups[group]))) \
                if group in r.context.groups else None
        if r.uncertainty is not None:
            ri = r.uncertainty.rank_intervals.set_index(["city", "node"])[["median_rank", "p05", "p95"]]
            table = table.join(ri, on=["city", "node"])
        else:
            table["median_rank"] = table["p05"] = table["p95"] = np.nan
        parts.append(table)
    extra = pd.concat(parts, ignore_index=True)
    rows = view.changes.merge(extra, on=["edition", "city", "node"], how="left")
    rows["name"] = rows["city"].map(view.names)
    rows["node_name"] = rows["node"].map({n.id: n.name for n in fw.nodes})
    rows["grade"] = rows["grade"].astype("Int64")
    rows["level"] = rows["level"].astype("Int64")
    smoothed = SMOOTHED_COLUMNS if view.smoothed else []
    edition_rows = records(rows[EDITION_COLUMNS + smoothed])
    out: dict[str, Any] = {
        "editions": edition_rows,
        "edition_trends": records(view.trends.assign(name=view.trends["city"].map(view.names))),
        "rank_decomposition": records(e.decomposition.assign(name=e.decomposition["city"].map(view.names))),
    }
    scores = e.scores_table()
    scores.insert(2, "name", scores["city"].map(view.names))
    out["scores"] = records(scores)
    for label, r in list(zip(e.labels(), e.results))[:-1]:
        out[f"models/{label}"] = whatif.model_document(r)
    index = dict(docs["index"])
    about = {"column": result.spec.model.editions.column, "editions": list(view.labels), "latest": view.latest,
             "normalise": view.normalise, "node": view.node, "target": view.target, "breaks": list(view.breaks)}
    if view.smoothed:
        about["smooth"] = {"weights": list(view.smooth_weights)}
    index["editions"] = plain(about)
    out["index"] = index
    by_city: dict[str, list[dict]] = {}
    for row in edition_rows:
        by_city.setdefault(row["city"], []).append({k: row[k] for k in ("edition", "node", "score", "rank", "grade",
                                                                        "p05", "p95", *CHANGE_COLUMNS,
                                                                        *smoothed)})
    for city in docs["cities"]:
        key = f"cities/{city['city']}"
        out[key] = {**docs[key], "editions": by_city.get(city["city"], [])}
    return out


def write_documents(docs: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write each document as `folder/site/api/v1/<key>.json` (and a table also as `.csv`); the paths written.
    Keys must be safe file names segment by segment (no `..`, no separators of their own)."""
    for key in docs:
        if not all(SAFE_KEY.fullmatch(part) for part in key.split("/")):
            raise InputError.single("documents", f"key {key!r} is not a safe path (segments of letters, digits, "
                                    "'.', '_' and '-', not starting with '.')")
    base = Path(folder) / API
    written = []
    folders: set[Path] = set()
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    for key, doc in docs.items():
        path = base / f"{key}.json"
        if path.parent not in folders:  # twenty thousand city documents share a few folders
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        write_bytes(path, encode(doc).encode("utf-8"))
        written.append(path)
        if is_table(doc):
            pd.DataFrame(doc).to_csv(path.with_suffix(".csv"), index=False)
            written.append(path.with_suffix(".csv"))
    return written


def write_bytes(path: Path, data: bytes) -> None:
    """`path.write_bytes(data)` without the buffered file object, which costs four times the write itself: a
    published 10,000-city index is sixty thousand files."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def is_table(doc: Any) -> bool:
    return isinstance(doc, list) and all(isinstance(row, dict) for row in doc)


# --- plain values ---------------------------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python ones, NaN / NA as null, tuples and arrays as lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame, columns: dict[str, str] | None = None) -> list[dict]:
    """A table as rows of plain values, `columns` (name -> name in the rows) or every column but those starting
    with `_` (reader bookkeeping). Why column by column: numpy columns convert in one call each; only columns of
    Python objects go value by value."""
    chosen = columns or {c: c for c in frame.columns if not str(c).startswith("_")}
    values = [column_values(frame[c]) for c in chosen]
    names = list(chosen.values())
    return [dict(zip(names, row)) for row in zip(*values)]


def column_values(series: pd.Series) -> list:
    """One column as plain values: missing and non-finite numbers as None."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return series.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        numbers = series.to_numpy()
        out = numbers.tolist()
        for i in np.flatnonzero(~np.isfinite(numbers)):
            out[i] = None
        return out
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iub":
        return series.to_numpy(dtype=object, na_value=None).tolist()
    values = series.tolist()
    kinds = set(map(type, values))
    if kinds <= PLAIN:  # text and whole numbers: nothing to convert (what most object columns hold)
        return values
    if kinds <= PLAIN | {float}:
        return [None if type(v) is float and not math.isfinite(v) else v for v in values]
    return [plain(v) for v in values]


PLAIN = {str, int, bool, type(None)}


# --- the documents --------------------------------------------------------------------------------------------------

def index_document(result) -> dict[str, Any]:
    """What the index is: name, framework tree, weights and weight sets, aggregation, steps, versions, log."""
    ctx = result.context
    fw = ctx.framework
    run = result.run_record()
    agg = next(s for s in result.steps if s.step == "aggregate").params
    used = dict(zip(ctx.compiled.nodes, weights_used(ctx, agg, result.stages.weighting)[0]))
    weight_sets = {name: dict(zip(ctx.compiled.nodes, map(float, node_weights(ctx, name))))
                   for name in ("framework", "equal", *fw.weight_sets)}
    return plain({
        "name": result.spec.model.name,
        "description": result.spec.model.description,
        "root": fw.root(),
        "spec_sha256": result.spec.digest,
        "units": run["units"],
        "units_kept": run["units_kept"],
        "versions": result.versions,
        "steps": [{k: v for k, v in step.items() if k != "seconds"} for step in result.log],
        "aggregation": {"method": str(agg.get("method", "arithmetic")), "by_level": agg.get("by_level") or {},
                        "by_node": agg.get("by_node") or {}, "min_share": float(agg.get("min_share", 0.0))},
        "framework": [framework_node(fw, node, used[node.id]) for node in fw.nodes],
        "domains": readings.domains(result),
        "weight_sets": weight_sets,
        "peer_groups": list(ctx.groups),
        "rank_range": {"samples": whatif.RANK_RANGE_SAMPLES, "node": fw.root(),
                       "over": "every weighting of the domains: a scrambled Sobol sample of the simplex, its "
                               "corners and its centre"},
        "uncertainty": result.uncertainty is not None,
        "processing": run["processing"],
    })


def framework_node(fw, node, weight: float) -> dict[str, Any]:
    out = {"id": node.id, "name": node.name, "parent": node.parent, "level": fw.level[node.id],
           "weight": float(weight), "children": fw.children[node.id], "description": node.description}
    if not fw.children[node.id]:
        out.update({"unit": node.unit, "direction": node.direction, "target": node.target,
                    "goalposts": node.goalposts, "denominator": node.denominator,
                    "source": "derived from the inventory" if node.derive else None, "derive": node.derive})
    return out


def cities_rows(result) -> list[dict]:
    """Every city of the build: id, name, country, region, lat, lon, population (where known), every peer-group
    column, and whether it was scored."""
    ctx = result.context
    frame = pd.DataFrame({"city": list(ctx.units), "name": list(ctx.unit_names)})
    given = getattr(result.inputs, "cities", None)
    if given is not None:
        extra = given.drop(columns=[c for c in ("name",) if c in given]).set_index("city")
        frame = frame.join(extra, on="city")
    for group, members in ctx.groups.items():
        if group not in frame:
            frame[group] = members
    frame["scored"] = result.kept
    return records(frame)


def ranking_rows(result, model: dict) -> list[dict]:
    """One row per node and scored city, the top node first and best first within each node; rating (letter)
    and the best/worst rank over domain weightings on the top node only, rank intervals where computed."""
    ctx = result.context
    c = ctx.compiled
    fw = ctx.framework
    units, nodes = len(ctx.units), len(c.nodes)
    root = nodes - 1
    frame = pd.DataFrame({
        "city": labels(ctx.units, np.repeat(np.arange(units), nodes)),
        "name": labels(ctx.unit_names, np.repeat(np.arange(units), nodes)),
        "node": labels(c.nodes, np.tile(np.arange(nodes), units)),
        "node_name": labels([fw.by_id[n].name for n in c.nodes], np.tile(np.arange(nodes), units)),
        "level": np.tile(c.levels, units),
        "score": result.stages.scores[0].ravel(),
        "rank": result.stages.ranks[0].ravel(),
        "grade": result.grades.ravel(),
    })
    for group in ("country", "region"):
        frame[group] = np.repeat(ctx.groups[group], nodes) if group in ctx.groups else None
    top = np.tile(np.arange(nodes) == root, units)
    letters = np.repeat(result.letters, nodes) if result.letters is not None else np.full(units * nodes, None)
    frame["rating"] = np.where(top, letters, None)
    best, worst = whatif.best_worst_ranks(model)
    frame["best_rank"] = np.where(top, np.repeat(best, nodes), np.nan)
    frame["worst_rank"] = np.where(top, np.repeat(worst, nodes), np.nan)
    if result.uncertainty is not None:
        ri = result.uncertainty.rank_intervals.set_index(["city", "node"])[["median_rank", "p05", "p95"]]
        frame = frame.join(ri, on=["city", "node"])
    else:
        frame["median_rank"] = frame["p05"] = frame["p95"] = np.nan
    frame = frame[~np.isnan(frame["score"].to_numpy(dtype=float))]
    frame = frame.sort_values(["level", "node", "rank", "city"], ascending=[False, True, True, True], kind="stable")
    for col in ("rank", "grade", "best_rank", "worst_rank"):
        frame[col] = frame[col].astype("Int64")
    return records(frame[RANKING_COLUMNS])


def scores_rows(result) -> list[dict]:
    """scores.csv with the city's name beside its id."""
    table = result.scores_table()
    names = dict(zip(result.context.units, result.context.unit_names))
    table.insert(1, "name", table["city"].map(names))
    return records(table)


def indicators_rows(result) -> list[dict]:
    """indicators.csv with the city's and the indicator's names, unit, direction and weight, and the value the
    aggregation used (`normalised`)."""
    ctx = result.context
    fw = ctx.framework
    table = result.inputs.indicators.copy()
    names = dict(zip(ctx.units, ctx.unit_names))
    table.insert(1, "name", table["city"].map(names))
    for column, attribute in (("indicator_name", "name"), ("unit", "unit"), ("direction", "direction"),
                              ("weight", "weight")):
        table[column] = table["indicator"].map({i: getattr(fw.by_id[i], attribute) for i in ctx.indicators})
    data = result.stages.data
    final = pd.DataFrame(data[list(data)[-1]][0], index=list(ctx.units), columns=list(ctx.indicators))
    table["normalised"] = final.stack(future_stack=True).reindex(
        pd.MultiIndex.from_arrays([table["city"], table["indicator"]])).to_numpy()
    return records(table)


def audit_document(result) -> dict[str, Any]:
    """What the methodology page shows of the statistical audit: its summary, the flags, Cronbach's alpha, the
    effective weights and the indicator statistics at every stage."""
    checked = result.audit
    return {"summary": checked.summary(), "flags": records(checked.flags), "cronbach": records(checked.cronbach),
            "effective_weights": records(checked.effective_weights), "stats": records(checked.stats)}


# --- one document per city ------------------------------------------------------------------------------------------

PROFILE_DOMAIN_COLUMNS = {"domain": "domain", "domain_name": "name", "score": "score", "median": "median",
                          "verdict": "verdict", "rank": "rank", "p05": "p05", "p95": "p95", "leader": "leader",
                          "leader_name": "leader_name", "gap_to_leader": "gap_to_leader"}
PEER_COLUMNS = {"city": "city", "name": "name", "region": "region", "distance": "distance", "rank": "rank"}
LEARN_FROM_COLUMNS = {"domain": "domain", "domain_name": "domain_name", "from_city": "city", "from_name": "name",
                      "from_region": "region", "id": "id", "initiative": "initiative", "description": "description",
                      "source_url": "source_url"}


def city_documents(result, cities: list[dict], scores: list[dict], insight=None) -> dict[str, Any]:
    """`cities/<id>` (the city's row, its scores on every node and, for a district with sensor values, the latest
    value of each sensor indicator) and `cities/<id>/profile` (domains against the median and the leader, peers,
    what to learn from whom, its initiatives, its trends) for every city. Every table is turned into rows once and
    split by city, not once per city."""
    from ..analysis import profiles as prof

    profiles = insight.profiles if insight is not None else prof.all_profiles(result)
    inventory = getattr(result.inputs, "inventory", None)
    trends = insight.trends if insight is not None else None
    if trends is None and inventory is not None:
        from ..analysis.trends import trends_table

        trends = trends_table(inventory, prof.result_cities(result))
    tables = {id(p.tables): p.tables for p in profiles.values()}
    domains, peers, learn = {}, {}, {}
    for book in tables.values():
        domains |= _by_city(book.domains.astype({"rank": "Int64"}), "of", PROFILE_DOMAIN_COLUMNS)
        peers |= _by_city(book.peers, "of", PEER_COLUMNS)
        learn |= _by_city(book.learn_from, "of", LEARN_FROM_COLUMNS)
    own = _by_city(inventory, "city_id")
    trend_rows = _by_city(trends[trends["scope"] == "city"], "city") if trends is not None else {}
    by_city: dict[str, list[dict]] = {}
    for r in scores:
        by_city.setdefault(r["city"], []).append({k: r[k] for k in ("node", "level", "score", "rank", "grade")})
    sensed = {}
    if result.inputs.sensor_map is not None:
        from ..sensors.view import latest_values  # duckdb and shapely only for a build with sensors

        sensed = latest_values(result.inputs.sensor_map)
    docs = {}
    for row in cities:
        cid = row["city"]
        docs[f"cities/{cid}"] = {"city": row, "scores": by_city.get(cid, []),
                                 **({"sensors": sensed[cid]} if cid in sensed else {})}
        docs[f"cities/{cid}/profile"] = {
            "city": cid, "name": row["name"], "domains": domains.get(cid, []), "peers": peers.get(cid, []),
            "learn_from": learn.get(cid, []), "initiatives": own.get(cid, []), "trends": trend_rows.get(cid, []),
        }
    return docs


def _by_city(frame: pd.DataFrame | None, column: str, columns: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """The rows of a table by the city in `column` (kept in the rows unless `columns` leaves it out)."""
    if frame is None or not len(frame):
        return {}
    keys = column_values(frame[column])
    out: dict[str, list[dict]] = {}
    for key, row in zip(keys, records(frame, {k: v for k, v in columns.items() if k in frame} if columns else None)):
        out.setdefault(key, []).append(row)
    return out
