"""Reading tidy CSV tables with errors that point at the file, line and column.

Every input table (inventory, cities, indicators, framework, COINr iData/iMeta) goes through `read_table`,
so every one gets the same checks: the file exists, is UTF-8, is not empty, has the columns it needs and no
unknown ones, and each cell parses as its column's kind. All problems are collected and raised together.

The separator (comma, semicolon, tab or '|') is found from the header line. A semicolon-separated file may use
decimal commas: `3,5` is 3.5 there, in number columns and in columns the schema does not name. Empty cells and
cells equal to one of the spec's missing-value codes are missing; any other word in a number column (NA, null,
n/a) is an error until the spec declares it a code, so that every missing cell but an empty one is logged. What
reading did beyond parsing (codes replaced, a separator other than comma) comes with the frame as processing-log
rows.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, one_of
from ..model.processing import entry
from .documents import read_text
from .missing import NUMBER, MissingCodes

Kind = Literal["text", "enum", "list", "bool", "int", "float"]
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_INFINITY = re.compile(r"[+-]?inf(inity)?", re.IGNORECASE)
_THOUSANDS_POINT = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")  # 741.636: a decimal, or 741636 written the European way
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}
_LARGEST_INT = 2**53  # whole numbers are exact in a float up to here
LARGEST_VALUE = 1e100
"""The largest magnitude a number cell may hold. Why: the steps subtract, square and sum values (min-max divides by
the range, -1e308 to 1e308 overflowing to infinity; a z-score squares), so a value near a float's limit of 1.8e308
would give wrong scores under a misleading message; 1e100 leaves every step room, and a measured quantity written
in a sensible unit (thousands, millions) never comes near it."""
UNIT_COLUMNS = ("city", "uCode")  # the column naming each row's unit, in the tables that have one


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
    data: bool = True  # a data table: the spec's missing-value codes apply (not to metadata such as iMeta)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def read_rows(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """Header, rows (each with the line number it starts on) and separator of a CSV file."""
    text = read_text(path, "file", expected="a header row and data rows")
    separator = detect_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[tuple[int, list[str]]] = []
        start = reader.line_num + 1
        for row in reader:
            if "".join(row).strip():  # a row of empty or blank cells is no row
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as err:
        raise InputError.single(path, f"not valid CSV: {err}", line=reader.line_num) from None
    return header, rows, separator


def read_clean(path: str | Path, schema: Schema | None = None, codes: MissingCodes = MissingCodes(),
               least_rows: int = 1000) -> tuple[list[str], np.ndarray, dict[str, list[str] | np.ndarray], str] | None:
    """Header, the line of each row, the raw cells by column and the separator of a large table written plainly
    (no quote character, no decimal commas, every line as many fields as the header, or blank), read by pandas'
    C parser in one call; None for any other file, which `read_rows` reads line by line. Why: a million-row
    table costs seconds in Python lists of rows. The `schema`'s float columns come as numbers (NaN where empty)
    when every one of their cells is a number or empty (see `_plain_frame`)."""
    text = read_text(path, "file", expected="a header row and data rows")
    separator = detect_separator(text)
    if '"' in text or separator == ";" or text.count("\n") < least_rows or text[0] in "\r\n" \
            or text.count("\r") != text.count("\r\n"):
        return None
    raw = np.frombuffer((text if text.endswith("\n") else text + "\n").encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    starts = np.r_[0, ends[:-1] + 1]  # each line runs from its start to its end, the newline included
    separators = np.diff(np.searchsorted(np.flatnonzero(raw == ord(separator)), ends), prepend=0)
    filler = np.zeros(256, dtype=bool)
    filler[list(f"{separator} \t\r\n".encode())] = True
    blank = ~np.logical_or.reduceat(~filler[raw], starts)
    if np.any((separators != separators[0]) & (ends - starts > (raw[ends - 1] == 13))):
        return None  # a ragged line (or blanks), which the line-by-line reading names
    header = [h.strip() for h in text.split("\n", 1)[0].rstrip("\r").split(separator)]
    frame = _plain_frame(text, separator, len(header),
                         [k for k, h in enumerate(header) if _read_as_numbers(h, schema, codes)])
    kept = np.flatnonzero(~blank[1:len(frame) + 1])
    columns = {h: frame[k].to_numpy()[kept] if frame[k].dtype.kind == "f" else frame[k].to_numpy()[kept].tolist()
               for k, h in enumerate(header)}
    return header, kept + 2, columns, separator


def _plain_frame(text: str, separator: str, width: int, floats: list[int]) -> pd.DataFrame:
    """The `width` fields of a plainly written table (its header line skipped) by position: the `floats` columns
    parsed as numbers (NaN for an empty cell), the others as text; every column as text when a `floats`
    column holds a cell that is not a number, which the cell-by-cell reading then names. Exact: pandas' C
    parser reads a number as float() does (correctly rounded), and reads only what NUMBER allows or blanks
    around it; a word it takes for infinity gives no finite value, which the caller sends to the cell-by-cell
    reading, and NaN comes only from the empty cells."""
    def read(**options) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(text), sep=separator, header=None, skiprows=1, names=range(width),
                           skip_blank_lines=False, quoting=csv.QUOTE_NONE, engine="c", **options)

    if floats:
        try:
            return read(dtype={k: np.float64 if k in floats else str for k in range(width)}, keep_default_na=False,
                        na_values={k: [""] for k in floats})
        except ValueError:
            pass
    return read(dtype=str, na_filter=False)


def _read_as_numbers(column: str, schema: Schema | None, codes: MissingCodes) -> bool:
    """Whether `read_clean` may parse `column` as numbers at once: a float column without a check of its own,
    and no missing-value code a number parse or an empty cell would hide (codes that are numbers are found in
    the parsed values)."""
    if schema is None or any(_NUMERIC_TEXT.fullmatch(t) for t in codes.texts):
        return False
    f = schema.field(column)
    return f.kind == "float" and f.check is None if f is not None else schema.extra == "float"


def detect_separator(text: str) -> str:
    """The separator that splits the header line into the most fields, quotes respected (comma when none does
    better)."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {sep: _fields(first, sep) for sep in SEPARATORS}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def read_table(path: str | Path, schema: Schema, missing: MissingCodes = MissingCodes()) -> pd.DataFrame:
    """The table at `path` checked against `schema`; raises InputError listing every problem found. In a data
    table (`schema.data`), cells holding one of the `missing` codes become missing.

    The frame has one column per header column, typed by kind (floats NaN where empty, lists as tuples),
    and a `_line` column with each row's line in the file; `frame.attrs["separator"]` is the separator found
    and `frame.attrs["log"]` the processing-log rows of what reading did beyond parsing (codes replaced, a
    separator other than comma).
    """
    codes = missing if schema.data else MissingCodes()
    clean = read_clean(path, schema, codes)
    header, rows, separator = (clean[0], None, clean[3]) if clean else read_rows(path)
    name = str(path)
    problems: list[Problem] = []
    if not (len(clean[1]) if clean else rows):
        raise InputError.single(path, "has a header but no data rows")
    seen: set[str] = set()
    for col in header:
        if col in seen:
            problems.append(Problem(name, "column appears twice in the header", 1, col))
        seen.add(col)
        if schema.extra == "forbid" and schema.field(col) is None:
            known = [f.name for f in schema.fields]
            problems.append(Problem(name, "unknown column; " + one_of(col, known).split(" is ", 1)[1], 1, col))
        if col == "_line":
            problems.append(Problem(name, "'_line' is a reserved name, not a column name", 1, col))
    unclaimed = [c for c in header if schema.field(c) is None]
    for f in schema.fields:
        if f.required and f.name not in header:
            problems.append(Problem(name, f"missing column {f.name!r} ({_expected(f)}){_renamed(f.name, unclaimed)}",
                                    1))
    if problems and (separator != "," or len(header) == 1):  # say how the header was split when that may be why
        problems.append(Problem(name, f"the header line was read as {SEPARATORS[separator]}-separated, giving "
                                      f"{len(header)} column{'s' if len(header) != 1 else ''}; columns may be "
                                      "separated by comma, semicolon, tab or '|'", 1))
    if problems:
        raise InputError(problems)

    decimal_comma = separator == ";"
    fields = [schema.field(col) or Field(col, schema.extra if schema.extra != "forbid" else "text") for col in header]
    if clean:
        fast = _fast_columns(clean[2], fields, codes)
        if len(fast) == len(fields):
            return _checked_frame(name, schema, fields, fast, clean[1], separator, 0, Counter(), [])
        header, rows, separator = read_rows(path)  # a cell needs reading one by one
    undeclared = {f.name for f in fields if schema.field(f.name) is None}
    columns: dict[str, list] = {col: [] for col in header}
    lines: list[int] = []
    replaced: Counter = Counter()  # (unit, indicator, code) -> cells
    commas, points = 0, []  # decimal commas read; cells like 741.636 that a decimal comma makes ambiguous
    large = not decimal_comma and len(rows) >= 1000 and all(len(row) == len(header) for _, row in rows)
    fast = _fast_columns(dict(zip(header, zip(*(row for _, row in rows)))), fields, codes) if large else {}
    slow = [(k, f) for k, f in enumerate(fields) if f.name not in fast]
    for line, row in rows:
        if len(row) != len(header):
            problems.append(Problem(name, f"has {len(row)} fields, expected {len(header)} as in the header", line))
            continue
        lines.append(line)
        for k, f in slow:
            cell = row[k].strip()
            code = codes.match(cell) if codes else None
            if code is not None:
                replaced[_cell_names(header, row, f.name) + (code,)] += 1
                value = math.nan if f.kind == "float" else None
                message = None if f.nullable else f"{cell!r} is a missing-value code (spec missing_values), " \
                                                  f"expected {_expected(f)}"
            else:
                if decimal_comma and (f.kind in ("float", "int") or f.name in undeclared):
                    if _DECIMAL_COMMA.match(cell):
                        cell, commas = cell.replace(",", "."), commas + 1
                    elif _THOUSANDS_POINT.match(cell):
                        points.append(Problem(name, f"{cell!r} is ambiguous in a file that writes decimal commas: "
                                                    f"write {cell.replace('.', '')} if the point separates "
                                                    f"thousands, {cell.replace('.', ',')} if it is a decimal",
                                              line, f.name))
                value, message = _parse(cell, f, schema.data)
            if not message and f.check is not None and value is not None and value == value:
                message = f.check(value)
            if message:
                problems.append(Problem(name, message, line, f.name))
            columns[f.name].append(value)
    if commas:
        problems = sorted(problems + points, key=lambda p: p.line or 0)
    columns.update(fast)
    return _checked_frame(name, schema, fields, columns, lines, separator, commas, replaced, problems)


def _checked_frame(name: str, schema: Schema, fields: list[Field], columns: dict[str, list], lines: Sequence[int],
                   separator: str, commas: int, replaced: Counter, problems: list[Problem]) -> pd.DataFrame:
    """The frame of parsed columns once the schema's unique columns are checked; raises with every problem,
    the cells' found so far and each repeat of a unique value."""
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
    frame = pd.DataFrame({f.name: pd.Series(columns[f.name], dtype=_dtype(f)) for f in fields})
    frame["_line"] = lines
    frame.attrs["separator"] = separator
    frame.attrs["log"] = _notes(name, separator, commas, replaced)
    return frame


_NUMERIC_TEXT = re.compile(r"[0-9eE+\-. \t\n]*")  # every character a number cell may hold, and the joins


def _fast_columns(cells: dict[str, list[str]], fields: list[Field], codes: MissingCodes
                  ) -> dict[str, list | np.ndarray]:
    """The columns of raw `cells` read at once: a column whose every cell is good as `_parse` reads it, with no
    missing-value code and whose field's check passes every distinct value, parses to the same values in a few
    whole-column calls: a float column whose cells are finite numbers or empty (NaN), a text column (stripped,
    None where empty), an enum column of known values. Any other column is left to the cell-by-cell reading,
    which names each bad cell. Why: a 10-edition panel of 10,000 cities and 100 indicators holds ten million
    cells, and a cities table repeats its few countries and regions in every row."""
    out = {}
    for f in fields:
        if f.kind == "list":
            continue
        if isinstance(cells[f.name], np.ndarray):  # parsed as numbers by read_clean
            values = _fast_numbers(cells[f.name], f, codes)
        else:
            stripped = _stripped(cells[f.name])
            if codes.texts and not codes.texts.isdisjoint(stripped):
                continue
            read = {"float": _fast_floats, "int": _fast_ints, "bool": _fast_bools}.get(f.kind, _fast_texts)
            values = read(stripped, f, codes)
        if values is not None and _all_pass(f, values):
            out[f.name] = values
    return out


def _all_pass(f: Field, values: list | np.ndarray) -> bool:
    """Whether the field's check (if any) passes each distinct value present."""
    if f.check is None:
        return True
    distinct = np.unique(values[~np.isnan(values)]).tolist() if isinstance(values, np.ndarray) and \
        values.dtype.kind == "f" else {v for v in values if v is not None and v == v}
    return not any(f.check(v) for v in distinct)


def _stripped(cells: list[str]) -> list[str]:
    """The cells without surrounding blanks; why through the distinct cells: a long table repeats each city and
    indicator thousands of times, and most cells have no blank to strip."""
    distinct = {cell: cell.strip() for cell in set(cells)}
    if all(cell == bare for cell, bare in distinct.items()):
        return cells
    return [distinct[cell] for cell in cells]


def _fast_floats(cells: list[str], f: Field, codes: MissingCodes) -> np.ndarray | None:
    """A float column's values, or None when a cell needs the cell-by-cell reading."""
    if any(_NUMERIC_TEXT.fullmatch(t) for t in codes.texts):
        return None
    empty = np.array([not cell for cell in cells])
    present = [cell for cell, e in zip(cells, empty) if not e] if empty.any() else cells
    if not _NUMERIC_TEXT.fullmatch("\n".join(present)):
        return None
    try:
        numbers = np.array(present, dtype=float)
    except ValueError:  # "1e", "+-1": each is named by the cell-by-cell reading
        return None
    values = np.full(len(cells), np.nan)
    values[~empty] = numbers  # over these characters float()'s grammar is NUMBER's
    return _fast_numbers(values, f, codes)


def _fast_numbers(values: np.ndarray, f: Field, codes: MissingCodes) -> np.ndarray | None:
    """A float column's parsed values (NaN where empty), or None when a cell needs the cell-by-cell reading: an
    empty cell where none may be, a number beyond LARGEST_VALUE or a word the parse took for infinity, a missing-value
    code."""
    present = values[~np.isnan(values)]
    if (present.size < values.size and not f.nullable) or not (np.abs(present) <= LARGEST_VALUE).all():
        return None
    return None if codes.numbers and np.isin(present, list(codes.numbers)).any() else values


def _fast_ints(cells: list[str], f: Field, codes: MissingCodes) -> list | None:
    """A whole-number column's values (None where empty), or None when a cell needs the cell-by-cell reading."""
    floats = _fast_floats(cells, f, codes)
    if floats is None:
        return None
    present = ~np.isnan(floats)
    if not (np.all(floats[present] == np.round(floats[present])) and np.all(np.abs(floats[present]) <= _LARGEST_INT)):
        return None
    return [int(v) if ok else None for v, ok in zip(floats.tolist(), present.tolist())]


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}  # a bool cell's words


def _fast_bools(cells: list[str], f: Field, codes: MissingCodes) -> list | None:
    """A true/false column's values (None where empty), or None when a cell needs the cell-by-cell reading."""
    lowered = {cell: cell.lower() for cell in set(cells)}
    if codes.numbers and any(codes.match(cell) for cell in lowered):
        return None
    if not all(low in _BOOLS or (f.nullable and not low) for low in lowered.values()):
        return None
    return [_BOOLS.get(lowered[cell]) for cell in cells]


def _fast_texts(cells: list[str], f: Field, codes: MissingCodes) -> list | None:
    """A text or enum column's values, or None when a cell needs the cell-by-cell reading."""
    distinct = set(cells)
    if codes.numbers and any(codes.match(cell) for cell in distinct):
        return None
    if f.kind == "enum":
        return cells if distinct <= set(f.values) else None
    if "" not in distinct:
        return cells
    return [cell or None for cell in cells] if f.nullable else None


def _cell_names(header: list[str], row: list[str], column: str) -> tuple[str, str, str]:
    """(unit, indicator, year) of a cell: the unit from the row's city or uCode; the indicator from a long table's
    `indicator` column, else the cell's own column; the year from a `year` column, empty without one (so an
    editions build can give each edition its own rows)."""
    cells = dict(zip(header, (c.strip() for c in row)))
    return (next((cells[c] for c in UNIT_COLUMNS if c in cells), ""), cells.get("indicator", column),
            cells.get("year", ""))


def year_note(year) -> str:
    """' (year 2019)': how a log note about the rows of one year of a table says so, for `noted_year` to read."""
    return f" (year {year})"


def noted_year(details: pd.Series) -> pd.Series:
    """The year of each note about one year's rows (`year_note`: missing-value codes, sensor indicators; NaN for
    every other note): how an editions build gives each edition the notes of its own rows."""
    return details.str.extract(r" \(year ([^)]*)\)", expand=False)


def _notes(name: str, separator: str, commas: int, replaced: Counter) -> list[dict]:
    """Processing-log rows for what reading one table did beyond parsing."""
    notes = []
    if separator != ",":
        with_commas = f", with decimal commas ({commas} cells read as numbers)" if commas else ""
        notes.append(entry("inputs", "separator", count=commas, detail=f"{name} read as {SEPARATORS[separator]}-"
                                                                  f"separated{with_commas}"))
    notes += [entry("inputs", "missing-code", unit=unit, indicator=indicator, count=n,
                    detail=f"{code} in {name}{year_note(year) if year else ''} read as missing (spec "
                           "missing_values)")
              for (unit, indicator, year, code), n in replaced.items()]
    return notes


def _dtype(f: Field) -> str:
    return {"float": "float64", "int": "Int64", "bool": "boolean"}.get(f.kind, "object")


def _renamed(wanted: str, unclaimed: list[str]) -> str:
    """'; is it 'desc'?' when a header column that no field claims looks like the missing one: the same but for
    case, a shortening of it, or a close spelling."""
    key = wanted.lower()
    lowered: dict[str, str] = {}  # in header order, the first column of each spelling
    for column in unclaimed:
        lowered.setdefault(column.lower(), column)
    alike = [low for low in lowered if low == key or (len(low) >= 3 and (key.startswith(low) or low.startswith(key)))]
    found = alike or difflib.get_close_matches(key, list(lowered), n=1)
    return f"; is it {lowered[found[0]]!r}?" if found else ""


def _expected(f: Field) -> str:
    return {
        "text": "text",
        "enum": "one of " + ", ".join(f.values),
        "list": "';'-separated values from " + ", ".join(f.values),
        "bool": "true or false",
        "int": "a whole number",
        "float": "a number",
    }[f.kind]


def _parse(cell: str, f: Field, codes_apply: bool = True):
    """The cell's value and, if it is bad, a message saying what was expected. Only an empty cell is missing: a
    word such as NA or null is a bad number like any other, whose message says what to do if it means missing
    (declare it a code where the spec's codes apply, `codes_apply`)."""
    if not cell and f.kind != "text":
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
        value = _BOOLS.get(cell.lower())
        return value, (None if value is not None else f"{cell!r} is not true or false")
    number = float(cell) if NUMBER.match(cell) else None
    code_hint = missing_code_hint(cell, codes_apply)
    if f.kind == "int":
        if number is None or not number.is_integer():
            return None, f"{cell!r} is not a whole number{code_hint}"
        if abs(number) > _LARGEST_INT:
            return None, f"{cell!r} is too large for a whole number"
        return int(number), None
    if number is None:
        if _DECIMAL_COMMA.match(cell):
            return math.nan, f"{cell!r} uses a decimal comma; write {cell.replace(',', '.')} (a point as decimal mark)"
        return math.nan, f"{cell!r} is not a number{code_hint}"
    if not abs(number) <= LARGEST_VALUE:
        return math.nan, too_large(cell)
    return number, None


def too_large(cell: str) -> str:
    """What is wrong with a number cell beyond LARGEST_VALUE (or beyond a float's range), and what to do."""
    return (f"{cell!r} is too large for a number: values beyond ±{LARGEST_VALUE:g} would overflow the steps' "
            "arithmetic; rescale the column's unit (thousands, millions, …)")


def missing_code_hint(cell: str, codes_apply: bool = True) -> str:
    """What to do with a word in a number cell (NA, n/a, -) that means missing: declare it a missing-value code,
    or in a table the codes do not apply to (metadata) leave the cell empty; nothing for a cell with digits (12%,
    1e) or an infinity (inf), which is no code."""
    if any(c.isdigit() for c in cell) or _INFINITY.fullmatch(cell):
        return ""
    return "; if it means missing, add it to the spec's missing_values" if codes_apply else \
        "; leave the cell empty if it has no value"


def _fields(line: str, separator: str) -> int:
    """Fields of `line` split at `separator`; 0 when its quotes only make sense with another separator."""
    try:
        return len(next(csv.reader([line], delimiter=separator, strict=True), []))
    except csv.Error:
        return 0


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
