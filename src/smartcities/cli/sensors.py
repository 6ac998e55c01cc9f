"""`smartcities sensors …`: city logging, from sensor files and streams to the indicators table."""

from __future__ import annotations

import typer

from .app import app

sensors_app = typer.Typer(help="Record sensor observations, check them and turn them into indicators.",
                          no_args_is_help=True)
app.add_typer(sensors_app, name="sensors")
