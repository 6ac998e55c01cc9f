"""The offline sensor map at network scale: 1,000 sensors over 34 districts (Montréal's, when the shared data are
present; else a 6 × 6 grid less two), a month of hourly pm25, districts coloured by the daily mean with a slider
over 30 days, the cycle network drawn when present.

Printed: the file's size (target ≤ 5 MB) and the first render in headless Chromium, from navigation to the page
saying it is drawn (target ≤ 2 s), beside a baseline measured in the same browser: an empty page's load.

    .venv/bin/python bench/bench_sensors_map.py [--sensors 1000 --days 30 --repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "montreal_bike_counters"


def districts(folder: Path) -> tuple[Path, Path | None, str]:
    """Montréal's districts and cycle network, or a synthetic grid of 34 squares."""
    if (SHARED / "montreal.json").exists():
        return SHARED / "montreal.json", SHARED / "reseau_cyclable.geojson", "NOM"
    features = [{"type": "Feature", "properties": {"NOM": f"d{i}"}, "geometry": {"type": "Polygon", "coordinates": [
        [[-73.9 + 0.05 * (i % 6), 45.4 + 0.05 * (i // 6)], [-73.85 + 0.05 * (i % 6), 45.4 + 0.05 * (i // 6)],
         [-73.85 + 0.05 * (i % 6), 45.45 + 0.05 * (i // 6)], [-73.9 + 0.05 * (i % 6), 45.45 + 0.05 * (i // 6)],
         [-73.9 + 0.05 * (i % 6), 45.4 + 0.05 * (i // 6)]]]}} for i in range(34)]
    path = folder / "districts.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path, None, "NOM"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensors", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from smartcities.sensors.rules import compute, read_rules
    from smartcities.sensors.store import connect
    from smartcities.sensors.view import map_document, write_map

    folder = Path(tempfile.mkdtemp())
    shapes, network, id_property = districts(folder)
    db = connect(folder / "sensors.duckdb")
    rng = np.random.default_rng(0)
    n = args.sensors
    things = pd.DataFrame({"thing": [f"s{k}" for k in range(n)], "lat": rng.uniform(45.45, 45.65, n),
                           "lon": rng.uniform(-73.85, -73.5, n)})
    db.register("t", things)
    db.execute("insert into things select thing, thing, '', '{}' from t")
    db.execute("insert into locations select thing, lat, lon, '' from t")
    db.execute("insert into sensors select thing, thing, '' from t")
    db.execute("insert into observed_properties values ('pm25', 'PM2.5', '', 'µg/m³')")
    db.execute("insert into datastreams select row_number() over (), thing, thing, 'pm25', 'µg/m³' from t")
    db.execute(f"""insert into observations select d.datastream_id, timestamp '2019-06-01' + to_hours(h.range),
                   10 + 8 * random() from datastreams d, range({24 * args.days}) h""")
    rules = folder / "rules.yaml"
    rules.write_text(f"spatial_unit: district\ndistricts: {shapes}\nid_property: {id_property}\nindicators:\n"
                     "  pm25_daily: {property: pm25, bucket: day, statistic: mean, validity: {hour: 1, day: 0.75}}\n")
    started = time.perf_counter()
    checked = read_rules(rules)
    out = write_map(map_document(db, checked, compute(checked, db).indicators, network=network), folder / "map.html")
    made = time.perf_counter() - started
    empty = folder / "empty.html"
    empty.write_text("<!doctype html><title>empty</title><body data-ready=true></body>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])

        def render(path: Path) -> float:
            best = float("inf")
            for _ in range(args.repeat):
                page = browser.new_page()
                t0 = time.perf_counter()
                page.goto(path.as_uri())
                page.wait_for_selector("body[data-ready=true]", state="attached")
                best = min(best, time.perf_counter() - t0)
                page.close()
            return best

        base, drawn = render(empty), render(out)
        browser.close()
    print(f"map of {args.sensors:,} sensors, 34 districts, {args.days} daily periods"
          f"{', the cycle network' if network else ''}: {out.stat().st_size / 2**20:.2f} MB, made in {made:.2f} s")
    print(f"first render {drawn:.3f} s vs an empty page {base:.3f} s = {drawn / base:.1f}× (best of {args.repeat})")


if __name__ == "__main__":
    main()
