"""Item-level classes: grade of membership (paper section 7, eq. 27-30).

Each response y_ij of person j to item i has its own class C_ij (eq. 28);
the items of a person share the membership probabilities P(C_ij = k), which
come from the person's random effects (eq. 30, logistic-normal GoM), or are
the person's membership scores f_j (eq. 29). Given the membership, the items
are independent:

    log p(y_j | membership) = sum_i observed_ij * logsumexp_k [ log P(C_ij = k) + log p(y_ij | C_ij = k) ]
    P(C_ij = k | y_ij, membership) = softmax_k [ same ]

Dropping the sum inside the logsumexp is exactly the difference from LCA,
which imposes C_ij = C_j (eq. 16; :mod:`.between` with persons as clusters).
The membership itself is integrated elsewhere (quadrature, NUTS); its nodes
or draws sit on leading axes. Shapes: N persons, I items, K classes.

``per_item=True``: the class probabilities carry an item axis,
``log_membership`` (..., N or 1, I, K) -- item-specific class logits such as
alpha_1j + sum_q gamma_q X_qij of eq. 44 (the 3PL as an FMA-GoM model).
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.tensor import TensorLike, TensorVariable

from . import within

__all__ = ["loglik_by_item", "loglik", "loglik_from_tables", "posterior"]


def _mask(observed: TensorLike | None) -> TensorVariable | None:
    return None if observed is None else pt.neq(pt.as_tensor_variable(observed), 0)


def _observed_only(loglik_by_item_class: TensorLike, mask: TensorVariable | None) -> TensorVariable:
    """Missing cells set to 0 for every class, so whatever they held (even NaN) reaches no value or gradient."""
    ll = pt.as_tensor_variable(loglik_by_item_class)
    return ll if mask is None else pt.switch(mask[..., None], ll, 0.0)


def _per_item(log_membership: TensorLike, per_item: bool = False) -> TensorVariable:
    """(..., N or 1, K) -> (..., N or 1, 1, K), the same for every item; ``per_item``: already (..., I, K)."""
    lm = pt.as_tensor_variable(log_membership)
    return lm if per_item else pt.expand_dims(lm, -2)


def loglik_by_item(log_membership: TensorLike, loglik_by_item_class: TensorLike,
                   observed: TensorLike | None = None, per_item: bool = False) -> TensorVariable:
    """Per-response marginal log-likelihood, shape (..., N, I); a missing cell is exactly 0.

    Parameters
    ----------
    log_membership : (..., N or 1, K)
        log P(C_ij = k | person j's membership), the same for all items (eq. 29-30).
    loglik_by_item_class : (..., N, I, K)
        log p(y_ij | C_ij = k) (eq. 28).
    observed : (N, I), optional
        Nonzero where the response is observed. Missing cells contribute 0,
        whatever ``loglik_by_item_class`` holds there.
    per_item : bool
        ``log_membership`` is item-specific, (..., N or 1, I, K) (eq. 44).
    """
    mask = _mask(observed)
    by_item = within.loglik(_per_item(log_membership, per_item), _observed_only(loglik_by_item_class, mask))
    return by_item if mask is None else pt.switch(mask, by_item, 0.0)


def loglik(log_membership: TensorLike, loglik_by_item_class: TensorLike,
           observed: TensorLike | None = None, per_item: bool = False) -> TensorVariable:
    """Per-person log-likelihood given the membership, shape (..., N) (eq. 28-30).

    sum_i observed_ij * logsumexp_k [log_membership + loglik_by_item_class];
    arguments as in :func:`loglik_by_item`.
    """
    return loglik_by_item(log_membership, loglik_by_item_class, observed, per_item).sum(axis=-1)


def loglik_from_tables(shared_log_membership: TensorLike, tables, per_item: bool = False) -> TensorVariable:
    """Per-person log-likelihood when all persons share the membership, (..., N) (eq. 28-30, 38-44).

    The same sum as :func:`loglik` computed per (item, category) instead of
    per response: with P(C_ij = k) = pi_k (or pi_ik) the same for every
    person -- a quadrature node of the membership and of a person factor,
    without covariates -- logsumexp_k [log pi_k + log P(y_ij = c | k)]
    depends on (i, c) only, so it is a small (I, C) table that a one-hot
    matrix of the responses sums per person (exact; missing cells have an
    all-zero one-hot row).

    Parameters
    ----------
    shared_log_membership : (..., 1, K), or (..., 1, I, K) with ``per_item``
        log P(C_ij = k), the same for all persons.
    tables : list of (log_table, onehot)
        Per categorical kernel: log P(y_i = c | C = k) as (..., K, I, C) (0
        for impossible categories; leading axes as the membership's) and the
        responses one-hot, (N, I, C).
    per_item : bool
        The membership has an item axis (eq. 44), items in the tables' order.
    """
    lm = pt.as_tensor_variable(shared_log_membership)
    if per_item:
        lm = pt.moveaxis(lm[..., 0, :, :], -1, -2)[..., None]  # (..., K, I, 1)
    else:
        lm = lm[..., 0, :, None, None]  # (..., K, 1, 1)
    total = 0.0
    first = 0
    for log_table, onehot in tables:
        n, n_items, n_categories = onehot.shape
        part = lm[..., first:first + n_items, :] if per_item else lm
        first += n_items
        mixed = pt.logsumexp(part + pt.as_tensor_variable(log_table), axis=-3)  # (..., I, C)
        flat = mixed.reshape((*mixed.shape[:-2], n_items * n_categories))
        total = total + pt.matmul(flat, pt.as_tensor(onehot.reshape(n, -1)).T)  # (..., N)
    return total


def posterior(log_membership: TensorLike, loglik_by_item_class: TensorLike,
              observed: TensorLike | None = None, per_item: bool = False) -> TensorVariable:
    """P(C_ij = k | y_ij, membership), shape (..., N, I, K); a missing cell gets its prior membership.

    Arguments as in :func:`loglik_by_item`.
    """
    ll = _observed_only(loglik_by_item_class, _mask(observed))
    return within.posterior(_per_item(log_membership, per_item), ll)
