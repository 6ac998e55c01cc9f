"""Bulk import of sensor observations: a long CSV and a Parquet file of N observations (1,000 sensors, one pm25
reading a minute, times with a UTC offset) into a new store with every check, beside DuckDB's plain reader of the
same file into a table with no checks, measured in the same run. The target is ≥ 1 million observations/s.

Printed per file: observations, seconds and observations/s of the import and of the baseline, and their ratio;
then `sensors qc` over the stored observations.

    .venv/bin/python bench/bench_sensors_import.py [--rows 5000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    """The long CSV and Parquet: sensor, time, property, value, unit."""
    csv, parquet = folder / "long.csv", folder / "long.parquet"
    select = f"""select 's' || (i % 1000) as sensor,
        strftime(timestamp '2024-01-01' + to_minutes(i // 1000), '%Y-%m-%dT%H:%M:%S+00:00') as time,
        'pm25' as property, round(5 + (hash(i) % 5000) / 100, 2) as value, 'µg/m³' as unit from range({rows}) t(i)"""
    db = duckdb.connect()
    db.execute(f"copy ({select}) to '{csv}' (header)")
    db.execute(f"copy (select sensor, time::timestamptz as time, property, value, unit from ({select})) "
               f"to '{parquet}' (format parquet)")
    db.close()
    return csv, parquet


def baseline(file: Path, folder: Path) -> float:
    """Seconds for DuckDB's own reader of `file` into a table of a new database file, no checks."""
    target = folder / "baseline.duckdb"
    target.unlink(missing_ok=True)
    reader = "read_parquet" if file.suffix == ".parquet" else "read_csv"
    start = time.perf_counter()
    db = duckdb.connect(str(target))
    db.execute(f"create table observations as select * from {reader}('{file}')")
    db.close()
    return time.perf_counter() - start


def ours(file: Path, folder: Path) -> tuple[float, int]:
    """Seconds for `sensors import` of `file` into a new store, and the observations it added."""
    from smartcities.sensors.ingest import import_files

    store = folder / "store.duckdb"
    store.unlink(missing_ok=True)
    start = time.perf_counter()
    summary = import_files(store, [file])
    return time.perf_counter() - start, summary.observations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = generate(folder, args.rows)
        print(f"{'file':<8} {'observations':>12} {'import s':>9} {'obs/s':>11} {'baseline s':>10} "
              f"{'obs/s':>11} {'ratio':>6}")
        for file in files:
            base = baseline(file, folder)
            seconds, added = ours(file, folder)
            assert added == args.rows, (added, args.rows)
            print(f"{file.suffix[1:]:<8} {added:>12,} {seconds:>9.2f} {added / seconds:>11,.0f} {base:>10.2f} "
                  f"{args.rows / base:>11,.0f} {base / seconds:>6.2f}")
        from smartcities.sensors.qc import run_qc

        start = time.perf_counter()
        report = run_qc(folder / "store.duckdb")
        seconds = time.perf_counter() - start
        print(f"qc over {args.rows:,} observations: {seconds:.2f} s ({args.rows / seconds:,.0f} obs/s), "
              f"flags {report.flags}")


if __name__ == "__main__":
    main()
