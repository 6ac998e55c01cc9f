"""The fixed context of a build: who the units are, their groups and denominators, and the framework."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model.framework import CompiledFramework, Framework


@dataclass(frozen=True)
class Context:
    """Everything a step may read besides the data array itself. Immutable: a build is a value."""

    units: tuple[str, ...]
    framework: Framework
    compiled: CompiledFramework
    groups: dict[str, np.ndarray] = field(default_factory=dict)  # group column -> (units,) labels
    denominators: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (units,) values
    unit_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, units, framework: Framework, groups=None, denominators=None, unit_names=()) -> Context:
        return cls(tuple(units), framework, framework.compile(), dict(groups or {}), dict(denominators or {}),
                   tuple(unit_names) or tuple(units))

    @property
    def indicators(self) -> tuple[str, ...]:
        return self.compiled.nodes[: self.compiled.n_leaves]
