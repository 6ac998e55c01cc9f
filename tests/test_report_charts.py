"""The report's charts are figure dicts written out in full: plotly's own Figure validates them to the same figure."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from smartcities.analysis import results as readings
from smartcities.build import build
from smartcities.cli.build import DEMO_SPEC
from smartcities.report.html import group_chart, ranking_chart
from smartcities.report.plotly_html import figure_html, plotly_figure
from smartcities.report.robustness_charts import correlation_heatmap, rank_interval_chart, sensitivity_chart
from smartcities.robustness.audit import audit

go = pytest.importorskip("plotly.graph_objects")
pio = pytest.importorskip("plotly.io")


@pytest.fixture(scope="module")
def demo_result():
    return build(DEMO_SPEC)


def charts(result) -> dict[str, dict]:
    root = result.context.framework.root()
    group = readings.summary_group(result)
    return {
        "ranking": ranking_chart(readings.ranking(result)),
        "groups": group_chart(readings.group_summary(result, group)),
        "rank intervals": rank_interval_chart(result.uncertainty, root),
        "sensitivity": sensitivity_chart(result.uncertainty, root),
        "correlations": correlation_heatmap(audit(result.stages, result.context, with_p_values=False), root),
    }


def test_plotly_validates_each_chart_to_itself(demo_result):
    for name, chart in charts(demo_result).items():
        sent = plotly_figure(chart)
        ours = json.loads(pio.to_json(sent, validate=False))
        validated = json.loads(pio.to_json(go.Figure(sent)))
        assert ours == validated, name
        assert ours["data"] and ours["layout"]["template"]["layout"], name


def test_plotly_validates_each_insight_chart_to_itself(demo_result):
    from smartcities.analysis.insight import insight_of
    from smartcities.report import insight_sections as sections

    insight = insight_of(demo_result)
    trends = insight.trends
    by_region = trends[trends["scope"] == "region"]
    made = {"region trends": sections._region_trend_chart(by_region, list(dict.fromkeys(by_region["region"]))),
            "period trends": sections._period_chart(trends[trends["scope"] == "period"]),
            "region differences": sections._difference_chart(insight.regions),
            "archetypes": sections._archetype_chart(insight.archetypes)}
    for name, chart in made.items():
        sent = plotly_figure(chart)
        assert json.loads(pio.to_json(sent, validate=False)) == json.loads(pio.to_json(go.Figure(sent))), name
    bars = made["region trends"]["data"]
    assert [t["name"] for t in bars] == ["inclusivity", "intelligence", "integration"]
    assert all(np.nanmax(t["y"]) <= 100 and np.nanmin(t["error_y"]["arrayminus"]) > -1e-9 for t in bars)
    assert made["region differences"]["data"][0]["colorscale"][0] == [0.0, "rgb(103,0,31)"]  # RdBu's first stop


def test_chart_arrays_go_as_typed_arrays_and_the_template_by_name(demo_result):
    chart = charts(demo_result)["rank intervals"]
    sent = plotly_figure(chart)
    assert sent["data"][0]["y"]["dtype"] == "f8" and "bdata" in sent["data"][0]["y"]
    assert sent["layout"]["template"] == pio.templates["plotly_white"].to_plotly_json()
    assert isinstance(chart["data"][0]["error_y"]["array"], type(chart["data"][0]["y"]))  # the chart is left as it was
    default = plotly_figure(charts(demo_result)["ranking"])["layout"]["template"]
    assert default == pio.templates["plotly"].to_plotly_json()


def test_figure_html_of_a_dict_equals_that_of_the_figure(demo_result):
    chart = charts(demo_result)["sensitivity"]
    html = figure_html(chart)
    assert html.startswith("<div") and "Plotly.newPlot(" in html and "plotly.min.js" not in html
    assert newplot_arguments(html) == newplot_arguments(figure_html(go.Figure(plotly_figure(chart))))


def newplot_arguments(html: str) -> list:
    """The data, layout and config a chart's script hands plotly.js."""
    decoder, rest = json.JSONDecoder(), html.split("Plotly.newPlot(", 1)[1]
    _, at = decoder.raw_decode(rest.lstrip())
    rest = rest.lstrip()[at:]
    out = []
    for _ in range(3):
        rest = rest.lstrip().removeprefix(",").lstrip()
        value, at = decoder.raw_decode(rest)
        out.append(value)
        rest = rest[at:]
    return out


def plotly_html(fig, div_id: str) -> str:
    """What plotly itself writes for a chart: its own typed arrays and its own to_html."""
    from _plotly_utils.utils import convert_to_base64

    from smartcities.report.plotly_html import CHART_CONFIG

    if isinstance(fig, dict):
        fig = {"data": copy.deepcopy(fig["data"]), "layout": plotly_figure(fig)["layout"]}
        convert_to_base64(fig["data"])
    return pio.to_html(fig, validate=False, full_html=False, include_plotlyjs=False, config=dict(CHART_CONFIG),
                       div_id=div_id)


def test_each_chart_is_written_as_plotly_writes_it(demo_result):
    from smartcities.report.plotly_html import CHART_CONFIG, figure_div

    for name, chart in charts(demo_result).items():
        assert figure_div(plotly_figure(chart), CHART_CONFIG, "chart") == plotly_html(chart, "chart"), name
    figure = go.Figure(go.Heatmap(z=np.array([[1.0, np.nan], [3.0, 4.0]]), x=["a", "b"], y=["c", "d"]))
    assert figure_div(figure.to_dict(), CHART_CONFIG, "fig") == plotly_html(figure, "fig")
    html = figure_html(charts(demo_result)["ranking"])
    assert html.split('id="', 1)[1][:36] != figure_html(charts(demo_result)["ranking"]).split('id="', 1)[1][:36]


def test_arrays_of_every_kind_and_awkward_values_are_written_as_plotly_writes_them():
    from smartcities.report.plotly_html import CHART_CONFIG, figure_div

    chart = {"data": [{"type": "scatter", "x": np.arange(5), "y": np.array([1.5, np.nan, np.inf, -2.0, 0.0]),
                       "text": np.array(["a</script>", "b", "c", "d", "é"], dtype=object),
                       "customdata": np.arange(6, dtype=np.uint64).reshape(2, 3) * 2**20,
                       "ids": np.array([2**40, 1]), "selectedpoints": np.array([], dtype=float),
                       "marker": {"color": np.array([True, False, True, True, False]),
                                  "size": np.array([3, 4, 5, 6, 7], dtype=np.int16)},
                       "line": {"width": np.float32(0.5)}, "name": "NaN & Infinity", "meta": [np.int64(3)]}],
             "layout": {"template": "plotly_white", "width": 500, "xaxis": {"range": [0.0, 4.0]},
                        "title": {"text": "a/b <c>"}}}
    assert figure_div(plotly_figure(chart), CHART_CONFIG, "x") == plotly_html(chart, "x")


def test_the_diverging_scale_is_what_plotly_makes_of_rdbu():
    from smartcities.report.plotly_html import diverging_scale

    named = go.Heatmap(colorscale="RdBu").colorscale
    assert [list(stop) for stop in named] == diverging_scale()
