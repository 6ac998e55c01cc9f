"""Robustness of an index: the statistical audit, and uncertainty and sensitivity analysis of its ranks."""
