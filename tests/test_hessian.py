"""Observed information from gradients (central differences) against the exact vectorized Hessian."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix as bm
import bayesmix.inference.objective as objective
from bayesmix.inference.objective import flat_model


@pytest.fixture(scope="module")
def two_level():
    """Random-intercept LCA (quadrature), 30 clusters of 4, 4 binary items: 11 parameters."""
    sim = bm.datasets.simulate_lca(n_units=120, n_items=4, n_classes=2, missing_rate=0.05, seed=3)
    data = sim.data.assign(school=np.repeat(np.arange(30), 4))
    m = bm.lca(data, items=sim.items, n_classes=2, cluster="school", random_intercept=True)
    flat = flat_model(m)
    theta = np.random.default_rng(0).normal(0.0, 0.7, flat.n_params)
    return m, flat, theta


def _assert_close(approx, exact, rtol=1e-5):
    scale = np.abs(exact).max()
    assert np.abs(approx - exact).max() <= rtol * scale
    np.testing.assert_allclose(approx, exact, rtol=rtol, atol=1e-3 * rtol * scale)


def test_hessian_from_gradients_equals_exact(two_level):
    m, flat, theta = two_level
    assert flat._hessian_method("auto") == "gradient"  # nothing compiled yet: no exact Hessian to compile
    exact = flat.hessian(theta, "loglik", method="exact")
    from_gradients = flat.hessian(theta, "loglik", method="gradient")
    assert np.all(np.isfinite(exact))
    _assert_close(from_gradients, exact)
    np.testing.assert_array_equal(from_gradients, from_gradients.T)


def test_scores_equal_exact_jacobian(two_level):
    m, flat, theta = two_level
    units, jac = flat.jacobian_of("test_unit_scores", [m.integrated_loglik(flat.mm.integration)], theta,
                                  method="exact")
    assert jac.shape == (30, flat.n_params)
    np.testing.assert_allclose(units, flat.unit_loglik(theta))
    flat._score_cache = None
    _assert_close(flat.scores(theta), jac)  # forward passes only
    flat.hessian(theta, method="gradient")  # the sweep leaves the scores of the same differences
    cached = flat.scores(theta)
    _assert_close(cached, jac)
    other = theta + 0.1
    assert not np.array_equal(flat.scores(other), cached)  # the cache is keyed by theta


def test_auto_switches_to_gradients_for_large_graphs(two_level, monkeypatch):
    m, flat, theta = two_level
    assert flat.graph_size == 120 * 2 * 30  # rows x classes x quadrature nodes
    monkeypatch.setattr(objective, "EXACT_HESSIAN_LIMIT", flat.n_params * flat.graph_size - 1)
    assert flat._hessian_method("auto") == "gradient"
    flat.hessian_method = "exact"
    try:
        assert flat._hessian_method(None) == "exact"
    finally:
        flat.hessian_method = "auto"
    with pytest.raises(ValueError, match="method="):
        flat.hessian(theta, method="bfgs")


def test_laplace_kind_from_gradients():
    """Single level, log density with priors and Jacobian (the Laplace Hessian)."""
    sim = bm.datasets.simulate_lca(n_units=80, n_items=4, n_classes=2, seed=4, n_covariates=1,
                                   class_slope=[[0.8]])
    flat = flat_model(bm.lca(sim.data, items=sim.items, n_classes=2, covariates=sim.covariates))
    theta = np.random.default_rng(1).normal(0.0, 0.7, flat.n_params)
    _assert_close(flat.hessian(theta, "laplace", method="gradient"), flat.hessian(theta, "laplace", method="exact"))
