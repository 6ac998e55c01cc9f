"""Archetypes: profile features, k chosen by silhouette, names from the features that set a group apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smartcities.analysis import archetypes as arch


def _two_groups(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    green = rng.normal([0.5, 0.1, 0.2], 0.03, size=(6, 3))
    smart = rng.normal([0.1, 0.6, 0.2], 0.03, size=(5, 3))
    return pd.DataFrame(np.vstack([green, smart]), columns=["environment_energy", "intelligence", "transport"],
                        index=[f"g{i}" for i in range(6)] + [f"s{i}" for i in range(5)])


def test_clear_groups_are_found_and_named():
    a = arch.find_archetypes(_two_groups())
    assert a.k == 2
    assert a.silhouette == max(a.silhouettes.values()) and a.silhouette > 0.5
    assert set(a.silhouettes) == {2, 3, 4, 5, 6}
    groups = a.assignments.groupby("archetype")["city"].apply(set)
    assert groups[1] == {f"g{i}" for i in range(6)}  # numbered by size, largest first
    assert groups[2] == {f"s{i}" for i in range(5)}
    assert a.labels[1].startswith("environment & energy")
    assert a.labels[2].startswith("intelligence")
    assert a.centres.loc[1, "environment_energy"] == pytest.approx(a.features.loc[list(groups[1]),
                                                                                    "environment_energy"].mean())


def test_the_same_seed_gives_the_same_archetypes():
    f = _two_groups(3)
    a, b = arch.find_archetypes(f, seed=11), arch.find_archetypes(f, seed=11)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)


def test_a_fixed_k_is_respected_and_too_few_cities_refused():
    assert arch.find_archetypes(_two_groups(), k=3).k == 3
    with pytest.raises(ValueError):
        arch.find_archetypes(_two_groups().head(2))


def test_names_are_made_unique_and_balanced_when_nothing_stands_out():
    centres_z = pd.DataFrame({"transport": [1.0, 1.0, 0.0], "intelligence": [0.5, 0.5, 0.0],
                              "inclusivity": [0.4, -0.2, 0.05]}, index=[1, 2, 3])
    names = arch.name_archetypes(centres_z)
    assert names[3] == "balanced"
    assert names[1] != names[2]
    assert names[1] == "transport · intelligence · inclusivity"
    assert names[2] == "transport · intelligence"


def test_profile_features_pool_rare_domains():
    inv = pd.DataFrame({
        "city_id": ["a"] * 10 + ["b"] * 10 + ["c"] * 10,
        "service_domain": ["transport"] * 9 + ["logistics"] + ["environment_energy"] * 10 + ["transport"] * 10,
        "technologies": [("ai",)] * 30, "inclusive": False, "integrates_data": False, "name": "x",
        "description": "",
    })
    f = arch.profile_features(inv)
    assert "logistics" not in f.columns  # 1 of 30 initiatives: below 5%, pooled into "other"
    assert f.loc["a", "other"] == pytest.approx(0.1)
    assert f.loc["a", "transport"] == pytest.approx(0.9)
    assert f.loc["b", "intelligence"] == 1.0
    assert list(f.columns[-3:]) == ["inclusivity", "intelligence", "integration"]


def test_archetype_table_and_statements():
    f = _two_groups()
    a = arch.find_archetypes(f)
    cities = pd.DataFrame({"city": f.index, "name": [c.upper() for c in f.index], "region": ["Europe"] * 11})
    inv = pd.DataFrame({"city_id": f.index})  # not read when the archetypes are given
    table = arch.archetype_table(inv, cities, a)
    assert list(table.columns[:8]) == ["city", "name", "region", "archetype", "label", "k", "silhouette_k",
                                       "silhouette"]
    assert "share_intelligence" in table.columns and len(table) == 11
    text = arch.archetype_statements(a, cities)
    assert text[0].startswith("2 archetypes") and "clearly separated" in text[0]
    assert "G0" in text[1]


def _blobs(n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0.0, 1.0, (n // 2, 4)), rng.normal(3.0, 1.0, (n - n // 2, 4))])


def test_silhouettes_against_every_city_are_the_exact_silhouettes():
    from sklearn.metrics import silhouette_samples

    z = _blobs(120)
    fits = {2: (np.arange(120) >= 60).astype(int), 3: np.random.default_rng(0).integers(0, 3, 120)}
    exact = arch.city_silhouettes(z, fits)
    for k, labels in fits.items():
        np.testing.assert_allclose(exact[k], silhouette_samples(z, labels), rtol=0, atol=1e-12)


def test_kmeans_finds_the_least_spread_grouping_that_scikit_learn_finds():
    from sklearn.cluster import KMeans

    z = np.vstack([_blobs(200, seed=s) + 4 * s for s in range(3)])
    for k in (2, 3, 4):
        groups = arch.kmeans_groups(z, k)
        assert sorted(np.unique(groups)) == list(range(k))
        spread = sum(((z[groups == g] - z[groups == g].mean(0)) ** 2).sum() for g in range(k))
        reference = KMeans(n_clusters=k, n_init=20, random_state=0).fit(z).inertia_
        assert spread == pytest.approx(reference, rel=1e-3)
    np.testing.assert_array_equal(arch.kmeans_groups(z, 3, seed=5), arch.kmeans_groups(z, 3, seed=5))


def test_profiles_too_alike_to_group_are_refused():
    f = pd.DataFrame({"transport": [0.5] * 6, "intelligence": [0.2] * 6}, index=list("abcdef"))
    with pytest.raises(ValueError, match="too alike"):
        arch.find_archetypes(f)


def test_a_sampled_silhouette_measures_distances_to_the_sample_only():
    z = _blobs(400)
    labels = (np.arange(400) >= 200).astype(int)
    reference = np.array([0, 1, 2, 300, 301])
    got = arch.city_silhouettes(z, {2: labels}, reference)[2]
    d = np.sqrt(((z[:, None, :] - z[reference][None]) ** 2).sum(-1))  # by hand: 400 × 5 distances
    a = np.where(labels == 0, d[:, :3].sum(1), d[:, 3:].sum(1))
    own = np.where(labels == 0, 3, 2) - np.isin(np.arange(400), reference)
    b = np.where(labels == 0, d[:, 3:].mean(1), d[:, :3].mean(1))
    hand = (b - a / own) / np.maximum(a / own, b)
    np.testing.assert_allclose(got, hand)


def test_many_cities_get_a_seeded_sampled_silhouette(monkeypatch):
    monkeypatch.setattr(arch, "SILHOUETTE_SAMPLE", 50)
    f = pd.DataFrame(_blobs(300), columns=["transport", "intelligence", "inclusivity", "integration"],
                     index=[f"c{i:03d}" for i in range(300)])
    a, b = arch.find_archetypes(f, k_range=(2, 3)), arch.find_archetypes(f, k_range=(2, 3))
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    assert a.k == 2 and a.silhouette > 0.4  # two clear blobs, seen through a sample of 50 cities
    assert a.silhouette == pytest.approx(a.assignments["silhouette"].mean())
    exact = arch.city_silhouettes(((f - f.mean()) / f.std(ddof=0)).to_numpy(), {2: a.assignments["archetype"]
                                                                             .to_numpy() - 1})[2].mean()
    assert a.silhouette == pytest.approx(exact, abs=0.05)
