"""Closed-form EM for single-level latent class models of categorical items: a warm-up for the ML starts.

For the LCA of eq. 1 and 4 without covariates (class probabilities pi_k,
item-category probabilities p_ikc of binary and nominal items), one EM step
is closed form (Goodman 1974; poLCA, StepMix):

    E: P(C_i = k | y_i) = pi_k prod_j p_jk(y_ij) / sum_k' (...)
    M: pi_k = mean_i P(C_i = k | y_i),  p_jkc = sum_i P(C_i = k | y_i) [y_ij = c] / sum_i P(C_i = k | y_i) [y_ij observed]

computed once per unique response pattern with its frequency. It replaces
the gradient steps of the initial stage of :func:`~.optimize.multistart`
and brings the final-stage candidates near their optimum, where the
gradient optimizer of the model's own (PyTensor) log-likelihood finishes:
every reported value, gradient and standard error still comes from that one
likelihood; EM only chooses where the optimizer starts.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax, logsumexp
from scipy.stats import norm

from ..kernels import BinaryKernel, NominalKernel
from ..patterns import response_patterns

__all__ = ["CategoricalEM", "supported"]

#: probabilities are kept inside [P_MIN, 1 - P_MIN]: the logit bound of the optimizer (+-15)
P_MIN = float(expit(-15.0))
_SUPPORTED_KERNELS = (BinaryKernel, NominalKernel)
_PARAMETERS = {"class_intercept", "binary_logit", "nominal_logit"}


def supported(mm) -> bool:
    """Single-level LCA of binary / nominal items, no covariates, constraints, ordering or latent effects."""
    if mm.latent is not None or mm.components or getattr(mm.structure, "cluster_index", None) is not None:
        return False
    if type(mm.structure).__name__ != "WithinClasses" or mm.ordered is not None or mm.n_classes < 2:
        return False
    if getattr(mm.class_model, "covariates", None) is not None:
        return False
    if not mm.kernels or any(type(kernel) not in _SUPPORTED_KERNELS for kernel in mm.kernels):
        return False
    names = {rv.name for rv in mm.model.free_RVs}
    if names != _PARAMETERS & names or "class_intercept" not in names:
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
        self.valid = [kernel.valid for kernel in self.kernels]  # (I, C)
        self.n_units = float(self.weights.sum())

    # ------------------------------------------------------------ parameters <-> probabilities
    def from_values(self, values: dict) -> tuple[np.ndarray, list[np.ndarray]]:
        """Natural-scale values (``random_start`` / ``point``) -> (log pi (K,), log tables (K, I, C))."""
        a = np.asarray(values["class_intercept"], dtype=float)
        log_pi = log_softmax(np.append(a, 0.0))
        tables = []
        for kernel, valid in zip(self.kernels, self.valid):
            if type(kernel) is BinaryKernel:
                beta = np.asarray(values["binary_logit"], dtype=float)  # one binary kernel holds every binary item
                if kernel.link == "probit":
                    table = np.stack([norm.logcdf(-beta), norm.logcdf(beta)], axis=-1)
                else:
                    table = np.stack([np.log(expit(-beta)), np.log(expit(beta))], axis=-1)
            else:
                flat = np.asarray(values["nominal_logit"], dtype=float)
                logits = np.where(valid, 0.0, -np.inf) + np.zeros((len(a) + 1, *valid.shape))
                logits[:, kernel.param_item, kernel.param_category] = flat
                table = log_softmax(logits, axis=-1)
            tables.append(np.where(valid, table, 0.0))
        return log_pi, tables

    def to_values(self, log_pi: np.ndarray, tables: list[np.ndarray]) -> dict[str, np.ndarray]:
        """(log pi, log tables) -> natural-scale values of the model's free RVs."""
        out = {"class_intercept": log_pi[:-1] - log_pi[-1]}
        for kernel, table in zip(self.kernels, tables):
            p = np.exp(table)
            if type(kernel) is BinaryKernel:
                p1 = np.clip(p[..., 1], P_MIN, 1.0 - P_MIN)
                out["binary_logit"] = norm.ppf(p1) if kernel.link == "probit" else np.log(p1) - np.log1p(-p1)
            else:
                q = np.clip(p, P_MIN, None)
                out["nominal_logit"] = (np.log(q[:, kernel.param_item, kernel.param_category])
                                        - np.log(q[:, kernel.param_item, 0]))
        return out

    # ------------------------------------------------------------ EM
    def loglik_by_class(self, log_pi, tables) -> np.ndarray:
        """(P, K): log pi_k + log p(y_pattern | k)."""
        ll = np.zeros((len(self.weights), len(log_pi))) + log_pi
        for onehot, table in zip(self.onehots, tables):
            ll += onehot.reshape(len(onehot), -1) @ table.reshape(len(log_pi), -1).T
        return ll

    def loglik(self, log_pi, tables) -> float:
        """The marginal log-likelihood sum_i log sum_k pi_k p(y_i | k) (eq. 4)."""
        return float(self.weights @ logsumexp(self.loglik_by_class(log_pi, tables), axis=1))

    def step(self, log_pi, tables):
        """One EM step; returns the new (log pi, tables) and the log-likelihood at the old ones."""
        joint = self.loglik_by_class(log_pi, tables)
        marginal = logsumexp(joint, axis=1)
        post = np.exp(joint - marginal[:, None]) * self.weights[:, None]  # (P, K) expected counts
        n_k = post.sum(axis=0)
        new_pi = np.log(np.clip(n_k / self.n_units, 1e-300, None))
        new_tables = []
        for onehot, valid in zip(self.onehots, self.valid):
            counts = (post.T @ onehot.reshape(len(onehot), -1)).reshape(-1, *onehot.shape[1:])  # (K, I, C)
            totals = counts.sum(axis=-1, keepdims=True)
            p = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / valid.sum(-1, keepdims=True))
            p = np.where(valid, np.clip(p, P_MIN, None), 0.0)
            p = p / p.sum(axis=-1, keepdims=True)
            new_tables.append(np.where(valid, np.log(np.where(valid, p, 1.0)), 0.0))
        return (new_pi, new_tables), float(self.weights @ marginal)

    def run(self, values: dict, iterations: int, tol: float = 0.0) -> tuple[dict, float]:
        """``iterations`` EM steps from ``values`` (or until the LL gains less than ``tol``); (values, LL)."""
        params = self.from_values(values)
        previous = -np.inf
        for _ in range(iterations):
            new, ll = self.step(*params)
            params = new
            if tol and ll - previous < tol:
                break
            previous = ll
        return self.to_values(*params), self.loglik(*params)
