"""COINr's published ASEM results: the standard example and the JOSS-paper recipe, and the COINr reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_IDATA, ASEM_IMETA, need_fixture, need_shared

from smartcities.analysis.results import treatment_log
from smartcities.build import build, versions
from smartcities.io.coinr import framework_from_imeta, read_coinr

# COINr's build_example_coin(): Index, top five (2 decimals)
STANDARD_TOP5 = [("CHE", 68.38), ("NLD", 64.82), ("DNK", 64.80), ("NOR", 64.47), ("BEL", 63.54)]
# The JOSS paper: raw data → minmax [0, 100] → arithmetic mean, no other steps
JOSS_TOP6 = [("DEU", 75.23), ("GBR", 68.94), ("FRA", 65.92), ("CHE", 62.61), ("NLD", 61.24), ("SWE", 60.59)]


def top(result, n):
    s = result.node_scores("Index").dropna().sort_values(ascending=False)
    return [(u, round(float(v), 2)) for u, v in s.head(n).items()]


def test_standard_top_five(asem_standard):
    assert top(asem_standard, 5) == STANDARD_TOP5
    ranks = asem_standard.stages.ranks[0, :, -1]
    units = list(asem_standard.context.units)
    assert [int(ranks[units.index(u)]) for u, _ in STANDARD_TOP5] == [1, 2, 3, 4, 5]


def test_standard_keeps_every_unit(asem_standard):
    assert asem_standard.kept.all()  # imputation fills every gap, so screening at 0.9 drops nobody
    assert not np.isnan(asem_standard.stages.scores).any()


def test_joss_recipe_top_six(tmp_path):
    need_shared(ASEM_IDATA, ASEM_IMETA)
    spec = tmp_path / "joss.yaml"
    spec.write_text(f"""\
name: ASEM (JOSS recipe)
data: {{format: coinr, idata: {ASEM_IDATA}, imeta: {ASEM_IMETA}}}
pipeline:
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {{method: arithmetic}}
""", encoding="utf-8")
    result = build(spec)
    assert top(result, 6) == JOSS_TOP6
    # raw data has gaps: they stay missing and the means skip them
    assert np.isnan(result.stages.data["normalise"]).any()
    assert not np.isnan(result.stages.scores[0, :, -1]).any()


def test_geometric_top_five(asem_geometric):
    # the same steps with minmax [1, 100] and the geometric mean (COINr: a_gmean); values checked against COINr's
    # own output in test_coinr_equality
    assert [u for u, _ in top(asem_geometric, 5)] == ["CHE", "DNK", "BEL", "NOR", "NLD"]


def test_coinr_reader():
    need_shared(ASEM_IDATA, ASEM_IMETA)
    t = read_coinr(ASEM_IDATA, ASEM_IMETA)
    assert len(t.units) == 51 and t.units[:2] == ("AUT", "BEL")
    assert t.unit_names[:2] == ("Austria", "Belgium")
    assert t.values.shape == (51, 49)
    assert t.framework.n_levels == 4
    assert len(t.framework.leaves()) == 49
    assert t.framework.root() == "Index"
    assert set(t.groups) == {"GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group"}
    assert set(t.groups["EurAsia_group"]) == {"Asia", "Europe"}
    assert set(t.denominators) == {"Area", "Energy", "GDP", "Population"}
    assert t.denominators["Area"][0] == 83871.0  # Austria
    assert t.framework.by_id["Flights"].denominator == "Population"
    assert t.framework.by_id["LPI"].target == pytest.approx(4.11803135)
    leaves = t.framework.leaves()
    assert t.values[0, leaves.index("LPI")] == pytest.approx(4.097985)


def test_imeta_levels_and_weights():
    need_shared(ASEM_IMETA)
    fw, groups, denoms = framework_from_imeta(ASEM_IMETA)
    levels = fw.level
    assert sorted({levels[n] for n in fw.by_id}) == [1, 2, 3, 4]
    assert sum(1 for n in fw.by_id if levels[n] == 2) == 8  # pillars
    assert sorted(n for n in fw.by_id if levels[n] == 3) == ["Conn", "Sust"]
    for m in fw.compile().matrices:
        assert np.allclose(m.sum(axis=0), 1)
    assert groups == ["GDP_group", "GDPpc_group", "Pop_group", "EurAsia_group"]
    assert denoms == ["Area", "Energy", "GDP", "Population"]


def test_imeta_errors_are_located(tmp_path):
    need_shared(ASEM_IMETA)
    lines = ASEM_IMETA.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",Indicator", ",Indicatr")
    bad = tmp_path / "iMeta.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from smartcities.errors import InputError

    with pytest.raises(InputError) as err:
        framework_from_imeta(bad)
    (p,) = err.value.problems
    assert (p.line, p.column) == (4, "Type") and "did you mean 'Indicator'" in p.message



def test_treatment_log_matches_coinr_for_every_indicator(asem_standard):
    (summary,) = need_fixture("standard_treatment_summary.csv")
    coinr = pd.read_csv(summary).set_index("iCode")
    log = treatment_log(asem_standard).set_index("indicator")
    touched = coinr[(coinr.n_winhi > 0) | (coinr.n_winlo > 0) | coinr.log_applied]
    assert sorted(log.index) == sorted(touched.index)
    assert (log.winsorised_high == touched.n_winhi[log.index]).all()
    assert (log.winsorised_low == touched.n_winlo[log.index]).all()
    assert (log.transformed == touched.log_applied[log.index]).all()


def test_versions_are_the_installed_ones_and_each_build_gets_its_own_copy():
    import importlib.metadata

    import numpy

    first, second = versions(), versions()
    assert first["numpy"] == numpy.__version__ == importlib.metadata.version("numpy") and "smartcities" in first
    assert first == second and first is not second
    first["numpy"] = "edited"
    assert versions()["numpy"] == numpy.__version__
