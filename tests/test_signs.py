"""NUTS on both loading signs, draws folded to lambda_1 > 0 (bayesmix.inference.signs; eq. 36-47).

Oracles: the original (HalfNormal-identified) model's own log density -- a folded
draw must be a point of it with the free-sign copy's density (up to the HalfNormal's
constant log 2), to 1e-8; and a data set whose first loading is ~0, where the
constrained posterior has two modes (the solution and its reflection truncated at
lambda_1 = 0+): chains started one in each must agree after the fold.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import norm

import bayesmix as bm
from bayesmix._compile import no_c_compiler, python_mode
from bayesmix.inference.signs import free_sign_model


def _data(n=300, loadings=(0.05, 1.6, 1.4, -1.5, 1.2), seed=3):
    rng = np.random.default_rng(seed)
    eta = rng.normal(size=n)
    tau = np.array([0.2, -0.3, 0.4, 0.0, -0.5])
    y = (rng.random((n, 5)) < norm.cdf(tau + eta[:, None] * np.asarray(loadings))).astype(int)
    return pd.DataFrame(y, columns=[f"y{i + 1}" for i in range(5)])


def _random_point(model, rng):
    return {k: np.asarray(v) + rng.normal(0.0, 0.8, np.shape(v)) for k, v in model.initial_point().items()}


def _natural(model, rv, point):
    value = np.asarray(point[model.rvs_to_values[rv].name])
    transform = model.rvs_to_transforms.get(rv)
    return value if transform is None else np.asarray(transform.backward(value, *rv.owner.inputs).eval())


@pytest.mark.parametrize("factory", ["fma", "fma_gom", "irt_3pl_fma_gom"])
def test_a_folded_draw_is_a_point_of_the_model_with_the_same_density(factory):
    df = _data(n=60)
    items = list(df.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if factory == "fma":
            m = bm.fma(df, items, n_classes=2)
        elif factory == "fma_gom":
            m = bm.fma_gom(df, items, n_classes=2)
        else:
            m = bm.irt_3pl(df, items, parameterization="fma-gom" if factory.endswith("gom") else "direct")
    reflection = free_sign_model(m)
    assert reflection is not None
    free, original = reflection.model, m.model
    with no_c_compiler():  # three evaluations: Python thunks, no C build (benchmarks/results/suite_cpu_ab_20261208.csv)
        logp_free = free.compile_logp(jacobian=False, mode=python_mode())
        logp_original = original.compile_logp(jacobian=False, mode=python_mode())
    positive = reflection.positive
    rng = np.random.default_rng(1)
    for _ in range(3):
        point = _random_point(free, rng)
        point[positive] = -np.abs(point[positive])  # a draw on the reflected side
        # the fold, as Reflection.fold applies it to a posterior
        draws = {rv.name: _natural(free, rv, point)[None, None] for rv in free.free_RVs}
        ds = xr.Dataset({k: (("chain", "draw") + tuple(f"{k}_{i}" for i in range(v.ndim - 2)), v)
                         for k, v in draws.items()})
        folded, n = reflection.fold(ds)
        assert n == 1
        assert float(folded[positive].values.ravel()[0]) > 0
        natural = {k: folded[k].values[0, 0] for k in draws}
        value = {}
        for rv in original.free_RVs:  # the original model's value space (log of the positive loading)
            transform = original.rvs_to_transforms.get(rv)
            x = natural[rv.name]
            value[original.rvs_to_values[rv].name] = (x if transform is None
                                                      else transform.forward(x, *rv.owner.inputs).eval())
        # HalfNormal(sigma) = 2 Normal(0, sigma) on the positive side; the reflection keeps the density
        assert logp_original(value) == pytest.approx(float(logp_free(point)) + np.log(2.0), abs=1e-8)


def test_chains_started_in_the_two_sign_modes_agree_after_the_fold():
    df = _data(n=200)
    m = bm.fma(df, list(df.columns), n_classes=1)
    tau = np.array([[0.2, -0.3, 0.4, 0.0, -0.5]])
    starts = [{"factor_loading_positive": 0.05, "factor_loading_free": np.array([1.6, 1.4, -1.5, 1.2]),
               "binary_logit": tau},
              {"factor_loading_positive": 0.05, "factor_loading_free": np.array([-1.6, -1.4, 1.5, -1.2]),
               "binary_logit": tau}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = m.sample(draws=200, tune=200, chains=2, sampler="pymc", cores=1, init=starts, random_seed=5,
                         progressbar=False, latent="integrated", convergence_checks=False, log_likelihood=False)
    post = idata["posterior"].to_dataset()
    assert (post["factor_loading_positive"] >= 0).all()
    # the constrained sampler keeps each chain in its start's mode (R-hat of lambda_2 far above 2); folded, the
    # chains sample the same bimodal posterior of lambda_2
    rhat = az.rhat(post[["factor_loading_free", "factor_loading_positive"]])
    assert float(rhat["factor_loading_free"].max()) < 1.05
    # both chains visit both signs of lambda_2 (the two modes of the HalfNormal-identified posterior)
    lam2 = post["factor_loading_free"].isel(factor_item_rest=0).to_numpy()
    assert ((lam2 > 0).mean(axis=1) > 0.1).all() and ((lam2 < 0).mean(axis=1) > 0.1).all()
    assert idata.attrs["bayesmix_reflected_draws"] > 0


def test_class_specific_loadings_are_sampled_as_they_are():
    df = _data(n=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.fma(df, list(df.columns), n_classes=2, loadings="class-specific")
    assert free_sign_model(m) is None  # one positive loading per class: a per-class flip is no symmetry of (lambda, eta)
