"""Errors a user can act on: each names the file, line, column, the bad value and what was expected."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input, located as precisely as the input allows."""

    file: str
    message: str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.column is not None:
            where += f"{',' if self.line is not None else ''} column {self.column}"
        return f"{where}: {self.message}"


class InputError(Exception):
    """One or more problems with the inputs; nothing was built or written."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str | Path, message: str, line: int | None = None, column: str | None = None):
        return cls([Problem(display_name(file), message, line, column)])


def display_name(path: str | Path) -> str:
    """The name a user recognises: the path as given, without resolving it."""
    return str(path)


def did_you_mean(value: str, allowed) -> str:
    """' (did you mean 'b'?)' when a close match exists, else ''."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_of(value: str, allowed: tuple[str, ...] | list[str]) -> str:
    """'x' is not one of a, b, c (did you mean 'b'?)"""
    return f"{value!r} is not one of {', '.join(map(str, allowed))}{did_you_mean(value, allowed)}"
