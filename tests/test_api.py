"""The REST API over a published folder: every endpoint against the demo's documents, errors as problem+json,
limits, the token, the static site, conformance to its own OpenAPI schema, and a real `serve` process."""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from smartcities.build import build
from smartcities.cli import app as cli
from smartcities.cli.build import DEMO_SPEC
from smartcities.errors import InputError
from smartcities.online import whatif
from smartcities.online.api import MAX_BODY, create_app, read_token
from smartcities.online.bundle import documents, write_documents


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The demo published the way `publish` does it (documents into DIR/site/api/v1), with a home page, a file
    beside the site and a link out of it that must never be served."""
    folder = tmp_path_factory.mktemp("published")
    docs = documents(build(DEMO_SPEC))
    write_documents(docs, folder)
    (folder / "site" / "index.html").write_text("<h1>Smart cities</h1>", encoding="utf-8")
    (folder / "secret.txt").write_text("not for the web", encoding="utf-8")
    os.symlink(folder / "secret.txt", folder / "site" / "linked.txt")
    return folder, docs


@pytest.fixture(scope="module")
def client(published):
    folder, _ = published
    return TestClient(create_app(folder))


def problem(response, status: int, parameter: str | None, *phrases: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["errors"]
    assert body["errors"][0]["parameter"] == parameter
    for phrase in phrases:
        assert phrase in body["detail"], body["detail"]
    return body


# --- reads ----------------------------------------------------------------------------------------------------------

def test_health_and_index(client, published):
    _, docs = published
    health = client.get("/api/v1/health").json()
    assert health["status"] == "ok" and health["cities"] == 31 and health["index"] == docs["index"]["name"]
    answer = client.get("/api/v1/index")
    assert answer.json() == docs["index"]
    assert answer.headers["cache-control"] == "public, max-age=300"
    again = client.get("/api/v1/index", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_ranking_of_each_node_with_filters_and_pages(client, published):
    _, docs = published
    top = [r for r in docs["ranking"] if r["node"] == "index"]
    assert client.get("/api/v1/ranking").json() == top
    governance = client.get("/api/v1/ranking", params={"node": "governance"}).json()
    assert governance == [r for r in docs["ranking"] if r["node"] == "governance"]
    europe = client.get("/api/v1/ranking", params={"region": "Europe"}).json()
    assert europe == [r for r in top if r["region"] == "Europe"] and 0 < len(europe) < len(top)
    asia = client.get("/api/v1/ranking", params={"peer_group": "region:Asia"}).json()
    assert asia == [r for r in top if r["region"] == "Asia"]
    assert client.get("/api/v1/ranking", params={"peer_group": "Asia"}).json() == asia
    both = client.get("/api/v1/ranking", params={"region": "Europe", "peer_group": "country:DE"}).json()
    assert {r["city"] for r in both} == {r["city"] for r in top if r["country"] == "DE"}
    page = client.get("/api/v1/ranking", params={"limit": 5, "offset": 10}).json()
    assert page == top[10:15]


def test_ranking_as_csv(client, published):
    _, docs = published
    top = [r for r in docs["ranking"] if r["node"] == "index"]
    for answer in (client.get("/api/v1/ranking", params={"format": "csv"}),
                   client.get("/api/v1/ranking", headers={"Accept": "text/csv"})):
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert [r["city"] for r in rows] == [r["city"] for r in top]
        assert [float(r["score"]) for r in rows] == [r["score"] for r in top]
        assert rows[0]["rating"] == top[0]["rating"]


def test_ranking_errors_name_the_parameter(client):
    problem(client.get("/api/v1/ranking", params={"node": "governence"}), 400, "node",
            "node 'governence' is not one of index,", "(did you mean 'governance'?)")
    problem(client.get("/api/v1/ranking", params={"region": "Europa"}), 400, "region",
            "region 'Europa' is not one of", "(did you mean 'Europe'?)")
    problem(client.get("/api/v1/ranking", params={"peer_group": "continent:Asia"}), 400, "peer_group",
            "group column 'continent' is not one of country, region")
    problem(client.get("/api/v1/ranking", params={"peer_group": "Atlantis"}), 400, "peer_group",
            "'Atlantis' is no peer group; expected COLUMN:LABEL")
    problem(client.get("/api/v1/ranking", params={"limit": 0}), 422, "limit",
            "limit: Input should be greater than or equal to 1 (got '0')")
    problem(client.get("/api/v1/ranking", params={"offset": "x"}), 422, "offset", "offset: Input should be a valid "
            "integer")
    problem(client.get("/api/v1/ranking", params={"format": "xml"}), 422, "format", "format: Input should be 'json' "
            "or 'csv' (got 'xml')")


def test_cities_and_a_city(client, published):
    _, docs = published
    assert client.get("/api/v1/cities").json() == docs["cities"]
    assert client.get("/api/v1/cities/berlin").json() == docs["cities/berlin"]
    assert client.get("/api/v1/cities/Berlin").json() == docs["cities/berlin"]  # a name serves as well
    assert client.get("/api/v1/cities/berlin/profile").json() == docs["cities/berlin/profile"]
    problem(client.get("/api/v1/cities/berlim"), 404, "city", "city 'berlim' is not a city of this index",
            "(did you mean 'berlin'?)")
    problem(client.get("/api/v1/cities/..%2Fsecret/profile"), 404, None)


def test_scores_indicators_sensitivity(client, published):
    _, docs = published
    mine = client.get("/api/v1/scores", params={"city": "berlin", "node": "index"}).json()
    assert mine == [r for r in docs["scores"] if r["city"] == "berlin" and r["node"] == "index"] and len(mine) == 1
    assert len(client.get("/api/v1/scores").json()) == len(docs["scores"])
    values = client.get("/api/v1/indicators", params={"city": "berlin", "indicator": "services_count"}).json()
    assert values == [r for r in docs["indicators"] if r["city"] == "berlin" and r["indicator"] == "services_count"]
    problem(client.get("/api/v1/indicators", params={"indicator": "service_count"}), 400, "indicator",
            "(did you mean 'services_count'?)")
    problem(client.get("/api/v1/scores", params={"node": "nope"}), 400, "node", "node 'nope' is not one of")
    assert client.get("/api/v1/sensitivity").json() == docs["sensitivity"] and docs["sensitivity"]


# --- what-if and scoring ---------------------------------------------------------------------------------------------

def test_whatif_recomputes_the_ranking(client, published):
    _, docs = published
    model = docs["model"]
    domains = docs["index"]["domains"]
    same = client.post("/api/v1/whatif", json={"weights": {d: 3 for d in domains}}).json()
    top = [r for r in docs["ranking"] if r["node"] == "index"]
    assert [r["city"] for r in same["ranking"]] == [r["city"] for r in top]
    assert all(r["change"] == 0 and r["rank"] == r["built_rank"] for r in same["ranking"])
    only = client.post("/api/v1/whatif", json={"weights": {d: float(d == "governance") for d in domains}}).json()
    governance = [r for r in docs["ranking"] if r["node"] == "governance"]
    assert [(r["city"], r["rank"]) for r in only["ranking"]] == [(r["city"], r["rank"]) for r in governance]
    assert any(r["change"] != 0 for r in only["ranking"])
    weights = {"urban_intelligence": 4.0, "services_count": 0.5}
    geometric = client.post("/api/v1/whatif", json={"weights": weights, "aggregation": "geometric"}).json()
    expected = whatif.recompute(model, weights, "geometric")
    by_city = {r["city"]: r for r in geometric["ranking"]}
    for i, city in enumerate(model["cities"]):
        assert by_city[city]["score"] == expected.scores[i, -1] and by_city[city]["rank"] == expected.ranks[i, -1]
    node = client.post("/api/v1/whatif", json={"weights": weights, "node": "urban_intelligence"}).json()
    assert node["node"] == "urban_intelligence" and len(node["ranking"]) == 31


def test_whatif_errors(client):
    problem(client.post("/api/v1/whatif", json={"weights": {"governence": 1}}), 400, "weights.governence",
            "weights: unknown node 'governence' (did you mean 'governance'?)")
    problem(client.post("/api/v1/whatif", json={"weights": {"governance": -2}}), 422, "weights.governance",
            "weights.governance: Input should be greater than or equal to 0 (got -2)")
    problem(client.post("/api/v1/whatif", json={"weights": {"governance": 1e308}}), 422, "weights.governance",
            "Input should be less than or equal to 1000000000000")
    problem(client.post("/api/v1/whatif", json={"weights": {d: 0 for d in ("service_innovation", "urban_intelligence",
            "urban_sustainability", "urban_openness", "infrastructure_integration", "urban_innovation",
            "collaborative_partnership", "governance")}}), 400, "weights", "every child of 'index' has weight 0")
    problem(client.post("/api/v1/whatif", json={"aggregation": "harmonic"}), 422, "aggregation",
            "aggregation: Input should be 'arithmetic' or 'geometric'")
    problem(client.post("/api/v1/whatif", json={"weight": {}}), 422, "weight", "Extra inputs are not permitted")
    problem(client.post("/api/v1/whatif", json={"node": "x"}), 400, "node", "node 'x' is not one of")
    problem(client.post("/api/v1/whatif", content=b"{not json", headers={"Content-Type": "application/json"}),
            422, "body", "body: not valid JSON")
    problem(client.post("/api/v1/whatif"), 422, "body", "body: a JSON object is expected")


def test_score_a_changed_and_a_new_city(client, published):
    _, docs = published
    model = docs["model"]
    as_built = client.post("/api/v1/score", json={"city": "berlin"}).json()
    page = docs["cities/berlin"]["scores"]
    by_node = {r["node"]: r for r in as_built["scores"]}
    for row in page:
        assert by_node[row["node"]]["score"] == row["score"] and by_node[row["node"]]["rank"] == row["rank"]
    i = model["cities"].index("berlin")
    values = dict(zip(model["indicators"], model["raw"][i]))
    new = client.post("/api/v1/score", json={"values": values}).json()
    assert new["city"] is None
    assert [r["score"] for r in new["scores"]] == pytest.approx([r["score"] for r in as_built["scores"]],
                                                                rel=1e-12)
    assert new["scores"][-1]["ranked"] == 32  # ranked among the 31 built cities
    better = client.post("/api/v1/score", json={"city": "berlin", "values": {"open_data_platform": 1}}).json()
    assert better["scores"][-1]["score"] >= as_built["scores"][-1]["score"]


def test_score_errors(client):
    problem(client.post("/api/v1/score", json={"values": {"service_count": 3}}), 400, "values.service_count",
            "values: unknown indicator 'service_count' (did you mean 'services_count'?)")
    problem(client.post("/api/v1/score", json={"city": "berlim"}), 404, "city", "(did you mean 'berlin'?)")
    problem(client.post("/api/v1/score", json={"values": {}}), 400, "values", "no indicator value at all")
    problem(client.post("/api/v1/score", json={"values": {"services_count": "many"}}), 422,
            "values.services_count", "Input should be a valid number")


# --- limits, the token, the site, CORS -------------------------------------------------------------------------------

def test_request_bodies_are_limited(client):
    big = b'{"weights": {"' + b"x" * (MAX_BODY + 10) + b'": 1}}'
    problem(client.post("/api/v1/whatif", content=big, headers={"Content-Type": "application/json"}), 413, None,
            "larger than 65,536 bytes")

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"weights": {"'
        for _ in range(MAX_BODY // 1000 + 1):
            yield b"y" * 1000
        yield b'": 1}}'

    problem(client.post("/api/v1/whatif", content=chunks(), headers={"Content-Type": "application/json"}), 413,
            None, "larger than")


def test_the_write_needs_the_token_when_one_is_set(published):
    folder, _ = published
    open_server = TestClient(create_app(folder))
    assert open_server.post("/api/v1/reload").json()["status"] == "reloaded"
    guarded = TestClient(create_app(folder, token="s3cret-token"))
    body = problem(guarded.post("/api/v1/reload"), 401, "Authorization", "needs the token")
    assert body["title"] == "Unauthorized"
    assert guarded.post("/api/v1/reload").headers["www-authenticate"].startswith("Bearer")
    problem(guarded.post("/api/v1/reload", headers={"Authorization": "Bearer wrong"}), 401, "Authorization")
    problem(guarded.post("/api/v1/reload", headers={"Authorization": "Basic s3cret-token"}), 401, "Authorization")
    done = guarded.post("/api/v1/reload", headers={"Authorization": "Bearer s3cret-token"}).json()
    assert done["status"] == "reloaded" and done["cities"] == 31
    # reads stay public, what-if and scoring included
    assert guarded.get("/api/v1/ranking").status_code == 200
    assert guarded.post("/api/v1/whatif", json={}).status_code == 200
    assert guarded.post("/api/v1/score", json={"city": "berlin"}).status_code == 200


def test_reload_reads_a_new_publish_and_keeps_the_old_when_the_folder_is_broken(tmp_path):
    docs = documents(build(DEMO_SPEC, uncertainty=False))
    write_documents(docs, tmp_path)
    client = TestClient(create_app(tmp_path))
    assert client.get("/api/v1/sensitivity").json() == []
    (tmp_path / "site" / "api" / "v1" / "index.json").unlink()
    problem(client.post("/api/v1/reload"), 409, None, "holds no published index", "still serving")
    assert client.get("/api/v1/index").json() == docs["index"]


def test_the_site_is_served_from_its_folder_only(client, published):
    _, docs = published
    assert client.get("/").text == "<h1>Smart cities</h1>"
    assert client.get("/api/v1/ranking.json").json() == docs["ranking"]  # the static mirror
    for path in ("/%2e%2e/secret.txt", "/..%2fsecret.txt", "/linked.txt", "/api/v1/%2e%2e/%2e%2e/%2e%2e/secret.txt"):
        answer = client.get(path)
        assert answer.status_code == 404 and "not for the web" not in answer.text, path
    problem(client.get("/no-such-page.html"), 404, None, "no such file in the site")


def test_interactive_docs_load_nothing_from_elsewhere(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert not re.search(r"(src|href|url)\s*[=:]\s*['\"]?(https?:)?//", page.text), page.text
    for asset in re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", page.text):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["info"]["title"].endswith(" API")


def test_cors_opens_reads_to_every_origin(client):
    answer = client.get("/api/v1/ranking", headers={"Origin": "https://example.org"})
    assert answer.headers["access-control-allow-origin"] == "*"
    preflight = client.options("/api/v1/whatif", headers={"Origin": "https://example.org",
                                                          "Access-Control-Request-Method": "POST"})
    assert "POST" not in preflight.headers.get("access-control-allow-methods", "")


def test_a_folder_without_a_published_index_is_refused(tmp_path):
    with pytest.raises(InputError, match="holds no published index"):
        create_app(tmp_path)


def test_token_files(tmp_path):
    (tmp_path / "token").write_text("  abc123\n", encoding="utf-8")
    assert read_token(tmp_path / "token") == "abc123"
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="token file is empty"):
        read_token(tmp_path / "empty")
    with pytest.raises(InputError, match="token file does not exist"):
        read_token(tmp_path / "missing")


# --- the OpenAPI schema, checked by generated requests ---------------------------------------------------------------

def test_every_endpoint_conforms_to_its_schema(published):
    """Requests generated from /openapi.json (valid and invalid), every check of the schema's tool: no server
    error, status codes, content types and headers the schema declares."""
    folder, _ = published
    # a request the schema allows may still be refused with a 400 problem the schema cannot express (every
    # child of a node weighted 0; a new city with too few values for the build's screen)
    config = schemathesis.Config.from_str(
        '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "400", "404"]\n')
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(folder), config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "GET /api/v1/ranking", "POST /api/v1/whatif", "POST /api/v1/score", "GET /api/v1/cities/{city}/profile"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case):
            case.call_and_validate()

        conforms()


# --- a real server ---------------------------------------------------------------------------------------------------

def serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "smartcities", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_real_server_answers(published, tmp_path):
    folder, _ = published
    (tmp_path / "token").write_text("t0ken\n", encoding="utf-8")
    process = serve(str(folder), "--port", "0", "--token-file", str(tmp_path / "token"))
    try:
        line = process.stdout.readline()
        assert "serving Smart Cities Index 2022" in line and "writes need the token" in line
        url = line.split(" at ")[1].split()[0].rstrip("/")
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"{url}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert health.json()["cities"] == 31
        assert httpx.post(f"{url}/api/v1/reload").status_code == 401
        ok = httpx.post(f"{url}/api/v1/reload", headers={"Authorization": "Bearer t0ken"})
        assert ok.status_code == 200
        ranking = httpx.get(f"{url}/api/v1/ranking", params={"limit": 3}).json()
        assert [r["rank"] for r in ranking] == [1, 2, 3]
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_refuses_bad_input_in_one_line(published, tmp_path):
    folder, _ = published
    (tmp_path / "empty-token").write_text("\n", encoding="utf-8")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        cases = [((str(tmp_path),), "holds no published index"),
                 ((str(folder), "--port", str(taken.getsockname()[1])), "cannot listen on 127.0.0.1:"),
                 ((str(folder), "--token-file", str(tmp_path / "missing")), "token file does not exist"),
                 ((str(folder), "--token-file", str(tmp_path / "empty-token")), "token file is empty"),
                 ((str(folder), "--host", "no such host.invalid"), "is not an address to listen on")]
        for args, message in cases:
            result = CliRunner().invoke(cli, ["serve", *args])
            assert result.exit_code == 2, (args, result.output)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("smartcities: error: ") and message in lines[0], lines
    finally:
        taken.close()


def test_whatif_matches_the_python_model_for_random_weights(client, published):
    _, docs = published
    model = docs["model"]
    rng = np.random.default_rng(3)
    for _ in range(5):
        weights = {n: float(rng.uniform(0, 3)) for n in rng.choice(model["nodes"][:-1], size=10, replace=False)}
        got = client.post("/api/v1/whatif", json={"weights": weights}).json()["ranking"]
        expected = whatif.recompute(model, weights)
        ranks = dict(zip(model["cities"], expected.ranks[:, -1]))
        assert {r["city"]: r["rank"] for r in got} == ranks
