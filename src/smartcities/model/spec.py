"""The index spec: a YAML file naming the inputs and the ordered pipeline, checked before anything runs.

Every problem is reported with the spec's file name and the line it sits on; unknown keys get a did-you-mean.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError, Problem, did_you_mean, one_of
from ..io.documents import line_at, parse_document, read_text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoinrData(_Strict):
    """COINr's iData/iMeta pair, read as they are."""

    format: str = Field(pattern="^coinr$", description="Says the pair is COINr's.")
    idata: str = Field(description="COINr's iData CSV (path relative to the spec): one row per unit, one column per "
                                   "indicator, group or denominator.")
    imeta: str = Field(description="COINr's iMeta CSV (path relative to the spec): one row per indicator, aggregate, "
                                   "group or denominator; the framework.")


class Sensors(_Strict):
    """Indicators computed from a sensor store by rules, joining the indicators table (city logging)."""

    store: str = Field(description="The sensor store (a DuckDB file made by `smartcities sensors import`).")
    rules: str = Field(description="The indicator rules (YAML, see docs/sensors-indicators.md); each rule's "
                                   "values must be one per unit (`bucket: period`) or per year.")
    network: str | None = Field(default=None, description="A GeoJSON of lines (a cycle or road network) the site's "
                                                          "and the dashboard's sensor map draw over the districts.")


class WideTable(_Strict):
    """A wide table read as it is: one row per city, one column per indicator (or cities-table column), an id."""

    file: str = Field(description="The CSV (path relative to the spec); the same file may give the cities and "
                                  "the indicators.")
    format: str = Field(pattern="^wide$", description="Says the table is wide: one row per city.")
    id: str | list[str] = Field(description="The column whose cell names each row's city, or several whose cells "
                                            "joined do (`[name, iso]` when a name repeats); the city's id is its "
                                            "slug, unique.")
    columns: dict[str, str] | list[str] = Field(
        description="For `indicators`: `indicator id: column` (or a list of columns, each its own id), every id a "
                    "leaf of the framework; an empty cell is missing (a word such as NA only as a declared "
                    "`missing_values` code). For `cities`: `cities-table column: "
                    "column`, `name` required (country, lat, lon, population, groups of your own), read as a cities "
                    "CSV is.")
    encoding: str = Field(default="utf-8", description="The file's text encoding (`latin-1`, `cp1252`, …).")
    fallback_encoding: str | None = Field(
        default=None, description="The encoding of the few lines not valid in `encoding` (a UTF-8 file with a stray "
                                  "latin-1 byte), each a warning in the processing log; such a line is an error "
                                  "when absent.")
    thousands: bool = Field(default=False, description="Indicator cells may group thousands with commas "
                                                       "(`1,765.00` read as 1765).")
    duplicates: Literal["error", "first"] = Field(
        default="error", description="Rows with an id an earlier row has: `error`, or `first` (the first kept, each "
                                     "later one left out with a warning in the processing log).")

    @property
    def id_columns(self) -> list[str]:
        return [self.id] if isinstance(self.id, str) else list(self.id)

    @property
    def column_map(self) -> dict[str, str]:
        return dict(self.columns) if isinstance(self.columns, dict) else {c: c for c in self.columns}


class Factor(_Strict):
    """One uncertain choice of an uncertainty analysis.

    - a step parameter drawn from `values`;
    - alternative configurations of a step (`alternatives`), e.g. imputation on/off or another normaliser;
    - weight noise: each weight times U(1 − noise, 1 + noise) at the given `levels`;
    - leaving out one of the nodes in `leave_out` (or none).
    """

    step: str | None = Field(default=None, description="The pipeline step the factor changes (`treat`, "
                                                       "`normalise`, `aggregate`, …); weight noise belongs to "
                                                       "`aggregate`.")
    parameter: str | None = Field(default=None, description="The step's parameter that `values` are for.")
    values: list[Any] | None = Field(default=None, description="Values of `parameter`, one drawn per run with equal "
                                                               "chances.")
    alternatives: list[dict[str, Any]] | None = Field(
        default=None, description="Whole configurations of `step`, one drawn per run, e.g. `[{method: none}, "
                                  "{method: group-median, group: region}]`.")
    noise: float | None = Field(default=None, gt=0, lt=1,
                                description="Weight noise: each weight times a draw from U(1 − noise, 1 + noise).")
    levels: list[int] | None = Field(default=None, description="The levels whose nodes' weights get noise (1 = the "
                                                               "indicators); every level below the top when absent.")
    leave_out: list[str] | None = Field(default=None, description="Nodes of which each run leaves out one, or none: "
                                                                  "its weight becomes 0 and its parent re-weights "
                                                                  "the rest.")

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [self.values is not None, self.alternatives is not None, self.noise is not None,
                 self.leave_out is not None]
        if sum(kinds) != 1:
            raise ValueError("a factor needs exactly one of: values (with parameter), alternatives, noise, leave_out")
        if self.values is not None and (self.parameter is None or self.step is None):
            raise ValueError("a factor with values needs a step and a parameter")
        if (self.alternatives is not None or self.noise is not None) and self.step is None:
            raise ValueError("this factor needs a step")
        return self


class Uncertainty(_Strict):
    """Rank intervals over runs that vary the method's uncertain choices, and Sobol indices of those choices."""

    target: str | None = Field(default=None, description="The node whose ranks are studied; the top node when "
                                                         "absent.")
    runs: int = Field(default=500, ge=2, description="The sample size N: a `montecarlo` design makes N runs, a "
                                                     "`sobol` design N × (factors + 2).")
    seed: int = Field(default=1, description="Seed of the design's draws: the same seed gives the same runs.")
    design: str = Field(default="sobol", pattern="^(sobol|montecarlo)$",
                        description="`sobol`: a Saltelli design, giving rank intervals and Sobol indices; "
                                    "`montecarlo`: independent draws, giving rank intervals only.")
    bootstrap: int = Field(default=200, ge=10, description="Bootstrap resamples behind the Sobol indices' "
                                                           "confidence intervals (`S1_conf`, `ST_conf`).")
    failed_runs: Literal["error", "allow"] = Field(
        default="error", description="Runs whose configuration cannot be evaluated (a geometric mean meeting a "
                                     "value ≤ 0): `error` stops the build; `allow` leaves them out of the summaries "
                                     "and reports them in the processing log.")
    factors: dict[str, Factor] = Field(description="The uncertain choices by name, each a factor (below).")


BACKENDS = ("numpy", "dask")


class Backend(_Strict):
    """Where the runs of an uncertainty analysis are evaluated."""

    name: str = Field(default="numpy", pattern=f"^({'|'.join(BACKENDS)})$",
                      description="`numpy`: in this process; `dask`: as tasks on a Dask cluster.")
    scheduler: str | None = Field(default=None, description="A Dask scheduler address; a local cluster when absent.")
    workers: int = Field(default=2, ge=1, description="Worker processes of the local Dask cluster (no scheduler "
                                                      "address given).")
    chunk_runs: int = Field(default=256, ge=1, description="Most runs evaluated together in one vectorised chunk "
                                                           "(one Dask task).")
    rank_memory_mb: int = Field(default=2048, ge=1, description="Memory for the runs' ranks. Within it every run's "
                                "ranks are kept and rank intervals are exact; beyond it each unit's ranks are "
                                "counted in histograms as fine as fit, and the processing log says how many "
                                "places a quantile may be off.")


class Grades(_Strict):
    """Grades 1 (top) to n of every node's scores, and letter ratings of the index within peer groups."""

    method: str = Field(default="quantile", pattern="^(quantile|cutoffs)$",
                        description="`quantile`: equal-sized bands by rank; `cutoffs`: bands between fixed scores.")
    n: int = Field(default=5, ge=2, le=10, description="The number of grades of `quantile`.")
    cutoffs: list[float] | None = Field(default=None, description="The scores that start each grade of `cutoffs`, "
                                                                  "grade 1 at or above the highest; 80, 60, 40, 20 "
                                                                  "when absent.")
    peer_group: str | None = Field(default=None, description="A group column (a text column of the cities table, "
                                                             "a COINr group): letter ratings AAA … D of the index "
                                                             "within each of its groups.")

    @field_validator("n", "cutoffs")
    @classmethod
    def _of_the_method(cls, value, info):
        """A parameter of the other method would be silently ignored."""
        method, own = info.data.get("method"), _GRADES_METHOD_OF[info.field_name]
        if method is not None and method != own:
            raise ValueError(f"{info.field_name} is a parameter of method {own}, not of {method}; remove it")
        return value


_GRADES_METHOD_OF = {"n": "quantile", "cutoffs": "cutoffs"}  # the grades method each parameter belongs to


class Break(_Strict):
    """A methodological break: from `edition` on, `indicator` is measured differently (a new source, a new
    definition), so a trend across it compares unlike values."""

    indicator: str = Field(description="The indicator (a leaf of the framework) whose series breaks.")
    edition: float = Field(description="The first edition measured the new way.")
    reason: str = Field(min_length=1, description="Why the series breaks, in a few words (for the processing log).")


class Smooth(_Strict):
    """Smoothing as IMD does: each edition's score of a node is also given as the weighted mean of the city's scores
    in this and the previous editions, over the editions the city has a score in."""

    weights: list[float] = Field(min_length=1, description="The weights of the current edition, the previous one, "
                                                           "and so on (IMD: `[3, 2, 1]`); an edition the city lacks "
                                                           "is skipped and the weights of the editions present are "
                                                           "normalised to sum 1.")

    @field_validator("weights")
    @classmethod
    def _positive(cls, weights):
        if any(not math.isfinite(w) or w <= 0 for w in weights):
            raise ValueError(f"every smoothing weight must be a positive number; have {weights}")
        return weights


class Editions(_Strict):
    """Editions over time: one build per value of a time column, comparable, with rank changes and trends.

    Every edition is built with this spec's framework and pipeline (today's method, `backcast: true`); an earlier
    edition with its own pipeline in `methods` is built with that one too, which gives the method's share of each
    rank change, and with `backcast: false` that build is the edition's.
    """

    column: str = Field(description="The time column: `year` of the indicators table, `Time` of COINr's iData, "
                                    "`start_year` of an inventory (editions cumulative: each edition counts the "
                                    "initiatives started in or before its year).")
    values: list[float] | None = Field(default=None, min_length=2,
                                       description="The editions to build, in order; every value present when "
                                                   "absent.")
    normalise: Literal["per-edition", "pooled", "reference"] = Field(
        default="per-edition", description="`per-edition`: each edition normalised alone; `pooled`: the normalise "
                                           "step's parameters (min and max of `minmax`, mean and sd of `zscore`) "
                                           "from every edition at once, COINr's `global = TRUE`; `reference`: "
                                           "from the `reference` edition. The parameters are stored with each "
                                           "edition's steps, so any edition rebuilds alone and equal.")
    reference: float | None = Field(default=None, validate_default=True,
                                    description="The edition whose parameters `normalise: reference` uses.")
    impute_panel: Literal["none", "latest", "constant", "linear", "linear-constant"] = Field(
        default="none", description="Fill missing values of a city's series from its other editions, before the "
                                    "pipeline: `latest` the last earlier value; `constant` the last earlier value, "
                                    "the first later one before the series starts; `linear` interpolated between "
                                    "observations, the nearest observation outside them (COINr's `linear`; a "
                                    "series with one observation is an error); `linear-constant` the same, with a "
                                    "one-observation series held constant.")
    backcast: bool = Field(default=True, description="`true`: every edition's scores and ranks are made with this "
                                                     "spec's pipeline (today's method), so editions compare; "
                                                     "`false`: an edition with its own pipeline in `methods` keeps "
                                                     "the scores and ranks that pipeline gives (as in its day).")
    methods: dict[float, list[dict[str, dict[str, Any] | None]]] = Field(
        default={}, description="Earlier editions' own pipelines, the method of their day, by edition (`2017: "
                                "[{normalise: …}, {aggregate: …}]`), on this spec's framework: each such edition is "
                                "built with its own pipeline beside today's, and the `method` part of a rank change "
                                "(rank_decomposition.csv) is its rank then against its rank back-cast today.")
    published: str | None = Field(
        default=None, description="A CSV of the ranks as published (`city,edition,rank`, the top node), made with "
                                  "the method of their day: each rank change then splits into `method` (published "
                                  "rank against today's back-cast one), `sample` and `performance` "
                                  "(rank_decomposition.csv).")
    undated: Literal["leave-out", "every-edition"] = Field(
        default="leave-out", description="With `column: start_year`, the initiatives with no start_year: "
                                         "`leave-out` of every edition (counted per city in the processing log), or "
                                         "`every-edition` (counted in each edition as if started before the first; "
                                         "also logged).")
    smooth: Smooth | None = Field(default=None, description="Smoothing over the latest editions as IMD does: "
                                                            "`smoothed_score` and `smoothed_rank` columns in "
                                                            "editions.csv.")
    breaks: list[Break] = Field(default=[], description="Methodological breaks; trends across one are flagged "
                                                        "in the processing log and `edition_trends.csv`, and "
                                                        "refused under `--strict`.")

    @field_validator("values")
    @classmethod
    def _distinct(cls, values):
        if values is not None and len(set(values)) != len(values):
            raise ValueError("an edition is named twice")
        return values

    @field_validator("reference")
    @classmethod
    def _reference(cls, reference, info):
        normalise, values = info.data.get("normalise"), info.data.get("values")
        if normalise == "reference" and reference is None:
            raise ValueError("normalise: reference needs reference: <edition>")
        if normalise != "reference" and reference is not None:
            raise ValueError(f"reference is only for normalise: reference (normalise is {normalise})")
        if values is not None and reference is not None and reference not in values:
            raise ValueError(f"reference {_label(reference)} is not among the editions "
                             f"{', '.join(map(_label, values))}")
        return reference

    @model_validator(mode="after")
    def _method_terms(self):
        if not self.backcast and not self.methods:
            raise ValueError("backcast: false keeps an earlier edition's own scores, which needs its own pipeline "
                             "under methods: (edition: [steps]); without one every edition is built today's way")
        if self.methods and self.published is not None:
            raise ValueError("methods and published both give the method part of a rank change; keep one")
        return self


def _label(edition: float) -> str:
    """An edition as written: 2019, not 2019.0."""
    return str(int(edition)) if float(edition).is_integer() else str(edition)


class IndexSpec(_Strict):
    """An index: its inputs (either `data` or a `framework` with its tables) and the ordered pipeline.

    Paths are relative to the spec's folder; `store:<table>` reads a table imported into the `store`.
    """

    name: str = Field(default="Index", description="The index's title, in the report and run.json.")
    description: str | None = Field(default=None, description="A paragraph about the index, in the report.")
    data: CoinrData | None = Field(default=None, description="COINr's iData/iMeta pair, instead of `inventory`, "
                                                             "`indicators` and `framework`.")
    inventory: str | None = Field(default=None, description="The coded inventory CSV, from which the framework's "
                                                            "`derive` rules compute indicators.")
    indicators: str | WideTable | None = Field(
        default=None, description="The long indicators CSV of measured values, or a wide table `{file, format: "
                                  "wide, id, columns}` (below).")
    cities: str | WideTable | None = Field(
        default=None, description="The cities table CSV: the units ranked, their peer groups and denominators; or "
                                  "a wide table `{file, format: wide, id, columns}` (below).")
    framework: str | None = Field(default=None, description="A preset's name (`sci-2022`), a YAML or JSON tree, or "
                                                            "a flat CSV with `parent`.")
    sensors: Sensors | None = Field(default=None, description="Indicators from sensor observations, computed by "
                                                              "rules and joined to the indicators table.")
    store: str | None = Field(default=None, description="A DuckDB file to read imported tables from (`cities: "
                                                        "store:cities`) and record the run in.")
    missing_values: list[float | str] = Field(
        default=[], description='Cells meaning "no value" in every input table, e.g. `[999.01, "n/a", "NA"]`; '
                                'numbers compare as numbers, text after stripping spaces. An empty cell is always '
                                'missing; any other text in a number column (NA, null, n/a) is an error unless '
                                'listed here.')
    pipeline: list[dict[str, dict[str, Any] | None]] = Field(
        description="The ordered steps, each `- step: {method: name, parameter: value, …}`; it needs an `aggregate` "
                    "step after every data step, and a `normalise` step before it when an indicator has direction "
                    "-1.")
    weights: dict[str, dict[str, float]] = Field(
        default={}, description="Named weight sets, `set name: {node id: weight}`, added to the framework's "
                                "`weight_sets`; chosen by `aggregate: {weights: set name}` or an uncertainty factor. "
                                "Weights follow the framework's rule: finite, zero or positive, and not every child "
                                "of a parent 0.")
    grades: Grades = Field(default=Grades(), description="How scores become grades and letter ratings.")
    uncertainty: Uncertainty | None = Field(default=None, description="An uncertainty and sensitivity analysis of "
                                                                      "the ranks; none when absent.")
    backend: Backend = Field(default=Backend(), description="Where the uncertainty runs are evaluated.")
    editions: Editions | None = Field(default=None, description="Editions over time, one build per value of a "
                                                                "time column; a single build when absent.")

    @field_validator("missing_values", mode="before")
    @classmethod
    def _codes(cls, codes):
        """Each code a finite number or a text; anything else (true, .nan, a list) is refused by name."""
        bad = [c for c in codes if not _is_code(c)] if isinstance(codes, list) else [codes]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a missing-value code: give a list of numbers and texts, "
                             "e.g. [999.01, \"n/a\", \"-\"]")
        return codes

    @model_validator(mode="after")
    def _inputs(self):
        if self.data is None and self.framework is None:
            raise ValueError("a spec needs either data: {format: coinr, idata, imeta} or a framework")
        if self.data is not None and (self.inventory or self.indicators or self.framework):
            raise ValueError("data: {format: coinr} already holds the indicators and framework; "
                             "remove inventory/indicators/framework")
        return self


def _is_code(code: Any) -> bool:
    return isinstance(code, str) or (isinstance(code, (int, float)) and not isinstance(code, bool)
                                     and math.isfinite(code))


@dataclass(frozen=True)
class Spec:
    """A checked spec: the model, where it came from (paths resolve against its folder) and its hash."""

    model: IndexSpec
    path: Path
    text: str
    lines: dict[tuple, int] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.folder / p

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def files(self) -> list[Path]:
        """The spec and every file it names that exists (inputs, stores, rules, published ranks): what a build
        reads, so what its output folder, replaced as a whole, must not hold."""
        m = self.model
        tables = [t.file if isinstance(t, WideTable) else t for t in (m.indicators, m.cities)]
        named = [m.framework, m.inventory, *tables, m.store,
                 *((m.data.idata, m.data.imeta) if m.data else ()),
                 *((m.sensors.store, m.sensors.rules, m.sensors.network) if m.sensors else ()),
                 m.editions.published if m.editions else None]
        return [self.path, *(p for p in map(self.resolve, filter(None, named)) if p.is_file())]

    def line(self, *keys) -> int | None:
        """Line of a key path such as ('pipeline', 2, 'normalise'), else of its nearest parent."""
        return line_at(self.lines, keys)

    def on_backend(self, name: str) -> Spec:
        """This spec with its uncertainty runs on backend `name` (the `--backend` option), so that the run
        record says which backend ran them."""
        if name not in BACKENDS:
            raise InputError.single("--backend", f"backend {one_of(name, BACKENDS)}")
        backend = self.model.backend.model_copy(update={"name": name})
        return dataclasses.replace(self, model=self.model.model_copy(update={"backend": backend}))


def read_spec(path: str | Path) -> Spec:
    """Read a spec file and check its structure (keys, types, inputs); the engine checks the pipeline's steps
    (`build.load_spec` does both). Raises InputError naming file and line for each problem."""
    path = Path(path)
    return parse_spec(read_text(path, "spec file"), path)


def parse_spec(text: str, path: Path) -> Spec:
    name = str(path)
    raw, lines = parse_document(text, name)
    if not isinstance(raw, dict):
        raise InputError.single(name, "a spec must be a mapping of keys (name, framework, pipeline, …)")
    if other := _other_document(raw):
        raise InputError.single(name, f"is {other}, not an index spec (name, framework, pipeline, …)")
    try:
        model = IndexSpec.model_validate(raw)
    except ValidationError as err:  # a mapping given for a path-or-table key: its errors as a table, not a path's
        raise InputError([_problem(name, e, lines) for e in err.errors()
                          if not (e["type"] == "string_type" and isinstance(e["input"], dict))]) from None
    return Spec(model, path, text, lines)


_OTHER_DOCUMENTS = (  # (keys that mark it, what it is): the project's other YAML files, given where a spec goes
    ({"children"}, "a framework tree (a spec names it as `framework:`)"),
    ({"spatial_unit"}, "a sensor rules file (a spec names it under `sensors: {rules: …}`; `smartcities sensors "
                       "indicators` reads it)"),
    ({"locations"}, "a sensor adapter (`smartcities sensors import --adapter` reads it)"),
)


def _other_document(raw: dict) -> str | None:
    """What a mapping without a spec's `pipeline` is, when it has the keys of another of the project's files."""
    if "pipeline" in raw:
        return None
    return next((what for keys, what in _OTHER_DOCUMENTS if keys & set(raw)), None)


_KNOWN_KEYS = {
    (): IndexSpec.model_fields,
    ("data",): CoinrData.model_fields,
    ("indicators",): WideTable.model_fields,
    ("cities",): WideTable.model_fields,
    ("uncertainty",): Uncertainty.model_fields,
    ("backend",): Backend.model_fields,
    ("grades",): Grades.model_fields,
    ("editions",): Editions.model_fields,
    ("editions", "smooth"): Smooth.model_fields,
}


def _problem(name: str, error: dict, lines: dict) -> Problem:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in ("CoinrData", "WideTable", "str")))
    line = None
    probe = loc
    while probe and line is None:
        line = lines.get(probe)
        probe = probe[:-1]
    where = ".".join(str(p) for p in loc) or "spec"
    if error["type"] == "extra_forbidden":
        parent = tuple(p for p in loc[:-1] if isinstance(p, str))
        parent = ("uncertainty",) if parent[:1] == ("uncertainty",) and len(loc) > 3 else parent
        fallback = Factor.model_fields if "factors" in loc else Break.model_fields if "breaks" in loc else {}
        known = list(_KNOWN_KEYS.get(parent, fallback))
        return Problem(name, f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], known)}; known keys: "
                             f"{', '.join(known)}", line)
    return Problem(name, f"{where}: {error['msg']}", line)
