"""Column work on every core. NumPy's sorts and reductions release the GIL, so threads over blocks of
columns scale on a multi-core machine without copying data to other processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

WORKERS = os.cpu_count() or 1


def map_threads(fn: Callable, items: Iterable, *, worth_it: bool = True) -> list:
    """`[fn(item) for item in items]`, on all cores when there is more than one item and the caller says each
    is big enough (`worth_it`) to pay for starting threads."""
    items = list(items)
    if WORKERS == 1 or len(items) < 2 or not worth_it:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, items))


def blocks(n: int, parts: int) -> list[slice]:
    """`n` positions cut into about `parts` contiguous slices."""
    size = max(1, -(-n // parts))
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


CHUNK = 2**18
"""Values worked on in one go: a chunk of rows whose temporaries stay in cache, where an operation over a whole
large array would go to memory."""


def row_chunks(rows: int, columns: int) -> list[slice]:
    """`rows` rows of `columns` values cut into contiguous slices of about CHUNK values (at least one slice)."""
    size = max(1, CHUNK // max(1, columns))
    return [slice(i, i + size) for i in range(0, max(rows, 1), size)]
