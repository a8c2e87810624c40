"""Family conformance (issue 20): every registered family goes through the whole workflow.

For each family of :mod:`bayesmix.registry`, on its first SBC case's template
data (small sizes): build, ML fit, a short NUTS run with a ``log_likelihood``
group, its simulators' example data sets through the factory, ``bm.save`` /
``bm.load`` (same log-likelihood at the ML point), ``predict_proba`` on new
rows (where the family declares ``predict``) and ``posterior_predictive``.
A new family that registers itself is checked here without editing this file.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix import registry
from bayesmix.inference.objective import flat_model

FAMILIES = registry.families()
#: the smallest size every first SBC case takes (it keeps this file near a minute on one core)
N_UNITS = 40


def _first_case(family):
    name = next(iter(family.sbc_cases))
    return family.sbc_cases[name](n_units=N_UNITS)


@pytest.fixture(scope="module", params=list(FAMILIES), ids=list(FAMILIES))
def fitted(request):
    family = FAMILIES[request.param]
    case = _first_case(family)
    data = case.template(np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = case.build(data)
        ml = model.fit_ml(starts=2, seed=1, progressbar=False)
    return family, case, data, model, ml


# ---------------------------------------------------------------- registry invariants
def test_every_exported_factory_is_registered():
    exported = {name for name in bm.__all__
                if callable(getattr(bm, name)) and not inspect.isclass(getattr(bm, name))
                and getattr(getattr(bm, name), "__module__", "").startswith("bayesmix.families.")}
    assert exported, "no factory found in bm.__all__"
    assert exported <= set(FAMILIES), f"factories in bm.__all__ that no family registers: {exported - set(FAMILIES)}"
    for name, family in FAMILIES.items():
        assert getattr(bm, name) is family.factory, f"bm.{name} is not the registered factory"


def test_names_are_unique_and_every_family_has_cases_simulators_and_examples():
    cases = [c for family in FAMILIES.values() for c in family.sbc_cases]
    simulators = [s for family in FAMILIES.values() for s in family.simulators]
    assert len(cases) == len(set(cases)), "two families register an SBC case of the same name"
    assert len(simulators) == len(set(simulators)), "two families register a simulator of the same name"
    for name, family in FAMILIES.items():
        assert family.name == name
        assert family.sbc_cases, f"{name}: no SBC case"
        assert family.simulators, f"{name}: no simulator"
        assert set(family.examples) == set(family.simulators), f"{name}: every simulator needs an example"
        assert family.description, f"{name}: no description"
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.Family("lca", bm.lca))


def test_sbc_cases_are_the_registry_s_in_the_paper_s_order():
    from bayesmix import sbc
    assert list(sbc.CASES) == list(registry.sbc_cases())
    assert list(sbc.CASES)[:2] == ["lca", "lca_random_intercept"]
    assert list(sbc.CASES)[-3:] == ["irt_3pl_fma_gom", "mixture_sem", "mixture_sem_two_factor"]  # registers last


# ---------------------------------------------------------------- the workflow, per family
def test_build_and_fit_ml(fitted):
    family, case, data, model, ml = fitted
    assert registry.family_of(model) is family
    if family.model_class is not None:
        assert isinstance(model, family.model_class)
    assert np.isfinite(ml.loglik)
    assert isinstance(ml.params, pd.DataFrame) and len(ml.params) > 0
    assert np.isfinite(ml.params["estimate"].to_numpy(float)).all()


def test_short_nuts_run_has_a_log_likelihood_group(fitted):
    family, case, data, model, ml = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = model.sample(draws=20, tune=20, chains=1, sampler="pymc", random_seed=1, progressbar=False)
    assert isinstance(idata, xr.DataTree)
    assert "log_likelihood" in idata.children
    loglik = idata["log_likelihood"].to_dataset()
    assert any(model.loglik_dim in da.dims for da in loglik.data_vars.values())
    dims = next(iter(loglik.data_vars.values())).sizes
    assert dims["chain"] == 1 and dims["draw"] == 20


def test_simulators_draw_data_the_factory_accepts(fitted):
    family = fitted[0]
    for name, simulate in family.simulators.items():
        data, options = family.examples[name](1)
        assert isinstance(data, pd.DataFrame) and len(data) > 0, name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = family.factory(data, **options)
        assert registry.family_of(model) is family
        assert np.isfinite(_loglik(model, _initial_theta(model))), name


def _initial_theta(model):
    flat = flat_model(model, None)
    return np.concatenate([np.ravel(flat.point[n]) for n in flat.names]).astype(float)


def _loglik(model, theta):
    """The integrated log-likelihood at the unconstrained point ``theta`` (the ML objective is its negative)."""
    return -float(flat_model(model, None).value_and_grad("loglik")(theta)[0])


def test_save_load_round_trip(fitted, tmp_path):
    family, case, data, model, ml = fitted
    bm.save(tmp_path / "fit.bmx", model, {"ml": ml})
    back, results = bm.load(tmp_path / "fit.bmx")
    assert registry.family_of(back) is family
    assert results["ml"].loglik == ml.loglik
    at = _loglik(model, ml.theta)
    np.testing.assert_allclose(at, ml.loglik, rtol=1e-6)
    np.testing.assert_allclose(_loglik(back, results["ml"].theta), at, rtol=1e-10)


def test_predict_proba_on_new_rows(fitted):
    family, case, data, model, ml = fitted
    new = data.iloc[:3].reset_index(drop=True)
    if not family.predict:  # a family that declares it cannot predict says so, before any graph
        with pytest.raises(ValueError, match="predict=False"):
            model.predict_proba(new, ml)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = model.predict_proba(new, ml)
    assert proba.shape[1] == model.n_classes
    values = proba.to_numpy(float)
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-8)


def test_posterior_predictive(fitted):
    family, case, data, model, ml = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ppc = model.posterior_predictive(ml, seed=1, draws=2)
    assert "posterior_predictive" in ppc.children
    assert len(ppc["posterior_predictive"].to_dataset().data_vars) > 0


def test_predict_refused_for_a_family_that_declares_predict_false(monkeypatch):
    """predict_proba consults Family.predict: a family without prediction gets a clear ValueError."""
    import dataclasses

    data = bm.datasets.load("carcinoma")
    model = bm.lca(data, items=list("ABCDEFG"), n_classes=2)
    declared = registry.get
    monkeypatch.setattr(registry, "get", lambda name: dataclasses.replace(declared(name), predict=False))
    with pytest.raises(ValueError, match="predict=False"):
        model.predict_proba(data.iloc[:3], None)
