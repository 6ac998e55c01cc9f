"""Every reader answers any bytes with a result or a located InputError, never another exception.

Real seed files (fuzz/corpus) are mutated: bytes flipped, the file cut short, delimiters, quotes, BOMs, NULs and
YAML syntax inserted, lines repeated, the header damaged. fuzz/README.md describes the longer coverage-guided run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from smartcities.cli import app
from smartcities.errors import InputError
from smartcities.inventory.coder import read_initiatives
from smartcities.io.coinr import read_coinr
from smartcities.io.documents import MAX_DEPTH, MAX_NODES, parse_document
from smartcities.io.inventory import read_cities, read_indicators, read_inventory
from smartcities.io.tables import Field, Schema, read_table, too_large
from smartcities.model.framework_files import read_framework
from smartcities.model.spec import read_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from targets import CORPUS, TARGETS, feed, seeds  # noqa: E402

SEEDS = {target: seeds(target) for target in TARGETS}
INSERTS = [b",", b";", b"\t", b"|", b'"', b"'", b"\n", b"\r", b"\r\n", b"\xef\xbb\xbf", b"\x00", b"\xff", b"\\",
           b"&a ", b"*a", b"<<: *a", b"!!python/object/apply:os.system ['true']", b"- ", b": ", b"{", b"[", b"---\n",
           b"999.01", b"n/a", b"1e999", b"-inf", b"9" * 30, b"3,5", b"_line"]
POSITION = st.integers(0, 20_000)
MUTATION = st.one_of(
    st.tuples(st.just("flip"), POSITION, st.integers(0, 255)),
    st.tuples(st.just("cut"), POSITION),
    st.tuples(st.just("insert"), POSITION, st.sampled_from(INSERTS)),
    st.tuples(st.just("delete"), POSITION, st.integers(1, 40)),
    st.tuples(st.just("header"), st.integers(0, 300), st.sampled_from([*INSERTS, b"x", b""])),
    st.tuples(st.just("repeat"), POSITION),
)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for kind, at, *arg in mutations:
        at %= len(out) + 1
        if kind == "flip" and out:
            out[min(at, len(out) - 1)] = arg[0]
        elif kind == "cut":
            out = out[:at]
        elif kind == "insert":
            out[at:at] = arg[0]
        elif kind == "delete":
            del out[at:at + arg[0]]
        elif kind == "header":  # within the first line: a damaged column name
            end = out.find(b"\n")
            at %= (end if end >= 0 else len(out)) + 1
            out[at:at + 1] = arg[0]
        elif kind == "repeat":
            lines = bytes(out).split(b"\n")
            at %= len(lines)
            out = bytearray(b"\n".join(lines[:at + 1] + lines[at:]))
    return bytes(out)


def test_every_target_has_seeds_that_read():
    assert set(SEEDS) == {p.name for p in CORPUS.iterdir() if p.is_dir()}
    for target in TARGETS:
        assert feed(target, next((CORPUS / target).glob("seed.*")).read_bytes()), target


@pytest.mark.parametrize("target", sorted(TARGETS))
@FUZZ
@given(pick=st.integers(0, 50), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_seed_files(target, pick, mutations):
    seed = SEEDS[target][pick % len(SEEDS[target])]
    feed(target, mutate(seed, mutations))  # a result or InputError; anything else fails the test


@pytest.mark.parametrize("target", sorted(TARGETS))
@settings(max_examples=15, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes(target, data):
    feed(target, data)


READERS = {
    "inventory.csv": read_inventory, "cities.csv": read_cities, "indicators.csv": read_indicators,
    "framework.yaml": read_framework, "framework.json": read_framework, "framework.csv": read_framework,
    "spec.yaml": read_spec, "initiatives.csv": read_initiatives,
    "iData.csv": lambda p: read_coinr(p, CORPUS / "imeta" / "seed.csv"),
    "iMeta.csv": lambda p: read_coinr(CORPUS / "idata" / "seed.csv", p),
}


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_folder_where_a_file_is_expected(tmp_path, name):
    (tmp_path / name).mkdir()
    with pytest.raises(InputError) as err:
        READERS[name](tmp_path / name)
    (p,) = err.value.problems
    assert p.file == str(tmp_path / name) and p.message.startswith("is a folder, expected a")


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


@pytest.mark.parametrize("reader,name", [(read_spec, "spec.yaml"), (read_framework, "framework.yaml")])
def test_alias_bomb_is_refused_before_it_expands(tmp_path, reader, name):
    path = tmp_path / name
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(InputError) as err:
        reader(path)
    (p,) = err.value.problems
    assert f"its aliases expand it beyond {MAX_NODES:,} nodes" in p.message and p.line is not None


def test_aliases_that_stay_small_still_work(tmp_path):
    data, lines = parse_document("base: &base {method: minmax}\nsteps:\n  - normalise: *base\n"
                                 "  - other: {<<: *base, range: [0, 1]}\n", "s.yaml")
    assert data["steps"] == [{"normalise": {"method": "minmax"}}, {"other": {"method": "minmax", "range": [0, 1]}}]
    assert lines[("steps", 1)] == 4


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "&a {b: *a}\n", "- &x\n  - [*x]\n"])
def test_alias_cycles_are_refused(text):
    with pytest.raises(InputError, match="an alias refers to a node that contains it"):
        parse_document(text, "s.yaml")


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['touch {marker}']",
                                 "!!python/name:os.system", "!custom {a: 1}", "!!python/object:builtins.dict {}"])
def test_non_standard_tags_are_refused_before_construction(tmp_path, tag):
    marker = tmp_path / "ran"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: x\nframework: {tag.replace('{marker}', str(marker))}\npipeline: []\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_spec(spec)
    (p,) = err.value.problems
    assert p.line == 2 and "is not a standard YAML tag" in p.message and not marker.exists()


def test_tags_and_bombs_inside_a_derive_cell_are_refused(tmp_path):
    path = tmp_path / "framework.csv"
    path.write_text("id,name,parent,weight,direction,derive\nindex,Index,,1,,\n"
                    "a,A,index,1,1,\"!!python/object/apply:os.system ['true']\"\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_framework(path)
    (p,) = err.value.problems
    assert (p.line, p.column) == (3, "derive") and "is not a standard YAML tag" in p.message


@pytest.mark.parametrize("text,as_json", [("[" * 2000, False), ("[" * 5000 + "]" * 5000, True),
                                          ("a:\n" + "".join(" " * i + "b:\n" for i in range(1, 300)), False),
                                          ("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), True)])
def test_deep_nesting_is_refused(text, as_json):
    with pytest.raises(InputError, match="not valid"):
        parse_document(text, "s.json" if as_json else "s.yaml", as_json=as_json)


def test_numbers_must_be_finite_and_whole_numbers_in_range(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,n\ninf,1\n1e999,2\n1_000,3\n-Infinity,99999999999999999999\n2.5,1e300\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_table(path, Schema((Field("x", "float"), Field("n", "int"))))
    assert [(p.line, p.column, p.message) for p in err.value.problems] == [
        (2, "x", "'inf' is not a number"),
        (3, "x", too_large("1e999")),
        (4, "x", "'1_000' is not a number"),
        (5, "x", "'-Infinity' is not a number"),
        (5, "n", "'99999999999999999999' is too large for a whole number"),
        (6, "n", "'1e300' is too large for a whole number"),
    ]


def test_a_column_named_like_the_line_column_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("city,_line\nseoul,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="'_line' is a reserved name"):
        read_table(path, Schema((Field("city"),), extra="text"))


@pytest.mark.parametrize("damage", ["folder", "header", "bytes"])
def test_code_command_answers_damaged_input_with_a_located_error(tmp_path, damage):
    source = tmp_path / "initiatives.csv"
    seed = (CORPUS / "code" / "seed.csv").read_bytes()
    if damage == "folder":
        source.mkdir()
    else:
        source.write_bytes(seed.replace(b"name", b"n\xe4me" if damage == "bytes" else b"nme", 1))
    result = CliRunner().invoke(app, ["code", str(source), "--out", str(tmp_path / "out.csv"), "--fast", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert f"smartcities: error: {source}" in result.output and not (tmp_path / "out.csv").exists()


JSON_KEYS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=6)
JSON_VALUES = st.recursive(st.none() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(JSON_KEYS, inner, max_size=3), max_leaves=8)


@given(value=st.dictionaries(JSON_KEYS, JSON_VALUES, min_size=1, max_size=4), indent=st.sampled_from([None, 2]),
       spot=st.integers(0, 3))
def test_a_json_key_given_twice_is_located_where_it_is_given_again(value, indent, spot):
    """Any document with one key repeated in its top object: the error's line and column point at the repeat."""
    import json

    key = sorted(value)[spot % len(value)]
    text = json.dumps(value, indent=indent)
    closing = text.rindex("}")
    repeat = ("," + ("\n  " if indent else " ")) + json.dumps(key) + ": 0"
    text = text[:closing].rstrip() + repeat + ("\n" if indent else "") + "}"
    with pytest.raises(InputError) as caught:
        parse_document(text, "doc.json", as_json=True)
    (problem,) = caught.value.problems
    assert f"key {key!r} is given twice" in problem.message
    line = text.splitlines()[problem.line - 1]
    assert line[int(problem.column) - 1:].startswith(json.dumps(key) + ": 0")
