"""Small frictions of issues 25 (item 8) and 26 (item 4): the missing-covariate policy, warnings that
point at the user's line, the converged flag of large-N fits, sample() after fit_ml, one point-estimate
column name, HTML tables in Jupyter."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix._compile import no_c_compiler, python_mode
from bayesmix._warn import PACKAGE_FRAMES
from bayesmix.inference.diagnostics import ConvergenceWarning


# ----------------------------------------------------------------- (a) missing_covariates=
def _with_missing_covariate(carcinoma):
    rng = np.random.default_rng(4)
    df = carcinoma.copy()
    df.index = [f"slide{i}" for i in range(len(df))]
    df["x"] = rng.normal(size=len(df))
    df["w"] = rng.normal(size=len(df))
    df.loc[df.index[[1, 5, 9]], "x"] = np.nan
    df.loc[df.index[[5, 20]], "w"] = None
    return df


def test_missing_covariates_error_names_the_option(carcinoma, no_model_building):
    df = _with_missing_covariate(carcinoma)
    with pytest.raises(ValueError, match=r"covariates column 'x' has 3 missing.*drop or impute.*missing_covariates='drop'"):
        bm.lca(df, list("ABCDEFG"), 2, covariates=["x"])
    with pytest.raises(ValueError, match=r"missing_covariates must be one of \['error', 'drop'\], got 'omit'"):
        bm.lca(df, list("ABCDEFG"), 2, covariates=["x"], missing_covariates="omit")
    with pytest.raises(ValueError, match=r"missing_covariates must be one of"):
        bm.lta(df, {"t1": ["A", "B"], "t2": ["C", "D"]}, 2, covariates=["x"], missing_covariates=True)


def test_missing_covariates_drop_warns_and_keeps_row_labels(carcinoma):
    df = _with_missing_covariate(carcinoma)
    with pytest.warns(UserWarning, match=r"leaving out 4 of 118 row\(s\) with a missing value in 'x' \(3\), "
                                         r"'w' \(2\)") as record:
        m = bm.lca(df, list("ABCDEFG"), 2, covariates=["x", "w"], missing_covariates="drop")
    assert {os.path.abspath(w.filename) for w in record} == {os.path.abspath(__file__)}
    kept = df.dropna(subset=["x", "w"])
    assert list(m.data.units) == list(kept.index)
    np.testing.assert_array_equal(m.data.covariates, kept[["x", "w"]].to_numpy())
    # the same model fitted to the complete rows by hand: the same LL
    ll_drop = m.fit_ml(starts=4, seed=1, progressbar=False).loglik
    ll_hand = bm.lca(kept, list("ABCDEFG"), 2, covariates=["x", "w"]).fit_ml(starts=4, seed=1,
                                                                             progressbar=False).loglik
    assert ll_drop == pytest.approx(ll_hand, abs=1e-8)
    # LTA: the same policy, validated in the shared encoder
    with pytest.warns(UserWarning, match=r"leaving out 3 of 118"):
        lta = bm.lta(df, {"t1": ["A", "B"], "t2": ["C", "D"]}, 2, covariates=["x"], missing_covariates="drop")
    assert list(lta.data.units) == list(df.dropna(subset=["x"]).index)


def _logp_at_start(m) -> float:
    # one evaluation: Python thunks, no C compiler (on an empty compile cache the C build of a mixture SEM's logp
    # was most of the test's CPU; benchmarks/results/suite_fast_ab_20261207.csv)
    model = m.model
    with no_c_compiler():
        return float(model.compile_logp(mode=python_mode())(model.initial_point()))


@pytest.mark.parametrize("family", ["gom", "mixture_sem", "mixture_regression"])
def test_missing_covariates_drop_in_every_factory_with_covariates(carcinoma, family):
    """gom, mixture_sem and mixture_regression take the same policy (regression predictors included): the dropped
    model is the model of the complete rows (same units, same log-density at the start), and the default refuses."""
    df = _with_missing_covariate(carcinoma)
    df["y"] = np.random.default_rng(2).normal(size=len(df))
    calls = {
        "gom": lambda d, **kw: bm.gom(d, list("ABCDE"), 2, covariates=["x", "w"],
                                      integration={"method": "gauss-hermite", "points": 5}, **kw),
        "mixture_sem": lambda d, **kw: bm.mixture_sem(d, list("ABCDE"), 2, factors={"f": list("ABC")},
                                                      regressions={"f": ["w"]}, class_covariates=["x"],
                                                      integration={"method": "gauss-hermite", "points": 5}, **kw),
        "mixture_regression": lambda d, **kw: bm.mixture_regression(d, "y", ["x"], 2, covariates=["w"], **kw),
    }
    build = calls[family]
    with pytest.raises(ValueError, match=r"column '[xw]' has \d missing.*missing_covariates='drop'"):
        build(df)
    with pytest.raises(ValueError, match=r"missing_covariates must be one of"):
        build(df, missing_covariates="omit")
    with pytest.warns(UserWarning, match=r"leaving out 4 of 118 row\(s\) with a missing value") as record:
        dropped = build(df, missing_covariates="drop")
    assert {os.path.abspath(w.filename) for w in record} == {os.path.abspath(__file__)}
    kept = df.dropna(subset=["x", "w"])
    by_hand = build(kept)
    assert list(dropped.data.units) == list(kept.index)
    assert _logp_at_start(dropped) == pytest.approx(_logp_at_start(by_hand), abs=1e-8)


def test_dropped_rows_compare_on_common_units(carcinoma):
    df = _with_missing_covariate(carcinoma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with_x = bm.lca(df, list("ABCDEFG"), 2, covariates=["x"], missing_covariates="drop")
        without = bm.lca(df, list("ABCDEFG"), 2)
        a = with_x.fit_laplace(draws=50, starts=(4, 2), seed=1)
        b = without.fit_laplace(draws=50, starts=(4, 2), seed=1)
    with pytest.raises(ValueError, match="different units"):
        bm.compare({"x": a, "none": b}, ic="waic")
    table = bm.compare({"x": a, "none": b}, ic="waic", units="common")
    assert table.attrs["n_units"] == len(df) - 3


# ----------------------------------------------------------------- (d) warnings point at the caller
def _assert_here(record, minimum: int = 1):
    ours = [w for w in record if os.path.abspath(w.filename).startswith(PACKAGE_FRAMES[0])]
    assert not ours, [(w.filename, w.lineno, str(w.message)[:80]) for w in ours]
    here = [w for w in record if os.path.abspath(w.filename) == os.path.abspath(__file__)]
    assert len(here) >= minimum, [(w.filename, str(w.message)[:80]) for w in record]


def test_warnings_of_typical_calls_point_at_the_callers_line(carcinoma):
    rng = np.random.default_rng(2)
    likert = pd.DataFrame({f"{s}_t{t}": rng.integers(1, 6, 80) for s in ("a", "b") for t in (1, 2)})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bm.lta(likert, {"t1": ["a_t1", "b_t1"], "t2": ["a_t2", "b_t2"]}, 2)        # rating scale as nominal
        _assert_here(record)
    gom_data = pd.DataFrame({"A": ["yes", "no", "", "yes"] * 20, "B": rng.integers(0, 2, 80),
                             "C": rng.integers(0, 2, 80)})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        bm.gom(gom_data, ["A", "B", "C"], 2)                                        # '' kept as a category
        _assert_here(record)
    m = bm.lca(carcinoma, list("ABCDEFG"), 2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ml = m.fit_ml(starts=4, seed=1, progressbar=False)                          # boundary estimates
        m.profiles(ml)                                                              # SEs not available
        m.profiles(ml, hdi_prob=0.9)                                                # deprecated argument
        _assert_here(record, minimum=3)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        m.sample(draws=15, tune=15, chains=1, cores=1, sampler="pymc", random_seed=1, progressbar=False)
        _assert_here(record)                                                        # convergence checks


# ----------------------------------------------------------------- (g) converged flag at large N
def test_large_n_fit_at_the_optimum_reports_converged():
    """N = 200,000: L-BFGS-B's line search stalls at the optimum (|g| ~ 1e-5 against LL -6e5); that is
    convergence, not "ABNORMAL" (before: converged=False and a ConvergenceWarning)."""
    rng = np.random.default_rng(0)
    n = 200_000
    cls = rng.integers(0, 2, n)
    y = (rng.random((n, 5)) < np.where(cls[:, None] == 1, 0.8, 0.2)).astype(int)
    df = pd.DataFrame(y, columns=list("ABCDE"))
    for k in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            ml = bm.lca(df, list("ABCDE"), k).fit_ml(starts=4, seed=1, progressbar=False)
        assert ml.converged, k
    assert ml.loglik == pytest.approx(-606905.1977, abs=1e-3)


def test_stalled_line_search_is_accepted_only_near_a_stationary_point():
    from scipy.optimize import OptimizeResult

    from bayesmix.inference.optimize import _accept_stalled_line_search

    def run(grad, fun=-6e5, message="ABNORMAL: "):
        res = OptimizeResult(x=np.zeros(3), fun=fun, jac=np.asarray(grad, float), success=False, message=message)
        _accept_stalled_line_search(res, [(None, None), (0.0, None), (None, None)])
        return res.success
    assert run([1e-5, 0, -2e-5])
    assert not run([1e-5, 0, -2e-2])                    # a real gradient left: not converged
    assert run([1e-5, 5.0, -2e-5])                      # x1 at its lower bound, the descent -g points out
    assert not run([1e-5, -5.0, -2e-5])                 # ... and here into the box: not converged
    assert not run([1e-5, 0, 0], fun=-6e5, message="STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")


# ----------------------------------------------------------------- (c) sample() after fit_ml
def test_sample_after_fit_ml_starts_at_that_fit_without_a_new_search(carcinoma, monkeypatch):
    from bayesmix.inference import sampling

    m = bm.lca(carcinoma, list("ABCDEFG"), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=20, seed=1, progressbar=False)
    assert m.latest_ml is ml
    point, per_chain = sampling.initial_point(m, "auto", 1, 10)
    assert per_chain is None and point.keys() == ml.point.keys()
    for name in point:
        np.testing.assert_array_equal(point[name], ml.point[name])

    def no_search(*args, **kwargs):
        raise AssertionError("sample() searched for a new mode after fit_ml")
    monkeypatch.setattr(type(m), "fit_map", no_search)
    monkeypatch.setattr(type(m), "fit_ml", no_search)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        idata = m.sample(draws=30, tune=30, chains=1, cores=1, sampler="pymc", random_seed=1, progressbar=False)
    assert not [w for w in record if "searches" in str(w.message)]
    assert "posterior" in idata.children
    # without an ML fit, "auto" is the posterior-mode search of init="map"
    fresh = bm.lca(carcinoma, list("ABCDEFG"), 2)
    monkeypatch.setattr(type(m), "fit_map", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("searched")))
    with pytest.raises(RuntimeError, match="searched"):
        sampling.initial_point(fresh, "auto", 1, 10)
    with pytest.raises(ValueError, match="init='bogus' is unknown; use 'auto', 'map'"):
        sampling.initial_point(fresh, "bogus", 1, 10)


# ----------------------------------------------------------------- (e) HTML tables in Jupyter
def test_result_objects_render_as_html_tables(carcinoma):
    m = bm.lca(carcinoma, list("ABCDEFG"), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=4, seed=1, progressbar=False)
        mode = m.fit_map(starts=4, seed=1, progressbar=False)
    for obj, tables in ((ml, 2), (ml.summary(), 5), (ml.starts, 1), (mode, 1 + len(mode.point))):
        html = obj._repr_html_()
        assert html.count("<table") == tables, type(obj).__name__
    assert "-317.2568" in ml.starts._repr_html_() and "replicated" in mode._repr_html_()
    df = carcinoma.copy()
    df["x"] = np.random.default_rng(1).normal(size=len(df))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bm.three_step(m, ml, df, covariates=["x"])
    html = res._repr_html_()
    assert html.count("<table") == 4 and "Estimates" in html and "Wald tests" in html


# ----------------------------------------------------------------- (b) one point-estimate column
def _statistics(table):
    return set(table.columns.get_level_values(-1)) if isinstance(table.columns, pd.MultiIndex) else set(table.columns)


def test_point_estimate_column_is_estimate_for_every_fit_kind(carcinoma):
    """ML and posterior draws (Laplace here; NUTS draws take the same summarize path) name the point
    estimate ``estimate`` (MAP already did); posterior tables keep ``mean`` (the old name) as an equal copy
    for one release."""
    m = bm.lca(carcinoma, list("ABCDEFG"), 2)
    lta = bm.lta(carcinoma, {"t1": ["A", "B", "C"], "t2": ["D", "E", "F"]}, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {"ml": m.fit_ml(starts=4, seed=1, progressbar=False),
                "laplace": m.fit_laplace(draws=100, starts=(4, 2), seed=1, progressbar=False)}
        lta_fits = {"ml": lta.fit_ml(starts=4, seed=1, progressbar=False),
                    "laplace": lta.fit_laplace(draws=100, starts=(4, 2), seed=1, progressbar=False)}
        for kind, fit in fits.items():
            tables = {"profiles": m.profiles(fit), "class_proportions": m.class_proportions(fit),
                      "predict_proba": m.predict_proba(carcinoma.head(3), fit, ci_prob=0.9)
                      if kind == "laplace" else None}
            for name, table in tables.items():
                if table is None:
                    continue
                assert "estimate" in _statistics(table), (kind, name)
                if kind == "laplace":
                    first = table.columns[0][0] if isinstance(table.columns, pd.MultiIndex) else None
                    est = table[(first, "estimate")] if first else table["estimate"]
                    old = table[(first, "mean")] if first else table["mean"]
                    np.testing.assert_array_equal(est, old)
        for kind, fit in lta_fits.items():
            table = lta.transition_matrices(fit)
            assert "estimate" in table.columns, kind
            assert ("mean" in table.columns) == (kind == "laplace")
    ml_est = m.class_proportions(fits["ml"])["estimate"].to_numpy()
    lap_est = m.class_proportions(fits["laplace"])["estimate"].to_numpy()
    np.testing.assert_allclose(lap_est, ml_est, atol=0.1)


# ----------------------------------------------------------------- (j) cluster covariates on a tiny scale
@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e9])
def test_cluster_covariate_varying_within_clusters_is_refused_at_any_scale(no_model_building, scale):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"A": rng.integers(0, 2, 60), "B": rng.integers(0, 2, 60), "g": np.repeat(np.arange(6), 10)})
    df["w"] = (df["g"] + 1.0) * scale
    varying = df.copy()
    varying.loc[3, "w"] += 0.5 * scale                     # one unit of cluster 0 differs, on the column's scale
    with pytest.raises(ValueError, match=r"cluster_covariates \['w'\] vary within cluster 0 "):
        bm.lca(varying, ["A", "B"], 2, cluster="g", random_intercept=True, cluster_covariates=["w"])
    rounded = df.copy()
    rounded.loc[3, "w"] *= 1 + 1e-14                       # CSV round-off of a constant is accepted
    with pytest.raises(Exception, match="built before validation"):
        bm.lca(rounded, ["A", "B"], 2, cluster="g", random_intercept=True, cluster_covariates=["w"])
