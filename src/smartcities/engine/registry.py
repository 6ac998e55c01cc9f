"""Methods registered by name under their step, so a spec can say `normalise: {method: minmax}`.

Every data step has one signature: `fn(X, ctx, **params) -> X` where X is `(runs, units, indicators)`
with NaN for missing values, and `ctx` the build's fixed context; a screen method returns instead the units
`(runs, units)` and indicators `(runs, indicators)` to keep, which the pipeline carries as a mask. Aggregators take the children's scores
and a weight matrix: `fn(Y, W, **params) -> (runs, units, parents)`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

# The data steps a pipeline may hold, in their usual order, each with the method used when none is named.
DATA_STEPS = {"denominate": "by-framework", "impute": "none", "screen": "coverage", "treat": "winsorise",
              "normalise": "minmax"}
_METHODS: dict[str, dict[str, Callable]] = {step: {} for step in (*DATA_STEPS, "aggregator", "grade")}


def register(step: str, name: str) -> Callable[[Callable], Callable]:
    def add(fn: Callable) -> Callable:
        _METHODS[step][name] = fn
        return fn

    return add


def methods(step: str) -> dict[str, Callable]:
    """The registered methods of a step, by name."""
    return _METHODS[step]


def parameters(fn: Callable) -> dict[str, inspect.Parameter]:
    """The spec-settable parameters of a method (everything after the data arguments)."""
    params = list(inspect.signature(fn).parameters.values())
    return {p.name: p for p in params if p.kind == p.KEYWORD_ONLY}
