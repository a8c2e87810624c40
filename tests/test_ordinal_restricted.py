"""Restricted (proportional-odds) ordinal LCA (issue 25 item 5): ``item_types="ordinal-restricted"``.

P(y_i <= k | c) = F(tau_ik - mu_ci), tau_i1 = 0, shared gaps: checked against an independent numpy
likelihood, by nesting (binary items: the binary LCA; fewer parameters and a lower LL than the
unrestricted ordinal LCA), by recovery, and the rating-scale warning of type inference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logsumexp

import bayesmix as bm

TAU = np.array([-1.0, 0.0, 0.8, 1.8])  # shared thresholds (5 categories)
MU = np.array([[-1.0, -0.5, -1.5, -0.8], [1.5, 1.0, 2.0, 1.2]])  # class locations (2 classes x 4 items)


def simulate(n: int = 600, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    second = rng.uniform(size=n) < 0.4
    mu = MU[second.astype(int)]  # (n, I)
    cum = expit(TAU[None, None, :] - mu[:, :, None])  # P(y <= k)
    y = (rng.uniform(size=mu.shape)[..., None] > cum).sum(-1) + 1
    return pd.DataFrame(y, columns=[f"q{i}" for i in range(MU.shape[1])]), second


def numpy_loglik(df: pd.DataFrame, point: dict) -> float:
    """Independent likelihood: class logit, locations and shared log gaps as named by the model."""
    y = df.to_numpy() - 1  # codes 0..4
    location = np.asarray(point["ordinal_location"])  # (K, I)
    gaps = np.asarray(point["ordinal_restricted_log_gap"]).reshape(y.shape[1], -1)  # (I, C-2)
    tau = np.concatenate([np.zeros((y.shape[1], 1)), np.cumsum(np.exp(gaps), axis=1)], axis=1)  # (I, C-1)
    alpha = float(np.ravel(point["class_intercept"])[0])
    log_prior = np.log([expit(alpha), 1 - expit(alpha)])  # last class the reference
    total = np.zeros((len(y), 2))
    for c in range(2):
        cum = expit(tau[None] - location[c][None, :, None])  # (1, I, C-1)
        cum = np.concatenate([np.zeros((1, y.shape[1], 1)), cum, np.ones((1, y.shape[1], 1))], axis=2)
        prob = np.diff(cum, axis=2)[0]  # (I, C)
        total[:, c] = log_prior[c] + np.log(prob[np.arange(y.shape[1])[None, :], y]).sum(axis=1)
    return float(logsumexp(total, axis=1).sum())


@pytest.fixture(scope="module")
def fits():
    df, second = simulate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restricted = bm.lca(df, list(df.columns), 2, item_types="ordinal-restricted")
        ml = restricted.fit_ml(starts=4, seed=1, progressbar=False)
        free = bm.lca(df, list(df.columns), 2, item_types="ordinal").fit_ml(starts=4, seed=1, progressbar=False)
    return df, second, restricted, ml, free


def test_loglik_equals_an_independent_numpy_likelihood(fits):
    df, _, _, ml, _ = fits
    assert ml.loglik == pytest.approx(numpy_loglik(df, ml.point), abs=1e-6)


def test_fewer_parameters_and_nested_in_the_unrestricted_ordinal_lca(fits):
    _, _, _, ml, free = fits
    n_items, n_cat, k = 4, 5, 2
    assert ml.n_params == (k - 1) + n_items * k + n_items * (n_cat - 2)  # 21: locations and shared gaps
    assert free.n_params == (k - 1) + n_items * k * (n_cat - 1)  # 33: thresholds per class
    assert ml.loglik <= free.loglik + 1e-6
    assert free.loglik - ml.loglik < 12  # the data are proportional-odds: a small gain for 12 parameters


def test_recovers_the_class_location_differences(fits):
    df, second, _, ml, _ = fits
    location = np.asarray(ml.point["ordinal_location"])
    high = int(np.argmax(location.mean(axis=1)))  # the label of the true second class
    np.testing.assert_allclose(location[high] - location[1 - high], MU[1] - MU[0], atol=0.45)
    gaps = np.exp(np.asarray(ml.point["ordinal_restricted_log_gap"]).reshape(4, 3))
    np.testing.assert_allclose(gaps, np.tile(np.diff(TAU), (4, 1)), atol=0.35)


def test_binary_items_give_the_binary_lca():
    df = bm.datasets.load("carcinoma")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = bm.lca(df, list("ABCDEFG"), 2, item_types="ordinal-restricted").fit_ml(starts=3, seed=1,
                                                                                      progressbar=False)
    assert ml.loglik == pytest.approx(-317.2568, abs=1e-3) and ml.n_params == 15  # Agresti (2002)


def test_restricted_and_unrestricted_ordinal_items_mix():
    df, _ = simulate(200, seed=2)
    m = bm.lca(df, list(df.columns), 2, item_types={"q0": "ordinal-restricted", "q1": "ordinal-restricted",
                                                    "q2": "ordinal", "q3": "ordinal"}, link="probit")
    names = {rv.name for rv in m.model.free_RVs}
    assert {"ordinal_location", "ordinal_restricted_log_gap", "ordinal_first_threshold", "ordinal_log_gap"} <= names
    assert list(m.model.coords["ordinal_restricted_item"]) == ["q0", "q1"]
    assert np.isfinite(m.model.compile_logp()(m.model.initial_point()))


def test_rating_scale_codes_inferred_nominal_warn_with_the_fix():
    df, _ = simulate(100, seed=3)
    with pytest.warns(UserWarning, match=r"items \['q0', 'q1', 'q2', 'q3'\].*'ordinal-restricted'"):
        bm.lca(df, list(df.columns), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # declared types: no warning
        bm.lca(df, list(df.columns), 2, item_types="nominal")
    party = pd.DataFrame({"party": [1, 3, 1, 3, 1, 3] * 5, "vote": [0, 1] * 15})  # codes 1, 3: not a scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bm.lca(party, ["party", "vote"], 2)


def test_rating_scale_warning_points_at_the_callers_line_in_lca_and_lta():
    """lca infers types in encode, lta pools time points itself: both warn once, at the user's call."""
    df, _ = simulate(120, seed=4)
    with pytest.warns(UserWarning, match="rating scale") as caught:
        bm.lca(df, list(df.columns), 2)
    assert [w.filename for w in caught if "rating scale" in str(w.message)] == [__file__]
    wide = pd.concat([df.add_suffix("_t1"), simulate(120, seed=5)[0].add_suffix("_t2")], axis=1)
    items_by_time = {"t1": [f"q{i}_t1" for i in range(4)], "t2": [f"q{i}_t2" for i in range(4)]}
    with pytest.warns(UserWarning, match=r"items \['q0_t1', 'q1_t1', 'q2_t1', 'q3_t1'\].*rating scale") as caught:
        bm.lta(wide, items_by_time, 2)
    assert [w.filename for w in caught if "rating scale" in str(w.message)] == [__file__]
