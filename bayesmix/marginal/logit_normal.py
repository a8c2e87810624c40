"""Two item-level classes with a logit-normal membership, summed and integrated exactly (eq. 38-41, K = 2).

With two classes the person's membership is m_j = P(C_ij = 1) = expit(x_j),
x_j = alpha + sd z_j, z_j ~ N(0, 1) (eq. 39), and given m_j the items are
independent (eq. 38):

    p(y_j | eta) = E_z[ prod_i ( m q_i1 + (1 - m) q_i2 ) ],   q_ik = p(y_ij | C_ij = k, eta).

The product is a polynomial of degree I in m; in the Bernstein basis

    prod_i ( m q_i1 + (1 - m) q_i2 ) = sum_a e_a m^a (1 - m)^(I - a),

e_a the sum over item subsets S of size a of prod_{i in S} q_i1
prod_{i not in S} q_i2 (a recursion over items, :func:`loglik`), so

    p(y_j | eta) = sum_a e_a(y_j, eta) M_a,   M_a = E[m^a (1 - m)^(I - a)],

and the I + 1 moments M_a depend on (alpha, sd) only, not on the person:
one 1-D integral each, computed here to ~1e-13 (:func:`log_moments`). A
missing response has q_i1 = q_i2 = 1, whose factor m + (1 - m) = 1 raises
the degree without changing the polynomial, so every person uses the same
I + 1 moments.

Why: a product grid over z (the default 15 x 15 trapezoid of FMA-GoM) puts
the step m(z) of a large sd -- the FMA limit, sd -> infinity -- between
nodes, and the quadrature log-likelihood falls short of the limit (measured
on the ADHD-like case of section 8: 0.8 below LL(FMA) at 15 x 15, 10 below
at 11 x 11, 0.65 below even at 61 x 61 Gauss-Hermite). Integrated exactly,
FMA-GoM at sd -> infinity reproduces FMA's log-likelihood with the same
quadrature over eta, so LL(FMA-GoM) >= LL(FMA) holds numerically as it
does mathematically.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from numpy.polynomial.legendre import leggauss
from pytensor.tensor import TensorLike, TensorVariable

__all__ = ["log_moments", "loglik", "SD_SWITCH"]

#: below this sd the moments are integrated over z (trapezoid, 401 nodes on [-10, 10]: the integrand is
#: analytic in a strip of half-width pi / sd, error ~exp(-2 pi (pi / sd) / 0.05) < 1e-30 at sd = 5); above
#: it over the logit x (Gauss-Legendre panels on [-40, 40], the normal's mass beyond as m = 0 or 1); both
#: agree to ~1e-10 at the switch (tests/test_fma.py)
SD_SWITCH = 5.0
_X_LIMIT = 40.0  # expit(-40) = 4e-18: beyond +-40 the membership is 0 or 1 to double precision
_BREAKS = np.array([0.0, 1.0, 2.0, 4.0, 7.0, 11.0, 16.0, 24.0, _X_LIMIT])


def _x_rule(order: int = 12):
    """Composite Gauss-Legendre nodes and weights on [-40, 40], panels widening away from x = 0."""
    x, w = leggauss(order)
    edges = np.concatenate([-_BREAKS[::-1], _BREAKS[1:]])
    nodes = np.concatenate([(a + b) / 2 + (b - a) / 2 * x for a, b in zip(edges[:-1], edges[1:])])
    weights = np.concatenate([(b - a) / 2 * w for a, b in zip(edges[:-1], edges[1:])])
    return nodes, np.log(weights)


_X_NODES, _X_LOGW = _x_rule()
_Z_NODES = np.linspace(-10.0, 10.0, 401)
_Z_LOGW = np.log(_Z_NODES[1] - _Z_NODES[0]) - 0.5 * _Z_NODES**2 - 0.5 * np.log(2 * np.pi)


def _log_ndtr(x):
    """log Phi(x), stable in the far left tail (erfcx)."""
    z = x / np.sqrt(2.0)
    return pt.switch(pt.lt(x, -1.0), pt.log(pt.erfcx(-z) / 2.0) - pt.sqr(x) / 2.0, pt.log1p(-pt.erfc(z) / 2.0))


def log_moments(alpha: TensorLike, sd: TensorLike, n: int) -> TensorVariable:
    """log M_a = log E[m^a (1 - m)^(n - a)], a = 0..n, for m = expit(alpha + sd z), z ~ N(0, 1).

    Parameters
    ----------
    alpha : scalar tensor
        Mean of the membership logit (``class_intercept`` of class 1, eq. 39).
    sd : scalar tensor
        Its SD (``factor_membership_sd``), > 0.
    n : int
        Degree (the number of items).

    Returns
    -------
    TensorVariable
        (n + 1,) log-moments, differentiable in ``alpha`` and ``sd``; accurate
        to ~1e-13 for any sd, including sd -> infinity (the FMA limit: M_0 ->
        Phi(-alpha / sd), M_n -> Phi(alpha / sd), the rest -> 0).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesmix.marginal.logit_normal import log_moments
    >>> m = np.exp(log_moments(0.0, 1e6, 3).eval())   # the step: half the mass at m = 0, half at m = 1
    >>> bool(np.allclose(m, [0.5, 0.0, 0.0, 0.5], atol=1e-5))
    True
    """
    alpha, sd = (pt.as_tensor_variable(v if isinstance(v, pt.Variable) else np.asarray(v, dtype=float))
                 for v in (alpha, sd))  # a Python float would become float32
    a = np.arange(n + 1)[:, None]

    def log_f(x):  # log m^a (1 - m)^(n - a) at logits x: (n + 1, Q)
        return a * -pt.softplus(-x)[None] + (n - a) * -pt.softplus(x)[None]

    by_z = pt.logsumexp(log_f(alpha + sd * _Z_NODES) + _Z_LOGW[None], axis=1)
    safe = pt.maximum(sd, SD_SWITCH)  # the x branch is evaluated (and differentiated) at sd >= SD_SWITCH only
    log_normal = -0.5 * pt.sqr((_X_NODES - alpha) / safe) - pt.log(safe) - 0.5 * np.log(2 * np.pi)
    inner = log_f(pt.as_tensor(_X_NODES)) + (_X_LOGW + log_normal)[None]
    below = _log_ndtr((-_X_LIMIT - alpha) / safe)  # P(x < -40): m = 0, only a = 0 gets it
    above = _log_ndtr((alpha - _X_LIMIT) / safe)  # P(x > 40): m = 1, only a = n
    tails = pt.stack([pt.switch(pt.eq(a[:, 0], 0), below, -np.inf),
                      pt.switch(pt.eq(a[:, 0], n), above, -np.inf)], axis=1)
    by_x = pt.logsumexp(pt.concatenate([inner, tails], axis=1), axis=1)
    return pt.switch(pt.gt(sd, SD_SWITCH), by_x, by_z)


def loglik(loglik_class1: TensorLike, loglik_class2: TensorLike, log_moments: TensorLike,
           n_items: int | None = None) -> TensorVariable:
    """log sum_a e_a M_a per person: the membership summed and integrated exactly, (..., N).

    Parameters
    ----------
    loglik_class1, loglik_class2 : (..., N, I)
        log p(y_ij | C_ij = k) for the two classes (given eta, eq. 38); a
        missing response must hold 0 in both.
    log_moments : (n + 1,) with n = I
        :func:`log_moments` of the membership.
    n_items : int, optional
        I, when the last axis of the log-likelihoods has no static length.

    Returns
    -------
    TensorVariable
        (..., N) log p(y_j | eta) with the item classes summed out and the
        membership logit integrated over its normal distribution (eq. 38-41).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesmix.marginal.logit_normal import log_moments, loglik
    >>> l1, l2 = np.log([[0.9, 0.2]]), np.log([[0.3, 0.6]])     # one person, two items
    >>> ll = loglik(l1, l2, log_moments(0.0, 1e6, 2)).eval()    # sd -> infinity: a 2-class LCA
    >>> bool(np.allclose(np.exp(ll), 0.5 * 0.9 * 0.2 + 0.5 * 0.3 * 0.6, atol=1e-5))
    True
    """
    l1, l2 = pt.as_tensor_variable(loglik_class1), pt.as_tensor_variable(loglik_class2)
    n_items = l1.type.shape[-1] if n_items is None else n_items
    if n_items is None:
        raise ValueError("logit_normal.loglik needs a static number of items (the last axis).")
    scale = pt.maximum(l1, l2)  # per item: the larger of the two is 1 after scaling, so e_max never underflows
    q1, q2 = pt.exp(l1 - scale), pt.exp(l2 - scale)
    e = pt.ones_like(scale[..., :1])
    for i in range(n_items):  # multiply by (m q_i1 + (1 - m) q_i2) in the Bernstein basis; degree i -> i + 1
        zero = pt.zeros_like(e[..., :1])
        e = pt.concatenate([e * q2[..., i:i + 1], zero], axis=-1) + pt.concatenate([zero, e * q1[..., i:i + 1]],
                                                                                   axis=-1)
    log_m = pt.as_tensor_variable(log_moments)
    top = pt.max(log_m, axis=-1, keepdims=True)
    return pt.log((e * pt.exp(log_m - top)).sum(axis=-1)) + top[..., 0] + scale.sum(axis=-1)
