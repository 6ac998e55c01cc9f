"""The review loop: the file `smartcities code --review` writes is the one a person corrects, and the corrected
rows are training examples for `smartcities train-coder --add` and `smartcities evaluate-coder --add`.

A review file has one row per value the model coded with a low confidence (`REVIEW_COLUMNS`): the initiative's
`id`, the `line` of the coded input it came from, its `city`, `name` and `description`, the coded `column`, the
proposed `value`, its `confidence`, and an empty `corrected` cell. A person writes the right value into `corrected`
(the proposed one, when it was right; a codebook value of that column, `;`-separated for `technologies`,
`true`/`false` for the flags) and leaves it empty for rows not reviewed.

Reading it back (`read_additions`), every `corrected` value is checked against the codebook and every problem is
reported with its file, line and column. Rows are then left out, and counted, when:

- `corrected` is empty (not reviewed);
- the city is one of the hold-out cities of HOLDOUT.md (they are never trained on);
- the text (`name. description`) is one the training inventory already codes (correct the inventory instead).

The rows of one initiative (same text) become one example that carries a value for each reviewed column and none
for the others; a head is fitted on the examples that have a value for its column. Two different corrections of
the same column of the same text are an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..io.tables import Field, Schema, _parse, read_table
from ..model.codebook import CODED_COLUMNS, COLUMN_BY_NAME
from .coder import text_of, texts_of

REVIEW_COLUMNS = ("id", "line", "city", "name", "description", "column", "value", "confidence", "corrected")
REVIEW_SCHEMA = Schema(
    fields=(
        Field("id", "text", required=False),
        Field("line", "int", required=False),
        Field("city", "text", nullable=False, description="needed to keep the hold-out cities out of training"),
        Field("name", "text", nullable=False),
        Field("description", "text"),
        Field("column", "enum", CODED_COLUMNS, nullable=False),
        Field("value", "text", required=False),
        Field("confidence", "float", required=False),
        Field("corrected", "text"),
    ),
    extra="text",
    data=False,  # a `corrected` cell reading `none` is a codebook value, not a missing-value code
)


def parse_value(column: str, cell: str) -> tuple[object, str | None]:
    """A codebook value of `column` written as in the coded CSVs, and what is wrong with it (or None)."""
    spec = COLUMN_BY_NAME[column]
    value, problem = _parse(cell.strip(), Field(column, spec.kind, spec.values, nullable=False))
    if problem is None and spec.kind == "list" and not value:
        problem = f"empty, expected ';'-separated values from {', '.join(spec.values)}"
    return value, problem


@dataclass
class Additions:
    """Reviewed examples ready to train on (`frame`: id, city, name, description and every coded column, None
    where that column was not reviewed) and what each file gave (`files`)."""

    frame: pd.DataFrame
    files: list[dict] = field(default_factory=list)

    @property
    def values(self) -> int:
        """How many reviewed values the examples carry."""
        return int(sum(self.frame[c].notna().sum() for c in CODED_COLUMNS)) if len(self.frame) else 0


def read_additions(paths: Sequence[str | Path], training: pd.DataFrame, holdout: Sequence[str]) -> Additions:
    """The reviewed rows of every file in `paths`, checked (all problems of all files raised together), without
    the rows left out (see the module's docstring) and merged into one example per text. `training` is the
    inventory the heads are fitted on, `holdout` the cities never trained on."""
    known = set(texts_of(training))
    held = set(holdout)
    examples: dict[str, dict] = {}
    origin: dict[tuple[str, str], str] = {}  # (text, column) -> where its value was read
    files, problems = [], []
    for path in paths:
        path = Path(path)
        try:
            frame = read_table(path, REVIEW_SCHEMA)
        except InputError as err:
            problems += err.problems
            continue
        stats = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": len(frame),
                 "used": 0, "unreviewed": 0, "holdout": 0, "in_training": 0, "holdout_cities": []}
        for row in frame.to_dict("records"):
            line, column, cell = int(row["_line"]), row["column"], (row["corrected"] or "").strip()
            if not cell:
                stats["unreviewed"] += 1
                continue
            value, problem = parse_value(column, cell)
            if problem:
                problems.append(Problem(str(path), problem, line, "corrected"))
                continue
            text = text_of(row["name"], row["description"])
            if row["city"] in held:
                stats["holdout"] += 1
                stats["holdout_cities"] = sorted(set(stats["holdout_cities"]) | {row["city"]})
                continue
            if text in known:
                stats["in_training"] += 1
                continue
            example = examples.setdefault(text, {"id": row.get("id"), "city": row["city"], "name": row["name"],
                                                 "description": row["description"],
                                                 **{c: None for c in CODED_COLUMNS}})
            if example[column] is None:
                example[column] = value
                origin[(text, column)] = f"{path} line {line}"
                stats["used"] += 1
            elif example[column] != value:
                problems.append(Problem(str(path), f"corrects {column} of this initiative to {cell!r}, but "
                                        f"{origin[(text, column)]} gives another value", line, "corrected"))
        files.append(stats)
    if problems:
        raise InputError(problems)
    frame = pd.DataFrame(list(examples.values()), columns=["id", "city", "name", "description", *CODED_COLUMNS])
    return Additions(frame, files)


def describe(files: Sequence[dict]) -> list[str]:
    """One line per added file (`Additions.files`): what was used and what was left out, and why."""
    lines = []
    for s in files:
        left = [f"{s['unreviewed']} not reviewed (corrected empty)"] if s["unreviewed"] else []
        if s["holdout"]:
            left.append(f"{s['holdout']} of hold-out cities ({', '.join(s['holdout_cities'])}), never trained on")
        if s["in_training"]:
            left.append(f"{s['in_training']} already in the training inventory (correct the inventory instead)")
        lines.append(f"{s['file']}: {s['used']} reviewed values of {s['rows']} rows added"
                     + (f"; left out: {'; '.join(left)}" if left else ""))
    return lines
