"""Write the Australian cities example (src/smartcities/data/au_cities) from the National Cities Performance
Framework's two vintages: the 2017 `cities.csv` (read through its UTF-8 copy `cities_clean_utf8.csv`: the same
cells) and the 2018/19 `data_file.csv` of github.com/govau/smart-cities.

    python scripts/make_au_editions.py SOURCE_FOLDER

It writes `indicators.csv` (long: city, indicator, value, year; year 2017 and 2019 for the 2018/19 vintage),
`cities.csv` (the 22 cities, their city type as a peer group) and `city_names.csv` (each city's id and its name
in each vintage). Values are copied as they are: `999.01`, the 2018/19 file's "no value" code, stays in
indicators.csv so the spec's `missing_values: [999.01]` reads it as missing and the processing log counts it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "src" / "smartcities" / "data" / "au_cities"

# the indicators both vintages hold with one definition and unit: 2018/19 column -> 2017 column
SAME = {
    "employment_growth": "Growth in Employment, Job growth, past 12 months, percentage change",
    "unemployment": "Unemployment rate, Persons, % of population by sex",
    "participation": "Participation rate, all persons, % of population aged over 15 years",
    "indigenous_unemployment": "Unemployment rate, Unemployed, % of indigenous population",
    "education_year_12": "Education attainment - Completed Year 12, % of population",
    "education_certificate": "Education attainment - Completed Certificate III or IV, % of population",
    "education_bachelor": "Education attainment - Completed Bachelor Degree or Higher, % of population",
    "household_income": "Median Household Income, AUD per year",
    "income_quintile": "Share of households in the bottom 20 per cent of national income distribution, "
                      "% of population",
    "jobs_accessible_proportion": "Proportion of jobs accessible within 30 minutes, By Car, % of all jobs in city",
    "public_transport": "Public transport use, % of journeys to work",
    "active_transport": "Active transport use, % of journeys to work",
    "peak_travel_delay": "Percentage increase in car travel time, Overall, % of travel time",
    "public_transport_access": "The proportion of dwellings within 400 metres of a frequently serviced public "
                               "transport stop",  # a prefix: the 2017 name goes on with a mis-decoded dash
    "broadband_connections": "Percentage of households with a broadband connection, Internet accessed from "
                             "dwelling, % of dwellings",
    "life_expectancy": "Life expectancy, Persons, years",
    "obesity": "Percentage of the adult population who are obese, Estimated population, aged 18 years and over, "
               "who were obese, % of population",
    "safety": "Feelings of safety walking alone in local area after dark , % of population",
    "crisis_support": "Able to get support in times of crisis , % of population",
    "suicide": "Suicides, per 100 000",
    "volunteering": "Number of volunteers, All persons, % of Persons 15 or over",
    "access_to_open_space": "Access to green space, % of dwellings",
    "air_quality": "Air quality, Annual mean, <PM2.5, ug/m3",
    "office_energy_efficiency": "The average National Australian Built Environment Rating System (NABERS) score "
                                "for rated office buildings in the city, weighted by rated floor space",
    "knowledge_industries": "Workers in knowledge intensive industries, Persons, % of total employment",
    "new_business": "New business entrants and exits, New Businesses as a share of the stock",
    "patent_application": "Patents applications, Patent applications per 100 000",
    "gross_regional_product": "Gross domestic product, AUD per capita per year",
    "house_price_to_income_ratio": "Dwelling price to income ratio, Ratio",
    "housing_construction_costs": "Residential construction costs, AUD per square metre",
    "mortgage_stress": "Mortgage stress, Proportion of households under mortgage stress, Dwellings",
    "rent_stress": "Rent Stress, Proportion of households under rent stress, Dwellings",
    "homelessness": "Homelessness, number of homeless per 100 000",
}

# 2017 name -> 2018/19 name where the vintages spell a city differently
NAMES_2017 = {
    "Gold Coast - Tweed Heads": "Gold Coast - Tweed", "Greater Adelaide": "Adelaide",
    "Greater Brisbane": "Brisbane", "Greater Darwin": "Darwin", "Greater Hobart": "Hobart",
    "Greater Melbourne": "Melbourne", "Greater Perth": "Perth", "Greater Sydney": "Sydney",
    "Newcastle - Maitland": "Newcastle",
}

CAPITALS = {"Sydney", "Melbourne", "Brisbane", "Adelaide", "Perth", "Hobart", "Darwin", "Canberra"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(source: Path) -> None:
    old = pd.read_csv(source / "cities_clean_utf8.csv").copy()
    new = pd.read_csv(source / "data_file.csv")
    old["city"] = old["Cities"].map(lambda n: NAMES_2017.get(n, n))
    assert set(old["city"]) == set(new["city"]) and len(new) == 22, "the vintages' cities differ"
    columns = {}
    for key, name in SAME.items():
        found = [c for c in old.columns if c.startswith(name)]
        assert len(found) == 1, (key, found)
        columns[key] = found[0]
    rows = []
    for year, frame, col in ((2017, old, columns), (2019, new, {k: k for k in SAME})):
        for _, r in frame.iterrows():
            rows += [(slug(r["city"]), key, r[col[key]], year) for key in SAME]
    long = pd.DataFrame(rows, columns=["city", "indicator", "value", "year"])
    OUT.mkdir(parents=True, exist_ok=True)
    long.to_csv(OUT / "indicators.csv", index=False, float_format="%.15g")
    geo = old.set_index("city")

    def first(cell) -> float:  # Greater Sydney's cell holds two points; its first is central Sydney
        return float(str(cell).split(",")[0])

    cities = pd.DataFrame({
        "city": [slug(c) for c in new["city"]], "name": new["city"], "country": "AU",
        "region": ["capital" if c in CAPITALS else "regional" for c in new["city"]],
        "lat": [first(geo.loc[c, "Geography, Lat, "]) for c in new["city"]],
        "lon": [first(geo.loc[c, "Geography, Long, "]) for c in new["city"]],
        "population": new["total_population"],
    })
    cities.to_csv(OUT / "cities.csv", index=False)
    pd.DataFrame({"city": [slug(c) for c in old["city"]], "name_2017": old["Cities"], "name_2018_19": old["city"]}
                 ).sort_values("city").to_csv(OUT / "city_names.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
