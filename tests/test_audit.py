"""The statistical audit: hand examples for each figure, then COINr 1.1.14's own numbers on ASEM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ASEM_IDATA, ASEM_IMETA, ASEM_STANDARD, cube, make_context, need_fixture, need_shared

from smartcities.engine.pipeline import Step, run_pipeline
from smartcities.robustness.audit import (
    audit,
    correlation,
    correlation_flags,
    correlations,
    cronbach_alpha,
    indicator_stats,
    p_values,
    pairwise_cov,
    pca,
    summary,
    write_audit,
)

# --- hand examples ----------------------------------------------------------------------------------------------


def test_cronbach_alpha_hand_example():
    # three items, four respondents
    X = np.array([[1.0, 2.0, 2.0],
                  [2.0, 3.0, 2.0],
                  [3.0, 3.0, 4.0],
                  [4.0, 5.0, 4.0]])
    # item variances (n − 1): 5/3, 19/12, 4/3 (sum 55/12); row totals 5, 7, 10, 13 have variance 49/4
    item_var = np.array([5 / 3, 19 / 12, 4 / 3])
    total_var = np.var([5, 7, 10, 13], ddof=1)
    assert total_var == pytest.approx(49 / 4)
    expected = 3 / 2 * (1 - item_var.sum() / total_var)  # = 1.5 · (1 − 55/147) = 46/49
    assert cronbach_alpha(X) == pytest.approx(expected, abs=1e-12)
    assert cronbach_alpha(X) == pytest.approx(46 / 49, abs=1e-12)


def test_cronbach_uses_pairwise_complete_covariances():
    X = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 4.0]])
    cov = pairwise_cov(X)
    assert cov[0, 0] == pytest.approx(np.var([1, 2, 3, 4], ddof=1))
    assert cov[1, 1] == pytest.approx(np.var([2, 5, 4], ddof=1))
    assert cov[0, 1] == pytest.approx(np.cov([1, 3, 4], [2, 5, 4])[0, 1])
    k = 2
    assert cronbach_alpha(X) == pytest.approx(k * k * cov[0, 1] / cov.sum())


def test_complete_data_give_the_pairwise_covariances_in_one_product():
    X = np.random.default_rng(1).normal(size=(300, 6))
    cov = pairwise_cov(X)
    for i in range(6):
        for j in range(6):
            assert cov[i, j] == pytest.approx(np.cov(X[:, i], X[:, j])[0, 1], rel=1e-12)
    assert pairwise_cov(X[:1]).shape == (6, 6) and np.isnan(pairwise_cov(X[:1])).all()  # one unit: no covariance


def test_pca_of_two_variables_has_eigenvalues_one_plus_minus_r():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = 0.6 * x + rng.normal(size=200)
    r = np.corrcoef(x, y)[0, 1]
    res = pca(np.column_stack([x, y]))
    assert res.eigenvalues == pytest.approx([1 + r, 1 - r])
    # the first component of two standardised variables is (1, 1)/√2, signed to sum positive
    assert res.loadings[:, 0] == pytest.approx([2**-0.5, 2**-0.5])
    assert abs(res.loadings[:, 1]) == pytest.approx([2**-0.5, 2**-0.5])


def test_pca_known_matrix_and_complete_cases():
    # a perfectly collinear pair and an independent third column: PC1 carries 2 of the 3 units of variance
    X = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, -1.0], [3.0, 6.0, -1.0], [4.0, 8.0, 1.0], [np.nan, 1.0, 0.0]])
    res = pca(X)
    assert res.units == 4
    assert res.eigenvalues[0] == pytest.approx(2.0)
    assert res.eigenvalues.sum() == pytest.approx(3.0)
    assert res.loadings[:2, 0] == pytest.approx([2**-0.5, 2**-0.5])
    assert res.loadings[2, 0] == pytest.approx(0.0, abs=1e-12)


def test_indicator_stats_hand_column():
    # the second column keeps unit 5 in (a unit with no value at all counts as screened out)
    X = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [1.0, 4.0], [np.nan, 5.0]])
    s = indicator_stats(X, ("x", "z")).iloc[0]
    assert (s.n_avail, s.n_nonzero, s.n_unique, s.n_same) == (4, 1, 2, 3)
    assert s.frc_avail == pytest.approx(0.8)
    assert s.frc_nonzero == pytest.approx(0.25)  # of available values, as COINr
    assert s["skew"] == pytest.approx(2.0) and s["kurtosis"] == pytest.approx(4.0)
    assert s.flag_avail == "ok"  # 0.8 ≥ 0.65
    assert s.flag_nonzero == "LOW"  # 1/5 < 0.5 (COINr divides by all units here)
    assert s.flag_unique == "LOW"
    # skew is 2 here, on the threshold; COINr's flag needs |skew| strictly above it (and kurtosis above 3.5)
    assert (abs(s["skew"]) > 2 and s["kurtosis"] > 3.5) == (s.flag_skew_kurt == "OUT")
    many = indicator_stats(np.array([[0.0]] * 9 + [[1.0]]), ("y",)).iloc[0]  # skew 3.16, kurtosis 10
    assert many["skew"] == pytest.approx(np.sqrt(10), rel=1e-12) and many["kurtosis"] == pytest.approx(10.0)
    assert many.flag_skew_kurt == "OUT"



def test_indicator_stats_count_equal_values_once_and_leave_an_empty_column_empty():
    X = np.array([[-0.0, np.nan, 2.0], [0.0, np.nan, 2.0], [3.0, np.nan, 1.0], [np.nan, np.nan, 2.0]])
    s = indicator_stats(X, ("signed_zeros", "empty", "repeats")).set_index("indicator")
    assert (s.loc["signed_zeros", "n_unique"], s.loc["signed_zeros", "n_same"]) == (2, 2)  # −0 equals 0
    assert s.loc["signed_zeros", "n_nonzero"] == 1 and s.loc["signed_zeros", "median"] == 0.0
    assert (s.loc["empty", "n_avail"], s.loc["empty", "n_unique"], s.loc["empty", "n_same"]) == (0, 0, 0)
    assert np.isnan(s.loc["empty", "min"]) and np.isnan(s.loc["empty", "frc_unique"])
    assert (s.loc["repeats", "n_unique"], s.loc["repeats", "n_same"], s.loc["repeats", "median"]) == (2, 3, 2.0)


def test_correlation_p_value_and_spearman():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0, 7.0])
    r, p, n = correlation(x, y)
    assert n == 5 and r == pytest.approx(0.8)
    from scipy import stats

    assert p == pytest.approx(stats.pearsonr(x[:5], y[:5]).pvalue)
    rs, _, _ = correlation(x, y, "spearman")
    assert rs == pytest.approx(0.8)  # the data are already ranks


def test_correlations_rank_each_pair_on_its_complete_observations():
    # columns a1, a2, b1, b2, A, B, Index; a2 has a gap, so its Spearman pairs rank only the rows both have
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 6, size=(12, 7)).astype(float)
    scores[3, 1] = np.nan
    ctx = make_context(12)
    table = correlations(scores, ctx, with_p_values=False)
    nodes = list(ctx.compiled.nodes)
    for row in table.itertuples():
        x, y = scores[:, nodes.index(row.x)], scores[:, nodes.index(row.y)]
        r, _, n = correlation(x, y, row.method)
        assert (row.n, row.r) == (n, pytest.approx(r, abs=0, nan_ok=True)), row
    assert set(table.loc[table["x"] == "a2", "n"]) == {11} and set(table.loc[table["x"] == "a1", "n"]) == {11, 12}


def test_flags_thresholds():
    corr = pd.DataFrame({
        "node": "P", "x": ["a", "a", "b", "a", "a"], "y": ["b", "c", "c", "P", "d"],
        "relation": ["within", "within", "within", "parent", "within"], "method": "pearson",
        "r": [0.95, -0.5, 0.1, 0.2, 0.5], "p_value": 0.01, "n": 10,
    })
    f = correlation_flags(corr)
    got = {(r.x, r.y, r.flag) for r in f.itertuples()}
    assert got == {("a", "b", "collinear"), ("a", "c", "negative"), ("b", "c", "weak"), ("a", "P", "weak")}


def _hand_audit():
    X = np.array([[1.0, 2.0, 5.0, 1.0], [2.0, 4.0, 3.0, 2.0], [3.0, 5.0, 4.0, 4.0],
                  [4.0, 9.0, 1.0, 3.0], [5.0, 8.0, 2.0, 5.0]])
    ctx = make_context(5)
    steps = [Step.parse({"normalise": {"method": "minmax"}}), Step.parse({"aggregate": {}})]
    return audit(run_pipeline(cube(X), ctx, steps), ctx), ctx


def test_effective_weights_on_hand_framework():
    a, _ = _hand_audit()
    ew = a.effective_weights.set_index("child")
    # A has weight 1 of 3 under Index, a2 has 3 of 4 under A → 1/3 · 3/4 = 1/4
    assert ew.loc["a2", "weight"] == pytest.approx(0.75)
    assert ew.loc["a2", "effective_weight"] == pytest.approx(0.25)
    assert ew.loc["B", "effective_weight"] == pytest.approx(2 / 3)
    assert ew.groupby("parent")["importance"].sum().to_numpy() == pytest.approx(1.0)


def test_an_indicator_the_build_lost_does_not_count_in_the_audit():
    X = np.array([[1.0, 7.0, 5.0, 1.0], [2.0, 7.0, 3.0, 2.0], [3.0, 7.0, 4.0, 4.0],
                  [4.0, 7.0, 1.0, 3.0], [5.0, 7.0, 2.0, 5.0]])  # a2 constant: min-max loses every value of it
    ctx = make_context(5)
    steps = [Step.parse({"normalise": {"method": "minmax"}}), Step.parse({"aggregate": {}})]
    a = audit(run_pipeline(cube(X), ctx, steps), ctx)
    ew = a.effective_weights.set_index("child")
    assert "a2" not in ew.index  # A is a1 alone, as the build aggregates it
    assert ew.loc["a1", "weight"] == 1.0 and ew.loc["a1", "effective_weight"] == pytest.approx(1 / 3)
    assert "a2" not in set(a.correlations["x"]) | set(a.correlations["y"])
    cron = a.cronbach.set_index("node")
    assert cron.loc["A", "children"] == 1 and np.isnan(cron.loc["A", "alpha"])
    assert "- A: alpha undefined (one child with scores: alpha needs two)" in summary(a)
    assert "- B: alpha " in summary(a) and "alpha 0.00" not in summary(a)


def test_write_audit_is_complete_and_leaves_no_temp(tmp_path):
    a, _ = _hand_audit()
    out = tmp_path / "audit"
    paths = write_audit(a, out)
    assert {p.name for p in paths} <= {p.name for p in out.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == ["audit"]  # no temporary folder left beside it
    assert pd.read_csv(out / "audit_cronbach.csv")["node"].tolist() == ["A", "B", "Index"]
    assert "Cronbach" in (out / "audit_summary.txt").read_text()


# --- COINr's numbers on ASEM --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def asem_audit(asem_standard):
    return audit(asem_standard.stages, asem_standard.context)


def test_audit_without_p_values_differs_only_in_them(asem_standard, asem_audit):
    bare = audit(asem_standard.stages, asem_standard.context, with_p_values=False)
    assert bare.correlations["p_value"].isna().all() and bare.flags["p_value"].isna().all()
    assert asem_audit.correlations["p_value"].notna().sum() == asem_audit.correlations["r"].notna().sum() > 0
    pd.testing.assert_frame_equal(bare.correlations.drop(columns="p_value"),
                                  asem_audit.correlations.drop(columns="p_value"))
    for name in ("stats", "cronbach", "pca", "effective_weights"):
        pd.testing.assert_frame_equal(getattr(bare, name), getattr(asem_audit, name))
    assert bare.summary() == asem_audit.summary()


def test_a_builds_audit_is_the_one_without_p_values_made_once(asem_standard):
    bare = audit(asem_standard.stages, asem_standard.context, with_p_values=False)
    assert asem_standard.audit is asem_standard.audit  # every face reads the same value
    for name in ("stats", "correlations", "cronbach", "pca", "effective_weights", "flags"):
        pd.testing.assert_frame_equal(getattr(asem_standard.audit, name), getattr(bare, name))


def test_p_values_of_many_correlations_at_once():
    from scipy import stats

    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 30))
    y = x + rng.normal(size=(4, 30)) * np.array([[0.1], [1.0], [3.0], [10.0]])
    r = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(x, y)])
    expected = [stats.pearsonr(a, b).pvalue for a, b in zip(x, y)]
    np.testing.assert_allclose(p_values(r, np.full(4, 30.0)), expected, rtol=1e-10)
    assert np.isnan(p_values(np.array([np.nan]), np.array([2.0]))[0])
    assert p_values(np.array([1.0, -1.0]), np.array([5.0, 5.0])).tolist() == [0.0, 0.0]


def test_stats_match_coinr(asem_audit):
    (path,) = need_fixture("stats_raw.csv")
    ref = pd.read_csv(path)
    for ours_stage, dset in (("raw", "Raw"), ("normalise", "Normalised")):
        ours = asem_audit.stats[asem_audit.stats["stage"] == ours_stage].set_index("indicator")
        theirs = ref[ref["dset"] == dset].set_index("iCode")
        assert set(theirs.index) == set(ours.index)
        for a, b in (("min", "Min"), ("max", "Max"), ("mean", "Mean"), ("median", "Median"), ("std", "Std"),
                     ("skew", "Skew"), ("kurtosis", "Kurt"), ("frc_avail", "Frc.Avail"),
                     ("frc_nonzero", "Frc.NonZero"), ("frc_unique", "Frc.Unique"), ("frc_same", "Frc.Same")):
            np.testing.assert_allclose(ours.loc[theirs.index, a], theirs[b], rtol=1e-9, atol=1e-9, err_msg=a)
        for a, b in (("n_avail", "N.Avail"), ("n_nonzero", "N.NonZero"), ("n_unique", "N.Unique"),
                     ("n_same", "N.Same"), ("flag_avail", "Flag.Avail"), ("flag_nonzero", "Flag.NonZero"),
                     ("flag_unique", "Flag.Unique"), ("flag_skew_kurt", "Flag.SkewKurt")):
            assert ours.loc[theirs.index, a].tolist() == theirs[b].tolist(), a


def test_cronbach_matches_coinr(asem_audit):
    (path,) = need_fixture("cronbach.csv")
    ref = pd.read_csv(path)
    ref = ref[ref["dset"] != "Raw"].set_index("Group")["alpha"]  # ours is on the data aggregation sees
    ours = asem_audit.cronbach.set_index("node")["alpha"]
    np.testing.assert_allclose(ours.loc[ref.index], ref, rtol=1e-9)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlations_match_coinr(asem_audit, method):
    within, parent = need_fixture(f"corr_normalised_within_pillar_{method}.csv",
                                  f"corr_aggregated_withparent_{method}.csv")
    c = asem_audit.correlations[asem_audit.correlations["method"] == method]
    ours = {frozenset((r.x, r.y)): r.r for r in c.itertuples()}
    ref = pd.read_csv(within)
    ref = ref[ref["Var1"] != ref["Var2"]]
    checked = 0
    for r in ref.itertuples():
        key = frozenset((r.Var1, r.Var2))
        if key in ours:
            assert ours[key] == pytest.approx(r.Correlation, abs=1e-9)
            checked += 1
    assert checked == len(ref)  # every within-pillar pair of COINr's is one of ours
    ref = pd.read_csv(parent)
    ref = ref[ref["ParentLevel"] == ref["ChildLevel"] + 1]  # COINr's file also holds grandparents
    assert len(ref) == 59
    for r in ref.itertuples():
        assert ours[frozenset((r.Parent, r.Child))] == pytest.approx(r.Correlation, abs=1e-9)


def test_pca_matches_coinr(asem_audit):
    (path,) = need_fixture("pca.csv")
    ref = pd.read_csv(path)
    ours = asem_audit.pca.assign(Component="PC" + asem_audit.pca["component"].astype(str))
    merged = ref.merge(ours, left_on=["Group", "Component", "iCode"], right_on=["node", "Component", "child"])
    assert len(merged) == len(ref)
    np.testing.assert_allclose(merged["variance_share"], merged["VarExplained"], rtol=1e-9)
    np.testing.assert_allclose(merged["eigenvalue"], merged["sdev"] ** 2, rtol=1e-9)
    # prcomp's signs are arbitrary: compare loadings component by component up to one sign
    for _, g in merged.groupby(["Group", "Component"]):
        sign = np.sign((g["loading"] * g["Loading"]).sum())
        np.testing.assert_allclose(g["loading"] * sign, g["Loading"], atol=1e-8)


def test_effective_weights_match_coinr(asem_audit):
    (path,) = need_fixture("eff_weights.csv")
    ref = pd.read_csv(path).dropna(subset=["EffWeight"]).set_index("iCode")["EffWeight"]
    ours = asem_audit.effective_weights.set_index("child")["effective_weight"]
    common = ref.index.intersection(ours.index)
    assert len(common) == len(ours)
    np.testing.assert_allclose(ours.loc[common], ref.loc[common], rtol=1e-12)


def test_summary_reads_out_flags(asem_audit):
    text = asem_audit.summary()
    assert "Cronbach" in text and "collinear" in text
    assert "TBTs" in text  # the one indicator pulling against its pillar (Instit)


def test_audit_command_writes_tables(tmp_path):
    need_shared(ASEM_STANDARD, ASEM_IDATA, ASEM_IMETA)
    from typer.testing import CliRunner

    import smartcities.cli.robustness  # noqa: F401  (registers the command)
    from smartcities.cli.app import app

    result = CliRunner().invoke(app, ["audit", str(ASEM_STANDARD), "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    flags = pd.read_csv(tmp_path / "audit_flags.csv")
    assert {"negative", "weak"} <= set(flags["flag"])
    bad = CliRunner().invoke(app, ["audit", str(tmp_path / "missing.yaml"), "--out", str(tmp_path)])
    assert bad.exit_code == 2


def test_correlation_heatmap_is_the_node_matrix(asem_audit):
    from smartcities.report.robustness_charts import correlation_heatmap, correlation_matrix

    m = correlation_matrix(asem_audit, "Instit")
    assert m.shape == (6, 6) and np.allclose(np.diag(m), 1) and np.allclose(m, m.T)
    assert m.loc["TBTs", "RTAs"] == pytest.approx(-0.75, abs=0.01)
    assert correlation_heatmap(asem_audit, "Instit")["data"][0]["z"].shape == (6, 6)


def test_indicator_stats_medians_are_numpys_on_odd_even_and_empty_columns():
    rng = np.random.default_rng(2)
    X = np.round(rng.normal(size=(41, 6)), 2)
    X[:10, 0] = np.nan  # 31 values: the middle one
    X[:11, 1] = np.nan  # 30: the mean of the two middle ones
    X[:, 2] = np.nan  # none
    X[5:, 3] = np.nan  # 5, ties likely after rounding
    stats = indicator_stats(X, tuple("abcdef"))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(X, axis=0)
    assert np.array_equal(stats["median"].to_numpy(), expected, equal_nan=True)
    assert np.isnan(stats["median"][2]) and stats["skew"].notna().sum() == 5
