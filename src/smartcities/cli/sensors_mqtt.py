"""`smartcities sensors subscribe`: live observations from an MQTT broker stored as they arrive."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import console, err_console, user_errors
from .sensors import sensors_app


@sensors_app.command("subscribe")
@user_errors
def subscribe(url: str = typer.Argument(..., help="mqtt://HOST:PORT/TOPIC (wildcards + and # allowed; # as %23)."),
              store: Path = typer.Option(..., "--store", help="The sensor store (DuckDB file)."),
              client_id: str = typer.Option(None, "--client-id",
                                            help="The broker session to resume (default: one per store)."),
              count: int = typer.Option(None, "--count", min=1, help="Stop after this many stored observations."),
              seconds: float = typer.Option(None, "--seconds", min=0, help="Stop after this many seconds.")):
    """Store the observations published on a topic (QoS 1, persistent session, acknowledged once committed) until
    --count, --seconds or Ctrl-C; malformed messages are reported with their topic and reason."""
    from ..sensors.mqtt import subscribe as run

    def report(topic: str, reason: str) -> None:
        err_console.print(f"smartcities: malformed message on {topic}: {reason}", markup=False, highlight=False)

    tally = run(url, store, client_id=client_id, count=count, seconds=seconds, report=report)
    console.print(tally.summary(), markup=False, highlight=False)
