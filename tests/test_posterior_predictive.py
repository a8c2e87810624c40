"""Posterior predictive checks (issue 13 item 7): replicated data and the mixture checks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from scipy.special import expit

import bayesmix as bm
from bayesmix.datasets.simulate import simulate_lca, simulate_mixture_regression
from bayesmix.predict import point_posterior

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def missing_lca():
    """A 2-class LCA on data with 10% of the cells missing, its ML fit and a short NUTS run."""
    sim = simulate_lca(200, 5, 2, missing_rate=0.1, seed=3)
    m = bm.lca(sim.data, sim.items, n_classes=2)
    ml = m.fit_ml(starts=4, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = m.sample(draws=40, tune=60, chains=2, sampler="pymc", cores=1, random_seed=1, init=ml,
                         progressbar=False)
    return sim, m, ml, idata


def test_replicates_have_the_data_shape_and_missingness(missing_lca):
    sim, m, _, idata = missing_lca
    ppc = m.posterior_predictive(idata, seed=1, draws=30, extend=False)
    rep = ppc["posterior_predictive"].to_dataset()
    assert set(rep.data_vars) == set(sim.items)
    # thinned within chains, every 3rd draw (80 draws -> at most 30): 2 chains x 14, the posterior's draw coords
    assert dict(rep.sizes) == {"chain": 2, "draw": 14, "unit": 200}
    np.testing.assert_array_equal(rep["draw"].to_numpy(), np.arange(0, 40, 3))
    for item in sim.items:
        values = rep[item].to_numpy()
        missing = sim.data[item].isna().to_numpy()
        assert missing.any()
        np.testing.assert_array_equal(np.isnan(values), np.broadcast_to(missing, values.shape))
        assert set(np.unique(values[:, :, ~missing])) == {0.0, 1.0}
    observed = ppc["observed_data"].to_dataset()
    np.testing.assert_array_equal(observed["y1"].to_numpy(), sim.data["y1"].to_numpy())
    # replicates vary over draws and differ from the data
    assert not np.array_equal(rep["y1"].to_numpy()[0, 0], rep["y1"].to_numpy()[0, 1])


def test_extends_the_posterior_and_pymc_returns_nothing(missing_lca):
    _, m, _, idata = missing_lca
    tree = idata.copy()
    out = m.posterior_predictive(tree, seed=1, draws=10)
    assert out is tree and {"posterior_predictive", "observed_data", "posterior"} <= set(tree.children)
    # what the docstring says: PyMC's own posterior predictive is empty (the likelihood is a Potential)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty = pm.sample_posterior_predictive(idata, model=m.model)
    assert "posterior_predictive" not in empty.children or not empty["posterior_predictive"].data_vars


def test_seeded_reproducibility(missing_lca):
    _, m, ml, idata = missing_lca
    a = m.posterior_predictive(idata, seed=7, draws=10, extend=False)["posterior_predictive"].to_dataset()
    b = m.posterior_predictive(idata, seed=7, draws=10, extend=False)["posterior_predictive"].to_dataset()
    c = m.posterior_predictive(idata, seed=8, draws=10, extend=False)["posterior_predictive"].to_dataset()
    xr.testing.assert_identical(a, b)
    assert not a.equals(c)
    p1 = m.posterior_predictive(ml, seed=3, draws=5)["posterior_predictive"].to_dataset()
    p2 = m.posterior_predictive(ml, seed=3, draws=5)["posterior_predictive"].to_dataset()
    xr.testing.assert_identical(p1, p2)
    assert dict(p1.sizes) == {"chain": 1, "draw": 5, "unit": 200}


def test_plug_in_replicates_match_the_model_pattern_probabilities():
    """At the ML point the mean replicated count of a pattern is N P(y = s) (eq. 1, 4, classes summed out)."""
    sim = simulate_lca(300, 4, 2, seed=5)
    m = bm.lca(sim.data, sim.items, n_classes=2)
    ml = m.fit_ml(starts=3, seed=1)
    ppc = m.posterior_predictive(ml, seed=1, draws=2000)
    table = m.ppc_patterns(ppc, n_patterns=6)
    expected = m.pattern_table(ml).set_index(sim.items)["expected"]
    model = np.array([expected.loc[tuple(row)] for row in table[sim.items].to_numpy()])
    sd = np.sqrt(model * (1 - model / 300) / 2000)  # Monte Carlo SE of the mean count
    assert np.all(np.abs(table["expected"].to_numpy() - model) < 4 * sd)


def test_pattern_check_on_the_true_model_and_on_too_few_classes():
    sim = simulate_lca(500, 5, 2, seed=11)
    true = bm.lca(sim.data, sim.items, n_classes=2)
    fit = true.fit_ml(starts=4, seed=1)
    table = true.ppc_patterns(true.posterior_predictive(fit, seed=2, draws=300), n_patterns=8)
    assert list(table.columns[:5]) == sim.items and len(table) == 8
    assert table["observed"].is_monotonic_decreasing
    assert table["ppp"].between(0.1, 0.9).all()  # no pattern is extreme under the true model
    assert (table["lower"] <= table["expected"]).all() and (table["expected"] <= table["upper"]).all()
    one = bm.lca(sim.data, sim.items, n_classes=1)
    fit1 = one.fit_ml(starts=1, seed=1)
    misfit = one.ppc_patterns(one.posterior_predictive(fit1, seed=2, draws=300), n_patterns=8)
    assert misfit["ppp"].iloc[:2].max() < 0.01  # the two most frequent patterns are under-predicted
    assert misfit.attrs["overall"]["ppp"] < 0.01


def test_item_pair_check_flags_a_locally_dependent_pair():
    sim = simulate_lca(400, 6, 2, seed=13)
    rng = np.random.default_rng(13)
    data = sim.data.copy()
    parallel = (rng.uniform(size=400) < expit(sim.truth["binary_logit"][sim.classes, 0])).astype(float)
    data["y7"] = np.where(rng.uniform(size=400) < 0.5, data["y1"], parallel)  # y7 copies y1 for half the units
    m = bm.lca(data, sim.items + ["y7"], n_classes=2)
    ml = m.fit_ml(starts=4, seed=1)
    ppc = m.posterior_predictive(ml, seed=2, draws=200)
    for statistic in ("cramers_v", "bvr"):
        pairs = m.ppc_item_pairs(ppc, statistic=statistic)
        assert len(pairs) == 21 and pairs.index[0] == ("y1", "y7")
        assert pairs["ppp"].iloc[0] < 0.01
        assert pairs["observed"].iloc[0] > pairs["upper"].iloc[0]
    assert m.ppc_item_pairs(ppc, statistic="bvr")["ppp"].iloc[1:].min() > 0.1
    # the same check on data without the dependence flags nothing
    clean = bm.lca(sim.data, sim.items, n_classes=2)
    fit = clean.fit_ml(starts=4, seed=1)
    assert clean.ppc_item_pairs(clean.posterior_predictive(fit, seed=2, draws=200))["ppp"].min() > 0.02


def test_pair_statistics_by_hand(missing_lca):
    sim, m, ml, _ = missing_lca
    ppc = m.posterior_predictive(ml, seed=4, draws=20)
    a, b = sim.data["y1"], sim.data["y2"]
    both = a.notna() & b.notna()
    table = pd.crosstab(a[both], b[both]).to_numpy().astype(float) + 0.5
    log_or = np.log(table[1, 1] * table[0, 0] / (table[1, 0] * table[0, 1]))
    got = m.ppc_item_pairs(ppc, statistic="log_odds_ratio").loc[("y1", "y2")]
    assert got["observed"] == pytest.approx(log_or) and got["n"] == both.sum()
    corr = np.corrcoef(a[both], b[both])[0, 1]
    assert m.ppc_item_pairs(ppc, statistic="correlation").loc[("y1", "y2"), "observed"] == pytest.approx(corr)
    assert m.ppc_item_pairs(ppc).loc[("y1", "y2"), "observed"] == pytest.approx(abs(corr))  # 2 x 2: V = |phi|
    rep = ppc["posterior_predictive"].to_dataset()
    ra, rb = rep["y1"].to_numpy()[0, 3], rep["y2"].to_numpy()[0, 3]
    keep = ~np.isnan(ra) & ~np.isnan(rb)
    assert keep.sum() == both.sum()


def _refit_from_replicate(factory, data, point, seed=5):
    """Simulate one replicate at ``point`` with the model's own simulator, fit it by ML."""
    m = factory(data)
    rep = m.posterior_predictive(point, seed=seed, draws=1)["posterior_predictive"]
    rep = rep.to_dataset().isel(chain=0, draw=0)
    replicate = data.copy()
    for name in rep.data_vars:
        replicate[name] = rep[name].to_numpy()
    return factory(replicate).fit_ml(starts=4, seed=1, warn_unreplicated=False)


@pytest.mark.parametrize("kind", ["random_intercept", "between"])
def test_two_level_replicates_recover_the_simulating_values(kind):
    """Data simulated by posterior_predictive at known values give them back by ML (within 3.5 SEs)."""
    base = simulate_lca(1500, 5, 2, seed=1).data
    base["cluster"] = np.repeat(np.arange(150), 10)
    items = [f"y{i + 1}" for i in range(5)]
    logit = np.array([[-1.5, -1.0, 1.0, 1.5, -1.0], [1.5, 1.0, -1.0, -1.5, 1.0]])
    if kind == "random_intercept":
        options = {"random_intercept": True}
        point = {"class_intercept": np.array([0.5]), "binary_logit": logit, "random_sd": np.array([1.2])}
    else:
        options = {"class_level": "between"}
        point = {"class_intercept": np.array([0.8]), "binary_logit": logit}
    fit = _refit_from_replicate(lambda d: bm.lca(d, items, 2, cluster="cluster", **options), base, point)
    truth = np.concatenate([np.ravel(point[name]) for name in point])
    z = (fit.params["estimate"].to_numpy() - truth) / fit.params["se"].to_numpy()
    assert np.all(np.abs(z) < 3.5), fit.params


def test_mixture_regression_replicates_recover_the_simulating_values():
    data = simulate_mixture_regression(n_clusters=80, cluster_size=10, class_level="within", seed=2).data
    point = {"class_intercept": np.array([0.3]), "regression_intercept": np.array([2.0, -1.0]),
             "regression_slope": np.array([[0.5], [-0.5]]), "residual_sd": np.array(0.8),
             "random_sd": np.array([0.6])}
    factory = lambda d: bm.mixture_regression(d, "y", "x", 2, cluster="cluster", random="intercept")  # noqa: E731
    fit = _refit_from_replicate(factory, data, point)
    truth = np.concatenate([np.ravel(point[name]) for name in point])
    z = (fit.params["estimate"].to_numpy() - truth) / fit.params["se"].to_numpy()
    assert np.all(np.abs(z) < 3.5), fit.params


def test_sampled_random_effects_are_used_with_random_effects_posterior():
    """random_effects='posterior' keeps each cluster's sampled effect: a cluster pushed to class1 answers like it."""
    data = simulate_lca(200, 5, 2, seed=4).data
    data["cluster"] = np.repeat(np.arange(20), 10)
    items = [f"y{i + 1}" for i in range(5)]
    m = bm.lca(data, items, 2, cluster="cluster", random_intercept=True)
    logit = np.array([[4.0] * 5, [-4.0] * 5])  # class1 answers 1, class2 answers 0
    point = {"class_intercept": np.array([0.0]), "binary_logit": logit, "random_sd": np.array([3.0])}
    tree = point_posterior(m, point)
    z = np.zeros((1, 1, 20, 1))
    z[..., :10, 0], z[..., 10:, 0] = 4.0, -4.0  # logit +-12: clusters 0-9 in class1, 10-19 in class2
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().assign(
        random_z=(("chain", "draw", "cluster", "class_free"), z)))
    rep = m.posterior_predictive(tree, seed=1, random_effects="posterior", extend=False)["posterior_predictive"]
    values = np.stack([rep[i].to_numpy()[0, 0] for i in items], axis=1)  # (units, items)
    assert values[:100].mean() > 0.95 and values[100:].mean() < 0.05
    new = m.posterior_predictive(tree, seed=1, extend=False)["posterior_predictive"]  # new effects: mixed
    fresh = np.stack([new[i].to_numpy()[0, 0] for i in items], axis=1)
    assert 0.1 < fresh[:100].mean() < 0.9 or 0.1 < fresh[100:].mean() < 0.9


def test_bad_input_and_unsupported_models(missing_lca):
    _, m, ml, idata = missing_lca
    with pytest.raises(ValueError, match="random_effects"):
        m.posterior_predictive(ml, random_effects="old")
    with pytest.raises(ValueError, match="draws"):
        m.posterior_predictive(ml, draws=0)
    with pytest.raises(ValueError, match="needs a model with random effects"):
        m.posterior_predictive(idata, random_effects="posterior")
    with pytest.raises(ValueError, match="posterior_predictive group"):
        m.ppc_patterns(idata.copy().drop_nodes(["posterior_predictive"], errors="ignore"))
    with pytest.raises(ValueError, match="posterior DataTree"):
        m.posterior_predictive("a fit")
    with pytest.raises(ValueError, match="lacks the parameter"):  # a dict is a point (bayesmix.evaluate.as_fit)
        m.posterior_predictive({"a": 1})
    ppc = m.posterior_predictive(ml, seed=1, draws=5)
    with pytest.raises(ValueError, match="statistic"):
        m.ppc_item_pairs(ppc, statistic="kappa")
    with pytest.raises(ValueError, match="not items"):
        m.ppc_patterns(ppc, items=["y1", "nope"])
    reg = bm.mixture_regression(simulate_mixture_regression(n_clusters=20, cluster_size=5, seed=1).data,
                                "y", "x", 2)
    rfit = reg.fit_ml(starts=2, seed=1, warn_unreplicated=False)
    rppc = reg.posterior_predictive(rfit, seed=1, draws=5)
    assert dict(rppc["posterior_predictive"].sizes) == {"chain": 1, "draw": 5, "unit": 100}
    with pytest.raises(ValueError, match="continuous"):
        reg.ppc_patterns(rppc, items=["y"])


def _replicated_matrix(m, point, draws=200, seed=1):
    """(draws * units, items) replicated responses at a point."""
    rep = m.posterior_predictive(point, seed=seed, draws=draws)["posterior_predictive"]
    return np.stack([rep[name].to_numpy().reshape(-1) for name in m.data.item_names()], axis=1)


PERSON_DATA = simulate_lca(300, 3, 2, seed=1).data
PERSON_ITEMS = ["y1", "y2", "y3"]


def test_gom_replicates_have_the_membership_moments():
    """GoM (eq. 28-30, 34): with profiles at 0 / 1, P(y_i = 1) = E[g] and P(y_i = y_k = 1) = E[g^2]."""
    from scipy.special import expit as sigmoid
    from scipy.stats import norm
    m = bm.gom(PERSON_DATA, PERSON_ITEMS, 2)  # probit link
    point = {"binary_logit": np.array([[9.0] * 3, [-9.0] * 3]), "class_intercept": np.array([0.4]),
             "membership_sd": np.array([2.0])}
    y = _replicated_matrix(m, point)
    x, w = np.polynomial.hermite_e.hermegauss(80)
    g = sigmoid(0.4 + 2.0 * x)
    w = w / w.sum()
    e1, e2 = float(w @ g), float(w @ g**2)
    assert norm.cdf(-9.0) < 1e-15
    n = len(y)
    assert abs(y[:, 0].mean() - e1) < 4 * np.sqrt(e1 * (1 - e1) / n)
    both = (y[:, 0] * y[:, 1]).mean()
    assert abs(both - e2) < 4 * np.sqrt(e2 * (1 - e2) / n)  # E[g^2] > E[g]^2: each person's g drawn anew
    assert e2 - e1**2 > 0.05
    dirichlet = bm.gom(PERSON_DATA, PERSON_ITEMS, 2, membership="dirichlet")
    a = np.array([0.6, 1.4])
    y = _replicated_matrix(dirichlet, {"binary_logit": point["binary_logit"], "membership_concentration": a})
    e1, e2 = a[0] / a.sum(), a[0] * (a[0] + 1) / (a.sum() * (a.sum() + 1))
    assert abs(y[:, 0].mean() - e1) < 4 * np.sqrt(e1 * (1 - e1) / n)
    assert abs((y[:, 0] * y[:, 2]).mean() - e2) < 4 * np.sqrt(e2 * (1 - e2) / n)


def test_fma_and_3pl_replicates_have_the_factor_model_margins():
    """2PL probit (FMA with one class, eq. 36): P(y = 1) = Phi(tau / sqrt(1 + lambda^2)); 3PL adds g (eq. 42)."""
    from scipy.stats import multivariate_normal, norm
    m = bm.fma(PERSON_DATA, PERSON_ITEMS, 1)
    tau, lam = np.array([0.5, -0.3, 0.0]), np.array([1.5, 1.0, 0.5])
    point = {"binary_logit": tau[None], "factor_loading_positive": np.array(lam[0]),
             "factor_loading_free": lam[1:]}
    y = _replicated_matrix(m, point)
    n = len(y)
    p = norm.cdf(tau / np.sqrt(1 + lam**2))
    assert np.all(np.abs(y.mean(axis=0) - p) < 4 * np.sqrt(p * (1 - p) / n))
    rho = lam[0] * lam[1] / np.sqrt((1 + lam[0] ** 2) * (1 + lam[1] ** 2))
    p11 = multivariate_normal(cov=[[1, rho], [rho, 1]]).cdf(tau[:2] / np.sqrt(1 + lam[:2] ** 2))
    assert abs((y[:, 0] * y[:, 1]).mean() - p11) < 4 * np.sqrt(p11 * (1 - p11) / n)
    three = bm.irt_3pl(PERSON_DATA, PERSON_ITEMS, guessing=0.2, link="probit")
    y = _replicated_matrix(three, point)
    p3 = 0.2 + 0.8 * p
    assert np.all(np.abs(y.mean(axis=0) - p3) < 4 * np.sqrt(p3 * (1 - p3) / n))


@pytest.mark.parametrize("markov", [True, False])
def test_lta_replicates_follow_the_model_class_paths(markov):
    """LTA (eq. 8-9; markov=False: C_3 on C_1 too): with items that reveal the class, the replicated class
    paths have the model's path probabilities P(C_1, C_2, C_3)."""
    from bayesmix.datasets.simulate_lta import simulate_lta
    from bayesmix.results import draw_function
    from bayesmix.structure.chain import paths

    sim = simulate_lta(300, n_times=3, seed=4)
    m = bm.lta(sim.data, sim.items_by_time, n_classes=2, markov=markov)
    point = {"class_intercept": np.array([0.3]), "transition_logit": np.array([[[1.5], [-1.0]], [[0.5], [-2.0]]]),
             "binary_logit": np.array([[20.0] * 10, [-20.0] * 10])}  # class1 answers 1, class2 answers 0
    if not markov:
        point["transition_lag_effect"] = np.array([[[1.2]]])
    rep = m.posterior_predictive(point, seed=1, draws=100)["posterior_predictive"]
    times = list(sim.items_by_time)
    first_items = [sim.items_by_time[t][0] for t in times]
    classes = np.stack([1 - rep[item].to_numpy().reshape(-1) for item in first_items], axis=1).astype(int)
    # every item at a time point agrees with its first item: one class per unit and time
    for t, items in zip(times, sim.items_by_time.values()):
        block = np.stack([rep[item].to_numpy().reshape(-1) for item in items], axis=1)
        assert np.all(block == block[:, :1])
    fn = draw_function(m, "test:path_prior", m.structure.path_log_prior())
    prior = np.exp(np.asarray(fn(*[point[rv.name] for rv in m.model.free_RVs])))[0]
    all_paths = paths(2, 3)
    observed = np.array([(classes == p).all(axis=1).mean() for p in all_paths])
    n = len(classes)
    assert np.all(np.abs(observed - prior) < 4 * np.sqrt(prior * (1 - prior) / n) + 1e-3), (observed, prior)


def test_two_level_lta_and_time_specific_replicates_keep_the_data_missingness():
    from bayesmix.datasets.simulate_lta import simulate_lta
    sim = simulate_lta(200, n_clusters=10, seed=3, missing_occasion_rate=0.2, missing_rate=0.05)
    two_level = bm.lta(sim.data, sim.items_by_time, n_classes=2, cluster=sim.cluster, random_intercepts=True)
    specific = bm.lta(sim.data, sim.items_by_time, n_classes=2, invariant_measurement=False)
    for m in (two_level, specific):
        point = {rv.name: value for rv, value in zip(m.model.free_RVs, _initial_values(m))}
        rep = m.posterior_predictive(point, seed=2, draws=3)["posterior_predictive"]
        items = [item for group in sim.items_by_time.values() for item in group]
        assert list(rep.data_vars) == items
        for item in items:
            values = rep[item].to_numpy()
            np.testing.assert_array_equal(np.isnan(values[0, 0]), sim.data[item].isna().to_numpy())
            assert set(np.unique(values[~np.isnan(values)])) <= {0.0, 1.0}


def _initial_values(m):
    """The model's initial point on the natural scale, per free RV (integrated effects left out by the caller)."""
    from bayesmix.inference.objective import flat_model
    flat = flat_model(m)
    values = flat.constrained(np.zeros(flat.n_params))
    return [values.get(rv.name, np.zeros(1)) for rv in m.model.free_RVs]
