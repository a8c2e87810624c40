"""Closed-form EM warm-up of the ML starts (issue 11: faster ML, one likelihood).

EM only chooses where the gradient optimizer of the model's own likelihood
starts: its log-likelihood must equal the model's at the same parameters
(1e-8), and fit_ml with and without the warm-up must reach the same optimum
(the published carcinoma values of poLCA / StepMix).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import bayesmix as bm
from mixed_items import mixed_items
from bayesmix.inference import em as em_module
from bayesmix.inference import objective, optimize

CARCINOMA_LL = {2: -317.2568, 3: -293.7050}


@pytest.fixture(scope="module")
def carcinoma():
    return bm.datasets.load("carcinoma")


@pytest.mark.parametrize("categorical", ["nominal", "ordinal"])
@pytest.mark.parametrize("link", ["logit", "probit"])
def test_em_loglik_equals_the_model_loglik(link, categorical):
    frame = mixed_items()
    m = bm.lca(frame, list("abcd"), 3, item_types={"c": categorical, "d": categorical}, link=link)
    assert em_module.supported(m)
    em = em_module.CategoricalEM(m)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    for seed in range(3):
        values, ll = em.run(m.random_start(np.random.default_rng(seed)), 4)
        assert abs(ll - (-fun(flat.to_theta(values))[0])) < 1e-8 * abs(ll)


def test_em_steps_never_decrease_the_loglik(carcinoma):
    m = bm.lca(carcinoma, list("ABCDEFG"), 3)
    em = em_module.CategoricalEM(m)
    params = em.from_values(m.random_start(np.random.default_rng(4)))
    lls = []
    for _ in range(30):
        params, ll = em.step(*params)
        lls.append(ll)
    assert np.all(np.diff(lls) > -1e-9)


@pytest.mark.parametrize("k", [2, 3])
def test_fit_ml_with_em_starts_reaches_the_published_optimum(carcinoma, monkeypatch, k):
    fast = bm.lca(carcinoma, list("ABCDEFG"), k).fit_ml(starts=10, seed=1, progressbar=False)
    monkeypatch.setattr(optimize, "EM_WARMUP", False)
    slow = bm.lca(carcinoma, list("ABCDEFG"), k).fit_ml(starts=10, seed=1, progressbar=False)
    assert abs(fast.loglik - CARCINOMA_LL[k]) < 1e-4
    assert abs(fast.loglik - slow.loglik) < 1e-6
    np.testing.assert_allclose(np.sort(fast.class_proportions.to_numpy().ravel()),
                               np.sort(slow.class_proportions.to_numpy().ravel()), atol=1e-5)


def test_models_em_cannot_serve_keep_the_gradient_starts(carcinoma):
    items = list("ABCDEFG")
    frame = carcinoma.assign(x=np.random.default_rng(0).normal(size=len(carcinoma)),
                             school=np.arange(len(carcinoma)) // 6)
    assert not em_module.supported(bm.lca(frame, items, 2, covariates=["x"]))
    assert not em_module.supported(bm.lca(frame, items, 2, cluster="school", random_intercept=True))
    assert not em_module.supported(bm.lca(frame, items, 2, ordered="A"))
    assert not em_module.supported(bm.lca(frame, items, 2, fixed={"binary_logit[class1, A]": 15.0}))
    assert not em_module.supported(bm.lca(frame, items, 1))


def test_batched_em_equals_one_start_at_a_time(carcinoma):
    # a batch of starts runs the same steps as each start alone; each stops on its own tolerance
    m = bm.lca(carcinoma, list("ABCDEFG"), 3)
    em = em_module.CategoricalEM(m)
    starts = [m.random_start(np.random.default_rng(seed)) for seed in range(4)]
    batch, lls, converged = em.run_batch(starts, 500, tol=1e-6)
    for start, values, ll, done in zip(starts, batch, lls, converged):
        alone, ll_alone = em.run(start, 500, tol=1e-6)
        assert done and ll == pytest.approx(ll_alone, abs=1e-10)
        for name in values:
            np.testing.assert_allclose(values[name], alone[name], atol=1e-10)
    _, _, stopped = em.run_batch(starts, 3, tol=1e-6)
    assert not stopped.any()  # ran out of iterations: reported as not converged


def test_em_final_stage_reports_em_optima_and_polishes_the_best(carcinoma):
    # the final stage: EM to convergence for all candidates, the model's own likelihood finishes the best;
    # the other candidates' values are EM log-likelihoods, equal to the model's at the same point
    m = bm.lca(carcinoma, list("ABCDEFG"), 3)
    opt = optimize._multistart(m, "loglik", starts=(20, 5), seed=3, warn_unreplicated=False)
    assert opt.value == pytest.approx(CARCINOMA_LL[3], abs=1e-4)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    for theta, value in zip(opt.all_thetas, opt.report.final_values):
        assert -fun(theta)[0] == pytest.approx(value, abs=1e-6)
    assert np.max(np.abs(fun(opt.theta)[1])[~flat.at_bound(opt.theta)]) < 1e-3  # polished: gradient ~ 0


def test_distinct_starts_converged_in_the_initial_stage_replicate(carcinoma):
    # carcinoma K = 2: EM brings many different random starts to the same optimum in the initial stage;
    # each counts as a replication (identical starts count once: tests/test_speed_paths.py)
    m = bm.lca(carcinoma, list("ABCDEFG"), 2)
    opt = optimize._multistart(m, "loglik", starts=(20, 3), seed=1)
    assert opt.report.n_replicated >= 5 and opt.report.n_starts_behind >= opt.report.n_replicated
    assert "NOT replicated" not in str(opt.report)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_ordinal_thresholds_and_category_probabilities_map_one_to_one(link):
    # class-specific thresholds are a reparameterization of the category probabilities (eq. 1):
    # values -> log table -> values is the identity, and the table is the model's own
    m = bm.lca(mixed_items(), list("cd"), 2, item_types="ordinal", link=link)
    kernel = m.kernels[0]
    assert kernel.em_supported and em_module.item_parameters(m) == {"ordinal_first_threshold", "ordinal_log_gap"}
    values = m.random_start(np.random.default_rng(2))
    table = kernel.em_log_table(values, 2)
    back = kernel.em_values(np.exp(table), em_module.P_MIN)
    for name in ("ordinal_first_threshold", "ordinal_log_gap"):
        np.testing.assert_allclose(back[name], values[name], atol=1e-9)
    model_table = kernel.log_prob_table({name: np.asarray(v) for name, v in values.items()}).eval()
    np.testing.assert_allclose(np.where(kernel.valid, table, 0.0), model_table, atol=1e-10)


def test_fit_ml_of_an_ordinal_lca_with_em_starts_reaches_the_gradient_optimum(monkeypatch):
    frame = mixed_items(seed=3, n=400)
    items = {"c": "ordinal", "d": "ordinal"}
    m = bm.lca(frame, list("abcd"), 2, item_types=items)
    assert isinstance(optimize.em_for(m), em_module.CategoricalEM)
    fast = m.fit_ml(starts=8, seed=1, progressbar=False)
    monkeypatch.setattr(optimize, "EM_WARMUP", False)
    slow = bm.lca(frame, list("abcd"), 2, item_types=items).fit_ml(starts=8, seed=1, progressbar=False)
    assert abs(fast.loglik - slow.loglik) < 1e-6
    # the same likelihood as the nominal model of these items (both saturate the categories per class)
    nominal = bm.lca(frame, list("abcd"), 2, item_types={"c": "nominal", "d": "nominal"})
    assert abs(nominal.fit_ml(starts=8, seed=1, progressbar=False).loglik - fast.loglik) < 1e-6
    # proportional odds shares thresholds across classes: no closed-form M-step, gradient starts
    restricted = bm.lca(frame, list("abcd"), 2, item_types={"c": "ordinal-restricted", "d": "ordinal-restricted"})
    assert not em_module.supported(restricted)


def _em_map(em, calls=None):
    """CategoricalEM.step as em.iterate's map on [log pi, *tables]; records (starts, LL) of every call."""
    def em_map(parts):
        (log_pi, tables), ll = em.step(parts[0], parts[1:])
        if calls is not None:
            calls.extend(np.atleast_1d(ll).tolist())
        return [log_pi, *tables], ll
    return em_map


def test_squarem_reaches_the_plain_em_optimum_in_fewer_steps(carcinoma):
    # SQUAREM (the final stage) and plain EM from the same starts: the same LL (1e-6) and estimates;
    # L-BFGS-B on the model's own likelihood gains nothing from the SQUAREM optimum
    m = bm.lca(carcinoma, list("ABCDEFG"), 4)  # K = 4: slow plain EM (130-1,300 steps per start)
    em = em_module.CategoricalEM(m)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    starts = [m.random_start(np.random.default_rng(seed)) for seed in range(4)]
    plain_calls, fast_calls = [], []
    for acc, calls in ((False, plain_calls), (True, fast_calls)):
        log_pi, tables = em.stack(starts)
        parts, converged = em_module.iterate(_em_map(em, calls), [log_pi, *tables], [None, *em.valid], 20000,
                                             tol=1e-12, accelerate=acc)
        assert converged.all()
        if acc:
            fast_parts = parts
        else:
            plain_parts = parts
    assert len(fast_calls) < 0.5 * len(plain_calls)  # EM maps evaluated (all starts)
    fast_ll = em.loglik(fast_parts[0], fast_parts[1:])
    np.testing.assert_allclose(fast_ll, em.loglik(plain_parts[0], plain_parts[1:]), atol=1e-6)
    for fast, plain in zip(fast_parts, plain_parts):
        np.testing.assert_allclose(np.exp(fast), np.exp(plain), atol=1e-4)
    for s in range(len(starts)):
        theta = flat.to_theta(em.to_values(fast_parts[0][s], [t[s] for t in fast_parts[1:]]))
        res = minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=flat.bounds, options={"ftol": 1e-14})
        assert -res.fun - fast_ll[s] < 1e-6


@pytest.mark.parametrize("categorical", ["nominal", "ordinal"])
def test_squarem_loglik_equals_the_model_loglik(categorical):
    frame = mixed_items()
    m = bm.lca(frame, list("abcd"), 3, item_types={"c": categorical, "d": categorical})
    em = em_module.CategoricalEM(m)
    flat = objective.flat_model(m)
    fun = flat.value_and_grad("loglik")
    starts = [m.random_start(np.random.default_rng(seed)) for seed in range(3)]
    values, lls, _ = em.run_batch(starts, 40, accelerate=True)  # 40 EM maps: mid-way, extrapolated points held
    for value, ll in zip(values, lls):
        assert abs(ll - (-fun(flat.to_theta(value))[0])) < 1e-8 * abs(ll)


def test_squarem_falls_back_to_em_steps_when_the_extrapolation_lowers_the_loglik(carcinoma):
    # one start: the EM maps come in cycles (theta_0, theta_1, extrapolated theta'); where LL(theta') fell
    # below LL(theta_1) the cycle keeps theta_2, so the LL held at each cycle start never decreases
    m = bm.lca(carcinoma, list("ABCDEFG"), 4)
    em = em_module.CategoricalEM(m)
    log_pi, tables = em.stack([m.random_start(np.random.default_rng(0))])
    calls = []
    parts, converged = em_module.iterate(_em_map(em, calls), [log_pi, *tables], [None, *em.valid], 5000,
                                         tol=1e-10 * em.n_units, accelerate=True)
    cycles = np.array(calls[: 3 * (len(calls) // 3)]).reshape(-1, 3)  # LL at theta_0, theta_1, theta'
    fell = np.flatnonzero(cycles[:-1, 2] < cycles[:-1, 1])
    assert converged.all() and len(fell) >= 2
    assert np.all(cycles[1:, 0] >= cycles[:-1, 1] - 1e-9)  # each cycle starts at least one EM step up
    assert np.all(cycles[fell + 1, 0] >= cycles[fell, 1] - 1e-9)
    # the run ends at the optimum plain EM reaches from the same start
    plain, plain_ll = em.run(m.random_start(np.random.default_rng(0)), 20000, tol=1e-10 * em.n_units)
    assert float(em.loglik(parts[0][0], [t[0] for t in parts[1:]])) == pytest.approx(plain_ll, abs=1e-6)


def test_squarem_stops_at_the_iteration_limit(carcinoma):
    # every EM map counts: a run of n maps is not converged and evaluated exactly n maps
    m = bm.lca(carcinoma, list("ABCDEFG"), 4)
    em = em_module.CategoricalEM(m)
    for n in (1, 2, 3, 7):
        log_pi, tables = em.stack([m.random_start(np.random.default_rng(0))])
        calls = []
        _, converged = em_module.iterate(_em_map(em, calls), [log_pi, *tables], [None, *em.valid], n,
                                         tol=1e-10 * em.n_units, accelerate=True)
        assert len(calls) == n and not converged.any()
