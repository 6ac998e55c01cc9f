"""Command-line face: thin commands over the Python API. Each module registers its commands on `app`."""

from . import build, coding, frameworks, insight, publish, robustness, sensors, sensors_mqtt, sensors_rules, serve  # noqa: F401
from .app import app

__all__ = ["app"]
