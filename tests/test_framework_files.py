"""Reading frameworks: the sci-2022 preset, nested YAML/JSON trees and flat CSV tables, with located errors."""

from __future__ import annotations

import json
import textwrap

import pytest

from smartcities.errors import InputError
from smartcities.inventory.derive import check_rule
from smartcities.model.framework_files import presets, read_framework

DOMAINS = ["service_innovation", "urban_intelligence", "urban_sustainability", "urban_openness",
           "infrastructure_integration", "urban_innovation", "collaborative_partnership", "governance"]


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(source) -> list[str]:
    with pytest.raises(InputError) as err:
        read_framework(source)
    return [str(p) for p in err.value.problems]


# --- the preset ------------------------------------------------------------------------------------------------

def test_preset_has_the_eight_domains_each_with_two_to_five_described_derived_leaves():
    fw = read_framework("sci-2022")
    assert "sci-2022" in presets()
    assert fw.root() == "index"
    assert fw.children["index"] == DOMAINS
    assert fw.n_levels == 3
    for domain in DOMAINS:
        node = fw.by_id[domain]
        assert node.description and node.line is not None
        leaves = fw.children[domain]
        assert 2 <= len(leaves) <= 5, domain
        for leaf in leaves:
            n = fw.by_id[leaf]
            assert fw.children[leaf] == []
            assert n.description and n.description.endswith("."), leaf
            assert n.unit and n.direction in (1, -1) and n.weight > 0, leaf
            assert n.derive is not None and check_rule(n.derive) == [], leaf
    assert len(fw.leaves()) == len(set(fw.leaves()))
    assert fw.weight_sets == {"three_trends": {"urban_intelligence": 2.0, "infrastructure_integration": 2.0,
                                               "urban_openness": 2.0}}


def test_preset_covers_the_report_measures():
    fw = read_framework("sci-2022")
    rules = {leaf: fw.by_id[leaf].derive for leaf in fw.leaves()}
    assert rules["intelligence_rate"] == {
        "kind": "share", "where": {"technologies": {"any_of": "intelligent"}},
        "of": {"item_type": ["app_web_service", "infrastructure_service", "project"]}}
    assert rules["sustainability_share"]["where"] == {"energy_environment": ["direct", "indirect"]}
    assert rules["service_domain_diversity"]["kind"] == "diversity"
    assert rules["services_per_million"]["kind"] == "per_capita"
    assert rules["living_labs"]["where"] == {"item_type": "living_lab"}
    assert any(r.get("where", {}).get("inclusive") is True for r in rules.values())
    assert any(r.get("where", {}).get("integrates_data") is True for r in rules.values())


def test_preset_node_lines_point_into_the_yaml():
    from smartcities.model.framework_files import preset_path

    fw = read_framework("sci-2022")
    text = preset_path("sci-2022").read_text(encoding="utf-8").splitlines()
    for node in fw.nodes:
        assert f"id: {node.id}" in text[node.line - 1], node.id


def test_unknown_preset_gets_did_you_mean():
    (message,) = problems_of("sci-2021")
    assert message.startswith("sci-2021: unknown framework preset 'sci-2021' (did you mean 'sci-2022'?); presets: ")


# --- the nested tree -------------------------------------------------------------------------------------------

TREE = """
id: index
name: Index
weight_sets:
  alt: {a: 2, x: 0.5}
children:
  - id: a
    name: Domain A
    weight: 2
    children:
      - id: x
        name: X
        direction: 1
        weight: 1
        unit: share
        derive: {kind: share, where: {inclusive: true}}
      - id: y
        direction: -1
        goalposts: [0, 100]
        target: 80
  - id: b
    children:
      - {id: z, direction: 1, denominator: population}
"""


def test_tree_reads_fields_lines_and_weight_sets(tmp_path):
    fw = read_framework(write(tmp_path, "fw.yaml", TREE))
    assert fw.leaves() == ["x", "y", "z"]
    x, y, z = fw.by_id["x"], fw.by_id["y"], fw.by_id["z"]
    assert (fw.by_id["a"].weight, fw.by_id["a"].line, fw.by_id["b"].name) == (2.0, 6, "b")
    assert (x.line, x.unit, x.derive) == (10, "share", {"kind": "share", "where": {"inclusive": True}})
    assert (y.direction, y.goalposts, y.target, y.name, y.line) == (-1, (0.0, 100.0), 80.0, "y", 16)
    assert (z.denominator, z.line) == ("population", 22)
    assert fw.weight_sets == {"alt": {"a": 2.0, "x": 0.5}}


def test_tree_as_json(tmp_path):
    tree = {"id": "index", "children": [{"id": "a", "children": [{"id": "x", "direction": -1},
                                                                  {"id": "y", "direction": 1}]}]}
    fw = read_framework(write(tmp_path, "fw.json", json.dumps(tree, indent=2)))
    assert fw.leaves() == ["x", "y"] and fw.by_id["x"].direction == -1
    assert fw.by_id["x"].line == 7
    # tab-indented JSON is not YAML: it still reads, without node lines
    fw = read_framework(write(tmp_path, "tabs.json", json.dumps(tree, indent="\t")))
    assert fw.leaves() == ["x", "y"] and fw.by_id["x"].line is None


def test_unknown_key_with_did_you_mean_and_line(tmp_path):
    path = write(tmp_path, "fw.yaml", TREE.replace("        weight: 1\n", "        weigth: 1\n"))
    assert problems_of(path) == [
        (f"{path} line 13: node 'x': unknown key 'weigth' (did you mean 'weight'?); known keys: id, name, "
        "description, weight, code, source, children, unit, direction, target, goalposts, denominator, derive, "
        "tier, sdg, stage, direction_basis")]


def test_bad_derive_rule_points_at_its_line(tmp_path):
    text = TREE.replace("where: {inclusive: true}", "where: {inclusive: true, lead_actor: goverment}")
    path = write(tmp_path, "fw.yaml", text)
    assert problems_of(path) == [
        (f"{path} line 15, column derive: node 'x': derive.where.lead_actor: 'goverment' is not one of public, "
        "private, public_private")]


def test_negative_weight_duplicate_id_and_bad_direction(tmp_path):
    text = TREE.replace("    weight: 2\n", "    weight: -2\n").replace("id: z,", "id: x,").replace(
        "direction: -1\n", "direction: down\n")
    path = write(tmp_path, "fw.yaml", text)
    assert problems_of(path) == [
        f"{path} line 17: node 'y': direction 'down' must be 1 (higher is better) or -1 (lower is better)"]
    text = TREE.replace("    weight: 2\n", "    weight: -2\n").replace("id: z,", "id: x,")
    path = write(tmp_path, "fw2.yaml", text)
    assert problems_of(path) == [
        f"{path} line 6, column weight: node 'a': weight -2.0 must be zero or positive",
        f"{path} line 22, column id: node 'x': duplicate id (first on line 10)",
    ]


def test_leaf_keys_on_an_aggregate_and_empty_children(tmp_path):
    text = TREE.replace("    weight: 2\n", "    weight: 2\n    direction: 1\n").replace(
        "  - id: b\n    children:\n      - {id: z, direction: 1, denominator: population}\n",
        "  - id: b\n    children: []\n")
    path = write(tmp_path, "fw.yaml", text)
    assert problems_of(path) == [
        (f"{path} line 9: node 'a': 'direction' belongs on an indicator (a node without children), not on an "
        "aggregate"),
        f"{path} line 22: node 'b': children must be a non-empty list of nodes",
    ]


def test_weight_set_with_unknown_node(tmp_path):
    path = write(tmp_path, "fw.yaml", TREE.replace("alt: {a: 2, x: 0.5}", "alt: {a: 2, xx: 0.5}"))
    assert problems_of(path) == [f"{path} line 4: weight set 'alt': unknown node 'xx' (did you mean 'x'?)"]


def test_weight_set_breaking_the_weights_rule(tmp_path):
    path = write(tmp_path, "fw.yaml", TREE.replace("alt: {a: 2, x: 0.5}", "alt: {a: 0, b: 0}"))
    assert problems_of(path) == [f"{path} line 4: weight set 'alt': node 'index': all children have weight 0"]
    path = write(tmp_path, "fw.yaml", TREE.replace("alt: {a: 2, x: 0.5}", "alt: {a: .inf, x: many}"))
    assert problems_of(path) == [f"{path} line 4: weight set 'alt': node 'a': weight inf must be zero or positive",
                                 f"{path} line 4: weight set 'alt': node 'x': weight 'many' is not a number"]


def test_invalid_yaml_and_not_a_mapping(tmp_path):
    path = write(tmp_path, "fw.yaml", "id: index\nchildren: [\n  - id: a\n")
    (message,) = problems_of(path)
    assert message.startswith(f"{path} line ") and "not valid YAML" in message
    path = write(tmp_path, "fw.json", '{\n\t"id": "index",\n\t"children": [\n}\n')
    assert problems_of(path) == [f"{path} line 4: not valid JSON: Expecting value"]
    path = write(tmp_path, "list.yaml", "- id: index\n")
    assert problems_of(path) == [
        f"{path} line 1: a framework file must hold one mapping, the top node {{id, name, children}}"]


def test_a_key_given_twice_on_a_node_is_refused(tmp_path):
    path = write(tmp_path, "fw.yaml", TREE.replace("direction: -1", "direction: -1\n        direction: 1"))
    assert problems_of(path) == [f"{path} line 18, column 9: not valid YAML: key 'direction' is given twice in one "
                                 "mapping (first on line 17); keep one"]


def test_a_key_given_twice_in_a_json_object_is_refused(tmp_path):
    path = write(tmp_path, "fw.json", '{"id": "index", "name": "Index", "id": "other", "children": []}')
    assert problems_of(path) == [f"{path} line 1, column 34: not valid JSON: key 'id' is given twice in one object "
                                 "(first on line 1); keep one"]
    # keys repeated across the objects of a list are fine; the second "name" of one node is not, wherever it is
    nodes = ('{"id": "index", "name": "Index", "children": [\n  {"id": "a", "name": "A", "weight": 1},\n'
             '  {"id": "b", "name": "B {x}", "na\\u006de": "\\"B\\"", "weight": 2}\n]}')
    path = write(tmp_path, "fw.json", nodes)
    assert problems_of(path) == [f"{path} line 3, column 32: not valid JSON: key 'name' is given twice in one object "
                                 "(first on line 3); keep one"]


def test_missing_file_and_unknown_suffix(tmp_path):
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: framework file does not exist"]
    path = write(tmp_path, "fw.txt", "id: index\n")
    assert problems_of(path) == [
        f"{path}: unknown framework file type '.txt'; expected .yaml, .yml, .json or .csv"]


# --- the flat table --------------------------------------------------------------------------------------------

FLAT = """
id,name,parent,weight,direction,unit,goalpost_lower,goalpost_upper,derive
index,Index,,,,,,,
a,Domain A,index,2,,,,,
x,X,a,1,1,share,0,1,"{kind: share, where: {inclusive: true}}"
y,Y,a,,-1,,,,
b,Domain B,index,1,,,,,
z,Z,b,1,1,,,,
"""


def test_flat_table(tmp_path):
    fw = read_framework(write(tmp_path, "fw.csv", FLAT))
    assert fw.root() == "index" and fw.leaves() == ["x", "y", "z"]
    assert fw.children == {"index": ["a", "b"], "a": ["x", "y"], "x": [], "y": [], "b": ["z"], "z": []}
    x, y = fw.by_id["x"], fw.by_id["y"]
    assert (x.goalposts, x.unit, x.line, x.derive) == ((0.0, 1.0), "share", 4,
                                                        {"kind": "share", "where": {"inclusive": True}})
    assert (y.weight, y.direction, fw.by_id["a"].weight) == (1.0, -1, 2.0)


def test_flat_table_minimal_columns(tmp_path):
    fw = read_framework(write(tmp_path, "fw.csv", "id,name,parent,weight,direction\nindex,Index,,,\nx,X,index,1,1\n"
                                                  "y,Y,index,1,-1\n"))
    assert fw.leaves() == ["x", "y"]


def test_flat_unknown_parent_with_did_you_mean(tmp_path):
    path = write(tmp_path, "fw.csv", FLAT.replace("z,Z,b,", "z,Z,bb,"))
    assert problems_of(path) == [
        # with no child left, b reads as an indicator, so its missing direction is reported too
        (f"{path} line 6, column direction: indicator 'b': direction empty must be 1 (higher is better) or -1 "
        "(lower is better)"),
        f"{path} line 7, column parent: node 'z': unknown parent 'bb' (did you mean 'b'?)",
    ]


def test_flat_cycle(tmp_path):
    path = write(tmp_path, "fw.csv", FLAT.replace("a,Domain A,index,", "a,Domain A,x,"))
    (message,) = problems_of(path)
    assert message.startswith(f"{path} line 3, column parent: node 'a': is part of a cycle: a → x → a")


def test_flat_negative_weight(tmp_path):
    path = write(tmp_path, "fw.csv", FLAT.replace("z,Z,b,1,", "z,Z,b,-1,"))
    assert problems_of(path) == [f"{path} line 7, column weight: node 'z': weight -1.0 must be zero or positive"]


def test_flat_bad_direction_goalposts_and_derive(tmp_path):
    text = FLAT.replace("y,Y,a,,-1,", "y,Y,a,,,").replace(",0,1,\"{kind: share", ",1,0,\"{kind: shares")
    path = write(tmp_path, "fw.csv", text)
    assert problems_of(path) == [
        (f"{path} line 4, column goalpost_lower: node 'x': give both goalpost_lower and goalpost_upper, lower below "
        "upper"),
        (f"{path} line 4, column derive: node 'x': derive.kind: 'shares' is not one of count, share, presence, "
        "diversity, distinct, per_capita, mean (did you mean 'share'?)"),
        (f"{path} line 5, column direction: indicator 'y': direction empty must be 1 (higher is better) or -1 "
        "(lower is better)"),
    ]


def test_flat_unknown_column(tmp_path):
    path = write(tmp_path, "fw.csv", FLAT.replace("derive\n", "derive,weigth\n", 1).replace(
        "index,Index,,,,,,,\n", "index,Index,,,,,,,,\n"))
    got = problems_of(path)
    assert got[0].startswith(f"{path} line 1, column weigth: unknown column; not one of id, name, parent, weight,")
    assert got[0].endswith("(did you mean 'weight'?)")


def test_flat_duplicate_id(tmp_path):
    path = write(tmp_path, "fw.csv", FLAT.replace("z,Z,b,", "y,Z,b,"))
    assert problems_of(path) == [f"{path} line 7, column id: duplicate id 'y' (first on line 5)"]
