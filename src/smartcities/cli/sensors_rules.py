"""`smartcities sensors indicators`: the store's observations turned into the indicators table by rules."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import console, user_errors
from .sensors import sensors_app


@sensors_app.command("indicators")
@user_errors
def indicators(rules: Path = typer.Argument(..., help="The indicator rules (YAML)."),
               store: Path = typer.Option(..., "--store", help="The sensor store (DuckDB file)."),
               out: Path = typer.Option(..., "--out", "-o", help="The indicators CSV to write."),
               quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")):
    """Compute the indicators the rules name, per sensor, city or district, into the long indicators table an
    index spec reads (the rule and its coverage in `source` and `note`)."""
    from ..sensors.rules import compute, read_rules, write_indicators
    from ..sensors.store import connect

    checked = read_rules(rules)
    db = connect(store, read_only=True)
    try:
        result = compute(checked, db, store_name=store.name)
    finally:
        db.close()
    write_indicators(result.indicators, out)
    if quiet:
        return
    if result.outside:
        console.print(f"{len(result.outside)} sensor{'s' if len(result.outside) != 1 else ''} outside every "
                      f"district, left out: {', '.join(result.outside)}", markup=False, highlight=False)
    console.print("coverage (datastreams with data; share of their days valid):", markup=False, highlight=False)
    for row in result.coverage.itertuples():
        valid = "" if row.valid_days != row.valid_days else f", {row.valid_days:.0%} of days valid"
        streams = f"{row.datastreams} datastream{'s' if row.datastreams != 1 else ''}"
        console.print(f"  {row.indicator} {row.city}: {streams}{valid}", markup=False, highlight=False)
    console.print(f"wrote {len(result.indicators)} indicator values to {out}", markup=False, highlight=False)
