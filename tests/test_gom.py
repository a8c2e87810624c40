"""Grade of membership (section 7, eq. 27-35; Erosheva's Dirichlet GoM).

Oracles: the item-level structure against brute-force enumeration of every
C_ij; the integrated GoM log-likelihood at fixed parameters against an
independent numpy quadrature (logistic-normal) and a direct numpy Monte
Carlo (Dirichlet). Nesting by ML on one data set (LL(GoM) >= LL(LCA), one
parameter more, restricted = unrestricted for K = 2). Recovery on data with
real partial membership (ML and a small NUTS run).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
from marginal_oracle import check_marginal, enumerate_posterior
from scipy.special import log_softmax

from bayesmix._compile import function
from bayesmix.structure import ItemClasses

ATOL = 1e-9


def _evaluate(graphs):
    return function([], graphs)()


# ------------------------------------------------------------ ItemClasses vs brute force (eq. 27-30, 44)

@pytest.mark.parametrize("layout", ["shared", "per_item"])
def test_item_classes_match_enumeration(layout):
    """log p(y_j | z) and P(C_ij = k | y_j, z) equal sums over all K^I class configurations per person."""
    g = np.random.default_rng(3)
    nodes, n, n_items, k = 2, 3, 3, 3
    shape = (nodes, n, n_items, k) if layout == "per_item" else (nodes, n, k)
    log_membership = log_softmax(g.normal(scale=1.5, size=shape), axis=-1)
    ll = g.normal(size=(n, n_items, k)) - 1.0
    observed = np.ones((n, n_items))
    observed[1, 2] = 0
    ll[1, 2] = np.nan  # a missing cell contributes exactly 0 whatever it holds
    structure = ItemClasses(lambda z: pt.as_tensor(log_membership), lambda z: pt.as_tensor(ll), n,
                            observed=observed, per_item=layout == "per_item")
    value, post, member, props = _evaluate([structure.conditional_loglik(None),
                                            structure.extra_posteriors(None)["item_class"][0],
                                            structure.class_posterior(None), structure.proportions(None)])
    assert value.shape == (nodes, n) and post.shape == (nodes, n, n_items, k)
    for b in range(nodes):
        for j in range(n):
            lm = log_membership[b, j] if layout == "per_item" else np.broadcast_to(log_membership[b, j], (n_items, k))
            seen = observed[j] > 0

            def joint(c, lm=lm, seen=seen, j=j):
                items = np.arange(n_items)
                return (lm[items, c] + np.where(seen, ll[j, items, c], 0.0)).sum()

            check_marginal(value[b, j], joint, {"c": ((n_items,), k)}, posteriors={"c": post[b, j]}, atol=ATOL)
            np.testing.assert_allclose(member[b, j], np.exp(lm).mean(0), atol=ATOL)
    np.testing.assert_allclose(props, member.mean(1), atol=ATOL)


def test_item_classes_sum_persons_into_clusters():
    g = np.random.default_rng(4)
    log_membership = log_softmax(g.normal(size=(1, 2)), axis=-1)
    ll = g.normal(size=(4, 3, 2))
    index = np.array([0, 0, 1, 1])
    per_person = ItemClasses(lambda z: pt.as_tensor(log_membership), lambda z: pt.as_tensor(ll), 4)
    clustered = ItemClasses(lambda z: pt.as_tensor(log_membership), lambda z: pt.as_tensor(ll), 4,
                            cluster_index=index, n_clusters=2)
    assert not per_person.per_item  # inferred from the graph at z=None: (1, K)
    a, b = _evaluate([per_person.conditional_loglik(), clustered.conditional_loglik()])
    np.testing.assert_allclose(b, [a[:2].sum(), a[2:].sum()], atol=ATOL)
    assert clustered.level == "cluster"
    exact = enumerate_posterior(lambda c: (log_membership[0][c] + ll[0, np.arange(3), c]).sum(), {"c": ((3,), 2)})
    post = _evaluate([per_person.item_class_posterior()])[0]
    np.testing.assert_allclose(post[0], exact["c"], atol=ATOL)
