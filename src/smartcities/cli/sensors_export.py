"""`smartcities sensors export`: the sensor store as SensorThings JSON or NGSI-LD entities."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError, one_of
from .app import console, user_errors
from .sensors import sensors_app


@sensors_app.command("export")
@user_errors
def export(store: Path = typer.Option(..., "--store", help="The sensor store (DuckDB file)."),
           fmt: str = typer.Option(..., "--format", help="sensorthings (Things, Datastreams and every Observation "
                                   "as dataArray) or ngsi-ld (an entity per Thing with its newest values)."),
           out: Path = typer.Option(..., "--out", "-o", help="The JSON file to write."),
           quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")):
    """Write the store for another platform: a SensorThings document or NGSI-LD entities (written atomically)."""
    from ..sensors.export import EXPORTERS, write_json
    from ..sensors.store import connect

    if fmt not in EXPORTERS:
        raise InputError.single("--format", "format " + one_of(fmt, list(EXPORTERS)))
    db = connect(store, read_only=True)
    try:
        document = EXPORTERS[fmt](db)
    finally:
        db.close()
    write_json(document, out)
    if not quiet:
        what = f"{len(document)} NGSI-LD entities" if fmt == "ngsi-ld" else f"{len(document['value'])} Things"
        console.print(f"wrote {what} to {out}", markup=False, highlight=False)
