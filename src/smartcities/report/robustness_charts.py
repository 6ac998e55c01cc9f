"""Charts of the robustness results: rank intervals, sensitivity bars and an audit correlation heatmap.

Each function returns a figure dict (see `report.html`); the report embeds them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .plotly_html import diverging_scale

MEDIAN, NOMINAL, MAIN, INTERACTIONS = "#2a6f97", "#c44536", "#2a6f97", "#a9d6e5"


def rank_interval_chart(uncertainty, node: str, names: dict[str, str] | None = None,
                        limit: int | None = 100) -> dict:
    """Median rank with its 5–95% interval for each city, ordered by nominal rank (best first), with the
    nominal rank marked. `limit` keeps the first cities in nominal order (None: all)."""
    ri = uncertainty.rank_intervals
    ri = ri[(ri["node"] == node)].dropna(subset=["nominal_rank"]).sort_values(["nominal_rank", "city"])
    if limit is not None:
        ri = ri.head(limit)
    labels = [(names or {}).get(c, c) for c in ri["city"]]
    runs = f" over {uncertainty.runs:,} runs" if getattr(uncertainty, "runs", 0) else ""
    median, p05, p95, nominal = (ri[c].to_numpy() for c in ("median_rank", "p05", "p95", "nominal_rank"))
    return {
        "data": [
            {"customdata": np.column_stack([p05, p95, nominal]),
             "error_y": {"array": p95 - median, "arrayminus": median - p05, "color": MEDIAN, "symmetric": False,
                         "thickness": 1.5, "type": "data", "width": 0},
             "hovertemplate": "%{x}<br>median %{y}<br>5–95%: %{customdata[0]}–%{customdata[1]}"
                              "<br>nominal %{customdata[2]}<extra></extra>",
             "marker": {"color": MEDIAN, "size": 8}, "mode": "markers", "name": "median rank (5–95% interval)",
             "x": labels, "y": median, "type": "scatter"},
            {"hoverinfo": "skip",
             "marker": {"color": NOMINAL, "line": {"width": 2}, "size": 12, "symbol": "line-ew-open"},
             "mode": "markers", "name": "nominal rank", "x": labels, "y": nominal, "type": "scatter"},
        ],
        "layout": {
            "template": "plotly_white", "xaxis": {"tickangle": -60, "type": "category"},
            "yaxis": {"title": {"text": "rank"}, "autorange": "reversed"}, "legend": {"orientation": "h", "y": 1.08},
            "margin": {"l": 50, "r": 20, "t": 70, "b": 100}, "title": {"text": f"{node}: rank uncertainty{runs}"},
            "height": 420, "width": max(600, 14 * len(ri) + 120),
        },
    }


def sensitivity_chart(uncertainty, node: str | None = None, city: str = "") -> dict:
    """First-order (main effect) and interaction shares of each factor's total-order index, with the total's
    confidence interval; for the whole ranking (city "") or one city's rank. Negative estimates show as zero."""
    s = uncertainty.sensitivity
    node = node or getattr(uncertainty, "target", None)
    if node in set(s["node"]) and node is not None:
        s = s[s["node"] == node]
    s = s[s["city"].fillna("") == city].sort_values("ST", ascending=False)
    st = s["ST"].clip(lower=0).to_numpy()
    s1 = np.minimum(s["S1"].clip(lower=0).to_numpy(), st)
    factors = s["factor"].to_numpy()
    what = "rank of " + city if city else "mean absolute rank shift"
    return {
        "data": [
            {"marker": {"color": MAIN}, "name": "first order (S1)", "x": factors, "y": s1, "type": "bar"},
            {"error_y": {"array": s["ST_conf"].to_numpy(), "color": "#555", "thickness": 1.2, "type": "data"},
             "marker": {"color": INTERACTIONS}, "name": "interactions (ST − S1)", "x": factors, "y": st - s1,
             "type": "bar"},
        ],
        "layout": {
            "template": "plotly_white", "yaxis": {"title": {"text": "share of variance"}, "rangemode": "tozero"},
            "legend": {"orientation": "h", "y": 1.1}, "margin": {"l": 50, "r": 20, "t": 80, "b": 60},
            "barmode": "stack",
            "title": {"text": f"What drives the {what} of {s['node'].iloc[0] if len(s) else node}"}, "height": 380,
        },
    }


def correlation_matrix(audit, node: str, method: str = "pearson") -> pd.DataFrame:
    """The children × children correlation matrix of one node from the audit's tidy correlations."""
    c = audit.correlations
    c = c[(c["node"] == node) & (c["relation"] == "within") & (c["method"] == method)]
    kids = list(dict.fromkeys([*c["x"], *c["y"]]))
    where = {k: i for i, k in enumerate(kids)}
    m = np.eye(len(kids))
    for x, y, r in zip(c["x"], c["y"], c["r"]):
        m[where[x], where[y]] = m[where[y], where[x]] = r
    return pd.DataFrame(m, index=kids, columns=kids)


def correlation_heatmap(audit, node: str, method: str = "pearson") -> dict:
    """Heatmap of the correlations between a node's children, values printed, on a diverging scale."""
    m = correlation_matrix(audit, node, method)
    return {
        "data": [{"colorbar": {"title": {"text": "r"}}, "colorscale": diverging_scale(),
                  "hovertemplate": "%{y} × %{x}: %{z:.2f}<extra></extra>", "text": np.round(m.to_numpy(), 2),
                  "texttemplate": "%{text}", "x": list(m.columns), "y": list(m.index), "z": m.to_numpy(),
                  "zmax": 1, "zmin": -1, "type": "heatmap"}],
        "layout": {"template": "plotly_white", "yaxis": {"autorange": "reversed"},
                   "title": {"text": f"{node}: {method.title()} correlations within the node"},
                   "height": 160 + 32 * len(m), "width": 220 + 40 * len(m)},
    }
