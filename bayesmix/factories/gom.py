"""Grade of membership (paper section 7, eq. 27-35) and Erosheva's Dirichlet GoM.

Every response y_ij of person j has its own class C_ij (eq. 28); the items of
a person share its membership P(C_ij = k) = g_jk. Three membership models:

- ``"logistic-normal"`` (eq. 30, 34): g_j = softmax(alpha + Gamma' x_j + u_j, 0)
  with K-1 person random intercepts u_j ~ N(0, Sigma), Sigma unrestricted
  (LKJ Cholesky), covariates x_j on the class logits (eq. 33);
- ``"restricted"`` (eq. 35, Hedeker / Vermunt): alpha_cj = alpha_c + lambda_c eta_j,
  one factor eta_j ~ N(0, 1): one integration dimension for any K;
- ``"dirichlet"`` (Erosheva 2002): g_j ~ Dirichlet(a) with an estimated
  concentration a; P(y_ij) = sum_k g_jk P(y_ij | C_ij = k).

The item classes are summed out per response (:class:`~bayesmix.structure.ItemClasses`
over :mod:`bayesmix.marginal.item`); the membership is integrated like any
latent block: quadrature over u_j / eta_j for ML and the per-person
``log_likelihood`` (LOO), sampled by NUTS. For the Dirichlet form NUTS samples
g_j directly (a PyMC Dirichlet per person); ML and ``log_likelihood``
integrate it by importance sampling (:class:`DirichletMembership`), whose Monte
Carlo error :func:`integration_error` reports.

LCA is nested: it is the GoM with C_ij = C_j (eq. 16), the limit of an
infinite membership variance; the 2-class GoM has one parameter more
(Var(alpha_1j)). Results: :func:`membership_scores` (EAP of g_j with
intervals), ``m.profiles``, ``m.class_proportions`` (mean membership),
``class_icc`` = Var(alpha_cj) / (Var(alpha_cj) + pi^2/3) per class logit (eq.
20), :func:`membership_curves` P(C_ij = k | alpha_1j) (figures 2-3; plotted by
:func:`bayesmix.plots.plot_membership_curves`). Section 7 recommends starting
the GoM from the LCA solution: ``m.fit_ml(start=lca_result)`` takes its item
parameters and class intercepts, and the membership SD / loadings start at 2
(``m.start_defaults``). With an LCA-like data set the GoM optimum is the LCA
limit (an unbounded SD): its LL then approaches LL(LCA) from below by the
quadrature error.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.special import gammaln, logsumexp

from .._compile import function
from ..class_model import ClassModel, full_logits
from ..constraints import constrained_model
from ..data import _numeric_matrix, encode
from ..kernels import CategoricalKernel, build_kernels
from ..latent import LatentEffects
from ..model import MixtureModel
from ..options import check_integration
from ..parameters import create, register
from ..priors import DEFAULT_PRIORS, PriorSet

#: prior of the item-specific membership slopes gamma_ci (item_covariates=), as class_slope
GOM_PRIORS = {"class_item_slope": ("Normal", {"mu": 0.0, "sigma": 1.0})}


class GoMPriorSet(PriorSet):
    """Default priors plus the GoM's own names (:data:`GOM_PRIORS`)."""

    def __init__(self, overrides=None):
        super().__init__(overrides, known=set(DEFAULT_PRIORS) | set(GOM_PRIORS))

    def defaults_for(self, name: str):
        return GOM_PRIORS[name] if name in GOM_PRIORS else super().defaults_for(name)
from ..structure import ItemClasses
from ..structure.base import shared_log_prior
from .lca import class_labels

__all__ = ["gom", "MEMBERSHIPS", "DirichletMembership", "membership_scores", "integration_error",
           "membership_curves"]

MEMBERSHIPS = ("logistic-normal", "restricted", "dirichlet")
#: start values of the membership block when a start (e.g. an LCA result) leaves it out:
#: SD / loading 2 per class logit (ICC 0.55), moderate between LCA's infinite variance and none
MEMBERSHIP_START_SD = 2.0
#: importance-sampling nodes of the Dirichlet membership when not given
DIRICHLET_POINTS = 1000


class DirichletMembership(LatentEffects):
    """g_j ~ Dirichlet(a) per person (Erosheva's GoM), a (K,) estimated.

    The latent "z" of this block *is* g_j (dims ``(unit, class)``): NUTS samples
    it as a PyMC Dirichlet, and :meth:`rule` gives importance-sampling nodes
    for ML and the per-person ``log_likelihood``:

        p(y_j) = int p(y_j | g) Dir(g | a) dg ~= sum_q w_q p(y_j | g_q),
        w_q = Dir(g_q | a) / (Q q(g_q)),

    with g_q drawn once (seeded) from a fixed defensive mixture proposal
    q = mean of Dirichlet(b 1) for b in ``proposal`` (default 0.2, 1, 5): the
    weights are graphs of a, the nodes constants, so the estimate is a smooth
    function of the parameters (common random numbers) and unbiased for
    p(y_j); its variance is finite when a_k > 0.1. Only
    ``integration={"method": "monte-carlo", "points": Q, "seed": s}`` applies.
    """

    def __init__(self, class_labels_: Sequence[str], n_units: int, proposal: Sequence[float] = (0.2, 1.0, 5.0)):
        prefix = "membership"
        super().__init__([f"{prefix}_{c}" for c in class_labels_], None, n_units, form="diagonal",
                         dim="class", level_dim="unit", prefix=prefix)
        self.n_classes = len(class_labels_)
        self.proposal = tuple(float(b) for b in proposal)

    @property
    def z_name(self) -> str:
        return self.name("g")

    def variable_names(self) -> tuple[str, ...]:
        return (self.name("g"), self.name("concentration"))

    def coords(self) -> dict:
        return {}

    def build(self, priors: PriorSet) -> None:
        name = self.name("concentration")  # prefix "membership": the prior's name
        a = priors.create(name, dims="class")
        register(name, class_dim="class", class_axis=0, bounded=False, latent=self.prefix)
        self.params["concentration"] = a
        self.z = pm.Dirichlet(self.z_name, a=a + pt.zeros((self.n_levels, 1)), dims=("unit", "class"))
        register(self.z_name, class_dim="class", class_axis=1, bounded=False, latent=self.prefix)
        self.params["z"] = self.z
        pm.Deterministic(self.name("mean"), a / a.sum(), dims="class")

    def values(self, z=None):
        """g (..., N or 1, K): the sampled g_j, or importance nodes."""
        return self.z if z is None else z

    def unit_values(self, z=None):
        return self.values(z)

    def covariance(self):
        a = self.params["concentration"]
        m = a / a.sum()
        return (pt.diag(m) - pt.outer(m, m)) / (a.sum() + 1.0)

    def proposal_nodes(self, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Nodes g_q (Q, K) (entries >= 1e-300) and log q(g_q) (Q,) of the defensive mixture."""
        rng = np.random.default_rng(seed)
        k, bs = self.n_classes, np.array(self.proposal)
        comp = rng.integers(len(bs), size=points)
        b = bs[comp][:, None]
        # log Gamma(b) draws without underflow: log G(b + 1) + log(U) / b
        log_gamma = np.log(rng.gamma(b + 1.0, size=(points, k))) + np.log(rng.uniform(size=(points, k))) / b
        log_g = np.maximum(log_gamma - logsumexp(log_gamma, axis=1, keepdims=True), np.log(1e-300))
        log_dir = gammaln(k * bs)[None, :] - k * gammaln(bs)[None, :] + (bs[None, :] - 1.0) * log_g.sum(1, keepdims=True)
        log_q = logsumexp(log_dir, axis=1) - np.log(len(bs))
        return np.exp(log_g), log_q

    def rule(self, method: str, points: int | None, seed: int = 0):
        """Importance nodes g_q (Q, K) and log-weights log Dir(g_q | a) - log q(g_q) - log Q (a graph of a)."""
        _check_dirichlet_method(method)
        points = DIRICHLET_POINTS if points is None else points
        nodes, log_q = self.proposal_nodes(points, seed)
        a = self.params["concentration"]
        log_dir = (pt.gammaln(a.sum()) - pt.gammaln(a).sum()
                   + pt.dot(pt.as_tensor(np.log(nodes)), a - 1.0))
        return nodes, log_dir - log_q - np.log(points)

    def random_start(self, rng: np.random.Generator) -> dict:
        return {self.name("concentration"): rng.uniform(0.3, 2.0, size=self.n_classes)}

    def sampler_start(self) -> np.ndarray:
        """Where NUTS starts g_j: equal membership (the sampler's hook for a non-normal latent)."""
        return np.full((self.n_levels, self.n_classes), 1.0 / self.n_classes)


class _MeanMembership(ClassModel):
    """The class-model slot of a Dirichlet GoM: no logits of its own; log prior = log E[g] = log a / sum a."""

    def __init__(self, n_classes: int, latent: DirichletMembership):
        super().__init__(n_classes)
        self.latent = latent

    def build(self, priors, fixed=None) -> None:  # the concentration lives in the latent block
        return None

    def log_prior(self, params=None, offset=None):
        a = self.latent.params["concentration"]
        return pt.log(a / a.sum())[None, :]

    def random_start(self, rng) -> dict:
        return {}


def _check_dirichlet_method(method: str) -> None:
    if method != "monte-carlo":
        raise ValueError(f"membership='dirichlet' is integrated by importance sampling: use "
                         f"integration={{'method': 'monte-carlo', 'points': Q}}, not {method!r}.")


def _item_covariate_terms(data: pd.DataFrame, items: Sequence[str], covariates: Sequence[str] | None,
                          item_covariates) -> list[tuple[str, str]]:
    """(covariate, item) pairs of item-specific membership effects gamma_ci (section 7), checked on ``data``."""
    if item_covariates is None:
        return []
    if isinstance(item_covariates, str):
        raise ValueError("item_covariates must be a list of column names (an effect for every item) or a dict "
                         "column -> list of items, e.g. item_covariates={'x': ['A', 'B']}; not a string.")
    if isinstance(item_covariates, Mapping):
        pairs = {str(c): ([targets] if isinstance(targets, str) else list(targets))
                 for c, targets in item_covariates.items()}
    else:
        pairs = {str(c): list(items) for c in item_covariates}
    names = list(pairs)
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise ValueError(f"item_covariates names column(s) {missing} that are not in the DataFrame; "
                         f"available columns: {list(data.columns)}.")
    for c, targets in pairs.items():
        if c in items:
            raise ValueError(f"item_covariates column {c!r} is also an item; use it once.")
        unknown = [t for t in targets if t not in items]
        if unknown or not targets:
            raise ValueError(f"item_covariates[{c!r}] names {unknown or 'no'} item(s) of items={list(items)}; "
                             "give the items whose class logits depend on it.")
        if c in (covariates or []) and set(targets) == set(items):
            raise ValueError(f"{c!r} is in covariates and has item-specific effects on every item in "
                             "item_covariates: the common effect is not identified; drop it from one of them or "
                             "give the item-specific effect for a subset of items.")
    _numeric_matrix(data, names, "item_covariates")  # numeric and complete (before any graph)
    return [(c, t) for c, targets in pairs.items() for t in targets]


def _check(n_classes, membership, covariates, integration, item_covariates=None) -> dict:
    if item_covariates and membership == "dirichlet":
        raise ValueError("item_covariates (section 7's item-specific membership effects) need "
                         "membership='logistic-normal' or 'restricted'; the Dirichlet membership has no regression.")
    if membership not in MEMBERSHIPS:
        raise ValueError(f"membership={membership!r} is unknown; use one of {MEMBERSHIPS}.")
    if isinstance(n_classes, (int, np.integer)) and not isinstance(n_classes, bool) and n_classes < 2:
        raise ValueError("a grade-of-membership model needs n_classes >= 2 (membership is partial between classes).")
    if membership == "dirichlet":
        if covariates:
            raise ValueError("covariates on the membership (eq. 33) need membership='logistic-normal' or "
                             "'restricted'; the Dirichlet membership has no regression.")
        given = dict(integration or {})
        if given.get("adaptive"):
            raise ValueError("adaptive quadrature does not apply to a Dirichlet membership (importance sampling); "
                             "drop integration['adaptive'].")
        _check_dirichlet_method(given.get("method", "monte-carlo"))
        integration = {"method": "monte-carlo", "points": DIRICHLET_POINTS, "seed": 0, **given}
    return check_integration(integration)


def gom(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    membership: str = "logistic-normal",
    covariates: Sequence[str] | None = None,
    item_covariates: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    link: str = "probit",
    item_types: str | Mapping[str, str] | None = None,
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
) -> MixtureModel:
    """Grade-of-membership model on wide data (one row per person), section 7.

    P(Y_ij = y | C_ij = k) from the item kernels (eq. 28: binary/ordinal with a
    probit (default, as the paper) or logit link, nominal, continuous), one
    class per response; the person's membership P(C_ij = k) is

    - ``"logistic-normal"``: multinomial logits alpha_k + gamma_k' x_j + u_jk,
      u_j ~ N(0, Sigma) over the K-1 free classes (eq. 30, 33, 34); the
      intercepts and slopes are ``class_intercept`` / ``class_slope``, Sigma's
      Cholesky factor ``membership_chol`` (``membership_sd`` for K = 2);
    - ``"restricted"``: alpha_kj = alpha_k + lambda_k eta_j (eq. 35),
      ``membership_loading``; equals the logistic-normal form for K = 2;
    - ``"dirichlet"``: g_j ~ Dirichlet(a), ``membership_concentration`` a
      (prior Gamma(2, 2)), sampled as ``membership_g`` by NUTS and integrated by
      importance sampling for ML (``integration={"method": "monte-carlo",
      "points": 1000, "seed": 0}`` by default; see :class:`DirichletMembership`).

    ``integration``: quadrature over u_j / eta_j for ML and the per-person
    ``log_likelihood`` (default trapezoid, 30 points per dimension in 1-D, 15
    in 2-D; K-1 dimensions for the logistic-normal form, 1 for the restricted).
    Missing responses add nothing. The BIC sample size is the number of persons.

    Parameters
    ----------
    data : DataFrame
        One row per person; missing responses NaN.
    items : list of str
        Item columns (types inferred or given by ``item_types``).
    n_classes : int
        Number of pure types K.
    membership : ``"logistic-normal"``, ``"restricted"`` or ``"dirichlet"``
        The membership distribution (above).
    covariates : list of str, optional
        Person covariates of the membership logits (eq. 33; not with Dirichlet).
    item_covariates : list of str or dict, optional
        Item-specific covariate effects on the membership (section 7: the
        product of an item dummy and a covariate): the class logits of item i
        become alpha_cj + gamma_ci x_j (``class_item_slope``, dims
        ``(item_covariate_term, class_free)``, terms ``"x:item"``), so the
        membership is item-specific. A list gives every item its own effect of
        each column; a dict ``{column: [items]}`` only the listed items (a
        column may then also be in ``covariates``: the listed items deviate
        from the common effect). Not with the Dirichlet form.
    link : ``"probit"`` or ``"logit"``
        Of binary and ordinal items.
    item_types : str or dict, optional
        As in :func:`bayesmix.lca`.
    missing_codes : list or dict, optional
        Item codes that mean "missing" (survey codes such as -9, 9 or 999):
        ``[-9, 999]`` for every item or ``{"A": [9], "B": [-1]}`` per item;
        those cells become missing and leave the likelihood (full information).
        Without it, suspicious codes warn and are taken as real categories.
    priors : dict, optional
        Overrides by parameter name.
    integration : dict, optional
        Quadrature (or importance sampling) over the membership effects.
    fixed, equal : dict or list, optional
        Constraints by parameter name and coordinate labels (Mplus ``@`` and
        ``(1)``), e.g. ``fixed={"binary_logit[class1, A]": 0.0}``,
        ``equal={"binary_logit[*, A]": "class"}``; they hold for every estimator
        and leave the parameter count (:mod:`bayesmix.constraints`).

    Returns
    -------
    MixtureModel
        ``fit_ml``, ``fit_map``, ``fit_laplace``, ``sample``, ``profiles``;
        ``class_probabilities`` and the ML ``posterior_probabilities`` are the
        EAP membership scores E[g_j | y_j] (:func:`membership_scores` adds
        intervals); ``class_proportions`` the mean membership; ``class_icc``
        (logistic-normal, restricted) the ICC of each membership logit;
        :func:`membership_curves` the curves P(C_ij = k | alpha_1j).
        ``fit_ml(start=lca_result)`` starts from an LCA solution (section 7).

    Examples
    --------
    >>> df = bm.datasets.load("carcinoma")
    >>> m = bm.gom(df, list("ABCDEFG"), n_classes=2)
    >>> ml = m.fit_ml(starts=10, seed=1)         # doctest: +SKIP
    >>> m.class_probabilities(bm.point_posterior(m, ml.point)).head()   # doctest: +SKIP
    >>> lca = bm.lca(df, list("ABCDEFG"), 2, link="probit").fit_ml(seed=1)   # doctest: +SKIP
    >>> ml = m.fit_ml(start=lca, seed=1)         # section 7: start at the LCA solution   # doctest: +SKIP
    """
    call = {"factory": "gom", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    integration = _check(n_classes, membership, covariates, integration, item_covariates)
    terms = _item_covariate_terms(data, items, covariates, item_covariates) if isinstance(data, pd.DataFrame) else []
    term_columns = list(dict.fromkeys(c for c, _ in terms))
    person = list(covariates or [])
    encoded = encode(data, items, n_classes, item_types=item_types,
                     covariates=person + [c for c in term_columns if c not in person] or None,
                     missing_codes=missing_codes)
    x_item = None
    if terms:  # the item covariates' columns out of the encoded covariates (rows as encoded)
        all_names = list(encoded.covariate_names)
        x_item = encoded.covariates[:, [all_names.index(c) for c in term_columns]]
        keep = [all_names.index(c) for c in person]
        encoded.covariates = encoded.covariates[:, keep] if person else None
        encoded.covariate_names = person
    prior_set = GoMPriorSet(priors)
    labels = class_labels(n_classes)
    kernels = build_kernels(encoded, link=link)
    n = encoded.n_units
    coords = {"class": labels, "unit": list(encoded.units), "item": encoded.item_names()}
    for kernel in kernels:
        coords.update(kernel.coords())

    with constrained_model(coords, fixed, equal) as model:
        for kernel in kernels:
            kernel.build(prior_set)
        by_item = pt.concatenate([kernel.loglik_by_item() for kernel in kernels], axis=-2)  # (N, I, K)
        shared = None
        if membership == "dirichlet":
            latent = DirichletMembership(labels, n)
            latent.build(prior_set)
            class_model = _MeanMembership(n_classes, latent)
            log_membership = lambda z: pt.log(latent.values(z))  # noqa: E731
        else:
            class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)
            for name, values in class_model.coords(labels).items():
                model.add_coord(name, values)
            class_model.build(prior_set)
            # effect labels: the free classes (relabeled with them); the factor form keeps its own labels
            effect_labels = labels[:-1] if membership == "logistic-normal" else [f"{c}_logit" for c in labels[:-1]]
            latent = LatentEffects(effect_labels, None, n, form="cholesky" if membership == "logistic-normal"
                                   else "factor", dim="class_free", level_dim="unit", prefix="membership")
            latent.build(prior_set)
            _membership_icc(latent, membership, labels)
            if terms:
                item_axis = [name for kernel in kernels for name in kernel.names]
                item_offset = _item_logits(model, terms, term_columns, item_axis, x_item, prior_set)
                log_membership = lambda z: pt.special.log_softmax(full_logits(  # noqa: E731  (..., N, I, K)
                    class_model.logits(offset=latent.unit_values(z))[..., None, :] + item_offset), axis=-1)
            else:
                log_membership = lambda z: class_model.log_prior(offset=latent.unit_values(z))  # noqa: E731
            if not terms:
                shared = shared_log_prior(class_model, latent)
        tables = None
        if all(isinstance(kernel, CategoricalKernel) for kernel in kernels):
            fixed_tables = [(kernel.log_prob_table(), kernel.onehot3) for kernel in kernels]
            tables = lambda z: fixed_tables  # noqa: E731  (the items do not depend on the membership)
        structure = ItemClasses(log_membership, lambda z: by_item, n, latent=latent, per_item=bool(terms),
                                shared_log_membership_at=shared, tables_at=tables)
        structure.add_potential()
    prior_set.check_unused()
    mm = MixtureModel(
        model=model, data=encoded, kernels=kernels, class_model=class_model, class_labels=labels,
        structure=structure, name="gom",
        options={"call": call, "membership": membership, "link": link,
                 "item_covariates": [f"{c}:{t}" for c, t in terms]},
        integration=integration, sample_size=n, sample_size_basis="persons (rows)",
    )
    mm.start_defaults = _start_defaults(latent, membership)
    if x_item is not None:
        mm.item_covariate_means = dict(zip(term_columns, x_item.mean(axis=0)))
    return mm


def _membership_icc(latent: LatentEffects, membership: str, labels: Sequence[str]) -> None:
    """``class_icc`` = Var(alpha_cj) / (Var(alpha_cj) + pi^2/3) per free class logit (eq. 20 for alpha_1j).

    Logistic-normal: dims ``class_free`` (recomputed from Sigma when NUTS draws
    are relabeled, as for the two-level LCA); restricted: Var = lambda_c^2,
    dims ``membership_logit`` (the class logits, not relabeled).
    """
    var = pt.diagonal(latent.covariance())
    dims = "class_free"
    if membership == "restricted":
        dims = "membership_logit"
        pm.modelcontext(None).add_coord(dims, list(labels[:-1]))
    pm.Deterministic("class_icc", var / (var + np.pi**2 / 3), dims=dims)


def _item_logits(model, terms, term_columns, item_names, x_item: np.ndarray, prior_set: PriorSet):
    """Item-specific class-logit offsets gamma_ci x_j, (N, I, K-1), from ``class_item_slope`` (T, K-1).

    ``item_names``: the item axis of the kernels' concatenated ``loglik_by_item`` (grouped by kind).
    """
    model.add_coord("item_covariate_term", [f"{c}:{t}" for c, t in terms])
    slope = create(prior_set, "class_item_slope", dims=("item_covariate_term", "class_free"), class_axis=1,
                   bounded=False, class_dim="class", reference_coded=True)
    # design (P, I, T): 1 where term t is (covariate p, item i); G (P, I, K-1) = design @ slope
    design = np.zeros((len(term_columns), len(item_names), len(terms)))
    for t, (c, item) in enumerate(terms):
        design[term_columns.index(c), item_names.index(item), t] = 1.0
    g = pt.tensordot(pt.as_tensor(design), slope, axes=[[2], [0]])
    return pt.tensordot(pt.as_tensor(x_item), g, axes=[[1], [0]])


def _start_defaults(latent, membership: str) -> dict:
    """Membership values for starts that leave them out (e.g. an LCA result, section 7's advice)."""
    if membership == "dirichlet":
        return {latent.name("concentration"): np.full(latent.n_classes, 1.0)}
    out = {}
    for name, value in latent.random_start(np.random.default_rng(0)).items():
        if name == latent.name("chol"):  # packed lower triangle: SD on the diagonal, no correlation
            d = latent.n_effects
            out[name] = np.array([MEMBERSHIP_START_SD if i == j else 0.0 for i in range(d) for j in range(i + 1)])
        elif name in (latent.name("sd"), latent.name("loading_first"), latent.name("loading_rest")):
            out[name] = np.full(np.shape(value), MEMBERSHIP_START_SD)
    return out


# ---------------------------------------------------------------------- results

def _points(mm: MixtureModel, fit, max_draws: int) -> list[dict]:
    """Parameter points (name -> value, integrated effects excluded) of an ML result or a posterior."""
    names = [rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    if hasattr(fit, "point"):
        return [{k: fit.point[k] for k in names}]
    posterior = fit["posterior"]
    posterior = posterior.dataset if hasattr(posterior, "dataset") else posterior
    arrays = {k: posterior[k].transpose("chain", "draw", ...).to_numpy() for k in names}
    n_chain, n_draw = next(iter(arrays.values())).shape[:2]
    pairs = [(c, d) for c in range(n_chain) for d in range(n_draw)]
    pairs = pairs[:: max(1, int(np.ceil(len(pairs) / max_draws)))]
    return [{k: v[c, d] for k, v in arrays.items()} for c, d in pairs]


def _node_function(mm: MixtureModel, integration: dict | None):
    """Compiled: parameters -> (f_j(z_q) (Q, N), log w_q (Q,), g_j(z_q) (Q, N, K))."""
    settings = mm.settings(integration)
    key = ("gom_nodes", tuple(sorted(settings.items())))
    if key not in mm._cache:
        nodes, logw = mm.rule(settings)
        z = pt.as_tensor(nodes[:, None, :])
        rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        outputs = [mm.structure.conditional_loglik(z), pt.as_tensor(logw) + pt.zeros(len(nodes)),
                   mm.structure.membership(z)]
        mm._cache[key] = ([rv.name for rv in rvs], function(rvs, outputs))
    return mm._cache[key]


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Quantile over axis 0 of values (S, N, K) with weights (S, N)."""
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, axis=0)
    w = np.take_along_axis(np.broadcast_to(weights[..., None], values.shape), order, axis=0)
    cum = np.cumsum(w, axis=0) / w.sum(axis=0, keepdims=True)
    idx = np.clip((cum < q).sum(axis=0), 0, len(values) - 1)
    return np.take_along_axis(v, idx[None], axis=0)[0]


def membership_scores(mm: MixtureModel, fit, hdi_prob: float = 0.9, integration: dict | None = None,
                      max_draws: int = 50) -> pd.DataFrame:
    """Per-person membership scores g_jk: posterior mean (EAP), sd and an equal-tailed interval.

    The posterior of g_j given y_j at the parameters of ``fit`` (an ML
    result), or pooled over up to ``max_draws`` posterior draws (a NUTS /
    Laplace DataTree), by the quadrature / importance nodes of the model's
    ``integration``. Rows: persons; columns (class, statistic).
    """
    names, fn = _node_function(mm, integration)
    values, weights = [], []
    for point in _points(mm, fit, max_draws):
        f, logw, g = fn(*[point[k] for k in names])
        a = f + logw[:, None]
        weights.append(np.exp(a - logsumexp(a, axis=0, keepdims=True)))
        values.append(np.broadcast_to(g, (len(logw), mm.n_units, mm.n_classes)))
    w = np.concatenate(weights) / len(weights)
    v = np.concatenate(values)
    mean = np.einsum("sn,snk->nk", w, v)
    sd = np.sqrt(np.maximum(np.einsum("sn,snk->nk", w, v**2) - mean**2, 0.0))
    lo = _weighted_quantile(v, w, (1 - hdi_prob) / 2)
    hi = _weighted_quantile(v, w, (1 + hdi_prob) / 2)
    stats = {"mean": mean, "sd": sd, "lower": lo, "upper": hi}
    columns = pd.MultiIndex.from_product([mm.class_labels, list(stats)], names=["class", "statistic"])
    table = np.stack([stats[s] for s in stats], axis=-1).reshape(mm.n_units, -1)
    return pd.DataFrame(table, index=mm.data.units, columns=columns)


def integration_error(mm: MixtureModel, fit, integration: dict | None = None) -> dict[str, float]:
    """Integrated log-likelihood at an ML result's estimates with its numerical-integration error.

    Monte Carlo / importance rules (the Dirichlet membership, ``method=
    "monte-carlo"``): the delta-method standard error of the summed log of
    the per-person estimates. All persons share the Q nodes, so their errors
    are correlated: sum_j log p_j - log p_j ~= mean_q R_q - N with
    R_q = sum_j w_q p(y_j | z_q) / p_j, and the SE is sd_q(R_q) / sqrt(Q)
    (i.i.d. nodes; heavy-tailed weights make it an underestimate -- compare
    two seeds). Product rules (trapezoid, Gauss-Hermite): the change of the LL
    when the points per dimension are doubled.
    """
    settings = mm.settings(integration)
    names, fn = _node_function(mm, settings)
    point = _points(mm, fit, 1)[0]
    f, logw, _ = fn(*[point[k] for k in names])
    a = f + logw[:, None]
    per_person = logsumexp(a, axis=0)
    loglik = float(per_person.sum())
    q = len(logw)
    if settings["method"] == "monte-carlo":
        ratio = np.exp(a + np.log(q) - per_person[None, :]).sum(axis=1)  # R_q, mean N over the nodes
        se = float(ratio.std(ddof=1) / np.sqrt(q))
        return {"loglik": loglik, "mc_se": se, "points": q}
    points = settings["points"] or round(q ** (1 / mm.latent.n_dims))
    finer = {**settings, "points": 2 * points}
    names2, fn2 = _node_function(mm, finer)
    f2, logw2, _ = fn2(*[point[k] for k in names2])
    fine = float(logsumexp(f2 + logw2[:, None], axis=0).sum())
    return {"loglik": loglik, "quadrature_error": abs(fine - loglik), "points": points}


def _curve_function(mm: MixtureModel):
    """Compiled: parameters -> (mu (K-1,) at the covariate means, item offsets (I or 1, K-1), Sigma (K-1, K-1))."""
    if "gom_curves" not in mm._cache:
        cm, latent = mm.class_model, mm.latent
        mu = cm.params["class_intercept"]
        if cm.covariates is not None:
            mu = mu + pt.dot(pt.as_tensor(cm.covariates.mean(axis=0)), cm.params["class_slope"])
        offset = pt.zeros((1, mm.n_classes - 1))
        if "class_item_slope" in mm.model.named_vars:  # gamma_ci at the item covariates' means
            terms = mm.options["item_covariates"]
            means = getattr(mm, "item_covariate_means", {})
            names = [name for kernel in mm.kernels for name in kernel.names]
            rows = np.zeros((len(names), len(terms)))
            for t, term in enumerate(terms):
                column, item_name = term.rsplit(":", 1)
                rows[names.index(item_name), t] = means[column]
            offset = pt.dot(pt.as_tensor(rows), mm.model["class_item_slope"])
        rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        mm._cache["gom_curves"] = ([rv.name for rv in rvs], function(rvs, [mu, offset, latent.covariance()]))
    return mm._cache["gom_curves"]


def _curves_at(mu: np.ndarray, offset: np.ndarray, sigma: np.ndarray, grid: np.ndarray, nodes: int) -> np.ndarray:
    """P(C_ij = k | alpha_1j = mu_1 + sd_1 t) for t in ``grid``, (G, K).

    The other logits given alpha_1 are normal (mean mu_r + Sigma_r1 / Sigma_11 (alpha_1 - mu_1),
    covariance Sigma_rr - Sigma_r1 Sigma_1r / Sigma_11: zero for the restricted form, eq. 35) and
    integrated by Gauss-Hermite; item-specific logits (item covariates) are averaged over items.
    """
    d = len(mu)
    sd1 = np.sqrt(sigma[0, 0])
    alpha1 = mu[0] + sd1 * grid  # (G,)
    if d == 1:
        logits = alpha1[:, None, None]  # (G, 1 node, 1)
        weights = np.ones(1)
    else:
        beta = sigma[1:, 0] / sigma[0, 0]
        cond = sigma[1:, 1:] - np.outer(sigma[1:, 0], sigma[0, 1:]) / sigma[0, 0]
        vals, vecs = np.linalg.eigh((cond + cond.T) / 2)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
        x, w = np.polynomial.hermite_e.hermegauss(nodes)
        grids = np.meshgrid(*[x] * (d - 1), indexing="ij")
        points = np.stack([g.ravel() for g in grids], axis=-1)  # (Q, d-1)
        weights = np.prod(np.stack(np.meshgrid(*[w] * (d - 1), indexing="ij"), -1).reshape(-1, d - 1), axis=1)
        rest = (mu[1:] + beta * (alpha1[:, None] - mu[0]))[:, None, :] + (points @ root.T)[None]  # (G, Q, d-1)
        logits = np.concatenate([np.broadcast_to(alpha1[:, None, None], rest.shape[:2] + (1,)), rest], axis=-1)
        weights = weights / weights.sum()
    logits = logits[:, :, None, :] + offset[None, None]  # (G, Q, I, K-1)
    full = np.concatenate([logits, np.zeros(logits.shape[:-1] + (1,))], axis=-1)
    probs = np.exp(full - logsumexp(full, axis=-1, keepdims=True)).mean(axis=2)  # (G, Q, K)
    return np.einsum("gqk,q->gk", probs, weights)


def membership_curves(mm: MixtureModel, fit, grid: Sequence[float] | None = None, hdi_prob: float = 0.9,
                      max_draws: int = 200, nodes: int = 20) -> pd.DataFrame:
    """Conditional class probability curves P(C_ij = k | alpha_1j) (figures 2-3 of section 5, eq. 30, 34-35).

    The membership of a response as a function of the person's first class
    logit alpha_1j, on its standard scale t = (alpha_1j - E alpha_1j) / SD
    (as the paper's figures 2 and 3): alpha_1j = alpha_1 + SD(alpha_1j) t.
    For K = 2 the curve is Phi_logistic(alpha_1 + SD t) (eq. 30); for K > 2
    the other logits are integrated over their normal distribution given
    alpha_1j (degenerate for the restricted form, eq. 35). A large variance
    (a high ``class_icc``) gives steep curves, 0 or 1 for most persons: the
    LCA limit. Covariates (and item covariates, averaged over items) are
    held at their sample means.

    Parameters
    ----------
    mm : MixtureModel
        A ``bm.gom`` model with ``membership="logistic-normal"`` or ``"restricted"``.
    fit : MLResult or DataTree
        An ML (or MAP) result: the curves at its estimates; a posterior
        (NUTS / Laplace): the posterior mean and an equal-tailed interval over
        up to ``max_draws`` draws.
    grid : sequence of float, optional
        Values of the standardized alpha_1j (default 61 points on [-3, 3]).
    hdi_prob : float
        Probability of the posterior interval.
    max_draws : int
        Posterior draws used (thinned evenly).
    nodes : int
        Gauss-Hermite nodes per further logit (K > 2).

    Returns
    -------
    DataFrame
        Index ``alpha1_std`` (the grid). ML: one column per class; posterior:
        columns (class, statistic) with statistics mean, lower, upper.

    Examples
    --------
    >>> m = bm.gom(df, items, 2)                                          # doctest: +SKIP
    >>> curves = membership_curves(m, m.fit_ml(starts=5, seed=1))         # doctest: +SKIP
    >>> curves["class1"].plot()                                           # doctest: +SKIP
    """
    if mm.name != "gom" or mm.options.get("membership") == "dirichlet":
        raise ValueError("membership_curves needs a bm.gom model with membership='logistic-normal' or "
                         "'restricted' (the curves are of the class logit alpha_1j; a Dirichlet membership has none).")
    if not 0 < hdi_prob < 1:
        raise ValueError(f"hdi_prob must be in (0, 1), got {hdi_prob!r}.")
    grid = np.linspace(-3.0, 3.0, 61) if grid is None else np.asarray(grid, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError("grid must be a non-empty sequence of finite numbers (standardized alpha_1j values).")
    names, fn = _curve_function(mm)
    curves = np.stack([_curves_at(*fn(*[point[k] for k in names]), grid, nodes)
                       for point in _points(mm, fit, max_draws)])  # (S, G, K)
    index = pd.Index(grid, name="alpha1_std")
    if hasattr(fit, "point"):
        return pd.DataFrame(curves[0], index=index, columns=pd.Index(mm.class_labels, name="class"))
    stats = {"mean": curves.mean(0), "lower": np.quantile(curves, (1 - hdi_prob) / 2, axis=0),
             "upper": np.quantile(curves, (1 + hdi_prob) / 2, axis=0)}
    columns = pd.MultiIndex.from_product([mm.class_labels, list(stats)], names=["class", "statistic"])
    table = np.stack([stats[s] for s in stats], axis=-1).reshape(len(grid), -1)
    return pd.DataFrame(table, index=index, columns=columns)
