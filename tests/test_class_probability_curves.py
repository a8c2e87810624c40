"""P(C = c | alpha_1) curves of any model with random class intercepts (figures 2-3, eq. 4-5, 20; issue 24)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.curves import class_intercept_effects


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(scope="module")
def two_level_lca():
    """A two-level LCA with random_intercept=True (section 2, eq. 4-5) on 200 persons in 20 clusters, ML."""
    sim = bm.datasets.simulate_lca(n_units=200, n_items=5, seed=1)
    df = sim.data.assign(school=np.arange(200) // 10)
    items = [c for c in sim.data.columns if c.startswith("y")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lca(df, items, 2, cluster="school", random_intercept=True)
        ml = m.fit_ml(starts=(4, 1), seed=1, progressbar=False)
    return m, ml


def test_paper_figures_without_a_fit_are_the_logistic_of_sd_times_t():
    """Figures 2-3: mean 0, Var(alpha_1) = 100 and 10,000, P(C = 1 | alpha_1) = logistic(SD t)."""
    grid = np.linspace(-0.5, 0.5, 41)
    curves = bm.class_probability_curves(None, variances=(100, 10000), grid=grid)
    assert list(curves.columns) == ["variance", "icc", "alpha1_std", "alpha1", "class", "probability"]
    for variance in (100.0, 10000.0):
        rows = curves[(curves["variance"] == variance) & (curves["class"] == "class1")]
        np.testing.assert_allclose(rows["alpha1_std"], grid)
        np.testing.assert_allclose(rows["probability"], _logistic(np.sqrt(variance) * grid), rtol=1e-12, atol=1e-15)
        assert rows["icc"].iloc[0] == pytest.approx(variance / (variance + np.pi**2 / 3))
        other = curves[(curves["variance"] == variance) & (curves["class"] == "class2")]
        np.testing.assert_allclose(rows["probability"].to_numpy() + other["probability"].to_numpy(), 1.0)
    # the larger variance is the steeper curve: at t = 0.05 it is nearer 1
    at = curves[(curves["alpha1_std"].round(6) == 0.05) & (curves["class"] == "class1")].set_index("variance")
    assert at.loc[10000.0, "probability"] > at.loc[100.0, "probability"] > 0.5


def test_curve_at_the_fit_equals_the_logistic_of_the_fitted_parameters(two_level_lca):
    """At a point with Var(alpha_1) = 1.69 (the fitted class logit, a chosen SD): logistic(alpha + 1.3 t),
    monotone in t; the fitted variance is honoured and variances= overrides it."""
    m, ml = two_level_lca
    point = {**ml.point, "random_sd": np.array([1.3])}
    alpha = float(ml.point["class_intercept"][0])
    grid = np.linspace(-3, 3, 25)
    curves = bm.class_probability_curves(m, point, grid=grid)
    c1 = curves[curves["class"] == "class1"]
    assert c1["variance"].iloc[0] == pytest.approx(1.69)
    np.testing.assert_allclose(c1["alpha1"], alpha + 1.3 * grid)
    np.testing.assert_allclose(c1["probability"], _logistic(alpha + 1.3 * grid), rtol=1e-10)
    assert np.all(np.diff(c1["probability"].to_numpy()) > 0)
    c2 = curves[curves["class"] == "class2"]
    assert np.all(np.diff(c2["probability"].to_numpy()) < 0)
    big = bm.class_probability_curves(m, point, variances=[100.0], grid=grid)
    b1 = big[big["class"] == "class1"]
    np.testing.assert_allclose(b1["probability"], _logistic(alpha + 10.0 * grid), rtol=1e-10)
    centred = bm.class_probability_curves(m, point, variances=[100.0], mean=0.0, grid=grid)
    np.testing.assert_allclose(centred.loc[centred["class"] == "class1", "probability"], _logistic(10.0 * grid),
                               rtol=1e-10)
    # the ML fit itself: its own random SD
    fitted = bm.class_probability_curves(m, ml, grid=grid)
    sd = float(ml.point["random_sd"][0])
    np.testing.assert_allclose(fitted.loc[fitted["class"] == "class1", "probability"], _logistic(alpha + sd * grid),
                               rtol=1e-10)


def test_class_intercept_effects_are_found_in_every_family_that_has_them():
    """Model 6 (outcome effects first, then alpha_1), LTA (time 1's alpha), LCA (the class labels)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = bm.datasets.simulate_mixture_regression(n_clusters=10, cluster_size=5, class_level="within",
                                                      class_random_sd=1.0, seed=1)
        m6 = bm.mixture_regression(sim.data, "y", ["x"], 2, cluster="cluster", random=["intercept"],
                                   random_class_intercept=True)
        lta = bm.datasets.simulate_lta(100, n_clusters=10, seed=1)
        ml = bm.lta(lta.data, lta.items_by_time, n_classes=2, cluster=lta.cluster, random_intercepts=True,
                    random_form="structural")
        plain = bm.lca(sim.data.assign(y1=(sim.data["y"] > 0).astype(int), y2=(sim.data["x"] > 0).astype(int),
                                       y3=(sim.data["y"] > 1).astype(int)), ["y1", "y2", "y3"], 2)
    assert [m6.latent.effect_labels[i] for i in class_intercept_effects(m6)] == ["class1"]
    assert [ml.latent.effect_labels[i] for i in class_intercept_effects(ml)] == ["fall:class1"]
    with pytest.raises(ValueError, match="no random intercepts on its class logits"):
        bm.class_probability_curves(plain, {"class_intercept": np.zeros(1)})


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="variances="):
        bm.class_probability_curves(None, variances=(-1.0,))
    with pytest.raises(ValueError, match="needs a fit"):
        bm.class_probability_curves(None)
    with pytest.raises(ValueError, match="grid"):
        bm.class_probability_curves(None, variances=(100,), grid=[np.nan])


def test_plot_draws_one_panel_per_variance():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from bayesmix.plots import plot_class_probability_curves
    axes = plot_class_probability_curves(None, variances=(100, 10000), grid=np.linspace(-1, 1, 11))
    assert len(axes) == 2
    assert "100" in axes[0].get_title() and "10,000" in axes[1].get_title()
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(), _logistic(100 * np.linspace(-1, 1, 11)))
    with pytest.raises(ValueError, match="not classes"):
        plot_class_probability_curves(None, variances=(100,), classes=["class7"])


def test_lta_curve_is_time_1s_class_logit_with_alpha_1():
    """A two-level LTA at its population values: P(C_1 = 1 | alpha_1) = logistic(a + SD(alpha_1) t) (eq. 12)."""
    sim = bm.datasets.simulate_lta(100, n_clusters=10, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lta(sim.data, sim.items_by_time, n_classes=2, cluster=sim.cluster, random_intercepts=True,
                   random_form="structural", integration={"method": "gauss-hermite", "points": 5})
    truth = sim.truth
    point = {"class_intercept": truth["class_intercept"], "transition_logit": truth["transition_logit"],
             "binary_logit": truth["binary_logit"], "random_sd": truth["random_sd_structural"],
             "random_regression": truth["random_regression"]}
    grid = np.linspace(-2, 2, 9)
    curves = bm.class_probability_curves(m, point, grid=grid)
    c1 = curves[curves["class"] == "class1"]
    assert c1["variance"].iloc[0] == pytest.approx(1.45**2)
    np.testing.assert_allclose(c1["probability"], _logistic(truth["class_intercept"][0] + 1.45 * grid), rtol=1e-10)
