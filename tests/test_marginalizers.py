"""Every marginalizer in ``bayesmix.marginal`` against brute-force enumeration.

For within, between, nested (section 6), item (GoM) and chain (LTA), the
compiled PyTensor ``loglik`` and posteriors of tiny random cases equal what
``marginal_oracle`` gets by summing the joint density written straight from the
model's definition over every configuration of the discrete classes. The
cases have a leading batch axis (2 quadrature nodes), missing cells or
occasions, unequal cluster sizes, cluster-dependent between priors and
unit-dependent transitions.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
from marginal_oracle import (
    check_marginal,
    enumerate_expectation,
    enumerate_loglik,
    enumerate_mode,
    enumerate_posterior,
    one_hot,
)
from scipy.special import log_softmax, logsumexp, softmax

from bayesmix._compile import function
from bayesmix.marginal import between, chain, item, nested, within

ATOL = 1e-9
NODES = 2  # leading batch axis, e.g. quadrature nodes


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def log_probs(generator: np.random.Generator, *shape: int) -> np.ndarray:
    """Random normalized log probabilities over the last axis."""
    return log_softmax(generator.normal(scale=1.5, size=shape), axis=-1)


def compiled(build, *arrays: np.ndarray, static: bool = True):
    """Compile ``build`` over symbolic inputs shaped like ``arrays`` (no constant folding) and run it."""
    inputs = [pt.tensor(dtype="float64", shape=a.shape if static else (None,) * a.ndim) for a in arrays]
    return function(inputs, build(*inputs))(*arrays)


def pick(values: np.ndarray, b: int) -> np.ndarray:
    """The batch slice ``b`` of an input that may lack the batch axis (broadcast)."""
    return values[b] if values.ndim and values.shape[0] == NODES else values


# ---------------------------------------------------------------- within (eq. 3-4)

@pytest.mark.parametrize("prior_units", [3, 1])
def test_within_matches_enumeration(prior_units):
    g = rng(1)
    n, k = 3, 3
    log_prior = log_probs(g, NODES, prior_units, k)
    ll = g.normal(size=(n, k)) - 2.0
    ll[1] = 0.0  # a unit with nothing observed
    value, post = compiled(lambda a, b: [within.loglik(a, b), within.posterior(a, b)], log_prior, ll)
    assert value.shape == (NODES, n) and post.shape == (NODES, n, k)
    for b in range(NODES):
        for i in range(n):
            lp = log_prior[b, min(i, prior_units - 1)]
            check_marginal(value[b, i], lambda c: lp[c] + ll[i, c], {"c": ((), k)},
                           posteriors={"c": post[b, i]}, atol=ATOL)
    np.testing.assert_allclose(value[:, 1], 0.0, atol=1e-12)  # normalized prior, nothing observed
    np.testing.assert_allclose(within.marginal_loglik_numpy(log_prior, ll), value, atol=ATOL)
    np.testing.assert_allclose(within.posterior_class_probabilities(log_prior, ll), post, atol=ATOL)


# ---------------------------------------------------------------- between (eq. 16-17)

CLUSTER_INDEX = np.array([0, 1, 0, 0, 1])  # unequal sizes 3 and 2, not sorted
N_CLUSTERS = 2


def members(j: int) -> np.ndarray:
    return np.flatnonzero(CLUSTER_INDEX == j)


@pytest.mark.parametrize("prior_clusters", [N_CLUSTERS, 1])
def test_between_matches_enumeration(prior_clusters):
    """Units carry their own classes C_ij, forced equal to D_j by the constraint of eq. 16."""
    g = rng(2)
    m = 3
    log_prior = log_probs(g, prior_clusters, m)
    ll = g.normal(size=(NODES, len(CLUSTER_INDEX), m)) - 1.0
    ll[:, 3] = 0.0  # a unit with nothing observed
    value, post = compiled(
        lambda a, b: [between.loglik(a, b, CLUSTER_INDEX, N_CLUSTERS),
                      between.posterior(a, b, CLUSTER_INDEX, N_CLUSTERS)], log_prior, ll)
    assert value.shape == (NODES, N_CLUSTERS) and post.shape == (NODES, N_CLUSTERS, m)
    for b in range(NODES):
        for j in range(N_CLUSTERS):
            units, lp = members(j), log_prior[min(j, prior_clusters - 1)]

            def joint(d, c, units=units, lp=lp, b=b):
                if np.any(c != d):
                    return -np.inf
                return lp[d] + ll[b, units, c].sum()

            check_marginal(value[b, j], joint, {"d": ((), m), "c": ((len(units),), m)},
                           posteriors={"d": post[b, j]}, atol=ATOL)
    cluster_ll = compiled(lambda a: between.cluster_loglik_by_class(a, CLUSTER_INDEX, N_CLUSTERS), ll)
    np.testing.assert_allclose(between.posterior_class_probabilities(log_prior, cluster_ll), post, atol=ATOL)


# ---------------------------------------------------------------- nested (section 6, eq. 22-26)

def nested_case(seed: int, prior_clusters: int, prior_units: int, m: int = 2, k: int = 3):
    g = rng(seed)
    log_prior_between = log_probs(g, prior_clusters, m)  # cluster-dependent when J
    log_prior_within = log_probs(g, NODES, m, prior_units, k)  # batch axis (random intercepts)
    ll = g.normal(size=(len(CLUSTER_INDEX), k)) - 1.0
    ll[4] = 0.0  # a unit with nothing observed
    return log_prior_between, log_prior_within, ll


@pytest.mark.parametrize(("prior_clusters", "prior_units"), [(N_CLUSTERS, len(CLUSTER_INDEX)), (1, 1)])
def test_nested_matches_enumeration(prior_clusters, prior_units):
    lpb, lpw, ll = nested_case(3, prior_clusters, prior_units)
    m, k = lpb.shape[-1], ll.shape[-1]
    args = (CLUSTER_INDEX, N_CLUSTERS)
    value, post_d, post_c = compiled(
        lambda a, b, c: [nested.loglik(a, b, c, *args), nested.posterior_between(a, b, c, *args),
                         nested.posterior_within(a, b, c, *args)], lpb, lpw, ll)
    assert value.shape == (NODES, N_CLUSTERS)
    assert post_d.shape == (NODES, N_CLUSTERS, m) and post_c.shape == (NODES, len(CLUSTER_INDEX), k)
    for b in range(NODES):
        for j in range(N_CLUSTERS):
            units = members(j)
            prior_d = lpb[min(j, prior_clusters - 1)]
            prior_c = lpw[b][:, units if prior_units > 1 else [0] * len(units)]  # (M, n_j, K)

            def joint(d, c, units=units, prior_d=prior_d, prior_c=prior_c):
                slots = np.arange(len(units))
                return prior_d[d] + (prior_c[d, slots, c] + ll[units, c]).sum()

            check_marginal(value[b, j], joint, {"d": ((), m), "c": ((len(units),), k)},
                           posteriors={"d": post_d[b, j], "c": post_c[b, units]}, atol=ATOL)


def test_nested_population_proportions_weigh_each_unit_once():
    index = np.array([0, 0, 0, 1])  # sizes 3 and 1
    g = rng(4)
    m, k = 2, 3
    lpb = log_probs(g, NODES, 2, m)  # cluster-dependent (cluster covariates), batch axis
    lpw = log_probs(g, m, len(index), k)  # unit-dependent (unit covariates)
    props, unit_prior = compiled(
        lambda a, b: [nested.population_proportions(a, b, index, 2), nested.unit_log_prior(a, b, index, 2)],
        lpb, lpw)
    direct = np.empty((NODES, k))
    for b in range(NODES):
        per_unit = [sum(np.exp(lpb[b, index[i], d] + lpw[d, i]) for d in range(m)) for i in range(len(index))]
        direct[b] = np.mean(per_unit, axis=0)
        np.testing.assert_allclose(np.exp(unit_prior[b]), per_unit, atol=ATOL)
    np.testing.assert_allclose(props, direct, atol=ATOL)
    np.testing.assert_allclose(props.sum(-1), 1.0, atol=1e-12)
    # the old product of means (mean over clusters of P(D) times mean over units of P(C | d)) differs here
    product_of_means = np.einsum("bd,dk->bk", np.exp(lpb).mean(1), np.exp(lpw).mean(1))
    assert np.abs(props - product_of_means).max() > 1e-3
    # a between prior shared by all clusters, (1, M), broadcasts to the units
    shared = compiled(lambda a, b: nested.population_proportions(a, b, index, 2), lpb[:, :1], lpw)
    np.testing.assert_allclose(shared, np.einsum("bd,dik->bk", np.exp(lpb[:, 0]), np.exp(lpw)) / len(index),
                               atol=ATOL)


# ---------------------------------------------------------------- item / GoM (section 7, eq. 27-30)

@pytest.mark.parametrize("membership_units", [3, 1])
def test_item_matches_enumeration(membership_units):
    g = rng(5)
    n, n_items, k = 3, 3, 3
    log_membership = log_probs(g, NODES, membership_units, k)
    ll = g.normal(size=(n, n_items, k)) - 1.0
    observed = np.ones((n, n_items))
    observed[0, 1] = observed[2, 0] = observed[2, 2] = 0
    ll[0, 1] = np.nan  # whatever a missing cell holds, it contributes exactly 0
    ll[2, 0] = 40.0
    value, post = compiled(lambda a, b: [item.loglik(a, b, observed), item.posterior(a, b, observed)],
                           log_membership, ll)
    assert value.shape == (NODES, n) and post.shape == (NODES, n, n_items, k)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(post))
    for b in range(NODES):
        for i in range(n):
            lm = log_membership[b, min(i, membership_units - 1)]
            seen = observed[i] > 0

            def joint(c, lm=lm, seen=seen, i=i):
                items = np.arange(n_items)
                return (lm[c] + np.where(seen, ll[i, items, c], 0.0)).sum()

            check_marginal(value[b, i], joint, {"c": ((n_items,), k)}, posteriors={"c": post[b, i]}, atol=ATOL)
        np.testing.assert_allclose(post[b, 0, 1], np.exp(log_membership[b, 0]), atol=ATOL)  # missing: prior


def test_item_without_mask_sums_every_item():
    g = rng(6)
    log_membership, ll = log_probs(g, 1, 2), g.normal(size=(3, 4, 2))
    value = compiled(lambda a, b: item.loglik(a, b), log_membership, ll)
    np.testing.assert_allclose(value, logsumexp(log_membership[:, None, :] + ll, axis=-1).sum(-1), atol=ATOL)


# ---------------------------------------------------------------- chain / LTA (sections 3-4, eq. 6-9)

def chain_case(seed: int, k: int, initial_units: int, n: int = 3, t: int = 3):
    g = rng(seed)
    log_initial = log_probs(g, initial_units, k)
    log_transition = log_probs(g, NODES, n, t - 1, k, k)  # batch axis, unit-dependent, time-specific
    emission = g.normal(size=(n, t, k)) * 2.0 - 1.0
    emission[0, 1:] = 0.0  # seen only at time 1
    emission[1, 1] = 0.0  # missed the middle occasion
    return log_initial, log_transition, emission


def chain_joint(li, lt, em):
    def joint(c):
        steps = np.arange(len(c) - 1)
        return li[c[0]] + lt[steps, c[:-1], c[1:]].sum() + em[np.arange(len(c)), c].sum()
    return joint


def transitions(k: int):
    def statistic(c):
        return one_hot(c[:-1], k)[:, :, None] * one_hot(c[1:], k)[:, None, :]
    return statistic


@pytest.mark.parametrize(("k", "initial_units"), [(2, 3), (3, 1)])
def test_chain_matches_enumeration(k, initial_units):
    li, lt, em = chain_case(7 + k, k, initial_units)
    n, t = em.shape[:2]
    value, post, pairs = compiled(
        lambda a, b, c: [chain.loglik(a, b, c), chain.posterior(a, b, c), chain.pairwise_posterior(a, b, c)],
        li, lt, em)
    assert value.shape == (NODES, n) and post.shape == (NODES, n, t, k) and pairs.shape == (NODES, n, t - 1, k, k)
    paths = chain.viterbi(li, lt, em)
    assert paths.shape == (NODES, n, t)
    space = {"c": ((t,), k)}
    for b in range(NODES):
        for i in range(n):
            joint = chain_joint(li[min(i, initial_units - 1)], lt[b, i], em[i])
            check_marginal(value[b, i], joint, space, posteriors={"c": post[b, i]}, atol=ATOL)
            np.testing.assert_allclose(pairs[b, i], enumerate_expectation(joint, space, transitions(k)), atol=ATOL)
            np.testing.assert_array_equal(paths[b, i], enumerate_mode(joint, space)["c"])
    # seen only at time 1: the time-1 class model alone, whatever the transitions
    lp0 = li[0]
    np.testing.assert_allclose(value[:, 0], np.full(NODES, logsumexp(lp0 + em[0, 0])), atol=ATOL)
    np.testing.assert_allclose(post[:, 0, 0], np.broadcast_to(softmax(lp0 + em[0, 0]), (NODES, k)), atol=ATOL)
    np.testing.assert_allclose(pairs.sum((-1, -2)), 1.0, atol=1e-12)
    np.testing.assert_allclose(pairs.sum(-1), post[..., :-1, :], atol=ATOL)  # consistent margins


def test_chain_single_time_point_and_dynamic_shapes():
    li, lt, em = chain_case(11, 2, 3)
    one = compiled(lambda a, b, c: [chain.loglik(a, b, c), chain.pairwise_posterior(a, b, c)],
                   li, lt[:, :, :0], em[:, :1])
    np.testing.assert_allclose(one[0], logsumexp(li + em[:, 0], axis=-1), atol=ATOL)
    assert one[1].shape == (3, 0, 2, 2)
    with pytest.raises(ValueError, match="n_times"):
        compiled(lambda a, b, c: chain.loglik(a, b, c), li, lt, em, static=False)
    dynamic = compiled(lambda a, b, c: chain.loglik(a, b, c, n_times=3), li, lt, em, static=False)
    static = compiled(lambda a, b, c: chain.loglik(a, b, c), li, lt, em)
    np.testing.assert_allclose(dynamic, static, atol=ATOL)


# ---------------------------------------------------------------- the oracle itself

def test_oracle_enumerates_every_configuration():
    """Two independent categorical variables: the oracle's sums are the closed forms."""
    g = rng(12)
    a, b = log_probs(g, 3) + 0.3, g.normal(size=(2, 2))
    space = {"x": ((), 3), "y": ((2,), 2)}
    joint = lambda x, y: a[x] + b[[0, 1], y].sum()  # noqa: E731
    np.testing.assert_allclose(enumerate_loglik(joint, space), logsumexp(a) + logsumexp(b, axis=-1).sum())
    post = enumerate_posterior(joint, space)
    np.testing.assert_allclose(post["x"], softmax(a))
    np.testing.assert_allclose(post["y"], softmax(b, axis=-1))


def test_missing_cells_reach_no_gradient():
    """A NaN in a missing cell leaves the gradient of the GoM log-likelihood finite (and that cell's zero)."""
    ll = rng(13).normal(size=(2, 3, 2))
    ll[0, 1] = np.nan
    observed = np.ones((2, 3))
    observed[0, 1] = 0
    lm, cells = pt.matrix("lm", shape=(2, 2)), pt.tensor3("cells", shape=(2, 3, 2))
    total = item.loglik(lm, cells, observed).sum()
    grads = function([lm, cells], pt.grad(total, [lm, cells]))(log_probs(rng(14), 2, 2), ll)
    assert all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_array_equal(grads[1][0, 1], 0.0)
