"""Erosheva's Dirichlet grade-of-membership latent block: g_j ~ Dirichlet(a) per person (section 7).

ML and the per-person log-likelihood integrate g_j exactly by a Gauss-Jacobi
product rule in the stick-breaking coordinates (:meth:`DirichletMembership.rule`;
importance sampling with ``integration={"method": "monte-carlo"}``); NUTS samples
g_j through standardized log-ratios w_j (:func:`standardized_logp`), the funnel of
the concentration over the memberships taken out.
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
#: the Dirichlet membership's rules: exact Gauss-Jacobi (default) and importance sampling
DIRICHLET_METHODS = ("gauss-jacobi", "monte-carlo")
#: Gauss-Jacobi nodes are held in [NODE_FLOOR, 1 - NODE_FLOOR] (eigh's absolute error; 1 - v stays positive)
NODE_FLOOR = 2.0**-53
#: most nodes a Gauss-Jacobi product rule may have (points ** (K - 1))
GAUSS_JACOBI_MAX_NODES = 200_000


def gauss_jacobi_points(n_items: int) -> int:
    """Nodes per stick-breaking coordinate that make the rule exact for ``n_items`` items: ceil((I + 2) / 2).

    p(y_j | g) is a polynomial of degree I in g (degree <= I in each coordinate v_k), and
    g_k p(y_j | g), the numerator of the EAP membership score, one of degree I + 1: an
    n-point Gauss rule is exact to degree 2n - 1.
    """
    return (int(n_items) + 3) // 2


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
    and its forward draws are standardized Dirichlet draws.

    :meth:`rule` integrates g_j for ML, the per-person ``log_likelihood`` (LOO)
    and ``latent="integrated"`` NUTS. Default ``"gauss-jacobi"``: exact. Given g
    the items are independent mixtures, p(y_j | g) = prod_{i observed}
    sum_k g_k p_ik(y_ij) (eq. 28), a polynomial of degree J_j <= I in g. In the
    stick-breaking coordinates g_1 = v_1, g_k = v_k prod_{l<k} (1 - v_l),
    g_K = prod_{l<K} (1 - v_l), with independent v_k ~ Beta(a_k, sum_{l>k} a_l),
    it has degree <= I in each v_k, so the product of K - 1 n-point Gauss-Jacobi
    rules of these Beta laws is exact once 2n - 1 >= I:

        p(y_j) = int p(y_j | g) Dir(g | a) dg = sum_q w_q(a) p(y_j | g_q(a)),

    n = ceil((I + 2) / 2) by default (:func:`gauss_jacobi_points`; also the EAP
    membership score E[g_jk | y_j] exact), n^(K-1) nodes. Nodes and weights
    are graphs of a (Golub-Welsch: the eigenvalues and first eigenvector
    components of the Beta law's Jacobi matrix, :func:`beta_gauss_rule`), so
    the log-likelihood and its gradient are exact at any concentration
    (measured a = 0.01 .. 100). ``"monte-carlo"``: importance-sampling nodes
    (in g),

        p(y_j) ~= sum_q w_q p(y_j | g_q),  w_q = Dir(g_q | a) / (Q q(g_q)),

    with g_q drawn once (seeded) from a fixed defensive mixture proposal
    q = mean of Dirichlet(b 1) for b in ``proposal`` (default 0.2, 1, 5): the
    weights are graphs of a, the nodes constants, so the estimate is a smooth
    function of the parameters (common random numbers) and unbiased for
    p(y_j); its variance is infinite when some a_k < 0.1, where ML drifted
    (issue 26: the concentration estimate near 0.09 whatever the truth).

    Parameters
    ----------
    class_labels_ : the K class labels.
    n_units : N persons.
    proposal : the importance-sampling mixture's Dirichlet parameters.
    n_items : I, the degree of p(y_j | g) (sets the default Gauss-Jacobi points).
    """

    def __init__(self, class_labels_: Sequence[str], n_units: int, proposal: Sequence[float] = (0.2, 1.0, 5.0),
                 n_items: int = 1):
        prefix = "membership"
        super().__init__([f"{prefix}_{c}" for c in class_labels_], None, n_units, form="diagonal",
                         dim="class", level_dim="unit", prefix=prefix)
        self.n_classes = len(class_labels_)
        self.proposal = tuple(float(b) for b in proposal)
        self.n_items = int(n_items)

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
        register(name, class_dim="class", class_axis=0, latent=self.prefix)
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
        """Nodes g_q (Q, K) and log-weights (Q,) integrating g ~ Dirichlet(a) (see the class docstring).

        ``"gauss-jacobi"``: the product Gauss-Jacobi rule in the stick-breaking
        coordinates, ``points`` per coordinate (default :func:`gauss_jacobi_points`),
        nodes and log-weights graphs of a. ``"monte-carlo"``: importance nodes (constants)
        and log-weights log Dir(g_q | a) - log q(g_q) - log Q (a graph of a).
        """
        check_dirichlet_method(method)
        a = self.params["concentration"]
        if method == "gauss-jacobi":
            n = gauss_jacobi_points(self.n_items) if points is None else int(points)
            check_gauss_jacobi_points(n, self.n_classes)
            return stick_breaking_rule(a, self.n_classes, n)
        points = DIRICHLET_POINTS if points is None else points
        nodes, log_q = self.proposal_nodes(points, seed)
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
    if method not in DIRICHLET_METHODS:
        raise ValueError(f"membership='dirichlet' is integrated by the exact Gauss-Jacobi rule "
                         f"(integration={{'method': 'gauss-jacobi'}}, the default) or by importance sampling "
                         f"(integration={{'method': 'monte-carlo', 'points': Q}}), not {method!r}.")


def check_gauss_jacobi_points(points: int, n_classes: int) -> None:
    """Refuse a Gauss-Jacobi rule with < 1 point per coordinate or more than GAUSS_JACOBI_MAX_NODES nodes."""
    if points < 1 or points ** (n_classes - 1) > GAUSS_JACOBI_MAX_NODES:
        raise ValueError(f"integration points={points} for the Gauss-Jacobi rule of a {n_classes}-class Dirichlet "
                         f"membership: points counts nodes per stick-breaking coordinate ({points}^{n_classes - 1} "
                         f"nodes; at most {GAUSS_JACOBI_MAX_NODES}); ceil((I + 2) / 2) points are exact for I "
                         f"items (the default). For importance sampling pass method='monte-carlo'.")


def beta_gauss_rule(alpha, beta, n: int):
    """n-point Gauss rule of Beta(alpha, beta) on (0, 1): nodes (n,), log-weights (n,), graphs of the scalars.

    Golub-Welsch: the eigenvalues of the Jacobi matrix of the monic orthogonal polynomials of
    the Beta law (the Jacobi polynomials P^(beta-1, alpha-1) mapped from (-1, 1)) are the nodes,
    the squared first components of its eigenvectors the weights (they sum to 1); exact for
    polynomials of degree <= 2n - 1, differentiable in alpha and beta (``eigh``'s gradient).
    """
    p, q = beta - 1.0, alpha - 1.0  # (1 - x)^p (1 + x)^q on (-1, 1)
    diag = [(q - p) / (p + q + 2.0)]
    off2 = []
    if n > 1:
        k = pt.arange(1, n, dtype="float64")
        s = 2.0 * k + p + q  # > 0 for k >= 1 (alpha + beta > 0)
        diag.append((q - p) * (q + p) / (s * (s + 2.0)))
        # k = 1 with (1 + p + q) cancelled (0 / 0 at alpha + beta = 1); k >= 2 the general term
        off2.append(pt.stack([4.0 * (1.0 + p) * (1.0 + q) / ((2.0 + p + q) ** 2 * (3.0 + p + q))]))
        if n > 2:
            k2 = pt.arange(2, n, dtype="float64")
            s2 = 2.0 * k2 + p + q
            off2.append(4.0 * k2 * (k2 + p) * (k2 + q) * (k2 + p + q) / (s2**2 * (s2 + 1.0) * (s2 - 1.0)))
    d = (pt.concatenate([pt.stack([diag[0]]), *diag[1:]]) + 1.0) / 2.0
    if n == 1:
        return d, pt.zeros(1)
    off = pt.sqrt(pt.concatenate(off2)) / 2.0
    jacobi = pt.diag(d) + pt.diag(off, 1) + pt.diag(off, -1)
    nodes, vectors = pt.linalg.eigh(jacobi)
    # eigh's nodes carry an absolute error ~1e-16: a node within it of 0 or 1 (a concentration near 0,
    # the LCA limit) is held inside (0, 1), harmless for the polynomial integrand; weights below 1e-300
    # (squared) are held there too, so that log and its gradient stay finite
    nodes = pt.clip(nodes, NODE_FLOOR, 1.0 - NODE_FLOOR)
    return nodes, 2.0 * pt.log(pt.maximum(pt.abs(vectors[0]), 1e-150))


def stick_breaking_rule(a, n_classes: int, points: int):
    """Product Gauss-Jacobi rule of Dirichlet(a) in stick-breaking coordinates: g (Q, K), log w (Q,), Q = n^(K-1).

    v_k ~ Beta(a_k, sum_{l>k} a_l) independent, g_k = v_k prod_{l<k} (1 - v_l) (k < K),
    g_K = prod_{l<K} (1 - v_l); one :func:`beta_gauss_rule` per v_k, each with ``points`` nodes.
    """
    k, n = n_classes, points
    dims = k - 1
    log_g, logw = [], 0.0
    rest = 0.0  # sum_{l<k} log(1 - v_l), on the grid's (K - 1) axes
    for c in range(dims):
        v, lw = beta_gauss_rule(a[c], a[c + 1:].sum(), n)
        shape = [1] * dims
        shape[c] = n
        v, lw = v.reshape(shape), lw.reshape(shape)
        log_g.append(pt.log(v) + rest)
        rest = rest + pt.log1p(-v)
        logw = logw + lw
    log_g.append(rest)
    q = n**dims
    grid = pt.stack([pt.broadcast_to(x, (n,) * dims).reshape((q,)) for x in log_g], axis=-1)
    nodes = pt.specify_shape(pt.exp(grid), (q, k))
    return nodes, pt.specify_shape(pt.broadcast_to(logw, (n,) * dims).reshape((q,)), (q,))
