"""Erosheva's Dirichlet grade-of-membership latent block: g_j ~ Dirichlet(a) per person (section 7).

ML and the per-person log-likelihood integrate g_j with importance-sampling
nodes; NUTS samples g_j as a PyMC Dirichlet.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln, logsumexp

from ..class_model import ClassModel
from ..parameters import register
from ..priors import PriorSet
from . import LatentEffects

#: importance-sampling nodes of the Dirichlet membership when not given
DIRICHLET_POINTS = 1000


class DirichletMembership(LatentEffects):
    """g_j ~ Dirichlet(a) per person (Erosheva's GoM), a (K,) estimated.

    The latent "z" of this block *is* g_j (dims ``(unit, class)``): NUTS samples
    it as a PyMC Dirichlet, and :meth:`rule` gives importance-sampling nodes
    for ML and the per-person ``log_likelihood``:

        p(y_j) = int p(y_j | g) Dir(g | a) dg ~= sum_q w_q p(y_j | g_q),
        w_q = Dir(g_q | a) / (Q q(g_q)),

    with g_q drawn once (seeded) from a fixed defensive mixture proposal
    q = mean of Dirichlet(b 1) for b in ``proposal`` (default 0.2, 1, 5): the
    weights are graphs of a, the nodes constants, so the estimate is a smooth
    function of the parameters (common random numbers) and unbiased for
    p(y_j); its variance is finite when a_k > 0.1. Only
    ``integration={"method": "monte-carlo", "points": Q, "seed": s}`` applies.
    """

    def __init__(self, class_labels_: Sequence[str], n_units: int, proposal: Sequence[float] = (0.2, 1.0, 5.0)):
        prefix = "membership"
        super().__init__([f"{prefix}_{c}" for c in class_labels_], None, n_units, form="diagonal",
                         dim="class", level_dim="unit", prefix=prefix)
        self.n_classes = len(class_labels_)
        self.proposal = tuple(float(b) for b in proposal)

    @property
    def z_name(self) -> str:
        return self.name("g")

    def variable_names(self) -> tuple[str, ...]:
        return (self.name("g"), self.name("concentration"))

    def coords(self) -> dict:
        return {}

    def build(self, priors: PriorSet) -> None:
        name = self.name("concentration")  # prefix "membership": the prior's name
        a = priors.create(name, dims="class")
        register(name, class_dim="class", class_axis=0, bounded=False, latent=self.prefix)
        self.params["concentration"] = a
        self.z = pm.Dirichlet(self.z_name, a=a + pt.zeros((self.n_levels, 1)), dims=("unit", "class"))
        register(self.z_name, class_dim="class", class_axis=1, bounded=False, latent=self.prefix)
        self.params["z"] = self.z
        pm.Deterministic(self.name("mean"), a / a.sum(), dims="class")

    def values(self, z=None):
        """g (..., N or 1, K): the sampled g_j, or importance nodes."""
        return self.z if z is None else z

    def unit_values(self, z=None):
        return self.values(z)

    def covariance(self):
        a = self.params["concentration"]
        m = a / a.sum()
        return (pt.diag(m) - pt.outer(m, m)) / (a.sum() + 1.0)

    def proposal_nodes(self, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Nodes g_q (Q, K) (entries >= 1e-300) and log q(g_q) (Q,) of the defensive mixture."""
        rng = np.random.default_rng(seed)
        k, bs = self.n_classes, np.array(self.proposal)
        comp = rng.integers(len(bs), size=points)
        b = bs[comp][:, None]
        # log Gamma(b) draws without underflow: log G(b + 1) + log(U) / b
        log_gamma = np.log(rng.gamma(b + 1.0, size=(points, k))) + np.log(rng.uniform(size=(points, k))) / b
        log_g = np.maximum(log_gamma - logsumexp(log_gamma, axis=1, keepdims=True), np.log(1e-300))
        log_dir = gammaln(k * bs)[None, :] - k * gammaln(bs)[None, :] + (bs[None, :] - 1.0) * log_g.sum(1, keepdims=True)
        log_q = logsumexp(log_dir, axis=1) - np.log(len(bs))
        return np.exp(log_g), log_q

    def rule(self, method: str, points: int | None, seed: int = 0):
        """Importance nodes g_q (Q, K) and log-weights log Dir(g_q | a) - log q(g_q) - log Q (a graph of a)."""
        check_dirichlet_method(method)
        points = DIRICHLET_POINTS if points is None else points
        nodes, log_q = self.proposal_nodes(points, seed)
        a = self.params["concentration"]
        log_dir = (pt.gammaln(a.sum()) - pt.gammaln(a).sum()
                   + pt.dot(pt.as_tensor(np.log(nodes)), a - 1.0))
        return nodes, log_dir - log_q - np.log(points)

    def random_start(self, rng: np.random.Generator) -> dict:
        return {self.name("concentration"): rng.uniform(0.3, 2.0, size=self.n_classes)}

    def simulation_graphs(self) -> dict:
        return {"concentration": self.params["concentration"]}

    def draw_z(self, rng, shape, graphs):
        """New memberships g_j ~ Dir(a) (entries >= 1e-300)."""
        return np.maximum(rng.dirichlet(np.asarray(graphs["concentration"], float), size=shape[0]), 1e-300)

    def sampler_start(self) -> np.ndarray:
        """Where NUTS starts g_j: equal membership (the sampler's hook for a non-normal latent)."""
        return np.full((self.n_levels, self.n_classes), 1.0 / self.n_classes)


class MeanMembership(ClassModel):
    """The class-model slot of a Dirichlet GoM: no logits of its own; log prior = log E[g] = log a / sum a."""

    def __init__(self, n_classes: int, latent: DirichletMembership):
        super().__init__(n_classes)
        self.latent = latent

    def build(self, priors, fixed=None) -> None:  # the concentration lives in the latent block
        return None

    def log_prior(self, params=None, offset=None):
        a = self.latent.params["concentration"]
        return pt.log(a / a.sum())[None, :]

    def random_start(self, rng) -> dict:
        return {}


def check_dirichlet_method(method: str) -> None:
    if method != "monte-carlo":
        raise ValueError(f"membership='dirichlet' is integrated by importance sampling: use "
                         f"integration={{'method': 'monte-carlo', 'points': Q}}, not {method!r}.")
