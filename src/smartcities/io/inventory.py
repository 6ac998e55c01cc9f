"""Reading the three city-level input tables: the coded inventory, the cities table and the long indicator table.

Each reader goes through `read_table`, so every problem names the file, the line, the column, the bad value and
what was expected; all problems in a file are reported together and nothing is returned half-checked.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, did_you_mean
from ..model.codebook import COLUMNS
from .tables import Field, Schema, read_table

REGIONS = ("Europe", "Asia", "North America", "Latin America", "Middle East & Africa", "Oceania")
_ISO2 = re.compile(r"^[A-Z]{2}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def slug(name: str) -> str:
    """A city's id: lowercase ASCII, accents stripped, every run of spaces or punctuation one '-'.

    >>> slug("São Paulo"), slug("New York"), slug("  St. John's ")
    ('sao-paulo', 'new-york', 'st-john-s')
    """
    ascii_text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


# --- inventory -------------------------------------------------------------------------------------------------

def _inventory_field(column) -> Field:
    nullable = not column.required or column.kind == "int"
    return Field(column.name, column.kind, column.values, required=column.required, nullable=nullable)


INVENTORY_SCHEMA = Schema(fields=tuple(_inventory_field(c) for c in COLUMNS), unique=("id",))


def read_inventory(path: str | Path) -> pd.DataFrame:
    """The coded inventory at `path`, checked against the codebook, with a `city_id` slug column added.

    Coded columns are typed: enums as strings, `technologies` as a tuple of values, booleans as booleans.
    Raises InputError listing every problem (missing or unknown columns, values outside the codebook, duplicate
    ids, empty cells in required columns), each with its file, line and column.
    """
    frame = read_table(path, INVENTORY_SCHEMA)
    frame.insert(frame.columns.get_loc("city") + 1, "city_id", [slug(c) for c in frame["city"]])
    frame.attrs["source"] = str(path)
    return frame


# --- cities ----------------------------------------------------------------------------------------------------

def _slug_id(city: str) -> str | None:
    if slug(city) != city:
        return f"{city!r} is not a slug id (lowercase letters, digits and '-'); write {slug(city)!r}"
    return None


def _iso2(country: str) -> str | None:
    if not _ISO2.match(country):
        return f"{country!r} is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. KR, US, GB)"
    return None


def _within(low: float, high: float, words: str):
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"{value:g} is out of range, expected a number {words}"

    return check


CITIES_SCHEMA = Schema(
    fields=(
        Field("city", "text", nullable=False, check=_slug_id),
        Field("name", "text", nullable=False),
        Field("country", "text", nullable=False, check=_iso2),
        Field("region", "enum", REGIONS, nullable=False),
        Field("lat", "float", nullable=False, check=_within(-90, 90, "between -90 and 90")),
        Field("lon", "float", nullable=False, check=_within(-180, 180, "between -180 and 180")),
        Field("population", "float", nullable=False,
              check=_within(np.nextafter(0, 1), np.inf, "of residents above 0")),
    ),
    extra="text",
    unique=("city",),
)


def read_cities(path: str | Path) -> pd.DataFrame:
    """The cities table at `path`: one row per city, `city` a unique slug id.

    Columns beyond the contract's (`city, name, country, region, lat, lon, population`) are kept as peer-group or
    denominator columns: a column whose every non-empty cell is a number becomes float, any other stays text.
    """
    name = str(path)
    frame = read_table(path, CITIES_SCHEMA)
    problems: list[Problem] = []
    contract = {f.name for f in CITIES_SCHEMA.fields}
    for column in [c for c in frame.columns if c not in contract and c != "_line"]:
        cells = [v for v in frame[column] if v is not None]
        commas = [(line, v) for line, v in zip(frame._line, frame[column]) if v is not None and _DECIMAL_COMMA.match(v)]
        if cells and all(_NUMBER.match(v) or _DECIMAL_COMMA.match(v) for v in cells):
            for line, v in commas:
                problems.append(Problem(name, f"{v!r} uses a decimal comma; write {v.replace(',', '.')} "
                                              "(a point as decimal mark)", line, column))
            if not commas:
                frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.line or 0))
    frame.attrs["source"] = name
    return frame


# --- indicators ------------------------------------------------------------------------------------------------

INDICATORS_SCHEMA = Schema(
    fields=(
        Field("city", "text", nullable=False),
        Field("indicator", "text", nullable=False),
        Field("value", "float"),
        Field("year", "int", required=False),
        Field("source", "text", required=False),
        Field("note", "text", required=False),
    ),
)


def read_indicators(path: str | Path) -> pd.DataFrame:
    """The long indicator table at `path`: one value per (city, indicator[, year]); empty `value` is missing.

    Decimal commas, non-numbers and a repeated (city, indicator, year) are errors, each with its line.
    """
    name = str(path)
    frame = read_table(path, INDICATORS_SCHEMA)
    years = frame["year"] if "year" in frame else pd.Series([None] * len(frame), dtype="Int64")
    first: dict[tuple, int] = {}
    problems: list[Problem] = []
    for line, city, indicator, year in zip(frame._line, frame.city, frame.indicator, years):
        key = (city, indicator, None if pd.isna(year) else int(year))
        if key in first:
            when = f" in {key[2]}" if key[2] is not None else ""
            problems.append(Problem(name, f"second value for city {city!r}, indicator {indicator!r}{when} "
                                          f"(first on line {first[key]})", line, "indicator"))
        else:
            first[key] = line
    if problems:
        raise InputError(problems)
    frame.attrs["source"] = name
    return frame


# --- cross-table checks ----------------------------------------------------------------------------------------

def check_cities_known(frame: pd.DataFrame, cities: pd.DataFrame, file: str | Path) -> list[Problem]:
    """One problem per city of `frame` (an inventory or indicator table) that the cities table does not list.

    An inventory names cities by their English name (`city`) and carries their slug (`city_id`); an indicator
    table names them by slug (`city`). Each problem points at the first line the city appears on and suggests
    the closest known city.
    """
    name = str(file)
    known_ids = set(cities["city"])
    by_inventory_name = "city_id" in frame.columns
    keys = frame["city_id"] if by_inventory_name else frame["city"]
    suggestions = list(cities["name"]) if by_inventory_name else list(cities["city"])
    lines = frame["_line"] if "_line" in frame.columns else pd.Series(range(2, len(frame) + 2), index=frame.index)
    unknown: dict[str, list[int]] = {}
    shown: dict[str, str] = {}
    for key, shown_as, line in zip(keys, frame["city"], lines):
        if key not in known_ids:
            unknown.setdefault(key, []).append(int(line))
            shown.setdefault(key, shown_as)
    problems = []
    for key, at in unknown.items():
        also = f"; also on line{'s' if len(at) > 2 else ''} {', '.join(map(str, at[1:]))}" if len(at) > 1 else ""
        hint = did_you_mean(shown[key], suggestions)
        problems.append(Problem(name, f"unknown city {shown[key]!r}: not in the cities table{hint}{also}",
                                at[0], "city"))
    return problems
