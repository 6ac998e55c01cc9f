"""The REST API over a published folder: the documents `publish` wrote, filtered, plus what-if and scoring.

`create_app(DIR)` serves DIR/site (the static site, files from that folder only) and, under /api/v1, the
documents of DIR/site/api/v1 that `bundle.write_documents` wrote. Nothing is computed at request time but the
filtering, the what-if re-aggregation and the frozen scoring of one city (online.whatif), all from those files.

Reads are public. The one write is `POST /api/v1/reload` (it changes what the server serves: the documents are
read again after a new publish replaced the folder); when the server has a token it needs
`Authorization: Bearer <token>`, and without one it is 401. What-if and scoring compute and store nothing, so
they are reads. Errors are application/problem+json naming the parameter and what was expected.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import hmac
import io
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import fastapi_offline
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import InputError, did_you_mean, one_of
from . import whatif
from .bundle import API, plain
from .problems import PROBLEM, ApiError, problem_response

EDITION_DOCUMENTS = ("editions", "edition_trends", "rank_decomposition")  # an editions build's, besides the rest
MEMO = 4096  # answers kept per server
MAX_BODY = 64 * 1024  # bytes a request body may hold: a what-if or a city's values are a few kilobytes
CACHE_CONTROL = "public, max-age=300"  # a published build never changes; a new one comes with new ETags
DOCS_ASSETS = "/docs/assets"
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"  # the Swagger UI that package ships




# --- the published folder ------------------------------------------------------------------------------------------

@dataclass
class Published:
    """The documents of one published folder, read once; per-city documents read when first asked for."""

    folder: Path
    docs: dict[str, Any]
    cities: dict[str, dict]  # id -> cities row
    groups: list[str]  # the group (peer-group) columns of the cities
    by_node: dict[str, list[dict]]  # the ranking's rows of each node, best first
    encoded: dict[Any, tuple[bytes, str]] = field(default_factory=dict)  # key -> (body, ETag), kept once made

    @classmethod
    def load(cls, folder: str | Path) -> Published:
        folder = Path(folder)
        api = folder / API
        if not (api / "index.json").is_file():
            raise InputError.single(folder, f"holds no published index (no {API / 'index.json'}); publish one "
                                    "with `smartcities publish SPEC.yaml --out DIR` or `smartcities demo --out DIR`")
        docs = {}
        for key in ("index", "ranking", "cities", "scores", "indicators", "sensitivity", "model"):
            path = api / f"{key}.json"
            if not path.is_file():
                raise InputError.single(folder, f"the published index lacks {API / (key + '.json')}; publish it "
                                        "again")
            docs[key] = json.loads(path.read_text(encoding="utf-8"))
        if "editions" in docs["index"]:
            earlier = [f"models/{label}" for label in docs["index"]["editions"]["editions"][:-1]]
            for key in (*EDITION_DOCUMENTS, *earlier):
                path = api / f"{key}.json"
                if not path.is_file():
                    raise InputError.single(folder, f"the published index has editions but lacks "
                                            f"{API / (key + '.json')}; publish it again")
                docs[key] = json.loads(path.read_text(encoding="utf-8"))
        sensors = api / "sensors.json"  # a build with a `sensors:` block only
        if sensors.is_file():
            docs["sensors"] = json.loads(sensors.read_text(encoding="utf-8"))
        by_node: dict[str, list[dict]] = {}
        for row in docs["ranking"]:
            by_node.setdefault(row["node"], []).append(row)
        published = cls(folder, docs, {row["city"]: row for row in docs["cities"]},
                        list(docs["index"]["peer_groups"]), by_node)
        gc.collect()
        gc.freeze()  # the documents live as long as the server: no collection pass need ever walk them again
        return published

    @property
    def site(self) -> Path:
        return self.folder / "site"

    @property
    def index(self) -> dict:
        return self.docs["index"]

    @property
    def editions(self) -> list[str]:
        """The edition labels in time order; empty for a build without editions."""
        return list(self.index.get("editions", {}).get("editions", []))

    def edition(self, edition: str | None, parameter: str = "edition") -> str | None:
        """A checked edition label (None stays None): a 400 problem when the index has no editions or not this
        one."""
        if edition is None:
            return None
        if not self.editions:
            raise ApiError(400, [(parameter, f"{parameter}: this index has no editions (its spec has no editions: "
                                  "block)")])
        if edition not in self.editions:
            raise ApiError(400, [(parameter, f"{parameter} " + one_of(edition, self.editions))])
        return edition

    @cached_property
    def _by_edition_node(self) -> dict[tuple[str, str], list[dict]]:
        cut: dict[tuple[str, str], list[dict]] = {}
        for row in self.docs.get("editions", ()):
            cut.setdefault((row["edition"], row["node"]), []).append(row)
        for rows in cut.values():
            rows.sort(key=lambda r: (r["rank"], r["city"]))
        return cut

    def edition_rows(self, edition: str, node: str) -> list[dict]:
        """The rows of `editions` of one edition and node, best first: cut once, not searched for in every row
        of every edition at each request."""
        return self._by_edition_node.get((edition, node), [])

    def edition_document(self, key: str) -> list[dict]:
        if not self.editions:
            raise ApiError(404, [(None, f"this index has no editions, so no {key} (its spec has no editions: "
                                  "block)")])
        return self.docs[key]

    def city_document(self, city: str, kind: str) -> tuple[bytes, str]:
        """The published `cities/<id>` or `cities/<id>/profile` file of a known city (never a path from the
        request: the id is checked against the cities first)."""
        key = f"cities/{self.city_id(city)}" + ("/profile" if kind == "profile" else "")
        return self.answer(key, lambda: (self.folder / API / f"{key}.json").read_bytes())

    def city_id(self, city: str) -> str:
        if city in self.cities:
            return city
        by_name = {row["name"].casefold(): cid for cid, row in self.cities.items() if row.get("name")}
        if city.casefold() in by_name:
            return by_name[city.casefold()]
        raise ApiError(404, [("city", f"city {city!r} is not a city of this index"
                                      f"{did_you_mean(city, list(self.cities))}")])

    def edition_city(self, city: str) -> str:
        """A city of any edition, by id or name (a city only earlier editions have has no city document)."""
        if city in self.cities:
            return city
        names = {}
        for row in self.docs["editions"]:
            names.setdefault(row["city"], row.get("name"))
        if city in names:
            return city
        by_name = {str(n).casefold(): c for c, n in names.items() if n}
        if city.casefold() in by_name:
            return by_name[city.casefold()]
        raise ApiError(404, [("city", f"city {city!r} is in no edition of this index"
                                      f"{did_you_mean(city, list(names))}")])

    def whole(self, key: str) -> tuple[bytes, str]:
        return self.answer(key, lambda: encode(self.docs[key]))

    def answer(self, key, make) -> tuple[bytes, str]:
        """The body for `key` (a document, or a filtered view of one) and its ETag, made once: the documents never
        change, so neither do the answers. At most MEMO answers are kept."""
        if key not in self.encoded:
            if len(self.encoded) >= MEMO:
                self.encoded.pop(next(iter(self.encoded)))
            body = make()
            self.encoded[key] = (body, etag(body))
        return self.encoded[key]


def encode(value: Any) -> bytes:
    return json.dumps(plain(value), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def read_token(path: str | Path) -> str:
    """The token in a token file (surrounding whitespace dropped); a missing or empty file is an error."""
    path = Path(path)
    if not path.is_file():
        raise InputError.single(path, "token file does not exist; give --token-file a file holding the token")
    token = path.read_text(encoding="utf-8", errors="replace").strip()
    if not token:
        raise InputError.single(path, "token file is empty; write the token into it")
    return token


# --- request bodies --------------------------------------------------------------------------------------------------

Aggregation = Literal["arithmetic", "geometric"]
Format = Literal["json", "csv"]
MAX_WEIGHT = 1e12  # weights are relative: any sum of these stays a number
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]


class WhatIf(BaseModel):
    """Weights relative within each parent (nodes not named keep the build's); one aggregation for every level
    (omitted: the build's methods); the node whose ranking comes back (omitted: the index); the edition
    recomputed (omitted: the latest)."""

    model_config = ConfigDict(extra="forbid")
    weights: dict[str, Weight] = Field(default_factory=dict, description="node id -> weight (0 to 1e12)")
    aggregation: Aggregation | None = None
    node: str | None = None
    edition: str | None = Field(None, description="an edition of an editions build (omitted: the latest)")


class NewCity(BaseModel):
    """A new city's raw indicator values (missing ones null or left out), or with `city` a city of the build whose
    raw values `values` changes; scored under the build's frozen steps, ranked among the other cities."""

    model_config = ConfigDict(extra="forbid")
    values: dict[str, float | None] = Field(default_factory=dict, description="indicator id -> raw value")
    city: str | None = Field(None, description="a city of the build to change instead of a new city")
    groups: dict[str, str] = Field(default_factory=dict, description="group column -> label, where a step needs it")
    denominators: dict[str, float] = Field(default_factory=dict, description="denominator -> value, where needed")
    weights: dict[str, Weight] = Field(default_factory=dict, description="node id -> weight (0 to 1e12)")
    aggregation: Aggregation | None = None


PROBLEM_RESPONSE = {"description": "A problem (RFC 9457): which parameter, what was expected",
                    "content": {PROBLEM: {"schema": {"type": "object"}}}}
TABLE_RESPONSE = {"description": "Rows as JSON, or CSV with format=csv or Accept: text/csv",
                  "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}
ERRORS = {400: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE, 413: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE}


# --- the app -------------------------------------------------------------------------------------------------------

def create_app(folder: str | Path, token: str | None = None, sensors: Path | None = None) -> FastAPI:
    """The API and the static site of a published folder. `token`: what `POST /api/v1/reload` needs; `sensors`: a
    sensor store served read-only as a SensorThings API under /sta/v1.1."""
    published = Published.load(folder)
    app = FastAPI(title=f"{published.index['name']} API", version=__version__, docs_url=None, redoc_url=None,
                  description="Read endpoints are public; the write (reload) needs the token when one is set.")
    app.state.published = published

    def state() -> Published:
        return app.state.published

    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD"], allow_headers=["*"],
                       expose_headers=["ETag"])
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> Response:
        return problem_response(err.status, err.problems, err.headers)

    @app.exception_handler(InputError)
    async def input_error(request: Request, err: InputError) -> Response:  # what whatif refuses
        return problem_response(400, [(p.column, p.message) for p in err.problems])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        return problem_response(422, [validation_problem(e) for e in err.errors()])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        what = "no such file in the site" if err.status_code == 404 else str(err.detail)
        return problem_response(err.status_code, [(None, what)], getattr(err, "headers", None))

    api = "/api/v1"
    nodes = [n["id"] for n in published.index["framework"]]
    editions = published.editions
    regions = sorted({str(r["region"]) for r in published.cities.values() if r.get("region") is not None})
    peer_groups = sorted({f"{g}:{r[g]}" for g in published.groups for r in published.cities.values()
                          if r.get(g) is not None})

    def among(values: list[str]) -> dict:
        """The values the schema lists for a parameter (what this index has; others are a 400 problem)."""
        return {"json_schema_extra": {"enum": values}} if values else {}

    @app.get(f"{api}/health", tags=["read"])
    async def health() -> dict:
        """The server is up and serving one published index."""
        s = state()
        return {"status": "ok", "index": s.index["name"], "spec_sha256": s.index["spec_sha256"],
                "cities": len(s.cities), "version": __version__}

    @app.get(f"{api}/index", tags=["read"], responses=ERRORS)
    async def index(request: Request) -> Response:
        """Name, framework tree, weights and weight sets, aggregation, steps, versions, processing summary."""
        return cached(request, *state().whole("index"))

    @app.get(f"{api}/ranking", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def ranking(request: Request,
                      node: str | None = Query(None, description="node id (default: the index)", **among(nodes)),
                      region: str | None = Query(None, description="keep the cities of one region",
                                                 **among(regions)),
                      peer_group: str | None = Query(None, description="COLUMN:LABEL (or a LABEL only one group "
                                                     "column has): keep the cities of one peer group",
                                                     **among(peer_groups)),
                      edition: str | None = Query(None, description="an edition of an editions build (default: "
                                                  "the latest, the published ranking)", **among(editions)),
                      limit: int | None = Query(None, ge=1, description="at most this many rows"),
                      offset: int = Query(0, ge=0, description="rows to skip first"),
                      format: Format | None = Query(None, description="json (default) or csv")) -> Response:
        """One node's ranking, best first: city, name, country, region, score, rank, grade, rating, rank
        interval (median_rank, p05, p95) and, for the index, best and worst rank over domain weightings; for an
        editions build also the rank change from the previous edition, its 90% interval and whether it is
        significant, and with `editions: smooth` the smoothed score and rank. With `edition`, that edition's
        ranking (the rows of `editions`)."""
        s = state()
        known = [n["id"] for n in s.index["framework"]]
        chosen = node if node is not None else s.index["root"]
        if chosen not in known:
            raise ApiError(400, [("node", "node " + one_of(chosen, known))])
        keep = group_filter(s, region, peer_group)
        picked = s.edition(edition)

        def rows() -> list[dict]:
            if picked is None:
                chosen_rows = s.by_node.get(chosen, [])
            else:
                chosen_rows = s.edition_rows(picked, chosen)
            chosen_rows = [r for r in chosen_rows if keep is None or r["city"] in keep]
            return chosen_rows[offset: None if limit is None else offset + limit]

        return table(request, ("ranking", chosen, region, peer_group, picked, limit, offset), rows, format)

    @app.get(f"{api}/cities", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def cities(request: Request, format: Format | None = Query(None, description="json or csv")) -> Response:
        """Every city: id, name, country, region, coordinates, population and group columns where known."""
        return table(request, "cities", lambda: state().docs["cities"], format)

    @app.get(f"{api}/cities/{{city}}", tags=["read"], responses=ERRORS)
    async def city(request: Request, city: str) -> Response:
        """One city (by id, or by name) and its score, rank and grade on every node."""
        return cached(request, *state().city_document(city, "scores"))

    @app.get(f"{api}/cities/{{city}}/profile", tags=["read"], responses=ERRORS)
    async def profile(request: Request, city: str) -> Response:
        """One city's profile: domains against the median and the leader (with rank intervals), peers, what to
        learn from whom, its initiatives and its trends."""
        return cached(request, *state().city_document(city, "profile"))

    @app.get(f"{api}/scores", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def scores(request: Request, city: str | None = Query(None, description="city id or name"),
                     node: str | None = Query(None, description="node id", **among(nodes)),
                     edition: str | None = Query(None, description="one edition of an editions build (default: "
                                                 "every edition)", **among(editions)),
                     format: Format | None = Query(None, description="json or csv")) -> Response:
        """Score, rank and grade of every city on every node (scores.csv, with an `edition` column for an editions
        build), filtered."""
        s = state()
        known = [n["id"] for n in s.index["framework"]]
        if node is not None and node not in known:
            raise ApiError(400, [("node", "node " + one_of(node, known))])
        picked = s.edition(edition)
        cid = s.city_id(city) if city is not None else None
        return table(request, ("scores", cid, node, picked), lambda: [
            r for r in s.docs["scores"] if (cid is None or r["city"] == cid) and (node is None or r["node"] == node)
            and (picked is None or r["edition"] == picked)], format)

    @app.get(f"{api}/editions", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def editions_table(request: Request, city: str | None = Query(None, description="city id or name"),
                             node: str | None = Query(None, description="node id", **among(nodes)),
                             edition: str | None = Query(None, description="one edition", **among(editions)),
                             significant: bool | None = Query(None, description="keep the rank changes that are "
                                                              "(true) or are not (false) significant"),
                             format: Format | None = Query(None, description="json or csv")) -> Response:
        """An editions build's editions.csv: every city's score and rank on every node in every edition, with its
        name, country, region, the edition's grade and rank interval, and the rank change from the previous
        edition (positive: up) with its 90% interval and `significant` (the interval excludes 0); with `editions:
        smooth` also `smoothed_score` and `smoothed_rank`. 404 for an index without editions."""
        s = state()
        rows_of = s.edition_document("editions")
        known = [n["id"] for n in s.index["framework"]]
        if node is not None and node not in known:
            raise ApiError(400, [("node", "node " + one_of(node, known))])
        picked = s.edition(edition)
        cid = s.edition_city(city) if city is not None else None
        return table(request, ("editions", cid, node, picked, significant), lambda: [
            r for r in rows_of if (cid is None or r["city"] == cid) and (node is None or r["node"] == node)
            and (picked is None or r["edition"] == picked)
            and (significant is None or r["significant"] is significant)], format)

    @app.get(f"{api}/edition_trends", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def edition_trends(request: Request, city: str | None = Query(None, description="city id or name"),
                             node: str | None = Query(None, description="node id", **among(nodes)),
                             format: Format | None = Query(None, description="json or csv")) -> Response:
        """An editions build's edition_trends.csv: per city and node, COINr's CAGR and prc_change over the
        editions the city has a score in, how many, the first and last, and the breaks the trend crosses."""
        s = state()
        rows_of = s.edition_document("edition_trends")
        known = [n["id"] for n in s.index["framework"]]
        if node is not None and node not in known:
            raise ApiError(400, [("node", "node " + one_of(node, known))])
        cid = s.edition_city(city) if city is not None else None
        return table(request, ("edition_trends", cid, node), lambda: [
            r for r in rows_of if (cid is None or r["city"] == cid) and (node is None or r["node"] == node)], format)

    @app.get(f"{api}/rank_decomposition", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def rank_decomposition(request: Request, city: str | None = Query(None, description="city id or name"),
                                 edition: str | None = Query(None, description="one edition (its change from "
                                                             "the previous)", **among(editions)),
                                 format: Format | None = Query(None, description="json or csv")) -> Response:
        """An editions build's rank_decomposition.csv: each city's change of the index rank split into
        performance, method and sample."""
        s = state()
        rows_of = s.edition_document("rank_decomposition")
        picked = s.edition(edition)
        cid = s.edition_city(city) if city is not None else None
        return table(request, ("rank_decomposition", cid, picked), lambda: [
            r for r in rows_of if (cid is None or r["city"] == cid) and (picked is None or r["edition"] == picked)],
            format)

    @app.get(f"{api}/indicators", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def indicators(request: Request, city: str | None = Query(None, description="city id or name"),
                         indicator: str | None = Query(None, description="indicator id",
                                                       **among(published.docs["model"]["indicators"])),
                         format: Format | None = Query(None, description="json or csv")) -> Response:
        """Every indicator value with its name, unit, direction and weight, and the normalised value."""
        s = state()
        known = s.docs["model"]["indicators"]
        if indicator is not None and indicator not in known:
            raise ApiError(400, [("indicator", "indicator " + one_of(indicator, known))])
        cid = s.city_id(city) if city is not None else None
        return table(request, ("indicators", cid, indicator), lambda: [
            r for r in s.docs["indicators"]
            if (cid is None or r["city"] == cid) and (indicator is None or r["indicator"] == indicator)], format)

    @app.get(f"{api}/sensitivity", tags=["read"], responses={200: TABLE_RESPONSE, **ERRORS})
    async def sensitivity(request: Request, format: Format | None = Query(None, description="json or csv")) -> Response:
        """Sobol sensitivity indices of the uncertainty analysis (empty when the build ran none)."""
        return table(request, "sensitivity", lambda: state().docs["sensitivity"], format)

    @app.get(f"{api}/sensors", tags=["read"], responses=ERRORS)
    async def sensors_map(request: Request) -> Response:
        """The city map of the spec's sensors block: sensors, district outlines, every rule's values by period and
        district with its colour breaks, network lines, bounds."""
        s = state()
        if "sensors" not in s.docs:
            raise ApiError(404, [(None, "this index has no sensors (its spec has no sensors: block)")])
        return cached(request, *s.whole("sensors"))

    @app.post(f"{api}/whatif", tags=["read"], responses=ERRORS)
    async def what_if(body: WhatIf) -> Response:
        """The ranking recomputed with other weights and (optionally) one aggregation method: each city's score,
        rank, its rank as built and the change (positive: up)."""
        s = state()
        edition = s.edition(body.edition)
        earlier = edition is not None and edition != s.editions[-1]
        model = s.docs[f"models/{edition}"] if earlier else s.docs["model"]
        node = body.node if body.node is not None else s.index["root"]
        if node not in model["nodes"]:
            raise ApiError(400, [("node", "node " + one_of(node, model["nodes"]))])
        got = whatif.recompute(model, body.weights, body.aggregation)  # a refusal is an InputError: a 400
        j = model["nodes"].index(node)
        if earlier:  # that edition's ranks and names, from editions.json
            rows_of = s.edition_rows(edition, node)
            built, names = {r["city"]: r["rank"] for r in rows_of}, {r["city"]: r["name"] for r in rows_of}
        else:
            built = {r["city"]: r["rank"] for r in s.by_node.get(node, [])}
            names = {c: row["name"] for c, row in s.cities.items()}
        rows = [{"city": c, "name": names.get(c), "score": float(got.scores[i, j]), "rank": int(got.ranks[i, j]),
                 "built_rank": built.get(c),
                 "change": built[c] - int(got.ranks[i, j]) if built.get(c) is not None else None}
                for i, c in enumerate(model["cities"]) if not math.isnan(got.scores[i, j])]
        rows.sort(key=lambda r: (r["rank"], r["city"]))
        return computed({"node": node, "edition": edition or (s.editions[-1] if s.editions else None),
                         "aggregation": body.aggregation, "weights": body.weights, "ranking": rows})

    @app.post(f"{api}/score", tags=["read"], responses=ERRORS)
    async def score(body: NewCity) -> Response:
        """A new city (or a changed one) scored under the build's frozen steps: its score and rank on every node
        among the other cities."""
        s = state()
        cid = s.city_id(body.city) if body.city is not None else None
        rows = whatif.score(s.docs["model"], body.values, cid, groups=body.groups, denominators=body.denominators,
                            weights=body.weights, aggregation=body.aggregation)
        return computed({"city": cid, "name": s.cities[cid]["name"] if cid else None, "scores": rows})

    @app.post(f"{api}/reload", tags=["write"], responses={401: PROBLEM_RESPONSE, 409: PROBLEM_RESPONSE})
    async def reload(request: Request) -> dict:
        """Read the published folder again (after a new publish replaced it). Needs the token when the server
        has one."""
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                raise ApiError(401, [("Authorization", "this endpoint changes what the server serves and needs the "
                                      "token: send Authorization: Bearer <token>")],
                               {"WWW-Authenticate": 'Bearer realm="smartcities"'})
        try:
            app.state.published = Published.load(state().folder)
        except InputError as err:
            raise ApiError(409, [(None, f"{err.problems[0]}; still serving the index read before")]) from None
        return {"status": "reloaded", "index": state().index["name"], "spec_sha256": state().index["spec_sha256"],
                "cities": len(state().cities)}

    def openapi() -> dict:
        """The generated schema, with the keys each body's maps may use: this index's nodes, indicators, group
        columns and denominators."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            model = published.docs["model"]
            keys = {("WhatIf", "weights"): nodes, ("NewCity", "weights"): nodes,
                    ("NewCity", "values"): model["indicators"], ("NewCity", "groups"): published.groups,
                    ("NewCity", "denominators"): sorted(model["frozen"].get("denominators", {}))}
            for (body, prop), names in keys.items():
                schema["components"]["schemas"][body]["properties"][prop]["propertyNames"] = {"enum": names}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        """Interactive docs from the Swagger UI that the fastapi-offline package ships: nothing from a CDN."""
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} — docs",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")

    if sensors is not None:
        from .sta import sta_router

        app.include_router(sta_router(sensors))
    app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")
    app.mount("/", StaticFiles(directory=published.site, html=True), name="site")
    return app


def group_filter(s: Published, region: str | None, peer_group: str | None) -> set[str] | None:
    """The cities a region and a peer group keep (None: no filter)."""
    keep = None
    if region is not None:
        labels = sorted({str(r["region"]) for r in s.cities.values() if r.get("region") is not None})
        if not labels:
            raise ApiError(400, [("region", "region: this index has no region column")])
        if region not in labels:
            raise ApiError(400, [("region", "region " + one_of(region, labels))])
        keep = {c for c, r in s.cities.items() if r.get("region") == region}
    if peer_group is not None:
        column, label = peer_group.split(":", 1) if ":" in peer_group else (None, peer_group)
        if column is not None and column not in s.groups:
            raise ApiError(400, [("peer_group", f"peer_group: group column {column!r} is not one of "
                                  f"{', '.join(s.groups) or 'none'}{did_you_mean(column, s.groups)}")])
        columns = [column] if column else [g for g in s.groups
                                           if any(str(r.get(g)) == label for r in s.cities.values())]
        if len(columns) != 1:
            labels = sorted({f"{g}:{r[g]}" for g in s.groups for r in s.cities.values() if r.get(g) is not None})
            what = "is in several group columns" if columns else "is no peer group"
            raise ApiError(400, [("peer_group", f"peer_group {peer_group!r} {what}; expected COLUMN:LABEL, one of "
                                  f"{', '.join(labels[:20])}{', …' if len(labels) > 20 else ''}"
                                  f"{did_you_mean(peer_group, labels)}")])
        members = {c for c, r in s.cities.items() if str(r.get(columns[0])) == label}
        if not members:
            raise ApiError(400, [("peer_group", f"peer_group: {columns[0]} has no label {label!r}"
                                  f"{did_you_mean(label, {str(r.get(columns[0])) for r in s.cities.values()})}")])
        keep = members if keep is None else keep & members
    return keep


def validation_problem(error: dict) -> tuple[str, str]:
    """A FastAPI validation error in the CLI's wording: `parameter: what was expected (got value)`."""
    if error.get("type") == "json_invalid":
        return "body", f"body: not valid JSON ({error.get('ctx', {}).get('error', 'cannot be read')})"
    where = [str(part) for part in error.get("loc", ())[1:]]
    parameter = ".".join(where) or str(error.get("loc", ("body",))[0])
    if parameter == "body" and error.get("type") == "missing":
        return "body", "body: a JSON object is expected"
    got = error.get("input")
    shown = f" (got {got!r})" if got is not None and len(repr(got)) <= 80 else ""
    return parameter, f"{parameter}: {error.get('msg', 'invalid')}{shown}"


def wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def table(request: Request, key, rows, format: str | None) -> Response:
    """The rows `rows()` gives, as JSON or as CSV, made once per `key` (what the rows are) and format."""
    published = request.app.state.published
    if wants_csv(request, format):
        return cached(request, *published.answer((key, "csv"), lambda: as_csv(rows())), "text/csv; charset=utf-8")
    return cached(request, *published.answer((key, "json"), lambda: encode(rows())))


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def computed(value: dict) -> Response:
    """A computed answer as JSON (encoded directly: a what-if of ten thousand cities is one call, not a walk)."""
    return Response(encode(value), media_type="application/json")


def cached(request: Request, body: bytes, tag: str, media_type: str = "application/json") -> Response:
    """A GET answer that a client may keep: ETag and Cache-Control, 304 when the client's copy is current."""
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept"}
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=media_type)


class BodyLimit:
    """Refuse a request body above `limit` bytes (413), by its Content-Length or, without one, as it arrives."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", ())).get(b"content-length")
        too_big = problem_response(413, [(None, f"the request body is larger than {self.limit:,} bytes")])
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await too_big(scope, receive, send)
        seen, exceeded = 0, False

        async def counted():
            nonlocal seen, exceeded
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                exceeded = True
                raise TooLarge
            return message

        async def unless_exceeded(message):
            if not exceeded:  # once the body is too large, the 413 below replaces whatever the app answers
                await send(message)

        try:
            await self.app(scope, counted, unless_exceeded)
        except TooLarge:
            pass
        if exceeded:
            await too_big(scope, receive, send)


class TooLarge(Exception):
    """A request body went past the limit while it arrived."""
