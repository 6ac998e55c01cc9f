"""Indicator rules over the sensor store: validity, buckets, thresholds, growth, districts and normalisation,
each against a value worked out by hand; the command end to end; bad rules and districts refused."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.io.inventory import read_indicators
from smartcities.sensors.rules import compute, equal_area_km2, read_districts, read_rules, write_indicators
from smartcities.sensors.store import connect

runner = CliRunner()
DAY = datetime(2019, 6, 1)


# --- a store filled by hand ---------------------------------------------------------------------------------------

def add_series(db, thing: str, prop: str, times, values, lat: float = 0.05, lon: float = 0.05) -> int:
    """One thing (with its location) and one datastream of `prop` holding (time, value) observations."""
    db.execute("insert or ignore into things values (?, ?, '', '{}')", [thing, thing])
    db.execute("insert or ignore into locations values (?, ?, ?, '')", [thing, lat, lon])
    db.execute("insert or ignore into sensors values (?, ?, '')", [f"{thing}-sensor", thing])
    db.execute("insert or ignore into observed_properties values (?, ?, '', '')", [prop, prop])
    ds = db.execute("select coalesce(max(datastream_id), 0) + 1 from datastreams").fetchone()[0]
    db.execute("insert into datastreams values (?, ?, ?, ?, '')", [ds, thing, f"{thing}-sensor", prop])
    frame = pd.DataFrame({"datastream_id": ds, "time": pd.to_datetime(list(times)), "value": np.asarray(values, float)})
    db.register("new_obs", frame)
    db.execute("insert into observations select datastream_id, time, value from new_obs")
    db.unregister("new_obs")
    return ds


def hours(start: datetime, n: int, step_minutes: int = 60):
    return [start + timedelta(minutes=step_minutes * i) for i in range(n)]


def three_days(db, thing: str = "s1", **where) -> int:
    """Day 1: 24 hours at 20 (above 15); day 2: 24 hours at 10; day 3: only 12 hours at 30 (an invalid day)."""
    times = hours(DAY, 24) + hours(DAY + timedelta(days=1), 24) + hours(DAY + timedelta(days=2), 12)
    return add_series(db, thing, "pm25", times, [20] * 24 + [10] * 24 + [30] * 12, **where)


def write_rules(tmp_path, text: str, name: str = "rules.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run(tmp_path, db, text: str):
    result = compute(read_rules(write_rules(tmp_path, text)), db)
    return result, {(r.city, r.indicator, r.period): r.value for r in result.indicators.itertuples()}


ISSUE_RULES = textwrap.dedent("""\
    spatial_unit: sensor
    indicators:
      pm25_exceedance_days:
        property: pm25
        bucket: day
        statistic: mean
        validity: {hour: 1, day: 0.75}
        count_above: 15
      pm25_mean: {property: pm25, bucket: period, statistic: mean, validity: {hour: 1, day: 0.75}}
    """)


@pytest.fixture
def db(tmp_path):
    connection = connect(tmp_path / "store.duckdb")
    yield connection
    connection.close()


# --- validity, buckets, statistics --------------------------------------------------------------------------------

def test_issue_rules_count_valid_exceedance_days_and_mean_of_valid_daily_means(tmp_path, db):
    three_days(db)
    result, values = run(tmp_path, db, ISSUE_RULES)
    assert values[("s1", "pm25_exceedance_days", "")] == 1  # day 1 only: day 3's 30 is on an invalid day
    assert values[("s1", "pm25_mean", "")] == pytest.approx((20 + 10) / 2)
    cover = result.coverage.set_index("indicator").loc["pm25_mean"]
    assert cover.datastreams == 1 and cover.valid_days == pytest.approx(2 / 3)
    assert "1 datastream, 67% of days valid" in result.indicators.note.iloc[0]


def test_daily_means_per_bucket_with_labels_and_without_validity(tmp_path, db):
    three_days(db)
    _, values = run(tmp_path, db, """\
        spatial_unit: sensor
        indicators:
          valid: {property: pm25, bucket: day, validity: {hour: 1, day: 0.75}}
          raw: {property: pm25, bucket: day}
        """)
    assert values[("s1", "valid", "2019-06-01")] == 20 and values[("s1", "valid", "2019-06-02")] == 10
    assert ("s1", "valid", "2019-06-03") not in values  # 12 of 24 hours
    assert values[("s1", "raw", "2019-06-03")] == 30


def test_sub_hourly_readings_make_an_hour_valid_only_with_enough_of_them(tmp_path, db):
    # day 1: every hour three readings 10, 20, 30 (mean 20); day 2: 20 hours of three readings at 40 and four
    # hours of only two readings at 100, which do not count: 20 of 24 hours is still a valid day, mean 40
    day2 = DAY + timedelta(days=1)
    times, values = hours(DAY, 72, 20), [10, 20, 30] * 24
    for h in range(24):
        readings = 3 if h < 20 else 2
        times += [day2 + timedelta(hours=h, minutes=20 * i) for i in range(readings)]
        values += [40 if h < 20 else 100] * readings
    add_series(db, "s2", "pm25", times, values)
    _, got = run(tmp_path, db, """\
        spatial_unit: sensor
        indicators:
          daily: {property: pm25, bucket: day, validity: {hour: 3, day: 0.75}}
          strict: {property: pm25, bucket: day, validity: {hour: 3, day: 0.9}}
          raw: {property: pm25, bucket: day}
        """)
    assert got[("s2", "daily", "2019-06-01")] == 20 and got[("s2", "daily", "2019-06-02")] == 40
    assert ("s2", "strict", "2019-06-02") not in got  # 20/24 = 0.83 < 0.9
    assert got[("s2", "raw", "2019-06-02")] == pytest.approx((60 * 40 + 8 * 100) / 68)


def test_percentiles_extremes_sums_counts_and_share_above(tmp_path, db):
    add_series(db, "s1", "noise", hours(DAY, 10), range(1, 11))
    _, got = run(tmp_path, db, """\
        spatial_unit: sensor
        indicators:
          p90: {property: noise, statistic: p90}
          q25: {property: noise, statistic: percentile, percentile: 25}
          median: {property: noise, statistic: median}
          low: {property: noise, statistic: min}
          high: {property: noise, statistic: max}
          total: {property: noise, statistic: sum}
          readings: {property: noise, statistic: count}
          loud_hours: {property: noise, bucket: hour, share_above: 7}
        """)
    assert got[("s1", "p90", "")] == pytest.approx(9.1)  # linear interpolation between 9 and 10
    assert got[("s1", "q25", "")] == pytest.approx(3.25)
    assert got[("s1", "median", "")] == 5.5 and got[("s1", "low", "")] == 1 and got[("s1", "high", "")] == 10
    assert got[("s1", "total", "")] == 55 and got[("s1", "readings", "")] == 10
    assert got[("s1", "loud_hours", "")] == pytest.approx(0.3)  # 8, 9, 10


def test_growth_year_on_year_and_thresholds_per_year(tmp_path, db):
    days = pd.date_range("2018-01-01", "2019-12-31", freq="D")
    counts = np.where(days.year == 2018, 100.0, 110.0)
    add_series(db, "c1", "bikes", days, counts / 2)
    add_series(db, "c2", "bikes", days, counts / 2)
    _, got = run(tmp_path, db, """\
        spatial_unit: city
        city: montreal
        indicators:
          cycling_growth: {property: bikes, bucket: year, statistic: sum, growth: true}
          cycling_total: {property: bikes, bucket: year, statistic: sum}
          busy_days: {property: bikes, bucket: day, statistic: sum, share_above: 105}
          busy_days_yearly: {property: bikes, bucket: day, statistic: sum, count_above: 105, per: year}
        """)
    assert got[("montreal", "cycling_total", "2018")] == 36500 and got[("montreal", "cycling_total", "2019")] == 40150
    assert got[("montreal", "cycling_growth", "2019")] == pytest.approx(0.1)
    assert ("montreal", "cycling_growth", "2018") not in got  # no year before
    assert got[("montreal", "busy_days", "")] == pytest.approx(365 / 730)
    assert got[("montreal", "busy_days_yearly", "2018")] == 0 and got[("montreal", "busy_days_yearly", "2019")] == 365


def test_period_selection_freshness_uptime_and_flagged_observations(tmp_path, db):
    ds = three_days(db)
    flagged = pd.DataFrame({"datastream_id": ds, "time": hours(DAY, 7), "flag": "spike", "detail": ""})
    db.register("new_flags", flagged)
    db.execute("insert into flags select * from new_flags")
    _, got = run(tmp_path, db, """\
        spatial_unit: sensor
        period: {from: 2019-06-01, to: 2019-06-03}
        indicators:
          days_above: {property: pm25, bucket: day, validity: {hour: 1, day: 0.75}, count_above: 15}
          days_above_checked: {property: pm25, bucket: day, validity: {hour: 1, day: 0.75}, count_above: 15,
                               exclude_flags: true}
          hours_with_data: {property: pm25, bucket: hour, statistic: uptime}
          age_hours: {property: pm25, statistic: freshness}
          readings: {property: pm25, statistic: count}
        """)
    assert got[("s1", "days_above", "")] == 1
    assert got[("s1", "days_above_checked", "")] == 0  # day 1 keeps 17 hours once 7 flagged ones are left out
    assert got[("s1", "hours_with_data", "")] == pytest.approx(60 / 72)
    assert got[("s1", "age_hours", "")] == pytest.approx(13)  # latest 06-03 11:00, range ends 06-04 00:00
    assert got[("s1", "readings", "")] == 60
    _, narrow = run(tmp_path, db, """\
        spatial_unit: sensor
        period: {from: 2019-06-02, to: 2019-06-02}
        indicators:
          readings: {property: pm25, statistic: count}
        """)
    assert narrow[("s1", "readings", "")] == 24


def test_sensors_and_uptime_per_year_count_each_years_part_of_the_range(tmp_path, db):
    """s1 reports every day from 2018-12-30 to 2019-01-02 (2 days in each year); s2 only on 2019-01-05. Over the
    range 2018-12-30 … 2019-01-05: 2018 expects 2 days per sensor, 2019 expects 5."""
    add_series(db, "s1", "count", [datetime(2018, 12, 30) + timedelta(days=i) for i in range(4)], [1] * 4)
    add_series(db, "s2", "count", [datetime(2019, 1, 5)], [1])
    _, got = run(tmp_path, db, """\
        spatial_unit: city
        period: {from: 2018-12-30, to: 2019-01-05}
        indicators:
          reporting: {property: count, statistic: sensors, per: year}
          uptime: {property: count, statistic: uptime, bucket: day, per: year}
          uptime_whole: {property: count, statistic: uptime, bucket: day}
        """)
    assert got[("city", "reporting", "2018")] == 1 and got[("city", "reporting", "2019")] == 2
    assert got[("city", "uptime", "2018")] == pytest.approx(2 / 4)  # s1 both days, s2 neither
    assert got[("city", "uptime", "2019")] == pytest.approx(3 / 10)  # s1 2 of 5 days, s2 1 of 5
    assert got[("city", "uptime_whole", "")] == pytest.approx(5 / 14)


# --- districts ----------------------------------------------------------------------------------------------------

def square(lon: float, lat: float, size: float) -> list:
    return [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]


def districts_file(tmp_path, geometries=None):
    """Two 0.1° squares on the equator, west (50,000 residents) and east (20,000)."""
    geometries = geometries or [{"type": "Polygon", "coordinates": square(0, 0, 0.1)},
                                {"type": "Polygon", "coordinates": square(0.1, 0, 0.1)}]
    features = [{"type": "Feature", "geometry": g, "properties": {"NOM": name, "population": people}}
                for g, name, people in zip(geometries, ["west", "east"], [50_000, 20_000])]
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# 0.1° of longitude on the equator is 11.132 km, 0.1° of latitude there 11.057 km (WGS84 meridian arc)
SQUARE_KM2 = 11.13195 * 11.05743


def test_equal_area_matches_hand_areas_on_the_equator_and_far_north():
    shapes = np.array([shapely.Polygon(square(0, 0, 0.1)[0]), shapely.Polygon(square(10, 60, 0.1)[0])])
    areas = equal_area_km2(shapes)
    assert areas[0] == pytest.approx(SQUARE_KM2, rel=1e-3)
    # at 60°N a degree of longitude is 55.800 km (shrinking with cos φ to the square's middle, 60.05°N) and a
    # degree of latitude 111.412 km
    middle = np.cos(np.radians(60.05)) / np.cos(np.radians(60))
    assert areas[1] == pytest.approx(5.5800 * middle * 11.1412, rel=1e-3)


def test_districts_by_point_in_polygon_with_sensors_outside_counted(tmp_path, db):
    districts_file(tmp_path)
    for thing, lon in [("a1", 0.02), ("a2", 0.07), ("b1", 0.15)]:
        three_days(db, thing, lon=lon, lat=0.05)
    three_days(db, "far", lon=1.0, lat=1.0)
    result, got = run(tmp_path, db, """\
        spatial_unit: district
        districts: districts.geojson
        id_property: NOM
        indicators:
          pm25_exceedance_days: {property: pm25, bucket: day, validity: {hour: 1, day: 0.75}, count_above: 15}
          sensors: {statistic: sensors}
          sensors_per_km2: {statistic: sensors, normalise: area}
          sensors_per_10k: {statistic: sensors, normalise: population}
          exceedance_days_per_km2: {property: pm25, bucket: day, validity: {hour: 1, day: 0.75}, count_above: 15,
                                    normalise: area}
        """)
    assert result.outside == ["far"]
    assert got[("west", "sensors", "")] == 2 and got[("east", "sensors", "")] == 1
    assert got[("west", "sensors_per_km2", "")] == pytest.approx(2 / SQUARE_KM2, rel=0.01)
    assert got[("west", "sensors_per_10k", "")] == pytest.approx(0.4)
    assert got[("east", "sensors_per_10k", "")] == pytest.approx(0.5)
    assert got[("west", "pm25_exceedance_days", "")] == 1  # the district's daily mean pools its sensors' hours
    assert got[("east", "exceedance_days_per_km2", "")] == pytest.approx(1 / SQUARE_KM2, rel=0.01)
    assert set(result.coverage.query("indicator == 'sensors'").city) == {"west", "east"}


def test_districts_without_sensors_count_zero(tmp_path, db):
    districts_file(tmp_path)
    three_days(db, "a1", lon=0.02, lat=0.05)
    _, got = run(tmp_path, db, """\
        spatial_unit: district
        districts: districts.geojson
        id_property: NOM
        indicators:
          sensors: {statistic: sensors, property: pm25}
          reporting: {statistic: sensors, property: pm25, per: year}
        """)
    assert got[("west", "sensors", "")] == 1 and got[("east", "sensors", "")] == 0
    assert got[("west", "reporting", "2019")] == 1 and got[("east", "reporting", "2019")] == 0


def test_multipolygons_are_districts_and_points_are_refused(tmp_path):
    path = districts_file(tmp_path, [{"type": "MultiPolygon", "coordinates": [square(0, 0, 0.1), square(1, 1, 0.1)]},
                                     {"type": "Polygon", "coordinates": square(0.1, 0, 0.1)}])
    districts = read_districts(path, "NOM")
    assert districts.ids == ["west", "east"]
    assert districts.area_km2[0] == pytest.approx(2 * SQUARE_KM2, rel=0.01)
    assert list(districts.population) == [50_000, 20_000]
    path = districts_file(tmp_path, [{"type": "Point", "coordinates": [0, 0]},
                                     {"type": "Polygon", "coordinates": square(0.1, 0, 0.1)}])
    with pytest.raises(InputError, match="feature 0: geometry is Point; districts must be Polygon or MultiPolygon"):
        read_districts(path, "NOM")
    with pytest.raises(InputError, match="no property 'NAME'"):
        read_districts(districts_file(tmp_path), "NAME")


# --- writing and the command --------------------------------------------------------------------------------------

def test_written_table_is_read_by_the_indicators_reader(tmp_path, db):
    days = pd.date_range("2018-01-01", "2019-12-31", freq="D")
    add_series(db, "c1", "bikes", days, np.where(days.year == 2018, 100.0, 110.0))
    result, _ = run(tmp_path, db, """\
        spatial_unit: sensor
        indicators:
          total: {property: bikes, bucket: year, statistic: sum}
          mean: {property: bikes}
        """)
    out = write_indicators(result.indicators, tmp_path / "indicators.csv")
    table = read_indicators(out).set_index(["indicator", "year"])
    assert table.loc[("total", 2019), "value"] == 40150 and pd.isna(table.loc["mean"].index[0])
    assert table.loc[("total", 2018), "source"] == "sensor store store, rule total"
    assert not list(tmp_path.glob(".*.tmp"))


def test_daily_labels_keep_a_period_column(tmp_path, db):
    three_days(db)
    result, _ = run(tmp_path, db, "spatial_unit: sensor\nindicators:\n  daily: {property: pm25, bucket: day}\n")
    frame = pd.read_csv(write_indicators(result.indicators, tmp_path / "daily.csv"))
    assert list(frame.columns) == ["city", "indicator", "value", "period", "source", "note"]
    assert list(frame.period) == ["2019-06-01", "2019-06-02", "2019-06-03"]


def test_command_writes_indicators_and_says_coverage_and_sensors_outside(tmp_path):
    db = connect(tmp_path / "store.duckdb")
    three_days(db, "a1", lon=0.02, lat=0.05)
    three_days(db, "far", lon=1.0, lat=1.0)
    db.close()
    districts_file(tmp_path)
    rules = write_rules(tmp_path, ISSUE_RULES.replace("spatial_unit: sensor",
                                                      "spatial_unit: district\ndistricts: districts.geojson\n"
                                                      "id_property: NOM"))
    out = tmp_path / "indicators.csv"
    result = runner.invoke(app, ["sensors", "indicators", str(rules), "--store", str(tmp_path / "store.duckdb"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 sensor outside every district, left out: far" in result.output
    assert "pm25_mean west: 1 datastream, 67% of days valid" in result.output
    table = read_indicators(out).set_index(["city", "indicator"])
    assert table.loc[("west", "pm25_exceedance_days"), "value"] == 1
    assert table.loc[("west", "pm25_mean"), "value"] == 15
    assert "67% of days valid" in table.loc[("west", "pm25_mean"), "note"]


# --- bad input ----------------------------------------------------------------------------------------------------

def refused(tmp_path, rules_text: str, districts=None) -> str:
    db = connect(tmp_path / "store.duckdb")
    if not db.execute("select count(*) from datastreams").fetchone()[0]:
        three_days(db)
    db.close()
    if districts is not None:
        districts_file(tmp_path, districts)
    rules = write_rules(tmp_path, rules_text)
    out = tmp_path / "indicators.csv"
    result = runner.invoke(app, ["sensors", "indicators", str(rules), "--store", str(tmp_path / "store.duckdb"),
                                 "--out", str(out)])
    assert result.exit_code == 2 and not out.exists()
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1, result.output  # one clear message
    return lines[0]


def test_unknown_property_suggests_the_stores(tmp_path):
    message = refused(tmp_path, ISSUE_RULES.replace("pm25_mean: {property: pm25", "pm25_mean: {property: pm2.5"))
    assert "rules.yaml line 9: rule 'pm25_mean', key 'property': unknown property 'pm2.5' (did you mean 'pm25'?)" \
        in message


def test_misspelt_key_and_bad_bucket_are_located(tmp_path):
    message = refused(tmp_path, ISSUE_RULES.replace("bucket: day", "bukcet: day"))
    assert "rules.yaml line 5: rule 'pm25_exceedance_days', key 'bukcet': unknown key 'bukcet' (did you mean " \
           "'bucket'?)" in message
    message = refused(tmp_path, ISSUE_RULES.replace("bucket: day", "bucket: dayly"))
    assert "line 5: rule 'pm25_exceedance_days', key 'bucket': 'dayly' is not one of 15min, hour, day" in message
    assert "(did you mean 'day'?)" in message
    message = refused(tmp_path, ISSUE_RULES.replace("validity: {hour: 1, day: 0.75}\n", "validity: {hours: 1}\n"))
    assert "key 'validity.hours': unknown key 'hours' (did you mean 'hour'?)" in message
    message = refused(tmp_path, ISSUE_RULES.replace("spatial_unit: sensor", "spatial_unit: neighbourhood"))
    assert "line 1: spatial_unit: 'neighbourhood' is not one of sensor, city, district" in message


def test_inconsistent_rules_are_refused(tmp_path):
    message = refused(tmp_path, "spatial_unit: sensor\nindicators:\n  g: {property: pm25, bucket: day, growth: true}\n")
    assert "rule 'g': growth is the change from year to year: it needs `bucket: year`" in message
    message = refused(tmp_path, "spatial_unit: sensor\nindicators:\n  m: {property: pm25, bucket: day, per: year}\n")
    assert "rule 'm': `per: year` is for count_above, share_above, statistic sensors and statistic uptime" in message
    message = refused(tmp_path, "spatial_unit: city\nindicators:\n  s: {statistic: sensors, normalise: area}\n")
    assert "normalise needs spatial_unit district" in message
    message = refused(tmp_path, "spatial_unit: district\nindicators:\n  s: {statistic: sensors}\n")
    assert "spatial_unit district needs `districts: FILE.geojson` and `id_property: NAME`" in message


def test_districts_that_are_not_polygons_write_nothing(tmp_path):
    message = refused(tmp_path, "spatial_unit: district\ndistricts: districts.geojson\nid_property: NOM\n"
                                "indicators:\n  s: {statistic: sensors}\n",
                      districts=[{"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                                 {"type": "Polygon", "coordinates": square(0.1, 0, 0.1)}])
    assert "districts.geojson: feature 0: geometry is LineString; districts must be Polygon or MultiPolygon" \
        in message


def test_yearly_labels_become_the_indicator_tables_year():
    from smartcities.sensors.rules import yearly, years

    labels = pd.Series(["2019", None, "2019-06", ""])
    assert yearly(labels).tolist() == [True, True, False, True]
    assert years(labels[[0, 1, 3]]).tolist() == [2019, pd.NA, pd.NA]
