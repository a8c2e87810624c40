"""Within and between classes together (paper section 6, eq. 22-26).

A within class C_ij whose logits depend on the cluster's between class D_j
(eq. 24, the gamma_cdj term), D_j predicted by cluster covariates (eq. 26):

    log p(y_ij | D_j = d)  = logsumexp_c [ log P(C_ij = c | D_j = d, x_ij) + log p(y_ij | C_ij = c) ]
    log p(y_j)             = logsumexp_d [ log P(D_j = d | w_j) + sum_{i in j} log p(y_ij | D_j = d) ]
    P(C_ij = c | y_j)      = sum_d P(D_j = d | y_j) P(C_ij = c | y_ij, D_j = d)

i.e. :mod:`.within` for each d, then :mod:`.between` over d. Shapes used below:
N units, J clusters, M between classes, K within classes; leading axes
(random effects, quadrature nodes, draws) broadcast through.

- ``log_prior_between``: (..., J or 1, M) = log P(D_j = d | w_j) (eq. 26).
- ``log_prior_within``: (..., M, N or 1, K) = log P(C_ij = c | D_j = d, x_ij) (eq. 24).
- ``loglik_by_class``: (..., N, K) = log p(y_ij | C_ij = c) (eq. 22-23); with
  ``by_between=True`` (..., M, N, K) = log p(y_ij | C_ij = c, D_j = d): item
  parameters that depend on the between class as well (eq. 22).
- ``cluster_index``: (N,) int in ``range(n_clusters)``.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor import TensorLike, TensorVariable

from . import between, within

__all__ = [
    "loglik_by_between_class",
    "loglik",
    "posterior_between",
    "posterior_within",
    "posterior_joint",
    "unit_log_prior",
    "population_proportions",
]


def _per_between_class(loglik_by_class: TensorLike, by_between: bool = False) -> TensorVariable:
    """(..., N, K) -> (..., 1, N, K), to broadcast against (..., M, N, K); by_between: already (..., M, N, K)."""
    loglik_by_class = pt.as_tensor_variable(loglik_by_class)
    return loglik_by_class if by_between else pt.expand_dims(loglik_by_class, -3)


def _units_first(values: TensorVariable) -> TensorVariable:
    """(..., M, N) -> (..., N, M)."""
    return pt.swapaxes(values, -1, -2)


def loglik_by_between_class(log_prior_within: TensorLike, loglik_by_class: TensorLike,
                            by_between: bool = False) -> TensorVariable:
    """log p(y_ij | D_j = d, x_ij), shape (..., N, M): the within marginal (eq. 24) for each d."""
    by_d = within.loglik(log_prior_within, _per_between_class(loglik_by_class, by_between))  # (..., M, N)
    return _units_first(by_d)


def loglik(log_prior_between: TensorLike, log_prior_within: TensorLike, loglik_by_class: TensorLike,
           cluster_index: np.ndarray, n_clusters: int, by_between: bool = False) -> TensorVariable:
    """Per-cluster marginal log-likelihood log p(y_j), shape (..., J) (eq. 24-26)."""
    unit_by_d = loglik_by_between_class(log_prior_within, loglik_by_class, by_between)
    return between.loglik(log_prior_between, unit_by_d, cluster_index, n_clusters)


def _log_posterior_between(log_prior_between, log_prior_within, loglik_by_class, cluster_index, n_clusters,
                           by_between=False):
    unit_by_d = loglik_by_between_class(log_prior_within, loglik_by_class, by_between)
    return between.log_posterior(log_prior_between, unit_by_d, cluster_index, n_clusters)


def posterior_between(log_prior_between: TensorLike, log_prior_within: TensorLike, loglik_by_class: TensorLike,
                      cluster_index: np.ndarray, n_clusters: int, by_between: bool = False) -> TensorVariable:
    """P(D_j = d | y_j), shape (..., J, M) (same arguments as :func:`loglik`)."""
    return pt.exp(_log_posterior_between(log_prior_between, log_prior_within, loglik_by_class,
                                         cluster_index, n_clusters, by_between))


def posterior_within(log_prior_between: TensorLike, log_prior_within: TensorLike, loglik_by_class: TensorLike,
                     cluster_index: np.ndarray, n_clusters: int, by_between: bool = False) -> TensorVariable:
    """P(C_ij = c | y_j) = sum_d P(D_j = d | y_j) P(C_ij = c | y_ij, D_j = d), shape (..., N, K)."""
    log_post_d = _log_posterior_between(log_prior_between, log_prior_within, loglik_by_class,
                                        cluster_index, n_clusters, by_between)  # (..., J, M)
    log_post_d_units = pt.swapaxes(log_post_d[..., cluster_index, :], -1, -2)[..., None]  # (..., M, N, 1)
    log_post_c_given_d = within.log_posterior(log_prior_within, _per_between_class(loglik_by_class, by_between))
    return pt.exp(pt.logsumexp(log_post_d_units + log_post_c_given_d, axis=-3))


def posterior_joint(log_prior_between: TensorLike, log_prior_within: TensorLike, loglik_by_class: TensorLike,
                    cluster_index: np.ndarray, n_clusters: int, by_between: bool = False) -> TensorVariable:
    """P(D_j = d, C_ij = c | y_j) = P(D_j = d | y_j) P(C_ij = c | y_ij, D_j = d), shape (..., N, M, K).

    Summed over d it is :func:`posterior_within`, over c the unit's P(D_j = d | y_j);
    averaged over units it is the estimated joint (C, D) table (eq. 24-26).
    """
    log_post_d = _log_posterior_between(log_prior_between, log_prior_within, loglik_by_class,
                                        cluster_index, n_clusters, by_between)  # (..., J, M)
    log_post_d_units = pt.swapaxes(log_post_d[..., cluster_index, :], -1, -2)[..., None]  # (..., M, N, 1)
    log_post_c_given_d = within.log_posterior(log_prior_within,
                                              _per_between_class(loglik_by_class, by_between))  # (..., M, N, K)
    return pt.exp(pt.swapaxes(log_post_d_units + log_post_c_given_d, -3, -2))


def unit_log_prior(log_prior_between: TensorLike, log_prior_within: TensorLike,
                   cluster_index: np.ndarray, n_clusters: int) -> TensorVariable:
    """log P(C_ij = c | w_j, x_ij) = log sum_d P(D_j = d | w_j) P(C_ij = c | D_j = d, x_ij), (..., N, K).

    The prior within-class probabilities of each unit with D_j marginalized
    (before seeing y); :func:`population_proportions` averages them.
    """
    log_prior_between = pt.as_tensor_variable(log_prior_between)
    per_cluster = log_prior_between + pt.zeros((n_clusters, 1))  # (..., J, M), also when given (..., 1, M)
    per_unit = pt.swapaxes(per_cluster[..., cluster_index, :], -1, -2)[..., None]  # (..., M, N, 1)
    return pt.logsumexp(per_unit + log_prior_within, axis=-3)


def population_proportions(log_prior_between: TensorLike, log_prior_within: TensorLike,
                           cluster_index: np.ndarray, n_clusters: int) -> TensorVariable:
    """Model-implied class proportions P(C = c), shape (..., K).

    The average over all N units (each unit once, so large clusters weigh
    more) of sum_d P(D_j(i) = d | w_j) P(C_ij = c | D_j = d, x_ij) (eq. 24, 26).
    Not the product of the mean of P(D) over clusters and the mean of P(C | d)
    over units, which differs with cluster covariates or unequal cluster sizes.
    """
    n_units = len(cluster_index)
    log_unit = unit_log_prior(log_prior_between, log_prior_within, cluster_index, n_clusters)
    return pt.exp(pt.logsumexp(log_unit, axis=-2) - np.log(n_units))
