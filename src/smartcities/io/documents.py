"""Reading YAML (and JSON) documents with the line of every key, so errors can point into the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError


def read_text(path: str | Path, what: str) -> str:
    """The text of a UTF-8 file that must exist and not be empty; `what` names it in errors."""
    path = Path(path)
    if not path.exists():
        raise InputError.single(path, f"{what} does not exist")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError.single(path, f"byte 0x{raw[err.start]:02x} is not UTF-8; save the file as UTF-8",
                                line=line) from None
    if not text.strip():
        raise InputError.single(path, f"{what} is empty")
    return text


def parse_document(text: str, name: str, *, as_json: bool = False) -> tuple[Any, dict[tuple, int]]:
    """The loaded document and the line of each key path: ('pipeline', 2, 'normalise') -> 14.

    A key path followed by '<value>' gives the line where that key's value starts. JSON is read as JSON
    (for its error messages); its lines come from the YAML composer, which JSON also satisfies.
    """
    composed = None
    if as_json:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError.single(name, f"not valid JSON: {err.msg}", line=err.lineno) from None
        try:
            composed = yaml.compose(text)
        except yaml.YAMLError:  # tabs and the like: the data stand, only the lines are lost
            composed = None
    else:
        try:
            composed = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            raise InputError.single(name, f"not valid YAML: {getattr(err, 'problem', None) or err}",
                                    line=mark.line + 1 if mark else None) from None
    lines: dict[tuple, int] = {}
    if composed is not None:
        lines[()] = composed.start_mark.line + 1
        _index_lines(composed, (), lines)
    return data, lines


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
