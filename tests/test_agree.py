"""Inter-coder agreement checked against published and hand-computed values."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

from smartcities.errors import InputError
from smartcities.inventory.agree import (
    agreement,
    agreement_of_files,
    cohen_kappa,
    krippendorff_alpha,
    percent_agreement,
    read_coding,
)

N = None


def test_alpha_matches_krippendorffs_worked_example_with_missing_values():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal data, 4 observers, 12 units,
    # some values missing: alpha = 0.743.
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
        [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
    ]
    assert krippendorff_alpha(data) == pytest.approx(0.743, abs=5e-4)
    # categories may be any labels, not only numbers
    letters = [[None if v is None else "abcde"[v - 1] for v in row] for row in data]
    assert krippendorff_alpha(letters) == pytest.approx(krippendorff_alpha(data))


def test_alpha_matches_krippendorffs_binary_two_observer_example():
    # Krippendorff (2011), binary data, two observers, ten units: alpha = 0.095.
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha([a, b]) == pytest.approx(0.095, abs=5e-4)


def test_alpha_by_hand_for_two_coders():
    # Coincidences: 4 units, values (x,x) (x,x) (y,y) (x,y). o_xx=4, o_yy=2, o_xy=o_yx=1; n_x=5, n_y=3, n=8.
    # D_o = 2/8; D_e = 2*5*3/(8*7) = 30/56; alpha = 1 - (2/8)/(30/56) = 1 - 56/120 = 0.5333
    assert krippendorff_alpha([["x", "x", "y", "x"], ["x", "x", "y", "y"]]) == pytest.approx(1 - 56 / 120)


def test_alpha_is_undefined_when_the_paired_values_hold_one_category_and_warns_nothing():
    # "y" occurs only where the other coder left the unit blank: no unit pairs two categories
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(krippendorff_alpha([["x", "x", "y"], ["x", "x", None]]))


def test_cohen_kappa_textbook_two_by_two_table():
    # 50 items: both yes 20, A yes / B no 5, A no / B yes 10, both no 15.
    # p_o = 35/50 = 0.7; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_three_categories_by_hand():
    # Table (rows A, columns B) over categories p, q, r:
    #   p: 10 2 0 / q: 1 8 1 / r: 0 2 6    (n = 30)
    # p_o = 24/30 = 0.8; A margins 12,10,8; B margins 11,12,7;
    # p_e = (12*11 + 10*12 + 8*7)/900 = 308/900; kappa = (0.8 - 308/900)/(1 - 308/900) = 412/592
    cells = {("p", "p"): 10, ("p", "q"): 2, ("q", "p"): 1, ("q", "q"): 8, ("q", "r"): 1, ("r", "q"): 2,
             ("r", "r"): 6}
    a = [x for (x, _), n in cells.items() for _ in range(n)]
    b = [y for (_, y), n in cells.items() for _ in range(n)]
    assert cohen_kappa(a, b) == pytest.approx(412 / 592)


def test_degenerate_cases_are_nan_not_errors():
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))
    assert math.isnan(cohen_kappa(["a", None], [None, "b"]))
    assert math.isnan(krippendorff_alpha([["a", "a"], ["a", "a"]]))
    assert percent_agreement([["a", "b", None], ["a", "c", "d"]]) == 0.5


def test_agreement_matches_rows_by_id_and_compares_every_shared_coded_column():
    a = pd.DataFrame({"id": ["1", "2", "3", "4"], "item_type": ["project", "strategy", "project", "living_lab"],
                      "technologies": [("ai",), ("iot", "ai"), ("none",), ("mobile",)]})
    b = pd.DataFrame({"id": ["4", "3", "2", "1"], "item_type": ["living_lab", "project", "strategy", "project"],
                      "technologies": [("mobile",), ("none",), ("ai", "iot"), ("iot",)]})
    result = agreement([a, b]).set_index("column")
    assert result.loc["item_type", "cohen_kappa"] == pytest.approx(1.0)
    assert result.loc["item_type", "units"] == 4
    # sets compared whole: row 1 differs ({ai} vs {iot}); order inside a set does not matter (row 2)
    assert result.loc["technologies", "percent_agreement"] == pytest.approx(0.75)
    # label by label: ai is yes/no on row 1, yes/yes on row 2, no/no on rows 3 and 4
    assert result.loc["technologies=ai", "percent_agreement"] == pytest.approx(0.75)
    assert "lead_actor" not in result.index


def test_three_coders_give_alpha_but_no_kappa():
    frames = [pd.DataFrame({"id": ["1", "2", "3"], "lead_actor": v})
              for v in (["public", "private", "public"], ["public", "private", "public_private"],
                        ["public", "private", "public"])]
    row = agreement(frames).iloc[0]
    assert row["coders"] == 3 and math.isnan(row["cohen_kappa"])
    assert -1 <= row["krippendorff_alpha"] < 1


def test_read_coding_reports_bad_values_with_line_and_column(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,service_domain,technologies\n1,transport,iot\n2,trasport,iot;blokchain\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_coding(path)
    found = {(p.line, p.column) for p in err.value.problems}
    assert found == {(3, "service_domain"), (3, "technologies")}
    assert "did you mean 'transport'" in str(err.value)


def test_files_without_common_ids_are_an_error(tmp_path):
    (tmp_path / "a.csv").write_text("id,item_type\n1,project\n")
    (tmp_path / "b.csv").write_text("id,item_type\n2,project\n")
    with pytest.raises(InputError, match="no id in common"):
        agreement_of_files([tmp_path / "a.csv", tmp_path / "b.csv"])
