"""The weighting methods against published worked examples, COINr's numbers and hand calculations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, cube, flat_framework, hand_framework, make_context, need_shared

from smartcities.engine.registry import methods
from smartcities.engine.weighting import (
    ahp,
    bod,
    check_ahp,
    check_bod,
    check_fit,
    critic_weights,
    entropy_weights,
    factor_weights,
    fit_weights,
    matrix_problems,
    optimise_weights,
    pca_weights,
    varimax,
    within_parent,
)
from smartcities.errors import InputError

EU_NUTS1 = SHARED / "data" / "compind_examples" / "EU_NUTS1.csv"
SCI_2019 = SHARED / "data" / "smart_city_index_2019" / "Smart_City_index_headers.csv"
SCI_DIMENSIONS = ["Smart_Mobility", "Smart_Environment", "Smart_Government", "Smart_Economy", "Smart_People",
                  "Smart_Living"]

# Saaty (2008), relative consumption of drinks in the United States: the upper triangle, row over column
DRINKS = ["coffee", "wine", "tea", "beer", "soda", "milk", "water"]
DRINK_JUDGEMENTS = {
    ("coffee", "wine"): 9, ("coffee", "tea"): 5, ("coffee", "beer"): 2, ("coffee", "soda"): 1,
    ("coffee", "milk"): 1, ("coffee", "water"): 1 / 2, ("wine", "tea"): 1 / 3, ("wine", "beer"): 1 / 9,
    ("wine", "soda"): 1 / 9, ("wine", "milk"): 1 / 9, ("wine", "water"): 1 / 9, ("tea", "beer"): 1 / 3,
    ("tea", "soda"): 1 / 4, ("tea", "milk"): 1 / 3, ("tea", "water"): 1 / 9, ("beer", "soda"): 1 / 2,
    ("beer", "milk"): 1, ("beer", "water"): 1 / 3, ("soda", "milk"): 2, ("soda", "water"): 1 / 2,
    ("milk", "water"): 1 / 3,
}


def reciprocal(names, judgements) -> np.ndarray:
    M = np.eye(len(names))
    for (a, b), v in judgements.items():
        i, j = names.index(a), names.index(b)
        M[i, j], M[j, i] = v, 1 / v
    return M


def test_ahp_saaty_drinks():
    w, cr, lam = ahp(reciprocal(DRINKS, DRINK_JUDGEMENTS))
    expected = {"water": 0.327, "soda": 0.190, "coffee": 0.177, "milk": 0.129, "beer": 0.116, "tea": 0.042,
                "wine": 0.019}
    assert dict(zip(DRINKS, np.round(w, 3))) == expected
    assert cr == pytest.approx(0.022, abs=5e-4)
    assert lam == pytest.approx(7.1766, abs=1e-4)


def test_ahp_wang_chin_2011():
    # Wang & Chin (2011), the 6×6 example: inconsistent judgements (CR above 0.1)
    M = np.array([[1, 4, 3, 1, 3, 4], [1 / 4, 1, 7, 3, 1 / 5, 1], [1 / 3, 1 / 7, 1, 1 / 5, 1 / 5, 1 / 6],
                  [1, 1 / 3, 5, 1, 1, 1 / 3], [1 / 3, 5, 5, 1, 1, 3], [1 / 4, 1, 6, 3, 1 / 3, 1]])
    w, cr, _ = ahp(M)
    assert np.allclose(w, [0.3208, 0.1395, 0.0348, 0.1285, 0.2374, 0.1391], atol=5e-5)
    assert cr == pytest.approx(0.229, abs=5e-4) and matrix_problems(M, 6) == []


def test_ahp_inconsistent_matrix_has_a_high_ratio():
    # a > b (3), b > c (3), yet c > a (3): a circular set of judgements
    M = reciprocal(["a", "b", "c"], {("a", "b"): 3, ("b", "c"): 3, ("c", "a"): 3})
    w, cr, _ = ahp(M)
    assert np.allclose(w, 1 / 3)  # the circle is symmetric
    # λmax of this circulant matrix is 1 + 3 + 1/3; CI = (λ − 3)/2, RI(3) = 0.58
    assert cr == pytest.approx((1 + 3 + 1 / 3 - 3) / 2 / 0.58)
    assert cr > 0.1


def test_ahp_two_children_is_always_consistent():
    w, cr, _ = ahp([[1, 4], [1 / 4, 1]])
    assert np.allclose(w, [0.8, 0.2]) and cr == 0


@pytest.mark.parametrize("M, said", [
    ([[1, 2, 3], [0.5, 1, 1]], "not square"),
    ([[1, 2], [0.5, 1]], "is 2×2 but the parent has 3 children"),
    ([[1, 2, -1], [0.5, 1, 1], [-1, 1, 1]], "not positive"),
    ([[1, 2, 4], [0.5, 1, 1], [0.5, 1, 1]], "not reciprocal: a[1][3]"),
    ([[2, 2, 4], [0.5, 1, 1], [0.25, 1, 1]], "diagonal"),
    ([["x"]], "not a matrix of numbers"),
])
def test_matrix_problems(M, said):
    assert said in " ".join(matrix_problems(M, 3))


def test_check_ahp_names_parents_and_children():
    ctx = make_context(3)
    found = check_ahp(ctx, matrices={"Idx": [[1]], "A": [[1, 2], [0.5, 1]], "B": [[1, 2, 3]]})
    assert [p.column for p in found] == ["matrices.Idx", "matrices.B"]
    assert "did you mean 'Index'" in found[0].message
    assert "b1, b2" in found[1].message


def test_pca_sign_rule_and_hand_example():
    rng = np.random.default_rng(3)
    base = rng.normal(size=40)
    Y = np.column_stack([base, 2 * base + 5])  # perfectly correlated: equal loadings 1/√2
    assert np.allclose(pca_weights(Y), [2 ** -0.5, 2 ** -0.5])
    assert np.allclose(pca_weights(-Y), [2 ** -0.5, 2 ** -0.5])  # the sign makes the loadings sum positive
    Z = rng.normal(size=(30, 4))
    assert pca_weights(Z).sum() > 0 and np.isclose(np.linalg.norm(pca_weights(Z)), 1)
    assert np.allclose(pca_weights(Z * [1, 10, 100, 0.1] + 7), pca_weights(Z))  # prcomp(scale = TRUE)


def test_varimax_recovers_a_simple_structure():
    simple = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.0, 0.9]])
    angle = 0.6
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rotated = varimax(simple @ R)
    assert np.allclose(np.sort(np.abs(rotated), axis=1), np.sort(simple, axis=1), atol=1e-6)


def test_factor_weights_two_blocks():
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=(2, 500))
    Y = np.column_stack([f + 0.1 * rng.normal(size=500), f + 0.1 * rng.normal(size=500),
                         g + 0.1 * rng.normal(size=500), g + 0.1 * rng.normal(size=500)])
    w = factor_weights(Y)
    # two factors of near-equal variance, each carried by two near-equal indicators: about 1/4 each
    assert w.sum() == pytest.approx(1) and np.all(w > 0)
    assert np.allclose(w, 0.25, atol=0.01)


def test_factor_weights_by_hand_one_factor():
    # three indicators; the first two identical, the third noise: one factor (eigenvalue 2 + small)
    rng = np.random.default_rng(1)
    a, noise = rng.normal(size=(2, 200))
    w = factor_weights(np.column_stack([a, a, noise]))
    R = np.corrcoef(np.column_stack([a, a, noise]), rowvar=False)
    values, vectors = np.linalg.eigh(R)
    loading = vectors[:, -1] * np.sqrt(values[-1])
    assert np.allclose(w, loading**2 / (loading**2).sum())
    assert w[0] == pytest.approx(w[1]) and w[2] < 0.01


def test_entropy_hand_calculation():
    # p = 1/6, 2/6, 3/6 and 1/4, 1/4, 1/2; e = −Σ p ln p / ln 3 = 0.920620 and 0.946395; d = 1 − e
    Y = np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 2.0]])
    assert np.allclose(entropy_weights(Y), [0.596908, 0.403092], atol=1e-6)
    assert entropy_weights(np.array([[1.0, 1], [1, 2], [1, 3]]))[0] == pytest.approx(0, abs=1e-12)  # constant


def test_entropy_elsayed_2017():
    # Elsayed, Dawood & Karthikeyan (2017): 12 alternatives, 5 criteria
    m = np.array([[7, 312, 1891, 6613, 163], [72, 88, 728, 941804, 1078], [10, 252, 2594, 3466, 117471],
                  [10, 145, 980, 2371, 86329], [65, 54, 350, 501, 29897], [29, 48, 380, 912, 34051],
                  [7, 476, 3300, 78470, 2212], [70, 87, 650, 733, 819000], [4, 86, 591, 3015, 103],
                  [12, 79, 579, 3240, 96098], [21, 45, 261, 1253, 453], [1, 72, 530, 4333, 0.1048]])
    assert np.allclose(entropy_weights(m), [0.104991, 0.069124, 0.071373, 0.449937, 0.304575], atol=5e-7)


def test_critic_tus_adali_2019():
    # Tuş & Aytaç Adalı (2019), time and attendance software selection: 5 alternatives, 6 criteria, each
    # column min-max scaled as given
    m = np.array([[5000, 3, 3, 4, 3, 2], [680, 5, 3, 2, 2, 1], [2000, 3, 2, 3, 4, 3], [600, 4, 3, 1, 2, 2],
                  [800, 2, 4, 3, 3, 4]], dtype=float)
    assert np.allclose(critic_weights(m), [0.157, 0.249, 0.168, 0.121, 0.154, 0.151], atol=5e-4)


def test_bod_eu_nuts1():
    need_shared(EU_NUTS1)
    d = pd.read_csv(EU_NUTS1)
    Y = d[["roads", "trains"]].to_numpy(float)
    Y = (Y - Y.min(axis=0)) / (Y.max(axis=0) - Y.min(axis=0))
    scores, shares = bod(Y)
    by_name = dict(zip(d["NUTS1"], scores))
    assert by_name["Berlin"] == pytest.approx(1) and by_name["Ile de France"] == pytest.approx(1)
    for name, ref in [("Nord - Pas-de-Calais", 0.783837), ("Ouest (FR)", 0.752274), ("Centre-Est (FR)", 0.729351),
                      ("Mecklenburg-Vorpommern", 0.134390)]:
        assert by_name[name] == pytest.approx(ref, abs=1e-6)
    assert scores.mean() == pytest.approx(0.404788, abs=1e-6)
    assert (scores > 1 - 1e-9).sum() == 2
    assert np.allclose(shares.sum(axis=1), 1)
    assert np.allclose(bod(Y * [3.0, 0.01])[0], scores)  # unit invariant


def test_bod_bounds_hold_and_lower_scores():
    rng = np.random.default_rng(2)
    Y = rng.uniform(size=(20, 3))
    free, _ = bod(Y)
    bounded, shares = bod(Y, (0.2, 0.5))
    assert np.all(shares >= 0.2 - 1e-9) and np.all(shares <= 0.5 + 1e-9)
    assert np.all(bounded <= free + 1e-9) and bounded.max() == pytest.approx(1)


def test_check_bod_infeasible_bounds():
    ctx = make_context(3)  # parents of two indicators each
    assert check_bod(ctx, bounds=[0.1, 0.9]) == []
    found = check_bod(ctx, bounds=[0.6, 0.9])
    assert len(found) == 2 and "cannot be met" in found[0].message and found[0].column == "bounds"
    assert "0 ≤ lo ≤ hi ≤ 1" in check_bod(ctx, bounds=[0.5, 0.2])[0].message


def test_optimise_balances_correlations():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(60, 2))
    Z[:, 1] = 3 * Z[:, 1] + Z[:, 0]

    def shares(w):
        parent = Z @ w
        r = np.array([np.corrcoef(Z[:, j], parent)[0, 1] for j in range(2)])
        return r / r.sum()

    assert np.allclose(shares(optimise_weights(Z)), [0.5, 0.5], atol=1e-4)
    assert np.allclose(shares(optimise_weights(Z, np.array([1.0, 2.0]))), [1 / 3, 2 / 3], atol=1e-4)


def test_fit_smart_city_index_2019():
    need_shared(SCI_2019)
    d = pd.read_csv(SCI_2019)
    w, residuals = fit_weights(d[SCI_DIMENSIONS].to_numpy(float), d["SmartCity_Index"].to_numpy(float))
    assert np.allclose(w, [0.2405, 0.1646, 0.1308, 0.1392, 0.1350, 0.1899], atol=5e-5)
    assert np.abs(residuals).max() == pytest.approx(0.65, abs=0.015)  # 0.64 on the 0–10,000 scale
    assert np.abs(residuals).max() < 1


def test_fit_recovers_known_weights_and_stays_on_the_simplex():
    rng = np.random.default_rng(4)
    Y = rng.uniform(size=(30, 3))
    w, residuals = fit_weights(Y, Y @ [0.5, 0.3, 0.2])
    assert np.allclose(w, [0.5, 0.3, 0.2], atol=1e-6) and np.abs(residuals).max() < 1e-6
    w, _ = fit_weights(Y, -Y[:, 0])  # best non-negative answer to a target running against every child
    assert np.all(w >= 0) and w.sum() == pytest.approx(1)


def test_check_fit_did_you_mean():
    ctx = make_context(3, denominators={"SmartCity_Index": np.ones(3)})
    assert check_fit(ctx, target="SmartCity_Index") == []
    (p,) = check_fit(ctx, target="SmartCityIndex")
    assert "did you mean 'SmartCity_Index'" in p.message and p.column == "target"


def test_fit_needs_the_target_of_as_many_units_as_weights():
    fw = flat_framework((1, 1, 1))
    (p,) = check_fit(make_context(4, fw, denominators={"pop": np.full(4, np.nan)}), target="pop")
    assert p.column == "target" and p.message == ("weight: target 'pop' has no values; fitting the weights of 3 "
                                                  "indicators needs its value for at least 3 units")
    (p,) = check_fit(make_context(4, fw, denominators={"pop": np.array([1.0, 2.0, np.nan, np.nan])}), target="pop")
    assert "target 'pop' has only 2 values" in p.message
    ctx = make_context(4, fw, denominators={"pop": np.array([1.0, 2.0, 3.0, np.nan])})
    assert check_fit(ctx, target="pop") == []
    # three units have the target, but one of them lacks an indicator
    with pytest.raises(InputError, match="fit weights of 'Index' need at least 3 units with every indicator and the "
                                         "target present; 2 have"):
        methods("weight")["fit"](cube([[1, 2, 3], [2, np.nan, 1], [3, 1, 2], [1, 1, 1]]), ctx, target="pop")


def test_entropy_and_bod_need_complete_units():
    ctx = make_context(2, flat_framework((1, 1)))
    with pytest.raises(InputError, match="entropy weights of 'Index' need at least 2 units with every child "
                                         "present; 1 have"):
        methods("weight")["entropy"](cube([[1, 2], [np.nan, 1]]), ctx)
    with pytest.raises(InputError, match="bod weights of 'Index' need at least 1 unit with every child present; "
                                         "0 have"):
        methods("weight")["bod"](cube([[1, np.nan], [np.nan, 1]]), ctx)


def test_methods_set_node_weights_within_parents():
    ctx = make_context(5)  # Index over A (a1, a2) and B (b1, b2)
    X = cube(np.random.default_rng(5).uniform(size=(5, 4)))
    c = ctx.compiled
    eq = methods("weight")["equal"](X, ctx)
    assert np.allclose(within_parent(c, eq.weights[0]), [0.5] * 6 + [1])
    fw = methods("weight")["framework"](X, ctx)
    assert np.allclose(fw.weights[0], c.weights)
    ent = methods("weight")["entropy"](X, ctx).weights[0]
    assert np.allclose(ent[:2], entropy_weights(X[0][:, :2])) and np.allclose(ent[4:], c.weights[4:])


def test_entropy_method_refuses_negative_values():
    ctx = make_context(3)
    with pytest.raises(InputError, match="after normalise"):
        methods("weight")["entropy"](cube([[-1, 1, 1, 1], [1, 2, 3, 4], [2, 2, 2, 1]]), ctx)


def test_ahp_method_warns_when_inconsistent():
    ctx = make_context(3, flat_framework((1, 1, 1)))
    circle = reciprocal(["i0", "i1", "i2"], {("i0", "i1"): 3, ("i1", "i2"): 3, ("i2", "i0"): 3}).tolist()
    wt = methods("weight")["ahp"](cube(np.ones((3, 3))), ctx, matrices={"Index": circle})
    assert wt.warnings and "above 0.1" in wt.warnings[0]
    log = wt.log().table
    assert (log["severity"] == "warning").sum() == 1
    ok = methods("weight")["ahp"](cube(np.ones((3, 3))), ctx, matrices={"Index": [[1, 2, 4], [0.5, 1, 2],
                                                                                  [0.25, 0.5, 1]]})
    assert not ok.warnings and np.allclose(ok.weights[0, :3], [4 / 7, 2 / 7, 1 / 7])


def test_budget_mean_and_one_expert():
    ctx = make_context(3)
    experts = [{"a1": 60, "a2": 40, "A": 50, "B": 50}, {"a1": 20, "a2": 80, "A": 30, "B": 70}]
    fn = methods("weight")["budget"]
    c = ctx.compiled
    mean = within_parent(c, fn(cube(np.ones((3, 4))), ctx, experts=experts).weights[0])
    by = dict(zip(c.nodes, mean))
    assert by["a1"] == pytest.approx(0.4) and by["a2"] == pytest.approx(0.6) and by["B"] == pytest.approx(0.6)
    assert by["b1"] == pytest.approx(0.5)  # nobody allocated within B: the framework's shares
    second = dict(zip(c.nodes, within_parent(c, fn(cube(np.ones((3, 4))), ctx, experts=experts,
                                                  expert=1).weights[0])))
    assert second["a1"] == pytest.approx(0.2)


def test_check_budget():
    from smartcities.engine.weighting import check_budget

    ctx = make_context(3, hand_framework())
    found = check_budget(ctx, experts=[{"a1": 1, "a2": 1, "zz": 2}, {"a2": -1, "a1": 1}, {"b1": 3}], expert=5)
    assert [p.column for p in found] == ["experts.0", "experts.1", "experts.2", "expert"]
    assert "not to 'b2'" in found[2].message


def test_weights_per_run():
    ctx = make_context(6)
    rng = np.random.default_rng(6)
    X = rng.uniform(size=(3, 6, 4))
    W = methods("weight")["critic"](X, ctx).weights
    assert W.shape == (3, len(ctx.compiled.nodes))
    assert np.allclose(W[1, :2], critic_weights(X[1][:, :2])) and not np.allclose(W[0], W[1])


def test_bod_method_uses_the_mean_of_the_units_weights():
    need_shared(EU_NUTS1)
    d = pd.read_csv(EU_NUTS1)
    Y = d[["roads", "trains"]].to_numpy(float)
    Y = (Y - Y.min(axis=0)) / (Y.max(axis=0) - Y.min(axis=0))
    ctx = make_context(len(d), flat_framework((1, 1)))
    wt = methods("weight")["bod"](Y[None], ctx)
    _, shares = bod(Y)
    assert np.allclose(wt.weights[0, :2], shares.mean(axis=0))
    assert wt.notes == ("'Index': BoD scores: mean 0.404788, 2 units on the frontier",)
    with pytest.raises(InputError, match="cannot be met"):
        methods("weight")["bod"](Y[None], ctx, bounds=[0.6, 0.8])


def test_optimise_method_targets_by_indicator():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(1, 40, 3))
    X[0, :, 1] += X[0, :, 0]
    ctx = make_context(40, flat_framework((1, 1, 1)))
    w = methods("weight")["optimise"](X, ctx, targets={"i2": 2}).weights[0, :3]
    r = np.array([np.corrcoef(X[0][:, j], X[0] @ (w / w.sum()))[0, 1] for j in range(3)])
    assert np.allclose(r / r.sum(), [0.25, 0.25, 0.5], atol=1e-3)
    from smartcities.engine.weighting import check_optimise

    assert [p.column for p in check_optimise(ctx, targets={"i9": 1, "i1": 0})] == ["targets.i9", "targets.i1"]


def test_undefined_data_weights_are_an_error():
    ctx = make_context(4, flat_framework((1, 1)))
    with pytest.raises(InputError, match="'Index' are undefined"):
        methods("weight")["critic"](cube([[1, 2], [1, 2], [1, 2], [1, 2]]), ctx)


def test_pca_needs_enough_complete_units():
    ctx = make_context(3, flat_framework((1, 1, 1)))
    with pytest.raises(InputError, match="need at least 3 units"):
        methods("weight")["pca"](cube([[1, 2, 3], [2, np.nan, 1], [3, 1, 2]]), ctx)
