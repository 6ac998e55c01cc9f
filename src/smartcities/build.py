"""Build an index from a spec: resolve the inputs, run the pipeline, grade, and (if asked) study robustness.

A build is a value: `build()` returns a `Result` holding every stage, the log of steps, versions and input
hashes. Nothing here writes files; `publish.write_outputs` does that.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import platform
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .engine.context import Context
from .engine.grade import letter_ratings, quantile_grades_of
from .engine.pipeline import Kept, Stages, Step, check_pipeline, in_pipeline, run_pipeline
from .engine.registry import methods
from .engine.step_log import no_data, step_log
from .errors import InputError, Problem, did_you_mean
from .inputs import Inputs, load_inputs
from .model.columns import labels, lex_order, sort_places
from .model.processing import ProcessingLog
from .model.spec import Spec, read_spec


@dataclass(frozen=True)
class Result:
    spec: Spec
    inputs: Inputs
    steps: tuple[Step, ...]
    stages: Stages  # nominal build: run axis of length 1
    grades: np.ndarray  # (units, nodes)
    letters: np.ndarray | None  # (units,) letter rating of the top node within peer groups
    log: tuple[dict[str, Any], ...]
    versions: dict[str, str]
    uncertainty: Any = None  # robustness.uncertainty.UncertaintyResult when the spec asks for it
    seconds: float = 0.0
    processing: ProcessingLog = ProcessingLog.of()  # what the inputs, the steps and the runs dropped or filled
    # with an `editions:` block: every edition's build; this Result is then the latest edition's, its processing
    # log that of every edition
    editions: Any = None

    @property
    def context(self) -> Context:
        return self.inputs.context

    @property
    def kept(self) -> np.ndarray:
        """Units that survived screening (they have scores)."""
        return ~np.all(np.isnan(self.stages.scores[0]), axis=1)

    @cached_property
    def audit(self):
        """The statistical audit as the faces show it (no p-values): made once, however many faces read it (the
        report, its print page and the site's methodology all do when an index is published)."""
        from .robustness.audit import audit

        return audit(self.stages, self.context, with_p_values=False)

    def node_scores(self, node: str) -> pd.Series:
        j = self.context.compiled.nodes.index(node)
        return pd.Series(self.stages.scores[0, :, j], index=self.context.units, name=node)

    def scores_table(self) -> pd.DataFrame:
        """Long table `city,node,level,score,rank,grade` for every kept unit and every node."""
        c = self.context.compiled
        units = np.array(self.context.units)[self.kept]
        s = self.stages.scores[0][self.kept]
        r = self.stages.ranks[0][self.kept]
        g = self.grades[self.kept]
        n_units, n_nodes = s.shape
        unit, node = np.repeat(np.arange(n_units), n_nodes), np.tile(np.arange(n_nodes), n_units)
        levels = np.asarray(c.levels)
        # the highest level first, then by node id, then by rank (unranked last), else as the units come
        ranked = np.where(np.isnan(r.ravel()), n_units + 1, r.ravel()).astype(np.int64)  # 1 … n, unranked after
        rows = lex_order((levels.max() - levels[node], levels.max() + 1), (sort_places(c.nodes)[node], n_nodes),
                         (ranked, n_units + 2))
        table = pd.DataFrame({
            "city": labels(units, unit[rows]),
            "node": labels(c.nodes, node[rows]),
            "level": levels[node[rows]],
            "score": s.ravel()[rows],
            "rank": r.ravel()[rows],
            "grade": g.ravel()[rows],
        })
        table["rank"] = table["rank"].astype("Int64")
        table["grade"] = table["grade"].astype("Int64")
        return table

    def run_record(self) -> dict[str, Any]:
        """What run.json holds: the spec as resolved, the steps as run, versions and input hashes."""
        return {
            "name": self.spec.model.name,
            "spec_file": str(self.spec.path),
            "spec_sha256": self.spec.digest,
            "spec": self.spec.model.model_dump(mode="json", exclude_none=True),
            "steps": list(self.log),
            "inputs_sha256": self.inputs.hashes,
            "units": len(self.context.units),
            "units_kept": int(self.kept.sum()),
            "indicators": len(self.context.indicators),
            "versions": self.versions,
            "seconds": round(self.seconds, 4),
            "processing": {"notes": int((self.processing.table["severity"] == "note").sum()),
                           "warnings": len(self.processing.warnings()),
                           "summary": self.processing.summary()},
            **({"editions": self.editions.record()} if self.editions is not None else {}),
        }


def versions() -> dict[str, str]:
    """The versions a build records (a fresh dict for each build)."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Read once per process: the package metadata costs 15 ms a call, once per edition of an editions build."""
    out = {"smartcities": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "pandas", "scipy", "SALib", "duckdb"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def load_spec(path: str | Path) -> Spec:
    """Read a spec and check everything in it, the pipeline's steps included, before anything runs."""
    spec = read_spec(path)
    problems = check_pipeline(spec)
    if problems:
        raise InputError(problems)
    return spec


def check(spec: Spec, inputs: Inputs, uncertainty: bool = True) -> None:
    """Everything a build checks short of computing, against the resolved inputs: the pipeline's steps and
    parameters (groups, weight sets, nodes, goalposts), the grades' peer group and (unless skipped) the whole
    uncertainty block. `validate` runs the same check, so a spec it passes does not fail on these at build time."""
    ctx = inputs.context
    problems = check_pipeline(spec, ctx)
    peer = spec.model.grades.peer_group
    if peer and peer not in ctx.groups:
        problems.append(Problem(str(spec.path), f"grades: peer_group {peer!r} is not a group column"
                                f"{did_you_mean(peer, ctx.groups)}; have: {', '.join(ctx.groups) or 'none'}",
                                spec.line("grades", "peer_group")))
    if not problems and uncertainty:
        from .robustness.uncertainty import check_uncertainty

        problems = check_uncertainty(spec, ctx)
    if problems:
        raise InputError(problems)


def build(spec: Spec | str | Path, *, uncertainty: bool = True, progress: bool = False,
          backend: str | None = None, strict: bool = False) -> Result:
    """Build the index a spec describes. `uncertainty=False` skips the robustness runs; `strict=True` makes
    every warning of the processing log an error; `backend` overrides the spec's `backend: name`. With an
    `editions:` block, one build per edition (`build_editions`)."""
    started = time.perf_counter()
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    if backend is not None:
        spec = spec.on_backend(backend)
    if spec.model.editions is not None:
        from .editions import build_editions

        return build_editions(spec, uncertainty=uncertainty, progress=progress, strict=strict)
    inputs = load_inputs(spec)
    check(spec, inputs, uncertainty)
    steps = tuple(Step.parse(e) for e in spec.model.pipeline)
    result = build_inputs(spec, inputs, steps, uncertainty=uncertainty, progress=progress)
    if strict:
        refuse_warnings(spec, result.processing)
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


def build_inputs(spec: Spec, inputs: Inputs, steps: tuple[Step, ...], *, uncertainty: bool = True,
                 progress: bool = False, keep_runs: bool = False,
                 entries: list | None = None, at: tuple = ("pipeline",), edition: str | None = None) -> Result:
    """The build of checked inputs with these steps: the pipeline, grades and (if asked) the uncertainty
    analysis, with the processing log of all three. Editions build each edition with it, as a single build
    (`edition` its label). `entries` and `at`: the spec's pipeline the steps come from, when not its own
    (`editions: methods:`), so that a method's complaint points at its line."""
    started = time.perf_counter()
    try:
        stages = run_pipeline(inputs.X, inputs.context, list(steps))
    except InputError as err:  # a method's complaint about the data it met belongs to its step in the spec
        raise InputError(in_pipeline(spec, err.problems, entries, at)) from None
    engine_log = step_log(stages, inputs.context, list(steps))
    refuse_unscored(spec, stages, inputs.context, steps, ProcessingLog.concat(inputs.log, engine_log), entries, at,
                    edition)
    log = tuple({**step.as_entry(), "seconds": round(t, 6)} for step, t in zip(steps, stages.seconds))
    grades, letters = grade(stages, spec, inputs)
    result_unc = None
    if uncertainty and spec.model.uncertainty is not None:
        from .robustness.uncertainty import Where, analyse

        model = spec.model
        result_unc = analyse(inputs.X, inputs.context, list(steps), model.uncertainty, model.backend, progress,
                             Where.of(spec), keep_runs=keep_runs)
    processing = ProcessingLog.concat(inputs.log, engine_log,
                                      result_unc.log() if result_unc is not None else ProcessingLog.of())
    return Result(spec, inputs, steps, stages, grades, letters, log, versions(), result_unc,
                  time.perf_counter() - started, processing)


DROPPING = ("no-data", "removed-unit", "removed-indicator", "lost", "unscored")
"""The processing log's actions that take values or units out of a build."""


def refuse_unscored(spec: Spec, stages: Stages, ctx: Context, steps: tuple[Step, ...], log: ProcessingLog,
                    entries: list | None = None, at: tuple = ("pipeline",), edition: str | None = None) -> None:
    """When no unit has a score of the top node, the build has nothing to rank, profile or write: one error at
    the line of the step that left nothing, with the log's lines of what was dropped, since no processing.csv is
    written to say it."""
    root = ctx.framework.root()
    if not np.isnan(stages.scores[0, :, ctx.compiled.nodes.index(root)]).all():
        return
    method = {step.step: step.method for step in steps}
    for name, X in stages.data.items():
        kept = stages.kept[name]
        if not (~np.isnan(X[0]) & kept.cells()[0]).any():
            why = ("no unit has a value for any indicator" if name == "raw" else
                   f"screen: screening removed every {'indicator' if kept.units[0].any() else 'unit'}"
                   if name == "screen" else f"{name}: {method[name]} left no value in the build")
            break
    else:
        name, why = "aggregate", f"aggregate: no unit has values enough for a score of the top node {root!r}"
    said = "; ".join(line for _, line in ProcessingLog(log.table[log.table["action"].isin(DROPPING)]).lines())
    message = (f"{why}, so no unit can be ranked{f' in edition {edition}' if edition else ''}"
               + (f"; the processing log: {said}" if said else ""))
    if name == "raw":  # no step to point at: the inputs themselves
        raise InputError.single(spec.path, message)
    raise InputError(in_pipeline(spec, [Problem("spec", message)], entries, at))


def inputs_log(inputs: Inputs) -> ProcessingLog:
    """What a build of these inputs logs before its first step: what reading them did, and the units and
    indicators with no value at all. `validate` says these (and refuses their warnings under --strict) as a build
    would."""
    return ProcessingLog.concat(inputs.log, no_data(inputs.context, Kept.measured(inputs.X[None])))


def refuse_warnings(spec: Spec, processing: ProcessingLog) -> None:
    """Under --strict, every warning of the processing log is an error: one problem per kind of warning."""
    warnings = processing.warnings()
    if len(warnings):
        raise InputError([Problem(str(spec.path), f"{line} (an error under --strict)")
                          for _, line in warnings.lines()])


def grade(stages: Stages, spec: Spec, inputs: Inputs) -> tuple[np.ndarray, np.ndarray | None]:
    """Grades 1–5 for every node, and letter ratings of the top node within the spec's peer groups."""
    g = spec.model.grades
    if g.method == "quantile":  # from the ranks the stages hold, not sorted again
        grades = quantile_grades_of(stages.ranks, stages.scores, n=g.n)[0]
    else:
        grades = methods("grade")[g.method](stages.scores, cutoffs=tuple(g.cutoffs or (80, 60, 40, 20)))[0]
    letters = None
    if g.peer_group:  # `check` has made sure it is a group column
        groups = inputs.context.groups
        top = inputs.context.compiled.nodes.index(inputs.context.framework.root())
        letters = letter_ratings(stages.scores[0, :, top], groups[g.peer_group])
    return grades, letters
