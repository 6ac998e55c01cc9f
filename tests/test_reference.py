"""docs/reference.md: the committed page is the one the code renders, and it names every spec key, every method
with its parameters, every column of every input table and of every output, each with a description."""

from __future__ import annotations

import subprocess
import sys
import typing

import pandas as pd
import pytest
import yaml
from conftest import ASEM_IDATA, ASEM_IMETA, EXAMPLES, TESTS, need_shared
from pydantic import BaseModel

from smartcities.engine.aggregate import aggregate
from smartcities.engine.registry import DATA_STEPS, methods, parameters, steps
from smartcities.io import coinr
from smartcities.io.inventory import CITIES_SCHEMA, INDICATORS_SCHEMA
from smartcities.model import framework_files, spec
from smartcities.model.codebook import COLUMNS
from smartcities.reference import OUTPUTS, codebook_meanings, render_reference, spec_models, type_name

PAGE_FILE = TESTS.parent / "docs" / "reference.md"
REGENERATE = "docs/reference.md is out of date: run python -m smartcities.reference > docs/reference.md"


@pytest.fixture(scope="module")
def page() -> str:
    return render_reference()


def section(page: str, heading: str, level: int = 2) -> str:
    """The text under `heading` (e.g. '## Pipeline steps') up to the next heading of the same level."""
    marks = "#" * level + " "
    start = page.index(f"\n{heading}\n")
    end = page.find(f"\n{marks}", start + len(heading) + 2)
    return page[start: end if end >= 0 else len(page)]


def row(text: str, first_cell: str) -> str:
    """The table row of `text` whose first cell is `first_cell`."""
    rows = [line for line in text.splitlines() if line.startswith(f"| {first_cell} |")]
    assert len(rows) == 1, f"expected one row for {first_cell}, found {len(rows)}"
    return rows[0]


def test_the_committed_page_is_the_one_the_code_renders(page):
    assert PAGE_FILE.read_text(encoding="utf-8") == page, REGENERATE


def test_the_regeneration_command_prints_the_page(page):
    out = subprocess.run([sys.executable, "-m", "smartcities.reference"], capture_output=True, text=True,
                         check=True)
    assert out.stdout == page


def test_every_spec_model_and_key_is_on_the_page_with_a_description(page):
    models = {m for _, m in spec_models()}
    declared = {m for m in vars(spec).values()
                if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == spec.__name__
                and m.model_fields}
    assert models == declared, "every model of the spec must be reachable from IndexSpec"
    spec_text = section(page, "## Index spec")
    for path, model in spec_models():
        for key, info in model.model_fields.items():
            assert info.description, f"spec key {path}{key} has no Field(description=...)"
            assert " ".join(info.description.split()) in row(spec_text, f"`{path}{key}`")


def test_spec_rows_show_type_default_and_allowed_values(page):
    spec_text = section(page, "## Index spec")
    assert row(spec_text, "`uncertainty.runs`").startswith("| `uncertainty.runs` | `int` | `500` | ≥ 2 |")
    assert "| `sobol`, `montecarlo` |" in row(spec_text, "`uncertainty.design`")
    assert "| required |" in row(spec_text, "`pipeline`")
    assert "> 0; < 1" in row(spec_text, "`uncertainty.factors.NAME.noise`")
    assert "`str \\| None`" in row(spec_text, "`grades.peer_group`")  # a pipe inside a table cell is escaped


def test_every_method_of_every_step_is_on_the_page_with_its_parameters(page):
    assert steps()[: len(DATA_STEPS)] == tuple(DATA_STEPS)
    pipeline = section(page, "## Pipeline steps")
    for step in steps():
        text = section(pipeline, "### `" + {"aggregator": "aggregate", "grade": "grades"}.get(step, step) + "`", 3)
        for name, fn in methods(step).items():
            assert fn.__doc__, f"{step} method {name} has no docstring"
            line = row(text, f"`{name}`")
            assert " ".join(fn.__doc__.split())[:30] in line
            for parameter, p in parameters(fn).items():
                default = "(required)" if p.default is p.empty else f"= {p.default!r}"
                assert f"`{parameter}: " in line and default in line, (step, name, parameter)
    aggregate_text = section(pipeline, "### `aggregate`", 3)
    for parameter in parameters(aggregate):
        assert f"| `{parameter}: " in aggregate_text


def test_a_step_states_its_default_method(page):
    for step, default in DATA_STEPS.items():
        assert f"Default method: `{default}`." in section(page, f"### `{step}`", 3)


@pytest.mark.parametrize("heading, schema", [
    ("## The cities table", CITIES_SCHEMA),
    ("## The indicators table", INDICATORS_SCHEMA),
    ("### The flat table (CSV with `parent`)", framework_files.FLAT_SCHEMA),
    ("### iMeta", coinr.IMETA),
])
def test_every_column_of_an_input_table_is_on_the_page_with_a_description(page, heading, schema):
    text = section(page, heading, heading.count("#"))
    for f in schema.fields:
        assert f.description, f"column {f.name} of {heading} has no description"
        line = row(text, f"`{f.name}`")
        assert ("| yes" if f.required else "| no") in line and " ".join(f.description.split()) in line


def test_cities_rows_say_what_is_required_and_what_the_continents_are(page):
    text = section(page, "## The cities table")
    assert row(text, "`city`").startswith("| `city` | yes, never empty | text |")
    assert row(text, "`population`").startswith("| `population` | no | float |")
    assert "enum: Europe, Asia, North America, Latin America, Middle East & Africa, Oceania" in row(text, "`continent`")


def test_every_codebook_column_is_on_the_page_with_its_codebook_meaning(page):
    meanings = codebook_meanings()
    text = section(page, "## The inventory table")
    for column in COLUMNS:
        assert meanings.get(column.name), f"CODEBOOK.md has no row for {column.name}"
        assert meanings[column.name] in row(text, f"`{column.name}`").replace("\\|", "|")
    assert "`living_lab` (co-creation" in meanings["item_type"]


def test_every_framework_key_is_on_the_page_with_a_description(page):
    text = section(page, "### The tree (YAML or JSON)", 3)
    for key in framework_files.TOP_KEYS:
        assert framework_files.KEY_DESCRIPTIONS.get(key), f"framework key {key} has no description"
        assert framework_files.KEY_DESCRIPTIONS[key] in row(text, f"`{key}`")
    assert "| indicators |" in row(text, "`direction`") and "| aggregates |" in row(text, "`children`")


def test_idata_columns_follow_the_imeta_codes():
    schema = coinr.idata_schema(["EurAsia_group"], ["Population"], ["Goods", "LPI"])
    assert [(f.name, f.kind, f.required) for f in schema.fields] == [
        ("uCode", "text", True), ("uName", "text", False), ("Time", "float", False),
        ("EurAsia_group", "text", False), ("Population", "float", False), ("Goods", "float", True),
        ("LPI", "float", True)]
    assert all(f.description for f in schema.fields)


def test_type_names_read_as_python_writes_them():
    assert type_name(int) == "int"
    assert type_name(str | None) == "str | None"
    assert type_name(dict[str, spec.Factor]) == "dict[str, Factor]"
    assert type_name(typing.Literal["error", "allow"]) == '"error" | "allow"'
    assert type_name(tuple[float, ...]) == "tuple[float, ...]"
    assert type_name(list[dict[str, typing.Any]]) == "list[dict[str, Any]]"


def test_spec_models_sit_at_their_key_paths():
    paths = sorted((model.__name__, path) for path, model in spec_models())
    assert paths == sorted([("IndexSpec", ""), ("CoinrData", "data."), ("Grades", "grades."),
                            ("Uncertainty", "uncertainty."), ("Factor", "uncertainty.factors.NAME."),
                            ("Backend", "backend."), ("Editions", "editions."), ("Smooth", "editions.smooth."),
                            ("Break", "editions.breaks[]."), ("WideTable", "indicators."), ("WideTable", "cities."),
                            ("Sensors", "sensors.")])


def test_output_columns_are_those_a_build_writes(tmp_path):
    """Every output file of a real build with a weight step and uncertainty (the ASEM example, few runs) is on the
    page, with its columns in order."""
    source = EXAMPLES / "asem-coinr-uncertainty.yaml"
    need_shared(source, ASEM_IDATA, ASEM_IMETA)
    from smartcities.build import build
    from smartcities.publish import write_outputs

    raw = yaml.safe_load(source.read_text())
    raw["data"].update(idata=str(ASEM_IDATA), imeta=str(ASEM_IMETA))
    raw["uncertainty"]["runs"] = 8
    raw["pipeline"].insert(-1, {"weight": {"method": "equal"}})
    spec_file = tmp_path / "asem.yaml"
    spec_file.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    write_outputs(build(spec_file), out, report=False)
    assert {p.name for p in out.glob("*.csv")} == set(OUTPUTS)
    for name, (_, columns) in OUTPUTS.items():
        written = pd.read_csv(out / name)
        assert list(written.columns) == list(columns), name
        assert len(written) > 0, name


def test_inventory_output_columns_are_those_an_inventory_build_writes():
    """The demo index has an inventory: its trends, regions and archetypes tables are on the page, columns in order
    (archetypes' share_FEATURE standing for its one column per feature clustered on)."""
    from importlib.resources import files

    from smartcities.analysis.insight import insight_of, insight_tables
    from smartcities.build import build
    from smartcities.reference import INVENTORY_OUTPUTS

    tables = insight_tables(insight_of(build(files("smartcities") / "data" / "demo" / "sci2022.yaml",
                                             uncertainty=False)))
    assert set(INVENTORY_OUTPUTS) == set(tables) - set(OUTPUTS)
    for name, (_, columns) in INVENTORY_OUTPUTS.items():
        written = [c if not c.startswith("share_") else "share_FEATURE" for c in tables[name].columns]
        assert list(dict.fromkeys(written)) == list(columns), name
        assert len(tables[name]) > 0, name
