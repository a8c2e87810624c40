"""All three class statuses of Table 4 in one model (section 6, eq. 24 with random alpha_cj; eq. 18, 25-26).

``bm.lca(..., n_between_classes=M, random_intercept=True)``: within classes
C_ij whose K-1 logits get cluster random intercepts alpha_j = L z_j and
depend on a between class D_j through gamma_cd; D_j predicted by cluster
covariates (eq. 26); with ``between_specific=["random_sd"]`` the random
intercepts' SDs differ by D (alpha_j | D_j = d ~ N(gamma_.d, diag(sd_d)^2), eq. 18).

- Nesting, exact at the same parameter values: random SD ~ 0 gives the
  within-and-between model; gamma = 0 gives the within-between model; equal
  SDs across D give the D-invariant model.
- Oracle: the per-cluster log-likelihood and P(D | y), P(C | y) of a small
  case against brute-force enumeration over D and C with
  ``scipy.integrate.quad`` over the intercept (written here in numpy/scipy).
- ML recovery from a numpy simulator written here, a short NUTS run, and
  the results / workflow paths (posteriors, joint (C, D) table, predict,
  posterior predictive, save/load).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import expit, softmax
from marginal_oracle import std_normal_pdf

import bayesmix as bm
from two_level_frames import ITEMS, MIXED_TYPES, loglik_at, small_frame
from bayesmix.inference.objective import flat_model

GH40 = {"method": "gauss-hermite", "points": 40}






def values_of(m, seed: int, tiny_sd: bool = False) -> dict[str, np.ndarray]:
    """Random constrained values of every free parameter (not random_z); ``tiny_sd``: random SD 1e-12."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, v in m.random_start(rng).items():
        v = np.asarray(v, dtype=float)
        if name == "random_sd":
            out[name] = np.full(v.shape, 1e-12) if tiny_sd else rng.uniform(0.6, 1.4, size=v.shape)
        elif name == "random_chol":
            d = int((np.sqrt(8 * v.size + 1) - 1) / 2)
            chol = np.diag(np.full(d, 1e-12)) if tiny_sd else (
                np.tril(rng.uniform(-0.5, 0.5, (d, d)), -1) + np.diag(rng.uniform(0.6, 1.3, d)))
            out[name] = chol[np.tril_indices(d)]
        else:
            out[name] = v + rng.normal(0.0, 0.7, size=v.shape)
    return out


# ====================================================================== nesting, exact
@pytest.mark.parametrize("k, n_between, mixed", [(2, 2, False), (3, 3, True)])
def test_zero_random_sd_equals_within_and_between(k, n_between, mixed):
    """Random-intercept SD ~ 0 (1e-12): the combined model is the within+between model (eq. 24-26)."""
    frame = small_frame(11, mixed=mixed)
    items = ITEMS + (list(MIXED_TYPES) if mixed else [])
    opts = dict(cluster="school", n_between_classes=n_between, covariates=["x"], cluster_covariates=["w"],
                item_types=MIXED_TYPES if mixed else None)
    combined = bm.lca(frame, items, k, random_intercept=True, **opts)
    plain = bm.lca(frame, items, k, **opts)
    assert combined.latent.n_dims == k - 1 and plain.latent is None
    for seed in (1, 2):
        values = values_of(combined, seed, tiny_sd=True)
        ll = loglik_at(combined, values)
        reduced = {key: v for key, v in values.items() if not key.startswith("random_")}
        expected = loglik_at(plain, reduced)
        assert ll.shape == (3,)
        np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-8)
        flat_c, flat_p = flat_model(combined), flat_model(plain)
        got = flat_c.evaluate("t_zero_sd", [combined.between_posterior, combined.class_probability_tensor()],
                              flat_c.to_theta(values))
        want = flat_p.evaluate("t_zero_sd_plain", [plain.between_posterior, plain.class_probability_tensor()],
                               flat_p.to_theta(reduced))
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)


@pytest.mark.parametrize("k, n_between", [(2, 2), (3, 2)])
def test_zero_between_effect_equals_within_between(k, n_between):
    """gamma_cd = 0: D no longer acts on C, the combined model is the within-between model (Model 6)."""
    frame = small_frame(12)
    combined = bm.lca(frame, ITEMS, k, cluster="school", n_between_classes=n_between, random_intercept=True,
                      covariates=["x"])
    wb = bm.lca(frame, ITEMS, k, cluster="school", random_intercept=True, covariates=["x"])
    for seed in (1, 2):
        values = values_of(combined, seed)
        values["class_between_effect"] = np.zeros_like(values["class_between_effect"])
        reduced = {key: v for key, v in values.items() if not key.startswith("between_class")
                   and key != "class_between_effect"}
        for integration in (None, GH40):
            np.testing.assert_allclose(loglik_at(combined, values, integration), loglik_at(wb, reduced, integration),
                                       rtol=0, atol=1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_random_sd_by_between_class_set_equal_equals_invariant(k):
    """``between_specific=["random_sd"]`` with the same SDs in every D equals the D-invariant model (eq. 18)."""
    frame = small_frame(13)
    opts = dict(cluster="school", n_between_classes=2, random_intercept=True)
    by_d = bm.lca(frame, ITEMS, k, between_specific=["random_sd"], **opts)
    assert by_d.model["random_sd"].type.shape == (2, k - 1) or tuple(by_d.model["random_sd"].shape.eval()) == (2, k - 1)
    values = values_of(by_d, 3)
    sd = values["random_sd"][0]
    values["random_sd"] = np.stack([sd, sd])
    if k == 2:
        invariant = bm.lca(frame, ITEMS, k, **opts)
        same = {**values, "random_sd": sd}
    else:  # the D-invariant K = 3 model has an LKJ Cholesky; diagonal = uncorrelated effects
        invariant = bm.lca(frame, ITEMS, k, **opts)
        same = {key: v for key, v in values.items() if key != "random_sd"}
        same["random_chol"] = np.diag(sd)[np.tril_indices(k - 1)]
    np.testing.assert_allclose(loglik_at(by_d, values, GH40 if k == 2 else None),
                               loglik_at(invariant, same, GH40 if k == 2 else None), rtol=0, atol=1e-10)
    values["random_sd"] = np.stack([sd, 2.5 * sd])  # differing SDs do change the likelihood
    assert np.abs(loglik_at(by_d, values) - loglik_at(invariant, same)).max() > 1e-3


# ====================================================================== oracle
def oracle(frame: pd.DataFrame, m, values: dict, sd_by_d: bool):
    """Per cluster, by quad over z and enumeration over D and C (K = M = 2, binary items):

    p(y_j) = int sum_d pi_d(w_j) prod_i sum_c P(C=c | d, z) prod_items p(y | c) phi(z) dz,
    logit P(C=1 | d, z) = a + gamma_d + sd_(d) z (gamma_2 = 0), logit pi_1 = b0 + b1 w_j.
    Returns log p(y_j), P(D_j | y_j) (J, 2) and P(C_ij | y_j) (N, 2) in the model's row order.
    """
    y = frame[ITEMS].to_numpy(float)
    beta = np.asarray(values["binary_logit"])  # (K, I)
    ll = np.zeros((len(y), 2))
    for c in range(2):
        p = expit(beta[c])
        ll[:, c] = np.nansum(np.where(np.isnan(y), np.nan, y * np.log(p) + (1 - y) * np.log1p(-p)), axis=1)
    a = float(np.asarray(values["class_intercept"])[0])
    gamma = [float(np.asarray(values["class_between_effect"]).ravel()[0]), 0.0]
    sd = np.asarray(values["random_sd"], dtype=float).reshape(-1)
    sds = [sd[0], sd[1]] if sd_by_d else [sd[0], sd[0]]
    clusters = list(m.data.clusters)
    out, post_d, post_c = [], np.zeros((len(clusters), 2)), np.zeros((len(y), 2))
    for j, label in enumerate(clusters):
        rows = np.flatnonzero(frame["school"].to_numpy() == label)
        w = frame["w"].to_numpy()[rows[0]]
        eta = float(np.asarray(values["between_class_intercept"])[0])
        if "between_class_slope" in values:
            eta += w * float(np.asarray(values["between_class_slope"]).ravel()[0])
        pi = softmax([eta, 0.0])

        def unit_terms(z, d):  # (n_j, 2): P(C = c | d, z) p(y_i | c)
            pc = softmax([a + gamma[d] + sds[d] * z, 0.0])
            return pc[None, :] * np.exp(ll[rows])

        def joint(z, d, i=None, c=None):
            t = unit_terms(z, d)
            if i is None:
                return pi[d] * np.prod(t.sum(1)) * std_normal_pdf(z)
            others = np.prod(np.delete(t.sum(1), i))
            return pi[d] * others * t[i, c] * std_normal_pdf(z)

        quad = lambda f: integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]  # noqa: E731
        by_d = np.array([quad(lambda z: joint(z, d)) for d in range(2)])
        total = by_d.sum()
        out.append(np.log(total))
        post_d[j] = by_d / total
        for k, i in enumerate(rows):
            for c in range(2):
                post_c[i, c] = sum(quad(lambda z: joint(z, d, k, c)) for d in range(2)) / total
    return np.array(out), post_d, post_c


@pytest.mark.parametrize("sd_by_d, covariate", [(False, False), (True, True)])
def test_loglik_and_posteriors_match_quad_enumeration(sd_by_d, covariate):
    frame = small_frame(21)
    m = bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, random_intercept=True,
               cluster_covariates=["w"] if covariate else None,
               between_specific=["random_sd"] if sd_by_d else ())
    flat = flat_model(m, GH40)
    for seed in (1, 2):
        values = values_of(m, seed)
        expected, post_d, post_c = oracle(frame, m, values, sd_by_d)
        theta = flat.to_theta(values)
        np.testing.assert_allclose(flat.unit_loglik(theta), expected, rtol=0, atol=1e-7)
        got_d, got_c = flat.evaluate(f"t_oracle_{sd_by_d}", [m.between_posterior_tensor(GH40),
                                                               m.class_probability_tensor(GH40)], theta)
        np.testing.assert_allclose(got_d, post_d, rtol=0, atol=1e-7)
        np.testing.assert_allclose(got_c, post_c, rtol=0, atol=1e-7)


def test_adaptive_quadrature_matches_oracle():
    """Adaptive Gauss-Hermite (moved to each cluster's posterior of z) gives the same integral."""
    frame = small_frame(22)
    m = bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, random_intercept=True)
    setting = {"method": "gauss-hermite", "points": 20, "adaptive": True}
    flat = flat_model(m, setting)
    values = values_of(m, 4)
    values["random_sd"] = np.array([2.5])  # a wide random effect: the adapted grid has to move
    theta = flat.to_theta(values)
    grid = m.adaptive_grid(setting)
    nodes, logw = m.rule(setting)
    for _ in range(3):
        mean, sd = flat.evaluate("t_adaptive_moments", list(grid.moments(m.structure.conditional_loglik, nodes, logw)),
                                 theta)
        grid.update(mean, sd)
    expected, _, _ = oracle(frame, m, values, False)
    assert np.abs(grid.center.get_value()).max() > 0.05 and np.abs(grid.scale.get_value() - 1).max() > 0.05
    # 20 adapted nodes on a posterior of z that mixes two between classes: measured 8e-5 off
    np.testing.assert_allclose(flat.unit_loglik(theta), expected, rtol=0, atol=2e-4)


# ====================================================================== ML recovery
def simulate(seed: int, n_clusters=60, size=20):
    """numpy: D_j ~ (0.5, 0.5); alpha_j = 0.8 z_j; C_ij | d ~ logit(-1 + 3 [d = 1] + alpha_j); 5 binary items."""
    rng = np.random.default_rng(seed)
    beta = np.array([[2.0, 1.5, 2.0, 1.5, 2.0], [-2.0, -1.5, -2.0, -1.5, -2.0]])
    d = rng.integers(0, 2, n_clusters)
    alpha = 0.8 * rng.standard_normal(n_clusters)
    logit = -1.0 + 3.0 * (d == 0) + alpha
    index = np.repeat(np.arange(n_clusters), size)
    c = (rng.uniform(size=len(index)) > expit(logit[index])).astype(int)  # class1 with P = expit(logit)
    y = (rng.uniform(size=(len(index), 5)) < expit(beta[c])).astype(float)
    frame = pd.DataFrame(y, columns=[f"u{i}" for i in range(5)])
    frame["cluster"] = index
    return frame, {"beta": beta, "gamma": 3.0, "a": -1.0, "sd": 0.8}


def test_ml_recovers_simulated_parameters():
    frame, truth = simulate(5)
    items = [f"u{i}" for i in range(5)]
    m = bm.lca(frame, items, 2, cluster="cluster", n_between_classes=2, random_intercept=True)
    ml = m.fit_ml(starts=(6, 2), seed=3, progressbar=False)
    p = ml.point
    beta = np.asarray(p["binary_logit"])
    c_flip = beta[0, 0] < 0  # class1 of the truth is the class with high y
    if c_flip:
        beta = beta[::-1]
    np.testing.assert_allclose(beta, truth["beta"], atol=0.45)
    # within-class logits of class1 in each between class (at alpha = 0), labels matched
    a, g = float(p["class_intercept"][0]), float(np.ravel(p["class_between_effect"])[0])
    logits = np.array([a + g, a]) * (-1 if c_flip else 1)
    logits = np.sort(logits)[::-1]
    np.testing.assert_allclose(logits, [2.0, -1.0], atol=0.6)
    assert abs(float(np.ravel(p["random_sd"])[0]) - truth["sd"]) < 0.45
    # the ML optimum is at least as good as the truth
    values = {"binary_logit": truth["beta"][::-1] if c_flip else truth["beta"],
              "random_sd": np.array([truth["sd"]])}
    d_flip = (g > 0) != (not c_flip)  # whether the estimate's between_class1 is the truth's (gamma on d = 1)
    sign = -1 if c_flip else 1
    if not d_flip:
        values.update(class_intercept=np.array([sign * truth["a"]]), class_between_effect=np.array([[sign * 3.0]]))
    else:
        values.update(class_intercept=np.array([sign * 2.0]), class_between_effect=np.array([[-sign * 3.0]]))
    values["between_class_intercept"] = np.array([0.0])
    assert ml.loglik >= loglik_at(m, values).sum() - 1e-6


# ====================================================================== NUTS and results
@pytest.fixture(scope="module")
def tiny():
    sim = bm.datasets.simulate_lca_two_level(n_clusters=10, cluster_size=6, n_items=4, seed=3)
    m = bm.lca(sim.data, sim.items, 2, cluster="cluster", n_between_classes=2, random_intercept=True)
    return sim, m


@pytest.mark.filterwarnings("ignore::bayesmix.inference.diagnostics.ConvergenceWarning")
def test_nuts_samples_the_combined_model(tiny):
    sim, m = tiny
    idata = m.sample(draws=15, tune=15, chains=1, random_seed=1, sampler="pymc", starts=2, progressbar=False)
    ds = idata["log_likelihood"].dataset if hasattr(idata["log_likelihood"], "dataset") else idata["log_likelihood"]
    (name,) = list(ds.data_vars)
    ll = ds[name]
    assert "cluster" in ll.dims and ll.sizes["cluster"] == 10 and np.isfinite(ll.values).all()
    post = idata["posterior"]
    assert post["random_z"].shape[-2:] == (10, 1) and post["class_between_effect"].shape[-2:] == (1, 1)
    probs = m.between_class_probabilities(idata)
    assert probs.shape == (10, 2) and np.allclose(probs.sum(axis=1), 1)


@pytest.mark.filterwarnings("ignore:.*at the boundary:UserWarning")
def test_results_predict_ppc_and_save_load(tiny, tmp_path):
    sim, m = tiny
    ml = m.fit_ml(starts=(3, 1), seed=1, progressbar=False)
    d = m.between_class_probabilities(ml)
    c = m.class_probabilities(ml)
    assert d.shape == (10, 2) and c.shape == (60, 2)
    assert np.allclose(d.sum(axis=1), 1) and np.allclose(c.sum(axis=1), 1)
    joint = m.between_within_table(ml)
    assert joint.shape == (2, 2) and np.isclose(joint.to_numpy().sum(), 1)
    # margins: the between-class shares of units (P(D_j | y_j) weighted by cluster size) and the
    # within-class shares (the mean of P(C_ij | y_j))
    sizes = sim.data.groupby("cluster").size().reindex(m.data.clusters).to_numpy()
    np.testing.assert_allclose(joint.sum(axis=1).to_numpy(), (d.to_numpy() * sizes[:, None]).sum(0) / sizes.sum(),
                               atol=1e-10)
    np.testing.assert_allclose(joint.sum(axis=0).to_numpy(), c.to_numpy().mean(0), atol=1e-10)
    new = sim.data.iloc[:12]
    pred = m.predict_proba(new, ml)
    assert pred.shape[0] == 12 and np.allclose(pred.to_numpy().sum(1), 1)
    ppc = m.posterior_predictive(ml, draws=3, seed=1)
    assert ppc is not None
    path = tmp_path / "three.bm"
    m.save(path, ml)
    m2, ml2 = bm.load(path)
    np.testing.assert_allclose(loglik_at(m2, {k: np.asarray(v) for k, v in ml.point.items() if k != "random_z"}).sum(),
                               ml.loglik, rtol=0, atol=1e-6)
    assert m2.options["n_between_classes"] == 2 and m2.options["random_intercept"]


# ====================================================================== options
def test_between_specific_needs_both_statuses():
    frame = small_frame(31)
    with pytest.raises(ValueError, match="between_specific"):
        bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, between_specific=["random_sd"])
    with pytest.raises(ValueError, match="cannot vary across between classes"):
        bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, random_intercept=True,
               between_specific=["binary_logit_sd"])


def test_pattern_path_equals_per_unit_path():
    """At quadrature nodes shared by all clusters the marginal runs by response pattern (exact)."""
    sim = bm.datasets.simulate_lca_two_level(n_clusters=12, cluster_size=15, n_items=4, n_between_classes=3,
                                             random_sd=[[0.5], [1.0], [1.5]], seed=2)
    for kw in ({}, {"between_specific": ["random_sd"]}):
        m = bm.lca(sim.data, sim.items, 2, cluster="cluster", n_between_classes=3, random_intercept=True, **kw)
        assert m.structure.patterns is not None
        values = values_of(m, 5)
        per_unit = {"method": "trapezoid", "points": 30, "adaptive": True}  # grid at (0, 1): the same nodes
        np.testing.assert_allclose(loglik_at(m, values), loglik_at(m, values, per_unit), rtol=0, atol=1e-10)
