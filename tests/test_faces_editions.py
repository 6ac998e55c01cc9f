"""The faces of an editions build: the report's editions chapter, the bundle's documents, the site's blocks and the
REST API's editions endpoints and `edition` parameter, on a small city index with three editions where a city
enters, one leaves, one climbs a long way (a significant change) and a break is declared; and a build without
editions showing none of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PANEL_CITIES, write_city_panel
from fastapi.testclient import TestClient

from smartcities.build import build
from smartcities.cli.build import DEMO_SPEC
from smartcities.online import whatif
from smartcities.online.api import create_app
from smartcities.online.bundle import EDITION_COLUMNS, RANKING_COLUMNS, documents, write_documents
from smartcities.online.site import Blocks, editions_block, write_dashboard, write_site
from smartcities.report.editions_view import edition_view, signed, slope_chart, trend_arrow
from smartcities.report.html import render_report

CITIES = PANEL_CITIES
YEARS = (2017, 2019, 2021)


def editions_index(folder: Path) -> Path:
    """Ten cities, four indicators, three editions: the same values every year but city9's a1 and a2, raised by 60
    in 2021; city2 has no values in 2017 (it enters in 2019) and city1 none in 2021 (it leaves); a break of b1 in
    2019; 300 Monte Carlo runs of weight noise shared by the editions."""
    def planted(city, year, values):
        if city == "city9" and year == YEARS[-1]:
            values[:2] += 60.0
        if (city == "city2" and year == 2017) or (city == "city1" and year == 2021):
            values[:] = np.nan

    write_city_panel(folder, YEARS, planted, lat=np.linspace(45, 55, 10), lon=np.linspace(5, 15, 10))
    spec = folder / "spec.yaml"
    spec.write_text("""name: Cities over three editions
framework: fw.yaml
cities: cities.csv
indicators: indicators.csv
editions: {column: year, breaks: [{indicator: b1, edition: 2019, reason: new source}]}
pipeline:
  - normalise: {method: minmax}
  - aggregate: {method: arithmetic}
uncertainty:
  design: montecarlo
  runs: 300
  factors:
    weights: {step: aggregate, noise: 0.4, levels: [1, 2]}
""", encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return build(editions_index(tmp_path_factory.mktemp("editions")))


@pytest.fixture(scope="module")
def docs(result):
    return documents(result)


@pytest.fixture(scope="module")
def demo():
    r = build(DEMO_SPEC)
    return r, documents(r)


def index_changes(result, edition: str) -> pd.DataFrame:
    c = result.editions.changes
    return c[(c["node"] == "Index") & (c["edition"] == edition)].set_index("city")


# --- what the faces read -------------------------------------------------------------------------------------------

def test_the_view_reads_the_editions_tables(result):
    view = edition_view(result)
    assert view.labels == ("2017", "2019", "2021") and view.latest == "2021" and view.target == "Index"
    ranks = view.ranks()
    for label in view.labels:  # the rank table is editions.csv's ranks, city by city
        expected = index_changes(result, label)["rank"]
        assert (ranks.loc[expected.index, label] == expected).all()
    assert pd.isna(ranks.loc["city2", "2017"]) and pd.isna(ranks.loc["city1", "2021"])
    assert list(ranks.index[:3]) == list(index_changes(result, "2021")["rank"].sort_values().index[:3])
    moves = view.movements()
    assert [(m.previous, m.edition, m.entering, m.leaving) for m in moves] == [
        ("2017", "2019", ("city2",), ()), ("2019", "2021", (), ("city1",))]
    latest = view.latest_changes().set_index("city")
    assert latest.loc["city9", "previous_rank"] == index_changes(result, "2019").loc["city9", "rank"]
    assert latest.loc["city9", "arrow"] == "▲" and latest.loc["city9", "prc_change"] > 0
    assert view.breaks == ({"indicator": "b1", "edition": "2019", "reason": "new source", "nodes": 3,
                            "trends": int((result.editions.trends["across_break"] != "").sum())},)


def test_helpers():
    assert [trend_arrow(v) for v in (1.5, -0.1, 0.0, np.nan, None)] == ["▲", "▼", "=", "", ""]
    assert [signed(v) for v in (2, -1, 0, 0.4, -2.6)] == ["+2", "−1", "0", "0", "−3"]


def test_the_slope_chart_draws_every_citys_ranks(result):
    view = edition_view(result)
    fig = slope_chart(view)
    assert len(fig["data"]) == 10 and fig["layout"]["yaxis"]["range"] == [10.7, 0.3]  # rank 1 on top
    by_name = {t["name"]: t for t in fig["data"]}
    nine = by_name["City9"]
    expected = [index_changes(result, label).loc["city9", "rank"] for label in view.labels]
    assert list(nine["y"]) == expected and nine["x"] == list(view.labels)
    assert nine["line"]["color"] == "#1b7837"  # a significant climb
    one = by_name["City1"]
    assert np.isnan(one["y"][-1]) and one["text"][1] == "City1"  # named where its line ends
    assert len(slope_chart(view, limit=4)["data"]) == 4


# --- the report ----------------------------------------------------------------------------------------------------

def _section(html: str, ident: str) -> str:
    start = html.index(f'<section id="{ident}"')
    return html[start:html.index("</section>", start)]


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]


def test_the_report_has_an_editions_chapter_with_the_right_numbers(result):
    html = render_report(result)
    assert '<a href="#editions">Editions</a>' in html
    section = _section(html, "editions")
    latest, before, first = (index_changes(result, e) for e in ("2021", "2019", "2017"))
    flagged = int(latest["significant"].dropna().sum())
    assert f"{flagged} of {int(latest['rank_change'].notna().sum())} rank changes are significant" in section
    for city in ("city9", "city3", "city2"):
        row = re.search(rf'<tr data-city="{city}">(.*?)</tr>', section, flags=re.S).group(1)
        cells = _cells(row)
        assert cells[0] == city.title()
        assert cells[1] == ("" if city == "city2" else str(first.loc[city, "rank"]))
        assert cells[2:4] == [str(before.loc[city, "rank"]), str(latest.loc[city, "rank"])]
        assert cells[4] == signed(latest.loc[city, "rank_change"])
        assert cells[5] == f"{signed(latest.loc[city, 'change_p05'])} to {signed(latest.loc[city, 'change_p95'])}"
        assert cells[6] == ("yes" if latest.loc[city, "significant"] else "")
    assert 'data-city="city1"' not in section  # not in the latest edition
    assert re.search(r'<tr data-city="city9">.*?<td class="significant">yes</td>', section, flags=re.S)
    assert "2017 to 2019: entering City2; none leaving." in section
    assert "2019 to 2021: none entering; leaving City1." in section
    assert re.search(r"<code>b1</code></td><td>2019</td><td>new source</td>", section)
    assert "Plotly.newPlot" in section  # the slope chart, drawn by the inlined plotly.js
    assert "across b1@2019" in section
    printed = render_report(result, city_pages=2)  # the page a large index prints keeps the chapter
    assert _section(printed, "editions").count("<tr data-city=") == 9


def test_a_build_without_editions_has_no_editions_anywhere(demo, tmp_path):
    result, docs = demo
    assert edition_view(result) is None
    html = render_report(result)
    assert 'id="editions"' not in html and "#editions" not in html
    assert not {"editions", "edition_trends", "rank_decomposition"} & set(docs)
    assert "editions" not in docs["index"]
    assert all(list(row) == RANKING_COLUMNS for row in docs["ranking"])
    assert "edition" not in docs["scores"][0]
    assert all("editions" not in docs[f"cities/{c['city']}"] for c in docs["cities"])
    blocks = Blocks(docs, "site")
    assert "editions" not in blocks.meta and "editions" not in blocks.page(("cities", "ranking"), "ranking")
    ranking = json.loads(blocks.encoded("ranking"))
    assert not {"rank_change", "significant"} & {f for node in ranking.values() for f in node}
    write_site(docs, tmp_path)
    write_dashboard(docs, tmp_path / "dashboard.html")
    for page in ("index.html", "map.html"):
        assert 'id="data-editions"' not in (tmp_path / "site" / page).read_text(encoding="utf-8")
    assert 'id="data-editions"' not in (tmp_path / "dashboard.html").read_text(encoding="utf-8")
    assert not (tmp_path / "site" / "api" / "v1" / "editions.json").exists()


# --- the documents -------------------------------------------------------------------------------------------------

def test_the_documents_carry_every_edition(result, docs):
    changes = result.editions.changes
    rows = docs["editions"]
    assert len(rows) == len(changes) and all(list(r) == EDITION_COLUMNS for r in rows)
    nine = {r["edition"]: r for r in rows if r["city"] == "city9" and r["node"] == "Index"}
    latest = index_changes(result, "2021").loc["city9"]
    assert nine["2021"]["rank"] == latest["rank"] and nine["2021"]["rank_change"] == latest["rank_change"]
    assert nine["2021"]["significant"] is True and nine["2021"]["change_p05"] == latest["change_p05"]
    assert nine["2017"]["rank_change"] is None and nine["2017"]["name"] == "City9"
    assert nine["2021"]["country"] == "DE" and nine["2021"]["node_name"] == "Index" and nine["2021"]["level"] == 3
    own = result.editions.result(2019.0)
    ri = own.uncertainty.rank_intervals.set_index(["city", "node"])
    assert nine["2019"]["p05"] == ri.loc[("city9", "Index"), "p05"]  # the edition's own rank interval
    assert nine["2019"]["grade"] == int(own.scores_table().set_index(["city", "node"]).loc[("city9", "Index"),
                                                                                           "grade"])
    index = docs["index"]["editions"]
    assert index["editions"] == ["2017", "2019", "2021"] and index["latest"] == "2021" and index["target"] == "Index"
    assert index["breaks"][0]["indicator"] == "b1" and index["column"] == "year"
    assert {r["edition"] for r in docs["scores"]} == {"2017", "2019", "2021"}
    assert len(docs["scores"]) == len(result.editions.scores_table())
    assert len(docs["edition_trends"]) == len(result.editions.trends)
    assert len(docs["rank_decomposition"]) == len(result.editions.decomposition)
    top = {r["city"]: r for r in docs["ranking"] if r["node"] == "Index"}
    assert top["city9"]["rank_change"] == latest["rank_change"] and top["city9"]["significant"] is True
    city = docs["cities/city9"]
    assert [r["rank"] for r in city["editions"] if r["node"] == "Index"] == [nine[e]["rank"] for e in index["editions"]]
    assert {r["node"] for r in city["scores"]} and "edition" not in city["scores"][0]  # the latest edition's


def test_the_site_block_holds_each_editions_ranking(docs, tmp_path):
    block = editions_block(docs)
    order = [c["city"] for c in block["cities"]]
    assert order[:len(docs["cities"])] == [c["city"] for c in docs["cities"]]
    at = order.index("city2")
    assert block["data"]["2017"]["Index"]["rank"][at] is None
    assert block["data"]["2019"]["Index"]["rank"][at] == next(
        r["rank"] for r in docs["editions"] if r["city"] == "city2" and r["edition"] == "2019" and r["node"] == "Index")
    assert block["data"]["2021"]["Index"]["significant"][order.index("city9")] is True
    write_site(docs, tmp_path)
    for page, has in (("index.html", True), ("map.html", True), ("whatif.html", True), ("compare.html", True),
                      ("methodology.html", False)):
        assert ('id="data-editions"' in (tmp_path / "site" / page).read_text(encoding="utf-8")) is has, page
    whatif_page = (tmp_path / "site" / "whatif.html").read_text(encoding="utf-8")
    assert 'id="data-models"' in whatif_page and 'id="data-models"' not in (tmp_path / "site" / "index.html").read_text(
        encoding="utf-8")
    assert (tmp_path / "site" / "api" / "v1" / "models" / "2017.json").is_file()
    assert json.loads((tmp_path / "site" / "api" / "v1" / "editions.json").read_text())[0]["edition"] == "2017"
    assert (tmp_path / "site" / "api" / "v1" / "edition_trends.csv").is_file()


def test_every_earlier_edition_has_its_what_if_model(result, docs):
    """models/<edition> is the what-if model of that edition's own build: with the published weights it gives that
    edition's scores and ranks; the latest edition's model is `model`."""
    assert sorted(k for k in docs if k.startswith("models/")) == ["models/2017", "models/2019"]
    for label in ("2017", "2019"):
        model = docs[f"models/{label}"]
        own = result.editions.result(float(label))
        assert model["cities"] == list(own.context.units) and model == whatif.model_document(own)
        got = whatif.recompute(model)
        j = model["nodes"].index("Index")
        expected = index_changes(result, label)
        scored = {c: (got.scores[i, j], got.ranks[i, j]) for i, c in enumerate(model["cities"])
                  if not np.isnan(got.scores[i, j])}
        assert set(scored) == set(expected.index)
        for city, (score, rank) in scored.items():
            assert score == pytest.approx(expected.loc[city, "score"], abs=1e-12) and rank == expected.loc[city, "rank"]
    assert "city2" not in docs["models/2017"]["cities"] or np.isnan(
        whatif.recompute(docs["models/2017"]).scores[docs["models/2017"]["cities"].index("city2"), -1])
    assert json.loads(Blocks(docs, "site").page(("cities", "ranking", "model"), "whatif")["models"]).keys() == {
        "2017", "2019"}


# --- the API -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(docs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    write_documents(docs, folder)
    return TestClient(create_app(folder))


@pytest.fixture(scope="module")
def plain_client(demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    write_documents(demo[1], folder)
    return TestClient(create_app(folder))


def problem(response, status: int, parameter, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["parameter"] == parameter and phrase in body["detail"], body


def test_the_editions_endpoint_filters_and_caches(client, result):
    r = client.get("/api/v1/editions", params={"node": "Index", "edition": "2021", "significant": "true"})
    assert r.status_code == 200
    latest = index_changes(result, "2021")
    assert {row["city"] for row in r.json()} == set(latest.index[latest["significant"].fillna(False).astype(bool)])
    assert "city9" in {row["city"] for row in r.json()}
    again = client.get("/api/v1/editions", params={"node": "Index", "edition": "2021", "significant": "true"},
                       headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    one = client.get("/api/v1/editions", params={"city": "City1", "node": "Index"}).json()  # by name, a leaver
    assert [row["edition"] for row in one] == ["2017", "2019"]
    csv = client.get("/api/v1/editions", params={"format": "csv", "node": "Index"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.splitlines()[0] == ",".join(EDITION_COLUMNS)
    assert len(csv.text.splitlines()) == 1 + len(result.editions.changes.query("node == 'Index'"))


def test_the_ranking_of_an_edition(client, result):
    rows = client.get("/api/v1/ranking", params={"edition": "2017"}).json()
    first = index_changes(result, "2017").sort_values("rank")
    assert [r["city"] for r in rows] == list(first.index) and "city2" not in {r["city"] for r in rows}
    assert [r["rank"] for r in rows] == list(first["rank"])
    latest = client.get("/api/v1/ranking").json()
    assert {r["city"]: r["rank_change"] for r in latest if r["rank"] is not None}["city9"] == \
        index_changes(result, "2021").loc["city9", "rank_change"]
    paged = client.get("/api/v1/ranking", params={"edition": "2019", "node": "A", "limit": 3, "offset": 1}).json()
    a = result.editions.changes.query("node == 'A' and edition == '2019'").sort_values(["rank", "city"])
    assert [r["city"] for r in paged] == list(a["city"][1:4])
    problem(client.get("/api/v1/ranking", params={"edition": "2018"}), 400, "edition", "2018")


def test_scores_trends_and_decomposition_by_edition(client, result):
    scores = client.get("/api/v1/scores", params={"edition": "2019", "node": "Index"}).json()
    assert len(scores) == 10 and {r["edition"] for r in scores} == {"2019"}
    assert len(client.get("/api/v1/scores").json()) == len(result.editions.scores_table())
    trends = client.get("/api/v1/edition_trends", params={"city": "city9", "node": "Index"}).json()
    assert len(trends) == 1 and trends[0]["prc_change"] > 0 and trends[0]["across_break"] == "b1@2019"
    split = client.get("/api/v1/rank_decomposition", params={"edition": "2021"}).json()
    assert all(r["rank_change"] == r["performance"] + r["method"] + r["sample"] for r in split)
    assert {r["city"] for r in split} == set(CITIES) - {"city1"}
    problem(client.get("/api/v1/edition_trends", params={"node": "nope"}), 400, "node", "nope")
    problem(client.get("/api/v1/editions", params={"city": "Atlantis"}), 404, "city", "Atlantis")
    assert client.get("/api/v1/cities/city9").json()["editions"][0]["edition"] == "2017"


def test_the_what_if_of_an_earlier_edition(client, result):
    """POST /whatif with an edition recomputes that edition: with the published weights every city keeps that
    edition's rank; other weights move them as that edition's model says; an edition it lacks is a 400."""
    same = client.post("/api/v1/whatif", json={"edition": "2017"}).json()
    first = index_changes(result, "2017")
    assert same["edition"] == "2017" and {r["city"] for r in same["ranking"]} == set(first.index)
    assert all(r["rank"] == r["built_rank"] == first.loc[r["city"], "rank"] and r["change"] == 0
               for r in same["ranking"])
    assert {r["city"]: r["name"] for r in same["ranking"]}["city9"] == "City9"
    moved = client.post("/api/v1/whatif", json={"edition": "2019", "weights": {"A": 1, "B": 0}}).json()
    expected = whatif.recompute(client.app.state.published.docs["models/2019"], {"A": 1, "B": 0})
    model = client.app.state.published.docs["models/2019"]
    j = model["nodes"].index("Index")
    assert {r["city"]: r["rank"] for r in moved["ranking"]} == {
        c: int(expected.ranks[i, j]) for i, c in enumerate(model["cities"]) if not np.isnan(expected.scores[i, j])}
    assert client.post("/api/v1/whatif", json={}).json()["edition"] == "2021"
    problem(client.post("/api/v1/whatif", json={"edition": "2018"}), 400, "edition", "2018")


def test_an_index_without_editions_answers_as_before(plain_client):
    for path in ("/api/v1/editions", "/api/v1/edition_trends", "/api/v1/rank_decomposition"):
        problem(plain_client.get(path), 404, None, "no editions")
    problem(plain_client.get("/api/v1/ranking", params={"edition": "2019"}), 400, "edition", "no editions")
    problem(plain_client.get("/api/v1/scores", params={"edition": "2019"}), 400, "edition", "no editions")
    problem(plain_client.post("/api/v1/whatif", json={"edition": "2019"}), 400, "edition", "no editions")
    rows = plain_client.get("/api/v1/ranking").json()
    assert rows and all(list(r) == RANKING_COLUMNS for r in rows)


def test_the_editions_endpoints_conform_to_their_schema(docs, tmp_path):
    """Requests generated from an editions build's /openapi.json: no server error, and the statuses, content
    types and headers the schema declares, on the editions endpoints and the edition parameter."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    write_documents(docs, tmp_path)
    config = schemathesis.Config.from_str(
        '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "400", "404"]\n')
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(tmp_path), config=config)
    chosen = {"/api/v1/editions", "/api/v1/edition_trends", "/api/v1/rank_decomposition", "/api/v1/ranking",
              "/api/v1/scores"}
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path in chosen]
    assert {op.path for op in operations} == chosen
    edition = next(op for op in operations if op.path == "/api/v1/editions")
    assert "2019" in json.dumps(edition.definition.raw)  # the schema lists this index's editions
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case):
            case.call_and_validate()

        conforms()


def test_the_printed_report_has_the_editions_chapter(result, tmp_path):
    """report.pdf of an editions build: the chapter in the contents and the bookmarks, the rank changes' table
    and the cities entering and leaving in its text."""
    pypdf = pytest.importorskip("pypdf")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no Chromium at /usr/bin/chromium: printing is not tested")
    from smartcities.online import pdf

    page = tmp_path / "report.html"
    page.write_text(render_report(result), encoding="utf-8")
    reader = pypdf.PdfReader(pdf.print_pdf(page, tmp_path / "report.pdf", "/usr/bin/chromium"))
    def titles(outline):
        for item in outline:
            yield from titles(item) if isinstance(item, list) else [str(item["/Title"])]

    assert any(t.endswith("Editions") for t in titles(reader.outline))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Rank changes of Index, 2019 to 2021" in text
    assert "2017 to 2019: entering City2; none leaving." in text
    assert "new source" in text
