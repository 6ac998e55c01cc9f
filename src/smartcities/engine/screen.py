"""Screen: drop units, and optionally indicators, whose share of present values is below a minimum.

A dropped unit's row (or indicator's column) becomes all-missing, so the array keeps its shape; the build
then leaves screened-out units out of every score and rank.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .registry import register


@register("screen", "coverage")
def coverage(X: np.ndarray, ctx: Context, *, min_coverage: float = 0.0, min_indicator_coverage: float = 0.0,
             zeros_missing: bool = False) -> np.ndarray:
    """Units below `min_coverage` (share of indicators present) and indicators below
    `min_indicator_coverage` (share of units present) are blanked. `zeros_missing` counts zeros as missing,
    like COINr's `byNAandzeros`."""
    present = ~np.isnan(X)
    if zeros_missing:
        present &= X != 0
    out = X.copy()
    unit_ok = present.mean(axis=2) >= min_coverage - 1e-12  # (runs, units)
    out[~unit_ok] = np.nan
    ind_ok = present[:, :, :].mean(axis=1) >= min_indicator_coverage - 1e-12  # (runs, indicators)
    out = np.where(ind_ok[:, None, :], out, np.nan)
    return out
