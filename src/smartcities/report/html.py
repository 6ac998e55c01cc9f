"""The self-contained HTML report: one file, charts and their script inline, nothing fetched when opened."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

import jinja2
import plotly
import plotly.graph_objects as go

from ..analysis import results as readings
from ..model.processing import describe

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _plotly_js() -> str:
    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def figure_html(fig: go.Figure) -> str:
    """A chart as an HTML fragment; the plotly script itself is inlined once in the page head."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def ranking_chart(result) -> go.Figure:
    table = readings.ranking(result)
    fig = go.Figure(go.Bar(x=table["score"], y=table["name"], orientation="h", marker_color="#2a6f97",
                           hovertemplate="%{y}: %{x:.1f}<extra></extra>"))
    fig.update_layout(height=max(300, 18 * len(table)), margin=dict(l=140, r=20, t=10, b=30),
                      yaxis=dict(autorange="reversed"), xaxis_title="score")
    return fig


def group_chart(summary) -> go.Figure:
    values = summary.drop(columns="cities")
    fig = go.Figure(go.Heatmap(z=values.to_numpy(), x=list(values.columns), y=list(values.index),
                               colorscale="Blues", hovertemplate="%{y} · %{x}: %{z:.1f}<extra></extra>"))
    fig.update_layout(height=120 + 40 * len(values), margin=dict(l=160, r=20, t=10, b=120))
    return fig


def render_report(result, sections: dict[str, str] | None = None) -> str:
    """The report of a build. `sections` adds named HTML fragments (e.g. trends, robustness) from other layers."""
    ctx = result.context
    fw = ctx.framework
    root = fw.root()
    ranking = readings.ranking(result)
    doms = readings.domains(result)
    scores = readings.domain_scores(result)
    profiles = []
    against_median = readings.all_strengths_weaknesses(result) if doms else {}
    for row in ranking.itertuples():
        sw = against_median.get(row.city)
        names = {d: fw.by_id[d].name for d in doms}
        profiles.append({
            "city": row.city, "name": row.name, "rank": int(row.rank), "score": row.score, "grade": int(row.grade),
            "table": sw,
            "strengths": [names[d] for d in sw.domain[sw.verdict == "strength"]] if sw is not None else [],
            "weaknesses": [names[d] for d in sw.domain[sw.verdict == "weakness"]] if sw is not None else [],
        })
    group = readings.summary_group(result)
    group_summary = readings.group_summary(result, group) if group else None
    extra = dict(sections or {})
    from ..robustness.audit import audit
    from .robustness_charts import correlation_heatmap

    checked = audit(result.stages, ctx)
    extra["Audit"] = (f"<pre>{html.escape(checked.summary())}</pre>"
                      + figure_html(correlation_heatmap(checked, root)))
    if result.uncertainty is not None:
        from .robustness_charts import rank_interval_chart, sensitivity_chart

        extra.setdefault("Robustness", figure_html(rank_interval_chart(result.uncertainty, root))
                         + figure_html(sensitivity_chart(result.uncertainty, root)))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        title=result.spec.model.name,
        description=result.spec.model.description,
        plotly_js=_plotly_js(),
        root=root,
        root_name=fw.by_id[root].name,
        ranking=ranking,
        ranking_chart=figure_html(ranking_chart(result)),
        leaders=readings.leaders(result) if doms else None,
        domain_names={d: fw.by_id[d].name for d in doms},
        scores=scores,
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
