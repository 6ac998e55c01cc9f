"""Build an index over editions: one build per value of a time column, comparable, with rank changes and trends.

Each edition is built by `build.build_inputs`, the very function of a single build, on the edition's own inputs
(after panel imputation, when the spec asks for it) with the spec's steps. With `normalise: pooled` (or
`reference`) the normalise step's parameters are computed once, from every edition's (or the reference
edition's) data as it reaches that step, and written into the step itself (`pooled: {indicator: [a, b]}`): each
edition's `steps` are then all it takes to rebuild that edition alone and equal. With an `uncertainty:` block
every edition runs the same design (same seed, same factors: the same draws), so rank changes get intervals.

The Result of an editions build is the latest edition's, carrying every edition in `Result.editions`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .analysis.editions import Panel, decomposition, edition_label, edition_labels, rank_changes, smooth, trends
from .build import Result, build_inputs, check, inputs_log, refuse_warnings
from .engine.normalise import oriented, pooled_stats
from .engine.panel import impute_panel
from .engine.pipeline import Kept, Step, apply_step, check_pipeline
from .errors import InputError, Problem, did_you_mean
from .inputs import Inputs, load_edition_inputs
from .io.tables import Field, Schema, read_table
from .model.columns import labels
from .model.processing import ProcessingLog, entry
from .model.spec import Spec

POOLABLE = ("minmax", "zscore")


@dataclass(frozen=True)
class Editions:
    """Every edition of an editions build, in time order, and what they say together."""

    editions: tuple[float, ...]
    results: tuple[Result, ...]  # each edition's build: a single build of its inputs with its steps
    normalise: str  # per-edition | pooled | reference
    changes: pd.DataFrame  # editions.csv
    trends: pd.DataFrame  # edition_trends.csv
    panel_log: ProcessingLog  # panel imputation and trends across breaks
    decomposition: pd.DataFrame  # rank_decomposition.csv: the top node's rank changes split

    def labels(self) -> list[str]:
        return edition_labels(self.editions)

    def result(self, edition: float) -> Result:
        return self.results[self.editions.index(edition)]

    def scores_table(self) -> pd.DataFrame:
        """scores.csv of an editions build: every edition's scores with an `edition` column first."""
        return pd.concat([r.scores_table().assign(edition=label) for label, r in zip(self.labels(), self.results)],
                         ignore_index=True).pipe(lambda f: f[["edition", *[c for c in f.columns if c != "edition"]]])

    def record(self) -> list[dict[str, Any]]:
        """run.json's editions: each edition's units and the steps that rebuild it alone."""
        return [{"edition": label, "units": len(r.context.units), "units_kept": int(r.kept.sum()),
                 "steps": list(r.log)} for label, r in zip(self.labels(), self.results)]


def validate_editions(spec: Spec, uncertainty: bool = True) -> tuple[list[Inputs], ProcessingLog]:
    """Every check an editions build runs short of computing: each edition's inputs against the spec, the
    editions block against the data, and the panel imputation's own refusal (linear on a one-observation
    series). Returns the editions' inputs, panel-imputed, and what a build logs of them before its first step
    (the panel's fills, and each edition's inputs as `inputs_log` says them)."""
    editions, inputs = _checked(spec, uncertainty)
    inputs, panel_log = _impute_panel(spec, editions, inputs)
    return inputs, ProcessingLog.concat(panel_log, *(_tagged(inputs_log(one), edition_label(ed))
                                                     for ed, one in zip(editions, inputs)))


def _checked(spec: Spec, uncertainty: bool) -> tuple[tuple[float, ...], list[Inputs]]:
    found = load_edition_inputs(spec)
    inputs = list(found.values())
    for one in inputs:
        check(spec, one, uncertainty)
    problems = check_editions(spec, inputs[-1], tuple(Step.parse(entry) for entry in spec.model.pipeline),
                              tuple(found))
    if problems:
        raise InputError(problems)
    return tuple(found), inputs


def build_editions(spec: Spec, *, uncertainty: bool = True, progress: bool = False, strict: bool = False) -> Result:
    """One build per edition (see the module's doc); the latest edition's Result, carrying them all."""
    started = time.perf_counter()
    e = spec.model.editions
    editions, inputs = _checked(spec, uncertainty)
    steps = tuple(Step.parse(entry) for entry in spec.model.pipeline)
    inputs, panel_log = _impute_panel(spec, editions, inputs)
    steps_of = _ampi_steps(spec, editions, inputs, _normalise_steps(spec, editions, inputs, steps))
    keep = uncertainty and spec.model.uncertainty is not None
    today, then = [], {}
    for edition, one in zip(editions, inputs):
        today.append(_edition_build(spec, edition, one, steps_of, uncertainty=uncertainty, progress=progress,
                                    keep_runs=keep))
        if edition in e.methods:
            at = ("editions", "methods", edition_label(edition))
            then[edition] = _edition_build(spec, edition, one, tuple(Step.parse(x) for x in e.methods[edition]),
                                           uncertainty=False, entries=e.methods[edition], at=at)
    results = [then.get(ed, r) if not e.backcast else r for ed, r in zip(editions, today)]
    panel = _panel(editions, results)
    target = None
    runs = None
    if keep:
        target = results[-1].uncertainty.target
        runs = [_on_grid(panel.cities, r.context.units, r.uncertainty.target_runs) if r.uncertainty else None
                for r in results]
    changes = rank_changes(panel, target, runs)
    if e.smooth is not None:
        changes = _with_smoothed(changes, panel, e.smooth.weights)
    breaks = [(b.indicator, b.edition, b.reason) for b in e.breaks]
    fw = inputs[-1].context.framework
    table = trends(panel, breaks, {b.indicator: _ancestors(fw, b.indicator) for b in e.breaks})
    panel_log = ProcessingLog.concat(panel_log, _break_rows(table, breaks))
    top = fw.root()
    as_then = _published(spec, panel) if e.published else _ranks_then(then, top) if then else None
    split = decomposition(panel if e.backcast else _panel(editions, today), top, as_then)
    processing = ProcessingLog.concat(panel_log, *(_tagged(r.processing, edition_label(ed))
                                                   for ed, r in zip(editions, results)))
    if strict:
        refuse_warnings(spec, processing)
    together = Editions(editions, tuple(results), e.normalise, changes, table, panel_log, split)
    return dataclasses.replace(results[-1], processing=processing, editions=together,
                               seconds=time.perf_counter() - started)


def check_editions(spec: Spec, inputs: Inputs, steps: tuple[Step, ...], editions: tuple[float, ...]
                   ) -> list[Problem]:
    """What only the data can judge of an `editions:` block (the editions themselves are checked as they are
    read): the breaks' indicators, a normalise step that pooled or reference parameters can be given to, and
    each of `methods`' pipelines, for an edition before the latest."""
    e = spec.model.editions
    name = str(spec.path)
    problems = []
    for edition, entries in e.methods.items():
        at = ("editions", "methods", edition_label(edition))
        if edition not in editions[:-1]:
            why = ("the latest edition is built with the pipeline" if editions and edition == editions[-1] else
                   f"the editions are {', '.join(map(edition_label, editions))}")
            problems.append(Problem(name, f"editions: methods: {edition_label(edition)} is not an earlier "
                                    f"edition ({why})", spec.line(*at)))
        else:
            problems += check_pipeline(spec, inputs.context, entries, at)
    leaves = list(inputs.context.indicators)
    for i, b in enumerate(e.breaks):
        if b.indicator not in leaves:
            problems.append(Problem(name, f"editions: breaks: unknown indicator {b.indicator!r}"
                                    f"{did_you_mean(b.indicator, leaves)}", spec.line("editions", "breaks", i,
                                                                                      "indicator")))
    if e.normalise != "per-edition":
        found = [s for s in steps if s.step == "normalise"]
        if not found or found[0].method not in POOLABLE:
            have = f"the pipeline's normalise is {found[0].method}" if found else "the pipeline has no normalise step"
            problems.append(Problem(name, f"editions: normalise: {e.normalise} needs a normalise step with method "
                                    f"{' or '.join(POOLABLE)}; {have}", spec.line("editions", "normalise")))
        elif "pooled" in found[0].params:
            problems.append(Problem(name, f"editions: normalise: {e.normalise} computes the normalise step's pooled "
                                    "parameters itself; remove pooled from the step",
                                    spec.line("editions", "normalise")))
    return problems


def _impute_panel(spec: Spec, editions: tuple[float, ...], inputs: list[Inputs]
                  ) -> tuple[list[Inputs], ProcessingLog]:
    """Every edition's raw values with the panel method's fills, and one processing-log row per value filled."""
    method = spec.model.editions.impute_panel
    if method == "none":
        return inputs, ProcessingLog.of()
    cities = _union(inputs)
    leaves = inputs[-1].context.indicators
    X = np.full((len(inputs), len(cities), len(leaves)), np.nan)
    present = np.zeros((len(inputs), len(cities)), dtype=bool)
    for t, one in enumerate(inputs):
        rows = _rows(cities, one.context.units)
        X[t, rows] = one.X
        present[t, rows] = True
    done = impute_panel(X, np.array(editions), method, present)
    if method == "linear" and done.one_observation:
        u, i, t = done.one_observation[0]
        more = len(done.one_observation) - 1
        raise InputError.single(spec.path, f"editions: impute_panel: linear needs two observations of a series to "
                                f"interpolate; {cities[u]}/{leaves[i]} has one (in {edition_label(editions[t])})"
                                + (f", and {more} other series too" if more else "")
                                + ": use linear-constant, which holds such a series at its value",
                                line=spec.line("editions", "impute_panel"))
    out = []
    for t, one in enumerate(inputs):
        out.append(dataclasses.replace(one, X=done.values[t, _rows(cities, one.context.units)]))
    t_idx, u_idx, i_idx = np.nonzero(done.filled)
    named = edition_labels(editions)
    src = done.source[t_idx, u_idx, i_idx]
    detail = [f"{named[t]} from {edition_label(s)} ({method})" if s == s else
              f"{named[t]} interpolated ({method})" for t, s in zip(t_idx, src)]
    log = ProcessingLog.rows("editions", "panel-imputed", units=np.array(cities, dtype=object)[u_idx],
                             indicators=np.array(leaves, dtype=object)[i_idx], detail=detail)
    return out, log


def _normalise_steps(spec: Spec, editions: tuple[float, ...], inputs: list[Inputs], steps: tuple[Step, ...]
                     ) -> tuple[Step, ...]:
    """The steps every edition is built with: the spec's, with pooled or reference parameters written into the
    normalise step."""
    e = spec.model.editions
    if e.normalise == "per-edition":
        return steps
    k = next(i for i, s in enumerate(steps) if s.step == "normalise")
    chosen = list(range(len(editions))) if e.normalise == "pooled" else [editions.index(e.reference)]
    before = [_data_before(inputs[t], steps[:k]) for t in chosen]
    stats = pooled_stats(steps[k].method, [oriented(X, inputs[t].context)[0] for t, X in zip(chosen, before)],
                         inputs[-1].context.indicators)
    pooled = {ind: [a, b] for ind, (a, b) in stats.items()}
    step = Step(steps[k].step, steps[k].method, {**steps[k].params, "pooled": pooled})
    return (*steps[:k], step, *steps[k + 1:])


def _ampi_steps(spec: Spec, editions: tuple[float, ...], inputs: list[Inputs], steps: tuple[Step, ...]
                ) -> tuple[Step, ...]:
    """The adjusted Mazziotta–Pareto index over editions: an aggregate step using `ampi` gets, for every edition,
    the same goalposts, the lowest and highest value any edition's data has as it reaches the step, and the same
    reference, each node's mean in the base edition (`editions.reference` with `normalise: reference`, else the
    first), written into the step as the pooled normalisation is. So 100 is the base edition's average in every
    edition, and a change between editions is a change in the data, not in the scale. Goalposts or a reference
    the step gives itself are kept."""
    k = next((i for i, s in enumerate(steps) if s.step == "aggregate"), None)
    if k is None or not _uses_ampi(steps[k]):
        return steps
    params = dict(steps[k].params)
    if params.get("goalposts") is None:
        before = [_data_before(one, steps[:k]) for one in inputs]
        params["goalposts"] = [float(min(np.nanmin(X) for X in before)), float(max(np.nanmax(X) for X in before))]
    if params.get("reference") is None:
        e = spec.model.editions
        base = editions.index(e.reference) if e.normalise == "reference" else 0
        fixed = (*steps[:k], Step(steps[k].step, steps[k].method, params), *steps[k + 1:])
        built = build_inputs(spec, inputs[base], fixed, uncertainty=False,  # its own means: the default reference
                             edition=edition_label(editions[base]))
        scores = built.stages.scores[0][built.kept]
        with np.errstate(all="ignore"):
            means = np.nanmean(scores, axis=0) if len(scores) else np.full(scores.shape[1], np.nan)
        params["reference"] = {node: float(m) for node, m in zip(built.context.compiled.nodes, means) if m == m}
    return (*steps[:k], Step(steps[k].step, steps[k].method, params), *steps[k + 1:])


def _uses_ampi(step: Step) -> bool:
    """Whether an aggregate step aggregates some node with `ampi` (its method, or one of a level's or a node's)."""
    chosen = [step.method, *(step.params.get("by_level") or {}).values(), *(step.params.get("by_node") or {}).values()]
    return "ampi" in map(str, chosen)


def _data_before(inputs: Inputs, steps: tuple[Step, ...]) -> np.ndarray:
    """An edition's data as it reaches the step after `steps` (the normalise step, or the aggregate step): the data
    steps among them, as the pipeline runs them."""
    X = inputs.X[None]
    kept = Kept.measured(X)
    for step in steps:
        if step.step not in ("weight", "aggregate"):
            X, kept = apply_step(X, kept, inputs.context, step)
    return X


def _with_smoothed(changes: pd.DataFrame, panel: Panel, weights: list[float]) -> pd.DataFrame:
    """editions.csv with `smoothed_score` and `smoothed_rank` (`editions: smooth`), matched on city, node and
    edition."""
    scores, ranks = smooth(panel, weights)
    T, C, N = scores.shape
    grid = pd.DataFrame({
        "city": labels(panel.cities, np.tile(np.repeat(np.arange(C), N), T)),
        "node": labels(panel.nodes, np.tile(np.arange(N), T * C)),
        "edition": labels(edition_labels(panel.editions), np.repeat(np.arange(T), C * N)),
        "smoothed_score": scores.ravel(),
        "smoothed_rank": ranks.ravel(),
    }).astype({"smoothed_rank": "Int64"})
    return changes.merge(grid, on=["city", "node", "edition"], how="left", validate="one_to_one")


def _union(inputs: list[Inputs]) -> tuple[str, ...]:
    """Every unit of any edition, in order of first appearance (latest edition's order first)."""
    seen: dict[str, None] = {}
    for one in reversed(inputs):
        seen.update(dict.fromkeys(one.context.units))
    return tuple(seen)


def _panel(editions: tuple[float, ...], results: list[Result]) -> Panel:
    cities = _union([r.inputs for r in results])
    nodes = results[-1].context.compiled.nodes
    scores = np.full((len(results), len(cities), len(nodes)), np.nan)
    ranks = np.full_like(scores, np.nan)
    for t, r in enumerate(results):
        rows = _rows(cities, r.context.units)
        scores[t, rows] = r.stages.scores[0]
        ranks[t, rows] = r.stages.ranks[0]
    return Panel(editions, cities, tuple(nodes), scores, ranks)


def _rows(cities: tuple[str, ...], units) -> list[int]:
    where = {c: i for i, c in enumerate(cities)}
    return [where[u] for u in units]


def _on_grid(cities: tuple[str, ...], units, runs: np.ndarray | None) -> np.ndarray | None:
    if runs is None:
        return None
    out = np.full((runs.shape[0], len(cities)), np.nan)
    out[:, _rows(cities, units)] = runs
    return out


def _ancestors(framework, indicator: str) -> set[str]:
    out, node = set(), indicator
    while node is not None:
        out.add(node)
        node = framework.by_id[node].parent
    return out


def _break_rows(table: pd.DataFrame, breaks) -> ProcessingLog:
    """One warning per break and node whose trends cross it, counting the cities."""
    rows = []
    reasons = {f"{ind}@{edition_label(ed)}": reason for ind, ed, reason in breaks}
    crossing = table[table["across_break"] != ""]
    for label, reason in reasons.items():
        hit = crossing[crossing["across_break"].str.split(";").apply(lambda labels, x=label: x in labels)]
        for node, group in hit.groupby("node", sort=False):
            ind, ed = label.split("@")
            rows.append(entry("editions", "trend-across-break", indicator=node, count=len(group), warning=True,
                              detail=f"trends of {node} across the break of {ind} in {ed}: {reason}"))
    return ProcessingLog.of(rows)


PUBLISHED = Schema(
    fields=(Field("city", "text", nullable=False, description="The city's id."),
            Field("edition", "float", nullable=False, description="The edition the rank was published in."),
            Field("rank", "int", nullable=False, description="The city's rank of the top node as published.")),
)


def _edition_build(spec: Spec, edition: float, one: Inputs, steps: tuple[Step, ...], **how) -> Result:
    return build_inputs(spec, one, steps, edition=edition_label(edition), **how)


def _ranks_then(then: dict[float, Result], node: str) -> dict[tuple[str, float], float]:
    """The ranks at `node` of the editions built with their own pipelines, by (city, edition)."""
    out = {}
    for edition, r in then.items():
        j = r.context.compiled.nodes.index(node)
        for city, rank in zip(r.context.units, r.stages.ranks[0][:, j]):
            if rank == rank:
                out[city, edition] = float(rank)
    return out


def _published(spec: Spec, panel: Panel) -> dict[tuple[str, float], float]:
    """The published ranks of `editions: published`, by (city, edition); a city or edition the build lacks is an
    error naming its line."""
    path = spec.resolve(spec.model.editions.published)
    if not path.exists():
        raise InputError.single(spec.path, f"editions: published: {spec.model.editions.published!r} does not exist "
                                f"(looked for {path})", line=spec.line("editions", "published"))
    frame = read_table(path, PUBLISHED)
    problems, out = [], {}
    for line, city, edition, rank in zip(frame["_line"], frame["city"], frame["edition"], frame["rank"]):
        if city not in panel.cities:
            problems.append(Problem(str(path), f"unknown city {city!r}{did_you_mean(city, panel.cities)}", int(line),
                                    "city"))
        elif edition not in panel.editions:
            problems.append(Problem(str(path), f"edition {edition_label(edition)} is not among the editions "
                                    f"({', '.join(edition_label(x) for x in panel.editions)})", int(line), "edition"))
        elif (city, edition) in out:
            problems.append(Problem(str(path), f"{city!r} in edition {edition_label(edition)} twice", int(line),
                                    "city"))
        else:
            out[city, edition] = float(rank)
    if problems:
        raise InputError(problems)
    return out


def _tagged(log: ProcessingLog, label: str) -> ProcessingLog:
    """An edition's processing log, its steps tagged with the edition: `impute [2019]`."""
    table = log.table.copy()
    table["step"] = table["step"] + f" [{label}]"
    return ProcessingLog(table)
