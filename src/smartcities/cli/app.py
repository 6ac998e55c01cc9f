"""The `smartcities` command: one Typer app that each face module adds its commands to."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

import typer
from rich.console import Console

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
