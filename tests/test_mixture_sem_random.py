"""Cluster random coefficients of ``bm.mixture_sem`` (eq. 5 on eq. 2-3; issue 21 item 2).

Exact nesting: with the random SDs fixed at 0 the two-level model's per-cluster
log-likelihood is the one-level model's per-person log-likelihood summed by
cluster (1e-8). Oracle: 3 clusters x 4 persons, one factor, binary items, one
random coefficient (an item intercept, the factor intercept, a slope of the
factor on a covariate, a loading) against nested integration on fine grids written here.
Recovery of a random intercept SD by ML from an independent numpy simulator;
NUTS on a tiny case with a per-cluster ``log_likelihood``; bad input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logsumexp
from scipy.stats import norm

import bayesmix as bm
from bayesmix.results import draw_function


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def free_names(m) -> list[str]:
    return [rv.name for rv in m.model.free_RVs if rv.name not in m.integrated]


def evaluate(m, values: dict, outputs: list, key: str) -> list[np.ndarray]:
    names = free_names(m)
    fn = draw_function(m, key, outputs, names)
    return [np.asarray(v) for v in fn(*[np.asarray(values[n], float) for n in names])]


def loglik_at(m, values: dict, integration: dict | None = None) -> np.ndarray:
    return evaluate(m, values, [m.integrated_loglik(integration)], f"ll:{integration}")[0]


def two_level_frame(seed: int, clusters: int, size: int, items: int = 4, binary: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = clusters * size
    y = rng.normal(size=(n, items)) + rng.normal(size=(clusters, 1)).repeat(size, axis=0)
    if binary:
        y = (y > 0).astype(float)
    df = pd.DataFrame(y, columns=[f"y{j + 1}" for j in range(items)])
    df["x1"] = rng.normal(size=n)
    df["school"] = np.repeat([f"s{j}" for j in range(clusters)], size)
    df["w"] = np.repeat(rng.normal(size=clusters), size)
    return df


# ----------------------------------------------------------------------------- exact nesting
def test_zero_random_sd_is_the_one_level_model():
    df = two_level_frame(3, clusters=5, size=6, items=6)
    items = [f"y{j + 1}" for j in range(6)]
    factors = {"f1": ["y1", "y2", "y3"], "f2": {"y4": 1.0, "y5": None, "y6": None}}
    regressions = {"f2": ["f1", "x1"], "f1": ["x1"], "y3": ["x1"]}
    one = bm.mixture_sem(df, items, 2, factors=factors, regressions=regressions)
    random = {"intercepts": ["y1", "f2"], "slopes": [("f2", "x1"), ("f2", "f1"), ("y3", "x1")],
              "loadings": [("f1", "y2")]}
    two = bm.mixture_sem(df, items, 2, factors=factors, regressions=regressions, cluster="school", random=random,
                         cluster_covariates=["w"], fixed={"random_sd": 0.0},
                         integration={"points": 1})  # 6 cluster dims: one node (u = 0 anyway)
    assert set(free_names(two)) == set(free_names(one)) | {"random_slope"}
    values = one.random_start(np.random.default_rng(7))
    values["random_slope"] = np.zeros((1, 6))  # u_j = Gamma_w w_j + 0 z_j = 0
    per_person = loglik_at(one, values)
    per_cluster = loglik_at(two, values)
    expected = pd.Series(per_person).groupby(two.data.cluster_index).sum().to_numpy()
    assert per_cluster.shape == (5,)
    assert np.allclose(per_cluster, expected, atol=1e-8, rtol=0)


# ----------------------------------------------------------------------------- oracle
ORACLE_RANDOM = {
    "item intercept": {"intercepts": ["y2"]},
    "factor intercept": {"intercepts": ["f"]},
    "slope f ON x1": {"slopes": [("f", "x1")]},
    "loading f BY y3": {"loadings": [("f", "y3")]},
}


def oracle_cluster_loglik(y, x, cluster, theta, kind: str) -> np.ndarray:
    """log int phi(u; 0, s^2) prod_i sum_c pi_c int phi(e) prod_j p(y_ij | c, eta(e, u), u) de du.

    Both integrals on fine trapezoid grids (1201 points each over +-8.5 SD: the integrands are smooth
    and Gaussian-tailed, so the error is far below 1e-8), written from eq. 2, 3 and 5 directly.
    """
    nu, lam, mu, gamma, pi, s = (theta[k] for k in ("nu", "lam", "mu", "gamma", "pi", "s"))
    e = np.linspace(-8.5, 8.5, 1201)
    u = np.linspace(-8.5 * s, 8.5 * s, 1201)
    we, wu = np.full(e.size, e[1] - e[0]) * norm.pdf(e), np.full(u.size, u[1] - u[0]) * norm.pdf(u, scale=s)
    we[[0, -1]] *= 0.5
    wu[[0, -1]] *= 0.5
    U, E = u[:, None, None, None], e[None, :, None, None]  # (u, e, class, item)
    out = []
    for j in np.unique(cluster):
        total = np.zeros(u.size)
        for i in np.flatnonzero(cluster == j):
            eta = mu[None, None, :, None] + gamma * x[i] + E \
                + (U if kind == "factor intercept" else 0.0) + (U * x[i] if kind == "slope f ON x1" else 0.0)
            lam_u = lam + (U * np.array([0.0, 0.0, 1.0]) if kind == "loading f BY y3" else 0.0)
            logit = nu[None, None] + lam_u * eta + (U * np.array([0.0, 1.0, 0.0]) if kind == "item intercept" else 0.0)
            p = expit(logit)
            density = np.prod(np.where(y[i] == 1, p, 1 - p), axis=-1)  # (u, e, class)
            total += np.log(np.einsum("uec,e,c->u", density, we, pi))
        out.append(logsumexp(total, b=wu))
    return np.array(out)


@pytest.mark.parametrize("kind", list(ORACLE_RANDOM))
def test_nested_quadrature_matches_scipy(kind):
    rng = np.random.default_rng(11)
    df = two_level_frame(5, clusters=3, size=4, items=3, binary=True)
    items = ["y1", "y2", "y3"]
    m = bm.mixture_sem(df, items, 2, factors={"f": items}, regressions={"f": ["x1"]}, cluster="school",
                       random=ORACLE_RANDOM[kind], class_specific=["intercepts"],
                       integration={"points": 40, "within": {"points": 40}})
    values = m.random_start(rng)
    values["random_sd"] = np.array([0.9])
    names = ["binary_logit", "loading_matrix", "factor_mean", "factor_covariate_effect", "class_intercept"]
    nu, lam, mu, gamma, alpha = evaluate(m, values, [m.model[n] for n in names], "oracle-values")
    pi = np.exp([alpha[0], 0.0]) / np.exp([alpha[0], 0.0]).sum()
    theta = {"nu": nu, "lam": lam[0], "mu": mu[:, 0], "gamma": float(gamma[0]), "pi": pi, "s": 0.9}
    expected = oracle_cluster_loglik(df[items].to_numpy(), df["x1"].to_numpy(), m.data.cluster_index, theta, kind)
    got = loglik_at(m, values)
    assert got.shape == (3,)
    assert np.allclose(got, expected, atol=1e-6, rtol=0), (got, expected)


# ----------------------------------------------------------------------------- recovery
def test_ml_recovers_random_intercept_sd():
    """Independent simulator: 2 classes (factor means 0 / 2), one factor on 4 continuous items, y1's
    intercept random over 30 clusters of 10 with SD 0.8 (eq. 2, 3, 5); adaptive quadrature over the
    cluster effect (its posterior is much narrower than its prior here)."""
    rng = np.random.default_rng(2024)
    n_clusters, size, sd_u = 30, 10, 0.8
    n = n_clusters * size
    cluster = np.repeat(np.arange(n_clusters), size)
    u = rng.normal(0.0, sd_u, n_clusters)[cluster]
    c = (rng.uniform(size=n) < 0.4).astype(int)
    eta = np.where(c == 1, 2.0, 0.0) + rng.normal(size=n)
    lam = np.array([1.0, 0.8, 1.2, 0.9])
    y = eta[:, None] * lam + rng.normal(0.0, 0.5, (n, 4))
    y[:, 0] += u
    df = pd.DataFrame(y, columns=["y1", "y2", "y3", "y4"])
    df["school"] = cluster
    m = bm.mixture_sem(df, list(df.columns[:4]), 2, factors={"f": ["y1", "y2", "y3", "y4"]}, cluster="school",
                       random={"intercepts": ["y1"]},
                       integration={"points": 8, "adaptive": True, "within": {"points": 10}})
    ml = quiet(m.fit_ml, starts=(2, 1), seed=1, progressbar=False)
    est = ml.params.loc["random_sd[y1~1]"]
    assert abs(est["estimate"] - sd_u) < 0.2, est
    assert est["se"] > 0 and abs(est["estimate"] - sd_u) < 3 * est["se"]
    ratio = ml.params.loc["loading[f, y3]", "estimate"] / ml.params.loc["loading_first[f]", "estimate"]
    assert abs(ratio - 1.2) < 0.15  # the within measurement survives the cluster effect


# ----------------------------------------------------------------------------- NUTS
def test_nuts_samples_both_levels_with_per_cluster_log_likelihood():
    df = two_level_frame(9, clusters=4, size=5, items=3)
    m = bm.mixture_sem(df, ["y1", "y2", "y3"], 1, factors={"f": ["y1", "y2", "y3"]}, cluster="school",
                       random={"intercepts": ["f"]}, integration={"points": 8, "within": {"points": 8}})
    assert set(m.integrated) == {"random_z", "factor_z"}
    idata = quiet(m.sample, draws=30, tune=30, chains=1, random_seed=3, progressbar=False, init="map", starts=2,
                  sampler="pymc")
    post = idata["posterior"]
    assert post["random_z"].shape[-2:] == (4, 1) and post["factor_z"].shape[-2:] == (20, 1)
    ll = idata["log_likelihood"]["y"]
    assert ll.dims[-1] == "cluster" and ll.shape[-1] == 4
    assert np.isfinite(ll.values).all()


# ----------------------------------------------------------------------------- bad input
BASE = {"factors": {"f": ["y1", "y2", "y3"]}, "regressions": {"f": ["x1"]}}


@pytest.mark.parametrize("kwargs, match", [
    ({"cluster": "school", "random": {"intercept": ["y1"]}}, r"random: unknown key\(s\) \['intercept'\]"),
    ({"cluster": "school", "random": {"intercepts": ["y9"]}}, r"random\['intercepts'\]: 'y9' is neither"),
    ({"cluster": "school", "random": {"slopes": [("f", "w")]}}, r"random\['slopes'\]: \('f', 'w'\) is not a "
                                                                r"regression.*regressions=\{'f': \['w'\]\}"),
    ({"cluster": "school", "random": {"slopes": ["f"]}}, r"random\['slopes'\]: 'f' is not a \(left, right\) pair"),
    ({"cluster": "school", "random": {"loadings": [("f", "y4")]}}, r"random\['loadings'\]: \('f', 'y4'\)"),
    ({"cluster": "school", "random": {"intercepts": ["y1"], "covariance": "lkj"}}, r"random\['covariance'\]"),
    ({"cluster": "school", "random": {"intercepts": ["y1"], "covariance": "factor"}}, "at least two"),
    ({"cluster": "school", "random": {"intercepts": ["y1", "y1"]}}, "given twice"),
    ({"cluster": "school", "random": {}}, "random names no parameter"),
    ({"random": {"intercepts": ["y1"]}}, r"random need"),
    ({"cluster": "school"}, r"cluster='school' without random="),
    ({"cluster": "nope", "random": {"intercepts": ["y1"]}}, r"cluster.*nope"),
    ({"cluster": "unit", "random": {"intercepts": ["y1"]}}, "every cluster of 'unit' has one row"),
    ({"cluster": "one", "random": {"intercepts": ["y1"]}}, "single cluster"),
    ({"cluster": "school", "random": {"intercepts": ["y1"]}, "cluster_covariates": ["x1"]},
     "cluster_covariates.*vary within cluster"),
    ({"random": {"intercepts": ["y1"]}, "cluster": "school", "integration": {"within": 5}}, r"integration\['within'\]"),
    ({"integration": {"within": {"points": 5}}}, r"integration\['within'\] sets the rule"),
])
def test_bad_random_input_raises_before_compiling(kwargs, match):
    df = two_level_frame(1, clusters=4, size=3, items=3)
    df["unit"], df["one"] = np.arange(len(df)), 0
    with pytest.raises(ValueError, match=match):
        bm.mixture_sem(df, ["y1", "y2", "y3"], 2, **{**BASE, **kwargs})


def test_nominal_item_cannot_take_a_random_intercept():
    df = two_level_frame(1, clusters=4, size=3, items=3)
    df["n"] = np.tile([0, 1, 2], 4)
    with pytest.raises(ValueError, match=r"items \['n'\] are nominal"):
        bm.mixture_sem(df, ["y1", "y2", "y3", "n"], 2, item_types={"n": "nominal"}, cluster="school",
                       factors={"f": ["y1", "y2", "y3"]}, random={"intercepts": ["n"]})


def test_too_many_nodes_points_to_nuts():
    df = two_level_frame(1, clusters=4, size=3, items=6)
    m = bm.mixture_sem(df, [f"y{j + 1}" for j in range(6)], 1,
                       factors={"f1": ["y1", "y2", "y3"], "f2": ["y4", "y5", "y6"]}, cluster="school",
                       random={"intercepts": ["y1", "y4"], "covariance": "full"})
    assert m.integration["points"] == 4  # 4**2 cluster nodes x 15**2 factor nodes fit MAX_NODES
    with pytest.raises(ValueError, match=r"ML by quadrature is not practical here. Use sample\(\)"):
        m.integrated_loglik({"points": 10})


# ----------------------------------------------------------------------------- spec, save / load
def test_spec_and_save_load_round_trip(tmp_path):
    from bayesmix.spec import write_spec
    df = two_level_frame(4, clusters=4, size=4, items=3)
    random = {"intercepts": ["y1", "f"], "slopes": [("f", "x1")], "covariance": "full"}
    m = bm.mixture_sem(df, ["y1", "y2", "y3"], 2, factors={"f": ["y1", "y2", "y3"]}, regressions={"f": ["x1"]},
                       cluster="school", random=random, cluster_covariates=["w"],
                       integration={"points": 3, "within": {"points": 6}})
    values = m.random_start(np.random.default_rng(2))
    expected = loglik_at(m, values)
    spec = bm.to_spec(m, data_path=tmp_path / "data.csv")
    assert spec["model"]["random"]["slopes"] == [["f", "x1"]] and spec["model"]["cluster"] == "school"
    text = write_spec(spec, tmp_path / "m.toml").read_text()
    assert "random" in text
    m2 = bm.from_spec(tmp_path / "m.toml")
    assert m2.spec.random == m.spec.random and m2.spec.random_covariance == "full"
    assert np.allclose(loglik_at(m2, values), expected, atol=1e-10, rtol=0)
    bm.save(tmp_path / "fit.bmx", m)
    back, _ = bm.load(tmp_path / "fit.bmx")
    assert np.allclose(loglik_at(back, values), expected, atol=1e-10, rtol=0)
    assert "random over clusters" in m.spec.describe()


def test_unsupported_results_refuse_clearly():
    df = two_level_frame(4, clusters=4, size=4, items=3)
    m = bm.mixture_sem(df, ["y1", "y2", "y3"], 1, factors={"f": ["y1", "y2", "y3"]}, cluster="school",
                       random={"intercepts": ["y1"]}, integration={"points": 3, "within": {"points": 5}})
    point = m.random_start(np.random.default_rng(0))
    with pytest.raises(ValueError, match="factor_scores of a model with cluster random coefficients"):
        m.factor_scores(point)
    with pytest.raises(ValueError, match="posterior predictive replicates of a mixture_sem with cluster random"):
        m.posterior_predictive(point, draws=2)


def test_regression_among_random_coefficients_is_the_cholesky_model():
    """B of eq. 5: u_slope = b u_int + e maps z like the Cholesky factor [[s1, 0], [b s1, s2]] (exact)."""
    df = two_level_frame(6, clusters=4, size=4, items=3, binary=True)
    common = dict(factors={"f": ["y1", "y2", "y3"]}, regressions={"f": ["x1"]}, cluster="school",
                  integration={"points": 5, "within": {"points": 9}})
    structural = bm.mixture_sem(df, ["y1", "y2", "y3"], 2, **common,
                                random={"slopes": [("f", "x1")], "intercepts": ["f"],
                                        "regressions": {"f~x1": ["f~1"]}})
    assert [t.label for t in structural.spec.random] == ["f~1", "f~x1"]  # predictors first
    full = bm.mixture_sem(df, ["y1", "y2", "y3"], 2, **common,
                          random={"intercepts": ["f"], "slopes": [("f", "x1")], "covariance": "full"})
    values = structural.random_start(np.random.default_rng(4))
    s1, s2, b = 0.7, 0.4, -0.6
    values.update(random_sd=np.array([s1, s2]), random_regression=np.array([b]))
    other = {k: v for k, v in values.items() if k not in ("random_sd", "random_regression")}
    other["random_chol"] = np.array([s1, b * s1, s2])
    assert np.allclose(loglik_at(structural, values), loglik_at(full, other), atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="cyclic"):
        bm.mixture_sem(df, ["y1", "y2", "y3"], 2, **common, random={
            "intercepts": ["f"], "slopes": [("f", "x1")], "regressions": {"f~x1": ["f~1"], "f~1": ["f~x1"]}})
    with pytest.raises(ValueError, match=r"\['f~2'\] are not random coefficients"):
        bm.mixture_sem(df, ["y1", "y2", "y3"], 2, **common, random={"intercepts": ["f"], "regressions": {"f~1": ["f~2"]}})
