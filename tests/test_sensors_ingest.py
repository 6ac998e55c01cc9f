"""Importing sensor files: every format into the SensorThings tables, idempotent, atomic, with located errors."""

from __future__ import annotations

import json
import textwrap

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.sensors.ingest import detect, import_files, walk
from smartcities.sensors.store import connect

SDS011 = "sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2"
DHT22 = "sensor_id;sensor_type;location;lat;lon;timestamp;temperature;humidity"
TABLES = ("things", "locations", "sensors", "observed_properties", "datastreams", "observations", "imports")


def counts(store) -> dict[str, int]:
    db = connect(store, read_only=True)
    try:
        return {table: db.execute(f"select count(*) from {table}").fetchone()[0] for table in TABLES}
    finally:
        db.close()


def query(store, sql: str) -> pd.DataFrame:
    db = connect(store, read_only=True)
    try:
        return db.execute(sql).df()
    finally:
        db.close()


def community_day(sensor: int, kind: str, day: str, lat: float, lon: float, seed: int) -> str:
    """One sensor.community archive file: a reading every 5 minutes of one day."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(day, periods=288, freq="5min").strftime("%Y-%m-%dT%H:%M:%S")
    lines = [SDS011 if kind == "SDS011" else DHT22]
    for t in times:
        if kind == "SDS011":
            p1, p2 = rng.uniform(5, 40), rng.uniform(2, 25)
            lines.append(f"{sensor};SDS011;{sensor + 1000};{lat};{lon};{t};{p1:.2f};;;{p2:.2f};;")
        else:
            lines.append(f"{sensor};DHT22;{sensor + 1000};{lat};{lon};{t};{rng.uniform(-5, 30):.1f};"
                         f"{rng.uniform(20, 95):.1f}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def archive(tmp_path):
    """Two SDS011 and one DHT22 sensor over two days, one file per sensor per day, one P1 cell left empty."""
    folder = tmp_path / "archive"
    for day in ("2024-03-01", "2024-03-02"):
        (folder / day).mkdir(parents=True)
        for sensor, kind, lat, lon in ((101, "SDS011", 48.78, 9.18), (102, "SDS011", 48.80, 9.20),
                                       (201, "DHT22", 48.79, 9.19)):
            text = community_day(sensor, kind, day, lat, lon, seed=sensor + int(day[-1]))
            (folder / day / f"{day}_{kind.lower()}_sensor_{sensor}.csv").write_text(text)
    first = folder / "2024-03-01" / "2024-03-01_sds011_sensor_101.csv"
    lines = first.read_text().splitlines()
    cells = lines[5].split(";")
    cells[6] = ""
    lines[5] = ";".join(cells)
    first.write_text("\n".join(lines) + "\n")
    return folder


def test_sensor_community_archive(archive, tmp_path):
    store = tmp_path / "s.duckdb"
    summary = import_files(store, [archive])
    assert len(summary.files) == 6 and summary.skipped == []
    assert summary.things == 3 and summary.datastreams == 6
    assert summary.observations == 2 * 2 * 288 * 2 - 1 + 2 * 288 * 2  # the empty P1 cell is no observation
    assert summary.duplicates == 0
    streams = query(store, "select thing_id, sensor_id, property from datastreams order by all")
    assert list(streams.itertuples(index=False, name=None)) == [
        ("101", "SDS011", "pm10"), ("101", "SDS011", "pm25"), ("102", "SDS011", "pm10"), ("102", "SDS011", "pm25"),
        ("201", "DHT22", "humidity"), ("201", "DHT22", "temperature")]
    assert query(store, "select lat, lon from locations where thing_id = '102'").iloc[0].tolist() == [48.80, 9.20]
    file = pd.read_csv(archive / "2024-03-02" / "2024-03-02_sds011_sensor_102.csv", sep=";")
    stored = query(store, """select o.time, o.value from observations o join datastreams d using (datastream_id)
        where d.thing_id = '102' and d.property = 'pm25' and o.time >= '2024-03-02' order by o.time""")
    assert stored["value"].tolist() == file["P2"].tolist()
    assert stored["time"].iloc[0] == pd.Timestamp("2024-03-02 00:00:00")
    units = dict(query(store, "select property, unit from observed_properties").itertuples(index=False))
    assert units["pm25"] == "µg/m³" and units["temperature"] == "°C"


def test_import_twice_adds_nothing(archive, tmp_path):
    store = tmp_path / "s.duckdb"
    import_files(store, [archive])
    before = counts(store)
    again = import_files(store, [archive])
    assert again.files == [] and len(again.skipped) == 6 and again.observations == 0
    assert counts(store) == before
    # another file overlapping the stored observations adds only the new ones
    day = archive / "2024-03-02" / "2024-03-02_sds011_sensor_102.csv"
    lines = day.read_text().splitlines()
    extra = lines[-1].replace("T23:55:00", "T23:59:00")
    overlap = tmp_path / "overlap.csv"
    overlap.write_text("\n".join([lines[0], *lines[-10:], extra]) + "\n")
    summary = import_files(store, [overlap])
    assert summary.observations == 2 and summary.duplicates == 20
    assert counts(store)["observations"] == before["observations"] + 2


def test_long_csv_and_parquet(tmp_path):
    csv = tmp_path / "long.csv"
    csv.write_text(textwrap.dedent("""\
        sensor,time,property,value,unit,lat,lon
        a,2024-05-01T12:00:00+02:00,pm25,10.5,µg/m³,45.5,-73.6
        a,2024-05-01T12:10:00+02:00,pm25,11,µg/m³,45.5,-73.6
        b,2024-05-01T10:00:00Z,no2,30,µg/m³,45.6,-73.5
        b,2024-05-01T10:00:00Z,no2,31,µg/m³,45.6,-73.5
        """))
    store = tmp_path / "s.duckdb"
    summary = import_files(store, [csv])
    assert summary.observations == 3 and summary.duplicates == 1  # b's second reading at 10:00 is a repeat
    stored = query(store, """select d.thing_id, o.time, o.value from observations o join datastreams d
        using (datastream_id) order by all""")
    assert stored["time"].tolist() == [pd.Timestamp("2024-05-01 10:00"), pd.Timestamp("2024-05-01 10:10"),
                                       pd.Timestamp("2024-05-01 10:00")]  # +02:00 converted to UTC
    assert stored["value"].tolist() == [10.5, 11.0, 30.0]  # the first of a file's repeats is kept
    parquet = tmp_path / "long.parquet"
    duckdb.sql(f"""copy (select 'c' as sensor, timestamp '2024-05-02' + to_minutes(i::bigint * 15) as time,
        'temperature' as property, i / 10 as value from range(96) t(i)) to '{parquet}' (format parquet)""")
    assert detect(parquet, None) == "long"
    summary = import_files(store, [parquet])
    assert summary.observations == 96 and summary.datastreams == 1
    values = query(store, """select o.value from observations o join datastreams d using (datastream_id)
        where d.thing_id = 'c' order by o.time""")["value"]
    assert values.iloc[-1] == pytest.approx(9.5)
    bad = tmp_path / "bad.parquet"
    duckdb.sql(f"""copy (select 'c' as sensor, '2024-05-03T00:00:00Z' as time, 'pm25' as property,
        case when i = 2 then 'n/a' else i::varchar end as value from range(4) t(i)) to '{bad}' (format parquet)""")
    with pytest.raises(InputError) as caught:
        import_files(store, [bad])
    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (3, "value") and "'n/a' is text" in problem.message


def test_wide_table_with_adapter(tmp_path):
    table = tmp_path / "counts.csv"
    table.write_text("Date;Berri 1;Maisonneuve_2;Notes\n01/06/2019 00:00;12,5;3;x\n01/06/2019 00:15;;4;\n")
    adapter = tmp_path / "adapter.yaml"
    adapter.write_text(textwrap.dedent("""\
        time: Date
        date_format: "%d/%m/%Y %H:%M"
        decimal: ","
        delimiter: ";"
        property: bike_count
        unit: count
        aliases: {"Berri 1": Berri1, "Maisonneuve_2": Maisonneuve}
        ignore: [Notes]
        locations: {Berri1: {lat: 45.52, lon: -73.56, name: Berri / de Maisonneuve}, Maisonneuve: {lat: 45.50,
                    lon: -73.57}}
        """))
    store = tmp_path / "s.duckdb"
    summary = import_files(store, [table], adapter=adapter)
    assert summary.things == 2 and summary.observations == 3  # the empty Berri 1 cell is no observation
    assert query(store, "select thing_id, name from things order by all").values.tolist() == [
        ["Berri1", "Berri / de Maisonneuve"], ["Maisonneuve", "Maisonneuve"]]  # a location's name names its Thing
    stored = query(store, """select d.thing_id, d.property, o.time, o.value from observations o
        join datastreams d using (datastream_id) order by all""")
    assert stored.values.tolist() == [
        ["Berri1", "bike_count", pd.Timestamp("2019-06-01 00:00"), 12.5],
        ["Maisonneuve", "bike_count", pd.Timestamp("2019-06-01 00:00"), 3.0],
        ["Maisonneuve", "bike_count", pd.Timestamp("2019-06-01 00:15"), 4.0]]
    assert query(store, "select lat from locations where thing_id = 'Berri1'")["lat"].tolist() == [45.52]


def sensorthings_document() -> dict:
    return {"value": [{
        "@iot.id": "station-7", "name": "Station 7",
        "Locations": [{"location": {"type": "Point", "coordinates": [126.98, 37.57]}}],
        "Datastreams": [
            {"name": "pm25", "unitOfMeasurement": {"symbol": "µg/m³"}, "ObservedProperty": {"name": "pm25"},
             "Sensor": {"name": "SDS011"},
             "Observations": [{"phenomenonTime": "2024-06-01T00:00:00Z", "result": 8.1},
                              {"phenomenonTime": "2024-06-01T00:02:00Z/2024-06-01T00:04:00Z", "result": 9}]},
            {"name": "noise", "unitOfMeasurement": {"symbol": "dB"}, "ObservedProperty": {"name": "noise"},
             "Sensor": {"name": "mic"}, "components": ["id", "phenomenonTime", "result"],
             "dataArray@iot.count": 3,
             "dataArray": [[1, "2024-06-01T09:00:00+09:00", 55.0], [2, "2024-06-01T09:02:00+09:00", 57.5],
                           [3, "2024-06-01T09:04:00+09:00", 56.0]]}]}]}


def test_sensorthings_json_with_data_array(tmp_path):
    file = tmp_path / "things.json"
    file.write_text(json.dumps(sensorthings_document()))
    assert detect(file, None) == "sensorthings"
    store = tmp_path / "s.duckdb"
    summary = import_files(store, [file])
    assert summary.things == 1 and summary.datastreams == 2 and summary.observations == 5
    stored = query(store, """select d.property, o.time, o.value from observations o join datastreams d
        using (datastream_id) order by all""")
    noise = stored[stored.property == "noise"]
    assert noise["time"].tolist() == pd.date_range("2024-06-01 00:00", periods=3, freq="2min").tolist()
    assert stored[stored.property == "pm25"]["time"].iloc[1] == pd.Timestamp("2024-06-01 00:02")  # interval start
    assert query(store, "select lat, lon from locations").iloc[0].tolist() == [37.57, 126.98]


def ngsi_entities() -> list[dict]:
    return [
        {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved",
         "dateObserved": {"type": "Property", "value": "2024-07-01T10:00:00Z"},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.70, 40.42]}},
         "pm25": {"type": "Property", "value": 12.0, "unitCode": "GQ"},
         "no2": {"type": "Property", "value": 40}, "airQualityLevel": {"type": "Property", "value": "moderate"}},
        {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved",
         "dateObserved": {"type": "Property", "value": "2024-07-01T11:00:00Z"},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-3.70, 40.42]}},
         "pm25": {"type": "Property", "value": 14.5, "unitCode": "GQ"},
         "no2": {"type": "Property", "value": 38}, "airQualityLevel": {"type": "Property", "value": "good"}},
        {"id": "urn:ngsi-ld:TrafficFlowObserved:9", "type": "TrafficFlowObserved",
         "dateObservedFrom": {"type": "Property", "value": "2024-07-01T10:00:00Z"},
         "location": {"type": "GeoProperty", "value": {"type": "LineString",
                                                       "coordinates": [[-3.71, 40.41], [-3.72, 40.40]]}},
         "intensity": {"type": "Property", "value": 197}},
    ]


def test_ngsi_ld_entities(tmp_path):
    file = tmp_path / "entities.json"
    file.write_text(json.dumps(ngsi_entities()))
    assert detect(file, None) == "ngsi-ld"
    store = tmp_path / "s.duckdb"
    summary = import_files(store, [file])
    assert summary.things == 2 and summary.observations == 5
    stored = query(store, """select d.thing_id, d.property, o.value from observations o join datastreams d
        using (datastream_id) order by all""")
    assert sorted(stored["property"].unique()) == ["intensity", "no2", "pm25"]  # text attributes are not measures
    assert stored[stored.property == "pm25"]["value"].tolist() == [12.0, 14.5]
    assert stored[stored.property == "intensity"]["value"].tolist() == [197.0]
    location = query(store, "select lat, lon from locations where thing_id like '%Traffic%'")
    assert location.iloc[0].tolist() == [40.41, -3.71]


def test_folder_with_one_bad_file_changes_nothing(archive, tmp_path):
    store = tmp_path / "s.duckdb"
    import_files(store, [tmp_path / "archive" / "2024-03-01"])
    before = counts(store)
    bad = archive / "2024-03-02" / "2024-03-02_sds011_sensor_101.csv"
    lines = bad.read_text().splitlines()
    lines[40] = lines[40].replace("2024-03-02T03:15:00", "03.02.2024 03:15")
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        import_files(store, [archive])
    problem = caught.value.problems[0]
    assert problem.file.endswith("2024-03-02_sds011_sensor_101.csv")
    assert problem.line == 41 and problem.column == "timestamp"
    assert "'03.02.2024 03:15'" in problem.message and "ISO 8601" in problem.message
    assert counts(store) == before


def long_file(tmp_path, rows: list[str], header: str = "sensor,time,property,value,lat,lon"):
    file = tmp_path / "bad.csv"
    file.write_text("\n".join([header, *rows]) + "\n")
    return file


@pytest.mark.parametrize(("rows", "line", "column", "words"), [
    (["a,2024-01-01T00:00:00Z,pm25,1,1,1", "a,2024-01-01T00:10:00,pm25,2,1,1"], 3, "time",
     ["mixed time zones", "'2024-01-01T00:10:00'", "has no UTC offset"]),
    (["a,2024-01-01T00:00:00Z,pm25,1,1,1", "a,yesterday,pm25,2,1,1"], 3, "time", ["'yesterday'", "ISO 8601"]),
    (["a,2024-01-01T00:00:00Z,pm25,1,1,1", "a,2024-01-01T00:10:00Z,pm25,high,1,1"], 3, "value",
     ["'high' is text", "expected a number"]),
    (["a,2024-01-01T00:00:00Z,pm25,inf,1,1"], 2, "value", ["'inf'", "finite"]),
    (["a,2024-01-01T00:00:00Z,pm25,1,1,1", "b,2024-01-01T00:00:00Z,pm25,1,,"], 3, "lat",
     ["sensor 'b' has no location"]),
    (["a,2024-01-01T00:00:00Z,pm25,1,91,1"], 2, "lat", ["not a latitude"]),
    (["a,2124-01-01T00:00:00Z,pm25,1,1,1"], 2, "time", ["outside 1970-01-01"]),
])
def test_bad_long_input_is_located(tmp_path, rows, line, column, words):
    store = tmp_path / "s.duckdb"
    with pytest.raises(InputError) as caught:
        import_files(store, [long_file(tmp_path, rows)])
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.column) == (str(tmp_path / "bad.csv"), line, column)
    for word in words:
        assert word in problem.message
    assert not store.exists()  # all or nothing: not even a new, empty store


def test_malformed_csv_is_named(tmp_path):
    file = long_file(tmp_path, ["a,2024-01-01T00:00:00Z,pm25,1,1,1"] * 3 + ["a,2024-01-01T00:10:00Z,pm25,1,1,1,x,y"])
    with pytest.raises(InputError) as caught:
        import_files(tmp_path / "s.duckdb", [file])
    assert caught.value.problems[0].file == str(file) and "cannot read it as long" in caught.value.problems[0].message


def test_sensor_community_without_location(archive, tmp_path):
    file = archive / "2024-03-01" / "2024-03-01_dht22_sensor_201.csv"
    file.write_text(file.read_text().replace(";48.79;9.19;", ";;;"))
    with pytest.raises(InputError) as caught:
        import_files(tmp_path / "s.duckdb", [file])
    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (2, "lat")
    assert "sensor '201' has no location" in problem.message


def test_text_value_in_a_wide_column_names_that_column(tmp_path):
    table = tmp_path / "wide.csv"
    table.write_text("time,north,south\n2024-01-01T00:00:00Z,1,2\n2024-01-01T01:00:00Z,3,n/a\n")
    adapter = tmp_path / "a.yaml"
    adapter.write_text("time: time\nproperty: bike_count\n")
    with pytest.raises(InputError) as caught:
        import_files(tmp_path / "s.duckdb", [table], adapter=adapter)
    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (3, "south") and "'n/a' is text" in problem.message


def test_bad_json_observation_is_named_by_its_place(tmp_path):
    document = sensorthings_document()
    document["value"][0]["Datastreams"][1]["dataArray"][2][2] = "loud"
    file = tmp_path / "things.json"
    file.write_text(json.dumps(document))
    with pytest.raises(InputError) as caught:
        import_files(tmp_path / "s.duckdb", [file])
    problem = caught.value.problems[0]
    assert problem.line is None and problem.column == "Things[0].Datastreams[1].dataArray[2].result"
    assert "'loud' is text" in problem.message
    entities = ngsi_entities()
    del entities[2]["location"]
    file = tmp_path / "entities.json"
    file.write_text(json.dumps(entities))
    with pytest.raises(InputError, match="TrafficFlowObserved:9'? has no location"):
        import_files(tmp_path / "s.duckdb", [file])
    file.write_text(json.dumps(ngsi_entities()).replace('"id":', '"type": "Twice", "id":', 1))
    with pytest.raises(InputError, match="key 'type' is given twice in one object"):
        import_files(tmp_path / "s.duckdb", [file])


def test_walk_detect_and_unknown_format(tmp_path, archive):
    (archive / ".hidden.csv").write_text("x\n")
    (archive / "README.md").write_text("notes\n")
    assert len(walk([archive])) == 6
    assert detect(walk([archive])[0], None) == "sensor-community"
    odd = tmp_path / "odd.csv"
    odd.write_text("when,north\n2024-01-01,1\n")
    with pytest.raises(InputError, match="needs --adapter"):
        detect(odd, None)
    with pytest.raises(InputError, match="is not one of"):
        import_files(tmp_path / "s.duckdb", [odd], fmt="csv")
    with pytest.raises(InputError, match="no such file"):
        walk([tmp_path / "missing"])


def test_cli_import_prints_what_was_stored(archive, tmp_path):
    store = tmp_path / "s.duckdb"
    runner = CliRunner()
    result = runner.invoke(app, ["sensors", "import", str(archive), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "imported 6 files" in result.output and "3 new things" in result.output
    assert f"{2 * 2 * 288 * 2 - 1 + 2 * 288 * 2} observations added" in result.output
    again = runner.invoke(app, ["sensors", "import", str(archive), "--store", str(store)])
    assert again.exit_code == 0 and again.output.count("already imported") == 6
    bad = long_file(tmp_path, ["a,2024-01-01T00:00:00Z,pm25,high,1,1"])
    failed = runner.invoke(app, ["sensors", "import", str(bad), "--store", str(store), "--format", "long"])
    assert failed.exit_code == 2 and "Traceback" not in failed.output
    assert "bad.csv line 2, column value: value 'high' is text" in failed.output


def test_adapter_is_checked(tmp_path):
    table = tmp_path / "wide.csv"
    table.write_text("time,north\n2024-01-01T00:00:00Z,1\n")
    adapter = tmp_path / "a.yaml"
    adapter.write_text("time: time\nproprety: bike_count\n")
    with pytest.raises(InputError, match="did you mean 'property'"):
        import_files(tmp_path / "s.duckdb", [table], adapter=adapter)
    adapter.write_text("time: time\n")
    with pytest.raises(InputError) as caught:
        import_files(tmp_path / "s.duckdb", [table], adapter=adapter)
    assert caught.value.problems[0].column == "north" and "neither the sensor nor the property" in str(caught.value)
    adapter.write_text("time: when\nproperty: bike_count\n")
    with pytest.raises(InputError, match="no time column 'when'"):
        import_files(tmp_path / "s.duckdb", [table], adapter=adapter)
    adapter.write_text("time: time\nproperty: bike_count\nproperty: pm25\n")
    with pytest.raises(InputError, match="key 'property' is given twice") as caught:
        import_files(tmp_path / "s.duckdb", [table], adapter=adapter)
    assert caught.value.problems[0].line == 3


def test_a_column_with_an_empty_header_is_named_by_its_position(tmp_path):
    """Montréal's daily files: Date, an unnamed column holding 00:00, then the counters."""
    table = tmp_path / "daily.csv"
    table.write_text("Date,,Berri1,Boyer\n01/01/2018,00:00,29,30\n02/01/2018,00:00,31,\n")
    adapter = tmp_path / "adapter.yaml"
    adapter.write_text("time: Date\ndate_format: '%d/%m/%Y'\nproperty: bike_count\nignore: [unnamed_2]\n")
    summary = import_files(tmp_path / "s.duckdb", [table], adapter=adapter)
    assert summary.things == 2 and summary.observations == 3
    unnamed = tmp_path / "no-ignore.yaml"
    unnamed.write_text("time: Date\ndate_format: '%d/%m/%Y'\nproperty: bike_count\n")
    with pytest.raises(InputError, match="unnamed_2"):
        import_files(tmp_path / "t.duckdb", [table], adapter=unnamed)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_lines_stay_exact_far_into_a_large_file(tmp_path, suffix):
    """Lines come from each row's position: past several of the store's row groups, after empty cells and after a
    first import, a bad value is still named by its own line (CSV: header on line 1; Parquet: row number)."""
    store = tmp_path / "s.duckdb"
    first = tmp_path / "first.csv"
    first.write_text("sensor,time,property,value\nz,2024-01-01T00:00:00Z,pm25,1\n")
    import_files(store, [first])
    rows, bad = 300_000, 250_000  # the bad row's index from 0
    file = tmp_path / f"big.{suffix}"
    select = f"""select 's' || (i % 7) as sensor, strftime(timestamp '2024-01-01' + to_minutes(i), '%Y-%m-%dT%H:%M:%SZ')
        as time, 'pm25' as property, case when i = {bad} then 'broken' when i % 1000 = 0 then '' else
        (i % 50)::varchar end as value from range({rows}) t(i)"""
    duckdb.sql(f"copy ({select}) to '{file}' ({'header' if suffix == 'csv' else 'format parquet'})")
    with pytest.raises(InputError) as caught:
        import_files(store, [file])
    problem = caught.value.problems[0]
    assert problem.line == bad + (2 if suffix == "csv" else 1) and "'broken' is text" in problem.message
    assert counts(store)["observations"] == 1  # the first import only


def test_date_only_times_are_naive_and_mixing_them_with_offsets_is_refused(tmp_path):
    daily = tmp_path / "daily.csv"
    daily.write_text("sensor,time,property,value\nc,2019-01-01,count,120\nc,2019-01-02,count,98\n")
    store = tmp_path / "s.duckdb"
    assert import_files(store, [daily]).observations == 2
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("sensor,time,property,value\nc,2019-02-01,count,120\nc,2019-02-02T00:00:00-05:00,count,98\n")
    with pytest.raises(InputError) as caught:
        import_files(store, [mixed])
    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (3, "time") and "mixed time zones" in problem.message


def test_sensorthings_keys_are_text_ids_or_else_names(tmp_path):
    """A text @iot.id is the producer's key (pm25 stays pm25, not its name PM2.5); a server's numeric id is not,
    so the name is used."""
    document = sensorthings_document()
    streams = document["value"][0]["Datastreams"]
    streams[0]["ObservedProperty"] = {"@iot.id": "pm25", "name": "PM2.5"}
    streams[0]["Sensor"] = {"@iot.id": "sds011", "name": "SDS011"}
    streams[1]["ObservedProperty"] = {"@iot.id": 4, "name": "noise"}
    streams[1]["Sensor"] = {"@iot.id": 9, "name": "mic"}
    file = tmp_path / "things.json"
    file.write_text(json.dumps(document))
    store = tmp_path / "s.duckdb"
    import_files(store, [file])
    stored = query(store, "select sensor_id, property from datastreams order by property")
    assert stored.values.tolist() == [["mic", "noise"], ["sds011", "pm25"]]


def test_a_things_name_is_kept_and_a_file_without_names_keeps_it(tmp_path):
    """SensorThings Things and NGSI-LD entities carry names; the store keeps them (the map and the exports show
    them), a later file naming the Thing renames it, and a file that names no Thing changes no name."""
    document = sensorthings_document()
    document["value"][0]["name"] = "Jongno station"
    file = tmp_path / "things.json"
    file.write_text(json.dumps(document))
    store = tmp_path / "s.duckdb"
    import_files(store, [file])
    thing = document["value"][0]["@iot.id"]
    assert query(store, "select thing_id, name from things").values.tolist() == [[thing, "Jongno station"]]
    later = tmp_path / "later.csv"  # the same Thing in a long table, which gives no names
    later.write_text(f"sensor,time,property,value\n{thing},2024-06-02T00:00:00Z,noise,50\n")
    import_files(store, [later])
    assert query(store, "select name from things")["name"].tolist() == ["Jongno station"]
    document["value"][0]["name"] = "Jongno-gu station"
    for stream in document["value"][0]["Datastreams"]:
        stream.pop("Observations", None)
        stream.pop("dataArray", None)
        stream["Observations"] = [{"phenomenonTime": "2024-06-03T00:00:00Z", "result": 1.0}]
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(document))
    import_files(store, [renamed])
    assert query(store, "select name from things")["name"].tolist() == ["Jongno-gu station"]
    entities = ngsi_entities()
    entities[0]["name"] = {"type": "Property", "value": "Plaza de España"}
    ngsi = tmp_path / "entities.json"
    ngsi.write_text(json.dumps(entities))
    other = tmp_path / "o.duckdb"
    import_files(other, [ngsi])
    names = dict(query(other, "select thing_id, name from things").values.tolist())
    assert names == {"urn:ngsi-ld:AirQualityObserved:1": "Plaza de España",
                     "urn:ngsi-ld:TrafficFlowObserved:9": "urn:ngsi-ld:TrafficFlowObserved:9"}
