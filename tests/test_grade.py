"""Ranks (1 = best, ties share the lowest rank), quantile and cut-off grades, letter ratings within peer groups."""

from __future__ import annotations

import numpy as np
import pytest

from smartcities.engine import threads
from smartcities.engine.grade import LETTERS, cutoff_grades, letter_ratings, quantile_grades, quantile_grades_of, ranks
from smartcities.engine.registry import methods

NAN = np.nan


def test_registered():
    assert set(methods("grade")) == {"quantile", "cutoffs"}


def test_ranks_with_ties_and_missing():
    scores = np.array([[[50.0], [70.0], [70.0], [10.0], [NAN], [50.0]]])  # (runs, units, nodes)
    r = ranks(scores)[0, :, 0]
    assert np.array_equal(r, [3, 1, 1, 5, NAN, 3], equal_nan=True)


def test_ranks_per_node_and_run():
    scores = np.array([[[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]],
                       [[9.0, 9.0], [8.0, 9.0], [7.0, 9.0]]])
    r = ranks(scores)
    assert np.array_equal(r[0, :, 0], [3, 2, 1])
    assert np.array_equal(r[0, :, 1], [1, 2, 3])
    assert np.array_equal(r[1, :, 0], [1, 2, 3])
    assert np.array_equal(r[1, :, 1], [1, 1, 1])


def test_quantile_grades_five_bands():
    scores = np.arange(10, 0, -1, dtype=float)[None, :, None]  # 10 … 1: ranks 1 … 10
    g = quantile_grades(scores)[0, :, 0]
    assert np.array_equal(g, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])


def test_quantile_grades_ties_missing_and_n():
    scores = np.array([90, 90, 80, 70, NAN, 60], dtype=float)[None, :, None]
    g = quantile_grades(scores)[0, :, 0]
    # 5 present; ranks 1, 1, 3, 4, 5 → floor((r − 1)/5·5) + 1
    assert np.array_equal(g, [1, 1, 3, 4, NAN, 5], equal_nan=True)
    g3 = quantile_grades(scores, n=3)[0, :, 0]
    # floor((0, 0, 2, 3, 4)/5·3) + 1 = (1, 1, 2, 2, 3)
    assert np.array_equal(g3, [1, 1, 2, 2, NAN, 3], equal_nan=True)


def test_cutoff_grades():
    scores = np.array([95, 80, 79.99, 60, 40, 20, 19.9, NAN])
    g = cutoff_grades(scores)
    assert np.array_equal(g, [1, 1, 2, 2, 3, 4, 5, NAN], equal_nan=True)
    # cut-offs in any order; len(cutoffs) + 1 grades
    g2 = cutoff_grades(scores, cutoffs=(30, 70))
    assert np.array_equal(g2, [1, 1, 1, 2, 2, 3, 3, NAN], equal_nan=True)


def test_letter_ratings_ten_bands_within_each_group():
    score = np.array([*range(100, 0, -10), 5.0, 50.0], dtype=float)  # ten in group x, two in group y
    groups = np.array(["x"] * 10 + ["y", "y"], dtype=object)
    letters = letter_ratings(score, groups)
    assert list(letters[:10]) == list(LETTERS)
    # group y: ranks 1, 2 of 2 → bands floor(0/2·10) = 0 and floor(1/2·10) = 5
    assert letters[10] == LETTERS[5] == "B"
    assert letters[11] == "AAA"


def test_letter_ratings_ties_and_missing():
    score = np.array([70.0, 70.0, NAN, 10.0, 60.0])
    letters = letter_ratings(score, np.array(["g"] * 5, dtype=object))
    # four present: ranks 1, 1, 4, 3 → bands 0, 0, floor(3/4·10) = 7, floor(2/4·10) = 5
    assert list(letters) == ["AAA", "AAA", None, "CC", "B"]


def test_letter_ratings_group_of_missing_scores():
    letters = letter_ratings(np.array([NAN, 1.0]), np.array(["a", "b"], dtype=object))
    assert letters[0] is None and letters[1] == "AAA"


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_quantile_grades_cover_1_to_n(n):
    scores = np.linspace(0, 1, 40)[None, :, None]
    g = quantile_grades(scores, n=n)
    assert set(np.unique(g)) == set(range(1, n + 1))


def test_quantile_grades_from_ranks_already_computed():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((2, 50, 4)) * 10)  # many ties
    scores[0, 3, 1] = NAN
    assert np.array_equal(quantile_grades_of(ranks(scores), scores, n=4), quantile_grades(scores, n=4),
                          equal_nan=True)


def test_ranks_of_many_columns_on_every_core_equal_one_column_at_a_time():
    rng = np.random.default_rng(4)
    scores = np.round(rng.random((1, 5000, 300)) * 50)  # over a million scores: ranked on every core
    scores[0, ::7, ::3] = NAN
    got = ranks(scores)
    for j in (0, 1, 150, 299):
        col = scores[0, :, j]
        expect = np.array([1 + np.sum(col > v) if not np.isnan(v) else NAN for v in col])
        assert np.array_equal(got[0, :, j], expect, equal_nan=True)
    average = ranks(scores[:, :, :2], ties="average")[0, :, 0]
    col = scores[0, :, 0]
    expect = [(np.sum(col > v) + 1 + np.sum(col >= v)) / 2 if not np.isnan(v) else NAN for v in col]
    assert np.array_equal(average, expect, equal_nan=True)


@pytest.mark.parametrize("ties", ["min", "average"])
def test_ranks_of_few_units_over_many_runs_equal_ranks_by_hand(ties, monkeypatch):
    rng = np.random.default_rng(5)
    scores = np.round(rng.random((3000, 51, 4)) * 20)  # many short columns with ties: ranked many at a time
    scores[::5, ::4, 1] = NAN
    scores[7, :, 2] = NAN  # a column with nothing to rank
    got = ranks(scores, ties=ties)
    for r, j in ((0, 0), (5, 1), (7, 2), (2999, 3)):
        col = scores[r, :, j]
        above, at_or_above = np.sum(col[:, None] < col, axis=1), np.sum(col[:, None] <= col, axis=1)
        expect = above + 1.0 if ties == "min" else (above + 1 + at_or_above) / 2
        assert np.array_equal(got[r, :, j], np.where(np.isnan(col), NAN, expect), equal_nan=True)
    monkeypatch.setattr(threads, "CHUNK", 1)  # every column in a block of its own
    assert np.array_equal(got, ranks(scores, ties=ties), equal_nan=True)


@pytest.mark.parametrize("units", [40, 3000])  # short columns and long ones
def test_ranks_with_infinite_and_missing_scores_equal_ranks_by_hand(units):
    rng = np.random.default_rng(6)
    scores = np.round(rng.random((2, units, 3)) * 9)
    scores[0, ::5, 0] = NAN
    scores[0, 1::7, 0] = -np.inf  # the lowest scores: as the sort key +inf, beside missing scores
    scores[1, ::4, 1] = np.inf
    scores[1, 2::4, 1] = NAN
    got, average = ranks(scores), ranks(scores, ties="average")
    for r in range(2):
        for j in range(3):
            col = scores[r, :, j]
            above, at_or_above = np.sum(col[:, None] < col, axis=1), np.sum(col[:, None] <= col, axis=1)
            missing = np.isnan(col)
            assert np.array_equal(got[r, :, j], np.where(missing, NAN, above + 1.0), equal_nan=True)
            assert np.array_equal(average[r, :, j], np.where(missing, NAN, (above + 1 + at_or_above) / 2),
                                  equal_nan=True)


@pytest.mark.parametrize("ties", ["min", "average"])
def test_ranks_tell_apart_scores_a_few_ulps_apart_and_tie_zero_with_minus_zero(ties):
    rng = np.random.default_rng(7)
    one = np.array([np.nextafter(1.0, 0.0), 1.0, np.nextafter(1.0, 2.0), np.nextafter(np.nextafter(1.0, 2.0), 2.0)])
    scores = rng.normal(size=(2, 5000, 2))
    scores[:, ::3, 0] = rng.choice(one, size=scores[:, ::3, 0].shape)  # keys alike in all but their low bits
    scores[:, 1::11, 1] = rng.choice([0.0, -0.0], size=scores[:, 1::11, 1].shape)
    scores[0, 2::13, 1] = NAN
    scores[1, 2::13, 1] = -NAN  # a missing score whatever its sign bit
    scores[:, 4::17, :] = np.inf
    got = ranks(scores, ties=ties)
    for r in range(2):
        for j in range(2):
            col = scores[r, :, j]
            above, at_or_above = np.sum(col[:, None] < col, axis=1), np.sum(col[:, None] <= col, axis=1)
            expect = above + 1.0 if ties == "min" else (above + 1 + at_or_above) / 2
            assert np.array_equal(got[r, :, j], np.where(np.isnan(col), NAN, expect), equal_nan=True), (r, j)
    near_one = np.isin(scores[0, :, 0], one)
    assert len(np.unique(got[0, near_one, 0])) == 4  # the four neighbours of 1 keep four ranks


def test_ranks_of_nothing_keep_their_shape():
    for shape in ((0, 51, 3), (2, 0, 3), (1, 500, 0)):
        assert ranks(np.empty(shape)).shape == shape


@pytest.mark.parametrize("ties", ["min", "average"])
def test_ranks_of_columns_already_side_by_side_are_ranked_in_place_alike(ties):
    """Scores whose units lie side by side for each node (a Monte Carlo's layout) are ranked without a copy,
    equal to the same scores laid out by unit, and left as they were."""
    rng = np.random.default_rng(8)
    laid = np.round(rng.normal(size=(30, 5, 2_000)), 1).transpose(0, 2, 1)  # (runs, units, nodes), units contiguous
    laid[3, 7, 2] = np.nan
    laid[4, :, 1] = -0.0
    kept = laid.copy()
    assert np.moveaxis(laid, 1, -1).flags.c_contiguous
    got = ranks(laid, ties=ties)
    assert np.array_equal(got, ranks(np.ascontiguousarray(laid), ties=ties), equal_nan=True)
    assert np.array_equal(laid, kept, equal_nan=True)
    assert got[4, 0, 1] == (1.0 if ties == "min" else 1000.5)  # every unit tied
