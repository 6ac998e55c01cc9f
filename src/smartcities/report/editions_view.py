"""What the faces show of an editions build, read from `Result.editions` (`editions.Editions`): nothing here is
computed beyond picking rows out of its tables (editions.csv, edition_trends.csv) and laying them side by side.

`edition_view(result)` is None for a build without editions, so every face stays as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..analysis.editions import edition_label


@dataclass(frozen=True)
class Movement:
    """Cities entering and leaving between two consecutive editions (in one and not the other)."""

    edition: str
    previous: str
    entering: tuple[str, ...]
    leaving: tuple[str, ...]


@dataclass(frozen=True)
class EditionView:
    labels: tuple[str, ...]  # every edition, in time order
    node: str  # the top node, whose ranks the views show
    target: str | None  # the node whose rank changes have intervals (the uncertainty analysis's), or None
    names: dict[str, str]  # every city of any edition -> its name
    changes: pd.DataFrame  # editions.csv
    trends: pd.DataFrame  # edition_trends.csv
    breaks: tuple[dict, ...]  # {indicator, edition, reason, crossing}: the breaks and the trends that cross them
    normalise: str
    own_method: tuple[str, ...] = ()  # editions whose scores come from their own pipeline (`backcast: false`)
    smooth_weights: tuple[float, ...] = ()  # `editions: smooth`'s weights: editions.csv has smoothed ranks

    @property
    def latest(self) -> str:
        return self.labels[-1]

    @property
    def smoothed(self) -> bool:
        return bool(self.smooth_weights)

    def ranks(self, node: str | None = None) -> pd.DataFrame:
        """Rank of every city (rows, best latest rank first, then best earlier rank) in every edition (columns);
        missing where the city is not in that edition."""
        node = node or self.node
        rows = self.changes[self.changes["node"] == node]
        wide = rows.pivot(index="city", columns="edition", values="rank").reindex(columns=list(self.labels))
        order = sorted(wide.index, key=lambda c: tuple(_last_ranks(wide.loc[c])))
        return wide.loc[order]

    def latest_changes(self, node: str | None = None) -> pd.DataFrame:
        """The latest edition's rows of editions.csv for `node` (default: the top node), best first, with the
        city's name, its rank in the previous edition and its trend (edition_trends.csv's prc_change, cagr,
        editions_used, across_break)."""
        node = node or self.node
        rows = self.changes[(self.changes["node"] == node)]
        latest = rows[rows["edition"] == self.latest].copy()
        previous = rows[rows["edition"] == self.labels[-2]].set_index("city")["rank"] if len(self.labels) > 1 else {}
        latest["name"] = latest["city"].map(self.names)
        latest["previous_rank"] = latest["city"].map(previous).astype("Int64")
        trend = self.trends[self.trends["node"] == node].set_index("city")
        for col in ("prc_change", "cagr", "editions_used", "across_break"):
            latest[col] = latest["city"].map(trend[col])
        latest["arrow"] = [trend_arrow(v) for v in latest["prc_change"]]
        return latest.sort_values(["rank", "city"], kind="stable").reset_index(drop=True)

    def movements(self, node: str | None = None) -> list[Movement]:
        """For every edition after the first, the cities that entered (scored in it, not in the previous one) and
        those that left."""
        node = node or self.node
        rows = self.changes[self.changes["node"] == node]
        present = {label: set(rows.loc[rows["edition"] == label, "city"]) for label in self.labels}
        out = []
        for before, after in zip(self.labels, self.labels[1:]):
            out.append(Movement(after, before, tuple(sorted(present[after] - present[before], key=self._name)),
                                tuple(sorted(present[before] - present[after], key=self._name))))
        return out

    def _name(self, city: str) -> str:
        return self.names.get(city, city)


def _last_ranks(ranks: pd.Series) -> list[float]:
    """Sort key: the latest rank first, then the earlier ones, from the latest back (missing last)."""
    return [float(v) if not pd.isna(v) else math.inf for v in reversed(ranks.tolist())]


def signed(value) -> str:
    """A whole change with its sign: +2, −1, 0."""
    v = int(round(float(value)))
    return f"+{v}" if v > 0 else f"−{-v}" if v < 0 else "0"


def trend_arrow(prc_change) -> str:
    """▲ for a rising score (prc_change > 0), ▼ for a falling one, = for none, blank without a trend."""
    if prc_change is None or pd.isna(prc_change):
        return ""
    return "▲" if prc_change > 0 else "▼" if prc_change < 0 else "="


def edition_view(result) -> EditionView | None:
    """The editions of a build as the faces show them; None without editions."""
    e = getattr(result, "editions", None)
    if e is None:
        return None
    names: dict[str, str] = {}
    for r in e.results:  # the latest edition's name of a city wins
        names.update(zip(r.context.units, r.context.unit_names))
    root = result.context.framework.root()
    target = result.uncertainty.target if result.uncertainty is not None else None
    spec_e = result.spec.model.editions
    breaks = []
    for b in spec_e.breaks:
        label = f"{b.indicator}@{edition_label(b.edition)}"
        crossing = e.trends[e.trends["across_break"].str.split(";").apply(lambda xs, x=label: x in xs)]
        breaks.append({"indicator": b.indicator, "edition": edition_label(b.edition), "reason": b.reason,
                       "nodes": int(crossing["node"].nunique()), "trends": len(crossing)})
    own = () if spec_e.backcast else tuple(edition_label(x) for x in e.editions if x in spec_e.methods)
    weights = tuple(spec_e.smooth.weights) if spec_e.smooth is not None else ()
    return EditionView(tuple(e.labels()), root, target, names, e.changes, e.trends, tuple(breaks), e.normalise, own,
                       weights)


SLOPE_GREY, SLOPE_UP, SLOPE_DOWN = "#b8c2cc", "#1b7837", "#b2182b"
SLOPE_MAX_HEIGHT = 760  # px: the chart fits a printed page below the chapter's opening paragraph


def editions_section(view: EditionView) -> str:
    """The report's editions chapter: the slope chart, the table of the latest rank changes with their 90%
    interval, significance and trend, the cities entering and leaving, and the breaks."""
    from .plotly_html import figure_html
    from .templating import environment

    rows = view.latest_changes()
    known = rows["significant"].dropna()
    movements = [{"edition": m.edition, "previous": m.previous, "entering": [view.names.get(c, c) for c in m.entering],
                  "leaving": [view.names.get(c, c) for c in m.leaving]} for m in view.movements()]
    return environment().get_template("editions.html.j2").render(
        view=view, rows=rows, ranks=view.ranks(), movements=movements, chart=figure_html(slope_chart(view)),
        missing=pd.isna, signed=signed, flagged=int(known.sum()), changed=int(rows["rank_change"].notna().sum()))


def slope_chart(view: EditionView, limit: int | None = 60) -> dict:
    """Ranks across editions, a line per city (the first `limit` by latest rank; None: all), rank 1 on top; a
    city whose latest rank change is significant drawn in colour (green up, red down), the others grey, named at
    the right."""
    ranks = view.ranks()
    latest = view.latest_changes().set_index("city")
    if limit is not None:
        ranks = ranks.head(limit)
    x = list(view.labels)
    data = []
    for city, row in ranks.iterrows():
        y = np.array([np.nan if pd.isna(v) else float(v) for v in row.tolist()])
        significant = latest.loc[city, "significant"] if city in latest.index else pd.NA
        flagged = not pd.isna(significant) and bool(significant)
        change = latest.loc[city, "rank_change"] if city in latest.index else pd.NA
        colour = (SLOPE_UP if change > 0 else SLOPE_DOWN) if flagged else SLOPE_GREY
        name = view.names.get(city, city)
        text = [""] * len(x)
        known = np.flatnonzero(~np.isnan(y))
        if len(known):
            text[known[-1]] = name
        data.append({"hovertemplate": "%{fullData.name} · %{x}: rank %{y}<extra></extra>",
                     "line": {"color": colour, "width": 2.5 if flagged else 1.2}, "marker": {"size": 5},
                     "mode": "lines+markers+text", "name": name, "showlegend": False, "text": text,
                     "textfont": {"size": 9, "color": "#3d4a55"}, "textposition": "middle right", "x": x, "y": y,
                     "connectgaps": False, "cliponaxis": False, "type": "scatter"})
    shown = len(ranks)
    worst = float(np.nanmax(ranks.to_numpy(dtype=float))) if shown else 1.0
    return {
        "data": data,
        "layout": {"template": "plotly_white", "height": min(SLOPE_MAX_HEIGHT, max(360, 14 * shown + 110)),
                   "margin": {"l": 50, "r": 150, "t": 50, "b": 40},
                   "title": {"text": f"{view.node}: rank in each edition"
                             + (f" (the first {shown} by latest rank)" if limit is not None and shown == limit
                                else "")},
                   "xaxis": {"type": "category", "title": {"text": "edition"}},
                   "yaxis": {"range": [worst + 0.7, 0.3], "title": {"text": "rank"}}},
    }

