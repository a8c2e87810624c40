"""Erosheva's Dirichlet grade-of-membership latent block: g_j ~ Dirichlet(a) per person (section 7).

ML and the per-person log-likelihood integrate g_j with importance-sampling
nodes; NUTS samples g_j through standardized log-ratios w_j (:func:`standardized_logp`),
the funnel of the concentration over the memberships taken out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import digamma, gammaln, logsumexp, polygamma

from ..class_model import ClassModel
from ..parameters import register
from ..priors import PriorSet
from . import LatentEffects

#: importance-sampling nodes of the Dirichlet membership when not given
DIRICHLET_POINTS = 1000


class DirichletMembership(LatentEffects):
    """g_j ~ Dirichlet(a) per person (Erosheva's GoM), a (K,) estimated.

    NUTS samples g_j (the deterministic ``membership_g``, dims ``(unit, class)``)
    through its standardized log-ratios, the free ``membership_w`` (dims
    ``(unit, membership_ratio)``, K - 1 per person):

        x_jk = log(g_jk / g_jK) = m_k(a) + s_k(a) w_jk,
        m_k = psi(a_k) - psi(a_K),  s_k = sqrt(psi'(a_k) + psi'(a_K)),

    the mean and SD of x_jk under Dirichlet(a), so that w's prior scale does
    not depend on a. Sampling g_j directly (a PyMC Dirichlet, whose log-ratio
    spreads like 1/a at a small concentration) is a funnel in (a, g) that
    2 x 100-draw chains did not cross (SBC gom_dirichlet, issue 26). The map is
    exact: w's density is Dir(g | a) prod_k g_k prod_k s_k (:func:`standardized_logp`),
    and its forward draws are standardized Dirichlet draws. :meth:`rule` gives
    importance-sampling nodes (in g) for ML and the per-person ``log_likelihood``:

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
        return self.name("w")

    @property
    def ratio_dim(self) -> str:
        return self.name("ratio")

    def variable_names(self) -> tuple[str, ...]:
        return (self.name("w"), self.name("g"), self.name("concentration"))

    def coords(self) -> dict:
        return {}

    def build(self, priors: PriorSet) -> None:
        name = self.name("concentration")  # prefix "membership": the prior's name
        a = priors.create(name, dims="class")
        register(name, class_dim="class", class_axis=0, bounded=False, latent=self.prefix)
        self.params["concentration"] = a
        model = pm.modelcontext(None)
        labels = list(model.coords["class"])
        model.add_coord(self.ratio_dim, [f"{c}/{labels[-1]}" for c in labels[:-1]])
        # w_j: standardized log-ratios (K - 1); the 0 carries the support size to the forward draws
        self.z = pm.CustomDist(self.z_name, pt.specify_shape(a, (self.n_classes,)), pt.zeros(self.n_classes - 1), logp=standardized_logp,
                               random=standardized_draws, signature="(k),(m)->(m)", dims=("unit", self.ratio_dim))
        self.params["z"] = self.z
        self.g = pm.Deterministic(self.name("g"), memberships_from(self.z, a), dims=("unit", "class"))
        register(self.name("g"), class_dim="class", class_axis=1, bounded=False, latent=self.prefix)
        pm.Deterministic(self.name("mean"), a / a.sum(), dims="class")

    def values(self, z=None):
        """g (..., N or 1, K): the sampled g_j (from w, when ``z`` is None or the block's w), or importance nodes."""
        return self.g if z is None or z is self.z else z

    def permuted(self, before: dict, after: dict, perms: np.ndarray, permute) -> None:
        """Relabeling hook: w read back from the relabeled g and a (a class permutation is no map of w alone).

        ``before`` / ``after``: name -> (dims, array (chain, draw, ...)) before and after the permutation;
        ``permute(array, perms, axis)`` permutes a class axis. In place on ``after``.
        """
        w, a = self.z_name, self.name("concentration")
        if w not in before or a not in before:
            return
        dims, values = before[w]
        conc = np.asarray(before[a][1])[..., None, :]  # (chain, draw, 1, K)
        log_g = _log_memberships(values, conc)  # (chain, draw, N, K)
        after[w] = (dims, _standardize(permute(log_g, perms, log_g.ndim - 1), np.asarray(after[a][1])[..., None, :]))

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
        """New memberships for a replicate: g_j ~ Dir(a) (entries >= 1e-300) as w_j (N, K - 1), the sampled variable."""
        a = np.asarray(graphs["concentration"], float)
        return _standardize(np.log(np.maximum(rng.dirichlet(a, size=shape[0]), 1e-300)), a)

    def sampler_start(self) -> None:
        """Where NUTS starts w_j: at 0 (log-ratios at their prior mean given a)."""
        return None


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


def _ratio_moments(a, lib):
    """Mean psi(a_k) - psi(a_K) and SD sqrt(psi'(a_k) + psi'(a_K)) of log(g_k / g_K) under Dirichlet(a) (..., K)."""
    if lib is pt:
        last = pt.expand_dims(a[..., -1], -1)  # broadcastable (a's length may be unknown statically)
        return pt.psi(a[..., :-1]) - pt.psi(last), pt.sqrt(pt.tri_gamma(a[..., :-1]) + pt.tri_gamma(last))
    return (digamma(a[..., :-1]) - digamma(a[..., -1:]),
            np.sqrt(polygamma(1, a[..., :-1]) + polygamma(1, a[..., -1:])))


def memberships_from(w, a):
    """g = softmax(m(a) + s(a) w, 0) (..., K) from the standardized log-ratios w (..., K - 1)."""
    m, s = _ratio_moments(a, pt)
    x = m + s * w
    return pt.special.softmax(pt.concatenate([x, pt.zeros_like(x[..., :1])], axis=-1), axis=-1)


def standardized_logp(w, a, _support):
    """log density of w_j (..., K - 1): log Dir(g | a) + sum_k log g_k + sum_k log s_k(a), g from w (exact).

    The log-ratio map x -> g has Jacobian prod_{k=1..K} g_k, the affine w -> x the product of the s_k.
    """
    m, s = _ratio_moments(a, pt)
    x = m + s * w
    full = pt.concatenate([x, pt.zeros_like(x[..., :1])], axis=-1)
    log_g = full - pt.logsumexp(full, axis=-1, keepdims=True)
    return (pt.gammaln(a.sum(-1)) - pt.gammaln(a).sum(-1) + (log_g * a).sum(-1) + pt.log(s).sum(-1))


def _log_memberships(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    m, s = _ratio_moments(a, np)
    full = np.concatenate([m + s * w, np.zeros(np.shape(w)[:-1] + (1,))], axis=-1)
    return full - logsumexp(full, axis=-1, keepdims=True)


def _standardize(log_g: np.ndarray, a: np.ndarray) -> np.ndarray:
    m, s = _ratio_moments(a, np)
    return (log_g[..., :-1] - log_g[..., -1:] - m) / s


def standardized_draws(a, _support, rng=None, size=None):
    """Forward draws of w: g ~ Dirichlet(a) as log Gamma(a_k) variates (no underflow at small a), standardized."""
    a = np.asarray(a, float)
    shape = (tuple(size) if size is not None else a.shape[:-1]) + a.shape[-1:]
    a = np.broadcast_to(a, shape)
    log_gamma = np.log(rng.gamma(a + 1.0)) + np.log(rng.uniform(size=shape)) / a  # log G(a) = log G(a+1) + log U / a
    return _standardize(log_gamma, a)


def check_dirichlet_method(method: str) -> None:
    if method != "monte-carlo":
        raise ValueError(f"membership='dirichlet' is integrated by importance sampling: use "
                         f"integration={{'method': 'monte-carlo', 'points': Q}}, not {method!r}.")
