"""Simulate grade-of-membership data with known partial membership (section 7, eq. 28-35).

Person j has a membership vector g_j on the simplex; each response has its own
class C_ij ~ Categorical(g_j) (eq. 29-30), and y_ij | C_ij = k is Bernoulli
with P(y_ij = 1 | C_ij = k) = F(tau_ik) (eq. 28; F the normal or logistic cdf).

- ``membership="logistic-normal"``: g_j = softmax(alpha + u_j, 0), u_j ~ N(0, Sigma)
  (eq. 34; K = 2 is eq. 30 with Var(alpha_1j) = Sigma);
- ``membership="dirichlet"``: g_j ~ Dirichlet(a) (Erosheva).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import softmax
from scipy.stats import norm

__all__ = ["SimulatedGoM", "simulate_gom", "asb_like_profiles"]


@dataclass
class SimulatedGoM:
    """Simulated GoM data with the truth (parameters named like the model's variables)."""

    data: pd.DataFrame
    truth: dict[str, np.ndarray]
    membership: np.ndarray  # (N, K) true g_j
    item_classes: np.ndarray  # (N, I) true C_ij
    items: list[str]

    def __iter__(self):  # ``data, truth = simulate_gom(...)``
        return iter((self.data, self.truth))


def asb_like_profiles(n_items: int = 17, n_classes: int = 2) -> np.ndarray:
    """(K, I) item probabilities resembling the ASB offense items of section 7 (Table 5, figure 4).

    Class 1 offense prone (P(offense) 0.15-0.75, property items highest),
    the last class low (0.01-0.12); with 3 classes a middle class with
    property offenses but few personal / drug offenses. Invented values (the
    NLSY extract is not bundled), shaped like figure 4's profiles.
    """
    i = np.arange(n_items) / max(n_items - 1, 1)
    high = 0.75 - 0.6 * i
    low = 0.12 - 0.11 * i
    if n_classes == 2:
        return np.vstack([high, low])
    if n_classes == 3:
        middle = np.where(i < 0.5, 0.45 - 0.3 * i, 0.05)
        return np.vstack([high, middle, low])
    raise ValueError("asb_like_profiles has 2- and 3-class profiles.")


def simulate_gom(
    n_units: int = 500,
    n_items: int = 10,
    n_classes: int = 2,
    *,
    membership: str = "logistic-normal",
    profiles: np.ndarray | None = None,
    class_intercept: np.ndarray | None = None,
    membership_cov: np.ndarray | None = None,
    concentration: np.ndarray | None = None,
    link: str = "probit",
    missing_rate: float = 0.0,
    seed: int | None = None,
) -> SimulatedGoM:
    """GoM data with real partial membership.

    ``profiles`` (K, I): P(y = 1 | C = k) (default well separated, 0.85 / 0.15
    alternating by item); ``class_intercept`` (K-1,) alpha and
    ``membership_cov`` (K-1, K-1) Sigma of the logistic-normal membership
    (default alpha = 0, Sigma = 1.5^2 I: many persons partly in both classes);
    ``concentration`` (K,) the Dirichlet a (default 0.5 each). Truth holds
    ``binary_logit`` (K, I) on the ``link`` scale, ``class_intercept``,
    ``membership_cov`` / ``membership_concentration``.
    """
    rng = np.random.default_rng(seed)
    k = n_classes
    if profiles is None:
        base = np.where(np.arange(n_items) % 2 == 0, 0.85, 0.15)
        profiles = np.vstack([base if c % 2 == 0 else 1 - base for c in range(k)])
        if k > 2:  # third class onward: a distinct mixed pattern
            for c in range(2, k):
                profiles[c] = np.where(np.arange(n_items) % (c + 1) == 0, 0.85, 0.15)
    profiles = np.asarray(profiles, dtype=float)
    truth: dict[str, np.ndarray] = {}
    if membership == "logistic-normal":
        alpha = np.zeros(k - 1) if class_intercept is None else np.asarray(class_intercept, dtype=float)
        cov = 1.5**2 * np.eye(k - 1) if membership_cov is None else np.atleast_2d(membership_cov)
        u = rng.multivariate_normal(np.zeros(k - 1), cov, size=n_units)
        logits = np.concatenate([alpha + u, np.zeros((n_units, 1))], axis=1)
        g = softmax(logits, axis=1)
        truth.update(class_intercept=alpha, membership_cov=cov)
    elif membership == "dirichlet":
        a = np.full(k, 0.5) if concentration is None else np.asarray(concentration, dtype=float)
        g = rng.dirichlet(a, size=n_units)
        truth["membership_concentration"] = a
    else:
        raise ValueError(f"membership={membership!r} is unknown; use 'logistic-normal' or 'dirichlet'.")
    cum = np.cumsum(g, axis=1)
    draws = rng.uniform(size=(n_units, n_items, 1))
    classes = np.minimum((draws > cum[:, None, :]).sum(-1), k - 1)
    p = profiles[classes, np.arange(n_items)[None, :]]
    y = (rng.uniform(size=p.shape) < p).astype(float)
    if missing_rate > 0:
        y[rng.uniform(size=y.shape) < missing_rate] = np.nan
    clipped = np.clip(profiles, 1e-6, 1 - 1e-6)
    truth["binary_logit"] = norm.ppf(clipped) if link == "probit" else np.log(clipped / (1 - clipped))
    truth["profiles"] = profiles
    items = [f"y{i + 1}" for i in range(n_items)]
    data = pd.DataFrame(y, columns=items)
    return SimulatedGoM(data=data, truth=truth, membership=g, item_classes=classes, items=items)

