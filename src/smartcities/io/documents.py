"""Reading input files, and YAML (and JSON) documents with the line of every key, so errors can point into them.

Every input file goes through `read_text`, the one place that refuses what is not a readable UTF-8 file (missing,
a folder, a device, unreadable). Every YAML document, and every YAML snippet inside a table cell, goes through
`load_yaml`, which checks the composed node graph before anything is constructed: only the standard tags, aliases
only while the document they expand to stays small, no alias cycles, bounded nesting, no key twice in a mapping.
A hostile or damaged document is refused at once with a located InputError instead of expanding, recursing, running
code or silently keeping the last of two values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

MAX_NODES = 100_000  # nodes of a document with every alias expanded; specs and frameworks hold a few hundred
MAX_DEPTH = 100  # nesting of mappings and lists
STANDARD_TAGS = frozenset("tag:yaml.org,2002:" + t for t in (
    "null", "bool", "int", "float", "str", "timestamp", "binary", "map", "seq", "omap", "pairs", "set", "merge",
    "value"))


def read_text(path: str | Path, what: str, expected: str | None = None) -> str:
    """The text of a UTF-8 file that must exist, be a regular file and not be empty; `what` names it in errors,
    `expected` (if given) says what an empty file should have held."""
    path = Path(path)
    try:
        if not path.exists():
            raise InputError.single(path, f"{what} does not exist")
        if path.is_dir():
            raise InputError.single(path, f"is a folder, expected a {what}")
        if not path.is_file():
            raise InputError.single(path, f"is not a regular file, expected a {what}")
        raw = path.read_bytes()
    except OSError as err:
        raise InputError.single(path, f"cannot read the {what}: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError.single(path, f"byte 0x{raw[err.start]:02x} is not UTF-8; save the file as UTF-8",
                                line=line) from None
    if not text.strip():
        raise InputError.single(path, f"{what} is empty" + (f", expected {expected}" if expected else ""))
    return text


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting beyond MAX_DEPTH while it composes (its composer recurses)."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str, name: str, line: int | None = None) -> tuple[Any, yaml.Node | None]:
    """The data of one YAML document and its composed node (None for an empty document).

    Refuses, before construction, any tag beyond YAML's standard ones (so `!!python/object` never runs), alias
    cycles, aliases that would expand the document beyond MAX_NODES nodes, nesting deeper than MAX_DEPTH, and a
    key given twice in one mapping (which would otherwise silently keep the last).
    `line` places errors of a snippet read from a table cell.
    """
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_graph(node, name, line)
        return loader.construct_document(node), node
    except yaml.reader.ReaderError as err:  # a control character
        where = line if line is not None else text[: err.position].count("\n") + 1
        raise InputError.single(name, f"not valid YAML: control character U+{err.character:04X} is not allowed",
                                line=where) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = line if line is not None else (mark.line + 1 if mark else None)
        raise InputError.single(name, f"not valid YAML: {getattr(err, 'problem', None) or err}", line=where) from None
    except (ValueError, OverflowError) as err:  # a scalar of a standard tag that does not hold, e.g. 2024-13-40
        raise InputError.single(name, f"not valid YAML: {err}", line=line) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_graph(root: yaml.Node, name: str, line: int | None) -> None:
    """Walk the node graph once per distinct node (aliases share nodes), summing the size each node expands to."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def refuse(node: yaml.Node, message: str, column: bool = False):
        return InputError.single(name, message, line=line if line is not None else node.start_mark.line + 1,
                                 column=str(node.start_mark.column + 1) if column and line is None else None)

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise refuse(node, "not valid YAML: an alias refers to a node that contains it (a cycle)")
        if depth > MAX_DEPTH:
            raise refuse(node, f"not valid YAML: nested more than {MAX_DEPTH} levels deep")
        if node.tag not in STANDARD_TAGS:
            shown = node.tag.replace("tag:yaml.org,2002:", "!!", 1)
            raise refuse(node, f"not valid YAML: tag {shown!r} is not a standard YAML tag")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(node, refuse)
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v, depth + 1) for v in node.value)
        open_nodes.discard(key)
        if total > MAX_NODES:
            raise refuse(node, f"not valid YAML: its aliases expand it beyond {MAX_NODES:,} nodes")
        sizes[key] = total
        return total

    size(root, 0)


def _refuse_duplicate_keys(node: yaml.MappingNode, refuse) -> None:
    """A key given twice in one mapping is refused at its second occurrence (YAML would keep the last)."""
    first: dict[tuple, yaml.Node] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        if (key.tag, key.value) in first:
            earlier = first[(key.tag, key.value)].start_mark.line + 1
            raise refuse(key, f"not valid YAML: key {key.value!r} is given twice in one mapping (first on line "
                              f"{earlier}); keep one", column=True)
        first[(key.tag, key.value)] = key


def line_at(lines: dict[tuple, int], keys: tuple) -> int | None:
    """The line of a key path in a document's `lines` (see `parse_document`), else of its nearest parent."""
    while keys:
        if keys in lines:
            return lines[keys]
        keys = keys[:-1]
    return None


def parse_document(text: str, name: str, *, as_json: bool = False) -> tuple[Any, dict[tuple, int]]:
    """The loaded document and the line of each key path: ('pipeline', 2, 'normalise') -> 14.

    A key path followed by '<value>' gives the line where that key's value starts. JSON is read as JSON
    (for its error messages); its lines come from the YAML composer, which JSON also satisfies.
    """
    if as_json:
        try:
            data = load_json(text, name)
        except json.JSONDecodeError as err:
            raise InputError.single(name, f"not valid JSON: {err.msg}", line=err.lineno) from None
        except RecursionError:
            raise InputError.single(name, f"not valid JSON: nested more than {MAX_DEPTH} levels deep") from None
        try:
            _, composed = load_yaml(text, name)
        except InputError:  # tabs and the like: the data stand, only the lines are lost
            composed = None
        if composed is None and _depth(data) > MAX_DEPTH:
            raise InputError.single(name, f"not valid JSON: nested more than {MAX_DEPTH} levels deep")
    else:
        data, composed = load_yaml(text, name)
    lines: dict[tuple, int] = {}
    if composed is not None:
        lines[()] = composed.start_mark.line + 1
        _index_lines(composed, (), lines)
    return data, lines


def load_json(text: str, name: str) -> Any:
    """`json.loads`, refusing a key given twice in one object (JSON readers would keep the last, as YAML's do),
    at the line and column where it is given the second time."""
    def unique(pairs: list[tuple[str, Any]]) -> dict:
        if len({key for key, _ in pairs}) < len(pairs):
            raise _GivenTwice
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique)
    except _GivenTwice:
        key, line, column, first = _first_key_given_twice(text)
        raise InputError.single(name, f"not valid JSON: key {key!r} is given twice in one object (first on line "
                                f"{first}); keep one", line=line, column=str(column)) from None


class _GivenTwice(Exception):
    """An object of the JSON being read holds a key twice (located afterwards)."""


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')
_COLON = re.compile(r"\s*:")


def _first_key_given_twice(text: str) -> tuple[str, int, int, int]:
    """The first key that an object of `text` (valid JSON) gives twice: the key, the line and column of its second
    occurrence, the line of its first. Read from the strings and brackets alone, which in valid JSON is enough:
    a string followed by a colon is a key of the innermost open object. Only a failed read comes here."""
    open_objects: list[dict[str, int] | None] = []  # per open bracket: an object's keys and their offsets, or None
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "{[":
            open_objects.append({} if mark == "{" else None)
        elif mark in "}]":
            open_objects.pop()
        elif open_objects and open_objects[-1] is not None and _COLON.match(text, token.end()):
            keys, key = open_objects[-1], json.loads(mark)
            if key in keys:
                line = text.count("\n", 0, token.start()) + 1
                column = token.start() - text.rfind("\n", 0, token.start())
                return key, line, column, text.count("\n", 0, keys[key]) + 1
            keys[key] = token.start()
    raise AssertionError("a key given twice that its object does not hold")


def _depth(data: Any) -> int:
    """How deeply lists and mappings nest in loaded JSON (iteratively: the data may be deeper than the stack)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
            todo += [(v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _index_lines(node, keys: tuple, lines: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = keys + (k.value,)
            lines[key] = k.start_mark.line + 1
            lines[key + ("<value>",)] = v.start_mark.line + 1
            _index_lines(v, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            lines[keys + (i,)] = v.start_mark.line + 1
            _index_lines(v, keys + (i,), lines)
