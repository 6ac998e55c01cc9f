"""Commands that build and check an index: demo, build, validate, import, runs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .app import app, command_started, console, err_console, user_errors

if TYPE_CHECKING:
    from ..build import Result

DEMO_SPEC = Path(__file__).resolve().parent.parent / "data" / "demo" / "sci2022.yaml"

Quiet = typer.Option(False, "--quiet", "-q", help="Print nothing but warnings and errors.")
Strict = typer.Option(False, "--strict", help="Treat every warning of the processing log as an error.")
AsJson = typer.Option(False, "--json", help="Print a JSON summary instead of tables.")
Top = typer.Option(10, min=1, help="How many units to print.")


def _summary(result: Result, top: int, seconds: float) -> dict:
    from ..analysis import results as readings

    ranking = readings.ranking(result).head(top)
    leaders = readings.leaders(result)
    return {
        "index": result.spec.model.name,
        "top": [{"rank": int(r.rank), "city": r.city, "name": r.name, "score": round(float(r.score), 4),
                 "grade": int(r.grade)} for r in ranking.itertuples()],
        "leaders": [{"domain": r.domain, "city": r.city, "name": r.name, "score": round(float(r.score), 4)}
                    for r in leaders.itertuples()],
        "seconds": round(seconds, 3),
    }


def show_processing(processing, quiet: bool) -> None:
    """Warnings on stderr (always), notes on stdout (unless quiet): nothing a step did is left unsaid."""
    for severity, line in processing.lines():
        if severity == "warning":
            err_console.print(f"smartcities: warning: {line}", markup=False)
        elif not quiet:
            console.print(f"note: {line}", markup=False, highlight=False)


def _show(result: Result, outputs: list[Path], top: int, quiet: bool, as_json: bool, seconds: float) -> None:
    """The summary of a build; `seconds` is the whole command's time, from its start to the outputs written.
    Quiet, nothing but warnings is shown, so the summary is not even made."""
    if as_json:
        if not quiet:
            console.print_json(json.dumps({**_summary(result, top, seconds), "outputs": [str(p) for p in outputs],
                                           "processing": result.run_record()["processing"]}))
        return
    show_processing(result.processing, quiet)
    if quiet:
        return
    summary = _summary(result, top, seconds)
    from rich.table import Table

    table = Table(title=f"{summary['index']}: top {len(summary['top'])}")
    for col in ("rank", "city", "score", "grade"):
        table.add_column(col, justify="right" if col != "city" else "left")
    for row in summary["top"]:
        table.add_row(str(row["rank"]), row["name"], f"{row['score']:.2f}", str(row["grade"]))
    console.print(table)
    if summary["leaders"]:
        leaders = Table(title="Domain leaders")
        leaders.add_column("domain")
        leaders.add_column("leader")
        leaders.add_column("score", justify="right")
        for row in summary["leaders"]:
            leaders.add_row(row["domain"], row["name"], f"{row['score']:.2f}")
        console.print(leaders)
    console.print(f"wrote {', '.join(p.name for p in outputs)} to {outputs[0].parent} in {seconds:.2f} s")


def _browser(pdf: bool, strict: bool) -> str | None:
    """The Chromium that prints report.pdf; with none, an error when the PDF is required (--pdf, or --strict,
    for which the missing PDF's warning is an error), else None: everything else is published."""
    from ..errors import InputError
    from ..online.pdf import find_chromium, no_browser_message

    browser = find_chromium()
    if browser is None and (pdf or strict):
        why = "--pdf requires report.pdf" if pdf else "--strict treats the missing report.pdf as an error"
        raise InputError.single("report.pdf", f"{no_browser_message()} ({why})")
    return browser


def _build_and_write(spec_path: Path, out: Path, store: Path | None, top: int, quiet: bool, as_json: bool,
                     backend: str | None = None, no_uncertainty: bool = False, strict: bool = False,
                     site: bool = False, pdf: bool = False) -> None:
    """Build and write a folder; with `site`, publish it: site/, dashboard.html and report.pdf besides."""
    started = command_started()
    from ..build import build as build_index
    from ..build import load_spec
    from ..io.outputs import check_output_folder
    from ..publish import published, write_outputs

    spec = load_spec(spec_path)
    store_path = store or (spec.resolve(spec.model.store) if spec.model.store else None)
    # before any work: a refused folder or a missing browser costs nothing
    check_output_folder(out, reads=[*spec.files, *filter(None, [store_path])])
    browser = _browser(pdf, strict) if site else None
    result = build_index(spec, uncertainty=not no_uncertainty, progress=not quiet and not as_json, backend=backend,
                         strict=strict)
    outputs = write_outputs(result, out, site=site, browser=browser)
    result = published(result, browser, site=site)  # as written: with what the report and the PDF leave out
    if store_path is not None:
        from ..store import Store

        with Store(store_path) as db:
            db.record_run(result, outputs)
    _show(result, outputs, top, quiet, as_json, time.perf_counter() - started)


@app.command()
@user_errors
def demo(out: Path = typer.Option(Path("demo"), "--out", "-o", help="Folder to write the results into."),
         top: int = Top, quiet: bool = Quiet, as_json: bool = AsJson, strict: bool = Strict):
    """Build the bundled 31-city demo index from the sample inventory and publish it: the tables, run record and
    report, the static site, dashboard.html and report.pdf."""
    _build_and_write(DEMO_SPEC, out, None, top, quiet, as_json, strict=strict, site=True)


@app.command()
@user_errors
def build(spec: Path = typer.Argument(..., help="The index spec (YAML)."),
          out: Path = typer.Option(..., "--out", "-o", help="Folder to write the results into."),
          store: Path = typer.Option(None, help="A DuckDB store to record the run in."),
          backend: str = typer.Option(None, help="Where uncertainty runs go: numpy (default) or dask."),
          no_uncertainty: bool = typer.Option(False, "--no-uncertainty", help="Skip the uncertainty analysis."),
          top: int = Top, quiet: bool = Quiet, as_json: bool = AsJson, strict: bool = Strict):
    """Build the index a spec describes and write scores.csv, indicators.csv, processing.csv, profiles.csv,
    run.json and report.html into a folder replaced as a whole."""
    _build_and_write(spec, out, store, top, quiet, as_json, backend, no_uncertainty, strict)


@app.command()
@user_errors
def validate(spec: Path = typer.Argument(..., help="The index spec (YAML)."), quiet: bool = Quiet,
             strict: bool = Strict):
    """Check a spec and every input it names, as a build would, without computing anything."""
    from ..build import check, inputs_log, load_spec, refuse_warnings
    from ..inputs import load_inputs

    checked = load_spec(spec)
    if checked.model.editions is not None:
        from ..editions import validate_editions

        editions, log = validate_editions(checked)
        if strict:
            refuse_warnings(checked, log)
        show_processing(log, quiet)
        if not quiet:
            inputs = editions[-1]
            console.print(f"{spec}: ok — {len(editions)} editions, {len(inputs.context.units)} units, "
                          f"{len(inputs.context.indicators)} indicators, {len(checked.model.pipeline)} steps")
        return
    inputs = load_inputs(checked)
    check(checked, inputs)
    log = inputs_log(inputs)
    if strict:
        refuse_warnings(checked, log)
    show_processing(log, quiet)
    if not quiet:
        console.print(f"{spec}: ok — {len(inputs.context.units)} units, {len(inputs.context.indicators)} "
                      f"indicators, {len(checked.model.pipeline)} steps")


@app.command("import")
@user_errors
def import_(kind: str = typer.Argument(..., help="cities, inventory or indicators"),
            file: Path = typer.Argument(..., help="The CSV file to import."),
            store: Path = typer.Option(Path("smartcities.duckdb"), help="The DuckDB store file."),
            name: str = typer.Option(None, help="Table name in the store (default: the kind)."),
            quiet: bool = Quiet):
    """Check a table and load it into the store, replacing the table of that name; a bad file changes nothing."""
    from ..store import Store

    with Store(store) as db:
        rows = db.import_table(kind, file, name)
    if not quiet:
        console.print(f"imported {rows} rows of {kind} from {file} into {store} as {name or kind}")


@app.command()
@user_errors
def runs(store: Path = typer.Option(Path("smartcities.duckdb"), help="The DuckDB store file.")):
    """List the builds recorded in the store."""
    from rich.table import Table

    from ..store import Store

    with Store(store, read_only=True) as db:
        frame = db.runs()
    table = Table(title=f"runs in {store}")
    for col in ("run_id", "started_at", "spec_name", "seconds"):
        table.add_column(col)
    for r in frame.itertuples():
        table.add_row(r.run_id, str(r.started_at), r.spec_name, f"{r.seconds:.2f}")
    console.print(table)
