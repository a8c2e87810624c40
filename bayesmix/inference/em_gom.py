"""EM for grade-of-membership models (section 7): the ML starts' warm-up of the logistic-normal and restricted GoM.

The GoM likelihood of eq. 28-30 (34-35), with the membership integrated by the model's own
quadrature rule over the standardized effects z (nodes z_q, weights w_q), is

    L_j = sum_q w_q prod_i sum_k g_k(z_q) P(y_ij | k),    g(z) = softmax(alpha + Lambda z, 0)

(missing y_ij left out), with Lambda the Cholesky factor of Sigma (logistic-normal, eq. 34;
the SD for K = 2) or the one-factor loadings (restricted, eq. 35). It is linear in the class
profiles given z: the complete data are the node q of person j and the class C_ij of each of
its responses, and EM has

    E: P(q | y_j) = w_q f_j(z_q) / L_j;  P(C_ij = k | q, y_j) = g_k(z_q) P(y_ij | k) / sum_k' (...)
    M: P(y_i = c | k) = expected responses c of item i in class k / expected responses of item i in class k
       (closed form, as an LCA's), and (alpha, Lambda) maximizing sum_q sum_k A_qk log g_k(z_q),
       A_qk = expected observed responses at node q in class k: a multinomial logistic regression
       of the K classes on (1, z_q) -- concave -- by a few damped Newton steps (a generalized EM:
       the LL never decreases)

by unique response pattern, for all starts of a stage, accelerated by SQUAREM
(:func:`.em.iterate`); it serves ``fit_ml``'s starts only when asked, ``fit_ml(em=True)``: measured
(benchmarks/bench_gom_em.py, K = 2, 20 starts, whole fit_ml, load ~18) it saves CPU at N = 1,000 x 17
(5.8 vs 7.2 s, median of 3) but costs more at N = 3,000 (7.2 vs 4.7 s) and at section 7's N = 7,326
(12.9 vs 4.2 s): an EM map costs about a gradient of the pattern density, and the gradient starts need
few. The restricted K = 3 at N = 1,000 gained (23.9 vs 37.8 s, and an LL 0.68 higher that the gradient
starts missed). The nodes are the standardized z of the model's rule, so the
membership parameters enter through g(z_q) only. Which models qualify is the family's word:
:meth:`bayesmix.MixtureModel.membership_form` returns a :class:`MembershipForm` (the
membership's mapping to and from the model's free variables), or None. As the other EMs, it
only chooses where the gradient optimizer of the model's own (PyTensor) likelihood starts and
finishes (:func:`.optimize.multistart`): every reported value, gradient and standard error
still comes from that likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..patterns import response_patterns
from .em import P_MIN, form_and_rule, iterate, log_softmax, log_table_from_counts

__all__ = ["MembershipForm", "MembershipEM", "build"]

#: Newton steps of the membership M step (each halved until the expected complete-data LL rises)
M_STEPS = 3
#: halvings of a Newton step before the membership keeps its value
M_ATTEMPTS = 12
#: largest change of one membership parameter in one Newton step: early steps from a poor start stay sane
M_MAX_STEP = 2.0
#: ridge of the Newton system, relative to the mean curvature (a flat direction: the LCA limit of the SD)
M_RIDGE = 1e-8
#: a column of Lambda whose sign-identified element is below this is set to it (LKJ diagonal, first loading > 0)
MIN_POSITIVE = 1e-6
#: nodes x patterns x items elements per chunk of an E step
CHUNK_ELEMENTS = 2_000_000


@dataclass
class MembershipForm:
    """What the GoM EM needs of a model whose membership logits are alpha + Lambda z (a family's hook).

    Attributes
    ----------
    kernels : list of ItemKernel
        The categorical items (every one ``em_supported``).
    n_classes : int
        K; the last class is the reference of the membership logits.
    free : ndarray
        (K-1, D) bool: the elements of Lambda estimated (the others are 0).
    sign_rows : ndarray
        (D,) int: the row of each column of Lambda kept positive (the LKJ diagonal, the first loading);
        a column of the other sign is flipped, exact under a rule symmetric in that dimension.
    to_membership : callable
        Values of the model's free variables (natural scale) -> (alpha (K-1,), Lambda (K-1, D)).
    from_membership : callable
        (alpha, Lambda) -> values of the membership's free variables.
    """

    kernels: list
    n_classes: int
    free: np.ndarray
    sign_rows: np.ndarray
    to_membership: Callable
    from_membership: Callable


def _symmetric(nodes: np.ndarray, log_weights: np.ndarray) -> bool:
    """Whether the rule is unchanged by z_d -> -z_d for every dimension d (a column sign of Lambda is then free)."""
    def key(x):
        return sorted(zip(map(tuple, np.round(x, 10)), np.round(log_weights, 10)))
    reference = key(nodes)
    for d in range(nodes.shape[1]):
        flipped = nodes.copy()
        flipped[:, d] *= -1.0
        if key(flipped) != reference:
            return False
    return True


def build(mm, integration: dict | None = None):
    """The :class:`MembershipEM` of a model whose family offers a membership form, or None.

    Opt-in: :func:`.optimize.em_for` calls it only for ``fit_ml(em=True)``.

    None also under adaptive quadrature, importance-weighted rules (weights that are graphs of
    parameters) and rules not symmetric in each dimension.
    """
    found = form_and_rule(mm, "membership_form", integration)
    if found is None:
        return None
    form, nodes, logw = found
    if nodes.shape[1] != form.free.shape[1] or not _symmetric(nodes, logw):
        return None
    return MembershipEM(form, nodes, logw)


class MembershipEM:
    """EM of a logistic-normal or restricted GoM, batched over starts (module docstring).

    Parameters of a batch: ``[beta (S, K-1, 1+D), log tables (S, K, I, C) per kernel]``,
    beta = (alpha, Lambda) column-stacked.
    """

    #: the initial stage runs SQUAREM too (:func:`.optimize._multistart`): a map costs an E step over
    #: nodes x patterns x items, as the IRT EM's
    accelerate_initial = True
    #: the initial stage runs ``initial_iterations`` maps (25), not :data:`.optimize.EM_INITIAL_FACTOR` x as many,
    #: and the final stage is L-BFGS-B's alone: a map costs about what a gradient of the pattern density does
    #: (N = 1,000 x 17, K = 2: ~6 ms) and EM needs ~1,000 of them to converge where L-BFGS-B needs ~100
    #: (benchmarks/bench_gom_em.py)
    initial_factor = 1
    final_iterations = 0

    def __init__(self, form: MembershipForm, nodes: np.ndarray, log_weights: np.ndarray):
        self.form = form
        self.kernels = list(form.kernels)
        self.n_classes = int(form.n_classes)
        self.nodes, self.log_weights = nodes, log_weights
        self.design = np.hstack([np.ones((len(nodes), 1)), nodes])  # (Q, 1+D)
        self.free = np.hstack([np.ones((len(form.free), 1), bool), np.asarray(form.free, bool)])  # (K-1, 1+D)
        patterns = response_patterns(self.kernels)
        self.weights = np.bincount(patterns.inverse, minlength=patterns.n_patterns).astype(float)
        self.onehots = [np.asarray(kernel.onehot3[patterns.representative], dtype=float) for kernel in self.kernels]
        #: (I, P, C) per kernel: the item-major one-hots of the batched products of the E and M steps
        self.item_onehots = [np.ascontiguousarray(onehot.transpose(1, 0, 2)) for onehot in self.onehots]
        self.valid = [kernel.valid for kernel in self.kernels]  # (I, C)
        bounds = np.cumsum([0] + [onehot.shape[1] for onehot in self.onehots])
        self.item_slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        self.observed = np.hstack([onehot.sum(axis=-1) for onehot in self.onehots])  # (P, I) 1 observed, 0 missing
        self.n_units = float(self.weights.sum())
        n_items = int(bounds[-1])
        self.chunk = max(1, CHUNK_ELEMENTS // max(1, len(nodes) * n_items))

    # ------------------------------------------------------------ parameters <-> values
    def from_values(self, values: dict) -> list[np.ndarray]:
        """Natural-scale values (``random_start`` / ``point``) -> [beta (K-1, 1+D), log tables (K, I, C)]."""
        alpha, lam = (np.asarray(v, dtype=float) for v in self.form.to_membership(values))
        beta = np.hstack([alpha.reshape(-1, 1), np.where(self.free[:, 1:], lam, 0.0)])
        tables = [np.where(valid, kernel.em_log_table(values, self.n_classes), 0.0)
                  for kernel, valid in zip(self.kernels, self.valid)]
        return [beta, *tables]

    def identified(self, beta: np.ndarray) -> np.ndarray:
        """beta with each column of Lambda signed so its sign row is positive (the model's identification)."""
        beta = np.array(beta, dtype=float)
        for d, row in enumerate(self.form.sign_rows):
            if beta[row, 1 + d] < 0:
                beta[:, 1 + d] *= -1.0
            beta[row, 1 + d] = max(beta[row, 1 + d], MIN_POSITIVE)
        return beta

    def to_values(self, parts: list[np.ndarray]) -> dict:
        beta = self.identified(parts[0])
        out = dict(self.form.from_membership(beta[:, 0], beta[:, 1:]))
        for kernel, table in zip(self.kernels, parts[1:]):
            out.update(kernel.em_values(np.exp(table), P_MIN))
        return out

    # ------------------------------------------------------------ pieces of the likelihood
    def log_membership(self, beta: np.ndarray) -> np.ndarray:
        """log g_k(z_q), (Q, K): softmax of (alpha + Lambda z_q, 0) (eq. 30, 34-35)."""
        eta = self.design @ beta.T  # (Q, K-1)
        return log_softmax(np.hstack([eta, np.zeros((len(eta), 1))]))

    def item_probs(self, tables: list[np.ndarray]) -> np.ndarray:
        """P(y_pi | k) of each pattern's responses, (P, I, K); 1 for a missing response."""
        # (I, P, C) @ (I, C, K) -> (I, P, K): one batched product per kernel
        logs = [np.matmul(onehot, table.transpose(1, 2, 0)) for onehot, table in zip(self.item_onehots, tables)]
        return np.exp(np.concatenate(logs, axis=0).transpose(1, 0, 2))

    def _estep(self, beta: np.ndarray, tables: list[np.ndarray], counts: bool = True):
        """LL, and with ``counts`` the expected responses per (pattern, item, class) S (P, I, K) and per
        (node, class) A (Q, K) (observed responses only)."""
        g = np.exp(self.log_membership(beta))  # (Q, K)
        probs = self.item_probs(tables)  # (P, I, K)
        n_nodes, n_classes = g.shape
        ll = 0.0
        expected = np.empty_like(probs) if counts else None
        by_node = np.zeros_like(g)
        for first in range(0, len(probs), self.chunk):
            part = slice(first, first + self.chunk)
            b = probs[part]  # (Pc, I, K)
            flat_b = b.reshape(-1, n_classes)  # (Pc*I, K)
            mix = (g @ flat_b.T).reshape(n_nodes, *b.shape[:2])  # (Q, Pc, I): sum_k g_qk P(y_pi | k)
            log_f = np.log(mix).sum(axis=-1) + self.log_weights[:, None]  # (Q, Pc)
            top = log_f.max(axis=0)
            post = np.exp(log_f - top)
            total = post.sum(axis=0)
            ll += (np.log(total) + top) @ self.weights[part]
            if counts:
                post *= self.weights[part] / total  # expected persons per node and pattern
                w = (post[:, :, None] * self.observed[part] / mix).reshape(n_nodes, -1)  # (Q, Pc*I)
                expected[part] = b * (w.T @ g).reshape(b.shape)
                by_node += g * (w @ flat_b)
        return ll, expected, by_node

    def loglik(self, parts: list[np.ndarray]):
        """sum_j log L_j of a batch ([beta (S, ...), tables (S, ...)]: one value per start) or of one start (a float)."""
        single = np.ndim(parts[0]) == 2
        batch = [np.asarray(p, float)[None] for p in parts] if single else parts
        lls = np.array([self._estep(batch[0][s], [t[s] for t in batch[1:]], counts=False)[0]
                        for s in range(len(batch[0]))])
        return float(lls[0]) if single else lls

    # ------------------------------------------------------------ M step of the membership
    def _membership_objective(self, beta, by_node) -> float:
        return float(np.sum(by_node * self.log_membership(beta)))

    def m_membership(self, beta: np.ndarray, by_node: np.ndarray) -> np.ndarray:
        """Newton steps on sum_q sum_k A_qk log g_k(z_q) over the free (alpha, Lambda), each halved until it rises."""
        x = self.design
        totals = by_node.sum(axis=1)  # (Q,)
        free = self.free.ravel()
        current = self._membership_objective(beta, by_node)
        for _ in range(M_STEPS):
            g = np.exp(self.log_membership(beta))[:, :-1]  # (Q, K-1)
            score = ((by_node[:, :-1] - totals[:, None] * g).T @ x).ravel()[free]
            cov = totals[:, None, None] * (g[:, :, None] * np.eye(g.shape[1]) - g[:, :, None] * g[:, None, :])
            info = np.einsum("qab,qj,ql->ajbl", cov, x, x).reshape(len(free), len(free))[np.ix_(free, free)]
            ridge = M_RIDGE * max(float(np.trace(info)) / len(info), 1e-300)
            try:
                step = np.linalg.solve(info + ridge * np.eye(len(info)), score)
            except np.linalg.LinAlgError:
                step = score / max(float(np.trace(info)), 1e-300)
            step *= min(1.0, M_MAX_STEP / max(float(np.abs(step).max(initial=0.0)), 1e-300))
            for attempt in range(M_ATTEMPTS):
                trial = beta.copy()
                trial.ravel()[np.flatnonzero(free)] += step / 2.0 ** attempt
                value = self._membership_objective(trial, by_node)
                if np.isfinite(value) and value >= current:
                    beta, improved, current = trial, value - current, value
                    break
            else:
                break
            if improved <= 1e-12 * max(1.0, abs(current)):
                break
        return beta

    # ------------------------------------------------------------ EM steps
    def step(self, parts: list[np.ndarray]):
        """One EM step of each start of a batch; the new parts and the LL at the old ones."""
        betas, lls, tables_out = [], [], [[] for _ in self.kernels]
        for s in range(len(parts[0])):
            beta, tables = parts[0][s], [t[s] for t in parts[1:]]
            ll, expected, by_node = self._estep(beta, tables)
            lls.append(ll)
            betas.append(self.m_membership(beta, by_node))
            by_item = expected.transpose(1, 2, 0)  # (I, K, P)
            for j, (onehot, valid, items) in enumerate(zip(self.item_onehots, self.valid, self.item_slices)):
                counts = np.matmul(by_item[items], onehot).transpose(1, 0, 2)  # (K, I, C)
                tables_out[j].append(log_table_from_counts(counts, valid))
        return [np.stack(betas), *(np.stack(t) for t in tables_out)], np.array(lls)

    def run(self, values: dict, iterations: int, tol: float = 0.0, accelerate: bool = False) -> tuple[dict, float]:
        """``iterations`` EM steps from ``values`` (or until the LL gains less than ``tol``); (values, LL)."""
        (out,), lls, _ = self.run_batch([values], iterations, tol, accelerate)
        return out, float(lls[0])

    def run_batch(self, values_list: list[dict], iterations: int, tol: float = 0.0,
                  accelerate: bool = False) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """As :meth:`.em.CategoricalEM.run_batch`: each start stops on its own; (values, LL, stopped by ``tol``).

        ``accelerate``: SQUAREM cycles (:func:`.em.iterate`) on (alpha, Lambda) and the log tables.
        """
        singles = [self.from_values(values) for values in values_list]
        parts = [np.stack([single[j] for single in singles]) for j in range(len(singles[0]))]

        def em_map(parts):
            return self.step(parts)

        keep_free = lambda beta: np.where(self.free, beta, 0.0)  # noqa: E731  (Lambda's fixed zeros stay 0)
        parts, converged = iterate(em_map, parts, [keep_free, *self.valid], iterations, tol, accelerate)
        lls = np.atleast_1d(self.loglik(parts))
        values = [self.to_values([p[s] for p in parts]) for s in range(len(values_list))]
        return values, lls, converged
