"""Outputs written all or nothing: folders replaced as a whole, files staged beside their target and renamed.

Every file of a folder goes into a fresh folder beside the target; only when all of them are written is it swapped
in, so a failure leaves the output folder as it was and a new build never leaves an earlier build's files beside
its own. A folder smartcities wrote carries a marker file; a non-empty folder without one holds a user's own files
and is refused, never deleted; so is a folder holding a file the command reads (its spec, an input, a store). A
single output file (a coded inventory, a map, an export) is staged in a temporary file in its folder, made when
missing, and renamed over the target only once it is whole.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

MARKER = ".smartcities-output"


def check_output_folder(out: str | Path, kind: str = "build", reads: Iterable[str | Path] = ()) -> None:
    """Refuse an `--out` that is a file, a folder holding one of the files the command `reads` (its spec, its
    inputs, its store), a non-empty folder smartcities did not write, or a folder another kind of output (a
    build's, an audit's) lives in: replacing it would delete those files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError.single(out, "is a file; --out needs a folder (a new one, or one smartcities wrote)")
    held = next((Path(f) for f in reads if Path(f).resolve().is_relative_to(out.resolve())), None)
    if held is not None:
        raise InputError.single(out, f"holds {held}, which the {kind} reads; smartcities replaces its output "
                                "folders as a whole, which would delete it: give an --out folder apart from the "
                                "spec and its inputs")
    if not out.is_dir() or not any(out.iterdir()):
        return
    marker = out / MARKER
    if not marker.is_file():
        raise InputError.single(out, f"is a folder of other files (it has no {MARKER} marker); smartcities "
                                "replaces its output folders as a whole, so give a new or empty folder")
    written = marker.read_text(encoding="utf-8", errors="replace").split(" ", 1)[0]
    if written != kind:
        raise InputError.single(out, f"holds the outputs of a {written}; give the {kind} a folder of its own")


@contextmanager
def atomic_folder(out: str | Path, kind: str = "build", reads: Iterable[str | Path] = ()):
    """Yield a fresh folder; on success it replaces `out` as a whole (checked first by `check_output_folder`
    against the files the command `reads`). `kind` names what the folder holds (build, audit, insight). The
    folder gets the permissions of the one it replaces, else those a new folder gets under the umask (mkdtemp's
    are owner-only: a published site would be unreadable to a web server)."""
    out = Path(out)
    check_output_folder(out, kind, reads)
    out.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(out.stat().st_mode) if out.is_dir() else _default_mode(0o777)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
    os.chmod(tmp, mode)
    old = None
    try:
        yield tmp
        (tmp / MARKER).write_text(f"{kind} outputs written by smartcities; the next {kind} replaces the whole "
                                  "folder\n", encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            out.replace(old / out.name)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


FAST_CSV_ROWS = 20_000
"""From this many rows DuckDB writes a table faster than pandas (for 88,000 rows 0.07 s against 0.19; they are
level at about 10,000, and below it DuckDB's start costs more than it saves)."""


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """`frame` as CSV, the text pandas writes. Why DuckDB for a large table of texts and numbers: its writer gives
    the same text (floats as the shortest repr that reads back equal) six times faster, seconds of a 10,000-city
    build; a table DuckDB would write otherwise (booleans, empty texts, infinities, names equal but for case)
    goes through pandas."""
    if len(frame) < FAST_CSV_ROWS or not _written_alike(frame):
        frame.to_csv(path, index=False)
        return
    import duckdb

    with duckdb.connect() as con:
        con.register("frame", frame)
        con.execute(f"COPY frame TO '{str(path).replace(chr(39), chr(39) * 2)}' (HEADER)")


def _written_alike(frame: pd.DataFrame) -> bool:
    """Whether DuckDB's CSV writer writes `frame` as pandas does: numeric columns without infinities, text columns
    of non-empty strings (or missing), column names distinct ignoring case."""
    if len({str(c).lower() for c in frame.columns}) != frame.shape[1]:
        return False
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f":
            if np.isinf(values.to_numpy()).any():
                return False
        elif values.dtype.kind not in "iu":
            kind = pd.api.types.infer_dtype(values, skipna=True)  # "empty": every cell missing, so none is ""
            if kind not in ("string", "empty") or (kind == "string" and values.isin([""]).any()):
                return False  # isin: a hashed lookup, 4x pandas' eq("") on a million texts
    return True


def _default_mode(requested: int = 0o666) -> int:
    """Permissions a newly created file (0o666) or folder (0o777) gets under the current umask (mkstemp's and
    mkdtemp's are owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return requested & ~umask


def folder_for(target: Path) -> Path:
    """The folder the file `target` goes into (an output, a store), made when missing; a folder path that runs
    through a file is refused."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError.single(target, "cannot be written: a part of its folder path is a file") from None
    return target.parent


def discard_new_store(path: Path) -> None:
    """Remove the DuckDB file (and its write-ahead log) a failed command created: a command that fails leaves no
    new store behind, so a later read still says the store does not exist."""
    for file in (path, path.with_name(f"{path.name}.wal")):
        file.unlink(missing_ok=True)


def _staging_folder(target: Path) -> Path:
    """`folder_for` an output file, which must not be a folder itself."""
    if target.is_dir():
        raise InputError.single(target, "is a folder; --out needs a file name")
    return folder_for(target)


class atomic_path:
    """`with atomic_path(target) as tmp:` write to `tmp`; on success it replaces `target`, on error it vanishes."""

    def __init__(self, target: str | Path):
        self.target = Path(target)

    def __enter__(self) -> Path:
        folder = _staging_folder(self.target)
        handle, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=folder)
        os.close(handle)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.chmod(self.tmp, _default_mode())
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)


def write_all(texts: dict[Path, str]) -> None:
    """Write several files so that either all appear or none do (each staged in a temporary file first)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in texts.items():
            target = Path(target)
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=_staging_folder(target))
            staged.append((Path(name), target))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            os.chmod(name, _default_mode())
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
