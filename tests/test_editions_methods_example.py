"""docs/asem-editions-methods.yaml, COINr's ASEM panel with its 2018 and 2019 editions made in their day with
standard scores: each of those editions built with its own method equals a single build of that year's rows with
that method, its ranks are the decomposition's previous ranks, the method term is not zero, and every city's rank
change is the sum of its three parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ASEM_IMETA, need_shared
from test_editions import PANEL, one_year

from smartcities.build import build

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "asem-editions-methods.yaml"
OWN = (2018, 2019)  # the editions the example builds with their own method


def example_text() -> str:
    """The example with its data's paths made absolute, so a copy of it builds from any folder."""
    need_shared(PANEL, ASEM_IMETA)
    text = EXAMPLE.read_text(encoding="utf-8")
    return text.replace("../../shared/data/coinr_asem/ASEM_iData_p.csv", str(PANEL)).replace(
        "../../shared/data/coinr_asem/ASEM_iMeta.csv", str(ASEM_IMETA))


@pytest.fixture(scope="module")
def today():
    """The example as shipped: every edition back-cast with today's method."""
    need_shared(PANEL, ASEM_IMETA)
    return build(EXAMPLE, uncertainty=False)


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """The example with `backcast: false`: 2018 and 2019 are their own builds, so their scores can be compared."""
    path = tmp_path_factory.mktemp("kept") / "spec.yaml"
    text = example_text()
    path.write_text(text.replace("  impute_panel: latest\n", "  impute_panel: latest\n  backcast: false\n"),
                    encoding="utf-8")
    return build(path, uncertainty=False)


def single_build(folder: Path, year: int):
    """A single build of one year's rows of the panel with the pipeline the example names for that year."""
    spec = yaml.safe_load(example_text())
    spec["data"]["idata"] = str(one_year(folder, year))
    spec["pipeline"] = spec["editions"]["methods"][year]
    del spec["editions"], spec["uncertainty"]
    path = folder / f"single-{year}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return build(path)


def test_the_example_names_a_different_normalisation_for_its_early_editions():
    need_shared(PANEL, ASEM_IMETA)
    spec = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert spec["pipeline"][0] == {"normalise": {"method": "minmax", "range": [0, 100]}}
    assert sorted(spec["editions"]["methods"]) == list(OWN)
    for year in OWN:
        assert spec["editions"]["methods"][year][0]["normalise"]["method"] == "zscore"


@pytest.mark.parametrize("year", OWN)
def test_an_edition_on_its_own_method_equals_a_single_build_with_that_method(today, kept, tmp_path, year):
    assert not (today.processing.table["action"] == "panel-imputed").any()  # the panel has nothing to fill
    single = single_build(tmp_path, year)
    own = kept.editions.result(float(year))
    assert own.context.units == single.context.units
    assert np.allclose(own.stages.scores, single.stages.scores, rtol=0, atol=1e-12, equal_nan=True)
    assert np.array_equal(own.stages.ranks, single.stages.ranks, equal_nan=True)
    back = today.editions.result(float(year))  # the back-cast: today's method, so other scores
    assert not np.allclose(back.stages.scores, single.stages.scores, equal_nan=True)
    steps = [s for s in today.editions.record() if s["edition"] == str(year)][0]["steps"]
    assert steps[0]["normalise"]["method"] == "minmax"
    kept_steps = [s for s in kept.editions.record() if s["edition"] == str(year)][0]["steps"]
    assert kept_steps[0]["normalise"]["method"] == "zscore"
    # the decomposition's previous rank of the next edition is this edition's rank on its own method
    split = today.editions.decomposition.query(f"edition == '{year + 1}'").set_index("city")
    root = single.context.compiled.nodes.index(single.context.framework.root())
    own_rank = dict(zip(single.context.units, single.stages.ranks[0][:, root]))
    assert all(split.loc[c, "previous_rank"] == own_rank[c] for c in split.index)


def test_the_method_term_is_not_zero_and_the_parts_add_up(today):
    split = today.editions.decomposition
    assert len(split) == 4 * 51  # 51 countries in every edition
    assert (split["rank_change"] == split["performance"] + split["method"] + split["sample"]).all()
    by_edition = split.groupby("edition")["method"].apply(lambda m: int((m != 0).sum())).to_dict()
    assert by_edition["2019"] > 0 and by_edition["2020"] > 0  # after an edition made on its own method
    assert by_edition["2021"] == by_edition["2022"] == 0  # after one made on today's
    sgp = split.query("edition == '2019' and city == 'SGP'").iloc[0]
    assert (sgp["rank_change"], sgp["performance"], sgp["method"], sgp["sample"]) == (-5, 1, -6, 0)
