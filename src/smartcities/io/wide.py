"""Reading a wide table as it is: one row per city, one column per indicator or city attribute, an id column.

Statistics usually come this way (a covariates file, a census extract): the spec names the file, its id
column(s), the columns wanted and the file's encoding, and the same file can give both the cities table and the
indicators. Every problem names the file, the line and the column, as `read_table` does for the long tables.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, did_you_mean
from ..model.processing import entry
from .inventory import read_cities, slug
from .missing import NUMBER, MissingCodes
from .tables import LARGEST_VALUE, detect_separator, missing_code_hint, too_large

_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,765.00: a comma between thousands


def _text(path: Path, encoding: str, fallback: str | None) -> tuple[str, list[int]]:
    """The file's text and the lines read in the `fallback` encoding because they are not valid in `encoding`
    (a file of UTF-8 with a stray latin-1 byte)."""
    raw = path.read_bytes()
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return raw.decode(codec), []
    except UnicodeDecodeError as err:
        if fallback is None:
            line = raw[: err.start].count(b"\n") + 1
            raise InputError.single(path, f"byte 0x{raw[err.start]:02x} is not {encoding}; give the file's encoding "
                                          "(encoding: latin-1, cp1252, …), or fallback_encoding for a few lines "
                                          "written in another, or save it as UTF-8", line=line) from None
    except LookupError:
        raise InputError.single(path, f"unknown encoding {encoding!r}: expected a Python codec name such as utf-8, "
                                      "latin-1 or cp1252") from None
    lines, fallen = [], []
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            lines.append(line.decode(codec if number == 1 else encoding))
        except UnicodeDecodeError:
            lines.append(line.decode(fallback))
            fallen.append(number)
    return "\n".join(lines), fallen


def read_wide(path: str | Path, id_columns: list[str], columns: dict[str, str], encoding: str = "utf-8",
              duplicates: str = "error", fallback_encoding: str | None = None) -> pd.DataFrame:
    """The rows of the wide table at `path` as text: a `city` column (the slug of the id columns' cells joined
    by spaces), one column per key of `columns` (renamed from the file's column it names), and `_line`.

    Unknown columns, a row with no id (a footer or a note under the table), a row of another length and two rows
    with one id are errors naming their lines: the id's slug must be unique, so a name that repeats needs a
    second id column (the country, the entity type). With `duplicates: first` a row whose id an earlier row has
    (the same place written twice, in another case) is left out instead, a processing-log warning per row in
    `frame.attrs["log"]`, as is each line read in `fallback_encoding`."""
    path = Path(path)
    if not path.exists():
        raise InputError.single(path, "file does not exist")
    text, fallen = _text(path, encoding, fallback_encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_separator(text))
    header = [h.strip() for h in next(reader, [])]
    name = str(path)
    wanted = {**{c: c for c in id_columns}, **{v: k for k, v in columns.items()}}
    problems = [Problem(name, f"no column {c!r}{did_you_mean(c, header)}", 1, c) for c in wanted if c not in header]
    if problems:
        raise InputError(problems)
    at = {c: header.index(c) for c in wanted}
    cells: dict[str, list[str]] = {key: [] for key in ("city", *columns)}
    lines, first, left_out = [], {}, []
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(name, f"has {len(row)} fields, expected {len(header)} as in the header", line))
            continue
        city = slug(" ".join(row[at[c]].strip() for c in id_columns))
        if not city:
            problems.append(Problem(name, f"no id in {', '.join(id_columns)}: a footer or a note under the table? "
                                          "remove the row", line, id_columns[0]))
            continue
        if city in first and duplicates == "first":
            left_out.append(entry("inputs", "duplicate-left-out", unit=city, warning=True,
                                  detail=f"line {line} of {name} has the id of line {first[city]}; the first row "
                                         "is kept (duplicates: first)"))
            continue
        if city in first:
            problems.append(Problem(name, f"id {city!r} again (first on line {first[city]}): give a second id column "
                                          "that tells the rows apart (id: [name, country])", line, id_columns[0]))
            continue
        first[city] = line
        lines.append(line)
        cells["city"].append(city)
        for key, column in columns.items():
            cells[key].append(row[at[column]].strip())
    if problems:
        raise InputError(problems[:50])
    if not lines:
        raise InputError.single(path, "has a header but no data rows")
    frame = pd.DataFrame(cells, dtype=object)
    frame["_line"] = lines
    frame.attrs["log"] = [entry("inputs", "fallback-encoding", warning=True,
                                detail=f"line {n} of {name} is not {encoding}; read as {fallback_encoding}")
                          for n in fallen] + left_out
    return frame


def wide_indicators(path: str | Path, id_columns: list[str], columns: dict[str, str], encoding: str = "utf-8",
                    missing: MissingCodes = MissingCodes(), duplicates: str = "error", thousands: bool = False,
                    fallback_encoding: str | None = None) -> pd.DataFrame:
    """The long indicators table (city, indicator, value, _line) of the wide table at `path`: `columns` maps
    each indicator id to the file's column holding it. An empty cell, or a missing-value code, is a missing
    value; with `thousands`, 1,765.00 is 1765; any other cell that is not a number is an error naming
    its line and column."""
    frame = read_wide(path, id_columns, columns, encoding, duplicates, fallback_encoding)
    problems, parts, log = [], [], []
    lines = frame["_line"].to_numpy()
    for indicator, column in columns.items():
        coded = 0
        cells = frame[indicator].to_numpy(dtype=object)
        values = pd.to_numeric(cells, errors="coerce").astype(float)  # all at once
        # the rest cell by cell (NaN, infinite or too large): missing, 1,765.00, or an error
        for k in np.flatnonzero(~(np.abs(values) <= LARGEST_VALUE)):
            cell, line = cells[k], int(lines[k])
            if missing.match(cell) is not None:
                values[k], coded = math.nan, coded + 1
            elif not cell:
                values[k] = math.nan
            elif thousands and _GROUPED.match(cell):
                values[k] = float(cell.replace(",", ""))
            elif NUMBER.match(cell):
                values[k] = math.nan
                problems.append(Problem(str(path), f"{too_large(cell)} (indicator {indicator})", line, column))
            else:
                values[k] = math.nan
                hint = ("; if its commas separate thousands, add thousands: true" if _GROUPED.match(cell) else
                        missing_code_hint(cell))
                problems.append(Problem(str(path), f"{cell!r} is not a number (indicator {indicator}){hint}", line,
                                        column))
        if missing.numbers:
            is_code = np.isin(values, list(missing.numbers))
            values[is_code], coded = math.nan, coded + int(is_code.sum())
        if coded:
            log.append(entry("inputs", "missing-code", indicator=indicator, count=coded,
                             detail=f"missing-value codes in {path} (column {column}) read as missing (spec "
                                    "missing_values)"))
        parts.append(pd.DataFrame({"city": frame["city"], "indicator": indicator, "value": values,
                                   "_line": frame["_line"]}))
    if problems:
        raise InputError(problems[:50])
    long = pd.concat(parts, ignore_index=True)
    long.attrs["source"], long.attrs["log"] = str(path), frame.attrs["log"] + log
    return long


def wide_cities(path: str | Path, id_columns: list[str], columns: dict[str, str], encoding: str = "utf-8",
                missing: MissingCodes = MissingCodes(), duplicates: str = "error", thousands: bool = False,
                fallback_encoding: str | None = None) -> pd.DataFrame:
    """The cities table of the wide table at `path`, checked and filled as `read_cities` does a cities CSV:
    `columns` maps each cities-table column (`name` at least; country, lat, lon, groups of your own) to the
    file's column holding it; `city` is the slug of the id columns. Problems name the file's lines and columns.
    (`thousands` is for the indicators: a cities table's numbers are read as a cities CSV's are.)"""
    if "name" not in columns:
        raise InputError.single(path, "the cities of a wide table need a name column: add name: COLUMN to columns")
    frame = read_wide(path, id_columns, columns, encoding, duplicates, fallback_encoding)
    with tempfile.TemporaryDirectory() as tmp:
        derived = Path(tmp) / "cities.csv"
        frame.drop(columns="_line").to_csv(derived, index=False)
        try:
            cities = read_cities(derived, missing)
        except InputError as err:  # the derived table's line k + 1 is the k-th row read
            source = {**dict(zip(columns, columns.values())), "city": id_columns[0]}
            raise InputError([Problem(str(path), p.message, int(frame["_line"].iat[p.line - 2])
                                      if p.line and p.line > 1 else p.line, source.get(p.column, p.column))
                              for p in err.problems]) from None
    cities.attrs["source"] = str(path)
    cities.attrs["log"] = frame.attrs["log"] + cities.attrs["log"]
    return cities
