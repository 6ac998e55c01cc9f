"""Run a pipeline over the array `X[run, unit, indicator]`: the same code for one build and for many runs.

`run_pipeline` applies the data steps in order, keeping every stage, then aggregates, ranks and grades.
"""

from __future__ import annotations

import time
import typing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from ..errors import InputError, Problem, did_you_mean, one_of
from ..model.spec import Spec
from .aggregate import aggregate
from .context import Context
from .grade import ranks
from .registry import DATA_STEPS, methods, parameters


@dataclass(frozen=True)
class Step:
    """One pipeline entry: a step, the method chosen, and its parameters."""

    step: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, entry: dict[str, dict | None]) -> Step:
        (step, params), = entry.items()
        params = dict(params or {})
        if step == "aggregate":
            return cls(step, str(params.get("method", "arithmetic")), params)
        return cls(step, str(params.pop("method", DATA_STEPS.get(step, ""))), params)

    def as_entry(self) -> dict:
        if self.step == "aggregate":
            return {self.step: dict(self.params)}
        return {self.step: {"method": self.method, **self.params}}


@dataclass(frozen=True)
class Kept:
    """The units and indicators still in the build. Why a mask and not blanks: a blank is a missing value that a
    later step (imputation) may fill, while a removed unit must stay removed for every later step."""

    units: np.ndarray  # (runs, units) bool
    indicators: np.ndarray  # (runs, indicators) bool

    @classmethod
    def measured(cls, X: np.ndarray) -> Kept:
        """Everything that has at least one value: a unit (or indicator) with no data at all is never ranked
        from imputed values alone."""
        present = ~np.isnan(X)
        return cls(present.any(axis=2), present.any(axis=1))

    def cells(self) -> np.ndarray:
        """(runs, units, indicators): True where the value may take part in the build."""
        return self.units[:, :, None] & self.indicators[:, None, :]

    def __and__(self, other: Kept) -> Kept:
        return Kept(self.units & other.units, self.indicators & other.indicators)


@dataclass(frozen=True)
class Stages:
    """Every stage of a run of the pipeline: data stages by step name, then node scores and ranks."""

    data: dict[str, np.ndarray]  # "raw", then one entry per data step, each (runs, units, indicators)
    scores: np.ndarray  # (runs, units, nodes)
    ranks: np.ndarray  # (runs, units, nodes)
    seconds: tuple[float, ...] = ()  # time each step took, in pipeline order
    kept: dict[str, Kept] = field(default_factory=dict)  # what is still in the build after each data stage

    def final_kept(self) -> Kept:
        """What the last data step left in the build."""
        return self.kept[next(reversed(self.data))]


def apply_step(X: np.ndarray, kept: Kept, ctx: Context, step: Step) -> tuple[np.ndarray, Kept]:
    """One data step, with the build's two guarantees enforced here rather than trusted to each method:
    what screening removed stays removed (blank, whatever a later method returns), and imputation only fills
    missing values, never replaces a present one."""
    if step.step not in DATA_STEPS:
        raise InputError.single("spec", f"{step.step!r} is not a data step")
    fn = methods(step.step)[step.method]
    if step.step == "screen":
        kept = kept & Kept(*fn(X, ctx, **step.params))
        Y = X
    else:
        Y = fn(X, ctx, **step.params)
        if step.step == "impute":
            Y = np.where(np.isnan(X), Y, X)
    cells = kept.cells()
    return (Y if cells.all() else np.where(cells, Y, np.nan)), kept


def run_pipeline(X: np.ndarray, ctx: Context, steps: list[Step]) -> Stages:
    """All stages of the pipeline for a data array with a leading run axis."""
    if X.ndim == 2:
        X = X[None]
    kept = Kept.measured(X)
    data, masks = {"raw": X}, {"raw": kept}
    scores = None
    seconds = []
    for step in steps:
        started = time.perf_counter()
        if step.step == "aggregate":
            scores = aggregate(X, ctx, **step.params)
        else:
            X, kept = apply_step(X, kept, ctx, step)
            data[step.step], masks[step.step] = X, kept
        seconds.append(time.perf_counter() - started)
    if scores is None:
        raise InputError.single("spec", "the pipeline has no aggregate step")
    # removed units, and units left with no value after the data steps, get no score and no rank
    dropped = ~kept.units | np.all(np.isnan(X), axis=2)
    scores = np.where(dropped[..., None], np.nan, scores)
    return Stages(data, scores, ranks(scores), tuple(seconds), masks)


def check_pipeline(spec: Spec) -> list[Problem]:
    """Each pipeline entry of a spec names one known step, a known method, and parameters that method takes."""
    name = str(spec.path)
    problems: list[Problem] = []
    steps = [*DATA_STEPS, "aggregate"]
    for i, entry in enumerate(spec.model.pipeline):
        line = spec.line("pipeline", i)
        if len(entry) != 1:
            problems.append(Problem(name, f"pipeline entry {i + 1} must name one step, found {len(entry)}", line))
            continue
        step, params = next(iter(entry.items()))
        params = dict(params or {})
        line = spec.line("pipeline", i, step) or line
        if step not in steps:
            problems.append(Problem(name, "pipeline step " + one_of(step, steps), line))
            continue
        if step == "aggregate":
            fn = aggregate
            known = methods("aggregator")
            chosen = {"method": params.get("method", "arithmetic"),
                      **{f"by_level.{k}": v for k, v in (params.get("by_level") or {}).items()},
                      **{f"by_node.{k}": v for k, v in (params.get("by_node") or {}).items()}}
            for key, value in chosen.items():
                if str(value) not in known:
                    problems.append(Problem(name, f"aggregate: {key} " + one_of(str(value), list(known)),
                                            spec.line("pipeline", i, step, key.split(".")[0]) or line))
        else:
            method = params.pop("method", DATA_STEPS[step])
            if method not in methods(step):
                problems.append(Problem(name, f"{step}: method " + one_of(str(method), list(methods(step))), line))
                continue
            fn = methods(step)[method]

        def line_of(key, i=i, step=step, line=line):
            return spec.line("pipeline", i, step, key) or line

        problems += check_params(name, step, fn, params, line_of)
    if not any("aggregate" in e for e in spec.model.pipeline):
        problems.append(Problem(name, "the pipeline has no aggregate step", spec.line("pipeline")))
    return problems


def check_params(name: str, step: str, fn, params: dict, line_of) -> list[Problem]:
    """Unknown parameters (with a did-you-mean) and values of the wrong type, for one step's method."""
    known = parameters(fn)
    hints = typing.get_type_hints(fn)
    problems = []
    for key, value in params.items():
        if key not in known:
            expected = f"known: {', '.join(known)}" if known else "this method takes none"
            problems.append(Problem(name, f"{step}: unknown parameter {key!r}{did_you_mean(key, known)}; {expected}",
                                    line_of(key)))
            continue
        try:
            TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as err:
            problems.append(Problem(name, f"{step}: {key}: {err.errors()[0]['msg']} (got {value!r})", line_of(key)))
    for key, p in known.items():
        if p.default is p.empty and key not in params:
            problems.append(Problem(name, f"{step}: missing parameter {key!r}", line_of(step)))
    return problems
