"""The statistical audit of a build: does the data hold up, and does the framework hold together?

Definitions follow COINr (1.1.14) so results can be checked against it:

- indicator statistics and flags as `get_stats`: availability below 0.65, non-zero share below 0.5, unique
  share below 0.5, and outliers where |skew| > 2 and kurtosis > 3.5 (bias-adjusted skew and excess kurtosis);
- Pearson and Spearman correlations on pairwise-complete observations (`get_corr`), within each node's children
  and of each child with its parent, flagged with `plot_corr`'s thresholds: negative below −0.4, weak from −0.4
  to 0.3, and collinear above 0.9 in absolute value;
- Cronbach's alpha per node from the pairwise-complete covariance matrix (`get_cronbach`);
- PCA per node on the standardised children, complete cases only (`get_PCA`, i.e. prcomp with scaling); the
  first component's loadings are the "PCA weights", here signed so that they sum to a positive number;
- effective weights as `get_eff_wts` (the product of the normalised weights down the tree), next to how much
  each child really drives its parent: its squared correlation with the parent as a share of its siblings'.

Everything is computed on the nominal run: statistics on every data stage, the rest on the scores the
aggregation saw (the last data stage for indicators, the aggregates above them).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.context import Context
from ..engine.grade import ranks
from ..engine.pipeline import Stages
from ..engine.stats import central_sums, kurtosis_from, skew_from
from ..io.outputs import atomic_folder

T_AVAIL, T_ZERO, T_UNIQUE, T_SKEW, T_KURT = 0.65, 0.5, 0.5, 2.0, 3.5
NEGATIVE, WEAK, COLLINEAR = -0.4, 0.3, 0.9


@dataclass(frozen=True)
class Audit:
    """Tidy tables of the audit; `summary()` reads them out."""

    stats: pd.DataFrame  # stage, indicator, min … kurtosis, n_*, frc_*, flag_*
    correlations: pd.DataFrame  # node, x, y, relation (within | parent), method, r, p_value, n
    flags: pd.DataFrame  # node, x, y, relation, flag (negative | weak | collinear), r, p_value
    cronbach: pd.DataFrame  # node, children, units, alpha
    pca: pd.DataFrame  # node, component, child, loading, eigenvalue, variance_share, cumulative_share
    effective_weights: pd.DataFrame  # parent, child, level, weight, effective_weight, pca_weight, corr…

    def summary(self) -> str:
        return summary(self)


# --- statistics -------------------------------------------------------------------------------------------------

def indicator_stats(X: np.ndarray, indicators: tuple[str, ...], stage: str = "raw") -> pd.DataFrame:
    """COINr's get_stats for a (units, indicators) array. Units with no value at all (screened out) are not
    counted. Every statistic is computed for all columns at once, and the distinct values of each column and its
    most repeated one are counted on all columns sorted together (missing values last): a column at a time
    would cost a dozen NumPy calls per indicator and stage."""
    X = X[~np.all(np.isnan(X), axis=1)]
    n, k = X.shape
    present = np.count_nonzero(~np.isnan(X), axis=0)
    nonzero = np.count_nonzero(X != 0, axis=0) - (n - present)  # NaN != 0 counts too: take it back
    ordered = np.sort(X, axis=0)
    unique, same = _repeats(ordered, present)
    sums = central_sums(X, axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty column has no statistics: they stay NaN
        table = pd.DataFrame({
            "stage": stage, "indicator": list(indicators),
            "min": np.nanmin(X, axis=0) if n else np.full(k, np.nan),
            "max": np.nanmax(X, axis=0) if n else np.full(k, np.nan),
            "mean": np.nanmean(X, axis=0), "median": _medians(ordered, present),
            "std": np.where(present > 1, np.nanstd(X, axis=0, ddof=1), np.nan),
            "skew": skew_from(sums.n, sums.s2, sums.s3)[0], "kurtosis": kurtosis_from(sums.n, sums.s2, sums.s4)[0],
            "n_avail": present, "n_nonzero": nonzero, "n_unique": unique, "n_same": same,
            "frc_avail": present / n if n else np.full(k, np.nan),
            "frc_nonzero": nonzero / present, "frc_unique": unique / present, "frc_same": same / present,
        })
    # COINr compares the zero and unique counts with all units, not only those with data
    share = (lambda c: c / n) if n else (lambda c: np.zeros(k))
    table["flag_avail"] = np.where(share(present) >= T_AVAIL, "ok", "LOW") if n else "LOW"
    table["flag_nonzero"] = np.where(share(nonzero) >= T_ZERO, "ok", "LOW") if n else "LOW"
    table["flag_unique"] = np.where(share(unique) >= T_UNIQUE, "ok", "LOW") if n else "LOW"
    table["flag_skew_kurt"] = np.where((np.abs(table["skew"]) > T_SKEW) & (table["kurtosis"] > T_KURT), "OUT", "ok")
    return table


def _medians(ordered: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per column of `ordered` (each sorted, missing values last, `present` values each): the median, as
    np.nanmedian gives it (the middle value, or the mean of the two middle values), read off the sort."""
    if not len(ordered):
        return np.full(len(present), np.nan)
    columns, last = np.arange(len(present)), np.maximum(present - 1, 0)  # the place of each column's last value
    low, high = ordered[last // 2, columns], ordered[(last + 1) // 2, columns]
    return np.where(present == 0, np.nan, np.where(present % 2 == 1, low, (low + high) / 2))


def _repeats(ordered: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of `ordered` (each sorted, missing values last, `present` values each): the number of distinct
    values and the length of the longest run of one value."""
    unique, same = np.zeros(len(present), dtype=int), np.zeros(len(present), dtype=int)
    for j, avail in enumerate(present):
        if avail:
            xs = ordered[:avail, j]
            starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
            unique[j], same[j] = starts.size, int(np.diff(starts, append=avail).max())
    return unique, same


# --- correlations -----------------------------------------------------------------------------------------------

def correlation(x: np.ndarray, y: np.ndarray, method: str = "pearson") -> tuple[float, float, int]:
    """r, two-sided p-value and n on the pairwise-complete observations; Spearman ranks those (ties averaged)."""
    r, n = _correlation(x, y, method)
    return r, float(p_values(np.array([r]), np.array([n]))[0]), n


def _correlation(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, int]:
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan, n
    if method == "spearman":
        x, y = ranks(-x, axis=0, ties="average"), ranks(-y, axis=0, ties="average")  # rank 1 for the lowest
    return float(np.clip(np.corrcoef(x, y)[0, 1], -1, 1)), n


def p_values(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-values of correlations r on n observations: Student's t with n − 2 degrees of freedom.
    scipy.special is imported here, not with the module: the report shows no p-values and is faster without."""
    from scipy.special import stdtr

    with np.errstate(all="ignore"):
        t = np.where(np.abs(r) < 1, r * np.sqrt((n - 2) / (1 - r * r)), np.inf)
        return np.where(np.isnan(r), np.nan, 2 * stdtr(n - 2.0, -np.abs(t)))


def _families(ctx: Context, scores: np.ndarray) -> list[tuple[str, list[int]]]:
    """Each aggregate node with the score columns of its children that have a score: a child the build lost
    every value of (a constant indicator, one screening removed) does not count in its parent, so neither does
    it here. A node left with no such child is left out."""
    nodes = ctx.compiled.nodes
    index = {n: j for j, n in enumerate(nodes)}
    scored = ~np.isnan(scores).all(axis=0)
    fw = ctx.framework
    families = [(p, [index[c] for c in fw.children[p] if scored[index[c]]]) for p in nodes if fw.children[p]]
    return [(p, kids) for p, kids in families if kids]


def correlations(scores: np.ndarray, ctx: Context, *, with_p_values: bool = True) -> pd.DataFrame:
    """Pearson and Spearman correlations within each node's children and of each child with its node; p-values
    NaN unless `with_p_values`."""
    nodes = ctx.compiled.nodes
    index = {n: j for j, n in enumerate(nodes)}
    # two columns with no gaps: Pearson from one correlation matrix of every column, and Spearman, Pearson of
    # their ranks, from one of the ranked columns; a pair with gaps is correlated on its own complete rows
    complete = ~np.isnan(scores).any(axis=0) & (np.ptp(scores, axis=0) > 0 if len(scores) else False)
    whole = {}
    if len(scores) >= 3 and complete.any():
        with np.errstate(all="ignore"):
            whole = {"pearson": np.corrcoef(scores[:, complete], rowvar=False),
                     "spearman": np.corrcoef(ranks(-scores[:, complete], axis=0, ties="average"), rowvar=False)}
    at = np.cumsum(complete) - 1  # a complete column's place in the matrices
    rows = []
    for parent, kids in _families(ctx, scores):
        pairs = [(a, b, "within") for i, a in enumerate(kids) for b in kids[i + 1:]]
        pairs += [(k, index[parent], "parent") for k in kids]
        for a, b, relation in pairs:
            for method in ("pearson", "spearman"):
                if whole and complete[a] and complete[b]:
                    r, n = float(np.clip(np.atleast_2d(whole[method])[at[a], at[b]], -1, 1)), len(scores)
                else:
                    r, n = _correlation(scores[:, a], scores[:, b], method)
                rows.append({"node": parent, "x": nodes[a], "y": nodes[b], "relation": relation, "method": method,
                             "r": r, "p_value": np.nan, "n": n})
    table = pd.DataFrame(rows, columns=["node", "x", "y", "relation", "method", "r", "p_value", "n"])
    if with_p_values and len(table):
        table["p_value"] = p_values(table["r"].to_numpy(float), table["n"].to_numpy(float))
    return table


def correlation_flags(corr: pd.DataFrame) -> pd.DataFrame:
    """Pearson pairs within a node that are negative, weak or collinear, and children weakly tied to their parent."""
    c = corr[corr["method"] == "pearson"].dropna(subset=["r"])
    within, parent = c[c["relation"] == "within"], c[c["relation"] == "parent"]
    parts = [
        within[within["r"] < NEGATIVE].assign(flag="negative"),
        within[(within["r"] >= NEGATIVE) & (within["r"] < WEAK)].assign(flag="weak"),
        within[within["r"].abs() > COLLINEAR].assign(flag="collinear"),
        parent[parent["r"] < WEAK].assign(flag="weak"),
    ]
    cols = ["node", "x", "y", "relation", "flag", "r", "p_value"]
    parts = [p[cols] for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


# --- reliability and structure ----------------------------------------------------------------------------------

def pairwise_cov(X: np.ndarray) -> np.ndarray:
    """Covariance matrix on pairwise-complete observations (R's cov(use = "pairwise.complete.obs")). Where no
    value is missing (as after imputation) every pair is complete: one product gives them all."""
    n, k = X.shape
    if n > 1 and not np.isnan(X).any():
        return np.cov(X, rowvar=False).reshape(k, k)
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(i, k):
            ok = ~np.isnan(X[:, i]) & ~np.isnan(X[:, j])
            if ok.sum() > 1:
                out[i, j] = out[j, i] = np.cov(X[ok, i], X[ok, j])[0, 1]
    return out


def cronbach_alpha(X: np.ndarray) -> float:
    """k² · (mean off-diagonal covariance) / (sum of all covariances), i.e. k/(k−1) · (1 − Σ var / var of sum);
    undefined (NaN) for fewer than two children."""
    k = X.shape[1]
    if k < 2:
        return np.nan
    cov = pairwise_cov(X)
    total = np.nansum(cov)
    off = (total - np.nansum(np.diag(cov))) / (k * (k - 1))
    return float(k * k * off / total) if total else np.nan


@dataclass(frozen=True)
class PCAResult:
    eigenvalues: np.ndarray  # (k,) variances of the components, largest first
    loadings: np.ndarray  # (k, k): column c holds component c's loadings
    units: int  # complete cases used


def pca(X: np.ndarray) -> PCAResult | None:
    """PCA of the standardised columns on complete cases; each component signed so its loadings sum ≥ 0."""
    Xc = X[~np.any(np.isnan(X), axis=1)]
    if Xc.shape[0] < 3 or Xc.shape[1] < 2:
        return None
    sd = Xc.std(axis=0, ddof=1)
    if np.any(sd == 0):
        return None
    Z = (Xc - Xc.mean(axis=0)) / sd
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    eig = s**2 / (Xc.shape[0] - 1)
    load = vt.T
    load = load * np.where(load.sum(axis=0) < 0, -1.0, 1.0)
    return PCAResult(eig, load, Xc.shape[0])


def effective_weights(scores: np.ndarray, ctx: Context, pcas: dict[str, PCAResult | None]) -> pd.DataFrame:
    """Nominal weights within each parent, COINr's effective weights (share of the top node), PCA weights, and
    the importance each child really has in its parent: squared correlation as a share of its siblings'."""
    fw = ctx.framework
    nodes = ctx.compiled.nodes
    index = {n: j for j, n in enumerate(nodes)}
    families = [(parent, [nodes[j] for j in cols]) for parent, cols in _families(ctx, scores)]
    within = {}
    for _, kids in families:
        w = np.array([fw.by_id[k].weight for k in kids], dtype=float)
        within.update(zip(kids, w / w.sum()))
    effective = {fw.root(): 1.0}
    for n in sorted(within, key=lambda i: -fw.level[i]):
        effective[n] = within[n] * effective.get(fw.by_id[n].parent, np.nan)
    rows = []
    for parent, kids in families:
        r = np.array([_correlation(scores[:, index[k]], scores[:, index[parent]], "pearson")[0] for k in kids])
        r2 = np.where(np.isnan(r), 0.0, r**2)
        share = r2 / r2.sum() if r2.sum() > 0 else np.full(len(kids), np.nan)
        res = pcas.get(parent)
        for i, k in enumerate(kids):
            rows.append({
                "parent": parent, "child": k, "level": fw.level[k], "weight": within[k],
                "effective_weight": effective[k],
                "pca_weight": res.loadings[i, 0] if res is not None else np.nan,
                "corr_with_parent": r[i], "importance": share[i],
                "importance_ratio": share[i] / within[k] if within[k] > 0 else np.nan,
            })
    return pd.DataFrame(rows)


# --- the audit --------------------------------------------------------------------------------------------------

def audit(stages: Stages, ctx: Context, *, with_p_values: bool = True) -> Audit:
    """Audit the nominal run (run 0) of a build. Units and indicators that the build removed (screened out, or
    with no data) are left out of every stage's statistics, so the audit describes the index as built.
    Without p-values (left NaN) the audit needs no scipy, which costs more to import than the audit takes."""
    final = stages.final_kept()
    cells, cols = final.cells()[0], np.flatnonzero(final.indicators[0])
    indicators = tuple(ctx.indicators[j] for j in cols)
    stat_tables = [indicator_stats(np.where(cells, X[0], np.nan)[:, cols], indicators, stage)
                   for stage, X in stages.data.items()]
    scores = stages.scores[0]
    kept = ~np.all(np.isnan(scores), axis=1)
    scores = scores[kept]
    corr = correlations(scores, ctx, with_p_values=with_p_values)
    cron, pca_rows, pcas = [], [], {}
    for parent, cols in _families(ctx, scores):
        kids = [ctx.compiled.nodes[j] for j in cols]
        block = scores[:, cols]
        cron.append({"node": parent, "children": len(cols),
                     "units": int(np.sum(~np.all(np.isnan(block), axis=1))), "alpha": cronbach_alpha(block)})
        res = pcas[parent] = pca(block)
        if res is None:
            continue
        share = res.eigenvalues / res.eigenvalues.sum()
        for c in range(len(cols)):
            for i, k in enumerate(kids):
                pca_rows.append({"node": parent, "component": c + 1, "child": k, "loading": res.loadings[i, c],
                                 "eigenvalue": res.eigenvalues[c], "variance_share": share[c],
                                 "cumulative_share": share[: c + 1].sum(), "units": res.units})
    return Audit(
        stats=pd.concat(stat_tables, ignore_index=True),
        correlations=corr,
        flags=correlation_flags(corr),
        cronbach=pd.DataFrame(cron, columns=["node", "children", "units", "alpha"]),
        pca=pd.DataFrame(pca_rows, columns=["node", "component", "child", "loading", "eigenvalue",
                                            "variance_share", "cumulative_share", "units"]),
        effective_weights=effective_weights(scores, ctx, pcas),
    )


def summary(a: Audit) -> str:
    """A plain-text reading of the audit."""
    lines = []
    raw = a.stats[a.stats["stage"] == a.stats["stage"].iloc[0]] if len(a.stats) else a.stats
    last = a.stats[a.stats["stage"] == a.stats["stage"].iloc[-1]] if len(a.stats) else a.stats
    lines.append(f"Indicators: {len(raw)}")
    for col, what in (("flag_avail", f"availability below {T_AVAIL:.0%}"),
                      ("flag_nonzero", f"fewer than {T_ZERO:.0%} non-zero values"),
                      ("flag_unique", f"fewer than {T_UNIQUE:.0%} unique values")):
        bad = raw.loc[raw[col] != "ok", "indicator"].tolist()
        lines.append(f"- {what}: {len(bad)}" + (f" ({', '.join(bad)})" if bad else ""))
    out_raw = raw.loc[raw["flag_skew_kurt"] != "ok", "indicator"].tolist()
    out_last = last.loc[last["flag_skew_kurt"] != "ok", "indicator"].tolist()
    lines.append(f"- possible outliers (|skew| > {T_SKEW:g} and kurtosis > {T_KURT:g}): {len(out_raw)} in the raw "
                 f"data" + (f" ({', '.join(out_raw)})" if out_raw else "")
                 + (f"; {len(out_last)} after the last data step" + (f" ({', '.join(out_last)})" if out_last else "")
                    if last is not raw else ""))
    lines.append("")
    lines.append("Correlations within nodes (Pearson):")
    for flag, what in (("collinear", f"collinear pairs (|r| > {COLLINEAR:g})"),
                       ("negative", f"negative pairs (r < {NEGATIVE:g})"),
                       ("weak", f"weak pairs ({NEGATIVE:g} ≤ r < {WEAK:g})")):
        f = a.flags[(a.flags["flag"] == flag) & (a.flags["relation"] == "within")]
        shown = ", ".join(f"{r.x}–{r.y} {r.r:+.2f}" for r in f.head(8).itertuples())
        lines.append(f"- {what}: {len(f)}" + (f": {shown}" + (" …" if len(f) > 8 else "") if len(f) else ""))
    weak_parent = a.flags[(a.flags["relation"] == "parent")]
    lines.append(f"- children weakly correlated with their parent (r < {WEAK:g}): {len(weak_parent)}"
                 + (": " + ", ".join(f"{r.x} in {r.node} {r.r:+.2f}" for r in weak_parent.head(8).itertuples())
                    if len(weak_parent) else ""))
    lines.append("")
    lines.append("Per node: Cronbach's alpha, first principal component's share of variance:")
    first = a.pca[a.pca["component"] == 1].drop_duplicates("node").set_index("node")["variance_share"]
    for r in a.cronbach.itertuples():
        pc = first.get(r.node, np.nan)
        alpha = (f"alpha {r.alpha:.2f}" if not np.isnan(r.alpha) else "alpha undefined"
                 + (" (one child with scores: alpha needs two)" if r.children < 2 else ""))
        lines.append(f"- {r.node}: {alpha}" + ("" if np.isnan(pc) else f", PC1 {pc:.0%}")
                     + (" (alpha below 0.7)" if r.alpha < 0.7 else ""))
    ew = a.effective_weights.dropna(subset=["importance_ratio"])
    off = ew[(ew["importance_ratio"] > 1.5) | (ew["importance_ratio"] < 0.5)]
    lines.append("")
    lines.append("Children whose real influence (r² share) differs from their weight by more than half: "
                 + (str(len(off)) if len(off) else "none"))
    for r in off.sort_values("importance_ratio").itertuples():
        lines.append(f"- {r.child} in {r.parent}: weight {r.weight:.2f}, influence {r.importance:.2f}")
    return "\n".join(lines) + "\n"


AUDIT_FILES = {"stats": "audit_stats.csv", "correlations": "audit_correlations.csv", "flags": "audit_flags.csv",
               "cronbach": "audit_cronbach.csv", "pca": "audit_pca.csv",
               "effective_weights": "audit_effective_weights.csv"}


def write_audit(a: Audit, out_dir: str | Path, reads: Iterable[str | Path] = ()) -> list[Path]:
    """Write the audit tables and summary into out_dir, all together or not at all (a folder holding one of the
    files the audit `reads` is refused)."""
    names = []
    with atomic_folder(out_dir, "audit", reads) as tmp:
        for f in fields(a):
            getattr(a, f.name).to_csv(tmp / AUDIT_FILES[f.name], index=False)
            names.append(AUDIT_FILES[f.name])
        (tmp / "audit_summary.txt").write_text(a.summary(), encoding="utf-8")
        names.append("audit_summary.txt")
    return [Path(out_dir) / n for n in names]
