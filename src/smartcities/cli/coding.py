"""Commands for the automatic coder and coder agreement: `code`, `train-coder`, `evaluate-coder`, `agree`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .app import app, console, user_errors

if TYPE_CHECKING:
    from rich.progress import Progress


def _progress(quiet: bool) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=quiet or not console.is_terminal)


@app.command("code")
@user_errors
def code(
    source: Path = typer.Argument(..., help="CSV of initiatives with at least `name` and `description`."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the coded CSV."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace values a person already coded."),
    review_below: float = typer.Option(0.5, "--review-below", help="List values with a lower confidence."),
    review: Path | None = typer.Option(None, "--review", help="Also write the review file: the values to check, "
                                        "with an empty `corrected` column for train-coder --add."),
    show: int = typer.Option(20, "--show", min=0, help="How many review rows to print (0: none)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of tables."),
    embedding: str | None = typer.Option(None, "--embedding", help="minilm (default: slower, more accurate) or "
                                         "static (about 20x faster, less accurate)."),
    fast: bool = typer.Option(False, "--fast", help="Shorthand for --embedding static."),
    heads: Path | None = typer.Option(None, "--heads", help="Folder of heads written by train-coder --out "
                                      "(default: the shipped ones)."),
) -> None:
    """Fill the codebook's coded columns of each initiative, each with a confidence."""
    from ..inventory.coder import DEFAULT_EMBEDDING, code_file, load_coder

    name = _embedding(embedding, fast)
    coder = load_coder(heads, name or DEFAULT_EMBEDDING) if heads is not None else None
    with _progress(quiet or as_json) as bar:
        task = bar.add_task("coding", total=None)
        result = code_file(source, out, overwrite, review_below, review, coder=coder,
                           progress=lambda done: bar.update(task, completed=done, total=None), embedding=name)
    if as_json:
        typer.echo(json.dumps({"rows": len(result.coded), "written": [str(p) for p in result.written],
                               "review": result.review.to_dict(orient="records")}, indent=2, default=str))
        return
    if quiet:
        return
    console.print(f"coded {len(result.coded)} initiatives → {out}")
    console.print(f"{len(result.review)} values below confidence {review_below:g}"
                  + (f" (written to {review})" if review else ""))
    if show and len(result.review):
        from rich.table import Table

        table = Table("line", "id", "name", "column", "value", "confidence")
        for row in result.review.head(show).itertuples():
            table.add_row(str(row.line), str(row.id or ""), str(row.name)[:40], row.column, row.value,
                          f"{row.confidence:.2f}")
        console.print(table)
        if len(result.review) > show:
            console.print(f"… and {len(result.review) - show} more")


CALIBRATE = typer.Option(True, "--calibrate/--no-calibrate", help="Temperature-scale the single-valued heads' "
                         "confidences (fitted on held-out training folds; the coded values do not change).")
ADD = typer.Option(None, "--add", help="A review file with its `corrected` column filled (from `code --review`); "
                   "repeat for several. Rows of hold-out cities are left out.")


@app.command("train-coder")
@user_errors
def train_coder(
    inventory: Path | None = typer.Option(None, "--inventory", help="Coded inventory (default: the shipped "
                                          "training inventory without its hold-out cities)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the heads (default: the package's)."),
    c: float | None = typer.Option(None, "--C", help="Fix the regularisation strength instead of searching."),
    keep_c: bool = typer.Option(False, "--keep-C", help="Keep each column's C from the heads in --out (the "
                                "package's when --out holds none) instead of searching, so that a refit on another "
                                "CPU, where near ties in the search may fall the other way, fits the same heads."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    embedding: str | None = typer.Option(None, "--embedding", help="minilm (default: slower, more accurate) or "
                                         "static (about 20x faster, less accurate)."),
    add: list[Path] = ADD,
    calibrate: bool = CALIBRATE,
) -> None:
    """Fit the coder's heads (one per coded column) on a coded inventory, plus reviewed rows (--add)."""
    from ..inventory.coder import CODER_DIR, DEFAULT_EMBEDDING, head_files, load_coder, save_coder
    from ..inventory.review import describe
    from ..inventory.train import TrainingSettings
    from ..inventory.train import train_coder as train

    name = _embedding(embedding, False) or DEFAULT_EMBEDDING
    target = out or CODER_DIR
    if keep_c and c is not None:
        raise typer.BadParameter("give --C or --keep-C, not both")
    fixed = c
    if keep_c:
        kept = target if all((target / file).is_file() for file in head_files(name)) else CODER_DIR
        fixed = {col: float(head.info["C"]) for col, head in load_coder(kept, name).heads.items()}
    with _progress(quiet) as bar:
        task = bar.add_task("training heads", total=None)
        coder = train(inventory, TrainingSettings(fixed_C=fixed, calibrate=calibrate),
                      progress=lambda column: bar.advance(task), embedding=name, add=add or ())
    save_coder(coder, target, name)
    if not quiet:
        if add:
            added = coder.manifest["training"]["added"]
            for line in describe(added["files"]):
                console.print(line)
            console.print(f"{added['values']} reviewed values of {added['examples']} initiatives added to "
                          f"{coder.manifest['training']['rows']} training rows")
        for column, head in coder.heads.items():
            console.print(f"{column}: {len(head.classes)} classes, C={head.info['C']:g}"
                          + (f", temperature {head.temperature:g}" if head.temperature != 1.0 else ""))
        console.print(f"{name} heads written to {target} ({', '.join(head_files(name))})")


def _folds(folds: int) -> int:
    """One fold would leave no training rows: 0 (leave one city out) or two and more."""
    if folds == 1:
        raise typer.BadParameter("one fold leaves nothing to train on; give 2 or more, or 0 to leave one city out")
    return folds


@app.command("evaluate-coder")
@user_errors
def evaluate_coder(
    inventory: Path | None = typer.Option(None, "--inventory", help="Coded inventory (default: the shipped "
                                          "training inventory); its hold-out cities are scored apart."),
    cdp: Path | None = typer.Option(None, "--cdp", help="CDP city actions CSV for the second benchmark "
                                    "(default: ../shared/data/cdp_city_actions_2012_2017/… when present)."),
    no_cdp: bool = typer.Option(False, "--no-cdp", help="Skip the CDP benchmark."),
    folds: int = typer.Option(10, "--folds", min=0, callback=_folds,
                              help="Folds grouped by city on the training rows (0: leave one city out)."),
    c: float | None = typer.Option(None, "--C", help="Fix C instead of choosing it inside each training fold."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    embedding: str | None = typer.Option(None, "--embedding", help="minilm (default: slower, more accurate) or "
                                         "static (about 20x faster, less accurate)."),
    add: list[Path] = ADD,
    calibrate: bool = CALIBRATE,
    diagram: Path | None = typer.Option(None, "--diagram", help="Write the service_domain reliability diagram "
                                        "(SVG) of the held-out predictions to this file."),
) -> None:
    """Cross-validate the coder on cities it never saw; optionally benchmark CDP sectors."""
    from ..inventory.coder import DEFAULT_EMBEDDING
    from ..inventory.train import HEADLINE_NAMES, TrainingSettings, default_cdp_path, evaluate, headline_key
    from ..io.outputs import write_all

    cdp_path = None if no_cdp else (cdp or default_cdp_path())
    with _progress(quiet or as_json) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        report = evaluate(inventory, cdp_path, folds or None, TrainingSettings(fixed_C=c, calibrate=calibrate),
                          progress=progress,
                          embedding=_embedding(embedding, False) or DEFAULT_EMBEDDING, add=add or ())
    if diagram is not None:
        write_all({diagram: service_domain_diagram(report)})
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=float))
        return
    from rich import box
    from rich.table import Table

    inv = report["inventory"]
    if "added" in report:
        from ..inventory.review import describe

        for line in describe(report["added"]["files"]):
            console.print(line)
    parts = []
    if "holdout" in report:
        held = report["holdout"]
        parts.append(("holdout", f"Hold-out cities ({', '.join(held['city_names'])}): {held['rows']} rows, "
                      "heads fitted on every other row"))
    parts.append(("inventory", f"Training rows: {inv['rows']} rows, {inv['cities']} cities, {inv['scheme']}"))
    ceiling = report.get("agreement")
    for key, title in parts:
        part = report[key]
        plus = part.get("with_added")
        table = Table("column", "judged by", "accuracy", "macro-F1",
                      *(("+reviewed acc.", "+reviewed F1", "Δ F1") if plus else ()),
                      "ECE", *(("2nd coder judged", "2nd coder acc.", "2nd coder F1", "κ") if ceiling else ()),
                      title=f"{title}, {report['embedding']} embedding")
        for column, s in part["columns"].items():
            judged = headline_key(column)
            cells = [f"{HEADLINE_NAMES[judged]} {s[judged]:.3f}", f"{s['accuracy']:.3f}", f"{s['macro_f1']:.3f}"]
            if plus:
                p = plus["columns"][column]
                cells += [f"{p['accuracy']:.3f}", f"{p['macro_f1']:.3f}", f"{p['macro_f1'] - s['macro_f1']:+.3f}"]
            cells.append(f"{part['calibration'][column]['ece']:.3f}")
            if ceiling and column in ceiling["columns"]:
                a = ceiling["columns"][column]
                cells += [f"{a[judged]:.3f}", f"{a['accuracy']:.3f}", f"{a['macro_f1']:.3f}", f"{a['cohen_kappa']:.2f}"]
            table.add_row(column, *cells)
        console.print(table)
        if part["encoder_tuned_on_these_rows"]:
            console.print(f"[yellow]Caution: not held-out for the encoder, fine-tuned on {part['encoder_saw_rows']} "
                          f"of these {part['rows']} rows (only the heads are held out); see docs/coder.md."
                          "[/yellow]")
        else:
            console.print("Held out: neither the heads nor the encoder saw any row of these cities."
                          if key == "holdout" else "Held out for the encoder and, fold by fold, for the heads.")
        if plus:
            console.print("+reviewed: the same, with the reviewed rows added to the training rows (never to the "
                          "scored ones, and never a reviewed row of a scored city).")
        _reliability(part["calibration"], f"Reliability, {title.split(':')[0].lower()}: per confidence bin, "
                     "share right / mean confidence / values")
    if ceiling:
        console.print(f"2nd coder: a second, blind coding of {ceiling['rows']} inventory rows "
                      f"({ceiling['file']}) scored against the first, as the model is: agreement between people, "
                      "the ceiling for the figures beside it; not a model figure.")
    if "holdout" not in report:
        console.print("No hold-out city of HOLDOUT.md is in this inventory.")
    conf = inv["service_domain_confusion"]
    matrix = Table(title="service_domain confusion (rows: coded, columns: predicted)", padding=(0, 0),
                   box=box.SIMPLE)
    matrix.add_column("", no_wrap=True)
    for label in conf["labels"]:
        matrix.add_column(label[:3], justify="right", no_wrap=True, min_width=4)
    for label, row in zip(conf["labels"], conf["matrix"]):
        matrix.add_row(label, *[str(v) for v in row])
    console.print(matrix)
    if "cdp" in report:
        r = report["cdp"]
        console.print(f"CDP sectors ({r['rows']} actions, {r['cities']} cities, {r['folds']} folds grouped by city): "
                      f"accuracy {r['sector']['accuracy']:.3f}, macro-F1 {r['sector']['macro_f1']:.3f}")
        t = r["transfer"]
        console.print(f"Inventory-trained service_domain on {t['rows']} mapped CDP actions: accuracy "
                      f"{t['accuracy']:.3f}, macro-F1 {t['macro_f1']:.3f}")
    elif not no_cdp and not quiet:
        console.print("CDP benchmark skipped: no --cdp given and the shared CDP file is not present")


@app.command("agree")
@user_errors
def agree(
    files: list[Path] = typer.Argument(..., help="Two or more coded CSVs with an `id` column."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write the table as CSV."),
    per_label: bool = typer.Option(True, "--per-label/--no-per-label", help="Agreement per technology label."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Inter-coder agreement per coded column: Cohen's kappa (two coders) and Krippendorff's alpha."""
    from ..errors import InputError
    from ..inventory.agree import agreement_of_files
    from ..io.outputs import write_all

    if len(files) < 2:
        raise InputError.single("agree", "needs at least two files to compare")
    result = agreement_of_files(files, per_label)
    if out is not None:
        write_all({out: result.to_csv(index=False, lineterminator="\n", float_format="%.4f")})
    if as_json:
        typer.echo(json.dumps(json.loads(result.to_json(orient="records")), indent=2))
        return
    from rich.table import Table

    table = Table("column", "units", "agreement", "Cohen's κ", "Krippendorff's α",
                  title=f"Agreement of {len(files)} codings, matched by id")
    for row in result.itertuples():
        table.add_row(row.column, str(row.units), _fmt(row.percent_agreement), _fmt(row.cohen_kappa),
                      _fmt(row.krippendorff_alpha))
    console.print(table)


def _reliability(calibration: dict, title: str) -> None:
    """Print each column's reliability table: one column per confidence bin."""
    from rich import box
    from rich.table import Table

    edges = sorted({(b["low"], b["high"]) for table in calibration.values() for b in table["bins"]})
    table = Table("column", "ECE", *(f"{low:.1f}–{high:.1f}" for low, high in edges), title=title, box=box.SIMPLE,
                  padding=(0, 1))
    for column, rel in calibration.items():
        bins = {(b["low"], b["high"]): b for b in rel["bins"]}
        table.add_row(column, f"{rel['ece']:.3f}", *(
            f"{bins[e]['accuracy']:.2f}/{bins[e]['mean_confidence']:.2f}/{bins[e]['count']}" if e in bins else ""
            for e in edges))
    console.print(table)


def service_domain_diagram(report: dict) -> str:
    """The SVG reliability diagram of the service_domain values coded in the evaluation `report`: the grouped
    folds' predictions and, when there are any, the hold-out cities'."""
    from ..inventory.calibration import reliability_svg

    series = {f"grouped folds ({report['inventory']['scheme']})": report["inventory"]["calibration"]["service_domain"]}
    if "holdout" in report:
        series["hold-out cities"] = report["holdout"]["calibration"]["service_domain"]
    return reliability_svg(series, f"service_domain reliability, {report['embedding']} embedding")


def _embedding(name: str | None, fast: bool) -> str | None:
    """The embedding chosen by `--embedding` / `--fast` (None: the default), checked."""
    from ..errors import InputError
    from ..inventory.coder import check_embedding

    if fast and name not in (None, "static"):
        raise InputError.single("--fast", f"means --embedding static and contradicts --embedding {name}")
    return check_embedding("static" if fast else name) if (fast or name) else None


def _fmt(value: float) -> str:
    return "" if value != value else f"{value:.3f}"
