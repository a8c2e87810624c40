"""Shared data and evaluation helpers of the two-level class tests (three statuses, item parameters by D)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesmix.inference.objective import flat_model

ITEMS = ["y1", "y2", "y3", "y4"]
MIXED_TYPES = {"nom": "nominal", "ord": "ordinal", "cont": "continuous"}


def small_frame(seed: int, sizes=(3, 4, 5), mixed: bool = False, unit_covariate: bool = True) -> pd.DataFrame:
    """Binary items y1..y4 (one missing cell) in shuffled clusters "school", a cluster covariate w and (with
    ``unit_covariate``) a unit covariate x; ``mixed`` adds a nominal, an ordinal and a continuous item."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    cluster = cluster[rng.permutation(len(cluster))]
    n = len(cluster)
    while True:
        y = rng.integers(0, 2, size=(n, len(ITEMS))).astype(float)
        if np.all((y.min(0) == 0) & (y.max(0) == 1)):
            break
    y[1, 0] = np.nan
    frame = pd.DataFrame(y, columns=ITEMS)
    frame["school"] = [f"s{j}" for j in cluster]
    if unit_covariate:
        frame["x"] = rng.normal(size=n)
    frame["w"] = rng.normal(size=len(sizes))[cluster]
    if mixed:
        frame["nom"] = np.r_[[0, 1, 2], rng.integers(0, 3, n - 3)]
        frame["ord"] = np.r_[[0, 1, 2], rng.integers(0, 3, n - 3)]
        frame["cont"] = rng.normal(size=n)
    return frame


def loglik_at(m, values, integration=None):
    """The model's per-independent-unit log-likelihood at constrained ``values`` (its ML objective)."""
    flat = flat_model(m, integration)
    return flat.unit_loglik(flat.to_theta(values))
