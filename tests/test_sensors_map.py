"""The offline sensor map: its document holds every sensor, the district outlines and the indicator's value per
district and period as the rules compute them; the page draws itself in Chromium with no network request, and
its slider recolours the districts."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.sensors.rules import read_rules
from smartcities.sensors.store import connect
from smartcities.sensors.view import map_document, write_map

START = datetime(2019, 6, 1)
DAILY = {"d1": [10.0, 30.0], "d2": [20.0, 20.0]}  # hourly values held for a whole day, two days


def store_and_rules(tmp_path):
    db = connect(tmp_path / "sensors.duckdb")
    db.execute("insert into observed_properties values ('pm25', 'PM2.5', '', 'µg/m³')")
    for k, (thing, days) in enumerate(DAILY.items(), start=1):
        db.execute("insert into things values (?, ?, '', '{}')", [thing, f"Sensor {thing}"])
        db.execute("insert into locations values (?, 0.05, ?, '')", [thing, 0.05 + 0.1 * (k - 1)])
        db.execute("insert into sensors values (?, ?, '')", [thing, thing])
        db.execute("insert into datastreams values (?, ?, ?, 'pm25', 'µg/m³')", [k, thing, thing])
        times = pd.to_datetime([START + timedelta(hours=h) for h in range(48)])
        db.register("obs", pd.DataFrame({"datastream_id": k, "time": times, "value": np.repeat(days, 24)}))
        db.execute("insert into observations select * from obs")
        db.unregister("obs")
    squares = [[[[0.1 * i, 0.0], [0.1 * i + 0.1, 0.0], [0.1 * i + 0.1, 0.1], [0.1 * i, 0.1], [0.1 * i, 0.0]]]
               for i in range(2)]
    (tmp_path / "districts.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": f"d{i + 1}"}, "geometry": {"type": "Polygon", "coordinates": sq}}
        for i, sq in enumerate(squares)]}))
    (tmp_path / "network.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString",
                                                           "coordinates": [[0.0, 0.05], [0.2, 0.05]]}}]}))
    (tmp_path / "rules.yaml").write_text(textwrap.dedent("""\
        spatial_unit: district
        districts: districts.geojson
        id_property: code
        indicators:
          pm25_daily: {property: pm25, bucket: day, statistic: mean, validity: {hour: 1, day: 0.75}}
        """))
    return db, read_rules(tmp_path / "rules.yaml")


def test_the_document_holds_sensors_outlines_and_values_by_period(tmp_path):
    db, rules = store_and_rules(tmp_path)
    doc = map_document(db, rules, network=tmp_path / "network.geojson")
    assert [s["id"] for s in doc["sensors"]] == ["d1", "d2"] and doc["sensors"][0]["properties"] == "pm25"
    assert [d["id"] for d in doc["districts"]] == ["d1", "d2"] and len(doc["districts"][0]["rings"][0]) == 5
    assert doc["indicator"] == "pm25_daily" and doc["periods"] == ["2019-06-01", "2019-06-02"]
    assert doc["values"]["2019-06-01"] == {"d1": 10.0, "d2": 20.0} and doc["values"]["2019-06-02"]["d1"] == 30.0
    assert doc["breaks"][0] == 10.0 and doc["breaks"][-1] == 30.0 and doc["breaks"] == sorted(set(doc["breaks"]))
    assert doc["network"] == [[[0.0, 0.05], [0.2, 0.05]]] and doc["bounds"] == [0.0, 0.0, 0.2, 0.1]


def test_a_map_needs_district_rules_and_a_known_indicator(tmp_path):
    db, rules = store_and_rules(tmp_path)
    with pytest.raises(InputError, match=r"no indicator 'pm25_daly' in the rules \(did you mean 'pm25_daily'\?\)"):
        map_document(db, rules, indicator="pm25_daly")
    (tmp_path / "by_sensor.yaml").write_text("spatial_unit: sensor\nindicators:\n  m: {property: pm25, bucket: period, "
                                             "statistic: mean}\n")
    with pytest.raises(InputError, match="spatial_unit is sensor, expected district"):
        map_document(db, read_rules(tmp_path / "by_sensor.yaml"))


def test_the_command_writes_one_self_contained_file(tmp_path):
    db, _ = store_and_rules(tmp_path)
    db.close()
    out = tmp_path / "map.html"
    result = CliRunner().invoke(app, ["sensors", "map", "--store", str(tmp_path / "sensors.duckdb"), "--rules",
                                      str(tmp_path / "rules.yaml"), "--network", str(tmp_path / "network.geojson"),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 sensors, 2 districts, 2 periods of pm25_daily" in result.output
    html = out.read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert not list(tmp_path.glob(".map.html*"))


def test_the_page_draws_offline_and_its_slider_recolours(tmp_path):
    from pathlib import Path

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    db, rules = store_and_rules(tmp_path)
    out = write_map(map_document(db, rules, network=tmp_path / "network.geojson"), tmp_path / "map.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        started = time.perf_counter()
        page.goto(out.as_uri())
        page.wait_for_selector("body[data-ready=true]")
        seconds = time.perf_counter() - started
        assert requests == [out.as_uri()] and seconds < 30  # generous: a loaded machine; the bench times it
        assert page.locator("circle.sensor").count() == 2 and page.locator("polyline.line").count() == 1
        value = lambda i: page.locator("path.district").nth(i).get_attribute("data-value")  # noqa: E731
        assert (value(0), value(1)) == ("30", "20")  # the latest day first
        fill_latest = page.locator("path.district").nth(0).evaluate("n => n.style.fill")
        page.locator("#period").fill("0")
        assert (value(0), value(1)) == ("10", "20")
        assert page.locator("path.district").nth(0).evaluate("n => n.style.fill") != fill_latest
        assert page.locator("#period-label").text_content() == "2019-06-01"
        browser.close()
