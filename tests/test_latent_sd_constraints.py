"""SDs of latent effects through ``fixed=`` / ``equal=`` (the constraint machinery, Mplus ``@`` and ``(1)``).

``fixed={"random_sd": 0.0}`` removes the random intercepts exactly:
alpha_j = mu + 0 * z_j, so the within-and-between model with random intercepts
(section 6, eq. 24 with random alpha_cj) is the plain within+between model
(eq. 24-26) and the within-between model (Model 6, eq. 4-5) is the
two-level LCA without random intercepts -- equal log-likelihoods at the same
parameter values, to 1e-10, and the parameter count drops by the SDs (and
the LKJ correlations of correlated intercepts, all SDs 0). ``equal=`` ties
the between-class-specific SDs of eq. 18 back to one.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.inference.objective import flat_model

from test_between_item_parameters import ITEMS, loglik_at, small_frame, values_of


@pytest.mark.parametrize("k, n_between", [(2, 2), (3, 2), (2, None)])
def test_zero_sd_fixed_equals_model_without_random_intercepts(k, n_between):
    frame = small_frame(31)
    opts = dict(cluster="school", n_between_classes=n_between, cluster_covariates=["w"] if n_between else None)
    zero = bm.lca(frame, ITEMS, k, random_intercept=True, fixed={"random_sd": 0.0}, **opts)
    if n_between is None:
        plain = bm.lca(frame, ITEMS, k)  # one class per unit; summed by cluster below
    else:
        plain = bm.lca(frame, ITEMS, k, **opts)
    free = bm.lca(frame, ITEMS, k, random_intercept=True, **opts)
    n_zero, n_plain, n_free = (flat_model(m).n_params for m in (zero, plain, free))
    assert n_zero == n_plain
    assert n_free - n_zero == (k - 1) * k // 2  # K-1 SDs (+ correlations when K > 2)
    assert "random_sd" not in {rv.name for rv in zero.model.free_RVs}
    for seed in (1, 2):
        values = values_of(zero, seed)
        reduced = {key: v for key, v in values.items() if not key.startswith("random_")}
        got = loglik_at(zero, values)
        want = loglik_at(plain, reduced)
        if n_between is None:  # per unit -> per cluster
            want = np.bincount(zero.data.cluster_index, weights=want)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_zero_sd_ml_fit_equals_plain_fit():
    """ML with the SD fixed at 0 runs (no log(0)) and reaches the plain within+between optimum."""
    sim = bm.datasets.simulate_lca_two_level(n_clusters=12, cluster_size=10, n_items=4, seed=4)
    opts = dict(cluster="cluster", n_between_classes=2)
    zero = bm.lca(sim.data, sim.items, 2, random_intercept=True, fixed={"random_sd": 0.0}, **opts)
    plain = bm.lca(sim.data, sim.items, 2, **opts)
    a = zero.fit_ml(starts=(6, 2), seed=1, progressbar=False)
    b = plain.fit_ml(starts=(6, 2), seed=1, progressbar=False)
    assert a.n_params == b.n_params
    assert abs(a.loglik - b.loglik) < 1e-4
    assert np.all(np.asarray(a.point["random_sd"]) == 0.0)


def test_between_specific_sds_tied_equal_invariant():
    """``between_specific=["random_sd"]`` with ``equal={"random_sd": "between_class"}``: the D-invariant model."""
    frame = small_frame(32)
    opts = dict(cluster="school", n_between_classes=2, random_intercept=True)
    tied = bm.lca(frame, ITEMS, 2, between_specific=["random_sd"], equal={"random_sd": "between_class"}, **opts)
    invariant = bm.lca(frame, ITEMS, 2, **opts)
    assert flat_model(tied).n_params == flat_model(invariant).n_params
    values = values_of(invariant, 4)
    tied_values = {key: v for key, v in values.items() if key != "random_sd"}
    tied_values["random_sd_free"] = np.ravel(values["random_sd"])
    np.testing.assert_allclose(loglik_at(tied, tied_values), loglik_at(invariant, values), rtol=0, atol=1e-10)


def test_partly_fixed_sds_and_refusals():
    frame = small_frame(33)
    opts = dict(cluster="school", n_between_classes=2, random_intercept=True, between_specific=["random_sd"])
    m = bm.lca(frame, ITEMS, 2, fixed={"random_sd[between_class2, *]": 0.0}, **opts)
    assert flat_model(m).n_params == flat_model(bm.lca(frame, ITEMS, 2, **opts)).n_params - 1
    with pytest.raises(ValueError, match="only have all their SDs fixed at 0"):
        bm.lca(frame, ITEMS, 3, cluster="school", random_intercept=True, fixed={"random_sd[class1]": 1.0})
