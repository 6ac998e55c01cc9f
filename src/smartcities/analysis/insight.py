"""The insight of a build — trends, regions, archetypes and city profiles — computed once, as one value.

The tables (`insight_tables`, `write_insight`), the report's sections and the CLI all read the same `Insight`,
so they cannot disagree and nothing is computed twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..io.outputs import write_csv
from . import archetypes as arch
from . import profiles as prof
from . import regions as reg
from . import results as readings
from . import trends as tr


@dataclass(frozen=True)
class Insight:
    """Every insight reading of one build. The inventory readings are None when the build has no inventory."""

    inventory: pd.DataFrame | None
    cities: pd.DataFrame
    trends: pd.DataFrame | None  # trends.csv
    period_tests: list[tr.PeriodTest]
    regions: pd.DataFrame | None  # regions.csv
    claims: pd.DataFrame | None
    mixes: pd.DataFrame | None
    archetypes: arch.Archetypes | None
    profiles: dict[str, prof.CityProfile]  # ranking order


def insight_of(result, n_permutations: int = reg.N_PERMUTATIONS) -> Insight:
    """Run every insight analysis of a build once. Why: profiles, regions and archetypes are the slow part of
    publishing; the report and the tables need them all."""
    inventory = getattr(result.inputs, "inventory", None)
    cities = prof.result_cities(result)
    trends = regions = claims = mixes = archetypes = None
    tests: list[tr.PeriodTest] = []
    if inventory is not None:
        flags = tr.trend_flags(inventory)  # read every initiative's text once
        trends = tr.trends_table(inventory, cities, flags=flags)
        tests = tr.period_tests(inventory, flags=flags)
        regions = reg.region_table(inventory, cities, readings.domain_scores(result), n_permutations=n_permutations,
                                   flags=flags)
        claims = reg.claim_table(regions)
        mixes = reg.mix_tests(inventory, cities, n_permutations=n_permutations)
        archetypes = arch.find_archetypes(arch.profile_features(inventory, flags=flags))
    return Insight(inventory, cities, trends, tests, regions, claims, mixes, archetypes, prof.all_profiles(result))


def insight_tables(insight: Insight) -> dict[str, pd.DataFrame]:
    """The insight tables by file name: trends, regions, archetypes (all three need an inventory) and profiles
    (always)."""
    tables: dict[str, pd.DataFrame] = {}
    if insight.inventory is not None:
        tables["trends.csv"] = insight.trends
        tables["regions.csv"] = insight.regions
        tables["archetypes.csv"] = arch.archetype_table(insight.inventory, insight.cities, insight.archetypes)
    tables["profiles.csv"] = prof.profiles_table(insight.profiles)
    return tables


def write_insight(insight: Insight, folder: str | Path) -> list[Path]:
    """Write the insight tables into `folder` (which must exist) and return their paths.

    Meant to run inside `io.outputs.atomic_folder` (as `publish.write_outputs` does), so the files appear all
    together or not at all.
    """
    folder = Path(folder)
    paths = []
    for name, table in insight_tables(insight).items():
        write_csv(table, folder / name)
        paths.append(folder / name)
    return paths
