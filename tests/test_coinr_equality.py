"""Our ASEM builds against COINr 1.1.14's own outputs (tests/fixtures/coinr, made by make_reference.R).

Each reference file has a `uCode` column and one column per indicator (and, for `*_aggregated.csv`, per aggregate),
numbers written with 17 significant digits and missing values as empty fields. Every value must agree to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import need_fixture

TOLERANCE = 1e-8


def ours(result, stage: str) -> pd.DataFrame:
    """One stage of a build as a units × codes frame: data stages by step name, or 'aggregated' for all nodes."""
    ctx = result.context
    if stage == "aggregated":
        values, codes = result.stages.scores[0], ctx.compiled.nodes
    else:
        values, codes = result.stages.data[stage][0], ctx.indicators
    return pd.DataFrame(values, index=list(ctx.units), columns=list(codes))


def compare(result, stage: str, reference_file: str) -> None:
    (path,) = need_fixture(reference_file)
    ref = pd.read_csv(path, dtype={"uCode": str}).set_index("uCode")
    mine = ours(result, stage)
    assert set(ref.columns) == set(mine.columns), "codes differ from COINr's"
    kept = [u for u in ref.index if not ref.loc[u].isna().all()]
    assert set(kept) <= set(mine.index)
    dropped = [u for u in mine.index if u not in kept]
    assert mine.loc[dropped].isna().all().all(), f"units COINr dropped still have values: {dropped}"
    a = mine.loc[kept, list(ref.columns)].to_numpy(dtype=float)
    b = ref.loc[kept].to_numpy(dtype=float)
    missing = np.isnan(a) != np.isnan(b)
    assert not missing.any(), f"missing values differ at {np.argwhere(missing)[:5].tolist()}"
    diff = np.nan_to_num(np.abs(a - b), nan=0.0)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff.max() <= TOLERANCE, (f"{reference_file}: {kept[worst[0]]} / {ref.columns[worst[1]]}: "
                                     f"ours {a[worst]!r}, COINr {b[worst]!r}")


@pytest.mark.parametrize("stage, reference", [("normalise", "standard_normalised.csv"),
                                              ("aggregated", "standard_aggregated.csv")])
def test_standard(asem_standard, stage, reference):
    compare(asem_standard, stage, reference)


@pytest.mark.parametrize("stage, reference", [("normalise", "geometric_normalised.csv"),
                                              ("aggregated", "geometric_aggregated.csv")])
def test_geometric(asem_geometric, stage, reference):
    compare(asem_geometric, stage, reference)


@pytest.mark.parametrize("stage, reference", [("raw", "standard_raw.csv"),
                                              ("denominate", "standard_denominated.csv"),
                                              ("impute", "standard_imputed.csv"),
                                              ("screen", "standard_screened.csv"),
                                              ("treat", "standard_treated.csv")])
def test_standard_intermediate_stages(asem_standard, stage, reference):
    compare(asem_standard, stage, reference)


def test_index_ranking_matches(asem_standard, asem_geometric):
    for result, reference in ((asem_standard, "standard_aggregated.csv"), (asem_geometric, "geometric_aggregated.csv")):
        (path,) = need_fixture(reference)
        ref = pd.read_csv(path).set_index("uCode")["Index"].sort_values(ascending=False, kind="stable")
        mine = result.node_scores("Index").sort_values(ascending=False, kind="stable")
        assert list(mine.index) == list(ref.index)
