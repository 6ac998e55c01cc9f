"""Countries and places from the GeoNames gazetteer shipped in data/gazetteer (see its PROVENANCE.md).

Why: a user's cities table names its countries as people write them ("Australia", "USA", "Korea, Republic of")
and often lacks coordinates or populations; the gazetteer turns each country into its ISO-2 code and continent
and gives the location and population of a named city. The country table is tiny; the places table (34,006 places
of 15,000 or more residents) is read only when a value must be filled, and indexed by name once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import pandas as pd

from ..errors import did_you_mean

GAZETTEER = files("smartcities") / "data" / "gazetteer"
SOURCE = "GeoNames cities15000"

REGIONS = ("Europe", "Asia", "North America", "Latin America", "Middle East & Africa", "Oceania")
CONTINENT_REGION = {"EU": "Europe", "AS": "Asia", "NA": "North America", "SA": "Latin America",
                    "AF": "Middle East & Africa", "OC": "Oceania"}
MIDDLE_EAST = {"AE", "BH", "CY", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "PS", "QA", "SA", "SY", "TR", "YE"}
LATIN_NORTH_AMERICA = {"MX", "GT", "BZ", "SV", "HN", "NI", "CR", "PA", "CU", "DO", "HT", "JM", "PR", "TT", "BS",
                       "BB", "AG", "DM", "GD", "KN", "LC", "VC"}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def match_key(text: str) -> str:
    """What two spellings of one name share: accents folded, case, spaces and punctuation dropped.

    >>> match_key("São Paulo"), match_key("SAO-PAULO"), match_key("Korea, Republic of")
    ('saopaulo', 'saopaulo', 'korearepublicof')
    """
    text = str(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALNUM.sub("", text.lower())


def region(country: str, continent: str) -> str | None:
    """The project's region of an ISO-2 country on a GeoNames continent: the continent, except that Middle-Eastern
    countries (continent Asia) go to "Middle East & Africa" and Mexico, Central America and the Caribbean (continent
    North America) go to "Latin America". None for Antarctica."""
    if country in MIDDLE_EAST:
        return "Middle East & Africa"
    if country in LATIN_NORTH_AMERICA:
        return "Latin America"
    return CONTINENT_REGION.get(continent)


@dataclass(frozen=True)
class Country:
    iso2: str
    name: str  # the GeoNames name, e.g. "South Korea"
    region: str | None  # one of REGIONS; None for Antarctica and the islands GeoNames puts there


@cache
def _countries() -> tuple[dict[str, Country], tuple[str, ...]]:
    """Every way a country may be written (by match key) -> the country; and the names to suggest."""
    table = pd.read_csv(GAZETTEER / "countries.csv", keep_default_na=False, dtype=str)
    by_key: dict[str, Country] = {}
    for row in table.itertuples(index=False):
        country = Country(row.iso2, row.name, region(row.iso2, row.continent))
        for written in [row.iso2, row.iso3, row.name, *filter(None, row.aliases.split("|"))]:
            by_key[match_key(written)] = country
    return by_key, tuple(table["name"])


def country(written: str) -> Country | None:
    """The country written as an ISO-2 or ISO-3 code or an English name, in any case; None when unknown."""
    return _countries()[0].get(match_key(written))


def country_names() -> tuple[str, ...]:
    """The GeoNames name of every country, to suggest from."""
    return _countries()[1]


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str
    country: str  # ISO-2
    lat: float
    lon: float
    population: int

    def __str__(self) -> str:
        return f"{self.name}, {self.country}, geonameid {self.geonameid}"


@cache
def _places() -> pd.DataFrame:
    with (GAZETTEER / "cities15000.csv.gz").open("rb") as f:
        return pd.read_csv(f, compression="gzip", keep_default_na=False,
                           dtype={"name": str, "alternatenames": str, "country": str})


@cache
def _index() -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(match key -> rows whose main name it is, match key -> rows listing it among their alternate names), over
    every place: one index serves every country, whose places are picked from the few rows a name has."""
    places = _places()
    main: dict[str, list[int]] = {}
    alternate: dict[str, list[int]] = {}
    for row, (name, alternates) in enumerate(zip(places["name"], places["alternatenames"])):
        main.setdefault(match_key(name), []).append(row)
        if alternates:
            for written in alternates.split("|"):
                alternate.setdefault(match_key(written), []).append(row)
    return main, alternate


@cache
def _columns() -> dict[str, list]:
    """The places' columns as lists, read by row."""
    places = _places()
    return {c: places[c].tolist() for c in ("geonameid", "name", "country", "lat", "lon", "population")}


def places_named(name: str, country_code: str | None = None) -> list[Place]:
    """The places called `name` (in `country_code`, or anywhere), most populous first: places whose main name
    matches when there are any, else those listing it as an alternate name (New York is "New York City")."""
    key, c = match_key(name), _columns()
    main, alternate = ([r for r in names.get(key, []) if country_code is None or c["country"][r] == country_code]
                       for names in _index())
    rows = sorted(main or alternate, key=lambda r: -c["population"][r])  # stable: ties keep the table's order
    return [Place(int(c["geonameid"][r]), c["name"][r], c["country"][r], float(c["lat"][r]), float(c["lon"][r]),
                  int(c["population"][r])) for r in rows]


@cache
def _names_in(country_code: str) -> tuple[str, ...]:
    """The main name of every place of one country."""
    places = _places()
    return tuple(places.loc[places["country"] == country_code, "name"])


def unmatched_hint(name: str, country_code: str | None) -> str:
    """What a name that is no place of `country_code` may mean: the same name in other countries (GeoNames files
    Hong Kong under HK, not CN), else a close name in that country (a typo), as text to add to the message."""
    if country_code is None:
        return ""
    elsewhere = places_named(name)
    if elsewhere:
        countries = ", ".join(dict.fromkeys(p.country for p in elsewhere))
        return f"; GeoNames has it in {countries} ({elsewhere[0]}): give that country to fill from it"
    return did_you_mean(name, _names_in(country_code))
