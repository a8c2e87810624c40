"""The Vuong-Lo-Mendell-Rubin test (issue 13 item 5): bm.vlmr against an independent numpy computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

import bayesmix as bm
from bayesmix.datasets.simulate import simulate_lca
from bayesmix.vlmr import vuong_eigenvalues, weighted_chi2_sf

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _fits(data, items, ks, starts=(8, 3)):
    out = {}
    for k in ks:
        m = bm.lca(data, items, n_classes=k)
        out[k] = (m, m.fit_ml(starts=starts if k > 1 else 1, seed=1))
    return out


# ------------------------------------------------------------------ an LCA in numpy, nothing from bayesmix
def _unpack(theta, k, n_items):
    a = np.append(theta[: k - 1], 0.0)  # class logits, last class the reference (eq. 4)
    b = theta[k - 1:].reshape(k, n_items)  # item logits (eq. 1)
    return a, b


def _unit_loglik_and_scores(theta, y, k):
    """Per-unit log-likelihood and analytic scores of a binary LCA: d/db_ci = r_ic (y_i - p_ci), d/da_c = r_ic - pi_c."""
    n, n_items = y.shape
    a, b = _unpack(theta, k, n_items)
    log_pi = a - logsumexp(a)
    p = expit(b)  # (K, I)
    joint = log_pi + y @ np.log(p).T + (1 - y) @ np.log1p(-p).T  # (N, K)
    ll = logsumexp(joint, axis=1)
    r = np.exp(joint - ll[:, None])
    score_a = (r - np.exp(log_pi))[:, : k - 1]
    score_b = (r[:, :, None] * (y[:, None, :] - p[None])).reshape(n, -1)
    return ll, np.hstack([score_a, score_b])


def _numpy_vlmr(y, theta_small, k_small, theta_big, k_big, robust=True):
    def pieces(theta, k):
        _, s = _unit_loglik_and_scores(theta, y, k)
        h = np.empty((len(theta), len(theta)))
        for j in range(len(theta)):  # observed information: central differences of the analytic total score
            step = 1e-5 * max(1.0, abs(theta[j]))
            up, down = theta.copy(), theta.copy()
            up[j] += step
            down[j] -= step
            h[:, j] = -(_unit_loglik_and_scores(up, y, k)[1].sum(0) - _unit_loglik_and_scores(down, y, k)[1].sum(0))
            h[:, j] /= 2 * step
        return s, 0.5 * (h + h.T)

    s_f, h_f = pieces(theta_big, k_big)
    s_g, h_g = pieces(theta_small, k_small)
    n = len(y)
    af, ag = np.linalg.inv(h_f / n), np.linalg.inv(h_g / n)
    bf, bg, bfg = s_f.T @ s_f / n, s_g.T @ s_g / n, s_f.T @ s_g / n
    if robust:  # Mplus TECH11: the sandwich covariance of the estimates in place of A^-1 (Vermunt 2024)
        af, ag = af @ bf @ af, ag @ bg @ ag
    w = np.block([[bf @ af, bfg @ ag], [-bfg.T @ af, -bg @ ag]])  # Vuong (1989) eq. 3.6, A as information
    lam = np.sort(np.real(np.linalg.eigvals(w)))[::-1]
    lr = 2 * (_unit_loglik_and_scores(theta_big, y, k_big)[0].sum() - _unit_loglik_and_scores(theta_small, y,
                                                                                            k_small)[0].sum())
    return lam, lr


def _theta(fit, k):
    point = fit.point
    intercept = np.asarray(point.get("class_intercept", np.zeros(0)), dtype=float).ravel()
    return np.concatenate([intercept[: k - 1], np.asarray(point["binary_logit"], dtype=float).ravel()])


def test_vlmr_equals_an_independent_numpy_computation():
    sim = simulate_lca(200, 4, 2, binary_logit=np.array([[-0.8, -0.6, 0.7, -0.7], [0.8, 0.7, -0.6, 0.8]]),
                       seed=1)
    fits = _fits(sim.data, sim.items, (1, 2))
    (m1, f1), (m2, f2) = fits[1], fits[2]
    assert f1.n_boundary == 0 and f2.n_boundary == 0
    y = sim.data[sim.items].to_numpy(float)
    vuong = bm.vlmr(m1, f1, m2, f2, variance="information")
    lam_vuong, _ = _numpy_vlmr(y, _theta(f1, 1), 1, _theta(f2, 2), 2, robust=False)
    np.testing.assert_allclose(vuong.attrs["eigenvalues"], lam_vuong, atol=2e-4)
    out = bm.vlmr(m1, f1, m2, f2)  # the default: Mplus's robust form
    lam, lr = _numpy_vlmr(y, _theta(f1, 1), 1, _theta(f2, 2), 2)
    assert out["statistic"] == pytest.approx(lr, abs=1e-6)
    np.testing.assert_allclose(out.attrs["eigenvalues"], lam, atol=2e-4)
    assert out["df_difference"] == 5 and out["n"] == 200
    assert out["mean"] == pytest.approx(lam.sum(), abs=1e-3)
    assert out["sd"] == pytest.approx(np.sqrt(2 * np.sum(lam**2)), abs=1e-3)
    # the p-value: P(sum lam_j chi2_1 > LR) by simulation (independent of Imhof's integral)
    draws = np.random.default_rng(0).chisquare(1, size=(400_000, len(lam))) @ lam
    assert 0.01 < out["p_value"] < 0.99  # a case in the body of the distribution, where the comparison bites
    assert out["p_value"] == pytest.approx((draws > lr).mean(), abs=0.004)
    adjusted = lr / (1 + 1 / (5 * np.log(200)))  # Lo, Mendell & Rubin (2001) eq. 15
    assert out["lmr_statistic"] == pytest.approx(adjusted, abs=1e-6)
    assert out["lmr_p_value"] == pytest.approx((draws > adjusted).mean(), abs=0.004)
    assert out["lmr_p_value"] > out["p_value"]


def test_vlmr_rejects_one_class_and_keeps_two_for_two_class_data():
    sim = simulate_lca(400, 6, 2, seed=21)
    fits = _fits(sim.data, sim.items, (1, 2, 3))
    one_two = bm.vlmr(*fits[1], *fits[2])
    two_three = bm.vlmr(*fits[2], *fits[3])
    assert one_two["p_value"] < 0.001 and one_two["lmr_p_value"] < 0.001
    assert two_three["p_value"] > 0.05 and two_three["lmr_p_value"] > 0.05
    assert two_three["statistic"] == pytest.approx(2 * (fits[3][1].loglik - fits[2][1].loglik))


def test_weighted_chi_square_tail():
    assert weighted_chi2_sf(3.841459, [1.0]) == pytest.approx(0.05, abs=1e-6)
    for m, x in [(3, 2.0), (5, 11.0705), (12, 30.0), (4, 25.0)]:
        assert weighted_chi2_sf(x, np.ones(m)) == pytest.approx(stats.chi2.sf(x, m), abs=1e-6)
    assert weighted_chi2_sf(80.0, np.ones(4)) == 0.0  # far below the integral's accuracy: 0, not noise
    assert weighted_chi2_sf(6.0, [2.0, 2.0, 2.0]) == pytest.approx(stats.chi2.sf(3.0, 3), abs=1e-6)
    rng = np.random.default_rng(1)
    for weights, x in [([2.0, 0.5], 3.0), ([1.0, -0.5], 1.0), ([3, 1, 0.5, 0.2, -0.3, -0.8], 5.0)]:
        draws = rng.chisquare(1, size=(400_000, len(weights))) @ np.asarray(weights)
        assert weighted_chi2_sf(x, weights) == pytest.approx((draws > x).mean(), abs=0.003)


def test_vuong_weights_of_regular_nested_models_are_chi_square():
    """Information equality (B = A) and nesting: W has p - q eigenvalues 1, the rest 0 -- the usual chi2(p - q)."""
    s = np.random.default_rng(2).standard_normal((2000, 3))  # p = 3 parameters, q = 1 of them in the small model
    lam = vuong_eigenvalues(s, s.T @ s, s[:, :1], s[:, :1].T @ s[:, :1])
    np.testing.assert_allclose(np.sort(lam), [0, 0, 1, 1], atol=1e-6)


def test_vlmr_bad_input():
    sim = simulate_lca(150, 4, 2, seed=3)
    fits = _fits(sim.data, sim.items, (1, 2))
    with pytest.raises(ValueError, match="model first"):
        bm.vlmr(*fits[2], *fits[1])
    with pytest.raises(ValueError, match="ML result"):
        bm.vlmr(fits[1][0], object(), *fits[2])
    other = bm.lca(sim.data.iloc[:100], sim.items, n_classes=2)
    with pytest.raises(ValueError, match="same data"):
        bm.vlmr(*fits[1], other, fits[2][1])
