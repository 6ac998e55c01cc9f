"""Indicators derived from the coded inventory by small declarative rules.

A framework leaf may carry a `derive` mapping that says how its value is computed from a city's initiatives:

    derive: {kind: share, where: {technologies: {any_of: intelligent}},
             of: {item_type: [app_web_service, infrastructure_service, project]}}

Kinds (every kind takes an optional `where:` filter selecting the initiatives it looks at):

- `count`       number of matching initiatives.
- `share`       matching initiatives as a share of the city's initiatives, or of those matching `of:`.
- `presence`    1 if the city has any matching initiative, else 0.
- `diversity`   Shannon entropy (natural log) of `column`'s categories over the matching initiatives; with
                `normalise: true` divided by ln(k), k the number of categories counted, so it lies in [0, 1].
- `distinct`    number of distinct categories of `column` among the matching initiatives.
- `per_capita`  number of matching initiatives per `per` residents (default 1,000,000), using the cities table's
                `denominator` column (default `population`).
- `mean`        mean of a numeric or true/false `column` over the matching initiatives.

`diversity` and `distinct` count the codebook's categories of `column`, or only `categories:` (a list or a named
set), less those in `exclude:`. For `technologies` (a list column) each initiative counts once per technology.

A filter maps codebook columns to conditions, all of which must hold (AND):

- `column: value`              equal (for `technologies`: includes the value)
- `column: [a, b]`             one of the values (for `technologies`: includes any of them)
- `column: {in: [..]}`, `{not_in: [..]}`, `{not: value}`
- `technologies: {any_of: [..]}`, `{all_of: [..]}`, `{none_of: [..]}`
- `start_year: {min: 2015, max: 2020}`
- `inclusive: true` for the true/false columns.

Wherever a list of technologies is expected, a name of a set may stand instead: `intelligent` (the codebook's
fourth-industrial-revolution technologies) or `advanced` (those less IoT and big data).

A city with no initiatives at all gets counts 0 and presence 0, and NaN for shares, diversity and means (there is
nothing to take a share of). Rules are checked before anything is computed; nothing here evaluates strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, did_you_mean, one_of
from ..model.codebook import COLUMN_BY_NAME, INTELLIGENT_TECHNOLOGIES
from ..model.framework import Framework

KINDS = ("count", "share", "presence", "diversity", "distinct", "per_capita", "mean")
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "intelligent": INTELLIGENT_TECHNOLOGIES,
    "advanced": tuple(t for t in INTELLIGENT_TECHNOLOGIES if t not in ("iot", "big_data")),
}
_KEYS = {
    "count": ("where",),
    "share": ("where", "of"),
    "presence": ("where",),
    "diversity": ("where", "column", "categories", "exclude", "normalise"),
    "distinct": ("where", "column", "categories", "exclude"),
    "per_capita": ("where", "per", "denominator"),
    "mean": ("where", "column"),
}
_REQUIRED = {"share": ("where",), "diversity": ("column",), "distinct": ("column",), "mean": ("column",)}
_OPERATORS = {
    "enum": ("in", "not_in", "not"),
    "text": ("in", "not_in", "not"),
    "list": ("any_of", "all_of", "none_of"),
    "int": ("min", "max", "in", "not_in", "not"),
    "bool": ("not",),
}
_LIST_OPERATORS = ("in", "not_in", "any_of", "all_of", "none_of")


# --- checking --------------------------------------------------------------------------------------------------

def check_rule(rule: Any) -> list[str]:
    """Every problem with a `derive` rule, each a message naming the key it is about ('derive.where.x: ...')."""
    if not isinstance(rule, Mapping):
        return [f"derive: expected a mapping such as {{kind: count, where: {{...}}}}, found {_show(rule)}"]
    kind = rule.get("kind")
    if kind is None:
        return ["derive: missing 'kind' (one of " + ", ".join(KINDS) + ")"]
    if kind not in KINDS:
        return ["derive.kind: " + one_of(str(kind), KINDS)]
    problems: list[str] = []
    allowed = ("kind", *_KEYS[kind])
    for key in rule:
        if key not in allowed:
            problems.append(f"derive: unknown key {key!r} for kind {kind}{did_you_mean(str(key), allowed)}; "
                            f"known keys: {', '.join(allowed)}")
    for key in _REQUIRED.get(kind, ()):
        if key not in rule:
            problems.append(f"derive: kind {kind} needs {key!r}")
    for key in ("where", "of"):
        if key in rule:
            problems += check_filter(rule[key], f"derive.{key}")
    if "column" in rule:
        problems += _check_column(kind, rule)
    if kind == "per_capita":
        per = rule.get("per", 1_000_000)
        if isinstance(per, bool) or not isinstance(per, (int, float)) or not per > 0:
            problems.append(f"derive.per: {_show(per)} must be a number of residents above 0, e.g. 1000000")
        denominator = rule.get("denominator", "population")
        if not isinstance(denominator, str) or not denominator:
            problems.append(f"derive.denominator: {_show(denominator)} must name a column of the cities table")
    if "normalise" in rule and not isinstance(rule["normalise"], bool):
        problems.append(f"derive.normalise: {_show(rule['normalise'])} must be true or false")
    return problems


def _check_column(kind: str, rule: Mapping) -> list[str]:
    name = rule["column"]
    column = COLUMN_BY_NAME.get(name) if isinstance(name, str) else None
    wanted = ("int", "bool") if kind == "mean" else ("enum", "list")
    candidates = [c.name for c in COLUMN_BY_NAME.values() if c.kind in wanted]
    if column is None or column.kind not in wanted:
        return ["derive.column: " + one_of(str(name), candidates)]
    if kind == "mean":
        return []
    problems = []
    for key in ("categories", "exclude"):
        if key in rule:
            _, message = _values(rule[key], column)
            if message:
                problems.append(f"derive.{key}: {message}")
    if not problems and rule.get("normalise") and len(_categories(rule, column)) < 2:
        problems.append("derive.normalise: needs at least two categories to divide by ln(k)")
    return problems


def check_filter(where: Any, at: str = "where") -> list[str]:
    """Every problem with one filter mapping; `at` names where it sits (for the messages)."""
    if not isinstance(where, Mapping):
        return [f"{at}: expected a mapping of codebook columns to conditions, found {_show(where)}"]
    problems = []
    for name, condition in where.items():
        column = COLUMN_BY_NAME.get(name) if isinstance(name, str) else None
        if column is None:
            problems.append(f"{at}: unknown column {name!r}{did_you_mean(str(name), COLUMN_BY_NAME)}; "
                            f"known columns: {', '.join(COLUMN_BY_NAME)}")
            continue
        where_at = f"{at}.{name}"
        if isinstance(condition, Mapping):
            operators = _OPERATORS[column.kind]
            if not condition:
                problems.append(f"{where_at}: empty condition; use one of {', '.join(operators)}")
            for op in condition:
                if op not in operators:
                    problems.append(f"{where_at}: operator " + one_of(str(op), operators))
        elif column.kind == "bool" and isinstance(condition, list):
            problems.append(f"{where_at}: {_show(condition)} must be true or false")
            continue
        for op, value in _as_condition(column, condition).items():
            if op in _OPERATORS[column.kind] or op == "eq":
                at_op = f"{where_at}.{op}" if isinstance(condition, Mapping) else where_at
                problems += [f"{at_op}: {m}" for m in _check_operand(column, op, value)]
    return problems


def _as_condition(column, condition) -> Mapping:
    """A condition in its operator form: a bare value means equality, a bare list means `in` (`any_of` for a
    list column)."""
    if isinstance(condition, Mapping):
        return condition
    if column.kind == "list":
        single = isinstance(condition, str) and condition not in VALUE_SETS
        return {"any_of": [condition] if single else condition}
    if isinstance(condition, list):
        return {"in": condition}
    return {"eq": condition}


def _check_operand(column, op: str, value) -> list[str]:
    if column.kind == "bool":
        return [] if isinstance(value, bool) else [f"{_show(value)} must be true or false"]
    if op in ("min", "max"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{_show(value)} must be a number"]
    if op in _LIST_OPERATORS:
        _, message = _values(value, column)
        return [message] if message else []
    if column.kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{_show(value)} must be a whole number"]
    if isinstance(value, (list, tuple, Mapping)):
        return [f"expected one value, found {_show(value)}"]
    if column.values and value not in column.values:
        return [one_of(str(value), column.values)]
    return []


def _values(value, column) -> tuple[tuple, str | None]:
    """The values of a list operand (a list, or the name of a value set) and a message if any is not allowed."""
    if isinstance(value, str) and value in VALUE_SETS and column.name == "technologies":
        return VALUE_SETS[value], None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        sets = f" or one of the sets {', '.join(VALUE_SETS)}" if column.name == "technologies" else ""
        return (), f"expected a list of values{sets}, found {_show(value)}"
    if column.kind == "int":
        bad = [v for v in value if not isinstance(v, int) or isinstance(v, bool)]
        return tuple(value), (f"{_show(bad[0])} is not a whole number" if bad else None)
    if column.values:
        bad = [v for v in value if v not in column.values]
        if bad:
            named = tuple(VALUE_SETS) if column.name == "technologies" else ()
            return tuple(value), one_of(str(bad[0]), column.values + named)
    return tuple(value), None


def _categories(rule: Mapping, column) -> tuple[str, ...]:
    chosen = _values(rule["categories"], column)[0] if "categories" in rule else column.values
    excluded = set(_values(rule["exclude"], column)[0]) if "exclude" in rule else set()
    return tuple(c for c in chosen if c not in excluded)


def _show(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


# --- evaluating ------------------------------------------------------------------------------------------------

def filter_mask(inventory: pd.DataFrame, where: Mapping | None) -> pd.Series:
    """True for the initiatives matching every condition of a (checked) filter."""
    mask = pd.Series(True, index=inventory.index)
    for name, condition in (where or {}).items():
        column = COLUMN_BY_NAME[name]
        if name not in inventory.columns:
            raise InputError.single(inventory.attrs.get("source", "inventory"),
                                    f"a derive rule filters on column {name!r}, which the inventory does not have")
        values = inventory[name]
        for op, operand in _as_condition(column, condition).items():
            mask &= _condition(values, column, op, operand)
    return mask


def _condition(values: pd.Series, column, op: str, operand) -> pd.Series:
    if column.kind == "list":
        wanted = set(_values(operand, column)[0])
        items = values.map(_as_items)
        if op == "any_of":
            return items.map(lambda t: bool(wanted & t)).astype(bool)
        if op == "all_of":
            return items.map(lambda t: wanted <= t).astype(bool)
        return items.map(lambda t: not (wanted & t)).astype(bool)  # none_of
    if column.kind == "bool":
        truth = values.map(_as_bool)
        result = truth == (not operand if op == "not" else operand)
        return result & truth.notna()
    if op == "min":
        return (pd.to_numeric(values, errors="coerce") >= operand).fillna(False).astype(bool)
    if op == "max":
        return (pd.to_numeric(values, errors="coerce") <= operand).fillna(False).astype(bool)
    if op == "in":
        return values.isin(list(operand)).fillna(False).astype(bool)
    if op == "not_in":
        return (~values.isin(list(operand))).fillna(False).astype(bool)
    if op == "not":
        return (values != operand).fillna(False).astype(bool)
    return (values == operand).fillna(False).astype(bool)


def _as_items(cell) -> frozenset:
    if isinstance(cell, (tuple, list, set, frozenset)):
        return frozenset(cell)
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return frozenset()
    return frozenset(item.strip() for item in str(cell).split(";") if item.strip())


def _as_bool(cell):
    if isinstance(cell, (bool, np.bool_)):
        return bool(cell)
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return None
    text = str(cell).strip().lower()
    return True if text in ("true", "1", "yes") else False if text in ("false", "0", "no") else None


def city_keys(inventory: pd.DataFrame) -> pd.Series:
    """Each initiative's city id: the `city_id` column, or the slug of `city`."""
    if "city_id" in inventory.columns:
        return inventory["city_id"]
    from ..io.inventory import slug

    return inventory["city"].map(slug)


def evaluate_rule(rule: Mapping, inventory: pd.DataFrame, cities: pd.DataFrame) -> pd.Series:
    """The value of one checked rule for every city of `cities` (a Series indexed by the `city` ids)."""
    ids = pd.Index(cities["city"], name="city")
    keys = city_keys(inventory)
    has_data = ids.isin(set(keys))
    kind = rule["kind"]
    mask = filter_mask(inventory, rule.get("where"))

    def per_city(selected: pd.Series) -> pd.Series:
        return selected.astype(float).groupby(keys).sum().reindex(ids, fill_value=0.0)

    if kind in ("count", "presence", "per_capita"):
        n = per_city(mask)
        if kind == "presence":
            return (n > 0).astype(float)
        if kind == "count":
            return n
        denominator = rule.get("denominator", "population")
        if denominator not in cities.columns:
            raise InputError.single(cities.attrs.get("source", "cities"),
                                    f"a per_capita rule divides by column {denominator!r}, which the cities table "
                                    f"does not have{did_you_mean(denominator, cities.columns)}")
        base = pd.to_numeric(pd.Series(cities[denominator].to_numpy(), index=ids), errors="coerce")
        return n / base.where(base > 0) * float(rule.get("per", 1_000_000))
    if kind == "share":
        of = filter_mask(inventory, rule.get("of"))
        num, den = per_city(mask & of), per_city(of)
        return (num / den.where(den > 0)).where(has_data)
    if kind == "mean":
        column = COLUMN_BY_NAME[rule["column"]]
        values = inventory[column.name].map(_as_bool) if column.kind == "bool" else inventory[column.name]
        values = pd.to_numeric(values.astype(object).where(mask), errors="coerce")
        return values.groupby(keys).mean().reindex(ids)
    # diversity, distinct: counts of each counted category per city
    column = COLUMN_BY_NAME[rule["column"]]
    counted = _categories(rule, column)
    pairs = [(city, value)
             for city, cell in zip(keys[mask], inventory.loc[mask, column.name])
             for value in (sorted(_as_items(cell)) if column.kind == "list" else [cell])
             if value in counted]
    if not pairs:
        return pd.Series(0.0, index=ids) if kind == "distinct" else pd.Series(0.0, index=ids).where(has_data)
    table = pd.DataFrame(pairs, columns=["city", "category"]).value_counts()
    if kind == "distinct":
        return table.groupby(level="city").size().astype(float).reindex(ids, fill_value=0.0)
    entropy = table.groupby(level="city").apply(_shannon).reindex(ids, fill_value=0.0)
    if rule.get("normalise"):
        entropy = entropy / math.log(len(counted))
    return entropy.where(has_data)


def _shannon(counts: pd.Series) -> float:
    p = counts.to_numpy(dtype=float)
    p = p / p.sum()
    return float(-(p * np.log(p)).sum()) + 0.0  # + 0.0 turns -0.0 (one category) into 0.0


def derive_indicators(inventory: pd.DataFrame, cities: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """Long table `city, indicator, value` of every leaf with a `derive` rule, for every city of `cities`.

    Raises InputError when a rule is malformed (naming the framework file and the node's line) or when the
    inventory names a city that the cities table does not list.
    """
    from ..io.inventory import check_cities_known

    problems: list[Problem] = []
    rules = {}
    for leaf in framework.leaves():
        node = framework.by_id[leaf]
        if node.derive is None:
            continue
        for message in check_rule(node.derive):
            problems.append(Problem(framework.source, f"node {leaf!r}: {message}", node.line, "derive"))
        rules[leaf] = node.derive
    frame = inventory if "city_id" in inventory.columns else inventory.assign(city_id=city_keys(inventory))
    problems += check_cities_known(frame, cities, inventory.attrs.get("source", "inventory"))
    if problems:
        raise InputError(problems)
    parts = []
    for leaf, rule in rules.items():
        values = evaluate_rule(rule, frame, cities)
        parts.append(pd.DataFrame({"city": values.index.to_numpy(), "indicator": leaf,
                                   "value": values.to_numpy(dtype=float)}))
    if not parts:
        return pd.DataFrame({"city": pd.Series(dtype=object), "indicator": pd.Series(dtype=object),
                             "value": pd.Series(dtype=float)})
    return pd.concat(parts, ignore_index=True)
