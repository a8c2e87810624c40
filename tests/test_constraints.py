"""Constraints (fixed values, equalities) and start values for fit_ml / fit_map, progress bars (issue 13, items 6, 9)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.datasets.simulate import simulate_mixture_regression
from bayesmix.datasets.simulate_lta import simulate_lta
from bayesmix.parameters import contract, expand
from bayesmix.relabel import permute_point

ITEMS = list("ABCDEFG")


@pytest.fixture(scope="module")
def carcinoma():
    return bm.datasets.load("carcinoma")


@pytest.fixture(scope="module")
def free_fit(carcinoma):
    """The unconstrained 2-class ML solution (Agresti's LL -317.2568), shared by several tests."""
    m = bm.lca(carcinoma, ITEMS, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boundary logits
        return m, m.fit_ml(starts=(6, 2), seed=1, progressbar=False)


def _fit(m, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit_ml(progressbar=False, **kw)


# ----------------------------------------------------------------------------- equalities
def test_item_equal_across_classes_is_class_independent_item(carcinoma, free_fit):
    """P(A = 1 | class) equal in both classes: A is independent of the class, so the constrained LL is
    the 2-class LL of the other items plus A's own Bernoulli LL at its sample proportion."""
    m_free, free = free_fit
    m = bm.lca(carcinoma, ITEMS, 2, equal={"binary_logit[*, A]": "class"})
    ml = _fit(m, starts=(6, 2), seed=1)
    rest = _fit(bm.lca(carcinoma, ITEMS[1:], 2), starts=(6, 2), seed=1)
    y = carcinoma["A"].to_numpy(float)
    p = y.mean()
    direct = rest.loglik + np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert ml.loglik == pytest.approx(direct, abs=1e-5)
    assert ml.n_params == free.n_params - 1 == 14
    assert ml.loglik <= free.loglik + 1e-6
    assert ml.bic == pytest.approx(-2 * ml.loglik + 14 * np.log(118))
    row = ml.params.loc["binary_logit[class2, A]"]
    assert row["constraint"] == "= binary_logit[class1, A]"
    assert row["estimate"] == ml.params.loc["binary_logit[class1, A]", "estimate"]
    assert ml.point["binary_logit"][0, 0] == ml.point["binary_logit"][1, 0]
    test = bm.lrt(m, ml, m_free, free)  # nested by the equality: a valid chi-square test with df 1
    assert test["df"] == 1 and test["statistic"] == pytest.approx(2 * (free.loglik - ml.loglik))


def test_two_level_item_equal_across_classes_is_class_independent_item():
    """The same direct check with cluster random intercepts integrated by quadrature (Model 6)."""
    sai = bm.datasets.load("sai_lta")
    items = ["tense_t1", "worrying_t1", "anxious_t1", "nervous_t1", "jittery_t1"]
    m = bm.lca(sai, items, 2, cluster="study", random_intercept=True, equal={"binary_logit[*, tense_t1]": "class"})
    ml = _fit(m, starts=(4, 1), seed=1)
    rest = _fit(bm.lca(sai, items[1:], 2, cluster="study", random_intercept=True), starts=(4, 1), seed=1)
    y = sai[items[0]].to_numpy(float)
    p = y.mean()
    assert ml.loglik == pytest.approx(rest.loglik + np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)), abs=1e-5)
    assert ml.n_params == rest.n_params + 1  # A's logits of both classes: one value


def test_equal_residual_sd_across_classes_equals_equal_variances():
    """equal={"residual_sd": "class"} is the model equal_variances=True builds in (same LL, same count)."""
    data = simulate_mixture_regression(30, 5, class_level="within", seed=3).data
    tied = bm.mixture_regression(data, "y", "x", 2, equal_variances=False, equal={"residual_sd": "class"})
    shared = bm.mixture_regression(data, "y", "x", 2, equal_variances=True)
    free = bm.mixture_regression(data, "y", "x", 2, equal_variances=False)
    fits = [_fit(m, starts=(6, 2), seed=2) for m in (tied, shared, free)]
    assert fits[0].loglik == pytest.approx(fits[1].loglik, abs=1e-5)
    assert fits[0].n_params == fits[1].n_params == fits[2].n_params - 1
    assert fits[0].loglik <= fits[2].loglik + 1e-6


# ----------------------------------------------------------------------------- fixed values
def test_fixed_and_tied_elements_hold_in_ml_and_nuts(carcinoma, free_fit):
    _, free = free_fit
    m = bm.lca(carcinoma, ITEMS, 2, fixed={"binary_logit[class1, A]": 2.0},
               equal={"binary_logit[*, B]": "class"})
    ml = _fit(m, starts=(4, 1), seed=1)
    assert ml.n_params == free.n_params - 2
    assert ml.point["binary_logit"][0, 0] == 2.0
    assert ml.point["binary_logit"][0, 1] == ml.point["binary_logit"][1, 1]
    fixed_row = ml.params.loc["binary_logit[class1, A]"]
    assert (fixed_row["estimate"], fixed_row["se"], fixed_row["constraint"]) == (2.0, 0.0, "fixed")
    assert ml.params.loc["binary_logit[class2, A]", "se"] > 0
    idata = m.sample(draws=20, tune=20, chains=1, cores=1, sampler="pymc", init=ml, random_seed=1,
                     progressbar=False, convergence_checks=False)
    beta = idata.posterior["binary_logit"]
    assert np.all(beta.sel({"class": "class1", "binary_item": "A"}).values == 2.0)
    b = beta.sel(binary_item="B").transpose(..., "class").values
    assert np.array_equal(b[..., 0], b[..., 1])
    assert np.ptp(beta.sel({"class": "class2", "binary_item": "A"}).values) > 0  # the rest is sampled
    # the same fixed value by a labelled DataArray (NaN = free), dims by short name
    da = xr.DataArray([[2.0, np.nan]], dims=["item", "class"], coords={"item": ["A"], "class": ["class1", "class2"]})
    same = bm.lca(carcinoma, ITEMS, 2, fixed={"binary_logit": da}, equal={"binary_logit[item=B]": "class"})
    info, other = same.parameters["binary_logit"], m.parameters["binary_logit"]
    assert np.array_equal(info.slots, other.slots) and np.array_equal(info.values, other.values, equal_nan=True)


def test_fully_fixed_parameter_is_no_random_variable(carcinoma):
    m = bm.lca(carcinoma, ITEMS, 2, fixed={"class_intercept": 0.0})  # equal class sizes, Mplus [c#1@0]
    assert "class_intercept" not in {rv.name for rv in m.model.free_RVs}
    ml = _fit(m, starts=(3, 1), seed=1)
    assert ml.n_params == 14
    assert ml.class_proportions["estimate"].to_numpy() == pytest.approx([0.5, 0.5])
    assert ml.params.loc["class_intercept[class1]", "constraint"] == "fixed"


# ----------------------------------------------------------------------------- errors, before compiling
@pytest.mark.parametrize("kwargs, message", [
    ({"fixed": {"binary_logt[class1, A]": 1.0}}, "did you mean 'binary_logit'"),
    ({"fixed": {"binary_logit[class1, Q]": 1.0}}, "'Q' is not a label of dim 'binary_item'"),
    ({"fixed": {"binary_logit[clas1, A]": 1.0}}, "did you mean 'class1'"),
    ({"fixed": {"binary_logit": np.zeros(3)}}, r"shape \(3,\).*block of shape \(2, 7\)"),
    ({"fixed": {"binary_logit[class1]": 1.0}}, "one label \\(or '\\*'\\) per dim"),
    ({"fixed": {"binary_logit[itm=A]": 1.0}}, "did you mean 'item'"),
    ({"fixed": {"binary_logit[class1, A]": np.inf}}, "infinite"),
    ({"fixed": [1.0]}, "fixed must be a dict"),
    ({"equal": ["binary_logit[class1, A]"]}, "equality needs two or more"),
    ({"equal": {"binary_logit[*, A]": "clas"}}, "did you mean 'class'"),
    ({"equal": [["binary_logit[class1, A]", "class_intercept[class1]"]]}, "ties different parameters"),
    ({"fixed": {"binary_logit[class1, A]": 1.0, "binary_logit[class2, A]": 2.0},
      "equal": {"binary_logit[*, A]": "class"}}, "fixed at different values"),
    ({"fixed": {"binary_logit[class1, A]": 1.0}, "ordered": "A"}, "ordered= and constraints"),
])
def test_bad_constraints_raise_clear_errors(carcinoma, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bm.lca(carcinoma, ITEMS, 2, **kwargs)


def test_random_effect_sds_are_fixed_through_the_constraints_or_refused_by_name():
    """random_sd goes through fixed= (one random intercept: held at the value); correlated intercepts (K >= 3,
    an LKJ Cholesky factor) accept only all SDs at 0, and say so."""
    sai = bm.datasets.load("sai_lta")
    items = ["tense_t1", "worrying_t1", "anxious_t1", "nervous_t1", "jittery_t1"]
    m = bm.lca(sai, items, 2, cluster="study", random_intercept=True, fixed={"random_sd": 1.0})
    assert "random_sd" not in {rv.name for rv in m.model.free_RVs}
    assert m.parameters["random_sd"].fixed.all()
    with pytest.raises(ValueError, match="fixed= / equal= on 'random_sd'.*all their SDs fixed at 0"):
        bm.lca(sai, items, 3, cluster="study", random_intercept=True, fixed={"random_sd": 1.0})


# ----------------------------------------------------------------------------- registry, labels, factories
def test_constraints_alike_for_all_classes_relabel_others_block(carcinoma, free_fit):
    _, free = free_fit
    symmetric = bm.lca(carcinoma, ITEMS, 2, equal={"binary_logit[*, A]": "class"},
                       fixed={"binary_logit[*, G]": 3.0})
    asymmetric = bm.lca(carcinoma, ITEMS, 2, fixed={"binary_logit[class1, A]": 3.0})
    assert not symmetric.parameters["binary_logit"].blocks_relabeling
    assert asymmetric.parameters["binary_logit"].blocks_relabeling
    info = symmetric.parameters["binary_logit"]
    full = free.point["binary_logit"].copy()
    full[:, 0] = 0.3
    full[:, 6] = 3.0
    point = {"class_intercept": np.array([0.4]), "binary_logit_free": contract(info, full)}
    swapped = permute_point(symmetric, point, [1, 0])
    np.testing.assert_allclose(expand(info, swapped["binary_logit_free"]), full[::-1])
    np.testing.assert_allclose(swapped["class_intercept"], [-0.4])


def test_other_factories_take_constraints():
    data = simulate_mixture_regression(20, 5, class_level="within", seed=1).data
    m = bm.mixture_regression(data, "y", "x", 2, equal_variances=False, equal={"residual_sd": "class"},
                              fixed={"regression_slope[class1, x]": 0.2})
    sizes = {rv.name: m.model.coords.get(f"{rv.name}_element") for rv in m.model.free_RVs}
    assert sizes["residual_sd_free"] == ("class1 = class2",)
    assert sizes["regression_slope_free"] == ("class2, x",)
    lta_data = simulate_lta(60, seed=1)
    lta = bm.lta(lta_data.data, lta_data.items_by_time, 2, fixed={"transition_logit": 0.0},
                 equal={"binary_logit[*, stubborn_fall]": "class"})
    names = {rv.name for rv in lta.model.free_RVs}
    assert "transition_logit" not in names and "binary_logit_free" in names
    with pytest.raises(ValueError, match="did you mean 'transition_logit'"):
        bm.lta(lta_data.data, lta_data.items_by_time, 2, fixed={"transition_logt": 0.0})


def test_spec_accepts_constraints(tmp_path):
    spec = {"name": "constrained", "data": {"dataset": "carcinoma"},
            "model": {"factory": "lca", "items": ITEMS, "n_classes": 2,
                      "fixed": {"binary_logit[class1, A]": 15.0}, "equal": {"binary_logit[*, B]": "class"}}}
    m = bm.from_spec(spec)
    assert m.parameters["binary_logit"].n_free == 12
    path = bm.write_spec(bm.to_spec(m), tmp_path / "c.toml")
    again = bm.from_spec(path)
    assert np.array_equal(again.parameters["binary_logit"].slots, m.parameters["binary_logit"].slots)


# ----------------------------------------------------------------------------- start values
def test_start_at_the_optimum_returns_it_in_few_iterations(free_fit):
    m, free = free_fit
    again = _fit(m, starts=0, start=free)
    assert again.loglik == pytest.approx(free.loglik, abs=1e-6)
    assert again.iterations <= 5
    assert again.starts.n_initial == 1
    np.testing.assert_allclose(again.params["estimate"], free.params["estimate"], atol=1e-3)
    by_dict = _fit(m, starts=0, start={"binary_logit": free.point["binary_logit"],
                                       "class_intercept": free.point["class_intercept"]})
    assert by_dict.loglik == pytest.approx(free.loglik, abs=1e-6)


def test_start_from_the_smaller_model_splits_its_classes(carcinoma, free_fit):
    _, free = free_fit
    m3 = bm.lca(carcinoma, ITEMS, 3)
    ml3 = _fit(m3, starts=(1, 1), seed=4, start=free)  # 1 random + 2 splits of the K = 2 solution
    assert ml3.starts.n_initial == 3
    assert ml3.loglik >= free.loglik - 1e-6  # K = 3 nests K = 2
    only_splits = _fit(m3, starts=(0, 2), seed=4, start=free)
    assert only_splits.loglik >= free.loglik - 1e-6
    assert only_splits.starts.n_initial == 2


def test_constrained_model_starts_from_unconstrained_result(carcinoma, free_fit):
    _, free = free_fit
    m = bm.lca(carcinoma, ITEMS, 2, equal={"binary_logit[*, A]": "class"})
    ml = _fit(m, starts=0, start=free)  # the full binary_logit: tied elements averaged
    assert ml.n_params == 14 and np.isfinite(ml.loglik)


def test_lta_start_counts_classes_by_the_class_dim():
    """transition_logit (transition, class, class_free) holds K classes, not K + 1: a start of the same K."""
    from bayesmix.inference.starts import user_starts
    sim = simulate_lta(60, seed=2)
    free = bm.lta(sim.data, sim.items_by_time, 2)
    tied = bm.lta(sim.data, sim.items_by_time, 2, equal={"binary_logit[*, stubborn_fall]": "class"})
    point = free.random_start(np.random.default_rng(1))
    (start,) = user_starts(tied, point, seed=1)
    np.testing.assert_allclose(start["transition_logit"], point["transition_logit"])
    assert start["binary_logit_free"].shape == (tied.parameters["binary_logit"].n_free,)


@pytest.mark.parametrize("start, message", [
    ({"binary_logits": np.zeros((2, 7))}, "did you mean 'binary_logit'"),
    ({"binary_logit": np.zeros((2, 6))}, r"shape \(2, 6\).*\(2, 7\)"),
    ({"binary_logit": np.zeros((5, 7))}, "has 5 classes, this model 2"),
    ({"class_intercept": [np.nan]}, "non-finite"),
    ("best", "must be a dict"),
])
def test_bad_start_values_raise(free_fit, start, message):
    m, _ = free_fit
    with pytest.raises(ValueError, match=message):
        m.fit_ml(starts=1, start=start, progressbar=False)


def test_start_outside_the_support_is_named():
    data = simulate_mixture_regression(10, 4, class_level="within", seed=1).data
    m = bm.mixture_regression(data, "y", "x", 2)
    with pytest.raises(ValueError, match="residual_sd"):
        m.fit_ml(starts=1, start={"residual_sd": -1.0}, progressbar=False)


# ----------------------------------------------------------------------------- progress
def test_progressbar_counts_starts_and_silences(free_fit, capsys):
    m, _ = free_fit
    _fit(m, starts=(2, 1), seed=1)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit_ml(starts=(2, 1), seed=1, progressbar=True)
    shown = capsys.readouterr()
    assert "fit_ml" in shown.err and "3/3" in shown.err and "best LL -317.2568" in shown.err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit_map(starts=(2, 1), seed=1, progressbar=True)
    assert "best log-posterior" in capsys.readouterr().err
