"""Item parameters that depend on the between class D as well as on C (section 6, eq. 22).

``bm.lca(..., n_between_classes=M, between_specific=["binary_logit", ...])``
gives the named item parameters dims ``(between_class, class, ...)``:
log p(y_ij | C_ij = c, D_j = d) of shape (M, N, K) in the nested marginal.

- Nesting, exact: the D-specific parameters set equal across D (at a point,
  or with ``equal={...: "between_class"}``) give the D-invariant model, with
  and without random intercepts, for every item type.
- Oracle: per-cluster log-likelihood of a small case (3 clusters, K = 2,
  M = 2, random intercepts) by brute-force enumeration over D_j and all
  C_ij of the cluster, with ``scipy.integrate.quad`` over the intercept.
- ML recovery from a numpy simulator written here; posterior predictive
  replicates draw the joint class (D, C).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import expit, softmax
from marginal_oracle import std_normal_pdf

import bayesmix as bm
import two_level_frames as frames
from two_level_frames import ITEMS, MIXED_TYPES, loglik_at
from bayesmix.inference.objective import flat_model

GH40 = {"method": "gauss-hermite", "points": 40}


def small_frame(seed: int, sizes=(3, 4, 5), mixed: bool = False) -> pd.DataFrame:
    """The shared frame without the unit covariate x (these tests need none)."""
    return frames.small_frame(seed, sizes, mixed, unit_covariate=False)


def values_of(m, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, v in m.random_start(rng).items():
        v = np.asarray(v, dtype=float)
        if name.endswith("_sd") or name == "random_chol":
            out[name] = v * rng.uniform(0.8, 1.2, size=v.shape)
        else:
            out[name] = v + rng.normal(0.0, 0.7, size=v.shape)
    return out


ALL_MIXED = ["binary_logit", "nominal_logit", "ordinal_first_threshold", "ordinal_log_gap", "normal_mean",
             "normal_sd"]


# ====================================================================== nesting, exact
@pytest.mark.parametrize("random_intercept, mixed", [(False, False), (True, False), (False, True), (True, True)])
def test_equal_across_between_classes_equals_invariant(random_intercept, mixed):
    """D-specific item parameters with the same value in every D: the D-invariant model (eq. 22 -> 24)."""
    frame = small_frame(5, mixed=mixed)
    items = ITEMS + (list(MIXED_TYPES) if mixed else [])
    names = ALL_MIXED if mixed else ["binary_logit"]
    opts = dict(cluster="school", n_between_classes=2, random_intercept=random_intercept,
                cluster_covariates=["w"], item_types=MIXED_TYPES if mixed else None)
    by_d = bm.lca(frame, items, 3 if mixed else 2, between_specific=names, **opts)
    invariant = bm.lca(frame, items, 3 if mixed else 2, **opts)
    for name in names:
        assert by_d.model.named_vars_to_dims[name][:2] == ("between_class", "class")
    for seed in (1, 2):
        values = values_of(by_d, seed)
        same = dict(values)
        for name in names:
            same[name] = values[name][0]
            values[name] = np.stack([same[name]] * 2)
        np.testing.assert_allclose(loglik_at(by_d, values), loglik_at(invariant, same), rtol=0, atol=1e-8)
        for name in names:  # parameters that differ across D do change the likelihood
            moved = dict(values)
            moved[name] = values[name] + np.array([0.0, 0.4])[:, None, None]
            assert np.abs(loglik_at(by_d, moved) - loglik_at(invariant, same)).max() > 1e-4


def test_equal_constraint_gives_invariant_model_and_count():
    """``equal={"binary_logit": "between_class"}``: the invariant model's parameter count and likelihood."""
    frame = small_frame(6)
    opts = dict(cluster="school", n_between_classes=2, random_intercept=True)
    tied = bm.lca(frame, ITEMS, 2, between_specific=["binary_logit"], equal={"binary_logit": "between_class"},
                  **opts)
    free = bm.lca(frame, ITEMS, 2, between_specific=["binary_logit"], **opts)
    invariant = bm.lca(frame, ITEMS, 2, **opts)
    n_tied, n_free, n_inv = (flat_model(m).n_params for m in (tied, free, invariant))
    assert n_tied == n_inv and n_free == n_inv + 2 * len(ITEMS)  # K x I more logits for the second D
    values = values_of(invariant, 3)
    tied_values = {k: v for k, v in values.items() if k != "binary_logit"}
    tied_values["binary_logit_free"] = values["binary_logit"].ravel()
    np.testing.assert_allclose(loglik_at(tied, tied_values), loglik_at(invariant, values), rtol=0, atol=1e-10)


def test_pattern_path_equals_per_unit_path():
    """At quadrature nodes shared by all clusters the by-pattern marginal is exact with (M, N, K) measurement."""
    sim = bm.datasets.simulate_lca_two_level(n_clusters=12, cluster_size=15, n_items=4, seed=2)
    m = bm.lca(sim.data, sim.items, 2, cluster="cluster", n_between_classes=2, random_intercept=True,
               between_specific=["binary_logit"])
    assert m.structure.patterns is not None and m.structure.measurement_groups == ("between_class", 2)
    values = values_of(m, 5)
    per_unit = {"method": "trapezoid", "points": 30, "adaptive": True}  # grid at (0, 1): the same nodes
    np.testing.assert_allclose(loglik_at(m, values), loglik_at(m, values, per_unit), rtol=0, atol=1e-10)


# ====================================================================== oracle
def test_loglik_matches_brute_force_enumeration():
    """3 clusters, K = 2, M = 2, random intercepts: sum over D_j and every (C_1j, ..., C_nj), quad over z."""
    frame = small_frame(21)
    m = bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, random_intercept=True,
               cluster_covariates=["w"], between_specific=["binary_logit"])
    flat = flat_model(m, GH40)
    y = frame[ITEMS].to_numpy(float)
    for seed in (1, 2):
        values = values_of(m, seed)
        beta = values["binary_logit"]  # (M, K, I)
        a = float(values["class_intercept"][0])
        gamma = [float(values["class_between_effect"].ravel()[0]), 0.0]
        sd = float(np.ravel(values["random_sd"])[0])
        expected = []
        for label in m.data.clusters:
            rows = np.flatnonzero(frame["school"].to_numpy() == label)
            w = frame["w"].to_numpy()[rows[0]]
            pi = softmax([float(values["between_class_intercept"][0])
                          + w * float(values["between_class_slope"].ravel()[0]), 0.0])

            def f(z):
                total = 0.0
                for d in range(2):
                    pc = softmax([a + gamma[d] + sd * z, 0.0])
                    for cs in itertools.product(range(2), repeat=len(rows)):
                        term = pi[d]
                        for i, c in zip(rows, cs):
                            p = expit(beta[d, c])
                            lik = np.where(np.isnan(y[i]), 1.0, np.where(y[i] == 1, p, 1 - p))
                            term *= pc[c] * np.prod(lik)
                        total += term
                return total * std_normal_pdf(z)

            expected.append(np.log(integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]))
        np.testing.assert_allclose(flat.unit_loglik(flat.to_theta(values)), expected, rtol=0, atol=1e-7)


# ====================================================================== ML recovery, simulation
P_BY_D = np.array([[[0.9, 0.9, 0.8, 0.8, 0.9], [0.1, 0.2, 0.1, 0.2, 0.1]],     # D1: C1 high, C2 low
                   [[0.9, 0.9, 0.1, 0.1, 0.9], [0.2, 0.1, 0.9, 0.9, 0.1]]])    # D2: the same classes, items 3-4 flip


def simulate(seed: int, n_clusters: int = 80, size: int = 15):
    """numpy: D_j ~ (0.5, 0.5); P(C = 1 | d) = (0.7, 0.3); y_ij ~ Bernoulli(P_BY_D[d, c]) -- eq. 22."""
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 2, n_clusters)
    index = np.repeat(np.arange(n_clusters), size)
    c = (rng.uniform(size=len(index)) > np.array([0.7, 0.3])[d[index]]).astype(int)
    y = (rng.uniform(size=(len(index), 5)) < P_BY_D[d[index], c]).astype(float)
    frame = pd.DataFrame(y, columns=[f"u{i}" for i in range(5)])
    frame["cluster"] = index
    return frame


def test_ml_recovers_between_specific_profiles():
    frame = simulate(4)
    items = [f"u{i}" for i in range(5)]
    m = bm.lca(frame, items, 2, cluster="cluster", n_between_classes=2, between_specific=["binary_logit"])
    ml = m.fit_ml(starts=(8, 2), seed=2, progressbar=False)
    prof = ml.profiles.xs("estimate", axis=1, level="statistic")  # rows items, columns (D, C)
    est = prof.to_numpy().T.reshape(2, 2, 5)  # (D, C, I)
    # the labels of D and of C within each D are arbitrary: match D by items 3-4 of the high class, C by item 1
    est = np.stack([e[np.argsort(-e[:, 0])] for e in est])
    est = est[np.argsort(est[:, 0, 2])[::-1]]
    np.testing.assert_allclose(est, P_BY_D, atol=0.12)
    invariant = bm.lca(frame, items, 2, cluster="cluster", n_between_classes=2).fit_ml(
        starts=(8, 2), seed=2, progressbar=False)
    assert ml.loglik - invariant.loglik > 50  # D-specific items fit far better
    assert ml.n_params - invariant.n_params == 10


def test_replicates_draw_the_joint_between_within_class():
    """At D1 items ~ always 1 and D2 items ~ always 0, every replicated cluster is all 1 or all 0."""
    frame = small_frame(8, sizes=(6, 6, 6, 6))
    m = bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, between_specific=["binary_logit"])
    point = {"class_intercept": np.array([0.0]), "class_between_effect": np.array([[0.0]]),
             "between_class_intercept": np.array([0.0]),
             "binary_logit": np.stack([np.full((2, 4), 15.0), np.full((2, 4), -15.0)])}
    ppc = m.posterior_predictive(point, draws=20, seed=3)
    reps = np.stack([ppc["posterior_predictive"][i].to_numpy() for i in ITEMS], axis=-1)  # (chain, draw, N, I)
    reps = reps.reshape(-1, *reps.shape[-2:])
    observed = ~np.isnan(frame[ITEMS].to_numpy())
    kinds = set()
    for rep in reps:
        for j in range(4):
            rows = np.flatnonzero(m.data.cluster_index == j)
            values = rep[rows][observed[rows]]
            assert np.all(values == values[0])
            kinds.add(float(values[0]))
    assert kinds == {0.0, 1.0}


def test_options_are_checked_before_compiling():
    frame = small_frame(9)
    with pytest.raises(ValueError, match="n_between_classes"):
        bm.lca(frame, ITEMS, 2, cluster="school", random_intercept=True, between_specific=["binary_logit"])
    with pytest.raises(ValueError, match="cannot vary across between classes"):
        bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, between_specific=["normal_mean"])
    with pytest.raises(ValueError, match="ordered"):
        bm.lca(frame, ITEMS, 2, cluster="school", n_between_classes=2, between_specific=["binary_logit"],
               ordered="y1")
