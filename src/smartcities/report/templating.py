"""The one Jinja environment of each template folder (the report's, the site's): templates compiled once per
process, and their compiled code kept in jinja's per-user cache folder for the next process, since compiling a
page costs about as much as rendering it.
Jinja checks each cached entry against the template's source, so an edited template is compiled afresh."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """A cache that can never fail a report: a folder that cannot be written only means compiling again."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _QuietCache()
    except (OSError, RuntimeError):  # no safe per-user temporary folder
        return None


@cache
def environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, bytecode_cache=_bytecode_cache())
