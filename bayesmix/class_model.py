"""Class layer: multinomial logits of class membership (paper eq. 4).

P(C = c | x) = exp(a_c + b_c' x) / sum_k exp(a_k + b_k' x), with the last
class as reference (a_K = b_K = 0, as in the paper). Random intercepts on the
logits (alpha_cj of eq. 4, two-level models) enter through ``offset``; any
leading axes of the parameters or the offset (quadrature nodes, draws)
broadcast through.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from .parameters import create
from .priors import PriorSet


def full_logits(free, axis: int = -1):
    """Append the reference class (logit 0) to K-1 free logits along ``axis``."""
    zeros = pt.zeros_like(pt.take(free, [0], axis=axis))
    return pt.concatenate([free, zeros], axis=axis)


class ClassModel:
    """Multinomial logit for K classes with optional unit-level covariates."""

    def __init__(self, n_classes: int, covariates: np.ndarray | None = None, covariate_names=(),
                 prefix: str = "class", covariate_dim: str = "covariate"):
        self.n_classes = n_classes
        self.covariates = covariates if covariates is not None and covariates.shape[1] else None
        self.covariate_names = list(covariate_names)
        self.prefix = prefix
        self.covariate_dim = covariate_dim
        self.params: dict = {}
        # parameter -> axis that holds the K-1 free classes (reference coded)
        self.reference_axis: dict[str, int] = {}

    @property
    def free_dim(self) -> str:
        return f"{self.prefix}_free"

    def coords(self, class_labels) -> dict:
        out = {self.free_dim: list(class_labels[:-1])}
        if self.covariates is not None:
            out[self.covariate_dim] = self.covariate_names
        return out

    def build(self, priors: PriorSet, fixed: dict | None = None) -> None:
        """Intercepts (and slopes) of the K-1 free logits; ``fixed`` maps a name to values (NaN = free)."""
        if self.n_classes == 1:
            return
        fixed = fixed or {}
        meta = {"class_dim": self.prefix, "reference_coded": True}
        name = f"{self.prefix}_intercept"
        self.params["class_intercept"] = create(priors, name, dims=self.free_dim, fixed=fixed.get(name),
                                                class_axis=0, **meta)
        self.reference_axis[name] = 0
        if self.covariates is not None:
            name = f"{self.prefix}_slope"
            self.params["class_slope"] = create(priors, name, dims=(self.covariate_dim, self.free_dim),
                                                fixed=fixed.get(name), class_axis=1, bounded=False, **meta)
            self.reference_axis[name] = 1

    def logits(self, params: dict | None = None, offset=None, covariates=None):
        """Free logits (..., N or 1, K-1).

        ``covariates``: rows (R, P) to evaluate the logits at instead of the
        units' own (results at chosen covariate values; (..., R, K-1)).
        """
        p = params or self.params
        eta = p["class_intercept"][..., None, :]
        if self.covariates is not None:
            x = self.covariates if covariates is None else covariates
            eta = eta + pt.matmul(pt.as_tensor(x), p["class_slope"])
        if offset is not None:
            eta = eta + offset
        return eta

    def log_prior(self, params: dict | None = None, offset=None, covariates=None):
        """log P(C = c | x): (..., N, K), or (..., 1, K) without covariates/offset.

        ``covariates``: rows (R, P) instead of the units' covariates (:meth:`logits`).
        """
        if self.n_classes == 1:
            return pt.zeros((1, 1))
        return pt.special.log_softmax(full_logits(self.logits(params, offset, covariates)), axis=-1)

    def random_start(self, rng: np.random.Generator) -> dict:
        if self.n_classes == 1:
            return {}
        out = {f"{self.prefix}_intercept": rng.uniform(-0.5, 0.5, size=self.n_classes - 1)}
        if self.covariates is not None:
            out[f"{self.prefix}_slope"] = np.zeros((self.covariates.shape[1], self.n_classes - 1))
        return out


def class_labels(n_classes: int, prefix: str = "class") -> list[str]:
    return [f"{prefix}{c + 1}" for c in range(n_classes)]
