"""smartcities: build, check and publish a smart cities index."""

import time

__version__ = "0.1.0"

LAUNCHED = time.perf_counter()
"""The clock when the package was first imported: where a `smartcities` process's own time begins."""
