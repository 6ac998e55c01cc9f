"""The `frameworks` command: the framework presets shipped with the package, listed or shown as a tree."""

from __future__ import annotations

import json

import typer

from .app import app, console, user_errors

frameworks_app = typer.Typer(help="List the framework presets, or show one as a tree.", invoke_without_command=True)
app.add_typer(frameworks_app, name="frameworks")

AsJson = typer.Option(False, "--json", help="Print JSON instead of text.")
# what `show` prints beside a node's name, in this order, when the node has it
_NODE_FACTS = ("code", "tier", "direction", "direction_basis", "unit", "weight", "sdg", "stage", "source")


@frameworks_app.callback()
@user_errors
def frameworks(ctx: typer.Context, as_json: bool = AsJson):
    """List the presets a spec can name as `framework:`: title, nodes per level (top first), coverage, source."""
    if ctx.invoked_subcommand is not None:
        return
    from ..model.framework_files import presets

    rows = [_summary(name) for name in presets()]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    for r in rows:
        console.print(f"[bold]{r['name']}[/bold]  {r['title']}: " + " / ".join(str(n) for n in r["levels"])
                      + f" nodes per level, {r['coverage']}", highlight=False)
        console.print(f"    source: {r['source']}", markup=False, highlight=False, style="dim")
    console.print("tree-only: the leaves are the source's themes or dimensions, not indicators; a build needs "
                  "values for them. `smartcities frameworks show NAME` prints a preset's tree.", highlight=False)


@frameworks_app.command()
@user_errors
def show(name: str = typer.Argument(..., help="The preset's name, e.g. u4ssc-kpi."), as_json: bool = AsJson):
    """Print a preset's tree: every node with its code, tier, direction and how it was set, SDG links, source."""
    framework = _preset_framework(name)
    summary = _summary(name, framework)
    if as_json:
        console.print_json(json.dumps({**summary, "tree": _node_json(framework, framework.root())}))
        return
    console.print(f"[bold]{summary['title']}[/bold] ({name}): " + " / ".join(str(n) for n in summary["levels"])
                  + f" nodes per level, {summary['coverage']}", highlight=False)
    if summary["coverage"] == "tree-only":
        console.print("tree-only: no indicators; a build needs values for these leaves, or a framework file with "
                      "indicators under them", style="yellow", highlight=False)
    console.print(f"source: {summary['source']}\nlicence: {summary['licence']}\nnote: {summary['note']}",
                  markup=False, highlight=False)
    for line in _tree_lines(framework, framework.root(), 0):
        console.print(line, markup=False, highlight=False)


def _preset_framework(name: str):
    """The preset's framework; an unknown name is an InputError with a did-you-mean."""
    from ..model.framework_files import preset_path, read_framework_tree

    return read_framework_tree(preset_path(name))


def _summary(name: str, framework=None) -> dict:
    from ..model.framework_files import preset_about

    framework = framework or _preset_framework(name)
    counts = [sum(1 for v in framework.level.values() if v == k) for k in range(framework.n_levels, 0, -1)]
    return {"name": name, **preset_about(name), "levels": counts}


def _facts(node) -> dict:
    facts = {key: getattr(node, key) for key in _NODE_FACTS}
    facts["sdg"] = list(node.sdg)
    return {k: v for k, v in facts.items() if v not in (None, [], "") and not (k == "weight" and v == 1.0)}


def _node_json(framework, node_id: str) -> dict:
    node = framework.by_id[node_id]
    kids = framework.children[node_id]
    out = {"id": node.id, "name": node.name, **_facts(node)}
    if kids:
        out.pop("direction", None)  # an aggregate has no direction of its own
        out["children"] = [_node_json(framework, k) for k in kids]
    return out


def _tree_lines(framework, node_id: str, depth: int) -> list[str]:
    node = framework.by_id[node_id]
    kids = framework.children[node_id]
    facts = _facts(node)
    basis = facts.pop("direction_basis", None)
    if kids:
        facts.pop("direction", None)
    else:  # "direction +1 (wording)", or "direction unstated" where nobody says
        facts["direction"] = "unstated" if basis == "unstated" else f"{node.direction:+d}" + (
            f" ({basis})" if basis else "")
    code = facts.pop("code", None)
    facts.pop("source", None)  # a per-node citation: kept in --json, left out of the text for width
    shown = ", ".join(_fact_text(k, v) for k, v in facts.items())
    label = (f"{code}  " if code else "") + f"{node.name} [{node.id}]" + (f" ({shown})" if shown else "")
    line = "  " * depth + label
    return [line] + [text for k in kids for text in _tree_lines(framework, k, depth + 1)]


def _fact_text(key: str, value) -> str:
    if key == "sdg":
        return "SDG " + " ".join(map(str, value))
    return f"{key} {value:g}" if key == "weight" else f"{key} {value}"
