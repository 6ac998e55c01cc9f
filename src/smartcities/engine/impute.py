"""Impute missing values: by the indicator's mean or median, overall or within a unit group."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, did_you_mean
from .context import Context
from .registry import register


def _fill(X: np.ndarray, stat) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fill = stat(X, axis=1, keepdims=True)
    return np.where(np.isnan(X), fill, X)


def known_group(ctx: Context, *, group: str) -> list[Problem]:
    """The group must be a column of the units table (the cities table, or COINr's group columns)."""
    if group in ctx.groups:
        return []
    return [Problem("spec", f"impute: unknown group {group!r}{did_you_mean(group, ctx.groups)}; have: "
                            f"{', '.join(ctx.groups) or 'none'}", column="group")]


NO_GROUP = ""


def group_labels(ctx: Context, group: str) -> np.ndarray:
    """The units' labels of `group` as text, NO_GROUP for a unit whose cell is empty (NaN in COINr's iData, the
    text 'nan' in the cities table): such units share no group, so nothing is imputed into them from each other."""
    labels = pd.Series(ctx.groups[group], dtype=object)
    return np.where(labels.isna() | labels.astype(str).eq("nan"), NO_GROUP, labels.astype(str)).astype(object)


def _by_group(X: np.ndarray, ctx: Context, group: str, stat) -> np.ndarray:
    """Each missing value filled with `stat` of its indicator over the unit's group; a unit with no group stays
    missing. Why not fill group by group: only the missing cells change, so the statistics are computed per group
    and written to those cells alone."""
    if problems := known_group(ctx, group=group):
        raise InputError(problems)
    missing = np.isnan(X)
    if not missing.any():
        return X
    member_of, labels = pd.factorize(group_labels(ctx, group), sort=True)  # a hash, not np.unique's sort of texts
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group with no value of an indicator leaves it missing
        fills = np.stack([stat(X[:, member_of == k, :], axis=1) for k in range(len(labels))])  # (groups, runs, ind)
    fills[labels == NO_GROUP] = np.nan
    runs, units, indicators = np.unravel_index(np.flatnonzero(missing), missing.shape)  # faster than np.nonzero
    out = X.copy()
    out[runs, units, indicators] = fills[member_of[units], runs, indicators]
    return out


@register("impute", "none")
def none(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Leave missing values missing (aggregation then skips them)."""
    return X


@register("impute", "mean")
def mean(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Each missing value becomes the mean of the indicator over all units."""
    return _fill(X, np.nanmean)


@register("impute", "median")
def median(X: np.ndarray, ctx: Context) -> np.ndarray:
    """Each missing value becomes the median of the indicator over all units."""
    return _fill(X, np.nanmedian)


@register("impute", "group-mean", check=known_group)
def group_mean(X: np.ndarray, ctx: Context, *, group: str) -> np.ndarray:
    """Each missing value becomes the indicator's mean within the unit's group (COINr's i_mean_grp); a unit
    with no group (an empty cell) keeps its missing values."""
    return _by_group(X, ctx, group, np.nanmean)


@register("impute", "group-median", check=known_group)
def group_median(X: np.ndarray, ctx: Context, *, group: str) -> np.ndarray:
    """Each missing value becomes the indicator's median within the unit's group (COINr's i_median_grp); a unit
    with no group (an empty cell) keeps its missing values."""
    return _by_group(X, ctx, group, np.nanmedian)
