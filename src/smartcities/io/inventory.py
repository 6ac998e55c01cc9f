"""Reading the three city-level input tables: the coded inventory, the cities table and the long indicator table.

Each reader goes through `read_table`, so every problem names the file, the line, the column, the bad value and
what was expected; all problems in a file are reported together and nothing is returned half-checked.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, did_you_mean, one_of
from ..model.codebook import COLUMNS
from ..model.processing import entry
from . import gazetteer
from .gazetteer import REGIONS
from .missing import MissingCodes
from .tables import Field, Schema, read_table

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

EARLIEST_START_YEAR = 1900
"""The earliest `start_year` an initiative may have, and LEAD_YEARS the years ahead of today an announced one may
start in. Why a range: a year outside it is a typo (-5, 3020), and editions by start_year would make it an
edition; the oldest initiatives of the bundled inventories started in the 1980s."""
LEAD_YEARS = 10


def _plausible_start(year: int) -> str | None:
    latest = date.today().year + LEAD_YEARS
    if EARLIEST_START_YEAR <= year <= latest:
        return None
    return f"{year} is not a plausible start year: expected {EARLIEST_START_YEAR} to {latest}, or empty if unknown"


def _inventory_field(column) -> Field:
    nullable = not column.required or column.kind == "int"
    return Field(column.name, column.kind, column.values, required=column.required, nullable=nullable,
                 check=_plausible_start if column.name == "start_year" else None)


INVENTORY_SCHEMA = Schema(fields=tuple(_inventory_field(c) for c in COLUMNS), unique=("id",))


def read_inventory(path: str | Path, missing: MissingCodes = MissingCodes()) -> pd.DataFrame:
    """The coded inventory at `path`, checked against the codebook, with a `city_id` slug column added.

    Coded columns are typed: enums as strings, `technologies` as a tuple of values, booleans as booleans.
    Raises InputError listing every problem (missing or unknown columns, values outside the codebook, duplicate
    ids, empty cells in required columns), each with its file, line and column.
    """
    frame = read_table(path, INVENTORY_SCHEMA, missing)
    frame.insert(frame.columns.get_loc("city") + 1, "city_id", [slug(c) for c in frame["city"]])
    frame.attrs["source"] = str(path)
    return frame


# --- cities ----------------------------------------------------------------------------------------------------

def _slug_id(city: str) -> str | None:
    if slug(city) != city:
        return f"{city!r} is not a slug id (lowercase letters, digits and '-'); write {slug(city)!r}"
    return None


def _known_country(written: str) -> str | None:
    if gazetteer.country(written) is None:
        return (f"unknown country {written!r}: expected an ISO 3166 code (AU, AUS) or an English name"
                f"{did_you_mean(written, gazetteer.country_names())}")
    return None


def _not_a_misspelt_continent(region: str) -> str | None:
    if region not in REGIONS and did_you_mean(region, REGIONS):
        return f"{one_of(region, REGIONS)}; for groups of your own, use labels unlike the continents' names"
    return None


def _within(low: float, high: float, words: str):
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"{value:g} is out of range, expected a number {words}"

    return check


CITIES_SCHEMA = Schema(
    fields=(
        Field("city", "text", nullable=False, check=_slug_id,
              description="The city's id: a slug (lowercase letters, digits and '-'), unique. The indicators table "
                          "names cities by it, an inventory by a name whose slug it is (São Paulo: sao-paulo). "
                          "A non-slug is an error saying which slug to write."),
        Field("name", "text", nullable=False,
              description="The city's name as people write it: shown in the outputs, and searched for in the "
                          "gazetteer."),
        Field("country", "text", required=False, check=_known_country,
              description="An ISO 3166 alpha-2 or alpha-3 code or an English name, in any case (AU, aus, Australia, "
                          "USA, South Korea, Korea, Republic of); read as ISO-2, a peer group. Filled from the "
                          "gazetteer when empty."),
        Field("region", "text", required=False, check=_not_a_misspelt_continent,
              description="The city's continent, or groups of your own (capital, regional); a cell that nearly "
                          "names a continent (Eurpoe) is an error, as it is most likely a typo."),
        Field("continent", "enum", REGIONS, required=False,
              description="The continent, when `region` holds groups of your own; filled from the country when "
                          "empty or absent."),
        Field("lat", "float", required=False, check=_within(-90, 90, "between -90 and 90"),
              description="Latitude in degrees, for the map; filled from the gazetteer when empty."),
        Field("lon", "float", required=False, check=_within(-180, 180, "between -180 and 180"),
              description="Longitude in degrees, for the map; filled from the gazetteer when empty."),
        Field("population", "float", required=False,
              check=_within(np.nextafter(0, 1), np.inf, "of residents above 0"),
              description="Residents, above 0: a denominator like any numeric column; filled from the gazetteer "
                          "when empty."),
    ),
    extra="text",
    unique=("city",),
)
_FROM_PLACE = ("lat", "lon", "population")
_COST = {"lat": "no map point", "lon": "no map point", "population": "no per-resident denominator",
         "country": "no country group"}
_NO_CONTINENT = "left out of the regional analysis"


def read_cities(path: str | Path, missing: MissingCodes = MissingCodes()) -> pd.DataFrame:
    """The cities table at `path`: one row per city, `city` a unique slug id, `country` as ISO-2.

    Only `city` and `name` are required. `country` may be an ISO-2 or ISO-3 code or an English name. An empty
    or absent continent, `lat`, `lon` or `population` is filled from the shipped GeoNames gazetteer (the city
    matched on name and country, the most populous place of that name winning; the continent from the country);
    `frame.attrs["log"]` holds a processing-log row per city filled and a warning per city that could not be.
    The continent is in `region` unless `region` holds the user's own groups: then it is in `continent`
    (`continent_column` says which). Other columns are kept as peer-group or denominator columns: a column
    whose every non-empty cell is a number becomes float, any other stays text.
    """
    name = str(path)
    frame = read_table(path, CITIES_SCHEMA, missing)
    log = frame.attrs.pop("log")  # out of attrs while filling: pandas deep-copies them into every frame made from one
    problems = _type_extra_columns(frame, name)
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.line or 0))
    if "country" in frame.columns:
        frame["country"] = pd.Series([gazetteer.country(c).iso2 if c is not None else None for c in frame["country"]],
                                     index=frame.index, dtype=object)  # None where empty: Series.map makes it NaN
    log += _fill_from_gazetteer(frame)
    contract = [f.name for f in CITIES_SCHEMA.fields if f.name in frame.columns]
    frame = frame[contract + [c for c in frame.columns if c not in contract]]
    frame.attrs["source"] = name
    frame.attrs["log"] = log
    return frame


def continent_column(cities: pd.DataFrame) -> str:
    """The column of `cities` that holds each city's continent (one of REGIONS): `continent` when the table has
    one (its `region` is then the user's own grouping, such as capital/regional), else `region`."""
    return "continent" if "continent" in cities.columns else "region"


def continents(cities: pd.DataFrame) -> pd.Series:
    """Each city's continent, indexed by city id: what the regional analyses group by."""
    return cities.set_index("city")[continent_column(cities)]


def _type_extra_columns(frame: pd.DataFrame, name: str) -> list[Problem]:
    """Make every all-number extra column float; a decimal comma in one is a problem."""
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
    return problems


def _region_holds_continents(frame: pd.DataFrame) -> bool:
    """`region` holds the continents when the table has no `continent` column and every filled cell of `region`
    (if any) is one of REGIONS; otherwise `region` is the user's own grouping."""
    if "continent" in frame.columns:
        return False
    return "region" not in frame.columns or all(v in REGIONS for v in frame["region"] if v is not None)


def _fill_from_gazetteer(frame: pd.DataFrame) -> list[dict]:
    """Fill empty or absent country, continent, lat, lon and population cells in place; a log row per city filled
    (what, from where) and a warning per city left with an empty value (and what that costs)."""
    continent = "region" if _region_holds_continents(frame) else "continent"
    for column in ("country", continent):
        if column not in frame.columns:
            frame[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for column in _FROM_PLACE:
        if column not in frame.columns:
            frame[column] = np.nan
    named = [gazetteer.country(n) for n in frame["name"]]  # the country each unit's name is, if any
    countries = _units_are_countries(named, list(frame["country"]))
    rows = []
    if countries is not None:  # a table of countries: their names give their countries, and no place is looked up
        frame["country"] = [c if c is not None else (found.iso2 if found else None)
                            for c, found in zip(frame["country"], named)]
        rows.append(entry("cities", "units-are-countries", count=int(countries.sum()),
                          detail=f"{int(countries.sum())} of {len(frame)} units are named as their country, so the "
                                 "table is read as one of countries: their lat, lon and population are not looked up "
                                 f"among the places of {gazetteer.SOURCE} (give them in the table for a map point "
                                 "and per-resident denominators)"))
    wanting = frame[list(_FROM_PLACE)].isna().any(axis=1) | frame["country"].isna() | frame[continent].isna()
    at = np.flatnonzero(wanting.to_numpy())
    # the cells as plain arrays, read and filled by position: a pandas cell access per value would cost more
    # than the look-ups themselves in a table of ten thousand cities
    cells = {c: frame[c].to_numpy(copy=True) for c in ("city", "name", "country", continent, *_FROM_PLACE)}
    for pos in at:
        as_country = countries is not None and bool(countries[pos])
        fill, log = _fill_city({c: values[pos] for c, values in cells.items()}, continent,
                               look_up_place=not as_country)
        for column, value in fill.items():
            cells[column][pos] = value
        rows += log
    for column in ("country", continent, *_FROM_PLACE):
        frame[column] = cells[column]
    return rows  # the rest: none


COUNTRY_TABLE_SHARE = 0.8
"""A cities table whose units are this share or more named as their own country is a table of countries (an OECD
or World Bank index): a city-state (Singapore, Luxembourg) among cities stays a city and gets its place."""


def _units_are_countries(named: list, given: list[str | None]) -> np.ndarray | None:
    """Which units are named as their own country (`named`: the country each name is, `given`: the table's ISO-2,
    None where empty), when enough of them are that the table is one of countries; None for a table of cities."""
    if len(named) < 2:
        return None
    countries = np.array([found is not None and (iso2 is None or found.iso2 == iso2)
                          for found, iso2 in zip(named, given)])
    return countries if countries.mean() >= COUNTRY_TABLE_SHARE else None


def _fill_city(city: dict, continent: str, look_up_place: bool = True) -> tuple[dict, list[dict]]:
    """The values to fill into one city's empty cells from the gazetteer (`city`: its city, name, country,
    continent and place cells), and its log rows; without `look_up_place` (a country of a table of countries)
    only its continent, from its country."""
    country = city["country"]
    wanted = ([c for c in _FROM_PLACE if pd.isna(city[c])] + (["country"] if country is None else [])
              if look_up_place else [])
    fill, sources, empty, reasons, doubtful = {}, [], [], [], False
    if wanted:
        places = gazetteer.places_named(city["name"], country)
        if places:
            place = places[0]
            fill.update((column, getattr(place, column)) for column in wanted)
            source = f"{', '.join(wanted)} from {gazetteer.SOURCE} ({place})"
            if country is None:
                country = place.country
                elsewhere = sorted({p.country for p in places} - {country})
                doubtful = bool(elsewhere)
                source += (f", matched by name alone; also a place of that name in {', '.join(elsewhere)}: "
                           "give the country to be sure") if doubtful else ", matched by name alone"
            sources.append(source)
        else:
            where = f" in {country}" if country else ""
            empty += wanted
            reasons.append(f"no place named {city['name']!r}{where} in {gazetteer.SOURCE} (places of 15,000 or more "
                           f"residents){gazetteer.unmatched_hint(city['name'], country)}")
    if city[continent] is None:
        found = gazetteer.country(country).region if country else None
        if found:
            fill[continent] = found
            sources.append(f"{continent} {found} from country {country}")
        else:
            empty.append(continent)
            reasons.append(f"no continent for country {country}" if country else "no country to take a continent from")
    rows = []
    if fill:
        rows.append(entry("cities", "filled", unit=city["city"], count=len(fill), detail="; ".join(sources),
                          warning=doubtful))
    if empty:
        costs = ", ".join(dict.fromkeys(_COST.get(c, _NO_CONTINENT) for c in empty))
        rows.append(entry("cities", "not-filled", unit=city["city"], count=len(empty), warning=True,
                          detail=f"{'; '.join(reasons)}: {', '.join(empty)} left empty ({costs})"))
    return fill, rows


# --- indicators ------------------------------------------------------------------------------------------------

INDICATORS_SCHEMA = Schema(
    fields=(
        Field("city", "text", nullable=False, description="The city's slug id, as in the cities table."),
        Field("indicator", "text", nullable=False, description="The indicator's id: a leaf of the framework."),
        Field("value", "float", description="The measured value, at most 1e100 in magnitude (rescale the unit of "
                                            "a larger one); an empty cell is a missing value."),
        Field("year", "int", required=False,
              description="The year the value is for: one value per city, indicator and year; the build uses "
                          "each city's latest year, or with `editions: {column: year}` builds one edition per "
                          "year."),
        Field("source", "text", required=False, description="Where the value comes from (a publication, a URL)."),
        Field("note", "text", required=False, description="Free text about the value."),
    ),
)


def read_indicators(path: str | Path, missing: MissingCodes = MissingCodes()) -> pd.DataFrame:
    """The long indicator table at `path`: one value per (city, indicator[, year]); empty `value` is missing.

    Decimal commas, non-numbers and a repeated (city, indicator, year) are errors, each with its line.
    """
    name = str(path)
    frame = read_table(path, INDICATORS_SCHEMA, missing)
    keys = ["city", "indicator"] + (["year"] if "year" in frame else [])
    repeated = frame[frame.duplicated(keys, keep=False)]  # the rows to name, found at once
    first: dict[tuple, int] = {}
    problems: list[Problem] = []
    years = repeated["year"] if "year" in repeated else [None] * len(repeated)
    for line, city, indicator, year in zip(repeated._line, repeated.city, repeated.indicator, years):
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
    names = frame["city"]
    for i in np.flatnonzero(~keys.isin(known_ids).to_numpy()):  # the rows of unknown cities alone, in order
        key = keys.iat[i]
        unknown.setdefault(key, []).append(int(lines.iat[i]))
        shown.setdefault(key, names.iat[i])
    problems = []
    for key, at in unknown.items():
        also = f"; also on line{'s' if len(at) > 2 else ''} {', '.join(map(str, at[1:]))}" if len(at) > 1 else ""
        hint = did_you_mean(shown[key], suggestions)
        problems.append(Problem(name, f"unknown city {shown[key]!r}: not in the cities table{hint}{also}",
                                at[0], "city"))
    return problems
