"""The readers under fuzzing: each target writes the bytes it is given as its reader's input file and reads it.

A reader may answer any bytes with a result or an InputError (a located, user-facing error); anything else that
escapes `feed` is a bug. Used by the atheris harness (fuzz_readers.py) and by tests/test_fuzz_readers.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from smartcities.build import load_spec
from smartcities.errors import InputError
from smartcities.inventory.coder import read_initiatives
from smartcities.io.coinr import read_coinr
from smartcities.io.inventory import read_cities, read_indicators, read_inventory
from smartcities.io.missing import MissingCodes
from smartcities.model.framework_files import read_framework

CORPUS = Path(__file__).resolve().parent / "corpus"
CODES = MissingCodes.of((999.01, "n/a", "-"))  # the readers run with missing-value codes declared, as a spec can ask


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _seed(target: str) -> Path:
    return next((CORPUS / target).glob("seed.*"))


TARGETS: dict[str, Callable[[Path, bytes], object]] = {
    "inventory": lambda folder, data: read_inventory(_write(folder, "inventory.csv", data), CODES),
    "cities": lambda folder, data: read_cities(_write(folder, "cities.csv", data), CODES),
    "indicators": lambda folder, data: read_indicators(_write(folder, "indicators.csv", data), CODES),
    "idata": lambda folder, data: read_coinr(_write(folder, "iData.csv", data), _seed("imeta"), CODES),
    "imeta": lambda folder, data: read_coinr(_seed("idata"), _write(folder, "iMeta.csv", data), CODES),
    "framework_yaml": lambda folder, data: read_framework(_write(folder, "framework.yaml", data)),
    "framework_json": lambda folder, data: read_framework(_write(folder, "framework.json", data)),
    "framework_csv": lambda folder, data: read_framework(_write(folder, "framework.csv", data)),
    "spec": lambda folder, data: load_spec(_write(folder, "spec.yaml", data)),
    "code": lambda folder, data: read_initiatives(_write(folder, "initiatives.csv", data)),
}


def seeds(target: str) -> list[bytes]:
    """The corpus files of a target: small real inputs and real malformed ones."""
    return [p.read_bytes() for p in sorted((CORPUS / target).iterdir()) if p.is_file()]


def feed(target: str, data: bytes) -> bool:
    """Read `data` with the target's reader in a fresh folder: True for a result, False for an InputError."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            TARGETS[target](Path(folder), data)
        except InputError:
            return False
    return True
