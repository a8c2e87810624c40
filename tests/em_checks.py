"""Checks shared by the tests of the EM variants (bayesmix.inference.em_nested, em_chain, em_irt, em_gom)."""

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


def assert_em_ascends(em, state, n_steps: int, start: Callable[[], object], squarem_steps: int) -> None:
    """EM steps never lower the log-likelihood of any start in the batch ``state`` (relative 1e-9; eq. 6-9's
    monotone ascent), and SQUAREM from ``start()`` ends at or above plain EM's first step (its monotone fallback)."""
    previous = None
    for _ in range(n_steps):
        state, ll = em.step(state)
        if previous is not None:
            assert np.all(ll >= previous - 1e-9 * np.abs(ll))
        previous = ll
    _, accelerated, _ = em.run_batch([start()], squarem_steps, accelerate=True)
    _, plain, _ = em.run_batch([start()], 1)
    assert accelerated[0] >= plain[0]
