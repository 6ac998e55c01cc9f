"""Command-line face: thin commands over the Python API. Each module registers its commands on `app`."""

from . import (  # noqa: F401
    build,
    coding,
    frameworks,
    insight,
    publish,
    robustness,
    sensors,
    sensors_export,
    sensors_map,
    sensors_mqtt,
    sensors_rules,
    serve,
)
from .app import app, main

__all__ = ["app", "main"]
