"""Checks shared by the tests of the EM variants (bayesmix.inference.em_nested, em_chain)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def assert_squarem_reaches_plain_em_optimum(em, starts: Sequence, flat, fun: Callable, tol: float) -> None:
    """SQUAREM (``accelerate=True``) and plain EM from the same starts reach the same optimum (LL within 1e-6).

    Both runs must converge, and each accelerated LL must be the model's own log-likelihood at the values
    SQUAREM returns (``-fun(flat.to_theta(values))[0]``, relative 1e-8): the EM's bookkeeping reports the
    objective it optimizes.
    """
    fast, fast_lls, fast_done = em.run_batch(starts, 20000, tol=tol, accelerate=True)
    _, plain_lls, plain_done = em.run_batch(starts, 20000, tol=tol)
    assert fast_done.all() and plain_done.all()
    np.testing.assert_allclose(fast_lls, plain_lls, atol=1e-6)
    for values, ll in zip(fast, fast_lls):
        assert abs(ll - (-fun(flat.to_theta(values))[0])) < 1e-8 * abs(ll)
