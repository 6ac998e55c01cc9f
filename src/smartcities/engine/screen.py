"""Screen: remove units, and optionally indicators, whose share of present values is below a minimum.

A screen method says which units and indicators to keep; the pipeline carries that as a mask (`pipeline.Kept`),
so a removed unit or indicator stays removed for every later step: imputation cannot bring it back, and it takes
no part in any later statistic, score or rank. Coverage is counted on the data as they stand at the screen step
(COINr's Screen), so a screen after imputation counts imputed values as present.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .registry import Share, register


@register("screen", "coverage")
def coverage(X: np.ndarray, ctx: Context, *, min_coverage: Share = 0.0, min_indicator_coverage: Share = 0.0,
             zeros_missing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Units to keep `(runs, units)` — share of indicators present ≥ `min_coverage` — and indicators to keep
    `(runs, indicators)` — share of units present ≥ `min_indicator_coverage`. `zeros_missing` counts zeros as
    missing, like COINr's `byNAandzeros`. Units and indicators already removed (all missing) count for nothing."""
    present = ~np.isnan(X)
    if zeros_missing:
        present &= X != 0
    units = present.mean(axis=2) >= min_coverage - 1e-12
    counted = np.maximum((~np.isnan(X)).any(axis=2).sum(axis=1), 1)[:, None]  # units still in the data
    indicators = present.sum(axis=1) / counted >= min_indicator_coverage - 1e-12
    return units, indicators
