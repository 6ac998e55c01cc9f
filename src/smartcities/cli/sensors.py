"""`smartcities sensors …`: city logging, from sensor files and streams to the indicators table."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .app import app, console, user_errors

sensors_app = typer.Typer(help="Record sensor observations, check them and turn them into indicators.",
                          no_args_is_help=True)
app.add_typer(sensors_app, name="sensors")


@sensors_app.command("import")
@user_errors
def import_command(
    paths: list[Path] = typer.Argument(..., help="Files or folders (walked) to import."),
    store: Path = typer.Option(..., "--store", help="The sensor store (a DuckDB file, created when new)."),
    fmt: str = typer.Option("auto", "--format", help="auto, long, wide, sensor-community, sensorthings or ngsi-ld."),
    adapter: Path | None = typer.Option(None, "--adapter", help="YAML naming a wide table's time column and columns."),
) -> None:
    """Import sensor files into the store, all or nothing; files imported before are skipped."""
    from ..sensors.ingest import import_files

    summary = import_files(store, paths, fmt, adapter)
    for name in summary.skipped:
        console.print(f"skipped {name}: already imported (same SHA-256)", markup=False, soft_wrap=True)
    console.print(f"imported {len(summary.files)} files → {store}: {summary.things} new things, "
                  f"{summary.datastreams} new datastreams, {summary.observations} observations added, "
                  f"{summary.duplicates} duplicates skipped", markup=False, soft_wrap=True)


@sensors_app.command("qc")
@user_errors
def qc_command(
    store: Path = typer.Option(..., "--store", help="The sensor store."),
    as_json: bool = typer.Option(False, "--json", help="Print the flag counts and per-datastream table as JSON."),
) -> None:
    """Flag out-of-range values, spikes, stuck values, duplicates and gaps; print uptime and completeness."""
    from rich.table import Table

    from ..sensors.qc import run_qc

    report = run_qc(store)
    if as_json:
        typer.echo(json.dumps({"flags": report.flags, "datastreams": report.datastreams.to_dict(orient="records")},
                              indent=2, default=str))
        return
    console.print("flags: " + ", ".join(f"{name} {count}" for name, count in report.flags.items()), markup=False,
                  soft_wrap=True)
    table = Table("id", "thing", "property", "readings", "interval", "uptime", "complete", "flagged")
    for row in report.datastreams.itertuples():
        interval = "-" if row.interval != row.interval else f"{row.interval:g} s"
        table.add_row(str(row.datastream_id), row.thing_id, row.property, str(row.observations), interval,
                      f"{row.uptime:.1%}", f"{row.completeness:.1%}", str(row.flagged))
    console.print(table)


