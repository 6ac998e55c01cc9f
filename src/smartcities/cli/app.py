"""The `smartcities` command: one Typer app that each face module adds its commands to."""

from __future__ import annotations

import atexit
import functools
import os
import sys
import time
from collections.abc import Callable

import typer
from rich.console import Console

from .. import LAUNCHED
from ..errors import InputError

app = typer.Typer(
    name="smartcities",
    help="Build, check and publish a smart cities index.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def user_errors(command: Callable) -> Callable:
    """Turn InputError into `smartcities: error: …` lines on stderr and exit 2, with no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as err:
            for problem in err.problems:
                err_console.print(f"smartcities: error: {problem}", markup=False)
            sys.exit(2)

    return wrapper


_as_command = False
"""True in a process started as the `smartcities` command (through `main`), not in one that calls `app` itself."""


def main() -> None:
    """The `smartcities` command: run it, then leave without the interpreter's teardown. Exit handlers run and the
    output streams are flushed, but freeing pandas' and NumPy's modules one by one, a tenth of a second a user
    waits for after the last line, is left to the system."""
    global _as_command
    _as_command = True
    try:
        app()
        code = 0
    except SystemExit as leaving:
        code = leaving.code
    if code is not None and not isinstance(code, int):
        err_console.print(str(code), markup=False)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code or 0)


def command_started() -> float:
    """When the running command began, for the time it prints: the package's first import when this process is
    the `smartcities` command (its imports are time the user waits too), else now (a command called from inside
    another program, as the tests do)."""
    return LAUNCHED if _as_command else time.perf_counter()
