"""Unique response patterns: compute a class-conditional quantity once per pattern.

Units with the same responses (the same codes, the same continuous values,
the same missing cells) have the same class-conditional log-likelihood
log p(y_i | C_i = c). Where their class probabilities are also the same --
no unit-level covariates, and, with cluster random effects, at a quadrature
node z_q shared by all clusters -- their marginal log-likelihood

    log sum_c P(C = c | z_q) p(y_i | C = c)            (eq. 4 with the random intercepts of eq. 5)

is the same too, so it is computed once per pattern and gathered (the
standard frequency-weight lever of LCA software; the result is exact, not an
approximation). With P patterns and J clusters the cluster sums are one
(..., P) x (P, J) product of counts when that matrix is small, otherwise a
gather and a segment sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytensor.tensor as pt

from .latent import segment_sum

__all__ = ["Patterns", "categorical_density", "integrate_by_pattern", "response_patterns", "table_patterns",
           "unique_rows"]

#: largest dense (patterns x clusters) count matrix (elements)
_DENSE_LIMIT = 4_000_000


@dataclass(frozen=True)
class Patterns:
    """Unique rows of the data a model's kernels read.

    ``representative``: (P,) a unit showing each pattern; ``inverse``: (N,)
    the pattern of each unit.
    """

    representative: np.ndarray
    inverse: np.ndarray
    _counts: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_patterns(self) -> int:
        return len(self.representative)

    @property
    def n_units(self) -> int:
        return len(self.inverse)

    @property
    def worthwhile(self) -> bool:
        """At most half as many patterns as units (else the gather costs more than it saves)."""
        return self.n_patterns <= 0.5 * self.n_units

    def rows(self, values):
        """(N, ...) -> (P, ...): the representative unit's row of each pattern."""
        return values[self.representative]

    def expand(self, values, axis: int = -1):
        """(..., P) -> (..., N) along ``axis`` (default the last): each unit gets its pattern's value."""
        index = [slice(None)] * values.ndim
        index[axis] = self.inverse
        return values[tuple(index)]

    def cluster_sum(self, values, cluster_index: np.ndarray, n_clusters: int):
        """(..., P) per-pattern values -> (..., J) sums over each cluster's units."""
        if self.n_patterns * n_clusters <= _DENSE_LIMIT:
            key = (id(cluster_index), n_clusters)
            if key not in self._counts:
                counts = np.zeros((self.n_patterns, n_clusters))
                np.add.at(counts, (self.inverse, cluster_index), 1.0)
                self._counts[key] = counts
            return pt.matmul(values, pt.as_tensor(self._counts[key]))
        return segment_sum(self.expand(values), cluster_index, n_clusters)


def unique_rows(key: np.ndarray) -> Patterns:
    """The unique rows of a float matrix (N, m) as :class:`Patterns` (first unit of each, each unit's pattern)."""
    key = np.ascontiguousarray(np.asarray(key, dtype=float) + 0.0)  # no -0.0
    rows = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel()
    # one byte string per row: 3x faster than np.unique(axis=0), the same groups
    _, representative, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return Patterns(np.asarray(representative), np.asarray(inverse).reshape(-1))


def table_patterns(tables_at) -> Patterns:
    """The unique rows of the one-hot responses of a table path, ``tables_at(None)`` -> [(table, one-hot (N, I, C))]."""
    return unique_rows(np.hstack([np.asarray(onehot, dtype=float).reshape(len(onehot), -1)
                                  for _, onehot in tables_at(None)]))


def integrate_by_pattern(latent, settings: dict, patterns: Patterns, pattern_loglik_at):
    """log sum_q w_q exp f_p(z_q) once per unique response pattern p, expanded to the units, (N,).

    The fixed quadrature rule of ``latent`` (``settings``: method, points, seed) at
    nodes z_q shared by all units (eq. 36-37 for a person factor, eq. 28-30 for a GoM
    membership); ``pattern_loglik_at(z)`` gives f_p(z_q) of the P representatives,
    (Q, P). Exact: the same rule and the same conditional likelihood as the per-unit
    path, evaluated Q x P instead of Q x N times.
    """
    nodes, logw = latent.rule(settings["method"], settings["points"], settings.get("seed", 0))
    by_pattern = pattern_loglik_at(pt.as_tensor(nodes[:, None, :]))
    return patterns.expand(pt.logsumexp(by_pattern + pt.as_tensor(logw)[:, None], axis=0))


def response_patterns(kernels, extra=None) -> Patterns:
    """The unique response patterns over all items of ``kernels`` (missing cells included in the key).

    ``extra``: (N, m) further unit-level inputs that must agree too (e.g. covariates).
    """
    columns = [np.asarray(kernel.pattern_key(), dtype=float) for kernel in kernels]
    if extra is not None and np.size(extra):
        columns.append(np.asarray(extra, dtype=float).reshape(len(columns[0]), -1))
    return unique_rows(np.hstack(columns))


def categorical_density(kernels) -> tuple[np.ndarray, object] | None:
    """(pattern counts (P,), log p(y_p | C = k) (P, K)) of categorical items, or None where it does not pay.

    Without covariates and latent effects, sum_i log sum_k pi_k p(y_i | k)
    (eq. 4) equals sum_p n_p log sum_k pi_k p(y_p | k) over the unique
    patterns p with counts n_p: the density NUTS differentiates then costs
    P x K instead of N x I x K (with 10 binary items at most 1,024 patterns
    whatever N). Only for categorical kernels (one-hot rows times the
    kernel's log-probability table) and when patterns repeat (``worthwhile``).
    """
    if not kernels or not all(kernel.discrete for kernel in kernels):
        return None
    patterns = response_patterns(kernels)
    if not patterns.worthwhile:
        return None
    rows = patterns.representative
    by_class = 0
    for kernel in kernels:
        table, onehot = kernel.tables()  # (K, I, C), (N, I, C)
        flat = table.reshape((*table.shape[:-2], -1))
        onehot = np.asarray(onehot, dtype=float).reshape(len(onehot), -1)  # (N, I*C)
        by_class = by_class + pt.matmul(pt.as_tensor(onehot[rows]),
                                        pt.swapaxes(flat, -1, -2))
    counts = np.bincount(patterns.inverse, minlength=patterns.n_patterns).astype(float)
    return counts, by_class
