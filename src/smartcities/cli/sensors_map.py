"""`smartcities sensors map`: the offline city map of a sensor store."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import console, user_errors
from .sensors import sensors_app


@sensors_app.command("map")
@user_errors
def sensor_map(store: Path = typer.Option(..., "--store", help="The sensor store (DuckDB file)."),
               out: Path = typer.Option(..., "--out", "-o", help="The HTML file to write."),
               rules: Path = typer.Option(None, "--rules", help="Rules whose district indicators colour the map."),
               indicator: str = typer.Option(None, "--indicator", help="The rule that colours the districts "
                                                                        "(default: the first)."),
               network: Path = typer.Option(None, "--network", help="A GeoJSON of lines drawn over the districts."),
               title: str = typer.Option("City sensors", "--title", help="The page's title.")):
    """Write one HTML file that draws the districts coloured by an indicator (a selector over the rules'
    indicators, a slider over its periods), the sensors and the network, with no network request."""
    from ..sensors.rules import compute, read_rules
    from ..sensors.store import connect
    from ..sensors.view import map_document, write_map

    checked = read_rules(rules) if rules is not None else None
    db = connect(store, read_only=True)
    try:
        districts = checked is not None and checked.model.spatial_unit == "district"
        table = compute(checked, db, store_name=store.name).indicators if districts else None
        document = map_document(db, checked, table, indicator, network, title)
    finally:
        db.close()
    write_map(document, out)
    shown = document["indicator"]
    periods = len(document["indicators"][shown]["periods"]) if shown else 0
    console.print(f"wrote {out}: {len(document['sensors'])} sensors, {len(document['districts'])} districts, "
                  f"{periods} periods of {shown or 'no indicator'}", markup=False, highlight=False, soft_wrap=True)
