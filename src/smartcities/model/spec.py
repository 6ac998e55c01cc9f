"""The index spec: a YAML file naming the inputs and the ordered pipeline, checked before anything runs.

Every problem is reported with the spec's file name and the line it sits on; unknown keys get a did-you-mean.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError, Problem, did_you_mean
from ..io.documents import parse_document, read_text


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
    # runs a configuration cannot be evaluated in (a geometric mean of values ≤ 0): an error, or left out of the
    # summaries and reported in the processing log
    failed_runs: Literal["error", "allow"] = "error"
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
    missing_values: list[float | str] = []  # cells meaning "no value" in every input table, e.g. [999.01, "n/a"]
    pipeline: list[dict[str, dict[str, Any] | None]]
    weights: dict[str, dict[str, float]] = {}
    grades: Grades = Grades()
    uncertainty: Uncertainty | None = None
    backend: Backend = Backend()

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

    def line(self, *keys) -> int | None:
        """Line of a key path such as ('pipeline', 2, 'normalise')."""
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return None


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
    try:
        model = IndexSpec.model_validate(raw)
    except ValidationError as err:
        raise InputError([_problem(name, e, lines) for e in err.errors()]) from None
    return Spec(model, path, text, lines)


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
