"""Commands that read a built index for action: `profile` (one city) and `insight` (the insight tables)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .app import app, console, user_errors
from .build import DEMO_SPEC, AsJson, Quiet

SpecOption = typer.Option(None, "--spec", "-s", help="Index spec to build (default: the bundled 31-city demo).")
NoUncertainty = typer.Option(False, "--no-uncertainty", help="Skip the robustness runs (no rank intervals).")
CityArgument = typer.Argument(..., help="City slug or name, e.g. seoul or 'New York'.")
SpecArgument = typer.Argument(..., help="Index spec (YAML).")
OutOption = typer.Option(..., "--out", "-o", help="Folder to write the insight tables into.")


@app.command()
@user_errors
def profile(city: str = CityArgument,
            spec: Path = SpecOption, no_uncertainty: bool = NoUncertainty, as_json: bool = AsJson):
    """Print a city's profile: strengths and weaknesses, peers, gaps to leaders and initiatives to learn from."""
    from rich.table import Table

    from ..analysis.profiles import city_profile
    from ..analysis.results import NO_SCORE
    from ..build import build as build_index
    from ..build import load_spec

    result = build_index(load_spec(spec or DEMO_SPEC), uncertainty=not no_uncertainty)
    p = city_profile(result, city)
    if as_json:
        console.print_json(json.dumps({
            "city": p.city, "name": p.name, "region": p.region, "rank": p.rank, "score": p.score, "grade": p.grade,
            "domains": _records(p.domains), "peers": _records(p.peers), "learn_from": _records(p.learn_from)},
            default=_json_value))
        return
    console.print(f"[bold]{p.name}[/bold] ({p.region or 'no region'}): rank {p.rank}, score {p.score:.1f}, "
                  f"grade {p.grade}")
    intervals = "p05" in p.domains.columns
    table = Table(title="Domains, strongest first (against the median city)")
    for col in ("domain", "score", "rank", *(("90% interval",) if intervals else ()), "vs median", "leader",
                "gap to leader"):
        table.add_column(col, justify="left" if col in ("domain", "leader") else "right")
    for d in p.domains.itertuples():
        if d.verdict == NO_SCORE:
            table.add_row(d.domain_name, "no score", *[""] * (len(table.columns) - 2), style="dim")
            continue
        style = "green" if d.verdict == "strength" else "red" if d.verdict == "weakness" else None
        cells = [d.domain_name, f"{d.score:.1f}", str(int(d.rank))]
        if intervals:
            cells.append("n/a" if d.p05 != d.p05 else f"{d.p05:.0f}–{d.p95:.0f}")
        cells += [f"{d.gap:+.1f}", d.leader_name, f"{d.gap_to_leader:.1f}"]
        table.add_row(*cells, style=style)
    console.print(table)
    console.print("Peers (nearest domain profile): " + (", ".join(
        f"{r.name} ({r.region}, rank {r.rank}, distance {r.distance:.2f})" for r in p.peers.itertuples())
        or "none (peers are found among the cities with a score in every domain)"))
    if p.learn_from.empty:
        console.print("Learn from: nothing to point to (no inventory, or no higher-scoring city has a relevant "
                      "initiative).")
    for _, part in p.learn_from.groupby("domain", sort=False):
        console.print(f"\n[bold]Learn from — {part['domain_name'].iloc[0]}[/bold]")
        for r in part.itertuples():
            console.print(f"  • {r.from_name} ({r.from_region}, rank {r.from_rank}): {r.initiative}", markup=False,
                          highlight=False)
            if isinstance(r.description, str):
                console.print(f"    {r.description}", markup=False, highlight=False, style="dim")
            if isinstance(r.source_url, str):
                console.print(f"    {r.source_url}", markup=False, highlight=False, style="dim")


@app.command()
@user_errors
def insight(spec: Path = SpecArgument, out: Path = OutOption,
            no_uncertainty: bool = NoUncertainty, quiet: bool = Quiet, as_json: bool = AsJson):
    """Build an index and write profiles.csv and, for an index with an inventory, trends.csv, regions.csv and
    archetypes.csv (all or nothing)."""
    from ..analysis.insight import insight_of, write_insight
    from ..build import build as build_index
    from ..build import load_spec
    from ..io.outputs import atomic_folder, check_output_folder

    checked = load_spec(spec)
    check_output_folder(out, "insight", checked.files)  # before any work
    result = build_index(checked, uncertainty=not no_uncertainty)
    with atomic_folder(out, "insight", checked.files) as tmp:
        names = [p.name for p in write_insight(insight_of(result), tmp)]
    paths = [str(Path(out) / n) for n in names]
    if as_json:
        console.print_json(json.dumps({"outputs": paths}))
    elif not quiet:
        console.print(f"wrote {', '.join(names)} to {out}")


def _records(frame) -> list[dict]:
    """Rows as dicts with missing values as None (JSON null, not NaN)."""
    return [{k: (None if _missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def _missing(value) -> bool:
    import pandas as pd

    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and the like are not missing
        return False


def _json_value(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
