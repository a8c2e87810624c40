"""Workflow of poLCA / StepMix / Mplus users (issue 13): predict, save/load, one labeling,
compare, summaries, G2 / X2 / bivariate residuals, plots, docstrings.

Oracles: Bayes' rule by hand in numpy (from the printed ML profiles and
proportions, and per posterior draw), a direct enumeration of the 2^7 response
patterns for G2 / X2, the published carcinoma G2 (Agresti 2002), reloading in a
separate Python process.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
import subprocess
import sys
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax

import bayesmix as bm

ITEMS = list("ABCDEFG")


@pytest.fixture(scope="module")
def carc():
    return bm.datasets.load("carcinoma")


@pytest.fixture(scope="module")
def fitted(carc):
    """Carcinoma K = 2: ML first (sets the labels), then NUTS (2 chains x 200)."""
    m = bm.lca(carc, items=ITEMS, n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=10, seed=1)
        idata = m.sample(draws=200, tune=200, chains=2, sampler="pymc", random_seed=1, progressbar=False)
    return m, ml, idata


@pytest.fixture(scope="module")
def covariate_fit():
    """2 classes, 5 binary items, one covariate on the class (eq. 4), N = 400; ML."""
    sim = bm.datasets.simulate_lca(n_units=400, n_items=5, n_classes=2, class_intercept=[0.8],
                                   class_slope=[[1.0]], missing_rate=0.05, seed=3)
    m = bm.lca(sim.data, items=sim.items, n_classes=2, covariates=sim.covariates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=8, seed=2)
    return sim, m, ml


def _bayes_rule(y: np.ndarray, p1: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """P(C = c | y) for binary y (NaN = missing), p1 (K, I) = P(y = 1 | c), log_prior (N or 1, K)."""
    obs = ~np.isnan(y)
    y0 = np.nan_to_num(y)
    loglik = (obs[:, None, :] * (y0[:, None, :] * np.log(p1[None]) + (1 - y0[:, None, :]) * np.log1p(-p1[None]))
              ).sum(-1)  # (N, K)
    return softmax(log_prior + loglik, axis=1)


# ----------------------------------------------------------------------------- predict
def test_predict_on_training_rows_equals_class_probabilities(fitted, carc):
    m, ml, idata = fitted
    np.testing.assert_allclose(m.predict_proba(carc, ml).to_numpy(), ml.posterior_probabilities.to_numpy(),
                               atol=1e-10)
    np.testing.assert_allclose(m.predict_proba(carc, idata).to_numpy(), m.class_probabilities(idata).to_numpy(),
                               atol=1e-10)
    modal = m.predict(carc, ml)
    assert list(modal) == list(ml.posterior_probabilities.idxmax(axis=1))


def test_predict_new_rows_is_bayes_rule(fitted):
    m, ml, idata = fitted
    # new respondents: A constant (=1) in the new rows, some missing responses, an unseen pattern
    new = pd.DataFrame({"A": [1, 1, 1, 1], "B": [0, 1, np.nan, 1], "C": [0, 1, 0, np.nan],
                        "D": [1, 0, 0, 1], "E": [0, 1, 1, 0], "F": [1, 0, np.nan, 1], "G": [0, 1, 1, 1]},
                       index=["r1", "r2", "r3", "r4"])
    got = m.predict_proba(new, ml)
    assert list(got.index) == ["r1", "r2", "r3", "r4"] and list(got.columns) == m.class_labels
    p1 = np.stack([ml.profiles[(c, "estimate")].to_numpy() for c in m.class_labels])  # (K, I)
    prior = np.log(ml.class_proportions["estimate"].to_numpy())[None]
    expected = _bayes_rule(new[ITEMS].to_numpy(float), np.clip(p1, 1e-300, 1 - 1e-16), prior)
    np.testing.assert_allclose(got.to_numpy(), expected, atol=1e-8)

    # posterior: Bayes' rule per draw from the sampled logits, then averaged
    post = idata["posterior"].to_dataset()
    logits = post["binary_logit"].transpose("chain", "draw", "class", "binary_item").to_numpy().reshape(-1, 2, 7)
    intercept = post["class_intercept"].to_numpy().reshape(-1, 1)
    by_hand = np.mean([_bayes_rule(new[ITEMS].to_numpy(float), expit(lg), np.log(softmax([[a[0], 0.0]], axis=1)))
                       for lg, a in zip(logits, intercept)], axis=0)
    np.testing.assert_allclose(m.predict_proba(new, idata).to_numpy(), by_hand, atol=1e-8)
    draws = np.stack([_bayes_rule(new[ITEMS].to_numpy(float), expit(lg), np.log(softmax([[a[0], 0.0]], axis=1)))
                      for lg, a in zip(logits, intercept)])
    with_interval = m.predict_proba(new, idata, ci_prob=0.9, ci_kind="eti")
    with pytest.warns(FutureWarning, match="hdi_prob"):
        with_hdi = m.predict_proba(new, idata, hdi_prob=0.9)  # deprecated: an HDI, as the name says
    from arviz_stats.base import array_stats
    hdi = np.asarray(array_stats.hdi(draws, 0.9, axis=0))  # (rows, K, 2)
    np.testing.assert_allclose(with_hdi[(m.class_labels[0], "lower")], hdi[:, 0, 0], atol=1e-8)
    np.testing.assert_allclose(with_hdi[(m.class_labels[0], "upper")], hdi[:, 0, 1], atol=1e-8)
    for k, c in enumerate(m.class_labels):
        np.testing.assert_allclose(with_interval[(c, "mean")], by_hand[:, k], atol=1e-8)
        np.testing.assert_allclose(with_interval[(c, "lower")], np.quantile(draws[:, :, k], 0.05, axis=0), atol=1e-8)
        np.testing.assert_allclose(with_interval[(c, "upper")], np.quantile(draws[:, :, k], 0.95, axis=0), atol=1e-8)


def test_predict_with_covariates_is_bayes_rule(covariate_fit):
    sim, m, ml = covariate_fit
    new = sim.data.iloc[:6].copy()
    new["x1"] = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.5]  # covariate values the unit never had
    got = m.predict_proba(new, ml).to_numpy()
    point = ml.point
    logits = point["class_intercept"][None, :] + new[["x1"]].to_numpy() @ point["class_slope"]
    prior = np.log(softmax(np.column_stack([logits, np.zeros(len(new))]), axis=1))
    expected = _bayes_rule(new[sim.items].to_numpy(float), expit(point["binary_logit"]), prior)
    np.testing.assert_allclose(got, expected, atol=1e-8)


def test_predict_refuses_unseen_codes_and_missing_columns(fitted, carc):
    m, ml, _ = fitted
    bad = carc.iloc[:3].copy()
    bad.loc[bad.index[1], "C"] = 2
    with pytest.raises(ValueError, match=r"item 'C' has code\(s\) \[2\].*never saw.*\[0, 1\]"):
        m.predict_proba(bad, ml)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['G'\]"):
        m.predict_proba(carc.drop(columns="G").iloc[:3], ml)
    with pytest.raises(ValueError, match="result must be"):
        m.predict_proba(carc.iloc[:3], {"a": 1})


# ----------------------------------------------------------------------------- labels
def test_ml_and_posterior_share_labels(fitted):
    m, ml, idata = fitted
    post = m.profiles(idata)
    for c in m.class_labels:  # each posterior class sits on the ML class of the same name
        distances = {d: float(np.abs(post[(c, "mean")] - ml.profiles[(d, "estimate")]).sum()) for d in m.class_labels}
        assert min(distances, key=distances.get) == c
    # the first solution of a model is ordered by size (class1 the largest)
    props = ml.class_proportions["estimate"].to_numpy()
    assert props[0] >= props[1]


def test_first_solution_ordered_by_size_and_later_fits_follow(covariate_fit):
    sim, _, _ = covariate_fit
    fresh = bm.lca(sim.data, items=sim.items, n_classes=2, covariates=sim.covariates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mode = fresh.fit_map(starts=4, seed=7)
        ml = fresh.fit_ml(starts=4, seed=11)
    props = ml.class_proportions["estimate"].to_numpy()
    assert props[0] > props[1]  # true sizes about 0.66 / 0.34
    # MAP (fitted first) and ML agree class by class
    logits_map, logits_ml = mode.point["binary_logit"], ml.point["binary_logit"]
    assert np.abs(logits_map - logits_ml).max() < 1.0
    assert np.abs(logits_map - logits_ml[::-1]).max() > 1.0


def test_relabel_undoes_a_permutation(fitted):
    from bayesmix.inference.labels import apply_permutations
    m, ml, idata = fitted
    posterior = idata["posterior"].to_dataset()
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    swapped = idata.copy()
    swapped["posterior"] = apply_permutations(posterior, np.tile([1, 0], (n_chain, n_draw, 1)), mm=m)
    back = bm.relabel(m, swapped, ml)
    assert back.attrs["bayesmix_relabeled_draws"] == n_chain * n_draw
    np.testing.assert_allclose(back["posterior"]["binary_logit"].values, posterior["binary_logit"].values)
    np.testing.assert_allclose(back["posterior"]["class_intercept"].values, posterior["class_intercept"].values)


# ----------------------------------------------------------------------------- compare
def test_compare_one_sign_convention_unrounded(fitted, carc):
    m, _, idata = fitted
    m1 = bm.lca(carc, items=ITEMS, n_classes=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata1 = m1.sample(draws=200, tune=200, chains=2, sampler="pymc", random_seed=1, progressbar=False)
    loo = bm.compare({"K=1": idata1, "K=2": idata}, ic="loo")
    waic = bm.compare({"K=1": idata1, "K=2": idata}, ic="waic")
    for table in (loo, waic):
        assert list(table.columns) == ["rank", "elpd", "se", "p", "elpd_diff", "dse", "weight", "warning"]
        assert table.index[0] == "K=2" and table["elpd"].is_monotonic_decreasing
        assert table.loc["K=2", "elpd_diff"] == 0.0 and table.loc["K=1", "elpd_diff"] < -50
        np.testing.assert_allclose(table.loc["K=1", "elpd_diff"],
                                   table.loc["K=1", "elpd"] - table.loc["K=2", "elpd"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert loo.loc["K=2", "elpd"] == az.loo(idata).elpd  # not rounded
    assert waic.loc["K=2", "elpd"] == bm.waic(idata).elpd
    assert abs(loo.loc["K=2", "elpd"] - waic.loc["K=2", "elpd"]) < 3.0


# ----------------------------------------------------------------------------- fit statistics
def _enumerated_fit(ml, labels, data):
    """Expected pattern counts over all 2^7 cells from the printed ML profiles and proportions."""
    p1 = np.stack([ml.profiles[(c, "estimate")].to_numpy() for c in labels])  # (K, 7)
    pi = ml.class_proportions["estimate"].to_numpy()
    cells = np.array(list(itertools.product([0, 1], repeat=7)), dtype=float)
    prob = (pi[None] * np.prod(np.where(cells[:, None, :] == 1, p1[None], 1 - p1[None]), axis=-1)).sum(1)
    n = len(data)
    observed = np.array([(data[ITEMS].to_numpy() == cell).all(axis=1).sum() for cell in cells], dtype=float)
    expected = n * prob
    seen = observed > 0
    g2 = 2 * np.sum(observed[seen] * np.log(observed[seen] / expected[seen]))
    x2 = np.sum((observed - expected) ** 2 / expected)
    return g2, x2


def test_g2_and_x2_on_carcinoma(fitted, carc):
    m, ml, _ = fitted
    with pytest.warns(UserWarning, match="sparse"):
        fit = m.goodness_of_fit(ml)
    g2, x2 = _enumerated_fit(ml, m.class_labels, carc)
    assert fit["G2"] == pytest.approx(g2, abs=1e-6)
    assert fit["X2"] == pytest.approx(x2, abs=1e-4)
    # Agresti (2002, Categorical Data Analysis, sec. 13.2): two-class model G2 = 62.36, df = 112
    assert fit["G2"] == pytest.approx(62.36, abs=0.01)
    assert fit["df"] == 2**7 - 1 - 15 == 112 and fit["n_patterns"] == 20
    table = m.pattern_table(ml)
    assert table["observed"].sum() == 118 and table["expected"].sum() < 118


def test_bivariate_residuals_against_direct_table(fitted, carc):
    m, ml, _ = fitted
    bvr = m.bivariate_residuals(ml)
    assert len(bvr) == 21
    p1 = {c: ml.profiles[(c, "estimate")] for c in m.class_labels}
    pi = ml.class_proportions["estimate"].to_numpy()
    for a, b in [("B", "E"), ("A", "G")]:
        obs = pd.crosstab(carc[a], carc[b]).reindex(index=[0, 1], columns=[0, 1], fill_value=0).to_numpy()
        exp = np.zeros((2, 2))
        for k, c in enumerate(m.class_labels):
            pa = np.array([1 - p1[c][(a, "1")], p1[c][(a, "1")]])
            pb = np.array([1 - p1[c][(b, "1")], p1[c][(b, "1")]])
            exp += len(carc) * pi[k] * np.outer(pa, pb)
        assert bvr.loc[(a, b), "bvr"] == pytest.approx(((obs - exp) ** 2 / exp).sum(), rel=1e-6)


def test_fit_statistics_refuse_what_they_cannot_do(covariate_fit):
    _, m, ml = covariate_fit
    with pytest.raises(ValueError, match="without covariates"):
        m.goodness_of_fit(ml)


# ----------------------------------------------------------------------------- output
def test_repr_and_summary(fitted):
    m, ml, _ = fitted
    for text in (repr(m), repr(ml)):
        assert "\n" not in text and len(text) < 160
    assert "loglik=-317.2568" in repr(ml)
    html_m = m._repr_html_()
    assert "7 (7 binary)" in html_m and "118" in html_m and len(html_m) < 1000
    html = ml._repr_html_()
    assert html.count("<table") == 2 and "Parameters" not in html
    s = ml.summary()
    assert s.fit["loglik"] == ml.loglik and s.fit["bic"] == pytest.approx(ml.bic) and s.fit["N"] == 118
    assert s.classes["count_posterior"].sum() == pytest.approx(118)
    assert s.classes["count_modal"].sum() == 118
    np.testing.assert_allclose(s.classification.sum(axis=1), 1.0)
    assert np.all(np.diag(s.classification) > 0.95)
    text = str(s)
    for part in ("Model fit", "Classes", "Average posterior probabilities", "Profiles", "Parameters"):
        assert part in text
    assert s._repr_html_().count("<table") == 5


def test_docstrings_are_complete(fitted):
    m, _, _ = fitted
    for fn in (bm.lca, m.fit_ml, m.sample, m.class_probabilities, m.profiles, bm.compare, m.predict_proba,
               bm.save, bm.load):
        doc = fn.__doc__ or ""
        pointer = re.match(r"See :func:`(bayesmix[\w.]+)`\.$", doc.strip())  # a one-line wrapper: the function
        if pointer:
            module, _, name = pointer.group(1).rpartition(".")
            doc = getattr(importlib.import_module(module), name).__doc__
        for section in ("Parameters", "Returns", "Examples"):
            assert section in doc, (fn.__name__, section)
    from bayesmix.inference.ml import fit_ml
    assert m.fit_ml.__doc__.strip() == "See :func:`bayesmix.inference.ml.fit_ml`."
    assert "starts" in fit_ml.__doc__ and "integration" in fit_ml.__doc__


def test_plots_draw_to_png(fitted, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    from bayesmix.plots import plot_class_proportions, plot_membership, plot_ml_vs_posterior, plot_profiles
    m, ml, idata = fitted
    for i, ax in enumerate([plot_profiles(m, ml), plot_profiles(m, idata), plot_class_proportions(m, ml),
                            plot_class_proportions(m, idata), plot_membership(m, ml), plot_membership(m, idata),
                            plot_ml_vs_posterior(m, ml, idata)]):
        assert isinstance(ax, Axes)
        path = tmp_path / f"plot{i}.png"
        ax.figure.savefig(path)
        assert path.stat().st_size > 5000
    assert len(plot_profiles(m, ml).lines) >= 2


# ----------------------------------------------------------------------------- save / load
_RELOAD = r"""
import json, sys, warnings
import numpy as np
import bayesmix as bm
warnings.simplefilter("ignore")
m, res = bm.load(sys.argv[1])
ml, idata = res["ml"], res["nuts"]
head = m.data.frame.iloc[:10]
out = {
    "class_probabilities": m.class_probabilities(idata).to_numpy().tolist(),
    "profiles": m.profiles(idata).to_numpy().tolist(),
    "class_proportions": m.class_proportions(idata).to_numpy().tolist(),
    "entropy": m.entropy(idata),
    "predict_ml": m.predict_proba(head, ml).to_numpy().tolist(),
    "predict_nuts": m.predict_proba(head, idata).to_numpy().tolist(),
    "ml_profiles": ml.profiles.to_numpy().tolist(),
    "ml_loglik": ml.loglik,
    "summary_fit": [float(v) for k, v in ml.summary().fit.items() if k != "best_ll_replicated"],
    "g2": float(m.goodness_of_fit(ml)["G2"]),
    "log_likelihood": idata["log_likelihood"]["y"].values.tolist(),
    "refit_props": m.fit_ml(starts=4, seed=5).class_proportions["estimate"].tolist(),
}
print(json.dumps(out))
"""


def test_save_and_load_in_a_new_process(fitted, carc, tmp_path):
    m, ml, idata = fitted
    path = bm.save(tmp_path / "carc.bmx", m, {"ml": ml, "nuts": idata})
    with pytest.raises(ValueError, match="exists"):
        m.save(path, ml)
    proc = subprocess.run([sys.executable, "-c", _RELOAD, str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    head = carc.iloc[:10]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = {
            "class_probabilities": m.class_probabilities(idata).to_numpy(),
            "profiles": m.profiles(idata).to_numpy(),
            "class_proportions": m.class_proportions(idata).to_numpy(),
            "entropy": m.entropy(idata),
            "predict_ml": m.predict_proba(head, ml).to_numpy(),
            "predict_nuts": m.predict_proba(head, idata).to_numpy(),
            "ml_profiles": ml.profiles.to_numpy(),
            "ml_loglik": ml.loglik,
            "summary_fit": [float(v) for k, v in ml.summary().fit.items() if k != "best_ll_replicated"],
            "g2": float(m.goodness_of_fit(ml)["G2"]),
            "log_likelihood": idata["log_likelihood"]["y"].values,
        }
    for key, value in here.items():
        np.testing.assert_allclose(np.asarray(got[key], dtype=float), np.asarray(value, dtype=float),
                                   rtol=1e-10, atol=1e-12, err_msg=key)
    # a new fit of the reloaded model keeps the saved labels
    np.testing.assert_allclose(got["refit_props"], ml.class_proportions["estimate"], atol=1e-3)


def test_load_refuses_other_directories(tmp_path):
    with pytest.raises(ValueError, match="not a bayesmix save directory"):
        bm.load(tmp_path)


# ----------------------------------------------------------------------------- two-level predict
BETA2 = np.array([[1.5, -1.5, 1.5, -1.5, 1.5], [-1.5, 1.5, -1.5, 1.5, -1.5]])
ITEMS5 = [f"y{i + 1}" for i in range(5)]


def _two_level_data(n_clusters=30, size=8, seed=4, between=False):
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    if between:
        classes = np.where(rng.uniform(size=n_clusters) < 0.6, 0, 1)[cluster]
    else:
        u = 1.2 * rng.standard_normal(n_clusters)
        classes = np.where(rng.uniform(size=len(cluster)) < expit(0.2 + u[cluster]), 0, 1)
    y = (rng.uniform(size=(len(cluster), 5)) < expit(BETA2[classes])).astype(float)
    frame = pd.DataFrame(y, columns=ITEMS5)
    frame["school"] = [f"s{j:02d}" for j in cluster]
    return frame


@pytest.fixture(scope="module")
def within_between_fit():
    data = _two_level_data()
    m = bm.lca(data, ITEMS5, n_classes=2, cluster="school", random_intercept=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=4, seed=1)
    return data, m, ml


def test_two_level_predict_new_cluster_equals_a_copied_cluster(within_between_fit):
    data, m, ml = within_between_fit
    rows = data[data["school"] == "s03"]
    copy = rows.assign(school="a new school")  # a new cluster with exactly the data of s03
    got = m.predict_proba(copy, ml)
    np.testing.assert_allclose(got.to_numpy(), ml.posterior_probabilities.loc[rows.index].to_numpy(), atol=1e-8)


def test_two_level_predict_new_unit_in_known_cluster_by_quadrature(within_between_fit):
    from marginal_oracle import std_normal_pdf
    from scipy.integrate import quad
    data, m, ml = within_between_fit
    new = pd.DataFrame([[1, 1, np.nan, np.nan, np.nan]], columns=ITEMS5).assign(school="s05")  # ambiguous alone
    got = m.predict_proba(new, ml).to_numpy()[0]
    point = ml.point
    a = float(np.ravel(point["class_intercept"])[0])
    sd = float(np.ravel(point.get("random_sd", point.get("random_chol")))[0])
    p1 = expit(point["binary_logit"])  # (K, I)

    def lik(y):  # p(y | class), (K,)
        obs = ~np.isnan(y)
        return np.prod(np.where(obs, np.where(y == 1, p1, 1 - p1), 1.0), axis=1)

    members = [lik(y) for y in data.loc[data["school"] == "s05", ITEMS5].to_numpy()]
    own = lik(new[ITEMS5].to_numpy(float)[0])

    def weight(z, cls=None):
        pi = np.array([expit(a + sd * z), 1 - expit(a + sd * z)])
        value = std_normal_pdf(z) * np.prod([pi @ lk for lk in members])
        return value * (pi @ own if cls is None else pi[cls] * own[cls])

    total = quad(weight, -10, 10, limit=200)[0]
    by_hand = np.array([quad(lambda z: weight(z, c), -10, 10, limit=200)[0] for c in range(2)]) / total
    np.testing.assert_allclose(got, by_hand, atol=2e-3)  # the model's 30-point trapezoid rule vs adaptive quad
    alone = expit(a) * own[0] / (expit(a) * own[0] + (1 - expit(a)) * own[1])  # ignoring the cluster
    assert abs(got[0] - alone) > 0.05  # the cluster's other units moved the answer


def test_between_level_predict_gives_one_row_per_new_cluster():
    data = _two_level_data(n_clusters=24, seed=6, between=True)
    m = bm.lca(data, ITEMS5, n_classes=2, cluster="school", class_level="between")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=4, seed=1)
    copies = pd.concat([data[data["school"] == s].assign(school=f"new {s}") for s in ("s02", "s07")])
    got = m.predict_proba(copies, ml)
    assert list(got.index) == ["new s02", "new s07"]
    np.testing.assert_allclose(got.to_numpy(), ml.posterior_probabilities.loc[["s02", "s07"]].to_numpy(), atol=1e-8)


def test_netcdf_round_trip_keeps_draws_and_attributes(fitted, tmp_path):
    import xarray as xr
    m, ml, idata = fitted
    path = bm.save(tmp_path / "fit.bmx", m, idata)
    assert (path / "result.nc").exists()
    _, back = bm.load(path)
    assert back.attrs == idata.attrs and back["posterior"].attrs == idata["posterior"].attrs
    assert back.attrs["bayesmix_convergence_ok"] is idata.attrs["bayesmix_convergence_ok"]
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data"):
        xr.testing.assert_identical(back[group].to_dataset().drop_attrs(), idata[group].to_dataset().drop_attrs())
    # one file for other tools: booleans as 0/1
    single = bm.to_netcdf(idata, tmp_path / "idata.nc")
    other = xr.open_datatree(single).load()
    assert other.attrs["bayesmix_convergence_ok"] == int(idata.attrs["bayesmix_convergence_ok"])
    np.testing.assert_array_equal(other["posterior"]["binary_logit"].values, idata["posterior"]["binary_logit"].values)


# ----------------------------------------------------------------------------- bootstrap LRT
def test_simulate_from_matches_the_model_and_keeps_missingness(covariate_fit):
    from bayesmix.fit_statistics import simulate_from
    sim, m, ml = covariate_fit
    rng = np.random.default_rng(0)
    draws = [simulate_from(m, ml, rng) for _ in range(100)]
    missing = sim.data[sim.items].isna().to_numpy()
    for d in draws[:3]:
        assert d.shape == (400, 6) and np.array_equal(d[sim.items].isna().to_numpy(), missing)
        np.testing.assert_array_equal(d["x1"].to_numpy(), sim.data["x1"].to_numpy())
    # item means over the simulations vs the model: sum_i sum_c P(c | x_i) P(y = 1 | c) over observed cells
    point = ml.point
    logits = point["class_intercept"][None, :] + sim.data[["x1"]].to_numpy() @ point["class_slope"]
    prior = softmax(np.column_stack([logits, np.zeros(400)]), axis=1)  # (N, K)
    implied = np.where(missing, np.nan, prior @ expit(point["binary_logit"]))  # (N, I)
    expected = np.nanmean(implied, axis=0)
    got = np.mean([d[sim.items].mean().to_numpy() for d in draws], axis=0)
    se = np.sqrt(expected * (1 - expected) / (400 * 100))
    assert np.all(np.abs(got - expected) < 4 * se), (got, expected)


def test_blrt_is_reproducible_by_seed_serial_and_parallel(carc):
    from bayesmix.fit_statistics import blrt
    m1 = bm.lca(carc, items=ITEMS, n_classes=1)
    m2 = bm.lca(carc, items=ITEMS, n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f1, f2 = m1.fit_ml(starts=2, seed=1), m2.fit_ml(starts=4, seed=1)
    serial = blrt(m1, f1, m2, f2, n_bootstrap=3, starts=(4, 2), seed=5)
    parallel = bm.blrt(m1, f1, m2, f2, n_bootstrap=3, starts=(4, 2), seed=5, n_jobs=2)
    np.testing.assert_allclose(serial.attrs["replicates"], parallel.attrs["replicates"], rtol=1e-10)
    other = blrt(m1, f1, m2, f2, n_bootstrap=3, starts=(4, 2), seed=6)
    assert not np.allclose(other.attrs["replicates"], serial.attrs["replicates"])
    assert serial["statistic"] == pytest.approx(2 * (f2.loglik - f1.loglik))
    # under K = 1 the LR is a few units (8 extra parameters); carcinoma's 414 is far beyond
    assert np.all((serial.attrs["replicates"] > 0) & (serial.attrs["replicates"] < 60))
    assert serial["p_value"] == pytest.approx(1 / 4) and serial["df_difference"] == 8


def test_predict_mixture_regression_is_bayes_rule():
    from scipy.stats import norm
    sim = bm.datasets.simulate_mixture_regression(n_clusters=40, cluster_size=10, class_level="within", seed=2)
    m = bm.mixture_regression(sim.data, y="y", x="x", n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=4, seed=1)
    np.testing.assert_allclose(m.predict_proba(sim.data, ml).to_numpy(), ml.posterior_probabilities.to_numpy(),
                               atol=1e-10)
    new = pd.DataFrame({"y": [0.5, 3.0, -1.0], "x": [1.0, -2.0, 0.3], "cluster": [0, 0, 1]})
    point = ml.point
    mean = point["regression_intercept"][None, :] + new[["x"]].to_numpy() * np.ravel(point["regression_slope"])[None]
    sd = np.broadcast_to(point["residual_sd"], (2,))
    prior = np.log(softmax([point["class_intercept"][0], 0.0]))
    expected = softmax(prior[None] + norm.logpdf(new[["y"]].to_numpy(), mean, sd), axis=1)  # eq. 19 with eq. 4
    np.testing.assert_allclose(m.predict_proba(new, ml).to_numpy(), expected, atol=1e-10)


def test_save_load_keeps_missing_text_responses_missing(tmp_path):
    """netCDF writes a missing string as ''; bm.load gives the missing cells of text-coded items back as missing."""
    import xarray as xr
    rng = np.random.default_rng(0)
    df = pd.DataFrame({c: rng.choice(["yes", "no"], 40) for c in "ABCD"})
    df.loc[[1, 5], "A"] = np.nan
    df.loc[3, "B"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lca(df, items=list("ABCD"), n_classes=2)
    observed = m.observed_data()
    tree = xr.DataTree.from_dict({"observed_data": observed})
    _, back = bm.load(bm.save(tmp_path / "fit.bmx", m, tree))
    got = back["observed_data"].to_dataset()
    for item in "ABCD":
        assert np.array_equal(pd.isnull(got[item].values), df[item].isna().to_numpy()), item
        assert "" not in set(got[item].values[~df[item].isna().to_numpy()])
    xr.testing.assert_identical(got, observed)
