"""Run a pipeline over the array `X[run, unit, indicator]`: the same code for one build and for many runs.

`run_pipeline` applies the data steps in order, keeping every stage, then aggregates, ranks and grades. A `weight`
step (before `aggregate`) sets the node weights from the data at that point; an aggregate step with its default
`weights: framework` then uses them.
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from ..errors import InputError, Problem, did_you_mean, one_of
from ..model.spec import Spec
from .aggregate import aggregate, aggregate_with, check_aggregate, known_aggregators, node_weights
from .context import Context
from .grade import ranks
from .registry import DATA_STEPS, check_of, methods, parameters
from .weighting import Weighting


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

    def blank(self, X: np.ndarray) -> np.ndarray:
        """X with every removed cell blank; X itself when nothing is removed (no full-size pass)."""
        if self.units.all() and self.indicators.all():
            return X
        return np.where(self.cells(), X, np.nan)


@dataclass(frozen=True)
class Stages:
    """Every stage of a run of the pipeline: data stages by step name, then node scores and ranks."""

    data: dict[str, np.ndarray]  # "raw", then one entry per data step, each (runs, units, indicators)
    scores: np.ndarray  # (runs, units, nodes)
    ranks: np.ndarray  # (runs, units, nodes)
    seconds: tuple[float, ...] = ()  # time each step took, in pipeline order
    kept: dict[str, Kept] = field(default_factory=dict)  # what is still in the build after each data stage
    weighting: Weighting | None = None  # the node weights a weight step set (None: no weight step)

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
        if step.step == "impute" and Y is not X:
            np.copyto(Y, X, where=~np.isnan(X))  # the method's own new array: put back every present value
    return kept.blank(Y), kept


def run_pipeline(X: np.ndarray, ctx: Context, steps: list[Step]) -> Stages:
    """All stages of the pipeline for a data array with a leading run axis."""
    if X.ndim == 2:
        X = X[None]
    kept = Kept.measured(X)
    data, masks = {"raw": X}, {"raw": kept}
    scores, weighting = None, None
    seconds = []
    for step in steps:
        started = time.perf_counter()
        if step.step == "weight":
            weighting = weigh(X, ctx, step, next((s for s in steps if s.step == "aggregate"), None))
        elif step.step == "aggregate":
            scores = aggregate_with(X, ctx, weights_set(step.params, weighting),
                                    **{k: v for k, v in step.params.items() if k != "weights"})
        else:
            X, kept = apply_step(X, kept, ctx, step)
            data[step.step], masks[step.step] = X, kept
        seconds.append(time.perf_counter() - started)
    if scores is None:
        raise InputError.single("spec", "the pipeline has no aggregate step")
    # removed units, and units left with no value after the data steps, get no score and no rank
    dropped = ~kept.units | np.all(np.isnan(X), axis=2)
    if dropped.any():
        scores = np.where(dropped[..., None], np.nan, scores)
    return Stages(data, scores, ranks(scores), tuple(seconds), masks, weighting)


def weigh(X: np.ndarray, ctx: Context, step: Step, aggregate: Step | None) -> Weighting:
    """The node weights a weight step sets (its method checks its own parameters). A method that weighs levels
    above the indicators from the data also gets their scores as `aggregate` (the pipeline's aggregate step)
    would compute them under the weights it has set so far."""
    fn = methods("weight")[step.method]
    if "scored" not in inspect.signature(fn).parameters:
        return fn(X, ctx, **step.params)
    own = {k: v for k, v in (aggregate.params if aggregate else {}).items() if k != "weights"}
    return fn(X, ctx, lambda W: aggregate_with(X, ctx, W, **own), **step.params)


def weights_set(params: dict, weighting: Weighting | None) -> str | dict | np.ndarray:
    """The weights an aggregate step with these parameters aggregates with: a weight step's node weights (runs or
    1, nodes) when the step keeps its default `weights: framework`, else its own choice."""
    chosen = params.get("weights", "framework")
    return weighting.weights if weighting is not None and chosen == "framework" else chosen


def weights_used(ctx: Context, params: dict, weighting: Weighting | None) -> np.ndarray:
    """The node weights (runs or 1, nodes) an aggregate step with these parameters aggregates with."""
    chosen = weights_set(params, weighting)
    return chosen if isinstance(chosen, np.ndarray) else node_weights(ctx, chosen)[None]


def check_pipeline(spec: Spec, ctx: Context | None = None, entries: list | None = None,
                   at: tuple = ("pipeline",)) -> list[Problem]:
    """Each pipeline entry of a spec names one known step, a known method, and parameters that method takes; given
    the build's context, also the parameters only it can judge (groups, weight sets, nodes, goalposts). Every
    problem points at the line of the step or parameter at fault. `entries` and `at` check another pipeline of
    the spec (an earlier edition's own, under `editions: methods:`) the same way."""
    name = str(spec.path)
    problems: list[Problem] = []
    steps = [*DATA_STEPS, "weight", "aggregate"]
    entries = spec.model.pipeline if entries is None else entries
    what = "pipeline" if at == ("pipeline",) else f"{': '.join(map(str, at))} pipeline"
    for i, entry in enumerate(entries):
        if len(entry) != 1:
            problems.append(Problem(name, f"{what} entry {i + 1} must name one step, found {len(entry)}",
                                    spec.line(*at, i)))
            continue
        (step, _), = entry.items()
        if step not in steps:
            problems.append(Problem(name, f"{what} step " + one_of(step, steps), spec.line(*at, i, step)))
            continue

        def line_of(key: str | None, i=i, step=step) -> int | None:
            return spec.line(*at, i, step, *key_path(key))

        problems += check_step(Step.parse(entry), ctx, name, line_of)
    names = [next(iter(e), None) for e in entries]
    if "aggregate" not in names:
        problems.append(Problem(name, f"the {what} has no aggregate step", spec.line(*at)))
        return problems
    j = names.index("aggregate")
    problems += [Problem(name, f"the {step} step comes after aggregate, so no score would use it: move it before "
                               "aggregate", spec.line(*at, i, step))
                 for i, step in enumerate(names) if i > j and step in DATA_STEPS]
    if ctx is not None and "normalise" not in names[:j]:
        problems += unflipped(ctx, name, spec.line(*at, j, "aggregate"))
    if "weight" in names:
        i = names.index("weight")
        chosen = (entries[j]["aggregate"] or {}).get("weights", "framework")
        if i > j:
            problems.append(Problem(name, "the weight step must come before aggregate: it sets the weights "
                                          "aggregate uses", spec.line(*at, i, "weight")))
        elif chosen != "framework":
            problems.append(Problem(name, f"aggregate: weights {chosen!r} would ignore the weight step's weights; "
                                          "remove one of the two", spec.line(*at, j, "aggregate", "weights")))
    return problems


def unflipped(ctx: Context, file: str, line: int | None) -> list[Problem]:
    """Only a normalise step turns direction −1 (lower is better) indicators round; aggregating them unnormalised
    would reward their worst values."""
    c = ctx.compiled
    lower = [node for node, d in zip(c.nodes, c.direction) if d < 0]
    if not lower:
        return []
    shown = ", ".join(lower[:5]) + (f" and {len(lower) - 5} more" if len(lower) > 5 else "")
    return [Problem(file, f"aggregate: {len(lower)} indicator{'s' * (len(lower) > 1)} with direction -1 (lower is "
                          f"better: {shown}) would be aggregated as if higher were better; add a normalise step "
                          "before aggregate (e.g. `- normalise: {method: minmax}`), which turns them round", line)]


def in_pipeline(spec: Spec, problems: list[Problem], entries: list | None = None,
                at: tuple = ("pipeline",)) -> list[Problem]:
    """Problems a method raised while computing (a geometric mean meeting a 0), placed at the pipeline step their
    message names (`aggregate: …`) and the parameter they name as `column` (in the pipeline `entries` at `at`,
    the spec's own by default)."""
    names = [next(iter(e)) for e in (spec.model.pipeline if entries is None else entries)]

    def line_of(p: Problem) -> int | None:
        step = p.message.split(":")[0]
        if step not in names:
            return spec.line(*at)
        return spec.line(*at, names.index(step), step, *key_path(p.column))

    return [Problem(str(spec.path), p.message, line_of(p)) if p.file == "spec" else p for p in problems]


def key_path(key: str | None) -> tuple:
    """The spec key path of a problem's `column`: `by_node.Conn` → ('by_node', 'Conn'); None → the step itself."""
    if key is None:
        return ()
    return tuple(int(k) if k.isdigit() else k for k in key.split("."))


LineOf = Callable[[str | None], int | None]  # the spec line of a step's parameter (None: of the step itself)


def check_step(step: Step, ctx: Context | None, file: str, line_of: LineOf) -> list[Problem]:
    """One step as the pipeline (or an uncertainty factor) configures it: a known method, the parameters that
    method takes with values of the right type and, given the build's context, the method's own check of them.
    Problems are located in `file` by `line_of(parameter)` (None: the step itself)."""
    if step.step == "aggregate":
        fn, params = aggregate, dict(step.params)
        problems = check_params("aggregate", fn, params) + known_aggregators(**params)
        context_check = check_aggregate
    elif step.method not in methods(step.step):
        problems = [Problem("spec", f"{step.step}: method " + one_of(step.method, list(methods(step.step))),
                            column="method")]
    else:
        fn, params = methods(step.step)[step.method], dict(step.params)
        problems = check_params(step.step, fn, params)
        context_check = check_of(fn)
    if not problems and ctx is not None and context_check is not None:
        problems = context_check(ctx, **params)
    return located(problems, file, line_of)


def located(problems: list[Problem], file: str, line_of: LineOf) -> list[Problem]:
    """Problems a method reported against the placeholder file "spec" (its parameter as `column`), placed in
    `file` at `line_of(parameter)`; problems in other files (the framework) stay as they are."""
    return [Problem(file, p.message, line_of(p.column)) if p.file == "spec" else p for p in problems]


def check_params(step: str, fn, params: dict) -> list[Problem]:
    """Unknown parameters (with a did-you-mean) and values of the wrong type, for one step's method; each names
    the parameter as `column` (the step itself for a missing one) in the placeholder file "spec"."""
    known = parameters(fn)
    hints = typing.get_type_hints(fn, include_extras=True)  # with the bounds the annotations carry
    problems = []
    for key, value in params.items():
        if key not in known:
            expected = f"known: {', '.join(known)}" if known else "this method takes none"
            problems.append(Problem("spec", f"{step}: unknown parameter {key!r}{did_you_mean(key, known)}; "
                                            f"{expected}", column=key))
            continue
        try:
            TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as err:
            problems.append(Problem("spec", f"{step}: {key}: {err.errors()[0]['msg']} (got {value!r})", column=key))
    for key, p in known.items():
        if p.default is p.empty and key not in params:
            problems.append(Problem("spec", f"{step}: missing parameter {key!r}"))
    return problems
