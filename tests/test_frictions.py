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
