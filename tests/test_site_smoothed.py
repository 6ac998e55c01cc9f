"""The smoothed ranks of `editions: smooth` in the documents, the site's blocks and the REST API: every value equal
to editions.csv's, on the small three-edition city index of test_faces_editions with smoothing added; and the
same index without smoothing showing none of it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_faces_editions import editions_index

from smartcities.build import build
from smartcities.online.api import create_app
from smartcities.online.bundle import EDITION_COLUMNS, SMOOTHED_COLUMNS, documents, write_documents
from smartcities.online.site import Blocks, editions_block, write_site
from smartcities.publish import write_outputs

SMOOTH = "smooth: {weights: [3, 2, 1]}, "


def smoothed_index(folder):
    """The three-edition index with IMD's smoothing, 3 : 2 : 1."""
    spec = editions_index(folder)
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace("editions: {column: year, ", "editions: {column: year, " + SMOOTH), encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The smoothed build, its documents and its editions.csv as written by the build's outputs."""
    folder = tmp_path_factory.mktemp("smoothed")
    result = build(smoothed_index(folder))
    write_outputs(result, folder / "out", report=False)
    table = pd.read_csv(folder / "out" / "editions.csv", dtype={"edition": str})
    return result, documents(result), table.set_index(["city", "node", "edition"])


@pytest.fixture(scope="module")
def plain_docs(tmp_path_factory):
    return documents(build(editions_index(tmp_path_factory.mktemp("unsmoothed"))))


def expected(table: pd.DataFrame, city: str, node: str, edition: str):
    """editions.csv's smoothed rank of a city, node and edition (None where empty)."""
    value = table.loc[(city, node, edition), "smoothed_rank"]
    return None if pd.isna(value) else int(value)


def test_the_smoothed_ranks_are_not_the_ranks(built):
    """The example is worth testing: city9's climb in 2021 is damped by its two earlier editions."""
    _, _, table = built
    nine = table.loc[("city9", "Index", "2021")]
    assert nine["smoothed_rank"] > nine["rank"]


def test_the_documents_carry_editions_csvs_smoothed_ranks(built):
    _, docs, table = built
    rows = docs["editions"]
    assert all(list(r) == EDITION_COLUMNS + SMOOTHED_COLUMNS for r in rows) and len(rows) == len(table)
    for r in rows:
        assert r["smoothed_rank"] == expected(table, r["city"], r["node"], r["edition"])
        score = table.loc[(r["city"], r["node"], r["edition"]), "smoothed_score"]
        assert (r["smoothed_score"] is None) if pd.isna(score) else r["smoothed_score"] == pytest.approx(score, 1e-12)
    assert docs["index"]["editions"]["smooth"] == {"weights": [3.0, 2.0, 1.0]}
    ranking = [r for r in docs["ranking"] if r["node"] == "Index"]
    assert len(ranking) == 9  # city1 left before 2021
    assert all(r["smoothed_rank"] == expected(table, r["city"], "Index", "2021") for r in ranking)
    city = [r for r in docs["cities/city9"]["editions"] if r["node"] == "Index"]
    editions = ("2017", "2019", "2021")
    assert [r["smoothed_rank"] for r in city] == [expected(table, "city9", "Index", e) for e in editions]


def test_the_site_blocks_hold_the_smoothed_ranks(built, tmp_path):
    _, docs, table = built
    blocks = Blocks(docs, "site")
    assert blocks.meta["editions"]["smooth"]["weights"] == [3.0, 2.0, 1.0]
    ranking = json.loads(blocks.encoded("ranking"))["Index"]
    order = [c["city"] for c in docs["cities"]]
    assert ranking["smoothed_rank"] == [expected(table, c, "Index", "2021") if c != "city1" else None for c in order]
    block = editions_block(docs)
    cities = [c["city"] for c in block["cities"]]
    first = block["data"]["2017"]["Index"]["smoothed_rank"]
    assert first == [expected(table, c, "Index", "2017") if c != "city2" else None for c in cities]
    write_site(docs, tmp_path)
    written = json.loads((tmp_path / "site" / "api" / "v1" / "editions.json").read_text(encoding="utf-8"))
    assert all(r["smoothed_rank"] == expected(table, r["city"], r["node"], r["edition"]) for r in written)


def test_the_api_serves_the_smoothed_ranks(built, tmp_path):
    _, docs, table = built
    write_documents(docs, tmp_path)
    client = TestClient(create_app(tmp_path))
    rows = client.get("/api/v1/editions", params={"node": "Index"}).json()
    assert len(rows) == 28  # ten cities in three editions, less city2 in 2017 and city1 in 2021
    assert all(r["smoothed_rank"] == expected(table, r["city"], "Index", r["edition"]) for r in rows)
    latest = client.get("/api/v1/ranking").json()
    assert all(r["smoothed_rank"] == expected(table, r["city"], "Index", "2021") for r in latest)
    earlier = client.get("/api/v1/ranking", params={"edition": "2019"}).json()
    assert [r["smoothed_rank"] for r in earlier] == [expected(table, r["city"], "Index", "2019") for r in earlier]
    csv = client.get("/api/v1/editions", params={"format": "csv", "node": "Index"}).text.splitlines()
    assert csv[0].endswith(",smoothed_score,smoothed_rank")


def test_without_smoothing_nothing_smoothed_appears(plain_docs):
    assert "smooth" not in plain_docs["index"]["editions"]
    for key in ("editions", "ranking"):
        assert not set(SMOOTHED_COLUMNS) & {f for row in plain_docs[key] for f in row}, key
    assert not set(SMOOTHED_COLUMNS) & set(plain_docs["cities/city9"]["editions"][0])
    blocks = Blocks(plain_docs, "site")
    assert "smooth" not in blocks.meta["editions"]
    fields = {f for node in json.loads(blocks.encoded("ranking")).values() for f in node}
    fields |= {f for edition in editions_block(plain_docs)["data"].values() for node in edition.values() for f in node}
    assert fields and not set(SMOOTHED_COLUMNS) & fields
