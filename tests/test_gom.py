"""Grade of membership (section 7, eq. 27-35; Erosheva's Dirichlet GoM).

Oracles: the item-level structure against brute-force enumeration of every
C_ij; the integrated GoM log-likelihood at fixed parameters against an
independent numpy quadrature (logistic-normal) and a direct numpy Monte
Carlo (Dirichlet). Nesting by ML on one data set (LL(GoM) >= LL(LCA), one
parameter more, restricted = unrestricted for K = 2). Recovery on data with
real partial membership (ML and a small NUTS run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest
from marginal_oracle import check_marginal, enumerate_posterior, std_normal_pdf
from scipy.special import log_softmax

from bayesmix._compile import function
from bayesmix.structure import ItemClasses

ATOL = 1e-9


def _evaluate(graphs):
    return function([], graphs)()


# ------------------------------------------------------------ ItemClasses vs brute force (eq. 27-30, 44)

@pytest.mark.parametrize("layout", ["shared", "per_item"])
def test_item_classes_match_enumeration(layout):
    """log p(y_j | z) and P(C_ij = k | y_j, z) equal sums over all K^I class configurations per person."""
    g = np.random.default_rng(3)
    nodes, n, n_items, k = 2, 3, 3, 3
    shape = (nodes, n, n_items, k) if layout == "per_item" else (nodes, n, k)
    log_membership = log_softmax(g.normal(scale=1.5, size=shape), axis=-1)
    ll = g.normal(size=(n, n_items, k)) - 1.0
    observed = np.ones((n, n_items))
    observed[1, 2] = 0
    ll[1, 2] = np.nan  # a missing cell contributes exactly 0 whatever it holds
    structure = ItemClasses(lambda z: pt.as_tensor(log_membership), lambda z: pt.as_tensor(ll), n,
                            observed=observed, per_item=layout == "per_item")
    value, post, member, props = _evaluate([structure.conditional_loglik(None),
                                            structure.extra_posteriors(None)["item_class"][0],
                                            structure.class_posterior(None), structure.proportions(None)])
    assert value.shape == (nodes, n) and post.shape == (nodes, n, n_items, k)
    for b in range(nodes):
        for j in range(n):
            lm = log_membership[b, j] if layout == "per_item" else np.broadcast_to(log_membership[b, j], (n_items, k))
            seen = observed[j] > 0

            def joint(c, lm=lm, seen=seen, j=j):
                items = np.arange(n_items)
                return (lm[items, c] + np.where(seen, ll[j, items, c], 0.0)).sum()

            check_marginal(value[b, j], joint, {"c": ((n_items,), k)}, posteriors={"c": post[b, j]}, atol=ATOL)
            np.testing.assert_allclose(member[b, j], np.exp(lm).mean(0), atol=ATOL)
    np.testing.assert_allclose(props, member.mean(1), atol=ATOL)


def test_item_classes_sum_persons_into_clusters():
    g = np.random.default_rng(4)
    log_membership = log_softmax(g.normal(size=(1, 2)), axis=-1)
    ll = g.normal(size=(4, 3, 2))
    index = np.array([0, 0, 1, 1])
    per_person = ItemClasses(lambda z: pt.as_tensor(log_membership), lambda z: pt.as_tensor(ll), 4)
    clustered = ItemClasses(lambda z: pt.as_tensor(log_membership), lambda z: pt.as_tensor(ll), 4,
                            cluster_index=index, n_clusters=2)
    assert not per_person.per_item  # inferred from the graph at z=None: (1, K)
    a, b = _evaluate([per_person.conditional_loglik(), clustered.conditional_loglik()])
    np.testing.assert_allclose(b, [a[:2].sum(), a[2:].sum()], atol=ATOL)
    assert clustered.level == "cluster"
    exact = enumerate_posterior(lambda c: (log_membership[0][c] + ll[0, np.arange(3), c]).sum(), {"c": ((3,), 2)})
    post = _evaluate([per_person.item_class_posterior()])[0]
    np.testing.assert_allclose(post[0], exact["c"], atol=ATOL)


# ------------------------------------------------------------ the factory
from scipy import integrate as sci_integrate  # noqa: E402
from scipy.special import expit, logsumexp  # noqa: E402
from scipy.stats import norm  # noqa: E402

import bayesmix as bm  # noqa: E402
from bayesmix.datasets.simulate_gom import simulate_gom  # noqa: E402
from bayesmix.families.gom import integration_error, membership_scores  # noqa: E402

PROFILES = np.array([[0.9, 0.85, 0.8, 0.9, 0.75, 0.2, 0.85, 0.9, 0.15, 0.8],
                     [0.1, 0.2, 0.15, 0.25, 0.1, 0.8, 0.1, 0.2, 0.85, 0.15]])


def _point_function(mm, graph):
    """graph as a function of the non-integrated free RVs (constrained values), by name."""
    rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    fn = function(rvs, graph)
    return lambda point: fn(*[point[rv.name] for rv in rvs])


def test_factory_conditional_loglik_is_brute_force_at_fixed_z():
    """log p(y_j | u_j) of bm.gom (missing cell included) = sum over all K^I item-class configurations."""
    data = pd.DataFrame({"a": [1.0, 0.0, 1.0], "b": [0.0, 1.0, 1.0], "c": [1.0, np.nan, 0.0]})
    mm = bm.gom(data, ["a", "b", "c"], 3, link="logit")
    point = mm.random_start(np.random.default_rng(0))
    z = np.array([[0.3, -1.2], [1.0, 0.4], [-0.7, 0.2]])
    rvs = [rv for rv in mm.model.free_RVs]
    fn = function(rvs, [mm.structure.conditional_loglik(pt.as_tensor(z)), mm.latent.unit_values(pt.as_tensor(z))])
    value, u = fn(*[z if rv.name == mm.latent.z_name else point[rv.name] for rv in rvs])
    beta = point["binary_logit"]  # (K, I), P(y = 1 | k) = expit(beta)
    logits = np.concatenate([point["class_intercept"][None, :] + u, np.zeros((3, 1))], axis=1)
    lm = log_softmax(logits, axis=1)
    y = data.to_numpy()
    for j in range(3):
        def joint(c, j=j):
            total = 0.0
            for i in range(3):
                total += lm[j, c[i]]
                if not np.isnan(y[j, i]):
                    p = expit(beta[c[i], i])
                    total += np.log(p if y[j, i] == 1 else 1 - p)
            return total
        check_marginal(value[j], joint, {"c": ((3,), 3)}, atol=1e-9)


@pytest.fixture(scope="module")
def small_gom():
    sim = simulate_gom(40, 5, 2, seed=5, membership_cov=[[2.0**2]])
    return sim, bm.gom(sim.data, sim.items, 2)


def test_integrated_loglik_equals_numpy_quadrature(small_gom):
    """Logistic-normal K = 2 (eq. 30): int prod_i [sigma(a + s x) P_i1 + (1 - sigma) P_i2] phi(x) dx by scipy quad."""
    sim, mm = small_gom
    point = {"binary_logit": np.array([[0.8, -0.5, 1.2, 0.3, -1.0], [-0.9, 0.6, -1.1, 0.2, 1.3]]),
             "class_intercept": np.array([0.4]), "membership_sd": np.array([1.7])}
    ll = _point_function(mm, mm.integrated_loglik({"method": "trapezoid", "points": 60}))(point)
    y = sim.data.to_numpy()
    p1 = norm.cdf(point["binary_logit"])  # probit (the default link)
    expected = []
    for j in range(len(y)):
        lik = lambda c: np.where(y[j] == 1, p1[c], 1 - p1[c])  # noqa: E731
        f = lambda x: np.prod(expit(0.4 + 1.7 * x) * lik(0) + expit(-0.4 - 1.7 * x) * lik(1)) * std_normal_pdf(x)  # noqa: E731
        expected.append(np.log(sci_integrate.quad(f, -10, 10, epsabs=1e-13)[0]))
    np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-6)


def _beta_quad(h, alpha: float, beta: float) -> float:
    """int_0^1 h(v) Beta(v | alpha, beta) dv by QUADPACK's QAWS (the singular weight v^(alpha-1) (1-v)^(beta-1))."""
    from scipy.special import betaln
    value = sci_integrate.quad(h, 0.0, 1.0, weight="alg", wvar=(alpha - 1.0, beta - 1.0), epsabs=0.0,
                               epsrel=1e-12, limit=200)[0]
    return value / np.exp(betaln(alpha, beta))


def _dirichlet_brute_force(y: np.ndarray, p1: np.ndarray, a: np.ndarray) -> np.ndarray:
    """log int prod_{i observed} (g' p1[:, i])^y (1 - g' p1[:, i])^(1-y) Dir(g | a) dg per person, K = 2 or 3,
    by adaptive numerical integration over the stick-breaking coordinates (quad in quad)."""
    def lik(j, g):
        pi = g @ p1
        return np.prod(np.where(np.isnan(y[j]), 1.0, np.where(y[j] == 1, pi, 1.0 - pi)))

    out = []
    for j in range(len(y)):
        if len(a) == 2:
            out.append(_beta_quad(lambda v: lik(j, np.array([v, 1.0 - v])), a[0], a[1]))
        else:
            inner = lambda v1: _beta_quad(  # noqa: E731
                lambda v2: lik(j, np.array([v1, v2 * (1 - v1), (1 - v1) * (1 - v2)])), a[1], a[2])
            out.append(_beta_quad(inner, a[0], a[1] + a[2]))
    return np.log(out)


def _dirichlet_moments(y: np.ndarray, p1: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The same log-likelihoods as an exact polynomial: prod_{i observed} sum_k g_k q_ik expanded into monomials
    g^m (non-negative coefficients, item by item) and E[g^m] = prod_k (a_k)^(m_k rising) / (A)^(|m| rising)."""
    from scipy.special import gammaln
    out = []
    for j in range(len(y)):
        coef = {(0,) * len(a): 1.0}
        for i in np.flatnonzero(~np.isnan(y[j])):
            q = p1[:, i] if y[j, i] == 1 else 1.0 - p1[:, i]
            new: dict = {}
            for m, c in coef.items():
                for k in range(len(a)):
                    key = m[:k] + (m[k] + 1,) + m[k + 1:]
                    new[key] = new.get(key, 0.0) + c * q[k]
            coef = new
        log_moment = lambda m: (gammaln(a + m) - gammaln(a)).sum() + gammaln(a.sum()) - gammaln(a.sum() + sum(m))  # noqa: E731
        out.append(np.log(sum(c * np.exp(log_moment(np.array(m))) for m, c in coef.items())))
    return np.array(out)


@pytest.mark.parametrize("a", [[0.6, 0.9], [0.04, 0.02], [60.0, 80.0], [0.3, 0.05, 2.0], [0.03, 0.05, 0.02],
                               [50.0, 70.0, 90.0]])
def test_dirichlet_gauss_jacobi_loglik_is_brute_force(a):
    """The default Dirichlet rule (Gauss-Jacobi in the stick-breaking coordinates) is exact: the per-person LL equals
    adaptive numerical integration (quad; the Dirichlet-moment expansion of the polynomial p(y_j | g) where nested
    quad is slow, K = 3 at a >= 50) to 1e-8 (relative), with missing responses, at a <= 0.05 and a >= 50 (issue 26)."""
    a = np.array(a)
    k = len(a)
    sim = simulate_gom(8, 4, k, membership="dirichlet", concentration=[0.5] * k, seed=7)
    data = sim.data.copy()
    data.iloc[0, 1] = np.nan
    data.iloc[3, [0, 2]] = np.nan
    mm = bm.gom(data, sim.items, k, membership="dirichlet")
    assert mm.integration["method"] == "gauss-jacobi" and mm.integration["points"] == 3  # ceil((4 + 2) / 2)
    point = {"binary_logit": norm.ppf(np.clip(sim.truth["profiles"], 0.01, 0.99)), "membership_concentration": a}
    ll = _point_function(mm, mm.integrated_loglik())(point)
    y, p1 = data.to_numpy(float), norm.cdf(point["binary_logit"])
    moments = _dirichlet_moments(y, p1, a)
    expected = moments if k == 3 and a.min() > 1 else _dirichlet_brute_force(y, p1, a)
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, expected, rtol=1e-8, atol=0)
    np.testing.assert_allclose(moments, expected, rtol=1e-8, atol=0)


def test_dirichlet_gauss_jacobi_limits_are_lca_and_independence():
    """a = s m: as s -> 0 every g_j sits at a vertex (the LCA with class proportions m), as s -> oo g_j = m for all
    (one averaged profile); the exact rule reaches both limits finitely (issue 26: ML on small SBC data sets stops
    at the LCA limit, where importance sampling ran off to a = 1e13)."""
    sim = simulate_gom(8, 4, 3, membership="dirichlet", concentration=[0.5] * 3, seed=7)
    data = sim.data.copy()
    data.iloc[0, 1] = np.nan
    mm = bm.gom(data, sim.items, 3, membership="dirichlet")
    m = np.array([0.5, 0.3, 0.2])
    beta = norm.ppf(np.clip(sim.truth["profiles"], 0.01, 0.99))
    ll = _point_function(mm, mm.integrated_loglik())
    y, p1 = data.to_numpy(float), norm.cdf(beta)
    q = np.where(np.isnan(y)[:, None, :], 1.0, np.where(y[:, None, :] == 1, p1[None], 1 - p1[None]))  # (N, K, I)
    lca = np.log((m[None] * q.prod(-1)).sum(-1))
    independence = np.log((m[:, None] * q).sum(1)).sum(-1)
    np.testing.assert_allclose(ll({"binary_logit": beta, "membership_concentration": 1e-10 * m}), lca, rtol=1e-8)
    np.testing.assert_allclose(ll({"binary_logit": beta, "membership_concentration": 1e8 * m}), independence, rtol=1e-6)


@pytest.mark.parametrize("a", [[0.7, 0.4, 1.3], [0.03, 0.05, 0.02], [50.0, 70.0, 90.0]])
def test_dirichlet_gauss_jacobi_gradient_is_finite_differences(a):
    """d LL / d (profiles, concentration) of the Gauss-Jacobi rule (nodes and weights graphs of a through eigh)
    equals central finite differences to 1e-6 (relative), finite at a <= 0.05 and a >= 50."""
    import pytensor.tensor as pt
    sim = simulate_gom(20, 5, 3, membership="dirichlet", concentration=[0.5] * 3, seed=3)
    data = sim.data.copy()
    data.iloc[2, 4] = np.nan
    mm = bm.gom(data, sim.items, 3, membership="dirichlet")
    rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    total = mm.integrated_loglik().sum()
    fn = function(rvs, [total, *pt.grad(total, rvs)])
    point = [norm.ppf(np.clip(sim.truth["profiles"], 0.01, 0.99)), np.array(a)]
    assert [rv.name for rv in rvs] == ["binary_logit", "membership_concentration"]
    _, *grads = fn(*point)
    for which, grad in enumerate(grads):
        assert np.all(np.isfinite(grad))
        fd = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            h = 1e-5 * max(1.0, abs(point[which][index]))
            values = []
            for sign in (1, -1):
                moved = [p.copy() for p in point]
                moved[which][index] += sign * h
                values.append(fn(*moved)[0])
            fd[index] = (values[0] - values[1]) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


def test_dirichlet_loglik_equals_numpy_monte_carlo():
    """Dirichlet GoM: the importance-sampled LL = a direct numpy Monte Carlo over g ~ Dir(a) within the stated
    error, and the exact Gauss-Jacobi LL lies within both Monte Carlo errors."""
    sim = simulate_gom(30, 6, 2, membership="dirichlet", concentration=[0.6, 0.9], seed=7)
    mm = bm.gom(sim.data, sim.items, 2, membership="dirichlet",
                integration={"method": "monte-carlo", "points": 4000, "seed": 3})
    point = {"binary_logit": norm.ppf(np.clip(sim.truth["profiles"], 0.01, 0.99)),
             "membership_concentration": np.array([0.6, 0.9])}

    report = integration_error(mm, point)  # a point dict is a fit (bayesmix.evaluate.as_fit)
    ll = _point_function(mm, mm.integrated_loglik())(point).sum()
    np.testing.assert_allclose(report["loglik"], ll, atol=1e-9)
    g = np.random.default_rng(11).dirichlet([0.6, 0.9], size=200_000)  # (S, K)
    y = sim.data.to_numpy()
    p1 = norm.cdf(point["binary_logit"])  # (K, I)
    p_item = g @ p1  # (S, I): P(y_ij = 1 | g)
    logp = (np.log(np.where(y[None, :, :] == 1, p_item[:, None, :], 1 - p_item[:, None, :]))).sum(-1)  # (S, N)
    direct = logsumexp(logp, axis=0) - np.log(len(g))
    ratio = np.exp(logp - logsumexp(logp, axis=0) + np.log(len(g))).sum(axis=1)  # common draws: correlated
    direct_se = ratio.std() / np.sqrt(len(g))
    assert report["mc_se"] < 0.5
    assert abs(direct.sum() - ll) < 4 * np.hypot(report["mc_se"], direct_se)
    exact = bm.gom(sim.data, sim.items, 2, membership="dirichlet")
    exact_ll = _point_function(exact, exact.integrated_loglik())(point).sum()
    assert abs(exact_ll - ll) < 4 * report["mc_se"] and abs(exact_ll - direct.sum()) < 4 * direct_se
    assert integration_error(exact, point)["quadrature_error"] < 1e-9  # doubling the points changes nothing


@pytest.fixture(scope="module")
def nested_fits():
    """One data set with real partial membership: ML fits of LCA, GoM (logistic-normal, restricted), K = 2."""
    sim = simulate_gom(500, 10, 2, profiles=PROFILES, membership_cov=[[3.0**2]], class_intercept=[0.5], seed=11)
    lca = bm.lca(sim.data, sim.items, 2, link="probit").fit_ml(starts=3, seed=1)
    mm = bm.gom(sim.data, sim.items, 2)
    fit = mm.fit_ml(starts=3, seed=1)
    restricted = bm.gom(sim.data, sim.items, 2, membership="restricted").fit_ml(starts=3, seed=1)
    return sim, mm, fit, lca, restricted


def test_gom_nests_lca_with_one_parameter_more(nested_fits):
    """Section 7: LCA is the GoM with infinite membership variance; the 2-class GoM has one parameter more."""
    _, _, fit, lca, _ = nested_fits
    assert fit.n_params == lca.n_params + 1
    assert fit.loglik >= lca.loglik - 1e-3
    assert fit.n_obs == lca.n_obs == 500  # BIC counts persons


def test_restricted_equals_unrestricted_for_two_classes(nested_fits):
    """Eq. 35 with K = 2: one loading = one SD, the same likelihood."""
    _, _, fit, _, restricted = nested_fits
    assert restricted.n_params == fit.n_params
    np.testing.assert_allclose(restricted.loglik, fit.loglik, atol=2e-3)


def _aligned(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Class order of ``estimate`` (K, ...) closest to the truth (2 classes: keep or swap)."""
    swap = np.abs(estimate[::-1] - truth).sum() < np.abs(estimate - truth).sum()
    return swap


def test_ml_recovers_profiles_and_membership(nested_fits):
    sim, mm, fit, _, _ = nested_fits
    beta = fit.params["estimate"].filter(like="binary_logit").to_numpy().reshape(2, -1)
    swap = _aligned(beta, sim.truth["binary_logit"])
    if swap:
        beta = beta[::-1]
    np.testing.assert_allclose(norm.cdf(beta), PROFILES, atol=0.12)
    sd = fit.params.loc["membership_sd[class1]", "estimate"]
    assert 1.8 < sd < 5.0  # true 3
    scores = membership_scores(mm, fit)
    first = scores[("class2" if swap else "class1", "mean")].to_numpy()
    assert np.corrcoef(first, sim.membership[:, 0])[0, 1] > 0.8
    lower = scores[("class2" if swap else "class1", "lower")].to_numpy()
    upper = scores[("class2" if swap else "class1", "upper")].to_numpy()
    assert np.all(lower <= first + 1e-12) and np.all(first <= upper + 1e-12)
    coverage = np.mean((lower <= sim.membership[:, 0]) & (sim.membership[:, 0] <= upper))
    assert coverage > 0.75  # 90% intervals
    np.testing.assert_allclose(fit.posterior_probabilities.to_numpy(), scores.xs("mean", axis=1, level=1), atol=1e-6)


def test_nuts_recovers_membership():
    """A small NUTS run: posterior membership scores correlate with the true partial membership."""
    sim = simulate_gom(150, 10, 2, profiles=PROFILES, membership_cov=[[3.0**2]], seed=12)
    mm = bm.gom(sim.data, sim.items, 2)
    idata = mm.sample(draws=200, tune=200, chains=2, sampler="pymc", random_seed=3, progressbar=False, starts=2)
    scores = mm.class_probabilities(idata)
    assert "log_likelihood" in idata and idata["log_likelihood"].dataset.sizes.get("unit", 150) == 150
    r = np.corrcoef(scores["class1"].to_numpy(), sim.membership[:, 0])[0, 1]
    assert abs(r) > 0.8
    profiles = mm.profiles(idata)
    est = profiles.xs("mean", axis=1, level=1).to_numpy().T  # (K, I)
    if r < 0:
        est = est[::-1]
    np.testing.assert_allclose(est, PROFILES, atol=0.2)  # 150 persons; GoM profiles lean extreme (figure 4)


def test_dirichlet_ml_recovers_membership():
    """Dirichlet GoM by exact ML (Gauss-Jacobi): the concentration within 3 SE of the truth, no run-off, the LL at
    the estimate above the LL at the truth, membership scores and the profiles' pattern recovered.

    Issue 26: with importance sampling (infinite-variance weights below a = 0.1) ML put the concentration near
    0.09 whatever the truth and ran off to a = 1e13 on small SBC data sets.
    """
    sim = simulate_gom(300, 10, 2, membership="dirichlet", profiles=PROFILES, concentration=[0.5, 0.2], seed=2)
    mm = bm.gom(sim.data, sim.items, 2, membership="dirichlet")
    fit = mm.fit_ml(starts=2, seed=2, progressbar=False)
    a = fit.params.filter(like="membership_concentration", axis=0)
    est, se = a["estimate"].to_numpy(), a["se"].to_numpy()
    beta = fit.params["estimate"].filter(like="binary_logit").to_numpy().reshape(2, -1)
    swap = _aligned(beta, sim.truth["binary_logit"])
    if swap:
        est, se, beta = est[::-1], se[::-1], beta[::-1]
    assert fit.converged and np.all(np.isfinite(se))
    assert np.all(np.abs(est - [0.5, 0.2]) < 3 * se), (est, se)
    assert np.all(np.sign(beta[0] - beta[1]) == np.sign(PROFILES[0] - PROFILES[1]))
    truth = {"binary_logit": sim.truth["binary_logit"], "membership_concentration": np.array([0.5, 0.2])}
    assert fit.loglik > _point_function(mm, mm.integrated_loglik())(truth).sum()
    scores = membership_scores(mm, fit)
    assert np.corrcoef(scores[("class2" if swap else "class1", "mean")], sim.membership[:, 0])[0, 1] > 0.8
    report = integration_error(mm, fit)
    assert report["quadrature_error"] < 1e-8 and abs(report["loglik"] - fit.loglik) < 1e-6


def test_bad_options_are_refused(no_model_building):
    data = simulate_gom(20, 4, 2, seed=1).data
    with pytest.raises(ValueError, match="membership="):
        bm.gom(data, list(data), 2, membership="beta")
    with pytest.raises(ValueError, match="n_classes >= 2"):
        bm.gom(data, list(data), 1)
    with pytest.raises(ValueError, match="importance sampling"):
        bm.gom(data, list(data), 2, membership="dirichlet", integration={"method": "trapezoid"})
    with pytest.raises(ValueError, match="per stick-breaking coordinate"):
        bm.gom(data, list(data), 3, membership="dirichlet", integration={"points": 4000})
    with pytest.raises(ValueError, match="'gauss-jacobi' integrates a Dirichlet membership"):
        bm.gom(data, list(data), 2, integration={"method": "gauss-jacobi"})
    data["x"] = np.arange(20.0)
    with pytest.raises(ValueError, match="covariates on the membership"):
        bm.gom(data, list(data)[:4], 2, membership="dirichlet", covariates=["x"])


def test_dirichlet_nuts_samples_membership_directly():
    """NUTS samples g_j ~ Dirichlet(a) per person (through membership_w); the per-person log_likelihood integrates
    it exactly (Gauss-Jacobi)."""
    sim = simulate_gom(50, 8, 2, membership="dirichlet", profiles=PROFILES[:, :8], concentration=[0.5, 0.8], seed=4)
    mm = bm.gom(sim.data, sim.items, 2, membership="dirichlet")
    idata = mm.sample(draws=80, tune=80, chains=2, sampler="pymc", random_seed=2, progressbar=False, starts=1)
    g = idata["posterior"]["membership_g"]
    assert g.dims[-2:] == ("unit", "class")
    np.testing.assert_allclose(g.sum("class"), 1.0, atol=1e-9)
    assert [v.shape[-1] for v in idata["log_likelihood"].dataset.data_vars.values()] == [50]  # one value per person
    r = np.corrcoef(g.mean(("chain", "draw")).to_numpy()[:, 0], sim.membership[:, 0])[0, 1]
    assert abs(r) > 0.6



def test_dirichlet_integrated_nuts_uses_the_exact_rule():
    """sample(latent="integrated") on a Dirichlet GoM: NUTS over (profiles, a) with the memberships integrated by
    the Gauss-Jacobi rule; the per-person log_likelihood of a draw equals the exact integral at that draw."""
    sim = simulate_gom(40, 6, 2, membership="dirichlet", profiles=PROFILES[:, :6], concentration=[0.5, 0.8], seed=4)
    mm = bm.gom(sim.data, sim.items, 2, membership="dirichlet")
    idata = mm.sample(draws=20, tune=30, chains=1, sampler="pymc", random_seed=3, progressbar=False, starts=1,
                      latent="integrated", convergence_checks=False)
    post = idata["posterior"]
    assert "membership_w" not in post and "membership_g" not in post
    draw = {name: post[name].isel(chain=0, draw=7).to_numpy() for name in ("binary_logit", "membership_concentration")}
    stored = np.concatenate([v.isel(chain=0, draw=7).to_numpy().ravel()
                             for v in idata["log_likelihood"].dataset.data_vars.values()])
    y, p1 = sim.data.to_numpy(float), norm.cdf(draw["binary_logit"])
    np.testing.assert_allclose(stored, _dirichlet_moments(y, p1, draw["membership_concentration"]), rtol=1e-8)


def _dirichlet_gom(n_classes=3, n=6):
    data = pd.DataFrame(np.random.default_rng(2).integers(0, 2, size=(n, 4)), columns=list("ABCD"))
    return bm.gom(data, list("ABCD"), n_classes, membership="dirichlet")


def test_dirichlet_standardized_memberships_have_the_dirichlet_density():
    """NUTS's free membership_w (standardized log-ratios): its log density is log Dir(g | a) + sum log g_k +
    sum log s_k exactly (no constant), and membership_g = softmax(psi(a_k) - psi(a_K) + s_k w, 0) (issue 26)."""
    from scipy.special import digamma, polygamma, softmax
    from scipy.stats import dirichlet
    mm = _dirichlet_gom()
    model = mm.model
    w_rv, a_rv = model["membership_w"], model["membership_concentration"]
    assert mm.integrated == ("membership_w",) and model.named_vars_to_dims["membership_w"] == ("unit", "membership_ratio")
    logp = model.compile_logp(vars=[w_rv], jacobian=False)
    g_of = model.compile_fn(model.replace_rvs_by_values([model["membership_g"]])[0], inputs=[model.rvs_to_values[w_rv], model.rvs_to_values[a_rv]],
                            on_unused_input="ignore")
    rng = np.random.default_rng(8)
    for a in ([0.1, 0.4, 2.0], [3.0, 0.7, 1.2]):
        a = np.array(a)
        w = rng.normal(scale=1.5, size=(6, 2))
        point = {**model.initial_point(), "membership_w": w, "membership_concentration_log__": np.log(a)}
        s = np.sqrt(polygamma(1, a[:-1]) + polygamma(1, a[-1]))
        g = softmax(np.column_stack([digamma(a[:-1]) - digamma(a[-1]) + s * w, np.zeros(6)]), axis=1)
        np.testing.assert_allclose(g_of({k: point[k] for k in ('membership_w', 'membership_concentration_log__')}), g,
                                   rtol=1e-10)
        expected = sum(dirichlet.logpdf(row, a) for row in g) + np.log(g).sum() + 6 * np.log(s).sum()
        np.testing.assert_allclose(logp(point), expected, rtol=1e-10)


def test_dirichlet_standardized_prior_draws_are_dirichlet_and_unit_scale():
    """Forward draws of membership_g are Dirichlet(a) (PIT of g_1 under Beta(a_1, a_2 + a_3) uniform), and w's
    prior scale does not depend on a (the funnel taken out): SD 1 at a = 0.1 and at a = 5, where the raw
    log-ratio SDs are 14 and 0.6."""
    import pymc as pm
    from scipy.stats import beta, kstest
    from bayesmix.latent.dirichlet import standardized_draws
    mm = _dirichlet_gom()
    a, g = pm.draw([mm.model["membership_concentration"], mm.model["membership_g"]], draws=1500, random_seed=4)
    np.testing.assert_allclose(g.sum(-1), 1.0, atol=1e-12)
    u = beta.cdf(g[:, :, 0], a[:, :1], a[:, 1:].sum(1, keepdims=True))
    assert kstest(u.ravel(), "uniform").pvalue > 0.01
    rng = np.random.default_rng(1)
    for conc in (0.1, 5.0):
        w = standardized_draws(np.full(3, conc), np.zeros(2), rng=rng, size=(20_000,))
        np.testing.assert_allclose(w.mean(0), 0.0, atol=0.05)
        np.testing.assert_allclose(w.std(0), 1.0, atol=0.05)


def test_relabeling_a_dirichlet_membership_reads_w_back():
    """A class permutation of a Dirichlet-GoM draw permutes a and g; w (no class axis) is read back so that
    (a', w') gives g' -- a point of the model, not the old w next to the new a."""
    from bayesmix.inference.labels import permute_variables
    from bayesmix.latent.dirichlet import memberships_from
    mm = _dirichlet_gom()
    rng = np.random.default_rng(3)
    a, w = rng.uniform(0.2, 3.0, size=(1, 2, 3)), rng.normal(size=(1, 2, 6, 2))
    g = _evaluate(memberships_from(pt.as_tensor(w), pt.as_tensor(a[..., None, :])))
    perms = np.array([[[2, 0, 1], [1, 0, 2]]])  # (chain, draw, K): new class k takes old class perm[k]
    cd = ("chain", "draw")
    out = permute_variables({"membership_concentration": (cd + ("class",), a),
                             "membership_w": (cd + ("unit", "membership_ratio"), w),
                             "membership_g": (cd + ("unit", "class"), g)}, perms, "class", mm)
    for d, perm in enumerate(perms[0]):
        np.testing.assert_allclose(out["membership_concentration"][1][0, d], a[0, d, perm])
        np.testing.assert_allclose(out["membership_g"][1][0, d], g[0, d][:, perm])
    regenerated = _evaluate(memberships_from(pt.as_tensor(out["membership_w"][1]),
                                             pt.as_tensor(out["membership_concentration"][1][..., None, :])))
    np.testing.assert_allclose(regenerated, out["membership_g"][1], rtol=1e-9)

@pytest.mark.parametrize("n_classes, perm", [(2, [1, 0]), (3, [2, 0, 1]), (3, [1, 0, 2])])
def test_relabeling_a_restricted_membership_keeps_the_same_model_point(n_classes, perm):
    """Relabeling a restricted-GoM draw (one factor on the class logits, eq. 34-35) gives the same likelihood.

    The permutation moves the logit offset lambda z to A lambda z; the first loading stays positive (the factor's
    sign is a convention, z ~ N(0, 1)): where (A lambda)_1 < 0 the draw takes (-A lambda, -z). Before this,
    a relabeled draw kept ``membership_loading_first`` and z but negated ``membership_loading`` -- not a point of
    the model, and chains in the two labelings looked stuck (SBC's gom_restricted R-hat; issue 26.2).
    """
    from bayesmix import sbc
    from bayesmix.inference.labels import apply_permutations
    from bayesmix.results import draw_function

    rng = np.random.default_rng(4)
    items = ["a", "b", "c", "d"]
    data = pd.DataFrame(rng.integers(0, 2, size=(12, 4)), columns=items)
    mm = bm.gom(data, items, n_classes, membership="restricted")
    theta = sbc.prior_draws(mm, 1, seed=1)[0]
    names = [rv.name for rv in mm.model.free_RVs]
    ds = sbc._dataset(mm, theta, list(theta))
    aligned = apply_permutations(ds, np.array([[perm]]), mm=mm)
    value = {n: aligned[n].to_numpy()[0, 0] for n in aligned.data_vars}
    first, loading = value["membership_loading_first"], value["membership_loading"]
    assert first > 0 and first == pytest.approx(loading[0])
    if n_classes == 3:
        np.testing.assert_allclose(value["membership_loading_rest"], loading[1:])
    np.testing.assert_allclose(value["binary_logit"], np.asarray(theta["binary_logit"])[perm])
    loglik = draw_function(mm, "relabel-test", [mm.model.potentials[0]], names)
    before = loglik(*[theta[n] for n in names])[0]
    after = loglik(*[value[n] for n in names])[0]
    assert float(after) == pytest.approx(float(before), rel=1e-10)


def test_dirichlet_concentration_at_the_lca_limit_has_no_standard_error():
    """A Dirichlet GoM fitted to LCA data stops at the LCA limit a -> 0 (log a past -15, Mplus' boundary
    convention for a logit): the concentration is reported at the boundary with SE not available, not as
    a ~1e-9 SE of a ~1e-12 estimate (issue 26 item 0)."""
    sim = bm.datasets.simulate_lca(n_units=80, n_items=5, n_classes=2, seed=2)
    fit = bm.gom(sim.data, sim.items, 2, membership="dirichlet").fit_ml(starts=(8, 2), seed=1, progressbar=False)
    conc = fit.params.filter(like="membership_concentration", axis=0)
    assert np.all(conc["estimate"] < 1e-6)
    assert conc["at_bound"].all() and conc["se"].isna().all() and fit.n_boundary >= 2
