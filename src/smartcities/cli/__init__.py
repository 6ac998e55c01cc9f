"""Command-line face: thin commands over the Python API."""

from . import build as _build  # noqa: F401  (registers commands)
from .app import app

__all__ = ["app"]
