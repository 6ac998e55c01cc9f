"""Properties that must hold for any data: normalisation ranges, rank ties, weight matrices, aggregate bounds."""

from __future__ import annotations

import numpy as np
from conftest import flat_framework, make_context
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from smartcities.engine.aggregate import aggregate, arithmetic, geometric
from smartcities.engine.grade import ranks
from smartcities.engine.normalise import minmax, zscore
from smartcities.engine.stats import kurtosis, skew
from smartcities.model.framework import Framework, Node

settings.register_profile("engine", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("engine")

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
columns = st.lists(values, min_size=2, max_size=30)


def with_gaps(draw, xs):
    mask = draw(st.lists(st.booleans(), min_size=len(xs), max_size=len(xs)))
    return np.array([np.nan if m else x for x, m in zip(xs, mask)], dtype=float)


@given(xs=columns, lo=st.floats(-100, 100), span=st.floats(0.5, 1000), data=st.data())
def test_minmax_lies_in_range_and_reaches_both_ends(xs, lo, span, data):
    x = with_gaps(data.draw, xs)
    present = x[~np.isnan(x)]
    assume(present.size >= 2 and np.ptp(present) > 1e-6 * max(1.0, np.abs(present).max()))
    hi = lo + span
    out = minmax(x[None, :, None], make_context(x.size, flat_framework()), range=(lo, hi))[0, :, 0]
    assert np.array_equal(np.isnan(out), np.isnan(x))
    got = out[~np.isnan(out)]
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    assert got.min() >= lo - tol and got.max() <= hi + tol
    assert np.isclose(got.min(), lo, atol=tol) and np.isclose(got.max(), hi, atol=tol)
    # the best raw value maps to the top of the range
    assert np.isclose(out[np.nanargmax(x)], hi, atol=tol)


@given(xs=columns)
def test_flipping_direction_reverses_minmax(xs):
    x = np.array(xs)
    assume(np.ptp(x) > 1e-6 * max(1.0, np.abs(x).max()))
    up = minmax(x[None, :, None], make_context(x.size, flat_framework((1,))))[0, :, 0]
    down = minmax(x[None, :, None], make_context(x.size, flat_framework((-1,))))[0, :, 0]
    assert np.allclose(up + down, 100.0)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(up[order]) >= -1e-9)
    assert np.all(np.diff(down[order]) <= 1e-9)


@given(xs=st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=30))
def test_zscore_has_mean_0_and_sd_1(xs):
    x = np.array(xs)
    assume(np.std(x) > 1e-3)
    z = zscore(x[None, :, None], make_context(x.size, flat_framework()))[0, :, 0]
    assert abs(z.mean()) < 1e-9
    assert np.isclose(z.std(ddof=1), 1.0)


@given(scores=st.lists(st.sampled_from([0.0, 1.0, 2.5, 2.5, 7.0, 10.0, np.nan]), min_size=1, max_size=25),
       seed=st.integers(0, 2**16))
def test_ranks_ties_share_lowest_rank_and_follow_permutations(scores, seed):
    s = np.array(scores)
    r = ranks(s[None, :, None])[0, :, 0]
    for i, v in enumerate(s):
        if np.isnan(v):
            assert np.isnan(r[i])
        else:
            assert r[i] == 1 + np.sum(s[~np.isnan(s)] > v)  # 1 = best; ties share the lowest rank
    for i in range(len(s)):
        for j in range(len(s)):
            if not (np.isnan(s[i]) or np.isnan(s[j])) and s[i] == s[j]:
                assert r[i] == r[j]
            if not (np.isnan(s[i]) or np.isnan(s[j])) and s[i] > s[j]:
                assert r[i] < r[j]
    perm = np.random.default_rng(seed).permutation(len(s))
    rp = ranks(s[perm][None, :, None])[0, :, 0]
    assert np.array_equal(rp, r[perm], equal_nan=True)


@st.composite
def trees(draw):
    """A random framework: 2–4 levels, every node with 1–3 children, weights ≥ 0 with one positive per parent."""
    n_levels = draw(st.integers(2, 4))
    nodes = [Node("n0", "n0")]
    frontier = ["n0"]
    counter = 1
    for _ in range(n_levels - 1):
        nxt = []
        for parent in frontier:
            k = draw(st.integers(1, 3))
            weights = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 10)), min_size=k, max_size=k))
            if sum(weights) == 0:
                weights[0] = 1.0
            for w in weights:
                nid = f"n{counter}"
                counter += 1
                nodes.append(Node(nid, nid, parent, weight=w, direction=draw(st.sampled_from([1, -1]))))
                nxt.append(nid)
        frontier = nxt
    return Framework.from_nodes(nodes)


@given(fw=trees())
def test_weights_sum_to_one_within_each_parent(fw):
    c = fw.compile()
    assert len(c.matrices) == fw.n_levels - 1
    for m, (child_sl, parent_sl) in zip(c.matrices, zip(c.level_slices, c.level_slices[1:])):
        assert m.shape == (child_sl.stop - child_sl.start, parent_sl.stop - parent_sl.start)
        assert np.allclose(m.sum(axis=0), 1.0)
        assert (m >= 0).all()
        for p in range(m.shape[1]):
            kids = {c.nodes[child_sl.start + i] for i in np.flatnonzero(m[:, p] > 0)}
            assert kids <= set(fw.children[c.nodes[parent_sl.start + p]])


@given(fw=trees(), data=st.data())
def test_arithmetic_aggregate_lies_between_the_children(fw, data):
    c = fw.compile()
    n_units = data.draw(st.integers(1, 6))
    X = data.draw(arrays(float, (1, n_units, c.n_leaves), elements=st.floats(0, 100)))
    X[data.draw(arrays(bool, X.shape))] = np.nan
    scores = aggregate(X, make_context(n_units, fw))[0]
    for j, node in enumerate(c.nodes[c.n_leaves:], start=c.n_leaves):
        kids = [c.nodes.index(k) for k in fw.children[node]]
        weighted = [c.nodes.index(k) for k in fw.children[node] if fw.by_id[k].weight > 0]
        for u in range(n_units):
            child = scores[u, weighted]
            if np.isnan(child).all():
                assert np.isnan(scores[u, j])
            else:
                lo, hi = np.nanmin(scores[u, kids]), np.nanmax(scores[u, kids])
                assert lo - 1e-9 <= scores[u, j] <= hi + 1e-9


@given(Y=arrays(float, (1, 5, 4), elements=st.floats(0.01, 1000)),
       w=arrays(float, (4,), elements=st.floats(0.01, 10)))
def test_geometric_never_exceeds_arithmetic(Y, w):
    W = (w / w.sum())[:, None]
    assert np.all(geometric(Y, W) <= arithmetic(Y, W) * (1 + 1e-9))


@given(xs=st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=40))
def test_skew_and_kurtosis_are_shift_and_scale_free(xs):
    x = np.array(xs)
    assume(np.std(x) > 1e-2)
    y = 3.0 * x + 7.0
    assert np.isclose(skew(x[None])[0], skew(y[None])[0], atol=1e-6)
    assert np.isclose(kurtosis(x[None])[0], kurtosis(y[None])[0], atol=1e-6)
    assert np.isclose(skew(-x[None])[0], -skew(x[None])[0], atol=1e-6)
