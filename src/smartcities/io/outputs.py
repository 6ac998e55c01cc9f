"""Output folders written all or nothing, and replaced as a whole.

Every file goes into a fresh folder beside the target; only when all of them are written is it swapped in, so a
failure leaves the output folder as it was and a new build never leaves an earlier build's files beside its own.
A folder smartcities wrote carries a marker file; a non-empty folder without one holds a user's own files and is
refused, never deleted.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

MARKER = ".smartcities-output"


def check_output_folder(out: str | Path, kind: str = "build") -> None:
    """Refuse an `--out` that is a file, a non-empty folder smartcities did not write, or a folder another kind
    of output (a build's, an audit's) lives in: replacing it would delete that output."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError.single(out, "is a file; --out needs a folder (a new one, or one smartcities wrote)")
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
def atomic_folder(out: str | Path, kind: str = "build"):
    """Yield a fresh folder; on success it replaces `out` as a whole (checked first by `check_output_folder`).
    `kind` names what the folder holds (build, audit, insight)."""
    out = Path(out)
    check_output_folder(out, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-new-", dir=out.parent))
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
