"""Write the single-edition Australian cities index (src/smartcities/data/au_cities, the files ending -2019)
from the National Cities Performance Framework's 2018/19 `data_file.csv` and `metaData_file.csv` (cp1252) of
github.com/govau/smart-cities.

    python scripts/make_au_cities.py SOURCE_FOLDER

It writes `indicators-2019.csv` (long: city, indicator, value) with every performance indicator of the file,
`framework-2019.yaml` (the framework's six domains, each indicator's direction with its reason, unit, source
and period from the metadata) and `au-cities-2019.yaml` (the spec). The cities table is the editions example's
`cities.csv`. Values are copied as they are: `999.01`, the file's "no value" code, stays in the table so the
spec's `missing_values: [999.01]` reads it as missing and the processing log counts it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import yaml

OUT = Path(__file__).resolve().parents[1] / "src" / "smartcities" / "data" / "au_cities"

# columns describing a city rather than measuring how well it performs: left out, each with its reason
CONTEXT = {
    "total_population": "city size, not performance",
    "population_growth": "growth is context: neither faster nor slower growth is better in itself",
    "indigenous_population": "a population share, not performance",
    "population_density": "urban form, context: neither denser nor sparser is better in itself",
    "dwelling_house": "dwelling-type mix, descriptive",
    "dwelling_attached": "dwelling-type mix, descriptive",
    "dwelling_apartment": "dwelling-type mix, descriptive",
    "dwelling_other": "dwelling-type mix, descriptive",
    "household_size": "household composition, descriptive",
    "tenure_owned": "tenure mix, descriptive",
    "tenure_mortgage": "tenure mix, descriptive",
    "tenure_rent": "tenure mix, descriptive",
    "tenure_other": "tenure mix, descriptive",
    "non_english_speaking": "a population share, descriptive",
    "age_0_14": "age structure, descriptive",
    "age_15_64": "age structure, descriptive",
    "age_65": "age structure, descriptive",
    "median_age": "age structure, descriptive",
    "housing_price": "a price level; affordability is measured by house_price_to_income_ratio",
    "unit_price": "a price level; affordability is measured by house_price_to_income_ratio",
    "sector_goods": "industry mix, descriptive",
    "sector_market": "industry mix, descriptive",
    "sector_nonmarket": "industry mix, descriptive",
    "disability": "a population share, descriptive",
    "public_housing": "the share of social housing: neither more nor less is better in itself",
}

# domain -> indicator -> (name, direction, why that direction, unit)
DOMAINS = {
    ("jobs_skills", "Jobs and skills"): {
        "employment_growth": ("Employment growth", 1, "more jobs each year", "share per year, 5-year average"),
        "unemployment": ("Unemployment rate", -1, "fewer people seeking work", "share of the labour force"),
        "youth_unemployment": ("Youth unemployment rate", -1, "fewer young people seeking work",
                               "share of the labour force aged 15-24"),
        "participation": ("Participation rate", 1, "more people in the labour force", "share of population"),
        "indigenous_unemployment": ("Indigenous unemployment rate", -1,
                                    "fewer Aboriginal and Torres Strait Islander people seeking work",
                                    "share of the indigenous labour force"),
        "education_year_12": ("Completed Year 12", 1, "more schooling", "share of population"),
        "education_certificate": ("Completed Certificate III, IV or diploma", 1, "more vocational skills",
                                  "share of population"),
        "education_bachelor": ("Bachelor degree or higher", 1, "more university education",
                               "share of population"),
        "household_income": ("Median household income", 1, "higher incomes", "AUD per year"),
        "income_quintile": ("Households in the bottom income quintile", -1, "fewer low-income households",
                            "share of households"),
    },
    ("infrastructure", "Infrastructure and investment"): {
        "jobs_accessible_proportion": ("Jobs reachable in 30 minutes by car", 1, "more jobs within a commute",
                                       "share of the city's jobs"),
        "jobs_accessible_number": ("Number of jobs reachable in 30 minutes by car", 1,
                                   "more jobs within a commute (grows with city size)", "jobs"),
        "public_transport": ("Public transport use to work", 1, "less car dependence", "share of journeys"),
        "active_transport": ("Active transport use to work", 1, "less car dependence, more exercise",
                             "share of journeys"),
        "peak_travel_delay": ("Peak travel delay", -1, "less congestion", "added share of travel time"),
        "public_transport_access": ("Dwellings near frequent public transport", 1, "better transport access",
                                    "share of dwellings"),
        "broadband_connections": ("Households with broadband", 1, "better digital access",
                                  "share of households"),
    },
    ("liveability", "Liveability and sustainability"): {
        "life_expectancy": ("Life expectancy", 1, "longer lives", "years"),
        "obesity": ("Adult obesity", -1, "better health", "share of adults"),
        "safety": ("Feeling safe walking after dark", 1, "more people feel safe", "share of adults"),
        "crisis_support": ("Support in times of crisis", 1, "stronger social ties", "share of adults"),
        "suicide": ("Suicides", -1, "better mental health", "per 100 000 per year"),
        "volunteering": ("Volunteers", 1, "stronger community participation", "share of people aged 15+"),
        "access_to_open_space": ("Dwellings near public open space", 1, "more green space within reach",
                                 "share of dwellings"),
        "air_quality": ("Fine particulate matter (PM2.5)", -1, "cleaner air", "ug/m3, annual mean"),
        "greenhouse_gas": ("Greenhouse gas emissions", -1, "lower emissions", "tonnes CO2-e per capita"),
        "office_energy_efficiency": ("Office energy efficiency (NABERS)", 1, "more energy-efficient offices",
                                     "NABERS stars"),
    },
    ("innovation", "Innovation and digital opportunities"): {
        "knowledge_industries": ("Workers in knowledge-intensive industries", 1, "a larger knowledge economy",
                                 "share of employment"),
        "new_business": ("New businesses", 1, "more business formation", "share of businesses"),
        "patent_application": ("Patent applications", 1, "more invention", "per 100 000"),
        "gross_regional_product": ("Gross regional product per capita", 1, "higher output", "AUD per capita"),
    },
    ("housing", "Housing"): {
        "house_price_to_income_ratio": ("Dwelling price to income", -1, "more affordable homes", "ratio"),
        "housing_construction_costs": ("Residential construction costs", -1, "cheaper to build",
                                       "AUD per square metre"),
        "building_approvals": ("New dwellings approved", 1, "more housing supply", "per 100 000 persons"),
        "mortgage_stress": ("Mortgage stress", -1, "fewer households overstretched by mortgages",
                            "share of households"),
        "rent_stress": ("Rent stress", -1, "fewer households overstretched by rent", "share of households"),
        "homelessness": ("Homelessness", -1, "fewer homeless people", "per 100 000"),
    },
    ("governance", "Governance, planning and regulation"): {
        "lg_fragmentation": ("Local governments in the city", -1,
                             "fewer councils to coordinate planning across", "number of councils"),
    },
}

INDICATORS = {key: spec for domain in DOMAINS.values() for key, spec in domain.items()}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def source_of(message: str, period: str) -> str:
    """'ABS - Census 2016 (Aug-16)' from a metadata message ending in a 'Source: ...' line and its period."""
    found = re.search(r"Sources?:?\s*(.+)$", message.strip(), re.S)
    where = " ".join(found.group(1).split()) if found else "not stated"
    return f"{where} ({' '.join(period.replace('NEW!', '').split()).rstrip(' -')})"


def framework(meta: pd.DataFrame) -> dict:
    sources = {r.indicator: source_of(r.message, r.period) for r in meta.itertuples()}
    domains = []
    for (domain, title), members in DOMAINS.items():
        children = [{"id": key, "name": name, "direction": direction, "unit": unit,
                     "description": f"{'Higher' if direction > 0 else 'Lower'} is better: {why}. "
                                    f"Source: {sources[key]}."}
                    for key, (name, direction, why, unit) in members.items()]
        domains.append({"id": domain, "name": title, "children": children})
    return {"id": "index", "name": "Australian cities performance, 2018/19", "children": domains}


SPEC = """\
# The 22 cities of the National Cities Performance Framework on every performance indicator of its 2018/19
# data file ({n} indicators in six domains; PROVENANCE.md names the context columns left out and why).
# Written by scripts/make_au_cities.py. Build it: smartcities build <this file> --out au-cities-2019
name: Australian cities, 2018/19
description: >-
  The 22 cities of the Australian Government's National Cities Performance Framework (8 capitals, 14 regional
  cities with Western Sydney) on the {n} performance indicators of its 2018/19 data, in the framework's six
  domains. Letter ratings compare capitals with capitals and regional cities with regional cities.
framework: framework-2019.yaml
cities: cities.csv
indicators: indicators-2019.csv
missing_values: [999.01]       # the file's "no value" ({missing} cells)
pipeline:
  - impute: {{method: group-mean, group: region}}
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {{method: arithmetic}}
grades:
  peer_group: region           # capital or regional
uncertainty:
  design: montecarlo
  runs: 500
  seed: 1
  factors:
    weights: {{step: aggregate, noise: 0.25, levels: [1, 2]}}
    normalisation:
      step: normalise
      alternatives: [{{method: minmax, range: [0, 100]}}, {{method: zscore}}, {{method: rank}}]
"""


def main(source: Path) -> None:
    data = pd.read_csv(source / "data_file.csv")
    meta = pd.read_csv(source / "metaData_file.csv", encoding="cp1252")
    columns = [c for c in data.columns if c != "city"]
    unplaced = set(columns) - set(CONTEXT) - set(INDICATORS)
    assert not unplaced and not set(INDICATORS) - set(columns), ("columns not placed", unplaced)
    assert len(data) == 22
    long = data.melt(id_vars="city", value_vars=list(INDICATORS), var_name="indicator")
    long["city"] = long["city"].map(slug)
    cities = pd.read_csv(OUT / "cities.csv")
    assert set(long["city"]) == set(cities["city"]), "the cities differ from cities.csv"
    long.to_csv(OUT / "indicators-2019.csv", index=False, float_format="%.15g")
    header = ("# The six domains of the National Cities Performance Framework over the performance indicators of "
              "its 2018/19\n# data file. Written by scripts/make_au_cities.py from metaData_file.csv: each "
              "indicator's direction with\n# its reason, its unit, and its source and period.\n")
    text = yaml.safe_dump(framework(meta), sort_keys=False, allow_unicode=True, width=1000)
    (OUT / "framework-2019.yaml").write_text(header + text, encoding="utf-8")
    missing = int((long["value"] == 999.01).sum())
    (OUT / "au-cities-2019.yaml").write_text(SPEC.format(n=len(INDICATORS), missing=missing), encoding="utf-8")
    provenance = OUT / "PROVENANCE.md"
    text = provenance.read_text(encoding="utf-8")
    before, _, rest = text.partition(BEGIN)
    after = rest.partition(END)[2] if rest else "\n"
    provenance.write_text(before + BEGIN + "\n" + section(long) + END + after, encoding="utf-8")


BEGIN, END = "<!-- written by scripts/make_au_cities.py -->", "<!-- end of make_au_cities.py -->"


def section(long: pd.DataFrame) -> str:
    """PROVENANCE.md's part on the 2018/19 index: what is in it, the missing cells, what is left out and why."""
    counts = long[long["value"] == 999.01].groupby("indicator").size().sort_values(ascending=False)
    missing = ", ".join(f"{n} of {key}" for key, n in counts.items())
    domains = "; ".join(f"{title} ({len(members)})" for (_, title), members in DOMAINS.items())
    rows = "\n".join(f"| `{column}` | {why} |" for column, why in CONTEXT.items())
    return f"""
## The single-edition 2018/19 index

`python scripts/make_au_cities.py FOLDER` writes `au-cities-2019.yaml`, `framework-2019.yaml` and
`indicators-2019.csv` from `data_file.csv` and `metaData_file.csv` (cp1252), and this section; nothing is edited
by hand. The cities are those of `cities.csv`.

- `indicators-2019.csv` — long (`city,indicator,value`): 22 cities × {long.indicator.nunique()} indicators =
  {len(long)} rows, the source cells as they are. `999.01` ("no value") in {len(counts)} indicators,
  {int(counts.sum())} cells: {missing}. The spec's `missing_values: [999.01]` reads them as missing.
- `framework-2019.yaml` — the framework's six domains: {domains}. Each indicator carries its
  direction, its reason (in `description`, with the metadata's source and reference period) and its unit.

Every column of `data_file.csv` that measures performance is an indicator. Left out, as context:

| column | why left out |
|---|---|
{rows}

"""


if __name__ == "__main__":
    main(Path(sys.argv[1]))
