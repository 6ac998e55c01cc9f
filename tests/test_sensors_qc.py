"""Quality control: planted anomalies are flagged exactly, flags are recomputed each run, uptime and completeness."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.sensors.ingest import import_files
from smartcities.sensors.qc import run_qc
from smartcities.sensors.store import connect

START = pd.Timestamp("2024-04-01")
STEP = pd.Timedelta(minutes=10)
READINGS = 576  # two days every 10 minutes


def at(index: int) -> pd.Timestamp:
    return START + index * STEP


@pytest.fixture
def store(tmp_path):
    """Station `a` (pm25) with a spike, a stuck run, a gap, two out-of-range readings and a resent duplicate;
    station `b` (temperature) clean."""
    rng = np.random.default_rng(7)
    index = np.arange(READINGS)
    pm25 = 20 + 3 * np.sin(index / 20) + rng.normal(0, 0.5, READINGS)
    pm25[50] += 200                      # spike
    pm25[100:151] = 12.3                 # stuck for 50 intervals (8 h 20 min)
    pm25[250:252] = 1200                 # out of range, two readings (a level, not a spike)
    a = pd.DataFrame({"sensor": "a", "time": [at(i) for i in index], "property": "pm25", "value": pm25})
    a = a.drop(index=range(200, 220))    # gap: 20 readings missing
    resent = pd.DataFrame({"sensor": ["a"], "time": [at(300) + pd.Timedelta(seconds=30)], "property": ["pm25"],
                           "value": [pm25[300]]})
    b = pd.DataFrame({"sensor": "b", "time": [at(i) for i in index], "property": "temperature",
                      "value": 15 + 5 * np.sin(index / 40) + rng.normal(0, 0.2, READINGS)})
    table = pd.concat([a, resent, b])
    table["time"] = table["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    file = tmp_path / "long.csv"
    table.to_csv(file, index=False, float_format="%.6f")
    path = tmp_path / "s.duckdb"
    import_files(path, [file])
    return path


def flags(store) -> dict[str, set[pd.Timestamp]]:
    db = connect(store, read_only=True)
    try:
        rows = db.execute("""select f.flag, d.thing_id, f.time from flags f join datastreams d using (datastream_id)
            """).fetchall()
    finally:
        db.close()
    found: dict[str, set] = {}
    for flag, thing, time in rows:
        assert thing == "a", f"clean station flagged {flag} at {time}"
        found.setdefault(flag, set()).add(pd.Timestamp(time))
    return found


def test_planted_anomalies_are_flagged_exactly(store):
    report = run_qc(store)
    found = flags(store)
    assert found["spike"] == {at(50)}
    assert found["stuck"] == {at(i) for i in range(100, 151)}
    assert found["out-of-range"] == {at(250), at(251)}
    assert found["gap"] == {at(220)}
    assert found["duplicate"] == {at(300) + pd.Timedelta(seconds=30)}
    assert report.flags == {"out-of-range": 2, "spike": 1, "stuck": 51, "duplicate": 1, "gap": 1}


def test_flags_are_recomputed_not_added(store):
    first = run_qc(store)
    second = run_qc(store)
    assert second.flags == first.flags
    db = connect(store, read_only=True)
    assert db.execute("select count(*) from flags").fetchone()[0] == sum(first.flags.values())
    db.close()


def test_uptime_and_completeness(store):
    table = run_qc(store).datastreams.set_index("thing_id")
    a, b = table.loc["a"], table.loc["b"]
    span = (READINGS - 1) * STEP.total_seconds()
    assert a["interval"] == b["interval"] == 600
    assert a["observations"] == READINGS - 20 + 1
    assert a["uptime"] == pytest.approx(1 - (21 * 600 - 600) / span)
    assert a["flagged"] == 56
    assert a["completeness"] == pytest.approx((READINGS - 20 + 1 - 56) / READINGS)
    assert (b["uptime"], b["completeness"], b["flagged"]) == (1, 1, 0)


def test_cli_qc_table_and_json(store):
    runner = CliRunner()
    result = runner.invoke(app, ["sensors", "qc", "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "spike 1" in result.output and "stuck 51" in result.output and "temperature" in result.output
    as_json = runner.invoke(app, ["sensors", "qc", "--store", str(store), "--json"])
    document = json.loads(as_json.output)
    assert document["flags"]["gap"] == 1 and len(document["datastreams"]) == 2
    missing = runner.invoke(app, ["sensors", "qc", "--store", str(store.parent / "none.duckdb")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_stream_that_changes_its_rhythm_is_judged_month_by_month(tmp_path):
    """Daily counts for January to March, then 15-minute counts in April with one hour missing: the daily months
    are no gaps, the step into April is none, and the April hour is the one gap."""
    daily = pd.date_range("2019-01-01", "2019-03-31", freq="D")
    quarter = pd.date_range("2019-04-01", "2019-04-30 23:45", freq="15min")
    quarter = quarter[(quarter < "2019-04-10 08:00") | (quarter >= "2019-04-10 09:00")]
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"sensor": "a", "time": daily.append(quarter), "property": "bike_count",
                          "value": np.r_[rng.integers(2000, 2100, len(daily)), rng.integers(20, 24, len(quarter))]})
    table["time"] = table["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    file = tmp_path / "counts.csv"
    table.to_csv(file, index=False)
    path = tmp_path / "s.duckdb"
    import_files(path, [file])
    report = run_qc(path)
    assert report.flags["gap"] == 1 and report.flags["spike"] == 0
    assert flags(path)["gap"] == {pd.Timestamp("2019-04-10 09:00")}
    row = report.datastreams.iloc[0]
    span = (pd.Timestamp("2019-04-30 23:45") - pd.Timestamp("2019-01-01")).total_seconds()
    assert row["uptime"] == pytest.approx(1 - (3600 + 900 - 900) / span)  # the hour, less the one usual interval
    expected = len(daily) + 30 * 96  # 90 daily readings, then April's 15-minute ones
    assert row["completeness"] == pytest.approx((len(table) - 1) / expected)  # the gap's reading is flagged


def test_counts_are_judged_on_the_square_root_scale(tmp_path):
    """A counter's quiet night (0, 1, 0, 2 …) and rush hour (65, 54, 76) are Poisson noise, not spikes; 40 cyclists
    in a quarter-hour between two empty ones is a spike (2√40.375 − 2√0.375 = 11.5, beyond 6 deviations of 1).
    The same numbers as a pm25 series keep the rule on the values themselves."""
    night = [0, 1, 0, 2, 0, 0, 1, 0, 0, 0] * 4
    day = [60, 65, 54, 76, 70, 62, 58, 71, 66, 60]
    values = night + [0, 40, 0] + night + day + night
    times = pd.date_range("2019-06-01", periods=len(values), freq="15min")
    rows = [pd.DataFrame({"sensor": sensor, "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "property": prop,
                          "value": values}) for sensor, prop in (("counter", "bike_count"), ("station", "pm25"))]
    file = tmp_path / "counts.csv"
    pd.concat(rows).to_csv(file, index=False)
    store = tmp_path / "s.duckdb"
    import_files(store, [file])
    run_qc(store)
    db = connect(store, read_only=True)
    found = db.execute("""select d.thing_id, f.time, f.detail from flags f join datastreams d using (datastream_id)
        where f.flag = 'spike' order by all""").fetchall()
    db.close()
    counter = [(time, detail) for thing, time, detail in found if thing == "counter"]
    assert [time for time, _ in counter] == [times[41]]
    assert "40.0 jumps from 0.0 and back to 0.0" in counter[0][1] and "square-root scale" in counter[0][1]
    # as pm25, a usual step of 1 makes the threshold 8.9 µg/m³: the rush hour's dip to 54 is a spike there
    assert [time for thing, time, _ in found if thing == "station"] == [times[41], times[85]]
