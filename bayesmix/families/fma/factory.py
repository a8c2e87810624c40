"""Factor mixture analysis and FMA-GoM (paper section 8, eq. 36-41).

FMA / mixture IRT (eq. 36-37): person j has a class C_j and a standard
normal factor eta_j; given both the items are independent,

    P(Y_ij = 1 | C_j = c, eta_j) = F(tau_ic + lambda_ic eta_j)          (36)
    P(C_j = c) = exp(alpha_c) / sum_k exp(alpha_k)                         (37)

with F the normal (probit, the paper's Phi) or logistic distribution
function. The factor enters every item kernel as a ``shift`` of its linear
predictor, lambda_i eta_j (class-invariant loadings) or lambda_ic eta_j
(class-specific), so ordinal and continuous items work the same way
(ordinal: P(y <= k) = F(tau_k - lambda eta); continuous: mean + lambda eta).
``n_classes=1`` is the ordinary one-factor IRT model (2PL with the logit
link, normal-ogive 2PL with the probit link).

FMA-GoM (eq. 38-41): the class is item-specific, C_ij, with person-level
membership logits alpha_cj = alpha_c + sd_c z_cj, integrated jointly with
eta_j (2-D quadrature for K = 2); the item-level marginalization is
:class:`~bayesmix.structure.ItemClasses` (the GoM structure) with the factor
in the kernels' shift. For K = 2 it has one parameter more than
FMA (the SD of alpha_1j); as the SD grows the item classes of a person
coincide and FMA is the limit (the ICC of alpha_1j, sd^2 / (sd^2 + pi^2/3),
tends to 1).

eta_j ~ N(0, 1) in every class by default: class-specific factor means are
absorbed by the class-specific intercepts. ``fma(...,
factor_variance="class-specific")`` lets Var(eta | C = k) = sd_k^2 differ
by class with sd_1 = 1 (invariant loadings), as Mplus's mixture IRT does
(Mplus's FMA of Table 6 counts one parameter more than the default here).

The factor's sign is identified by a positive loading of the first item
(in every class when loadings are class-specific: each class's factor could
flip on its own); class labels are aligned after NUTS by the usual aligner
(class-specific loadings carry the class axis). With one positive loading
(invariant loadings) NUTS samples the first loading on the real line and
reflects draws with lambda_1 < 0, (lambda, eta) -> (-lambda, -eta), onto
the same posterior (:mod:`bayesmix.inference.signs`): the constraint alone
leaves a second mode, the reflected solution truncated at lambda_1 = 0+,
which traps chains when lambda_1 is small.

Maximum likelihood: invariant loadings are well behaved. Class-specific
loadings may have **no finite ML estimate** on short tests (a class whose
items are perfectly ordered by eta lets lambda grow without bound: a 2-class
mixture 2PL on the 5-item LSAT7 runs to discriminations in the hundreds).
:meth:`FactorMixtureModel.fit_ml` flags loadings beyond
:data:`LOADING_LIMIT` and says so plainly; a Bayesian fit (``fit_map``,
``sample``) stays proper through the loading prior Normal(0, 2.5).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ...class_model import ClassModel, class_labels
from ...constraints import constrained_model
from ...data import encode
from ...kernels import build_kernels
from ...latent import PersonFactor
from ...options import check_integration
from ...parameters import registry_of
from ...priors import PriorSet
from ...structure import ItemClasses, WithinClasses
from .model import FactorMixtureModel

__all__ = ["fma", "fma_gom", "IRTPriorSet", "IRT_PRIORS", "LOADINGS", "FACTOR_VARIANCES", "observed_mask"]


#: priors of the parameters this module adds (overridable by name like DEFAULT_PRIORS)
IRT_PRIORS: dict[str, tuple[str, dict[str, Any]]] = {
    # factor loadings lambda_ic (eq. 36); the sign-identifying first loading is HalfNormal with this sigma
    "factor_loading": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    # SD of the person's membership logits alpha_cj (FMA-GoM, eq. 39)
    "membership_sd": ("HalfNormal", {"sigma": 2.5}),
    # class-specific factor SD sqrt(Var(eta | C = k)) relative to class 1 (fma(factor_variance="class-specific"))
    "factor_sd": ("LogNormal", {"mu": 0.0, "sigma": 1.0}),
    # 3PL guessing g_i (eq. 42): mean 0.23, 95% below 0.42
    "irt_guessing": ("Beta", {"alpha": 5.0, "beta": 17.0}),
    # 3PL in its FMA-GoM form: gamma_i, the logit of P(C_ij = guessing class) (eq. 44, 47)
    "guessing_logit": ("Normal", {"mu": -1.5, "sigma": 1.5}),
}


class IRTPriorSet(PriorSet):
    """:class:`~bayesmix.priors.PriorSet` that also knows :data:`IRT_PRIORS`."""

    def __init__(self, overrides: Mapping[str, Any] | None = None):
        super().__init__(overrides, extra=IRT_PRIORS)


def observed_mask(kernels) -> np.ndarray:
    """(N, I) 1 where a response is observed, items in the kernels' order (as ``loglik_by_item`` concatenates)."""
    return np.concatenate([kernel.observed for kernel in kernels], axis=1)


# --------------------------------------------------------------------------- factories
LOADINGS = ("invariant", "class-specific")
FACTOR_VARIANCES = ("invariant", "class-specific")


def _check(encoded, n_classes, loadings, link, integration):
    if loadings not in LOADINGS:
        raise ValueError(f"loadings={loadings!r} is unknown; use one of {LOADINGS}.")
    if link not in ("logit", "probit"):
        raise ValueError(f"link={link!r} is not supported; use 'logit' or 'probit'.")
    nominal = encoded.item_names("nominal")
    if nominal:
        raise ValueError(f"items {nominal} are nominal: a factor shifts one latent response, which nominal items "
                         "lack; declare them 'ordinal' or 'binary' with item_types=.")
    if loadings == "class-specific" and n_classes < 2:
        raise ValueError("loadings='class-specific' needs n_classes >= 2.")
    return check_integration(integration)


def _check_factor_variance(factor_variance, loadings, n_classes) -> bool:
    """``factor_variance`` of :func:`fma`; True for a class-specific variance."""
    if factor_variance not in FACTOR_VARIANCES:
        raise ValueError(f"factor_variance={factor_variance!r} is unknown; use one of {FACTOR_VARIANCES}.")
    if factor_variance == "invariant":
        return False
    if loadings != "invariant":
        raise ValueError("factor_variance='class-specific' needs loadings='invariant': with class-specific loadings "
                         "a class's factor variance is absorbed by its loadings (not identified).")
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError("factor_variance='class-specific' needs n_classes >= 2.")
    return True


def _parts(encoded, n_classes, loadings, link, priors, n_membership: int = 0, class_variance: bool = False):
    """Priors, labels, kernels, class model (eq. 37/39), coords and the person factor of one model."""
    prior_set = IRTPriorSet(priors)
    labels = class_labels(n_classes)
    kernels = build_kernels(encoded, link=link)
    class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)
    coords = {"class": labels, "unit": list(encoded.units), "item": encoded.item_names()}
    coords.update(class_model.coords(labels))
    for kernel in kernels:
        coords.update(kernel.coords())
    factor = PersonFactor(encoded.item_names(), encoded.n_units, class_specific=loadings == "class-specific",
                          class_names=labels, n_membership=n_membership, class_variance=class_variance)
    return prior_set, labels, kernels, class_model, coords, factor


def fma(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    loadings: str = "invariant",
    factor_variance: str = "invariant",
    link: str = "probit",
    item_types: str | Mapping[str, str] | None = None,
    covariates: Sequence[str] | None = None,
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    missing_covariates: str = "error",
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
) -> FactorMixtureModel:
    """Factor mixture analysis / mixture IRT (eq. 36-37); ``n_classes=1`` is the 2PL / one-factor IRT model.

    P(Y_ij = 1 | C_j = c, eta_j) = F(tau_ic + lambda_ic eta_j) with eta_j ~ N(0, 1)
    and class-specific item intercepts tau_ic (``binary_logit``; thresholds for
    ordinal items, means for continuous ones). ``loadings="invariant"`` gives
    lambda_ic = lambda_i (the paper's restricted FMA of section 8),
    ``"class-specific"`` one loading per item and class (may have no finite
    ML estimate: see the module docstring). The class model is the
    multinomial logit of eq. 37 (with ``covariates``, eq. 4).

    ``factor_variance="class-specific"`` (with invariant loadings) lets the
    factor variance differ by class, Var(eta_j | C_j = k) = sd_k^2 with
    sd_1 = 1 (``factor_sd``, as Mplus's mixture IRT: class 1 sets the unit
    of eta), i.e. P(Y_ij = 1 | k, z_j) = F(tau_ik + lambda_i sd_k z_j): one
    parameter more per class beyond the first. Class 1 is then the scale
    reference, so its label is kept (classes are not reordered by size, and
    NUTS draws are not label-aligned: the two labelings are different modes,
    so check R-hat across chains). Start it from the invariant fit,
    ``fit_ml(start=invariant_result)``: sd_k = 1 is that model's solution.

    eta_j is integrated by quadrature for ML and for the per-person
    ``log_likelihood`` of LOO (``integration``, default trapezoid with 30
    points); NUTS samples the standardized ``factor_z``. The 2PL in IRT
    terms: a_i = lambda_i, b_i = -tau_i / lambda_i.

    Parameters
    ----------
    data : DataFrame
        One row per person; missing responses NaN.
    items : list of str
        Binary, ordinal or continuous item columns (nominal items take no factor).
    n_classes : int
        Number of latent classes (1: the 2PL / one-factor model).
    loadings : ``"invariant"`` or ``"class-specific"``
        lambda_i shared by the classes, or one per item and class.
    factor_variance : ``"invariant"`` or ``"class-specific"``
        eta_j ~ N(0, 1) in every class, or N(0, sd_k^2) with sd_1 = 1
        (needs invariant loadings and n_classes >= 2).
    link : ``"probit"`` or ``"logit"``
        Of binary and ordinal items.
    item_types : str or dict, optional
        As in :func:`bayesmix.lca`.
    covariates : list of str, optional
        Person covariates of the class logits (eq. 4).
    missing_codes : list or dict, optional
        Item codes that mean "missing" (survey codes such as -9, 9 or 999):
        ``[-9, 999]`` for every item or ``{"A": [9], "B": [-1]}`` per item;
        those cells become missing and leave the likelihood (full information).
        Without it, suspicious codes warn and are taken as real categories.
    missing_covariates : ``"error"`` or ``"drop"``
        The policy for rows with a missing covariate (or cluster covariate):
        ``"error"`` (default) refuses them, naming the column; ``"drop"``
        leaves them out with a warning naming the count and the columns. The
        kept rows keep their labels, so ``bm.compare(..., units="common")``
        sets the model against one fitted to all rows without covariates.
    priors : dict, optional
        Overrides by parameter name (e.g. ``factor_loading``).
    integration : dict, optional
        Quadrature over eta_j (default trapezoid, 30 points).
    fixed, equal : dict or list, optional
        Constraints by parameter name and coordinate labels (Mplus ``@`` and
        ``(1)``), e.g. ``fixed={"binary_logit[class1, A]": 0.0}``,
        ``equal={"binary_logit[*, A]": "class"}``; they hold for every estimator
        and leave the parameter count (:mod:`bayesmix.constraints`).

    Returns
    -------
    FactorMixtureModel
        ``factor_scores``, ``item_curves``, ``loading_values`` on top of the
        usual fits and results.

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.fma(lsat, list(lsat.columns), n_classes=1, link="logit")   # the 2PL
    >>> ml = m.fit_ml(starts=5, seed=1)          # LL -2658.805 (R mirt)   # doctest: +SKIP
    >>> m.factor_scores(ml).head()               # doctest: +SKIP
    """
    call = {"factory": "fma", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    class_variance = _check_factor_variance(factor_variance, loadings, n_classes)
    encoded = encode(data, items, n_classes, item_types=item_types, covariates=covariates,
                     missing_codes=missing_codes,
                     missing_covariates=missing_covariates)
    integration = _check(encoded, n_classes, loadings, link, integration)
    prior_set, labels, kernels, class_model, coords, factor = _parts(encoded, n_classes, loadings, link, priors,
                                                                     class_variance=class_variance)
    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        for kernel in kernels:
            kernel.build(prior_set)
        factor.build(prior_set)

        def measurement(z):
            return sum(kernel.loglik(shift=factor.shift(kernel.names, z)) for kernel in kernels)

        tables = None  # per (item, category) at nodes shared by all persons: the integral once per pattern
        if class_model.covariates is None and all(kernel.discrete for kernel in kernels):
            tables = lambda z: [kernel.tables(factor.shift(kernel.names, z)) for kernel in kernels]  # noqa: E731
        structure = WithinClasses(lambda z: class_model.log_prior(), measurement, encoded.n_units, latent=factor,
                                  shared_log_prior_at=lambda z: class_model.log_prior(), tables_at=tables)
        structure.add_potential()
    prior_set.check_unused()
    return FactorMixtureModel(
        model=model, data=encoded, kernels=kernels, class_model=class_model, class_labels=labels,
        structure=structure, name="fma",
        options={"call": call, "link": link, "loadings": loadings, "factor_variance": factor_variance},
        integration=integration, sample_size=encoded.n_units, sample_size_basis="persons (rows)",
    )


def fma_gom(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    loadings: str = "invariant",
    factor_variance: str = "invariant",
    link: str = "probit",
    item_types: str | Mapping[str, str] | None = None,
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
    membership_integration: str = "exact",
) -> FactorMixtureModel:
    """FMA-GoM (eq. 38-41): item-specific classes C_ij with person membership logits and a factor.

    P(Y_ij = 1 | C_ij = c, eta_j) = F(tau_ic + lambda_ic eta_j)                    (38)
    P(C_ij = c | alpha_j) = softmax_c(alpha_cj), alpha_cj = alpha_c + sd_c z_cj     (39)

    For K = 2 the log-likelihood integrates eta_j by quadrature (default
    trapezoid, 30 points, as :func:`fma`) and alpha_1j exactly: given eta the
    item classes and the normal membership logit have a closed form through
    I + 1 moments of the membership (:mod:`bayesmix.marginal.logit_normal`).
    FMA (eq. 36-37) is the limit sd -> infinity, where the membership becomes
    a step in z that no fixed grid over alpha_1j represents: on a 15 x 15
    grid LL(FMA-GoM) fell 0.8 below LL(FMA) on the ADHD-like data of section
    8, while the exact form reaches LL(FMA) with the same eta rule, so the
    nesting LL(FMA-GoM) >= LL(FMA) holds. For K > 2 (or
    ``membership_integration="quadrature"``, or adaptive quadrature) eta_j and
    the K-1 alpha_cj (independent normal effects, last class the reference)
    are integrated jointly on a product grid (default trapezoid 15 x 15 for
    K = 2). For K = 2 FMA-GoM has one parameter more than FMA
    (``factor_membership_sd``). ``membership_icc``
    is sd^2 / (sd^2 + pi^2/3), the ICC of alpha_1j reported in section 8
    (86% for the ADHD data).

    Parameters
    ----------
    data : DataFrame
        One row per person; missing responses NaN.
    items : list of str
        Binary, ordinal or continuous item columns.
    n_classes : int
        Number of item-level classes (>= 2).
    loadings : ``"invariant"`` or ``"class-specific"``
        As in :func:`bayesmix.fma`.
    factor_variance : ``"invariant"`` or ``"class-specific"``
        As in :func:`bayesmix.fma`: ``"class-specific"`` (with invariant
        loadings) scales the factor by sd_k in the response's class k,
        P(Y_ij = 1 | C_ij = k, eta_j) = F(tau_ik + lambda_i sd_k eta_j) with
        sd_1 = 1 (``factor_sd``; one parameter more per class after the
        first). This is section 8's FMA-GoM of Table 6 (57 parameters for the
        ADHD data), which nests the FMA with class-specific factor variance
        (56) at the limit sd -> infinity of the membership.
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
        Quadrature over eta_j alone with the exact membership (``points``:
        eta nodes, default 30), else over (eta_j, alpha_j) jointly (``points``
        per dimension, default 15).
    fixed, equal : dict or list, optional
        Constraints by parameter name and coordinate labels (Mplus ``@`` and
        ``(1)``), e.g. ``fixed={"binary_logit[class1, A]": 0.0}``,
        ``equal={"binary_logit[*, A]": "class"}``; they hold for every estimator
        and leave the parameter count (:mod:`bayesmix.constraints`).
    membership_integration : ``"exact"`` or ``"quadrature"``
        K = 2: the membership logit integrated in closed form (default) or on
        the joint grid with eta (the only way for K > 2). Posterior summaries
        (membership scores, item classes) use the joint grid either way.

    Returns
    -------
    FactorMixtureModel
        With ``membership_icc`` among its variables.

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.fma_gom(lsat, list(lsat.columns), n_classes=2)
    >>> fma = bm.fma(lsat, list(lsat.columns), n_classes=2).fit_ml(seed=1)   # doctest: +SKIP
    >>> ml = m.fit_ml(starts=5, seed=1, start=fma)    # start at the FMA solution   # doctest: +SKIP
    """
    call = {"factory": "fma_gom", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"fma_gom needs n_classes >= 2 (item-level classes), got {n_classes!r}.")
    class_variance = _check_factor_variance(factor_variance, loadings, n_classes)
    if membership_integration not in ("exact", "quadrature"):
        raise ValueError(f"membership_integration={membership_integration!r} is unknown; use 'exact' (K = 2) or "
                         "'quadrature'.")
    encoded = encode(data, items, n_classes, item_types=item_types, missing_codes=missing_codes)
    integration = _check(encoded, n_classes, loadings, link, integration)
    prior_set, labels, kernels, class_model, coords, factor = _parts(encoded, n_classes, loadings, link, priors,
                                                                     n_membership=n_classes - 1,
                                                                     class_variance=class_variance)
    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        registry = registry_of()
        if "class_intercept" in registry:  # alpha_c, the mean of alpha_cj, grows with sd_c toward the FMA limit:
            registry.add(dataclasses.replace(registry["class_intercept"], bounded=False))  # not a bounded logit
        for kernel in kernels:
            kernel.build(prior_set)
        factor.build(prior_set)
        var = pt.square(factor.params["membership_sd"])
        pm.Deterministic("membership_icc", var / (var + np.pi**2 / 3), dims=f"{factor.prefix}_membership")

        def by_item(z):
            return pt.concatenate([kernel.loglik_by_item(shift=factor.shift(kernel.names, z)) for kernel in kernels],
                                  axis=-2)

        def log_membership(z):  # (..., N|1, K): the same for every item (eq. 39)
            return class_model.log_prior(offset=factor.membership_offset(z))

        tables = None
        if all(kernel.discrete for kernel in kernels):  # per (item, category) at shared nodes
            tables = lambda z: [kernel.tables(factor.shift(kernel.names, z)) for kernel in kernels]  # noqa: E731
        exact = membership_integration == "exact" and n_classes == 2  # alpha_1j = alpha_1 + sd z_1j in closed form
        structure = ItemClasses(log_membership, by_item, encoded.n_units, observed=observed_mask(kernels),
                                latent=factor, per_item=False,
                                shared_log_membership_at=log_membership if class_model.covariates is None else None,
                                tables_at=tables,
                                exact_membership=(class_model.params["class_intercept"][0],
                                                  factor.params["membership_sd"][0]) if exact else None)
        structure.add_potential()
    prior_set.check_unused()
    return FactorMixtureModel(
        model=model, data=encoded, kernels=kernels, class_model=class_model, class_labels=labels,
        structure=structure, name="fma_gom", options={
            "call": call, "link": link, "loadings": loadings, "factor_variance": factor_variance,
            "membership_integration": "exact" if membership_integration == "exact" and n_classes == 2 else "quadrature"},
        integration=integration, sample_size=encoded.n_units, sample_size_basis="persons (rows)",
    )
