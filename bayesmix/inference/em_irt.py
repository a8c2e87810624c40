"""Bock-Aitkin EM for unidimensional binary IRT models (2PL, 3PL, the 3PL as FMA-GoM): the ML starts' warm-up.

The one-factor models of sections 8-9 without classes (the 2PL, ``fma(n_classes=1)``;
the 3PL of eq. 42 and its FMA-GoM form of eq. 43-47) share one marginal likelihood

    L = prod_j sum_q w_q prod_i P_i(eta_q)^y_ij (1 - P_i(eta_q))^(1 - y_ij)    (missing y_ij left out)
    P_i(eta) = g_i c + (1 - g_i) F(tau_i + lambda_i eta),   g_i = expit(gamma_i)

over the model's own quadrature rule (nodes eta_q, weights w_q), with F the link,
c = 1 in the direct 3PL (eq. 42), c = F(15) for the FMA-GoM guessing class (eq. 45)
and g_i = 0 for a 2PL item. Bock & Aitkin's (1981) EM:

    E: P(eta_q | y_j) = w_q prod_i P_i(eta_q)^y_ij (...) / L_j; expected counts
       r_iq = sum_j P(eta_q | y_j) [y_ij = 1],  n_iq = sum_j P(eta_q | y_j) [y_ij observed]
    M: per item, maximize sum_q r_iq log P_i(eta_q) + (n_iq - r_iq) log(1 - P_i(eta_q))
       over (tau_i, lambda_i, gamma_i): a weighted binomial regression on Q points,
       a few Fisher-scoring steps, damped until that rises (so the LL never decreases: a generalized EM),
       each taken in gamma_i and in g_i itself, the latter where it raises g_i further (:meth:`ItemFactorEM._choose`)

by unique response pattern, for all starts of a stage at once, accelerated by SQUAREM
(:func:`.em.iterate`) on (tau, lambda, gamma). Which models qualify is the family's
word: :meth:`bayesmix.MixtureModel.item_factor_form` returns an :class:`ItemFactorForm`
(the parameters' mapping to and from the model's free variables), or None. As the
other EMs, it only chooses where the gradient optimizer of the model's own (PyTensor)
likelihood starts and finishes (:func:`.optimize.multistart`): every reported value,
gradient and standard error still comes from that likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit, log_expit, log_ndtr, logit, ndtr

from ..patterns import response_patterns
from .em import form_and_rule, iterate
from .objective import LOGIT_BOUND, _one_blas_thread

__all__ = ["ItemFactorForm", "ItemFactorEM", "build"]

#: Fisher-scoring steps of each item's M step (each damped until the item's expected complete-data LL rises)
M_STEPS = 2
#: tries of each scoring step (undamped, then Levenberg-Marquardt damping 1e-3 ... 1e5 x the mean curvature)
#: before the item keeps its value
M_ATTEMPTS = 10
#: largest change of one parameter in one scoring step (theta units): early steps from a poor start stay sane
M_MAX_STEP = 2.0
#: loadings kept positive (the model's sign identification) stay at least this
MIN_POSITIVE = 1e-6
#: (starts x patterns x nodes) elements per chunk of one batch of E steps
CHUNK_ELEMENTS = 2_000_000
#: a scoring step in g = expit(gamma) keeps g within these (gamma within the optimizer's +-LOGIT_BOUND)
G_LOW, G_HIGH = float(expit(-LOGIT_BOUND)), float(expit(LOGIT_BOUND))
#: gamma standing in for g_i = 0 (a 2PL item): expit(-1000) = 0 in floating point, and SQUAREM's
#: differences stay finite (-inf - -inf would not)
NO_GUESSING = -1000.0


@dataclass
class ItemFactorForm:
    """What the item-factor EM needs of a unidimensional binary IRT model (a family's hook).

    Attributes
    ----------
    kernel : ItemKernel
        The binary items (``onehot3`` responses (N, I, 2), missing rows zero).
    link : str
        ``"logit"`` or ``"probit"``: F of eq. 36 / 42.
    to_items : callable
        Values of the model's free variables (natural scale) -> (tau, lambda, gamma), each (I,)
        (gamma = -inf for g_i = 0).
    from_items : callable
        (tau, lambda, gamma) -> values of the model's free variables.
    guessing_free : ndarray
        (I,) bool: gamma_i estimated (others held at ``to_items``'s value).
    positive : ndarray
        (I,) bool: loadings kept positive (the first one: sign identification).
    log_c : float
        log P(y = 1 | guessing): 0 for the direct 3PL, log F(15) for FMA-GoM's guessing class.
    """

    kernel: object
    link: str
    to_items: Callable
    from_items: Callable
    guessing_free: np.ndarray
    positive: np.ndarray
    log_c: float = 0.0


def build(mm, integration: dict | None = None):
    """The :class:`ItemFactorEM` of a model whose family offers an item-factor form, or None.

    None also for adaptive quadrature, rules that are graphs of parameters and
    latent blocks of more than one dimension.
    """
    found = form_and_rule(mm, "item_factor_form", integration)
    if found is None or found[1].shape[1] != 1:
        return None
    form, nodes, logw = found
    return ItemFactorEM(mm, form, nodes[:, 0], logw)


def _log_cdf(x, link):
    return log_expit(x) if link == "logit" else log_ndtr(x)


def _cdf(x, link):
    return expit(x) if link == "logit" else ndtr(x)


def _pdf(x, link):
    if link == "logit":
        return expit(x) * expit(-x)
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _pdf_slope(x, link):
    """f'(x): F (1 - F) (1 - 2 F) for the logit, -x phi(x) for the probit."""
    if link == "logit":
        return _pdf(x, link) * (expit(-x) - expit(x))
    return -x * _pdf(x, link)


#: :meth:`ItemFactorEM.information` declines (None: the difference Hessian serves) when the EM's
#: log-likelihood and the model's differ by more than this at the solution (per unit, absolute)
INFORMATION_LL_TOL = 1e-8


class ItemFactorEM:
    """Bock-Aitkin EM of a unidimensional binary IRT model, batched over starts (module docstring).

    Parameters of a batch: one array (S, 3, I) of (tau, lambda, gamma) per start.
    """

    #: the initial stage of the starts runs SQUAREM too (:func:`.optimize._multistart`): a map costs an
    #: E step over persons x nodes (~2 ms at 5,000 x 21), and plain EM crept for 100 of them where
    #: SQUAREM needed ~25 (3PL 20 x 5,000)
    accelerate_initial = True

    def __init__(self, mm, form: ItemFactorForm, eta: np.ndarray, log_weights: np.ndarray):
        self.mm, self.form, self.link = mm, form, form.link
        self.eta, self.log_weights = eta, log_weights
        patterns = response_patterns([form.kernel])
        self.inverse = patterns.inverse  # (N,) unit -> pattern
        self.weights = np.bincount(patterns.inverse, minlength=patterns.n_patterns).astype(float)
        onehot = np.asarray(form.kernel.onehot3[patterns.representative], dtype=float)  # (P, I, 2)
        self.y0, self.y1 = np.ascontiguousarray(onehot[..., 0]), np.ascontiguousarray(onehot[..., 1])
        #: every response observed: the expected incorrect responses are the expected persons less the correct ones
        self.complete = bool(np.all(self.y0 + self.y1 == 1.0))
        self.n_units = float(self.weights.sum())
        self.log_c = float(form.log_c)
        self.log_1mc = float(np.log(-np.expm1(self.log_c))) if self.log_c < 0 else -np.inf
        self.free = np.stack([np.ones_like(form.guessing_free, bool), np.ones_like(form.guessing_free, bool),
                              np.asarray(form.guessing_free, bool)])  # (3, I)
        self.positive = np.asarray(form.positive, bool)

    # ------------------------------------------------------------ parameters <-> values
    def from_values(self, values: dict) -> np.ndarray:
        tau, lam, gamma = (np.asarray(v, dtype=float) for v in self.form.to_items(values))
        return np.stack([tau, lam, np.maximum(gamma, NO_GUESSING)])

    def to_values(self, theta: np.ndarray) -> dict:
        theta = self.project(theta[None])[0]
        return self.form.from_items(theta[0], theta[1], theta[2])

    def project(self, theta: np.ndarray) -> np.ndarray:
        """(S, 3, I) inside the model's space: positive loadings > 0, free logits within the optimizer's bound."""
        theta = np.array(theta, dtype=float)
        theta[:, 1] = np.where(self.positive, np.maximum(theta[:, 1], MIN_POSITIVE), theta[:, 1])
        theta[:, 2] = np.where(self.free[2], np.clip(theta[:, 2], -LOGIT_BOUND, LOGIT_BOUND), theta[:, 2])
        return theta

    # ------------------------------------------------------------ item response functions
    def log_probs(self, theta: np.ndarray):
        """(log P(y = 1 | eta_q), log P(y = 0 | eta_q)), each (S, I, Q), of a batch (S, 3, I)."""
        x = theta[:, 0, :, None] + theta[:, 1, :, None] * self.eta  # (S, I, Q)
        gamma = theta[:, 2, :, None]
        log_g, log_1mg = log_expit(gamma), log_expit(-gamma)
        log_p1 = np.logaddexp(log_g + self.log_c, log_1mg + _log_cdf(x, self.link))
        log_p0 = np.logaddexp(log_g + self.log_1mc, log_1mg + _log_cdf(-x, self.link))
        return log_p1, log_p0

    def _joint(self, theta: np.ndarray):
        """(S, P, Q): log w_q + log p(y_p | eta_q)."""
        log_p1, log_p0 = self.log_probs(theta)
        return self.y1 @ log_p1 + self.y0 @ log_p0 + self.log_weights

    def loglik(self, theta: np.ndarray):
        """sum_j log L_j of a batch (S, 3, I) (one value per start) or of one (3, I) (a float)."""
        single = np.ndim(theta) == 2
        theta = np.asarray(theta, float)[None] if single else np.asarray(theta, float)
        joint = self._joint(theta)
        top = joint.max(axis=-1)
        ll = (np.log(np.exp(joint - top[..., None]).sum(axis=-1)) + top) @ self.weights
        return float(ll[0]) if single else ll

    def expected_counts(self, theta: np.ndarray):
        """E step: (r1, r0) (S, I, Q) expected correct / incorrect responses per node, and the LL per start."""
        joint = self._joint(theta)
        top = joint.max(axis=-1, keepdims=True)
        post = np.exp(joint - top)
        total = post.sum(axis=-1, keepdims=True)
        ll = (np.log(total[..., 0]) + top[..., 0]) @ self.weights
        post *= (self.weights[:, None] / total)  # (S, P, Q) expected persons per pattern and node
        r1 = self.y1.T @ post
        r0 = post.sum(axis=1, keepdims=True) - r1 if self.complete else self.y0.T @ post
        return r1, r0, ll

    def _item_objective(self, theta, r1, r0):
        log_p1, log_p0 = self.log_probs(theta)
        return (r1 * log_p1 + r0 * log_p0).sum(axis=-1)  # (S, I)

    def m_step(self, theta: np.ndarray, r1: np.ndarray, r0: np.ndarray) -> np.ndarray:
        """Fisher scoring on each item's expected complete-data LL, each step damped until that rises."""
        theta = theta.copy()
        n = r1 + r0
        current = self._item_objective(theta, r1, r0)
        eta = self.eta
        free = self.free.T  # (I, 3)
        for _ in range(M_STEPS):
            x = theta[:, 0, :, None] + theta[:, 1, :, None] * eta
            gamma = theta[:, 2, :, None]
            g, h = expit(gamma), expit(-gamma)  # g, 1 - g
            c = np.exp(self.log_c)
            p1 = g * c + h * _cdf(x, self.link)
            p0 = g * np.exp(self.log_1mc) + h * _cdf(-x, self.link)
            dens = h * _pdf(x, self.link)
            # dP/d(tau, lambda, g): (S, I, Q, 3); c - F(x) = F(-x) - (1 - c). The guessing step is taken in
            # g = expit(gamma), not gamma: near g = 0 the objective is smooth (concave for fixed x) in g,
            # while in gamma its curvature vanishes as g^2 and the damped scoring steps crept (3PL 20 x 5,000,
            # seed 1: 0.01 logit units per M step where the item's optimum was 3.5 away)
            jac = np.stack([dens, dens * eta, _cdf(-x, self.link) - np.exp(self.log_1mc)], axis=-1)
            var = np.maximum(p1 * p0, 1e-300)
            resid = (r1 * p0 - r0 * p1) / var  # (r1 - n P) / (P (1 - P)), n P = (r1 + r0) P
            score = np.einsum("siq,siqk->sik", resid, jac)
            info = np.einsum("siq,siqk,siql->sikl", n / var, jac, jac)
            score = np.where(free, score, 0.0)
            mask = free[:, :, None] & free[:, None, :]
            info = np.where(mask, info, 0.0) + np.where(np.eye(3, dtype=bool) & ~mask, 1.0, 0.0)
            scale = np.maximum(np.trace(info, axis1=-2, axis2=-1) / 3.0, 1e-300)[..., None, None]  # (S, I, 1, 1)
            # the step in gamma itself (dP/dgamma = g (1 - g) dP/dg)
            chain = np.stack([np.ones_like(g[..., 0]), np.ones_like(g[..., 0]), (g * h)[..., 0]], axis=-1)  # (S, I, 3)
            logit_score = score * chain
            logit_info = np.where(mask, info * chain[..., :, None] * chain[..., None, :], 0.0) + np.where(
                np.eye(3, dtype=bool) & ~mask, 1.0, 0.0)
            accepted = np.zeros(current.shape, bool)
            for attempt in range(M_ATTEMPTS):
                # Fisher scoring first, then Levenberg-Marquardt damping that turns the step towards the
                # score (an ascent direction) as it shrinks: a flat direction (a loading near 0 leaves
                # tau and gamma one constant P) cannot stall the item
                damping = (1e-10 if attempt == 0 else 10.0 ** (attempt - 4)) * scale
                values, trials = [], []
                for a, b, on_g in ((info, score, True), (logit_info, logit_score, False)):
                    step = np.linalg.solve(a + damping * np.eye(3), b[..., None])[..., 0]  # (S, I, 3)
                    largest = np.abs(step).max(axis=-1, keepdims=True)
                    step = step * np.minimum(1.0, M_MAX_STEP / np.maximum(largest, 1e-300))
                    candidate = self.project(self._moved(theta, step) if on_g else theta + np.swapaxes(step, -1, -2))
                    v = self._item_objective(candidate, r1, r0)
                    values.append(np.where(np.isfinite(v), v, -np.inf))
                    trials.append(candidate)
                    if not self.free[2].any():
                        break
                value, trial = self._choose(theta, np.stack(values), np.stack(trials)) if len(values) > 1 else (
                    values[0], trials[0])
                better = ~accepted & np.isfinite(value) & (value >= current)
                theta = np.where(better[:, None, :], trial, theta)
                current = np.where(better, value, current)
                accepted |= better
                if accepted.all():
                    break
        return theta

    @staticmethod
    def _choose(theta, values, trials):
        """Per item, the logit step (candidate 1), or the step in g (candidate 0) where that raises g and the
        item's objective more; (value, parameters) from candidates (2, S, I) / (2, S, 3, I).

        Towards g = 0 (an item whose optimum is g = 0) the capped logit step divides g by up to e^2 per
        scoring step (a fast approach to the boundary the step to the M optimum in g crept towards); away
        from it the step in g reaches the M optimum where the logit steps crept.
        """
        use_g = (values[0] > values[1]) & (trials[0, :, 2] > theta[:, 2])
        return (np.where(use_g, values[0], values[1]),
                np.where(use_g[:, None, :], trials[0], trials[1]))

    def _moved(self, theta: np.ndarray, step: np.ndarray) -> np.ndarray:
        """(S, 3, I) after a scoring step (S, I, 3) in (tau, lambda, g): g moved on the probability scale."""
        moved = theta + np.swapaxes(step, -1, -2)
        g = expit(theta[:, 2])
        g = np.clip(g + step[..., 2], np.maximum(g * np.exp(-M_MAX_STEP), G_LOW), G_HIGH)  # gamma falls <= M_MAX_STEP
        moved[:, 2] = np.where(self.free[2], logit(g), theta[:, 2])
        return moved

    # ------------------------------------------------------------ observed information (standard errors)
    def information(self, theta: np.ndarray, flat) -> tuple[np.ndarray, np.ndarray] | None:
        """Observed information and per-unit scores in the model's own parameters, from the EM's node quantities.

        Louis' (1982) identity, per response pattern p over the posterior weights
        P(eta_q | y_p) of the quadrature nodes, with s_c the complete-data score and
        l_c the complete-data log-likelihood of (tau_i, lambda_i, gamma_i) of the 3PL (eq. 42) or its
        FMA-GoM form (eq. 43-47), eta on the quadrature nodes of eq. 36's factor:

            I_obs = sum_p n_p (E[-d2 l_c | y_p] - E[s_c s_c' | y_p] + s_p s_p'),   s_p = E[s_c | y_p]

        (the Hessian of log sum_q w_q exp(l_c(eta_q)) is E[d2 l_c] + Var(s_c): exact at any
        parameter value, not only at the optimum). E[-d2 l_c] is block-diagonal by item
        (the M step's expected counts); E[s_c s_c'] couples items through the joint
        counts sum_p n_p P(eta_q | y_p) y_ip y_kp per node. The model's parameters theta
        (``flat``'s unconstrained vector, :class:`.objective.FlatModel`) map to (tau,
        lambda, gamma) element by element (identities, log loadings, logit guessing);
        the chain rule gives I_theta = J' I J - diag(sum_k s_k d2 beta_k / d theta_m^2)
        with J the map's Jacobian by central differences (no likelihood evaluations).

        Parameters
        ----------
        theta : ndarray
            The model's unconstrained parameters (``flat.theta`` order).
        flat : FlatModel
            The model's compiled functions on the same quadrature rule as this EM.

        Returns
        -------
        (information (n_params, n_params), scores (n_units, n_params)) or None
            None (the caller falls back to the difference Hessian) when theta lies outside
            the EM's space (a positive loading below MIN_POSITIVE, a free guessing logit beyond
            +-LOGIT_BOUND), when an element of (tau, lambda, gamma) depends on more than one
            element of theta, when the EM's log-likelihood differs from the model's
            (:data:`INFORMATION_LL_TOL` per unit), or when a response probability underflows
            to 0 at a node (a non-finite result).
        """
        with _one_blas_thread():  # 30 ms at 5,000 x 20 x 21 nodes; 0.6-2 s with OpenBLAS's threads under load
            return self._information(np.asarray(theta, dtype=float), flat)

    def _information(self, theta: np.ndarray, flat):
        beta = self.from_values(flat.constrained(theta))  # (3, I)
        if not np.array_equal(self.project(beta[None])[0], beta):
            return None
        jac, curvature = self._map_derivatives(theta, flat, beta)
        if jac is None:
            return None
        log_p1, log_p0 = (v[0] for v in self.log_probs(beta[None]))  # (I, Q)
        joint = self.y1 @ log_p1 + self.y0 @ log_p0 + self.log_weights  # (P, Q)
        top = joint.max(axis=-1, keepdims=True)
        post = np.exp(joint - top)
        total = post.sum(axis=-1, keepdims=True)
        post /= total
        pattern_ll = np.log(total[:, 0]) + top[:, 0]
        units = np.asarray(flat.unit_loglik(theta), dtype=float)
        if units.shape != self.inverse.shape or np.max(np.abs(units - pattern_ll[self.inverse])) > INFORMATION_LL_TOL:
            return None
        d1, d2 = self._response_derivatives(beta)  # (I, Q, 3), (I, Q, 3, 3)
        n_items, n_nodes = log_p1.shape
        with np.errstate(over="ignore", invalid="ignore"):  # P underflowing to 0: non-finite, caught below
            a, b = np.exp(-log_p1), -np.exp(-log_p0)  # d log P / dP for y = 1 and d log(1 - P) / dP for y = 0
            # the complete-data score of item i at node q: u1 = dP / P (y = 1) or u0 = -dP / (1 - P) (y = 0),
            # formed before any product with the counts so that 1 / P^2 never overflows where P is tiny
            u1, u0 = a[..., None] * d1, b[..., None] * d1  # (I, Q, 3)
            # s_p: (P, I, 3) expected complete-data scores per pattern
            by_node = lambda u: np.ascontiguousarray(np.swapaxes(u, 0, 1)).reshape(n_nodes, -1)
            scores = (self.y1[..., None] * (post @ by_node(u1)).reshape(-1, n_items, 3)
                      + self.y0[..., None] * (post @ by_node(u0)).reshape(-1, n_items, 3)).reshape(len(post), -1)
            counts = self.weights[:, None] * post  # (P, Q) expected persons per pattern and node
            r1, r0 = self.y1.T @ counts, self.y0.T @ counts  # (I, Q)
            # E[-d2 l_c]: per item, sum_q (r1 / P^2 + r0 / (1 - P)^2) dP dP' - (r1 / P - r0 / (1 - P)) d2P
            block = (np.einsum("iq,iqa,iqb->iab", r1, u1, u1) + np.einsum("iq,iqa,iqb->iab", r0, u0, u0)
                     - np.einsum("iq,iqab->iab", r1 * a + r0 * b, d2))
            info = np.zeros((n_items, 3, n_items, 3))
            info[np.arange(n_items), :, np.arange(n_items), :] = block
            # - E[s_c s_c']: sum over patterns and nodes of the counts times the products of the items' u's
            y = np.hstack([self.y1, self.y0])  # (P, 2I)
            for q in range(n_nodes):
                joint_counts = (y * counts[:, q:q + 1]).T @ y  # (2I, 2I)
                u = np.concatenate([u1[:, q], u0[:, q]])  # (2I, 3)
                full = np.einsum("jl,ja,lb->jalb", joint_counts, u, u)
                info -= (full[:n_items, :, :n_items] + full[:n_items, :, n_items:] + full[n_items:, :, :n_items]
                         + full[n_items:, :, n_items:])
        info = info.reshape(3 * n_items, 3 * n_items) + (scores * self.weights[:, None]).T @ scores
        total_score = self.weights @ scores
        information = jac.T @ info @ jac - np.diag(curvature.T @ total_score)
        if not (np.isfinite(information).all() and np.isfinite(scores).all()):
            return None
        return 0.5 * (information + information.T), (scores @ jac)[self.inverse]

    def _response_derivatives(self, beta: np.ndarray):
        """dP_i(eta_q) / d(tau, lambda, gamma) (I, Q, 3) and the second derivatives (I, Q, 3, 3) at (3, I)."""
        x = beta[0][:, None] + beta[1][:, None] * self.eta  # (I, Q)
        gamma = beta[2][:, None]
        g, h = expit(gamma), expit(-gamma)
        f, slope = _pdf(x, self.link), _pdf_slope(x, self.link)
        c_minus_f = _cdf(-x, self.link) - np.exp(self.log_1mc)  # c - F(x)
        gh = g * h
        eta = np.broadcast_to(self.eta, x.shape)
        d1 = np.stack([h * f, h * f * eta, gh * c_minus_f], axis=-1)
        d2 = np.empty(x.shape + (3, 3))
        d2[..., 0, 0] = h * slope
        d2[..., 0, 1] = d2[..., 1, 0] = h * slope * eta
        d2[..., 1, 1] = h * slope * eta * eta
        d2[..., 0, 2] = d2[..., 2, 0] = -gh * f
        d2[..., 1, 2] = d2[..., 2, 1] = -gh * f * eta
        d2[..., 2, 2] = gh * (h - g) * c_minus_f
        free = self.free.T[:, None, :]  # (I, 1, 3): parameters held (a 2PL item's gamma) get no derivative
        d1 = np.where(free, d1, 0.0)
        d2 = np.where(free[..., :, None] & free[..., None, :], d2, 0.0)
        return d1, d2

    def _map_derivatives(self, theta: np.ndarray, flat, beta: np.ndarray):
        """(J (3I, n_params), d2 beta / d theta_m^2 (3I, n_params)) of theta -> (tau, lambda, gamma), item-major;
        (None, None) when an element of beta depends on more than one element of theta (the diagonal second
        derivatives would not be the whole Hessian of the map)."""
        center = beta.T.ravel()
        jac = np.empty((len(center), len(theta)))
        curvature = np.empty_like(jac)
        for j, step in enumerate(flat._steps(theta)):
            up, down = theta.copy(), theta.copy()
            up[j] += step
            down[j] -= step
            hi = self.from_values(flat.constrained(up)).T.ravel()
            lo = self.from_values(flat.constrained(down)).T.ravel()
            jac[:, j] = (hi - lo) / (2 * step)
            curvature[:, j] = (hi - 2 * center + lo) / (step * step)
        if np.any(np.count_nonzero(jac, axis=1) > 1):
            return None, None
        held = ~self.free.T.ravel()
        jac[held], curvature[held] = 0.0, 0.0
        return jac, curvature

    def step(self, theta: np.ndarray):
        """One EM step of each start of a batch (S, 3, I); the new parameters and the LL at the old ones."""
        r1, r0, ll = self.expected_counts(theta)
        return self.m_step(theta, r1, r0), ll

    # ------------------------------------------------------------ EM runs (batched over starts)
    def run(self, values: dict, iterations: int, tol: float = 0.0, accelerate: bool = False) -> tuple[dict, float]:
        """``iterations`` EM steps from ``values`` (or until the LL gains less than ``tol``); (values, LL)."""
        (out,), lls, _ = self.run_batch([values], iterations, tol, accelerate)
        return out, float(lls[0])

    def run_batch(self, values_list: list[dict], iterations: int, tol: float = 0.0,
                  accelerate: bool = False) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """As :meth:`.em.CategoricalEM.run_batch`: each start stops on its own; (values, LL, stopped by ``tol``).

        ``accelerate``: SQUAREM cycles (:func:`.em.iterate`) on (tau, lambda, gamma), projected back
        into the model's space (positive loadings, bounded logits) after each extrapolation.
        """
        chunk = max(1, CHUNK_ELEMENTS // (len(self.weights) * len(self.eta)))
        values, lls, converged = [], [], []
        for first in range(0, len(values_list), chunk):
            theta = self.project(np.stack([self.from_values(v) for v in values_list[first:first + chunk]]))

            def em_map(parts):
                new, ll = self.step(parts[0])
                return [new], ll

            (theta,), done = iterate(em_map, [theta], [self.project], iterations, tol, accelerate)
            lls.append(np.atleast_1d(self.loglik(theta)))
            converged.append(done)
            values.extend(self.to_values(t) for t in theta)
        return values, np.concatenate(lls), np.concatenate(converged)
