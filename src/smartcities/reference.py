"""The reference page of every input format, spec key, pipeline method and output, rendered from the code.

Why rendered: the page reads the models themselves (the pydantic spec, the table schemas, the codebook, the
registry of methods with their signatures and docstrings), so it cannot say other than what the code does. A test
compares docs/reference.md with `render_reference()`; after a change, regenerate it:

    python -m smartcities.reference > docs/reference.md
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from importlib.resources import files

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from . import engine  # noqa: F401  (importing the engine registers every method)
from .analysis.profiles import N_PEERS
from .analysis.regions import SMALL_REGION
from .analysis.results import NO_SCORE
from .analysis.trends import period_labels
from .engine.aggregate import aggregate
from .engine.grade import LETTERS, letter_ratings
from .engine.registry import DATA_STEPS, methods, parameters, steps
from .inventory import derive
from .io import coinr, gazetteer
from .io.inventory import CITIES_SCHEMA, INDICATORS_SCHEMA
from .io.tables import Schema
from .model import framework_files
from .model.codebook import COLUMNS
from .model.processing import ACTIONS
from .model.spec import IndexSpec
from .robustness.uncertainty import MOVES

CODEBOOK = files("smartcities") / "data" / "sci2022" / "CODEBOOK.md"
COMMAND = "python -m smartcities.reference > docs/reference.md"

# The output files and what each column holds: the producers name the columns; a test checks that every file a
# build writes is here, with these columns.
OUTPUTS: dict[str, tuple[str, dict[str, str]]] = {
    "scores.csv": ("Every city's score, rank and grade at every node; cities that screening removed are left out.", {
        "city": "The city's id (COINr: the unit's uCode).",
        "node": "The node's id: an indicator or an aggregate.",
        "level": "The node's level: 1 for indicators, one more than its children for an aggregate.",
        "score": "An indicator's value after the data steps (normalised), or an aggregate's score.",
        "rank": "1 for the best score; tied cities share the lowest rank; empty where the score is missing.",
        "grade": "1 (top) to n, as `grades:` says.",
    }),
    "indicators.csv": ("Every indicator value the build read, one row per city and indicator, before the pipeline's "
                       "steps.", {
        "city": "The city's id.",
        "indicator": "The indicator's id (a leaf of the framework).",
        "value": "The value as read; empty where it is missing.",
        "origin": "Where the value comes from: `derived` (computed from the inventory by the framework's `derive` "
                  "rule), `measured` (the indicators table, or the sensor rules) or `data` (COINr's iData).",
    }),
    "profiles.csv": ("Each city's profile, long, one fact a row, `kind` saying which: a `domain` of the city against "
                     "the median and the leader, one of its nearest `peer` cities, or an initiative to "
                     "`learn_from` for a domain (with an inventory).", {
        "city": "The city profiled.",
        "kind": "`domain`, `peer` or `learn_from`.",
        "domain": "The domain (a child of the top node); for `learn_from`, the domain the initiative would help.",
        "score": "`domain`: the city's domain score; `learn_from`: the teaching city's score in that domain.",
        "median": "`domain`: the median of every city's score in the domain.",
        "verdict": "`domain`: `strength` above the median, `weakness` below it, `par` at it, "
                   f"`{NO_SCORE}` where the city has no score in the domain.",
        "rank": "`domain`: the city's rank in the domain; `peer`: the other city's rank of the index; `learn_from`: "
                "the other city's rank in the domain.",
        "median_rank": "`domain`, with `uncertainty:`: the median rank over the runs.",
        "p05": "`domain`, with `uncertainty:`: the 5th percentile of the rank over the runs.",
        "p95": "`domain`, with `uncertainty:`: the 95th percentile of the rank over the runs.",
        "leader": "`domain`: the city with the highest score in the domain.",
        "leader_score": "`domain`: the leader's score.",
        "gap_to_leader": "`domain`: the leader's score minus the city's (0 for the leader).",
        "other_city": "`peer`: the nearby city; `learn_from`: the city running the initiative.",
        "other_region": "`peer`, `learn_from`: the other city's region.",
        "distance": f"`peer`: the distance of the two cities' domain profiles (each domain standardised); the "
                    f"{N_PEERS} nearest cities are listed, nearest first.",
        "initiative_id": "`learn_from`: the initiative's id in the inventory.",
        "initiative": "`learn_from`: the initiative's name.",
        "source_url": "`learn_from`: where the initiative is documented.",
    }),
    "weights.csv": ("Written when the pipeline has a `weight` step: the node weights it set.", {
        "node": "The node's id (every node but the top one).",
        "parent": "Its parent's id.",
        "weight": "Its share of its parent, in the build as the spec has it (the shares of a parent's children sum "
                  "to 1).",
        "method": "The weight method that set it, as the processing log names it.",
    }),
    "rank_intervals.csv": ("Written when the spec has `uncertainty:`: how far each city's rank moves over the runs.", {
        "city": "The city's id.",
        "node": "The node's id.",
        "nominal_rank": "The rank in the build as the spec has it.",
        "median_rank": "The median rank over the runs.",
        "mean_rank": "The mean rank over the runs.",
        "p05": "The 5th percentile of the rank over the runs.",
        "p95": "The 95th percentile of the rank over the runs.",
    }),
    "rank_movement.csv": ("Written when the spec has `uncertainty:`: per node, how many cities the runs move.", {
        "node": "The node's id.",
        **{f"moved_gt_{k}": f"The share of the ranked cities whose median rank is more than {k} place"
                            f"{'s' * (k > 1)} from their nominal rank." for k in MOVES},
    }),
    "sensitivity.csv": ("Written when the spec has `uncertainty:` with `design: sobol`: how much of the ranks' "
                        "variance each factor drives.", {
        "factor": "The factor's name, as in `uncertainty.factors`.",
        "node": "The node whose ranks are studied (`uncertainty.target`).",
        "city": "The city whose rank is explained; empty for the whole ranking (the mean absolute rank shift from "
                "the nominal ranking).",
        "S1": "First-order Sobol index: the share of the variance the factor drives alone.",
        "S1_conf": "Half-width of the 95% bootstrap interval of S1.",
        "ST": "Total-order Sobol index: the share the factor drives alone and with other factors.",
        "ST_conf": "Half-width of the 95% bootstrap interval of ST.",
    }),
    "sensitivity_convergence.csv": ("Written when the spec has `uncertainty:` with `design: sobol`: whether the "
                                    "Sobol indices of the whole ranking have settled, from the first half of the "
                                    "base samples against all of them.", {
        "factor": "The factor's name.",
        "node": "The node whose ranks are studied.",
        "S1_half": "S1 from the first half of the base samples.",
        "S1_full": "S1 from all of them (as in sensitivity.csv).",
        "ST_half": "ST from the first half of the base samples.",
        "ST_full": "ST from all of them.",
        "ST_change": "|ST_full − ST_half|.",
        "converged": "`True` when ST_change is at most 0.05 or ST's bootstrap half-width, whichever is larger; "
                     "`False` otherwise and for a factor the design does not vary. More `runs` help.",
    }),
    "processing.csv": ("The processing log: what reading the inputs, each step and the uncertainty runs dropped, "
                       "filled, clipped, transformed or failed.", {
        "step": "What made the row: `cities`, `inputs`, a pipeline step or `uncertainty`.",
        "action": "What it did: one of the actions listed below.",
        "unit": "The city concerned; empty when the row is about no single city.",
        "indicator": "The indicator concerned; empty when the row is about no single indicator.",
        "count": "How many values (or units, or runs) the row stands for.",
        "detail": "What happened, in words.",
        "severity": "`note` when a step did what the spec asked; `warning` when the user may not have meant it "
                    "(`--strict` makes warnings errors).",
    }),
}


def render_reference() -> str:
    """docs/reference.md as the code stands now."""
    sections = [_intro(), _spec_section(), _pipeline_section(), _cities_section(), _inventory_section(),
                _indicators_section(), _framework_section(), _coinr_section(), _outputs_section()]
    return "\n\n".join(s.strip("\n") for s in sections) + "\n"


# --- the sections ----------------------------------------------------------------------------------------------

def _intro() -> str:
    return f"""# Reference

Every input a build reads, every key of an index spec, every pipeline method and every output file. This page is
generated from the code (`{COMMAND}`): do not edit it by hand.

- [Index spec](#index-spec)
- [Pipeline steps](#pipeline-steps)
- [The cities table](#the-cities-table)
- [The inventory table](#the-inventory-table)
- [The indicators table](#the-indicators-table)
- [The framework](#the-framework)
- [COINr iData and iMeta](#coinr-idata-and-imeta)
- [Outputs](#outputs)"""


def _spec_section() -> str:
    parts = ["## Index spec", "A YAML (or JSON) file. " + _doc(IndexSpec)]
    for path, model in spec_models():
        rows = []
        for key, info in model.model_fields.items():
            rows.append([f"`{path}{key}`", _code(type_name(info.annotation)), _default(info), _allowed(info),
                         info.description or ""])
        title = f"### `{path.rstrip('.')}`" if path else "### Top level"
        doc = _doc(model) if path else ""
        parts += [title, doc, _table(["key", "type", "default", "allowed", "what it is"], rows)]
    return "\n\n".join(p for p in parts if p)


def _pipeline_section() -> str:
    parts = ["## Pipeline steps",
             "`pipeline:` lists the steps in order, each naming a method and its parameters: "
             "`- normalise: {method: minmax, range: [0, 100]}`. A step without `method` uses its default method."]
    for step in steps():
        if step in DATA_STEPS:
            parts += [f"### `{step}`", _first_paragraph(_module_doc(methods(step))),
                      f"Default method: `{DATA_STEPS[step]}`.", _methods_table(step)]
        elif step == "aggregator":
            parts += ["### `aggregate`", _first_paragraph(inspect.getdoc(sys.modules[aggregate.__module__])),
                      _doc(aggregate), _parameters_table(aggregate),
                      "The methods `method`, `by_level` and `by_node` may name:", _methods_table(step)]
        elif step == "grade":
            parts += ["### `grades`",
                      f"Set by the spec's `grades:` key, not in the pipeline. {_doc(letter_ratings)} The letters: "
                      f"{', '.join(LETTERS)}.", _methods_table(step)]
        else:  # weight: what the methods share, then each
            paragraphs = _module_doc(methods(step)).split("\n\n")
            parts += [f"### `{step}`", *(" ".join(p.split()) for p in paragraphs[:2]), _methods_table(step)]
    return "\n\n".join(p for p in parts if p)


def _cities_section() -> str:
    regions = ", ".join(gazetteer.REGIONS)
    return "\n\n".join([
        "## The cities table",
        "CSV, one row per city (`cities:`): the cities an index ranks. Only `city` and `name` are required. Every "
        "other column is something to compare cities by: a column of text is a peer group (for `impute: "
        "group-median`, `grades.peer_group`), a column whose every filled cell is a number "
        "is a denominator (for `denominate` and `per_capita` derive rules); `lat` and `lon` are neither.",
        f"An empty or absent `country`, `lat`, `lon` or `population` is filled from {gazetteer.SOURCE}, shipped with "
        "the package: the city matched on its name within its country, the most populous place of that name "
        "winning. The continent is one of " + regions + ": in `region`, unless `region` holds groups of your own, "
        "then in `continent`; when empty it is taken from the country. Each value filled is a note in the "
        "processing log, each value left empty a warning. More in [cities.md](cities.md).",
        _schema_table(CITIES_SCHEMA),
    ])


def _inventory_section() -> str:
    meanings = codebook_meanings()
    rows = [[f"`{c.name}`", "yes" if c.required else "no", c.kind, "yes" if c.coded else "no",
             meanings.get(c.name, "")] for c in COLUMNS]
    return "\n\n".join([
        "## The inventory table",
        "CSV, one row per initiative (`inventory:`), coded by the codebook "
        "(`src/smartcities/data/sci2022/CODEBOOK.md`). A coded column is filled by a coder (a person or "
        "`smartcities code`). A list column holds `;`-separated values. Values outside the codebook, a repeated "
        "`id` and empty cells in required columns are errors, each naming its line and column. The inventory names "
        "cities by name: each must be a city of the cities table once turned into a slug.",
        _table(["column", "required", "kind", "coded", "values / meaning"], rows),
    ])


def _indicators_section() -> str:
    return "\n\n".join(["## The indicators table",
                        "CSV, long: one measured value a row (`indicators:`), for the framework's indicators that "
                        "have no derive rule. A second value for the same city, indicator and year is an error, "
                        "and so is a value for an indicator with a derive rule (it would replace the derived "
                        "one); rows of an id that is no leaf of the framework (a typo, an aggregate) are left out "
                        "with a `not-in-framework` warning, as rows of a city the cities table lacks are "
                        "(`not-in-cities`).",
                        _schema_table(INDICATORS_SCHEMA)])


def _framework_section() -> str:
    kinds = {**dict.fromkeys(framework_files.COMMON_KEYS, "every node"),
             **dict.fromkeys(framework_files.AGGREGATE_KEYS, "aggregates"),
             **dict.fromkeys(framework_files.LEAF_KEYS, "indicators")}
    rows = [[f"`{key}`", kinds.get(key, "the top node"), framework_files.KEY_DESCRIPTIONS.get(key, "")]
            for key in framework_files.TOP_KEYS]
    sets = "; ".join(f"`{name}`: {', '.join(values)}" for name, values in derive.VALUE_SETS.items())
    return "\n\n".join([
        "## The framework",
        _doc(framework_files),
        "### The tree (YAML or JSON)", _table(["key", "on", "what it is"], rows),
        "### The flat table (CSV with `parent`)", _doc(framework_files.read_framework_table),
        _schema_table(framework_files.FLAT_SCHEMA),
        "### Weight sets",
        "Alternative weights by name come from the framework's `weight_sets` and the spec's `weights:` (the "
        "spec's set wins for a name in both). `aggregate: {weights: NAME}` builds with one of them, and an "
        "uncertainty factor `{step: aggregate, parameter: weights, values: [framework, NAME, …]}` draws between "
        "them. A set names only the nodes whose weights it changes.",
        "### Derive rules", _doc(derive),
        f"The rule kinds: {', '.join(f'`{k}`' for k in derive.KINDS)}. The named technology sets: {sets}.",
        "Presets shipped with the package: " + ", ".join(f"`{p}`" for p in framework_files.presets()) + ".",
    ])


def _coinr_section() -> str:
    idata = coinr.idata_schema(["GROUP"], ["DENOMINATOR"], ["INDICATOR"])
    return "\n\n".join([
        "## COINr iData and iMeta",
        "`data: {format: coinr, idata: iData.csv, imeta: iMeta.csv}` reads an index built with the R package "
        "COINr as it is: iMeta is the framework, iData the values.",
        "### iMeta", "One row per indicator, aggregate, group or denominator.", _schema_table(coinr.IMETA),
        "### iData", "One row per unit; its columns are those iMeta names. GROUP, DENOMINATOR and INDICATOR stand "
        "for the iCodes iMeta gives those types.",
        _schema_table(idata),
    ])

# What a build with an inventory writes besides; docs/insight.md explains the methods.
INVENTORY_OUTPUTS: dict[str, tuple[str, dict[str, str]]] = {
    "trends.csv": ("With an inventory: the share of initiatives carrying each of the three trends, overall and per "
                   "region, city, period and region × period, with a 95% Wilson interval.", {
        "scope": "What the row counts over: `all`, `region`, `city`, `period` or `region_period`.",
        "region": "The region (scopes `region` and `region_period`).",
        "city": "The city's id (scope `city`).",
        "period": "The period of the initiatives' start year (scopes `period` and `region_period`): "
                  f"{', '.join(f'`{label}`' for label in period_labels())}.",
        "trend": "`inclusivity`, `intelligence` or `integration`.",
        "n": "The initiatives counted.",
        "count": "Those carrying the trend.",
        "share": "count / n.",
        "ci_low": "The lower end of the share's 95% Wilson interval.",
        "ci_high": "The upper end of that interval.",
    }),
    "regions.csv": ("With an inventory: every region against all other cities on every feature (service domain, "
                    "technology, item type, actor, theme, trend; and with scores, each domain's mean score), with the "
                    "effect, its interval and a test.", {
        "region": "The region.",
        "n_cities": "Its cities.",
        "n_items": "Its initiatives.",
        "family": "The kind of feature: `domain`, `technology`, `item_type`, `actor`, `theme`, `trend` or `score`.",
        "feature": "The feature within its family.",
        "label": "The feature in plain words.",
        "count": "The region's initiatives with the feature (empty for `score`).",
        "share": "Their share of the region's initiatives (for `score`: the region's mean domain score).",
        "others_n": "The initiatives of every other city (for `score`: the other cities).",
        "others_share": "The share among them (for `score`: their mean score).",
        "difference": "share − others_share.",
        "ci_low": "The lower end of the difference's 95% interval (Newcombe's; it treats initiatives as "
                  "independent, so it is narrower than the test warrants).",
        "ci_high": "The upper end of that interval.",
        "p": "Two-sided p-value from shuffling whole cities between the region and the others.",
        "q": "Benjamini–Hochberg q-value over every row of the table.",
        "small": f"`True` for a region of {SMALL_REGION} cities or fewer, too few to generalise from.",
    }),
    "archetypes.csv": ("With an inventory: each city's archetype, a group of cities whose initiatives share a "
                       "profile (k-means on the standardised shares below, k with the best mean silhouette).", {
        "city": "The city's id.",
        "name": "Its name.",
        "region": "Its region.",
        "archetype": "Its group, numbered from 1.",
        "label": "The group named after the features on which its cities sit furthest above the mean.",
        "k": "The number of groups chosen.",
        "silhouette_k": "The mean silhouette of that choice.",
        "silhouette": "The city's own silhouette: how well it fits its group (−1 to 1).",
        "share_FEATURE": "One column per feature clustered on: the share of the city's initiatives in each main "
                         "service domain (domains under 5% of the inventory pooled as `other`) and in each trend.",
    }),
}

# What a spec with `editions:` writes besides (or instead of) the files above; docs/editions.md explains them.
EDITION_OUTPUTS: dict[str, tuple[str, dict[str, str]]] = {
    "scores.csv": ("With `editions:`, every edition's scores: the columns above after an `edition` column.", {
        "edition": "The edition (a value of the time column), then the columns of scores.csv above.",
        **OUTPUTS["scores.csv"][1],
    }),
    "editions.csv": ("With `editions:`: every city's score, rank and rank change at every node in every edition "
                     "it is in.", {
        "city": "The city's id.",
        "node": "The node's id.",
        "edition": "The edition.",
        "score": "The score in that edition.",
        "rank": "The rank in that edition.",
        "rank_change": "The rank in the previous edition minus this one: positive when the city climbed; empty in "
                       "the first edition and for a city the previous edition lacks.",
        "change_p05": "With `uncertainty:`, for its target node: the 5th percentile of the rank change over the "
                      "runs, each edition's run r paired with the previous edition's run r (the same draws).",
        "change_p95": "The 95th percentile of that rank change.",
        "significant": "`True` when the 90% interval [change_p05, change_p95] excludes 0; empty without an interval.",
    }),
    "edition_trends.csv": ("With `editions:`: per city and node, the trend of its scores over the editions it has "
                           "a score in (COINr's `get_trends`).", {
        "city": "The city's id.",
        "node": "The node's id.",
        "cagr": "Compound annual growth rate from the first to the last score: (last/first)^(1/years) − 1; 0 when "
                "they are equal; inf from a first score of 0.",
        "prc_change": "Percentage change a year: with two scores, (last − first)/first × 100 / years; with three "
                      "or more, the least-squares slope in percent of the line's value at the first edition.",
        "editions_used": "How many editions the trend uses (those with a score).",
        "first_edition": "The first edition used.",
        "last_edition": "The last edition used.",
        "across_break": "The breaks (`indicator@edition`, `;`-separated) the trend crosses: a methodological break "
                        "of the node's own indicator or of one below it, between its first and last edition.",
    }),
    "rank_decomposition.csv": ("With `editions:`: each city's change of rank of the top node since the previous "
                               "edition, split so that rank_change = performance + method + sample for every "
                               "city in both editions.", {
        "city": "The city's id (a city in both editions).",
        "edition": "The edition.",
        "previous_edition": "The edition before it.",
        "rank": "The rank in this edition.",
        "previous_rank": "The previous edition's rank as published (`editions.published`), else back-cast with "
                         "today's method.",
        "rank_change": "previous_rank − rank: positive when the city climbed.",
        "performance": "The change of rank among the cities in both editions, today's method for both.",
        "method": "The published previous rank minus the back-cast one: what today's method changed; 0 without a "
                  "published rank.",
        "sample": "What cities entering and leaving did: (previous rank − previous rank among the cities in both) − "
                  "(rank − rank among the cities in both).",
    }),
}


def _outputs_section() -> str:
    parts = ["## Outputs", "`smartcities build` writes tidy CSVs, one fact a row, with run.json and report.html."]
    for name, (intro, columns) in OUTPUTS.items():
        parts += [f"### {name}", intro, _table(["column", "what it holds"],
                                               [[f"`{c}`", text] for c, text in columns.items()])]
    parts += ["### With an inventory", "A build whose index has an inventory ([insight.md](insight.md)) also "
              "writes:"]
    for name, (intro, columns) in INVENTORY_OUTPUTS.items():
        parts += [f"#### {name}", intro, _table(["column", "what it holds"],
                                                [[f"`{c}`", text] for c, text in columns.items()])]
    parts += ["### With editions", "A spec with `editions:` ([editions.md](editions.md)) writes every table above "
              "for its latest edition, except scores.csv, which holds every edition, and adds three:"]
    for name, (intro, columns) in EDITION_OUTPUTS.items():
        parts += [f"#### {name}", intro, _table(["column", "what it holds"],
                                                [[f"`{c}`", text] for c, text in columns.items()])]
    parts += ["The actions a row of processing.csv may name:",
              _table(["action", "what it means"], [[f"`{a}`", text] for a, text in ACTIONS.items()])]
    return "\n\n".join(parts)


# --- reading the models ----------------------------------------------------------------------------------------

def spec_models(model: type[BaseModel] = IndexSpec, path: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """Every model of the spec with the key path it sits at ('' for the top, 'uncertainty.factors.NAME.')."""
    yield path, model
    for key, info in model.model_fields.items():
        for nested, suffix in _nested_models(info.annotation):
            yield from spec_models(nested, f"{path}{key}{suffix}.")


def _nested_models(tp, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp, suffix
        return
    args = typing.get_args(tp)
    if typing.get_origin(tp) is dict:
        yield from _nested_models(args[1], suffix + ".NAME")
    elif typing.get_origin(tp) is list:
        yield from _nested_models(args[0], suffix + "[]")
    else:
        for arg in args:
            yield from _nested_models(arg, suffix)


def type_name(tp) -> str:
    """A type as Python writes it, short: `int`, `str | None`, `dict[str, Factor]`, `"error" | "allow"`."""
    if tp is type(None):
        return "None"
    if tp is typing.Any:
        return "Any"
    if tp is Ellipsis:
        return "..."
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    return getattr(tp, "__name__", str(tp))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return ""
    if isinstance(value, BaseModel):
        return "see below"
    return _code(value if isinstance(value, str) else json.dumps(value))


def _allowed(info: FieldInfo) -> str:
    """The values a key accepts beyond its type: a Literal's or a pattern's alternatives, numeric bounds."""
    found = [", ".join(f"`{a}`" for a in typing.get_args(info.annotation))] if typing.get_origin(
        info.annotation) is typing.Literal else []
    for item in info.metadata:
        pattern = getattr(item, "pattern", None)
        if pattern:
            found.append(", ".join(f"`{a}`" for a in re.sub(r"^\^\(?|\)?\$$", "", pattern).split("|")))
        for bound, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, bound, None) is not None:
                found.append(f"{sign} {getattr(item, bound)}")
    return "; ".join(found)


def codebook_meanings() -> dict[str, str]:
    """Column → 'values / meaning' from the table in CODEBOOK.md, the codebook's own words."""
    out = {}
    for line in CODEBOOK.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("column", "---"):
            out[cells[0]] = cells[2]
    return out


def _methods_table(step: str) -> str:
    rows = []
    for name, fn in methods(step).items():
        params = _parameter_lines(fn)
        rows.append([f"`{name}`", _first_paragraph(inspect.getdoc(fn)), "<br>".join(params) or "none"])
    return _table(["method", "what it does", "parameters"], rows)


def _parameters_table(fn: Callable) -> str:
    rows = [[line] for line in _parameter_lines(fn)]
    return _table(["parameter"], rows)


def _parameter_lines(fn: Callable) -> list[str]:
    """`name: type = default` of each spec-settable parameter of a method, `(required)` where it has no default,
    then the bounds its annotation sets (`≥ 0; ≤ 1`)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    out = []
    for name, p in parameters(fn).items():
        hint = hints.get(name, typing.Any)
        bounds = typing.get_args(hint)[1:] if typing.get_origin(hint) is typing.Annotated else ()
        text = f"{name}: {type_name(typing.get_args(hint)[0] if bounds else hint)}"
        line = _code(text) + " (required)" if p.default is p.empty else _code(f"{text} = {p.default!r}")
        out.append(" ".join([line, *(f"({_allowed(b)})" for b in bounds if isinstance(b, FieldInfo))]))
    return out


def _module_doc(registered: dict[str, Callable]) -> str:
    """The docstring of the module a step's methods live in."""
    fn = next(iter(registered.values()))
    return inspect.getdoc(sys.modules[fn.__module__]) or ""


def _schema_table(schema: Schema) -> str:
    rows = []
    for f in schema.fields:
        kind = f"{f.kind}: {', '.join(f.values)}" if f.kind == "enum" else f.kind
        required = ("yes" if f.required else "no") + ("" if f.nullable else ", never empty")
        rows.append([f"`{f.name}`", required, kind, f.description])
    extra = {"text": "Other columns are kept as text, or as numbers when every filled cell is one.",
             "float": "Other columns are read as numbers.",
             "forbid": "Other columns are an error."}[schema.extra]
    unique = f" Unique: {', '.join(f'`{c}`' for c in schema.unique)}." if schema.unique else ""
    return _table(["column", "required", "kind", "what it holds"], rows) + "\n\n" + extra + unique


# --- markdown --------------------------------------------------------------------------------------------------

def _doc(obj) -> str:
    return inspect.getdoc(obj) or ""


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").split("\n\n", 1)[0].split())


def _code(text: str) -> str:
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_reference())
