"""Exporting the sensor store: the SensorThings document holds every Thing, Location, Datastream and Observation;
the NGSI-LD entities hold each Thing's newest values; the command writes either atomically."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.sensors.export import NGSI_LD_CONTEXT, latest, to_ngsi_ld, to_sensorthings, write_json
from smartcities.sensors.store import connect

runner = CliRunner()
HOUR0 = datetime(2019, 6, 1)


@pytest.fixture
def db(tmp_path):
    """Thing a: pm25 (hours 0-9, value = hour) and no2 (hours 0-4, 100 + hour); b: pm25 (hours 0-2, 50 + hour,
    inserted newest first); c: no location, no datastream."""
    db = connect(tmp_path / "store.duckdb")
    db.execute("""insert into things values ('a', 'Station A', 'by the river', '{"district": "Nord"}'),
                  ('b', 'Station B', '', '{}'), ('c', 'Station C', '', null)""")
    db.execute("insert into locations values ('a', 45.5, -73.6, 'Pont'), ('b', 45.4, -73.5, null)")
    db.execute("insert into sensors values ('sa', 'Sensor A', 'optical'), ('sb', 'Sensor B', '')")
    db.execute("insert into observed_properties values ('pm25', 'PM2.5', 'http://example.org/pm25', 'µg/m³'), "
               "('no2', 'NO2', '', 'ppb')")
    db.execute("insert into datastreams values (1, 'a', 'sa', 'pm25', null), (2, 'a', 'sa', 'no2', 'µg/m³'), "
               "(3, 'b', 'sb', 'pm25', null)")
    rows = ([(1, HOUR0 + timedelta(hours=h), float(h)) for h in range(10)]
            + [(2, HOUR0 + timedelta(hours=h), 100.0 + h) for h in range(5)]
            + [(3, HOUR0 + timedelta(hours=h), 50.0 + h) for h in reversed(range(3))])
    db.executemany("insert into observations values (?, ?, ?)", [list(r) for r in rows])
    yield db
    db.close()


def stored(db) -> set[tuple]:
    return {(ds, t.isoformat() + "Z", v) for ds, t, v in db.execute("select * from observations").fetchall()}


def test_the_sensorthings_document_holds_every_observation(db):
    document = to_sensorthings(db)
    things = document["value"]
    assert [t["@iot.id"] for t in things] == ["a", "b", "c"]
    exported = set()
    for thing in things:
        for stream in thing["Datastreams"]:
            block = stream["Observations"]
            assert block["components"] == ["phenomenonTime", "result"]
            assert block["dataArray@iot.count"] == len(block["dataArray"])
            exported |= {(stream["@iot.id"], time, value) for time, value in block["dataArray"]}
    assert exported == stored(db) and len(exported) == 18
    b_times = [time for time, _ in things[1]["Datastreams"][0]["Observations"]["dataArray"]]
    assert b_times == sorted(b_times)  # in time order whatever the insertion order


def test_the_sensorthings_things_carry_locations_datastreams_sensors_and_properties(db):
    a, b, c = to_sensorthings(db)["value"]
    assert (a["name"], a["description"], a["properties"]) == ("Station A", "by the river", {"district": "Nord"})
    assert a["Locations"] == [{"@iot.id": "a", "name": "Pont", "description": "", "encodingType":
                               "application/geo+json", "location": {"type": "Point", "coordinates": [-73.6, 45.5]}}]
    assert "Locations" not in c and c["Datastreams"] == [] and c["properties"] == {}
    pm25, no2 = a["Datastreams"]
    assert pm25["unitOfMeasurement"]["symbol"] == "µg/m³"  # the property's unit where the datastream has none
    assert no2["unitOfMeasurement"]["symbol"] == "µg/m³"  # the datastream's own unit first
    assert pm25["Sensor"]["@iot.id"] == "sa" and pm25["Sensor"]["name"] == "Sensor A"
    assert pm25["ObservedProperty"] == {"@iot.id": "pm25", "name": "PM2.5", "definition": "http://example.org/pm25",
                                        "description": "PM2.5"}
    assert b["Locations"][0]["name"] == "b"  # a location without a name is called after its thing


def test_the_ngsi_ld_entities_hold_each_things_newest_values(db):
    a, b, c = to_ngsi_ld(db)
    assert a["id"] == "urn:ngsi-ld:Thing:a" and a["type"] == "Thing"
    assert a["@context"] == [NGSI_LD_CONTEXT]
    assert a["pm25"] == {"type": "Property", "value": 9.0, "observedAt": "2019-06-01T09:00:00Z", "unitCode": "µg/m³"}
    assert a["no2"] == {"type": "Property", "value": 104.0, "observedAt": "2019-06-01T04:00:00Z",
                        "unitCode": "µg/m³"}
    assert a["dateObserved"]["value"] == "2019-06-01T09:00:00Z"
    assert a["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-73.6, 45.5]}}
    assert b["pm25"]["value"] == 52.0 and b["pm25"]["observedAt"] == "2019-06-01T02:00:00Z"
    assert set(c) == {"id", "type", "name", "@context"}


def test_a_property_measured_twice_on_one_thing_is_a_multi_attribute(db):
    db.execute("insert into sensors values ('sa2', 'Second', '')")
    db.execute("insert into datastreams values (4, 'a', 'sa2', 'pm25', null)")
    db.execute("insert into observations values (4, '2019-06-01 10:00:00', 7.5)")
    attribute = to_ngsi_ld(db)[0]["pm25"]
    assert [(p["value"], p["datasetId"]) for p in attribute] == [(9.0, "urn:ngsi-ld:Dataset:sa"),
                                                                 (7.5, "urn:ngsi-ld:Dataset:sa2")]


def test_a_property_named_like_an_entity_attribute_is_refused(db):
    db.execute("insert into datastreams values (5, 'a', 'sa', 'location', null)")
    db.execute("insert into observations values (5, '2019-06-01 00:00:00', 1)")
    with pytest.raises(InputError, match="property 'location' of Thing 'a'"):
        to_ngsi_ld(db)


def test_latest_gives_one_row_per_datastream_with_observations(db):
    db.execute("insert into datastreams values (6, 'c', 'sb', 'pm25', null)")  # no observations: no row
    rows = latest(db)
    assert [(r["datastream_id"], r["time"], r["value"], r["unit"], r["lat"]) for r in rows] == [
        (1, HOUR0 + timedelta(hours=9), 9.0, "µg/m³", 45.5), (2, HOUR0 + timedelta(hours=4), 104.0, "µg/m³", 45.5),
        (3, HOUR0 + timedelta(hours=2), 52.0, "µg/m³", 45.4)]


def test_write_json_replaces_the_file_whole(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("old", encoding="utf-8")
    write_json({"value": [float("nan"), "µ"]}, out)
    assert json.loads(out.read_text(encoding="utf-8")) == {"value": [None, "µ"]}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("fmt", ["sensorthings", "ngsi-ld"])
def test_the_command_writes_either_format(db, tmp_path, fmt):
    expected = to_sensorthings(db) if fmt == "sensorthings" else to_ngsi_ld(db)
    db.close()
    out = tmp_path / f"{fmt}.json"
    result = runner.invoke(app, ["sensors", "export", "--store", str(tmp_path / "store.duckdb"), "--format", fmt,
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(expected))
    assert "wrote 3" in result.output and str(out) in result.output
    assert not (tmp_path / f".{out.name}.tmp").exists()


def test_the_command_refuses_a_bad_format_or_a_missing_store(tmp_path):
    (tmp_path / "store.duckdb").touch()
    cases = [(["--store", str(tmp_path / "none.duckdb"), "--format", "ngsi-ld"], "sensor store does not exist"),
             (["--store", str(tmp_path / "store.duckdb"), "--format", "geojson"],
              "format 'geojson' is not one of sensorthings, ngsi-ld")]
    for args, message in cases:
        result = runner.invoke(app, ["sensors", "export", *args, "--out", str(tmp_path / "out.json")])
        assert result.exit_code == 2 and message in result.stderr, result.output
    assert not (tmp_path / "out.json").exists()


def imported(path, fmt: str, store) -> set[tuple]:
    """(thing, property, time, value) of every observation that importing `path` stores."""
    from smartcities.sensors.ingest import import_files

    import_files(store, [path], fmt)
    back = connect(store, read_only=True)
    try:
        return set(back.execute(OBSERVED).fetchall())
    finally:
        back.close()


OBSERVED = "select d.thing_id, d.property, o.time, o.value from observations o join datastreams d using (datastream_id)"


def test_both_exports_import_back(db, tmp_path):
    """SensorThings back in: every observation; NGSI-LD back in: each Thing's newest value of each property."""
    pytest.importorskip("smartcities.sensors.ingest")
    write_json(to_sensorthings(db), tmp_path / "sta.json")
    write_json(to_ngsi_ld(db), tmp_path / "ngsi.json")
    expected = set(db.execute(OBSERVED).fetchall())  # properties keep their ids (pm25, not its name PM2.5)
    assert imported(tmp_path / "sta.json", "sensorthings", tmp_path / "sta.duckdb") == expected
    newest = {(f"urn:ngsi-ld:Thing:{r['thing_id']}", r["property"], r["time"], r["value"]) for r in latest(db)}
    # each value comes back at its own observedAt
    assert imported(tmp_path / "ngsi.json", "ngsi-ld", tmp_path / "ngsi.duckdb") == newest
