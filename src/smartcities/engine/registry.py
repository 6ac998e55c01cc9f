"""Methods registered by name under their step, so a spec can say `normalise: {method: minmax}`.

Every data step has one signature: `fn(X, ctx, **params) -> X` where X is `(runs, units, indicators)`
with NaN for missing values, and `ctx` the build's fixed context; a screen method returns instead the units
`(runs, units)` and indicators `(runs, indicators)` to keep, which the pipeline carries as a mask.
A weight method (`weight` step, before `aggregate`) returns the node weights every later step uses:
`fn(X, ctx, **params) -> engine.weighting.Weighting`.
Aggregators take the children's scores and a weight matrix: `fn(Y, W, **params) -> (runs, units, parents)`.

A method may come with a check, `check(ctx, **params) -> list[Problem]`, of the parameters that only the build's
context can judge (a group column, a weight set, goalposts on every indicator). It runs before anything is
computed, for the pipeline and for every option of an uncertainty factor; the method runs it too when called
directly. Its problems name the file "spec" and, as `column`, the parameter at fault; the caller locates them.

A parameter's bounds sit in its annotation (`share: Share`, `Annotated[tuple[float, float], AfterValidator(…)]`):
the pipeline's check of parameters holds the spec's values, and every uncertainty factor's, to them before
anything runs, and the reference lists them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated

from pydantic import Field

Share = Annotated[float, Field(ge=0, le=1)]  # a share of indicators or units, 0 to 1
Positive = Annotated[float, Field(gt=0)]  # a threshold or a scale that is meaningless at 0 or below
Count = Annotated[int, Field(ge=1)]  # a whole number of things, at least one

# The data steps a pipeline may hold, in their usual order, each with the method used when none is named.
DATA_STEPS = {"denominate": "by-framework", "impute": "none", "screen": "coverage", "treat": "winsorise",
              "normalise": "minmax"}
_METHODS: dict[str, dict[str, Callable]] = {step: {} for step in (*DATA_STEPS, "weight", "aggregator", "grade")}
_CHECKS: dict[Callable, Callable] = {}


def register(step: str, name: str, check: Callable | None = None) -> Callable[[Callable], Callable]:
    def add(fn: Callable) -> Callable:
        _METHODS[step][name] = fn
        if check is not None:
            _CHECKS[fn] = check
        return fn

    return add


def check_of(fn: Callable) -> Callable | None:
    """The context check registered with a method, if any."""
    return _CHECKS.get(fn)


def steps() -> tuple[str, ...]:
    """Every step methods are registered under: the data steps in their usual order, then `weight`, `aggregator`,
    `grade`."""
    return tuple(_METHODS)


def methods(step: str) -> dict[str, Callable]:
    """The registered methods of a step, by name."""
    return _METHODS[step]


def parameters(fn: Callable) -> dict[str, inspect.Parameter]:
    """The spec-settable parameters of a method (everything after the data arguments)."""
    params = list(inspect.signature(fn).parameters.values())
    return {p.name: p for p in params if p.kind == p.KEYWORD_ONLY}
