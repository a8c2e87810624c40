"""The core layers the next model families compose (issue 7).

- item kernels: per-item log-likelihood (..., N, I, K), a shift of the linear
  predictor, one parameter set bound to several data blocks, fixed parameters;
- the latent-effects object: diagonal / factor / structural forms (eq. 5, 15, 35);
- the parameter registry read by the optimizer bounds;
- the structure layer's posteriors and proportions, and three defects that
  gave wrong numbers before (cluster proportions after NUTS vs ML, section 6
  population proportions, a frozen between-class posterior);
- the BIC sample size owned by the model.

Checked against scipy / numpy computations written out here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy import stats
from scipy.special import expit, log_expit, logsumexp, softmax

import bayesmix as bm
from bayesmix._compile import function
from bayesmix.data import encode
from bayesmix.inference.objective import flat_model
from bayesmix.kernels import build_kernels
from bayesmix.latent import LatentEffects
from bayesmix.parameters import free_start, registry_of
from bayesmix.priors import PriorSet


def _frame(seed=0, n=7):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "b1": rng.integers(0, 2, n), "b2": rng.integers(0, 2, n),
        "o1": rng.integers(0, 3, n), "o2": rng.integers(0, 4, n),
        "c1": rng.normal(size=n), "c2": rng.normal(size=n) * 2 + 1,
    }).astype(float)
    df.loc[0, "b1"] = np.nan
    df.loc[1, "o2"] = np.nan
    df.loc[2, "c1"] = np.nan
    # make sure every category is observed
    df.loc[3:6, "b1"], df.loc[3:6, "b2"] = [0, 1, 0, 1], [1, 0, 1, 0]
    df.loc[3:5, "o1"], df.loc[3:6, "o2"] = [0, 1, 2], [0, 1, 2, 3]
    return df


TYPES = {"b1": "binary", "b2": "binary", "o1": "ordinal", "o2": "ordinal", "c1": "continuous", "c2": "continuous"}


def _kernels(df, k=2, link="logit", items=None):
    encoded = encode(df, list(TYPES), k, item_types=TYPES)
    kernels = build_kernels(encoded, link=link, items=items)
    coords = {"class": [f"c{i}" for i in range(k)]}
    for kern in kernels:
        coords.update(kern.coords())
    model = pm.Model(coords=coords)
    with model:
        for kern in kernels:
            kern.build(PriorSet())
    return model, encoded, kernels


def _values(model, seed=1):
    rng = np.random.default_rng(seed)
    point = model.initial_point()
    out = {}
    for rv in model.free_RVs:
        shape = np.shape(point[model.rvs_to_values[rv].name])
        out[rv.name] = rng.normal(0, 1, size=shape) if "sd" not in rv.name else rng.uniform(0.5, 2, size=shape)
    return out


def _evaluate(model, graphs, values):
    fn = function(model.free_RVs, graphs)
    return fn(*[values[rv.name] for rv in model.free_RVs])


def _oracle_item_loglik(df, values, shift, link="logit"):
    """(N, I, K) by scipy, items in TYPES order; shift (N, I, K) added to the linear predictor."""
    n, k = len(df), values["binary_logit"].shape[0]
    out = np.zeros((n, 6, k))
    logcdf = log_expit if link == "logit" else stats.norm.logcdf
    cdf = expit if link == "logit" else stats.norm.cdf
    first, gaps = values["ordinal_first_threshold"], np.exp(values["ordinal_log_gap"])
    tau = {0: np.stack([first[:, 0], first[:, 0] + gaps[:, 0]], 1),
           1: np.stack([first[:, 1], first[:, 1] + gaps[:, 1], first[:, 1] + gaps[:, 1] + gaps[:, 2]], 1)}
    for r in range(n):
        for c in range(k):
            for i, name in enumerate(TYPES):
                y = df[name].iloc[r]
                if np.isnan(y):
                    continue
                s = shift[r, i, c]
                if i < 2:
                    eta = values["binary_logit"][c, i] + s
                    out[r, i, c] = logcdf(eta) if y == 1 else logcdf(-eta)
                elif i < 4:
                    t = np.concatenate([[-np.inf], tau[i - 2][c] - s, [np.inf]])
                    out[r, i, c] = np.log(cdf(t[int(y) + 1]) - cdf(t[int(y)]))
                else:
                    j = i - 4
                    out[r, i, c] = stats.norm.logpdf(y, values["normal_mean"][c, j] + s, values["normal_sd"][c, j])
    return out


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_per_item_loglik_and_shift_match_scipy(link):
    df = _frame()
    model, _, kernels = _kernels(df, k=2, link=link)
    values = _values(model)
    shift = np.random.default_rng(2).normal(size=(len(df), 6, 2))
    blocks = {"binary": slice(0, 2), "ordinal": slice(2, 4), "continuous": slice(4, 6)}
    graphs = []
    for kern in kernels:
        graphs += [kern.loglik_by_item(), kern.loglik(), kern.loglik_by_item(shift=shift[:, blocks[kern.kind]]),
                   kern.loglik(shift=shift[:, blocks[kern.kind]])]
    out = _evaluate(model, graphs, values)
    plain = _oracle_item_loglik(df, values, np.zeros_like(shift), link)
    shifted = _oracle_item_loglik(df, values, shift, link)
    for n_kern, kern in enumerate(kernels):
        sl = blocks[kern.kind]
        by_item, summed, by_item_s, summed_s = out[4 * n_kern: 4 * n_kern + 4]
        np.testing.assert_allclose(by_item, plain[:, sl], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(summed, plain[:, sl].sum(1), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(by_item_s, shifted[:, sl], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(summed_s, shifted[:, sl].sum(1), rtol=1e-9, atol=1e-12)
        assert np.all(by_item[np.isnan(df[list(TYPES)].to_numpy()[:, sl])] == 0.0)  # missing -> exactly 0


def test_shift_broadcasts_over_leading_node_axis():
    df = _frame()
    model, _, kernels = _kernels(df)
    values = _values(model)
    shift = np.random.default_rng(3).normal(size=(3, len(df), 1, 1))  # (Q, N, 1, 1): one shift per unit and node
    binary = kernels[0]
    (out,) = _evaluate(model, [binary.loglik_by_item(shift=shift)], values)
    assert out.shape == (3, len(df), 2, 2)
    (one,) = _evaluate(model, [binary.loglik_by_item(shift=shift[1])], values)
    np.testing.assert_allclose(out[1], one, rtol=1e-12)


def test_nominal_kernel_refuses_a_shift():
    df = pd.DataFrame({"n1": [0, 1, 2, 0, 1, 2.0], "n2": [1, 0, 1, 0, 1, 0.0]})
    encoded = encode(df, ["n1", "n2"], 2, item_types={"n1": "nominal", "n2": "binary"})
    kern = build_kernels(encoded)[1]
    assert kern.kind == "nominal"
    with pm.Model(coords={"class": ["a", "b"], **kern.coords()}):
        kern.build(PriorSet())
        with pytest.raises(ValueError, match="no single latent response"):
            kern.loglik(shift=np.zeros((6, 1, 1)))


def test_one_parameter_set_serves_several_time_blocks():
    """Measurement invariance: the same items at two times share parameters (eq. 6 / 11)."""
    rng = np.random.default_rng(4)
    df = pd.DataFrame(rng.integers(0, 2, size=(9, 4)).astype(float), columns=["a_t1", "b_t1", "a_t2", "b_t2"])
    df.loc[0, "a_t2"] = np.nan
    encoded = encode(df, list(df), 2, item_types="binary")
    (k1,) = build_kernels(encoded, items=["a_t1", "b_t1"])
    with pm.Model(coords={"class": ["x", "y"], **k1.coords()}) as model:
        k1.build(PriorSet())
        k2 = k1.bind(encoded.items_of("binary")[2:], encoded)
        assert k2.params is k1.params and k2.names == ["a_t2", "b_t2"]
        graphs = [k1.loglik(), k2.loglik()]
    assert len(model.free_RVs) == 1  # one parameter set
    beta = np.array([[0.3, -1.2], [1.5, 0.4]])
    ll1, ll2 = function(model.free_RVs, graphs)(beta)
    for ll, cols in ((ll1, ["a_t1", "b_t1"]), (ll2, ["a_t2", "b_t2"])):
        y = df[cols].to_numpy()
        expected = np.zeros((9, 2))
        for c in range(2):
            terms = np.where(y == 1, log_expit(beta[c]), log_expit(-beta[c]))
            expected[:, c] = np.where(np.isnan(y), 0.0, terms).sum(1)
        np.testing.assert_allclose(ll, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="cannot measure"):
        k1.bind(encoded.items_of("binary")[:1], encoded)


def test_fixed_parameters_are_constants_and_partly_fixed_ones_join_free_elements():
    """tau_i1 = 15 style constraints (eq. 45-47): fixed elements are not estimated."""
    df = _frame()
    encoded = encode(df, ["b1", "b2"], 2, item_types="binary")
    (kern,) = build_kernels(encoded)
    fixed = np.array([[15.0, 15.0], [np.nan, np.nan]])  # class 1 fixed, class 2 free
    with pm.Model(coords={"class": ["g", "c"], **kern.coords()}) as model:
        kern.build(PriorSet(), fixed={"binary_logit": fixed})
    free = {rv.name: rv for rv in model.free_RVs}
    assert list(free) == ["binary_logit_free"]
    assert model.coords["binary_logit_free_element"] == ("c, b1", "c, b2")
    (beta,) = function(model.free_RVs, [kern.params["binary_logit"]])(np.array([0.5, -0.25]))
    np.testing.assert_array_equal(beta, [[15.0, 15.0], [0.5, -0.25]])
    info = registry_of(model)["binary_logit"]
    np.testing.assert_array_equal(info.fixed, [[True, True], [False, False]])
    start = free_start(registry_of(model), kern.random_start(np.random.default_rng(0), 2))
    assert set(start) == {"binary_logit_free"} and start["binary_logit_free"].shape == (2,)
    with pm.Model(coords={"class": ["g", "c"], **kern.coords()}) as model2:
        kern.build(PriorSet(), fixed={"binary_logit": 1.0})
    assert model2.free_RVs == []


def test_latent_effects_forms():
    """u = (I - B)^-1 (Gamma' w + Lambda z): diagonal, factor (eq. 35) and structural (eq. 15) forms."""
    rng = np.random.default_rng(5)
    n_levels = 6
    w = rng.normal(size=(n_levels, 1))
    z = rng.normal(size=(n_levels, 3))
    coords = {"cluster": [f"j{i}" for i in range(n_levels)]}
    with pm.Model(coords=coords) as model:
        factor = LatentEffects(["a", "b", "c"], None, n_levels, form="factor", dim="fa", prefix="person")
        factor.build(PriorSet())
        structural = LatentEffects(["t1", "t2", "t3"], None, n_levels, w, ["w"], form="structural", dim="st",
                                   structure=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], bool), prefix="time")
        structural.build(PriorSet())
        graphs = [factor.values(pt.as_tensor(z[:, :1])), structural.values(pt.as_tensor(z)),
                  structural.covariance(), factor.covariance()]
    assert factor.n_dims == 1 and structural.n_dims == 3
    assert {"person_loading_first", "person_z", "time_sd", "time_regression", "time_slope", "time_z"} <= \
        {rv.name for rv in model.free_RVs}
    values = {"person_loading_first": 0.8, "person_loading_rest": np.array([-0.5, 1.2]), "person_z": z[:, :1],
              "time_sd": np.array([1.0, 0.5, 0.7]), "time_regression": np.array([0.6, -0.4]),
              "time_slope": np.array([[0.3, 0.0, 0.1]]), "time_z": z}
    names = [rv.name for rv in model.free_RVs]
    u_factor, u_struct, cov_struct, cov_factor = function(model.free_RVs, graphs)(*[values[n] for n in names])
    lam = np.array([0.8, -0.5, 1.2])
    np.testing.assert_allclose(u_factor, z[:, :1] * lam, rtol=1e-12)
    np.testing.assert_allclose(cov_factor, np.outer(lam, lam), rtol=1e-12)
    e = w @ values["time_slope"] + z * values["time_sd"]
    u1 = e[:, 0]
    u2 = e[:, 1] + 0.6 * u1
    u3 = e[:, 2] - 0.4 * u2
    np.testing.assert_allclose(u_struct, np.stack([u1, u2, u3], 1), rtol=1e-12)
    b = np.array([[0, 0, 0], [0.6, 0, 0], [0, -0.4, 0]])
    inv = np.linalg.inv(np.eye(3) - b)
    np.testing.assert_allclose(cov_struct, inv @ np.diag(values["time_sd"] ** 2) @ inv.T, rtol=1e-10)
    with pytest.raises(ValueError, match="strictly lower triangular"):
        LatentEffects(["a", "b"], None, 3, form="structural", structure=np.array([[0, 1], [0, 0]], bool))


def test_registry_drives_optimizer_bounds(sim3):
    m = bm.lca(sim3.data, items=sim3.items, n_classes=3, covariates=sim3.covariates)
    reg = m.parameters
    assert reg["binary_logit"].class_axis == 0 and not reg["binary_logit"].reference_coded
    assert reg["class_intercept"].reference_coded and reg["class_slope"].class_axis == 1
    assert m.class_parameters() == {"class_intercept": (0, True), "class_slope": (1, True), "binary_logit": (0, False)}
    flat = flat_model(m)
    bounded = dict(zip(flat.labels(), flat.bounds))
    assert bounded["class_slope[x1, class1]"] == (None, None)
    assert bounded["binary_logit[class1, y1]"] == (-30.0, 30.0)


# ================================================================== structure: defects and posteriors
def _two_level_frame(seed=0, sizes=(2, 7, 3, 5, 4)):
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    n = len(cluster)
    y = rng.integers(0, 2, size=(n, 4)).astype(float)
    y[0, 0], y[0, 1] = 0, 1
    y[1, 0], y[1, 1] = 1, 0
    df = pd.DataFrame(y, columns=["y1", "y2", "y3", "y4"])
    df["school"] = [f"s{j}" for j in cluster]
    df["w"] = rng.normal(size=len(sizes))[cluster]
    return df


def _posterior_at(m, values: dict, with_z: np.ndarray | None = None) -> xr.DataTree:
    """A one-draw posterior at given parameter values (as after ML/Laplace; with random_z as after NUTS)."""
    data = {}
    for rv in m.model.free_RVs:
        if rv.name in m.integrated and with_z is None:
            continue
        value = with_z if rv.name in m.integrated else values[rv.name]
        arr = np.asarray(value, dtype=float)[None, None]
        dims = list(m.model.named_vars_to_dims.get(rv.name) or [f"{rv.name}_dim_{i}" for i in range(arr.ndim - 2)])
        data[rv.name] = (["chain", "draw", *dims], arr)
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data, coords={"chain": [0], "draw": [0]})})


def test_cluster_class_proportions_are_one_quantity_after_nuts_and_ml():
    """Defect: after NUTS (random_z in the posterior) they were P(C | alpha_j) at the sampled z,
    after ML/Laplace the mean posterior membership. Now E[mean_i P(C_ij | alpha_j) | y_j] in both."""
    df = _two_level_frame()
    m = bm.lca(df, items=["y1", "y2", "y3", "y4"], n_classes=2, cluster="school", random_intercept=True)
    values = {"class_intercept": np.array([0.4]), "random_sd": np.array([1.3]),
              "binary_logit": np.array([[1.5, -1.0, 0.8, 2.0], [-1.2, 0.9, -0.6, -1.5]])}
    z = np.random.default_rng(1).normal(size=(5, 1)) * 3
    ml_like = m.cluster_class_proportions(_posterior_at(m, values))
    nuts_like = m.cluster_class_proportions(_posterior_at(m, values, with_z=z))
    np.testing.assert_allclose(nuts_like.to_numpy(), ml_like.to_numpy(), rtol=1e-12)
    # numpy: sum_q P(z_q | y_j) mean_i P(C_ij = 1 | alpha_j(z_q)), trapezoid 30 nodes on [-5, 5]
    nodes = np.linspace(-5, 5, 30)
    logw = stats.norm.logpdf(nodes) - logsumexp(stats.norm.logpdf(nodes))
    beta = values["binary_logit"]
    y = df[["y1", "y2", "y3", "y4"]].to_numpy()
    ll = np.stack([np.where(y == 1, log_expit(beta[c]), log_expit(-beta[c])).sum(1) for c in range(2)], 1)
    ids = np.array([list(m.data.clusters).index(s) for s in df["school"]])
    expected = np.zeros((5, 2))
    for j in range(5):
        rows = ids == j
        logit = values["class_intercept"][0] + values["random_sd"][0] * nodes  # (Q,)
        log_prior = np.stack([log_expit(logit), log_expit(-logit)], 1)  # (Q, K)
        cond = logsumexp(log_prior[:, None, :] + ll[rows][None], axis=2).sum(1)  # (Q,)
        post_q = softmax(cond + logw)
        expected[j] = post_q @ np.exp(log_prior)
    np.testing.assert_allclose(ml_like.to_numpy(), expected, rtol=1e-9)


def test_section6_population_proportions_with_unequal_clusters_and_covariate():
    """Defect: P(C = c) was mean_j P(D_j) times mean_i P(C | d) (a product of means)."""
    df = _two_level_frame(seed=3, sizes=(2, 9, 3, 6))
    m = bm.lca(df, items=["y1", "y2", "y3", "y4"], n_classes=2, cluster="school", n_between_classes=2,
               cluster_covariates=["w"])
    values = {"class_intercept": np.array([0.7]), "class_between_effect": np.array([[-2.0]]),
              "between_class_intercept": np.array([0.3]), "between_class_slope": np.array([[2.5]]),
              "binary_logit": np.ones((2, 4))}
    (props,) = flat_model(m).evaluate("test_props", [m.proportion_tensor()],
                                      flat_model(m).to_theta(values))
    ids = np.array([list(m.data.clusters).index(s) for s in df["school"]])
    w = df["w"].to_numpy()
    p_d1 = expit(0.3 + 2.5 * w)  # P(D_j = 1 | w_j) per unit's cluster
    p_c1_d = {0: expit(0.7 - 2.0), 1: expit(0.7)}  # gamma_c,M = 0
    p_c1 = p_d1 * p_c1_d[0] + (1 - p_d1) * p_c1_d[1]
    np.testing.assert_allclose(props, [p_c1.mean(), 1 - p_c1.mean()], rtol=1e-10)
    wrong = p_d1[np.unique(ids, return_index=True)[1]].mean()  # the old product of means
    old = wrong * p_c1_d[0] + (1 - wrong) * p_c1_d[1]
    assert abs(old - p_c1.mean()) > 1e-3


def test_mixture_regression_between_posterior_honours_the_integration_setting():
    """Defect: the between-class posterior was frozen with the factory's rule (and GH15 was the default)."""
    rng = np.random.default_rng(2)
    cluster = np.repeat(np.arange(6), 5)
    u = rng.normal(size=6)[cluster] * 1.5
    x = rng.normal(size=30)
    cls = np.array([0, 1, 0, 1, 1, 0])[cluster]
    df = pd.DataFrame({"y": np.where(cls == 0, 0.0, 2.0) + x + u + rng.normal(size=30) * 0.5, "x": x,
                       "school": cluster})
    m = bm.mixture_regression(df, "y", ["x"], 2, cluster="school", class_level="between", random="intercept")
    assert m.integration["method"] == "trapezoid" and m.integration["points"] is None
    flat = flat_model(m)
    values = {"class_intercept": np.array([0.2]), "regression_intercept": np.array([0.0, 2.0]),
              "regression_slope": np.array([[1.0], [1.0]]), "residual_sd": np.array(1.2),
              "random_sd": np.array([0.6])}
    theta = flat.to_theta(values)
    coarse, fine, fine_gh = flat.evaluate("test_between_post", [
        m.class_probability_tensor({"method": "gauss-hermite", "points": 2}),
        m.class_probability_tensor({"method": "trapezoid", "points": 101}),
        m.class_probability_tensor({"method": "gauss-hermite", "points": 40})], theta)
    np.testing.assert_allclose(fine, fine_gh, atol=1e-5)
    assert np.max(np.abs(coarse - fine)) > 1e-3
    ml = m.fit_ml(starts=2, seed=0, integration={"method": "gauss-hermite", "points": 2})
    np.testing.assert_allclose(ml.posterior_probabilities.to_numpy(),
                               flat_model(m, {"method": "gauss-hermite", "points": 2}).evaluate(
                                   "test_post_gh2", [m.class_probability_tensor(
                                       {"method": "gauss-hermite", "points": 2})], ml.theta)[0], rtol=1e-10)


def test_bic_sample_size_counts_units_not_clusters():
    df = _two_level_frame(seed=4, sizes=(6, 8, 5, 7))
    m = bm.lca(df, items=["y1", "y2", "y3", "y4"], n_classes=2, cluster="school", random_intercept=True)
    assert m.loglik_dim == "cluster" and m.sample_size == len(df)
    ml = m.fit_ml(starts=2, seed=0)
    assert ml.n_obs == len(df)
    np.testing.assert_allclose(ml.bic, -2 * ml.loglik + ml.n_params * np.log(len(df)))
