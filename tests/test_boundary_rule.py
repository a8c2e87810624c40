"""The link-aware boundary rule of ML (issue 23: GoM on bfi's 25 ordinal items).

Probit thresholds beyond +-5 and probit threshold log-gaps below log(1e-4) are at
the boundary (a category probability of ~0 in a class), as logits beyond +-15 are
(Mplus); the optimizer holds them there once only they still move, they get SE NaN
and stay out of the information matrix, and the other SEs match a refit with the
boundary parameters fixed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.inference import optimize
from bayesmix.inference.objective import flat_model
from bayesmix.kernels.base import LINK_BOUNDARIES

#: per item, per class: category probabilities; class 0 never answers A = 1, class 1 never B = 3
PROBABILITIES = {
    "A": [[0.0, 0.2, 0.4, 0.4], [0.4, 0.3, 0.2, 0.1]],
    "B": [[0.1, 0.2, 0.3, 0.4], [0.3, 0.5, 0.0, 0.2]],
    "C": [[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]],
    "D": [[0.2, 0.2, 0.3, 0.3], [0.3, 0.3, 0.2, 0.2]],
    "E": [[0.05, 0.15, 0.3, 0.5], [0.5, 0.3, 0.15, 0.05]],
}


def simulate(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = rng.random(n) < 0.5
    return pd.DataFrame({item: np.where(first, rng.choice(4, n, p=p[0]), rng.choice(4, n, p=p[1])) + 1
                         for item, p in PROBABILITIES.items()})


def _fit(mm, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = mm.fit_ml(starts=(4, 1), seed=1, progressbar=False, **kwargs)
    return fit, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def probit_fit():
    """Ordinal probit LCA fitted by the gradient optimizer alone (as GoM is: no closed-form EM)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(optimize, "EM_WARMUP", False)
        df = simulate()
        mm = bm.lca(df, list(df.columns), 2, item_types="ordinal", link="probit")
        fit, messages = _fit(mm)
        boundary = list(fit.params.index[fit.params["at_bound"].to_numpy(bool)])
        fixed = {name: float(fit.params.loc[name, "estimate"]) for name in boundary}
        mm_fixed = bm.lca(df, list(df.columns), 2, item_types="ordinal", link="probit", fixed=fixed)
        refit, _ = _fit(mm_fixed)
    return fit, messages, boundary, refit


def test_probit_boundary_parameters_are_named_held_and_have_no_se(probit_fit):
    fit, messages, boundary, _ = probit_fit
    assert fit.converged
    # the category class 0 never chooses: its first threshold of A (below -5) and B's gap to category 3
    assert len(boundary) == 2
    assert any(name.startswith("ordinal_first_threshold[") and name.endswith(", A]") for name in boundary)
    assert any(name.startswith("ordinal_log_gap[") and name.endswith(", B[3]]") for name in boundary)
    est = fit.params.loc[boundary, "estimate"]
    assert (est.filter(like="first_threshold") <= -5.0).all()
    assert (est.filter(like="log_gap") <= np.log(1e-4)).all()
    assert fit.n_boundary == 2
    assert fit.params.loc[boundary, "se"].isna().all() and fit.params.loc[boundary, "se_robust"].isna().all()
    others = fit.params.drop(index=boundary)
    assert np.isfinite(others["se"]).all() and (others["se"] > 0).all()
    named = [m for m in messages if "at the boundary" in m]
    assert len(named) == 1 and all(name in named[0] for name in boundary)
    assert not any("not positive definite" in m for m in messages)
    assert "at the boundary" in str(fit)


def test_other_ses_match_a_refit_with_the_boundary_parameters_fixed(probit_fit):
    fit, _, boundary, refit = probit_fit
    assert refit.converged
    assert refit.loglik == pytest.approx(fit.loglik, abs=1e-3)
    others = [name for name in fit.params.index if name not in boundary]
    assert list(refit.params.loc[others].index) == others
    np.testing.assert_allclose(refit.params.loc[others, "estimate"], fit.params.loc[others, "estimate"], atol=2e-3)
    np.testing.assert_allclose(refit.params.loc[others, "se"], fit.params.loc[others, "se"], rtol=2e-2)


def test_boundary_rules_by_link_and_the_logit_rule_unchanged():
    df = simulate(n=60)
    flats = {link: flat_model(bm.lca(df, list(df.columns), 2, item_types="ordinal", link=link))
             for link in ("logit", "probit")}
    for link, flat in flats.items():
        pos = {label: i for i, label in enumerate(flat.labels())}
        first, gap = pos["ordinal_first_threshold[class1, A]"], pos["ordinal_log_gap[class1, A[2]]"]
        intercept = pos["class_intercept[class1]"]
        assert flat.bounds[first] == (-30.0, 30.0)  # the optimizer's box is the same for both links
        theta = np.zeros(flat.n_params)
        assert not flat.at_bound(theta).any()
        rule = LINK_BOUNDARIES[link]
        for index, (lo, hi) in ((first, rule.latent), (gap, rule.log_gap)):
            for value, expected in ((lo + 0.05, False), (lo - 0.05, True), (hi - 0.05, False), (hi + 0.05, True)):
                t = theta.copy()
                t[index] = value
                assert flat.at_bound(t)[index] == expected, (link, index, value)
        t = theta.copy()
        t[intercept] = -14.9  # class logits keep +-15 whatever the item link
        assert not flat.at_bound(t)[intercept]
        t[intercept] = -15.1
        assert flat.at_bound(t)[intercept]
    assert LINK_BOUNDARIES["logit"].latent == (-15.0, 15.0) and LINK_BOUNDARIES["logit"].log_gap == (-15.0, 15.0)
    assert LINK_BOUNDARIES["probit"].latent == (-5.0, 5.0)
    assert LINK_BOUNDARIES["probit"].log_gap[0] == pytest.approx(np.log(1e-4))


def test_a_gap_opening_a_category_past_the_boundary_is_at_the_boundary():
    """tau_2 beyond +5 leaves the next gap flat although the gap itself is ordinary."""
    df = simulate(n=60)
    flat = flat_model(bm.lca(df, list(df.columns), 2, item_types="ordinal", link="probit"))
    pos = {label: i for i, label in enumerate(flat.labels())}
    theta = np.zeros(flat.n_params)
    theta[pos["ordinal_log_gap[class2, C[2]]"]] = np.log(6.0)  # tau_2 = 0 + 6 > 5 (the gap itself is inside)
    mask = flat.at_bound(theta)
    assert mask[pos["ordinal_log_gap[class2, C[3]]"]]  # no response above category 2: the next gap is flat
    assert not mask[pos["ordinal_log_gap[class2, C[2]]"]] and not mask[pos["ordinal_log_gap[class1, C[3]]"]]
    theta[pos["ordinal_first_threshold[class1, D]"]] = -7.0  # tau_2 = -7 + 1 = -6 < -5: D = 1, 2 never chosen
    theta[pos["ordinal_log_gap[class1, D[3]]"]] = np.log(4.0)  # tau_3 = -6 + 4 = -2: category 3 is chosen
    mask = flat.at_bound(theta)
    assert mask[pos["ordinal_first_threshold[class1, D]"]] and mask[pos["ordinal_log_gap[class1, D[2]]"]]
    assert not mask[pos["ordinal_log_gap[class1, D[3]]"]]


def test_newton_steps_of_a_creeping_run_reach_the_same_optimum(probit_fit, monkeypatch):
    """Segments of 10 L-BFGS-B iterations, each followed by a Newton step: same optimum, same boundary."""
    fit, _, boundary, _ = probit_fit
    calls = []
    newton_step = optimize._newton_step

    def counted(*args, **kwargs):
        calls.append(1)
        return newton_step(*args, **kwargs)

    monkeypatch.setattr(optimize, "EM_WARMUP", False)
    monkeypatch.setattr(optimize, "NEWTON_AFTER", 10)
    monkeypatch.setattr(optimize, "_newton_step", counted)
    df = simulate()
    again, _ = _fit(bm.lca(df, list(df.columns), 2, item_types="ordinal", link="probit"))
    assert calls  # the Newton path ran
    assert again.converged
    assert again.loglik == pytest.approx(fit.loglik, abs=1e-3)
    assert list(again.params.index[again.params["at_bound"].to_numpy(bool)]) == boundary
