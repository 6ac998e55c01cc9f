"""Rank intervals gathered chunk by chunk: kept ranks give NumPy's quantiles exactly; histograms of one-place bins
give the same numbers in less memory, wider bins stay within half a bin and say so; results do not depend on the
chunk size or the number of workers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_context

from smartcities.engine.pipeline import Step
from smartcities.model.framework import Framework, Node
from smartcities.model.spec import Backend, Uncertainty
from smartcities.robustness.tally import RankTally
from smartcities.robustness.uncertainty import analyse


def random_ranks(runs: int, units: int, nodes: int, seed: int = 0) -> np.ndarray:
    """Every run a permutation of 1..units per node, some ranks missing (0)."""
    rng = np.random.default_rng(seed)
    r = np.stack([np.stack([rng.permutation(units) + 1 for _ in range(nodes)], axis=1) for _ in range(runs)])
    r[rng.random(r.shape) < 0.1] = 0
    return r.astype(np.uint16)


def exact(r: np.ndarray):
    x = np.where(r == 0, np.nan, r.astype(float))
    q = np.nanquantile(x, [0.5, 0.05, 0.95], axis=0)
    return q[0], np.nanmean(x, axis=0), q[1], q[2]


def tally_of(r: np.ndarray, budget: int, chunk: int) -> RankTally:
    t = RankTally.within(r.shape[0], r.shape[1], r.shape[2], budget)
    for lo in range(0, r.shape[0], chunk):
        t.add(np.arange(lo, min(lo + chunk, r.shape[0])), r[lo: lo + chunk])
    return t


def test_kept_ranks_give_numpys_quantiles_exactly():
    r = random_ranks(101, 30, 3)
    t = tally_of(r, budget=10**9, chunk=17)
    assert t.width == 0 and t.kept is not None
    for got, want in zip(t.intervals(), exact(r)):
        np.testing.assert_array_equal(got, want)


def test_one_place_bins_give_the_exact_intervals_in_less_memory():
    r = random_ranks(400, 50, 2)
    kept_bytes = r.nbytes
    t = tally_of(r, budget=kept_bytes // 2, chunk=33)  # kept ranks do not fit, a 50-bin histogram does
    assert t.width == 1 and t.counts.nbytes <= kept_bytes // 2
    for got, want in zip(t.intervals(), exact(r)):
        np.testing.assert_array_equal(got, want)


def test_wide_bins_stay_within_half_a_bin_and_keep_the_mean_exact():
    r = random_ranks(300, 200, 2)
    t = tally_of(r, budget=200 * 2 * 20 * 2, chunk=64)  # 20 bins of 10 places
    assert t.width == 10
    med, mean, p05, p95 = t.intervals()
    e_med, e_mean, e_p05, e_p95 = exact(r)
    np.testing.assert_array_equal(mean, e_mean)
    for got, want in ((med, e_med), (p05, e_p05), (p95, e_p95)):
        assert np.abs(got - want).max() <= t.width / 2 + 1  # interpolation may span a bin edge by one place


@pytest.mark.parametrize("budget", [10**9, 3_000])  # every run kept; histograms of 3-place bins
def test_parts_filled_apart_merge_into_the_tally_of_all_runs(budget):
    r = random_ranks(90, 40, 3, seed=4)
    whole = tally_of(r, budget, 90)
    merged = RankTally.within(90, 40, 3, budget)
    order = np.random.default_rng(1).permutation(90)  # each part holds runs from anywhere in the design
    for rows in np.array_split(order, 4):
        layout = merged.layout_for(len(rows))
        assert (layout is None) == (budget == 10**9)  # 22 runs' ranks outweigh 3-place histograms
        if layout is None:  # the ranks are what a worker sends
            merged.add(rows, r[rows])
            continue
        part = RankTally.part_of(layout)
        for lo in range(0, len(rows), 7):  # filled chunk by chunk, numbered within the part
            part.add(np.arange(lo, min(lo + 7, len(rows))), r[rows[lo: lo + 7]])
        merged.merge(part)
    assert merged.layout_for(1) is None  # one run's ranks are smaller than any histograms
    for got, want in zip(merged.intervals(), whole.intervals()):
        np.testing.assert_array_equal(got, want)


def test_a_cell_without_any_rank_has_no_interval():
    r = random_ranks(20, 5, 1)
    r[:, 2, 0] = 0
    for budget in (10**6, 5 * 5 * 2):
        med, mean, p05, p95 = tally_of(r, budget, 7).intervals()
        assert np.isnan([med[2, 0], mean[2, 0], p05[2, 0], p95[2, 0]]).all()


# --- the analysis on 1,000 units -----------------------------------------------------------------------------------

def pillars_framework(leaves: int = 20, per_pillar: int = 5) -> Framework:
    """An index over four pillars of five indicators."""
    nodes = [Node("index", "Index")] + [Node(f"p{k}", f"p{k}", "index") for k in range(leaves // per_pillar)]
    nodes += [Node(f"i{j}", f"i{j}", f"p{j // per_pillar}", weight=1.0 + j % 3) for j in range(leaves)]
    return Framework.from_nodes(nodes)


def thousand_units():
    X = np.random.default_rng(2).lognormal(size=(1000, 20))
    X[np.random.default_rng(3).random(X.shape) < 0.02] = np.nan
    ctx = make_context(1000, pillars_framework())
    steps = [Step.parse({"impute": {"method": "mean"}}),
             Step.parse({"normalise": {"method": "minmax", "range": [1, 100]}}), Step.parse({"aggregate": {}})]
    u = Uncertainty.model_validate({"design": "montecarlo", "runs": 1200, "seed": 9, "factors": {
        "weights": {"step": "aggregate", "noise": 0.4},
        "aggregation": {"step": "aggregate", "parameter": "method", "values": ["arithmetic", "geometric"]}}})
    return X, ctx, steps, u


def test_streamed_intervals_equal_the_exact_ones_on_a_thousand_units():
    """5 aggregates × 1,000 units: kept ranks of 1,200 runs need 12 MB, one-place histograms 10 MB."""
    X, ctx, steps, u = thousand_units()
    exact_run = analyse(X, ctx, steps, u, Backend())
    streamed = analyse(X, ctx, steps, u, Backend(rank_memory_mb=11, chunk_runs=50))
    assert exact_run.rank_width == 0 and streamed.rank_width == 1
    pd.testing.assert_frame_equal(exact_run.rank_intervals, streamed.rank_intervals, check_exact=True)
    assert not any(streamed.log().table["action"] == "rank-quantiles-binned")
    binned = analyse(X, ctx, steps, u, Backend(rank_memory_mb=1))
    assert binned.rank_width > 1
    row = binned.log().table.query("action == 'rank-quantiles-binned'")
    assert len(row) == 1 and f"{binned.rank_width}-place bins" in row["detail"].iloc[0]


@pytest.mark.parametrize("workers, runs", [(1, 200), (4, 200), (4, 600)])
def test_streamed_intervals_do_not_depend_on_the_workers(workers, runs):
    """With 4 workers and 600 runs, each worker's 150 runs have more ranks than the 1 MB histograms have counts,
    so each worker tallies its own runs and sends its histograms."""
    pytest.importorskip("dask.distributed")
    X, ctx, steps, u = thousand_units()
    u = u.model_copy(update={"runs": runs})
    grouped = RankTally.within(runs, 1000, 5, 2**20).layout_for(runs // workers) is not None and workers == 4
    assert grouped == (runs == 600)
    local = analyse(X, ctx, steps, u, Backend(rank_memory_mb=1, chunk_runs=64))
    remote = analyse(X, ctx, steps, u, Backend(name="dask", workers=workers, rank_memory_mb=1, chunk_runs=16))
    assert local.rank_width == remote.rank_width > 1
    pd.testing.assert_frame_equal(local.rank_intervals, remote.rank_intervals, check_exact=True)
