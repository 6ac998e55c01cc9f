"""Run a pipeline over the array `X[run, unit, indicator]`: the same code for one build and for many runs.

`run_pipeline` applies the data steps in order, keeping every stage, then aggregates, ranks and grades.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from .aggregate import aggregate
from .context import Context
from .grade import ranks
from .registry import DATA_STEPS, methods


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
class Stages:
    """Every stage of a run of the pipeline: data stages by step name, then node scores and ranks."""

    data: dict[str, np.ndarray]  # "raw", then one entry per data step, each (runs, units, indicators)
    scores: np.ndarray  # (runs, units, nodes)
    ranks: np.ndarray  # (runs, units, nodes)
    seconds: tuple[float, ...] = ()  # time each step took, in pipeline order


def apply_step(X: np.ndarray, ctx: Context, step: Step) -> np.ndarray:
    if step.step not in DATA_STEPS:
        raise InputError.single("spec", f"{step.step!r} is not a data step")
    return methods(step.step)[step.method](X, ctx, **step.params)


def run_pipeline(X: np.ndarray, ctx: Context, steps: list[Step]) -> Stages:
    """All stages of the pipeline for a data array with a leading run axis."""
    if X.ndim == 2:
        X = X[None]
    data = {"raw": X}
    scores = None
    seconds = []
    for step in steps:
        started = time.perf_counter()
        if step.step == "aggregate":
            scores = aggregate(X, ctx, **step.params)
        else:
            X = apply_step(X, ctx, step)
            data[step.step] = X
        seconds.append(time.perf_counter() - started)
    if scores is None:
        raise InputError.single("spec", "the pipeline has no aggregate step")
    # units screened out (every indicator blank after the data steps) get no score and no rank
    dropped = np.all(np.isnan(X), axis=2)
    scores = np.where(dropped[..., None], np.nan, scores)
    return Stages(data, scores, ranks(scores), tuple(seconds))
