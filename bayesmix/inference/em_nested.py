"""Closed-form EM for within classes nested in between classes (section 6), and starts from smaller models.

The model of eq. 24-26 without covariates, random intercepts or constraints
(within classes C_ij, between classes D_j of the clusters, P(C | D) free,
binary and nominal items) has between class probabilities pi_d, within class
probabilities pi_c|d and item-category probabilities p_ikc. One EM step is
closed form, with the E-step over D and C of each cluster:

    E: L_jd = log pi_d + sum_i log sum_c pi_c|d p(y_ij | c),   P(D_j = d | y_j) = softmax_d L_jd
       P(C_ij = c | y_j, D_j = d) = pi_c|d p(y_ij | c) / sum_c' (...)
    M: pi_d = mean_j P(D_j = d | y_j)
       pi_c|d  proportional to  sum_j P(D_j = d | y_j) sum_i P(C_ij = c | y_j, D_j = d)
       p_ikc = sum_{j, i} P(C_ij = c | y_j) [y_ijk = category] / (...)   (as :class:`~.em.CategoricalEM`)

computed per unique response pattern (a sparse cluster x pattern count
matrix) and for all starts of a stage at once. It warms up the random starts
of :func:`~.optimize.multistart` as the LCA's EM does; every reported value
still comes from the model's own (PyTensor) likelihood.

Starts from smaller models (section 10): the paper recommends using the
solutions of smaller models as starting values. :meth:`NestedEM.seed_starts`
builds them without fitting any other PyMC model: the model with one between
class (the single-level LCA, which is the nested model with M = 1) is fitted
by EM from random starts; each between class of the M - 1 solution is then
split in two and EM runs to the M-class optimum, up to the model's M. A
between class d is split by its clusters: the clusters' within-class
proportions under d (their posterior mean of P(C_ij | y_j, D_j = d)) are
projected on their first principal axis, and clusters above the
P(D_j = d)-weighted median go to one half, the others to the other (a
two-means split of the cluster-level class proportions), plus random
(uniform) divisions of each cluster's weight; one M-step from these
responsibilities gives the two halves their own pi_d and pi_c|d. A split
that keeps the two halves equal would stay on the symmetric ridge (equal
gamma_cd of eq. 24 get equal gradients), which is why the split is made on
the clusters, not by copying parameters.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..patterns import response_patterns
from .em import CategoricalEM, item_parameters, iterate, log_softmax

__all__ = ["NestedEM", "supported"]

_BETWEEN = {"between_class_intercept", "class_between_effect"}
#: random divisions of a between class's clusters tried besides the median split, per class and level
RANDOM_SPLITS = 2
#: random starts of the one-between-class model (the single-level LCA) at the bottom of the chain
BOTTOM_STARTS = 8
#: k-means++ partitions of the clusters by their class proportions under the one-between-class solution
KMEANS_STARTS = 30
#: distinct M-class EM optima handed to the start search as seeded starts (best first)
SEEDED = 3
#: EM steps (each run stops once its LL gains less than ``tol``) of each seeding stage
SEED_ITERATIONS = 3000


def supported(mm) -> bool:
    """Within and between classes (eq. 24-26) of binary / nominal items, no covariates, constraints or ordering.

    Capabilities, not types: the structure's ``between_posterior`` (a between
    class, :class:`~bayesmix.structure.NestedClasses`), a single between class
    model without covariates, item parameters the same in every between class
    (no ``measurement_groups``, eq. 22), every kernel's ``em_supported``, and exactly the
    parameters of eq. 24 (``class_intercept``, ``class_between_effect``,
    ``between_class_intercept`` and the item logits) at their plain shapes.
    """
    structure = mm.structure
    if getattr(structure, "between_posterior", None) is None or getattr(structure, "cluster_index", None) is None:
        return False
    if getattr(structure, "measurement_groups", None) is not None:  # item parameters by D (eq. 22): not this EM
        return False
    if mm.latent is not None or mm.ordered is not None or mm.n_classes < 2 or len(mm.components) != 1:
        return False
    between = mm.components[0]
    if getattr(between, "covariates", None) is not None or getattr(mm.class_model, "covariates", None) is not None:
        return False
    if not mm.kernels or not all(kernel.em_supported for kernel in mm.kernels):
        return False
    names = {rv.name for rv in mm.model.free_RVs}
    if not _BETWEEN <= names or names - _BETWEEN - {"class_intercept"} - item_parameters(mm) \
            or "class_intercept" not in names:
        return False
    if any(mm.parameters.get(name) is not None and mm.parameters[name].constrained for name in names):
        return False
    dims = {"class_intercept": ("class_free",), "between_class_intercept": ("between_class_free",),
            "class_between_effect": ("class_free", "between_class_free")}
    return all(tuple(mm.model.named_vars_to_dims.get(name) or ()) == want for name, want in dims.items())


def _n_between(mm) -> int:
    return len(mm.model.coords["between_class"])


class NestedEM:
    """EM steps of the within-and-between LCA (eq. 24-26), by unique pattern per cluster (module docstring)."""

    def __init__(self, mm):
        self.mm = mm
        self.lca = CategoricalEM(mm)  # pattern one-hots and item tables <-> the kernels' values
        patterns = response_patterns(mm.kernels)
        structure = mm.structure
        self.n_clusters = int(structure.n_clusters)
        self.n_classes = mm.n_classes
        self.n_between = _n_between(mm)
        self.n_units = float(len(patterns.inverse))
        counts = sparse.csr_matrix((np.ones(len(patterns.inverse)), (structure.cluster_index, patterns.inverse)),
                                   shape=(self.n_clusters, patterns.n_patterns))
        counts.sum_duplicates()
        self.counts = counts  # (J, P) units of each pattern in each cluster
        self.counts_t = counts.T.tocsr()

    # ------------------------------------------------------------ parameters <-> probabilities
    def from_values(self, values: dict, n_between: int | None = None):
        """Natural-scale values -> (log pi_d (M,), log pi_c|d (M, K), log tables [(K, I, C)])."""
        m = self.n_between if n_between is None else n_between
        a = np.asarray(values["class_intercept"], dtype=float)
        own = m == self.n_between  # another number of between classes: D-free within classes, equal pi_d
        gamma = np.asarray(values["class_between_effect"], dtype=float) if own else np.zeros((len(a), m - 1))
        gamma = np.concatenate([gamma.reshape(len(a), m - 1), np.zeros((len(a), 1))], axis=1)  # gamma_cM = 0
        logits = np.concatenate([a[None, :] + gamma.T, np.zeros((m, 1))], axis=1)  # gamma_Ld = 0 (eq. 24)
        b = np.asarray(values["between_class_intercept"], dtype=float) if own else np.zeros(m - 1)
        _, tables = self.lca.from_values(values)
        return log_softmax(np.append(b, 0.0)), log_softmax(logits, axis=-1), tables

    def to_values(self, log_pd, log_pcd, tables) -> dict[str, np.ndarray]:
        """(log pi_d, log pi_c|d, tables) -> natural-scale values of the model's free RVs (reference coded)."""
        rel = log_pcd[:, :-1] - log_pcd[:, -1:]  # (M, K-1): logit of c against class K in each d
        out = self.lca.to_values(np.zeros(self.n_classes), tables)
        out["class_intercept"] = rel[-1].copy()
        out["class_between_effect"] = (rel[:-1] - rel[-1]).T.copy()
        out["between_class_intercept"] = log_pd[:-1] - log_pd[-1]
        return out

    # ------------------------------------------------------------ E and M steps (batched over starts)
    def _e_step(self, log_pd, log_pcd, tables):
        """Batch (S, ...) -> (LL (S,), P(D_j | y_j) (S, J, M), expected counts (S, M, K, P))."""
        n_starts, m = log_pd.shape
        f = self.lca.loglik_by_class(np.zeros((n_starts, self.n_classes)), tables)  # (S, K, P)
        joint = log_pcd[..., None] + f[:, None]  # (S, M, K, P)
        top = joint.max(axis=2, keepdims=True)
        mix = np.log(np.exp(joint - top).sum(axis=2, keepdims=True)) + top  # (S, M, 1, P)
        by_cluster = (self.counts @ mix[:, :, 0, :].reshape(-1, mix.shape[-1]).T)  # (J, S*M)
        scores = by_cluster.T.reshape(n_starts, m, self.n_clusters).transpose(0, 2, 1) + log_pd[:, None, :]
        top_d = scores.max(axis=-1, keepdims=True)
        lj = np.log(np.exp(scores - top_d).sum(axis=-1, keepdims=True)) + top_d  # (S, J, 1)
        post_d = np.exp(scores - lj)  # (S, J, M)
        weight = (self.counts_t @ post_d.transpose(1, 0, 2).reshape(self.n_clusters, -1))  # (P, S*M)
        weight = weight.reshape(-1, n_starts, m).transpose(1, 2, 0)  # (S, M, P)
        expected = np.exp(joint - mix) * weight[:, :, None, :]  # (S, M, K, P)
        return lj[..., 0].sum(axis=-1), post_d, expected

    def _m_step(self, post_d, expected):
        n_cd = expected.sum(axis=-1)  # (S, M, K)
        log_pcd = np.log(np.clip(n_cd / np.clip(n_cd.sum(-1, keepdims=True), 1e-300, None), 1e-300, None))
        log_pd = np.log(np.clip(post_d.mean(axis=1), 1e-300, None))
        return log_pd, log_pcd, self.lca.tables_from_counts(expected.sum(axis=1))

    def step(self, log_pd, log_pcd, tables):
        """One EM step of each start in the batch; returns the new parameters and the LL at the old ones."""
        ll, post_d, expected = self._e_step(log_pd, log_pcd, tables)
        return self._m_step(post_d, expected), ll

    def loglik(self, log_pd, log_pcd, tables) -> np.ndarray:
        """sum_j log sum_d pi_d prod_i sum_c pi_c|d p(y_ij | c) (eq. 24-26) of each start in the batch."""
        return self._e_step(log_pd, log_pcd, tables)[0]

    def _iterate(self, state, iterations: int, tol: float, accelerate: bool = False):
        """EM steps of a batch, each start stopping on its own (:func:`.em.iterate`); returns (state, LL, converged)."""
        log_pd, log_pcd, tables = state

        def em_map(parts):
            (pd_new, pcd_new, tables_new), ll = self.step(parts[0], parts[1], parts[2:])
            return [pd_new, pcd_new, *tables_new], ll

        (log_pd, log_pcd, *tables), converged = iterate(em_map, [log_pd, log_pcd, *tables],
                                                        [None, None, *self.lca.valid], iterations, tol, accelerate)
        return (log_pd, log_pcd, tables), self.loglik(log_pd, log_pcd, tables), converged

    def _stack(self, states):
        return (np.stack([s[0] for s in states]), np.stack([s[1] for s in states]),
                [np.stack([s[2][j] for s in states]) for j in range(len(states[0][2]))])

    def run_batch(self, values_list: list[dict], iterations: int, tol: float = 0.0,
                  accelerate: bool = False) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """EM from several starts at once (as :meth:`~.em.CategoricalEM.run_batch`, SQUAREM if ``accelerate``):
        (values, LL, converged)."""
        state, lls, converged = self._iterate(self._stack([self.from_values(v) for v in values_list]),
                                              iterations, tol, accelerate)
        return ([self.to_values(state[0][s], state[1][s], [t[s] for t in state[2]]) for s in range(len(lls))],
                np.asarray(lls, dtype=float), converged)

    # ------------------------------------------------------------ starts from smaller models (section 10)
    def split(self, state, d: int, division: np.ndarray | None = None):
        """The (M+1)-between-class state from an M-class ``state`` with class ``d`` divided between its clusters.

        ``division`` (J,) in [0, 1]: the share of each cluster's P(D_j = d | y_j)
        given to the first half (None: the median split of the clusters'
        within-class proportions along their first principal axis, see the
        module docstring). One M-step from the divided responsibilities gives
        the two halves their own pi_d and pi_c|d; the item tables stay.
        """
        log_pd, log_pcd, tables = state
        _, post_d, expected = self._e_step(log_pd[None], log_pcd[None], [t[None] for t in tables])
        post_d, expected = post_d[0], expected[0]  # (J, M), (M, K, P)
        if division is None:
            division = self.median_division(log_pcd[d], tables, post_d[:, d])
        weights = np.concatenate([post_d[:, :d], post_d[:, [d]] * division[:, None],
                                  post_d[:, [d]] * (1.0 - division[:, None]), post_d[:, d + 1:]], axis=1)
        # expected counts of the halves: the split class's within posterior (the same pi_c|d in both) weighted
        # by each half's cluster weights
        within = np.exp(log_pcd[d][:, None] + self.lca.loglik_by_class(np.zeros(self.n_classes), tables))
        within = within / within.sum(axis=0, keepdims=True)  # (K, P): P(C = c | y_p, D = d)
        halves = [(self.counts_t @ weights[:, [d + h]])[:, 0][None, :] * within for h in (0, 1)]
        expected = np.concatenate([expected[:d], np.stack(halves), expected[d + 1:]], axis=0)
        log_pd_new, log_pcd_new, _ = self._m_step(weights[None], expected[None])
        return log_pd_new[0], log_pcd_new[0], [t.copy() for t in tables]

    def median_division(self, log_pc: np.ndarray, tables, weight: np.ndarray) -> np.ndarray:
        """1 for clusters above the weighted median of their class proportions' first principal axis, else 0."""
        within = np.exp(log_pc[:, None] + self.lca.loglik_by_class(np.zeros(self.n_classes), tables))
        within = within / within.sum(axis=0, keepdims=True)  # (K, P)
        sizes = np.asarray(self.counts.sum(axis=1)).ravel()
        props = np.asarray(self.counts @ within.T) / np.clip(sizes[:, None], 1.0, None)  # (J, K)
        logits = np.log(np.clip(props, 1e-12, None))
        logits -= logits.mean(axis=1, keepdims=True)
        w = weight / max(weight.sum(), 1e-300)
        centered = logits - w @ logits
        _, _, vt = np.linalg.svd(np.sqrt(w)[:, None] * centered, full_matrices=False)
        score = centered @ vt[0]
        order = np.argsort(score, kind="stable")
        cut = np.searchsorted(np.cumsum(w[order]), 0.5)
        division = np.zeros(self.n_clusters)
        division[order[cut + 1:]] = 1.0
        if division.sum() == 0 or division.sum() == self.n_clusters:  # all weight on one cluster: halve it
            division[:] = 0.5
        return division

    def cluster_proportions(self, state) -> np.ndarray:
        """(J, K) each cluster's mean of P(C_ij = c | y_ij) under a one-between-class ``state`` (the LCA)."""
        log_pd, log_pcd, tables = state
        within = np.exp(log_pcd[0][:, None] + self.lca.loglik_by_class(np.zeros(self.n_classes), tables))
        within = within / within.sum(axis=0, keepdims=True)  # (K, P)
        sizes = np.asarray(self.counts.sum(axis=1)).ravel()
        return np.asarray(self.counts @ within.T) / np.clip(sizes[:, None], 1.0, None)

    def kmeans_partitions(self, state, rng: np.random.Generator, n: int, lloyd: int = 20) -> list[np.ndarray]:
        """``n`` hard partitions (J, M) of the clusters by k-means++ on their class proportions' logits.

        The clusters' within-class proportions under the one-between-class
        solution ``state`` (:meth:`cluster_proportions`), as centered log
        proportions, are grouped in M by k-means with k-means++ seeding
        (Arthur & Vassilvitskii 2007), every cluster weighted by its size:
        between classes of eq. 24 are groups of clusters with similar class
        proportions, and the D^2 seeding reaches small, outlying groups that
        random partitions and splits of the (M-1)-class solution miss.
        """
        x = np.log(np.clip(self.cluster_proportions(state), 1e-12, None))
        x -= x.mean(axis=1, keepdims=True)
        sizes = np.asarray(self.counts.sum(axis=1)).ravel()
        m, j = self.n_between, self.n_clusters
        rows = np.arange(n)
        centers = np.empty((n, m, x.shape[1]))
        centers[:, 0] = x[rng.choice(j, size=n, p=sizes / sizes.sum())]
        d2 = ((x[None] - centers[:, :1]) ** 2).sum(axis=-1)  # (n, J) squared distance to the nearest center
        for c in range(1, m):  # D^2 seeding, each cluster weighted by its size
            p = d2 * sizes
            total = p.sum(axis=1, keepdims=True)
            p = np.where(total > 0, p / np.where(total > 0, total, 1.0), sizes / sizes.sum())
            picks = (rng.uniform(size=(n, 1)) > np.cumsum(p, axis=1)).sum(axis=1).clip(max=j - 1)
            centers[:, c] = x[picks]
            d2 = np.minimum(d2, ((x[None] - centers[:, c:c + 1]) ** 2).sum(axis=-1))
        for _ in range(lloyd + 1):
            labels = (((x[None, :, None, :] - centers[:, None]) ** 2).sum(axis=-1)).argmin(axis=-1)  # (n, J)
            onehot = np.zeros((n, j, m))
            onehot[rows[:, None], np.arange(j)[None], labels] = 1.0
            weight = onehot * sizes[None, :, None]
            total = weight.sum(axis=1)  # (n, M)
            moved = np.einsum("njm,jq->nmq", weight, x) / np.where(total > 0, total, 1.0)[..., None]
            centers = np.where(total[..., None] > 0, moved, centers)  # an emptied group keeps its center
        return list(onehot)

    def from_partition(self, state, responsibilities: np.ndarray):
        """An M-class state from a one-between-class ``state`` and cluster responsibilities (J, M): one M-step."""
        log_pd, log_pcd, tables = state
        within = np.exp(log_pcd[0][:, None] + self.lca.loglik_by_class(np.zeros(self.n_classes), tables))
        within = within / within.sum(axis=0, keepdims=True)  # (K, P)
        expected = np.stack([(self.counts_t @ responsibilities[:, [d]])[:, 0][None, :] * within
                             for d in range(responsibilities.shape[1])])
        log_pd_new, log_pcd_new, _ = self._m_step(responsibilities[None], expected[None])
        return log_pd_new[0], log_pcd_new[0], [t.copy() for t in tables]

    def seed_states(self, rng: np.random.Generator, tol: float, random_splits: int = RANDOM_SPLITS,
                    bottom_starts: int = BOTTOM_STARTS, kmeans_starts: int = KMEANS_STARTS,
                    iterations: int = SEED_ITERATIONS):
        """EM optima of the model's M from the smaller models' solutions (section 10).

        The one-between-class model (the LCA) is fitted by EM from
        ``bottom_starts`` random starts; from its solution come
        ``kmeans_starts`` k-means++ partitions of the clusters
        (:meth:`kmeans_partitions`) and the chain of splits (each between
        class of the m-1 solution split by :meth:`split`: the median division
        and ``random_splits`` random ones, the best kept, m = 2 .. M). All
        M-class candidates run EM to convergence in one batch.

        Returns
        -------
        states : list
            The M-class EM optima.
        lls : ndarray
            Their log-likelihoods.
        origins : list of str
            ``"kmeans"`` or ``"split"`` per state.
        levels : list of float
            The best LL of the chain at m = 1 .. M - 1.
        """
        random = [self.mm.random_start(rng) for _ in range(bottom_starts)]
        state = self._stack([self.from_values(v, n_between=1) for v in random])
        state, lls, _ = self._iterate(state, iterations, tol)
        best = int(np.argmax(lls))
        bottom = current = (state[0][best], state[1][best], [t[best] for t in state[2]])
        levels = [float(lls[best])]
        tried, origins = [], []
        for m in range(2, self.n_between + 1):
            splits = []
            for d in range(m - 1):
                splits.append(self.split(current, d))
                for _ in range(random_splits):
                    splits.append(self.split(current, d, rng.uniform(size=self.n_clusters)))
            if m == self.n_between:
                tried += splits
                origins += ["split"] * len(splits)
                break
            state, lls, _ = self._iterate(self._stack(splits), iterations, tol)
            best = int(np.argmax(lls))
            current = (state[0][best], state[1][best], [t[best] for t in state[2]])
            levels.append(float(lls[best]))
        partitions = self.kmeans_partitions(bottom, rng, kmeans_starts)
        tried += [self.from_partition(bottom, r) for r in partitions]
        origins += ["kmeans"] * len(partitions)
        state, lls, _ = self._iterate(self._stack(tried), iterations, tol)
        return [(state[0][s], state[1][s], [t[s] for t in state[2]]) for s in range(len(lls))], lls, origins, levels

    def seed_starts(self, rng: np.random.Generator, tol: float, n: int = SEEDED,
                    distinct: float = 1e-3) -> tuple[list[dict], list[int], int]:
        """Starts of the model from the smaller models' solutions (section 10): the ``n`` best distinct EM optima.

        Parameters
        ----------
        rng : numpy.random.Generator
            The random starts of the one-between-class model, the k-means++
            seeding and the random splits.
        tol : float
            EM stops when one step gains less log-likelihood than this.
        n : int
            At most this many starts.
        distinct : float
            EM optima within this LL of a better one count as one (the start search's ``tol``).

        Returns
        -------
        starts : list of dict
            Natural-scale values of the model's free variables, best LL first.
        behind : list of int
            How many of the candidates (k-means partitions and splits) reached each start's optimum.
        n_candidates : int
            Candidates tried.

        Examples
        --------
        >>> em = NestedEM(bm.lca(df, items, 2, cluster="study", n_between_classes=3))   # doctest: +SKIP
        >>> em.seed_starts(np.random.default_rng(1), tol=1e-7)                           # doctest: +SKIP
        """
        states, lls, _, _ = self.seed_states(rng, tol)
        out, seen = [], []
        for s in np.argsort(-lls, kind="stable"):
            if len(out) == n:
                break
            if any(abs(lls[s] - v) < distinct for v in seen):
                continue
            seen.append(float(lls[s]))
            out.append(self.to_values(*states[s]))
        return out, [int(np.sum(np.abs(lls - v) < distinct)) for v in seen], len(lls)
