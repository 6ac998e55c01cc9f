"""smartcities: build, check and publish a smart cities index."""

import time

from .numpy_kernels import choose_kernels

__version__ = "0.1.0"

LAUNCHED = time.perf_counter()
"""The clock when the package was first imported: where a `smartcities` process's own time begins."""

choose_kernels()  # before NumPy's first import: its fast sorts on every CPU (see numpy_kernels)
