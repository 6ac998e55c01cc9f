"""City profiles that lead to action: strengths and weaknesses, peers, the gap to each domain's leader, and
which initiatives of leading cities — preferably on other continents — to learn from.

The pure functions take a cities × domains score table (`results.domain_scores`), the inventory and the cities
table; `city_profile` and `profiles_table` assemble them from a built `Result`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, did_you_mean
from ..io.inventory import continent_column, continents, slug
from ..model.codebook import INTELLIGENT_TECHNOLOGIES
from . import results as readings
from .trends import INTEGRATION_TERMS

N_PEERS = 3
N_TEACHERS = 2  # leading cities to learn from, per weak domain
N_INITIATIVES = 3  # initiatives shown per leading city
POOL = 5  # the leading cities considered before preferring other regions


# --- which initiatives feed which domain -------------------------------------------------------------------------

def _techs(inv: pd.DataFrame) -> pd.Series:
    return inv["technologies"].map(lambda t: tuple(t) if isinstance(t, (tuple, list)) else
                                   tuple(x.strip() for x in str(t).split(";") if x.strip()))


def _flag(inv: pd.DataFrame, column: str) -> pd.Series:
    col = inv[column]
    if col.dtype == bool or str(col.dtype) == "boolean":
        return col.fillna(False).astype(bool)
    return col.astype(str).str.lower().isin(("true", "1", "yes"))


def _text(inv: pd.DataFrame) -> pd.Series:
    return inv["name"].fillna("").astype(str) + " " + inv.get("description", pd.Series("", index=inv.index)) \
        .fillna("").astype(str)


@dataclass(frozen=True)
class DomainFeed:
    """Which initiatives show a city how to do better in one domain, and how strongly each one does (0 = not)."""

    domain: str
    description: str
    relevance: object  # Callable[[pd.DataFrame], pd.Series of int]


DOMAIN_FEEDS: dict[str, DomainFeed] = {f.domain: f for f in (
    DomainFeed("service_innovation", "citizen-facing app and web services (inclusive ones first)",
               lambda inv: (inv["item_type"] == "app_web_service") * (1 + _flag(inv, "inclusive"))),
    DomainFeed("urban_intelligence", "initiatives using AI, big data, IoT, blockchain, XR, digital twins or the "
               "metaverse (the more of them, the more relevant)",
               lambda inv: _techs(inv).map(lambda t: sum(x in INTELLIGENT_TECHNOLOGIES for x in t))),
    DomainFeed("urban_sustainability", "initiatives with an energy/environment effect (direct before indirect)",
               lambda inv: inv["energy_environment"].map({"direct": 2, "indirect": 1}).fillna(0)),
    DomainFeed("urban_openness", "citizen participation, living labs and open data",
               lambda inv: _flag(inv, "citizen_participation").astype(int)
               + (inv["item_type"] == "living_lab") + _text(inv).str.contains(r"open[- ]data", case=False)),
    DomainFeed("infrastructure_integration", "infrastructure services and initiatives that integrate data across "
               "silos (integrated platforms, operations centres)",
               lambda inv: (inv["item_type"] == "infrastructure_service").astype(int) + _flag(inv, "integrates_data")
               + _text(inv).str.contains(INTEGRATION_TERMS)),
    DomainFeed("urban_innovation", "projects and living labs (living labs first)",
               lambda inv: (inv["item_type"] == "project").astype(int) + 2 * (inv["item_type"] == "living_lab")),
    DomainFeed("collaborative_partnership", "initiatives led with private partners (public–private or private)",
               lambda inv: inv["lead_actor"].map({"public_private": 2, "private": 1}).fillna(0)),
    DomainFeed("governance", "strategies, plans, policies and dedicated organisations",
               lambda inv: (inv["item_type"] == "strategy").astype(int)),
)}
"""The one map from the sci-2022 domains to the initiatives that feed them. A domain of another framework
that is not listed here gets no learn-from suggestions (the rest of its profile is unaffected)."""


def initiatives_feeding(inventory: pd.DataFrame, domain: str) -> pd.Series:
    """Relevance (0 = none) of every initiative to one domain, per `DOMAIN_FEEDS`.

    Why: "learn from Copenhagen on sustainability" is only useful when it points to Copenhagen's
    sustainability initiatives, not to its whole catalogue.
    """
    feed = DOMAIN_FEEDS.get(domain)
    if feed is None:
        return pd.Series(0, index=inventory.index, dtype=float)
    return pd.Series(np.asarray(feed.relevance(inventory), dtype=float), index=inventory.index)


# --- finding a city -------------------------------------------------------------------------------------------------

def resolve_city(text: str, cities: pd.DataFrame, file: str = "CITY") -> str:
    """The slug of the city a user named by slug or by name (any case, accents optional).

    Raises InputError with the closest known city when there is no match. Why: `profile "new york"`,
    `profile new-york` and `profile New York` should all work, and a typo should say what was meant.
    """
    ids = list(cities["city"])
    names = list(cities["name"]) if "name" in cities else ids
    key = slug(text)
    for cid, name in zip(ids, names):
        if key in (cid, slug(name)):
            return cid
    hint = did_you_mean(text, ids + names) or did_you_mean(key, ids)
    known = "" if hint else f"; known cities: {', '.join(ids)}"
    raise InputError.single(file, f"unknown city {text!r}{hint}{known}")


# --- the parts of a profile -------------------------------------------------------------------------------------------

def peers(scores: pd.DataFrame, city: str, n: int = N_PEERS, metric: str = "euclidean") -> pd.DataFrame:
    """The `n` cities whose domain-score profile is nearest to `city`'s, nearest first: city, distance.

    Scores are standardised per domain first, so every domain counts equally whatever its spread. `metric` is
    'euclidean' (similar levels and shape) or 'cosine' (similar shape: strong and weak in the same domains).
    Why: a city learns most from, and is most fairly compared with, cities built like it.
    """
    table = scores.dropna()
    if city not in table.index:
        raise KeyError(city)
    std = table.std(ddof=0).replace(0, 1.0)
    z = (table - table.mean()) / std
    me = z.loc[city].to_numpy()
    others = z.drop(index=city)
    if metric == "euclidean":
        dist = np.sqrt(((others.to_numpy() - me) ** 2).sum(axis=1))
    elif metric == "cosine":
        norms = np.linalg.norm(others.to_numpy(), axis=1) * np.linalg.norm(me)
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = 1 - (others.to_numpy() @ me) / norms
        dist = np.nan_to_num(dist, nan=1.0)
    else:
        raise ValueError(f"metric must be 'euclidean' or 'cosine', not {metric!r}")
    out = pd.DataFrame({"city": others.index, "distance": dist})
    return out.sort_values(["distance", "city"], ignore_index=True).head(n)


def gaps_to_leader(scores: pd.DataFrame, city: str) -> pd.DataFrame:
    """Per domain: the city's score and rank, the leader and its score, and the gap (leader − city, ≥ 0).

    Why: the distance to the best shows how much room there is, in the units of the index.
    """
    table = scores.dropna(how="all")
    ranks = table.rank(ascending=False, method="min")
    rows = []
    for d in table.columns:
        col = table[d].dropna()
        leader = col.sort_values(ascending=False, kind="stable").index[0]
        rows.append({"domain": d, "score": table.at[city, d], "rank": ranks.at[city, d], "leader": leader,
                     "leader_score": col[leader], "gap_to_leader": col[leader] - table.at[city, d]})
    return pd.DataFrame(rows)


def learn_from(scores: pd.DataFrame, inventory: pd.DataFrame, region: pd.Series, city: str, domains: list[str],
               n_cities: int = N_TEACHERS, n_items: int = N_INITIATIVES, pool: int = POOL) -> pd.DataFrame:
    """For each of `domains`, initiatives of cities that lead it, preferring cities from another region.

    Among the `pool` best-scoring cities above `city` in the domain, those of other regions come first (then by
    score); the first `n_cities` with at least one relevant initiative each give up to `n_items` initiatives,
    most relevant first. Columns: domain, from_city, from_region, other_region, from_score, from_rank, id,
    initiative, item_type, description, source_url, relevance. Why: the report calls for cross-continental
    learning; the leaders next door are known already, those elsewhere less so.
    """
    cols = ["domain", "from_city", "from_region", "other_region", "from_score", "from_rank", "id", "initiative",
            "item_type", "description", "source_url", "relevance"]
    rows = []
    mine = region.get(city)
    for d in domains:
        col = scores[d].dropna()
        ranks = col.rank(ascending=False, method="min")
        above = col[(col > col.get(city, -np.inf)) & (col.index != city)].sort_values(ascending=False, kind="stable")
        candidates = list(above.index[:pool])
        candidates.sort(key=lambda c: (region.get(c) == mine, -col[c]))
        relevance = initiatives_feeding(inventory, d)
        taken = 0
        for teacher in candidates:
            if taken >= n_cities:
                break
            own = inventory[(inventory["city_id"] == teacher) & (relevance > 0)].assign(relevance=relevance)
            if own.empty:
                continue
            if "confidence" in own:
                own = own.assign(_c=(own["confidence"] == "high").astype(int))
            else:
                own = own.assign(_c=0)
            own = own.sort_values(["relevance", "_c", "id"], ascending=[False, False, True]).head(n_items)
            taken += 1
            for r in own.itertuples():
                rows.append({"domain": d, "from_city": teacher, "from_region": region.get(teacher),
                             "other_region": region.get(teacher) != mine, "from_score": col[teacher],
                             "from_rank": int(ranks[teacher]), "id": r.id, "initiative": r.name,
                             "item_type": r.item_type, "description": getattr(r, "description", None),
                             "source_url": getattr(r, "source_url", None), "relevance": r.relevance})
    return pd.DataFrame(rows, columns=cols)


# --- whole profiles from a Result ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CityProfile:
    """Everything the report and `smartcities profile` say about one city."""

    city: str
    name: str
    region: str | None
    rank: int
    score: float
    grade: int
    domains: pd.DataFrame  # domain, domain_name, score, median, gap, verdict, rank, [median_rank, p05, p95],
    #                        leader, leader_name, leader_score, gap_to_leader
    peers: pd.DataFrame  # city, name, region, distance, rank
    learn_from: pd.DataFrame  # see learn_from(); plus domain_name and from_name
    learn_domains: tuple[str, ...]  # the domains learn_from covers (weaknesses, else the largest gaps)

    @property
    def strengths(self) -> list[str]:
        return list(self.domains.loc[self.domains["verdict"] == "strength", "domain"])

    @property
    def weaknesses(self) -> list[str]:
        return list(self.domains.loc[self.domains["verdict"] == "weakness", "domain"])


def _regions(result) -> pd.Series:
    units = list(result.context.units)
    cities = getattr(result.inputs, "cities", None)
    if cities is not None and continent_column(cities) in cities:
        return continents(cities).reindex(units)
    groups = result.context.groups
    column = next((g for g in ("continent", "region") if g in groups), None)
    if column:
        return pd.Series(groups[column], index=units)
    return pd.Series([None] * len(units), index=units, dtype=object)


def _names(result) -> dict[str, str]:
    return dict(zip(result.context.units, result.context.unit_names))


def result_cities(result) -> pd.DataFrame:
    """The cities of a build as a table (city, name, region), from its cities input or its context."""
    cities = getattr(result.inputs, "cities", None)
    if cities is not None:
        return cities
    return pd.DataFrame({"city": list(result.context.units), "name": list(result.context.unit_names),
                         "region": _regions(result).to_numpy()})


def city_profile(result, city: str, n_peers: int = N_PEERS, n_cities: int = N_TEACHERS,
                 n_items: int = N_INITIATIVES) -> CityProfile:
    """The profile of one city of a build (`city` as slug or name).

    Strengths and weaknesses are domains above and below the median city (`results.strengths_weaknesses`),
    with rank intervals when the build ran its robustness analysis; learn-from covers the weak domains, or —
    for a city weak in none — the two domains with the largest gap to their leader.
    Why: a rank alone tells a city nothing to do; a profile says where it stands, who is like it and what to
    look at next.
    """
    fw = result.context.framework
    cid = resolve_city(city, result_cities(result))
    scores = readings.domain_scores(result)
    if cid not in scores.index:
        raise InputError.single("city", f"{city!r} has no scores in this build (screened out for missing data)")
    names, region = _names(result), _regions(result)
    rank_row = readings.ranking(result).set_index("city").loc[cid]
    sw = readings.strengths_weaknesses(result, cid)
    gaps = gaps_to_leader(scores, cid).set_index("domain")
    sw["domain_name"] = sw["domain"].map(lambda d: fw.by_id[d].name)
    sw["leader"] = sw["domain"].map(gaps["leader"])
    sw["leader_name"] = sw["leader"].map(names)
    sw["leader_score"] = sw["domain"].map(gaps["leader_score"])
    sw["gap_to_leader"] = sw["domain"].map(gaps["gap_to_leader"])
    if result.uncertainty is not None:
        ri = result.uncertainty.rank_intervals
        ri = ri[ri["city"] == cid].set_index("node")
        for c in ("median_rank", "p05", "p95"):
            if c in ri:
                sw[c] = sw["domain"].map(ri[c])
    weak = list(sw.loc[sw["verdict"] == "weakness", "domain"])
    if not weak:
        open_gaps = sw[sw["gap_to_leader"] > 0].sort_values("gap_to_leader", ascending=False)
        weak = list(open_gaps["domain"].head(2))
    near = peers(scores, cid, n_peers)
    ranks = readings.ranking(result).set_index("city")["rank"]
    near["name"] = near["city"].map(names)
    near["region"] = near["city"].map(region)
    near["rank"] = near["city"].map(ranks).astype("Int64")
    inventory = getattr(result.inputs, "inventory", None)
    if inventory is not None:
        lf = learn_from(scores, inventory, region, cid, weak, n_cities, n_items)
    else:
        lf = learn_from(scores, pd.DataFrame(columns=["city_id", "id", "name", "item_type"]), region, cid, [])
    lf.insert(1, "domain_name", lf["domain"].map(lambda d: fw.by_id[d].name))
    lf.insert(3, "from_name", lf["from_city"].map(names))
    return CityProfile(cid, names[cid], region.get(cid), int(rank_row["rank"]), float(rank_row["score"]),
                       int(rank_row["grade"]), sw, near[["city", "name", "region", "distance", "rank"]], lf,
                       tuple(weak))


def all_profiles(result) -> dict[str, CityProfile]:
    """Profiles of every scored city, in ranking order. Why: the report carries one for each city."""
    return {c: city_profile(result, c) for c in readings.ranking(result)["city"]}


PROFILE_COLUMNS = ("city", "kind", "domain", "score", "median", "verdict", "rank", "median_rank", "p05", "p95",
                   "leader", "leader_score", "gap_to_leader", "other_city", "other_region", "distance",
                   "initiative_id", "initiative", "source_url")


def profiles_table(result, profiles: dict[str, CityProfile] | None = None) -> pd.DataFrame:
    """profiles.csv: long and tidy, one fact a row, `kind` saying which:

    - `domain`: a domain of a city — score, median, verdict, rank (and rank interval), leader, gap_to_leader;
    - `peer`: one of its nearest cities — other_city, other_region, distance;
    - `learn_from`: one initiative to learn from for a domain — other_city (who runs it), other_region,
      score (that city's domain score), initiative_id, initiative, source_url.
    Why: everything a city profile shows, in a form a spreadsheet or a dashboard can filter by city.
    """
    profiles = profiles if profiles is not None else all_profiles(result)
    rows = []
    for p in profiles.values():
        for r in p.domains.to_dict("records"):
            rows.append({"city": p.city, "kind": "domain", "domain": r["domain"], "score": r["score"],
                         "median": r["median"], "verdict": r["verdict"], "rank": r["rank"],
                         "median_rank": r.get("median_rank"), "p05": r.get("p05"), "p95": r.get("p95"),
                         "leader": r["leader"], "leader_score": r["leader_score"],
                         "gap_to_leader": r["gap_to_leader"]})
        for r in p.peers.to_dict("records"):
            rows.append({"city": p.city, "kind": "peer", "other_city": r["city"], "other_region": r["region"],
                         "distance": r["distance"], "rank": r["rank"]})
        for r in p.learn_from.to_dict("records"):
            rows.append({"city": p.city, "kind": "learn_from", "domain": r["domain"], "score": r["from_score"],
                         "rank": r["from_rank"], "other_city": r["from_city"], "other_region": r["from_region"],
                         "initiative_id": r["id"], "initiative": r["initiative"], "source_url": r["source_url"]})
    out = pd.DataFrame(rows)
    for c in PROFILE_COLUMNS:
        if c not in out:
            out[c] = pd.NA
    return out[list(PROFILE_COLUMNS)]


# --- all insight tables ---------------------------------------------------------------------------------------------



def insight_tables(result) -> dict[str, pd.DataFrame]:
    """The insight tables of a build, by file name: trends, regions, archetypes (all three need an inventory)
    and profiles (always). Why: one call for the CLI, the demo and the report, so they cannot disagree."""
    from .archetypes import archetype_table, find_archetypes, profile_features
    from .regions import region_table
    from .trends import trends_table

    tables: dict[str, pd.DataFrame] = {}
    inventory = getattr(result.inputs, "inventory", None)
    cities = result_cities(result)
    if inventory is not None:
        tables["trends.csv"] = trends_table(inventory, cities)
        tables["regions.csv"] = region_table(inventory, cities, readings.domain_scores(result))
        tables["archetypes.csv"] = archetype_table(inventory, cities,
                                                   find_archetypes(profile_features(inventory)))
    tables["profiles.csv"] = profiles_table(result)
    return tables


def write_insight(result, folder: str | Path) -> list[Path]:
    """Write the insight tables of a build into `folder` (which must exist) and return their paths.

    Meant to run inside `io.outputs.atomic_folder` (as `publish.write_outputs` does), so the files appear all
    together or not at all.
    """
    folder = Path(folder)
    paths = []
    for name, table in insight_tables(result).items():
        table.to_csv(folder / name, index=False)
        paths.append(folder / name)
    return paths
