"""Missing-value codes: the ones a spec declares (`missing_values: [999.01, "n/a"]`) and the ones it forgot.

Statistical offices write "no value" as a number (999.01, -9999) or a word ("n/a", "-"). A declared code becomes a
missing cell when a table is read. An undeclared numeric code would be scored as a real, extreme value, so
`suspected_codes` looks for its signature in the raw indicator array: several units sharing exactly the
indicator's maximum (or minimum), far beyond every other unit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")  # what a numeric cell may look like
MIN_SHARE = 2  # units holding the same extreme value before it looks like a code
MIN_OTHERS = 4  # other values needed to measure their spread
FAR = 10.0  # the code lies beyond the nearest other value by more than FAR x the others' interquartile range


@dataclass(frozen=True)
class MissingCodes:
    """Cells that mean "no value": numbers compare as numbers (999.010 is 999.01), text after stripping."""

    numbers: frozenset[float] = frozenset()
    texts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, codes: Iterable[float | str] = ()) -> MissingCodes:
        codes = list(codes)
        return cls(frozenset(float(c) for c in codes if not isinstance(c, str)),
                   frozenset(c.strip() for c in codes if isinstance(c, str)))

    def __bool__(self) -> bool:
        return bool(self.numbers or self.texts)

    def match(self, cell: str) -> str | None:
        """The code `cell` (already stripped) stands for, written as the spec writes it; None if it is no code."""
        if cell in self.texts:
            return repr(cell)
        if self.numbers and NUMBER.match(cell) and float(cell) in self.numbers:
            return f"{float(cell):g}"
        return None


@dataclass(frozen=True)
class SuspectedCode:
    """A value that looks like an undeclared missing-value code in one indicator (a column of the raw array)."""

    column: int
    value: float
    count: int  # units holding it
    side: str  # "maximum" or "minimum"
    nearest: float  # the closest other value
    spread: float  # interquartile range of the other values
    elsewhere: int = 0  # cells of other indicators holding the same value

    def describe(self) -> str:
        also = f"; {self.elsewhere} cells of other indicators hold it too" if self.elsewhere else ""
        return (f"{self.count} units hold exactly {self.value:g}, the indicator's {self.side}, "
                f"{abs(self.value - self.nearest) / self.spread:,.0f} x the other values' interquartile range "
                f"beyond the nearest other value {self.nearest:g}{also}; if it means missing, add it to the "
                "spec's missing_values")


def suspected_codes(X: np.ndarray) -> list[SuspectedCode]:
    """Values in the raw (units, indicators) array that look like undeclared missing-value codes.

    Rule, per indicator and per end (maximum, minimum): the extreme value is held by at least MIN_SHARE units,
    at least MIN_OTHERS units hold other values, and the gap from the extreme to the nearest other value exceeds
    both the full range of the other values and FAR times their interquartile range (the IQR taken as the range
    when it is 0; never flagged when the others are all equal, as in a yes/no indicator). A real maximum shared
    by several units (100 %, a capped score) sits next to the rest, and a real heavy tail stays within the
    rest's range; a code such as 999.01 among shares or -9999 among counts sits far beyond both. `elsewhere`
    counts the cells of the other indicators that hold the same value exactly.
    """
    found: list[SuspectedCode] = []
    for j in range(X.shape[1]):
        values = X[:, j][np.isfinite(X[:, j])]
        for side, extreme in (("maximum", np.max), ("minimum", np.min)):
            if len(values) < MIN_SHARE + MIN_OTHERS:
                break
            value = float(extreme(values))
            count = int(np.sum(values == value))
            others = values[values != value]
            if count < MIN_SHARE or len(others) < MIN_OTHERS:
                continue
            q1, q3 = np.percentile(others, [25, 75])
            span = float(np.ptp(others))
            spread = float(q3 - q1) or span
            nearest = float(others.max() if side == "maximum" else others.min())
            gap = abs(value - nearest)
            if spread > 0 and math.isfinite(spread) and gap > span and gap > FAR * spread:
                found.append(SuspectedCode(j, value, count, side, nearest, spread))
    flagged = {(s.column, s.value) for s in found}
    return [replace(s, elsewhere=sum(int(np.sum(X[:, k] == s.value)) for k in range(X.shape[1])
                                     if (k, s.value) not in flagged)) for s in found]
