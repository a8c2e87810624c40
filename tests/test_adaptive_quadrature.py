"""Adaptive quadrature (section 10): few nodes, moved to each cluster's posterior, match a fine grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayesmix as bm


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(4)
    n_clusters, size = 25, 30  # large clusters: sharp cluster posteriors, hard for a fixed grid
    cluster = np.repeat(np.arange(n_clusters), size)
    alpha = -0.2 + 1.5 * rng.standard_normal(n_clusters)
    cls = (rng.uniform(size=cluster.size) < expit(alpha[cluster])).astype(int)
    beta = np.array([[-1.5, -1.0, 1.5, -1.2, 1.0], [1.5, 1.0, -1.5, 1.2, -1.0]])
    y = (rng.uniform(size=(cluster.size, 5)) < expit(beta[1 - cls])).astype(float)
    frame = pd.DataFrame(y, columns=[f"y{i}" for i in range(5)])
    frame["g"] = cluster
    return bm.lca(frame, items=list(frame.columns[:5]), n_classes=2, cluster="g", random_intercept=True)


def test_adaptive_gauss_hermite_matches_fine_grid(model):
    fine = model.fit_ml(starts=(4, 1), seed=1, integration={"method": "trapezoid", "points": 80})
    adaptive = model.fit_ml(starts=(4, 1), seed=1,
                            integration={"method": "gauss-hermite", "points": 15, "adaptive": True})
    fixed = model.fit_ml(starts=(4, 1), seed=1, integration={"method": "gauss-hermite", "points": 15})
    # cluster posteriors of a logit random intercept are skewed (clusters all in one class), so a
    # 15-node adaptive rule is not exact: measured 3e-4 off here, 4e-6 with 30 nodes
    assert adaptive.loglik == pytest.approx(fine.loglik, abs=1e-3)
    assert abs(fixed.loglik - fine.loglik) > 10 * abs(adaptive.loglik - fine.loglik)
    est = lambda r: r.params.loc["random_sd[class1]", "estimate"]  # noqa: E731
    assert est(adaptive) == pytest.approx(est(fine), rel=2e-3)


def test_adaptive_warns_when_cluster_posteriors_are_not_normal():
    """Model 6 on between-level data: class ICC -> 1 makes the integrand a step (section 5)."""
    sim = bm.datasets.simulate_mixture_regression(n_clusters=100, cluster_size=10, seed=2)
    m6 = bm.mixture_regression(sim.data, "y", ["x"], 2, cluster="cluster", class_level="within",
                               random=("intercept",), random_class_intercept=True)
    with pytest.warns(UserWarning, match="adaptive quadrature gives LL"):
        m6.fit_ml(starts=(4, 1), seed=1, integration={"method": "gauss-hermite", "points": 11, "adaptive": True})
