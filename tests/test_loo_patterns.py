"""PSIS-LOO by unique response pattern equals ArviZ's per-unit LOO (issue 11: LOO at N = 200,000)."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest

import bayesmix as bm
from bayesmix.loo_patterns import Patterns, _pattern_graph, pattern_loglik, loo_by_pattern, unit_patterns
from bayesmix.results import evaluate_draws


def _sample(m, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.sample(draws=100, tune=100, chains=2, sampler="pymc", cores=1, random_seed=3, progressbar=False,
                        starts=2, convergence_checks=False, **kwargs)


def _per_unit(idata):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(idata, pointwise=True)


@pytest.fixture(scope="module")
def missing_model():
    """Binary items with missing cells (part of the pattern key); 400 units, far fewer patterns."""
    sim = bm.datasets.simulate_lca(n_units=400, n_items=5, n_classes=2, missing_rate=0.05, seed=2)
    return bm.lca(sim.data, items=sim.items, n_classes=2)


@pytest.fixture(scope="module")
def missing_idata(missing_model):
    return _sample(missing_model)


def _assert_equal(fit, ref):
    np.testing.assert_allclose(fit.elpd, ref.elpd, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.se, ref.se, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.p, ref.p, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.elpd_i, np.asarray(ref.elpd_i).reshape(-1), rtol=0, atol=1e-8)
    np.testing.assert_allclose(fit.pareto_k, np.asarray(ref.pareto_k).reshape(-1), rtol=0, atol=1e-8)
    assert fit.warning == ref.warning


def test_pattern_loo_equals_per_unit_loo_from_the_stored_group(missing_model, missing_idata):
    patterns = unit_patterns(missing_model)
    assert patterns.n_patterns < 0.5 * patterns.n_units  # the test compares a real compression
    fit = loo_by_pattern(missing_model, missing_idata)
    _assert_equal(fit, _per_unit(missing_idata))
    assert fit.counts.sum() == 400 and fit.n_patterns == patterns.n_patterns
    assert fit.n_samples == 200


def test_pattern_loo_without_the_group_equals_per_unit_loo(missing_model, missing_idata):
    bare = missing_idata.copy()
    del bare["log_likelihood"]
    assert "log_likelihood" not in bare.children
    _assert_equal(loo_by_pattern(missing_model, bare), _per_unit(missing_idata))


def test_the_graph_on_pattern_rows_gives_the_stored_columns(missing_model, missing_idata):
    patterns = unit_patterns(missing_model)
    key, graph = _pattern_graph(missing_model.integrated_loglik(), patterns)
    assert graph is not None  # the data constants were cut to the P rows (not the per-unit fallback)
    posterior = missing_idata["posterior"].to_dataset()
    _, values = evaluate_draws(missing_model, key, graph, posterior)
    stored = missing_idata["log_likelihood"]["y"].values.reshape(200, 400)
    assert values.shape == (200, patterns.n_patterns)
    np.testing.assert_allclose(values, stored[:, patterns.representative], rtol=0, atol=1e-10)


def test_sample_without_log_likelihood_then_pattern_loo(missing_model, missing_idata):
    idata = _sample(missing_model, log_likelihood=False)
    assert "log_likelihood" not in idata.children and "posterior" in idata.children
    np.testing.assert_array_equal(idata["posterior"]["binary_logit"].values,
                                  missing_idata["posterior"]["binary_logit"].values)  # same seed, same draws
    _assert_equal(loo_by_pattern(missing_model, idata), _per_unit(missing_idata))


def test_covariates_are_part_of_the_pattern_key():
    sim = bm.datasets.simulate_lca(n_units=300, n_items=4, n_classes=2, seed=4)
    data = sim.data.assign(x=np.arange(300) % 2)  # a binary covariate: two units with one response pattern differ
    m = bm.lca(data, items=sim.items, n_classes=2, covariates=["x"])
    responses = unit_patterns(bm.lca(sim.data, items=sim.items, n_classes=2)).n_patterns
    assert responses < unit_patterns(m).n_patterns <= 2 * responses
    idata = _sample(m)
    _assert_equal(loo_by_pattern(m, idata), _per_unit(idata))


def test_wrong_grouping_is_refused(missing_model, missing_idata):
    one = Patterns(np.array([0]), np.zeros(400, dtype=int))  # every unit in one "pattern"
    with pytest.raises(ValueError, match="differ in log-likelihood"):
        pattern_loglik(missing_model, missing_idata, one)


def test_two_level_model_is_refused():
    sim = bm.datasets.simulate_lca(n_units=200, n_items=4, n_classes=2, seed=5)
    data = sim.data.assign(school=np.arange(200) // 10)
    m = bm.lca(data, items=sim.items, n_classes=2, cluster="school", class_level="between")
    with pytest.raises(ValueError, match="per 'cluster'"):
        unit_patterns(m)


def test_sample_leaves_a_large_pointwise_group_out_by_default_and_loo_says_what_to_do(monkeypatch):
    import xarray as xr
    from bayesmix.inference import sampling
    m = bm.lca(bm.datasets.load("carcinoma"), list("ABCDEFG"), 2)
    assert sampling._keep_log_likelihood(m, "auto", 4, 1000)  # 4 x 1000 x 118: within the budget
    assert sampling._keep_log_likelihood(m, True, 4, 1000) and not sampling._keep_log_likelihood(m, False, 4, 10)
    monkeypatch.setattr(sampling, "LOG_LIKELIHOOD_BUDGET", 1000)
    with pytest.warns(UserWarning, match="loo_by_pattern"):
        assert not sampling._keep_log_likelihood(m, "auto", 4, 1000)
    assert sampling._keep_log_likelihood(m, True, 4, 1000)  # asked for: kept whatever the size
    with pytest.raises(ValueError, match="log_likelihood"):
        sampling._keep_log_likelihood(m, "yes", 4, 1000)
    without = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), np.zeros((2, 3)))})})
    with pytest.raises(ValueError, match="loo_by_pattern"):
        bm.loo(without)
