"""Between-level classes: one latent class D_j per cluster (paper eq. 16-17).

    log p(y_j)       = logsumexp_d [ log P(D_j = d | w_j) + sum_{i in j} log p(y_ij | D_j = d) ]
    P(D_j = d | y_j) = softmax_d   [ same ]

The units' log-likelihoods are summed *inside* the logsumexp: that is the
stochastic equality constraint C_ij = C_j of eq. 16. ``log P(D_j = d | w_j)``
is the logit of eq. 17 (or eq. 26 for section 6). Leading axes (random
effects, quadrature nodes, draws) broadcast through.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor import TensorLike, TensorVariable
from scipy.special import softmax

from ..latent import segment_sum
from . import within

__all__ = [
    "cluster_loglik_by_class",
    "loglik",
    "log_posterior",
    "posterior",
    "posterior_class_probabilities",
]


def cluster_loglik_by_class(unit_loglik_by_class: TensorLike, cluster_index: np.ndarray,
                            n_clusters: int) -> TensorVariable:
    """Sum of each cluster's unit log-likelihoods per between class: (..., N, M) -> (..., J, M)."""
    moved = pt.swapaxes(pt.as_tensor_variable(unit_loglik_by_class), -1, -2)  # (..., M, N)
    return pt.swapaxes(segment_sum(moved, cluster_index, n_clusters), -1, -2)


def log_posterior(log_prior_between: TensorLike, unit_loglik_by_class: TensorLike,
                  cluster_index: np.ndarray, n_clusters: int) -> TensorVariable:
    """log P(D_j = d | y_j), shape (..., J, M) (same arguments as :func:`loglik`)."""
    cluster_ll = cluster_loglik_by_class(unit_loglik_by_class, cluster_index, n_clusters)
    return within.log_posterior(log_prior_between, cluster_ll)


def loglik(log_prior_between: TensorLike, unit_loglik_by_class: TensorLike,
           cluster_index: np.ndarray, n_clusters: int) -> TensorVariable:
    """Per-cluster marginal log-likelihood (eq. 16-17).

    Parameters
    ----------
    log_prior_between : (..., J or 1, M)
        log P(D_j = d | w_j).
    unit_loglik_by_class : (..., N, M)
        log p(y_ij | D_j = d) of each unit.
    cluster_index : (N,) int
        Cluster of each unit, in ``range(n_clusters)``.
    n_clusters : int
        J.

    Returns
    -------
    (..., J): logsumexp_d [log_prior_between + sum of the cluster's units].
    """
    cluster_ll = cluster_loglik_by_class(unit_loglik_by_class, cluster_index, n_clusters)
    return within.loglik(log_prior_between, cluster_ll)


def posterior(log_prior_between: TensorLike, unit_loglik_by_class: TensorLike,
              cluster_index: np.ndarray, n_clusters: int) -> TensorVariable:
    """P(D_j = d | y_j), shape (..., J, M) (same arguments as :func:`loglik`)."""
    return pt.exp(log_posterior(log_prior_between, unit_loglik_by_class, cluster_index, n_clusters))


# Earlier name, kept for callers.


def posterior_class_probabilities(log_prior_between: np.ndarray, cluster_ll: np.ndarray) -> np.ndarray:
    """P(D_j = d | y_j) in NumPy from the cluster sums of :func:`cluster_loglik_by_class`."""
    return softmax(log_prior_between + cluster_ll, axis=-1)
