"""Write the bundled cities table (src/smartcities/data/cities/cities.csv) from the GeoNames gazetteer.

For every city of the bundled inventory, the GeoNames row in the same country whose `name` is the city's name
(or, failing that, lists it among its alternate names) with the largest population gives the coordinates and the
population. The region comes from the country's GeoNames continent by `smartcities.io.gazetteer.region`, the rule
the cities reader fills a missing continent with.

    .venv/bin/python scripts/make_cities.py [--geonames DIR] [--inventory CSV] [--out CSV]

Prints the GeoNames id picked for each city so each pick can be checked by hand.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pandas as pd

from smartcities.io.gazetteer import region
from smartcities.io.inventory import slug

REPO = Path(__file__).resolve().parent.parent


def pick(gazetteer: pd.DataFrame, name: str, country: str) -> pd.Series:
    """The most populous GeoNames row in `country` named `name` (by main name first, then alternate names)."""
    same_country = gazetteer[gazetteer.countrycode == country]
    rows = same_country[same_country.name == name]
    if rows.empty:
        rows = same_country[same_country.alternatenames.str.split("|").apply(lambda names: name in names)]
    if rows.empty:
        raise SystemExit(f"no GeoNames row named {name!r} in {country}")
    return rows.sort_values("population", ascending=False).iloc[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geonames", type=Path, default=REPO.parent / "shared/data/geonames_cities15000")
    parser.add_argument("--inventory", type=Path, default=REPO / "src/smartcities/data/sci2022/inventory.csv")
    parser.add_argument("--out", type=Path, default=REPO / "src/smartcities/data/cities/cities.csv")
    args = parser.parse_args(argv)

    gazetteer = pd.read_csv(args.geonames / "cities15000.csv", keep_default_na=False,
                            dtype={"countrycode": str, "admin1code": str})
    countries = pd.read_csv(args.geonames / "countries.csv", keep_default_na=False)
    continent = dict(zip(countries.iso, countries.continentcode))
    inventory = pd.read_csv(args.inventory, keep_default_na=False)
    cities = inventory[["city", "country"]].drop_duplicates().sort_values("city")

    rows = []
    for name, country in cities.itertuples(index=False):
        row = pick(gazetteer, name, country)
        rows.append({"city": slug(name), "name": name, "country": country,
                     "region": region(country, continent[country]),
                     "lat": row.latitude, "lon": row.longitude, "population": int(row.population)})
        print(f"{name:15} {country}  geonameid {row.geonameid:>8}  {row['name']:15} "
              f"{row.latitude:9.5f} {row.longitude:10.5f}  {int(row.population):>10,}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} cities to {args.out}")


if __name__ == "__main__":
    main()
