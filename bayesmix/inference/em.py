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

__all__ = ["CategoricalEM", "supported", "log_softmax", "iterate", "log_table_from_counts", "form_and_rule"]


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax in NumPy (scipy.special.log_softmax imports JAX when it is installed: +100 MB, ~1 s)."""
    top = np.max(x, axis=axis, keepdims=True)
    shifted = x - np.where(np.isfinite(top), top, 0.0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

#: probabilities are kept inside [P_MIN, 1 - P_MIN]: the logit bound of the optimizer, so that the
#: gradient optimizer finishing an EM optimum does not go on to move boundary logits
P_MIN = float(expit(-LOGIT_BOUND))
LOG_P_MIN = float(np.log(P_MIN))


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
            new_tables.append(log_table_from_counts((by_class @ onehot).reshape(*batch, n_classes, *shape), valid))
        return new_tables

    def run(self, values: dict, iterations: int, tol: float = 0.0, accelerate: bool = False) -> tuple[dict, float]:
        """``iterations`` EM steps from ``values`` (or until the LL gains less than ``tol``); (values, LL)."""
        (out,), lls, _ = self.run_batch([values], iterations, tol, accelerate)
        return out, float(lls[0])

    def run_batch(self, values_list: list[dict], iterations: int, tol: float = 0.0,
                  accelerate: bool = False) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """:meth:`run` for several starts at once, one array product per step for all of them.

        Each start stops on its own (LL gain below ``tol``), so its result does not
        depend on the other starts in the batch. Returns the values per start, the
        LL per start and whether each stopped by ``tol`` (False: ran out of iterations).
        ``accelerate``: SQUAREM cycles of EM steps (:func:`iterate`), the same stopping rule.
        """
        log_pi, tables = self.stack(values_list)

        def em_map(parts):
            (new_pi, new_tables), ll = self.step(parts[0], parts[1:])
            return [new_pi, *new_tables], ll

        (log_pi, *tables), converged = iterate(em_map, [log_pi, *tables], [None, *self.valid], iterations, tol,
                                               accelerate)
        lls = np.atleast_1d(self.loglik(log_pi, tables))
        return ([self.to_values(log_pi[s], [table[s] for table in tables]) for s in range(len(values_list))],
                lls, converged)


def log_table_from_counts(counts: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Closed-form M step of categorical items: expected counts (..., K, I, C) -> log P(y_i = c | k).

    Relative frequencies over each item's valid categories (uniform where a class has no expected
    response), floored at :data:`P_MIN` and renormalized; invalid categories hold 0 (as the EM tables).
    """
    totals = counts.sum(axis=-1, keepdims=True)
    p = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / valid.sum(-1, keepdims=True))
    p = np.where(valid, np.clip(p, P_MIN, None), 0.0)
    p = p / p.sum(axis=-1, keepdims=True)
    return np.where(valid, np.log(np.where(valid, p, 1.0)), 0.0)


def form_and_rule(mm, hook: str, integration: dict | None = None):
    """(form, nodes (Q, D), log-weights (Q,)) for an EM on the model's own fixed quadrature rule, or None.

    ``form`` is what the model's hook method ``hook`` (e.g. ``item_factor_form``, ``membership_form``)
    returns; None when it returns None, without a latent block, under adaptive quadrature and for
    rules whose weights are graphs of parameters (importance sampling).
    """
    method = getattr(mm, hook, None)
    form = method() if method is not None else None
    if form is None or mm.latent is None:
        return None
    settings = mm.settings(integration)
    if settings.get("adaptive"):
        return None
    nodes, logw = mm.rule(settings)
    if not isinstance(logw, np.ndarray) or np.ndim(nodes) != 2:
        return None
    return form, np.asarray(nodes, float), np.asarray(logw, float)


#: SQUAREM's step-length cap starts at 1 and is multiplied (divided) by this factor after a step that
#: reached (failed at) it (the SQUAREM R package's ``mstep``, Varadhan & Roland 2008)
SQUAREM_STEP_FACTOR = 4.0


def normalize_logs(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Log probabilities renormalized over the last axis where ``mask`` holds (0 elsewhere, as the EM tables)."""
    if mask is None:
        return log_softmax(x)
    shifted = np.where(mask, x, -np.inf)
    return np.where(mask, log_softmax(shifted), 0.0)


def iterate(step, parts: list[np.ndarray], masks: list, iterations: int, tol: float = 0.0,
            accelerate: bool = False) -> tuple[list[np.ndarray], np.ndarray]:
    """EM of a batch of starts, each stopping on its own: plain steps or SQUAREM; (parts, converged).

    ``parts`` are log probabilities with the starts on the leading axis, each normalized over its last
    axis where its entry of ``masks`` holds (None: everywhere), or parameters of any scale whose entry
    of ``masks`` is a callable projecting an extrapolated batch back into the parameter space (the IRT
    EM of :mod:`.em_irt`: positive loadings, bounded logits); ``step(parts) -> (new parts, LL at the
    given parts)`` is one EM map M(theta) of every start given. A start stops, converged, once one EM
    step gains less than ``tol`` (``tol=0``: never), or unconverged after ``iterations`` EM steps; it
    then holds the parameters one EM step past the last LL compared (as plain EM always did).

    ``accelerate``: SQUAREM, the S3 scheme of Varadhan & Roland (2008, Scand. J. Statist. 35, 335-353)
    on the log probabilities: from theta_0, theta_1 = M(theta_0), theta_2 = M(theta_1), r = theta_1 -
    theta_0, v = theta_2 - 2 theta_1 + theta_0 and the step length alpha = ||r|| / ||v|| (their
    S3 steplength -||r|| / ||v||, sign flipped) held in [1, alpha_max], the extrapolation
    theta' = theta_0 + 2 alpha r + alpha^2 v (alpha = 1 gives theta_2), floored at log P_MIN, is renormalized and
    stabilized by one more EM step, theta_new = M(theta'). Monotonicity fallback: when LL(theta') is
    below LL(theta_1) (or not finite) the cycle keeps theta_2 instead, so the LL never decreases
    (LL(theta_new) >= LL(theta') by EM's own ascent). alpha_max starts at 1 and grows by
    :data:`SQUAREM_STEP_FACTOR` after a step that used it, and shrinks by it after a step at it that
    failed. Every M counts as one of ``iterations``, and the convergence rule is plain EM's: the
    gain of one EM step (theta_0 -> theta_1, or theta' -> theta_new checked in the next cycle).
    """
    parts = [np.array(part, dtype=float) for part in parts]
    n = len(parts[0])
    converged = np.zeros(n, bool)
    active = np.arange(n)
    previous = np.full(n, -np.inf)  # LL of the point whose EM image each start now holds
    used = np.zeros(n, int)
    step_max = np.ones(n)

    def gained(ll, before):
        return (ll - before < tol) if tol else np.zeros(len(ll), bool)

    def settle(idx, new, ll, before):
        """Store ``new`` for starts ``idx``; return those that go on (not converged, steps left)."""
        for part, value in zip(parts, new):
            part[idx] = value
        done = gained(ll, before)
        converged[idx[done]] = True
        return ~done & (used[idx] < iterations)

    while len(active):
        start = [part[active] for part in parts]
        one, ll0 = step(start)
        used[active] += 1
        keep = settle(active, one, ll0, previous[active])
        previous[active] = ll0
        if not accelerate:
            active = active[keep]
            continue
        # SQUAREM cycle (only starts that go on): theta_2, then the extrapolation
        idx, start, one, ll0 = active[keep], [p[keep] for p in start], [p[keep] for p in one], ll0[keep]
        if not len(idx):
            break
        two, ll1 = step(one)
        used[idx] += 1
        keep = settle(idx, two, ll1, ll0)
        previous[idx] = ll1
        idx, ll1 = idx[keep], ll1[keep]
        start, one, two = ([p[keep] for p in part] for part in (start, one, two))
        if not len(idx):
            break
        r = [b - a for a, b in zip(start, one)]
        v = [c - 2.0 * b + a for a, b, c in zip(start, one, two)]
        r_norm = np.sqrt(sum(np.sum(x.reshape(len(idx), -1) ** 2, axis=1) for x in r))
        v_norm = np.sqrt(sum(np.sum(x.reshape(len(idx), -1) ** 2, axis=1) for x in v))
        alpha = np.clip(r_norm / np.where(v_norm > 0, v_norm, np.inf), 1.0, step_max[idx])
        jump = []
        for x0, rr, vv, mask in zip(start, r, v, masks):
            shape = (-1,) + (1,) * (x0.ndim - 1)
            a = alpha.reshape(shape)
            extrapolated = x0 + 2.0 * a * rr + a ** 2 * vv
            jump.append(mask(extrapolated) if callable(mask)
                        else normalize_logs(np.maximum(extrapolated, LOG_P_MIN), mask))
        new, ll_jump = step(jump)
        used[idx] += 1
        ok = np.isfinite(ll_jump) & (ll_jump >= ll1)
        at_max = alpha >= step_max[idx]
        step_max[idx] = np.where(at_max & ok, step_max[idx] * SQUAREM_STEP_FACTOR,
                                 np.where(at_max & ~ok, np.maximum(1.0, step_max[idx] / SQUAREM_STEP_FACTOR),
                                          step_max[idx]))
        for part, value, fallback in zip(parts, new, two):
            shape = (-1,) + (1,) * (value.ndim - 1)
            part[idx] = np.where(ok.reshape(shape), value, fallback)
        previous[idx] = np.where(ok, ll_jump, ll1)
        active = idx[used[idx] < iterations]
    return parts, converged


def _logsumexp_classes(x: np.ndarray) -> np.ndarray:
    """log sum exp over the class axis (-2) of (..., K, P): a running max and sum over K pattern vectors
    (scipy's logsumexp over a short last axis cost most of an EM step)."""
    top = x.max(axis=-2)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.zeros_like(top)
    for k in range(x.shape[-2]):
        total += np.exp(x[..., k, :] - top)
    return np.log(total) + top
