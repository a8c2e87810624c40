"""Bock-Aitkin EM of the unidimensional binary IRT models (2PL, 3PL, the 3PL as FMA-GoM): one likelihood.

The EM only chooses where the gradient optimizer of the model's own likelihood
starts and finishes: its log-likelihood equals the model's at the same
parameters (1e-8), its steps never lower it, and run to convergence it reaches
the gradient optimizer's optimum (issue 23, item 5).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.datasets.simulate_irt import simulate_3pl
from bayesmix.inference import em_irt, objective, optimize
from bayesmix.inference import ml as ml_module
from em_checks import assert_em_ascends

INTEGRATION = {"method": "gauss-hermite", "points": 15}


@pytest.fixture(scope="module")
def sim():
    return simulate_3pl(600, 6, a=np.linspace(0.9, 2.0, 6), b=np.linspace(-1.0, 1.2, 6),
                        g=np.array([0.15, 0.2, 0.1, 0.25, 0.2, 0.15]), seed=3)


def _with_missing(sim):
    data = sim.data.astype(float).copy()
    rng = np.random.default_rng(0)
    data = data.mask(rng.random(data.shape) < 0.08)
    return data


MODELS = {
    "direct": lambda d, items: bm.irt_3pl(d, items, integration=INTEGRATION),
    "fma-gom": lambda d, items: bm.irt_3pl(d, items, parameterization="fma-gom", integration=INTEGRATION),
    "2pl": lambda d, items: bm.fma(d, items, 1, link="logit", integration=INTEGRATION),
    "2pl-probit": lambda d, items: bm.fma(d, items, 1, link="probit", integration=INTEGRATION),
    "some-guess": lambda d, items: bm.irt_3pl(d, items, guessing=items[:3], integration=INTEGRATION),
}


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("form", list(MODELS))
def test_em_loglik_equals_the_model_loglik(sim, form, missing):
    data = _with_missing(sim) if missing else sim.data
    m = MODELS[form](data, sim.items)
    em = optimize.em_for(m)
    assert isinstance(em, em_irt.ItemFactorEM)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    for seed in range(2):
        values, ll = em.run(m.random_start(np.random.default_rng(seed)), 3)
        assert abs(ll - (-fun(flat.to_theta(values))[0])) < 1e-8 * abs(ll)


@pytest.mark.parametrize("form", ["direct", "fma-gom"])
def test_em_steps_never_decrease_the_loglik(sim, form):
    m = MODELS[form](_with_missing(sim), sim.items)
    em = optimize.em_for(m)
    theta = em.project(np.stack([em.from_values(m.random_start(np.random.default_rng(s))) for s in range(3)]))
    assert_em_ascends(em, theta, 40, lambda: m.random_start(np.random.default_rng(5)), 60)


def _abg(em, values):
    tau, lam, gamma = em.from_values(values)
    return np.concatenate([lam, -tau / lam, 1.0 / (1.0 + np.exp(-gamma))])


@pytest.mark.parametrize("form", ["direct", "fma-gom"])
def test_em_reaches_the_gradient_optimum(sim, form, monkeypatch):
    """EM alone to convergence = fit_ml by gradient starts only (no EM): LL within 1e-6, a, b, g within 1e-3."""
    m = MODELS[form](sim.data, sim.items)
    em = optimize.em_for(m)
    start = m.random_start(np.random.default_rng(1))
    (values,), (ll,), (converged,) = em.run_batch([start], 20000, tol=1e-13 * em.n_units, accelerate=True)
    assert converged
    monkeypatch.setattr(optimize, "EM_WARMUP", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(8, 3), seed=2, progressbar=False)
    assert abs(ll - ml.loglik) < 1e-6
    np.testing.assert_allclose(_abg(em, values), _abg(em, ml.point), atol=1e-3)


def test_fit_ml_uses_the_em_and_other_factor_models_do_not(sim):
    m = MODELS["direct"](sim.data, sim.items)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_em = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
    assert isinstance(optimize.em_for(m, INTEGRATION), em_irt.ItemFactorEM)
    assert with_em.converged
    # a 2-class FMA, adaptive quadrature and user constraints are not the EM's models
    assert optimize.em_for(bm.fma(sim.data, sim.items, 2, link="logit")) is None
    assert optimize.em_for(bm.irt_3pl(sim.data, sim.items, integration={"adaptive": True})) is None
    fixed = bm.irt_3pl(sim.data, sim.items, fixed={"irt_guessing[" + sim.items[0] + "]": 0.2})
    assert optimize.em_for(fixed) is None


def test_em_leaves_g_near_zero_in_a_bounded_number_of_maps():
    """The bench case (20 x 5,000, GH 21) from the start whose first M steps put an item's g near 0 (seed 1).

    The logit scoring step crept back (130 EM maps, 0.01 logit units per map where the M optimum
    was 3.5 away); the step in g reaches it: EM alone (SQUAREM) converges within 60 maps to the LL of
    the gradient optimizer (1e-6), as from the other seeds.
    """
    n_items = 20
    sim20 = simulate_3pl(5000, n_items, a=np.linspace(0.8, 2.2, n_items), b=np.linspace(-1.5, 2.0, n_items),
                         g=np.tile([0.2, 0.15, 0.25, 0.1], 5), seed=1)
    m = bm.irt_3pl(sim20.data, sim20.items, integration={"method": "gauss-hermite", "points": 21})
    em = optimize.em_for(m)
    start = m.random_start(np.random.default_rng(1))
    first, _ = em.run(start, 3)
    assert em.from_values(first)[2][1] < -4.0  # item 2's g fell below 0.02 (its optimum: 0.19): the case that crept
    (values,), (ll,), (converged,) = em.run_batch([start], 60, tol=optimize.EM_FINAL_TOL * em.n_units,
                                                  accelerate=True)
    assert converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(1, 1), seed=2, progressbar=False)
    assert ml.converged
    assert abs(ll - ml.loglik) < 1e-6


def test_max_iterations_caps_em_maps_and_lbfgsb_iterations_apart(sim, monkeypatch):
    """fit_ml(max_iterations=n): at most n EM maps per final-stage EM run and n L-BFGS-B iterations, each."""
    m = MODELS["direct"](sim.data, sim.items)
    em = optimize.em_for(m)
    caps = []
    run_batch = type(em).run_batch

    def recorded(self, values_list, iterations, tol=0.0, accelerate=False):
        caps.append(iterations)
        return run_batch(self, values_list, iterations, tol, accelerate)

    monkeypatch.setattr(type(em), "run_batch", recorded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        capped = m.fit_ml(starts=(1, 1), seed=1, progressbar=False, max_iterations=7)
        capped_caps = list(caps)
        caps.clear()
        free = m.fit_ml(starts=(1, 1), seed=1, progressbar=False)
    initial = optimize.EM_INITIAL_FACTOR * 25
    # the initial stage keeps its own budget; the final EM run (and its polish, if it converged): 7 maps each
    assert capped_caps[0] == initial and len(capped_caps) >= 2 and all(c == 7 for c in capped_caps[1:])
    assert caps[0] == initial and all(c == optimize.EM_FINAL_ITERATIONS for c in caps[1:])
    assert capped.iterations <= 7
    assert free.loglik >= capped.loglik - 1e-9


# ------------------------------------------------------------------ observed information (fit_ml's SEs)
def _difference_information(flat, theta):
    return flat.hessian(theta, "loglik", method="gradient"), flat.scores(theta)


def _assert_same_information(got, expected, rtol=1e-5):
    """Largest difference within rtol of the largest element (the difference Hessian's own error is ~1e-8)."""
    for a, b in zip(got, expected):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) <= rtol * np.max(np.abs(b))


@pytest.mark.parametrize("form,missing", [("direct", True), ("fma-gom", False), ("2pl-probit", True),
                                          ("some-guess", False)])
def test_information_equals_the_difference_hessian(sim, form, missing):
    """Louis' identity on the EM's nodes = central differences of the model's gradient, and the per-unit scores
    too, in the model's own parameters, away from the optimum (where the map's curvature term counts)."""
    m = MODELS[form](_with_missing(sim) if missing else sim.data, sim.items)
    em, flat = optimize.em_for(m), objective.flat_model(m)
    values, _ = em.run(m.random_start(np.random.default_rng(4)), 3)
    theta = flat.to_theta(values)
    got = em.information(theta, flat)
    assert got is not None
    assert np.max(np.abs(flat.value_and_grad("loglik")(theta)[1])) > 1.0  # not an optimum
    _assert_same_information(got, _difference_information(flat, theta))


@pytest.fixture(scope="module")
def sim_g0():
    """Item 1's guessing 0: guessing logits run past -15 (a boundary solution, held there).

    Seed 1: the information's condition number is 2e4. With seed 3 (6e8: an item with loading 12, a
    step) the difference Hessian's ~1e-10 error moved that item's SEs by 5e-5 relative, while the EM's
    agreed with PyTensor's exact Hessian (``method="exact"``) to 7e-9.
    """
    return simulate_3pl(600, 6, a=np.linspace(0.9, 2.0, 6), b=np.linspace(-1.0, 1.2, 6),
                        g=np.array([0.0, 0.2, 0.1, 0.25, 0.2, 0.15]), seed=1)


@pytest.mark.parametrize("form", ["direct", "fma-gom"])
def test_fit_ml_ses_from_the_em_equal_the_difference_hessians(sim_g0, form, monkeypatch):
    """fit_ml's SEs (information and sandwich) from the EM's information = those of the difference Hessian,
    at a solution with a guessing logit at the boundary (its SE NaN in both; the free block is exact)."""
    m = MODELS[form](sim_g0.data, sim_g0.items)
    flat = objective.flat_model(m, INTEGRATION)
    calls = []  # per SE computation: whether the difference Hessian served (no information given)
    covariances = ml_module.covariances
    monkeypatch.setattr(ml_module, "covariances",
                        lambda flat, theta, free, information=None: calls.append(information is None) or covariances(
                            flat, theta, free, information))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
        assert calls == [False]  # the EM's information served
        assert ml.n_boundary >= 1 and flat.at_bound(ml.theta).any()
        free = ~flat.at_bound(ml.theta)
        got = optimize.em_information(m, flat, ml.theta, INTEGRATION)
        expected = _difference_information(flat, ml.theta)
        _assert_same_information((got[0][np.ix_(free, free)], got[1][:, free]),
                                 (expected[0][np.ix_(free, free)], expected[1][:, free]))
        monkeypatch.setattr(ml_module, "em_information", lambda *a, **k: None)
        reference = ml_module.ml_result(m, _optimum_of(ml), INTEGRATION)
    assert calls == [False, True]  # the difference Hessian served the reference
    for table in ("params", "profiles", "class_proportions"):
        a, b = getattr(ml, table), getattr(reference, table)
        cols = [c for c in a.columns if (c[-1] if isinstance(c, tuple) else c) in ("se", "se_robust", "z")]
        assert cols
        assert np.array_equal(np.isnan(a[cols].to_numpy(float)), np.isnan(b[cols].to_numpy(float)))
        np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), rtol=1e-5, equal_nan=True)
    assert np.isnan(ml.params.loc[ml.params["at_bound"], "se"]).all()


def _optimum_of(ml):
    return optimize.Optimum(theta=ml.theta, value=ml.loglik, report=ml.starts, converged=ml.converged,
                            iterations=ml.iterations)


def test_information_defers_outside_the_ems_space(sim, monkeypatch):
    """A positive loading below the EM's floor (MIN_POSITIVE): no EM information, fit_ml's SEs come from the
    difference Hessian; an EM without ``information`` (the LCA's) leaves the existing path as it was."""
    m = MODELS["direct"](sim.data, sim.items)
    em, flat = optimize.em_for(m), objective.flat_model(m)
    values, _ = em.run(m.random_start(np.random.default_rng(4)), 3)
    theta = flat.to_theta(values)
    assert em.information(theta, flat) is not None
    tau, lam, gamma = em.from_values(values)
    lam = lam.copy()
    lam[em.positive.argmax()] = 1e-9
    outside = flat.to_theta(em.form.from_items(tau, lam, gamma))
    assert em.information(outside, flat) is None
    assert optimize.em_information(m, flat, outside) is None
    # a 2PL item so steep that P(y = 1 | eta_q) underflows to 0 at the outer nodes: no EM information (non-finite)
    m2 = MODELS["2pl"](sim.data, sim.items)
    em2, flat2 = optimize.em_for(m2), objective.flat_model(m2)
    tau, lam, gamma = em2.from_values(m2.random_start(np.random.default_rng(4)))
    lam = np.abs(lam)
    lam[0] = 400.0
    steep = flat2.to_theta(em2.form.from_items(tau, lam, gamma))
    assert np.exp(em2.log_probs(em2.from_values(flat2.constrained(steep))[None])[0]).min() == 0.0
    assert em2.information(steep, flat2) is None
    lca = bm.lca(bm.datasets.load("carcinoma"), list("ABCDEFG"), 2)
    assert not hasattr(optimize.em_for(lca), "information")
    lca_flat = objective.flat_model(lca)
    assert optimize.em_information(lca, lca_flat, np.zeros(lca_flat.n_params)) is None
