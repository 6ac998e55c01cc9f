"""An index spec's `sensors:` block: indicators computed from a sensor store by rules join the indicators table,
enter the framework like measured statistics, and the processing log says what was computed and left out."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from smartcities.build import build
from smartcities.errors import InputError
from smartcities.sensors.store import connect

START = datetime(2019, 6, 1)


def square(x0: float, y0: float, size: float = 0.1) -> list:
    return [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]


def district_index(tmp_path, daily_means: dict[str, float], outside: bool = True, bucket: str = "period"):
    """Three districts side by side (d1, d2, d3), one pm25 sensor in each at a constant hourly value for 10 days,
    a fourth sensor outside every district; a spec ranking the districts on their mean pm25 (lower better) and a
    measured green-space share."""
    db = connect(tmp_path / "sensors.duckdb")
    where = {"d1": (0.05, 0.05), "d2": (0.05, 0.15), "d3": (0.05, 0.25), "far": (5.0, 5.0)}
    for k, (thing, value) in enumerate({**daily_means, **({"far": 99.0} if outside else {})}.items(), start=1):
        lat, lon = where[thing]
        db.execute("insert into things values (?, ?, '', '{}')", [thing, thing])
        db.execute("insert into locations values (?, ?, ?, '')", [thing, lat, lon])
        db.execute("insert into sensors values (?, ?, '')", [thing, thing])
        db.execute("insert or ignore into observed_properties values ('pm25', 'PM2.5', '', 'µg/m³')")
        db.execute("insert into datastreams values (?, ?, ?, 'pm25', 'µg/m³')", [k, thing, thing])
        times = pd.to_datetime([START + timedelta(hours=h) for h in range(240)])
        db.register("obs", pd.DataFrame({"datastream_id": k, "time": times, "value": np.full(240, value)}))
        db.execute("insert into observations select * from obs")
        db.unregister("obs")
    db.execute("insert into imports values ('hand', 'abc', 'long', 960, now())")
    db.close()
    features = [{"type": "Feature", "properties": {"code": f"d{i + 1}"},
                 "geometry": {"type": "Polygon", "coordinates": square(0.1 * i, 0.0)}} for i in range(3)]
    (tmp_path / "districts.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    (tmp_path / "rules.yaml").write_text(textwrap.dedent(f"""\
        spatial_unit: district
        districts: districts.geojson
        id_property: code
        indicators:
          pm25_mean: {{property: pm25, bucket: {bucket}, statistic: mean, validity: {{hour: 1, day: 0.75}}}}
        """))
    pd.DataFrame({"city": ["d1", "d2", "d3"], "name": ["North", "Centre", "South"], "country": "CA",
                  "region": "North America", "lat": [0.05] * 3, "lon": [0.05, 0.15, 0.25], "population": 1000}
                 ).to_csv(tmp_path / "cities.csv", index=False)
    pd.DataFrame({"city": ["d1", "d2", "d3"], "indicator": "green", "value": [10.0, 30.0, 20.0]}
                 ).to_csv(tmp_path / "indicators.csv", index=False)
    (tmp_path / "framework.yaml").write_text(textwrap.dedent("""\
        id: index
        name: Districts
        children:
          - {id: pm25_mean, name: Mean PM2.5, direction: -1}
          - {id: green, name: Green space}
        """))
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        name: Districts
        framework: framework.yaml
        cities: cities.csv
        indicators: indicators.csv
        sensors: {store: sensors.duckdb, rules: rules.yaml}
        pipeline:
          - normalise: {method: minmax, range: [0, 100]}
          - aggregate: {method: arithmetic}
        """))
    return spec


def test_sensor_indicators_enter_the_index_as_measured_statistics(tmp_path):
    result = build(district_index(tmp_path, {"d1": 8.0, "d2": 20.0, "d3": 14.0}))
    scores = result.scores_table().set_index(["city", "node"])["score"]
    # pm25 (lower better) normalised: d1 100, d2 0, d3 50; green: d1 0, d2 100, d3 50
    assert scores[("d1", "pm25_mean")] == pytest.approx(100) and scores[("d3", "pm25_mean")] == pytest.approx(50)
    assert scores[("d1", "index")] == pytest.approx(50) and scores[("d3", "index")] == pytest.approx(50)
    log = result.processing.table
    computed = log[log["action"] == "sensor-indicators"]
    assert computed["indicator"].tolist() == ["pm25_mean"] and computed["count"].tolist() == [3]
    left_out = log[log["action"] == "outside-districts"]
    assert left_out["unit"].tolist() == ["far"] and (left_out["severity"] == "warning").all()


def test_a_rule_giving_values_per_day_is_refused_at_its_line(tmp_path):
    spec = district_index(tmp_path, {"d1": 8.0, "d2": 20.0, "d3": 14.0}, bucket="day")
    with pytest.raises(InputError) as err:
        build(spec)
    assert "rules.yaml line 5" in str(err.value) and "value per day" in str(err.value)


def test_a_value_both_measured_and_sensed_is_refused(tmp_path):
    spec = district_index(tmp_path, {"d1": 8.0, "d2": 20.0, "d3": 14.0})
    pd.DataFrame({"city": ["d1"], "indicator": ["pm25_mean"], "value": [3.0]}).to_csv(
        tmp_path / "indicators.csv", mode="a", header=False, index=False)
    with pytest.raises(InputError, match="both computed from sensors and given on line 5"):
        build(spec)
