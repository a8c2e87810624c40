"""The general within-level model, ``bm.mixture_sem`` (eq. 2-4; issue 21).

Nesting: with matching restrictions its log-likelihood at the same values
(1e-8) and its ML log-likelihood equal ``bm.lca`` (no factors) and ``bm.fma``
(one factor, invariant and class-specific loadings). Oracle: a two-factor,
two-class model with B, Gamma, class covariates and continuous, binary and
ordinal items against a dense grid over the factors written here in numpy.
Recovery by ML on data from the independent numpy simulator
(:mod:`bayesmix.datasets.simulate_sem`): two factors with a regression, a
latent class growth model and a growth mixture model. Bad specifications
raise before any model is built.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, log_expit, logsumexp
from scipy.stats import multivariate_normal, norm

import bayesmix as bm
from bayesmix.datasets.simulate_irt import simulate_fma
from bayesmix.datasets.simulate_sem import simulate_growth_mixture, simulate_mixture_sem
from bayesmix.results import draw_function

GH = {"method": "gauss-hermite", "points": 20}


def loglik_at(m, values: dict, integration: dict | None) -> np.ndarray:
    """Per-person integrated log-likelihood of ``m`` at given free-RV values."""
    names = [rv.name for rv in m.model.free_RVs if rv.name not in m.integrated]
    missing = sorted(set(names) - set(values))
    assert not missing, f"no value for {missing}"
    fn = draw_function(m, f"oracle:{integration}", [m.integrated_loglik(integration)], names)
    return np.asarray(fn(*[np.asarray(values[n], float) for n in names])[0])


def tiny(seed: int, n: int = 6, items: int = 3) -> pd.DataFrame:
    """The data of tests/test_fma.py's oracles."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=(n, items)) < 0.5).astype(float)
    y[1, 2] = np.nan
    return pd.DataFrame(y, columns=[f"y{i}" for i in range(items)])


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ----------------------------------------------------------------------------- nesting
def test_no_factors_is_lca():
    df = tiny(1, n=40, items=4)
    tau = np.array([[0.5, -0.3, 1.0, 2.0], [-1.0, 0.4, -0.2, -1.5]])
    values = {"class_intercept": np.array([0.3]), "binary_logit": tau}
    lca = bm.lca(df, list(df.columns), 2)
    sem = bm.mixture_sem(df, list(df.columns), 2)
    assert np.allclose(loglik_at(sem, values, None), loglik_at(lca, values, None), atol=1e-8, rtol=0)
    sim = bm.datasets.simulate_lca(n_units=300, n_items=5, n_classes=2, seed=4)
    ml_lca = quiet(bm.lca(sim.data, sim.items, 2).fit_ml, starts=4, seed=1)
    ml_sem = quiet(bm.mixture_sem(sim.data, sim.items, 2).fit_ml, starts=4, seed=1)
    assert ml_sem.n_params == ml_lca.n_params
    assert abs(ml_sem.loglik - ml_lca.loglik) < 1e-6


@pytest.mark.parametrize("loadings", ["invariant", "class-specific"])
def test_one_factor_with_class_specific_intercepts_is_fma(loadings):
    df = tiny(1)
    tau = np.array([[0.5, -0.3, 1.0], [-1.0, 0.4, -0.2]])
    lam = np.array([[0.8, 1.3, -0.6], [1.5, 0.2, 0.9]])
    specific = ["intercepts"] + (["loadings"] if loadings == "class-specific" else [])
    fma = bm.fma(df, list(df.columns), 2, loadings=loadings, link="probit", integration=GH)
    sem = bm.mixture_sem(df, list(df.columns), 2, factors={"f": list(df.columns)}, class_specific=specific,
                         link="probit")
    if loadings == "invariant":
        fma_values = {"factor_loading_positive": np.array(lam[0, 0]), "factor_loading_free": lam[0, 1:]}
        sem_values = {"loading_first": lam[0, :1], "loading_free": lam[0, 1:]}
    else:
        fma_values = {"factor_loading_positive": lam[:, 0], "factor_loading_free": lam[:, 1:]}
        sem_values = {"loading_first": lam[:, :1], "loading_free": lam[:, 1:].ravel()}
    common = {"class_intercept": np.array([0.3]), "binary_logit": tau}
    for rule in (GH, {"method": "trapezoid", "points": 30}):
        a = loglik_at(fma, {**common, **fma_values}, rule)
        b = loglik_at(sem, {**common, **sem_values}, rule)
        assert np.allclose(a, b, atol=1e-8, rtol=0)


def test_one_factor_ml_equals_fma():
    sim = simulate_fma(300, 5, 2, class_intercept=[0.5], link="probit", seed=1)
    rule = {"method": "gauss-hermite", "points": 15}
    fma = quiet(bm.fma(sim.data, sim.items, 2, integration=rule).fit_ml, starts=3, seed=1)
    sem = quiet(bm.mixture_sem(sim.data, sim.items, 2, factors={"f": sim.items}, class_specific=["intercepts"],
                               link="probit", integration=rule).fit_ml, starts=3, seed=1)
    assert sem.n_params == fma.n_params
    assert abs(sem.loglik - fma.loglik) < 1e-5


# ----------------------------------------------------------------------------- oracle
def _oracle_data(n=8, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    cont = rng.normal(size=(n, 3)) + 1.0
    binary = (rng.uniform(size=(n, 2)) < 0.5).astype(float)
    ordinal = rng.integers(0, 3, size=n).astype(float)
    df = pd.DataFrame(np.column_stack([cont, binary, ordinal, x]), columns=["y1", "y2", "y3", "y4", "y5", "y6", "x"])
    df.loc[2, "y2"] = np.nan
    df.loc[4, "y5"] = np.nan
    df.loc[0, "y6"] = 0.0
    df.loc[1, "y6"] = 2.0
    return df


def test_two_factor_model_with_b_and_gamma_matches_dense_grid():
    df = _oracle_data()
    items = ["y1", "y2", "y3", "y4", "y5", "y6"]
    m = bm.mixture_sem(df, items, 2, factors={"f1": ["y1", "y2", "y3"], "f2": {"y4": 1.0, "y5": None, "y6": None}},
                       regressions={"f2": ["f1"], "f1": ["x"], "y3": ["x"]}, class_covariates=["x"],
                       class_specific=["regressions"], item_types={"y6": "ordinal"},
                       integration={"method": "gauss-hermite", "points": 60})  # 3,600 nodes
    # true values (full matrices), then the model's free variables
    alpha, beta = 0.4, -0.7  # class 1 logit vs class 2 (the reference)
    nu = np.array([1.0, 0.8, 1.2])  # continuous intercepts, invariant
    theta = np.array([0.7, 0.9, 0.6])  # residual SDs, invariant
    b_logit = np.array([0.3, -0.5])  # binary intercepts, invariant
    tau = np.array([-0.4, -0.4 + np.exp(0.2)])  # ordinal thresholds, invariant
    lam = np.array([[0.9, 0.6, 1.1, 0, 0, 0], [0, 0, 0, 1.0, 1.4, -0.8]])
    mu = np.array([[0.0, 0.0], [0.5, -0.3]])  # class 1 the reference
    psi_sd = np.array([1.0, 0.8])
    b_c = np.array([0.6, -0.4])  # f2 ON f1 by class
    gamma = 0.5  # f1 ON x
    k_direct = 0.3  # y3 ON x
    values = {"class_intercept": np.array([alpha]), "class_slope": np.array([[beta]]),
              "normal_mean_free": nu, "normal_sd": theta, "binary_logit_free": b_logit,
              "ordinal_first_threshold_free": np.array([tau[0]]), "ordinal_log_gap_free": np.array([0.2]),
              "loading_first": np.array([0.9]), "loading_free": np.array([0.6, 1.1, 1.4, -0.8]),
              "factor_mean_free": mu[1], "factor_sd_free": np.array([0.8]),
              "factor_regression": b_c[:, None], "factor_covariate_effect": np.array([gamma]),
              "item_covariate_effect": np.array([k_direct])}
    got = loglik_at(m, values, None)

    # independent oracle: eta | c, x ~ N(m_c, S_c) integrated on a dense trapezoid grid in eta
    grid = np.linspace(-9, 9, 361)
    out = []
    for n, row in df.iterrows():
        x = row["x"]
        logit1 = alpha + beta * x
        log_pi = np.array([log_expit(logit1), log_expit(-logit1)])
        terms = []
        for c in range(2):
            a = np.linalg.inv(np.eye(2) - np.array([[0, 0], [b_c[c], 0]]))
            mean = a @ (mu[c] + np.array([gamma * x, 0.0]))
            cov = a @ np.diag(psi_sd**2) @ a.T
            sd = np.sqrt(np.diag(cov))
            g1, g2 = mean[0] + sd[0] * grid, mean[1] + sd[1] * grid
            e1, e2 = np.meshgrid(g1, g2, indexing="ij")
            eta = np.stack([e1, e2], -1)  # (G, G, 2)
            dens = multivariate_normal(mean, cov).logpdf(eta)
            ll = np.zeros_like(e1)
            lin = eta @ lam  # (G, G, 6)
            for i in range(3):
                if not np.isnan(row[f"y{i + 1}"]):
                    mean_i = nu[i] + lin[..., i] + (k_direct * x if i == 2 else 0.0)
                    ll += norm.logpdf(row[f"y{i + 1}"], mean_i, theta[i])
            for j, i in enumerate((3, 4)):
                if not np.isnan(row[f"y{i + 1}"]):
                    eta_i = b_logit[j] + lin[..., i]
                    ll += log_expit(eta_i) if row[f"y{i + 1}"] == 1 else log_expit(-eta_i)
            cum = [expit(t - lin[..., 5]) for t in tau]
            probs = [cum[0], cum[1] - cum[0], 1 - cum[1]]
            ll += np.log(probs[int(row["y6"])])
            h = (grid[1] - grid[0]) ** 2 * sd[0] * sd[1]
            terms.append(log_pi[c] + logsumexp(ll + dens) + np.log(h))
        out.append(logsumexp(terms))
    assert np.allclose(got, out, atol=1e-7, rtol=0)


# ----------------------------------------------------------------------------- recovery
def test_two_factor_two_class_recovery_by_ml():
    lam = np.array([[1.0, 0.8, 1.2, 0, 0, 0], [0, 0, 0, 1.0, 0.7, 1.3]])
    sim = simulate_mixture_sem(1000, loading=lam, intercept=np.zeros(6), factor_mean=[[0, 0], [2.5, -1.5]],
                               factor_cov=np.diag([0.6, 0.4]), residual_sd=0.5,
                               regression=[[0, 0], [0.5, 0]], class_intercept=[0.3], seed=11)
    m = bm.mixture_sem(sim.data, sim.items, 2,
                       factors={"f1": {"y1": 1, "y2": None, "y3": None}, "f2": {"y4": 1, "y5": None, "y6": None}},
                       regressions={"f2": ["f1"]}, integration={"points": 10})
    ml = quiet(m.fit_ml, starts=4, seed=2, progressbar=False)
    est = ml.params["estimate"]
    assert est["factor_mean[class2, f1]"] > 0, "labels switched; pick another seed"
    assert abs(est["class_intercept[class1]"] - 0.3) < 0.2
    assert abs(est["factor_mean[class2, f1]"] - 2.5) < 0.25
    total_f2 = est["factor_mean[class2, f2]"] + est["factor_regression[f2 ~ f1]"] * est["factor_mean[class2, f1]"]
    assert abs(total_f2 - (-1.5 + 0.5 * 2.5)) < 0.2  # E[f2 | class 2] = mu_2 + b mu_1 (eq. 3)
    assert abs(est["factor_regression[f2 ~ f1]"] - 0.5) < 0.15
    assert abs(est["loading[f1, y2]"] - 0.8) < 0.1
    assert abs(est["loading[f2, y6]"] - 1.3) < 0.15
    assert abs(est["factor_sd[f1]"] - np.sqrt(0.6)) < 0.1
    assert abs(est["factor_sd[f2]"] - np.sqrt(0.4)) < 0.1
    table = m.structural_table(ml)
    row = table[(table["class"] == "class2") & (table["lhs"] == "f2") & (table["op"] == "~")]
    assert np.isclose(row["estimate"].iloc[0], est["factor_regression[f2 ~ f1]"])
    scores = m.factor_scores(ml)
    assert np.corrcoef(scores[("f1", "eap")], sim.eta[:, 0])[0, 1] > 0.9


def _growth(zero: bool):
    return {"i": {"y1": 1, "y2": 1, "y3": 1, "y4": 1}, "s": {"y1": 0, "y2": 1, "y3": 2, "y4": 3}}


def test_latent_class_growth_recovery():
    sim = simulate_growth_mixture(1000, growth_mean=[[0, 0.5], [3, -0.5]], residual_sd=0.8, class_intercept=[0.4],
                                  seed=5)
    m = bm.mixture_sem(sim.data, sim.items, 2, factors=_growth(True), zero_variance=True)
    assert m.latent is None  # nothing to integrate: LCGA sums the classes only
    ml = quiet(m.fit_ml, starts=3, seed=1)
    est = ml.params["estimate"]
    means = np.array([[est[f"factor_mean[class{k}, {f}]"] for f in "is"] for k in (1, 2)])
    if means[0, 0] > means[1, 0]:
        means = means[::-1]
    assert np.allclose(means, [[0, 0.5], [3, -0.5]], atol=0.1)
    assert ml.n_params == 1 + 4 + 4  # class logit, residual SDs, growth means


def test_growth_mixture_recovery():
    cov = np.array([[1.0, 0.1], [0.1, 0.2]])
    sim = simulate_growth_mixture(1000, growth_mean=[[0, 0.5], [3, -0.5]], growth_cov=cov, residual_sd=0.7,
                                  class_intercept=[0.4], seed=3)
    m = bm.mixture_sem(sim.data, sim.items, 2, factors=_growth(False), integration={"points": 10})
    ml = quiet(m.fit_ml, starts=3, seed=1)
    est = ml.params["estimate"]
    means = np.array([[est[f"factor_mean[class{k}, {f}]"] for f in "is"] for k in (1, 2)])
    if means[0, 0] > means[1, 0]:
        means = means[::-1]
    assert np.allclose(means, [[0, 0.5], [3, -0.5]], atol=0.15)
    assert abs(est["factor_sd[i]"] - 1.0) < 0.1
    assert abs(est["factor_sd[s]"] - np.sqrt(0.2)) < 0.06
    # the growth mixture nests latent class growth (variances 0): a much better fit here
    lcga = quiet(bm.mixture_sem(sim.data, sim.items, 2, factors=_growth(True), zero_variance=True).fit_ml,
                 starts=3, seed=1)
    assert ml.loglik > lcga.loglik + 50


# ----------------------------------------------------------------------------- bad specifications
@pytest.fixture(scope="module")
def frame():
    return _oracle_data(30)


ITEMS = ["y1", "y2", "y3", "y4", "y5"]


@pytest.mark.parametrize("kwargs, message", [
    ({"factors": {"f1": ["y1", "y2"], "f2": ["y3", "y4"]}, "regressions": {"f1": ["f2"], "f2": ["f1"]}},
     "cyclic"),
    ({"factors": {"f1": []}}, "no indicator"),
    ({"factors": {"f1": ["y1", "y2", "y3"], "f2": ["y1", "y2", "y3"]}}, "unidentified"),
    ({"factors": {"f1": ["y1", "y2"]}, "regressions": {"f1": ["age"]}}, "not a column"),
    ({"factors": {"f1": ["y1", "y9"]}}, "not among items"),
    ({"factors": {"f1": ["y1"]}}, "one free loading"),
    ({"factors": {"f1": {"y1": 0.0, "y2": None}}}, "scale"),
    ({"factors": {"f1": ["y1", "y2"]}, "zero_variance": True}, "zero_variance"),
    ({"factors": {"f1": ["y1", "y2"]}, "class_specific": ["loadings", "variances"]}, "variances"),
    ({"factors": {"f1": ["y1", "y2"]}, "class_specific": ["means"]}, "class_specific"),
    ({"factors": {"f1": ["y1", "y2"]}, "class_covariates": ["age"]}, "class_covariates"),
    ({"factors": {"f1": ["y1", "y2"]}, "regressions": {"y1": ["f1"]}}, "loading"),
    ({"factors": {"f1": ["y4", "y5"]}, "item_types": {"y4": "nominal"}}, "nominal"),
])
def test_bad_specifications_raise_before_building(frame, no_model_building, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bm.mixture_sem(frame, ITEMS, 2, **kwargs)


def test_too_many_quadrature_nodes_are_refused():
    sim = simulate_mixture_sem(50, loading=np.kron(np.eye(3), np.ones(2)), intercept=np.zeros(6),
                               factor_mean=np.zeros((2, 3)), factor_cov=np.eye(3), seed=1)
    m = bm.mixture_sem(sim.data, sim.items, 2, factors={"a": ["y1", "y2"], "b": ["y3", "y4"], "c": ["y5", "y6"]},
                       integration={"points": 20})
    with pytest.raises(ValueError, match="NUTS|sample\\(\\)"):
        m.fit_ml(starts=1, seed=1)


# ----------------------------------------------------------------------------- posterior predictive
#: true values of the oracle's model (see test_two_factor_model_with_b_and_gamma_matches_dense_grid)
TRUE = {"alpha": 0.4, "beta": -0.7, "nu": np.array([1.0, 0.8, 1.2]), "theta": np.array([0.7, 0.9, 0.6]),
        "b_logit": np.array([0.3, -0.5]), "tau": np.array([-0.4, -0.4 + np.exp(0.2)]),
        "lam": np.array([[0.9, 0.6, 1.1, 0, 0, 0], [0, 0, 0, 1.0, 1.4, -0.8]]),
        "mu": np.array([[0.0, 0.0], [0.5, -0.3]]), "psi_sd": np.array([1.0, 0.8]), "gamma": 0.5, "k_direct": 0.3}


def _numpy_sem(x: np.ndarray, b: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``reps`` data sets (stacked rows) of the oracle's model at TRUE given x, drawn from eq. 2-4 in numpy.

    ``b``: the effect of f1 on f2 in class 1 and 2. Columns y1-y3 continuous, y4-y5 binary, y6 ordinal (0-2).
    """
    t, n = TRUE, len(x)
    p1 = expit(t["alpha"] + t["beta"] * x)
    out = []
    for _ in range(reps):
        cls = (rng.random(n) >= p1).astype(int)  # 0 = class1
        xi = rng.standard_normal((n, 2)) * t["psi_sd"]
        eta = np.empty((n, 2))
        for c in range(2):
            a = np.linalg.inv(np.eye(2) - np.array([[0, 0], [b[c], 0]]))
            e = (t["mu"][c] + np.outer(x, [t["gamma"], 0.0]) + xi) @ a.T  # eq. 3
            eta[cls == c] = e[cls == c]
        lin = eta @ t["lam"]  # eq. 2
        cont = t["nu"] + lin[:, :3] + np.outer(x, [0, 0, t["k_direct"]]) + t["theta"] * rng.standard_normal((n, 3))
        binary = (rng.random((n, 2)) < expit(t["b_logit"] + lin[:, 3:5])).astype(float)
        cum = expit(t["tau"][None] - lin[:, 5:6])  # P(y6 <= k)
        ordinal = (rng.random((n, 1)) > cum).sum(axis=1)
        out.append(np.column_stack([cont, binary, ordinal]))
    return np.concatenate(out)


def _replicated_rows(m, point, items, draws, seed=1) -> np.ndarray:
    ppc = quiet(m.posterior_predictive, point, seed=seed, draws=draws)
    rep = ppc["posterior_predictive"].to_dataset()
    return np.column_stack([rep[i].transpose("chain", "draw", "unit").to_numpy().astype(float).ravel() for i in items])


def _assert_moments_match(got: np.ndarray, want: np.ndarray, atol_mean: float, atol_cov: float) -> None:
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got.mean(axis=0), want.mean(axis=0), atol=atol_mean, rtol=0)
    np.testing.assert_allclose(np.cov(got.T), np.cov(want.T), atol=atol_cov, rtol=0.05)


@pytest.mark.parametrize("structural", ["class-specific", "invariant"])
def test_posterior_predictive_moments_match_numpy_simulation(structural):
    """Replicates at given parameters: item means and covariances as an independent numpy draw (eq. 2-4).

    Two factors with B (class-specific or not), Gamma, a direct effect, class covariates;
    continuous, binary and ordinal items. 200 replicates x 300 persons on each side: the
    Monte Carlo SE of a mean is <= 0.01, of a covariance <= 0.02; leaving out the
    factors' shift moves the covariances by up to 1.
    """
    b = np.array([0.6, -0.4]) if structural == "class-specific" else np.array([0.6, 0.6])
    rng = np.random.default_rng(12)
    x = rng.standard_normal(300)
    items = ["y1", "y2", "y3", "y4", "y5", "y6"]
    df = pd.DataFrame(_numpy_sem(x, b, 1, rng), columns=items).assign(x=x)
    m = bm.mixture_sem(df, items, 2, factors={"f1": ["y1", "y2", "y3"], "f2": {"y4": 1.0, "y5": None, "y6": None}},
                       regressions={"f2": ["f1"], "f1": ["x"], "y3": ["x"]}, class_covariates=["x"],
                       class_specific=["regressions"] if structural == "class-specific" else [],
                       item_types={"y6": "ordinal"})
    t = TRUE
    point = {"class_intercept": np.array([t["alpha"]]), "class_slope": np.array([[t["beta"]]]),
             "normal_mean_free": t["nu"], "normal_sd": t["theta"], "binary_logit_free": t["b_logit"],
             "ordinal_first_threshold_free": t["tau"][:1], "ordinal_log_gap_free": np.array([0.2]),
             "loading_first": np.array([0.9]), "loading_free": np.array([0.6, 1.1, 1.4, -0.8]),
             "factor_mean_free": t["mu"][1], "factor_sd_free": np.array([0.8]),
             "factor_regression": b[:, None] if structural == "class-specific" else b[:1],
             "factor_covariate_effect": np.array([t["gamma"]]), "item_covariate_effect": np.array([t["k_direct"]])}
    got = _replicated_rows(m, point, items, 200)
    want = _numpy_sem(x, b, 200, np.random.default_rng(13))
    _assert_moments_match(got, want, atol_mean=0.04, atol_cov=0.06)


def test_posterior_predictive_of_latent_class_growth_matches_the_simulator():
    """Zero growth variance (the factors are a model component, nothing integrated): the class trajectories shift
    the items; replicate means and covariances equal those of simulate_growth_mixture at large N."""
    mean, sd, logit = np.array([[0, 0.5], [3, -0.5]]), 0.8, 0.4
    sim = simulate_growth_mixture(300, growth_mean=mean, residual_sd=sd, class_intercept=[logit], seed=5)
    m = bm.mixture_sem(sim.data, sim.items, 2, factors=_growth(True), zero_variance=True)
    assert m.latent is None
    point = {"class_intercept": np.array([logit]), "normal_sd": np.full(4, sd), "factor_mean": mean}
    got = _replicated_rows(m, point, sim.items, 200)
    big = simulate_growth_mixture(60000, growth_mean=mean, residual_sd=sd, class_intercept=[logit], seed=6)
    _assert_moments_match(got, big.data[sim.items].to_numpy(), atol_mean=0.04, atol_cov=0.06)


@pytest.mark.parametrize("name, n_factors", [("mixture_sem", 1), ("mixture_sem_two_factor", 2)])
def test_sbc_case_simulator_agrees_with_the_model_s_replicates(name, n_factors):
    """The SBC case's numpy simulator (new factor scores per data set) and posterior_predictive at one prior draw."""
    from bayesmix import sbc
    case = sbc.make_case(name, n_units=300)
    m = quiet(case.build, case.template(np.random.default_rng(0)))
    theta = sbc.prior_draws(m, 1, seed=3)[0]
    rng = np.random.default_rng(4)
    want = np.concatenate([case.simulate({**theta, "factor_z": rng.standard_normal((300, n_factors))},
                                         rng).to_numpy(float)
                           for _ in range(150)])
    point = {rv.name: theta[rv.name] for rv in m.model.free_RVs if rv.name != "factor_z"}
    got = _replicated_rows(m, point, m.data.item_names(), 150)
    _assert_moments_match(got, want, atol_mean=0.02, atol_cov=0.01)
