"""The 3PL guessing kernel: P(y = 1) = g_i + (1 - g_i) F(tau_i + shift) (paper eq. 42)."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from ..parameters import create
from .base import BinaryKernel, log_cdf


class GuessingKernel(BinaryKernel):
    """Binary items with a lower asymptote: P(y = 1) = g_i + (1 - g_i) F(tau_i + shift) (eq. 42)."""

    em_supported = False  # the guessing parameter has no closed-form M step here

    def __init__(self, items, data, link="logit", guessing_fixed: np.ndarray | None = None):
        super().__init__(items, data, link)
        n = len(items)
        self.guessing_fixed = np.full(n, np.nan) if guessing_fixed is None else np.asarray(guessing_fixed, float)

    def _options(self):
        return {"guessing_fixed": self.guessing_fixed}

    def build(self, priors, ordered_item=None, fixed=None):
        super().build(priors, None, fixed)
        fixed_g = None if np.isnan(self.guessing_fixed).all() else self.guessing_fixed
        self.params["irt_guessing"] = create(priors, "irt_guessing", dims="binary_item", fixed=fixed_g)

    def log_prob_table(self, params=None, shift=None):
        p = params or self.params
        beta = p["binary_logit"]
        if shift is not None:
            beta = pt.expand_dims(pt.swapaxes(beta, -1, -2), -3) + shift  # (..., N, I, K)
            g = p["irt_guessing"][:, None]
        else:
            g = p["irt_guessing"]  # broadcasts along (..., K, I)
        log_g = pt.log(pt.maximum(g, 1e-300))
        log1m_g = pt.log1p(-g)
        log_p1 = pt.logaddexp(log_g, log1m_g + log_cdf(beta, self.link))
        log_p0 = log1m_g + log_cdf(-beta, self.link)
        return pt.stack([log_p0, log_p1], axis=-1)

    def random_start(self, rng, n_classes):
        out = super().random_start(rng, n_classes)
        free = np.isnan(self.guessing_fixed)
        if free.all():
            out["irt_guessing"] = rng.uniform(0.05, 0.3, size=len(self.items))
        elif free.any():
            out["irt_guessing_free"] = rng.uniform(0.05, 0.3, size=int(free.sum()))
        return out
