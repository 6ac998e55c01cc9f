"""City archetypes: groups of cities whose initiatives look alike, each named by what sets it apart.

A city's profile is the share of its initiatives in each main service domain and in each of the three trends.
Profiles are standardised (so a rare feature weighs as much as a common one), clustered with k-means from a
fixed seed (SciPy's, from `STARTS` random starts; it loads in a tenth of the time scikit-learn's takes, which
every build with an inventory would wait for), and the number of groups is the one in 2..6 with the best
silhouette. A group is named after the features on which its cities sit furthest above the all-city mean. Above
`SILHOUETTE_SAMPLE` cities the silhouette measures each city's distances to a seeded random sample of that many
cities, not to all of them (the exact silhouette compares every pair of cities: its cost grows with the square of
their number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io.inventory import continents
from .trends import TRENDS, city_trend_shares

SEED = 20220220
K_RANGE = (2, 6)
STARTS = 20  # k-means runs from random starts; the one whose cities lie closest to their centres is kept
SILHOUETTE_SAMPLE = 2000  # reference cities for the silhouette of larger sets (seeded by SEED)
MIN_DOMAIN_SHARE = 0.05  # service domains below this share of the whole inventory are pooled as "other domains"
FEATURE_NAMES = {
    "administration": "administration", "transport": "transport", "health_welfare": "health & welfare",
    "environment_energy": "environment & energy", "safety_disaster": "safety", "facility_management": "facilities",
    "education": "education", "culture_tourism": "culture & tourism", "logistics": "logistics",
    "employment_economy": "economy & jobs", "other": "other domains", "inclusivity": "inclusivity",
    "intelligence": "intelligence", "integration": "integration",
}
"""Short names used to label archetypes ("environment & energy · integration")."""


def profile_features(inventory: pd.DataFrame, min_domain_share: float = MIN_DOMAIN_SHARE,
                     flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cities × features: shares of each main service domain (rare ones pooled into `other`) and of each trend.

    Why: what a city spends its initiatives on (domains) and how it does them (trends) is its smart-city
    profile; pooling rare domains keeps one stray item from defining a cluster.
    """
    overall = inventory["service_domain"].value_counts(normalize=True)
    main = [d for d in overall.index if overall[d] >= min_domain_share and d != "other"]
    domain = inventory["service_domain"].where(inventory["service_domain"].isin(main), "other")
    shares = pd.crosstab(inventory["city_id"], domain, normalize="index")
    shares = shares[[d for d in overall.index if d in main] + (["other"] if "other" in shares else [])]
    trends = city_trend_shares(inventory, flags)
    out = shares.join(trends[list(TRENDS)])
    out.columns.name = None
    return out.astype(float)


@dataclass(frozen=True)
class Archetypes:
    """The clustering: per-city assignment, per-cluster centres and names, and how k was chosen."""

    assignments: pd.DataFrame  # city, archetype, label, silhouette
    centres: pd.DataFrame  # archetype × feature: mean share in the cluster
    centres_z: pd.DataFrame  # archetype × feature: mean standardised value (distance from the all-city mean)
    labels: dict[int, str]
    k: int
    silhouettes: dict[int, float]  # k -> mean silhouette
    features: pd.DataFrame  # the profile table that was clustered

    @property
    def silhouette(self) -> float:
        return self.silhouettes[self.k]


def find_archetypes(features: pd.DataFrame, k: int | None = None, k_range: tuple[int, int] = K_RANGE,
                    seed: int = SEED, top: int = 2) -> Archetypes:
    """Cluster cities on standardised `features` with k-means; choose k by the best mean silhouette in `k_range`.

    Clusters are numbered 1.. by size (largest first) and labelled by the `top` features with the highest mean
    z-score in the cluster. Why: a peer group of cities that do similar things is a more useful benchmark
    than one of cities that merely share a continent.
    """
    feats = features.dropna()
    std = feats.std(ddof=0).replace(0, 1.0)
    z = (feats - feats.mean()) / std
    n = len(z)
    if n < 3:
        raise ValueError(f"archetypes need at least 3 cities with a profile, got {n}")
    candidates = [k] if k is not None else list(range(k_range[0], min(k_range[1], n - 1) + 1))
    fits = {kk: kmeans_groups(z.to_numpy(), kk, seed) for kk in candidates}
    candidates = [kk for kk in candidates if np.unique(fits[kk]).size == kk]  # k-means may leave a group empty
    if not candidates:
        raise ValueError(f"k-means found fewer than {k or k_range[0]} groups among {n} city profiles: they are "
                         f"too alike to group")
    reference = None
    if n > SILHOUETTE_SAMPLE:
        reference = np.sort(np.random.default_rng(seed).choice(n, SILHOUETTE_SAMPLE, replace=False))
    city_sils = city_silhouettes(z.to_numpy(), {kk: fits[kk] for kk in candidates if kk > 1}, reference)
    city_sils.update({kk: np.full(n, np.nan) for kk in candidates if kk == 1})  # one group: no silhouette
    silhouettes = {kk: float(np.mean(city_sils[kk])) for kk in candidates}
    best = max(silhouettes, key=lambda kk: (silhouettes[kk], -kk))
    raw = fits[best]
    sizes = pd.Series(raw).value_counts()
    order = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    renumber = {c: i + 1 for i, c in enumerate(order)}
    cluster = np.array([renumber[c] for c in raw])
    centres = feats.groupby(cluster).mean()
    centres_z = z.groupby(cluster).mean()
    labels = name_archetypes(centres_z, top)
    assignments = pd.DataFrame({"city": feats.index, "archetype": cluster,
                                "label": [labels[c] for c in cluster], "silhouette": city_sils[best]})
    return Archetypes(assignments, centres, centres_z, labels, best, silhouettes, feats)


def kmeans_groups(z: np.ndarray, k: int, seed: int = SEED) -> np.ndarray:
    """Each city's group by k-means on the rows of `z`: Lloyd's iterations until they settle, from `STARTS`
    random starts drawn from `seed`, the run with the least mean distance to the centres kept. Groups are
    numbered 0..k−1, or fewer when the kept run left a group empty."""
    from scipy.cluster.vq import kmeans, vq

    centres, _ = kmeans(z, k, iter=STARTS, seed=np.random.default_rng(seed))
    return vq(z, centres)[0].astype(int)


def city_silhouettes(z: np.ndarray, fits: dict[int, np.ndarray],
                     reference: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """Each city's silhouette under every clustering in `fits` (k -> labels): (b − a) / max(a, b), with a its
    mean distance to the other cities of its group and b that to the nearest other group.

    Without `reference` (every city a reference) this is the exact silhouette, as scikit-learn's. With
    `reference` (positions of a sample of cities), a and b are mean distances to the reference cities only, so
    the cost grows with the number of cities times the sample size; a city alone in its group among the
    reference cities gets 0, as a group of one does in the exact silhouette. Why: choosing k needs a
    silhouette for every candidate, and ten thousand cities make fifty million pairs.
    """
    from scipy.spatial.distance import cdist

    if reference is None:
        reference = np.arange(len(z))
    in_reference = np.zeros(len(z), dtype=bool)
    in_reference[reference] = True
    sums = {k: np.zeros((len(z), k)) for k in fits}
    for start in range(0, len(z), len(reference)):  # distances to the reference, one block of cities at a time
        distance = cdist(z[start:start + len(reference)], z[reference])
        for k, labels in fits.items():
            sums[k][start:start + len(distance)] = distance @ np.eye(k)[labels[reference]]
    out = {}
    for k, labels in fits.items():
        size = np.bincount(labels[reference], minlength=k).astype(float)
        others = np.broadcast_to(size, (len(z), k)).copy()
        others[np.arange(len(z)), labels] -= in_reference  # a city is not its own neighbour
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums[k] / others
        own = mean[np.arange(len(z)), labels]
        mean[np.arange(len(z)), labels] = np.inf
        mean[:, size == 0] = np.inf
        nearest = mean.min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (nearest - own) / np.maximum(own, nearest)
        alone = others[np.arange(len(z)), labels] == 0
        out[k] = np.where(alone | ~np.isfinite(s), 0.0, s)
    return out


def name_archetypes(centres_z: pd.DataFrame, top: int = 2) -> dict[int, str]:
    """A name per cluster from the features furthest above the overall mean ("transport · intelligence").

    A cluster with nothing at least a tenth of a standard deviation above the mean is called "balanced";
    when two clusters would share a name, more features are added until they differ. Why: a cluster number
    tells a reader nothing; the features that set a group apart are what a city can act on.
    """
    names: dict[int, str] = {}
    for c, row in centres_z.iterrows():
        ranked = row.sort_values(ascending=False)
        names[c] = _label(ranked, top)
    for extra in range(1, centres_z.shape[1]):
        dupes = pd.Series(names).duplicated(keep=False)
        if not dupes.any():
            break
        for c in pd.Series(names)[dupes].index:
            names[c] = _label(centres_z.loc[c].sort_values(ascending=False), top + extra)
    return names


def _label(ranked: pd.Series, top: int) -> str:
    above = [FEATURE_NAMES.get(f, f.replace("_", " ")) for f, v in ranked.head(top).items() if v >= 0.1]
    return " · ".join(above) if above else "balanced"


def archetype_table(inventory: pd.DataFrame, cities: pd.DataFrame,
                    archetypes: Archetypes | None = None) -> pd.DataFrame:
    """archetypes.csv: one row per city — city, name, region, archetype, label, k, silhouette_k (mean, for the
    chosen k), silhouette (the city's own: how well it fits its group), then the profile shares it was
    clustered on. Why: every number behind a city's group, ready to sort and check.
    """
    arc = archetypes or find_archetypes(profile_features(inventory))
    info = cities.set_index("city")
    out = arc.assignments.copy()
    out.insert(1, "name", out["city"].map(info["name"]))
    out.insert(2, "region", out["city"].map(continents(cities)))
    out.insert(5, "k", arc.k)
    out.insert(6, "silhouette_k", round(arc.silhouette, 6))
    shares = arc.features.add_prefix("share_")
    out = out.join(shares, on="city")
    return out.sort_values(["archetype", "city"], ignore_index=True)


def archetype_statements(arc: Archetypes, cities: pd.DataFrame | None = None) -> list[str]:
    """One sentence per archetype: its name, its cities and the numbers that set it apart, plus how clear the
    grouping is (silhouette). Why: so the report says how much weight the grouping can bear."""
    names = cities.set_index("city")["name"] if cities is not None else None
    out = [f"{arc.k} archetypes (k chosen by silhouette in {min(arc.silhouettes)}–{max(arc.silhouettes)}: "
           + ", ".join(f"k={k}: {s:.2f}" for k, s in arc.silhouettes.items())
           + f"). A mean silhouette of {arc.silhouette:.2f} "
           + ("means clearly separated groups." if arc.silhouette >= 0.5 else
              "means groups that are real but overlap." if arc.silhouette >= 0.25 else
              "means weak structure: read the groups as tendencies, not types.")]
    overall = arc.features.mean()
    for c, label in arc.labels.items():
        members = arc.assignments.loc[arc.assignments["archetype"] == c, "city"]
        shown = [names.get(m, m) if names is not None else m for m in members]
        top = arc.centres_z.loc[c].sort_values(ascending=False).head(2).index
        marks = ", ".join(f"{FEATURE_NAMES.get(f, f)} {arc.centres.loc[c, f]:.0%} (all cities {overall[f]:.0%})"
                          for f in top)
        out.append(f"Archetype {c}, {label} ({len(shown)} cities: {', '.join(shown)}): {marks}.")
    return out
