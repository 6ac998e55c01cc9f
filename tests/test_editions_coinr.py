"""Editions against COINr 1.1.14's panel functions on ASEM_iData_p (51 countries × 5 years), from the fixtures
make_reference.R's panel section wrote: purses normalised per edition and pooled (`global = TRUE`) with the
arithmetic mean, `impute_panel` on planted gaps, and `get_trends` CAGR and prc_change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_DATA, ASEM_IMETA, need_fixture, need_shared

from smartcities.build import build
from smartcities.errors import InputError

TOLERANCE = 1e-8
PANEL = ASEM_DATA / "ASEM_iData_p.csv"
YEARS = (2018.0, 2019.0, 2020.0, 2021.0, 2022.0)


def panel_spec(tmp_path: Path, normalise: str = "pooled", impute: str = "none", idata: Path = PANEL) -> Path:
    need_shared(PANEL, ASEM_IMETA)
    path = tmp_path / "panel.yaml"
    path.write_text(f"""name: ASEM panel
data: {{format: coinr, idata: {idata}, imeta: {ASEM_IMETA}}}
editions: {{column: Time, normalise: {normalise}, impute_panel: {impute}}}
pipeline:
  - normalise: {{method: minmax, range: [0, 100]}}
  - aggregate: {{method: arithmetic}}
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    return build(panel_spec(tmp_path_factory.mktemp("pooled")))


@pytest.fixture(scope="module")
def per_edition(tmp_path_factory):
    return build(panel_spec(tmp_path_factory.mktemp("per"), normalise="per-edition"))


def compare_edition(result, stage: str, ref: pd.DataFrame, year: float) -> float:
    one = result.editions.result(year)
    ctx = one.context
    if stage == "aggregated":
        values, codes = one.stages.scores[0], ctx.compiled.nodes
    else:
        values, codes = one.stages.data[stage][0], ctx.indicators
    mine = pd.DataFrame(values, index=list(ctx.units), columns=list(codes))
    rows = ref[ref["Time"] == year].set_index("uCode")
    cols = [c for c in rows.columns if c != "Time"]
    assert set(cols) == set(codes)
    a = mine.loc[rows.index, cols].to_numpy(dtype=float)
    b = rows[cols].to_numpy(dtype=float)
    assert (np.isnan(a) == np.isnan(b)).all(), f"{year}: missing values differ"
    return float(np.nanmax(np.abs(a - b)))


@pytest.mark.parametrize("which", ["per_edition", "pooled"])
@pytest.mark.parametrize("stage", ["normalise", "aggregated"])
def test_purse_equals_coinr(request, which, stage):
    (path,) = need_fixture(f"panel_{which}_{'normalised' if stage == 'normalise' else 'aggregated'}.csv")
    ref = pd.read_csv(path, dtype={"uCode": str})
    result = request.getfixturevalue(which)
    assert result.editions.editions == YEARS
    worst = max(compare_edition(result, stage, ref, y) for y in YEARS)
    assert worst <= TOLERANCE


def test_pooled_is_not_per_edition(pooled, per_edition):
    """The two normalisations really differ on this panel (the test above could not pass for both otherwise)."""
    a = pooled.editions.result(2018.0).stages.scores[0]
    b = per_edition.editions.result(2018.0).stages.scores[0]
    assert np.nanmax(np.abs(a - b)) > 1


def planted(tmp_path: Path, blank_single: bool = False) -> Path:
    """ASEM_iData_p with the gaps make_reference.R planted (and, for COINr's linear, the two one-observation
    series blanked), written so every other value reads back the same double."""
    (gaps_path,) = need_fixture("panel_planted_gaps.csv")
    need_shared(PANEL)
    data = pd.read_csv(PANEL, dtype={"uCode": str})
    for g in pd.read_csv(gaps_path).itertuples():
        data.loc[(data.uCode == g.uCode) & (data.Time == g.Time), g.iCode] = np.nan
    if blank_single:
        for unit, ind in (("AUT", "LPI"), ("JPN", "Flights")):
            data.loc[data.uCode == unit, ind] = np.nan
    path = tmp_path / "planted.csv"
    data.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("method", ["latest", "constant", "linear", "linear-constant"])
def test_impute_panel_equals_coinr(tmp_path, method):
    (ref_path,) = need_fixture("panel_imputed.csv")
    ref = pd.read_csv(ref_path, dtype={"uCode": str})
    ref = ref[ref["method"] == method]
    result = build(panel_spec(tmp_path, impute=method, idata=planted(tmp_path, blank_single=method == "linear")),
                   uncertainty=False)
    ours = []
    for r in ref.itertuples():
        one = result.editions.result(float(r.Time))
        ours.append(one.stages.data["raw"][0][one.context.units.index(r.uCode),
                                              one.context.indicators.index(r.iCode)])
    ours, theirs = np.array(ours), ref["value"].to_numpy(dtype=float)
    assert (np.isnan(ours) == np.isnan(theirs)).all()
    assert (ours[~np.isnan(ours)] == theirs[~np.isnan(theirs)]).all()  # exact: the same operations as R's approx
    filled = result.processing.table.query("action == 'panel-imputed'")
    assert len(filled) == int((~np.isnan(theirs)).sum())


def test_linear_on_one_observation_is_an_error(tmp_path):
    """COINr's linear stops on a series with one observation (stats::approx); ours names the series and the
    method that handles it."""
    (ref_path,) = need_fixture("panel_linear_one_observation.csv")
    assert "two non-NA values" in pd.read_csv(ref_path)["linear_error"].iloc[0]
    with pytest.raises(InputError) as err:
        build(panel_spec(tmp_path, impute="linear", idata=planted(tmp_path)), uncertainty=False)
    message = str(err.value)
    assert "AUT/LPI has one (in 2020)" in message and "and 1 other series" in message
    assert "linear-constant" in message and "line 3" in message


@pytest.mark.parametrize("measure, column, rtol", [("cagr", "CAGR", 0.0), ("prc_change", "prc_change", 1e-8)])
def test_trends_equal_get_trends(pooled, measure, column, rtol):
    (path,) = need_fixture(f"panel_trends_{measure}.csv")
    ref = pd.read_csv(path, dtype={"uCode": str}).set_index(["uCode", "iCode"])
    ours = pooled.editions.trends.set_index(["city", "node"])
    both = ref.index.intersection(ours.index)
    assert len(both) == len(ours)
    assert (ref.drop(both)["Avail"] == 0).all()  # COINr lists the all-missing series too; we leave them out
    a = ours.loc[both, measure].to_numpy(dtype=float)
    b = ref.loc[both, column].to_numpy(dtype=float)
    assert (np.isnan(a) == np.isnan(b)).all() and (np.isinf(a) == np.isinf(b)).all()
    finite = np.isfinite(b)
    assert np.allclose(a[finite], b[finite], rtol=rtol, atol=TOLERANCE)
    assert (a[np.isinf(b)] == b[np.isinf(b)]).all()
    assert (ours.loc[both, "editions_used"].to_numpy() == (ref.loc[both, "Avail"] * 5).round().to_numpy()).all()
