"""COINr's iData (wide, one row per unit) and iMeta (one row per variable) read as they are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from ..model.framework import Framework, Node
from .missing import MissingCodes
from .tables import Field, Schema, read_table

IMETA = Schema(
    fields=(
        Field("Level", "float", description="The node's level, 1 for indicators; checked against its place in the "
                                            "tree."),
        Field("iCode", "text", nullable=False, description="The code of the indicator, aggregate, group or "
                                                           "denominator; unique."),
        Field("iName", "text", required=False, description="Its name; the code when absent."),
        Field("Direction", "float", description="1 when higher is better, -1 when lower is better; needed on "
                                                "indicators."),
        Field("Weight", "float", description="Weight within the parent; needed on indicators and aggregates."),
        Field("Unit", "text", required=False, description="The indicator's unit of measurement."),
        Field("Target", "float", required=False, description="The indicator's target, for `normalise: "
                                                             "distance-to-target`."),
        Field("Denominator", "text", required=False, description="The iCode of the denominator `denominate` "
                                                                 "divides the indicator by."),
        Field("Parent", "text", description="The iCode of the parent aggregate; empty for the top node, groups and "
                                            "denominators."),
        Field("Type", "enum", ("Indicator", "Aggregate", "Group", "Denominator", "Other"), nullable=False,
              description="Group: a text column of iData, a peer group; Denominator: a numeric column of iData; "
                          "Other: left out."),
        Field("goalpost_lower", "float", required=False, description="The lower goalpost of `normalise: "
                                                                     "goalposts` (not a COINr column)."),
        Field("goalpost_upper", "float", required=False, description="The upper goalpost (not a COINr column)."),
    ),
    unique=("iCode",),
    data=False,
)
_RESERVED = ("uCode", "uName", "Time")


@dataclass(frozen=True)
class CoinrTables:
    """What a COINr pair holds, ready for a build."""

    framework: Framework
    units: tuple[str, ...]
    unit_names: tuple[str, ...]
    values: np.ndarray  # (units, indicators) in framework leaf order
    groups: dict[str, np.ndarray]
    denominators: dict[str, np.ndarray]
    log: list[dict]  # processing-log rows of reading iData (missing-value codes replaced, the separator)


def framework_from_imeta(path: str | Path) -> tuple[Framework, list[str], list[str]]:
    """The framework of an iMeta file, plus its group and denominator codes."""
    return _framework_of(read_table(path, IMETA), str(path))


def _framework_of(meta: pd.DataFrame, name: str) -> tuple[Framework, list[str], list[str]]:
    nodes, groups, denoms, problems = [], [], [], []
    for row in meta.to_dict("records"):
        kind = row["Type"]
        if kind == "Group":
            groups.append(row["iCode"])
            continue
        if kind in ("Denominator", "Other"):
            if kind == "Denominator":
                denoms.append(row["iCode"])
            continue
        for col in ("Direction", "Weight") if kind == "Indicator" else ("Weight",):
            if np.isnan(row[col]):
                problems.append(Problem(name, f"empty, expected a number for {kind.lower()} {row['iCode']!r}",
                                        row["_line"], col))
        direction = row["Direction"]
        lower, upper = row.get("goalpost_lower", np.nan), row.get("goalpost_upper", np.nan)
        target = row.get("Target", np.nan)
        nodes.append(Node(
            id=row["iCode"], name=row.get("iName") or row["iCode"], parent=row["Parent"] or None,
            weight=1.0 if np.isnan(row["Weight"]) else float(row["Weight"]),
            direction=1 if np.isnan(direction) else int(direction),
            unit=row.get("Unit"), target=None if np.isnan(target) else float(target),
            goalposts=None if np.isnan(lower) or np.isnan(upper) else (float(lower), float(upper)),
            denominator=row.get("Denominator") or None, line=int(row["_line"])))
    if problems:
        raise InputError(problems)
    framework = Framework.from_nodes(nodes, name)
    levels = dict(zip(meta.iCode, meta.Level))
    for n in nodes:
        declared = levels.get(n.id)
        if declared is not None and not np.isnan(declared) and int(declared) != framework.level[n.id]:
            problems.append(Problem(name, f"{n.id!r} is declared at level {int(declared)} but its place in the "
                                          f"tree puts it at level {framework.level[n.id]}", n.line, "Level"))
    if problems:
        raise InputError(problems)
    return framework, groups, denoms


def idata_schema(groups, denominators, indicators, panel: bool = False) -> Schema:
    """The columns of an iData file whose iMeta names these groups, denominators and indicators."""
    return Schema(
        fields=(Field("uCode", "text", nullable=False, description="The unit's code, unique: the city's id."),
                Field("uName", "text", required=False, description="The unit's name; the code when absent."),
                Field("Time", "float", required=False, description="The year of the values."),
                *(Field(g, "text", required=False, description="A group of iMeta: a peer group.") for g in groups),
                *(Field(d, "float", required=False, description="A denominator of iMeta.") for d in denominators),
                *(Field(i, "float", description="An indicator of iMeta: its values, empty where missing.")
                  for i in indicators)),
        extra="forbid",
        unique=() if panel else ("uCode",),  # a panel repeats each uCode once per Time (checked by read_coinr_panel)
    )


def read_coinr(idata: str | Path, imeta: str | Path, missing: MissingCodes = MissingCodes()) -> CoinrTables:
    """The framework of `imeta` and the values of `idata`, whose columns are those iMeta names; cells of iData
    holding a `missing` code become missing."""
    meta = read_table(imeta, IMETA)
    framework, group_codes, denom_codes = _framework_of(meta, str(imeta))
    leaves = framework.leaves()
    schema = idata_schema(group_codes, denom_codes, leaves)
    data = read_table(idata, schema, missing)
    return _tables(meta, framework, group_codes, denom_codes, data)


def read_coinr_panel(idata: str | Path, imeta: str | Path, column: str,
                     missing: MissingCodes = MissingCodes()) -> dict[float, CoinrTables]:
    """A panel iData (one row per uCode and `column` value, COINr's `Time`) split into one CoinrTables per time,
    in time order, each as `read_coinr` reads the rows of that time alone. A row without a time, or a unit twice
    in one time, is an error naming its line."""
    meta = read_table(imeta, IMETA)
    framework, group_codes, denom_codes = _framework_of(meta, str(imeta))
    leaves = framework.leaves()
    data = read_table(idata, idata_schema(group_codes, denom_codes, leaves, panel=True), missing)
    if column != "Time":
        raise InputError.single(idata, f"editions: column {column!r}: the time column of COINr's iData is Time")
    if column not in data:
        raise InputError.single(idata, "has no Time column: a panel needs one row per uCode and Time")
    problems, first = [], {}
    for line, unit, t in zip(data["_line"], data["uCode"], data[column]):
        if t != t:
            problems.append(Problem(str(idata), "empty Time: every row of a panel needs its year", int(line), column))
        elif (unit, t) in first:
            problems.append(Problem(str(idata), f"duplicate uCode {unit!r} in Time {t:g} (first on line "
                                                f"{first[unit, t]})", int(line), "uCode"))
        else:
            first[unit, t] = int(line)
    if problems:
        raise InputError(problems)
    out = {}
    for t in sorted(data[column].unique()):
        rows = data[data[column] == t].reset_index(drop=True)
        rows.attrs = data.attrs
        out[float(t)] = _tables(meta, framework, group_codes, denom_codes, rows)
    return out


def _tables(meta, framework, group_codes, denom_codes, data) -> CoinrTables:
    leaves = framework.leaves()
    return CoinrTables(
        framework=framework,
        units=tuple(data.uCode),
        unit_names=tuple(data.uName) if "uName" in data else tuple(data.uCode),
        values=data[leaves].to_numpy(dtype=float),
        groups={g: data[g].to_numpy(dtype=object) for g in group_codes if g in data},
        denominators={d: data[d].to_numpy(dtype=float) for d in denom_codes if d in data},
        log=meta.attrs["log"] + data.attrs["log"],
    )
