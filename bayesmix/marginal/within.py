"""Within-level classes: one latent class C_i per unit (paper eq. 3-4).

    log p(y_i)        = logsumexp_c [ log P(C_i = c | x_i) + log p(y_i | C_i = c) ]
    P(C_i = c | y_i)  = softmax_c   [ log P(C_i = c | x_i) + log p(y_i | C_i = c) ]

``log P(C_i = c | x_i)`` is the multinomial logit of eq. 4 (random intercepts
alpha_cj included). Both arguments broadcast against each other, so random
effects, quadrature nodes or draws may sit on any leading axes. This module is
the building block of :mod:`.between`, :mod:`.nested` and :mod:`.item`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor import TensorLike, TensorVariable
from scipy.special import logsumexp, softmax

__all__ = [
    "loglik",
    "log_posterior",
    "posterior",
    "posterior_class_probabilities",
    "marginal_loglik_numpy",
]


def loglik(log_prior: TensorLike, loglik_by_class: TensorLike) -> TensorVariable:
    """Per-unit marginal log-likelihood (eq. 4 summed over classes).

    Parameters
    ----------
    log_prior : (..., N or 1, K)
        log P(C_i = c | x_i).
    loglik_by_class : (..., N, K)
        log p(y_i | C_i = c); a unit with no observed response has 0 for every c.

    Returns
    -------
    (..., N): logsumexp_c [log_prior + loglik_by_class].
    """
    return pt.logsumexp(pt.as_tensor_variable(log_prior) + loglik_by_class, axis=-1)


def log_posterior(log_prior: TensorLike, loglik_by_class: TensorLike) -> TensorVariable:
    """log P(C_i = c | y_i), shape (..., N, K), by Bayes' rule in log space."""
    return pt.special.log_softmax(pt.as_tensor_variable(log_prior) + loglik_by_class, axis=-1)


def posterior(log_prior: TensorLike, loglik_by_class: TensorLike) -> TensorVariable:
    """P(C_i = c | y_i), shape (..., N, K); rows sum to one (same arguments as :func:`loglik`)."""
    return pt.exp(log_posterior(log_prior, loglik_by_class))


# Earlier names, kept for callers.


def posterior_class_probabilities(log_prior: np.ndarray, loglik_by_class: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`posterior` (any leading axes)."""
    return softmax(log_prior + loglik_by_class, axis=-1)


def marginal_loglik_numpy(log_prior: np.ndarray, loglik_by_class: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`loglik` (any leading axes)."""
    return logsumexp(log_prior + loglik_by_class, axis=-1)
