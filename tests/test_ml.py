"""ML path for LCA: published carcinoma results, an independent EM, SEs vs finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logsumexp

import bayesmix as bm
from bayesmix.inference.objective import flat_model

ITEMS = list("ABCDEFG")


def _em_binary_lca(y: np.ndarray, resp: np.ndarray, iterations: int = 5000):
    """Textbook EM for binary LCA (Goodman 1974), independent of bayesmix's code."""
    for _ in range(iterations):
        pi = resp.mean(0)
        p = np.clip((resp.T @ y) / resp.sum(0)[:, None], 1e-12, 1 - 1e-12)  # (K, I)
        logp = np.log(pi) + y @ np.log(p).T + (1 - y) @ np.log(1 - p).T
        ll = logsumexp(logp, axis=1)
        resp = np.exp(logp - ll[:, None])
    return ll.sum(), pi, p


@pytest.mark.parametrize("k, loglik, n_params, bic, starts", [
    (2, -317.2568, 15, 706.074, 20),
    (3, -293.7050, 23, 697.136, 20),
    (4, -289.2859, 31, None, (60, 15)),
])
def test_carcinoma_published_ml(carcinoma, k, loglik, n_params, bic, starts):
    ml = bm.lca(carcinoma, items=ITEMS, n_classes=k).fit_ml(starts=starts, seed=1)
    assert ml.loglik == pytest.approx(loglik, abs=1e-3)
    assert ml.n_params == n_params
    if bic is not None:
        assert ml.bic == pytest.approx(bic, abs=1e-3)
    assert ml.starts.n_replicated >= 2
    # an independent EM started from bayesmix's posterior probabilities reaches the same LL and profiles
    y = carcinoma[ITEMS].to_numpy(float)
    em_ll, em_pi, em_p = _em_binary_lca(y, ml.posterior_probabilities.to_numpy())
    assert em_ll == pytest.approx(ml.loglik, abs=1e-4)
    ours = np.stack([ml.profiles[(c, "estimate")].to_numpy() for c in ml.profiles.columns.levels[0]])
    np.testing.assert_allclose(ours, em_p, atol=2e-3)
    np.testing.assert_allclose(ml.class_proportions["estimate"], em_pi, atol=2e-3)


def test_ml_result_table_and_fit_statistics(carcinoma_k2_ml):
    ml = carcinoma_k2_ml
    assert ml.aic == pytest.approx(-2 * ml.loglik + 2 * 15)
    assert ml.abic == pytest.approx(-2 * ml.loglik + 15 * np.log((118 + 2) / 24))
    assert list(ml.params.columns[:3]) == ["estimate", "se", "se_robust"]
    assert "binary_logit[class1, A]" in ml.params.index
    assert ml.class_proportions["estimate"].sum() == pytest.approx(1.0)
    assert ml.class_counts.sum() == 118
    assert 0.8 < ml.entropy <= 1.0
    assert "log-likelihood -317.2568" in str(ml)


def test_standard_errors_match_finite_difference_hessian():
    sim = bm.datasets.simulate_lca(n_units=400, n_items=5, n_classes=2, seed=21, n_covariates=1,
                                   class_slope=[[0.7]])
    m = bm.lca(sim.data, items=sim.items, n_classes=2, covariates=sim.covariates)
    ml = m.fit_ml(starts=8, seed=2)
    assert ml.n_boundary == 0
    flat = flat_model(m)
    f = flat.value_and_grad("loglik")
    theta, h = ml.theta, 1e-5
    numeric = np.empty((len(theta), len(theta)))
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = h
        numeric[:, j] = (f(theta + e)[1] - f(theta - e)[1]) / (2 * h)
    se_numeric = np.sqrt(np.diag(np.linalg.inv(0.5 * (numeric + numeric.T))))
    # the free RVs are all unconstrained here, so params rows are theta elements
    np.testing.assert_allclose(ml.params["se"].to_numpy(), se_numeric, rtol=1e-4)
    # robust and model-based SEs agree when the model is correct (ratio near 1)
    ratio = ml.params["se_robust"] / ml.params["se"]
    assert ratio.between(0.7, 1.4).all()
    # truth within 3.5 SE of the estimate for every parameter (under the ML labeling of the classes)
    truth = np.concatenate([sim.truth["class_intercept"], sim.truth["class_slope"].ravel(),
                            sim.truth["binary_logit"].ravel()])
    swapped = np.concatenate([-sim.truth["class_intercept"], -sim.truth["class_slope"].ravel(),
                              sim.truth["binary_logit"][::-1].ravel()])
    estimate = ml.params["estimate"].to_numpy()
    if np.sum((estimate - swapped) ** 2) < np.sum((estimate - truth) ** 2):
        truth = swapped
    z = (ml.params["estimate"].to_numpy() - truth) / ml.params["se"].to_numpy()
    assert np.all(np.abs(z) < 3.5), z


def test_lrt_and_select_classes(carcinoma):
    table = bm.select_classes(bm.lca, carcinoma, items=ITEMS, k_max=3, starts=10, seed=1)
    assert list(table.index) == [1, 2, 3]
    np.testing.assert_allclose(table["loglik"].iloc[1:], [-317.2568, -293.7050], atol=1e-3)
    assert table["bic"].idxmin() == 3  # the published BIC prefers 3 classes (697.1 < 706.1)
    m1, m2 = (bm.lca(carcinoma, items=ITEMS, n_classes=k) for k in (1, 2))
    ml1, ml2 = m1.fit_ml(starts=1, seed=1), m2.fit_ml(starts=10, seed=1)
    test = bm.lrt(m1, ml1, m2, ml2)
    assert test["df"] == 8 and test["statistic"] == pytest.approx(2 * (ml2.loglik - ml1.loglik))
    with pytest.raises(ValueError, match="nested"):
        bm.lrt(m2, ml2, m1, ml1)
    with pytest.warns(FutureWarning, match="deprecated"):  # the old two-argument form still works
        assert bm.lrt(ml1, ml2).equals(test)


def test_unreplicated_best_loglik_warns(carcinoma):
    m = bm.lca(carcinoma, items=ITEMS, n_classes=4)
    with pytest.warns(UserWarning, match="reached by only one"):
        m.fit_ml(starts=(6, 3), seed=3, initial_iterations=2, max_iterations=15)


def test_map_and_laplace_close_to_nuts(carcinoma_k2, carcinoma_k2_idata):
    mp = carcinoma_k2.fit_map(starts=5, seed=1)
    assert mp.loglik < -317.2568 + 1e-6  # the mode with priors cannot beat the ML LL
    assert mp.loglik > -325  # the N(0, 2.5) logit priors pull boundary probabilities (0/1) inward
    la = carcinoma_k2.fit_laplace(draws=400, seed=1)
    assert set(la.children) >= {"posterior", "log_likelihood", "observed_data"}
    nuts = carcinoma_k2.class_proportions(carcinoma_k2_idata)
    lap = carcinoma_k2.class_proportions(la)
    np.testing.assert_allclose(lap["mean"], nuts["mean"], atol=2 * nuts["sd"].max())
