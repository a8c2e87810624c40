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

import bayesmix as bm
from bayesmix.inference import em as em_module
from bayesmix.inference import objective, optimize

CARCINOMA_LL = {2: -317.2568, 3: -293.7050}


@pytest.fixture(scope="module")
def carcinoma():
    return bm.datasets.load("carcinoma")


def _mixed_data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "a": (rng.uniform(size=n) < np.where(cls, 0.8, 0.2)).astype(float),
        "b": (rng.uniform(size=n) < np.where(cls, 0.7, 0.3)).astype(float),
        "c": np.where(cls, rng.choice(3, n, p=[0.6, 0.3, 0.1]), rng.choice(3, n, p=[0.1, 0.3, 0.6])).astype(float),
        "d": np.where(cls, rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]), rng.choice(4, n)).astype(float),
    })
    frame.loc[rng.uniform(size=n) < 0.1, "b"] = np.nan
    frame.loc[rng.uniform(size=n) < 0.1, "c"] = np.nan
    return frame


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_em_loglik_equals_the_model_loglik(link):
    frame = _mixed_data()
    m = bm.lca(frame, list("abcd"), 3, item_types={"c": "nominal", "d": "nominal"}, link=link)
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
