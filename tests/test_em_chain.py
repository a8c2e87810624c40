"""Baum-Welch EM warm-up of the ML starts of latent transition analyses (issue 23 item 3).

EM only chooses where the gradient optimizer of the model's own likelihood
starts: its log-likelihood at a parameter point must equal the model's
(PyTensor forward algorithm) to 1e-8, no EM step may lower it, and fit_ml with
and without the warm-up must reach the same optimum (sai_lta K = 2 and a
simulated K = 3 LTA).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.datasets.simulate_lta import simulate_lta
from bayesmix.inference import em_chain, objective, optimize
from em_checks import assert_squarem_reaches_plain_em_optimum

SAI_ITEMS = ["tense", "worrying", "anxious", "nervous", "jittery"]
SAI_BY_TIME = {t: [f"{i}_{t}" for i in SAI_ITEMS] for t in ("t1", "t2")}


@pytest.fixture(scope="module")
def sai():
    return bm.datasets.load("sai_lta")


@pytest.fixture(scope="module")
def three_times():
    # missing cells and missing last occasions: the emission of a missing occasion is 1 for every class
    return simulate_lta(300, n_times=3, seed=4, missing_rate=0.05, missing_occasion_rate=0.1)


def _models(sai, sim):
    return {
        "invariant": lambda: bm.lta(sai, SAI_BY_TIME, 2),
        "time-specific": lambda: bm.lta(sai, SAI_BY_TIME, 3, invariant_measurement=False),
        "probit": lambda: bm.lta(sai, SAI_BY_TIME, 2, link="probit"),
        "nominal": lambda: bm.lta(sai, SAI_BY_TIME, 3, item_types="nominal"),
        "ordinal": lambda: bm.lta(sai, SAI_BY_TIME, 2, item_types="ordinal", link="probit"),
        "stationary-T3-missing": lambda: bm.lta(sim.data, sim.items_by_time, 3, stationary_transitions=True),
        "time-specific-T3-missing": lambda: bm.lta(sim.data, sim.items_by_time, 2, invariant_measurement=False),
    }


@pytest.mark.parametrize("case", ["invariant", "time-specific", "probit", "nominal", "ordinal",
                                  "stationary-T3-missing", "time-specific-T3-missing"])
def test_em_loglik_equals_the_model_loglik(sai, three_times, case):
    m = _models(sai, three_times)[case]()
    assert em_chain.supported(m)
    em = em_chain.ChainEM(m)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    for seed in range(2):
        start = m.random_start(np.random.default_rng(seed))
        ll0 = em.loglik(*em.from_values(start))
        assert abs(ll0 - (-fun(flat.to_theta(start))[0])) < 1e-8 * abs(ll0)  # at a random start
        values, ll = em.run(start, 5)  # and after EM steps (values mapped back onto the model's parameters)
        assert abs(ll - (-fun(flat.to_theta(values))[0])) < 1e-8 * abs(ll)


@pytest.mark.parametrize("case", ["invariant", "time-specific", "stationary-T3-missing"])
def test_em_steps_never_decrease_the_loglik(sai, three_times, case):
    m = _models(sai, three_times)[case]()
    em = em_chain.ChainEM(m)
    params = em.from_values(m.random_start(np.random.default_rng(4)))
    lls = []
    for _ in range(40):
        params, ll = em.step(*params)
        lls.append(ll)
    assert np.all(np.diff(lls) > -1e-9)
    assert lls[-1] > lls[0]


def test_batched_em_equals_one_start_at_a_time(sai, monkeypatch):
    m = bm.lta(sai, SAI_BY_TIME, 3)
    em = em_chain.ChainEM(m)
    starts = [m.random_start(np.random.default_rng(seed)) for seed in range(3)]
    monkeypatch.setattr(em_chain, "CHUNK_ELEMENTS", 2 * em.n_times * em.n_classes * em.n_patterns)
    batch, lls, converged = em.run_batch(starts, 300, tol=1e-6)  # chunks of 2 starts: 2 + 1
    for start, values, ll, done in zip(starts, batch, lls, converged):
        alone, ll_alone = em.run(start, 300, tol=1e-6)
        assert ll == pytest.approx(ll_alone, abs=1e-9)
        for name in values:
            np.testing.assert_allclose(values[name], alone[name], atol=1e-9)


def _fit(m, starts, em: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous = optimize.EM_WARMUP
        optimize.EM_WARMUP = em
        try:
            return m.fit_ml(starts=starts, seed=1, progressbar=False)
        finally:
            optimize.EM_WARMUP = previous


def _same_optimum(make, starts):
    m_em, m_grad = make(), make()
    fast, slow = _fit(m_em, starts, True), _fit(m_grad, starts, False)
    assert optimize.em_for(m_em) is not None and isinstance(optimize.em_for(m_em), em_chain.ChainEM)
    assert abs(fast.loglik - slow.loglik) < 1e-6
    first = m_em.times[0] + "->" + m_em.times[1]
    a = m_em.transition_matrices(fast)["estimate"].xs(first).unstack().to_numpy()
    b = m_grad.transition_matrices(slow)["estimate"].xs(first).unstack().to_numpy()
    pa = fast.class_proportions.to_numpy().ravel()
    pb = slow.class_proportions.to_numpy().ravel()
    # the same solution up to the labels (order_by_size labels both by class size)
    np.testing.assert_allclose(np.sort(pa), np.sort(pb), atol=1e-4)
    np.testing.assert_allclose(np.sort(a.ravel()), np.sort(b.ravel()), atol=1e-4)
    return fast, slow


def test_fit_ml_with_em_starts_reaches_the_gradient_optimum_on_sai_lta(sai):
    fast, _ = _same_optimum(lambda: bm.lta(sai, SAI_BY_TIME, 2), (10, 3))
    assert fast.starts.n_replicated >= 2


def test_fit_ml_with_em_starts_reaches_the_gradient_optimum_on_a_simulated_k3_lta():
    profiles = [[0.85, 0.80, 0.80, 0.75, 0.85], [0.15, 0.20, 0.15, 0.25, 0.15], [0.80, 0.75, 0.20, 0.25, 0.20]]
    sim = simulate_lta(600, n_times=2, profiles=profiles, initial=[0.4, 0.35, 0.25],
                       transition=[[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.15, 0.15, 0.7]],
                       item_stems=list("abcde"), seed=3)
    fast, _ = _same_optimum(lambda: bm.lta(sim.data, sim.items_by_time, 3), (12, 4))
    assert fast.starts.n_replicated >= 2


def test_models_baum_welch_cannot_serve_keep_the_gradient_starts(sai, three_times):
    frame = sai.assign(x=np.random.default_rng(0).normal(size=len(sai)), school=np.arange(len(sai)) // 20)
    sim = three_times
    refused = [
        bm.lta(frame, SAI_BY_TIME, 2, covariates=["x"]),
        bm.lta(frame, SAI_BY_TIME, 2, cluster="school", random_intercepts=True, integration={"points": 5}),
        bm.lta(frame, SAI_BY_TIME, 2, ordered="tense_t1"),
        bm.lta(frame, SAI_BY_TIME, 2, fixed={"transition_logit[t1->t2, class1, class1]": 3.0}),
        bm.lta(frame, SAI_BY_TIME, 1),
        bm.lta(sim.data, sim.items_by_time, 2, markov=False),
        bm.lta(frame, SAI_BY_TIME, 2, item_types="ordinal-restricted"),
    ]
    for m in refused:
        assert not em_chain.supported(m)
        assert optimize.em_for(m) is None
    # and the LCA EM does not take an LTA, nor this EM an LCA
    lta = bm.lta(frame, SAI_BY_TIME, 2)
    lca = bm.lca(frame, SAI_BY_TIME["t1"], 2)
    assert isinstance(optimize.em_for(lta), em_chain.ChainEM)
    assert not em_chain.supported(lca) and not isinstance(optimize.em_for(lca), em_chain.ChainEM)


def test_squarem_baum_welch_reaches_the_plain_em_optimum_at_the_model_loglik(sai):
    # the final stage's SQUAREM (em.iterate) on pi, A and the item tables: the plain EM optimum (1e-6),
    # and the LL it reports is the model's
    m = bm.lta(sai, SAI_BY_TIME, 3)
    em = em_chain.ChainEM(m)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    starts = [m.random_start(np.random.default_rng(seed)) for seed in range(3)]
    assert_squarem_reaches_plain_em_optimum(em, starts, flat, fun, tol=1e-11)
