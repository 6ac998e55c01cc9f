"""The `audit` command: the statistical audit of the index a spec describes."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .app import app, console, user_errors


@app.command()
@user_errors
def audit(spec: Path = typer.Argument(..., help="The index spec (YAML)."),
          out: Path = typer.Option(..., "--out", "-o", help="Folder to write the audit tables into."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
          as_json: bool = typer.Option(False, "--json", help="Print a JSON list of the files written.")):
    """Audit an index: indicator statistics and flags, correlations within each node, Cronbach's alpha, PCA and
    effective weights, as tidy CSV files plus a readable summary."""
    from ..build import build, load_spec
    from ..io.outputs import check_output_folder
    from ..robustness.audit import audit as audit_index
    from ..robustness.audit import write_audit

    checked = load_spec(spec)
    check_output_folder(out, "audit", checked.files)  # before any work
    built = build(checked, uncertainty=False)
    result = audit_index(built.stages, built.context)
    paths = write_audit(result, out, checked.files)
    if as_json:
        console.print_json(json.dumps({"outputs": [str(p) for p in paths],
                                       "flags": len(result.flags)}))
    elif not quiet:
        console.print(result.summary(), markup=False, highlight=False)
        console.print(f"wrote {', '.join(p.name for p in paths)} to {out}")
