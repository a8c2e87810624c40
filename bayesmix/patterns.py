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

__all__ = ["Patterns", "response_patterns"]

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


def response_patterns(kernels) -> Patterns:
    """The unique response patterns over all items of ``kernels`` (missing cells included in the key)."""
    key = np.hstack([np.asarray(kernel.pattern_key(), dtype=float) for kernel in kernels]) + 0.0  # no -0.0
    rows = np.ascontiguousarray(key).view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel()
    # one byte string per row: 3x faster than np.unique(axis=0), the same groups
    _, representative, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return Patterns(np.asarray(representative), np.asarray(inverse).reshape(-1))
