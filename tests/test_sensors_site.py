"""The sensors' city map of a build whose spec has a `sensors:` block: the build carries it as a value made from the
rules computed once, the documents, the site, the dashboard and the API publish it, a district's city page holds
its latest sensor values, and a build without sensors has no Sensors page, tab or document."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_sensors_spec import district_index

import smartcities.sensors.rules as rules_module
from smartcities.build import build
from smartcities.errors import InputError
from smartcities.online.api import create_app
from smartcities.online.bundle import documents
from smartcities.publish import write_outputs

MEANS = {"d1": 8.0, "d2": 20.0, "d3": 14.0}


def network_file(tmp_path) -> None:
    (tmp_path / "lines.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString",
                                                           "coordinates": [[0.0, 0.05], [0.3, 0.05]]}}]}))


def with_network(spec, network: str = "lines.geojson"):
    text = spec.read_text().replace("rules: rules.yaml}", f"rules: rules.yaml, network: {network}}}")
    spec.write_text(text)
    return spec


@pytest.fixture
def published(tmp_path):
    spec = district_index(tmp_path, MEANS)
    network_file(tmp_path)
    result = build(with_network(spec))
    write_outputs(result, tmp_path / "out", site=True)
    return result, tmp_path / "out"


def test_the_build_carries_the_map_of_the_values_it_computed_once(tmp_path, monkeypatch):
    calls = []
    compute = rules_module.compute
    monkeypatch.setattr(rules_module, "compute", lambda *a, **k: calls.append(a) or compute(*a, **k))
    result = build(district_index(tmp_path, MEANS))
    document = result.inputs.sensor_map
    assert len(calls) == 1
    assert [d["id"] for d in document["districts"]] == ["d1", "d2", "d3"] and len(document["sensors"]) == 4
    assert document["indicator"] == "pm25_mean" and document["indicators"]["pm25_mean"]["periods"] == [""]
    read = result.inputs.indicators.query("indicator == 'pm25_mean'").set_index("city")["value"].to_dict()
    assert document["indicators"]["pm25_mean"]["values"][""] == pytest.approx(read) == MEANS
    assert document["network"] == [] and document["title"] == "Districts"


def test_the_published_map_equals_indicators_csv_and_reaches_every_face(published):
    result, out = published
    written = pd.read_csv(out / "indicators.csv").query("indicator == 'pm25_mean'").set_index("city")["value"]
    served = json.loads((out / "site" / "api" / "v1" / "sensors.json").read_text())
    assert served["indicators"]["pm25_mean"]["values"][""] == pytest.approx(written.to_dict())
    assert served["network"] == [[[0.0, 0.05], [0.3, 0.05]]]
    city = json.loads((out / "site" / "api" / "v1" / "cities" / "d2.json").read_text())
    assert city["sensors"] == [{"indicator": "pm25_mean", "period": "", "value": 20.0}]
    assert 'href="sensors.html" data-tab="sensors"' in (out / "site" / "index.html").read_text()
    assert 'href="../sensors.html" data-tab="sensors"' in (out / "site" / "city" / "d1.html").read_text()
    assert (out / "site" / "sensors.html").is_file()
    dashboard = (out / "dashboard.html").read_text()
    assert 'href="#tab=sensors" data-tab="sensors"' in dashboard and 'id="data-sensors"' in dashboard
    api = TestClient(create_app(out))
    answer = api.get("/api/v1/sensors")
    assert answer.status_code == 200 and answer.json() == served
    assert api.get("/api/v1/cities/d2").json()["sensors"][0]["value"] == 20.0


def test_a_build_without_sensors_has_no_sensors_page_tab_or_document(tmp_path):
    spec = district_index(tmp_path, MEANS)
    spec.write_text(spec.read_text().replace("sensors: {store: sensors.duckdb, rules: rules.yaml}\n", ""))
    pd.DataFrame({"city": ["d1", "d2", "d3"], "indicator": "pm25_mean", "value": list(MEANS.values())}).to_csv(
        tmp_path / "indicators.csv", mode="a", header=False, index=False)
    result = build(spec)
    assert result.inputs.sensor_map is None and "sensors" not in documents(result)
    write_outputs(result, tmp_path / "out", site=True)
    site = tmp_path / "out" / "site"
    assert not (site / "sensors.html").exists() and not (site / "api" / "v1" / "sensors.json").exists()
    for page in (site / "index.html", site / "city" / "d1.html", tmp_path / "out" / "dashboard.html"):
        text = page.read_text()
        assert 'data-tab="sensors"' not in text and 'id="view-sensors"' not in text
    assert "sensors" not in json.loads((site / "api" / "v1" / "cities" / "d1.json").read_text())
    answer = TestClient(create_app(tmp_path / "out")).get("/api/v1/sensors")
    assert answer.status_code == 404 and "no sensors" in answer.json()["detail"]


def test_the_spec_network_is_resolved_and_checked_at_its_line(tmp_path):
    spec = with_network(district_index(tmp_path, MEANS), "missing.geojson")
    with pytest.raises(InputError, match=r"spec.yaml line 5: sensors: network: 'missing.geojson' does not exist"):
        build(spec)
    (tmp_path / "broken.geojson").write_text('{"type": "FeatureCollection",\n "features": [}')
    spec.write_text(spec.read_text().replace("missing.geojson", "broken.geojson"))
    with pytest.raises(InputError, match=r"broken.geojson line 2: not valid JSON"):
        build(spec)
