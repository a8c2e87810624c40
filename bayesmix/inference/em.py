"""Closed-form EM for single-level latent class models of categorical items: a warm-up for the ML starts.

For the LCA of eq. 1 and 4 without covariates (class probabilities pi_k,
item-category probabilities p_ikc of binary, nominal and ordinal items), one EM step
is closed form (Goodman 1974; poLCA, StepMix):

    E: P(C_i = k | y_i) = pi_k prod_j p_jk(y_ij) / sum_k' (...)
    M: pi_k = mean_i P(C_i = k | y_i),  p_jkc = sum_i P(C_i = k | y_i) [y_ij = c] / sum_i P(C_i = k | y_i) [y_ij observed]

computed once per unique response pattern with its frequency. Ordinal items
with class-specific thresholds (eq. 1) are the same model: their C - 1
thresholds per class and item map one to one onto the category
probabilities, tau_kc = F^-1(P(y <= c | k)) (``OrdinalKernel.em_values``);
proportional-odds items share thresholds across classes and keep the
gradient starts. It replaces
the gradient steps of the initial stage of :func:`~.optimize.multistart`
and brings the final-stage candidates near their optimum, where the
gradient optimizer of the model's own (PyTensor) log-likelihood finishes:
every reported value, gradient and standard error still comes from that one
likelihood; EM only chooses where the optimizer starts.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..patterns import response_patterns
from .objective import LOGIT_BOUND

__all__ = ["CategoricalEM", "supported", "log_softmax"]


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax in NumPy (scipy.special.log_softmax imports JAX when it is installed: +100 MB, ~1 s)."""
    top = np.max(x, axis=axis, keepdims=True)
    shifted = x - np.where(np.isfinite(top), top, 0.0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

#: probabilities are kept inside [P_MIN, 1 - P_MIN]: the logit bound of the optimizer, so that the
#: gradient optimizer finishing an EM optimum does not go on to move boundary logits
P_MIN = float(expit(-LOGIT_BOUND))


def item_parameters(mm) -> set[str]:
    """The item parameters the EMs update: every kernel's ``parameter_names()`` (binary, nominal, ordinal)."""
    return {name for kernel in mm.kernels for name in kernel.parameter_names()}


def supported(mm) -> bool:
    """Single-level LCA of binary / nominal items, no covariates, constraints, ordering or latent effects.

    Capabilities, not types: the structure's :attr:`~bayesmix.structure.Structure.closed_form_em`
    and every kernel's :attr:`~bayesmix.kernels.ItemKernel.em_supported`.
    """
    if mm.latent is not None or mm.components or mm.structure.cluster_index is not None:
        return False
    if not mm.structure.closed_form_em or mm.ordered is not None or mm.n_classes < 2:
        return False
    if mm.class_model.covariates is not None:
        return False
    if not mm.kernels or not all(kernel.em_supported for kernel in mm.kernels):
        return False
    names = {rv.name for rv in mm.model.free_RVs}
    if not names <= {"class_intercept"} | item_parameters(mm) or "class_intercept" not in names:
        return False
    return not any(mm.parameters.get(name) is not None and mm.parameters[name].constrained for name in names)


class CategoricalEM:
    """EM steps of an LCA on binary and nominal items, by unique response pattern (see the module docstring)."""

    def __init__(self, mm):
        self.mm = mm
        self.kernels = list(mm.kernels)
        patterns = response_patterns(self.kernels)
        self.weights = np.bincount(patterns.inverse, minlength=patterns.n_patterns).astype(float)
        self.onehots = [kernel.onehot3[patterns.representative] for kernel in self.kernels]  # (P, I, C)
        self.flat_onehots = [onehot.reshape(len(onehot), -1).astype(float) for onehot in self.onehots]  # (P, I*C)
        self.shapes = [onehot.shape[1:] for onehot in self.onehots]
        self.valid = [kernel.valid for kernel in self.kernels]  # (I, C)
        self.n_units = float(self.weights.sum())

    # ------------------------------------------------------------ parameters <-> probabilities
    def from_values(self, values: dict) -> tuple[np.ndarray, list[np.ndarray]]:
        """Natural-scale values (``random_start`` / ``point``) -> (log pi (K,), log tables (K, I, C))."""
        a = np.asarray(values["class_intercept"], dtype=float)
        log_pi = log_softmax(np.append(a, 0.0))
        tables = []
        for kernel, valid in zip(self.kernels, self.valid):
            table = kernel.em_log_table(values, len(a) + 1)
            tables.append(np.where(valid, table, 0.0))
        return log_pi, tables

    def to_values(self, log_pi: np.ndarray, tables: list[np.ndarray]) -> dict[str, np.ndarray]:
        """(log pi, log tables) -> natural-scale values of the model's free RVs."""
        out = {"class_intercept": log_pi[:-1] - log_pi[-1]}
        for kernel, table in zip(self.kernels, tables):
            out.update(kernel.em_values(np.exp(table), P_MIN))
        return out

    # ------------------------------------------------------------ EM (batched over starts)
    def stack(self, values_list: list[dict]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Several starts' values -> (log pi (S, K), log tables [(S, K, I, C)]): one batch of EM runs."""
        singles = [self.from_values(values) for values in values_list]
        return (np.stack([log_pi for log_pi, _ in singles]),
                [np.stack([tables[j] for _, tables in singles]) for j in range(len(self.kernels))])

    def loglik_by_class(self, log_pi, tables) -> np.ndarray:
        """(..., K, P): log pi_k + log p(y_pattern | k), for a batch of starts in the leading axes.

        Classes before patterns: the sums over the (few) classes run along
        contiguous pattern vectors.
        """
        log_pi = np.asarray(log_pi)
        batch, n_classes = log_pi.shape[:-1], log_pi.shape[-1]
        ll = np.repeat(log_pi[..., None], len(self.weights), axis=-1)
        for onehot, table in zip(self.flat_onehots, tables):
            ll += (table.reshape(-1, onehot.shape[1]) @ onehot.T).reshape(*batch, n_classes, len(onehot))
        return ll

    def loglik(self, log_pi, tables):
        """The marginal log-likelihood sum_i log sum_k pi_k p(y_i | k) (eq. 4); one value per start of a batch."""
        ll = _logsumexp_classes(self.loglik_by_class(log_pi, tables)) @ self.weights
        return float(ll) if np.ndim(ll) == 0 else ll

    def step(self, log_pi, tables):
        """One EM step (of each start in a batch); returns the new (log pi, tables) and the LL at the old ones."""
        joint = self.loglik_by_class(log_pi, tables)
        marginal = _logsumexp_classes(joint)  # (..., P)
        post = np.exp(joint - marginal[..., None, :]) * self.weights  # (..., K, P) expected counts
        n_k = post.sum(axis=-1)
        new_pi = np.log(np.clip(n_k / self.n_units, 1e-300, None))
        ll = marginal @ self.weights
        return (new_pi, self.tables_from_counts(post)), (float(ll) if np.ndim(ll) == 0 else ll)

    def tables_from_counts(self, post: np.ndarray) -> list[np.ndarray]:
        """M-step of the item tables: expected units per class and pattern (..., K, P) -> log tables [(..., K, I, C)]."""
        batch, n_classes = post.shape[:-2], post.shape[-2]
        by_class = post.reshape(-1, post.shape[-1])  # (S*K, P)
        new_tables = []
        for onehot, shape, valid in zip(self.flat_onehots, self.shapes, self.valid):
            counts = (by_class @ onehot).reshape(*batch, n_classes, *shape)  # (..., K, I, C)
            totals = counts.sum(axis=-1, keepdims=True)
            p = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / valid.sum(-1, keepdims=True))
            p = np.where(valid, np.clip(p, P_MIN, None), 0.0)
            p = p / p.sum(axis=-1, keepdims=True)
            new_tables.append(np.where(valid, np.log(np.where(valid, p, 1.0)), 0.0))
        return new_tables

    def run(self, values: dict, iterations: int, tol: float = 0.0) -> tuple[dict, float]:
        """``iterations`` EM steps from ``values`` (or until the LL gains less than ``tol``); (values, LL)."""
        (out,), lls, _ = self.run_batch([values], iterations, tol)
        return out, float(lls[0])

    def run_batch(self, values_list: list[dict], iterations: int,
                  tol: float = 0.0) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """:meth:`run` for several starts at once, one array product per step for all of them.

        Each start stops on its own (LL gain below ``tol``), so its result does not
        depend on the other starts in the batch. Returns the values per start, the
        LL per start and whether each stopped by ``tol`` (False: ran out of iterations).
        """
        log_pi, tables = self.stack(values_list)
        active = np.arange(len(values_list))
        previous = np.full(len(values_list), -np.inf)
        for _ in range(iterations):
            if not len(active):
                break
            (new_pi, new_tables), ll = self.step(log_pi[active], [table[active] for table in tables])
            log_pi[active] = new_pi
            for table, new in zip(tables, new_tables):
                table[active] = new
            done = (ll - previous[active] < tol) if tol else np.zeros(len(active), bool)
            previous[active] = ll
            active = active[~done]
        lls = np.atleast_1d(self.loglik(log_pi, tables))
        converged = np.ones(len(values_list), bool)
        converged[active] = False
        return ([self.to_values(log_pi[s], [table[s] for table in tables]) for s in range(len(values_list))],
                lls, converged)


def _logsumexp_classes(x: np.ndarray) -> np.ndarray:
    """log sum exp over the class axis (-2) of (..., K, P): a running max and sum over K pattern vectors
    (scipy's logsumexp over a short last axis cost most of an EM step)."""
    top = x.max(axis=-2)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.zeros_like(top)
    for k in range(x.shape[-2]):
        total += np.exp(x[..., k, :] - top)
    return np.log(total) + top
