"""The Dask backend runs the same chunks as tasks on a local cluster of two worker processes and gives exactly the
default backend's results for the same seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_context

from smartcities.engine.pipeline import Step
from smartcities.model.spec import Backend, Uncertainty
from smartcities.robustness.uncertainty import analyse

pytest.importorskip("dask.distributed")


def test_dask_local_cluster_gives_identical_results():
    rng = np.random.default_rng(8)
    X = rng.lognormal(size=(40, 4))
    X[3, 1] = np.nan
    ctx = make_context(40)
    steps = [Step.parse({"impute": {"method": "mean"}}),
             Step.parse({"normalise": {"method": "minmax", "range": [1, 100]}}), Step.parse({"aggregate": {}})]
    u = Uncertainty.model_validate({"runs": 64, "seed": 5, "factors": {
        "imputation": {"step": "impute", "alternatives": [{"method": "none"}, {"method": "mean"}]},
        "weights": {"step": "aggregate", "noise": 0.3},
        "aggregation": {"step": "aggregate", "parameter": "method", "values": ["arithmetic", "geometric"]},
    }})
    local = analyse(X, ctx, steps, u, Backend(chunk_runs=40))
    remote = analyse(X, ctx, steps, u, Backend(name="dask", chunk_runs=40))  # 8 tasks over 2 workers
    assert remote.runs == local.runs == 64 * 5
    for name in ("rank_intervals", "movement", "sensitivity", "convergence"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(remote, name), check_exact=True)
