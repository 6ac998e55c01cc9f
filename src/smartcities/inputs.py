"""Resolve the inputs a spec names into the arrays a build runs on.

Inputs are files (paths relative to the spec), built-in presets (`framework: sci-2022`) or tables imported
into the spec's store (`cities: store:cities`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .engine.context import Context
from .errors import InputError, Problem, did_you_mean
from .io.coinr import read_coinr
from .io.missing import MissingCodes, suspected_codes
from .io.tables import file_hash
from .model.processing import ProcessingLog, entry
from .model.spec import Spec

STORE_PREFIX = "store:"


@dataclass(frozen=True)
class Inputs:
    """The resolved inputs of a build: the raw indicator array and everything around it."""

    X: np.ndarray  # (units, indicators) raw values in framework leaf order
    context: Context
    indicators: pd.DataFrame  # long: city, indicator, value, origin (derived | measured | data)
    hashes: dict[str, str]  # input name -> sha256 of the file (or of the table in the store)
    inventory: pd.DataFrame | None = None
    cities: pd.DataFrame | None = None
    log: ProcessingLog = ProcessingLog.of()  # what reading the inputs dropped, filled or replaced


def load_inputs(spec: Spec) -> Inputs:
    """Read every input the spec names (a COINr pair, or inventory/indicators/cities/framework).

    The log says what reading did (missing-value codes replaced, separators other than comma) and warns of
    values that look like undeclared missing-value codes."""
    inputs = _load_coinr(spec) if spec.model.data is not None else _load_city_inputs(spec)
    suspects = [entry("inputs", "suspected-missing-code", indicator=inputs.context.indicators[s.column],
                      count=s.count, detail=s.describe(), warning=True) for s in suspected_codes(inputs.X)]
    return replace(inputs, log=ProcessingLog.concat(inputs.log, ProcessingLog.of(suspects)))


def _existing(spec: Spec, key: str, value: str) -> Path:
    path = spec.resolve(value)
    if not path.exists():
        raise InputError.single(spec.path, f"{key}: {value!r} does not exist (looked for {path})",
                                line=spec.line(key))
    return path


def _load_coinr(spec: Spec) -> Inputs:
    d = spec.model.data
    idata, imeta = _existing(spec, "data", d.idata), _existing(spec, "data", d.imeta)
    t = read_coinr(idata, imeta, MissingCodes.of(spec.model.missing_values))
    if spec.model.weights:
        t = t.__class__(**{**t.__dict__, "framework": _with_weight_sets(spec, t.framework)})
    ctx = Context.of(t.units, t.framework, t.groups, t.denominators, t.unit_names)
    leaves = ctx.indicators
    long = pd.DataFrame({
        "city": np.repeat(np.array(t.units), len(leaves)),
        "indicator": np.tile(np.array(leaves), len(t.units)),
        "value": t.values.ravel(),
        "origin": "data",
    })
    return Inputs(t.values, ctx, long, {"idata": file_hash(idata), "imeta": file_hash(imeta)},
                  log=ProcessingLog.of(t.log))


def _with_weight_sets(spec: Spec, framework):
    unknown = [(name, node) for name, ws in spec.model.weights.items() for node in ws if node not in framework.by_id]
    if unknown:
        raise InputError([Problem(str(spec.path), f"weights {name!r}: unknown node {node!r}"
                                  f"{did_you_mean(node, framework.by_id)}", spec.line("weights", name, node))
                          for name, node in unknown])
    return framework.__class__(framework.nodes, framework.source, {**framework.weight_sets, **spec.model.weights})


def _read(spec: Spec, key: str, reader, hashes: dict) -> pd.DataFrame | None:
    """A table input: from the store when written `store:NAME`, else from a file checked by `reader`."""
    value = getattr(spec.model, key)
    if value is None:
        return None
    if value.startswith(STORE_PREFIX):
        if not spec.model.store:
            raise InputError.single(spec.path, f"{key}: {value!r} reads from the store, but the spec names no "
                                    "store: add store: PATH.duckdb", line=spec.line(key))
        from .store import Store  # duckdb only for a spec that reads from a store

        table = value[len(STORE_PREFIX):]
        with Store(spec.resolve(spec.model.store), read_only=True) as store:
            frame = store.table(table)
        hashes[key] = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()).hexdigest()
        return frame
    path = _existing(spec, key, value)
    hashes[key] = file_hash(path)
    return reader(path, MissingCodes.of(spec.model.missing_values))


def _load_city_inputs(spec: Spec) -> Inputs:
    # the inventory readers only for a city index: a COINr-format index never needs them
    from .inventory.derive import derive_indicators
    from .io.inventory import read_cities, read_indicators, read_inventory
    from .model.framework_files import presets, read_framework

    m = spec.model
    hashes: dict[str, str] = {}
    framework_path = m.framework if m.framework in presets() else str(_existing(spec, "framework", m.framework))
    framework = read_framework(framework_path)
    if framework_path not in presets():
        hashes["framework"] = file_hash(Path(framework_path))
    if m.weights:
        framework = _with_weight_sets(spec, framework)
    cities = _read(spec, "cities", read_cities, hashes)
    if cities is None:
        raise InputError.single(spec.path, "a city index needs a cities table: add cities: PATH.csv",
                                line=spec.line("framework"))
    inventory = _read(spec, "inventory", read_inventory, hashes)
    measured = _read(spec, "indicators", read_indicators, hashes)
    read = ProcessingLog.of([row for frame in (cities, inventory, measured) if frame is not None
                             for row in frame.attrs.get("log", ())])  # codes replaced, gazetteer fills
    unknown: list[ProcessingLog] = []
    inventory, measured = (_known_cities_only(frame, cities, getattr(m, key), spec, unknown)
                           for key, frame in (("inventory", inventory), ("indicators", measured)))

    leaves = framework.leaves()
    parts = []
    derived_leaves = [leaf for leaf in leaves if framework.by_id[leaf].derive]
    if derived_leaves:
        if inventory is None:
            raise InputError.single(spec.path, f"the framework derives {len(derived_leaves)} indicators from an "
                                    "inventory, but the spec names none: add inventory: PATH.csv",
                                    line=spec.line("framework"))
        parts.append(derive_indicators(inventory, cities, framework).assign(origin="derived"))
    if measured is not None:
        if "year" in measured:
            measured = measured.sort_values("year").groupby(["city", "indicator"], as_index=False).last()
        parts.append(measured[["city", "indicator", "value"]].assign(origin="measured"))
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["city", "indicator", "value"])
    missing = [leaf for leaf in leaves if leaf not in set(long["indicator"])]
    if missing:
        raise InputError.single(spec.path, "no values for indicator(s) " + ", ".join(missing) + ": give each a "
                                "derive rule in the framework or rows in the indicators table",
                                line=spec.line("framework"))
    units = list(cities["city"])
    wide = long.pivot_table(index="city", columns="indicator", values="value", aggfunc="last", dropna=False)
    X = wide.reindex(index=units, columns=leaves).to_numpy(dtype=float)
    groups, denominators = {}, {}
    for col in cities.columns:
        if col in ("city", "name", "lat", "lon", "_line"):
            continue
        if pd.api.types.is_numeric_dtype(cities[col]):
            denominators[col] = cities[col].to_numpy(dtype=float)
        else:
            groups[col] = cities[col].astype(str).to_numpy(dtype=object)
    ctx = Context.of(units, framework, groups, denominators, list(cities["name"]))
    return Inputs(X, ctx, long[long["indicator"].isin(leaves)].reset_index(drop=True), hashes, inventory, cities,
                  ProcessingLog.concat(read, *unknown))


def _known_cities_only(frame: pd.DataFrame | None, cities: pd.DataFrame, source: str | None, spec: Spec,
                       log: list[ProcessingLog]) -> pd.DataFrame | None:
    """The rows of an inventory or indicator table whose city the cities table lists. Rows of other cities
    are left out of the build and of indicators.csv, with a warning per city naming its first line and the
    closest known city: the cities table decides which cities an index covers."""
    from .io.inventory import check_cities_known

    if frame is None:
        return None
    problems = check_cities_known(frame, cities, source if source.startswith(STORE_PREFIX)
                                  else str(spec.resolve(source)))
    if not problems:
        return frame
    key = "city_id" if "city_id" in frame.columns else "city"
    known = frame[key].isin(set(cities["city"]))
    others = frame.loc[~known]
    rows = others[key].value_counts(sort=False)  # cities in order of first appearance, as the problems are
    log.append(ProcessingLog.rows(
        "inputs", "not-in-cities", units=others.drop_duplicates(key)["city"].to_numpy(dtype=object),
        counts=rows.to_numpy(), warning=True, detail=[f"{p}; its rows are left out" for p in problems]))
    return frame[known].reset_index(drop=True)


