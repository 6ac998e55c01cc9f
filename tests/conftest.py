"""Shared fixtures: where the shared example data lives, a small hand-built framework and context helpers."""

# smartcities is imported before NumPy, so that the suite runs the NumPy kernels a `smartcities` process runs
# (smartcities.numpy_kernels); the import block keeps that order.
from __future__ import annotations  # noqa: I001

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import smartcities  # noqa: I001 (first, so that the suite runs the NumPy kernels a `smartcities` process runs)
import numpy as np
import pandas as pd
import pytest

from smartcities.engine.context import Context
from smartcities.model.framework import Framework, Node

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
COINR_FIXTURES = FIXTURES / "coinr"
SHARED = Path(__file__).parents[2] / "shared"
EXAMPLES = SHARED / "examples"
ASEM_DATA = SHARED / "data" / "coinr_asem"
ASEM_IDATA = ASEM_DATA / "ASEM_iData.csv"
ASEM_IMETA = ASEM_DATA / "ASEM_iMeta.csv"
ASEM_STANDARD = EXAMPLES / "asem-coinr-standard.yaml"
ASEM_GEOMETRIC = EXAMPLES / "asem-coinr-geometric.yaml"
PACKAGE_DATA = Path(smartcities.__file__).resolve().parent / "data"  # bundled cities table, sample inventory
SCRIPTS = TESTS.parent / "scripts"  # the build-time scripts


def need_shared(*paths: Path) -> None:
    """Skip the calling test unless the shared folder (and every path given) is present."""
    for p in (SHARED, *paths):
        if not p.exists():
            pytest.skip(f"shared example data not available: {p}")


def script_module(name: str):
    """The build-time script `scripts/NAME.py` as a module (registered under its name, as an import would), or a
    skip where the scripts are not beside the tests."""
    path = SCRIPTS / f"{name}.py"
    if not path.exists():
        pytest.skip(f"scripts/{name}.py not beside the tests")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def need_fixture(*names: str) -> list[Path]:
    """The COINr reference files named, or skip the calling test when any is absent."""
    paths = [COINR_FIXTURES / n for n in names]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"COINr reference files not available: {', '.join(missing)}")
    return paths


# --- a tiny hand framework ---------------------------------------------------------------------------------------
#
#   Index
#   ├── A  (weight 1):  a1 (weight 1), a2 (weight 3)
#   └── B  (weight 2):  b1 (weight 1, direction -1), b2 (weight 1)
#
# Compiled column order: a1, a2, b1, b2, A, B, Index.

def hand_nodes() -> list[Node]:
    return [
        Node("Index", "Index"),
        Node("A", "Domain A", "Index", weight=1.0),
        Node("B", "Domain B", "Index", weight=2.0),
        Node("a1", "Indicator a1", "A", weight=1.0),
        Node("a2", "Indicator a2", "A", weight=3.0),
        Node("b1", "Indicator b1", "B", weight=1.0, direction=-1),
        Node("b2", "Indicator b2", "B", weight=1.0),
    ]


def hand_framework(**kwargs) -> Framework:
    return Framework.from_nodes(hand_nodes(), **kwargs)


def flat_framework(directions=(1,), weights=None, **node_kwargs) -> Framework:
    """A two-level framework: one top node over len(directions) indicators i0, i1, …"""
    weights = weights or [1.0] * len(directions)
    nodes = [Node("Index", "Index")]
    for j, (d, w) in enumerate(zip(directions, weights)):
        extra = {k: v[j] for k, v in node_kwargs.items()}
        nodes.append(Node(f"i{j}", f"i{j}", "Index", weight=float(w), direction=d, **extra))
    return Framework.from_nodes(nodes)


def make_context(n_units: int | list[str], framework: Framework | None = None, groups=None,
                 denominators=None) -> Context:
    units = [f"u{i}" for i in range(n_units)] if isinstance(n_units, int) else list(n_units)
    return Context.of(units, framework or hand_framework(), groups, denominators)


def cube(rows) -> np.ndarray:
    """X[run, unit, indicator] from a units × indicators table (one run)."""
    return np.asarray(rows, dtype=float)[None]


def column(values) -> np.ndarray:
    """X[run, unit, indicator] for one indicator."""
    return np.asarray(values, dtype=float)[None, :, None]


@pytest.fixture
def hand_fw() -> Framework:
    return hand_framework()


# --- the ASEM builds, made once per session ----------------------------------------------------------------------

class Evaluations:
    """The coder's evaluation reports as `evaluate-coder` computes them; `replay` makes the next run show the first
    report again, so a test can read the same figures as JSON and as text without computing them twice."""

    def __init__(self, monkeypatch):
        from smartcities.inventory import train

        self.reports: list[dict] = []
        self._monkeypatch, self._train, self._evaluate = monkeypatch, train, train.evaluate
        monkeypatch.setattr(train, "evaluate", self._recording)

    def _recording(self, *args, **kwargs) -> dict:
        self.reports.append(self._evaluate(*args, **kwargs))
        return self.reports[-1]

    def replay(self) -> None:
        self._monkeypatch.setattr(self._train, "evaluate", lambda *args, **kwargs: self.reports[0])


@pytest.fixture
def evaluations(monkeypatch) -> Evaluations:
    return Evaluations(monkeypatch)


@pytest.fixture(scope="session")
def asem_standard():
    need_shared(ASEM_STANDARD, ASEM_IDATA, ASEM_IMETA)
    from smartcities.build import build

    return build(ASEM_STANDARD)


@pytest.fixture(scope="session")
def asem_geometric():
    need_shared(ASEM_GEOMETRIC, ASEM_IDATA, ASEM_IMETA)
    from smartcities.build import build

    return build(ASEM_GEOMETRIC)


def asem_spec(tmp_path: Path, example: str) -> Path:
    """An ASEM example spec copied beside a copy of the iData/iMeta pair, so it can be edited."""
    source = EXAMPLES / f"asem-coinr-{example}.yaml"
    need_shared(source, ASEM_IDATA, ASEM_IMETA)
    shutil.copy(ASEM_IDATA, tmp_path / "iData.csv")
    shutil.copy(ASEM_IMETA, tmp_path / "iMeta.csv")
    text = source.read_text(encoding="utf-8")
    text = re.sub(r"idata: .*", "idata: iData.csv", text)
    text = re.sub(r"imeta: .*", "imeta: iMeta.csv", text)
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- a ten-city index with a year column, for editions --------------------------------------------------------

PANEL_FRAMEWORK = """\
id: Index
name: Index
children:
  - id: A
    name: A
    children:
      - {id: a1, name: a1}
      - {id: a2, name: a2}
  - id: B
    name: B
    children:
      - {id: b1, name: b1, direction: -1}
      - {id: b2, name: b2}
"""
PANEL_CITIES = [f"city{i}" for i in range(1, 11)]


def write_city_panel(folder: Path, years, change=None, lat=50.0, lon=8.0) -> None:
    """indicators.csv (city, indicator, value, year), cities.csv and fw.yaml of ten cities and four indicators with
    the same values every year, except where `change(city, year, values)` edits the year's values in place."""
    rng = np.random.default_rng(7)
    base = rng.uniform(10, 90, size=(len(PANEL_CITIES), 4))
    rows = []
    for y in years:
        for i, c in enumerate(PANEL_CITIES):
            v = base[i].copy()
            if change is not None:
                change(c, y, v)
            rows += [(c, ind, float(x), y) for ind, x in zip(("a1", "a2", "b1", "b2"), v)]
    pd.DataFrame(rows, columns=["city", "indicator", "value", "year"]).to_csv(folder / "indicators.csv", index=False)
    pd.DataFrame({"city": PANEL_CITIES, "name": [c.title() for c in PANEL_CITIES], "country": "DE",
                  "region": "Europe", "lat": lat, "lon": lon, "population": 100000}).to_csv(
        folder / "cities.csv", index=False)
    (folder / "fw.yaml").write_text(PANEL_FRAMEWORK, encoding="utf-8")
