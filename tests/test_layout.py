"""Moving an axis a tile at a time gives the very array a plain moveaxis copy gives."""

from __future__ import annotations

import numpy as np
import pytest

from smartcities.engine.layout import TILE, moved_last, put_columns


@pytest.mark.parametrize("shape,axis", [((2, 3 * TILE + 5, 7), 1), ((TILE - 1, 4), 0), ((5, 0, 3), 1),
                                        ((4, 2 * TILE), 1), ((3, 2 * TILE + 1, 2), 0)])
def test_moved_last_is_moveaxis_made_contiguous(shape, axis):
    X = np.random.default_rng(0).normal(size=shape)
    got = moved_last(X, axis)
    assert got.flags.c_contiguous
    assert np.array_equal(got, np.moveaxis(X, axis, -1))


def test_put_columns_writes_the_columns_and_nothing_else():
    out = np.zeros((3 * TILE + 2, 6))
    cols = np.array([1, 4, 5])
    columns = np.arange(3.0 * out.shape[0]).reshape(3, -1)
    put_columns(out, cols, columns)
    assert np.array_equal(out[:, cols], columns.T)
    assert not out[:, [0, 2, 3]].any()
