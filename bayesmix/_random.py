"""Random draws shared by the simulation hooks of structures and kernels (posterior predictive checks)."""

from __future__ import annotations

import numpy as np

__all__ = ["categorical"]


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (..., C) by the inverse CDF (rows need not be normalized)."""
    cum = np.cumsum(probs, axis=-1)
    u = rng.uniform(size=probs.shape[:-1] + (1,)) * cum[..., -1:]
    return np.minimum((u > cum).sum(axis=-1), probs.shape[-1] - 1)
