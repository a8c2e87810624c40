"""Within-level classes: one latent class per unit.

log p(y_i) = logsumexp_c [ log P(C_i = c) + log p(y_i | C_i = c) ]

Both arguments broadcast, so random effects or quadrature nodes may sit on
leading axes.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from scipy.special import logsumexp, softmax


def marginal_loglik(log_prior, loglik_by_class):
    """Per-unit marginal log-likelihood, shape (..., N)."""
    return pt.logsumexp(log_prior + loglik_by_class, axis=-1)


def posterior_class_probabilities(log_prior: np.ndarray, loglik_by_class: np.ndarray) -> np.ndarray:
    """P(C_i = c | y_i) by Bayes' rule (numpy; any leading axes)."""
    return softmax(log_prior + loglik_by_class, axis=-1)


def marginal_loglik_numpy(log_prior: np.ndarray, loglik_by_class: np.ndarray) -> np.ndarray:
    return logsumexp(log_prior + loglik_by_class, axis=-1)
