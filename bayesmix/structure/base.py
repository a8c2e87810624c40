"""Model structures: how class variables, the measurement layer and latent effects combine.

A structure is the third layer of the design (ARCHITECTURE.md) made into one object. Given
standardized latent effects z (any leading axes: quadrature nodes, draws; or
``None`` when the model has none) it exposes, each as a PyTensor graph:

- :meth:`conditional_loglik`: log p(y | z) of each independent unit
  (a unit, or a cluster in two-level models) -- what NUTS samples with z
  drawn and what quadrature integrates (ML, per-cluster ``log_likelihood``);
- :meth:`class_posterior`: P(C = c | y, z) at the class variable's level
  (units, or clusters for between-level classes);
- :meth:`cluster_proportions`: E[pi_jc | y_j, z], the class distribution of
  cluster j's units under the model, with the cluster's discrete latent
  variables at their posterior;
- :meth:`proportions`: the population proportions P(C = c | z), the
  average over units of the model's class probabilities;
- :meth:`extra_posteriors`: posteriors of other discrete variables (the
  between class D_j of section 6).

Posterior predictive simulation (:mod:`bayesmix.posterior_predictive`) asks
the structure for the classes' prior graphs at z (:meth:`simulation_graphs`),
draws classes from their evaluated values (:meth:`simulate_classes`), and
learns which class drives each item block (:meth:`item_blocks`,
:meth:`block_classes`): no type switch on the structure.

:class:`bayesmix.MixtureModel` integrates any of these over z (posterior
node weights for the data-conditional ones, prior weights for the
proportions); the structures call the marginalizers of
:mod:`bayesmix.marginal` and never recompute them inline.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .._random import categorical
from ..latent import LatentEffects, segment_sum
from ..latent.base import shared_node  # noqa: F401  (re-exported: structure modules import it from here)
from ..marginal import between, nested, within

GraphAt = Callable[[object], object]


def cluster_mean(values, cluster_index: np.ndarray, n_clusters: int):
    """(..., N, K) -> (..., J, K): mean over each cluster's units."""
    counts = np.bincount(cluster_index, minlength=n_clusters).astype(float)
    sums = segment_sum(pt.swapaxes(values, -1, -2), cluster_index, n_clusters)  # (..., K, J)
    return pt.swapaxes(sums / counts, -1, -2)


def _units(values, n_units: int):
    """Broadcast (..., N or 1, K) to (..., N, K)."""
    return values + pt.zeros((n_units, 1))


class Structure:
    """Base: a class variable at the unit level, optional cluster grouping and latent effects."""

    #: level of the independent log-likelihood units: "unit" or "cluster"
    level: str = "unit"
    #: level the class variable lives on: "unit" or "cluster"
    class_level: str = "unit"
    #: one class per unit with the classes' prior free of the data: the closed-form EM of
    #: :mod:`bayesmix.inference.em` applies (given no clusters, latent effects or covariates)
    closed_form_em: bool = False
    #: whether forward-backward (Baum-Welch) EM of :mod:`bayesmix.inference.em_chain` can warm up its ML starts
    closed_form_chain_em: bool = False

    def __init__(self, n_units: int, cluster_index: np.ndarray | None = None, n_clusters: int | None = None,
                 latent: LatentEffects | None = None):
        self.n_units = n_units
        self.cluster_index = cluster_index
        self.n_clusters = n_clusters
        self.latent = latent
        if cluster_index is not None:
            self.level = "cluster"

    def conditional_loglik(self, z=None):
        raise NotImplementedError

    def class_posterior(self, z=None):
        raise NotImplementedError

    def cluster_proportions(self, z=None):
        raise NotImplementedError

    def proportions(self, z=None):
        raise NotImplementedError

    def extra_posteriors(self, z=None) -> dict:
        """name -> (graph at z, level, labels coord): posteriors of other discrete variables."""
        return {}

    #: z -> P(D_j = d | y_j, z) of a between class (section 6, :class:`NestedClasses`); None: no between class
    between_posterior = None
    #: (coord, size) of a class variable the measurement also depends on (the between class D of eq. 22:
    #: item parameters by (C, D), profiles by D); None: the measurement depends on the class C only
    measurement_groups: tuple[str, int] | None = None

    def node_work(self, n_items: int, n_classes: int) -> int | None:
        """Elements per quadrature node when a cheaper path applies (patterns, tables); None: per unit."""
        return None

    def integrated_names(self) -> tuple:
        """Free RVs integrated (ML, ``log_likelihood``) or sampled (NUTS) rather than optimized: the standardized z."""
        return () if self.latent is None else (self.latent.z_name,)

    def integrated_loglik(self, settings: dict):
        """The structure's own integral over z for an integration setting, or None (the model's quadrature).

        A structure that integrates part of z in closed form (the exact logit-normal
        membership of FMA-GoM, :class:`~bayesmix.structure.item.ItemClasses`) returns
        its (units,) graph here; :meth:`MixtureModel.integrated_loglik` caches it.
        """
        return

    def work_size(self, settings: dict, n_items: int, n_classes: int) -> int | None:
        """Elements per likelihood evaluation of :meth:`integrated_loglik` (None: the model's count)."""
        return None

    # ------------------------------------------------------------ simulation (posterior predictive)
    def check_simulation(self) -> None:
        """Raise a ValueError when posterior predictive replicates of this structure are not available."""

    def simulation_graphs(self, z) -> dict:
        """name -> graph at z of what :meth:`simulate_classes` draws from (class priors, eq. 4, 16-17 ...)."""
        raise NotImplementedError(f"no simulation for the structure {type(self).__name__}")

    def simulate_classes(self, rng: np.random.Generator, graphs: dict, n_items: int) -> np.ndarray:
        """Classes drawn from their prior given the evaluated :meth:`simulation_graphs`.

        Per unit (N, 1), per unit and time (N, T) or per response (N, I) (item-level classes).
        """
        raise NotImplementedError(f"no simulation for the structure {type(self).__name__}")

    def item_blocks(self, kernels) -> list[tuple[int, list[str], int | None, list[int]]]:
        """(kernel index, item names, time or None, the kernel's item positions) of each simulated block."""
        return [(j, list(kernel.names), None, list(range(len(kernel.names)))) for j, kernel in enumerate(kernels)]

    def block_classes(self, classes: np.ndarray, offset: int, width: int, time: int | None) -> np.ndarray:
        """(N, width) classes of a block's responses from :meth:`simulate_classes`' draw."""
        return np.repeat(classes[:, [0 if time is None else time]], width, axis=1)

    def sampled_loglik(self):
        """The log-likelihood NUTS samples: at the model's sampled z (or without latent effects)."""
        return self.conditional_loglik(None if self.latent is None else self.latent.z)

    def sampled_total(self):
        """The value of the model's likelihood ``Potential``: the sum of :meth:`sampled_loglik`."""
        return self.sampled_loglik().sum()

    def add_potential(self, name: str = "loglik"):
        """Add the sampled log-likelihood to the model in context as a ``pm.Potential``."""
        return pm.Potential(name, self.sampled_total())


def shared_log_prior(class_model, effects: LatentEffects):
    """z -> log P(C = c | u(z)), (..., 1, K), at a node z shared by all levels; None when covariates differ.

    Class logits alpha_c + u_c(z) (eq. 4-5, 30) are then the same for every
    cluster or person, which the pattern and table paths rely on.
    """
    if class_model.covariates is not None or not effects.level_free:
        return None
    return lambda z: class_model.log_prior(offset=effects.values(z, broadcast=False))


class WithinClasses(Structure):
    """One class per unit (eq. 4), units optionally grouped in clusters with latent effects (Model 6).

    ``log_prior_at(z)``: log P(C_i = c | x_i, u(z)) (..., N or 1, K);
    ``loglik_at(z)``: log p(y_i | C_i = c, u(z)) (..., N, K).

    Response patterns (:mod:`bayesmix.patterns`): with ``patterns`` and
    ``shared_log_prior_at`` -- z -> log P(C = c | u(z)) of shape (..., 1, K)
    for a node z shared by all clusters (no unit covariates; the factory
    gives it only then) -- and ``loglik_at`` free of z, the marginal at such
    nodes is computed once per unique pattern (exact; see ``patterns``).
    ``density``: (counts (P,), log p(y_p | C = k) (P, K)) from
    :func:`bayesmix.patterns.categorical_density`, given only without
    covariates and latent effects: the ``Potential`` NUTS samples is then
    the count-weighted sum over patterns (the same value as the per-unit sum).
    ``tables_at``: z -> [(log P(y_i = c | k, z) (..., K, I, C), one-hot responses (N, I, C))]
    at a node shared by all persons (a person factor, FMA eq. 36-37), given with
    ``shared_log_prior_at`` only without covariates: the model's fixed-rule
    integral over z is then computed once per unique response pattern
    (:meth:`integrated_loglik`).
    """

    closed_form_em = True

    def __init__(self, log_prior_at: GraphAt, loglik_at: GraphAt, n_units: int, *,
                 shared_log_prior_at: GraphAt | None = None, patterns=None, density=None,
                 tables_at: GraphAt | None = None, **kwargs):
        super().__init__(n_units, **kwargs)
        self.log_prior_at = log_prior_at
        self.loglik_at = loglik_at
        self.density = density if self.latent is None else None
        self.tables_at = tables_at if shared_log_prior_at is not None and self.latent is not None else None
        self._node_prior_at = shared_log_prior_at if self.tables_at is not None else None
        use = shared_log_prior_at is not None and patterns is not None and patterns.worthwhile
        self.shared_log_prior_at = shared_log_prior_at if use else None
        self.patterns = patterns if use else None

    @property
    def node_patterns(self):
        """Unique rows of the one-hot responses of ``tables_at`` (:class:`~bayesmix.patterns.Patterns`), or None.

        None without ``tables_at``, in two-level models, or when no two persons share a pattern.
        """
        if not hasattr(self, "_node_patterns"):
            self._node_patterns = None
            if self.tables_at is not None and self.cluster_index is None:
                from ..patterns import table_patterns
                found = table_patterns(self.tables_at)
                self._node_patterns = found if found.n_patterns < found.n_units else None
        return self._node_patterns

    def integrated_loglik(self, settings: dict):
        """log p(y_i) per person, the person factor integrated once per unique response pattern, or None.

        With ``tables_at`` (FMA without covariates, categorical items) persons with the
        same responses have the same integral over their factor,
        log sum_q w_q sum_c P(C = c) prod_i P(y_i | c, eta_q) (eq. 36-37 at the shared
        nodes eta_q of the model's rule): computed for the P unique one-hot rows and
        gathered to the N persons, so one evaluation and its gradient cost
        Q x P x I x C x K instead of Q x N x I x C x K. Exact (the same rule as the
        per-person path). None under adaptive quadrature (nodes per person) or when
        :attr:`node_patterns` is None: the model's quadrature runs per person then.
        """
        patterns = None if settings.get("adaptive") else self.node_patterns
        if patterns is None:
            return None
        from ..patterns import integrate_by_pattern

        def by_pattern(z):  # (Q, P)
            by_class = 0
            for log_table, onehot in self.tables_at(z):  # (Q, K, I, C), (N, I, C)
                rows = np.asarray(onehot, dtype=float)[patterns.representative].reshape(patterns.n_patterns, -1)
                flat = log_table.reshape((*log_table.shape[:-2], -1))  # (Q, K, I*C)
                by_class = by_class + pt.matmul(pt.as_tensor(rows), pt.swapaxes(flat, -1, -2))  # (Q, P, K)
            return within.loglik(self._node_prior_at(z), by_class)

        return integrate_by_pattern(self.latent, settings, patterns, by_pattern)

    def node_work(self, n_items: int, n_classes: int) -> int | None:
        """Elements per quadrature node when the marginal runs by pattern (else None: per unit)."""
        if self.patterns is None:
            return None
        return self.patterns.n_patterns * n_classes + (self.n_clusters or 0)

    def _by_pattern(self, z) -> bool:
        return self.patterns is not None and shared_node(z)

    def sampled_total(self):
        if self.density is None:
            return super().sampled_total()
        counts, by_class = self.density
        return pt.dot(pt.as_tensor(counts), within.loglik(self.log_prior_at(None), by_class))

    def _pattern_args(self, z):
        return self.shared_log_prior_at(z), self.patterns.rows(self.loglik_at(z))

    def unit_loglik(self, z=None):
        if self._by_pattern(z):
            return self.patterns.expand(within.loglik(*self._pattern_args(z)))
        return within.loglik(self.log_prior_at(z), self.loglik_at(z))

    def conditional_loglik(self, z=None):
        if self._by_pattern(z):
            by_pattern = within.loglik(*self._pattern_args(z))  # (..., P)
            if self.cluster_index is None:
                return self.patterns.expand(by_pattern)
            return self.patterns.cluster_sum(by_pattern, self.cluster_index, self.n_clusters)
        ll = self.unit_loglik(z)
        if self.cluster_index is None:
            return ll
        return segment_sum(ll, self.cluster_index, self.n_clusters)

    def class_posterior(self, z=None):
        if self._by_pattern(z):
            return self.patterns.expand(within.posterior(*self._pattern_args(z)), axis=-2)
        return within.posterior(self.log_prior_at(z), self.loglik_at(z))

    def _unit_priors(self, z):
        return _units(pt.exp(self.log_prior_at(z)), self.n_units)

    def cluster_proportions(self, z=None):
        """Mean over cluster j's units of P(C_ij = c | x_ij, alpha_j(z))."""
        return cluster_mean(self._unit_priors(z), self.cluster_index, self.n_clusters)

    def proportions(self, z=None):
        return self._unit_priors(z).mean(axis=-2)

    def simulation_graphs(self, z) -> dict:
        return {"unit_class": pt.exp(self.log_prior_at(z)) + pt.zeros((self.n_units, 1))}

    def simulate_classes(self, rng, graphs, n_items):
        """C_i ~ P(C | x_i, u_j) (eq. 4)."""
        return categorical(rng, graphs["unit_class"])[:, None]


class FactorsInClusters(WithinClasses):
    """One class per unit (eq. 4), within-level factors per unit, cluster random coefficients (eq. 2-5).

    Two continuous latent blocks, nested: ``latent`` holds the cluster effects
    u_j (a :class:`~bayesmix.latent.LatentEffects` with one standardized z per
    cluster, eq. 5) and ``within`` the factors (standardized z per unit, eq. 3;
    None when no factor has a variance). Given the cluster's z, the units are
    independent, so the per-cluster conditional log-likelihood integrates each
    unit's factors on ``within_rule`` (nodes (R, F), log-weights (R,)) inside:

        f_j(z_j) = sum_{i in j} log sum_r w_r sum_c P(C_i = c | x_i) p(y_i | C_i = c, eta_i(z_r, u_j(z_j)))

    and :meth:`MixtureModel.integrated_loglik` integrates z_j outside (ML, LOO:
    per cluster). NUTS samples both z (non-centered): :meth:`sampled_loglik`.

    ``log_prior_at(z)``: log P(C_i = c | x_i) (..., N or 1, K); ``loglik_at(zf, u)``:
    log p(y_i | C_i = c) (..., N, K) at within z ``zf`` and unit values ``u`` (..., N, D)
    of the cluster effects.
    """

    closed_form_em = False

    def __init__(self, log_prior_at: GraphAt, loglik_at, n_units: int, *, cluster_index: np.ndarray,
                 n_clusters: int, latent: LatentEffects, within: LatentEffects | None, within_rule,
                 max_nodes: int):
        super().__init__(log_prior_at, lambda z: None, n_units, cluster_index=cluster_index, n_clusters=n_clusters,
                         latent=latent)
        self.coefficient_loglik = loglik_at
        self.within = within
        self.within_rule = within_rule
        self.max_nodes = max_nodes

    def integrated_names(self) -> tuple:
        return (self.latent.z_name,) + (() if self.within is None else (self.within.z_name,))

    def _unit_joint(self, z):
        """log P(C_i = c) + log p(y_i | C_i = c, u_j(z)) with the unit's factors integrated, (..., N, K)."""
        u = self.latent.unit_values(z)  # (..., N, D)
        if self.within is None:
            return self.log_prior_at(z) + self.coefficient_loglik(None, u)
        nodes, logw = self.within_rule
        ll = self.coefficient_loglik(pt.as_tensor(nodes[:, None, :]), u[..., None, :, :])  # (..., R, N, K)
        return pt.logsumexp(self.log_prior_at(z) + ll + np.asarray(logw)[:, None, None], axis=-3)

    def unit_loglik(self, z=None):
        return pt.logsumexp(self._unit_joint(z), axis=-1)

    def conditional_loglik(self, z=None):
        return segment_sum(self.unit_loglik(z), self.cluster_index, self.n_clusters)

    def class_posterior(self, z=None):
        return pt.special.softmax(self._unit_joint(z), axis=-1)

    def sampled_loglik(self):
        """f_j at the sampled cluster z and the sampled unit factors (NUTS)."""
        u = self.latent.unit_values(self.latent.z)
        zf = None if self.within is None else self.within.z
        ll = within.loglik(self.log_prior_at(None), self.coefficient_loglik(zf, u))
        return segment_sum(ll, self.cluster_index, self.n_clusters)

    def _nodes(self, settings: dict) -> tuple[int, int]:
        from ..inference.quadrature import default_points
        d = self.latent.n_dims
        q = settings.get("points") or (default_points(d) if settings.get("method") != "monte-carlo" else 500)
        outer = q if settings.get("method") == "monte-carlo" else q**d
        return outer, 1 if self.within is None else len(self.within_rule[1])

    def integrated_loglik(self, settings: dict):
        """None (the model's quadrature over the cluster z, this structure's within rule inside) unless too large.

        Refuses (ValueError) when cluster nodes x within nodes per unit exceed ``max_nodes``:
        nested quadrature is then not practical and NUTS (which samples both) is the way.
        """
        outer, inner = self._nodes(settings)
        if outer * inner > self.max_nodes:
            d, r = self.latent.n_dims, 0 if self.within is None else self.within.n_dims
            raise ValueError(
                f"nested quadrature over {d} cluster random coefficient(s) ({outer:,} nodes) and {r} within "
                f"factor(s) ({inner:,} nodes) needs {outer * inner:,} nodes per person (limit {self.max_nodes:,}): "
                "ML by quadrature is not practical here. Use sample() (NUTS samples the cluster effects and the "
                "factors), or fewer points: integration={'points': ..., 'within': {'points': ...}} "
                "(adaptive=True keeps few cluster points accurate).")
        return None

    def check_simulation(self) -> None:
        raise ValueError("posterior predictive replicates of a mixture_sem with cluster random coefficients "
                         "(random=) are not available yet: they need new cluster effects and new factors drawn "
                         "together; check the one-level model, or compare models by LOO (per cluster).")

    def work_size(self, settings: dict, n_items: int, n_classes: int) -> int | None:
        outer, inner = self._nodes(settings)
        return int(self.n_units) * max(1, n_items) * n_classes * outer * inner


class BetweenClasses(Structure):
    """One class per cluster, C_ij = C_j (eq. 16-17).

    ``log_prior_at(z)``: log P(C_j = c | w_j) (..., J or 1, K);
    ``loglik_at(z)``: log p(y_ij | C_j = c, u(z)) (..., N, K).
    """

    class_level = "cluster"

    def __init__(self, log_prior_at: GraphAt, loglik_at: GraphAt, n_units: int, cluster_index: np.ndarray,
                 n_clusters: int, latent: LatentEffects | None = None):
        super().__init__(n_units, cluster_index, n_clusters, latent)
        self.log_prior_at = log_prior_at
        self.loglik_at = loglik_at

    def _args(self, z):
        return self.log_prior_at(z), self.loglik_at(z), self.cluster_index, self.n_clusters

    def conditional_loglik(self, z=None):
        return between.loglik(*self._args(z))

    def class_posterior(self, z=None):
        return between.posterior(*self._args(z))

    def cluster_proportions(self, z=None):
        """Every unit is in its cluster's class: P(C_j = c | y_j, z)."""
        return self.class_posterior(z)

    def proportions(self, z=None):
        """Unit-weighted mean of P(C_j = c | w_j): the share of units in class c."""
        per_cluster = pt.exp(self.log_prior_at(z)) + pt.zeros((self.n_clusters, 1))  # (..., J, K)
        share = np.bincount(self.cluster_index, minlength=self.n_clusters) / len(self.cluster_index)
        return (share[:, None] * per_cluster).sum(axis=-2)

    def simulation_graphs(self, z) -> dict:
        return {"cluster_class": pt.exp(self.log_prior_at(z)) + pt.zeros((self.n_clusters, 1))}

    def simulate_classes(self, rng, graphs, n_items):
        """C_j ~ P(C_j | w_j) (eq. 16-17), every unit in its cluster's class."""
        return categorical(rng, graphs["cluster_class"])[self.cluster_index][:, None]


class NestedClasses(Structure):
    """Within classes C_ij whose logits depend on a between class D_j (section 6, eq. 22-26).

    ``log_prior_between_at(z)``: log P(D_j = d | w_j) (..., J or 1, M);
    ``log_prior_within_at(z)``: log P(C_ij = c | D_j = d, x_ij, alpha_j(z)) (..., M, N or 1, K);
    ``loglik_at(z)``: log p(y_ij | C_ij = c) (..., N, K).

    All three class statuses of Table 4 in one model (eq. 24 with random
    alpha_cj): ``latent`` holds the cluster random intercepts, standardized
    so that z_j ~ N(0, I) independently of D_j, and ``log_prior_within_at(z)``
    adds alpha_j(z) to the logits of every between class d (with
    between-class-specific random-effect means gamma_cd and, optionally,
    SDs, eq. 18, 25). Then p(y_j) = int sum_d P(D_j = d) prod_i p(y_ij | d, z) phi(z) dz:
    the sum over d is inside the conditional log-likelihood at z, which
    quadrature (ML, per-cluster ``log_likelihood``) integrates and NUTS samples.

    ``n_between_measurement``: M when item parameters depend on D as well
    (eq. 22): ``loglik_at(z)`` is then log p(y_ij | C_ij = c, D_j = d),
    (..., M, N, K); posterior predictive replicates draw the joint class
    d * K + c (the kernels' joint-class graphs, :meth:`ItemKernel._joint_classes`).
    """

    def __init__(self, log_prior_between_at: GraphAt, log_prior_within_at: GraphAt, loglik_at: GraphAt,
                 n_units: int, cluster_index: np.ndarray, n_clusters: int, between_labels_dim: str = "between_class",
                 latent: LatentEffects | None = None, shared_log_prior_within_at: GraphAt | None = None,
                 patterns=None, n_between_measurement: int | None = None):
        super().__init__(n_units, cluster_index, n_clusters, latent)
        self.log_prior_between_at = log_prior_between_at
        self.log_prior_within_at = log_prior_within_at
        self.loglik_at = loglik_at
        self.between_dim = between_labels_dim
        self.by_between = n_between_measurement is not None
        if self.by_between:
            self.measurement_groups = (between_labels_dim, int(n_between_measurement))
        # response patterns (as WithinClasses): at a quadrature node shared by all clusters, without unit
        # covariates, log p(y_ij | D_j = d, z) is the same for units with the same responses
        use = shared_log_prior_within_at is not None and patterns is not None and patterns.worthwhile
        self.shared_log_prior_within_at = shared_log_prior_within_at if use else None
        self.patterns = patterns if use else None

    def _args(self, z):
        return (self.log_prior_between_at(z), self.log_prior_within_at(z), self.loglik_at(z),
                self.cluster_index, self.n_clusters, self.by_between)

    def node_work(self, n_items: int, n_classes: int) -> int | None:
        if self.patterns is None:
            return None
        return self.patterns.n_patterns * n_classes + (self.n_clusters or 0)

    def conditional_loglik(self, z=None):
        if self.patterns is not None and shared_node(z):  # exact: by pattern, then pattern counts per cluster
            log_prior_within = self.shared_log_prior_within_at(z)  # (..., M, 1, K)
            ll = self.loglik_at(z)  # (N, K), or (M, N, K) with item parameters by D
            by_pattern = ll[..., self.patterns.representative, :]  # (P, K) or (M, P, K)
            by_d = within.loglik(log_prior_within, by_pattern if self.by_between
                                 else pt.expand_dims(by_pattern, -3))  # (..., M, P)
            cluster_ll = self.patterns.cluster_sum(by_d, self.cluster_index, self.n_clusters)  # (..., M, J)
            return within.loglik(self.log_prior_between_at(z), pt.swapaxes(cluster_ll, -1, -2))
        return nested.loglik(*self._args(z))

    def class_posterior(self, z=None):
        return nested.posterior_within(*self._args(z))

    def between_posterior(self, z=None):
        return nested.posterior_between(*self._args(z))

    def joint_posterior(self, z=None):
        """P(D_j = d, C_ij = c | y_j, z), (..., N, M, K): the joint (C, D) classification of each unit."""
        return nested.posterior_joint(*self._args(z))

    def extra_posteriors(self, z=None) -> dict:
        return {"between_class": (self.between_posterior(z), "cluster", self.between_dim)}

    def cluster_proportions(self, z=None):
        """sum_d P(D_j = d | y_j) * mean over cluster j's units of P(C_ij = c | D_j = d, x_ij)."""
        prior_within = pt.exp(self.log_prior_within_at(z)) + pt.zeros((self.n_units, 1))  # (..., M, N, K)
        by_d = cluster_mean(prior_within, self.cluster_index, self.n_clusters)  # (..., M, J, K)
        post_d = self.between_posterior(z)  # (..., J, M)
        return (pt.swapaxes(post_d, -1, -2)[..., None] * by_d).sum(axis=-3)

    def proportions(self, z=None):
        return nested.population_proportions(self.log_prior_between_at(z), self.log_prior_within_at(z),
                                             self.cluster_index, self.n_clusters)

    def simulation_graphs(self, z) -> dict:
        return {"between": pt.exp(self.log_prior_between_at(z)) + pt.zeros((self.n_clusters, 1)),
                "within": pt.exp(self.log_prior_within_at(z)) + pt.zeros((self.n_units, 1))}  # (M, N, K)

    def simulate_classes(self, rng, graphs, n_items):
        """D_j, then C_ij | D_j (eq. 24-26); with item parameters by D the joint class D_j * K + C_ij."""
        between = categorical(rng, graphs["between"])[self.cluster_index]  # D_j of each unit
        within_class = categorical(rng, graphs["within"][between, np.arange(self.n_units)])
        if self.by_between:
            within_class = between * graphs["within"].shape[-1] + within_class
        return within_class[:, None]
