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
