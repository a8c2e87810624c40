"""Cluster-level random effects (paper eq. 5 with B = 0).

u_j = Gamma' w_j + L z_j,  z_j ~ N(0, I_D)

non-centered: NUTS samples the standardized z_j (``random_z``); quadrature
integrates over z on a fixed grid (``bayesmix.inference.quadrature``). Both
call :meth:`ClusterRandomEffects.values` with z carrying any leading axes.
L is diagonal (one effect) or an LKJ Cholesky factor (correlated effects,
the Cholesky parameterization of section 10).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .priors import PriorSet

Z_NAME = "random_z"


def segment_sum(values, index: np.ndarray, n_segments: int):
    """Sum the last axis of ``values`` (..., N) into segments (..., n_segments)."""
    moved = pt.moveaxis(values, -1, 0)
    total = pt.inc_subtensor(pt.zeros((n_segments, *moved.shape[1:]))[index], moved)
    return pt.moveaxis(total, 0, -1)


class ClusterRandomEffects:
    """D random effects per cluster, regressed on cluster covariates (eq. 5)."""

    def __init__(self, effect_labels, cluster_index: np.ndarray, n_clusters: int,
                 cluster_covariates: np.ndarray | None = None, covariate_names=(), dim: str = "effect"):
        self.effect_labels = list(effect_labels)
        self.dim = dim
        self.cluster_index = cluster_index
        self.n_clusters = n_clusters
        self.w = cluster_covariates if cluster_covariates is not None and cluster_covariates.shape[1] else None
        self.covariate_names = list(covariate_names)
        self.params: dict = {}

    @property
    def n_effects(self) -> int:
        return len(self.effect_labels)

    def coords(self) -> dict:
        out = {self.dim: self.effect_labels}
        if self.w is not None:
            out["cluster_covariate"] = self.covariate_names
        return out

    def build(self, priors: PriorSet) -> None:
        d = self.n_effects
        dist, kw = priors.spec("random_sd")
        if d == 1:
            sd = priors.create("random_sd", dims=self.dim)
            self.params["random_sd"] = sd
            self.chol = pt.diag(sd)
        else:
            sd_dist = getattr(pm, dist).dist(**kw, shape=d)
            _, eta = priors.spec("random_corr_eta")
            chol, corr, sd = pm.LKJCholeskyCov("random_chol", n=d, eta=eta["eta"], sd_dist=sd_dist,
                                               compute_corr=True, store_in_trace=False)
            self.params["random_chol"] = chol
            self.chol = chol
            pm.Deterministic("random_sd", sd, dims=self.dim)
            pm.Deterministic("random_corr", corr, dims=(self.dim, f"{self.dim}_"))
        if self.w is not None:
            self.params["random_slope"] = priors.create("random_slope", dims=("cluster_covariate", self.dim))
        self.z = pm.Normal(Z_NAME, 0.0, 1.0, dims=("cluster", self.dim))
        self.params[Z_NAME] = self.z

    def values(self, z=None):
        """u (..., J, D) for standardized z (..., J or 1, D); default: the sampled ``random_z``."""
        z = self.z if z is None else z
        u = pt.matmul(z, self.chol.T) + pt.zeros((self.n_clusters, self.n_effects))
        if self.w is not None:
            u = u + pt.matmul(pt.as_tensor(self.w), self.params["random_slope"])
        return u

    def variances(self):
        """Var(u_jd) excluding the covariate part, (D,)."""
        return (self.chol**2).sum(axis=-1)

    def random_start(self, rng: np.random.Generator) -> dict:
        d = self.n_effects
        out = {}
        if d == 1:
            out["random_sd"] = rng.uniform(0.3, 1.5, size=1)
        else:
            packed = []
            for i in range(d):
                for j in range(i + 1):
                    packed.append(rng.uniform(0.3, 1.5) if i == j else 0.0)
            out["random_chol"] = np.array(packed)
        if self.w is not None:
            out["random_slope"] = np.zeros((self.w.shape[1], d))
        return out
