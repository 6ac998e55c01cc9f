"""The SensorThings read API over a hand-filled sensor store: entity shapes and links, counts, paging, ordering,
filters and expand against answers known by hand, refusals as problem+json, the latest values, and `serve
--sensors`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from smartcities.build import build
from smartcities.cli import app as cli
from smartcities.cli.build import DEMO_SPEC
from smartcities.online.api import create_app
from smartcities.online.bundle import documents, write_documents
from smartcities.sensors.store import connect

STA = "/sta/v1.1"
HOUR0 = datetime(2019, 6, 1)
# datastream -> (thing, sensor, property, values at hours 0, 1, …)
SERIES = {1: ("a", "sa", "pm25", [float(h) for h in range(10)]),
          2: ("a", "sa", "no2", [100.0 + h for h in range(5)]),
          3: ("b", "sb", "pm25", [50.0 + h for h in range(3)])}
ALL = sorted((ds, HOUR0 + timedelta(hours=h), v) for ds, (*_, values) in SERIES.items() for h, v in enumerate(values))


def fill(path) -> None:
    """Things a (two datastreams), b (one) and c (no location, no datastream)."""
    db = connect(path)
    db.execute("""insert into things values ('a', 'Station A', 'by the river', '{"district": "Nord"}'),
                  ('b', 'Station B', '', '{}'), ('c', 'Station C', '', null)""")
    db.execute("insert into locations values ('a', 45.5, -73.6, 'Pont'), ('b', 45.4, -73.5, null)")
    db.execute("insert into sensors values ('sa', 'Sensor A', 'optical'), ('sb', 'Sensor B', '')")
    db.execute("insert into observed_properties values ('pm25', 'PM2.5', 'http://example.org/pm25', 'µg/m³'), "
               "('no2', 'NO2', '', 'µg/m³')")
    for ds, (thing, sensor, prop, _) in SERIES.items():
        db.execute("insert into datastreams values (?, ?, ?, ?, null)", [ds, thing, sensor, prop])
    db.executemany("insert into observations values (?, ?, ?)", [list(row) for row in ALL])
    db.close()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("published")
    write_documents(documents(build(DEMO_SPEC)), folder)
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sensors") / "store.duckdb"
    fill(path)
    return path


@pytest.fixture(scope="module")
def client(folder, store):
    return TestClient(create_app(folder, sensors=store))


def get(client, path: str, **params) -> dict:
    response = client.get(STA + path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def refused(client, path: str, params: dict, parameter: str | None, *phrases: str, status: int = 400) -> str:
    response = client.get(STA + path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["errors"][0]["parameter"] == parameter
    for phrase in phrases:
        assert phrase in body["detail"], body["detail"]
    return body["detail"]


def results(body: dict) -> list[float]:
    return [o["result"] for o in body["value"]]


def test_the_service_root_lists_the_entity_sets(client):
    body = get(client, "")
    names = [s["name"] for s in body["value"]]
    assert names == ["Things", "Locations", "Sensors", "ObservedProperties", "Datastreams", "Observations"]
    assert body["value"][0]["url"] == "http://testserver/sta/v1.1/Things"
    assert body["serverSettings"]["latest"] == "http://testserver/sta/v1.1/latest"
    for entity_set in body["value"]:
        assert client.get(entity_set["url"]).status_code == 200


def test_things_have_the_sensorthings_shape_and_their_links_resolve(client):
    body = get(client, "/Things")
    assert [t["@iot.id"] for t in body["value"]] == ["a", "b", "c"]
    a = body["value"][0]
    assert a["@iot.selfLink"] == "http://testserver/sta/v1.1/Things('a')"
    assert (a["name"], a["description"], a["properties"]) == ("Station A", "by the river", {"district": "Nord"})
    assert body["value"][2]["properties"] == {}
    assert "@iot.count" not in body and "@iot.nextLink" not in body
    assert client.get(a["@iot.selfLink"]).json() == a
    streams = client.get(a["Datastreams@iot.navigationLink"]).json()["value"]
    assert [s["@iot.id"] for s in streams] == [1, 2]
    assert streams[0]["unitOfMeasurement"]["symbol"] == "µg/m³"  # the property's unit, the datastream has none
    assert streams[0]["name"] == "Station A pm25"
    place = client.get(a["Locations@iot.navigationLink"]).json()["value"]
    assert place[0]["location"] == {"type": "Point", "coordinates": [-73.6, 45.5]}
    assert place[0]["encodingType"] == "application/geo+json"
    assert client.get(place[0]["Things@iot.navigationLink"]).json()["value"][0]["@iot.id"] == "a"


def test_a_datastream_links_to_its_thing_sensor_property_and_observations(client):
    stream = get(client, "/Datastreams(3)")
    assert stream["@iot.id"] == 3
    assert client.get(stream["Thing@iot.navigationLink"]).json()["@iot.id"] == "b"
    assert client.get(stream["Sensor@iot.navigationLink"]).json()["name"] == "Sensor B"
    observed = client.get(stream["ObservedProperty@iot.navigationLink"]).json()
    assert (observed["@iot.id"], observed["name"], observed["definition"]) == ("pm25", "PM2.5",
                                                                               "http://example.org/pm25")
    observations = client.get(stream["Observations@iot.navigationLink"]).json()["value"]
    assert results({"value": observations}) == [50.0, 51.0, 52.0]
    first = observations[0]
    assert first["phenomenonTime"] == "2019-06-01T00:00:00Z" and first["@iot.id"] == "3:2019-06-01T00:00:00Z"
    assert client.get(first["@iot.selfLink"]).json() == first
    assert client.get(first["Datastream@iot.navigationLink"]).json()["@iot.id"] == 3
    assert [s["@iot.id"] for s in get(client, "/Sensors('sa')/Datastreams")["value"]] == [1, 2]
    assert [s["@iot.id"] for s in get(client, "/ObservedProperties('pm25')/Datastreams")["value"]] == [1, 3]


def test_count_and_next_links_page_through_every_observation(client):
    seen, url, pages = [], f"{STA}/Observations?$top=5&$count=true", 0
    while url:
        body = client.get(url).json()
        assert body["@iot.count"] == len(ALL)
        assert len(body["value"]) <= 5
        seen += [(o["Datastream@iot.navigationLink"], o["phenomenonTime"], o["result"]) for o in body["value"]]
        url, pages = body.get("@iot.nextLink"), pages + 1
    assert pages == 4 and len(seen) == len(ALL) == len(set(seen))
    assert [r for _, _, r in seen] == [v for _, _, v in ALL]
    last = get(client, "/Observations", **{"$top": "5", "$skip": "15"})
    assert len(last["value"]) == 3 and "@iot.nextLink" not in last
    only_count = get(client, "/Observations", **{"$top": "0", "$count": "true"})
    assert only_count == {"@iot.count": 18, "value": []}


def test_the_next_link_keeps_the_filter_and_the_order(client):
    params = {"$top": "2", "$orderby": "phenomenonTime desc", "$filter": "Datastream/@iot.id eq 1"}
    first = get(client, "/Observations", **params)
    assert results(first) == [9.0, 8.0]
    second = client.get(first["@iot.nextLink"]).json()
    assert results(second) == [7.0, 6.0]


def test_ordering(client):
    assert results(get(client, "/Datastreams(1)/Observations", **{"$orderby": "phenomenonTime desc",
                                                                   "$top": "3"})) == [9.0, 8.0, 7.0]
    assert results(get(client, "/Observations", **{"$orderby": "result desc", "$top": "2"})) == [104.0, 103.0]
    newest_first = get(client, "/Observations", **{"$orderby": "phenomenonTime desc,@iot.id asc", "$top": "3"})
    assert results(newest_first) == [9.0, 8.0, 7.0]
    three_at_midnight = get(client, "/Observations", **{"$orderby": "phenomenonTime,@iot.id desc", "$top": "3"})
    assert results(three_at_midnight) == [50.0, 100.0, 0.0]
    assert [t["@iot.id"] for t in get(client, "/Things", **{"$orderby": "@iot.id desc"})["value"]] == ["c", "b", "a"]


@pytest.mark.parametrize(("path", "expression", "expected"), [
    ("/Observations", "phenomenonTime ge 2019-06-01T03:00:00Z and phenomenonTime lt 2019-06-01T05:00:00Z and "
     "Datastream/@iot.id eq 1", [3.0, 4.0]),
    ("/Observations", "phenomenonTime gt 2019-06-01T07:00:00Z", [8.0, 9.0]),
    ("/Observations", "phenomenonTime le 2019-06-01T00:00:00Z", [0.0, 100.0, 50.0]),
    ("/Observations", "phenomenonTime eq 2019-06-01T02:00:00Z and Datastream/@iot.id ne 1", [102.0, 52.0]),
    ("/Observations", "phenomenonTime ge 2019-06-01T12:00:00+08:00", [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 104.0]),
    ("/Observations", "result gt 51 and result lt 101.5", [100.0, 101.0, 52.0]),
    ("/Datastreams(1)/Observations", "phenomenonTime lt 2019-06-01T02:00:00Z", [0.0, 1.0]),
])
def test_filters_give_the_hand_known_observations(client, path, expression, expected):
    assert results(get(client, path, **{"$filter": expression})) == expected


def test_filters_on_other_entity_sets(client):
    def ids(path, expression):
        return [e["@iot.id"] for e in get(client, path, **{"$filter": expression})["value"]]

    assert ids("/Datastreams", "Thing/@iot.id eq 'a'") == [1, 2]
    assert ids("/Datastreams", "ObservedProperty/@iot.id eq 'pm25' and Thing/@iot.id ne 'a'") == [3]
    assert ids("/Datastreams", "@iot.id ge 2") == [2, 3]
    assert ids("/Things", "name eq 'Station B'") == ["b"]
    assert ids("/Things", "name eq 'it''s not there'") == []


def test_a_filter_with_a_count_counts_what_it_keeps(client):
    body = get(client, "/Observations", **{"$filter": "Datastream/@iot.id eq 1 and phenomenonTime ge "
                                           "2019-06-01T05:00:00Z", "$count": "true", "$top": "2"})
    assert body["@iot.count"] == 5 and results(body) == [5.0, 6.0]


@pytest.mark.parametrize(("expression", "part"), [
    ("phenomenonTime ge 2019-06-01T00:00:00Z or result gt 1", "'or result gt 1' (character 40)"),
    ("phenomenonTime ge 2019-06-01", "'2019-06-01'"),
    ("phenomenonTime ge 2019-06-01T00:00:00", "'2019-06-01T00:00:00'"),  # a time without a zone
    ("phenomenonTime ge 2019-06-01T25:00:00Z", "no ISO 8601 time with a zone"),
    ("foo eq 3", "field 'foo' is not one this server filters Observations on at 'foo eq 3' (character 1)"),
    ("result between 1", "'between 1'"),
    ("Datastream/@iot.id eq 1.5", "'1.5'"),
    ("Datastream/@iot.id eq '1'", "no whole number"),
    ("substringof('a', name)", "no field at \"substringof('a', name)\""),
    ("Datastream/@iot.id eq 3)", "no whole number for Datastream/@iot.id at '3)'"),
    ("result gt 1and result lt 5", "'1and result lt 5'"),
    ("(phenomenonTime ge 2019-06-01T00:00:00Z)", "no field"),
    ("", "no field"),
])
def test_a_filter_not_understood_is_a_400_naming_the_part(client, expression, part):
    detail = refused(client, "/Observations", {"$filter": expression}, "$filter", part)
    assert "FIELD OP VALUE joined by and" in detail


def test_other_refusals(client):
    refused(client, "/Things", {"$select": "name"}, "$select", "$select is not supported")
    refused(client, "/Things", {"$filter": "phenomenonTime ge 2019-06-01T00:00:00Z"}, "$filter",
            "field 'phenomenonTime' is not one this server filters Things on")
    refused(client, "/Observations", {"$orderby": "name"}, "$orderby", "'name' is not understood",
            "phenomenonTime")
    refused(client, "/Observations", {"$orderby": "phenomenonTime sideways"}, "$orderby")
    refused(client, "/Things", {"$expand": "Observations"}, "$expand", "'Observations' is not understood")
    refused(client, "/Things", {"$expand": "Datastreams($top=1)"}, "$expand", "without nested options")
    refused(client, "/Things", {"$top": "-1"}, "$top", "whole number")
    refused(client, "/Things", {"$skip": "x"}, "$skip", "whole number")
    refused(client, "/Things", {"$skip": "9" * 19}, "$skip", "18 digits")
    refused(client, "/Things", {"$top": "²"}, "$top", "whole number")
    refused(client, "/Things", {"$count": "yes"}, "$count", "true or false")
    refused(client, "/Things('a')", {"$top": "1"}, None, "only $expand applies")
    refused(client, "/Things('zz')", {}, None, "Things('zz') does not exist", status=404)
    refused(client, "/Datastreams(99)", {}, None, "does not exist", status=404)
    refused(client, "/Datastreams(x)/Observations", {}, None, "whole numbers", status=404)
    refused(client, "/Things('zz')/Datastreams", {}, None, "does not exist", status=404)
    refused(client, "/Observations('1:2030-01-01T00:00:00Z')", {}, None, "does not exist", status=404)


def test_top_is_at_most_ten_thousand(client, monkeypatch):
    from smartcities.online import sta

    monkeypatch.setattr(sta, "MAX_TOP", 4)
    body = get(client, "/Observations", **{"$top": "10000"})
    assert len(body["value"]) == 4 and "$top=4" in body["@iot.nextLink"]


def test_top_defaults_to_a_hundred(folder, tmp_path):
    path = tmp_path / "many.duckdb"
    db = connect(path)
    db.execute("insert into things select 't' || lpad(i::varchar, 3, '0'), '', '', '{}' from range(150) r(i)")
    db.close()
    body = TestClient(create_app(folder, sensors=path)).get(f"{STA}/Things").json()
    assert len(body["value"]) == 100 and body["value"][-1]["@iot.id"] == "t099"
    assert "$skip=100" in body["@iot.nextLink"]


def test_expand_puts_the_datastreams_and_locations_inline(client):
    things = get(client, "/Things", **{"$expand": "Datastreams"})["value"]
    assert {t["@iot.id"]: [s["@iot.id"] for s in t["Datastreams"]] for t in things} == {"a": [1, 2], "b": [3],
                                                                                       "c": []}
    assert things[0]["Datastreams"][0] == get(client, "/Datastreams(1)")
    one = get(client, "/Things('a')", **{"$expand": "Datastreams,Locations"})
    assert [s["@iot.id"] for s in one["Datastreams"]] == [1, 2]
    assert one["Locations"][0]["name"] == "Pont"
    page = get(client, "/Things", **{"$expand": "Locations", "$skip": "1", "$top": "1"})["value"]
    assert [(t["@iot.id"], len(t["Locations"])) for t in page] == [("b", 1)]


def test_a_text_id_with_a_quote_is_addressed_quoted(folder, tmp_path):
    path = tmp_path / "quoted.duckdb"
    db = connect(path)
    db.execute("insert into things values ('o''brien st', 'O''Brien Street', '', '{}')")
    db.close()
    client = TestClient(create_app(folder, sensors=path))
    thing = client.get(f"{STA}/Things").json()["value"][0]
    assert thing["@iot.selfLink"].endswith("/Things('o''brien%20st')")
    assert client.get(thing["@iot.selfLink"]).json()["name"] == "O'Brien Street"


def test_latest_gives_the_newest_observation_of_each_datastream(client):
    body = get(client, "/latest")
    assert [(r["datastream"], r["thing"], r["property"], r["phenomenonTime"], r["result"]) for r in body["value"]] == [
        (1, "a", "pm25", "2019-06-01T09:00:00Z", 9.0), (2, "a", "no2", "2019-06-01T04:00:00Z", 104.0),
        (3, "b", "pm25", "2019-06-01T02:00:00Z", 52.0)]
    a = body["value"][0]
    assert (a["name"], a["unit"], a["lat"], a["lon"]) == ("Station A", "µg/m³", 45.5, -73.6)
    assert client.get(a["Datastream@iot.navigationLink"]).json()["@iot.id"] == 1
    for row in body["value"]:  # the same as asking each datastream for its newest observation
        newest = get(client, f"/Datastreams({row['datastream']})/Observations",
                     **{"$orderby": "phenomenonTime desc", "$top": "1"})["value"][0]
        assert (newest["phenomenonTime"], newest["result"]) == (row["phenomenonTime"], row["result"])


def test_latest_over_many_datastreams_matches_a_window_query(folder, tmp_path):
    """1,000 datastreams with 50 irregular observations each, the newest not the last inserted."""
    path = tmp_path / "network.duckdb"
    db = connect(path)
    db.execute("insert into things select 't' || i, '', '', '{}' from range(1000) r(i)")
    db.execute("insert into locations select 't' || i, 45 + i / 1e4, -73, '' from range(1000) r(i)")
    db.execute("insert into datastreams select i + 1, 't' || i, 's', 'pm25', 'µg/m³' from range(1000) r(i)")
    db.execute("insert into observations select d + 1, timestamp '2019-06-01' + to_minutes((k * 37 + d) % 50 * 2), "
               "d * 100 + k from range(1000) a(d), range(50) b(k)")
    expected = db.execute("""select datastream_id, value from (select *, row_number() over (partition by
                             datastream_id order by time desc) as n from observations) where n = 1
                             order by datastream_id""").fetchall()
    db.close()
    rows = TestClient(create_app(folder, sensors=path)).get(f"{STA}/latest").json()["value"]
    assert len(rows) == 1000
    assert [(r["datastream"], r["result"]) for r in rows] == expected


def test_the_api_without_a_store_serves_no_sensorthings(folder):
    client = TestClient(create_app(folder))
    assert client.get(f"{STA}/Things").status_code == 404


def test_the_schema_lists_the_sensorthings_paths(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {f"{STA}/Things", f"{STA}/Things({{key}})/Datastreams", f"{STA}/latest"} <= set(paths)
    names = {p["name"] for p in paths[f"{STA}/Observations"]["get"]["parameters"]}
    assert {"$top", "$skip", "$count", "$orderby", "$filter", "$expand"} <= names


def test_serve_with_a_missing_store_is_one_error(folder, tmp_path):
    result = CliRunner().invoke(cli, ["serve", str(folder), "--sensors", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert "sensor store does not exist" in result.stderr


def test_a_real_server_serves_the_store(folder, store):
    process = subprocess.Popen([sys.executable, "-m", "smartcities", "serve", str(folder), "--port", "0",
                                "--sensors", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split(" at ")[1].split()[0].rstrip("/")
        deadline = time.monotonic() + 20
        while True:
            try:
                latest = httpx.get(f"{url}{STA}/latest", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.1)
        assert [r["result"] for r in latest.json()["value"]] == [9.0, 104.0, 52.0]
        things = httpx.get(f"{url}{STA}/Things", params={"$count": "true"}).json()
        assert things["@iot.count"] == 3 and things["value"][0]["@iot.selfLink"].startswith(url)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_problem_response_names_each_parameter():
    from smartcities.online.problems import PROBLEM, problem_response

    response = problem_response(400, [("$top", "expected a whole number"), (None, "and another")])
    body = json.loads(response.body)
    assert response.status_code == 400 and response.media_type == PROBLEM and body["title"] == "Bad Request"
    assert body["errors"] == [{"parameter": "$top", "message": "expected a whole number"},
                              {"parameter": None, "message": "and another"}]
