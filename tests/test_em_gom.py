"""EM of the logistic-normal and restricted grade-of-membership models (section 7): one likelihood.

The EM only chooses where the gradient optimizer of the model's own likelihood
starts and finishes: its log-likelihood equals the model's integrated one at
the same parameters and nodes (1e-8), its steps never lower it, and run to
convergence it reaches the gradient optimizer's optimum (issue 23, item 3).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import softmax

import bayesmix as bm
from bayesmix.datasets.simulate_gom import simulate_gom
from bayesmix.inference import em_gom, objective, optimize
from em_checks import assert_em_ascends


def _mixed_gom(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Two-class logistic-normal GoM data: 3 binary, 1 ordinal (3 categories), 1 nominal (3); ~8% missing."""
    rng = np.random.default_rng(seed)
    g = softmax(np.column_stack([0.3 + 1.5 * rng.standard_normal(n), np.zeros(n)]), axis=1)  # (N, 2)
    profiles = {"a": [[0.15, 0.85], [0.85, 0.15]], "b": [[0.8, 0.2], [0.25, 0.75]], "c": [[0.2, 0.8], [0.7, 0.3]],
                "o": [[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]], "n": [[0.7, 0.2, 0.1], [0.2, 0.2, 0.6]]}
    data = {}
    for item, table in profiles.items():
        cls = (rng.uniform(size=n) > g[:, 0]).astype(int)  # C_ij ~ g_j (eq. 28)
        cum = np.cumsum(np.asarray(table)[cls], axis=1)
        data[item] = (rng.uniform(size=(n, 1)) > cum).sum(axis=1).astype(float)
    frame = pd.DataFrame(data)
    frame = frame.mask(rng.uniform(size=frame.shape) < 0.08)
    return frame, list(profiles)


TYPES = {"o": "ordinal", "n": "nominal"}


@pytest.fixture(scope="module")
def mixed():
    return _mixed_gom()


@pytest.fixture(scope="module")
def binary3():
    sim = simulate_gom(300, 6, 3, missing_rate=0.05, seed=2)
    return sim.data, sim.items


def _models(mixed, binary3):
    data, items = mixed
    return {
        "ln2-mixed": bm.gom(data, items, 2, item_types=TYPES),
        "ln2-logit-mixed": bm.gom(data, items, 2, item_types=TYPES, link="logit"),
        "restricted2-mixed": bm.gom(data, items, 2, membership="restricted", item_types=TYPES),
        "ln3-binary": bm.gom(*binary3, 3),
        "restricted3-binary": bm.gom(*binary3, 3, membership="restricted"),
        "restricted3-mixed": bm.gom(data, items, 3, membership="restricted", item_types=TYPES,
                                    integration={"method": "gauss-hermite", "points": 11}),
    }


@pytest.fixture(scope="module")
def models(mixed, binary3):
    return _models(mixed, binary3)


@pytest.mark.parametrize("name", ["ln2-mixed", "ln2-logit-mixed", "restricted2-mixed", "ln3-binary",
                                  "restricted3-binary", "restricted3-mixed"])
def test_em_loglik_equals_the_model_loglik(models, name):
    m = models[name]
    em = optimize.em_for(m, em=True)
    assert isinstance(em, em_gom.MembershipEM)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    for seed in range(2):
        start = m.random_start(np.random.default_rng(seed))
        ll0 = em.loglik(em.from_values(start))
        assert abs(ll0 - (-fun(flat.to_theta(start))[0])) < 1e-8 * abs(ll0)
        values, ll = em.run(start, 4)  # after EM steps (and the sign identification of Lambda's columns)
        assert ll > ll0
        assert abs(ll - (-fun(flat.to_theta(values))[0])) < 1e-8 * abs(ll)


@pytest.mark.parametrize("name", ["ln2-mixed", "ln3-binary", "restricted3-mixed"])
def test_em_steps_never_decrease_the_loglik(models, name):
    m = models[name]
    em = optimize.em_for(m, em=True)
    singles = [em.from_values(m.random_start(np.random.default_rng(s))) for s in range(3)]
    parts = [np.stack([single[j] for single in singles]) for j in range(len(singles[0]))]
    assert_em_ascends(em, parts, 30, lambda: m.random_start(np.random.default_rng(5)), 40)


@pytest.mark.parametrize("name", ["ln2-mixed", "restricted3-binary"])
def test_em_reaches_the_gradient_optimum(models, name, monkeypatch):
    """EM's optima are the gradient optimizer's: started at fit_ml's optimum (gradient starts only, no EM) EM stays
    there (it gains < 1e-4: L-BFGS-B stops up to ~1e-5 short on the flat membership SD); run to convergence from random starts it ends where L-BFGS-B gains < 1e-6; for the
    unimodal K = 2 case its best equals fit_ml's LL (1e-6)."""
    m = models[name]
    em = optimize.em_for(m, em=True)
    monkeypatch.setattr(optimize, "EM_WARMUP", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(4, 2), seed=2, progressbar=False)
    tol = 1e-13 * em.n_units
    (_,), (at_ml,), (stayed,) = em.run_batch([ml.point], 20000, tol=tol, accelerate=True)
    assert stayed and -1e-9 * abs(at_ml) <= at_ml - ml.loglik < 1e-4
    starts = [m.random_start(np.random.default_rng(s)) for s in range(3)]
    values, lls, converged = em.run_batch(starts, 20000, tol=tol, accelerate=True)
    assert converged.all()
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    for value, ll in zip(values, lls):
        polished = minimize(fun, flat.to_theta(value), jac=True, method="L-BFGS-B", bounds=flat.bounds,
                            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 2000})
        assert -polished.fun - ll < 1e-6
    if name == "ln2-mixed":
        assert lls.max() >= ml.loglik - 1e-6


def test_fit_ml_uses_the_em_and_other_gom_models_do_not(mixed, models):
    data, items = mixed
    m = models["ln2-mixed"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = m.fit_ml(starts=(4, 2), seed=1, progressbar=False, em=True)
    assert fit.converged
    assert isinstance(optimize.em_for(m, em=True), em_gom.MembershipEM)
    refused = [
        bm.gom(data, items, 2, membership="dirichlet", item_types=TYPES),  # no EM form (a Dirichlet membership)
        bm.gom(data, items, 2, item_types=TYPES, integration={"adaptive": True}),
        bm.gom(data, items, 2, item_types=TYPES, fixed={"class_intercept[class1]": 0.0}),
        bm.gom(data, items, 2, item_types={"o": "ordinal-restricted", "n": "nominal"}),  # no closed-form M step
        bm.gom(data.assign(x=np.linspace(-1, 1, len(data))), items, 2, item_types=TYPES, covariates=["x"]),
        bm.gom(data, items, 2, item_types=TYPES, integration={"method": "monte-carlo", "points": 50}),
    ]
    for model in refused:
        assert optimize.em_for(model, em=True) is None
    assert bm.lca(data, items, 2, item_types=TYPES).membership_form() is None
    fresh = bm.gom(data, items, 2, item_types=TYPES)  # by default (em="auto") a GoM's starts are the gradient's
    assert optimize.em_for(fresh) is None and optimize.em_for(fresh, em=False) is None
    assert isinstance(optimize.em_for(fresh, em=True), em_gom.MembershipEM)


def _count_em_batches(monkeypatch, cls):
    """Record every run_batch call of an EM class (the starts' EM stages)."""
    calls = []
    run_batch = cls.run_batch
    monkeypatch.setattr(cls, "run_batch", lambda self, *a, **k: calls.append(1) or run_batch(self, *a, **k))
    return calls


def test_fit_ml_em_argument_reaches_the_em(mixed, monkeypatch):
    """fit_ml(em=True) runs the GoM EM for the starts; em="auto" (default) and em=False do not."""
    data, items = mixed
    m = bm.gom(data, items, 2, item_types=TYPES)
    calls = _count_em_batches(monkeypatch, em_gom.MembershipEM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_default = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
        assert calls == []
        m.fit_ml(starts=(2, 1), seed=1, progressbar=False, em=False)
        assert calls == []
        with_em = m.fit_ml(starts=(2, 1), seed=1, progressbar=False, em=True)
    assert len(calls) >= 1
    assert with_em.loglik >= by_default.loglik - 1e-3


def test_fit_ml_em_false_gives_an_lca_gradient_starts(monkeypatch):
    """An LCA's starts run its EM by default and not with em=False (L-BFGS-B only); both reach Agresti's optimum."""
    m = bm.lca(bm.datasets.load("carcinoma"), list("ABCDEFG"), 2)
    calls = _count_em_batches(monkeypatch, type(optimize.em_for(m)))
    initial = []  # L-BFGS-B runs of the initial stage (25 iterations each)
    scipy_minimize = optimize.minimize
    monkeypatch.setattr(optimize, "minimize", lambda *a, **k: initial.append(
        (k.get("options") or {}).get("maxiter") == 25) or scipy_minimize(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_em = m.fit_ml(starts=(4, 2), seed=1, progressbar=False)
        em_calls, initial_with_em = len(calls), sum(initial)
        gradient = m.fit_ml(starts=(4, 2), seed=1, progressbar=False, em=False)
    assert em_calls >= 1 and len(calls) == em_calls  # em=False: no EM batch
    assert initial_with_em == 0 and sum(initial) == 4  # em=False: the 4 initial starts by L-BFGS-B
    assert abs(gradient.loglik - (-317.2568)) < 1e-3 and abs(with_em.loglik - (-317.2568)) < 1e-3


@pytest.mark.parametrize("bad", ["yes", 1, None, "True"])
def test_fit_ml_em_bad_value_is_a_value_error(bad):
    m = bm.lca(bm.datasets.load("carcinoma"), list("ABCDEFG"), 2)
    with pytest.raises(ValueError, match=r"em="):
        m.fit_ml(starts=(2, 1), seed=1, progressbar=False, em=bad)
    with pytest.raises(ValueError, match=r"em="):
        optimize.em_for(m, em=bad)
