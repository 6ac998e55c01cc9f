"""Regional profiles measured, not asserted: what each region's initiatives do, and whether it differs.

Each region is compared with all other cities together ("region against the rest"), so a region of one city
still gets a test — an honest, weak one. The unit that is shuffled in every permutation test is the *city*
(all its initiatives move together), because initiatives of one city are not independent draws: a test
that shuffled initiatives would call a single prolific city a regional pattern. Many features are tested at
once, so p-values are adjusted with Benjamini–Hochberg and every statement carries its q-value and its n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..io.inventory import continents
from ..model.codebook import ITEM_TYPES, SERVICE_DOMAINS, TECHNOLOGIES
from .statistics import (
    ALPHA,
    N_PERMUTATIONS,
    SEED,
    ChiSquare,
    benjamini_hochberg,
    newcombe_interval,
    permutation_chi_squares,
    permutation_differences,
)
from .trends import TRENDS, technology_codes, trend_flags, uses_technology

SMALL_REGION = 3  # regions with at most this many cities are flagged as too small to generalise from


# --- region features --------------------------------------------------------------------------------------------

FEATURE_LABELS: dict[str, str] = {
    **{f"domain:{d}": f"{name} initiatives" for d, name in zip(SERVICE_DOMAINS, (
        "administration", "transport", "health & welfare", "environment & energy", "safety & disaster",
        "facility management", "education", "culture & tourism", "logistics", "employment & economy",
        "other-domain"))},
    **{f"technology:{t}": ("initiatives with no named technology" if t == "none" else
                           f"initiatives using {t.replace('_', ' ') if len(t) > 3 else t.upper()}")
       for t in TECHNOLOGIES},
    **{f"item_type:{t}": t.replace("_", " ") + "s" for t in ITEM_TYPES},
    "actor:public_led": "public-led initiatives (top-down)",
    "actor:private_partner": "initiatives with private partners (private or public–private)",
    "actor:citizen_participation": "citizen participation",
    "actor:bottom_up": "bottom-up initiatives (citizen participation or living lab)",
    "theme:sustainability": "initiatives with an energy/environment effect (direct or indirect)",
    "theme:data_driven": "data-driven initiatives (big data or AI)",
    **{f"trend:{t}": f"{t} (trend)" for t in TRENDS},
}
"""Plain words for every feature a region is compared on; `family:value` ids keep the families apart."""

def initiative_features(inventory: pd.DataFrame, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """One boolean column per comparison feature (`family:value`) for every initiative.

    Why: service domain, technology, item type, lead actor, themes and trends are all read as "share of a
    region's initiatives that …", so one flag table feeds every test and every share. `flags` are the
    inventory's `trend_flags` when the caller has them already.
    """
    domain, item, actor, effect = (_coded(inventory[c]) for c in ("service_domain", "item_type", "lead_actor",
                                                                   "energy_environment"))
    techs = technology_codes(inventory)
    cols: dict[str, np.ndarray] = {}
    for d in SERVICE_DOMAINS:
        cols[f"domain:{d}"] = domain(d)
    for t in TECHNOLOGIES:
        cols[f"technology:{t}"] = uses_technology(techs, [t])
    for t in ITEM_TYPES:
        cols[f"item_type:{t}"] = item(t)
    participation = _bool(inventory["citizen_participation"]).to_numpy()
    cols["actor:public_led"] = actor("public")
    cols["actor:private_partner"] = actor("private", "public_private")
    cols["actor:citizen_participation"] = participation
    cols["actor:bottom_up"] = participation | item("living_lab")
    cols["theme:sustainability"] = effect("direct", "indirect")
    cols["theme:data_driven"] = uses_technology(techs, ["big_data", "ai"])
    flags = trend_flags(inventory) if flags is None else flags
    for t in TRENDS:
        cols[f"trend:{t}"] = flags[t].to_numpy()
    return pd.DataFrame({k: np.asarray(v, dtype=bool) for k, v in cols.items()}, index=inventory.index)


def _coded(column: pd.Series):
    """A test `is_(*values)` of whether each cell of `column` is one of `values`, on the column's codes. Why:
    comparing a million strings once per value was the slow part of the feature table."""
    codes, values = pd.factorize(column)
    position = {v: i for i, v in enumerate(values)}
    return lambda *wanted: np.isin(codes, [position[w] for w in wanted if w in position])


def _city_counts(inventory: pd.DataFrame, cities: pd.DataFrame,
                 flags: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(cities × features counts, initiatives per city, region per city) over cities that have initiatives."""
    feats = initiative_features(inventory, flags)
    city, present = pd.factorize(inventory["city_id"])
    counts = pd.DataFrame({f: np.bincount(city, weights=feats[f].to_numpy(), minlength=len(present)).astype(np.int64)
                           for f in feats.columns}, index=present)
    n = pd.Series(np.bincount(city, minlength=len(present)), index=present)
    region = continents(cities)
    ids = [c for c in cities["city"] if c in counts.index]
    return counts.loc[ids], n.loc[ids], region.loc[ids]


def region_table(inventory: pd.DataFrame, cities: pd.DataFrame, scores: pd.DataFrame | None = None,
                 n_permutations: int = N_PERMUTATIONS, seed: int = SEED,
                 flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """regions.csv: every region against all other cities on every feature, with effect, interval and test.

    Columns: region, n_cities, n_items, family, feature, label, count, share, others_n, others_share,
    difference, ci_low, ci_high, p, q, small. Shares pool the region's initiatives; `difference` is in share
    points (0–1); `p` is two-sided from shuffling cities (exact for regions of one or two cities); `q` is
    Benjamini–Hochberg over every row. With `scores` (cities × domains, e.g. `results.domain_scores`),
    family `score` compares mean domain scores the same way (count and shares then hold means, not counts).
    Why: the per-region mixes the report describes, each with the numbers needed to believe it or not.
    """
    counts, n, region = _city_counts(inventory, cities, flags)
    regions = _region_order(region)
    if scores is not None:
        s = scores.reindex(region.index)
        ok = s.notna().all(axis=1).to_numpy()
    tests = {}  # every test first, so that tests on the same cities share their shuffles
    for reg in regions:
        member = (region == reg).to_numpy()
        tests[reg, "features"] = (counts.to_numpy(), n.to_numpy(), member)
        if scores is not None and member[ok].any() and (~member[ok]).any():
            tests[reg, "scores"] = (s[ok].to_numpy(), np.ones(ok.sum()), member[ok])
    tested = dict(zip(tests, permutation_differences(list(tests.values()), n_permutations, seed)))
    rows = []
    for reg in regions:
        member = (region == reg).to_numpy()
        diff, p = tested[reg, "features"]
        c_in = counts[member].sum()
        n_in, n_out = int(n[member].sum()), int(n[~member].sum())
        c_out = counts[~member].sum()
        low, high = newcombe_interval(c_in, n_in, c_out, n_out)
        for j, feat in enumerate(counts.columns):
            rows.append({"region": reg, "n_cities": int(member.sum()), "n_items": n_in,
                         "family": feat.split(":")[0], "feature": feat.split(":", 1)[1],
                         "label": FEATURE_LABELS.get(feat, feat), "count": float(c_in[feat]),
                         "share": c_in[feat] / n_in, "others_n": n_out, "others_share": c_out[feat] / n_out,
                         "difference": diff[j], "ci_low": low[j], "ci_high": high[j], "p": p[j]})
        if (reg, "scores") in tested:
            m = member[ok]
            diff, p = tested[reg, "scores"]
            for j, dom in enumerate(s.columns):
                a, b = s[ok][m][dom].to_numpy(), s[ok][~m][dom].to_numpy()
                low, high = _welch_interval(a, b)
                rows.append({"region": reg, "n_cities": int(m.sum()), "n_items": n_in, "family": "score",
                             "feature": dom, "label": f"{dom.replace('_', ' ')} score", "count": float("nan"),
                             "share": a.mean(), "others_n": int((~m).sum()), "others_share": b.mean(),
                             "difference": diff[j], "ci_low": low, "ci_high": high, "p": p[j]})
    out = pd.DataFrame(rows)
    out["q"] = benjamini_hochberg(out["p"].to_numpy())
    out["small"] = out["n_cities"] <= SMALL_REGION
    return out


def _welch_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The 95% Welch interval of mean(a) − mean(b): unequal variances, Welch–Satterthwaite degrees of freedom."""
    from scipy.special import stdtrit  # here: a build without an inventory compares no regions

    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan")
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    diff = float(np.mean(a) - np.mean(b))
    if se == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stdtrit(df, 0.975)) * se
    return diff - half, diff + half


def _region_order(region: pd.Series) -> list[str]:
    sizes = region.value_counts()
    return sorted(sizes.index, key=lambda r: (-sizes[r], r))


MIXES = {
    "domain": ("service domain", "service_domain", SERVICE_DOMAINS),
    "item_type": ("item type", "item_type", ITEM_TYPES),
    "actor": ("lead actor", "lead_actor", ("public", "public_private", "private")),
}
"""The mutually exclusive codings whose whole mix is tested with a chi-square."""


def mix_tests(inventory: pd.DataFrame, cities: pd.DataFrame, n_permutations: int = N_PERMUTATIONS,
              seed: int = SEED) -> pd.DataFrame:
    """Does the whole mix (service domains, item types, lead actors; technologies as initiative–technology
    pairs) differ across regions, and for each region against the rest?

    Columns: mix, region ('all' for every region at once), n_cities, n_items, chi2, dof, cramers_v,
    min_expected, p_asymptotic, p (city-shuffle permutation), q (BH over the rows). Why: one omnibus answer per
    mix before the feature-by-feature reading, with Cramér's V to say whether a difference is large or slight.
    """
    region = continents(cities)
    city, present = pd.factorize(inventory["city_id"])
    known = set(present)
    ids = [c for c in cities["city"] if c in known]
    order = pd.Index(present).get_indexer(ids)  # cities table order
    tables = {}
    for mix, (_, column, values) in MIXES.items():
        is_ = _coded(inventory[column])
        tables[mix] = np.column_stack([np.bincount(city, weights=is_(v), minlength=len(present)) for v in values])
    codes, combos = technology_codes(inventory)  # an initiative–technology pair per technology it names
    tables["technology"] = np.column_stack([
        np.bincount(city, weights=np.array([c.count(t) for c in combos], dtype=float)[codes], minlength=len(present))
        for t in TECHNOLOGIES])
    tables = {mix: table[order].astype(np.int64) for mix, table in tables.items()}
    labels = region.loc[ids].to_numpy()
    rows, tests = [], []
    for mix, counts in tables.items():
        rows.append({"mix": mix, "region": "all", "n_cities": len(ids), "n_items": int(counts.sum())})
        tests.append((counts, labels))
        for reg in _region_order(region.loc[ids]):
            rows.append({"mix": mix, "region": reg, "n_cities": int((labels == reg).sum()),
                         "n_items": int(counts[labels == reg].sum())})
            tests.append((counts, np.where(labels == reg, reg, "others")))
    for row, (test, p) in zip(rows, permutation_chi_squares(tests, n_permutations, seed)):
        row.update(**_test_columns(test), p=p)
    out = pd.DataFrame(rows)
    out["q"] = benjamini_hochberg(out["p"].to_numpy())
    return out


def _test_columns(test: ChiSquare) -> dict:
    return {"chi2": test.chi2, "dof": test.dof, "cramers_v": test.cramers_v, "min_expected": test.min_expected,
            "p_asymptotic": test.p}


# --- the report's regional claims ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """One regional contrast the report names: `region` has more of `feature` than the other cities."""

    region: str
    family: str
    feature: str
    says: str  # the claim in the report's words


CLAIMS: tuple[Claim, ...] = (
    Claim("Europe", "theme", "sustainability", "European cities put sustainability first"),
    Claim("Europe", "item_type", "living_lab", "European cities work through living labs"),
    Claim("Europe", "actor", "bottom_up", "European cities work bottom-up"),
    Claim("Asia", "item_type", "infrastructure_service", "Asian cities build infrastructure"),
    Claim("Asia", "actor", "public_led", "Asian cities are led top-down by the public sector"),
    Claim("North America", "theme", "data_driven", "North American cities are data-driven"),
    Claim("North America", "actor", "private_partner", "North American cities work with private partners"),
)
"""The continental contrasts of the Smart Cities Index Report, as testable features of the inventory."""

SCORE_CLAIMS: tuple[Claim, ...] = (
    Claim("Europe", "score", "urban_sustainability", "European cities score higher on urban sustainability"),
    Claim("Europe", "score", "urban_openness", "European cities score higher on urban openness"),
    Claim("Asia", "score", "infrastructure_integration", "Asian cities score higher on infrastructure integration"),
    Claim("North America", "score", "urban_intelligence", "North American cities score higher on urban intelligence"),
    Claim("North America", "score", "collaborative_partnership",
          "North American cities score higher on collaborative partnership"),
)
"""The same contrasts read on the index's domain scores, tested when scores are given."""


def claim_table(table: pd.DataFrame, claims: tuple[Claim, ...] | None = None) -> pd.DataFrame:
    """The report's regional claims checked against a `region_table`: the row of each claim, its own BH q-value
    over the claims tested (a small, pre-stated family), a verdict and a plain sentence with the numbers.

    Verdicts: supported (higher, q < 0.05) · leans that way, not significant · not supported (not higher) ·
    contradicted (lower, q < 0.05). Why: the report states these contrasts; here each is tested, and a claim
    the data do not bear out is said to be so.
    """
    claims = claims if claims is not None else CLAIMS + SCORE_CLAIMS
    rows = []
    for c in claims:
        hit = table[(table["region"] == c.region) & (table["family"] == c.family) & (table["feature"] == c.feature)]
        if hit.empty:
            continue
        rows.append({"says": c.says, **hit.iloc[0].to_dict()})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["q_claims"] = benjamini_hochberg(out["p"].to_numpy())
    out["verdict"] = [_verdict(d, q) for d, q in zip(out["difference"], out["q_claims"])]
    out["sentence"] = [claim_sentence(r) for r in out.to_dict("records")]
    return out


def _verdict(difference: float, q: float) -> str:
    if difference > 0:
        return "supported" if q < ALPHA else "leans that way, not significant"
    return "contradicted" if q < ALPHA else "not supported"


def claim_sentence(row: dict) -> str:
    """A claim row as one plain sentence with its shares, n, difference, interval, p and q."""
    verdict = row["verdict"]
    opening = {
        "supported": f"{row['says']}: the data support this.",
        "leans that way, not significant": f"{row['says']}: the data lean that way but do not establish it.",
        "not supported": f"{row['says']}: the data do not support this.",
        "contradicted": f"{row['says']}: the data say the opposite.",
    }[verdict]
    q = row.get("q_claims", row["q"])
    ci = ("" if np.isnan(row["ci_low"]) else
          f" (95% CI {_signed(row['ci_low'], row['family'], False)} to {_signed(row['ci_high'], row['family'])})")
    if row["family"] == "score":
        body = (f" Mean score {row['share']:.1f} in the {_cities(row)} of {row['region']} against "
                f"{row['others_share']:.1f} in the {row['others_n']} others, a difference of "
                f"{_signed(row['difference'], 'score')}{ci}")
    else:
        body = (f" {row['share']:.0%} of {row['n_items']} initiatives in the {_cities(row)} of {row['region']} are "
                f"{row['label']}, against {row['others_share']:.0%} of {row['others_n']} elsewhere, a difference "
                f"of {_signed(row['difference'], row['family'])}{ci}")
    tail = f"; city-shuffle p {_p(row['p'])}, BH q {_p(q)}."
    if row["n_cities"] <= SMALL_REGION:
        cities = "city" if row["n_cities"] == 1 else "cities"
        tail += f" With {row['n_cities']} {cities}, this is too few to generalise."
    return opening + body + tail


def region_statements(table: pd.DataFrame, mixes: pd.DataFrame | None = None, top: int = 3) -> list[str]:
    """Plain sentences per region: its n, the features where it stands out most (q < 0.1 first) and, for small
    regions, a warning. Why: the reader gets the regional profile in words, with the strength of evidence."""
    out = []
    for reg, part in table[table["family"] != "score"].groupby("region", sort=False):
        n_cities, n_items = int(part["n_cities"].iloc[0]), int(part["n_items"].iloc[0])
        part = part[part["family"].isin(("domain", "technology", "item_type", "actor", "theme", "trend"))]
        above = part[part["difference"] > 0].sort_values(["q", "difference"], ascending=[True, False]).head(top)
        items = [f"{r.label} ({r.share:.0%} vs {r.others_share:.0%}, q {_p(r.q)})" for r in above.itertuples()]
        sig = int((part["q"] < 0.1).sum())
        text = (f"{reg} ({n_cities} {'city' if n_cities == 1 else 'cities'}, {n_items} initiatives): most above the "
                f"other cities on " + "; ".join(items) + ". ")
        text += (f"{sig} of {len(part)} feature differences reach q < 0.1." if sig else
                 "No feature difference survives the false-discovery control (q < 0.1).")
        if mixes is not None:
            m = mixes[(mixes["region"] == reg)].set_index("mix")
            if len(m):
                text += " Mix against the rest: " + ", ".join(
                    f"{k.replace('_', ' ')} V = {r.cramers_v:.2f} (p {_p(r.p)})" for k, r in m.iterrows()) + "."
        if n_cities <= SMALL_REGION:
            text += " Too few cities to speak for the region: read as a description of these cities only."
        out.append(text)
    return out


def _cities(row: dict) -> str:
    n = int(row["n_cities"])
    return "one city" if n == 1 else f"{n} cities"


def _signed(value: float, family: str, unit: bool = True) -> str:
    if family == "score":
        return f"{value:+.1f}"
    return f"{value * 100:+.0f}" + (" points" if unit else "")


def _p(value: float) -> str:
    """'= 0.03', '= 0.004' or '< 0.001': the relation and the value, ready to follow 'p' or 'q'."""
    if value is None or np.isnan(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"= {value:.3f}" if value < 0.01 else f"= {value:.2f}"


def _bool(column: pd.Series) -> pd.Series:
    if column.dtype == bool or str(column.dtype) == "boolean":
        return column.fillna(False).astype(bool)
    return column.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))
