"""Regions: chi-square and Cramér's V, Benjamini–Hochberg, Newcombe intervals, city-shuffle permutation tests,
the region table and the report's claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from smartcities.analysis import regions as reg
from smartcities.analysis import statistics as st

# --- statistics against hand values and scipy -------------------------------------------------------------------

def test_chi_square_and_cramers_v_by_hand():
    # expected 15 in every cell: chi2 = 4 · 5² / 15 = 6.667, V = sqrt(6.667 / 60) = 1/3
    test = st.chi_square([[10, 20], [20, 10]])
    assert test.chi2 == pytest.approx(20 / 3)
    assert test.dof == 1
    assert test.cramers_v == pytest.approx(1 / 3)
    assert test.p == pytest.approx(stats.chi2.sf(20 / 3, 1))
    assert test.n == 60 and test.min_expected == pytest.approx(15)


def test_cramers_v_on_a_larger_table_matches_scipy():
    table = np.array([[12, 3, 5], [4, 9, 2], [1, 2, 10]])
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    expected = math.sqrt(chi2 / (table.sum() * 2))
    assert st.cramers_v(table) == pytest.approx(expected)
    assert st.cramers_v(table) == pytest.approx(stats.contingency.association(table, method="cramer"))


def test_chi_square_drops_empty_rows_and_columns():
    assert st.chi_square([[10, 20, 0], [20, 10, 0], [0, 0, 0]]).chi2 == pytest.approx(20 / 3)
    assert st.chi_square([[5, 5]]).p == 1.0


def test_benjamini_hochberg_by_hand_and_against_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted 0.01, 0.03, 0.04, 0.20 → ·4/rank: 0.04, 0.06, 0.0533, 0.20 → running min from the top
    np.testing.assert_allclose(st.benjamini_hochberg(p), [0.04, 0.05333333, 0.05333333, 0.20])
    rng = np.random.default_rng(1)
    many = rng.random(50) ** 3
    np.testing.assert_allclose(st.benjamini_hochberg(many), stats.false_discovery_control(many))
    with_nan = st.benjamini_hochberg([0.01, np.nan, 0.04])
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02) and with_nan[2] == pytest.approx(0.04)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), method 10: 56/70 − 48/80 = 0.2000, 95% CI 0.0524 to 0.3339
    low, high = st.newcombe_interval(56, 70, 48, 80)
    assert float(low) == pytest.approx(0.0524, abs=1e-4)
    assert float(high) == pytest.approx(0.3339, abs=1e-4)


def test_exact_permutation_for_a_one_city_group():
    # four cities, one feature; the group is city 0. Every one of the 4 possible groups is tried.
    counts = np.array([[4], [1], [1], [2]])
    n = np.array([4, 4, 4, 4])
    diff, p = st.permutation_difference(counts, n, [True, False, False, False])
    assert diff[0] == pytest.approx(1.0 - 4 / 12)
    # hand: group diffs are 1−4/12, 0.25−7/12, 0.25−7/12, 0.5−6/12 → only the observed one is as extreme
    assert p[0] == pytest.approx(1 / 4)


def test_random_permutation_is_seeded_and_sensible():
    rng = np.random.default_rng(0)
    n = np.full(30, 10)
    counts = rng.binomial(10, 0.3, size=(30, 2))
    counts[:8, 0] = 9  # the group has far more of feature 0, the same of feature 1
    member = np.arange(30) < 8
    _, p1 = st.permutation_difference(counts, n, member, n_permutations=999, seed=7)
    _, p2 = st.permutation_difference(counts, n, member, n_permutations=999, seed=7)
    np.testing.assert_array_equal(p1, p2)
    assert p1[0] == pytest.approx(1 / 1000)  # nothing as extreme: the smallest p a 999-draw test can give
    assert p1[1] > 0.05
    draws, exact = st.memberships(30, 8, 999, seed=7)
    assert not exact and draws.shape == (999, 30) and (draws.sum(axis=1) == 8).all()


def test_permutation_chi_square_keeps_the_asymptotic_statistic():
    counts = np.array([[8, 2], [7, 3], [2, 8], [3, 7]])
    labels = np.array(["x", "x", "y", "y"])
    test, p = st.permutation_chi_square(counts, labels, n_permutations=199, seed=1)
    assert test.chi2 == pytest.approx(st.chi_square([[15, 5], [5, 15]]).chi2)
    # only 6 ways to split four cities into two pairs: the observed split (and its mirror) is the most extreme
    assert p == pytest.approx((np.sum(_all_split_chi2(counts) >= test.chi2 - 1e-9) / 6), abs=0.1)


def _all_split_chi2(counts):
    from itertools import combinations
    out = []
    for pair in combinations(range(4), 2):
        group = np.zeros(4, bool)
        group[list(pair)] = True
        out.append(st.chi_square([counts[group].sum(0), counts[~group].sum(0)]).chi2)
    return np.array(out)


# --- region table and claims on a synthetic inventory ---------------------------------------------------------------

def _synthetic():
    cities = pd.DataFrame({
        "city": [f"e{i}" for i in range(6)] + [f"a{i}" for i in range(5)] + ["n0"],
        "name": [f"E{i}" for i in range(6)] + [f"A{i}" for i in range(5)] + ["N0"],
        "region": ["Europe"] * 6 + ["Asia"] * 5 + ["North America"],
    })
    rows = []
    for city in cities["city"]:
        for k in range(10):
            europe, asia = city.startswith("e"), city.startswith("a")
            rows.append({
                "id": f"{city}-{k}", "city_id": city, "name": f"item {k}",
                "item_type": "infrastructure_service" if asia and k < 5 else "living_lab" if europe and k < 3
                else "project",
                "service_domain": "environment_energy" if europe and k < 6 else "transport",
                "technologies": ("iot",) if asia else ("none",),
                "lead_actor": "public" if asia or k % 2 else "public_private",
                "energy_environment": "direct" if europe and k < 6 else "none",
                "inclusive": k == 0, "integrates_data": asia and k < 2, "citizen_participation": europe and k < 5,
                "start_year": 2018, "description": "",
            })
    return pd.DataFrame(rows), cities


def test_region_table_finds_the_built_in_differences():
    inv, cities = _synthetic()
    table = reg.region_table(inv, cities, n_permutations=999)
    row = table[(table["region"] == "Europe") & (table["feature"] == "sustainability")].iloc[0]
    assert row["share"] == pytest.approx(0.6) and row["others_share"] == 0.0
    assert row["n_cities"] == 6 and row["n_items"] == 60 and row["others_n"] == 60
    assert row["difference"] == pytest.approx(0.6) and row["ci_low"] > 0.4
    assert row["p"] < 0.01 and row["q"] < 0.05
    one = table[(table["region"] == "North America") & (table["feature"] == "sustainability")].iloc[0]
    assert one["small"] and one["p"] >= 1 / 12 - 1e-12  # one city of twelve: exact test, p never below 1/12
    q = st.benjamini_hochberg(table["p"].to_numpy())
    np.testing.assert_allclose(table["q"], q)


def test_region_table_with_scores():
    inv, cities = _synthetic()
    scores = pd.DataFrame({"urban_sustainability": [80.0] * 6 + [20.0] * 5 + [30.0]}, index=cities["city"])
    table = reg.region_table(inv, cities, scores, n_permutations=999)
    row = table[(table["family"] == "score") & (table["region"] == "Europe")].iloc[0]
    assert row["share"] == 80 and row["others_share"] == pytest.approx(130 / 6)
    assert row["difference"] == pytest.approx(80 - 130 / 6)


def test_claims_get_verdicts_and_sentences():
    inv, cities = _synthetic()
    scores = pd.DataFrame({"urban_sustainability": [80.0] * 6 + [20.0] * 5 + [30.0]}, index=cities["city"])
    claims = reg.claim_table(reg.region_table(inv, cities, scores, n_permutations=999)).set_index("feature")
    assert claims.loc["sustainability", "verdict"] == "supported"
    assert claims.loc["living_lab", "verdict"] == "supported"
    assert claims.loc["infrastructure_service", "verdict"] == "supported"
    # every Asian initiative is public-led, but so are half the European ones: higher, so at least leaning
    assert claims.loc["public_led", "difference"] > 0
    # the single North American city is as data-driven as nobody: not supported, and said to be too small
    sentence = claims.loc["data_driven", "sentence"]
    assert claims.loc["data_driven", "verdict"] == "not supported"
    assert "do not support" in sentence and "one city" in sentence and "too few to generalise" in sentence
    assert "urban_sustainability" in claims.index
    assert "60% of 60 initiatives in the 6 cities of Europe" in claims.loc["sustainability", "sentence"]


def test_mix_tests_and_statements():
    inv, cities = _synthetic()
    mixes = reg.mix_tests(inv, cities, n_permutations=199)
    assert set(mixes["mix"]) == {"domain", "item_type", "actor", "technology"}
    europe = mixes[(mixes["mix"] == "domain") & (mixes["region"] == "Europe")].iloc[0]
    assert europe["cramers_v"] == pytest.approx(st.cramers_v([[36, 24], [0, 60]]))
    assert europe["p"] == pytest.approx(1 / 200)
    text = reg.region_statements(reg.region_table(inv, cities, n_permutations=199), mixes)
    assert text[0].startswith("Europe (6 cities, 60 initiatives)")
    assert "Too few cities" in text[-1]


def test_membership_blocks_do_not_depend_on_the_block_size(monkeypatch):
    whole, exact = st.memberships(40, 9, 1000, seed=3)
    assert not exact and whole.shape == (1000, 40) and (whole.sum(axis=1) == 9).all()
    monkeypatch.setattr(st, "CELLS", 7 * 40)  # blocks of 7 draws
    blocks, _ = st.membership_blocks(40, 9, 1000, seed=3)
    parts = list(blocks)
    assert max(len(b) for b in parts) == 7
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("chunk", [512, 64])
def test_shared_random_draws_are_the_smallest_keys_of_each_draw(monkeypatch, chunk):
    monkeypatch.setattr(st, "CELLS", chunk * 40)  # one block of draws, or several
    # by hand: draw i gives unit j the key rng.random()[i, j]; a group of k is the k units with the smallest keys
    rng = np.random.default_rng(5)
    units, draws = 40, 300
    counts = rng.integers(0, 9, size=(units, 3))
    n = counts.sum(1) + rng.integers(1, 5, units)
    scores = rng.normal(50, 10, size=(units, 2))
    members = [np.arange(units) < k for k in (12, 5, 12, 9)]
    tests = [(counts, n, m) for m in members] + [(scores, np.ones(units), members[1])]
    got = st.permutation_differences(tests, n_permutations=draws, seed=11)
    keys = np.random.default_rng(11).random((draws, units))
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    for (num, den, member), (diff, p) in zip(tests, got):
        num = np.asarray(num, float).reshape(units, -1)
        den = np.asarray(den, float)
        def ratio_gap(group, num=num, den=den):
            g = group.astype(float)
            return (g @ num) / (g @ den)[:, None] - ((1 - g) @ num) / ((1 - g) @ den)[:, None]
        observed = ratio_gap(member[None])[0]
        drawn = ratio_gap(rank < member.sum())
        np.testing.assert_allclose(diff, observed)
        hand = ((np.abs(drawn) >= np.abs(observed) - 1e-12).sum(0) + 1) / (draws + 1)
        np.testing.assert_array_equal(p, hand)
