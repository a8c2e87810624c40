"""Item-level classes: grade of membership (paper section 7, eq. 27-35; FMA-GoM, eq. 38-44).

Each response y_ij of person j to item i has its own class C_ij (eq. 28). The
person's membership -- P(C_ij = k) = g_jk, from random class logits alpha_cj
(eq. 30, 34), a one-factor form (eq. 35) or a Dirichlet vector (Erosheva) --
is a person-level latent variable z; given it the items are independent and
each C_ij is summed out on its own (:mod:`bayesmix.marginal.item`):

    log p(y_j | z) = sum_i logsumexp_k [ log P(C_ij = k | z) + log p(y_ij | C_ij = k, z) ].

:class:`bayesmix.MixtureModel` integrates this over z (quadrature / importance
nodes for ML and the per-person ``log_likelihood``; NUTS samples z).

FMA-GoM with K = 2 (eq. 38-41) can integrate its membership logit
alpha_1j = alpha + sd z_1j in closed form instead (``exact_membership``,
:mod:`bayesmix.marginal.logit_normal`): :meth:`ItemClasses.integrated_loglik`
then runs the quadrature over eta_j alone, and the model's integrator takes
that graph (:meth:`Structure.integrated_loglik`), so no family overrides it.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from .._random import categorical
from ..latent import LatentEffects, segment_sum
from ..marginal import item, logit_normal
from .base import GraphAt, Structure, cluster_mean, shared_node

__all__ = ["ItemClasses"]


class ItemClasses(Structure):
    """Item-level classes C_ij sharing a person's membership (GoM, eq. 27-30, 34-35).

    Parameters
    ----------
    log_membership_at : z -> log P(C_ij = k | z), either (..., N or 1, K), the
        same for every item (eq. 30, 34), or item-specific (..., N or 1, I, K)
        (class logits with item covariates, eq. 44). Which one is read from
        the graph at ``z=None`` unless ``per_item`` is given.
    loglik_by_item_at : z -> log p(y_ij | C_ij = k, z), (..., N, I, K)
        (a kernel's ``loglik_by_item``, with an FMA shift eq. 39 if any).
    n_units : N persons.
    observed : (N, I), nonzero where y_ij is observed; missing cells add 0.
    latent : the person-level membership block (integrated by
        :class:`~bayesmix.MixtureModel`); None when the membership is fixed.
    cluster_index, n_clusters : persons grouped in clusters (the independent
        log-likelihood units then are clusters).
    per_item : force the membership layout (None: inferred).
    exact_membership : (alpha, sd) scalar graphs of a two-class membership
        logit alpha + sd z_1 (FMA-GoM, eq. 39; z's column 1): integrated in
        closed form over its normal distribution by :meth:`integrated_loglik`
        (needs ``observed``; eta_j, z's column 0, by quadrature). None: the
        model's quadrature over all of z.

    Results
    -------
    - :meth:`conditional_loglik`: log p(y_j | z) per person (or per cluster);
    - :meth:`class_posterior`: the membership scores g_jk(z) = mean over items
      of P(C_ij = k | z); averaged over the posterior of z by
      :meth:`MixtureModel.class_probability_tensor` this is the EAP membership
      score E[g_jk | y_j] of GoM (not a posterior class probability: a person
      is partly in several classes);
    - :meth:`extra_posteriors`: ``"item_class"``, P(C_ij = k | y_j), (N, I, K);
    - :meth:`proportions`: mean membership over persons (and items).
    """

    def __init__(self, log_membership_at: GraphAt, loglik_by_item_at: GraphAt, n_units: int,
                 observed: np.ndarray | None = None, latent: LatentEffects | None = None,
                 cluster_index: np.ndarray | None = None, n_clusters: int | None = None,
                 per_item: bool | None = None, shared_log_membership_at: GraphAt | None = None,
                 tables_at: GraphAt | None = None, exact_membership: tuple | None = None):
        super().__init__(n_units, cluster_index, n_clusters, latent)
        self.log_membership_at = log_membership_at
        self.loglik_by_item_at = loglik_by_item_at
        # the (item, category) table form of the likelihood at nodes shared by all persons
        # (:func:`bayesmix.marginal.item.loglik_from_tables`): categorical items, a membership
        # without covariates; ``tables_at(z)``: [(log P(y_i = c | k, z) (..., K, I, C), one-hot (N, I*C))]
        use = shared_log_membership_at is not None and tables_at is not None
        self.shared_log_membership_at = shared_log_membership_at if use else None
        self.tables_at = tables_at if use else None
        self.observed = None if observed is None else np.asarray(observed, dtype=float)
        if per_item is None:
            per_item = pt.as_tensor_variable(log_membership_at(None)).ndim == 3
        self.per_item = bool(per_item)
        if exact_membership is not None and self.observed is None:
            raise ValueError("exact_membership needs observed (the number of items and the missing cells).")
        self.exact_membership = exact_membership

    def node_work(self, n_items: int, n_classes: int) -> int | None:
        """Elements per quadrature node on the table path (one-hot sums), else None (per response)."""
        return None if self.tables_at is None else self.n_units * n_items

    # ------------------------------------------------------------ exact membership (FMA-GoM, K = 2)
    def exact(self, settings: dict) -> bool:
        """Whether :meth:`integrated_loglik` integrates the membership exactly under ``settings``.

        With ``exact_membership`` and a fixed rule; adaptive quadrature uses the joint grid.
        """
        return self.exact_membership is not None and not settings.get("adaptive")

    @staticmethod
    def _eta_rule(settings: dict):
        from ..inference.quadrature import rule
        return rule(settings["method"], settings["points"], 1, settings.get("seed", 0))

    def integrated_loglik(self, settings: dict):
        """Per-person log-likelihood with the membership integrated exactly (eq. 38-41), per pattern, or None.

        With ``exact_membership`` the quadrature runs over eta_j alone (``points`` counts eta
        nodes) and at each node log p(y_j | eta) = log sum_a e_a(y_j, eta) E[m^a (1 - m)^(I - a)]
        (:func:`bayesmix.marginal.logit_normal.loglik`). Otherwise, on the table path (nodes
        shared by all persons, no covariates) with repeated response patterns, the integral of
        eq. 28-30 over the membership is computed once per unique pattern and gathered
        (:meth:`pattern_loglik`; exact, the same rule as the model's quadrature). None under
        adaptive quadrature or when neither applies: the model integrates all of z then.
        """
        if not self.exact(settings):
            return self.pattern_loglik(settings)
        nodes, logw = self._eta_rule(settings)
        by_item = self.loglik_by_item_at(pt.as_tensor(nodes[:, None, :]))  # (Q, N, I, 2)
        # a missing response: q_i1 = q_i2 = 1
        by_item = pt.switch(pt.neq(pt.as_tensor(self.observed), 0)[..., None], by_item, 0.0)
        n_items = self.observed.shape[1]
        alpha, sd = self.exact_membership
        moments = logit_normal.log_moments(alpha, sd, n_items)
        person = logit_normal.loglik(by_item[..., 0], by_item[..., 1], moments, n_items=n_items)
        return pt.logsumexp(person + logw[:, None], axis=0)

    # ------------------------------------------------------------ response patterns (table path)
    @property
    def patterns(self):
        """Unique response patterns of the table path's one-hot rows (:class:`~bayesmix.patterns.Patterns`).

        None when the table path does not apply (covariates, non-categorical items, no
        latent membership) or when patterns do not repeat enough to pay (``worthwhile``).
        """
        if not hasattr(self, "_patterns"):
            self._patterns = None
            if self.tables_at is not None and self.latent is not None:
                from ..patterns import table_patterns
                found = table_patterns(self.tables_at)
                self._patterns = found if found.worthwhile else None
        return self._patterns

    def pattern_loglik(self, settings: dict):
        """log p(y_j) per person (per cluster), integrated over the membership once per response pattern.

        Persons with the same responses have the same integral
        log sum_q w_q exp(sum_i log sum_k P(C_ij = k | z_q) P(y_ij | k)) (eq. 28-30 at the
        shared nodes z_q of the model's rule): it is computed for the P unique one-hot rows of
        :func:`bayesmix.marginal.item.loglik_from_tables` and gathered to the N persons, so
        one density evaluation (and its gradient) costs Q x P x I x C instead of Q x N x I x C
        (section 7's simulated N = 7,326 x 17: P = 3,193). None when :attr:`patterns` is None
        or under adaptive quadrature (nodes per person).
        """
        if settings.get("adaptive") or self.patterns is None:
            return None
        from ..patterns import integrate_by_pattern
        patterns = self.patterns

        def by_pattern(z):  # (Q, P)
            tables = [(log_table, np.asarray(onehot)[patterns.representative])
                      for log_table, onehot in self.tables_at(z)]
            return item.loglik_from_tables(self.shared_log_membership_at(z), tables, self.per_item)

        ll = integrate_by_pattern(self.latent, settings, patterns, by_pattern)
        return ll if self.cluster_index is None else segment_sum(ll, self.cluster_index, self.n_clusters)

    def work_size(self, settings: dict, n_items: int, n_classes: int) -> int | None:
        """Elements per evaluation of the exact membership's recursion or of the pattern path (None: neither)."""
        if not self.exact(settings):
            if settings.get("adaptive") or self.patterns is None:
                return None
            from ..inference.quadrature import n_nodes
            nodes = n_nodes(self.latent.rule(settings["method"], settings["points"], settings.get("seed", 0))[0])
            return self.n_units * n_items * n_classes + nodes * self.patterns.n_patterns * n_items
        return len(self._eta_rule(settings)[0]) * self.n_units * n_items * (n_items + 3) // 2

    # ------------------------------------------------------------ likelihood
    def _args(self, z):
        return self.log_membership_at(z), self.loglik_by_item_at(z), self.observed

    def person_loglik(self, z=None):
        """log p(y_j | z) per person, (..., N) (eq. 28-30)."""
        if self.tables_at is not None and shared_node(z):
            return item.loglik_from_tables(self.shared_log_membership_at(z), self.tables_at(z), self.per_item)
        return item.loglik(*self._args(z), per_item=self.per_item)

    def loglik_by_item(self, z=None):
        """log p(y_ij | z) per response, (..., N, I); a missing cell is 0."""
        return item.loglik_by_item(*self._args(z), per_item=self.per_item)

    def conditional_loglik(self, z=None):
        ll = self.person_loglik(z)
        if self.cluster_index is None:
            return ll
        return segment_sum(ll, self.cluster_index, self.n_clusters)

    # ------------------------------------------------------------ posteriors
    def membership(self, z=None):
        """g_jk(z): the person's class probabilities averaged over items, (..., N, K)."""
        probs = pt.exp(pt.as_tensor_variable(self.log_membership_at(z)))
        if self.per_item:
            probs = probs.mean(axis=-2)
        return probs + pt.zeros((self.n_units, 1))

    def class_posterior(self, z=None):
        """Membership scores at z; their posterior mean over z is E[g_j | y_j] (EAP scores)."""
        return self.membership(z)

    def item_class_posterior(self, z=None):
        """P(C_ij = k | y_ij, z), (..., N, I, K); a missing cell gets its prior membership."""
        return item.posterior(*self._args(z), per_item=self.per_item)

    def extra_posteriors(self, z=None) -> dict:
        return {"item_class": (self.item_class_posterior(z), "unit", "class")}

    def cluster_proportions(self, z=None):
        """Mean membership of a cluster's persons; without clusters a person is the cluster (section 7)."""
        if self.cluster_index is None:
            return self.membership(z)
        return cluster_mean(self.membership(z), self.cluster_index, self.n_clusters)

    def proportions(self, z=None):
        """Population proportions: membership averaged over persons (and items), (..., K)."""
        return self.membership(z).mean(axis=-2)

    # ------------------------------------------------------------ simulation
    def simulation_graphs(self, z) -> dict:
        return {"membership": pt.exp(self.log_membership_at(z))}  # (N|1, K) or (N|1, I, K)

    def simulate_classes(self, rng, graphs, n_items):
        """C_ij ~ g_j per response (eq. 28-30), (N, I)."""
        membership = graphs["membership"]
        if not self.per_item:
            membership = membership[:, None, :]
        return categorical(rng, np.broadcast_to(membership, (self.n_units, n_items, membership.shape[-1])))

    def block_classes(self, classes, offset, width, time):
        return classes[:, offset:offset + width]
