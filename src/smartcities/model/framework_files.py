"""Reading a framework from a file or a preset name.

Three forms give the same `Framework`:

- a nested YAML or JSON tree: `{id, name, description, children: [...]}`, leaves `{id, name, description, unit,
  direction, weight, target, goalposts, denominator, derive}`, and optionally `weight_sets:` (alternative weights by
  node id) at the top; any node may carry its source's `code` and `source`, a leaf its `tier`, `sdg`, `stage` and
  `direction_basis` (the metadata a published framework gives, kept on the node);
- a flat CSV table, one row per node, with columns `id, name, parent, weight, direction` and optionally `unit,
  description, target, goalpost_lower, goalpost_upper, denominator, derive` (COINr's iMeta shape; `derive` holds a
  rule written as a YAML flow mapping such as `{kind: count, where: {item_type: living_lab}}`);
- the name of a preset shipped with the package, e.g. `sci-2022`.

Every problem names the file and line: unknown keys (with a did-you-mean), bad values, unknown parents, cycles,
negative weights and malformed derive rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem, did_you_mean
from ..io.documents import load_yaml, parse_document, read_text
from ..io.tables import Field, Schema, read_table
from .framework import Framework, Node

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
COMMON_KEYS = ("id", "name", "description", "weight", "code", "source")
AGGREGATE_KEYS = ("children",)
LEAF_KEYS = ("unit", "direction", "target", "goalposts", "denominator", "derive", "tier", "sdg", "stage",
             "direction_basis")
NODE_KEYS = COMMON_KEYS + AGGREGATE_KEYS + LEAF_KEYS
TOP_KEYS = NODE_KEYS + ("weight_sets", "preset")
TIERS = ("core", "advanced")
STAGES = ("input", "process", "output", "outcome", "impact")
DIRECTION_BASES = ("source", "wording", "unstated")
PRESET_KEYS = ("title", "source", "licence", "coverage", "note")
COVERAGES = ("full", "tree-only")
KEY_DESCRIPTIONS = {  # what each key of the tree means; the flat table's columns of the same name share it
    "id": "The node's id, unique: the indicators table and every output name the node by it.",
    "name": "The node's name, shown in the report; the id when absent.",
    "description": "What the node stands for, in words.",
    "weight": "Weight among the node's siblings, zero or positive, rescaled to sum to 1 within each parent; 1 when "
              "absent.",
    "children": "The nodes an aggregate is made of: a non-empty list, all at one level.",
    "unit": "The indicator's unit of measurement.",
    "direction": "1 when higher is better, -1 when lower is better (normalisation flips it); 1 when absent.",
    "target": "The value the indicator aims at, for `normalise: distance-to-target`.",
    "goalposts": "`[lower, upper]`, lower below upper: the ends of `normalise: goalposts`.",
    "denominator": "A numeric column of the cities table (a COINr denominator) that `denominate` divides the "
                   "indicator by.",
    "derive": "A rule computing the indicator from the coded inventory (see Derive rules).",
    "code": "The code the framework's source gives the node, e.g. `EC: ICT: ICT: 1C`.",
    "source": "Where the node is defined or its data come from.",
    "tier": "`core` or `advanced`, where the framework's source grades its indicators.",
    "sdg": "The UN Sustainable Development Goals (numbers 1–17) the source links the indicator to.",
    "stage": f"The source's class of the indicator: {', '.join(f'`{s}`' for s in STAGES)}.",
    "direction_basis": "How `direction` was set: `source` (the framework says), `wording` (the indicator's own "
                       "wording makes it unambiguous) or `unstated` (nobody says; a build warns and reads it as "
                       "1).",
    "preset": "On a shipped preset: `{title, source, licence, coverage, note}`, `coverage` being `full` (leaves "
              "are indicators) or `tree-only` (leaves are the source's themes or dimensions, no indicators).",
    "weight_sets": "Alternative weights by name, `set name: {node id: weight}`; `aggregate: {weights: set name}` "
                   "chooses one.",
}
_TREE_SUFFIXES = (".yaml", ".yml", ".json")


def presets() -> list[str]:
    """Names of the frameworks shipped with the package."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    """The file of a shipped preset; InputError (with a did-you-mean) for an unknown name."""
    known = presets()
    if name not in known:
        raise InputError.single(name, f"unknown framework preset {name!r}{did_you_mean(name, known)}; presets: "
                                      f"{', '.join(known)}; or give a .yaml, .json or .csv file")
    return PRESET_DIR / f"{name}.yaml"


def preset_about(name: str) -> dict[str, str]:
    """A preset's `preset:` block: its title, source, licence, coverage and note."""
    path = preset_path(name)
    data, _ = parse_document(read_text(path, "framework file"), str(path), as_json=False)
    return {key: str(data.get("preset", {}).get(key, "")) for key in PRESET_KEYS}


def read_framework(source: str | Path) -> Framework:
    """The framework in a YAML/JSON tree file, a flat CSV table, or a preset named by `source`."""
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in _TREE_SUFFIXES:
        return read_framework_tree(path)
    if suffix == ".csv":
        return read_framework_table(path)
    if path.exists():
        raise InputError.single(path, f"unknown framework file type {suffix or '(none)'!r}; expected .yaml, "
                                      ".yml, .json or .csv")
    return read_framework_tree(preset_path(str(source)))


# --- the nested tree -------------------------------------------------------------------------------------------

def read_framework_tree(path: str | Path) -> Framework:
    """A framework from a nested YAML or JSON tree; each Node's `line` is where it starts in the file."""
    path = Path(path)
    name = str(path)
    text = read_text(path, "framework file")
    data, lines = parse_document(text, name, as_json=path.suffix.lower() == ".json")
    if not isinstance(data, Mapping):
        raise InputError.single(name, "a framework file must hold one mapping, the top node {id, name, children}",
                                line=1)
    reader = _TreeReader(name, lines)
    top = dict(data)
    weight_sets = top.pop("weight_sets", None)
    reader.about(top.pop("preset", None))
    reader.node(top, None, (), top_level=True)
    if reader.problems:
        raise InputError(reader.problems)
    framework = Framework.from_nodes(reader.nodes, name)
    sets = _weight_sets(weight_sets, framework, name, lines) if weight_sets is not None else {}
    return Framework(framework.nodes, name, sets)


class _TreeReader:
    """Walks the loaded tree, collecting Nodes and every problem."""

    def __init__(self, name: str, lines: dict[tuple, int]):
        self.name, self.lines = name, lines
        self.nodes: list[Node] = []
        self.problems: list[Problem] = []

    def line(self, keys: tuple) -> int | None:
        while keys and keys not in self.lines:
            keys = keys[:-1]
        return self.lines.get(keys)

    def problem(self, keys: tuple, message: str, column: str | None = None) -> None:
        self.problems.append(Problem(self.name, message, self.line(keys), column))

    def about(self, raw: Any) -> None:
        """Check a preset's `preset:` block (a mapping of known keys, a known coverage)."""
        if raw is None:
            return
        if not isinstance(raw, Mapping):
            self.problem(("preset",), "preset must be a mapping {" + ", ".join(PRESET_KEYS) + "}")
            return
        for key in raw:
            if key not in PRESET_KEYS:
                self.problem(("preset", key), f"preset: unknown key {key!r}{did_you_mean(str(key), PRESET_KEYS)}")
        if raw.get("coverage") not in COVERAGES:
            self.problem(("preset", "coverage"), f"preset: coverage {raw.get('coverage')!r} must be one of "
                                                 f"{', '.join(COVERAGES)}")

    def choice(self, raw: Mapping, key: str, keys: tuple, label: str, allowed: tuple) -> str | None:
        value = raw.get(key)
        if value is not None and value not in allowed:
            self.problem(keys + (key,), f"{label}: {key} {value!r} must be one of {', '.join(allowed)}"
                                        f"{did_you_mean(str(value), allowed)}")
            return None
        return value

    def sdgs(self, raw: Mapping, keys: tuple, label: str) -> tuple[int, ...]:
        value = raw.get("sdg", [])
        ok = isinstance(value, list) and all(isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 17
                                             for g in value)
        if not ok:
            self.problem(keys + ("sdg",), f"{label}: sdg {value!r} must be a list of goal numbers 1–17")
            return ()
        return tuple(value)

    def node(self, raw: Any, parent: str | None, keys: tuple, top_level: bool = False) -> None:
        if not isinstance(raw, Mapping):
            self.problem(keys, f"expected a node {{id, name, ...}}, found {raw!r}")
            return
        node_id = raw.get("id")
        label = f"node {node_id!r}" if node_id is not None else "node"
        if node_id is None or (isinstance(node_id, str) and not node_id.strip()):
            self.problem(keys, f"{label} has no id")
            node_id = None
        elif not isinstance(node_id, (str, int)) or isinstance(node_id, bool):
            self.problem(keys + ("id",), f"id {node_id!r} must be text")
            node_id = None
        else:
            node_id = str(node_id)
        allowed = TOP_KEYS if top_level else NODE_KEYS
        for key in raw:
            if key not in allowed:
                self.problem(keys + (key,), f"{label}: unknown key {key!r}{did_you_mean(str(key), allowed)}; "
                                            f"known keys: {', '.join(NODE_KEYS)}")
        children = raw.get("children")
        is_leaf = children is None
        if not is_leaf:
            for key in LEAF_KEYS:
                if key in raw:
                    self.problem(keys + (key,), f"{label}: {key!r} belongs on an indicator (a node without "
                                                "children), not on an aggregate")
            if not isinstance(children, list) or not children:
                self.problem(keys + ("children",), f"{label}: children must be a non-empty list of nodes")
                children = []
        weight = self.number(raw, "weight", keys, label, default=1.0)
        direction = raw.get("direction", 1)
        if is_leaf and (isinstance(direction, bool) or direction not in (1, -1)):
            self.problem(keys + ("direction",), f"{label}: direction {direction!r} must be 1 (higher is better) "
                                                "or -1 (lower is better)")
            direction = 1
        target = self.number(raw, "target", keys, label, default=None)
        goalposts = raw.get("goalposts")
        if goalposts is not None:
            ok = (isinstance(goalposts, list) and len(goalposts) == 2
                  and all(isinstance(g, (int, float)) and not isinstance(g, bool) for g in goalposts)
                  and goalposts[0] < goalposts[1])
            if not ok:
                self.problem(keys + ("goalposts",), f"{label}: goalposts {goalposts!r} must be [lower, upper] "
                                                    "with lower below upper")
                goalposts = None
        for key in ("name", "description", "unit", "denominator", "code", "source"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                self.problem(keys + (key,), f"{label}: {key} {raw[key]!r} must be text")
        derive = raw.get("derive")
        if derive is not None:
            from ..inventory.derive import check_rule

            for message in check_rule(derive):
                where = message.split(":", 1)[0].split(".")  # 'derive.where.lead_actor' → its line
                self.problem(keys + tuple(where), f"{label}: {message}", "derive")
        if node_id is None:
            return
        self.nodes.append(Node(
            id=node_id, name=raw.get("name") if isinstance(raw.get("name"), str) else node_id, parent=parent,
            weight=weight, direction=int(direction) if is_leaf else 1,
            unit=raw.get("unit") if isinstance(raw.get("unit"), str) else None,
            description=raw.get("description") if isinstance(raw.get("description"), str) else None,
            target=target, goalposts=tuple(float(g) for g in goalposts) if goalposts else None,
            denominator=raw.get("denominator") if isinstance(raw.get("denominator"), str) else None,
            derive=dict(derive) if isinstance(derive, Mapping) else None,
            code=_text(raw, "code"), source=_text(raw, "source"), tier=self.choice(raw, "tier", keys, label, TIERS),
            sdg=self.sdgs(raw, keys, label), stage=self.choice(raw, "stage", keys, label, STAGES),
            direction_basis=self.choice(raw, "direction_basis", keys, label, DIRECTION_BASES),
            line=self.line(keys + ("id",) if top_level else keys)))  # the top node starts at its id, after `preset:`
        for i, child in enumerate(children or []):
            self.node(child, node_id, keys + ("children", i))

    def number(self, raw: Mapping, key: str, keys: tuple, label: str, default):
        value = raw.get(key, default)
        if value is default:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.problem(keys + (key,), f"{label}: {key} {value!r} must be a number")
            return default
        return float(value)


def _text(raw: Mapping, key: str) -> str | None:
    return raw[key] if isinstance(raw.get(key), str) else None


def _weight_sets(raw: Any, framework: Framework, name: str, lines: dict) -> dict[str, dict[str, float]]:
    problems: list[Problem] = []
    where = lines.get(("weight_sets",))
    if not isinstance(raw, Mapping):
        raise InputError.single(name, "weight_sets must map set names to {node id: weight}", line=where)
    sets: dict[str, dict[str, float]] = {}
    for set_name, weights in raw.items():
        at = lines.get(("weight_sets", set_name), where)
        if not isinstance(weights, Mapping) or not weights:
            problems.append(Problem(name, f"weight set {set_name!r} must map node ids to weights", at))
            continue
        found = [Problem(name, f"weight set {set_name!r}: unknown node {node_id!r}"
                               f"{did_you_mean(str(node_id), framework.by_id)}",
                         lines.get(("weight_sets", set_name, node_id), at))
                 for node_id in weights if node_id not in framework.by_id]
        found += [Problem(name, f"weight set {set_name!r}: node {node_id!r}: {fault}",
                          lines.get(("weight_sets", set_name, node_id), at))
                  for node_id, fault in framework.weight_faults(weights)]
        problems += found
        if not found:
            sets[str(set_name)] = {str(node_id): float(w) for node_id, w in weights.items()}
    if problems:
        raise InputError(problems)
    return sets


# --- the flat table --------------------------------------------------------------------------------------------

FLAT_SCHEMA = Schema(
    fields=(
        Field("id", "text", nullable=False, description=KEY_DESCRIPTIONS["id"]),
        Field("name", "text", description=KEY_DESCRIPTIONS["name"]),
        Field("parent", "text", description="The id of the node's parent; empty for the top node."),
        Field("weight", "float", description=KEY_DESCRIPTIONS["weight"]),
        Field("direction", "float", description="On indicators (nodes no row names as parent): 1 when higher is "
                                                "better, -1 when lower is better."),
        Field("unit", "text", required=False, description=KEY_DESCRIPTIONS["unit"]),
        Field("description", "text", required=False, description=KEY_DESCRIPTIONS["description"]),
        Field("target", "float", required=False, description=KEY_DESCRIPTIONS["target"]),
        Field("goalpost_lower", "float", required=False, description="The lower goalpost, below `goalpost_upper`; "
                                                                     "give both or neither."),
        Field("goalpost_upper", "float", required=False, description="The upper goalpost."),
        Field("denominator", "text", required=False, description=KEY_DESCRIPTIONS["denominator"]),
        Field("derive", "text", required=False, description="A derive rule as a YAML flow mapping, e.g. `{kind: "
                                                            "count, where: {item_type: living_lab}}`."),
    ),
    unique=("id",),
    data=False,
)


def read_framework_table(path: str | Path) -> Framework:
    """A framework from a flat CSV table with one row per node and its `parent` (empty for the top node).

    An empty weight means 1; indicators (nodes no other node names as parent) need a direction of 1 or -1.
    """
    from ..inventory.derive import check_rule

    name = str(path)
    table = read_table(path, FLAT_SCHEMA)
    ids = list(table["id"])
    parents = {p for p in table["parent"] if p}
    problems: list[Problem] = []
    nodes: list[Node] = []
    for row in table.to_dict("records"):
        line, node_id = int(row["_line"]), row["id"]
        is_leaf = node_id not in parents
        parent = row["parent"] or None
        if parent is not None and parent not in ids:
            problems.append(Problem(name, f"node {node_id!r}: unknown parent {parent!r}{did_you_mean(parent, ids)}",
                                    line, "parent"))
        direction = row["direction"]
        if is_leaf and direction not in (1.0, -1.0):
            shown = "empty" if math.isnan(direction) else f"{direction:g}"
            problems.append(Problem(name, f"indicator {node_id!r}: direction {shown} must be 1 (higher is better) "
                                          "or -1 (lower is better)", line, "direction"))
        lower, upper = row.get("goalpost_lower", math.nan), row.get("goalpost_upper", math.nan)
        if math.isnan(lower) != math.isnan(upper) or (not math.isnan(lower) and lower >= upper):
            problems.append(Problem(name, f"node {node_id!r}: give both goalpost_lower and goalpost_upper, lower "
                                          "below upper", line, "goalpost_lower"))
        derive = None
        if row.get("derive"):
            try:
                derive, _ = load_yaml(row["derive"], name, line)
            except InputError as err:
                problems.append(Problem(name, f"node {node_id!r}: derive is not a valid YAML mapping: "
                                              f"{err.problems[0].message.removeprefix('not valid YAML: ')}",
                                        line, "derive"))
            else:
                problems += [Problem(name, f"node {node_id!r}: {m}", line, "derive") for m in check_rule(derive)]
        target = row.get("target", math.nan)
        nodes.append(Node(
            id=node_id, name=row["name"] or node_id, parent=parent,
            weight=1.0 if math.isnan(row["weight"]) else float(row["weight"]),
            direction=int(direction) if direction in (1.0, -1.0) else 1,
            unit=row.get("unit"), description=row.get("description"),
            target=None if math.isnan(target) else float(target),
            goalposts=None if math.isnan(lower) or math.isnan(upper) or lower >= upper else (lower, upper),
            denominator=row.get("denominator"), derive=derive if isinstance(derive, dict) else None, line=line))
    if problems:
        raise InputError(problems)
    return Framework.from_nodes(nodes, name)
