"""Factor mixture analysis, FMA-GoM and the 3PL (sections 8-9, eq. 36-50).

Oracles: the marginal log-likelihood at fixed parameters against scipy
quadrature (1-D for FMA, 2-D for FMA-GoM); the 2PL on LSAT7 against mirt's
published ML (-2658.805, Bock & Lieberman data) and an independent numpy /
scipy ML; the two 3PL parameterizations against each other (eq. 48-50);
nesting LCA <= FMA <= FMA-GoM; recovery of FMA with invariant loadings and
of the 3PL with known guessing (N = 3,000); the no-finite-ML trap.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from marginal_oracle import std_normal_cdf, std_normal_pdf
from scipy import integrate, optimize
from scipy.special import expit, log_expit
from scipy.stats import norm

import bayesmix as bm
from bayesmix.datasets.simulate_irt import simulate_3pl, simulate_fma, simulate_fma_gom
from bayesmix.families.irt.conversions import fmagom_to_irt, irt_to_fmagom
from bayesmix.marginal.logit_normal import SD_SWITCH, log_moments, loglik
from bayesmix.results import draw_function

#: mirt 1.45 ``mirt(expand.table(LSAT7), 1)``: "Log-likelihood = -2658.805", 10 parameters (61 quadrature points)
MIRT_LSAT7_2PL = -2658.805


def loglik_at(m, values: dict, integration: dict) -> np.ndarray:
    """Per-person integrated log-likelihood of model ``m`` at given free-RV values."""
    names = [rv.name for rv in m.model.free_RVs if rv.name not in m.integrated]
    fn = draw_function(m, f"oracle:{integration}", [m.integrated_loglik(integration)], names)
    return np.asarray(fn(*[np.asarray(values[n], float) for n in names])[0])


def tiny(seed: int, n: int = 6, items: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=(n, items)) < 0.5).astype(float)
    y[1, 2] = np.nan  # a missing response contributes nothing
    return pd.DataFrame(y, columns=[f"y{i}" for i in range(items)])


def response_loglik(y, p):
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return np.where(np.isnan(y), 0.0, np.where(y == 1, np.log(p), np.log1p(-p)))


# ----------------------------------------------------------------------------- oracles
@pytest.mark.parametrize("loadings", ["invariant", "class-specific", "class-specific variance"])
def test_fma_loglik_matches_scipy_quadrature(loadings):
    df = tiny(1)
    variance = "class-specific" if loadings == "class-specific variance" else "invariant"
    m = bm.fma(df, list(df.columns), 2, loadings=loadings.split()[0] if variance == "invariant" else "invariant",
               factor_variance=variance, link="probit")
    tau = np.array([[0.5, -0.3, 1.0], [-1.0, 0.4, -0.2]])
    if variance == "class-specific":  # eta | class 2 ~ N(0, 1.7^2): lambda_i sd_k z (class 1 the unit)
        lam = np.array([[0.8, 1.3, -0.6], [0.8 * 1.7, 1.3 * 1.7, -0.6 * 1.7]])
        values = {"factor_loading_positive": np.array(0.8), "factor_loading_free": np.array([1.3, -0.6]),
                  "factor_sd_free": np.array([1.7])}
    elif loadings == "invariant":
        lam = np.array([[0.8, 1.3, -0.6]])
        values = {"factor_loading_positive": np.array(0.8), "factor_loading_free": np.array([1.3, -0.6])}
    else:
        lam = np.array([[0.8, 1.3, -0.6], [1.5, 0.2, 0.9]])
        values = {"factor_loading_positive": np.array([0.8, 1.5]),
                  "factor_loading_free": np.array([[1.3, -0.6], [0.2, 0.9]])}
    values.update({"binary_logit": tau, "class_intercept": np.array([0.4])})
    got = loglik_at(m, values, {"method": "gauss-hermite", "points": 80 if variance == "class-specific" else 40})
    prior = np.exp([0.4, 0.0]) / np.exp([0.4, 0.0]).sum()
    y = df.to_numpy()
    for j in range(len(y)):
        def integrand(eta):
            lik = sum(prior[c] * np.exp(response_loglik(y[j], std_normal_cdf(tau[c] + lam[min(c, len(lam) - 1)] * eta)).sum())
                      for c in range(2))
            return lik * std_normal_pdf(eta)
        want = np.log(integrate.quad(integrand, -10, 10, epsabs=1e-13)[0])
        assert got[j] == pytest.approx(want, abs=1e-8)


def test_fma_gom_loglik_matches_2d_scipy_quadrature():
    df = tiny(2, n=4)
    exact = bm.fma_gom(df, list(df.columns), 2, link="logit")
    grid = bm.fma_gom(df, list(df.columns), 2, link="logit", membership_integration="quadrature")
    assert exact.exact_membership() and not grid.exact_membership()
    assert not exact.exact_membership({"method": "gauss-hermite", "adaptive": True})  # adaptive: the joint grid
    tau = np.array([[1.0, 0.5, -0.5], [-1.5, -0.2, 0.3]])
    lam = np.array([0.9, 1.4, 0.5])
    sd, alpha = 1.3, 0.3
    values = {"binary_logit": tau, "class_intercept": np.array([alpha]),
              "factor_loading_positive": np.array(lam[0]), "factor_loading_free": lam[1:],
              "factor_membership_sd": np.array([sd])}
    rule = {"method": "gauss-hermite", "points": 40}
    got = {"exact": loglik_at(exact, values, rule), "grid": loglik_at(grid, values, rule)}
    y = df.to_numpy()
    for j in range(len(y)):
        def integrand(z, eta):  # eq. 38-39: prod_i sum_c P(C_ij = c | alpha_j) P(y_ij | c, eta)
            m1 = expit(alpha + sd * z)
            p = [expit(tau[c] + lam * eta) for c in range(2)]
            lik = [np.exp(response_loglik(y[j], p[c])) for c in range(2)]
            per_item = np.where(np.isnan(y[j]), 1.0, m1 * lik[0] + (1 - m1) * lik[1])
            return np.prod(per_item) * std_normal_pdf(z) * std_normal_pdf(eta)
        want = np.log(integrate.dblquad(integrand, -9, 9, -9, 9, epsabs=1e-12)[0])
        assert got["exact"][j] == pytest.approx(want, abs=1e-6)
        assert got["grid"][j] == pytest.approx(want, abs=1e-6)


def test_fma_gom_class_specific_factor_variance_matches_a_2d_product_rule():
    """Section 8's 57-parameter FMA-GoM: the factor scaled by sd_k in the response's class (sd_1 = 1)."""
    df = tiny(5, n=3)
    exact = bm.fma_gom(df, list(df.columns), 2, link="logit", factor_variance="class-specific")
    grid = bm.fma_gom(df, list(df.columns), 2, link="logit", factor_variance="class-specific",
                      membership_integration="quadrature")
    tau = np.array([[0.8, 0.1, -0.7], [-1.2, 0.4, 0.6]])
    lam, sd_k = np.array([1.1, 0.7, 1.6]), np.array([1.0, 0.45])
    sd, alpha = 1.7, -0.4
    values = {"binary_logit": tau, "class_intercept": np.array([alpha]),
              "factor_loading_positive": np.array(lam[0]), "factor_loading_free": lam[1:],
              "factor_membership_sd": np.array([sd]), "factor_sd_free": sd_k[1:]}  # sd_1 = 1 fixed
    rule = {"method": "gauss-hermite", "points": 40}
    got = {"exact": loglik_at(exact, values, rule), "grid": loglik_at(grid, values, rule)}
    y = df.to_numpy()
    nodes, weights = np.polynomial.hermite_e.hermegauss(150)  # an independent 150 x 150 product rule (numpy)
    weights = weights / weights.sum()
    z, eta = np.meshgrid(nodes, nodes, indexing="ij")
    m1 = expit(alpha + sd * z)[..., None]  # eq. 38-39 with lambda_i sd_k eta_j in class k
    p = [expit(tau[c] + lam * sd_k[c] * eta[..., None]) for c in range(2)]
    for j in range(len(y)):
        lik = [np.where(y[j] == 1, p[c], 1 - p[c]) for c in range(2)]
        per_item = np.where(np.isnan(y[j]), 1.0, m1 * lik[0] + (1 - m1) * lik[1])
        want = np.log(np.einsum("ab,a,b->", per_item.prod(axis=-1), weights, weights))
        assert got["exact"][j] == pytest.approx(want, abs=1e-6)
        assert got["grid"][j] == pytest.approx(want, abs=1e-6)


def test_fma_gom_class_specific_variance_counts_and_nests_the_matching_fma():
    """Table 6's ordering: FMA-GoM (57) nests FMA with class-specific variance (56) at sd -> infinity."""
    sim = simulate_fma(300, 5, 2, class_intercept=[0.5], factor_sd=[1.0, 0.6], link="probit", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fma = bm.fma(sim.data, sim.items, 2, factor_variance="class-specific").fit_ml(starts=3, seed=1,
                                                                                      progressbar=False)
    gom_model = bm.fma_gom(sim.data, sim.items, 2, factor_variance="class-specific")
    assert gom_model.options["factor_variance"] == "class-specific"
    names = [rv.name for rv in gom_model.model.free_RVs if rv.name not in gom_model.integrated]
    fn = draw_function(gom_model, "nesting", [gom_model.integrated_loglik().sum()], names)
    share = norm.ppf(expit(float(np.ravel(fma.point["class_intercept"])[0])))
    values = [float(fn(*[np.asarray({**fma.point, "factor_membership_sd": np.array([sd]),
                                      "class_intercept": np.array([sd * share])}[n], float) for n in names])[0])
              for sd in (10.0, 100.0, 1e6)]
    assert values[0] < values[1] < values[2] and values[2] == pytest.approx(fma.loglik, abs=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "FMA limit": the starts near and at the limit
        gom = gom_model.fit_ml(starts=(0, 1), seed=1, start=fma, progressbar=False)
    assert gom.n_params == fma.n_params + 1  # the SD of alpha_1j; factor_sd[class2] in both
    assert "factor_sd[class2]" in gom.params.index
    assert gom.loglik >= fma.loglik - 1e-3


@pytest.mark.parametrize("alpha, sd", [(0.3, 0.2), (-1.0, 2.0), (-1.0, SD_SWITCH), (-1.0, 5.1), (2.0, 20.0),
                                       (50.0, 300.0), (-30.0, 6.0), (0.5, 1e6)])
def test_logit_normal_moments_match_scipy(alpha, sd):
    n = 6
    got = np.exp(log_moments(alpha, sd, n).eval())
    z0 = -alpha / sd  # the membership's transition, width ~1/sd: quad gets breakpoints there
    marks = sorted({-12.0, 12.0, *[z0 + k / sd for k in range(-40, 41, 4) if -12 < z0 + k / sd < 12]})
    for a in range(n + 1):
        def f(z):
            return expit(alpha + sd * z) ** a * expit(-alpha - sd * z) ** (n - a) * std_normal_pdf(z)
        want = sum(integrate.quad(f, lo, hi, epsabs=1e-300, epsrel=1e-12, limit=200)[0]
                   for lo, hi in zip(marks[:-1], marks[1:]))
        assert got[a] == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_logit_normal_is_continuous_at_the_switch_and_reaches_the_step():
    below, above = (log_moments(-1.0, SD_SWITCH * (1 + s), 18).eval() for s in (-1e-12, 1e-12))
    assert np.max(np.abs(below - above)) < 1e-8  # the z and x branches agree (measured 4e-10)
    step = np.exp(log_moments(2.0, 1e9, 4).eval())  # sd -> infinity: mass Phi(-/+ alpha / sd) at m = 0 / 1
    assert step[[0, 4]] == pytest.approx([0.5, 0.5], abs=1e-8) and np.all(step[1:4] < 1e-8)
    # p(y | eta) by brute force over item subsets equals the Bernstein recursion
    rng = np.random.default_rng(0)
    l1, l2 = np.log(rng.uniform(0.05, 1, (3, 5))), np.log(rng.uniform(0.05, 1, (3, 5)))
    l1[1, 2] = l2[1, 2] = 0.0  # a missing response
    moments = log_moments(0.4, 1.7, 5)
    got = loglik(l1, l2, moments).eval()
    m = expit(0.4 + 1.7 * np.polynomial.hermite_e.hermegauss(80)[0])
    w = np.polynomial.hermite_e.hermegauss(80)[1] / np.sqrt(2 * np.pi)
    want = np.log([(np.prod(m[:, None] * np.exp(l1[j]) + (1 - m[:, None]) * np.exp(l2[j]), axis=1) * w).sum()
                   for j in range(3)])
    assert got == pytest.approx(want, abs=1e-10)


def test_3pl_parameterizations_have_the_same_likelihood_at_converted_values():
    df = tiny(3, n=8, items=4)
    items = list(df.columns)
    g, a, b = np.array([0.2, 0.0, 0.35, 0.1]), np.array([1.2, 0.7, 2.0, 1.0]), np.array([0.0, -1.0, 0.5, 1.2])
    gamma, lam, tau = irt_to_fmagom(g, a, b)
    assert np.allclose(np.column_stack(fmagom_to_irt(gamma, lam, tau)), np.column_stack([g, a, b]))
    direct = bm.irt_3pl(df, items, guessing={"y0": "free", "y2": "free", "y3": "free"})
    gom = bm.irt_3pl(df, items, parameterization="fma-gom", guessing={"y0": "free", "y2": "free", "y3": "free"})
    setting = {"method": "gauss-hermite", "points": 40}
    ll_direct = loglik_at(direct, {"binary_logit": (-a * b)[None], "irt_guessing_free": g[[0, 2, 3]],
                                   "factor_loading_positive": np.array(a[0]), "factor_loading_free": a[1:]}, setting)
    ll_gom = loglik_at(gom, {"binary_logit_free": tau, "guessing_logit_free": gamma[[0, 2, 3]],
                             "factor_loading_positive": np.array([a[0]]), "factor_loading_free": a[1:]}, setting)
    y = df.to_numpy()
    for j in range(len(y)):
        def integrand(eta):  # eq. 42
            p = g + (1 - g) * expit(a * (eta - b))
            return np.exp(response_loglik(y[j], p).sum()) * std_normal_pdf(eta)
        want = np.log(integrate.quad(integrand, -10, 10, epsabs=1e-13)[0])
        assert ll_direct[j] == pytest.approx(want, abs=1e-6)
        # tau_i1 = 15 (eq. 45): F(15) = 1 - 3e-7 with the logit link
        assert ll_gom[j] == pytest.approx(want, abs=2e-6)


# ----------------------------------------------------------------------------- LSAT7
def independent_2pl_ml(y: np.ndarray) -> tuple[float, np.ndarray]:
    """2PL marginal ML by numpy Gauss-Hermite (61 points) over response patterns + scipy L-BFGS."""
    patterns, counts = np.unique(y, axis=0, return_counts=True)
    x, w = np.polynomial.hermite_e.hermegauss(61)
    w = w / w.sum()

    def nll(theta):
        d, a = theta[:5], theta[5:]
        logit = d[None, None, :] + a[None, None, :] * x[None, :, None]  # (1, Q, I)
        ll = np.where(patterns[:, None, :] == 1, log_expit(logit), log_expit(-logit)).sum(-1)  # (P, Q)
        return -(counts * np.log(np.exp(ll) @ w)).sum()

    res = optimize.minimize(nll, np.r_[np.zeros(5), np.ones(5)], method="L-BFGS-B", options={"gtol": 1e-9})
    return -res.fun, res.x


@pytest.fixture(scope="module")
def lsat7():
    return bm.datasets.load("lsat7")


def test_2pl_on_lsat7_reaches_published_ml(lsat7):
    items = list(lsat7.columns)
    m = bm.fma(lsat7, items, n_classes=1, link="logit")
    ml = m.fit_ml(starts=3, seed=1)
    assert ml.n_params == 10
    assert ml.loglik == pytest.approx(MIRT_LSAT7_2PL, abs=1e-2)
    ll_ref, theta = independent_2pl_ml(lsat7.to_numpy())
    assert ml.loglik == pytest.approx(ll_ref, abs=1e-2)
    est = ml.params["estimate"]
    tau = np.array([est[f"binary_logit[class1, {i}]"] for i in items])
    lam = m.loading_values(ml)["all"].to_numpy()
    assert np.allclose(tau, theta[:5], atol=0.02) and np.allclose(lam, theta[5:], atol=0.02)
    # EAP scores: all-wrong persons low, all-right high; intervals contain the EAP
    scores = m.factor_scores(ml)
    total = lsat7.sum(axis=1).to_numpy()
    assert scores["eap"][total == 0].max() < scores["eap"][total == 5].min()
    assert np.all((scores["lower"] < scores["eap"]) & (scores["eap"] < scores["upper"]))
    assert np.all(scores["sd"].between(0.4, 1.0))
    curves = m.item_curves(ml, theta=[-1.0, 0.0, 1.0])
    p = curves.set_index(["theta", "item"])["probability"]
    assert p[(1.0, "Q3")] == pytest.approx(expit(tau[2] + lam[2]), abs=1e-10)
    assert p[(-1.0, "Q3")] < p[(0.0, "Q3")] < p[(1.0, "Q3")]


def test_3pl_direct_and_fma_gom_agree_on_lsat7(lsat7):
    items = list(lsat7.columns)
    fits, tables = {}, {}
    for par in ("direct", "fma-gom"):
        m = bm.irt_3pl(lsat7, items, parameterization=par)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # guessing of several items goes to 0 (at the boundary)
            fits[par] = m.fit_ml(starts=4, seed=2)
        tables[par] = m.irt_parameters(fits[par])
    assert fits["direct"].n_params == fits["fma-gom"].n_params == 15
    assert fits["direct"].loglik == pytest.approx(fits["fma-gom"].loglik, abs=2e-2)
    assert fits["direct"].loglik >= MIRT_LSAT7_2PL - 1e-3  # the 2PL is nested (g = 0)
    for q, tol in (("g", 0.02), ("a", 0.05), ("b", 0.05), ("tau", 0.05)):
        assert np.allclose(tables["direct"][(q, "estimate")], tables["fma-gom"][(q, "estimate")], atol=tol), q
    # delta-method SEs of the converted parameters agree where estimable
    se_d, se_g = tables["direct"][("a", "se")], tables["fma-gom"][("a", "se")]
    assert np.allclose(se_d, se_g, rtol=0.1)


# ----------------------------------------------------------------------------- nesting and recovery
def test_nesting_lca_fma_fma_gom():
    tau = np.array([np.linspace(2, -1, 6), np.linspace(2, -1, 6)[::-1] - 0.5])  # classes order items differently
    sim = simulate_fma_gom(300, 6, intercept=tau, membership_sd=1.0, seed=3)
    rule = {"method": "gauss-hermite", "points": 12}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lca = bm.lca(sim.data, sim.items, 2, link="probit").fit_ml(starts=4, seed=1)
        fma = bm.fma(sim.data, sim.items, 2, integration=rule).fit_ml(starts=4, seed=1)
        gom = bm.fma_gom(sim.data, sim.items, 2, integration=rule).fit_ml(starts=(2, 2), seed=1, start=fma)
    assert fma.n_params == lca.n_params + 6  # one invariant loading per item
    assert gom.n_params == fma.n_params + 1  # the SD of alpha_1j (section 8)
    assert fma.loglik >= lca.loglik + 5  # (measured: -1178.6, -1169.3, -1167.8)
    assert gom.loglik >= fma.loglik


def test_fma_gom_nests_fma_at_the_limit():
    # data from FMA: FMA-GoM's membership SD runs to infinity, where FMA-GoM is FMA. Before the membership was
    # integrated exactly, the 15 x 15 grid over (eta, alpha_1j) put the step of the membership between nodes and
    # LL(FMA-GoM) came out 0.083 below LL(FMA) here (measured: -798.9716 vs -798.8888, started from FMA).
    sim = simulate_fma(300, 5, 2, class_intercept=[0.5], link="probit", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fma = bm.fma(sim.data, sim.items, 2).fit_ml(starts=3, seed=1, progressbar=False)
    gom_model = bm.fma_gom(sim.data, sim.items, 2)
    with pytest.warns(UserWarning, match="FMA limit"):  # the starts near and at the limit (starts=0: only they)
        gom = gom_model.fit_ml(starts=(0, 1), seed=1, start=fma, progressbar=False)
    assert gom.n_params == fma.n_params + 1
    assert gom.loglik >= fma.loglik - 1e-3  # (measured: -798.8890)
    assert gom.at_fma_limit
    # at FMA's estimates the exact FMA-GoM log-likelihood rises to LL(FMA) as sd grows (eta: the same rule)
    names = [rv.name for rv in gom_model.model.free_RVs if rv.name not in gom_model.integrated]
    fn = draw_function(gom_model, "nesting", [gom_model.integrated_loglik().sum()], names)
    share = norm.ppf(expit(float(np.ravel(fma.point["class_intercept"])[0])))
    values = [float(fn(*[np.asarray({**fma.point, "factor_membership_sd": np.array([sd]),
                                      "class_intercept": np.array([sd * share])}[n], float) for n in names])[0])
              for sd in (10.0, 100.0, 1e6)]
    assert values[0] < values[1] < values[2] and values[2] == pytest.approx(fma.loglik, abs=1e-4)


def test_fma_class_specific_factor_variance_recovered_and_nested():
    lam = np.array([1.4, 1.2, 1.0, 0.8, 1.1, 0.9, 1.3, 1.0])
    tau = np.array([np.linspace(1.5, -1.0, 8), np.linspace(-1.0, 1.5, 8)])  # profiles cross
    sim = simulate_fma(2000, 8, 2, loading=lam, intercept=tau, class_intercept=[0.4], factor_sd=[1.0, 0.5],
                       link="logit", seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        invariant = bm.fma(sim.data, sim.items, 2, link="logit").fit_ml(starts=2, seed=1, progressbar=False)
    m = bm.fma(sim.data, sim.items, 2, link="logit", factor_variance="class-specific")
    ml = m.fit_ml(starts=0, start=invariant, progressbar=False)  # starts at the invariant solution (sd_k = 1)
    assert ml.n_params == invariant.n_params + 1  # sd_2 (sd_1 = 1 sets the unit of eta)
    assert ml.loglik >= invariant.loglik - 1e-6  # nested: the invariant model is sd_2 = 1
    assert ml.loglik - invariant.loglik > 5  # the data have sd_2 = 0.5 (measured: +12.85)
    est = ml.params["estimate"]
    logits = np.array([[est[f"binary_logit[class{c + 1}, {i}]"] for i in sim.items] for c in range(2)])
    first = int(np.argmin(np.abs(logits - tau[0]).sum(axis=1)))  # the fitted class of true class 1
    ratio = 0.5 if first == 0 else 2.0  # class 1 is the unit of eta: sd_2 / sd_1 of the truth in that labeling
    scale = 1.0 if first == 0 else 0.5
    sd2 = est["factor_sd[class2]"], ml.params["se"]["factor_sd[class2]"]
    assert abs(sd2[0] - ratio) < 3 * sd2[1]  # (measured: 0.433 +- 0.080; 5 random starts agree)
    assert np.allclose(m.loading_values(ml)["all"].to_numpy(), lam * scale, atol=0.3 * scale)
    scores = m.factor_scores(ml)  # eta on class 1's scale: sd_k z
    assert scores["eap"].corr(pd.Series(sim.eta)) > 0.7  # (measured: 0.76)
    assert np.all((scores["lower"] <= scores["eap"]) & (scores["eap"] <= scores["upper"]))


def test_fma_recovers_invariant_loadings():
    lam = np.array([1.4, 1.2, 1.0, 0.8, 1.1, 0.9, 1.3, 1.0, 0.7, 1.2])
    tau = np.array([[2.0, 1.5, 1.5, 2.0, 1.8, -1.5, -2.0, -1.5, -1.8, -2.0],
                    [-2.0, -1.5, -1.8, -1.5, -2.0, 1.5, 2.0, 1.8, 1.5, 2.0]])  # profiles cross: class != factor
    # N = 1,000 (was 2,000: below bayesmix._compile.PY_LIMIT, no C build: 85 -> 3 CPU s cold, issue 26 item 5,
    # benchmarks/results/suite_cpu_ab_20261208.csv); every tolerance is in units of the fit's own SEs, so a bias of
    # a few SEs still fails at the smaller N
    sim = simulate_fma(1000, 10, 2, loading=lam, intercept=tau, class_intercept=[0.4], link="logit", seed=7)
    m = bm.fma(sim.data, sim.items, 2, link="logit")
    ml = m.fit_ml(starts=3, seed=3)
    est = m.loading_values(ml)["all"].to_numpy()
    se = ml.params["se"].iloc[-10:].to_numpy()  # factor_loading_positive, factor_loading_free[...]
    assert np.all(np.abs(est - lam) < 3 * se + 0.05)  # (measured at N = 1,000: within 1.8 SE; the bound ~3.3 SE)
    names = [[f"binary_logit[class{c + 1}, {i}]" for i in sim.items] for c in range(2)]
    logits = np.array([[ml.params["estimate"][n] for n in row] for row in names])
    logit_se = np.array([[ml.params["se"][n] for n in row] for row in names])
    order = np.argsort(-logits[:, 0])  # class labels may be swapped
    # (was max |error| < 0.45 at N = 2,000; measured at N = 1,000: within 1.7 SE, SEs 0.12-0.22)
    assert np.all(np.abs(logits[order] - tau) < 3.5 * logit_se[order])
    props = ml.class_proportions["estimate"].to_numpy()[order]
    props_se = ml.class_proportions["se"].to_numpy()[order]
    # (was 0.04 at N = 2,000; measured: 0.07 SE, SE 0.016)
    assert np.all(np.abs(props - sim.truth["class_proportions"]) < 3.5 * props_se)


def test_3pl_recovers_known_guessing():
    g = np.array([0.25, 0.1, 0.2, 0.3, 0.15, 0.2, 0.25, 0.1, 0.2, 0.15])
    a = np.linspace(1.5, 2.5, 10)
    b = np.linspace(-0.5, 2.0, 10)
    sim = simulate_3pl(3000, 10, a=a, b=b, g=g, seed=5)
    # guessing fixed at the known values: a and b recovered
    known = bm.irt_3pl(sim.data, sim.items, guessing=dict(zip(sim.items, g)))
    ml = known.fit_ml(starts=3, seed=1)
    table = known.irt_parameters(ml)
    assert np.allclose(table[("g", "estimate")], g)
    assert np.all(np.abs(table[("a", "estimate")] - a) < 4 * table[("a", "se")] + 0.05)
    assert np.all(np.abs(table[("b", "estimate")] - b) < 4 * table[("b", "se")] + 0.05)
    # guessing estimated: the known values recovered within their SEs (measured: within 1.3 SE)
    free = bm.irt_3pl(sim.data, sim.items)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = free.fit_ml(starts=4, seed=1)
    est = free.irt_parameters(fit)
    assert np.mean(np.abs(est[("g", "estimate")] - g)) < 0.04
    assert np.all(np.abs(est[("g", "estimate")] - g) < 3 * est[("g", "se")].fillna(0.05) + 0.02)
    assert fit.loglik >= ml.loglik - 1e-6  # the fixed-guessing model is nested


def test_class_specific_loadings_without_finite_ml_are_reported():
    rng = np.random.default_rng(0)
    n = 600
    eta = rng.standard_normal(n)
    guttman = rng.uniform(size=n) < 0.5  # one class answers exactly by eta: its loadings have no finite ML
    y = np.where(guttman[:, None], (eta[:, None] > np.linspace(-1, 1, 5)).astype(int),
                 (rng.uniform(size=(n, 5)) < 0.5).astype(int))
    df = pd.DataFrame(y, columns=[f"y{i}" for i in range(5)])
    m = bm.fma(df, list(df.columns), 2, loadings="class-specific", link="logit")
    with pytest.warns(UserWarning, match="no finite ML estimate"):
        ml = m.fit_ml(starts=4, seed=1)
    assert ml.infinite_loadings


def test_lsat7_class_specific_mixture_2pl_has_no_finite_ml(lsat7):
    # the trap of issue 10 on real data: a 2-class mixture 2PL with class-specific loadings on the 5 LSAT7 items
    m = bm.fma(lsat7, list(lsat7.columns), 2, loadings="class-specific", link="logit")
    with pytest.warns(UserWarning, match="no finite ML estimate") as record:
        ml = m.fit_ml(starts=(4, 1), seed=1, progressbar=False)
    message = next(str(w.message) for w in record if "no finite ML" in str(w.message))
    assert "loadings='invariant'" in message and "fit_map()" in message  # says what to do
    items = {(item, cls) for item, cls, _ in ml.infinite_loadings}
    assert items and all(abs(v) > 10 for _, _, v in ml.infinite_loadings)  # (measured: Q2, Q3 of one class)
    assert all(f"{i}[{c}]" in message for i, c in items)
    assert ml.loglik > MIRT_LSAT7_2PL + 5  # the mixture still fits better than the 2PL (measured: -2647.19)


@pytest.mark.parametrize("factory", ["fma", "fma_gom", "irt_3pl"])
def test_factor_models_record_their_call_for_save_and_load(factory, tmp_path, lsat7):
    data = lsat7.iloc[::5].reset_index(drop=True)  # 200 persons
    items = list(data.columns)
    m = {"fma": lambda: bm.fma(data, items, 2, factor_variance="class-specific"),
         "fma_gom": lambda: bm.fma_gom(data, items, 2),
         "irt_3pl": lambda: bm.irt_3pl(data, items, parameterization="fma-gom")}[factory]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
    bm.save(tmp_path / factory, m, ml)
    model, result = bm.load(tmp_path / factory)
    assert type(model) is type(m) and model.options["call"]["factory"] == factory
    assert model.options.keys() == m.options.keys() and model.options["link"] == m.options["link"]
    assert result.loglik == pytest.approx(ml.loglik, abs=1e-9)


# ----------------------------------------------------------------------------- NUTS
def test_nuts_2pl_log_likelihood_per_person_and_scores(lsat7):
    data = lsat7.iloc[::4].reset_index(drop=True)  # 250 persons
    m = bm.fma(data, list(data.columns), 1, link="logit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 150 draws: short chains by design
        idata = m.sample(draws=150, tune=150, chains=2, sampler="pymc", random_seed=1, progressbar=False, starts=2)
    ll = idata["log_likelihood"]
    var = list(ll.data_vars)[0]
    assert ll[var].sizes[ll[var].dims[-1]] == len(data)
    lam = idata["posterior"]["factor_loading"].to_numpy()
    assert np.all(lam[..., 0] > 0)  # first loading positive: one sign in every chain
    scores = m.factor_scores(idata, max_draws=50)
    assert scores["eap"].corr(data.sum(axis=1)) > 0.95
    table = bm.irt_3pl(data, list(data.columns), guessing=0.0).irt_parameters  # noqa: F841  (builds)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, message", [
    ({"loadings": "free"}, "loadings="),
    ({"link": "cloglog"}, "link="),
    ({"n_classes": 1, "loadings": "class-specific"}, "class-specific"),
    ({"factor_variance": "free"}, "factor_variance="),
    ({"factor_variance": "class-specific", "loadings": "class-specific"}, "absorbed by its loadings"),
    ({"factor_variance": "class-specific", "n_classes": 1}, "n_classes >= 2"),
])
def test_fma_bad_options_fail_before_any_model(no_model_building, kwargs, message):
    df = tiny(4)
    args = {"n_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        bm.fma(df, list(df.columns), **args)


@pytest.mark.parametrize("guessing, message", [
    ({"nope": 0.2}, "not among the items"),
    (1.2, r"\[0, 1\)"),
    ({"y0": "sometimes"}, "'free'"),
    ("y0", "guessing must be"),
])
def test_3pl_bad_guessing_fails_before_any_model(no_model_building, guessing, message):
    df = tiny(5)
    with pytest.raises(ValueError, match=message):
        bm.irt_3pl(df, list(df.columns), guessing=guessing)


def test_fma_refuses_nominal_items(no_model_building):
    df = pd.DataFrame({"a": [0, 1, 2, 1, 0, 2], "b": [0, 1, 1, 0, 1, 0]})
    with pytest.raises(ValueError, match="nominal"):
        bm.fma(df, ["a", "b"], 1, item_types={"a": "nominal", "b": "binary"})


def test_irt_priors_are_overridable_by_name_and_checked(no_model_building):
    df = tiny(6)
    with pytest.raises(ValueError, match="Beta does not take"):
        bm.irt_3pl(df, list(df.columns), priors={"irt_guessing": {"lam": 2}})
    with pytest.raises(ValueError, match="this model does not have"):
        bm.fma(df, list(df.columns), 1, priors={"irt_gessing": {"alpha": 2}})


def test_irt_prior_override_reaches_the_model():
    df = tiny(6)
    m = bm.irt_3pl(df, list(df.columns), priors={"irt_guessing": {"alpha": 2.0, "beta": 8.0}})
    rv = m.model["irt_guessing"]
    alpha, beta = (np.unique(v.eval()) for v in rv.owner.inputs[-2:])
    assert alpha.tolist() == [2.0] and beta.tolist() == [8.0]
