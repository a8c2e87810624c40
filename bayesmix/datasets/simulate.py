"""Simulate latent class data with known truth (for recovery checks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, softmax


@dataclass
class SimulatedLCA:
    """Simulated data with the true parameters (named like the model's variables)."""

    data: pd.DataFrame
    truth: dict[str, np.ndarray]
    classes: np.ndarray
    items: list[str]
    covariates: list[str]

    def __iter__(self):  # allows ``data, truth = simulate_lca(...)``
        return iter((self.data, self.truth))


def simulate_lca(
    n_units: int = 500,
    n_items: int = 6,
    n_classes: int = 2,
    *,
    class_intercept=None,
    binary_logit=None,
    class_slope=None,
    n_covariates: int = 0,
    missing_rate: float = 0.0,
    seed: int | None = None,
) -> SimulatedLCA:
    """Binary-item LCA data (eq. 4 class model, logit items).

    Defaults: equal-ish classes, well separated profiles (item logits +-1.5
    alternating patterns). ``class_slope`` (n_covariates x K-1) adds standard
    normal covariates ``x1..``. ``missing_rate`` blanks cells completely at
    random. Returns data, truth (``class_intercept``, ``class_slope``,
    ``binary_logit``), true classes.
    """
    rng = np.random.default_rng(seed)
    K, I = n_classes, n_items
    if class_intercept is None:
        class_intercept = np.linspace(0.3, -0.3, K - 1) if K > 1 else np.zeros(0)
    class_intercept = np.asarray(class_intercept, dtype=float)
    if binary_logit is None:
        binary_logit = np.empty((K, I))
        for c in range(K):
            for i in range(I):
                binary_logit[c, i] = 1.5 if ((i + c) % K == 0) else -1.5
            binary_logit[c] += 0.5 * (c - (K - 1) / 2) * np.linspace(-1, 1, I)
    binary_logit = np.asarray(binary_logit, dtype=float)
    if class_slope is not None:
        class_slope = np.atleast_2d(np.asarray(class_slope, dtype=float))
        n_covariates = class_slope.shape[0]
    x = rng.standard_normal((n_units, n_covariates))
    logits = np.zeros((n_units, K))
    logits[:, : K - 1] = class_intercept
    if class_slope is not None:
        logits[:, : K - 1] += x @ class_slope
    probs = softmax(logits, axis=1)
    classes = np.array([rng.choice(K, p=p) for p in probs])
    y = (rng.uniform(size=(n_units, I)) < expit(binary_logit[classes])).astype(float)
    if missing_rate > 0:
        y[rng.uniform(size=y.shape) < missing_rate] = np.nan
    items = [f"y{i + 1}" for i in range(I)]
    frame = pd.DataFrame(y, columns=items)
    covariates = [f"x{p + 1}" for p in range(n_covariates)]
    for p, name in enumerate(covariates):
        frame[name] = x[:, p]
    truth = {"class_intercept": class_intercept, "binary_logit": binary_logit}
    if class_slope is not None:
        truth["class_slope"] = class_slope
    return SimulatedLCA(frame, truth, classes, items, covariates)
