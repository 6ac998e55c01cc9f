"""The documents every online face reads: one per API path, read from the build, written as JSON and CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from smartcities.analysis import results as readings
from smartcities.analysis.profiles import all_profiles
from smartcities.build import build
from smartcities.cli.build import DEMO_SPEC
from smartcities.errors import InputError
from smartcities.online.bundle import documents, plain, records, write_documents


@pytest.fixture(scope="module")
def demo():
    result = build(DEMO_SPEC)
    return result, documents(result)


def test_one_document_per_path(demo):
    result, docs = demo
    cities = list(result.context.units)
    expected = {"index", "ranking", "cities", "scores", "indicators", "sensitivity", "processing", "audit", "model"}
    expected |= {f"cities/{c}" for c in cities} | {f"cities/{c}/profile" for c in cities}
    assert set(docs) == expected


def test_index_names_the_framework_weights_and_steps(demo):
    result, docs = demo
    index = docs["index"]
    fw = result.context.framework
    assert index["name"] == result.spec.model.name and index["root"] == "index"
    assert index["spec_sha256"] == result.spec.digest
    assert [s for s in index["steps"]] == [{k: v for k, v in s.items() if k != "seconds"} for s in result.log]
    assert len(index["framework"]) == len(fw.nodes)
    leaf = next(n for n in index["framework"] if n["id"] == "services_count")
    assert leaf["unit"] == "services" and leaf["direction"] == 1 and leaf["parent"] == "service_innovation"
    assert index["domains"] == fw.children["index"]
    assert set(index["weight_sets"]) == {"framework", "equal", "three_trends"}
    assert index["weight_sets"]["three_trends"]["urban_intelligence"] == 2.0
    assert index["weight_sets"]["three_trends"]["governance"] == 1.0  # a named set is a full map
    assert index["peer_groups"] == ["country", "region"]


def test_ranking_of_the_top_node_is_the_builds(demo):
    result, docs = demo
    top = [r for r in docs["ranking"] if r["node"] == "index"]
    built = readings.ranking(result)
    assert [r["city"] for r in top] == list(built["city"])
    assert [r["name"] for r in top] == list(built["name"])
    assert [r["rank"] for r in top] == list(built["rank"])
    assert [r["grade"] for r in top] == list(built["grade"])
    assert [r["rating"] for r in top] == list(built["letter"])
    assert [r["p95"] for r in top] == list(built["p95"])
    assert np.allclose([r["score"] for r in top], built["score"], rtol=0, atol=0)
    for r in top:
        assert r["best_rank"] <= r["rank"] <= r["worst_rank"]
    region = dict(zip(result.context.units, result.context.groups["region"]))
    assert [r["region"] for r in top] == [region[c] for c in built["city"]]


def test_ranking_holds_every_node_with_ratings_only_on_the_top(demo):
    result, docs = demo
    rows = pd.DataFrame(docs["ranking"])
    assert set(rows["node"]) == set(result.context.compiled.nodes)
    assert rows.groupby("node").size().eq(int(result.kept.sum())).all()
    others = rows[rows["node"] != "index"]
    assert others["rating"].isna().all() and others["best_rank"].isna().all()
    domain = rows[rows["node"] == "governance"].reset_index(drop=True)
    built = readings.ranking(result, "governance")
    assert list(domain["city"]) == list(built["city"]) and list(domain["rank"]) == list(built["rank"])


def test_cities_and_city_pages(demo):
    result, docs = demo
    cities = docs["cities"]
    assert [c["city"] for c in cities] == list(result.context.units)
    berlin = next(c for c in cities if c["city"] == "berlin")
    assert berlin["name"] == "Berlin" and berlin["country"] == "DE" and berlin["region"] == "Europe"
    assert berlin["lat"] == pytest.approx(52.52, abs=0.01) and berlin["scored"] is True
    page = docs["cities/berlin"]
    assert page["city"] == berlin
    table = result.scores_table()
    mine = table[table["city"] == "berlin"]
    assert [s["node"] for s in page["scores"]] == list(mine["node"])
    assert [s["score"] for s in page["scores"]] == list(mine["score"])
    assert [s["rank"] for s in page["scores"]] == list(mine["rank"])


def test_profiles_are_the_analysis_profiles(demo):
    result, docs = demo
    profiles = all_profiles(result)
    for city, profile in profiles.items():
        doc = docs[f"cities/{city}/profile"]
        assert [d["domain"] for d in doc["domains"]] == list(profile.domains["domain"])
        assert [d["verdict"] for d in doc["domains"]] == list(profile.domains["verdict"])
        assert [p["city"] for p in doc["peers"]] == list(profile.peers["city"])
        assert [row["id"] for row in doc["learn_from"]] == list(profile.learn_from["id"])
        inventory = result.inputs.inventory
        assert [i["id"] for i in doc["initiatives"]] == list(inventory.loc[inventory["city_id"] == city, "id"])
        assert all(t["city"] == city for t in doc["trends"]) and doc["trends"]
    assert any(docs[f"cities/{c}/profile"]["learn_from"] for c in profiles)


def test_tables_carry_names_and_metadata(demo):
    result, docs = demo
    assert len(docs["scores"]) == len(result.scores_table())
    row = next(r for r in docs["indicators"] if r["city"] == "berlin" and r["indicator"] == "services_count")
    assert row["name"] == "Berlin" and row["indicator_name"] == "Smart services" and row["unit"] == "services"
    j = result.context.indicators.index("services_count")
    i = result.context.units.index("berlin")
    assert row["normalised"] == result.stages.data["normalise"][0, i, j]
    assert len(docs["sensitivity"]) == len(result.uncertainty.sensitivity)
    assert docs["audit"]["summary"] and docs["audit"]["cronbach"]


def test_write_documents_writes_json_and_csv(demo, tmp_path):
    _, docs = demo
    paths = write_documents(docs, tmp_path)
    api = tmp_path / "site" / "api" / "v1"
    assert api / "ranking.json" in paths and api / "ranking.csv" in paths
    assert api / "cities" / "berlin" / "profile.json" in paths
    assert not (api / "index.csv").exists()  # a dict is no table

    def refuse(constant):
        raise ValueError(constant)

    for key in ("index", "ranking", "cities/berlin/profile", "model"):
        text = (api / f"{key}.json").read_text(encoding="utf-8")
        assert json.loads(text, parse_constant=refuse) == docs[key]
    csv = pd.read_csv(api / "ranking.csv")
    assert len(csv) == len(docs["ranking"]) and list(csv.columns) == list(docs["ranking"][0])


def test_unsafe_keys_are_refused(tmp_path):
    for key in ("../escape", "cities/../../x", "/abs", ".hidden", "a\\b"):
        with pytest.raises(InputError, match="is not a safe path"):
            write_documents({key: {}}, tmp_path)
    assert not any(tmp_path.iterdir())


def test_plain_values():
    assert plain({"a": np.int64(3), "b": np.float64("nan"), "c": (1, np.bool_(True)), "d": pd.NA}) == {
        "a": 3, "b": None, "c": [1, True], "d": None}
    frame = pd.DataFrame({"x": [1.5, np.nan], "_line": [1, 2], "n": pd.array([1, None], dtype="Int64")})
    assert records(frame) == [{"x": 1.5, "n": 1}, {"x": None, "n": None}]


def test_a_coinr_index_has_documents_too(asem_standard):
    docs = documents(asem_standard)
    assert docs["index"]["root"] == "Index"
    assert docs["cities"][0]["EurAsia_group"] in ("Asia", "Europe")
    assert docs["cities/AUT/profile"]["initiatives"] == [] and docs["cities/AUT/profile"]["domains"]
    top = [r for r in docs["ranking"] if r["node"] == "Index"]
    assert top[0]["rating"] is None and top[0]["p05"] is None
