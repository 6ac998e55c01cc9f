"""Charts of the robustness results: rank intervals, sensitivity bars and an audit correlation heatmap.

Each function returns a plotly Figure; the report embeds them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MEDIAN, NOMINAL, MAIN, INTERACTIONS = "#2a6f97", "#c44536", "#2a6f97", "#a9d6e5"


def rank_interval_chart(uncertainty, node: str, names: dict[str, str] | None = None,
                        limit: int | None = 100) -> go.Figure:
    """Median rank with its 5–95% interval for each city, ordered by nominal rank (best first), with the
    nominal rank marked. `limit` keeps the first cities in nominal order (None: all)."""
    ri = uncertainty.rank_intervals
    ri = ri[(ri["node"] == node)].dropna(subset=["nominal_rank"]).sort_values(["nominal_rank", "city"])
    if limit is not None:
        ri = ri.head(limit)
    labels = [(names or {}).get(c, c) for c in ri["city"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=labels, y=ri["median_rank"], mode="markers", name="median rank (5–95% interval)",
        marker={"color": MEDIAN, "size": 8},
        error_y={"type": "data", "symmetric": False, "array": ri["p95"] - ri["median_rank"],
                     "arrayminus": ri["median_rank"] - ri["p05"], "color": MEDIAN, "thickness": 1.5, "width": 0},
        customdata=np.column_stack([ri["p05"], ri["p95"], ri["nominal_rank"]]),
        hovertemplate="%{x}<br>median %{y}<br>5–95%: %{customdata[0]}–%{customdata[1]}"
                      "<br>nominal %{customdata[2]}<extra></extra>",
    ))
    fig.add_trace(go.Scatter(x=labels, y=ri["nominal_rank"], mode="markers", name="nominal rank",
                             marker={"color": NOMINAL, "symbol": "line-ew-open", "size": 12, "line": {"width": 2}},
                             hoverinfo="skip"))
    runs = f" over {uncertainty.runs:,} runs" if getattr(uncertainty, "runs", 0) else ""
    fig.update_layout(
        title=f"{node}: rank uncertainty{runs}", xaxis={"title": None, "tickangle": -60, "type": "category"},
        yaxis={"title": "rank", "autorange": "reversed"}, template="plotly_white",
        legend={"orientation": "h", "y": 1.08}, margin={"l": 50, "r": 20, "t": 70, "b": 100},
        height=420, width=max(600, 14 * len(ri) + 120),
    )
    return fig


def sensitivity_chart(uncertainty, node: str | None = None, city: str = "") -> go.Figure:
    """First-order (main effect) and interaction shares of each factor's total-order index, with the total's
    confidence interval; for the whole ranking (city "") or one city's rank. Negative estimates show as zero."""
    s = uncertainty.sensitivity
    node = node or getattr(uncertainty, "target", None)
    if node in set(s["node"]) and node is not None:
        s = s[s["node"] == node]
    s = s[s["city"].fillna("") == city].sort_values("ST", ascending=False)
    st = s["ST"].clip(lower=0)
    s1 = np.minimum(s["S1"].clip(lower=0), st)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=s["factor"], y=s1, name="first order (S1)", marker_color=MAIN))
    fig.add_trace(go.Bar(x=s["factor"], y=st - s1, name="interactions (ST − S1)", marker_color=INTERACTIONS,
                         error_y={"type": "data", "array": s["ST_conf"], "color": "#555", "thickness": 1.2}))
    what = "rank of " + city if city else "mean absolute rank shift"
    fig.update_layout(barmode="stack", title=f"What drives the {what} of {s['node'].iloc[0] if len(s) else node}",
                      yaxis={"title": "share of variance", "rangemode": "tozero"}, template="plotly_white",
                      legend={"orientation": "h", "y": 1.1}, height=380, margin={"l": 50, "r": 20, "t": 80, "b": 60})
    return fig


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


def correlation_heatmap(audit, node: str, method: str = "pearson") -> go.Figure:
    """Heatmap of the correlations between a node's children, values printed, on a diverging scale."""
    m = correlation_matrix(audit, node, method)
    fig = go.Figure(go.Heatmap(
        z=m.to_numpy(), x=list(m.columns), y=list(m.index), zmin=-1, zmax=1, colorscale="RdBu",
        text=np.round(m.to_numpy(), 2), texttemplate="%{text}", hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>",
        colorbar={"title": "r"},
    ))
    fig.update_layout(title=f"{node}: {method.title()} correlations within the node", template="plotly_white",
                      yaxis={"autorange": "reversed"}, height=160 + 32 * len(m), width=220 + 40 * len(m))
    return fig
