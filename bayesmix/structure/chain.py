"""A chain of class variables C_1 -> ... -> C_T: latent transition analysis (paper sections 3-4, eq. 6-15).

Each unit (person) has one class per time point. Given z (standardized
latent effects, e.g. the classroom random intercepts alpha_tj of eq. 15,
with any leading axes), the factory gives three graphs:

- ``log_initial_at(z)``: log P(C_1 = k | x, alpha_1j) (..., N or 1, K) -- eq. 8;
- ``log_transition_at(z)``: log P(C_{t+1} = k | C_t = j, x, alpha_{t+1,j}),
  (..., N or 1, T-1, K, K) ``[t, j, k]`` -- eq. 9 (first-order Markov);
- ``emission_at(z)``: log p(y_it | C_t = k) (..., N, T, K) -- eq. 6-7, 11;
  a missing occasion is 0 for every k.

A non-Markov chain (C_t depends on all earlier classes, the general LTA of
section 3) gives instead ``log_path_prior_at(z)``: log P(C_1..C_T = path | x)
(..., N or 1, P) over the P = K^T paths of :func:`paths` (in that order).

Everything a result needs comes from :mod:`bayesmix.marginal.chain` (the
forward-backward algorithm, cost linear in T) for Markov chains, or from the
sum over the K^T paths for non-Markov ones:

- :meth:`ChainClasses.conditional_loglik` -- per unit, or per cluster (summed);
- :meth:`ChainClasses.time_posterior` -- smoothed P(C_t = k | y_i), (..., N, T, K);
  :meth:`class_posterior` is its time-1 slice (what ``MixtureModel`` reports as
  class membership) and :meth:`extra_posteriors` holds the later times;
- :meth:`ChainClasses.pairwise_posterior` -- P(C_t = j, C_{t+1} = k | y_i);
- :meth:`ChainClasses.path_posterior` -- P(C_1..C_T = path | y_i) over all K^T paths;
- :meth:`ChainClasses.prior_marginals`, :meth:`prior_pairs` -- the model's
  P(C_t = k | x, z) and P(C_t = j, C_{t+1} = k | x, z) of each unit, whose
  unit means are the population class proportions per time and (as a ratio)
  the population transition probabilities.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import pytensor.tensor as pt

from .._random import categorical
from ..latent import LatentEffects, segment_sum
from ..marginal import chain
from .base import Structure, cluster_mean

GraphAt = Callable[[object], object]

#: the largest number of class paths K^T that path posteriors (and non-Markov chains) enumerate
MAX_PATHS = 4096


def paths(n_classes: int, n_times: int) -> np.ndarray:
    """(K^T, T) int array of every class path, in ``itertools.product`` order (time 1 slowest)."""
    return np.array(list(itertools.product(range(n_classes), repeat=n_times)), dtype=int).reshape(-1, n_times)


def path_indicators(n_classes: int, n_times: int) -> np.ndarray:
    """(T * K, P) 0/1 matrix: row t*K + k, column p is 1 when path p has class k at time t."""
    all_paths = paths(n_classes, n_times)
    out = np.zeros((n_times * n_classes, len(all_paths)))
    for t in range(n_times):
        out[t * n_classes + all_paths[:, t], np.arange(len(all_paths))] = 1.0
    return out


def check_paths(n_classes: int, n_times: int, what: str) -> None:
    if n_classes ** n_times > MAX_PATHS:
        raise ValueError(f"{what} enumerates the K^T = {n_classes}^{n_times} = {n_classes ** n_times} class paths, "
                         f"more than {MAX_PATHS}; use fewer classes or time points (a Markov chain's likelihood, "
                         "time marginals and most likely paths do not need the enumeration).")


def _units(values, n_units: int, trailing: int):
    """Broadcast the unit axis of (..., N or 1, <trailing axes>) to N."""
    return values + pt.zeros((n_units,) + (1,) * trailing)


class ChainClasses(Structure):
    """T class variables per unit linked by a Markov chain (or any path prior); see the module docstring."""

    def __init__(self, log_initial_at: GraphAt | None, log_transition_at: GraphAt | None, emission_at: GraphAt,
                 n_units: int, n_times: int, n_classes: int, *, log_path_prior_at: GraphAt | None = None,
                 time_labels: Sequence[str] | None = None, cluster_index: np.ndarray | None = None,
                 n_clusters: int | None = None, latent: LatentEffects | None = None,
                 population_rows: tuple[np.ndarray, np.ndarray] | None = None,
                 item_maps: Sequence[dict[str, str]] | None = None):
        super().__init__(n_units, cluster_index, n_clusters, latent)
        if log_path_prior_at is None and (log_initial_at is None or log_transition_at is None):
            raise ValueError("a chain needs log_initial_at and log_transition_at (Markov) or log_path_prior_at.")
        self.log_initial_at = log_initial_at
        self.log_transition_at = log_transition_at
        self.emission_at = emission_at
        self.log_path_prior_at = log_path_prior_at
        self.n_times = int(n_times)
        self.n_classes = int(n_classes)
        self.time_labels = list(time_labels) if time_labels is not None else [f"t{t + 1}" for t in range(n_times)]
        if not self.markov:
            check_paths(self.n_classes, self.n_times, "a non-Markov chain (markov=False)")
        #: (rows, weights): units whose class model stands for all (e.g. one per cluster without covariates),
        #: so population quantities need not run over every unit; the prior graphs then take ``rows``
        self.population_rows = population_rows
        #: per time point, the model's kernel items -> the time's item columns (simulation blocks): the
        #: same columns at every time (time-specific measurement) or time 1's items mapped by position
        #: (invariant measurement); None: one block per kernel, at time 1
        self.item_maps = None if item_maps is None else [dict(m) for m in item_maps]

    @property
    def closed_form_chain_em(self) -> bool:
        """A first-order chain: Baum-Welch EM (:mod:`bayesmix.inference.em_chain`) applies."""
        return self.markov

    @property
    def markov(self) -> bool:
        return self.log_path_prior_at is None

    # ------------------------------------------------------------- pieces
    def _chain_args(self, z):
        return self.log_initial_at(z), self.log_transition_at(z), self.emission_at(z)

    def path_log_prior(self, z=None):
        """log P(C = path | x, z), (..., N or 1, P) over :func:`paths` (K^T of them)."""
        if not self.markov:
            return self.log_path_prior_at(z)
        check_paths(self.n_classes, self.n_times, "path probabilities")
        all_paths = paths(self.n_classes, self.n_times)
        log_initial, log_transition = self.log_initial_at(z), self.log_transition_at(z)
        out = log_initial[..., all_paths[:, 0]]
        for t in range(self.n_times - 1):
            out = out + log_transition[..., t, :, :][..., all_paths[:, t], all_paths[:, t + 1]]
        return out

    def path_emission(self, z=None):
        """sum_t log p(y_it | C_t = path_t), (..., N, P)."""
        emission = self.emission_at(z)
        flat = emission.reshape((*emission.shape[:-2], self.n_times * self.n_classes))
        return pt.matmul(flat, pt.as_tensor(path_indicators(self.n_classes, self.n_times)))

    def _log_joint_paths(self, z):
        return self.path_log_prior(z) + self.path_emission(z)

    # ------------------------------------------------------ log-likelihood
    def unit_loglik(self, z=None):
        """log p(y_i | z), (..., N): forward algorithm (Markov) or the sum over paths."""
        if self.markov:
            return chain.loglik(*self._chain_args(z), n_times=self.n_times)
        return pt.logsumexp(self._log_joint_paths(z), axis=-1)

    def conditional_loglik(self, z=None):
        ll = self.unit_loglik(z)
        if self.cluster_index is None:
            return ll
        return segment_sum(ll, self.cluster_index, self.n_clusters)

    # ---------------------------------------------------------- posteriors
    def path_posterior(self, z=None):
        """P(C_1..C_T = path | y_i, z), (..., N, P) over :func:`paths`."""
        return pt.special.softmax(self._log_joint_paths(z), axis=-1)

    def time_posterior(self, z=None):
        """Smoothed P(C_t = k | y_i, z), (..., N, T, K) (forward-backward)."""
        if self.markov:
            return chain.posterior(*self._chain_args(z), n_times=self.n_times)
        post = self.path_posterior(z)
        marg = pt.matmul(post, pt.as_tensor(path_indicators(self.n_classes, self.n_times).T))
        return marg.reshape((*marg.shape[:-1], self.n_times, self.n_classes))

    def pairwise_posterior(self, z=None):
        """P(C_t = j, C_{t+1} = k | y_i, z), (..., N, T-1, K, K)."""
        if self.markov:
            return chain.pairwise_posterior(*self._chain_args(z), n_times=self.n_times)
        return self._pairs_from_paths(self.path_posterior(z))

    def _pairs_from_paths(self, weights):
        """(..., R, P) path probabilities -> (..., R, T-1, K, K) consecutive pair probabilities."""
        k, all_paths = self.n_classes, paths(self.n_classes, self.n_times)
        pieces = []
        for t in range(self.n_times - 1):
            ind = np.zeros((len(all_paths), k * k))
            ind[np.arange(len(all_paths)), all_paths[:, t] * k + all_paths[:, t + 1]] = 1.0
            pair = pt.matmul(weights, pt.as_tensor(ind))
            pieces.append(pair.reshape((*pair.shape[:-1], k, k)))
        return pt.stack(pieces, axis=-3)

    def class_posterior(self, z=None):
        """P(C_1 = k | y_i, z), (..., N, K): the time-1 class (later times: :meth:`extra_posteriors`)."""
        return self.time_posterior(z)[..., 0, :]

    def extra_posteriors(self, z=None) -> dict:
        """``class_<time>`` -> (P(C_t = k | y_i, z), "unit", "class") for the time points after the first."""
        post = self.time_posterior(z)
        return {f"class_{label}": (post[..., t, :], "unit", "class")
                for t, label in enumerate(self.time_labels) if t > 0}

    # ------------------------------------------------------ model-implied
    def _prior_graph(self, graph_at, z, rows):
        return graph_at(z) if rows is None else graph_at(z, rows)

    def prior_marginals(self, z=None, rows=None):
        """P(C_t = k | x_i, z), (..., N or 1, T, K): the chain propagated from eq. 8 through eq. 9.

        ``rows``: only these units (the factory's graphs take a ``rows`` argument then), (..., R, T, K).
        """
        if not self.markov:
            probs = pt.exp(self._prior_graph(self.log_path_prior_at, z, rows))
            marg = pt.matmul(probs, pt.as_tensor(path_indicators(self.n_classes, self.n_times).T))
            return marg.reshape((*marg.shape[:-1], self.n_times, self.n_classes))
        current = pt.exp(self._prior_graph(self.log_initial_at, z, rows))
        transition = pt.exp(self._prior_graph(self.log_transition_at, z, rows))
        out = [current]
        for t in range(self.n_times - 1):
            current = (current[..., :, None] * transition[..., t, :, :]).sum(axis=-2)
            out.append(current)
        return pt.stack(out, axis=-2)

    def prior_pairs(self, z=None, rows=None):
        """P(C_t = j, C_{t+1} = k | x_i, z), (..., N or 1, T-1, K, K) (``rows``: as :meth:`prior_marginals`)."""
        if not self.markov:
            return self._pairs_from_paths(pt.exp(self._prior_graph(self.log_path_prior_at, z, rows)))
        marg = self.prior_marginals(z, rows)
        transition = pt.exp(self._prior_graph(self.log_transition_at, z, rows))
        return marg[..., :-1, :, None] * transition

    def _population_mean(self, per_unit_at, z, trailing: int):
        """Mean over units of a per-unit graph (..., N or 1, <trailing>), via the representative rows if set."""
        if self.population_rows is None:
            return _units(per_unit_at(z, None), self.n_units, trailing).mean(axis=-trailing - 1)
        rows, weights = self.population_rows
        values = per_unit_at(z, rows) + pt.zeros((len(rows),) + (1,) * trailing)
        return (values * np.reshape(weights, (-1,) + (1,) * trailing)).sum(axis=-trailing - 1)

    def time_proportions(self, z=None):
        """Population P(C_t = k | z): unit mean of :meth:`prior_marginals`, (..., T, K)."""
        return self._population_mean(self.prior_marginals, z, 2)

    def transition_joint(self, z=None):
        """Population P(C_t = j, C_{t+1} = k | z): unit mean of :meth:`prior_pairs`, (..., T-1, K, K).

        Divided by its sum over k it gives the population transition
        probabilities P(C_{t+1} = k | C_t = j) (with covariates or random
        intercepts, the average over units weighted by P(C_t = j | x_i, z)).
        """
        return self._population_mean(self.prior_pairs, z, 3)

    def proportions(self, z=None):
        """Population P(C_1 = k | z), (..., K)."""
        return self.time_proportions(z)[..., 0, :]

    def cluster_proportions(self, z=None):
        """Mean over cluster j's units of P(C_1 = c | x_ij, alpha_j(z)), (..., J, K)."""
        marg = _units(self.prior_marginals(z), self.n_units, 2)[..., 0, :]
        return cluster_mean(marg, self.cluster_index, self.n_clusters)

    # ------------------------------------------------------ simulation
    def simulation_graphs(self, z) -> dict:
        n = self.n_units
        if self.markov:  # eq. 8-9: C_1, then C_t+1 | C_t
            return {"initial": pt.exp(self.log_initial_at(z)) + pt.zeros((n, 1)),
                    "transition": pt.exp(self.log_transition_at(z)) + pt.zeros((n, 1, 1, 1))}
        return {"path_prior": pt.exp(self.log_path_prior_at(z)) + pt.zeros((n, 1))}  # the K^T paths

    def simulate_classes(self, rng, graphs, n_items):
        """(N, T) classes: C_1 then C_t+1 | C_t (Markov), or a path drawn from the K^T paths."""
        if not self.markov:
            return paths(self.n_classes, self.n_times)[categorical(rng, graphs["path_prior"])]
        units = np.arange(self.n_units)
        path = [categorical(rng, graphs["initial"])]
        for t in range(graphs["transition"].shape[1]):
            path.append(categorical(rng, graphs["transition"][units, t, path[-1]]))
        return np.stack(path, axis=1)

    def item_blocks(self, kernels):
        """Per time point (:attr:`item_maps`), each kernel's items measured then."""
        if self.item_maps is None:
            return super().item_blocks(kernels)
        blocks = []
        for t, names_at in enumerate(self.item_maps):
            for j, kernel in enumerate(kernels):
                columns = [i for i, name in enumerate(kernel.names) if name in names_at]
                if columns:
                    blocks.append((j, [names_at[kernel.names[i]] for i in columns], t, columns))
        return blocks

    def cluster_time_proportions(self, z=None):
        """Mean over cluster j's units of P(C_t = c | x_ij, alpha_j(z)), (..., J, T, K)."""
        marg = _units(self.prior_marginals(z), self.n_units, 2)
        flat = marg.reshape((*marg.shape[:-2], self.n_times * self.n_classes))
        out = cluster_mean(flat, self.cluster_index, self.n_clusters)
        return out.reshape((*out.shape[:-1], self.n_times, self.n_classes))
