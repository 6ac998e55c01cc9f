"""`validate` runs every check `build` runs short of computing: a spec it passes does not fail on a name or a
parameter at build time, and a spec it rejects is rejected by `build` with the same located message."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import PACKAGE_DATA, asem_spec
from typer.testing import CliRunner

from smartcities.cli import app

runner = CliRunner()
DEMO_SPEC = PACKAGE_DATA / "demo" / "sci2022.yaml"


def demo_spec(tmp_path: Path) -> Path:
    """The bundled demo spec, copied with its inventory and cities paths made absolute."""
    text = DEMO_SPEC.read_text(encoding="utf-8")
    text = text.replace("../sci2022/", f"{PACKAGE_DATA / 'sci2022'}/").replace("../cities/",
                                                                             f"{PACKAGE_DATA / 'cities'}/")
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, snippet: str) -> int:
    """The line a snippet of the file starts on."""
    text = path.read_text(encoding="utf-8")
    return text[: text.index(snippet)].count("\n") + 1


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` by `new` (once) and return the line `new` now starts on."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line_of(path, new)


def rejected(spec: Path, tmp_path: Path, *options: str) -> str:
    """validate and build (with these options) both exit 2 with the same message, and build writes nothing; that
    message."""
    checked = runner.invoke(app, ["validate", str(spec), *options])
    assert checked.exit_code == 2, checked.output
    out = tmp_path / "out"
    built = runner.invoke(app, ["build", str(spec), "--out", str(out), "--quiet", *options])
    assert built.exit_code == 2, built.output
    assert checked.stderr == built.stderr
    assert "Traceback" not in checked.output and not out.exists()
    return checked.stderr


ASEM_CASES = [
    ("standard", "group: EurAsia_group", "group: EurAsia_grp",
     r"impute: unknown group 'EurAsia_grp' \(did you mean 'EurAsia_group'\?\); have: .*EurAsia_group"),
    ("standard", "{method: arithmetic}", "{method: arithmetic, weights: equl}",
     r"aggregate: weights 'equl' is not one of framework, equal \(did you mean 'equal'\?\)"),
    ("standard", "{method: arithmetic}", "{method: arithmetic, by_node: {Conect: geometric}}",
     r"aggregate: by_node names 'Conect', which is not an aggregate node \(did you mean 'Conn'\?\)"),
    ("standard", "{method: arithmetic}", "{method: arithmetic, by_level: {9: geometric}}",
     r"aggregate: by_level: level 9 has no aggregates; levels 2, 3, 4 do"),
    ("standard", "{method: arithmetic}", "{method: arithmetic, weights: {Conn: -3}}",
     r"aggregate: weights: node 'Conn': weight -3 must be zero or positive"),
    ("standard", "{method: arithmetic}", "{method: arithmetic, weights: {Conn: 0, Sust: 0}}",
     r"aggregate: weights: node 'Index': all children have weight 0"),
    ("standard", "pipeline:", "weights: {mine: {Conn: .inf}}\npipeline:",
     r"weights 'mine': node 'Conn': weight inf must be zero or positive"),
    ("standard", "pipeline:", "weights: {mine: {Conn: 0, Sust: 0}}\npipeline:",
     r"weights 'mine': node 'Index': all children have weight 0"),
    ("standard", "fallback: log", "fallback: logg",
     r"treat: fallback 'logg' is not one of log, boxcox, none \(did you mean 'log'\?\)"),
    ("standard", "{method: minmax, range: [0, 100]}", "{method: goalposts}",
     r"normalise: goalposts needs goalposts: \[lower, upper\] on every indicator; 49 of 49 in .*iMeta\.csv have "
     r"none: "),
    ("uncertainty", "values: [arithmetic, geometric]", "values: [arithmetic, geometrc]",
     r"uncertainty: factor 'aggregation': aggregate: method 'geometrc' is not one of .* \(did you mean "
     r"'geometric'\?\)"),
    ("uncertainty", "{method: zscore, mean: 10, sd: 2}", "{method: zscor, mean: 10, sd: 2}",
     r"uncertainty: factor 'normalisation': normalise: method 'zscor' is not one of .* \(did you mean "
     r"'zscore'\?\)"),
    ("uncertainty", "parameter: max_points", "parameter: max_pionts",
     r"uncertainty: factor 'winsorisation': treat: unknown parameter 'max_pionts' \(did you mean 'max_points'\?\)"),
    ("uncertainty", "levels: [2, 3]", "levels: [2, 7]",
     r"uncertainty: factor 'weights': levels \[7\] have no weights to perturb \(levels 1\.\.3\)"),
    ("uncertainty", "target: Index", "target: Indx",
     r"uncertainty: target 'Indx' is not a node of the framework \(did you mean 'Index'\?\)"),
    ("uncertainty", "weights:         {step: aggregate", "weights:         {step: agregate",
     r"uncertainty: factor 'weights': step 'agregate' is not in the pipeline .*\(did you mean 'aggregate'\?\)"),
]


@pytest.mark.parametrize("example, old, new, expected", ASEM_CASES, ids=[c[2] for c in ASEM_CASES])
def test_asem_spec_problems_are_located_and_shared_by_validate_and_build(tmp_path, example, old, new, expected):
    spec = asem_spec(tmp_path, example)
    line = edit(spec, old, new)
    message = rejected(spec, tmp_path)
    assert re.fullmatch(rf"smartcities: error: {re.escape(str(spec))} line {line}: {expected}.*\n", message), message


def test_a_named_weight_set_of_the_spec_is_known(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    edit(spec, "pipeline:", "weights:\n  connected: {Conn: 2}\npipeline:")
    line = edit(spec, "{method: arithmetic}", "{method: arithmetic, weights: conected}")
    message = rejected(spec, tmp_path)
    assert f"line {line}: aggregate: weights 'conected' is not one of framework, equal, connected (did you mean " \
           "'connected'?)" in message
    edit(spec, "weights: conected", "weights: connected")
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0


def test_block_style_points_at_the_parameter_and_the_list_item(tmp_path):
    spec = asem_spec(tmp_path, "uncertainty")
    edit(spec, "  - impute: {method: group-mean, group: EurAsia_group}",
         "  - impute:\n      method: group-mean\n      group: EurAsia_grup")
    message = rejected(spec, tmp_path)
    assert f"spec.yaml line {line_of(spec, 'group: EurAsia_grup')}: impute: unknown group" in message
    edit(spec, "group: EurAsia_grup", "group: EurAsia_group")
    edit(spec, "    winsorisation:   {step: treat, parameter: max_points, values: [1, 2, 3, 4, 5]}",
         "    leave:\n      leave_out:\n        - Conn\n        - Bogus")
    message = rejected(spec, tmp_path)
    line = line_of(spec, "- Bogus")
    assert f"spec.yaml line {line}: uncertainty: factor 'leave': leave_out: 'Bogus' is not a node" in message


def test_every_problem_of_a_kind_at_once(tmp_path):
    spec = asem_spec(tmp_path, "uncertainty")
    edit(spec, "values: [arithmetic, geometric]", "values: [arithmetic, geometrc]")
    edit(spec, "target: Index", "target: Indx")
    message = rejected(spec, tmp_path)
    lines = message.splitlines()
    assert len(lines) == 2 and "target 'Indx'" in lines[0] and "'geometrc'" in lines[1]


DEMO_CASES = [
    ("peer_group: region", "peer_group: regoin",
     r"grades: peer_group 'regoin' is not a group column \(did you mean 'region'\?\); have: .*region"),
    ("values: [arithmetic, geometric]", "values: [arithmetic, geometrc]",
     r"uncertainty: factor 'aggregation': aggregate: method 'geometrc' is not one of .*\(did you mean 'geometric'\?\)"),
    ("fallback: log", "fallback: lg", r"treat: fallback 'lg' is not one of log, boxcox, none"),
    ("parameter: max_points, values: [1, 3, 5]", "parameter: max_points, values: [1, three, 5]",
     r"uncertainty: factor 'treatment': treat: max_points: Input should be a valid integer.*\(got 'three'\)"),
]


@pytest.mark.parametrize("old, new, expected", DEMO_CASES, ids=[c[1] for c in DEMO_CASES])
def test_demo_spec_problems_are_located_and_shared_by_validate_and_build(tmp_path, old, new, expected):
    spec = demo_spec(tmp_path)
    line = edit(spec, old, new)
    message = rejected(spec, tmp_path)
    assert re.fullmatch(rf"smartcities: error: {re.escape(str(spec))} line {line}: {expected}.*\n", message), message


def test_the_examples_and_the_demo_validate(tmp_path):
    result = runner.invoke(app, ["validate", str(demo_spec(tmp_path))])
    assert result.exit_code == 0 and "ok — 31 units" in " ".join(result.output.split()), result.output
    for example in ("standard", "geometric", "uncertainty"):
        result = runner.invoke(app, ["validate", str(asem_spec(tmp_path, example))])
        assert result.exit_code == 0, result.output
        assert "ok — 51 units, 49 indicators" in " ".join(result.output.split())


def test_named_weight_set_with_an_unknown_node(tmp_path):
    spec = asem_spec(tmp_path, "standard")
    spec.write_text(spec.read_text(encoding="utf-8") + "weights:\n  mine:\n    Physcal: 2\n", encoding="utf-8")
    message = rejected(spec, tmp_path)
    line = line_of(spec, "    Physcal: 2")
    assert f"spec.yaml line {line}: weights 'mine': unknown node 'Physcal' (did you mean 'Physical'?)" in message


def tiny(tmp_path: Path, pipeline: str, directions=(1, -1)) -> Path:
    """Three cities on two indicators with these directions, and a spec with this pipeline."""
    (tmp_path / "cities.csv").write_text("city,name,country\naa,Alpha,FR\nbb,Beta,DE\ncc,Gamma,JP\n")
    (tmp_path / "indicators.csv").write_text("city,indicator,value\naa,x1,10\nbb,x1,20\ncc,x1,40\n"
                                             "aa,x2,5\nbb,x2,1\ncc,x2,3\n")
    (tmp_path / "framework.yaml").write_text("id: index\nchildren:\n" + "".join(
        f"  - {{id: x{i}, direction: {d}}}\n" for i, d in enumerate(directions, 1)))
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: Tiny\nindicators: indicators.csv\ncities: cities.csv\nframework: framework.yaml\n"
                    f"pipeline:\n{pipeline}")
    return spec


def test_lower_is_better_indicators_need_a_normalise_step_before_aggregate(tmp_path):
    spec = tiny(tmp_path, "  - treat: {method: winsorise}\n  - aggregate: {method: arithmetic}\n")
    assert rejected(spec, tmp_path) == (
        f"smartcities: error: {spec} line 7: aggregate: 1 indicator with direction -1 (lower is better: x2) would "
        "be aggregated as if higher were better; add a normalise step before aggregate (e.g. `- normalise: "
        "{method: minmax}`), which turns them round\n")
    spec = tiny(tmp_path, "  - aggregate: {method: arithmetic}\n", directions=(1, 1))
    assert runner.invoke(app, ["build", str(spec), "--out", str(tmp_path / "out"), "--quiet"]).exit_code == 0


@pytest.mark.parametrize("step", ["normalise: {method: minmax}", "impute: {method: mean}", "screen: {}"])
def test_a_data_step_after_aggregate_is_refused_at_its_line(tmp_path, step):
    spec = tiny(tmp_path, f"  - normalise: {{method: rank}}\n  - aggregate: {{method: arithmetic}}\n  - {step}\n")
    name = step.split(":")[0]
    assert rejected(spec, tmp_path) == (f"smartcities: error: {spec} line 8: the {name} step comes after aggregate, "
                                        "so no score would use it: move it before aggregate\n")


MINMAX = "  - normalise: {method: minmax}\n  - aggregate: {method: arithmetic}\n"
CITIES = ("city,name,country,region,lat,lon,population\naa,Alpha,FR,Europe,48.8,2.3,1000000\n"
          "bb,Beta,DE,Europe,52.5,13.4,2000000\ncc,Gamma,JP,Asia,35.7,139.7,3000000\n")  # nothing to fill


def test_rows_of_an_indicator_that_is_no_leaf_are_left_out_with_a_warning_naming_them(tmp_path):
    spec = tiny(tmp_path, MINMAX)
    (tmp_path / "cities.csv").write_text(CITIES)
    data = tmp_path / "indicators.csv"
    data.write_text("city,indicator,value\naa,x1,10\nbb,x_1,20\ncc,x1,40\naa,x2,5\nbb,x2,1\ncc,x2,3\ncc,x_1,30\n"
                    "aa,index,7\n")
    out = tmp_path / "built"
    built = runner.invoke(app, ["build", str(spec), "--out", str(out)])
    assert built.exit_code == 0, built.output
    log = pd.read_csv(out / "processing.csv", keep_default_na=False)
    rows = log[log.action == "not-in-framework"]
    assert rows.indicator.tolist() == ["x_1", "index"] and rows["count"].tolist() == [2, 1]
    assert set(rows.severity) == {"warning"} and set(rows.step) == {"inputs"}
    assert rows.detail.tolist() == [
        f"{data} line 3, column indicator: unknown indicator 'x_1': not a leaf of the framework (did you mean "
        "'x1'?); its rows are left out",
        f"{data} line 9, column indicator: 'index' is an aggregate of the framework, not an indicator: values are "
        "read for its leaves only, and its score is computed from them; its rows are left out"]
    assert set(pd.read_csv(out / "indicators.csv").indicator) == {"x1", "x2"}
    assert "warning: inputs not-in-framework 3 (2 indicators: x_1, index)" in " ".join(built.stderr.split())
    assert "inputs not-in-framework 3" in rejected(spec, tmp_path, "--strict")


def test_a_wide_indicator_column_that_is_no_leaf_is_refused_at_its_spec_line(tmp_path):
    spec = tiny(tmp_path, MINMAX)
    (tmp_path / "wide.csv").write_text("id,a,b,c\naa,10,5,1\nbb,20,1,2\ncc,40,3,3\n")
    line = edit(spec, "indicators: indicators.csv\n", "indicators:\n  file: wide.csv\n  format: wide\n  id: id\n"
                "  columns:\n    x1: a\n    x2: b\n    heat: c\n    index: c\n")
    assert rejected(spec, tmp_path) == (
        f"smartcities: error: {spec} line {line + 7}: indicators: columns: unknown indicator 'heat': not a leaf of "
        "the framework\n"
        f"smartcities: error: {spec} line {line + 8}: indicators: columns: 'index' is an aggregate of the framework, "
        "not an indicator: values are read for its leaves only, and its score is computed from them\n")


def test_a_measured_value_of_a_derived_indicator_is_refused_at_its_line(tmp_path):
    spec = demo_spec(tmp_path)
    data = tmp_path / "indicators.csv"
    data.write_text("city,indicator,value\nparis,governance,5\namsterdam,services_count,999\n")
    edit(spec, "inventory:", "indicators: indicators.csv\ninventory:")
    assert rejected(spec, tmp_path) == (
        f"smartcities: error: {data} line 3, column indicator: a value for city 'amsterdam': indicator "
        "'services_count' has a derive rule in the framework: its values are computed from the inventory, and a "
        "measured one would replace them; remove the row, or the indicator's derive rule\n")


def test_validate_strict_refuses_the_warnings_of_a_builds_inputs_stage(tmp_path):
    spec = tiny(tmp_path, MINMAX)
    (tmp_path / "cities.csv").write_text(CITIES)
    rows = "aa,x1,{1},{0}\nbb,x1,{2},{0}\ncc,x1,{3},{0}\naa,x2,5,{0}\nbb,x2,1,{0}\ncc,x2,3,{0}\n"
    (tmp_path / "indicators.csv").write_text("city,indicator,value,year\n" + rows.format(2020, "", "", ""))
    empty = "no-data 1 (1 indicator: x1): no value for any unit: left out of every score (an error under --strict)"
    assert rejected(spec, tmp_path, "--strict") == f"smartcities: error: {spec}: inputs {empty}\n"
    (tmp_path / "indicators.csv").write_text("city,indicator,value,year\n" + rows.format(2020, "", "", "")
                                             + rows.format(2021, 10, 20, 40))
    spec.write_text(spec.read_text() + "editions: {column: year}\n")
    assert rejected(spec, tmp_path, "--strict") == f"smartcities: error: {spec}: inputs [2020] {empty}\n"
