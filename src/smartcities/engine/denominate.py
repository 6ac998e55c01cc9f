"""Denominate: divide each indicator by the quantity its framework node names (population, area, GDP…)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .context import Context
from .registry import register


@register("denominate", "by-framework")
def by_framework(X: np.ndarray, ctx: Context, *, scale: float = 1.0) -> np.ndarray:
    """Indicators whose node has a `denominator` are divided by it (times `scale`); others pass unchanged."""
    out = X.copy()
    for j, ind in enumerate(ctx.indicators):
        name = ctx.framework.by_id[ind].denominator
        if not name:
            continue
        if name not in ctx.denominators:
            raise InputError.single(ctx.framework.source, f"indicator {ind!r} is denominated by {name!r}, which "
                                    f"is not in the data (have: {', '.join(ctx.denominators) or 'none'})")
        out[:, :, j] = X[:, :, j] / ctx.denominators[name] * scale
    return out
