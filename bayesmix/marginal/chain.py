"""Latent transition analysis: a Markov chain of classes C_1 -> ... -> C_T (paper sections 3-4, eq. 6-9).

The class at time 1 follows the logit of eq. 8 and C_{t+1} given C_t the
logit of eq. 9 (gamma_dc the effect of the previous class; covariates may
make transitions unit-specific). Given its class, the time-t block of items is
measured by eq. 6-7 (the emission). The marginal over the K^T class paths is
the log-space forward algorithm, cost O(T K^2) per unit:

    a_1(k)     = log P(C_1 = k) + e_1(k)
    a_{t+1}(k) = e_{t+1}(k) + logsumexp_j [ a_t(j) + log P(C_{t+1} = k | C_t = j) ]
    log p(y)   = logsumexp_k a_T(k)

with the backward pass b_T = 0, b_t(j) = logsumexp_k [log P(k | j) + e_{t+1}(k) + b_{t+1}(k)]
for the smoothed posteriors P(C_t = k | y) = exp(a_t + b_t - log p(y)).

Shapes: N units, T time points, K classes; leading axes (random effects,
quadrature nodes, draws) broadcast through.

- ``log_initial``: (..., N or 1, K) = log P(C_1 = k) (eq. 8).
- ``log_transition``: (..., N or 1, T-1, K, K), ``[t, j, k]`` = log P(C_{t+1} = k | C_t = j)
  (eq. 9), time points numbered from 0 as on the T axis of ``emission``.
- ``emission``: (..., N, T, K) = log p(y_it | C_t = k); a missing occasion is 0 for every k.

T must be static (taken from ``emission``'s static shape, or passed as
``n_times``): the recursion is unrolled in Python, not a scan.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor import TensorLike, TensorVariable

__all__ = ["loglik", "posterior", "pairwise_posterior", "viterbi"]


def _inputs(log_initial, log_transition, emission, n_times):
    log_initial, log_transition, emission = (pt.as_tensor_variable(x) for x in
                                             (log_initial, log_transition, emission))
    if n_times is None:
        n_times = emission.type.shape[-2]
    if n_times is None and log_transition.type.shape[-3] is not None:
        n_times = log_transition.type.shape[-3] + 1
    if n_times is None:
        raise ValueError("chain: the number of time points is not static in `emission` (..., N, T, K); "
                         "pass n_times=T.")
    return log_initial, log_transition, emission, int(n_times)


def _step(log_transition: TensorVariable, t: int) -> TensorVariable:
    """log P(C_{t+1} = k | C_t = j) for the 0-based step t, (..., N or 1, K, K)."""
    return log_transition[..., t, :, :]


def _forward(log_initial, log_transition, emission, n_times) -> list[TensorVariable]:
    alpha = [log_initial + emission[..., 0, :]]
    for t in range(n_times - 1):
        carried = pt.logsumexp(alpha[-1][..., :, None] + _step(log_transition, t), axis=-2)
        alpha.append(carried + emission[..., t + 1, :])
    return alpha


def _backward(log_transition, emission, n_times) -> list[TensorVariable]:
    beta = [pt.zeros_like(emission[..., n_times - 1, :])]
    for t in reversed(range(n_times - 1)):
        ahead = (emission[..., t + 1, :] + beta[0])[..., None, :]
        beta.insert(0, pt.logsumexp(_step(log_transition, t) + ahead, axis=-1))
    return beta


def loglik(log_initial: TensorLike, log_transition: TensorLike, emission: TensorLike,
           n_times: int | None = None) -> TensorVariable:
    """Per-unit marginal log-likelihood log p(y_i), shape (..., N), by the forward algorithm."""
    args = _inputs(log_initial, log_transition, emission, n_times)
    return pt.logsumexp(_forward(*args)[-1], axis=-1)


def posterior(log_initial: TensorLike, log_transition: TensorLike, emission: TensorLike,
              n_times: int | None = None) -> TensorVariable:
    """Smoothed marginals P(C_t = k | y_i), shape (..., N, T, K), by forward-backward."""
    log_initial, log_transition, emission, n_times = _inputs(log_initial, log_transition, emission, n_times)
    alpha = _forward(log_initial, log_transition, emission, n_times)
    beta = _backward(log_transition, emission, n_times)
    total = pt.logsumexp(alpha[-1], axis=-1)[..., None]
    return pt.exp(pt.stack([a + b - total for a, b in zip(alpha, beta)], axis=-2))


def pairwise_posterior(log_initial: TensorLike, log_transition: TensorLike, emission: TensorLike,
                       n_times: int | None = None) -> TensorVariable:
    """P(C_t = j, C_{t+1} = k | y_i), shape (..., N, T-1, K, K): the posterior transition tables.

    Summed over units (and divided by the sum over k) it gives the estimated
    transition probabilities of eq. 9 in the sample.
    """
    log_initial, log_transition, emission, n_times = _inputs(log_initial, log_transition, emission, n_times)
    alpha = _forward(log_initial, log_transition, emission, n_times)
    beta = _backward(log_transition, emission, n_times)
    total = pt.logsumexp(alpha[-1], axis=-1)[..., None, None]
    pairs = [alpha[t][..., :, None] + _step(log_transition, t)
             + (emission[..., t + 1, :] + beta[t + 1])[..., None, :] - total
             for t in range(n_times - 1)]
    if not pairs:  # T = 1: no transitions
        shape = pt.broadcast_shape(alpha[0][..., None, :, None], alpha[0][..., None, None, :])
        return pt.zeros(shape)[..., :0, :, :]
    return pt.exp(pt.stack(pairs, axis=-3))


def viterbi(log_initial: np.ndarray, log_transition: np.ndarray, emission: np.ndarray) -> np.ndarray:
    """Most likely class path argmax_c p(c, y_i) in NumPy, shape (..., N, T) of ints (same inputs)."""
    log_initial, log_transition, emission = map(np.asarray, (log_initial, log_transition, emission))
    n_times = emission.shape[-2]
    score = log_initial + emission[..., 0, :]
    back = []
    for t in range(n_times - 1):
        candidates = score[..., :, None] + log_transition[..., t, :, :]  # (..., N, K_from, K_to)
        back.append(np.argmax(candidates, axis=-2))
        score = np.max(candidates, axis=-2) + emission[..., t + 1, :]
    path = [np.argmax(score, axis=-1)]
    for pointers in reversed(back):
        path.insert(0, np.take_along_axis(pointers, path[0][..., None], axis=-1)[..., 0])
    return np.stack(path, axis=-1)
