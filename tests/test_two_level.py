"""Two-level LCA (sections 2, 5, 6 and 10 of Asparouhov & Muthen 2006).

Oracles: the per-cluster log-likelihoods of the three two-level statuses
against independent numpy/scipy implementations that loop over clusters,
units and classes:

- within-between (``random_intercept=True``, Model 6, eq. 4-5): the cluster
  likelihood int prod_i sum_c P(C=c | alpha + L z) prod_items p(y | c) phi(z) dz
  by adaptive ``scipy.integrate.quad`` (1-D) and a fine product trapezoid
  grid cross-checked with adaptive ``scipy.integrate.cubature`` (2-D,
  correlated effects), for the Gauss-Hermite, trapezoid and Monte-Carlo
  integrators; the conditional that NUTS samples (``random_z``) at given z;
- between-level classes (``class_level="between"``, eq. 16-17): enumeration
  over D_j with cluster covariates on D;
- within and between classes (``n_between_classes``, eq. 24-26): enumeration
  over D_j and every C_ij of the cluster.

Then recovery by NUTS on simulated data, ML against NUTS and the ML
log-likelihood against the number of quadrature points, results at the
class's level, cluster-level LOO/compare, label alignment (chains started at
permuted labelings; relabeling must leave every draw's likelihood unchanged),
and bad input for the two-level options.

Each model compiles C code once (a few seconds warm): models are module
fixtures with small data and fixed seeds.
"""

from __future__ import annotations

import itertools

import arviz as az
import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy import integrate
from scipy.special import expit, logsumexp, softmax
from scipy.stats import norm
from marginal_oracle import std_normal_pdf

import bayesmix as bm
from bayesmix._compile import COMPILE_MODE
from bayesmix.inference.labels import align_labels
from bayesmix.inference.objective import flat_model
from bayesmix.inference.optimize import multistart
from bayesmix.results import draw_function

from conftest import interval_contains

GH40 = {"method": "gauss-hermite", "points": 40}
ITEMS4 = ["y1", "y2", "y3", "y4"]


# ===================================================================== tiny data and values
def tiny_frame(seed: int, sizes=(3, 4, 5, 3)) -> pd.DataFrame:
    """Binary items y1..y4 (two missing cells), shuffled rows of 4 clusters, a unit covariate
    x and a cluster covariate w (constant within cluster)."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    cluster = cluster[rng.permutation(len(cluster))]  # clusters interleaved in the rows
    n = len(cluster)
    while True:
        y = rng.integers(0, 2, size=(n, len(ITEMS4))).astype(float)
        if np.all((y.min(0) == 0) & (y.max(0) == 1)):
            break
    y[1, 0] = np.nan
    y[4, 2] = np.nan
    frame = pd.DataFrame(y, columns=ITEMS4)
    frame["school"] = [f"s{j}" for j in cluster]
    frame["x"] = rng.normal(size=n)
    frame["w"] = rng.normal(size=len(sizes))[cluster]
    return frame


def draw_values(m, seed: int) -> dict[str, np.ndarray]:
    """Random constrained values of the model's parameters (not random_z)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, v in m.random_start(rng).items():
        v = np.asarray(v, dtype=float)
        if name == "random_sd":
            out[name] = rng.uniform(0.6, 1.4, size=v.shape)
        elif name == "random_chol":  # packed lower triangle, row-major: L00, L10, L11
            d = int((np.sqrt(8 * v.size + 1) - 1) / 2)
            off = rng.choice([-1.0, 1.0], size=(d, d)) * rng.uniform(0.3, 0.7, size=(d, d))  # correlated
            chol = np.tril(off, -1) + np.diag(rng.uniform(0.6, 1.3, size=d))
            out[name] = chol[np.tril_indices(d)]
        else:
            out[name] = v + rng.normal(0.0, 0.7, size=v.shape)
    return out


def chol_of(values: dict, d: int) -> np.ndarray:
    if "random_chol" in values:
        chol = np.zeros((d, d))
        chol[np.tril_indices(d)] = values["random_chol"]
        return chol
    return np.diag(np.asarray(values["random_sd"], dtype=float))


# ==================================================================== numpy oracle pieces
def log_expit(x):
    return -np.logaddexp(0.0, -x)


def item_loglik(y: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """log p(y_i | C = c) for binary logit items, (n, K); missing cells contribute 0."""
    out = np.zeros((y.shape[0], beta.shape[0]))
    for i in range(y.shape[0]):
        for c in range(beta.shape[0]):
            for j in range(y.shape[1]):
                if not np.isnan(y[i, j]):
                    out[i, c] += log_expit(beta[c, j]) if y[i, j] == 1 else log_expit(-beta[c, j])
    return out


def log_softmax_ref(free: np.ndarray) -> np.ndarray:
    """Free logits (K-1,) -> log class probabilities with the last class as reference."""
    full = np.append(free, 0.0)
    return full - logsumexp(full)


class Frame:
    """The tiny frame as the oracle sees it: rows of each cluster, in the model's cluster order."""

    def __init__(self, frame: pd.DataFrame, m):
        self.y = frame[ITEMS4].to_numpy(float)
        self.x = frame["x"].to_numpy(float)
        self.clusters = list(m.data.clusters)
        ids = frame["school"].to_numpy()
        self.rows = [np.flatnonzero(ids == c) for c in self.clusters]
        self.w = np.array([frame["w"].to_numpy()[r[0]] for r in self.rows])


class WithinBetweenOracle:
    """Model 6: logit_i(z) = a + b x_i + Gamma' w_j + L z (K-1 free logits), z ~ N(0, I)."""

    def __init__(self, data: Frame, values: dict, n_classes: int, unit_covariate: bool, cluster_covariate: bool):
        self.data, self.K = data, n_classes
        self.d = n_classes - 1
        self.v = values
        self.ll = item_loglik(data.y, np.asarray(values["binary_logit"]))
        self.chol = chol_of(values, self.d)
        self.unit_covariate, self.cluster_covariate = unit_covariate, cluster_covariate

    def unit_log_prior(self, j: int, i: int, z: np.ndarray) -> np.ndarray:
        eta = np.array(self.v["class_intercept"], dtype=float)
        if self.unit_covariate:
            eta = eta + self.data.x[i] * np.asarray(self.v["class_slope"])[0]
        if self.cluster_covariate:
            eta = eta + self.data.w[j] * np.asarray(self.v["random_slope"])[0]
        return log_softmax_ref(eta + self.chol @ np.atleast_1d(z))

    def conditional(self, j: int, z) -> float:
        """log p(y_j | z): the conditional cluster log-likelihood that NUTS samples."""
        return float(sum(logsumexp(self.unit_log_prior(j, i, z) + self.ll[i]) for i in self.data.rows[j]))

    def posterior_given_z(self, j: int, z) -> np.ndarray:
        """P(C_ij = c | y_ij, z) for the units of cluster j, (n_j, K)."""
        return np.array([softmax(self.unit_log_prior(j, i, z) + self.ll[i]) for i in self.data.rows[j]])

    def integrated_1d(self, j: int) -> float:
        """log int exp(f_j(z)) phi(z) dz by adaptive quadrature (D = 1)."""
        shift = self.conditional_vectorized(j, np.linspace(-6, 6, 121)[:, None]).max()

        def integrand(z):
            return np.exp(self.conditional(j, z) - shift) * std_normal_pdf(z)

        value, err = integrate.quad(integrand, -np.inf, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)
        assert err < 1e-9 * abs(value) + 1e-300
        return float(np.log(value) + shift)

    def integrated_grid_2d(self, j: int, h: float = 0.04, span: float = 8.0) -> float:
        """log int exp(f_j(z)) phi_2(z) dz on a fine product trapezoid grid (D = 2), vectorized."""
        g = np.arange(-span, span + h / 2, h)
        z1, z2 = np.meshgrid(g, g, indexing="ij")
        z = np.stack([z1.ravel(), z2.ravel()], axis=-1)  # (Q, 2)
        f = self.conditional_vectorized(j, z)
        logw = norm.logpdf(z).sum(-1) + 2 * np.log(h)
        return float(logsumexp(f + logw))

    def conditional_vectorized(self, j: int, z: np.ndarray) -> np.ndarray:
        total = np.zeros(len(z))
        u = z @ self.chol.T  # (Q, D)
        for i in self.data.rows[j]:
            fixed = np.array(self.v["class_intercept"], dtype=float)
            if self.unit_covariate:
                fixed = fixed + self.data.x[i] * np.asarray(self.v["class_slope"])[0]
            if self.cluster_covariate:
                fixed = fixed + self.data.w[j] * np.asarray(self.v["random_slope"])[0]
            full = np.concatenate([fixed + u, np.zeros((len(z), 1))], axis=1)
            log_prior = full - logsumexp(full, axis=1, keepdims=True)
            total += logsumexp(log_prior + self.ll[i], axis=1)
        return total


def enumerate_between(data: Frame, values: dict, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """class_level='between': log p(y_j) = logsumexp_d [log pi_d(w_j) + sum_i log p(y_i | d)] and P(D_j | y_j)."""
    ll = item_loglik(data.y, np.asarray(values["binary_logit"]))
    out, post = [], []
    for j, rows in enumerate(data.rows):
        eta = np.asarray(values["class_intercept"]) + data.w[j] * np.asarray(values["class_slope"])[0]
        terms = np.array([log_softmax_ref(eta)[d] + sum(ll[i, d] for i in rows) for d in range(n_classes)])
        out.append(logsumexp(terms))
        post.append(np.exp(terms - logsumexp(terms)))
    return np.array(out), np.array(post)


def enumerate_within_and_between(data: Frame, values: dict, n_classes: int, n_between: int,
                                 unit_covariate: bool, cluster_covariate: bool):
    """Section 6 by brute force over D_j and every configuration (C_ij)_i of the cluster.

    log p(y_j) = log sum_d sum_{c_1..c_n} pi_d(w_j) prod_i P(C=c_i | d, x_i) p(y_i | c_i),
    P(C=c | d) from logits a_c + b_c x + gamma_cd (gamma_Kd = gamma_cM = 0),
    pi_d from between_class_intercept (+ slope * w_j). Returns the cluster
    log-likelihoods, P(D_j = d | y_j) (J, M) and P(C_ij = c | y_j) (N, K).
    """
    K, M = n_classes, n_between
    ll = item_loglik(data.y, np.asarray(values["binary_logit"]))
    gamma = np.zeros((K - 1, M))
    gamma[:, : M - 1] = np.asarray(values["class_between_effect"]).reshape(K - 1, M - 1)
    out, post_d, post_c = [], [], np.zeros((len(data.y), K))
    for j, rows in enumerate(data.rows):
        eta_d = np.asarray(values["between_class_intercept"], dtype=float)
        if cluster_covariate:
            eta_d = eta_d + data.w[j] * np.asarray(values["between_class_slope"])[0]
        log_pi = log_softmax_ref(eta_d)
        terms, labels = [], []
        for d in range(M):
            log_p_c = []
            for i in rows:
                eta = np.asarray(values["class_intercept"], dtype=float) + gamma[:, d]
                if unit_covariate:
                    eta = eta + data.x[i] * np.asarray(values["class_slope"])[0]
                log_p_c.append(log_softmax_ref(eta))
            for config in itertools.product(range(K), repeat=len(rows)):
                terms.append(log_pi[d] + sum(log_p_c[k][c] + ll[i, c] for k, (i, c) in enumerate(zip(rows, config))))
                labels.append((d, config))
        terms = np.array(terms)
        total = logsumexp(terms)
        out.append(total)
        weights = np.exp(terms - total)
        post_d.append([weights[[lab[0] == d for lab in labels]].sum() for d in range(M)])
        for k, i in enumerate(rows):
            for c in range(K):
                post_c[i, c] = weights[[lab[1][k] == c for lab in labels]].sum()
    return np.array(out), np.array(post_d), post_c


# =================================================================================== tiny models
@pytest.fixture(scope="module")
def wb2():
    """Within-between, K = 2 (one random intercept), no covariates."""
    frame = tiny_frame(1)
    m = bm.lca(frame, items=ITEMS4, n_classes=2, cluster="school", random_intercept=True)
    return m, frame


@pytest.fixture(scope="module")
def wb3():
    """Within-between, K = 3: two correlated random intercepts (LKJ Cholesky), a unit covariate
    on the class and a cluster covariate on the random intercepts (eq. 5)."""
    frame = tiny_frame(2)
    m = bm.lca(frame, items=ITEMS4, n_classes=3, cluster="school", random_intercept=True,
               covariates=["x"], cluster_covariates=["w"])
    return m, frame


@pytest.fixture(scope="module")
def btw3():
    """Between-level classes (eq. 16-17), K = 3, a cluster covariate on D."""
    frame = tiny_frame(3)
    m = bm.lca(frame, items=ITEMS4, n_classes=3, cluster="school", class_level="between",
               cluster_covariates=["w"])
    return m, frame


@pytest.fixture(scope="module")
def nb22():
    """Within and between classes (eq. 24-26), K = 2, M = 2, no covariates."""
    frame = tiny_frame(4)
    m = bm.lca(frame, items=ITEMS4, n_classes=2, cluster="school", n_between_classes=2)
    return m, frame


@pytest.fixture(scope="module")
def nb32():
    """Within and between classes, K = 3, M = 2 (gamma is 2 x 1: catches transposed gammas),
    a unit covariate on C and a cluster covariate on D."""
    frame = tiny_frame(5)
    m = bm.lca(frame, items=ITEMS4, n_classes=3, cluster="school", n_between_classes=2,
               covariates=["x"], cluster_covariates=["w"])
    return m, frame


def wb_oracle(fixture, values):
    m, frame = fixture
    return WithinBetweenOracle(Frame(frame, m), values, m.n_classes,
                               unit_covariate="class_slope" in values, cluster_covariate="random_slope" in values)


# ================================================================ 1. quadrature oracles
def test_within_between_gauss_hermite_matches_adaptive_quad(wb2):
    m, frame = wb2
    assert m.loglik_dim == "cluster" and m.latent.n_effects == 1
    flat = flat_model(m, GH40)
    assert {rv.name for rv in flat.rvs} == {"class_intercept", "binary_logit", "random_sd"}  # z integrated out
    for seed in (1, 2):
        values = draw_values(m, seed)
        oracle = wb_oracle(wb2, values)
        ll = flat.unit_loglik(flat.to_theta(values))
        assert ll.shape == (4,)
        expected = [oracle.integrated_1d(j) for j in range(4)]
        np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-6)


def test_within_between_correlated_effects_match_2d_integral(wb3):
    m, frame = wb3
    assert m.latent.n_effects == 2
    flat = flat_model(m, GH40)
    values = draw_values(m, 3)
    assert values["random_chol"].shape == (3,) and abs(values["random_chol"][1]) >= 0.3  # correlated
    oracle = wb_oracle(wb3, values)
    ll = flat.unit_loglik(flat.to_theta(values))
    expected = np.array([oracle.integrated_grid_2d(j) for j in range(4)])
    np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-5)

    # the grid against adaptive cubature (Genz-Malik), all clusters at once
    shifts = np.array([oracle.conditional(j, np.zeros(2)) for j in range(4)])

    def integrand(z):  # (npoints, 2) -> (npoints, 4)
        f = np.stack([oracle.conditional_vectorized(j, z) for j in range(4)], axis=-1)
        return np.exp(f - shifts) * norm.pdf(z).prod(-1)[:, None]

    res = integrate.cubature(integrand, [-8.0, -8.0], [8.0, 8.0], rtol=1e-9, atol=0)
    assert res.status == "converged"
    np.testing.assert_allclose(np.log(res.estimate) + shifts, expected, rtol=0, atol=1e-7)


def test_trapezoid_and_monte_carlo_converge_to_the_integral(wb2):
    m, _ = wb2
    values = draw_values(m, 1)
    oracle = wb_oracle(wb2, values)
    exact = np.array([oracle.integrated_1d(j) for j in range(4)])

    def loglik(integration):
        flat = flat_model(m, integration)
        return flat.unit_loglik(flat.to_theta(values))

    fine = loglik({"method": "trapezoid", "points": 201})
    np.testing.assert_allclose(fine, exact, rtol=0, atol=1e-6)
    coarse = loglik({"method": "trapezoid", "points": 5})
    assert np.abs(coarse - exact).max() > np.abs(fine - exact).max()
    mc = loglik({"method": "monte-carlo", "points": 4000, "seed": 1})
    np.testing.assert_allclose(mc, exact, rtol=0, atol=0.03)
    mc_other = loglik({"method": "monte-carlo", "points": 4000, "seed": 2})
    assert not np.allclose(mc, mc_other, rtol=0, atol=1e-12)  # really random nodes


def test_quadrature_class_probabilities_match_adaptive_quad(wb2):
    """P(C_ij = c | y_j) = int P(z | y_j) P(C_ij = c | y_ij, z) dz, units x classes."""
    m, frame = wb2
    values = draw_values(m, 2)
    oracle = wb_oracle(wb2, values)
    flat = flat_model(m, GH40)
    (probs,) = flat.evaluate("test_class_probs_gh40", [m.class_probability_tensor(GH40)], flat.to_theta(values))
    assert probs.shape == (m.n_units, 2)
    expected = np.zeros((m.n_units, 2))
    for j, rows in enumerate(oracle.data.rows):
        shift = oracle.conditional(j, 0.0)

        def integrand(z):  # [normalizer, numerators of P(C_ij = c | y_j)]
            weight = np.exp(oracle.conditional(j, z) - shift) * std_normal_pdf(z)
            return weight * np.concatenate([[1.0], oracle.posterior_given_z(j, z).ravel()])

        value, err = integrate.quad_vec(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-11)
        expected[rows] = (value[1:] / value[0]).reshape(len(rows), 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fixture", ["wb2", "wb3"])
def test_nuts_conditional_matches_numpy_at_given_z(fixture, request):
    """``m.cluster_loglik(z)`` and the model's ``loglik`` Potential (what NUTS samples) at given z."""
    data = request.getfixturevalue(fixture)
    m, _ = data
    d = m.latent.n_effects
    values = draw_values(m, 7)
    oracle = wb_oracle(data, values)
    z = np.random.default_rng(8).normal(size=(4, d))
    expected = np.array([oracle.conditional(j, z[j]) for j in range(4)])

    flat = flat_model(m, GH40)
    theta = flat.to_theta(values)
    (cond,) = flat.evaluate(f"test_conditional_{fixture}", [m.cluster_loglik(pt.as_tensor(z))], theta)
    np.testing.assert_allclose(cond, expected, rtol=1e-10, atol=0)

    (potential,) = [p for p in m.model.potentials if p.name == "loglik"]
    logp = m.model.compile_logp(vars=[potential], jacobian=False, mode=COMPILE_MODE)
    point = {**flat.split(theta), m.model.rvs_to_values[m.model["random_z"]].name: z}
    np.testing.assert_allclose(float(logp(point)), expected.sum(), rtol=1e-10)


# ==================================================================== 2. between-level oracles
def test_between_level_classes_match_enumeration(btw3):
    m, frame = btw3
    assert m.loglik_dim == "cluster"
    flat = flat_model(m)
    data = Frame(frame, m)
    for seed in (1, 2):
        values = draw_values(m, seed)
        assert values["class_slope"].shape == (1, 2)
        theta = flat.to_theta(values)
        expected, post = enumerate_between(data, values, 3)
        np.testing.assert_allclose(flat.unit_loglik(theta), expected, rtol=1e-10, atol=0)
        (probs,) = flat.evaluate("test_between_post", [m.class_probability_tensor()], theta)
        assert probs.shape == (4, 3)  # clusters x classes
        np.testing.assert_allclose(probs, post, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fixture", ["nb22", "nb32"])
def test_within_and_between_classes_match_enumeration(fixture, request):
    m, frame = request.getfixturevalue(fixture)
    K, M = m.n_classes, 2
    flat = flat_model(m)
    data = Frame(frame, m)
    for seed in (1, 2):
        values = draw_values(m, seed)
        assert values["class_between_effect"].shape == (K - 1, M - 1)
        theta = flat.to_theta(values)
        expected, post_d, post_c = enumerate_within_and_between(
            data, values, K, M, unit_covariate="class_slope" in values,
            cluster_covariate="between_class_slope" in values)
        np.testing.assert_allclose(flat.unit_loglik(theta), expected, rtol=1e-10, atol=0)
        between_post, class_post = flat.evaluate(f"test_nb_post_{fixture}",
                                                 [m.between_posterior, m.class_probability_tensor()], theta)
        np.testing.assert_allclose(between_post, post_d, rtol=0, atol=1e-12)
        np.testing.assert_allclose(class_post, post_c, rtol=0, atol=1e-12)


# =============================================================== relabeling keeps the likelihood
def synthetic_posterior(m, n_draws: int, seed: int) -> xr.Dataset:
    """A fake posterior (1 chain) of random parameter values, random_z and the deterministics."""
    rng = np.random.default_rng(seed)
    free = [rv.name for rv in m.model.free_RVs]
    dets = [v.name for v in m.model.deterministics]
    fn = draw_function(m, "test_deterministics", [m.model[n] for n in dets], free) if dets else None
    draws = {n: [] for n in free + dets}
    for s in range(n_draws):
        values = draw_values(m, 1000 * seed + s)
        if "random_z" in free:
            values["random_z"] = rng.normal(size=(len(m.data.clusters), m.latent.n_effects))
        for n in free:
            draws[n].append(np.asarray(values[n], dtype=float))
        if fn is not None:
            for n, v in zip(dets, fn(*[values[n] for n in free])):
                draws[n].append(np.asarray(v))
    out = {}
    for n, arrs in draws.items():
        arr = np.stack(arrs)[None]
        dims = m.model.named_vars_to_dims.get(n) or tuple(f"{n}_dim_{i}" for i in range(arr.ndim - 2))
        out[n] = (("chain", "draw", *dims), arr)
    return xr.Dataset(out, coords={"chain": [0], "draw": np.arange(n_draws)})


def _per_draw(m, key, graph, posterior) -> np.ndarray:
    free = [rv.name for rv in m.model.free_RVs]
    fn = draw_function(m, key, graph, free)
    arrays = [posterior[n].transpose("chain", "draw", ...).to_numpy()[0] for n in free]
    return np.array([np.asarray(fn(*[a[s] for a in arrays])) for s in range(posterior.sizes["draw"])])


@pytest.mark.parametrize("fixture", ["wb2", "wb3", "btw3", "nb22", "nb32"])
def test_relabeling_leaves_every_draw_likelihood_unchanged(fixture, request):
    """Label alignment is a reparametrization: the (conditional and integrated) cluster
    log-likelihood of every draw, and the deterministics' relation to the free variables,
    must survive it. Draws are random; the reference is draw 0 with its classes reversed
    (and, with a between class D, its D logits negated), so alignment has to move draws."""
    m, _ = request.getfixturevalue(fixture)
    posterior = synthetic_posterior(m, 6, seed=3)
    reference = {n: posterior[n].isel(chain=0, draw=0).to_numpy() for n in posterior.data_vars}
    reference["binary_logit"] = reference["binary_logit"][::-1]
    if "between_class_intercept" in reference:
        reference["between_class_intercept"] = -reference["between_class_intercept"]
        reference["class_between_effect"] = -reference["class_between_effect"]
    aligned, changed = align_labels(m, posterior, reference)
    assert changed > 0

    graphs = {"integrated": m.integrated_loglik(GH40)}
    if m.cluster_loglik is not None:  # what NUTS samples: the conditional at the (relabeled) random_z
        graphs["conditional"] = m.cluster_loglik(m.latent.z)
    for name, graph in graphs.items():
        before = _per_draw(m, f"test_relabel_{name}", graph, posterior)
        after = _per_draw(m, f"test_relabel_{name}", graph, aligned)
        # GH nodes are not rotation invariant in 2-D: the integral only to quadrature accuracy
        tol = 2e-5 if name == "integrated" and m.latent is not None and m.latent.n_effects > 1 else 1e-9
        np.testing.assert_allclose(after, before, rtol=0, atol=tol, err_msg=f"{fixture}: {name} log-likelihood")

    for det in m.model.deterministics:  # random_sd, random_corr, class_icc
        recomputed = _per_draw(m, f"test_relabel_{det.name}", det, aligned)
        got = aligned[det.name].transpose("chain", "draw", ...).to_numpy()[0]
        np.testing.assert_allclose(got, recomputed, rtol=0, atol=1e-9, err_msg=f"{fixture}: {det.name}")
    if "random_sd" in aligned:
        assert float(aligned["random_sd"].min()) > 0


# ================================================================= simulated data with truth
BETA = np.array([[1.5, -1.5, 1.5, -1.5, 1.5, -1.5], [-1.5, 1.5, -1.5, 1.5, -1.5, 1.5]]) \
    + np.array([[0.3], [-0.3]]) * np.linspace(-1, 1, 6)
ITEMS6 = [f"y{i + 1}" for i in range(6)]


def _frame(y, cluster):
    frame = pd.DataFrame(y, columns=ITEMS6)
    frame["school"] = [f"s{j:02d}" for j in cluster]
    return frame


def simulate_within_between(n_clusters=60, size=10, class_intercept=-0.3, random_sd=1.0, seed=0):
    """Model 6, K = 2: logit P(C_ij = 1) = a + sd z_j."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    u = random_sd * rng.standard_normal(n_clusters)
    classes = np.where(rng.uniform(size=len(cluster)) < expit(class_intercept + u[cluster]), 0, 1)
    y = (rng.uniform(size=(len(cluster), 6)) < expit(BETA[classes])).astype(float)
    truth = {"class_intercept": np.array([class_intercept]), "random_sd": np.array([random_sd]),
             "binary_logit": BETA.copy()}
    return _frame(y, cluster), truth, u


def simulate_between(n_clusters=60, size=10, class_intercept=0.4, seed=0):
    """Eq. 16-17: one class D_j per cluster, P(D_j = 1) = expit(a)."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    d = np.where(rng.uniform(size=n_clusters) < expit(class_intercept), 0, 1)
    y = (rng.uniform(size=(len(cluster), 6)) < expit(BETA[d[cluster]])).astype(float)
    return _frame(y, cluster), {"class_intercept": np.array([class_intercept]), "binary_logit": BETA.copy()}, d


def simulate_within_and_between(n_clusters=60, size=10, between_intercept=0.3, class_intercept=-1.5,
                                gamma=3.0, seed=0):
    """Eq. 24-26, K = M = 2: P(D_j = 1) = expit(b), P(C_ij = 1 | D_j = d) = expit(a + gamma [d = 1])."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    d = np.where(rng.uniform(size=n_clusters) < expit(between_intercept), 0, 1)
    logit = class_intercept + gamma * (d[cluster] == 0)
    classes = np.where(rng.uniform(size=len(cluster)) < expit(logit), 0, 1)
    y = (rng.uniform(size=(len(cluster), 6)) < expit(BETA[classes])).astype(float)
    truth = {"between_class_intercept": np.array([between_intercept]), "class_intercept": np.array([class_intercept]),
             "class_between_effect": np.array([[gamma]]), "binary_logit": BETA.copy()}
    return _frame(y, cluster), truth, d


# K = 2 relabelings of a parameter dict (both are involutions)
def swap_within(p):
    """Swap C: logits (and the logits' effects) change sign, profiles swap rows; SDs stay."""
    out = dict(p)
    for name in ("class_intercept", "class_between_effect"):
        if name in out:
            out[name] = -np.asarray(out[name])
    out["binary_logit"] = np.asarray(out["binary_logit"])[::-1]
    return out


def swap_between(p):
    """Swap D (M = 2): a' = a + gamma, gamma' = -gamma, b' = -b (eq. 24 with gamma_cM = 0)."""
    out = dict(p)
    gamma = np.asarray(p["class_between_effect"])
    out["between_class_intercept"] = -np.asarray(p["between_class_intercept"])
    out["class_intercept"] = np.asarray(p["class_intercept"]) + gamma[:, 0]
    out["class_between_effect"] = -gamma
    return out


def draws_of(idata, name):
    da = idata.posterior[name]
    return da.stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()


def matched_truth(idata, truth, swaps):
    """The relabeling of the truth closest to the posterior means (label switching)."""
    candidates = [truth]
    for swap in swaps:
        candidates = candidates + [swap(c) for c in candidates]
    means = {n: draws_of(idata, n).mean(0) for n in truth}
    return min(candidates, key=lambda c: sum(np.sum((means[n] - c[n]) ** 2) for n in truth))


def check_recovery(idata, truth, names):
    for name in names:
        # a 99.5% interval for the parameter as a whole (Bonferroni over its elements): one simulated
        # data set puts an element's posterior off its truth by sampling noise (seen: 1 of 12 logits)
        size = np.size(truth[name])
        inside = interval_contains(draws_of(idata, name), truth[name], prob=1 - 0.005 / size)
        assert inside.all(), f"{name}: truth {truth[name]} outside the 99.5% interval at {np.argwhere(~inside).tolist()}"
    rhat = az.rhat(idata, var_names=names)
    rhat = rhat.dataset if hasattr(rhat, "dataset") else rhat
    for name in names:
        assert float(rhat[name].max()) < 1.05, f"R-hat of {name} is {float(rhat[name].max()):.3f}"
    assert int(idata.sample_stats["diverging"].sum()) <= 3  # (0 with these seeds)


SAMPLE = dict(draws=300, tune=300, chains=2, sampler="pymc", progressbar=False)


@pytest.fixture(scope="module")
def wb_sim():
    return simulate_within_between(seed=0)


@pytest.fixture(scope="module")
def wb_fit(wb_sim):
    frame, truth, _ = wb_sim
    m = bm.lca(frame, items=ITEMS6, n_classes=2, cluster="school", random_intercept=True)
    return m, m.sample(random_seed=1, **SAMPLE)


@pytest.fixture(scope="module")
def btw_sim():
    return simulate_between(seed=1)


@pytest.fixture(scope="module")
def btw_model(btw_sim):
    frame, _, _ = btw_sim
    return bm.lca(frame, items=ITEMS6, n_classes=2, cluster="school", class_level="between")


@pytest.fixture(scope="module")
def btw_start_points(btw_model):
    """The ML solution (logits clipped to +-5) and the same solution with the classes reversed."""
    point = {k: np.clip(np.asarray(v, dtype=float), -5, 5) for k, v in btw_model.fit_ml(starts=(8, 2), seed=1).point.items()}
    swapped = swap_within(point)
    return point, swapped


@pytest.fixture(scope="module")
def btw_fit(btw_model, btw_start_points):
    """Chains started at permuted labelings (chain 2 at the reversed classes), aligned afterwards."""
    return btw_model, btw_model.sample(random_seed=2, init=list(btw_start_points), **SAMPLE)


@pytest.fixture(scope="module")
def nb_sim():
    return simulate_within_and_between(seed=2)


@pytest.fixture(scope="module")
def nb_fit(nb_sim):
    frame, _, _ = nb_sim
    m = bm.lca(frame, items=ITEMS6, n_classes=2, cluster="school", n_between_classes=2)
    return m, m.sample(random_seed=3, **SAMPLE)


# ============================================================================== 3. recovery
def test_within_between_recovery(wb_sim, wb_fit):
    _, truth, _ = wb_sim
    m, idata = wb_fit
    names = ["class_intercept", "random_sd", "binary_logit"]
    check_recovery(idata, matched_truth(idata, truth, [swap_within]), names)
    assert float(idata.posterior["random_sd"].min()) > 0


def test_between_level_recovery(btw_sim, btw_fit):
    _, truth, _ = btw_sim
    m, idata = btw_fit
    check_recovery(idata, matched_truth(idata, truth, [swap_within]), ["class_intercept", "binary_logit"])


def test_within_and_between_recovery(nb_sim, nb_fit):
    _, truth, _ = nb_sim
    m, idata = nb_fit
    names = ["between_class_intercept", "class_intercept", "class_between_effect", "binary_logit"]
    check_recovery(idata, matched_truth(idata, truth, [swap_within, swap_between]), names)


# ==================================================================================== 4. ML
ML_POINTS = (5, 10, 15, 30)


@pytest.fixture(scope="module")
def wb_ml(wb_fit):
    """ML of the within-between model with Gauss-Hermite at 30 points (full result, SEs)."""
    m, _ = wb_fit
    return m.fit_ml(starts=(6, 2), seed=1, integration={"method": "gauss-hermite", "points": 30})


def test_ml_loglik_converges_with_quadrature_points(wb_fit, wb_ml):
    """The maximized LL at 5, 10, 15 and 30 Gauss-Hermite points (multi-start optimizer of
    ``fit_ml`` with its ``integration`` setting; 30 points through ``fit_ml`` itself)."""
    m, _ = wb_fit
    ll = {30: wb_ml.loglik}
    for q in ML_POINTS[:-1]:
        ll[q] = multistart(m, "loglik", starts=(4, 1), seed=1, integration={"method": "gauss-hermite", "points": q}).value
    print("\nwithin-between ML log-likelihood by Gauss-Hermite points: "
          + ", ".join(f"Q={q}: {ll[q]:.6f}" for q in ML_POINTS))
    assert abs(ll[15] - ll[30]) < 1e-3
    assert abs(ll[5] - ll[30]) >= abs(ll[15] - ll[30])
    # the reported LL is the LL of the reported solution under that quadrature
    flat = flat_model(m, {"method": "gauss-hermite", "points": 30})
    np.testing.assert_allclose(flat.unit_loglik(wb_ml.theta).sum(), ll[30], rtol=0, atol=1e-8)
    assert wb_ml.converged


def test_ml_agrees_with_nuts_posterior(wb_fit, wb_ml):
    """ML estimates within 2 posterior SDs of the posterior means, under matched labels."""
    m, idata = wb_fit
    ml = wb_ml
    point = {k: np.asarray(v) for k, v in ml.point.items()}
    means = {n: draws_of(idata, n).mean(0) for n in point}
    point = min([point, swap_within(point)], key=lambda p: np.sum((p["binary_logit"] - means["binary_logit"]) ** 2))
    for name in ("class_intercept", "random_sd", "binary_logit"):
        sd = draws_of(idata, name).std(0)
        z = np.abs(point[name] - means[name]) / sd
        assert np.all(z < 2), f"{name}: ML {point[name]} vs posterior mean {means[name]} (sd {sd})"
    assert ml.params.loc["random_sd[class1]", "se"] > 0



# =============================================================== 5. results at the right level
@pytest.fixture(scope="module")
def btw_on_wb_fit(wb_sim):
    """Between-level classes fitted to the within-between data, for model comparison."""
    frame, _, _ = wb_sim
    m = bm.lca(frame, items=ITEMS6, n_classes=2, cluster="school", class_level="between")
    return m, m.sample(random_seed=4, draws=200, tune=200, chains=2, sampler="pymc", progressbar=False)


def _check_cluster_log_likelihood(m, idata, n_clusters=60):
    da = idata.log_likelihood["y"]
    assert da.dims == ("chain", "draw", "cluster")
    assert list(da["cluster"].values) == list(m.data.clusters) and da.sizes["cluster"] == n_clusters
    assert np.all(np.isfinite(da.values))
    # the stored values are the integrated per-cluster log-likelihood of the draw
    flat = flat_model(m)
    values = {rv.name: idata.posterior[rv.name].isel(chain=1, draw=7).values for rv in flat.rvs}
    np.testing.assert_allclose(da.isel(chain=1, draw=7).values, flat.unit_loglik(flat.to_theta(values)), rtol=1e-10)
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd) and loo.n_data_points == n_clusters


def _check_rows(table, index, columns):
    assert list(table.index) == list(index)
    assert list(table.columns) == list(columns)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-10)
    assert ((table.to_numpy() >= 0) & (table.to_numpy() <= 1)).all()


def test_results_within_between(wb_sim, wb_fit):
    _, _, u = wb_sim
    m, idata = wb_fit
    probs = m.class_probabilities(idata)
    _check_rows(probs, m.data.units, ["class1", "class2"])  # units x classes
    props = m.cluster_class_proportions(idata)
    _check_rows(props, m.data.clusters, ["class1", "class2"])  # clusters x classes
    # cluster proportions follow the true random intercepts (class1 is truth's class 1 or 2)
    assert abs(np.corrcoef(props["class1"], u)[0, 1]) > 0.7
    # ... and so does the mean posterior membership of the cluster's units
    means = probs.groupby(m.data.cluster_index).mean()["class1"]
    assert abs(np.corrcoef(means, u)[0, 1]) > 0.7
    with pytest.raises(ValueError, match="no between class"):
        m.between_class_probabilities(idata)
    _check_cluster_log_likelihood(m, idata)


def test_results_between_level(btw_sim, btw_fit):
    _, _, d = btw_sim
    m, idata = btw_fit
    probs = m.class_probabilities(idata)
    _check_rows(probs, m.data.clusters, ["class1", "class2"])  # clusters, not units
    truth_match = probs.to_numpy().argmax(1) == d
    assert max(truth_match.mean(), 1 - truth_match.mean()) > 0.9
    props = m.cluster_class_proportions(idata)
    _check_rows(props, m.data.clusters, ["class1", "class2"])
    np.testing.assert_allclose(props, probs, rtol=1e-10)  # every unit of the cluster is in the cluster's class
    _check_cluster_log_likelihood(m, idata)


def test_results_within_and_between(nb_sim, nb_fit):
    _, _, d = nb_sim
    m, idata = nb_fit
    between = m.between_class_probabilities(idata)
    _check_rows(between, m.data.clusters, ["between_class1", "between_class2"])
    truth_match = between.to_numpy().argmax(1) == d
    assert max(truth_match.mean(), 1 - truth_match.mean()) > 0.8
    _check_rows(m.class_probabilities(idata), m.data.units, ["class1", "class2"])
    _check_rows(m.cluster_class_proportions(idata), m.data.clusters, ["class1", "class2"])
    _check_cluster_log_likelihood(m, idata)


def test_compare_within_between_against_between_level(wb_fit, btw_on_wb_fit):
    (m_wb, idata_wb), (m_b, idata_b) = wb_fit, btw_on_wb_fit
    assert list(m_wb.data.clusters) == list(m_b.data.clusters)
    table = bm.compare({"within-between": idata_wb, "between": idata_b})
    assert set(table.index) == {"within-between", "between"}
    # the data have within-cluster class variation: the between-level model must lose clearly
    assert table.index[0] == "within-between"
    waic = bm.compare({"within-between": idata_wb, "between": idata_b}, ic="waic")
    assert waic.index[0] == "within-between"
    # a per-unit log-likelihood (600 units) cannot be compared with the per-cluster one (60)
    per_unit = xr.DataTree.from_dict({"log_likelihood": xr.Dataset(
        {"y": (("chain", "draw", "unit"), np.zeros((2, 300, m_wb.n_units)))})})
    with pytest.raises(ValueError, match="different levels"):
        bm.compare({"within-between": idata_wb, "single level": per_unit})


# ========================================================== 6. label alignment, between level
def test_between_level_chains_started_at_permuted_labels_agree(btw_fit, btw_start_points):
    m, idata = btw_fit
    point, swapped = btw_start_points
    assert np.allclose(swapped["class_intercept"], -point["class_intercept"])
    # chain 2 started at the reversed classes and stays there: all its draws are relabeled
    assert idata.attrs["bayesmix_relabeled_draws"] >= 0.9 * idata.posterior.sizes["draw"]
    for name in ("class_intercept", "binary_logit"):
        per_chain = idata.posterior[name].mean("draw").values  # (chain, ...)
        sd = draws_of(idata, name).std(0)
        assert np.all(np.abs(per_chain[0] - per_chain[1]) < sd), f"{name}: chains disagree after alignment"
        # aligned to the first start point's labels
        assert np.all(np.abs(per_chain[0] - point[name]) < 3 * sd + 0.2)
    rhat = az.rhat(idata, var_names=["class_intercept", "binary_logit"])
    rhat = rhat.dataset if hasattr(rhat, "dataset") else rhat
    assert max(float(rhat[n].max()) for n in rhat.data_vars) < 1.05


# ==================================================================== 7. bad input (no graphs)
@pytest.fixture
def frame():
    return tiny_frame(9)


BAD_OPTIONS = {
    "random intercept without cluster": (
        dict(n_classes=2, random_intercept=True), r"needs? cluster='<cluster id column>'"),
    "between level without cluster": (
        dict(n_classes=2, class_level="between"), r"needs? cluster="),
    "between level with unit covariates": (
        dict(n_classes=2, cluster="school", class_level="between", covariates=["x"]),
        r"cluster-level covariates.*cluster_covariates, not covariates"),
    "unknown class level": (
        dict(n_classes=2, cluster="school", class_level="cluster"), r"class_level='cluster' is unknown"),
    "one between class": (
        dict(n_classes=2, cluster="school", n_between_classes=1), r"n_between_classes must be an integer >= 2"),
    "random intercept with one class": (
        dict(n_classes=1, cluster="school", random_intercept=True), r"random_intercept=True needs n_classes >= 2"),
    "between level with random intercept": (
        dict(n_classes=2, cluster="school", class_level="between", random_intercept=True),
        r"already puts the class on the cluster level"),
    "more between-level classes than clusters": (
        dict(n_classes=5, cluster="school", class_level="between"), r"4 clusters cannot identify 5"),
    "more between classes than clusters": (
        dict(n_classes=2, cluster="school", n_between_classes=5), r"4 clusters cannot identify 5"),
    "unknown integration method": (
        dict(n_classes=2, cluster="school", random_intercept=True, integration={"method": "simpson"}),
        r"integration method 'simpson' is unknown"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_two_level_options(case, frame, no_model_building):
    kwargs, message = BAD_OPTIONS[case]
    with pytest.raises(ValueError, match=message):
        bm.lca(frame, items=ITEMS4, **kwargs)


def test_random_intercept_with_clusters_of_one_row(frame, no_model_building):
    frame = frame.assign(school=[f"p{i}" for i in range(len(frame))])
    with pytest.raises(ValueError, match=r"every cluster of 'school' has one row.*drop random_intercept"):
        bm.lca(frame, items=ITEMS4, n_classes=2, cluster="school", random_intercept=True)


def test_missing_cluster_id(frame, no_model_building):
    frame.loc[3, "school"] = None
    with pytest.raises(ValueError, match=r"cluster column 'school' has 1 missing id"):
        bm.lca(frame, items=ITEMS4, n_classes=2, cluster="school", random_intercept=True)


def test_quadrature_rule_rejects_bad_settings():
    from bayesmix.inference.quadrature import rule
    with pytest.raises(ValueError, match="unknown"):
        rule("simpson", 10)
    with pytest.raises(ValueError, match="points must be >= 1"):
        rule("gauss-hermite", 0)
    nodes, logw = rule("gauss-hermite", 7, dim=2)
    assert nodes.shape == (49, 2)
    np.testing.assert_allclose(logsumexp(logw), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.exp(logw) @ nodes**2, [1.0, 1.0], rtol=1e-12)  # E[z^2] = 1
