"""How insight grows with the number of cities: synthetic inventories of N cities × 100 initiatives.

Each synthetic initiative is a row of the sample inventory (so every coded value is a codebook value) given to a
synthetic city; cities take their region and country from the bundled cities table in turn. The demo's spec is
built on them without robustness runs, then the insight of the build — trends, regions (city-shuffle tests),
archetypes and every city's profile, and the tables written from them — is timed stage by stage. The baseline
printed beside it is the smallest size, so each line says how much slower a size is than the smallest and
how that compares with the growth in cities (1.0 = linear).

    .venv/bin/python bench/bench_insight.py [--cities 1000 3000 10000] [--items 100] [--permutations 9999]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import smartcities
from smartcities.analysis import archetypes as arch
from smartcities.analysis import profiles as prof
from smartcities.analysis import regions as reg
from smartcities.analysis import trends as tr
from smartcities.analysis.insight import insight_tables
from smartcities.analysis.results import domain_scores
from smartcities.build import build

DATA = Path(smartcities.__file__).resolve().parent / "data"
SPEC = """name: synthetic {n} cities
inventory: inventory.csv
cities: cities.csv
framework: sci-2022
pipeline:
  - treat: {{method: winsorise, max_points: 3, skew: 2, kurtosis: 3.5, fallback: log}}
  - normalise: {{method: minmax, range: [1, 100]}}
  - aggregate: {{method: arithmetic}}
grades: {{method: quantile, n: 5, peer_group: region}}
"""


def synthetic(folder: Path, n_cities: int, items: int, seed: int = 0) -> Path:
    """Write cities.csv, inventory.csv and a spec for `n_cities` cities with `items` initiatives each."""
    rng = np.random.default_rng(seed)
    sample = pd.read_csv(DATA / "sci2022" / "inventory.csv", dtype=str, keep_default_na=False)
    real = pd.read_csv(DATA / "cities" / "cities.csv")
    base = real.iloc[np.arange(n_cities) % len(real)].reset_index(drop=True)
    slugs = [f"city-{k:05d}" for k in range(n_cities)]
    cities = base.assign(city=slugs, name=[f"City {k:05d}" for k in range(n_cities)])
    cities.to_csv(folder / "cities.csv", index=False)
    rows = sample.iloc[rng.integers(0, len(sample), n_cities * items)].reset_index(drop=True)
    owner = np.repeat(np.arange(n_cities), items)
    rows["city"] = cities["name"].to_numpy()[owner]
    rows["country"] = cities["country"].to_numpy()[owner]
    rows["id"] = [f"{slugs[c]}-{i:03d}" for c, i in zip(owner, np.tile(np.arange(items), n_cities))]
    rows.to_csv(folder / "inventory.csv", index=False)
    (folder / "spec.yaml").write_text(SPEC.format(n=n_cities))
    return folder / "spec.yaml"


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def stages(result, n_permutations: int) -> dict[str, float]:
    """Seconds of each insight stage of one build (the same calls `analysis.insight.insight_of` makes)."""
    inv, cities = result.inputs.inventory, prof.result_cities(result)
    out = {}
    _, out["trends"] = timed(lambda: (tr.trends_table(inv, cities), tr.period_tests(inv)))
    regions, out["regions"] = timed(lambda: reg.region_table(inv, cities, domain_scores(result),
                                                             n_permutations=n_permutations))
    _, out["mixes"] = timed(lambda: reg.mix_tests(inv, cities, n_permutations=n_permutations))
    archetypes, out["archetypes"] = timed(lambda: arch.find_archetypes(arch.profile_features(inv)))
    profiles, out["profiles"] = timed(lambda: prof.all_profiles(result))
    from smartcities.analysis.insight import Insight

    insight = Insight(inv, cities, tr.trends_table(inv, cities), [], regions, reg.claim_table(regions), None,
                      archetypes, profiles)
    _, out["tables"] = timed(lambda: insight_tables(insight))
    out["total"] = sum(out.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cities", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--permutations", type=int, default=reg.N_PERMUTATIONS)
    args = parser.parse_args()
    results = {}
    for n in args.cities:
        with tempfile.TemporaryDirectory() as tmp:
            spec = synthetic(Path(tmp), n, args.items)
            built, build_s = timed(lambda spec=spec: build(spec, uncertainty=False))
            results[n] = stages(built, args.permutations)
            print(f"{n:>6,} cities × {args.items} initiatives: build {build_s:.1f} s; insight "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in results[n].items()), flush=True)
    smallest = min(results)
    for n, times in results.items():
        if n == smallest:
            continue
        growth = n / smallest
        parts = []
        for stage, seconds in times.items():
            ratio = seconds / max(results[smallest][stage], 1e-9)
            parts.append(f"{stage} {ratio:.1f}× ({np.log(ratio) / np.log(growth):.2f})")
        print(f"{n:,} vs {smallest:,} cities ({growth:.1f}× the cities): " + ", ".join(parts)
              + "   (in brackets: the growth exponent, 1.0 = linear)")

if __name__ == "__main__":
    main()
