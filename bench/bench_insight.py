"""How insight grows with the number of cities: synthetic inventories of N cities × 100 initiatives.

Each synthetic initiative is a row of the sample inventory (so every coded value is a codebook value) given to a
synthetic city; cities take their region, country and population from the bundled cities table in turn. Setup
is kept out of the way, so the bench measures insight: the index is built on the sci-2022 tree from random
indicator values (a measured indicators table, with the framework's derive rules dropped, because deriving and
reading a million coded rows is the build's cost, not insight's), and the synthetic inventory, drawn in memory
from the parsed sample, is put in the build's inputs. Then the insight of the build — trends, regions
(city-shuffle tests), archetypes and every city's profile, and the tables written from them — is timed stage
by stage. The baseline printed beside it is the smallest size, so each line says how much slower a size is
than the smallest and how that compares with the growth in cities (1.0 = linear).

    .venv/bin/python bench/bench_insight.py [--cities 1000 3000 10000] [--items 100] [--permutations 9999]
"""

from __future__ import annotations  # noqa: I001 (smartcities before NumPy: its kernels)

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import smartcities  # (first, so NumPy runs the kernels a smartcities process runs)
import numpy as np
import pandas as pd
import yaml

from smartcities.analysis import archetypes as arch
from smartcities.analysis import profiles as prof
from smartcities.analysis import regions as reg
from smartcities.analysis import trends as tr
from smartcities.analysis.insight import insight_tables
from smartcities.analysis.results import domain_scores
from smartcities.build import build
from smartcities.io.inventory import read_inventory
from smartcities.model.framework_files import preset_path

DATA = Path(smartcities.__file__).resolve().parent / "data"
SPEC = """name: synthetic {n} cities
cities: cities.csv
indicators: indicators.csv
framework: framework.yaml
pipeline:
  - treat: {{method: winsorise, max_points: 3, skew: 2, kurtosis: 3.5, fallback: log}}
  - normalise: {{method: minmax, range: [1, 100]}}
  - aggregate: {{method: arithmetic}}
grades: {{method: quantile, n: 5, peer_group: region}}
"""


def _without_derive(node: dict) -> dict:
    return {k: [_without_derive(c) for c in v] if k == "children" else v for k, v in node.items() if k != "derive"}


def synthetic(folder: Path, n_cities: int, items: int, seed: int = 0):
    """A build of `n_cities` synthetic cities with `items` initiatives each, its inventory in its inputs."""
    rng = np.random.default_rng(seed)
    real = pd.read_csv(DATA / "cities" / "cities.csv")
    base = real.iloc[np.arange(n_cities) % len(real)].reset_index(drop=True)
    slugs = pd.Series([f"city-{k:05d}" for k in range(n_cities)])
    names = "City " + slugs.str[5:]
    cities = base.assign(city=slugs, name=names)
    cities.to_csv(folder / "cities.csv", index=False)
    framework = _without_derive(yaml.safe_load(preset_path("sci-2022").read_text()))
    (folder / "framework.yaml").write_text(yaml.safe_dump(framework, sort_keys=False))
    leaves = [leaf["id"] for domain in framework["children"] for leaf in domain["children"]]
    pd.DataFrame({"city": np.repeat(slugs.to_numpy(), len(leaves)), "indicator": np.tile(leaves, n_cities),
                  "value": rng.random(n_cities * len(leaves)).round(6)}).to_csv(folder / "indicators.csv",
                                                                               index=False)
    (folder / "spec.yaml").write_text(SPEC.format(n=n_cities))
    built = build(folder / "spec.yaml", uncertainty=False)
    sample = read_inventory(DATA / "sci2022" / "inventory.csv")
    rows = sample.iloc[rng.integers(0, len(sample), n_cities * items)].reset_index(drop=True)
    owner = np.repeat(np.arange(n_cities), items)
    rows["city"] = names.to_numpy()[owner]
    rows["city_id"] = slugs.to_numpy()[owner]
    rows["country"] = cities["country"].to_numpy()[owner]
    rows["id"] = rows["city_id"] + "-" + pd.Series(np.tile(np.arange(items), n_cities)).astype(str).str.zfill(3)
    return dataclasses.replace(built, inputs=dataclasses.replace(built.inputs, inventory=rows))


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def stages(result, n_permutations: int) -> dict[str, float]:
    """Seconds of each insight stage of one build (the same calls `analysis.insight.insight_of` makes)."""
    from smartcities.analysis.insight import Insight

    inv, cities = result.inputs.inventory, prof.result_cities(result)
    out = {}
    flags, out["flags"] = timed(lambda: tr.trend_flags(inv))
    (trends, _), out["trends"] = timed(lambda: (tr.trends_table(inv, cities, flags=flags),
                                                tr.period_tests(inv, flags=flags)))
    regions, out["regions"] = timed(lambda: reg.region_table(inv, cities, domain_scores(result),
                                                             n_permutations=n_permutations, flags=flags))
    _, out["mixes"] = timed(lambda: reg.mix_tests(inv, cities, n_permutations=n_permutations))
    archetypes, out["archetypes"] = timed(lambda: arch.find_archetypes(arch.profile_features(inv, flags=flags)))
    profiles, out["profiles"] = timed(lambda: prof.all_profiles(result))
    insight = Insight(inv, cities, trends, [], regions, reg.claim_table(regions), None, archetypes, profiles)
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
            built, setup_s = timed(lambda tmp=tmp, n=n: synthetic(Path(tmp), n, args.items))
            results[n] = stages(built, args.permutations)
            print(f"{n:>6,} cities × {args.items} initiatives: setup {setup_s:.1f} s; insight "
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
