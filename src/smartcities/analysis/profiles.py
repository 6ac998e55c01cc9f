"""City profiles that lead to action: strengths and weaknesses, peers, the gap to each domain's leader, and
which initiatives of leading cities — preferably on other continents — to learn from.

The pure functions take a cities × domains score table (`results.domain_scores`), the inventory and the cities
table; `city_profile` and `profiles_table` assemble them from a built `Result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..engine.threads import WORKERS
from ..errors import InputError, did_you_mean
from ..io.inventory import continent_column, continents, slug
from ..model.codebook import INTELLIGENT_TECHNOLOGIES
from . import results as readings
from .trends import initiative_text, mentions_integration

N_PEERS = 3
N_TEACHERS = 2  # leading cities to learn from, per weak domain
N_INITIATIVES = 3  # initiatives shown per leading city
POOL = 5  # the leading cities considered before preferring other regions
EVERY_PAIR = 500  # up to this many cities, peers are found among every pair (a few MB); beyond, by a k-d tree


# --- which initiatives feed which domain -------------------------------------------------------------------------

def _techs(inv: pd.DataFrame) -> pd.Series:
    return inv["technologies"].map(lambda t: tuple(t) if isinstance(t, (tuple, list)) else
                                   tuple(x.strip() for x in str(t).split(";") if x.strip()))


def _flag(inv: pd.DataFrame, column: str) -> pd.Series:
    col = inv[column]
    if col.dtype == bool or str(col.dtype) == "boolean":
        return col.fillna(False).astype(bool)
    return col.astype(str).str.lower().isin(("true", "1", "yes"))


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
               + (inv["item_type"] == "living_lab") + initiative_text(inv).str.lower().str.contains(r"open[- ]data")),
    DomainFeed("infrastructure_integration", "infrastructure services and initiatives that integrate data across "
               "silos (integrated platforms, operations centres)",
               lambda inv: (inv["item_type"] == "infrastructure_service").astype(int) + _flag(inv, "integrates_data")
               + mentions_integration(initiative_text(inv))),
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

def standardised(scores: pd.DataFrame) -> pd.DataFrame:
    """Complete rows of a cities × domains table, each domain as z-scores (a constant domain keeps its offsets; a
    domain no city has a score in is left out, not every city with it)."""
    table = scores.dropna(axis=1, how="all").dropna()
    std = table.std(ddof=0).replace(0, 1.0)
    return (table - table.mean()) / std


def peers(scores: pd.DataFrame, city: str, n: int = N_PEERS, metric: str = "euclidean") -> pd.DataFrame:
    """The `n` cities whose domain-score profile is nearest to `city`'s, nearest first: city, distance.

    Scores are standardised per domain first, so every domain counts equally whatever its spread. `metric` is
    'euclidean' (similar levels and shape) or 'cosine' (similar shape: strong and weak in the same domains).
    A city missing a domain score has no peers: its distance to the others would leave that domain out.
    Why: a city learns most from, and is most fairly compared with, cities built like it.
    """
    z = standardised(scores)
    if city not in z.index:
        if city not in scores.index:
            raise KeyError(city)
        return pd.DataFrame({"city": pd.Series(dtype=object), "distance": pd.Series(dtype=float)})
    if metric == "euclidean":
        return _nearest(z, z.index.get_loc(city), np.arange(len(z)), n)
    if metric != "cosine":
        raise ValueError(f"metric must be 'euclidean' or 'cosine', not {metric!r}")
    me = z.loc[city].to_numpy()
    others = z.drop(index=city)
    norms = np.linalg.norm(others.to_numpy(), axis=1) * np.linalg.norm(me)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.nan_to_num(1 - (others.to_numpy() @ me) / norms, nan=1.0)
    out = pd.DataFrame({"city": others.index, "distance": dist})
    return out.sort_values(["distance", "city"], ignore_index=True).head(n)


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between rows of `a` and `b` (broadcast), the domains added one after another, so the
    distance of two cities has the same last bit however many cities are compared at once."""
    squares = (a - b) ** 2
    total = squares[..., 0].copy()
    for j in range(1, squares.shape[-1]):
        total += squares[..., j]
    return np.sqrt(total)


def _nearest(z: pd.DataFrame, i: int, candidates: np.ndarray, n: int) -> pd.DataFrame:
    """The `n` rows of `candidates` (positions in `z`, other than `i`) nearest to row `i`, ties by city id."""
    values = z.to_numpy()
    others = candidates[candidates != i]
    out = pd.DataFrame({"city": z.index[others], "distance": _distance(values[others], values[i])})
    return out.sort_values(["distance", "city"], ignore_index=True).head(n)


def all_peers(scores: pd.DataFrame, n: int = N_PEERS) -> pd.DataFrame:
    """`peers(scores, city, n)` of every city with a complete profile, as one long table: of (the city), city
    (its peer, nearest first) and distance.

    A k-d tree proposes a few more neighbours than needed; their distances are then computed exactly as
    `peers` does and cut at `n` with the same tie rule, and the few cities where the cut might fall on a tie
    ask the tree again for more. Why: comparing every city with every other grows with the square of the
    number of cities, and a small table per city costs more than the search.
    """
    z = standardised(scores)
    values, cities = z.to_numpy(), z.index.to_numpy()
    if len(z) < 2:
        return pd.DataFrame({"of": pd.Series(dtype=object), "city": pd.Series(dtype=object),
                             "distance": pd.Series(dtype=float)})
    if len(z) <= EVERY_PAIR:  # every city is proposed: exact, and no k-d tree to import (a tenth of a second)
        k, proposed, tree = len(z), None, None
        found = np.broadcast_to(np.arange(k), (k, k))
    else:
        from scipy.spatial import cKDTree

        tree = cKDTree(values, leafsize=32)
        k = min(len(z), n + 4)
        proposed, found = tree.query(values, k=k, workers=WORKERS)
    exact = _distance(values[found], values[:, None, :])
    exact[found == np.arange(len(z))[:, None]] = np.inf  # a city is not its own peer
    by_id = np.empty(len(z), dtype=np.int64)
    by_id[np.argsort(cities, kind="stable")] = np.arange(len(z))
    order = np.lexsort((by_id[found], exact), axis=1)
    width = min(n, k - 1)
    chosen = np.take_along_axis(found, order[:, :width], axis=1)
    distance = np.take_along_axis(exact, order[:, :width], axis=1)
    # the n-th and the last proposed neighbour might tie (the tree's rounding differs a little): ask for more
    unsure = np.zeros(len(z), dtype=bool) if k == len(z) else (
        proposed[:, -1] - proposed[:, min(n, k - 1)] <= 1e-9 * np.maximum(1.0, proposed[:, -1]))
    parts = [pd.DataFrame({"of": np.repeat(cities[~unsure], width), "city": cities[chosen[~unsure].ravel()],
                           "distance": distance[~unsure].ravel()})]
    for i in np.flatnonzero(unsure):
        wide, row, near = k, proposed[i], found[i]
        while wide < len(z) and row[-1] - row[min(n, wide - 1)] <= 1e-9 * max(1.0, row[-1]):
            wide = min(len(z), 2 * wide)
            row, near = tree.query(values[i], k=wide)
        parts.append(_nearest(z, i, np.asarray(near), n).assign(of=cities[i]))
    out = pd.concat(parts, ignore_index=True)[["of", "city", "distance"]]
    by_city = np.argsort(pd.Index(cities).get_indexer(out["of"]), kind="stable")
    return out.iloc[by_city].reset_index(drop=True)


def gaps_to_leader(scores: pd.DataFrame, city: str) -> pd.DataFrame:
    """Per domain: the city's score and rank, the leader and its score, and the gap (leader − city, ≥ 0).

    Why: the distance to the best shows how much room there is, in the units of the index.
    """
    table = scores.dropna(how="all")
    ranks = table.rank(ascending=False, method="min")
    leader, leader_score = leaders_of(table)
    return pd.DataFrame({"domain": table.columns, "score": table.loc[city].to_numpy(),
                         "rank": ranks.loc[city].to_numpy(), "leader": leader, "leader_score": leader_score,
                         "gap_to_leader": leader_score - table.loc[city].to_numpy()})


def leaders_of(scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The leading city of each domain (the first listed among equals) and its score: None and NaN for a domain
    no city has a score in."""
    values = np.vstack([scores.to_numpy(dtype=float), np.full(scores.shape[1], np.nan)])  # the last row: nobody
    missing = np.isnan(values)
    first = np.where(missing.all(axis=0), len(values) - 1, np.where(missing, -np.inf, values).argmax(axis=0))
    return np.append(scores.index.to_numpy(dtype=object), None)[first], values[first, np.arange(values.shape[1])]


class Teachers:
    """For each domain, the `pool` best-scoring cities and each one's `n_items` most relevant initiatives.

    Every city's learn-from list draws only on these few cities, so the inventory is read once per domain,
    not once per city and domain. Why: profiles of ten thousand cities must not read the inventory
    ten thousand times.
    """

    def __init__(self, scores: pd.DataFrame, inventory: pd.DataFrame, domains, n_items: int = N_INITIATIVES,
                 pool: int = POOL):
        self.scores, self.top, self.ranks, self.items = {}, {}, {}, {}
        for d in dict.fromkeys(domains):
            col = scores[d].dropna()
            self.scores[d] = col.to_dict()
            self.top[d] = list(col.sort_values(ascending=False, kind="stable").index[:pool])
            self.ranks[d] = col.rank(ascending=False, method="min").to_dict()
            theirs = inventory[inventory["city_id"].isin(self.top[d])]
            relevance = initiatives_feeding(theirs, d)
            own = theirs[relevance > 0].assign(relevance=relevance)
            own = own.assign(_c=(own["confidence"] == "high").astype(int) if "confidence" in own else 0)
            own = own.sort_values(["relevance", "_c", "id"], ascending=[False, False, True])
            self.items[d] = {}
            for row in own.groupby("city_id", sort=False).head(n_items).to_dict("records"):
                self.items[d].setdefault(row["city_id"], []).append(row)

    def for_city(self, city: str, region: pd.Series | dict, domains, n_cities: int = N_TEACHERS) -> list[dict]:
        """The learn-from rows of one city (see `learn_from`)."""
        rows = []
        region = region if isinstance(region, dict) else region.to_dict()
        mine = region.get(city)
        for d in domains:
            col = self.scores[d]
            own_score = col.get(city, -np.inf)
            candidates = [c for c in self.top[d] if col[c] > own_score and c != city]
            candidates.sort(key=lambda c: (region.get(c) == mine, -col[c]))
            teachers = [c for c in candidates if c in self.items[d]][:n_cities]
            for teacher in teachers:
                for r in self.items[d][teacher]:
                    rows.append({"domain": d, "from_city": teacher, "from_region": region.get(teacher),
                                 "other_region": region.get(teacher) != mine, "from_score": col[teacher],
                                 "from_rank": int(self.ranks[d][teacher]), "id": r["id"], "initiative": r["name"],
                                 "item_type": r["item_type"], "description": r.get("description"),
                                 "source_url": r.get("source_url"), "relevance": r["relevance"]})
        return rows


LEARN_FROM_COLUMNS = ["domain", "from_city", "from_region", "other_region", "from_score", "from_rank", "id",
                      "initiative", "item_type", "description", "source_url", "relevance"]


def learn_from(scores: pd.DataFrame, inventory: pd.DataFrame, region: pd.Series, city: str, domains: list[str],
               n_cities: int = N_TEACHERS, n_items: int = N_INITIATIVES, pool: int = POOL) -> pd.DataFrame:
    """For each of `domains`, initiatives of cities that lead it, preferring cities from another region.

    Among the `pool` best-scoring cities above `city` in the domain, those of other regions come first (then by
    score); the first `n_cities` with at least one relevant initiative each give up to `n_items` initiatives,
    most relevant first. Columns: domain, from_city, from_region, other_region, from_score, from_rank, id,
    initiative, item_type, description, source_url, relevance. Why: the report calls for cross-continental
    learning; the leaders next door are known already, those elsewhere less so.
    """
    rows = Teachers(scores, inventory, domains, n_items, pool).for_city(city, region, domains, n_cities)
    return pd.DataFrame(rows, columns=LEARN_FROM_COLUMNS)


# --- whole profiles from a Result ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfileTables:
    """The profiles of many cities as three long tables, each led by `of` (the city whose profile a row is
    part of) and holding one block of rows per city. Why: building three small frames for each of ten thousand
    cities costs more than everything the profiles compute."""

    domains: pd.DataFrame  # of + CityProfile.domains
    peers: pd.DataFrame  # of + CityProfile.peers
    learn_from: pd.DataFrame  # of + CityProfile.learn_from

    @cached_property
    def _blocks(self) -> dict[str, dict[str, slice]]:
        out = {}
        for kind in ("domains", "peers", "learn_from"):
            of = getattr(self, kind)["of"].to_numpy()
            starts = np.flatnonzero(np.r_[True, of[1:] != of[:-1]]) if len(of) else np.array([], dtype=int)
            ends = np.r_[starts[1:], len(of)]
            out[kind] = {of[a]: slice(a, b) for a, b in zip(starts, ends)}
        return out

    def records(self, kind: str, cities: list[str]) -> dict[str, list[dict]]:
        """The rows of table `kind` of `cities` as plain dicts (without `of`), by city. Why: a report section
        reads every row of the cities it shows; converting their rows at once is far cheaper than a small frame
        per city."""
        blocks = self._blocks[kind]
        rows = [np.arange(b.start, b.stop) for b in (blocks.get(c) for c in cities) if b is not None]
        by_city: dict[str, list[dict]] = {}
        table = getattr(self, kind)
        for row in table.iloc[np.concatenate(rows) if rows else []].to_dict("records"):
            by_city.setdefault(row.pop("of"), []).append(row)
        return by_city

    def of(self, kind: str, city: str) -> pd.DataFrame:
        """One city's rows of table `kind`, without the `of` column."""
        table = getattr(self, kind)
        rows = self._blocks[kind].get(city, slice(0, 0))
        return table.iloc[rows].drop(columns="of").reset_index(drop=True)


@dataclass(frozen=True)
class CityProfile:
    """Everything the report and `smartcities profile` say about one city; its tables are read, when asked
    for, from the `ProfileTables` it shares with the other profiles of its build."""

    city: str
    name: str
    region: str | None
    rank: int
    score: float
    grade: int
    learn_domains: tuple[str, ...]  # the domains learn_from covers (weaknesses, else the largest gaps)
    tables: ProfileTables = field(repr=False, compare=False)

    @cached_property
    def domains(self) -> pd.DataFrame:
        """domain, score, median, rank, gap, verdict, domain_name, leader, leader_name, leader_score,
        gap_to_leader[, median_rank, p05, p95]: strongest against the median first."""
        return self.tables.of("domains", self.city)

    @cached_property
    def peers(self) -> pd.DataFrame:
        """city, name, region, distance, rank: the nearest cities first."""
        return self.tables.of("peers", self.city)

    @cached_property
    def learn_from(self) -> pd.DataFrame:
        """See `learn_from`, plus domain_name and from_name."""
        return self.tables.of("learn_from", self.city)

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


@dataclass(frozen=True)
class Standing:
    """What every profile of one build reads, computed once for all of them: domain scores with their ranks,
    medians and leaders, the ranking, names, regions, rank intervals and the initiatives of leading cities."""

    scores: pd.DataFrame  # kept cities × domains
    ranks: np.ndarray  # the same shape: rank in each domain (1 = best, ties share the lowest)
    median: np.ndarray  # per domain
    leader: np.ndarray  # per domain: the leading city
    leader_score: np.ndarray
    ranking: pd.DataFrame  # index: city; rank, score, grade (ranking order)
    names: dict[str, str]
    region: pd.Series
    domain_names: list[str]
    intervals: dict[str, np.ndarray]  # median_rank / p05 / p95 → the same shape as scores, where the build has them
    teachers: Teachers | None

    @cached_property
    def values(self) -> np.ndarray:
        return self.scores.to_numpy()

    @cached_property
    def position(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.scores.index)}

    @cached_property
    def region_of(self) -> dict:
        return self.region.to_dict()

    @cached_property
    def rank_of(self) -> dict[str, int]:
        return dict(zip(self.ranking.index, self.ranking["rank"]))


def standing(result, n_items: int = N_INITIATIVES) -> Standing:
    """The shared readings behind every city profile of a build."""
    fw = result.context.framework
    scores = readings.domain_scores(result)
    domains = list(scores.columns)
    table = scores.dropna(how="all")
    leader, leader_score = leaders_of(table)
    intervals = {}
    if result.uncertainty is not None:
        by_node = result.uncertainty.intervals_by_node
        for c in ("median_rank", "p05", "p95"):
            if c in result.uncertainty.rank_intervals:
                intervals[c] = np.column_stack(
                    [by_node[d][c].reindex(scores.index).to_numpy(dtype=float) if d in by_node
                     else np.full(len(scores), np.nan) for d in domains]) if domains else np.empty((len(scores), 0))
    inventory = getattr(result.inputs, "inventory", None)
    return Standing(scores, scores.rank(ascending=False, method="min").to_numpy(), table.median().to_numpy(),
                    leader, leader_score, readings.ranking(result).set_index("city"), _names(result),
                    _regions(result), [fw.by_id[d].name for d in domains], intervals,
                    Teachers(scores, inventory, domains, n_items) if inventory is not None else None)


def city_profile(result, city: str, n_peers: int = N_PEERS, n_cities: int = N_TEACHERS,
                 n_items: int = N_INITIATIVES) -> CityProfile:
    """The profile of one city of a build (`city` as slug or name).

    Strengths and weaknesses are domains above and below the median city (`results.strengths_weaknesses`),
    with rank intervals when the build ran its robustness analysis; learn-from covers the weak domains, or —
    for a city weak in none — the two domains with the largest gap to their leader.
    Why: a rank alone tells a city nothing to do; a profile says where it stands, who is like it and what to
    look at next.
    """
    cid = resolve_city(city, result_cities(result))
    basis = standing(result, n_items)
    if cid not in basis.scores.index:
        raise InputError.single("city", f"{city!r} has no scores in this build (screened out for missing data)")
    return _profiles(basis, [cid], peers(basis.scores, cid, n_peers).assign(of=cid), n_cities)[cid]


def all_profiles(result) -> dict[str, CityProfile]:
    """Profiles of every scored city, in ranking order. Why: the report carries one for each city."""
    basis = standing(result)
    return _profiles(basis, list(basis.ranking.index), all_peers(basis.scores), N_TEACHERS)


def _profiles(basis: Standing, cities: list[str], near: pd.DataFrame, n_cities: int) -> dict[str, CityProfile]:
    """The profiles of `cities` from the build's shared standing and their nearest peers (`all_peers` rows),
    every table built once for all of them."""
    at = [basis.position[c] for c in cities]
    score = basis.values[at]
    gap = score - basis.median
    order = np.argsort(-gap, axis=1, kind="stable")  # largest gap first, ties in framework order, missing last

    def each(values: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values, order, axis=1).ravel()

    in_order = each(score)
    gaps = each(gap)
    leader = basis.leader[order].ravel()
    leader_score = basis.leader_score[order].ravel()
    domain = basis.scores.columns.to_numpy()[order].ravel()
    verdict = readings.verdicts(in_order, gaps)
    domains = pd.DataFrame({
        "of": np.repeat(np.array(cities, dtype=object), order.shape[1]), "domain": domain, "score": in_order,
        "median": basis.median[order].ravel(), "rank": each(basis.ranks[at]), "gap": gaps, "verdict": verdict,
        "domain_name": np.array(basis.domain_names, dtype=object)[order].ravel(), "leader": leader,
        "leader_name": [basis.names.get(c, np.nan) for c in leader], "leader_score": leader_score,
        "gap_to_leader": leader_score - in_order,
        **{c: each(values[at]) for c, values in basis.intervals.items()},
    })
    width = order.shape[1]
    learn_domains, rows = {}, []
    for k, cid in enumerate(cities):
        block = slice(k * width, (k + 1) * width)
        weak = list(domain[block][verdict[block] == "weakness"])
        if not weak:  # weak in none: the two largest open gaps to a leader
            to_leader = (leader_score - in_order)[block]
            open_gaps = np.argsort(-to_leader, kind="stable")
            weak = list(domain[block][open_gaps[to_leader[open_gaps] > 0]][:2])
        learn_domains[cid] = tuple(weak)
        if basis.teachers is not None:
            rows += [{"of": cid, **r} for r in basis.teachers.for_city(cid, basis.region_of, weak, n_cities)]
    names = dict(zip(basis.scores.columns, basis.domain_names))
    learn = pd.DataFrame(rows, columns=["of", *LEARN_FROM_COLUMNS])
    learn.insert(2, "domain_name", learn["domain"].map(names))
    learn.insert(4, "from_name", [basis.names.get(c) for c in learn["from_city"]])
    chosen = near[near["of"].isin(set(cities))]
    peers_table = pd.DataFrame({
        "of": chosen["of"].to_numpy(), "city": chosen["city"].to_numpy(),
        "name": [basis.names.get(c, np.nan) for c in chosen["city"]],
        "region": [basis.region_of.get(c, np.nan) for c in chosen["city"]], "distance": chosen["distance"].to_numpy(),
        "rank": pd.array([basis.rank_of.get(c) for c in chosen["city"]], dtype="Int64")})
    tables = ProfileTables(domains, peers_table, learn)
    top = basis.ranking.loc[cities]
    return {cid: CityProfile(cid, basis.names[cid], basis.region_of.get(cid), int(rank), float(total), int(grade),
                             learn_domains[cid], tables)
            for cid, rank, total, grade in zip(cities, top["rank"], top["score"], top["grade"])}


PROFILE_LEARN_FROM_COLUMNS = ["domain", "domain_name", "from_city", "from_name", *LEARN_FROM_COLUMNS[2:]]


PROFILE_COLUMNS = ("city", "kind", "domain", "score", "median", "verdict", "rank", "median_rank", "p05", "p95",
                   "leader", "leader_score", "gap_to_leader", "other_city", "other_region", "distance",
                   "initiative_id", "initiative", "source_url")


def profiles_table(profiles: dict[str, CityProfile]) -> pd.DataFrame:
    """profiles.csv: long and tidy, one fact a row, `kind` saying which:

    - `domain`: a domain of a city — score, median, verdict, rank (and rank interval), leader, gap_to_leader;
    - `peer`: one of its nearest cities — other_city, other_region, distance;
    - `learn_from`: one initiative to learn from for a domain — other_city (who runs it), other_region,
      score (that city's domain score), initiative_id, initiative, source_url.
    Why: everything a city profile shows, in a form a spreadsheet or a dashboard can filter by city.
    """
    chosen = list(profiles.values())
    if not chosen:
        return pd.DataFrame(columns=list(PROFILE_COLUMNS))
    position = {p.city: i for i, p in enumerate(chosen)}
    books = {id(p.tables): p.tables for p in chosen}

    def long(kind: int, name: str, columns: dict[str, str]) -> pd.DataFrame:
        parts = []
        for key, book in books.items():
            table = getattr(book, name)
            mine = table["of"].isin({p.city for p in chosen if id(p.tables) == key}).to_numpy()
            parts.append(table[mine])
        table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        out = table[list(columns)].rename(columns=columns)
        out.insert(0, "city", table["of"].to_numpy())
        out["_order"] = table["of"].map(position).to_numpy(dtype=np.int64) * 3 + kind
        return out

    first = chosen[0].tables.domains
    same = {c: c for c in ("domain", "score", "median", "verdict", "rank", "median_rank", "p05", "p95", "leader",
                           "leader_score", "gap_to_leader") if c in first}
    domains = long(0, "domains", same)
    near = long(1, "peers", {"city": "other_city", "region": "other_region", "distance": "distance", "rank": "rank"})
    learn = long(2, "learn_from", {
        "domain": "domain", "from_score": "score", "from_rank": "rank", "from_city": "other_city",
        "from_region": "other_region", "id": "initiative_id", "initiative": "initiative", "source_url": "source_url"})
    parts = [domains.assign(kind="domain"), near.assign(kind="peer"), learn.assign(kind="learn_from")]
    for part in parts:  # ranks of domains, peers and teachers in one float column, as a spreadsheet reads them
        part["rank"] = part["rank"].astype(float)
    out = pd.concat([part for part in parts if len(part)], ignore_index=True)
    out = out.iloc[np.argsort(out["_order"].to_numpy(), kind="stable")].reset_index(drop=True)
    for c in PROFILE_COLUMNS:
        if c not in out:
            out[c] = pd.NA
    return out[list(PROFILE_COLUMNS)]
