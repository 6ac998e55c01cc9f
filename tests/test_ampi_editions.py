"""The adjusted Mazziotta–Pareto index over editions: one set of goalposts and one reference for every edition,
checked against the formula worked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import PANEL_CITIES, write_city_panel

from smartcities.build import build
from smartcities.errors import InputError

YEARS = (2019, 2021)
MOVED = {"city2": 25.0, "city7": -20.0}  # added to a1 in 2021; every other city's data stay as they were


def ampi_index(folder, normalise="pooled", aggregate="{method: ampi}"):
    def moved(city, year, values):
        if year == YEARS[-1] and city in MOVED:
            values[0] += MOVED[city]

    write_city_panel(folder, YEARS, moved)
    spec = folder / "spec.yaml"
    spec.write_text(f"""name: Cities
framework: fw.yaml
cities: cities.csv
indicators: indicators.csv
editions: {{column: year, normalise: {normalise}}}
pipeline:
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {aggregate}
""", encoding="utf-8")
    return spec


def by_hand(folder) -> dict[int, pd.Series]:
    """Each edition's Index: minmax over both editions, goalposts [0, 100] (the lowest and highest value of any
    edition), z = (y − (ref − 50)) / 100 · 60 + 70 with ref each node's 2019 mean, then M − S²/M (population
    sd) within A, within B and over A and B."""
    long = pd.read_csv(folder / "indicators.csv")
    leaves = ["a1", "a2", "b1", "b2"]
    raw = {y: long[long.year == y].pivot(index="city", columns="indicator", values="value")
           .loc[PANEL_CITIES, leaves] * [1, 1, -1, 1] for y in YEARS}
    lo = np.minimum(*(raw[y].min() for y in YEARS))
    hi = np.maximum(*(raw[y].max() for y in YEARS))
    norm = {y: (raw[y] - lo) / (hi - lo) * 100 for y in YEARS}

    def ampi(children: pd.DataFrame, reference: pd.Series) -> pd.Series:
        z = (children - (reference - 50)) / 100 * 60 + 70
        m, s = z.mean(axis=1), z.std(axis=1, ddof=0)
        return m - s * s / m

    ref = norm[YEARS[0]].mean()
    pillars = {y: pd.DataFrame({"A": ampi(norm[y][["a1", "a2"]], ref[["a1", "a2"]]),
                                "B": ampi(norm[y][["b1", "b2"]], ref[["b1", "b2"]])}) for y in YEARS}
    top_ref = pillars[YEARS[0]].mean()
    return {y: ampi(pillars[y], top_ref) for y in YEARS}


def scores(result, year) -> pd.Series:
    r = result.editions.result(year)
    return r.node_scores("Index").reindex(PANEL_CITIES)


def test_every_edition_is_scored_on_the_same_goalposts_and_reference(tmp_path):
    result = build(ampi_index(tmp_path), uncertainty=False)
    hand = by_hand(tmp_path)
    for year in YEARS:
        np.testing.assert_allclose(scores(result, year).to_numpy(), hand[year].to_numpy(), rtol=0, atol=1e-9)
    # the point of the adjusted index: a city whose data did not change keeps its score, whatever others did
    same = [c for c in PANEL_CITIES if c not in MOVED]
    np.testing.assert_allclose(scores(result, 2021)[same], scores(result, 2019)[same], rtol=0, atol=1e-9)
    assert scores(result, 2021)["city2"] > scores(result, 2019)["city2"]
    assert scores(result, 2021)["city7"] < scores(result, 2019)["city7"]
    # what each edition was built with is recorded, so any edition rebuilds alone and equal
    aggregate = [s["aggregate"] for s in result.editions.record()[1]["steps"] if "aggregate" in s][0]
    assert aggregate["goalposts"] == [0.0, 100.0]
    assert set(aggregate["reference"]) == {"a1", "a2", "b1", "b2", "A", "B", "Index"}
    run = json.loads(json.dumps(result.run_record(), default=str))
    assert run["editions"][0]["steps"] == result.editions.record()[0]["steps"]


def test_a_reference_the_step_gives_is_kept(tmp_path):
    result = build(ampi_index(tmp_path, aggregate="{method: ampi, goalposts: [0, 100], reference: 50}"),
                   uncertainty=False)
    for edition in result.editions.record():
        aggregate = [s["aggregate"] for s in edition["steps"] if "aggregate" in s][0]
        assert aggregate["reference"] == 50 and aggregate["goalposts"] == [0, 100]


def test_without_ampi_the_steps_are_untouched(tmp_path):
    result = build(ampi_index(tmp_path, aggregate="{method: arithmetic}"), uncertainty=False)
    aggregate = [s["aggregate"] for s in result.editions.record()[1]["steps"] if "aggregate" in s][0]
    assert "goalposts" not in aggregate and "reference" not in aggregate


def test_per_edition_normalisation_still_gets_one_scale(tmp_path):
    """Normalised edition by edition, each edition spans [0, 100] itself; the reference stays 2019's."""
    result = build(ampi_index(tmp_path, normalise="per-edition"), uncertainty=False)
    aggregate = [s["aggregate"] for s in result.editions.record()[1]["steps"] if "aggregate" in s][0]
    first = result.editions.result(2019)
    assert aggregate["reference"]["a1"] == pytest.approx(np.nanmean(first.stages.scores[0][:, 0]))
    with pytest.raises(InputError):  # goalposts that leave values outside give non-positive children
        build(ampi_index(tmp_path, normalise="per-edition",
                         aggregate="{method: ampi, goalposts: [60, 61]}"), uncertainty=False)
