"""Simulate IRT, factor mixture (FMA), FMA-GoM and 3PL data with known truth (sections 8-9)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, softmax
from scipy.stats import norm

__all__ = ["SimulatedIRT", "simulate_fma", "simulate_fma_gom", "simulate_3pl"]


@dataclass
class SimulatedIRT:
    """Simulated binary responses with the true parameters, classes and factor scores."""

    data: pd.DataFrame
    truth: dict[str, np.ndarray]
    eta: np.ndarray
    classes: np.ndarray | None
    items: list[str]

    def __iter__(self):  # ``data, truth = simulate_...(...)``
        return iter((self.data, self.truth))


def cdf(x, link):
    return expit(x) if link == "logit" else norm.cdf(x)


def _frame(y, items):
    return pd.DataFrame(y.astype(int), columns=items)


def simulate_fma(n_units: int = 1000, n_items: int = 8, n_classes: int = 2, *, loading=None, intercept=None,
                 class_intercept=None, factor_sd=None, link: str = "probit", seed: int | None = None) -> SimulatedIRT:
    """FMA data (eq. 36-37): P(y_ij = 1 | c, eta) = F(tau_ic + lambda_i(c) eta_j), eta_j | c ~ N(0, sd_c^2).

    ``loading``: (I,) invariant or (K, I) class-specific (default 1.2 ... 0.6, positive);
    ``intercept``: (K, I) tau_ic (default: class 1 high, the last class low);
    ``class_intercept``: (K-1,) logits of eq. 37 against the last class (default 0);
    ``factor_sd``: (K,) SD of eta in each class (default 1: ``fma(factor_variance="invariant")``).
    """
    rng = np.random.default_rng(seed)
    items = [f"y{i + 1}" for i in range(n_items)]
    lam = np.linspace(1.2, 0.6, n_items) if loading is None else np.asarray(loading, float)
    if intercept is None:
        intercept = np.array([np.linspace(1.5, -0.5, n_items) - 2.0 * c for c in range(n_classes)])
    tau = np.asarray(intercept, float).reshape(n_classes, n_items)
    alpha = np.zeros(n_classes - 1) if class_intercept is None else np.asarray(class_intercept, float)
    probs = softmax(np.append(alpha, 0.0))
    classes = rng.choice(n_classes, size=n_units, p=probs)
    sd = np.ones(n_classes) if factor_sd is None else np.asarray(factor_sd, float)
    eta = rng.standard_normal(n_units) * sd[classes]
    lam_c = lam[classes] if lam.ndim == 2 else lam[None, :]
    p = cdf(tau[classes] + lam_c * eta[:, None], link)
    y = rng.uniform(size=p.shape) < p
    truth = {"binary_logit": tau, "factor_loading": lam, "class_intercept": alpha, "class_proportions": probs}
    if factor_sd is not None:
        truth["factor_sd"] = sd
    return SimulatedIRT(_frame(y, items), truth, eta, classes, items)


def simulate_fma_gom(n_units: int = 1000, n_items: int = 8, *, loading=None, intercept=None,
                     class_intercept: float = 0.0, membership_sd: float = 2.0, link: str = "probit",
                     factor_sd=None, seed: int | None = None) -> SimulatedIRT:
    """Two-class FMA-GoM data (eq. 38-41): item classes C_ij with logit alpha_1 + sd z_j, a factor eta_j.

    ``factor_sd`` (K,), optional: the factor's SD in each response class (sd_1 = 1 sets its unit), the
    57-parameter FMA-GoM of section 8 (``bm.fma_gom(..., factor_variance="class-specific")``).
    """
    rng = np.random.default_rng(seed)
    items = [f"y{i + 1}" for i in range(n_items)]
    lam = np.linspace(1.2, 0.6, n_items) if loading is None else np.asarray(loading, float)
    tau = (np.array([np.linspace(1.5, -0.5, n_items), np.linspace(1.5, -0.5, n_items) - 2.0])
           if intercept is None else np.asarray(intercept, float))
    eta = rng.standard_normal(n_units)
    alpha = class_intercept + membership_sd * rng.standard_normal(n_units)
    item_class = (rng.uniform(size=(n_units, n_items)) >= expit(alpha)[:, None]).astype(int)  # 0 = class1
    lam_c = lam[item_class] if lam.ndim == 2 else lam[None, :]
    scale = 1.0 if factor_sd is None else np.asarray(factor_sd, float)[item_class]  # sd_k of each response's class
    p = cdf(tau[item_class, np.arange(n_items)[None, :]] + lam_c * scale * eta[:, None], link)
    y = rng.uniform(size=p.shape) < p
    truth = {"binary_logit": tau, "factor_loading": lam, "class_intercept": np.array([class_intercept]),
             "factor_membership_sd": np.array([membership_sd])}
    if factor_sd is not None:
        truth["factor_sd"] = np.asarray(factor_sd, float)
    return SimulatedIRT(_frame(y, items), truth, eta, item_class, items)


def simulate_3pl(n_units: int = 3000, n_items: int = 10, *, a=None, b=None, g=None, link: str = "logit",
                 seed: int | None = None) -> SimulatedIRT:
    """3PL data (eq. 42): P(y_ij = 1) = g_i + (1 - g_i) F(a_i (eta_j - b_i)), eta_j ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    items = [f"q{i + 1}" for i in range(n_items)]
    a = np.linspace(0.8, 2.0, n_items) if a is None else np.asarray(a, float)
    b = np.linspace(-1.5, 1.5, n_items) if b is None else np.asarray(b, float)
    g = np.full(n_items, 0.2) if g is None else np.asarray(g, float)
    eta = rng.standard_normal(n_units)
    p = g + (1 - g) * cdf(a * (eta[:, None] - b), link)
    y = rng.uniform(size=p.shape) < p
    truth = {"g": g, "a": a, "b": b}
    return SimulatedIRT(_frame(y, items), truth, eta, None, items)
