"""Column work on every core: the items come back in order, and the slices cover every row exactly once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from smartcities.engine import threads
from smartcities.engine.threads import CHUNK, blocks, map_threads, row_chunks


def covered(slices: list[slice], n: int) -> np.ndarray:
    seen = np.zeros(max(n, 1), int)
    for s in slices:
        seen[s] += 1
    return seen[:n]


def test_map_threads_keeps_the_order_and_runs_on_other_threads_when_worth_it(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 2)
    names = map_threads(lambda i: (i, threading.current_thread().name), range(8))
    assert [i for i, _ in names] == list(range(8))
    assert all(name != threading.main_thread().name for _, name in names)
    alone = map_threads(lambda i: threading.current_thread().name, range(8), worth_it=False)
    assert set(alone) == {threading.main_thread().name}


@pytest.mark.parametrize("n, parts", [(10, 3), (7, 7), (5, 9), (1, 4)])
def test_blocks_cover_every_position_once_in_order(n, parts):
    cut = blocks(n, parts)
    assert len(cut) <= parts and covered(cut, n).tolist() == [1] * n
    assert [s.start for s in cut] == sorted(s.start for s in cut)


@pytest.mark.parametrize("rows, columns", [(100_000, 200), (3, 5), (0, 4), (CHUNK * 2 + 1, 1), (10, 0)])
def test_row_chunks_hold_about_a_chunk_of_values_each(rows, columns):
    cut = row_chunks(rows, columns)
    assert covered(cut, rows).tolist() == [1] * rows
    assert all((min(s.stop, rows) - s.start) * columns <= max(CHUNK, columns) for s in cut)
    assert len({s.stop - s.start for s in cut[:-1]}) <= 1  # equal chunks, the last may be short
    if rows * columns > 2 * CHUNK:
        assert (cut[0].stop - cut[0].start) * columns > CHUNK // 2  # not needlessly small
