"""HTML fragments for the report's insight sections: Trends, Regions, Archetypes and Learn from.

Each function reads the analysis layer and fills a template `insight_*.html.j2`; nothing here computes a
statistic of its own. `insight_sections(result, insight)` gives all four, ready for
`render_report(result, sections=…)`; the `Insight` is computed once per build (`analysis.insight.insight_of`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import archetypes as arch
from ..analysis import profiles as prof
from ..analysis import regions as reg
from ..analysis import trends as tr
from ..analysis.insight import Insight
from ..io.inventory import continents
from .plotly_html import diverging_scale, figure_html
from .templating import environment

TREND_COLOURS = {"inclusivity": "#3caea3", "intelligence": "#20639b", "integration": "#f6d55c"}


def _render(name: str, **values) -> str:
    return environment().get_template(name).render(**values)


def insight_sections(result, insight: Insight) -> dict[str, str]:
    """The four insight sections of a build's report, by title. Without an inventory only "Learn from" (peers
    and gaps) is given, since trends, regions and archetypes are readings of the inventory."""
    out: dict[str, str] = {}
    if insight.inventory is not None:
        out["Trends"] = trends_section(insight)
        out["Regions"] = regions_section(insight)
        out["Archetypes"] = archetypes_section(insight)
    out["Learn from"] = learn_from_section(result, insight)
    return out


# --- Trends ---------------------------------------------------------------------------------------------------------

def trends_section(insight: Insight) -> str:
    """The Trends section: overall shares, change by period, and shares by region and by city."""
    cities, table = insight.cities, insight.trends
    overall = table[table["scope"] == "all"]
    by_region = table[table["scope"] == "region"]
    by_city = table[table["scope"] == "city"]
    n_cities = continents(cities).value_counts()
    names = cities.set_index("city")["name"]
    regions = []
    for region, part in by_region.groupby("region", sort=False):
        regions.append({"region": region, "cities": int(n_cities.get(region, 0)), "n": int(part["n"].iloc[0]),
                        **dict(zip(part["trend"], part["share"]))})
    regions.sort(key=lambda r: (-r["cities"], r["region"]))
    city_rows = []
    for city, part in by_city.groupby("city", sort=False):
        city_rows.append({"name": names.get(city, city), "region": part["region"].iloc[0], "n": int(part["n"].iloc[0]),
                          **dict(zip(part["trend"], part["share"]))})
    city_rows.sort(key=lambda r: -r["intelligence"])
    tests = insight.period_tests
    periods = table[table["scope"] == "period"]
    return _render(
        "insight_trends.html.j2",
        definitions=tr.TREND_DEFINITIONS,
        trends=list(tr.TRENDS),
        overall={"n": int(overall["n"].iloc[0]), "rows": list(overall.itertuples())},
        periods=len(periods) > 0,
        dated=int(periods.groupby("period")["n"].first().sum()) if len(periods) else 0,
        period_sentences=[tr.period_sentence(t) for t in tests],
        period_chart=figure_html(_period_chart(periods)) if len(periods) else "",
        region_chart=figure_html(_region_trend_chart(by_region, [r["region"] for r in regions])),
        regions=regions,
        cities=city_rows,
    )


def _trend_traces(kind: str, table: pd.DataFrame, by: str, order: list[str], style) -> list[dict]:
    """One trace per trend of its share (%) over `order` (regions or periods) with its confidence interval;
    `style(trend, part)` adds the trace's own keys from its rows (`part`, indexed by `order`)."""
    traces = []
    for trend in tr.TRENDS:
        part = table[table["trend"] == trend].set_index(by).reindex(order)
        share, low, high = (part[c].to_numpy(dtype=float) for c in ("share", "ci_low", "ci_high"))
        traces.append({"error_y": {"array": 100 * (high - share), "arrayminus": 100 * (share - low),
                                   "symmetric": False, "type": "data"},
                       "name": trend, "x": order, "y": 100 * share, "type": kind, **style(trend, part)})
    return traces


def _region_trend_chart(by_region: pd.DataFrame, order: list[str]) -> dict:
    def style(trend: str, part: pd.DataFrame) -> dict:
        return {"customdata": part["n"].to_numpy(), "marker": {"color": TREND_COLOURS[trend]},
                "hovertemplate": "%{x}: %{y:.0f}% of %{customdata}<extra>" + trend + "</extra>"}

    return {"data": _trend_traces("bar", by_region, "region", order, style),
            "layout": {"barmode": "group", "height": 340, "margin": {"l": 50, "r": 20, "t": 10, "b": 60},
                       "yaxis": {"title": {"text": "% of initiatives"}}}}


def _period_chart(periods: pd.DataFrame) -> dict:
    order = [p for p in tr.period_labels() if p in set(periods["period"])]
    return {"data": _trend_traces("scatter", periods, "period", order,
                                  lambda trend, _: {"line": {"color": TREND_COLOURS[trend]}, "mode": "lines+markers"}),
            "layout": {"height": 300, "margin": {"l": 50, "r": 20, "t": 10, "b": 40},
                       "yaxis": {"title": {"text": "% of initiatives"}}}}


# --- Regions ----------------------------------------------------------------------------------------------------------

HEATMAP_FEATURES = {
    "theme:sustainability": "sustainability", "theme:data_driven": "data-driven",
    "item_type:infrastructure_service": "infrastructure", "item_type:living_lab": "living labs",
    "actor:public_led": "public-led", "actor:private_partner": "private partners", "actor:bottom_up": "bottom-up",
    "trend:inclusivity": "inclusivity", "trend:intelligence": "intelligence", "trend:integration": "integration",
    "domain:administration": "administration", "domain:transport": "transport",
    "domain:environment_energy": "environment & energy", "domain:safety_disaster": "safety",
    "domain:health_welfare": "health & welfare",
}
"""The features the region heatmap shows, with their short axis labels."""


def regions_section(insight: Insight) -> str:
    """The Regions section: the report's claims tested, each region in words, a difference map, the mix tests."""
    table, claims, mixes = insight.regions, insight.claims, insight.mixes
    claim_rows = []
    for c in claims.to_dict("records"):
        score = c["family"] == "score"
        fmt = (lambda v: f"{v:.1f}") if score else (lambda v: f"{v:.0%}")
        unit = "" if score else " pts"
        diff = (f"{c['difference']:+.1f}" if score else f"{100 * c['difference']:+.0f}{unit}")
        if not np.isnan(c["ci_low"]):
            lo, hi = (c["ci_low"], c["ci_high"]) if score else (100 * c["ci_low"], 100 * c["ci_high"])
            diff += f" [{lo:+.1f}, {hi:+.1f}]" if score else f" [{lo:+.0f}, {hi:+.0f}]"
        claim_rows.append({**c, "region_value": fmt(c["share"]), "others_value": fmt(c["others_share"]),
                           "difference": diff, "p": _p(c["p"]), "q": _p(c["q_claims"])})
    mix_rows = [{**m, "p_text": _p(m["p"]), "q_text": _p(m["q"])} for m in mixes.to_dict("records")]
    small = sorted(table.loc[table["small"], "region"].unique())
    return _render(
        "insight_regions.html.j2",
        n_permutations=reg.N_PERMUTATIONS,
        claims=claim_rows,
        statements=reg.region_statements(table, mixes),
        difference_chart=figure_html(_difference_chart(table)),
        mixes=mix_rows,
        small=small,
    )


def _difference_chart(table: pd.DataFrame) -> dict:
    part = table[(table["family"] + ":" + table["feature"]).isin(HEATMAP_FEATURES)]
    order = [r for r in dict.fromkeys(part["region"])]
    feats = [f for f in HEATMAP_FEATURES if f in set(part["family"] + ":" + part["feature"])]
    key = {(c["region"], f"{c['family']}:{c['feature']}"): c for c in part.to_dict("records")}  # one row a cell
    z = np.array([[100 * key[r, f]["difference"] for f in feats] for r in order])
    text = [[f"{key[r, f]['share']:.0%} vs {key[r, f]['others_share']:.0%}, q {_p(key[r, f]['q'])}"
             for f in feats] for r in order]
    labels = [f"{r} ({int(key[r, feats[0]]['n_cities'])})" for r in order]
    limit = float(np.nanmax(np.abs(z))) if z.size else 1.0
    return {"data": [{"colorbar": {"title": {"text": "points"}}, "colorscale": diverging_scale(),
                      "hovertemplate": "%{y} · %{x}: %{z:+.0f} points (%{text})<extra></extra>", "text": text,
                      "x": [HEATMAP_FEATURES[f] for f in feats], "y": labels, "z": z, "zmax": limit, "zmid": 0,
                      "zmin": -limit, "type": "heatmap"}],
            "layout": {"height": 120 + 34 * len(order), "margin": {"l": 170, "r": 20, "t": 10, "b": 150}}}



# --- Archetypes -------------------------------------------------------------------------------------------------------

def archetypes_section(insight: Insight) -> str:
    """The Archetypes section: how clear the grouping is, what sets each group apart, and who is in it."""
    a, cities = insight.archetypes, insight.cities
    info, region = cities.set_index("city"), continents(cities)
    groups = []
    for number, label in a.labels.items():
        members = a.assignments[a.assignments["archetype"] == number]
        groups.append({"number": number, "label": label, "cities": [
            {"name": info["name"].get(c, c), "region": region.get(c, ""), "silhouette": s}
            for c, s in zip(members["city"], members["silhouette"])]})
    return _render("insight_archetypes.html.j2", statements=arch.archetype_statements(a, cities),
                   chart=figure_html(_archetype_chart(a)), groups=groups)


def _archetype_chart(a) -> dict:
    """Each archetype's centre in SDs from the mean of every feature, its share printed."""
    z = a.centres_z
    return {"data": [{"colorbar": {"title": {"text": "SD from mean"}}, "colorscale": diverging_scale(),
                      "hovertemplate": "%{y} · %{x}: %{text} (%{z:+.2f} SD)<extra></extra>",
                      "text": [[f"{a.centres.loc[n, f]:.0%}" for f in z.columns] for n in z.index],
                      "x": [arch.FEATURE_NAMES.get(f, f) for f in z.columns],
                      "y": [f"{n}. {a.labels[n]}" for n in z.index], "z": z.to_numpy(), "zmid": 0,
                      "type": "heatmap"}],
            "layout": {"height": 140 + 40 * len(z), "margin": {"l": 260, "r": 20, "t": 10, "b": 110},
                       "yaxis": {"autorange": "reversed"}}}


# --- Learn from -------------------------------------------------------------------------------------------------------

def learn_from_section(result, insight: Insight) -> str:
    """The Learn from section: for the report's cities (the first REPORT_CITIES by rank), peers, gaps to leaders
    and initiatives to learn from; a domain a city has no score in is shown as such."""
    from .html import REPORT_CITIES

    profiles = dict(list(insight.profiles.items())[:REPORT_CITIES])
    fw = result.context.framework
    domains = fw.children[fw.root()]
    feeds = [{"name": fw.by_id[d].name, "description": prof.DOMAIN_FEEDS[d].description}
             for d in domains if d in prof.DOMAIN_FEEDS]
    has_inventory = getattr(result.inputs, "inventory", None) is not None
    books: dict[int, tuple] = {}  # the profiles' shared tables, with the cities shown of each
    for p in profiles.values():
        books.setdefault(id(p.tables), (p.tables, []))[1].append(p.city)
    domain_rows, learn_rows, peer_rows = {}, {}, {}
    for tables, cities in books.values():
        domain_rows.update(tables.records("domains", cities))
        learn_rows.update(tables.records("learn_from", cities))
        peer_rows.update(tables.records("peers", cities))
    rows = []
    for p in profiles.values():
        intervals = "p05" in p.tables.domains.columns
        doms = []
        for d in domain_rows.get(p.city, []):  # largest gap to the median first
            if pd.isna(d["score"]):
                doms.append({"domain_name": d["domain_name"], "missing": True})
                continue
            d = {**d, "rank": int(d["rank"])}
            if intervals:
                d["interval"] = (f"{d['p05']:.0f}–{d['p95']:.0f}" if not pd.isna(d.get("p05")) else "n/a")
            doms.append(d)
        learn = []
        taught = learn_rows.get(p.city, [])
        for domain in p.learn_domains:
            items = [i for i in taught if i["domain"] == domain]
            if not items:
                continue
            learn.append({"domain_name": fw.by_id[domain].name, "initiatives": [
                {**i, "url": _safe_url(i.get("source_url")), "description": _text(i.get("description"))}
                for i in items]})
        rows.append({"city": p.city, "name": p.name, "region": p.region, "rank": p.rank, "score": p.score,
                     "peers": [peer["name"] for peer in peer_rows.get(p.city, [])], "domains": doms,
                     "intervals": intervals, "learn": learn})
    return _render("insight_learn_from.html.j2", feeds=feeds, profiles=rows, cities=len(insight.profiles),
                   has_inventory=has_inventory)


def _safe_url(url) -> str | None:
    if not isinstance(url, str):
        return None
    url = url.strip()
    return url if url.startswith(("https://", "http://")) else None


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _p(value: float) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}" if value < 0.01 else f"{value:.2f}"
