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
from .io.coinr import read_coinr, read_coinr_panel
from .io.missing import MissingCodes, suspected_codes
from .io.tables import file_hash, noted_year, year_note
from .model.columns import labels
from .model.processing import ProcessingLog, entry
from .model.spec import Spec, WideTable

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
    sensor_map: dict | None = None  # with a `sensors:` block: the city map's document (sensors.view.map_document)


def load_inputs(spec: Spec) -> Inputs:
    """Read every input the spec names (a COINr pair, or inventory/indicators/cities/framework).

    The log says what reading did (missing-value codes replaced, separators other than comma) and warns of
    values that look like undeclared missing-value codes."""
    if spec.model.editions is not None:  # the latest edition's: what a check of the spec's pipeline reads
        return list(load_edition_inputs(spec).values())[-1]
    return _with_suspects(_load_coinr(spec) if spec.model.data is not None else _load_city_inputs(spec))


def _existing(spec: Spec, key: str | tuple[str, ...], value: str) -> Path:
    """The path a spec key names, refused at that key's line when it does not exist (`key` a path of keys for a
    nested one)."""
    keys = (key,) if isinstance(key, str) else key
    path = spec.resolve(value)
    if not path.exists():
        raise InputError.single(spec.path, f"{': '.join(keys)}: {value!r} does not exist (looked for {path})",
                                line=spec.line(*keys))
    return path


def _load_coinr(spec: Spec) -> Inputs:
    d = spec.model.data
    idata, imeta = _existing(spec, "data", d.idata), _existing(spec, "data", d.imeta)
    t = read_coinr(idata, imeta, MissingCodes.of(spec.model.missing_values))
    return _coinr_inputs(spec, t, {"idata": file_hash(idata), "imeta": file_hash(imeta)})


def _with_weight_sets(spec: Spec, framework):
    """The framework with the spec's named weight sets added, each naming its nodes and keeping to the rule of the
    framework's own weights."""
    unknown = [(name, node) for name, ws in spec.model.weights.items() for node in ws if node not in framework.by_id]
    problems = [Problem(str(spec.path), f"weights {name!r}: unknown node {node!r}"
                        f"{did_you_mean(node, framework.by_id)}", spec.line("weights", name, node))
                for name, node in unknown]
    problems += [Problem(str(spec.path), f"weights {name!r}: node {node!r}: {fault}", spec.line("weights", name, node))
                 for name, ws in spec.model.weights.items() for node, fault in framework.weight_faults(ws)]
    if problems:
        raise InputError(problems)
    return framework.__class__(framework.nodes, framework.source, {**framework.weight_sets, **spec.model.weights})


def _read(spec: Spec, key: str, reader, hashes: dict, wide_reader=None) -> pd.DataFrame | None:
    """A table input: from the store when written `store:NAME`, a wide table read by `wide_reader`, else from a
    file checked by `reader`."""
    value = getattr(spec.model, key)
    if value is None:
        return None
    if isinstance(value, WideTable):
        path = _existing(spec, key, value.file)
        hashes[key] = file_hash(path)
        return wide_reader(path, value.id_columns, value.column_map, value.encoding,
                           MissingCodes.of(spec.model.missing_values), value.duplicates, value.thousands,
                           value.fallback_encoding)
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


def load_edition_inputs(spec: Spec) -> dict[float, Inputs]:
    """The inputs of every edition an `editions:` block names, in time order: each edition's Inputs are what a
    single build of that edition's rows alone reads (the rows of COINr's iData with that `Time`, the rows of the
    indicators table with that `year`)."""
    e = spec.model.editions
    if spec.model.data is not None:
        d = spec.model.data
        idata, imeta = _existing(spec, "data", d.idata), _existing(spec, "data", d.imeta)
        if e.column != "Time":
            raise InputError.single(spec.path, f"editions: column {e.column!r}: the time column of COINr's iData "
                                    "is Time", line=spec.line("editions", "column"))
        panel = read_coinr_panel(idata, imeta, e.column, MissingCodes.of(spec.model.missing_values))
        hashes = {"idata": file_hash(idata), "imeta": file_hash(imeta)}
        found = {t: _coinr_inputs(spec, tables, hashes) for t, tables in panel.items()}
    else:
        if e.column == "start_year":
            return {t: _with_suspects(one) for t, one in _inventory_editions(spec).items()}
        if e.column != "year":
            raise InputError.single(spec.path, f"editions: column {e.column!r}: a city index takes its editions "
                                    "from the year column of the indicators table (column: year) or from the "
                                    "start_year of its inventory (column: start_year)",
                                    line=spec.line("editions", "column"))
        found = _city_editions(spec)
    return {t: _with_suspects(found[t]) for t in _chosen(spec, list(found))}


def _inventory_editions(spec: Spec) -> dict[float, Inputs]:
    """Editions of an inventory, cumulative by start_year: edition Y is a single build of the inventory's rows
    started in or before Y (the state of each city's inventory as of Y). Rows with no start_year are left out
    of every edition (`undated: leave-out`) or counted in every one (`undated: every-edition`); either way the
    processing log counts them per city, as it counts per city the rows started after the edition."""
    e = spec.model.editions
    tables = _read_city_tables(spec)
    framework, cities, inventory, measured = tables[:4]
    if inventory is None or not any(framework.by_id[leaf].derive for leaf in framework.leaves()):
        raise InputError.single(spec.path, "editions: column start_year: editions by start_year count an "
                                "inventory's initiatives, but the spec names no inventory the framework derives "
                                "indicators from", line=spec.line("editions", "column"))
    if measured is not None and "year" in measured:
        raise InputError.single(spec.path, "editions: column start_year: the indicators table has a year column "
                                "of its own; editions come from one time column, so give either the inventory's "
                                "start_year or the indicators' year", line=spec.line("editions", "column"))
    if "start_year" not in inventory:
        raise InputError.single(spec.path, "editions: column start_year: the inventory has no start_year column",
                                line=spec.line("editions", "column"))
    started = inventory["start_year"].astype("Float64")
    dated = started.notna().to_numpy()
    present = sorted(float(y) for y in started[dated].unique())
    chosen = _chosen(spec, present, cumulative=True)
    key = "city_id" if "city_id" in inventory.columns else "city"
    where = "inventory " + str(spec.model.inventory)
    out = {}
    for year in chosen:
        until = (started <= year).fillna(False).to_numpy(dtype=bool)
        keep = until | ~dated if e.undated == "every-edition" else until
        later = dated & ~until
        rows = []
        for mask, action, detail in (
                (~dated, "undated-left-out" if e.undated == "leave-out" else "undated-counted",
                 "initiatives with no start_year, " + ("left out of every edition (undated: leave-out)"
                                                       if e.undated == "leave-out" else
                                                       "counted in every edition (undated: every-edition)")),
                (later, "started-later", f"initiatives started after {_label(year)}, not yet in this edition")):
            counts = inventory.loc[mask, key].value_counts(sort=False)
            rows += [entry("editions", action, unit=str(city), count=int(n), detail=f"{detail} ({where})")
                     for city, n in counts.items()]
        one = _assemble_city(spec, (framework, cities, inventory[keep].reset_index(drop=True), *tables[3:]),
                             measured)
        out[year] = replace(one, log=ProcessingLog.concat(one.log, ProcessingLog.of(rows)))
    return out


def _chosen(spec: Spec, present: list[float], cumulative: bool = False) -> list[float]:
    """The editions to build, checked against those the data have. With `cumulative` (editions by start_year)
    any year from the first initiative's on is an edition, whether or not an initiative started in it."""
    e = spec.model.editions
    chosen = sorted(present) if e.values is None else list(e.values)
    lacking = [v for v in chosen if (v < present[0] if cumulative and present else v not in present)]
    have = ", ".join(_label(v) for v in sorted(present)) or "none"
    if lacking:
        if cumulative:
            raise InputError.single(spec.path, f"editions: values: edition {_label(lacking[0])} is before the "
                                    f"first start_year of the inventory ({_label(present[0])}): it would count no "
                                    "initiative", line=spec.line("editions", "values"))
        raise InputError.single(spec.path, f"editions: values: the data have no edition {_label(lacking[0])} "
                                f"(column {e.column}); have: {have}", line=spec.line("editions", "values"))
    if len(chosen) < 2:
        raise InputError.single(spec.path, f"editions: the data have {len(chosen)} edition(s) in column "
                                f"{e.column} ({have}); editions need at least two", line=spec.line("editions"))
    if chosen != sorted(chosen):
        raise InputError.single(spec.path, "editions: values must be in time order, earliest first",
                                line=spec.line("editions", "values"))
    if e.reference is not None and e.reference not in chosen:
        raise InputError.single(spec.path, f"editions: reference {_label(e.reference)} is not among the editions "
                                f"({', '.join(map(_label, chosen))})", line=spec.line("editions", "reference"))
    return chosen


def _label(edition: float) -> str:
    return str(int(edition)) if float(edition).is_integer() else str(edition)


def _with_suspects(inputs: Inputs) -> Inputs:
    suspects = [entry("inputs", "suspected-missing-code", indicator=inputs.context.indicators[s.column],
                      count=s.count, detail=s.describe(), warning=True) for s in suspected_codes(inputs.X)]
    return replace(inputs, log=ProcessingLog.concat(inputs.log, ProcessingLog.of(suspects)))


def _coinr_inputs(spec: Spec, t, hashes: dict[str, str]) -> Inputs:
    if spec.model.weights:
        t = t.__class__(**{**t.__dict__, "framework": _with_weight_sets(spec, t.framework)})
    ctx = Context.of(t.units, t.framework, t.groups, t.denominators, t.unit_names)
    leaves = ctx.indicators
    long = pd.DataFrame({
        "city": labels(t.units, np.repeat(np.arange(len(t.units)), len(leaves))),
        "indicator": labels(leaves, np.tile(np.arange(len(leaves)), len(t.units))),
        "value": t.values.ravel(),
        "origin": "data",
    })
    return Inputs(t.values, ctx, long, dict(hashes), log=ProcessingLog.of(t.log))


def _city_editions(spec: Spec) -> dict[float, Inputs]:
    tables = _read_city_tables(spec)
    framework, cities, inventory, measured = tables[:4]
    if any(framework.by_id[leaf].derive for leaf in framework.leaves()):
        raise InputError.single(spec.path, f"editions: column {spec.model.editions.column}: the framework derives "
                                "indicators from an inventory, whose editions are cumulative by its start_year: "
                                "write column: start_year",
                                line=spec.line("editions"))
    if measured is None or "year" not in measured:
        raise InputError.single(spec.path, "editions: column year: the indicators table has no year column",
                                line=spec.line("editions", "column"))
    no_year = measured[measured["year"].isna()]
    if len(no_year):
        raise InputError([Problem(str(spec.resolve(spec.model.indicators)), "empty year: with editions every row "
                                  "needs its year", int(line), "year") for line in no_year["_line"].head(10)])
    years = sorted(float(y) for y in measured["year"].unique())
    return {y: _assemble_city(spec, _of_year(tables, y), measured[measured["year"] == y]) for y in years}


def _of_year(tables, year: float):
    """The tables of a city index with their reading log's missing-code rows of the indicators table cut to one
    year's (a row of another year belongs to that edition's log)."""
    log = tables[-1].table
    cell_year = noted_year(log["detail"])
    other = cell_year.notna() & (pd.to_numeric(cell_year, errors="coerce") != year)
    return (*tables[:-1], ProcessingLog(log[~other].reset_index(drop=True)))


def _load_city_inputs(spec: Spec) -> Inputs:
    tables = _read_city_tables(spec)
    return _assemble_city(spec, tables, tables[3])


def _read_city_tables(spec: Spec):
    """The framework, cities, inventory and indicators tables of a city index, the input hashes and the log rows
    of reading them."""
    from .io.inventory import read_cities, read_indicators, read_inventory
    from .io.wide import wide_cities, wide_indicators
    from .model.framework_files import presets, read_framework

    m = spec.model
    hashes: dict[str, str] = {}
    if m.framework not in presets() and not Path(m.framework).suffix and not spec.resolve(m.framework).exists():
        raise InputError.single(spec.path, f"framework: unknown preset {m.framework!r}"
                                f"{did_you_mean(m.framework, presets())}; presets: {', '.join(presets())} "
                                "(`smartcities frameworks` lists them); or give a .yaml, .json or .csv file",
                                line=spec.line("framework"))
    framework_path = m.framework if m.framework in presets() else str(_existing(spec, "framework", m.framework))
    framework = read_framework(framework_path)
    if framework_path not in presets():
        hashes["framework"] = file_hash(Path(framework_path))
    if m.weights:
        framework = _with_weight_sets(spec, framework)
    cities = _read(spec, "cities", read_cities, hashes, wide_cities)
    if cities is None:
        raise InputError.single(spec.path, "a city index needs a cities table: add cities: PATH.csv",
                                line=spec.line("framework"))
    inventory = _read(spec, "inventory", read_inventory, hashes)
    if isinstance(m.indicators, WideTable):
        _check_wide_columns(spec, framework)
    measured = _read(spec, "indicators", read_indicators, hashes, wide_indicators)
    # what reading did moves into the processing log, out of the frames' attrs: pandas deep-copies attrs into every
    # frame made from one, a tenth of a second per step with a log row per city
    rows = [row for frame in (cities, inventory, measured) if frame is not None for row in frame.attrs.pop("log", ())]
    # codes replaced, gazetteer fills; a wide file giving both the cities and the indicators says its rows once
    read = ProcessingLog.of(list({tuple(row.items()): row for row in rows}.values()))
    unknown: list[ProcessingLog] = []
    inventory, measured = (_known_cities_only(frame, cities, _source(getattr(m, key)), spec, unknown)
                           for key, frame in (("inventory", inventory), ("indicators", measured)))
    if measured is not None:
        measured = _measured_leaves_only(measured, framework, _shown(spec, _source(m.indicators)), unknown)
    sensor_map = None
    if m.sensors is not None:
        measured, sensor_map = _with_sensor_indicators(spec, measured, cities, framework, hashes, unknown)
        read = ProcessingLog.concat(read, ProcessingLog.of(measured.attrs.pop("sensor_log")))
    return framework, cities, inventory, measured, sensor_map, hashes, ProcessingLog.concat(read, *unknown)


def _with_sensor_indicators(spec: Spec, measured: pd.DataFrame | None, cities: pd.DataFrame, framework,
                            hashes: dict, unknown: list[ProcessingLog]) -> tuple[pd.DataFrame, dict]:
    """The indicators table with the values the spec's sensor rules compute from its sensor store: one row per
    unit, indicator (and year), each row's line that of its rule; units the cities table lacks are left out as
    in any indicators table, and what was computed and left out goes to `attrs["sensor_log"]`. Beside it, the
    city map's document made from the same computed values (every district, the index's units or not)."""
    from .sensors.rules import compute, read_rules, yearly, years
    from .sensors.store import connect
    from .sensors.view import map_document

    s = spec.model.sensors
    rules_path, store_path = _existing(spec, "sensors", s.rules), _existing(spec, "sensors", s.store)
    network = _existing(spec, ("sensors", "network"), s.network) if s.network is not None else None
    rules = read_rules(rules_path)
    db = connect(store_path, read_only=True)
    try:
        result = compute(rules, db, store_name=store_path.name)
        sensor_map = map_document(db, rules, result.indicators, network=network, title=spec.model.name)
        hashes["sensor_store"] = hashlib.sha256("".join(
            row[0] for row in db.execute("select sha256 from imports order by sha256").fetchall()).encode()).hexdigest()
    finally:
        db.close()
    hashes["sensor_rules"] = file_hash(rules_path)
    if network is not None:
        hashes["sensor_network"] = file_hash(network)
    table = result.indicators
    finer = table.loc[~yearly(table["period"]), "indicator"].unique()
    if len(finer):
        raise InputError([Problem(str(rules_path), f"indicator {name!r} gives a value per "
                                  f"{rules.model.indicators[name].bucket}; an index reads one value per unit "
                                  "(bucket: period) or per year",
                                  rules.line("indicators", name, "bucket")) for name in finer])
    frame = pd.DataFrame({"city": table["city"].astype(object), "indicator": table["indicator"].astype(object),
                          "value": table["value"].astype(float),
                          "year": years(table["period"]),
                          "source": table["source"], "note": table["note"],
                          "_line": [rules.line("indicators", name) or 1 for name in table["indicator"]]})
    if frame["year"].isna().all() and (measured is None or "year" not in measured):
        frame = frame.drop(columns="year")
    frame = _measured_leaves_only(_known_cities_only(frame, cities, str(rules_path), spec, unknown), framework,
                                  str(rules_path), unknown)
    keys = ["indicator", "year"] if "year" in frame else ["indicator"]  # each edition's log counts its own values
    log = [entry("sensors", "sensor-indicators", indicator=key[0], count=len(rows),
                 detail=f"{len(rows)} values of {key[0]}{year_note(key[1]) if key[1:] and pd.notna(key[1]) else ''}"
                        f" from {rules_path} over {store_path}")
           for key, rows in frame.groupby(keys, sort=False, dropna=False)]
    log += [entry("sensors", "outside-districts", unit=sensor, warning=True,
                  detail=f"sensor {sensor} lies outside every district of {rules_path}; left out of its indicators")
            for sensor in result.outside]
    if measured is None:
        frame.attrs.update({"sensor_log": log, "source": str(rules_path)})
        return frame, sensor_map
    keys = ["city", "indicator"] + (["year"] if "year" in frame else [])
    both = frame[keys].merge(measured[keys + ["_line"]], on=keys)
    if len(both):
        raise InputError([Problem(str(rules_path), f"indicator {indicator!r} of {city!r} is both computed from "
                                  f"sensors and given on line {line} of {_source(spec.model.indicators)}",
                                  rules.line("indicators", indicator))
                          for city, indicator, line in both[["city", "indicator", "_line"]].head(10).to_numpy()])
    joined = pd.concat([measured, frame], ignore_index=True)
    joined.attrs.update({**measured.attrs, "sensor_log": log})
    return joined, sensor_map


def _source(value: str | WideTable | None) -> str | None:
    """The file (or store table) an input key names."""
    return value.file if isinstance(value, WideTable) else value


def _shown(spec: Spec, source: str) -> str:
    """An input as its problems name it: a file by its path, a store table as the spec writes it."""
    return source if source.startswith(STORE_PREFIX) else str(spec.resolve(source))


def _not_measured(indicator: str, framework) -> str | None:
    """Why the inputs cannot give values for `indicator`, or None for a leaf of the framework with no derive rule."""
    leaves = framework.leaves()
    if indicator not in framework.by_id:
        return f"unknown indicator {indicator!r}: not a leaf of the framework{did_you_mean(indicator, leaves)}"
    if indicator not in leaves:
        return (f"{indicator!r} is an aggregate of the framework, not an indicator: values are read for its leaves "
                "only, and its score is computed from them")
    if framework.by_id[indicator].derive:
        return (f"indicator {indicator!r} has a derive rule in the framework: its values are computed from the "
                "inventory, and a measured one would replace them")
    return None


def _check_wide_columns(spec: Spec, framework) -> None:
    """Every indicator id of a wide indicators table must be a leaf of the framework with no derive rule: refused at
    its line of the spec."""
    wide = spec.model.indicators
    keys = list(wide.columns) if isinstance(wide.columns, dict) else range(len(wide.columns))
    problems = [Problem(str(spec.path), f"indicators: columns: {why}", spec.line("indicators", "columns", key))
                for key, indicator in zip(keys, wide.column_map) if (why := _not_measured(indicator, framework))]
    if problems:
        raise InputError(problems)


def _measured_leaves_only(frame: pd.DataFrame, framework, source: str, log: list[ProcessingLog]) -> pd.DataFrame:
    """The rows of an indicators table (or of the values the sensor rules compute) for leaves of the framework. A
    row for a leaf with a derive rule is an error naming its line, city and indicator, as it would replace the
    derived value; rows of an id that is no leaf (a typo, an unknown indicator, an aggregate) are left out of the
    build and of indicators.csv, with a warning per id naming its first line and the closest leaf."""
    reasons = {indicator: _not_measured(indicator, framework) for indicator in frame["indicator"].unique()}
    lines = frame["_line"] if "_line" in frame else pd.Series(range(2, len(frame) + 2), index=frame.index)  # store
    derived = frame["indicator"].isin([leaf for leaf in framework.leaves() if framework.by_id[leaf].derive])
    if derived.any():
        raise InputError([Problem(source, f"a value for city {city!r}: {reasons[indicator]}; remove the row, or "
                                  "the indicator's derive rule", int(line), "indicator")
                          for city, indicator, line in zip(frame.loc[derived, "city"], frame.loc[derived, "indicator"],
                                                           lines[derived])][:10])
    others = frame["indicator"].map(reasons).notna()
    if not others.any():
        return frame
    firsts = ~frame["indicator"].duplicated() & others
    log.append(ProcessingLog.rows(
        "inputs", "not-in-framework", indicators=frame.loc[firsts, "indicator"].to_numpy(dtype=object),
        counts=frame.loc[others, "indicator"].value_counts(sort=False)[frame.loc[firsts, "indicator"]].to_numpy(),
        warning=True, detail=[f"{Problem(source, reasons[i], int(line), 'indicator')}; its rows are left out"
                              for i, line in zip(frame.loc[firsts, "indicator"], lines[firsts])]))
    return frame[~others].reset_index(drop=True)


def _assemble_city(spec: Spec, tables, measured: pd.DataFrame | None) -> Inputs:
    """The inputs of a city index from its tables, with `measured` the rows of the indicators table used."""
    # the inventory readers only for a city index: a COINr-format index never needs them
    from .inventory.derive import derive_indicators

    framework, cities, inventory, _, sensor_map, hashes, log = tables
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
    present = set(long["indicator"])
    missing = [leaf for leaf in leaves if leaf not in present]
    if missing and _is_preset(spec):
        framework, log = _preset_leaves_given(spec, framework, missing, log)
        leaves = framework.leaves()
    elif missing:
        raise InputError.single(spec.path, "no values for indicator(s) " + ", ".join(missing) + ": give each a "
                                "derive rule in the framework or rows in the indicators table",
                                line=spec.line("framework"))
    unstated = [leaf for leaf in leaves if framework.by_id[leaf].direction_basis == "unstated"]
    log = ProcessingLog.concat(log, ProcessingLog.of(
        entry("inputs", "direction-unstated", indicator=leaf, count=1, detail="read as 1; set direction in your "
              "own framework file", warning=True) for leaf in unstated))
    units = list(cities["city"])
    X = values_array(long, units, leaves)
    groups, denominators = {}, {}
    for col in cities.columns:
        if col in ("city", "name", "lat", "lon", "_line"):
            continue
        if pd.api.types.is_numeric_dtype(cities[col]):
            denominators[col] = cities[col].to_numpy(dtype=float)
        else:
            groups[col] = cities[col].astype(str).to_numpy(dtype=object)
    ctx = Context.of(units, framework, groups, denominators, list(cities["name"]))
    return Inputs(X, ctx, long[long["indicator"].isin(leaves)].reset_index(drop=True), dict(hashes), inventory,
                  cities, log, sensor_map)


def values_array(long: pd.DataFrame, units: list[str], leaves: list[str]) -> np.ndarray:
    """The (units, leaves) array of a long `city,indicator,value` table: a city's indicator takes the last of its
    present values, NaN where it has none; rows of other cities or indicators are left out. Placed by position,
    which a million-row table reads several times faster than through a pivot."""
    rows = pd.Index(units).get_indexer(long["city"])
    cols = pd.Index(leaves).get_indexer(long["indicator"])
    values = long["value"].to_numpy(dtype=float)
    ok = (rows >= 0) & (cols >= 0) & ~np.isnan(values)
    cells, values = rows[ok] * len(leaves) + cols[ok], values[ok]
    last = ~pd.Series(cells).duplicated(keep="last").to_numpy()
    X = np.full(len(units) * len(leaves), np.nan)
    X[cells[last]] = values[last]
    return X.reshape(len(units), len(leaves))


def _is_preset(spec: Spec) -> bool:
    from .model.framework_files import presets

    return spec.model.framework in presets()


def _preset_leaves_given(spec: Spec, framework, missing: list[str], log: ProcessingLog):
    """A preset built on the leaves the inputs give values for. A published framework is rarely measured whole,
    so its other leaves are left out, each said in the log; a preset none of whose leaves has values is an error
    (a tree-only preset's leaves are its source's themes or dimensions, not indicators)."""
    from .model.framework_files import preset_about

    leaves = framework.leaves()
    name = spec.model.framework
    if len(missing) == len(leaves):
        about = preset_about(name)
        tree_only = (f"; {name} is tree-only ({about['note']}): give values for its leaves or write a framework "
                     "file with indicators under them") if about["coverage"] == "tree-only" else ""
        raise InputError.single(spec.path, f"framework: the indicators table gives values for none of the "
                                f"{len(leaves)} leaves of preset {name} (e.g. {', '.join(leaves[:3])}; "
                                f"`smartcities frameworks show {name}` lists them){tree_only}",
                                line=spec.line("framework"))
    rows = [entry("inputs", "no-data", indicator=leaf, count=1, detail=f"leaf of preset {name} with no values: "
                  "left out of the build", warning=True) for leaf in missing]
    return framework.without(set(missing)), ProcessingLog.concat(log, ProcessingLog.of(rows))


def _known_cities_only(frame: pd.DataFrame | None, cities: pd.DataFrame, source: str | None, spec: Spec,
                       log: list[ProcessingLog]) -> pd.DataFrame | None:
    """The rows of an inventory or indicator table whose city the cities table lists. Rows of other cities
    are left out of the build and of indicators.csv, with a warning per city naming its first line and the
    closest known city: the cities table decides which cities an index covers."""
    from .io.inventory import check_cities_known

    if frame is None:
        return None
    problems = check_cities_known(frame, cities, _shown(spec, source))
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


