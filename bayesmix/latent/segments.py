"""Cluster sums and cluster-to-unit gathers without scatter-adds (the sums of eq. 16-17, 24-26; eq. 5's u_j per unit).

Two-level models sum each cluster's unit log-likelihoods (f_j = sum_{i in j}
l_ij, the between marginal of eq. 16-17 and the quadrature objective of
eq. 4-5) and hand each unit its cluster's random effects u_j (eq. 5). Written
as ``zeros[index] += values`` and ``u[..., index, :]``, PyTensor's C backend
runs both the sum and the gather's gradient as ``numpy.add.at``, which took
~40% of a two-level ML fit (Table 3 Model 6; ``benchmarks/results/
addat_*.json``). Here every unit gets a *slot* in a (J, W) grid, W the largest
cluster: slot = cluster x W + the unit's rank in its cluster (data order).

- :func:`segment_sum`: the values are *set* into their (distinct) slots of a
  zero grid and the grid is summed over its W axis: a fancy assignment and a
  reduction forward, a gather backward; units sorted by cluster in clusters
  of equal size need no assignment at all (a reshape). Each cluster is summed
  in the data order of its units, as the scatter-add did, so values are the
  same (the padding adds exact zeros).
- :func:`gather_segments`: u_j per unit; units sorted by cluster in equal
  clusters are a broadcast and a reshape (the gradient a sum over W); other
  layouts keep the gather, with the cluster axis moved first (its gradient's
  scatter-add then adds whole rows). At a quadrature node shared by all
  clusters (ML) :meth:`~bayesmix.latent.LatentEffects.unit_values` needs no
  gather at all (a broadcast).

Measured (CPU, load 16-21, ``benchmarks/results/addat_*.json``): C backend,
(900 nodes x 1,000 units) into 100 clusters, value and gradient: the sum
10.8 -> 2.8 ms (shuffled rows; 1.7 ms sorted), the gather of (900, 100, 2)
38.7 -> 7.1 ms (sorted) / 35.2 -> 24.8 ms (shuffled). numba (nutpie) runs the
scatter-add in a compiled loop: the slots' sum of shuffled rows is ~1.5 ms
slower there (2.9 against 1.4 ms), sorted equal clusters faster (1.0 ms).

Plain PyTensor ops, so every backend (C for ML, numba and JAX for the NUTS
samplers) runs them. A layout whose grid would exceed :data:`PAD_LIMIT` times
the number of units (very unequal clusters) keeps the scatter-add.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt

__all__ = ["PAD_LIMIT", "SegmentLayout", "gather_segments", "segment_layout", "segment_sum",
           "segment_sum_scatter"]

#: largest (clusters x largest cluster) grid, as a multiple of the number of units, summed by slots
PAD_LIMIT = 8


@dataclass(frozen=True)
class SegmentLayout:
    """Slots of N units in a (n_segments, width) grid: segment x width + the unit's rank in its segment."""

    slots: np.ndarray
    n_segments: int
    width: int

    @property
    def n_units(self) -> int:
        return len(self.slots)

    @property
    def identity(self) -> bool:
        """Units sorted by segment in segments of equal size: the grid is the data (a reshape)."""
        return self.n_segments * self.width == self.n_units and bool(
            np.array_equal(self.slots, np.arange(self.n_units)))

    @property
    def compact(self) -> bool:
        """The grid has at most :data:`PAD_LIMIT` cells per unit (and at least one unit)."""
        return 0 < self.n_segments * self.width <= PAD_LIMIT * self.n_units


def segment_layout(index: np.ndarray, n_segments: int) -> SegmentLayout:
    """The :class:`SegmentLayout` of ``index`` (N,), values in ``range(n_segments)``."""
    index = np.asarray(index)
    if index.ndim != 1 or (index.size and (index.min() < 0 or index.max() >= n_segments)):
        raise ValueError(f"index must be a 1-D array of segment numbers in range({n_segments}).")
    index = index.astype(np.int64)
    counts = np.bincount(index, minlength=n_segments)
    width = int(counts.max()) if index.size else 0
    order = np.argsort(index, kind="stable")
    starts = np.cumsum(counts) - counts
    rank = np.empty(index.size, dtype=np.int64)
    rank[order] = np.arange(index.size) - starts[index[order]]
    return SegmentLayout(index * width + rank, int(n_segments), width)


def segment_sum_scatter(values, index: np.ndarray, n_segments: int):
    """The reference path of :func:`segment_sum`: a scatter-add (``numpy.add.at`` in the C backend)."""
    moved = pt.moveaxis(values, -1, 0)
    total = pt.inc_subtensor(pt.zeros((n_segments, *moved.shape[1:]))[index], moved)
    return pt.moveaxis(total, 0, -1)


def segment_sum(values, index: np.ndarray, n_segments: int):
    """Sum the last axis of ``values`` (..., N) into segments (..., n_segments): sum_{i: index_i = j} values_i.

    By slots (module docstring): no scatter-add forward or backward; each
    segment is summed in the data order of its units.
    """
    layout = segment_layout(index, n_segments)
    if not layout.compact:
        return segment_sum_scatter(values, index, n_segments)
    moved = pt.moveaxis(pt.as_tensor_variable(values), -1, 0)  # (N, ...)
    rest = tuple(moved.shape[1:])
    if layout.identity:
        grid = moved
    else:
        grid = pt.set_subtensor(pt.zeros((n_segments * layout.width, *rest))[layout.slots], moved)
    total = grid.reshape((n_segments, layout.width, *rest)).sum(axis=1)
    return pt.moveaxis(total, 0, -1)


def gather_segments(values, index: np.ndarray, n_segments: int):
    """Each unit's row of its segment: (..., n_segments, D) -> (..., N, D), ``values[..., index, :]``.

    Units sorted by segment in segments of equal size: a broadcast and a
    reshape (the gradient sums over each segment's units); other layouts: the
    gather.
    """
    values = pt.as_tensor_variable(values)
    layout = segment_layout(index, n_segments)
    if not layout.identity:  # the segment axis first: the gradient's scatter-add adds whole rows (~30% faster in C)
        return pt.moveaxis(pt.moveaxis(values, -2, 0)[index], 0, -2)
    lead = tuple(values.shape[:-2])
    d = values.shape[-1]
    grid = pt.broadcast_to(pt.expand_dims(values, -2), (*lead, n_segments, layout.width, d))
    return grid.reshape((*lead, layout.n_units, d))
