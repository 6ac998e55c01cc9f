"""Benchmark: one month of a 1,000-sensor network at 2-minute readings (21.6 M observations; `--days 365` for a
year, 263 M) → daily district indicators (PM2.5 daily mean with hour/day validity, exceedance days) for 34
districts, beside a plain DuckDB `group by datastream, day` mean in the same run.

    PYTHONPATH=src python bench/bench_sensors_rules.py [--days 30] [--store /tmp/bench-sensors-30d.duckdb]

The store is generated straight in DuckDB with `range()` (in a child process, so the peak memory printed is the
indicators' alone) and kept for later runs. Targets on 2 cores: a month ≤ 3 s; a year ≤ 30 s with peak memory ≤ 8 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SENSORS, STEP_MINUTES = 1_000, 2
GRID, DISTRICTS, SIZE = 6, 34, 0.02  # a 6 × 6 grid of 0.02° squares, the last two left out
WEST, SOUTH = -73.70, 45.45

RULES = """\
spatial_unit: district
districts: districts.geojson
id_property: NOM
indicators:
  pm25_daily_mean: {property: pm25, bucket: day, statistic: mean, validity: {hour: 1, day: 0.75}}
  pm25_exceedance_days: {property: pm25, bucket: day, statistic: mean, validity: {hour: 1, day: 0.75},
                         count_above: 15}
"""


def build_store(path: Path, days: int) -> None:
    """Things spread over the grid, one pm25 datastream each, readings every 2 minutes; every 50th sensor is
    silent from midnight to 8 a.m., so its days are invalid."""
    from smartcities.sensors.store import connect

    db = connect(path)
    db.execute(f"""
        insert into things select 't' || i, 't' || i, '', '{{}}' from range({SENSORS}) r(i);
        insert into locations select 't' || i, {SOUTH} + (hash(i, 1) % 10000) / 10000 * {GRID * SIZE},
                                     {WEST} + (hash(i, 2) % 10000) / 10000 * {GRID * SIZE}, ''
                              from range({SENSORS}) r(i);
        insert into sensors select 's' || i, 's' || i, '' from range({SENSORS}) r(i);
        insert into observed_properties values ('pm25', 'PM2.5', '', 'µg/m³');
        insert into datastreams select i, 't' || i, 's' || i, 'pm25', 'µg/m³' from range({SENSORS}) r(i);
        insert into observations
        select ds, t, 12 + 6 * sin(2 * pi() * hour(t) / 24) + (hash(ds, k) % 1000) / 250.0
        from (select ds, k, timestamp '2019-06-01' + to_minutes(k * {STEP_MINUTES}) as t
              from range({SENSORS}) a(ds), range({days * 24 * 60 // STEP_MINUTES}) b(k))
        where not (ds % 50 = 0 and hour(t) < 8);
    """)
    db.close()


def districts_geojson(path: Path) -> None:
    features = []
    for n in range(DISTRICTS):
        lon, lat = WEST + (n % GRID) * SIZE, SOUTH + (n // GRID) * SIZE
        ring = [[lon, lat], [lon + SIZE, lat], [lon + SIZE, lat + SIZE], [lon, lat + SIZE], [lon, lat]]
        features.append({"type": "Feature", "properties": {"NOM": f"d{n:02d}", "population": 50_000},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.store = args.store or Path(f"/tmp/bench-sensors-{args.days}d.duckdb")
    if args.build:
        build_store(args.store, args.days)
        return
    if not args.store.exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", "--days", str(args.days), "--store", str(args.store)],
                       check=True)
        print(f"store generated in {time.perf_counter() - started:.1f} s")

    from smartcities.sensors.rules import compute, read_rules
    from smartcities.sensors.store import connect

    folder = args.store.parent
    districts_geojson(folder / "districts.geojson")
    (folder / "bench-rules.yaml").write_text(RULES)
    rules = read_rules(folder / "bench-rules.yaml")
    db = connect(args.store, read_only=True)
    observations = db.execute("select count(*) from observations").fetchone()[0]

    started = time.perf_counter()
    baseline = db.execute("select datastream_id, date_trunc('day', time) as day, avg(value) from observations "
                          "group by datastream_id, day").df()
    baseline_seconds = time.perf_counter() - started

    started = time.perf_counter()
    result = compute(rules, db)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db.close()

    table = result.indicators
    print(f"{observations:,} observations, {SENSORS} sensors, {DISTRICTS} districts, "
          f"{len(result.outside)} sensors outside")
    print(f"baseline (group by datastream, day mean): {baseline_seconds:.2f} s, {len(baseline):,} rows")
    print(f"indicators (daily district means with validity + exceedance days): {seconds:.2f} s, "
          f"{len(table):,} rows; ratio {seconds / baseline_seconds:.2f}× the baseline")
    print(f"peak memory (process): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
