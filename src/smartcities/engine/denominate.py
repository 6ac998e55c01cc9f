"""Denominate: divide each indicator by the quantity its framework node names (population, area, GDP…)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError, Problem, did_you_mean
from .context import Context
from .registry import register


def known_denominators(ctx: Context, **_) -> list[Problem]:
    """Every denominator the framework names must be in the data; the framework's line is at fault."""
    problems = []
    for ind in ctx.indicators:
        node = ctx.framework.by_id[ind]
        if node.denominator and node.denominator not in ctx.denominators:
            problems.append(Problem(ctx.framework.source, f"indicator {ind!r} is denominated by "
                                    f"{node.denominator!r}, which is not in the data"
                                    f"{did_you_mean(node.denominator, ctx.denominators)} (have: "
                                    f"{', '.join(ctx.denominators) or 'none'})", node.line))
    return problems


@register("denominate", "by-framework", check=known_denominators)
def by_framework(X: np.ndarray, ctx: Context, *, scale: float = 1.0) -> np.ndarray:
    """Indicators whose node has a `denominator` are divided by it (times `scale`); others pass unchanged."""
    if problems := known_denominators(ctx):
        raise InputError(problems)
    out = X.copy()
    for j, ind in enumerate(ctx.indicators):
        name = ctx.framework.by_id[ind].denominator
        if name:
            out[:, :, j] = X[:, :, j] / ctx.denominators[name] * scale
    return out
