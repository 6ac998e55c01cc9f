"""Readings of a built index that every face shows: the ranking, domain leaders, strengths and weaknesses,
and a summary per region."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.treat import treatment_details


def domains(result) -> list[str]:
    """The children of the top node: the domains (pillars) a reader compares cities on."""
    fw = result.context.framework
    return fw.children[fw.root()]


def ranking(result, node: str | None = None) -> pd.DataFrame:
    """city, name, score, rank, grade (and letter, interval where known) of one node, best first."""
    ctx = result.context
    node = node or ctx.framework.root()
    j = ctx.compiled.nodes.index(node)
    frame = pd.DataFrame({
        "city": ctx.units,
        "name": ctx.unit_names,
        "score": result.stages.scores[0, :, j],
        "rank": result.stages.ranks[0, :, j],
        "grade": result.grades[:, j],
    })
    if result.letters is not None and node == ctx.framework.root():
        frame["letter"] = result.letters
    if result.uncertainty is not None:
        ri = result.uncertainty.intervals_by_node.get(node)
        if ri is not None and len(ri):
            frame["median_rank"] = frame["city"].map(ri["median_rank"])
            frame["p05"] = frame["city"].map(ri["p05"])
            frame["p95"] = frame["city"].map(ri["p95"])
    frame = frame[~np.isnan(frame["score"])].astype({"rank": int, "grade": int})
    return frame.sort_values(["rank", "city"], ignore_index=True)


def leaders(result) -> pd.DataFrame:
    """The best city of each domain: domain, name, city, score (ties: every city sharing rank 1, by city id),
    read off the ranks without ranking every city of every domain."""
    ctx, fw = result.context, result.context.framework
    rows = []
    for d in domains(result):
        j = ctx.compiled.nodes.index(d)
        score, rank = result.stages.scores[0, :, j], result.stages.ranks[0, :, j]
        for i in sorted(np.flatnonzero((rank == 1) & ~np.isnan(score)), key=lambda i: ctx.units[i]):
            rows.append({"domain": d, "domain_name": fw.by_id[d].name, "city": ctx.units[i],
                         "name": ctx.unit_names[i], "score": score[i]})
    return pd.DataFrame(rows)


def domain_scores(result) -> pd.DataFrame:
    """Cities × domains score table (kept cities only)."""
    ctx = result.context
    cols = [ctx.compiled.nodes.index(d) for d in domains(result)]
    frame = pd.DataFrame(result.stages.scores[0][:, cols], index=list(ctx.units), columns=domains(result))
    return frame[result.kept]


def strengths_weaknesses(result, city: str) -> pd.DataFrame:
    """Each domain of one city against the median city: domain, score, median, rank, gap, verdict."""
    return pd.DataFrame(_against_median(domain_scores(result), [city])[city], columns=AGAINST_MEDIAN)


def all_strengths_weaknesses(result, cities: list[str] | None = None) -> dict[str, list[dict]]:
    """`strengths_weaknesses` of every kept city (or of `cities`, kept ones) as plain rows, with the ranks and
    medians computed once over every kept city."""
    table = domain_scores(result)
    return _against_median(table, list(table.index) if cities is None else cities)


AGAINST_MEDIAN = ["domain", "score", "median", "rank", "gap", "verdict"]
NO_SCORE = "no-score"
"""The verdict of a domain a city has no score in: neither above the median nor on par with it."""


def verdicts(score: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """strength / weakness / par by the gap to the median, `NO_SCORE` where the city has no score."""
    return np.select([np.isnan(score), gap > 0, gap < 0], [NO_SCORE, "strength", "weakness"], "par").astype(object)


def _against_median(table: pd.DataFrame, cities: list[str]) -> dict[str, list[dict]]:
    """Rows of each city's domains, largest gap above the median first, missing last. Why arrays: one small table
    per city costs a millisecond, a minute for ten thousand cities."""
    ranks = table.rank(ascending=False, method="min").loc[cities].to_numpy(dtype=float)
    scores = table.loc[cities].to_numpy(dtype=float)
    median = np.broadcast_to(table.median().to_numpy(dtype=float), scores.shape)
    gap = scores - median
    order = np.array([_descending(row) for row in gap], dtype=np.intp).reshape(gap.shape)
    verdict = verdicts(scores, gap)
    columns = [np.broadcast_to(np.asarray(table.columns, dtype=object), scores.shape), scores, median, ranks, gap,
               verdict]
    sorted_columns = [np.take_along_axis(c, order, axis=1).tolist() for c in columns]
    return {city: [dict(zip(AGAINST_MEDIAN, row)) for row in zip(*(c[i] for c in sorted_columns))]
            for i, city in enumerate(cities)}


def _descending(values: np.ndarray) -> np.ndarray:
    """The order pandas' `sort_values(ascending=False)` gives `values` (ties included), missing last in place."""
    missing = np.isnan(values)
    present = np.flatnonzero(~missing)[::-1]
    return np.concatenate([present[values[present].argsort()][::-1], np.flatnonzero(missing)])


def group_summary(result, group: str) -> pd.DataFrame:
    """Mean score of the index and of each domain per group (e.g. region), with the number of cities."""
    ctx = result.context
    labels = pd.Series(ctx.groups[group], index=list(ctx.units))
    table = domain_scores(result)
    table.insert(0, ctx.framework.root(), result.node_scores(ctx.framework.root())[table.index])
    summary = table.groupby(labels[table.index]).mean()
    summary.insert(0, "cities", labels[table.index].value_counts())
    return summary.sort_values(ctx.framework.root(), ascending=False)


def summary_group(result) -> str | None:
    """The grouping a regional summary uses: `region` when present, else the first group column."""
    groups = result.context.groups
    if "region" in groups:
        return "region"
    return next(iter(groups), None)


def treatment_log(result) -> pd.DataFrame:
    """What outlier treatment did to each indicator it touched: points winsorised at each end, or a transform.
    Empty when the pipeline has no treat step. Why: a reader must see which values the index did not use as given."""
    names = list(result.stages.data)
    if "treat" not in names:
        return pd.DataFrame(columns=["indicator", "winsorised_high", "winsorised_low", "transformed"])
    before = result.stages.data[names[names.index("treat") - 1]][0]
    rows = treatment_details(before, result.stages.data["treat"][0])
    frame = pd.DataFrame({
        "indicator": list(result.context.indicators),
        "winsorised_high": [r["high"] for r in rows],
        "winsorised_low": [r["low"] for r in rows],
        "transformed": [r["transformed"] for r in rows],
    })
    touched = (frame.winsorised_high > 0) | (frame.winsorised_low > 0) | frame.transformed
    return frame[touched].reset_index(drop=True)
