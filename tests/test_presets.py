"""The shipped framework presets: their counts as the sources give them, the metadata the reader keeps, the
`frameworks` command, and a spec built on a preset."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.model.framework_files import PRESET_DIR, preset_about, presets, read_framework, read_framework_tree

runner = CliRunner()
PRESETS = ["c3m-2019", "giffinger-2007", "iese-cimi", "imd-sci-2020", "iso-37120", "sci-2022", "u4ssc-kpi"]


def per_level(fw) -> list[int]:
    """Nodes per level, the top node first."""
    return [sum(1 for v in fw.level.values() if v == k) for k in range(fw.n_levels, 0, -1)]


def leaves_under(fw, node_id: str) -> list[str]:
    kids = fw.children[node_id]
    return [node_id] if not kids else [leaf for k in kids for leaf in leaves_under(fw, k)]


def test_every_preset_is_shipped_with_its_provenance():
    assert presets() == PRESETS
    for name in PRESETS:
        assert (PRESET_DIR / f"{name}.yaml").read_text(encoding="utf-8").startswith("# ")  # the header says whence
        about = preset_about(name)
        assert about["coverage"] in ("full", "tree-only") and about["title"] and about["source"] and about["licence"]


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_through_the_reader_a_spec_uses(name):
    fw = read_framework(name)
    assert fw.source.endswith(f"{name}.yaml")
    assert fw.compile().n_leaves == len(fw.leaves())


def test_u4ssc_counts():
    fw = read_framework("u4ssc-kpi")
    assert per_level(fw) == [1, 3, 7, 27, 91]
    dims = {fw.by_id[d].name: len(leaves_under(fw, d)) for d in fw.children["u4ssc"]}
    assert dims == {"Economy": 45, "Environment": 17, "Society and Culture": 29}
    subs = {fw.by_id[s].name: len(leaves_under(fw, s)) for d in fw.children["u4ssc"] for s in fw.children[d]}
    assert subs == {"ICT": 17, "Productivity": 7, "Infrastructure": 21, "Environment": 13, "Energy": 4,
                    "Education, Health and Culture": 12, "Safety, Housing and Social Inclusion": 17}


def test_u4ssc_leaves_carry_the_sources_metadata():
    fw = read_framework("u4ssc-kpi")
    kpis = [fw.by_id[leaf] for leaf in fw.leaves()]
    assert len({k.code for k in kpis}) == 91
    assert Counter(k.tier for k in kpis) == {"core": 54, "advanced": 37}  # as the KS vocabulary codes them
    assert all(k.tier == ("core" if k.code.endswith("C") else "advanced") for k in kpis)
    assert all(k.sdg and all(1 <= g <= 17 for g in k.sdg) for k in kpis)
    assert Counter(k.direction_basis for k in kpis) == {"wording": 76, "unstated": 15}
    first = fw.by_id["ec_ict_ict_1c"]
    assert (first.code, first.name, first.sdg, first.stage) == ("EC: ICT: ICT: 1C", "Household Internet Access",
                                                                (17,), "output")
    assert fw.by_id["ec_p_em_1c"].direction == -1  # Unemployment Rate: lower is better
    assert fw.by_id["en_en_ws_4c"].name == "Wastewater Treatment"


def test_imd_counts():
    fw = read_framework("imd-sci-2020")
    assert per_level(fw) == [1, 2, 10, 39]
    items = {area: len(fw.children[area]) for pillar in fw.children["imd_sci"] for area in fw.children[pillar]}
    assert [items[f"structures_{a}"] for a in ("health_safety", "mobility", "activities", "opportunities",
                                                "governance")] == [6, 2, 2, 5, 4]
    assert [items[f"technologies_{a}"] for a in ("health_safety", "mobility", "activities", "opportunities",
                                                  "governance")] == [6, 5, 1, 4, 4]
    assert fw.by_id["structures_health_safety_2"].name == "Recycling services are satisfactory"
    assert {(fw.by_id[i].direction, fw.by_id[i].direction_basis) for i in fw.leaves()} == {(1, "wording")}


def test_c3_monitor_counts_and_published_weights():
    fw = read_framework("c3m-2019")
    assert per_level(fw) == [1, 3, 9]
    assert [len(fw.children[s]) for s in fw.children["c3_index"]] == [2, 3, 4]
    top = fw.compile().matrices[-1][:, 0]  # sub-index weights rescaled within the index
    assert top.tolist() == pytest.approx([0.4, 0.4, 0.2])
    assert preset_about("c3m-2019")["coverage"] == "tree-only"


@pytest.mark.parametrize("name, leaves", [("iese-cimi", 9), ("iso-37120", 19), ("giffinger-2007", 6)])
def test_tree_only_presets(name, leaves):
    fw = read_framework(name)
    assert per_level(fw) == [1, leaves]
    assert preset_about(name)["coverage"] == "tree-only"
    assert {fw.by_id[i].direction_basis for i in fw.leaves()} == {"unstated"}


def test_reader_keeps_the_metadata_and_checks_it(tmp_path):
    good = tmp_path / "fw.yaml"
    good.write_text("id: top\ncode: T\nsource: a report\nchildren:\n"
                    "  - {id: a, code: 'A: 1C', tier: core, sdg: [6, 11], stage: outcome, direction: -1,\n"
                    "     direction_basis: source}\n", encoding="utf-8")
    fw = read_framework_tree(good)
    a = fw.by_id["a"]
    assert (a.code, a.tier, a.sdg, a.stage, a.direction, a.direction_basis) == ("A: 1C", "core", (6, 11),
                                                                               "outcome", -1, "source")
    assert (fw.by_id["top"].code, fw.by_id["top"].source) == ("T", "a report")
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: {title: x, coverage: partial}\nid: top\nchildren:\n  - {id: a}\n"
                   "  - {id: b, tier: cor, sdg: [18]}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_framework_tree(bad)
    messages = {(p.line, p.message) for p in err.value.problems}
    assert (1, "preset: coverage 'partial' must be one of full, tree-only") in messages
    assert (5, "node 'b': tier 'cor' must be one of core, advanced (did you mean 'core'?)") in messages
    assert (5, "node 'b': sdg [18] must be a list of goal numbers 1–17") in messages


def test_cli_lists_the_presets():
    result = runner.invoke(app, ["frameworks"])
    assert result.exit_code == 0, result.output
    for name in PRESETS:
        assert name in result.output
    assert "1 / 3 / 7 / 27 / 91 nodes per level, full" in " ".join(result.output.split())
    rows = json.loads(runner.invoke(app, ["frameworks", "--json"]).output)
    by_name = {r["name"]: r for r in rows}
    assert by_name["imd-sci-2020"]["levels"] == [1, 2, 10, 39]
    assert by_name["iso-37120"]["coverage"] == "tree-only"


def test_cli_shows_a_tree():
    text = " ".join(runner.invoke(app, ["frameworks", "show", "u4ssc-kpi"]).output.split())
    assert "EC: ICT: ICT: 1C Household Internet Access [ec_ict_ict_1c] (tier core, direction +1 (wording), " \
           "SDG 17, stage output)" in text
    assert "Freshwater Consumption [en_en_ws_3c] (tier core, direction unstated" in text
    tree_only = runner.invoke(app, ["frameworks", "show", "iso-37120"]).output
    assert "tree-only: no indicators" in tree_only
    tree = json.loads(runner.invoke(app, ["frameworks", "show", "c3m-2019", "--json"]).output)["tree"]
    assert [(c["name"], c["weight"], len(c["children"])) for c in tree["children"]] == [
        ("Cultural Vibrancy", 40.0, 2), ("Creative Economy", 40.0, 3), ("Enabling Environment", 20.0, 4)]


def test_cli_unknown_preset_says_did_you_mean():
    result = runner.invoke(app, ["frameworks", "show", "u4sc-kpi"])
    assert result.exit_code == 2
    assert "unknown framework preset 'u4sc-kpi' (did you mean 'u4ssc-kpi'?)" in result.stderr


# A synthetic fixture, made up for this test (three invented cities, invented values): three U4SSC leaves with
# values, the other 88 without.
CITIES = "city,name\nalpha,Alpha\nbeta,Beta\ngamma,Gamma\n"
VALUES = {"ec_ict_ict_1c": (90, 70, 50), "ec_p_em_1c": (8, 4, 6), "en_en_ws_2c": (100, 150, 120)}


def write_spec(folder, framework: str, values: dict) -> str:
    (folder / "cities.csv").write_text(CITIES, encoding="utf-8")
    rows = [f"{city},{leaf},{v}" for leaf, vs in values.items() for city, v in zip(("alpha", "beta", "gamma"), vs)]
    (folder / "indicators.csv").write_text("city,indicator,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    spec = folder / "spec.yaml"
    spec.write_text(f"name: synthetic\nframework: {framework}\ncities: cities.csv\nindicators: indicators.csv\n"
                    "pipeline:\n  - normalise: {method: minmax, range: [0, 100]}\n"
                    "  - aggregate: {method: arithmetic}\n", encoding="utf-8")
    return str(spec)


def test_a_spec_builds_on_the_preset_leaves_it_gives_and_logs_the_rest(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["build", write_spec(tmp_path, "u4ssc-kpi", VALUES), "--out", str(out),
                                 "--no-uncertainty", "--quiet"])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out / "scores.csv").set_index(["node", "city"])["score"]
    # by hand: min-max 0–100 per indicator (unemployment flipped), then means up the tree; Society & Culture
    # has no leaf left, so the index is the mean of Economy and Environment.
    # Economy = mean(ICT [100, 50, 0], Productivity [0, 100, 50]) = [50, 75, 25]; Environment = [0, 100, 40]
    assert [scores["ec", c] for c in ("alpha", "beta", "gamma")] == pytest.approx([50, 75, 25])
    assert [scores["u4ssc", c] for c in ("alpha", "beta", "gamma")] == pytest.approx([25, 87.5, 32.5])
    log = pd.read_csv(out / "processing.csv")
    dropped = log[log["action"] == "no-data"]
    assert len(dropped) == 88 and set(dropped["severity"]) == {"warning"}
    assert "ec_ict_ict_2c" in set(dropped["indicator"]) and "ec_ict_ict_1c" not in set(dropped["indicator"])
    assert log[log["action"] == "direction-unstated"]["indicator"].tolist() == ["en_en_ws_2c"]


def test_a_tree_only_preset_without_matching_values_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["validate", write_spec(tmp_path, "iese-cimi", VALUES)])
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "line 2: framework: the indicators table gives values for none of the 9 leaves of preset iese-cimi" in text
    assert "iese-cimi is tree-only" in text


def test_a_tree_only_preset_builds_on_values_for_its_leaves(tmp_path):
    values = {"economy": (1, 2, 3), "technology": (3, 2, 1)}
    result = runner.invoke(app, ["validate", write_spec(tmp_path, "iese-cimi", values)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "ok — 3 units, 2 indicators" in text
    assert "direction-unstated 2" in text  # the themes' direction is nobody's word: said, not hidden


def test_a_misspelt_preset_in_a_spec_says_did_you_mean(tmp_path):
    result = runner.invoke(app, ["validate", write_spec(tmp_path, "u4sc-kpi", VALUES)])
    assert result.exit_code == 2
    assert "line 2: framework: unknown preset 'u4sc-kpi' (did you mean 'u4ssc-kpi'?)" in result.stderr
