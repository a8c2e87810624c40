"""The probe's remaining data and argument defects (issue 26 item 4), each refused or warned before any
model is built: codes mixing numbers and text, near-duplicate and missing-looking text codes,
continuous items far from unit scale, interval probabilities outside (0, 1), non-boolean flags,
nullable booleans with missing values through bm.save / bm.load."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.choice(["yes", "no"], n) for c in "ABC"})


def test_codes_mixing_numbers_and_text_are_refused(no_model_building):
    df = _frame()
    df["A"] = [1, "1", 2, "no"] * 10
    with pytest.raises(ValueError, match=r"item 'A' mixes numeric codes \[1, 2\] and text codes.*astype\(str\)"):
        bm.lca(df, items=list("ABC"), n_classes=2)


@pytest.mark.parametrize("codes, match", [
    (["", "yes", "no", "NA"], r"item 'A' has text code\(s\) \['', 'NA'\].*missing_codes=\['', 'NA'\]"),
    (["yes", "Yes", "no", "no "], r"item 'A' has codes that differ only in case or spaces \('Yes' / 'yes'; 'no' / 'no '\)"),
])
def test_missing_looking_and_near_duplicate_text_codes_warn(no_model_building, codes, match):
    df = _frame()
    df["A"] = codes * 10
    with pytest.warns(UserWarning, match=match), pytest.raises(Exception, match="built before validation"):
        bm.lca(df, items=list("ABC"), n_classes=2)


@pytest.mark.parametrize("scale, shift", [(1e6, 0.0), (1e-6, 0.0), (1.0, 1e7)])
def test_continuous_items_far_from_unit_scale_warn(no_model_building, scale, shift):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": rng.normal(size=50) * scale + shift, "z": rng.normal(size=50)})
    with pytest.warns(UserWarning, match=r"continuous item 'y' is far from unit scale.*Standardize it first"), \
            pytest.raises(Exception, match="built before validation"):
        bm.lca(df, items=["y", "z"], n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(Exception, match="built before validation"):  # unit scale: no warning
            bm.lca(df.assign(y=rng.normal(size=50) * 20 + 50), items=["y", "z"], n_classes=2)


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, float("nan"), "0.9", True])
def test_interval_probabilities_outside_0_1_are_named(value):
    from bayesmix.options import check_probability
    with pytest.raises(ValueError, match=r"hdi_prob must be a probability strictly between 0 and 1"):
        check_probability(value, "hdi_prob")


def test_profiles_and_plots_refuse_hdi_prob_before_computing(no_model_building):
    from bayesmix import plots, results
    for call in (lambda: results.profiles(None, None, hdi_prob=1.2),
                 lambda: results.class_proportions(None, None, hdi_prob=0)):
        with pytest.raises(ValueError, match="hdi_prob must be a probability"), pytest.warns(FutureWarning):
            call()
    for call in (lambda: results.profiles(None, None, ci_prob=1.2), lambda: plots._normal_quantile(2.0)):
        with pytest.raises(ValueError, match="ci_prob must be a probability"):
            call()


@pytest.mark.parametrize("factory, flag", [("lca", "random_intercept"), ("lca", "equal_variances"),
                                           ("mixture_regression", "equal_variances")])
def test_boolean_options_must_be_booleans(no_model_building, factory, flag):
    df = _frame()
    df["y"], df["x"] = np.linspace(0, 1, 40), np.linspace(1, 2, 40) ** 2
    args = {"lca": dict(items=list("ABC"), n_classes=2), "mixture_regression": dict(y="y", x="x", n_classes=2)}
    with pytest.raises(ValueError, match=rf"{flag} must be True or False, got 'no'"):
        getattr(bm, factory)(df, **args[factory], **{flag: "no"})


def test_save_and_load_refuse_non_boolean_flags(tmp_path):
    with pytest.raises(ValueError, match="allow_pickle must be True or False"):
        bm.load(tmp_path, allow_pickle="yes")


def test_nullable_boolean_items_with_missing_values_save_and_load(tmp_path):
    rng = np.random.default_rng(2)
    df = pd.DataFrame({c: pd.array(rng.choice([True, False], 30), dtype="boolean") for c in "ABC"})
    df.loc[[1, 4], "A"] = pd.NA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lca(df, items=list("ABC"), n_classes=2)
        ml = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
        model, back = bm.load(bm.save(tmp_path / "fit.bmx", m, ml))
    got = model.options["call"]["arguments"]["data"]
    assert str(got["A"].dtype) == "boolean" and got["A"].isna().sum() == 2
    pd.testing.assert_frame_equal(got, df, check_exact=True)
    pd.testing.assert_frame_equal(back.posterior_probabilities, ml.posterior_probabilities, check_exact=True)
