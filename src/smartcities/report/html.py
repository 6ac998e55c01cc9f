"""The self-contained HTML report: one file, charts and their script inline, nothing fetched when opened.

Charts are figure dicts, the JSON plotly.js draws, written out in full as plotly's own Figure would give them
(named colour scales expanded, titles as {"text": …}); the template is named in `layout.template`.
Validating them through plotly's Figure would cost more than the rest of the report.
"""

from __future__ import annotations

import html
from functools import cache

import jinja2
import markupsafe
import pandas as pd

from ..analysis import results as readings
from ..model.processing import describe
from .plotly_html import colorscale, figure_html, plotly_js

REPORT_CITIES = 500
"""At most this many cities in report.html's ranking table, ranking chart and city pages (the first by rank): a
page of 10,000 cities' profiles weighs 50 MB and takes seconds to write and to open; scores.csv ranks every city
and the published site keeps a page per city. The report says what it leaves out."""
PRINT_CHART_WIDTH, PRINT_CHART_MAX_HEIGHT = 640, 860
"""Every chart's size in print (CSS px): the A4 text width, and at most most of a page's height, so a chart is
never cut by a page break."""


@cache
def _report_template() -> jinja2.Template:
    """The page template, compiled once (see `templating`)."""
    from .templating import environment

    return environment().get_template("report.html.j2")


def ranking_chart(table) -> dict:
    """Bars of the scores in a ranking table (`analysis.results.ranking`), best on top."""
    return {
        "data": [{"hovertemplate": "%{y}: %{x:.1f}<extra></extra>", "marker": {"color": "#2a6f97"},
                  "orientation": "h", "x": table["score"].to_numpy(), "y": table["name"].to_numpy(),
                  "type": "bar"}],
        "layout": {"margin": {"l": 140, "r": 20, "t": 10, "b": 30}, "yaxis": {"autorange": "reversed"},
                   "height": max(300, 18 * len(table)), "xaxis": {"title": {"text": "score"}}},
    }


def group_chart(summary) -> dict:
    from plotly.colors import sequential

    values = summary.drop(columns="cities")
    return {
        "data": [{"colorscale": colorscale(sequential.Blues),
                  "hovertemplate": "%{y} · %{x}: %{z:.1f}<extra></extra>", "x": list(values.columns),
                  "y": list(values.index), "z": values.to_numpy(), "type": "heatmap"}],
        "layout": {"margin": {"l": 160, "r": 20, "t": 10, "b": 120}, "height": 120 + 40 * len(values)},
    }


def css_string(text: str) -> str:
    """`text` as a quoted CSS string (for the printed page's running head): anything but letters, digits and
    plain punctuation written as a CSS escape, so no text can end the string or the style element."""
    return '"' + "".join(c if c.isalnum() or c in " -.,:;()" else f"\\{ord(c):x} " for c in str(text)) + '"'


def breakable(name: str) -> markupsafe.Markup:
    """An id (escaped) that may break after each underscore, so a narrow column wraps it there."""
    return markupsafe.Markup("_<wbr>").join(str(name).split("_"))


def _initiatives(result) -> dict[str, list[dict]]:
    """Each city's own initiatives (name, start year, domain, a link when it is a web address), in file order."""
    inventory = result.inputs.inventory
    if inventory is None:
        return {}
    rows = inventory[["city_id", "name", "start_year", "service_domain", "source_url"]]
    out: dict[str, list[dict]] = {}
    for city, name, year, domain, url in rows.itertuples(index=False):
        link = url.strip() if isinstance(url, str) and url.strip().startswith(("https://", "http://")) else None
        out.setdefault(city, []).append({"name": name, "year": None if pd.isna(year) else int(year),
                                         "domain": str(domain).replace("_", " "), "url": link})
    return out


def _places(cities: pd.DataFrame | None) -> dict[str, str]:
    """Each city's "country · region" line, for all cities at once (a row lookup per city costs 0.1 s in pandas)."""
    if cities is None:
        return {}
    parts = cities.reindex(columns=["country", "region"])
    return {city: " · ".join(str(v) for v in values if isinstance(v, str) and v)
            for city, values in zip(cities["city"], zip(parts["country"], parts["region"]))}


def render_report(result, sections: dict[str, str] | None = None, city_pages: int | None = None) -> str:
    """The report of a build. `sections` adds named HTML fragments (e.g. trends, robustness) from other layers.
    The ranking and the city pages keep the first REPORT_CITIES cities by rank, and say so when there are more.
    `city_pages` makes the page to print of a large index: the profiles of the first cities by rank only, and
    not the ranking's bar chart, which shows on screen only."""
    ctx = result.context
    fw = ctx.framework
    root = fw.root()
    on_screen = city_pages is None
    full_ranking = readings.ranking(result)
    shown = min(REPORT_CITIES, city_pages or REPORT_CITIES)
    ranking = full_ranking.head(REPORT_CITIES)
    doms = readings.domains(result)
    scores = readings.domain_scores(result)
    profiles = []
    against_median = readings.all_strengths_weaknesses(result, list(ranking["city"].head(shown))) if doms else {}
    names = {d: fw.by_id[d].name for d in doms}
    places = _places(result.inputs.cities)
    initiatives = _initiatives(result)
    for row in ranking.head(shown).itertuples():
        rows = against_median.get(row.city)
        profiles.append({
            "city": row.city, "name": row.name, "rank": int(row.rank), "score": row.score, "grade": int(row.grade),
            "table": rows,
            "strengths": [names[d["domain"]] for d in rows or () if d["verdict"] == "strength"],
            "weaknesses": [names[d["domain"]] for d in rows or () if d["verdict"] == "weakness"],
            "letter": getattr(row, "letter", None),
            "interval": (row.p05, row.p95) if "p05" in ranking.columns and row.p05 == row.p05 else None,
            "place": places.get(row.city, ""),
            "initiatives": initiatives.get(row.city, []),
        })
    group = readings.summary_group(result)
    group_summary = readings.group_summary(result, group) if group else None
    extra = dict(sections or {})
    from .editions_view import edition_view, editions_section

    editions = edition_view(result)
    if editions is not None:  # a build without editions has no such chapter
        extra["Editions"] = editions_section(editions)
    from .robustness_charts import correlation_heatmap

    checked = result.audit  # the report shows no p-values
    extra["Audit"] = (f"<pre>{html.escape(checked.summary())}</pre>"
                      + figure_html(correlation_heatmap(checked, root)))
    if result.uncertainty is not None:
        from .robustness_charts import rank_interval_chart, sensitivity_chart

        names = dict(zip(ctx.units, ctx.unit_names))
        extra.setdefault("Robustness", figure_html(rank_interval_chart(result.uncertainty, root, names))
                         + figure_html(sensitivity_chart(result.uncertainty, root)))
    return _report_template().render(
        title=result.spec.model.name,
        title_css=css_string(result.spec.model.name),
        city_pages=shown,
        cities=len(full_ranking),
        breakable=breakable,
        print_chart_width=PRINT_CHART_WIDTH,
        print_chart_max_height=PRINT_CHART_MAX_HEIGHT,
        description=result.spec.model.description,
        plotly_js=plotly_js(cartesian=True),
        root=root,
        root_name=fw.by_id[root].name,
        ranking=ranking,
        ranking_chart=figure_html(ranking_chart(ranking)) if on_screen else "",
        leaders=readings.leaders(result) if doms else None,
        domain_names={d: fw.by_id[d].name for d in doms},
        top_score=scores.max().max(),
        profiles=profiles,
        group=group,
        group_summary=group_summary,
        group_chart=figure_html(group_chart(group_summary)) if group_summary is not None else None,
        sections=extra,
        run=result.run_record(),
        describe=describe,
        treatment=readings.treatment_log(result),
        nodes=[fw.by_id[n] for n in ctx.compiled.nodes],
        levels=dict(zip(ctx.compiled.nodes, ctx.compiled.levels.tolist())),
    )
