"""GoM results and options of section 7 beyond the core (issue 9).

Conditional class probability curves P(C_ij = k | alpha_1j) (figures 2-3)
against closed forms and a numpy Monte Carlo; the ICC of alpha_1j (eq. 20) as
``class_icc``; starts from an LCA solution; item-specific covariates on the
membership (the product of an item dummy and a covariate).
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit, softmax

import bayesmix as bm
from bayesmix._compile import function
from bayesmix.datasets.simulate_gom import simulate_gom
from bayesmix.families.gom import membership_curves

GRID = np.linspace(-2.5, 2.5, 11)


def _at(mm, point):
    """A point fit: the dict of free variables (natural scale), as :func:`bayesmix.evaluate.as_fit` takes it."""
    return dict(point)


def _graph_at(mm, graph, point):
    rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    return function(rvs, graph)(*[point[rv.name] for rv in rvs])


@pytest.fixture(scope="module")
def small():
    return simulate_gom(60, 5, 3, seed=2)


def test_two_class_curve_is_logistic_in_the_standardized_logit(small):
    """K = 2: P(C_ij = 1 | alpha_1j) = expit(alpha_1 + sd t) (eq. 30); the ICC is sd^2 / (sd^2 + pi^2/3)."""
    mm = bm.gom(small.data, small.items, 2)
    point = mm.random_start(np.random.default_rng(0))
    point["class_intercept"] = np.array([0.7])
    point["membership_sd"] = np.array([3.0])
    curves = membership_curves(mm, _at(mm, point), grid=GRID)
    assert list(curves.columns) == ["class1", "class2"] and curves.index.name == "alpha1_std"
    np.testing.assert_allclose(curves["class1"], expit(0.7 + 3.0 * GRID), atol=1e-12)
    np.testing.assert_allclose(curves.sum(axis=1), 1.0, atol=1e-12)
    icc = _graph_at(mm, mm.model["class_icc"], point)
    np.testing.assert_allclose(icc, [9.0 / (9.0 + np.pi**2 / 3)], atol=1e-12)


def test_three_class_curves_average_to_the_membership_mean(small):
    """K = 3 logistic-normal: the curves averaged over t ~ N(0, 1) equal E[softmax(alpha_j)] (numpy Monte Carlo)."""
    mm = bm.gom(small.data, small.items, 3)
    point = mm.random_start(np.random.default_rng(1))
    mu = np.array([0.4, -0.3])
    chol = np.array([[1.5, 0.0], [0.9, 1.1]])
    point["class_intercept"] = mu
    point["membership_chol"] = chol[np.tril_indices(2)]
    t, w = np.polynomial.hermite_e.hermegauss(40)
    curves = membership_curves(mm, _at(mm, point), grid=t, nodes=30)
    by_quadrature = (w / w.sum()) @ curves.to_numpy()
    alpha = mu + np.random.default_rng(5).normal(size=(400_000, 2)) @ chol.T
    by_mc = softmax(np.column_stack([alpha, np.zeros(len(alpha))]), axis=1).mean(0)
    np.testing.assert_allclose(by_quadrature, by_mc, atol=3e-3)
    sigma = chol @ chol.T
    icc = _graph_at(mm, mm.model["class_icc"], point)
    np.testing.assert_allclose(icc, np.diag(sigma) / (np.diag(sigma) + np.pi**2 / 3), atol=1e-12)


def test_restricted_curves_follow_the_factor(small):
    """Restricted (eq. 35): alpha_cj = alpha_c + lambda_c eta_j, so the curve at t is softmax(alpha + lambda t)."""
    mm = bm.gom(small.data, small.items, 3, membership="restricted")
    point = mm.random_start(np.random.default_rng(2))
    point["class_intercept"] = np.array([0.2, -0.5])
    point["membership_loading_first"] = np.array(1.8)
    point["membership_loading_rest"] = np.array([-0.7])
    curves = membership_curves(mm, _at(mm, point), grid=GRID)
    logits = np.array([0.2, -0.5]) + np.outer(GRID, [1.8, -0.7])
    expected = softmax(np.column_stack([logits, np.zeros(len(GRID))]), axis=1)
    np.testing.assert_allclose(curves.to_numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(_graph_at(mm, mm.model["class_icc"], point),
                               np.array([1.8, 0.7])**2 / (np.array([1.8, 0.7])**2 + np.pi**2 / 3), atol=1e-12)


def test_posterior_curves_have_mean_and_interval(small):
    """From draws: the mean of the per-draw curves, lower <= mean <= upper; the plot returns its axes."""
    mm = bm.gom(small.data, small.items, 2)
    rng = np.random.default_rng(3)
    n_chain, n_draw = 2, 10
    sd = rng.uniform(0.5, 4.0, size=(n_chain, n_draw, 1))
    alpha = rng.normal(size=(n_chain, n_draw, 1))
    beta = rng.normal(size=(n_chain, n_draw, 2, len(small.items)))
    posterior = xr.Dataset({
        "membership_sd": (("chain", "draw", "class_free"), sd),
        "class_intercept": (("chain", "draw", "class_free"), alpha),
        "binary_logit": (("chain", "draw", "class", "item"), beta),
    })
    idata = xr.DataTree.from_dict({"posterior": posterior})
    curves = membership_curves(mm, idata, grid=GRID, ci_prob=0.8)
    expected = expit(alpha.reshape(-1, 1) + sd.reshape(-1, 1) * GRID).mean(0)
    np.testing.assert_allclose(curves[("class1", "mean")], expected, atol=1e-12)
    assert (curves[("class1", "lower")] <= curves[("class1", "mean")] + 1e-12).all()
    assert (curves[("class1", "upper")] >= curves[("class1", "mean")] - 1e-12).all()
    assert (curves[("class1", "upper")] - curves[("class1", "lower")]).max() > 0.1
    import matplotlib
    matplotlib.use("Agg")
    from bayesmix.plots import plot_membership_curves
    ax = plot_membership_curves(mm, idata, grid=GRID, classes=["class1"])
    assert len(ax.lines) == 1 and len(ax.collections) == 1
    ax = plot_membership_curves(mm, _at(mm, {k: v[0, 0] for k, v in
                                             {"membership_sd": sd, "class_intercept": alpha,
                                              "binary_logit": beta}.items()}), grid=GRID)
    assert len(ax.lines) == 2 and len(ax.collections) == 0
    with pytest.raises(ValueError, match="classes"):
        plot_membership_curves(mm, idata, classes=["class9"])


def test_curves_refuse_a_dirichlet_membership(small):
    mm = bm.gom(small.data, small.items, 2, membership="dirichlet")
    with pytest.raises(ValueError, match="logistic-normal"):
        membership_curves(mm, _at(mm, {}))


# ------------------------------------------------------------ starts from LCA (section 7)

PROFILES = np.array([[0.9, 0.85, 0.8, 0.9, 0.75, 0.2, 0.85, 0.9],
                     [0.1, 0.2, 0.15, 0.25, 0.1, 0.8, 0.1, 0.2]])


def test_gom_started_from_lca_reaches_at_least_the_lca_loglik():
    """fit_ml(start=lca_result): item parameters and intercepts from LCA, membership SD 2 -> LL(GoM) >= LL(LCA)."""
    sim = simulate_gom(250, 8, 2, profiles=PROFILES, membership_cov=[[2.5**2]], seed=21)
    lca = bm.lca(sim.data, sim.items, 2, link="probit").fit_ml(starts=2, seed=1)
    mm = bm.gom(sim.data, sim.items, 2)
    assert mm.start_defaults == {"membership_sd": pytest.approx(np.array([2.0]))}
    from bayesmix.inference.starts import user_starts
    (start,) = user_starts(mm, lca, seed=0)
    np.testing.assert_allclose(start["binary_logit"], lca.point["binary_logit"])
    np.testing.assert_allclose(start["membership_sd"], [2.0])
    gom = mm.fit_ml(start=lca, starts=1, seed=1)
    assert gom.loglik >= lca.loglik - 1e-6
    assert gom.loglik - lca.loglik > 1.0  # real partial membership: GoM fits better


# ------------------------------------------------------------ item-specific covariates (section 7)

def _item_covariate_data(n=300, seed=8):
    """2-class GoM whose items y1, y2 have class logits alpha_1j + 2 x_j (the others alpha_1j)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    alpha = rng.normal(scale=1.5, size=n)
    profiles = PROFILES[:, :6]
    logits = np.repeat(alpha[:, None], 6, axis=1)
    logits[:, :2] += 2.0 * x[:, None]
    c = (rng.uniform(size=(n, 6)) > expit(logits)).astype(int)  # 0 = class1 (P = expit(logit))
    y = (rng.uniform(size=(n, 6)) < profiles[c, np.arange(6)]).astype(float)
    data = pd.DataFrame(y, columns=[f"y{i + 1}" for i in range(6)])
    data["x"] = x
    return data, [f"y{i + 1}" for i in range(6)]


def test_item_covariate_log_membership_is_item_specific():
    """log P(C_ij = k | u_j) = log softmax(alpha + u_j + gamma_i x_j, 0) per item (numpy)."""
    data, items = _item_covariate_data(n=20)
    data["n"] = np.arange(20) % 3  # a nominal item listed first: the kernels put it after the binary ones
    items = ["n", *items]
    mm = bm.gom(data, items, 2, item_covariates={"x": ["y1", "y2"]}, link="logit", item_types={"n": "nominal"})
    assert mm.structure.per_item and mm.options["item_covariates"] == ["x:y1", "x:y2"]
    axis = [name for kernel in mm.kernels for name in kernel.names]
    assert axis[-1] == "n"
    point = mm.random_start(np.random.default_rng(4))
    point["class_item_slope"] = np.array([[1.3], [-0.4]])
    u = np.random.default_rng(5).normal(size=(20, 1))
    rvs = list(mm.model.free_RVs)
    import pytensor.tensor as pt
    value = function(rvs, mm.structure.log_membership_at(pt.as_tensor(u)))(
        *[u if rv.name == mm.latent.z_name else point[rv.name] for rv in rvs])
    sd = point["membership_sd"][0]
    logit = point["class_intercept"][0] + sd * u[:, 0]
    gamma = np.zeros(len(axis))
    gamma[[axis.index("y1"), axis.index("y2")]] = [1.3, -0.4]
    expected = logit[:, None] + gamma[None, :] * data["x"].to_numpy()[:, None]
    np.testing.assert_allclose(np.exp(value[..., 0]), expit(expected), atol=1e-10)


def test_item_covariates_nest_and_recover_the_effect():
    """LL with the item effect >= LL without (started there); the effect on y1, y2 is recovered positive."""
    data, items = _item_covariate_data()
    base = bm.gom(data, items, 2).fit_ml(starts=1, seed=1)
    mm = bm.gom(data, items, 2, item_covariates={"x": ["y1", "y2"]})
    start = {**base.point, "class_item_slope": np.zeros((2, 1))}
    fit = mm.fit_ml(start=start, starts=1, seed=1)
    assert fit.loglik >= base.loglik - 1e-6
    assert fit.loglik - base.loglik > 5.0
    # true class1 answers y1 with P 0.9 (class2 0.1): orient the fitted labels by that
    beta = fit.point["binary_logit"]
    slope = fit.point["class_item_slope"][:, 0] * np.sign(beta[0, 0] - beta[1, 0])
    assert np.all(slope > 0.5) and np.all(slope < 6.0), slope
    curves = membership_curves(mm, fit, grid=[0.0])  # item effects at the mean of x: runs, sums to 1
    np.testing.assert_allclose(curves.sum(axis=1), 1.0)


def test_item_covariates_refused_with_clear_messages():
    data, items = _item_covariate_data(n=20)
    with pytest.raises(ValueError, match=r"item_covariates names column\(s\) \['z'\]"):
        bm.gom(data, items, 2, item_covariates=["z"])
    with pytest.raises(ValueError, match=r"item_covariates\['x'\] names \['q'\]"):
        bm.gom(data, items, 2, item_covariates={"x": ["q"]})
    with pytest.raises(ValueError, match="not identified"):
        bm.gom(data, items, 2, covariates=["x"], item_covariates=["x"])
    with pytest.raises(ValueError, match="Dirichlet"):
        bm.gom(data, items, 2, membership="dirichlet", item_covariates=["x"])
    bad = data.assign(x=data["x"].where(data.index > 0))
    with pytest.raises(ValueError, match="item_covariates column 'x' has 1 missing"):
        bm.gom(bad, items, 2, item_covariates=["x"])
    both = bm.gom(data, items, 2, covariates=["x"], item_covariates={"x": ["y1"]})  # deviation of y1: identified
    assert both.class_model.covariate_names == ["x"] and both.options["item_covariates"] == ["x:y1"]


def test_gom_saves_and_reloads_with_its_factory_call(tmp_path):
    """bm.gom records its call, so bm.save / bm.load rebuild it and predictions agree."""
    sim = simulate_gom(150, 5, 2, seed=3)
    m = bm.gom(sim.data, sim.items, 2)
    ml = m.fit_ml(starts=2, seed=1, progressbar=False)
    bm.save(tmp_path / "gom_fit", m, ml)
    m2, ml2 = bm.load(tmp_path / "gom_fit")
    assert m2.name == "gom" and ml2.loglik == pytest.approx(ml.loglik, abs=1e-10)
    np.testing.assert_allclose(m2.predict_proba(sim.data.head(4), ml2).to_numpy(),
                               m.predict_proba(sim.data.head(4), ml).to_numpy(), atol=1e-10)


def test_family_results_are_methods_of_the_model():
    """Issue 25 item 8: a family's registered results (GoM's membership_scores) are methods of its models."""
    import warnings
    df = bm.datasets.load("carcinoma")
    g = bm.gom(df, list("ABCDEFG"), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = g.fit_ml(starts=2, seed=1, progressbar=False)
    assert g.membership_scores(ml).equals(bm.families.gom.membership_scores(g, ml))
    assert g.membership_scores.__doc__ == bm.families.gom.membership_scores.__doc__
    with pytest.raises(AttributeError, match="membership_scores"):
        bm.lca(df, list("ABCDEFG"), 2).membership_scores  # noqa: B018 (not an LCA result)
