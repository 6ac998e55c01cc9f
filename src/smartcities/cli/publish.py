"""The `publish` command: a build's tables and report, plus the static site, the dashboard and the printed report."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, user_errors
from .build import AsJson, Quiet, Strict, Top, _build_and_write


@app.command()
@user_errors
def publish(spec: Path = typer.Argument(..., help="The index spec (YAML)."),
            out: Path = typer.Option(..., "--out", "-o", help="Folder to publish into (replaced as a whole)."),
            pdf: bool = typer.Option(False, "--pdf", help="Require report.pdf: fail, writing nothing, when no "
                                                          "Chromium is found to print it."),
            top: int = Top, quiet: bool = Quiet, as_json: bool = AsJson, strict: bool = Strict):
    """Build the index a spec describes and publish it: the build's tables and report.html, site/ (a static site
    for any web host, with the API's JSON and CSV under site/api/v1/), dashboard.html (one file that works
    offline) and report.pdf (printed by headless Chromium; without one, everything else is written and the
    processing log says so)."""
    _build_and_write(spec, out, None, top, quiet, as_json, strict=strict, site=True, pdf=pdf)
