"""The long tables' text columns: taken from their few names, and sorted by name through numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smartcities.model.columns import labels, lex_order, sort_places


def test_labels_take_the_names_by_code_as_a_text_column():
    column = labels(["seoul", "paris", "lima"], np.array([2, 0, 0, 1]))
    assert list(column) == ["lima", "seoul", "seoul", "paris"]
    assert column.dtype == pd.StringDtype(na_value=np.nan)  # the text type pandas gives such a column itself
    pd.testing.assert_series_equal(pd.Series(column), pd.Series(["lima", "seoul", "seoul", "paris"]))


def test_sort_places_sort_rows_as_sorting_the_names_would():
    names = ["seoul", "Paris", "lima", "paris", "ábc", "seoul"]
    places = sort_places(names)
    assert places.tolist() == [3, 0, 1, 2, 5, 4]  # code-point order; the second seoul after the first
    rows = np.array([5, 0, 3, 1, 2, 4, 3])
    by_number = rows[np.argsort(places[rows], kind="stable")]
    assert [names[i] for i in by_number] == sorted(names[i] for i in rows)


@pytest.mark.parametrize("bounds", [(3, 5, 4), (2**40, 2**20, 7)])  # the second too wide for one integer
def test_lex_order_sorts_by_each_key_in_turn_ties_in_row_order(bounds):
    rng = np.random.default_rng(4)
    keys = [rng.integers(0, min(b, 4), size=500) for b in bounds]  # few values: many rows tie on every key
    order = lex_order(*zip(keys, bounds))
    assert np.array_equal(order, np.lexsort(keys[::-1]))  # np.lexsort: last key first, and stable
    assert lex_order((np.array([], dtype=np.int64), 3)).size == 0
