"""Between-level classes: one latent class D_j per cluster (paper eq. 16-17).

log p(y_j) = logsumexp_d [ log P(D_j = d | w_j) + sum_{i in j} log p(y_ij | D_j = d) ]

The units' log-likelihoods are summed *inside* the logsumexp, which is the
stochastic equality constraint C_ij = C_j of eq. 16. Leading axes (random
effects, quadrature nodes) broadcast through.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import softmax

from ..random_effects import segment_sum


def cluster_loglik_by_class(unit_loglik_by_class, cluster_index: np.ndarray, n_clusters: int):
    """(..., N, M) -> (..., J, M): sum of the cluster's units, per between class."""
    moved = pt.swapaxes(unit_loglik_by_class, -1, -2)  # (..., M, N)
    return pt.swapaxes(segment_sum(moved, cluster_index, n_clusters), -1, -2)


def marginal_loglik(log_prior_between, unit_loglik_by_class, cluster_index: np.ndarray, n_clusters: int):
    """Per-cluster marginal log-likelihood (..., J)."""
    cluster_ll = cluster_loglik_by_class(unit_loglik_by_class, cluster_index, n_clusters)
    return pt.logsumexp(log_prior_between + cluster_ll, axis=-1)


def posterior_class_probabilities(log_prior_between, cluster_ll):
    """P(D_j = d | y_j), numpy."""
    return softmax(log_prior_between + cluster_ll, axis=-1)
