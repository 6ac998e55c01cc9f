"""Write the 2019 Smart City Index's cities and indicators tables (long) from its wide file, for docs/sci2019.yaml.

    python scripts/make_sci2019.py [SOURCE_CSV] [OUT_FOLDER]

The wide file (one row per city: Id, City, Country, six dimension scores, SmartCity_Index and its difference from
Edmonton) has neither COINr's uCode column nor an iMeta, so no reader takes it as it is. Its terms of use are not
stated, so it is not shipped: this script converts the shared copy where the spec reads it, by default
docs/sci2019/data/. SmartCity_Index goes into the indicators table as an indicator that is no leaf of the
framework: it is not part of the index, and a weight-fitting step can find it there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "smart_city_index_2019" / "Smart_City_index_headers.csv"
OUT = ROOT / "docs" / "sci2019" / "data"
DIMENSIONS = ["Smart_Mobility", "Smart_Environment", "Smart_Government", "Smart_Economy", "Smart_People",
              "Smart_Living"]
PUBLISHED = "SmartCity_Index"
# so that the gazetteer places every city: Hong Kong is its own ISO 3166 entry (HK), and the file misspells
# Kuala Lumpur; the city ids stay those of the names as written
COUNTRY = {"Hong Kong": "Hong Kong"}
NAME = {"Kuala Lampur": "Kuala Lumpur"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def convert(source: Path = SOURCE, out: Path = OUT) -> Path:
    """Write cities.csv and indicators.csv into `out` and return it."""
    wide = pd.read_csv(source)
    wide["city"] = [slug(f"{c} {k}") if (wide["City"] == c).sum() > 1 else slug(c)
                    for c, k in zip(wide["City"], wide["Country"])]
    assert wide["city"].is_unique, "two cities share a slug"
    out.mkdir(parents=True, exist_ok=True)
    cities = pd.DataFrame({"city": wide["city"], "name": wide["City"].replace(NAME),
                           "country": [COUNTRY.get(c, k) for c, k in zip(wide["City"], wide["Country"])]})
    cities.to_csv(out / "cities.csv", index=False)
    long = wide.melt(id_vars="city", value_vars=DIMENSIONS + [PUBLISHED], var_name="indicator")
    long.to_csv(out / "indicators.csv", index=False)
    return out


if __name__ == "__main__":
    convert(*(Path(a) for a in sys.argv[1:3]))
