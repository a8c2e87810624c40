"""The general within-level model of Asparouhov & Muthen (2006), eq. 2-4: :func:`mixture_sem`.

Within class c (eq. 2-5):

    y*_ij = nu_jc + Lambda_c[., j]' eta_i + K_c[., j]' x_i + eps_ij         (2)  measurement
    eta_i = mu_c + B_c eta_i + Gamma_c' x_i + xi_i,   xi_i ~ N(0, Psi_c)    (3)  structural
    P(C_i = c | x_i) = exp(alpha_c + beta_c' x_i) / sum_k exp(...)         (4)  classes

Two levels (``cluster=`` and ``random=``, eq. 5): any item intercept nu_j,
factor intercept mu, slope (Gamma, B, K) or loading named in ``random`` gets a
cluster deviation u_j, the same in every class, with

    u_j = B_u u_j + Gamma_u' w_j + zeta_j                                 (5)  between

(``w_j`` the ``cluster_covariates``; zeta_j independent, correlated or one
between factor: ``random["covariance"]``). ML integrates nested: the factors
per person inside, the cluster's u_j outside (per-cluster log-likelihood,
also the ``log_likelihood`` LOO uses); NUTS samples both standardized.

Items of every kernel type: binary and ordinal (logit or probit latent
response y*), continuous (y* = y, normal residual), nominal (class
indicators only: no single latent response to load on). The factors are
integrated by Gauss-Hermite product quadrature for ML and sampled
(standardized, non-centered) by NUTS; the classes are summed out exactly.

Why ``mixture_sem``: the model is what the literature and Mplus users call a
*mixture structural equation model* (Jedidi, Jagpal & DeSarbo 1997; Muthen
2001, "Mplus TYPE = MIXTURE"); factor mixture analysis (``bm.fma``), growth
mixture models, latent class growth analysis and LCA (no factors) are its
special cases, reached by the same call.

Identification rules (enforced before any model is built; the ``ValueError``
names the argument and the fix):

1. *Scale of a factor.* All loadings free ("standardized"): its (residual)
   variance is 1 in class 1 -- in every class unless ``"variances"`` is
   class-specific -- and its first listed loading is positive (sign). A factor
   with a nonzero fixed loading ("marker", Mplus' default ``y1@1``) or with
   every loading fixed ("growth" factor) has a free variance. A single free
   loading, a factor whose fixed loadings are all 0, two standardized factors
   with the same indicators (rotation), and class-specific loadings with a
   class-specific variance of a standardized factor are refused.
2. *Location.* Items not loading on a factor keep class-specific intercepts
   (they are LCA indicators). Indicators of non-growth factors have
   intercepts (thresholds) held equal over classes and factor means mu_c free
   except in class 1 (0); with ``class_specific=("intercepts", ...)`` the
   intercepts vary and every factor mean is 0 (FMA, section 8). Indicators of
   growth factors (all loadings fixed) have intercepts fixed at 0 (ordinal:
   first threshold 0, the other gaps equal over classes) and the growth
   factors' means are free in every class.
3. *Covariances.* Residuals of exogenous factors (not regressed on other
   factors) are correlated (``orthogonal=True``: not); residuals of
   endogenous factors are uncorrelated with all others. ``zero_variance``
   factors have no residual (LCGA): they are deterministic given the class
   and covariates and need fixed loadings.
4. *Regressions among factors* (``B``) are acyclic.
5. Continuous items' residual variances are equal over classes unless
   ``"residual_variances"`` is class-specific; everything else listed in
   :data:`~bayesmix.families.mixture_sem.spec.CLASS_SPECIFIC` is invariant
   unless named in ``class_specific`` (Mplus' mixture defaults, with class 1
   instead of the last class as the reference of the factor means).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ...class_model import ClassModel, class_labels
from ...constraints import Constraints
from ...data import drop_missing_covariates, encode, numeric_matrix
from ...kernels import build_kernels
from ...latent import LatentEffects
from ...latent.structural import MAX_NODES, WithinFactors
from ...options import check_clusters, check_integration, check_needs_cluster
from ...parameters import registry_of
from ...patterns import categorical_density
from ...priors import PriorSet
from ...structure import FactorsInClusters, WithinClasses
from .model import MixtureSEMModel
from .spec import RANDOM_COVARIANCES, WithinSpec, check_item_kinds, parse, parse_random

__all__ = ["SEM_PRIORS", "SEMPriorSet", "mixture_sem"]

#: priors of the parameters this family adds; scales are multiplied by the items' SDs (continuous items)
SEM_PRIORS: dict[str, tuple[str, dict[str, Any]]] = {
    "loading": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "loading_first": ("HalfNormal", {"sigma": 2.5}),
    "factor_mean": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "factor_sd": ("HalfNormal", {"sigma": 2.5}),
    "factor_corr_raw": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    "factor_regression": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    "factor_covariate_effect": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "item_covariate_effect": ("Normal", {"mu": 0.0, "sigma": 2.5}),
}


class SEMPriorSet(PriorSet):
    """:class:`~bayesmix.priors.PriorSet` that also knows :data:`SEM_PRIORS`."""

    def __init__(self, overrides: Mapping[str, Any] | None = None):
        super().__init__(overrides, extra=SEM_PRIORS)


def _intercept_constraints(spec: WithinSpec, kernels, n_classes: int):
    """(kernel fixed values, equality groups): growth intercepts at 0, invariant intercepts tied over classes."""
    growth = set(spec.growth_items())
    invariant = set(spec.invariant_intercept_items())
    fixed: dict[int, dict] = {}
    groups: list[str] = []
    for k, kernel in enumerate(kernels):
        cols = [j for j, n in enumerate(kernel.names) if n in growth]
        name = {"binary": "binary_logit", "continuous": "normal_mean", "ordinal": "ordinal_first_threshold"}.get(
            kernel.kind)
        if cols and name:
            values = np.full((n_classes, len(kernel.names)), np.nan)
            values[:, cols] = 0.0
            fixed[k] = {name: values}
        if n_classes < 2:
            continue
        for item in kernel.names:
            if item in invariant and name:
                groups.append(f"{name}[*, {item}]")
            if kernel.kind == "ordinal" and (item in invariant or item in growth):
                i = kernel.names.index(item)
                groups.extend(f"ordinal_log_gap[*, {item}[{p + 1}]]"
                              for g, p in zip(kernel.gap_item, kernel.gap_position) if g == i)
    return fixed, groups


def _integration(integration: Mapping[str, Any] | None, spec: WithinSpec) -> tuple[dict, dict]:
    """(the model's setting, the within rule of a two-level model): Gauss-Hermite unless given."""
    if integration is not None and not isinstance(integration, Mapping):
        return check_integration(integration), {}  # raises the shared message
    given = dict(integration or {})
    within_given = given.pop("within", None)
    if within_given is not None and not spec.random:
        raise ValueError("integration['within'] sets the rule over each person's factors inside the cluster "
                         "effects of a two-level model; without random= the factors use integration's own "
                         "method / points: drop 'within'.")
    if within_given is not None and not isinstance(within_given, Mapping):
        raise ValueError(f"integration['within'] must be a dict such as {{'method': 'gauss-hermite', 'points': 15}}, "
                         f"got {within_given!r}.")
    within_rule = check_integration({"method": "gauss-hermite", **dict(within_given or {})})
    if set(within_rule) - {"method", "points"}:
        raise ValueError("integration['within'] takes 'method' and 'points' only (adaptive quadrature applies to "
                         "the cluster effects).")
    return check_integration({"method": "gauss-hermite", **given}), within_rule


def _cluster_points(dims: int, within_nodes: int) -> int | None:
    """Default points per cluster dimension: the usual default, fewer when the nested product would exceed MAX_NODES."""
    from ...inference.quadrature import default_points
    fit = int(np.floor((MAX_NODES / within_nodes) ** (1.0 / dims) + 1e-9))
    points = min(default_points(dims), fit)
    return points if points >= 3 else None  # None: the default, refused with a message by fit_ml


def mixture_sem(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    factors: Mapping[str, Sequence[str] | Mapping[str, float | None]] | None = None,
    regressions: Mapping[str, Sequence[str]] | None = None,
    class_covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    random: Mapping[str, Any] | None = None,
    cluster_covariates: Sequence[str] | None = None,
    class_specific: Sequence[str] = (),
    zero_variance: bool | Sequence[str] = (),
    orthogonal: bool = False,
    item_types: str | Mapping[str, str] | None = None,
    link: str = "logit",
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
    missing_covariates: str = "error",
) -> MixtureSEMModel:
    """Mixture SEM: factors, structural regressions and covariates inside each latent class (eq. 2-4).

    See the module docstring of :mod:`bayesmix.families.mixture_sem.factory`
    for the model and the identification rules.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    items : list of str
        Item columns (types inferred or given by ``item_types``).
    n_classes : int
        Latent classes K.
    factors : dict, optional
        Measurement (Mplus ``BY``, lavaan ``=~``): factor -> list of items
        (free loadings) or dict item -> fixed loading (a number) or ``None``
        (free). ``{"i": {"y1": 1, "y2": 1, "y3": 1}, "s": {"y1": 0, "y2": 1,
        "y3": 2}}`` is a linear growth model. None or ``{}``: LCA.
    regressions : dict, optional
        lavaan ``~`` / Mplus ``ON``: left side a factor or an item, right side
        a list of factors (``B``, factors only) and covariate columns (``Gamma``
        for a factor, a direct effect ``K`` for an item).
    class_covariates : list of str, optional
        Columns predicting the class (eq. 4, Mplus ``c ON x``).
    cluster : str, optional
        Cluster id column (two levels): needed by ``random``.
    random : dict, optional
        Cluster random coefficients (eq. 5), see
        :func:`~bayesmix.families.mixture_sem.spec.parse_random`:
        ``{"intercepts": ["y1", "f1"], "slopes": [("f1", "x1"), ("f2", "f1")],
        "loadings": [("f1", "y2")], "covariance": "diagonal"}`` -- items and
        factors whose intercepts vary, (lhs, rhs) regressions of ``regressions``
        whose slopes vary (Gamma, B or direct effects K), (factor, item) loadings
        that vary; ``regressions`` among them (B of eq. 5, by label, e.g.
        ``{"f1~x1": ["f1~1"]}``: ``random_regression``); ``covariance``
        ``"diagonal"`` (``random_sd``), ``"full"`` (``random_chol``) or
        ``"factor"`` (one between-level factor, ``random_loading``).
        ``fixed={"random_sd": ...}`` holds SDs fixed.
    cluster_covariates : list of str, optional
        Cluster-level columns the random coefficients are regressed on
        (``random_slope``, Gamma of eq. 5).
    class_specific : list of str, optional
        Parameter groups that vary over classes besides the factor means:
        ``"intercepts"``, ``"loadings"``, ``"variances"`` (factor
        (co)variances), ``"regressions"`` (B), ``"covariate_effects"``
        (Gamma), ``"item_covariate_effects"`` (K), ``"residual_variances"``.
    zero_variance : bool or list of str
        Factors without a residual variance (``True``: all): latent class
        growth analysis.
    orthogonal : bool
        Exogenous factors uncorrelated.
    item_types, link, priors, missing_codes, fixed, equal
        As in :func:`bayesmix.lca`; the new parameters are ``loading``,
        ``loading_first``, ``factor_mean``, ``factor_sd``, ``factor_corr_raw``,
        ``factor_regression``, ``factor_covariate_effect``,
        ``item_covariate_effect`` (``loading_matrix`` and ``factor_cov`` are
        their deterministic summaries).
    integration : dict, optional
        ML quadrature over the standardized factors: default Gauss-Hermite
        (30 points in 1-D, 15 per dimension in 2-D, 7 beyond); a product rule
        of more than :data:`bayesmix.latent.structural.MAX_NODES` nodes is
        refused by ``fit_ml`` (use ``sample`` or ``fit_map``). With
        ``random``, ``method`` / ``points`` / ``adaptive`` set the rule over the
        cluster effects and ``within`` (a dict ``{"method", "points"}``) the
        rule over each person's factors; their product is limited to
        ``MAX_NODES`` nodes per person (default cluster points: as many as fit).
    missing_covariates : ``"error"`` or ``"drop"``
        The policy for rows with a missing covariate (class covariates, predictors in
        ``regressions``, cluster covariates): ``"error"`` (default)
        refuses them, naming the column; ``"drop"`` leaves them out with a
        warning naming the count and the columns. The kept rows keep their
        labels, so ``bm.compare(..., units="common")`` sets the model against
        one fitted to all rows.

    Returns
    -------
    MixtureSEMModel

    Examples
    --------
    >>> sim = bm.datasets.simulate_mixture_sem(500, seed=1)                 # doctest: +SKIP
    >>> m = bm.mixture_sem(sim.data, sim.items, 2, factors={"f1": ["y1", "y2", "y3"], "f2": ["y4", "y5", "y6"]},
    ...                    regressions={"f2": ["f1", "x"]})                  # doctest: +SKIP
    >>> ml = m.fit_ml(starts=5, seed=1)                                      # doctest: +SKIP
    >>> print(m.spec.describe())                                            # doctest: +SKIP
    """
    call = {"factory": "mixture_sem", "arguments": dict(locals())}
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if isinstance(items, str) or not isinstance(items, (list, tuple, pd.Index)):
        raise ValueError("items must be a list of column names, e.g. items=['y1', 'y2'].")
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 1:
        raise ValueError(f"n_classes must be an integer >= 1, got {n_classes!r}.")
    spec = parse(list(items), list(data.columns), int(n_classes), factors=factors, regressions=regressions,
                 class_covariates=class_covariates, class_specific=class_specific, zero_variance=zero_variance,
                 orthogonal=orthogonal)
    check_needs_cluster(cluster, [name for name, given in (("random", random is not None),
                                                           ("cluster_covariates", bool(cluster_covariates))) if given])
    if cluster is not None and random is None:
        raise ValueError(f"cluster={cluster!r} without random=: the persons of mixture_sem are independent unless "
                         "some coefficient varies over clusters; name it, e.g. random={'intercepts': ['y1']}, or "
                         "drop cluster=.")
    spec = parse_random(random, spec)
    integration, within_rule = _integration(integration, spec)
    # rows with a missing regression predictor follow the same policy as the class covariates
    data = drop_missing_covariates(data, spec.covariates, missing_covariates)
    encoded = encode(data, items, n_classes, item_types=item_types, covariates=list(spec.class_covariates),
                     cluster=cluster, cluster_covariates=cluster_covariates, missing_codes=missing_codes,
                     missing_covariates=missing_covariates)
    check_item_kinds(spec, {it.name: it.kind for it in encoded.items})
    if spec.random:
        check_clusters(encoded.cluster_index, cluster, random_options=["random"])
    x_names = [x for x in spec.covariates if x in {c for _, c in spec.covariate_effects + spec.item_covariate_effects}]
    x = numeric_matrix(encoded.frame, x_names, "regressions") if x_names else None
    constraints = Constraints(fixed, equal)  # the user's, plus the identification ties below
    prior_set = SEMPriorSet(priors)
    labels = class_labels(n_classes)
    kernels = build_kernels(encoded, link=link, equal_variances="residual_variances" not in spec.class_specific)
    kernel_fixed, ties = _intercept_constraints(spec, kernels, n_classes)
    if ties:
        constraints.add_equal(ties)
    class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)
    item_names = encoded.item_names()
    coords = {"class": labels, "unit": list(encoded.units), "item": item_names}
    coords.update(class_model.coords(labels))
    for kernel in kernels:
        coords.update(kernel.coords())
    if spec.random:
        coords["cluster"] = list(encoded.clusters)
    block = None
    if spec.n_factors or spec.item_covariate_effects or spec.random:
        scale = np.ones(len(item_names))
        location = np.zeros(len(item_names))
        if encoded.values is not None:
            cont = encoded.item_names("continuous")
            for j, name in enumerate(cont):
                scale[item_names.index(name)] = np.nanstd(encoded.values[:, j]) + 1e-12
                location[item_names.index(name)] = np.nanmean(encoded.values[:, j])
        block = WithinFactors(spec, item_names, encoded.n_units, labels, x, x_names, item_scale=scale,
                              item_location=location)
        coords.update(block.coords())
    with pm.Model(coords=coords) as model:
        if constraints:
            registry_of(model).constraints = constraints
        class_model.build(prior_set)
        for k, kernel in enumerate(kernels):
            kernel.build(prior_set, fixed=kernel_fixed.get(k))
        if block is not None:
            block.build(prior_set)
        positions = [[item_names.index(n) for n in kernel.names] for kernel in kernels]

        def measurement(z):
            shift = None if block is None else block.shift(z)
            total = 0
            for kernel, idx in zip(kernels, positions):
                if shift is None or kernel.kind == "nominal":
                    total = total + kernel.loglik()
                else:
                    total = total + kernel.loglik(shift=shift[..., idx, :])
            return total

        latent = block if block is not None and block.n_dims else None
        if spec.random:
            labels_u = [t.label for t in spec.random]
            mask = np.zeros((len(labels_u), len(labels_u)), bool)
            for lhs, rhs in spec.random_regressions:  # B of eq. 5, strictly lower triangular in this order
                mask[labels_u.index(lhs), labels_u.index(rhs)] = True
            effects = LatentEffects(labels_u, encoded.cluster_index, len(encoded.clusters),
                                    encoded.cluster_covariates, encoded.cluster_covariate_names,
                                    form="structural" if mask.any() else RANDOM_COVARIANCES[spec.random_covariance],
                                    structure=mask if mask.any() else None, dim="random_effect",
                                    level_dim="cluster", prefix="random")
            effects.build(prior_set)
            # static (D, dims): a single random coefficient must broadcast as length 1 (pytensor's static checks)
            effects.loading = pt.specify_shape(effects.loading, (effects.n_effects, effects.n_dims))

            def coefficient_loglik(zf, u):  # log p(y_i | C_i = c) at within z and unit random coefficients (eq. 2-5)
                shift = block.shift_at(zf, u)
                return sum(kernel.loglik() if kernel.kind == "nominal" else kernel.loglik(shift=shift[..., idx, :])
                           for kernel, idx in zip(kernels, positions))

            rule = None if latent is None else latent.rule(within_rule["method"], within_rule["points"])
            structure = FactorsInClusters(lambda z: class_model.log_prior(), coefficient_loglik, encoded.n_units,
                                          cluster_index=encoded.cluster_index, n_clusters=len(encoded.clusters),
                                          latent=effects, within=latent, within_rule=rule, max_nodes=MAX_NODES)
            if integration["points"] is None and integration["method"] != "monte-carlo":
                integration["points"] = _cluster_points(effects.n_dims, 1 if rule is None else len(rule[1]))
        else:
            density = categorical_density(kernels) if block is None and class_model.covariates is None else None
            structure = WithinClasses(lambda z: class_model.log_prior(), measurement, encoded.n_units,
                                      latent=latent, density=density)
        structure.add_potential()
    if constraints:
        constraints.check_unused(registry_of(model))
    prior_set.check_unused()
    return MixtureSEMModel(
        model=model, data=encoded, kernels=kernels, class_model=class_model, class_labels=labels,
        structure=structure, name="mixture_sem",
        options={"call": call, "link": link, "within_spec": spec, "block": block, "random": bool(spec.random)},
        integration=integration,
        components=[block] if block is not None and (latent is None or spec.random) else [],
        sample_size=encoded.n_units, sample_size_basis="persons (rows)",
    )
