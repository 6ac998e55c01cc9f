"""Agreement between coders of the same initiatives: Cohen's kappa (two coders) and Krippendorff's alpha.

Files are matched by `id`. Each coded column present in at least two files is compared; an empty cell is a
missing value (Krippendorff's alpha uses every pairable value; Cohen's kappa uses the rows both coders filled).
The multi-label `technologies` column is compared twice over: as the whole set (two codings agree only on the
same set), and label by label (`technologies=ai` is a yes/no judgement per row).

Cohen's kappa comes from scikit-learn (`cohen_kappa_score`), Krippendorff's alpha from the `krippendorff` package
(nominal level of measurement).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..io.tables import Field, Schema, read_table
from ..model.codebook import CODED_COLUMNS, COLUMN_BY_NAME
from .coder import coded_field

AGREE_SCHEMA = Schema(
    fields=(Field("id", "text", nullable=False), *(coded_field(c) for c in CODED_COLUMNS)),
    extra="text",
    unique=("id",),
)


def read_coding(path: str | Path) -> pd.DataFrame:
    """One coder's file: an `id` column and any of the coded columns, values checked against the codebook."""
    return read_table(path, AGREE_SCHEMA)


def _category(value, kind: str):
    """A coded value as a hashable category; None when empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "list":
        return ";".join(sorted(value)) if value else None
    if kind == "bool":
        return "true" if bool(value) else "false"
    text = str(value).strip()
    return text or None


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa over the pairs where both values are present; NaN when fewer than two pairs or when
    chance agreement is total (both coders used one and the same category throughout)."""
    from sklearn.metrics import cohen_kappa_score

    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if len(pairs) < 2:
        return math.nan
    x, y = zip(*pairs)
    if len(set(x) | set(y)) == 1:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohen_kappa_score(list(x), list(y)))


def krippendorff_alpha(data: Sequence[Sequence]) -> float:
    """Krippendorff's alpha, nominal, for a coders × units table of categories (None = missing). NaN when
    fewer than two categories occur among the values coded by two coders or more."""
    import krippendorff

    categories = sorted({v for row in data for v in row if v is not None})
    code = {c: float(i) for i, c in enumerate(categories)}
    matrix = np.array([[code[v] if v is not None else np.nan for v in row] for row in data], dtype=float)
    paired = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]
    if len(np.unique(paired[~np.isnan(paired)])) < 2:  # one category among the paired values: no expected disagreement
        return math.nan
    return float(krippendorff.alpha(reliability_data=paired, level_of_measurement="nominal",
                                     value_domain=list(code.values())))


def percent_agreement(data: Sequence[Sequence]) -> float:
    """Share of agreeing pairs among all pairs of values coded for the same unit."""
    agree = total = 0
    for unit in zip(*data):
        values = [v for v in unit if v is not None]
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                total += 1
                agree += values[i] == values[j]
    return agree / total if total else math.nan


def agreement(frames: Sequence[pd.DataFrame], names: Sequence[str] | None = None,
              per_label: bool = True) -> pd.DataFrame:
    """One row per compared column: `column`, `units` (ids coded by at least two coders), `coders`,
    `percent_agreement`, `cohen_kappa` (exactly two coders, else empty) and `krippendorff_alpha`."""
    if len(frames) < 2:
        raise ValueError("agreement needs at least two codings")
    names = list(names or [f"coder {i + 1}" for i in range(len(frames))])
    ids = sorted(set().union(*(set(f["id"]) for f in frames)))
    indexed = [f.set_index("id") for f in frames]
    rows = []
    for column in CODED_COLUMNS:
        having = [i for i, f in enumerate(indexed) if column in f.columns]
        if len(having) < 2:
            continue
        kind = COLUMN_BY_NAME[column].kind
        raw = [[indexed[i][column].get(u) if u in indexed[i].index else None for u in ids] for i in having]
        table = [[_category(v, kind) for v in coder] for coder in raw]
        rows.append(_row(column, table, len(having)))
        if kind == "list" and per_label:
            used = sorted({x for coder in raw for v in coder if isinstance(v, tuple) for x in v})
            for label in used:
                flags = [[None if not isinstance(v, tuple) or not v else ("yes" if label in v else "no")
                          for v in coder] for coder in raw]
                rows.append(_row(f"{column}={label}", flags, len(having)))
    result = pd.DataFrame(rows, columns=["column", "units", "coders", "percent_agreement", "cohen_kappa",
                                         "krippendorff_alpha"])
    result.attrs["coders"] = names
    return result


def _row(column: str, table: list[list], coders: int) -> dict:
    units = sum(1 for unit in zip(*table) if sum(v is not None for v in unit) >= 2)
    return {
        "column": column,
        "units": units,
        "coders": coders,
        "percent_agreement": percent_agreement(table),
        "cohen_kappa": cohen_kappa(table[0], table[1]) if coders == 2 else math.nan,
        "krippendorff_alpha": krippendorff_alpha(table),
    }


def agreement_of_files(paths: Sequence[str | Path], per_label: bool = True) -> pd.DataFrame:
    """Read every file (all problems in all files reported together), then compare them."""
    frames, problems = [], []
    for path in paths:
        try:
            frames.append(read_coding(path))
        except InputError as err:
            problems += err.problems
    if problems:
        raise InputError(problems)
    shared = set(frames[0]["id"]).intersection(*(set(f["id"]) for f in frames[1:]))
    if not shared:
        raise InputError([Problem(str(paths[1]), f"no id in common with {paths[0]}; rows are matched by id",
                                  column="id")])
    return agreement(frames, [str(p) for p in paths], per_label)
