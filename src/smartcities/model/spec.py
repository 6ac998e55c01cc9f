"""The index spec: a YAML file naming the inputs and the ordered pipeline, checked before anything runs.

Every problem is reported with the spec's file name and the line it sits on; unknown keys get a did-you-mean.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ..errors import InputError, Problem, did_you_mean, one_of
from ..io.documents import parse_document, read_text

PRESETS = ("sci-2022",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CoinrData(_Strict):
    """COINr's iData/iMeta pair, read as they are."""

    format: str = Field(pattern="^coinr$")
    idata: str
    imeta: str


class Factor(_Strict):
    """One uncertain choice of an uncertainty analysis.

    - a step parameter drawn from `values`;
    - alternative configurations of a step (`alternatives`), e.g. imputation on/off or another normaliser;
    - weight noise: each weight times U(1 − noise, 1 + noise) at the given `levels`;
    - leaving out one of the nodes in `leave_out` (or none).
    """

    step: str | None = None
    parameter: str | None = None
    values: list[Any] | None = None
    alternatives: list[dict[str, Any]] | None = None
    noise: float | None = Field(default=None, gt=0, lt=1)
    levels: list[int] | None = None
    leave_out: list[str] | None = None

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
    target: str | None = None  # node whose ranks are studied; the top node when absent
    runs: int = Field(default=500, ge=2)
    seed: int = 1
    design: str = Field(default="sobol", pattern="^(sobol|montecarlo)$")
    bootstrap: int = Field(default=200, ge=10)
    factors: dict[str, Factor]


class Backend(_Strict):
    name: str = Field(default="numpy", pattern="^(numpy|dask)$")
    scheduler: str | None = None  # a Dask scheduler address; a local cluster when absent
    chunk_runs: int = Field(default=256, ge=1)


class Grades(_Strict):
    method: str = Field(default="quantile", pattern="^(quantile|cutoffs)$")
    n: int = Field(default=5, ge=2, le=10)
    cutoffs: list[float] | None = None
    peer_group: str | None = None  # a cities column: letter ratings within each of its groups


class IndexSpec(_Strict):
    name: str = "Index"
    description: str | None = None
    data: CoinrData | None = None
    inventory: str | None = None
    indicators: str | None = None
    cities: str | None = None
    framework: str | None = None
    store: str | None = None  # a DuckDB file to read imported tables from and record the run in
    pipeline: list[dict[str, dict[str, Any] | None]]
    weights: dict[str, dict[str, float]] = {}
    grades: Grades = Grades()
    uncertainty: Uncertainty | None = None
    backend: Backend = Backend()

    @model_validator(mode="after")
    def _inputs(self):
        if self.data is None and self.framework is None:
            raise ValueError("a spec needs either data: {format: coinr, idata, imeta} or a framework")
        if self.data is not None and (self.inventory or self.indicators or self.framework):
            raise ValueError("data: {format: coinr} already holds the indicators and framework; "
                             "remove inventory/indicators/framework")
        return self


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

    def line(self, *keys) -> int | None:
        """Line of a key path such as ('pipeline', 2, 'normalise')."""
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return None


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec file; raises InputError naming file and line for each problem."""
    path = Path(path)
    return parse_spec(read_text(path, "spec file"), path)


def parse_spec(text: str, path: Path) -> Spec:
    name = str(path)
    raw, lines = parse_document(text, name)
    if not isinstance(raw, dict):
        raise InputError.single(name, "a spec must be a mapping of keys (name, framework, pipeline, …)")
    try:
        model = IndexSpec.model_validate(raw)
    except ValidationError as err:
        raise InputError([_problem(name, e, lines) for e in err.errors()]) from None
    spec = Spec(model, path, text, lines)
    problems = check_pipeline(spec)
    if problems:
        raise InputError(problems)
    return spec


_KNOWN_KEYS = {
    (): IndexSpec.model_fields,
    ("data",): CoinrData.model_fields,
    ("uncertainty",): Uncertainty.model_fields,
    ("backend",): Backend.model_fields,
    ("grades",): Grades.model_fields,
}


def _problem(name: str, error: dict, lines: dict) -> Problem:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in ("CoinrData",)))
    line = None
    probe = loc
    while probe and line is None:
        line = lines.get(probe)
        probe = probe[:-1]
    where = ".".join(str(p) for p in loc) or "spec"
    if error["type"] == "extra_forbidden":
        parent = tuple(p for p in loc[:-1] if isinstance(p, str))
        parent = ("uncertainty",) if parent[:1] == ("uncertainty",) and len(loc) > 3 else parent
        known = list(_KNOWN_KEYS.get(parent, Factor.model_fields if "factors" in loc else {}))
        return Problem(name, f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], known)}; known keys: "
                             f"{', '.join(known)}", line)
    return Problem(name, f"{where}: {error['msg']}", line)


def check_pipeline(spec: Spec) -> list[Problem]:
    """Each pipeline entry names one known step, a known method, and parameters that method takes."""
    from ..engine.aggregate import aggregate
    from ..engine.registry import DATA_STEPS, methods

    name = str(spec.path)
    problems: list[Problem] = []
    steps = [*DATA_STEPS, "aggregate"]
    for i, entry in enumerate(spec.model.pipeline):
        line = spec.line("pipeline", i)
        if len(entry) != 1:
            problems.append(Problem(name, f"pipeline entry {i + 1} must name one step, found {len(entry)}", line))
            continue
        step, params = next(iter(entry.items()))
        params = dict(params or {})
        line = spec.line("pipeline", i, step) or line
        if step not in steps:
            problems.append(Problem(name, "pipeline step " + one_of(step, steps), line))
            continue
        if step == "aggregate":
            fn = aggregate
            known = methods("aggregator")
            chosen = {"method": params.get("method", "arithmetic"),
                      **{f"by_level.{k}": v for k, v in (params.get("by_level") or {}).items()},
                      **{f"by_node.{k}": v for k, v in (params.get("by_node") or {}).items()}}
            for key, value in chosen.items():
                if str(value) not in known:
                    problems.append(Problem(name, f"aggregate: {key} " + one_of(str(value), list(known)),
                                            spec.line("pipeline", i, step, key.split(".")[0]) or line))
        else:
            method = params.pop("method", DATA_STEPS[step])
            if method not in methods(step):
                problems.append(Problem(name, f"{step}: method " + one_of(str(method), list(methods(step))), line))
                continue
            fn = methods(step)[method]
        def line_of(key, i=i, step=step, line=line):
            return spec.line("pipeline", i, step, key) or line

        problems += check_params(name, step, fn, params, line_of)
    if not any("aggregate" in e for e in spec.model.pipeline):
        problems.append(Problem(name, "the pipeline has no aggregate step", spec.line("pipeline")))
    return problems


def check_params(name: str, step: str, fn, params: dict, line_of) -> list[Problem]:
    """Unknown parameters (with a did-you-mean) and values of the wrong type, for one step's method."""
    from ..engine.registry import parameters

    known = parameters(fn)
    problems = []
    for key, value in params.items():
        if key not in known:
            expected = f"known: {', '.join(known)}" if known else "this method takes none"
            problems.append(Problem(name, f"{step}: unknown parameter {key!r}{did_you_mean(key, known)}; {expected}",
                                    line_of(key)))
            continue
        annotation = known[key].annotation
        try:
            TypeAdapter(eval(annotation, _TYPE_NAMES) if isinstance(annotation, str) else annotation
                        ).validate_python(value)
        except ValidationError as err:
            problems.append(Problem(name, f"{step}: {key}: {err.errors()[0]['msg']} (got {value!r})", line_of(key)))
    for key, p in known.items():
        if p.default is p.empty and key not in params:
            problems.append(Problem(name, f"{step}: missing parameter {key!r}", line_of(step)))
    return problems


_TYPE_NAMES = {"float": float, "int": int, "str": str, "bool": bool, "tuple": tuple, "dict": dict, "list": list,
               "None": type(None)}
