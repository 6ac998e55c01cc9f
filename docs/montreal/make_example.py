"""Remake this folder's data, adapters and cities table from the Ville de Montréal files (see PROVENANCE.md).

Run from the repository root: python docs/montreal/make_example.py /path/to/montreal_bike_counters
The count files and the districts are copied byte-identical; the cycle network is simplified (shapely, 10 m)."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import shapely
import yaml

HERE = Path(__file__).parent
WHOLE = ["comptagevelo2014.csv", "comptagevelo20152.csv", "comptagevelo20162.csv", "comptagevelo2017.csv",
         "comptage_velo_2018.csv", "comptage_velo_2019.csv", "localisation_des_compteurs_velo.csv", "montreal.json"]
# legacy column names of the daily files → the counter's ID in localisation_des_compteurs_velo.csv
LEGACY = {
    "Berri1": "100003032", "Boyer": "100012218", "Boyer 2": "100035408", "Brébeuf": "100004575",
    "CSC (Côte Sainte-Catherine)": "100003041", "Christophe-Colomb": "100035409",
    "Eco-Display Parc Stanley": "100041114", "Eco-Totem - Métro Laurier": "100007390", "Totem_Laurier": "100007390",
    "Edmond Valade": "100041101", "Gouin / Lajeunesse": "100034805", "Maisonneuve_1": "100057500",
    "Maisonneuve_2": "100003039", "Maisonneuve_3": "100011783", "Notre-Dame": "100001753", "Parc": "100003042",
    "PierDup": "100003040", "Pont Jacques-Cartier": "100002880", "Pont_Jacques_Cartier": "100002880",
    "Rachel / Hôtel de Ville": "100012217", "Rachel / Papineau": "100003034", "René-Lévesque": "100011748",
    "Saint-Antoine": "100011747", "Saint-Laurent/Bellechasse": "100025474", "Saint-Urbain": "100017523",
    "University": "100017441", "Viger": "100047030",
}


def counters(source: Path) -> list[dict]:
    with (source / "localisation_des_compteurs_velo.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def adapter(name: str, comment: str, spec: dict) -> None:
    text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=120)
    (HERE / name).write_text(f"# {comment}\n{text}", encoding="utf-8")


def main(source: Path) -> None:
    for name in WHOLE:
        shutil.copyfile(source / name, HERE / name)
    table = counters(source)
    locations = {row["ID"]: {"lat": float(row["Latitude"]), "lon": float(row["Longitude"])} for row in table}
    common = {"property": "bike_count", "unit": "count"}
    adapter("adapter-daily-iso.yaml", "Daily counts with Date as YYYY-MM-DD and no time column (2013, 2014).",
            {"time": "Date", "date_format": "%Y-%m-%d", **common, "aliases": LEGACY, "locations": locations})
    adapter("adapter-daily-dmy.yaml", "Daily counts with Date as DD/MM/YYYY, then an unnamed column holding 00:00 "
            "(2009-2012, 2015-2018). The import names that unnamed column unnamed_2, by its "
            "position.",
            {"time": "Date", "date_format": "%d/%m/%Y", **common, "aliases": LEGACY, "ignore": ["unnamed_2"],
             "locations": locations})
    with (source / "comptage_velo_2019.csv").open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    ids = {column: column.removeprefix("compteur_") for column in header[1:]}
    adapter("adapter-15min.yaml", "15-minute counts of 2019: Date as YYYY-MM-DD HH:MM:SS, columns compteur_<ID>.",
            {"time": "Date", "date_format": "%Y-%m-%d %H:%M:%S", **common, "aliases": ids, "locations": locations})
    districts = json.loads((source / "montreal.json").read_text(encoding="utf-8"))["features"]
    with (HERE / "cities.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["city", "name", "country", "region", "lat", "lon", "type", "area_km2"])
        for feature in sorted(districts, key=lambda f: int(f["properties"]["CODEID"])):
            props, point = feature["properties"], shapely.geometry.shape(feature["geometry"]).representative_point()
            writer.writerow([props["CODEID"], props["NOM"], "CA", "North America", round(point.y, 5),
                             round(point.x, 5), props["TYPE"], round(props["AIRE"] / 1e6, 3)])
    network = json.loads((source / "reseau_cyclable.geojson").read_text(encoding="utf-8"))
    lines = []
    for feature in network["features"]:
        geometry = shapely.set_precision(shapely.simplify(shapely.geometry.shape(feature["geometry"]), 1e-4), 1e-5)
        if not geometry.is_empty:
            lines.append({"type": "Feature", "properties": {"TYPE_VOIE": feature["properties"]["TYPE_VOIE"]},
                          "geometry": shapely.geometry.mapping(geometry)})
    (HERE / "reseau_cyclable_simplified.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": lines}, separators=(",", ":")), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
