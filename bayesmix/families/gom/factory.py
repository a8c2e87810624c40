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
g_j through its standardized log-ratios (``membership_w``); ML and ``log_likelihood``
integrate it exactly (p(y_j | g) is a polynomial in g: a Gauss-Jacobi rule in the
stick-breaking coordinates, :class:`DirichletMembership`) or by importance sampling
(``method="monte-carlo"``), whose Monte Carlo error :func:`integration_error` reports.

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

from ...class_model import ClassModel, class_labels, full_logits
from ...constraints import constrained_model
from ...data import encode, numeric_matrix
from ...kernels import build_kernels
from ...latent import LatentEffects
from ...latent.dirichlet import (DIRICHLET_METHODS, DIRICHLET_POINTS, DirichletMembership, MeanMembership, check_dirichlet_method,
                                 check_gauss_jacobi_points, gauss_jacobi_points)
from ...model import MixtureModel
from .model import GoMModel
from ...options import check_integration
from ...parameters import create
from ...priors import PriorSet
from ...structure import ItemClasses
from ...structure.base import shared_log_prior

__all__ = ["gom", "MEMBERSHIPS", "GoMPriorSet", "GOM_PRIORS"]

#: prior of the item-specific membership slopes gamma_ci (item_covariates=), as class_slope
GOM_PRIORS = {"class_item_slope": ("Normal", {"mu": 0.0, "sigma": 1.0})}


class GoMPriorSet(PriorSet):
    """Default priors plus the GoM's own names (:data:`GOM_PRIORS`)."""

    def __init__(self, overrides=None):
        super().__init__(overrides, extra=GOM_PRIORS)


MEMBERSHIPS = ("logistic-normal", "restricted", "dirichlet")
#: start values of the membership block when a start (e.g. an LCA result) leaves it out:
#: SD / loading 2 per class logit (ICC 0.55), moderate between LCA's infinite variance and none
MEMBERSHIP_START_SD = 2.0


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
    numeric_matrix(data, names, "item_covariates")  # numeric and complete (before any graph)
    return [(c, t) for c, targets in pairs.items() for t in targets]


def _check(n_classes, membership, covariates, integration, item_covariates=None, n_items: int = 1) -> dict:
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
            raise ValueError("adaptive quadrature does not apply to a Dirichlet membership (an exact Gauss-Jacobi "
                             "rule, or importance sampling); drop integration['adaptive'].")
        method = given.get("method", "gauss-jacobi")
        check_dirichlet_method(method)
        points = gauss_jacobi_points(n_items) if method == "gauss-jacobi" else DIRICHLET_POINTS
        integration = {"method": method, "points": points, "seed": 0, **given}
        if method == "gauss-jacobi" and isinstance(n_classes, (int, np.integer)):
            check_gauss_jacobi_points(int(integration["points"]), int(n_classes))
        return check_integration(integration, DIRICHLET_METHODS)
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
    missing_covariates: str = "error",
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
      (prior Gamma(2, 2)), ``membership_g`` sampled by NUTS through its
      standardized log-ratios ``membership_w`` (exact; no funnel in a, see
      :class:`~bayesmix.latent.dirichlet.DirichletMembership`) and integrated
      exactly for ML and ``log_likelihood`` by a Gauss-Jacobi product rule in the
      stick-breaking coordinates (``integration={"method": "gauss-jacobi",
      "points": ceil((I + 2) / 2)}`` by default, (points)^(K-1) nodes); importance
      sampling with ``integration={"method": "monte-carlo", "points": 1000, "seed": 0}``.

    ``integration``: quadrature over u_j / eta_j for ML and the per-person
    ``log_likelihood`` (default trapezoid, 30 points per dimension in 1-D, 15
    in 2-D; K-1 dimensions for the logistic-normal form, 1 for the restricted).
    Without covariates the integral is computed once per unique response
    pattern (``m.structure.patterns``; exact), for ML, LOO and
    ``m.sample(latent="integrated")``, which samples only the structural
    parameters (with nutpie: ``nuts={"adaptation": "low_rank",
    "mass_matrix_eigval_cutoff": 2}`` for the ridge between the membership SD
    and the profiles). Missing responses add nothing. The BIC sample size is the number of persons.

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
    missing_covariates : ``"error"`` or ``"drop"``
        The policy for rows with a missing class or item covariate: ``"error"`` (default)
        refuses them, naming the column; ``"drop"`` leaves them out with a
        warning naming the count and the columns. The kept rows keep their
        labels, so ``bm.compare(..., units="common")`` sets the model against
        one fitted to all rows.

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
    integration = _check(n_classes, membership, covariates, integration, item_covariates,
                         n_items=len(items) if isinstance(items, Sequence) else 1)
    terms = _item_covariate_terms(data, items, covariates, item_covariates) if isinstance(data, pd.DataFrame) else []
    term_columns = list(dict.fromkeys(c for c, _ in terms))
    person = list(covariates or [])
    encoded = encode(data, items, n_classes, item_types=item_types,
                     covariates=person + [c for c in term_columns if c not in person] or None,
                     missing_codes=missing_codes, missing_covariates=missing_covariates)
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
            latent = DirichletMembership(labels, n, n_items=len(items))
            latent.build(prior_set)
            class_model = MeanMembership(n_classes, latent)
            log_membership = lambda z: pt.log(latent.values(z))  # noqa: E731
            shared = log_membership  # a node g_q (Q, 1, K) is the same for every person: the pattern path
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
        if all(kernel.discrete for kernel in kernels):
            fixed_tables = [kernel.tables() for kernel in kernels]
            tables = lambda z: fixed_tables  # noqa: E731  (the items do not depend on the membership)
        structure = ItemClasses(log_membership, lambda z: by_item, n, latent=latent, per_item=bool(terms),
                                shared_log_membership_at=shared, tables_at=tables)
        structure.add_potential()
    prior_set.check_unused()
    mm = GoMModel(
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


