"""Reading tidy CSV tables with errors that point at the file, line and column.

Every input table (inventory, cities, indicators, framework, COINr iData/iMeta) goes through `read_table`,
so every one gets the same checks: the file exists, is UTF-8, is not empty, has the columns it needs and no
unknown ones, and each cell parses as its column's kind. All problems are collected and raised together.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..errors import InputError, Problem, one_of

Kind = Literal["text", "enum", "list", "bool", "int", "float"]
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_MISSING = {"", "na", "nan", "null", "none"}


@dataclass(frozen=True)
class Field:
    """What one column must hold."""

    name: str
    kind: Kind = "text"
    values: tuple[str, ...] = ()
    required: bool = True  # the column must be present
    nullable: bool = True  # cells may be empty
    check: Callable[[Any], str | None] | None = None  # a parsed, present value -> what is wrong with it, or None
    description: str = ""  # what the column means, for docs/reference.md


@dataclass(frozen=True)
class Schema:
    """The columns of a table; `extra` says what to do with columns the schema does not name."""

    fields: tuple[Field, ...]
    extra: Literal["forbid", "text", "float"] = "forbid"
    unique: tuple[str, ...] = field(default=())  # columns whose values must not repeat

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def read_rows(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and rows of a CSV file, each row with the line number it starts on."""
    path = Path(path)
    if not path.exists():
        raise InputError.single(path, "file does not exist")
    if path.is_dir():
        raise InputError.single(path, "is a folder, expected a CSV file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError.single(
            path, f"byte 0x{raw[err.start]:02x} is not UTF-8; save the file as UTF-8", line=line
        ) from None
    if not text.strip():
        raise InputError.single(path, "file is empty, expected a header row and data rows")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[tuple[int, list[str]]] = []
        start = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as err:
        raise InputError.single(path, f"not valid CSV: {err}", line=reader.line_num) from None
    return header, rows


def read_table(path: str | Path, schema: Schema) -> pd.DataFrame:
    """The table at `path` checked against `schema`; raises InputError listing every problem found.

    The frame has one column per header column, typed by kind (floats NaN where empty, lists as tuples),
    and a `_line` column with each row's line in the file.
    """
    header, rows = read_rows(path)
    name = str(path)
    problems: list[Problem] = []
    if not rows:
        raise InputError.single(path, "has a header but no data rows")
    seen: set[str] = set()
    for col in header:
        if col in seen:
            problems.append(Problem(name, "column appears twice in the header", 1, col))
        seen.add(col)
        if schema.extra == "forbid" and schema.field(col) is None:
            known = [f.name for f in schema.fields]
            problems.append(Problem(name, "unknown column; " + one_of(col, known).split(" is ", 1)[1], 1, col))
    for f in schema.fields:
        if f.required and f.name not in header:
            problems.append(Problem(name, f"missing column {f.name!r} ({_expected(f)})", 1))
    if problems:
        raise InputError(problems)

    fields = [schema.field(col) or Field(col, schema.extra if schema.extra != "forbid" else "text") for col in header]
    columns: dict[str, list] = {col: [] for col in header}
    lines: list[int] = []
    for line, row in rows:
        if len(row) != len(header):
            problems.append(Problem(name, f"has {len(row)} fields, expected {len(header)} as in the header", line))
            continue
        lines.append(line)
        for f, cell in zip(fields, row):
            value, message = _parse(cell.strip(), f)
            if not message and f.check is not None and value is not None and value == value:
                message = f.check(value)
            if message:
                problems.append(Problem(name, message, line, f.name))
            columns[f.name].append(value)
    for col in schema.unique:
        if col not in columns:
            continue
        first: dict[object, int] = {}
        for line, value in zip(lines, columns[col]):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if value in first:
                problems.append(Problem(name, f"duplicate {col} {value!r} (first on line {first[value]})", line, col))
            else:
                first[value] = line
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame({col: pd.Series(vals, dtype=_dtype(f)) for (col, vals), f in zip(columns.items(), fields)})
    frame["_line"] = lines
    return frame


def _dtype(f: Field) -> str:
    return {"float": "float64", "int": "Int64", "bool": "boolean"}.get(f.kind, "object")


def _expected(f: Field) -> str:
    return {
        "text": "text",
        "enum": "one of " + ", ".join(f.values),
        "list": "';'-separated values from " + ", ".join(f.values),
        "bool": "true or false",
        "int": "a whole number",
        "float": "a number",
    }[f.kind]


def _parse(cell: str, f: Field):
    """The cell's value and, if it is bad, a message saying what was expected."""
    missing = cell.lower() in _MISSING and cell not in f.values
    if missing and f.kind != "text":
        return (math.nan if f.kind == "float" else None), (None if f.nullable else f"empty, expected {_expected(f)}")
    if f.kind == "text":
        if not cell and not f.nullable:
            return None, "empty, expected text"
        return cell or None, None
    if f.kind == "enum":
        return cell, (None if cell in f.values else one_of(cell, f.values))
    if f.kind == "list":
        items = tuple(item.strip() for item in cell.split(";") if item.strip())
        bad = [item for item in items if item not in f.values]
        return items, (one_of(bad[0], f.values) if bad else None)
    if f.kind == "bool":
        lowered = cell.lower()
        if lowered in ("true", "1", "yes"):
            return True, None
        if lowered in ("false", "0", "no"):
            return False, None
        return None, f"{cell!r} is not true or false"
    if f.kind == "int":
        try:
            return int(float(cell)) if float(cell).is_integer() else None, (
                None if float(cell).is_integer() else f"{cell!r} is not a whole number"
            )
        except ValueError:
            return None, f"{cell!r} is not a whole number"
    try:
        return float(cell), None
    except ValueError:
        if _DECIMAL_COMMA.match(cell):
            return math.nan, f"{cell!r} uses a decimal comma; write {cell.replace(',', '.')} (a point as decimal mark)"
        return math.nan, f"{cell!r} is not a number"


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
