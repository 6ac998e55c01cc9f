"""Write the shipped gazetteer (src/smartcities/data/gazetteer/) from the GeoNames cities15000 tables.

A build-time step, never run by the package. It reads the GeoNames tables in --geonames and writes two files:

- `cities15000.csv.gz`: every GeoNames place of 15,000 or more residents, with its alternate names trimmed to the
  Latin-script ones a cities table might use (a capital letter in them, a match key unlike the main name's).
- `countries.csv`: every GeoNames country with its ISO-2 and ISO-3 codes, GeoNames name and continent, and the
  other English names it is written under: the ISO 3166 name, official and common names from pycountry, plus
  the handful of everyday names in EXTRA_ALIASES.

pycountry is needed only here:

    pip install pycountry==26.2.16
    .venv/bin/python scripts/make_gazetteer.py [--geonames DIR] [--out DIR]

The output is byte for byte the same on every run (gzip without a time stamp, rows in GeoNames order).
"""

from __future__ import annotations

import argparse
import gzip
import unicodedata
from pathlib import Path

import pandas as pd
import pycountry

from smartcities.io.gazetteer import match_key

REPO = Path(__file__).resolve().parent.parent

EXTRA_ALIASES = {
    "GB": ["UK", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland"],
    "KR": ["Republic of Korea", "Korea (South)", "Korea"],  # "Korea": the OECD's name (Better Life Index)
    "KP": ["Korea (North)"],
    "NL": ["Holland", "The Netherlands"],
    "US": ["America", "U.S.", "U.S.A."],
    "AE": ["UAE"],
}
# The World Bank's names (World Development Indicators), where neither GeoNames nor ISO 3166 writes them alike
WORLD_BANK_NAMES = {
    "KR": ["Korea, Rep."], "KP": ["Korea, Dem. People's Rep."], "IR": ["Iran, Islamic Rep."],
    "EG": ["Egypt, Arab Rep."], "HK": ["Hong Kong SAR, China"], "MO": ["Macao SAR, China"], "LA": ["Lao PDR"],
    "VE": ["Venezuela, RB"], "YE": ["Yemen, Rep."], "GM": ["Gambia, The"], "BS": ["Bahamas, The"],
    "CD": ["Congo, Dem. Rep."], "CG": ["Congo, Rep."], "FM": ["Micronesia, Fed. Sts."], "LC": ["St. Lucia"],
    "KN": ["St. Kitts and Nevis"], "VC": ["St. Vincent and the Grenadines"], "MF": ["St. Martin (French part)"],
    "PS": ["West Bank and Gaza"], "VI": ["Virgin Islands (U.S.)"],
}


def latin(text: str) -> bool:
    """True when every letter of `text` is a Latin one (so a user could type it on an English keyboard)."""
    return all(unicodedata.category(ch)[0] != "L" or ord(ch) < 0x250 or 0x1E00 <= ord(ch) < 0x1F00 for ch in text)


def trimmed_alternates(name: str, alternates: str) -> str:
    """The alternate names worth matching on: Latin script, capitalised (GeoNames' lowercase romanisations are
    transliteration keys, not names), each with a match key no earlier name has."""
    seen = {match_key(name)}
    kept = []
    for alternate in alternates.split("|"):
        key = match_key(alternate)
        if key and key not in seen and latin(alternate) and any(ch.isupper() for ch in alternate):
            seen.add(key)
            kept.append(alternate)
    return "|".join(kept)


def country_aliases(iso2: str, geonames_name: str) -> str:
    country = pycountry.countries.get(alpha_2=iso2)
    names = [getattr(country, attr, None) for attr in ("name", "official_name", "common_name")] if country else []
    names += EXTRA_ALIASES.get(iso2, []) + WORLD_BANK_NAMES.get(iso2, [])
    seen = {match_key(geonames_name)}
    kept = []
    for name in names:
        if name and match_key(name) not in seen:
            seen.add(match_key(name))
            kept.append(name)
    return "|".join(kept)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geonames", type=Path, default=REPO.parent / "shared/data/geonames_cities15000")
    parser.add_argument("--out", type=Path, default=REPO / "src/smartcities/data/gazetteer")
    args = parser.parse_args(argv)

    places = pd.read_csv(args.geonames / "cities15000.csv", keep_default_na=False, dtype=str)
    places["alternatenames"] = [trimmed_alternates(n, a) for n, a in zip(places["name"], places["alternatenames"])]
    places = places.rename(columns={"countrycode": "country", "latitude": "lat", "longitude": "lon"})[
        ["geonameid", "name", "alternatenames", "country", "lat", "lon", "population"]]

    countries = pd.read_csv(args.geonames / "countries.csv", keep_default_na=False, dtype=str)
    countries = pd.DataFrame({
        "iso2": countries["iso"], "iso3": countries["iso3"], "name": countries["name"],
        "continent": countries["continentcode"],
        "aliases": [country_aliases(iso, name) for iso, name in zip(countries["iso"], countries["name"])],
    })
    owner: dict[str, str] = {}
    for row in countries.itertuples(index=False):
        for written in [row.iso2, row.iso3, row.name, *filter(None, row.aliases.split("|"))]:
            key = match_key(written)
            if owner.setdefault(key, row.iso2) != row.iso2:
                raise SystemExit(f"{written!r} would name both {owner[key]} and {row.iso2}")

    args.out.mkdir(parents=True, exist_ok=True)
    data = places.to_csv(index=False, lineterminator="\n").encode("utf-8")
    (args.out / "cities15000.csv.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    countries.to_csv(args.out / "countries.csv", index=False, lineterminator="\n")
    size = (args.out / "cities15000.csv.gz").stat().st_size
    print(f"wrote {len(places)} places ({len(data):,} bytes, {size:,} gzipped) and {len(countries)} countries "
          f"to {args.out}")


if __name__ == "__main__":
    main()
