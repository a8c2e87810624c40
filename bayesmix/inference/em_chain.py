"""Baum-Welch EM for single-level latent transition analyses of categorical items: a warm-up for the ML starts.

The LTA of eq. 6-9 without covariates, random intercepts or constraints has
initial class probabilities pi_k (eq. 8), transition probabilities
A_t[j, k] = P(C_{t+1} = k | C_t = j) (eq. 9; one table for every step when
``stationary_transitions=True``) and item-category probabilities of binary
and nominal items (eq. 6, 11; shared by all times under invariant
measurement, one set per time otherwise). One EM step is the forward-backward
(Baum-Welch) algorithm over the time points (Baum et al. 1970; the EM of
Collins & Lanza's LTA, Mplus, depmixS4):

    E: gamma_it(k) = P(C_t = k | y_i),  xi_it(j, k) = P(C_t = j, C_{t+1} = k | y_i)   (forward-backward)
    M: pi_k = mean_i gamma_i1(k),  A_t[j, k] = sum_i xi_it(j, k) / sum_i gamma_it(j),
       p_jkc = sum_{i, t} gamma_it(k) [y_ijt = c] / sum_{i, t} gamma_it(k) [y_ijt observed]

(sums over t of the time points measuring the item: every time under
invariance; steps pooled for a stationary table), computed once per unique
response pattern over all time points' items, with its frequency, and for all
random starts of a stage at once (as :class:`~.em.CategoricalEM` for the LCA).
The forward recursion is scaled (alpha normalized at each time, the emission
divided by its largest class value), which gives the exact log-likelihood
without logsumexp. EM only chooses where the gradient optimizer of the
model's own (PyTensor) likelihood starts (:func:`~.optimize.multistart`):
every reported number still comes from that likelihood.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .em import item_parameters, iterate, log_softmax
from .objective import LOGIT_BOUND

__all__ = ["ChainEM", "supported"]

#: probabilities are kept inside [P_MIN, 1 - P_MIN], the optimizer's logit bound (as :mod:`.em`)
P_MIN = float(expit(-LOGIT_BOUND))
#: elements of one (starts, times, classes, patterns) array of a batch of EM runs (1 MB)
CHUNK_ELEMENTS = 131_072


def supported(mm) -> bool:
    """Single-level first-order LTA of binary / nominal items without covariates, constraints or ordering."""
    from ..transition import TransitionModel
    structure = mm.structure
    if not structure.closed_form_chain_em:  # a capability of the structure, not its type
        return False
    options = getattr(mm, "options", None) or {}
    if not {"items_by_time", "times", "invariant_measurement"} <= set(options):
        return False
    if mm.latent is not None or getattr(structure, "cluster_index", None) is not None:
        return False
    if mm.ordered is not None or mm.n_classes < 2 or len(mm.components) != 1:
        return False
    transitions = mm.components[0]
    if not isinstance(transitions, TransitionModel) or transitions.covariates is not None or transitions.lags:
        return False
    if getattr(mm.class_model, "covariates", None) is not None:
        return False
    if not mm.kernels or not all(kernel.em_supported for kernel in mm.kernels):
        return False
    names = {rv.name for rv in mm.model.free_RVs}
    if not names <= {"class_intercept", "transition_logit"} | item_parameters(mm) \
            or not {"class_intercept", "transition_logit"} <= names:
        return False
    return not any(mm.parameters.get(name) is not None and mm.parameters[name].constrained for name in names)


def _time_onehots(mm) -> list[list[np.ndarray]]:
    """Per owner kernel, per time point: the (N, I, C) one-hot responses its parameters measure at that time.

    Invariant measurement: the same items' columns at every time (matched by
    position, as the factory binds them); time-specific: the owner's columns
    restricted to the time's items (others blank).
    """
    items_by_time, times = mm.options["items_by_time"], list(mm.options["times"])
    out = []
    if mm.options["invariant_measurement"]:
        first = list(items_by_time[times[0]])
        specs = {it.name: it for it in mm.data.items}
        for kernel in mm.kernels:
            per_time = [kernel.onehot3]
            for t in times[1:]:
                position = {name: items_by_time[t][p] for p, name in enumerate(first)}
                per_time.append(kernel.bind([specs[position[n]] for n in kernel.names], mm.data).onehot3)
            out.append(per_time)
        return out
    for kernel in mm.kernels:
        out.append([kernel.onehot3 * np.isin(kernel.names, list(items_by_time[t])).astype(float)[None, :, None]
                    for t in times])
    return out


class ChainEM:
    """Baum-Welch EM of a binary / nominal LTA by unique response pattern, batched over starts (module docstring).

    Parameters are the tuple (log pi (..., K), log A (..., tables, K, K), log
    item tables [(..., K, I, C)] per owner kernel), with a leading batch axis
    of starts in :meth:`step` and :meth:`run_batch`.
    """

    def __init__(self, mm):
        self.mm = mm
        self.kernels = list(mm.kernels)
        self.valid = [kernel.valid for kernel in self.kernels]
        self.n_times = int(mm.structure.n_times)
        self.n_classes = int(mm.n_classes)
        self.step_index = np.asarray(mm.components[0].step_index, dtype=int)  # transition table of each step
        self.n_tables = int(self.step_index.max()) + 1
        onehots = _time_onehots(mm)  # [kernel][time] (N, I, C)
        key = np.hstack([o.reshape(len(o), -1) for per_time in onehots for o in per_time]) + 0.0
        rows = np.ascontiguousarray(key).view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel()
        _, representative, inverse = np.unique(rows, return_index=True, return_inverse=True)
        self.weights = np.bincount(np.ravel(inverse), minlength=len(representative)).astype(float)
        self.n_patterns = len(representative)
        self.shapes = [kernel.onehot3.shape[1:] for kernel in self.kernels]
        # per kernel: (T * P, I * C), time-major rows: one product gives every time's emission
        self.stacked = [np.concatenate([o[representative].reshape(self.n_patterns, -1) for o in per_time])
                        for per_time in onehots]
        self.n_units = float(self.weights.sum())

    # ------------------------------------------------------------ parameters <-> probabilities
    def from_values(self, values: dict):
        """Natural-scale values (``random_start`` / ``point``) -> (log pi, log A (tables, K, K), log item tables)."""
        a = np.asarray(values["class_intercept"], dtype=float)
        log_pi = log_softmax(np.append(a, 0.0))
        tau = np.asarray(values["transition_logit"], dtype=float).reshape(self.n_tables, self.n_classes, -1)
        log_a = log_softmax(np.concatenate([tau, np.zeros((*tau.shape[:-1], 1))], axis=-1))
        tables = [np.where(valid, kernel.em_log_table(values, self.n_classes), 0.0)  # each kernel's own table
                  for kernel, valid in zip(self.kernels, self.valid)]
        return log_pi, log_a, tables

    def to_values(self, log_pi, log_a, tables) -> dict[str, np.ndarray]:
        """(log pi, log A, log item tables) -> natural-scale values of the model's free RVs (logits within the bound)."""
        out = {"class_intercept": np.clip(log_pi[:-1] - log_pi[-1], -LOGIT_BOUND, LOGIT_BOUND),
               "transition_logit": np.clip(log_a[..., :-1] - log_a[..., -1:], -LOGIT_BOUND, LOGIT_BOUND)}
        for kernel, table in zip(self.kernels, tables):
            out.update(kernel.em_values(np.exp(table), P_MIN))
        return out

    def stack(self, values_list: list[dict]):
        singles = [self.from_values(values) for values in values_list]
        return (np.stack([s[0] for s in singles]), np.stack([s[1] for s in singles]),
                [np.stack([s[2][j] for s in singles]) for j in range(len(self.kernels))])

    # ------------------------------------------------------------ forward-backward (batched over starts)
    # Arrays hold classes before patterns, (S, T, K, P): the sums over the (few) classes run along
    # contiguous pattern vectors, and the K x K products are (S, K, K) @ (S, K, P).
    def emission(self, tables):
        """(S, T, K, P) log p(y_pt | C_t = k) of a batch of S starts."""
        n_starts, n_classes = tables[0].shape[:2]
        out = 0.0
        for stacked, table in zip(self.stacked, tables):
            out = out + table.reshape(n_starts * n_classes, -1) @ stacked.T  # (S K, T P)
        out = out.reshape(n_starts, n_classes, self.n_times, self.n_patterns)
        return np.ascontiguousarray(np.swapaxes(out, 1, 2))

    def _forward_backward(self, log_pi, log_a, tables, backward: bool = True):
        """Scaled forward (and backward) pass: per-pattern LL (S, P) and the pieces of the E step."""
        e = self.emission(tables)  # (S, T, K, P)
        top = e.max(axis=2)  # (S, T, P)
        em = np.exp(e - top[:, :, None, :])  # emission / its largest class value, in (0, 1]
        a = np.exp(log_a)[:, self.step_index]  # (S, T-1, K, K) [s, t, j, k]
        a_next = np.swapaxes(a, -1, -2)  # [s, t, k, j]
        alpha = [np.exp(log_pi)[:, :, None] * em[:, 0]]  # (S, K, P), normalized over K at each time
        scale = [alpha[0].sum(axis=1)]  # (S, P)
        alpha[0] /= scale[0][:, None, :]
        for t in range(1, self.n_times):
            new = (a_next[:, t - 1] @ alpha[-1]) * em[:, t]
            scale.append(new.sum(axis=1))
            new /= scale[-1][:, None, :]
            alpha.append(new)
        unit = np.log(scale[0]) + top[:, 0]  # (S, P) log p(y_p)
        for t in range(1, self.n_times):
            unit += np.log(scale[t]) + top[:, t]
        if not backward:
            return unit, None
        beta = [None] * self.n_times  # beta[T-1] = 1
        ahead = [None] * self.n_times  # em_t * beta_t / scale_t, t >= 1
        for t in range(self.n_times - 1, 0, -1):
            ahead[t] = em[:, t] / scale[t][:, None, :] if beta[t] is None else em[:, t] * beta[t] / scale[t][:, None, :]
            beta[t - 1] = a[:, t - 1] @ ahead[t]
        return unit, (alpha, beta, ahead, a)

    def loglik(self, log_pi, log_a, tables):
        """sum_i log p(y_i) by the forward algorithm; one value per start of a batch (or a float)."""
        single = np.ndim(log_pi) == 1
        if single:
            log_pi, log_a, tables = log_pi[None], log_a[None], [t[None] for t in tables]
        ll = self._forward_backward(log_pi, log_a, tables, backward=False)[0] @ self.weights
        return float(ll[0]) if single else ll

    def step(self, log_pi, log_a, tables):
        """One Baum-Welch step of each start in a batch; the new (log pi, log A, tables) and the LL at the old ones."""
        single = np.ndim(log_pi) == 1
        if single:
            log_pi, log_a, tables = log_pi[None], log_a[None], [t[None] for t in tables]
        unit, (alpha, beta, ahead, a) = self._forward_backward(log_pi, log_a, tables)
        w = self.weights
        n_starts, k = len(log_pi), self.n_classes
        # expected counts: gamma_t = alpha_t beta_t (times the pattern frequency), (S, K, P) per time
        gamma = [alpha[t] * w if beta[t] is None else alpha[t] * beta[t] * w for t in range(self.n_times)]
        pi = np.clip(gamma[0].sum(axis=-1) / self.n_units, P_MIN, None)
        pi = pi / pi.sum(axis=-1, keepdims=True)
        pairs = np.zeros((n_starts, self.n_tables, k, k))
        for t in range(self.n_times - 1):  # xi_t[j, k] = A_t[j, k] sum_p w_p alpha_t[j, p] ahead_{t+1}[k, p]
            pairs[:, self.step_index[t]] += a[:, t] * ((alpha[t] * w) @ np.swapaxes(ahead[t + 1], -1, -2))
        totals = pairs.sum(axis=-1, keepdims=True)
        new_a = np.where(totals > 0, pairs / np.where(totals > 0, totals, 1.0), 1.0 / k)
        new_a = np.clip(new_a, P_MIN, None)
        new_a = new_a / new_a.sum(axis=-1, keepdims=True)
        by_class = np.concatenate(gamma, axis=-1).reshape(n_starts * k, -1)  # (S K, T P), time-major like stacked
        new_tables = []
        for stacked, shape, valid in zip(self.stacked, self.shapes, self.valid):
            counts = (by_class @ stacked).reshape(n_starts, k, *shape)  # (S, K, I, C)
            totals = counts.sum(axis=-1, keepdims=True)
            p = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / valid.sum(-1, keepdims=True))
            p = np.where(valid, np.clip(p, P_MIN, None), 0.0)
            p = p / p.sum(axis=-1, keepdims=True)
            new_tables.append(np.where(valid, np.log(np.where(valid, p, 1.0)), 0.0))
        ll = unit @ w
        new = (np.log(pi), np.log(new_a), new_tables)
        if single:
            return (new[0][0], new[1][0], [t[0] for t in new[2]]), float(ll[0])
        return new, ll

    def run(self, values: dict, iterations: int, tol: float = 0.0, accelerate: bool = False) -> tuple[dict, float]:
        """``iterations`` EM steps from ``values`` (or until the LL gains less than ``tol``); (values, LL)."""
        (out,), lls, _ = self.run_batch([values], iterations, tol, accelerate)
        return out, float(lls[0])

    def run_batch(self, values_list: list[dict], iterations: int, tol: float = 0.0,
                  accelerate: bool = False) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """As :meth:`.em.CategoricalEM.run_batch`: each start stops on its own; (values, LL, stopped by ``tol``).

        ``accelerate``: SQUAREM cycles (:func:`.em.iterate`) on the log probabilities pi, A and the item tables.

        Starts run in chunks whose (S, T, K, P) arrays stay near :data:`CHUNK_ELEMENTS` (cache sized:
        100 starts of a 4-class, 2 x 5-item LTA ran 2x slower in one batch than in chunks of 20).
        """
        chunk = max(1, CHUNK_ELEMENTS // (self.n_times * self.n_classes * self.n_patterns))
        values, lls, converged = [], [], []
        for first in range(0, len(values_list), chunk):
            out = self._run_chunk(values_list[first:first + chunk], iterations, tol, accelerate)
            values.extend(out[0])
            lls.append(out[1])
            converged.append(out[2])
        return values, np.concatenate(lls), np.concatenate(converged)

    def _run_chunk(self, values_list, iterations, tol, accelerate=False):
        log_pi, log_a, tables = self.stack(values_list)

        def em_map(parts):
            (new_pi, new_a, new_tables), ll = self.step(parts[0], parts[1], parts[2:])
            return [new_pi, new_a, *new_tables], ll

        (log_pi, log_a, *tables), converged = iterate(em_map, [log_pi, log_a, *tables], [None, None, *self.valid],
                                                      iterations, tol, accelerate)
        lls = np.atleast_1d(self.loglik(log_pi, log_a, tables))
        return ([self.to_values(log_pi[s], log_a[s], [table[s] for table in tables])
                 for s in range(len(values_list))], lls, converged)
