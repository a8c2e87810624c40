"""``sample(latent="integrated")``: NUTS over the structural parameters, the latent effects integrated inside the density.

The integrated PyMC model (:mod:`bayesmix.inference.integrated`) must have
exactly the log density that ML and Laplace use: ``FlatModel``'s
log-posterior with the transforms' Jacobian (log prior + sum_j log int
exp f_j(z) phi(z) dz by the model's quadrature, section 10), value and
gradient, for each kind of latent effect: GoM logistic-normal membership
(eq. 30-34), the restricted GoM membership (eq. 35), the FMA person factor
(eq. 36-37) and two-level random class intercepts (eq. 4-5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix._compile import no_c_compiler, python_mode
from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom
from bayesmix.datasets.simulate_irt import simulate_fma
from bayesmix.inference.integrated import integrated_model
from bayesmix.inference.objective import flat_model


def _gom(k: int, membership: str, n: int = 120, items: int = 6, seed: int = 1):
    sim = simulate_gom(n, items, k, profiles=asb_like_profiles(items, k), class_intercept=np.full(k - 1, -0.5),
                       membership_cov=np.eye(k - 1), seed=seed)  # the restricted form (eq. 35) fitted to these
    return bm.gom(sim.data, sim.items, k, membership=membership), sim


def _two_level(seed: int = 3) -> bm.MixtureModel:
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(8), 5)
    n = len(cluster)
    y = rng.integers(0, 2, size=(n, 4)).astype(float)
    y[2, 1] = np.nan
    frame = pd.DataFrame(y, columns=["y1", "y2", "y3", "y4"])
    frame["school"] = [f"s{j}" for j in cluster]
    return bm.lca(frame, items=["y1", "y2", "y3", "y4"], n_classes=2, cluster="school", random_intercept=True)


def _fma() -> bm.MixtureModel:
    sim = simulate_fma(80, 5, 2, class_intercept=[0.5], link="probit", seed=2)
    return bm.fma(sim.data, sim.items, 2)


CASES = {
    "gom-logistic-normal-K2": lambda: _gom(2, "logistic-normal")[0],
    "gom-restricted-K3": lambda: _gom(3, "restricted")[0],
    "fma-K2": _fma,
    "lca-two-level-random-intercept": _two_level,
}


@pytest.mark.parametrize("case", list(CASES))
def test_integrated_density_equals_flat_model(case):
    """logp and gradient of the integrated model = FlatModel's log posterior with Jacobian, at 3 random points."""
    mm = CASES[case]()
    model = integrated_model(mm, mm.settings())
    assert {rv.name for rv in model.free_RVs} == {rv.name for rv in mm.model.free_RVs} - set(mm.integrated)
    assert [p.name for p in model.potentials] == ["loglik"]
    flat = flat_model(mm)
    reference = flat.value_and_grad("laplace")
    # Python thunks: no C compilation (the values are those of the C ops; see bayesmix._compile)
    with no_c_compiler():
        logp = model.compile_logp(jacobian=True, mode=python_mode())
        dlogp = model.compile_dlogp(jacobian=True, mode=python_mode())
    rng = np.random.default_rng(7)
    for _ in range(3):
        theta = rng.normal(scale=0.5, size=flat.n_params)
        value, grad = reference(theta)
        parts = flat.split(theta)
        point = {v.name: parts[v.name] for v in model.value_vars}
        gradient = flat.split(-np.asarray(grad))
        expected = np.concatenate([np.ravel(gradient[v.name]) for v in model.value_vars])
        np.testing.assert_allclose(logp(point), -value, rtol=0, atol=1e-8 * max(1.0, abs(value)))
        np.testing.assert_allclose(dlogp(point), expected, rtol=1e-8, atol=1e-8)


def test_integration_setting_changes_the_density():
    """``integration=`` reaches the density: a 5-node rule differs from the default, equals FlatModel's 5-node one."""
    mm = _fma()
    setting = mm.settings({"method": "gauss-hermite", "points": 5})
    model = integrated_model(mm, setting)
    flat = flat_model(mm, setting)
    theta = np.random.default_rng(1).normal(scale=0.3, size=flat.n_params)
    parts = flat.split(theta)
    point = {v.name: parts[v.name] for v in model.value_vars}
    value, _ = flat.value_and_grad("laplace")(theta)
    default = integrated_model(mm, mm.settings())
    with no_c_compiler():
        five, default_logp = (m.compile_logp(jacobian=True, mode=python_mode()) for m in (model, default))
    assert abs(five(point) + value) < 1e-8 * abs(value)
    assert abs(default_logp(point) + value) > 1e-6


@pytest.mark.parametrize("kwargs, match", [
    ({"latent": "marginal"}, "latent='marginal'"),
    ({"latent": 1}, "latent=1"),
    ({"latent": "sampled", "integration": {"points": 5}}, "integration"),
    ({"latent": "integrated", "integration": {"method": "simpson"}}, "integration method"),
    ({"latent": "integrated", "integration": {"points": 0}}, "integration points"),
    ({"latent": "integrated", "integration": {"adaptive": True}}, "adaptive"),
])
def test_bad_options_refused_before_compilation(kwargs, match):
    mm = _fma()
    with pytest.raises(ValueError, match=match):
        mm.sample(draws=10, tune=10, chains=1, init={"x": 1}, **kwargs)
    assert not any(isinstance(k, tuple) and k[0] == "integrated_model" for k in mm._cache)


def test_refused_without_latent_effects():
    m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)
    with pytest.raises(ValueError, match="latent='integrated'.*no continuous latent effects"):
        m.sample(draws=10, tune=10, chains=1, latent="integrated")


@pytest.fixture(scope="module")
def gom_run():
    """A simulated GoM K = 2 (N = 400 x 20, profiles 0.85 / 0.15, Var(alpha_1j) = 1.5^2), 2 chains x 250/250
    with the memberships integrated (nutpie's jax backend: a compile of seconds; seed 3).

    The membership SD is fixed at its true 1.5: with it free, these data leave a ridge (more extreme
    profiles with a smaller SD fit the items' means and covariances about as well; the information
    matrix at the ML solution is not positive definite), along which the posterior under the default
    Normal(0, 2.5) prior on the probit item parameters sits at profiles near 0.97 / 0.03.
    """
    k, n, items = 2, 400, 20
    sim = simulate_gom(n, items, k, seed=5)
    mm = bm.gom(sim.data, sim.items, k, fixed={"membership_sd": 1.5})
    ml = mm.fit_ml(starts=2, seed=1, progressbar=False)
    idata = mm.sample(draws=250, tune=250, chains=2, sampler="nutpie", backend="jax", random_seed=3,
                      progressbar=False, init=ml, latent="integrated", cores=1, convergence_checks=False)
    return mm, sim, idata, sim.truth["profiles"]


def test_recovery_of_item_probabilities(gom_run):
    """Posterior means of P(y = 1 | class) within 0.15 of the simulated profiles, 0.06 on average (classes
    matched by order). With 2 x 500 draws (nutpie, seed 3) the same data gave integrated and
    sampled-z posterior means within 0.012 of each other (the sampled chains' R-hat 1.26, ESS 6; integrated
    1.03, 45)."""
    mm, sim, idata, profiles = gom_run
    assert "membership_z" not in idata["posterior"].to_dataset()
    table = mm.profiles(idata)
    est = np.array([table[(c, "estimate")].to_numpy() for c in mm.class_labels])  # (K, I)
    truth = np.asarray(profiles, dtype=float).reshape(est.shape)
    if np.abs(est - truth).mean() > np.abs(est[::-1] - truth).mean():
        est = est[::-1]
    assert np.max(np.abs(est - truth)) < 0.15, np.round(est - truth, 3)
    assert np.mean(np.abs(est - truth)) < 0.06, np.round(est - truth, 3)
    assert idata.attrs["bayesmix_latent"] == "integrated"
    assert bm.evaluate.integration_attr(idata.attrs) == mm.settings()


def test_integrated_posterior_writes_with_to_netcdf(gom_run, tmp_path):
    """``idata.to_netcdf`` (the ArviZ convention) writes an integrated fit; its quadrature setting reads back."""
    import xarray as xr
    mm, _, idata, _ = gom_run
    target = tmp_path / "integrated.nc"
    idata.to_netcdf(target, engine="h5netcdf")
    back = xr.open_datatree(target, engine="h5netcdf").load()
    assert bm.evaluate.integration_attr(back.attrs) == mm.settings() == bm.evaluate.as_fit(back).integration


def test_results_on_integrated_posterior(gom_run):
    """log_likelihood per person = integrated LL per draw; the result functions return labelled frames."""
    mm, sim, idata, _ = gom_run
    ll = idata["log_likelihood"]["y"]
    assert ll.dims == ("chain", "draw", "unit") and ll.shape == (2, 250, mm.n_units)
    flat = flat_model(mm)
    post = idata["posterior"].to_dataset()
    values = {rv.name: post[rv.name].isel(chain=1, draw=17).to_numpy() for rv in flat.rvs}
    np.testing.assert_allclose(ll.isel(chain=1, draw=17).to_numpy(), flat.unit_loglik(flat.to_theta(values)),
                               rtol=1e-9, atol=1e-9)
    probs = mm.class_probabilities(idata)
    assert list(probs.columns) == mm.class_labels and len(probs) == mm.n_units
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    scores = mm.membership_scores(idata, max_draws=20)
    assert len(scores) == mm.n_units and set(scores.columns.get_level_values(0)) == set(mm.class_labels)
    summary = mm.summary(idata)
    assert "binary_logit[class1, y1]" in " ".join(map(str, summary.index))
    assert not any("membership_z" in str(i) for i in summary.index)
    table = bm.compare({"integrated": idata, "again": idata.copy()})
    assert np.isfinite(table["elpd"]).all() if "elpd" in table else len(table) == 2
    with pytest.raises(ValueError, match="membership_z"):
        mm.posterior_predictive(idata, random_effects="posterior", draws=5)


@pytest.mark.parametrize("k, membership, n", [(2, "logistic-normal", 300), (3, "restricted", 300),
                                              (3, "logistic-normal", 200), (3, "dirichlet", 200)])
def test_gom_pattern_path_equals_per_person_quadrature(k, membership, n):
    """The per-pattern integral (ItemClasses.pattern_loglik) = the per-person quadrature, per person and gradient."""
    import pytensor
    from bayesmix.inference.quadrature import integrate
    mm, sim = _gom(k, membership, n=n)
    patterns = mm.structure.patterns
    assert patterns is not None and patterns.n_patterns < 0.5 * mm.n_units  # the path applies here
    settings = mm.settings()
    fast = mm.integrated_loglik(settings)
    reference = integrate(mm.structure.conditional_loglik, settings["method"], settings["points"],
                          dim=mm.latent.n_dims, nodes_weights=mm.rule(settings))
    model = mm.model
    values = [model.rvs_to_values[rv] for rv in model.free_RVs if rv.name not in mm.integrated]
    graphs = model.replace_rvs_by_values([fast, reference])
    # units with the same responses share a pattern's value (and the path keeps every person)
    rng = np.random.default_rng(3)
    with no_c_compiler():
        f = pytensor.function(values, [*graphs, *pytensor.grad(graphs[0].sum(), values),
                                       *pytensor.grad(graphs[1].sum(), values)], mode=python_mode())
    start = model.initial_point()
    for _ in range(2):
        point = {v.name: start[v.name] + rng.normal(scale=0.4, size=np.shape(start[v.name])) for v in values}
        out = f(**point)
        got, want = out[0], out[1]
        assert got.shape == (mm.n_units,)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
        m = len(values)
        for a, b in zip(out[2:2 + m], out[2 + m:]):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)
    y = sim.data[sim.items].to_numpy()
    common = patterns.representative[np.bincount(patterns.inverse).argmax()]
    same = np.flatnonzero((y == y[common]).all(axis=1))
    assert len(same) > 1 and np.ptp(got[same]) == 0.0


def test_gom_pattern_path_off_when_it_does_not_apply():
    """Covariates (person-specific memberships) and adaptive quadrature keep the per-person integral."""
    mm, sim = _gom(2, "logistic-normal", n=300)
    assert mm.structure.pattern_loglik({**mm.settings(), "adaptive": True}) is None
    frame = sim.data.assign(x=np.random.default_rng(0).normal(size=len(sim.data)))
    with_covariate = bm.gom(frame, sim.items, 2, covariates=["x"])
    assert with_covariate.structure.patterns is None
