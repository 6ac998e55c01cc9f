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
