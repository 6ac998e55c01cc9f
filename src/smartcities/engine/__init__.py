"""The index engine: pure functions over `X[run, unit, indicator]`, registered by name under their step."""

# Importing the method modules fills the registry, whichever engine module a caller imports first.
from . import aggregate, denominate, grade, impute, normalise, screen, treat, weighting  # noqa: F401
