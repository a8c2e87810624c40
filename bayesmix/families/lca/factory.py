"""Latent class analysis: single level (section 2) and two-level (sections 2, 5, 6)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ...class_model import ClassModel, class_labels, full_logits
from ...constraints import constrained_model
from ...data import encode
from ...kernels import build_kernels
from ...latent import LatentEffects
from ...model import MixtureModel
from ...options import (
    check_bool,
    check_between_level,
    check_class_level,
    check_clusters,
    check_integration,
    check_needs_cluster,
)
from ...parameters import create
from ...patterns import categorical_density, response_patterns
from ...priors import DEFAULT_PRIORS, PriorSet
from ...structure import BetweenClasses, NestedClasses, WithinClasses
from ...structure.base import shared_log_prior

__all__ = ["lca"]


BETWEEN_SPECIFIC = ("random_sd",)


def _check_between_specific(between_specific, random_intercept, n_between_classes,
                            kernels=()) -> tuple[str, ...]:
    """Parameters that differ across the between classes D: random-intercept SDs (eq. 18, 25), item parameters (eq. 22)."""
    if isinstance(between_specific, str):
        between_specific = (between_specific,)
    given = tuple(between_specific or ())
    if any(not isinstance(name, str) for name in given):
        raise ValueError(f"between_specific={list(given)!r}: give parameter names (strings), e.g. "
                         "['random_sd', 'binary_logit'].")
    item_parameters = [name for kernel in kernels for name in kernel.parameter_names()]
    allowed = list(BETWEEN_SPECIFIC) + item_parameters
    unknown = [name for name in given if name not in allowed]
    if unknown:
        raise ValueError(f"between_specific={list(given)!r}: {unknown} cannot vary across between classes; "
                         f"use names from {allowed} (random-intercept SDs, item parameters of eq. 22; "
                         "random-intercept means already differ across them through class_between_effect).")
    if "random_sd" in given and not (random_intercept and n_between_classes is not None):
        raise ValueError("between_specific=['random_sd'] gives each between class its own random-intercept SDs: "
                         "it needs random_intercept=True and n_between_classes=M.")
    items = [name for name in given if name in item_parameters]
    if items and n_between_classes is None:
        raise ValueError(f"between_specific={items!r} makes item parameters depend on the between class D_j "
                         "(eq. 22): it needs cluster= and n_between_classes=M.")
    return tuple(dict.fromkeys(given))


def _check_options(encoded, n_classes, cluster, class_level, random_intercept, n_between_classes,
                   covariates, ordered, integration, between_specific=(), kernels=()):
    check_class_level(class_level)
    check_needs_cluster(cluster, [name for name, given in (
        ("random_intercept=True", random_intercept), (f"class_level={class_level!r}", class_level == "between"),
        (f"n_between_classes={n_between_classes!r}", n_between_classes is not None)) if given])
    if random_intercept and n_classes < 2:
        raise ValueError("random_intercept=True needs n_classes >= 2 (it varies the class logits).")
    if class_level == "between" and (random_intercept or n_between_classes is not None):
        raise ValueError("class_level='between' already puts the class on the cluster level; "
                         "drop random_intercept / n_between_classes, or use class_level='within'.")
    check_between_level(class_level, covariates)
    if n_between_classes is not None and (not isinstance(n_between_classes, (int, np.integer)) or n_between_classes < 2):
        raise ValueError(f"n_between_classes must be an integer >= 2, got {n_between_classes!r}.")
    between_specific = _check_between_specific(between_specific, random_intercept, n_between_classes, kernels)
    if cluster is not None:
        if class_level == "between":
            check_clusters(encoded.cluster_index, cluster, n_between_classes=n_classes)
        if n_between_classes is not None:
            check_clusters(encoded.cluster_index, cluster, n_between_classes=n_between_classes,
                           between_option="n_between_classes")
        if random_intercept:
            check_clusters(encoded.cluster_index, cluster, random_options=["random_intercept"])
    if ordered is not None:
        kinds = {it.name: it.kind for it in encoded.items}
        if ordered not in kinds:
            raise ValueError(f"ordered={ordered!r} is not one of the items {list(kinds)}.")
        if kinds[ordered] not in ("binary", "continuous"):
            raise ValueError(
                f"ordered={ordered!r} is a {kinds[ordered]} item; the ordering constraint is "
                "available for a binary or continuous item."
            )
        if n_classes < 2:
            raise ValueError("ordered= needs n_classes >= 2.")
    return check_integration(integration), between_specific


def lca(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    cluster: str | None = None,
    class_level: str = "within",
    random_intercept: bool = False,
    n_between_classes: int | None = None,
    between_specific: Sequence[str] = (),
    covariates: Sequence[str] | None = None,
    cluster_covariates: Sequence[str] | None = None,
    item_types: str | Mapping[str, str] | None = None,
    link: str = "logit",
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    missing_covariates: str = "error",
    ordered: str | None = None,
    equal_variances: bool = False,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
) -> MixtureModel:
    """Latent class analysis with the classes marginalized exactly.

    **Single level** (section 2 with one level): for unit i,
    ``log p(y_i) = logsumexp_c [log P(C_i=c | x_i) + sum_p log p(y_pi | C_i=c)]``
    with class probabilities from the multinomial logit of eq. 4 (last class
    the reference) and item kernels from eq. 1 (categorical: binary or
    ordinal thresholds with a logit or probit link; nominal: multinomial
    logit) and eq. 2 (continuous: normal with class-specific mean and
    variance). Items are conditionally independent given the class.

    **Two level** (``cluster=`` given), the three statuses of Table 4:

    - *within-between* (``random_intercept=True``, section 2, Model 6): the
      K-1 class logits get cluster random intercepts alpha_cj (eq. 4),
      correlated (LKJ Cholesky) when K > 2, regressed on
      ``cluster_covariates`` (eq. 5); ``class_icc`` is eq. 20.
    - *between* (``class_level="between"``, section 5, eq. 16-17): one class
      per cluster, predicted by ``cluster_covariates``.
    - *within and between* (``n_between_classes=M``, section 6, eq. 24-26):
      the within class C_ij depends on the between class D_j through
      gamma_cd (``class_between_effect``), with gamma_Ld = gamma_cM = 0.
    - *all three together* (``n_between_classes=M`` and
      ``random_intercept=True``, section 6, eq. 24 with random alpha_cj):
      logit P(C_ij = c | D_j = d) = a_c + gamma_cd + alpha_cj, so the
      random intercepts' means differ by D (gamma_cd, eq. 25) and, with
      ``between_specific=["random_sd"]``, their SDs too (eq. 18); D_j is
      predicted by ``cluster_covariates`` (eq. 26). ML integrates the
      standardized intercepts z_j ~ N(0, I) outside the sum over d:
      p(y_j) = int sum_d P(D_j = d) prod_i p(y_ij | d, z) phi(z) dz.
      Results: ``between_class_probabilities`` (P(D_j | y_j)),
      ``between_within_table`` (the joint (C, D) table), ``class_icc`` per D.

    The log-likelihood stored for LOO is per cluster, with random effects
    integrated by quadrature (``integration={"method": "trapezoid" |
    "gauss-hermite" | "monte-carlo", "points": Q}``, default trapezoid with
    30 points per cluster in 1-D); NUTS samples the standardized random
    effects ``random_z`` instead.

    Parameters
    ----------
    data : DataFrame
        One row per unit (wide). Missing responses are NaN / None / ``pd.NA``.
    items : list of str
        Item columns. Types are inferred (two codes -> binary; other
        integer/str codes -> nominal; many numeric values -> continuous) or
        given with ``item_types``.
    n_classes : int
        Number of (within) latent classes K (required: no silent default).
    cluster : str, optional
        Cluster id column: makes a two-level model (with one of
        ``random_intercept``, ``class_level="between"``, ``n_between_classes``).
    class_level : ``"within"`` or ``"between"``
        ``"between"``: one class per cluster (eq. 16-17).
    random_intercept : bool
        Cluster random intercepts on the K-1 class logits (Model 6, eq. 4-5).
    n_between_classes : int, optional
        M between classes D_j predicting the within class (eq. 24-26); with
        ``random_intercept=True`` all three class statuses in one model.
    between_specific : list of str, optional
        Between-level parameters that differ across the between classes
        (Mplus: the class-specific ``%CB#d%`` sections of the between level,
        eq. 18, 25): ``["random_sd"]`` gives each between class its own
        random-intercept SDs (``random_sd`` of dims (between_class,
        class_free), uncorrelated intercepts; ``class_icc`` per between
        class). Needs ``random_intercept=True`` and ``n_between_classes``.
        The random-intercept means already differ by D (``class_between_effect``).
    covariates : list of str, optional
        Unit-level numeric columns predicting the class (eq. 4).
    cluster_covariates : list of str, optional
        Cluster-level columns (constant within cluster): predict the random
        intercepts (eq. 5) or the between class (eq. 17, 26).
    item_types : str or dict, optional
        One type for all items or ``{item: type}`` with type ``"binary"``,
        ``"nominal"``, ``"ordinal"`` (ordered thresholds by class), ``"ordinal-restricted"`` (proportional
        odds: one threshold set per item and a class location) or ``"continuous"``.
    link : ``"logit"`` or ``"probit"``
        For binary and ordinal items.
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
        Overrides by parameter name, e.g. ``{"binary_logit": {"sigma": 3}}``.
        The default ``random_sd`` prior HalfNormal(2.5) keeps the class ICC
        (eq. 20) mostly below 0.9; widen it (``{"random_sd": {"sigma": 25}}``)
        to let the data push a within-between class towards between (Table 4).
    ordered : str, optional
        An item (binary or continuous) whose class-specific parameter is
        constrained to increase over classes; identifies the labels.
    equal_variances : bool
        Continuous items share one variance across classes.
    integration : dict, optional
        Quadrature of random effects for ML and the log-likelihood of LOO:
        ``{"method": "trapezoid" | "gauss-hermite" | "monte-carlo", "points": Q,
        "adaptive": bool}`` (default trapezoid, 30 points in 1-D).
    fixed : dict, optional
        Parameters (or elements) held at a value, by the names and labels of
        ``ml.params`` (Mplus ``@``): ``{"binary_logit[class1, A]": 15.0}``,
        ``{"binary_logit[*, A]": [15, -15]}``, ``{"binary_logit[item=A]": 0}``,
        or a whole parameter as an array / labelled ``xarray.DataArray`` with
        NaN for free elements. Logit-scale values (15: probability 1).
    equal : dict or list, optional
        Parameters held equal (Mplus ``(1)`` labels): ``{"binary_logit[*, A]":
        "class"}`` (item A the same in every class), ``{"normal_sd": "class"}``
        (every SD equal across classes), or a list of groups
        ``[["binary_logit[class1, A]", "binary_logit[class2, B]"]]``. See
        :mod:`bayesmix.constraints`. Fixed elements and ties leave the
        parameter count (AIC, BIC) and hold for ML, MAP, Laplace and NUTS alike.

    Returns
    -------
    MixtureModel
        Ready for ``fit_ml``, ``fit_map``, ``fit_laplace``, ``sample``, then
        ``class_probabilities``, ``profiles``, ``class_proportions``,
        ``predict_proba``, ``goodness_of_fit``, ``save``. The call is
        recorded in ``model.options["call"]`` (to rebuild it: save/load, predict).

    Missing responses are left out of the likelihood (full information);
    rows with every item missing are dropped with a warning. Bad input raises
    a ``ValueError`` naming the column and the fix before anything is compiled.

    Examples
    --------
    >>> import bayesmix as bm
    >>> df = bm.datasets.load("carcinoma")
    >>> m = bm.lca(df, items=list("ABCDEFG"), n_classes=2)
    >>> ml = m.fit_ml(starts=20, seed=1)                               # doctest: +SKIP
    >>> sai = bm.datasets.load("sai_lta")                              # doctest: +SKIP
    >>> items = ["tense_t1", "worrying_t1", "anxious_t1", "nervous_t1", "jittery_t1"]
    >>> m2 = bm.lca(sai, items, n_classes=2, cluster="study", random_intercept=True)  # doctest: +SKIP
    """
    call = {"factory": "lca", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    check_bool(random_intercept, "random_intercept")
    check_bool(equal_variances, "equal_variances")
    encoded = encode(data, items, n_classes, item_types=item_types, covariates=covariates,
                     cluster=cluster, cluster_covariates=cluster_covariates, missing_codes=missing_codes,
                     missing_covariates=missing_covariates)
    kernels = build_kernels(encoded, link=link, equal_variances=equal_variances)
    integration, between_specific = _check_options(encoded, n_classes, cluster, class_level, random_intercept,
                                                   n_between_classes, covariates, ordered, integration,
                                                   between_specific, kernels)
    prior_set = PriorSet(priors, known=set(DEFAULT_PRIORS))
    labels = class_labels(n_classes)
    item_by_between = [name for name in between_specific if name != "random_sd"]
    if item_by_between:  # item parameters by (C, D), eq. 22: a leading between_class axis
        for kernel in kernels:
            kernel.vary_by("between_class", n_between_classes, item_by_between)
    if class_level == "between":
        class_model = ClassModel(n_classes, encoded.cluster_covariates, encoded.cluster_covariate_names,
                                 covariate_dim="cluster_covariate")
    else:
        class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)

    coords = {"class": labels, "unit": list(encoded.units), "item": encoded.item_names()}
    if cluster is not None:
        coords["cluster"] = list(encoded.clusters)
    coords.update(class_model.coords(labels))
    if item_by_between:
        coords["between_class"] = class_labels(n_between_classes, "between_class")
    for kernel in kernels:
        coords.update(kernel.coords())

    components: list = []
    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        for kernel in kernels:
            kernel.build(prior_set, ordered_item=ordered)
        loglik_by_class = sum(kernel.loglik() for kernel in kernels)  # (N, K), or (M, N, K) by (C, D)
        if item_by_between:
            loglik_by_class = loglik_by_class + pt.zeros((n_between_classes, 1, 1))
        n_between_measurement = n_between_classes if item_by_between else None
        measurement = lambda z: loglik_by_class  # noqa: E731  (no latent effect in the measurement)
        clustering = {} if cluster is None else {"cluster_index": encoded.cluster_index,
                                                 "n_clusters": len(encoded.clusters)}
        if random_intercept and n_between_classes is not None:
            structure, between_model = _within_and_between(model, encoded, class_model, measurement, prior_set,
                                                           n_between_classes, random=True,
                                                           sd_by_between="random_sd" in between_specific,
                                                           kernels=kernels,
                                                           n_between_measurement=n_between_measurement)
            components.append(between_model)
        elif random_intercept:
            structure = _within_between(encoded, class_model, measurement, prior_set, labels, kernels)
        elif class_level == "between":
            structure = BetweenClasses(lambda z: class_model.log_prior(), measurement, encoded.n_units,
                                       **clustering)
        elif n_between_classes is not None:
            structure, between_model = _within_and_between(model, encoded, class_model, measurement, prior_set,
                                                           n_between_classes,
                                                           n_between_measurement=n_between_measurement)
            components.append(between_model)
        else:
            density = categorical_density(kernels) if class_model.covariates is None else None
            structure = WithinClasses(lambda z: class_model.log_prior(), measurement, encoded.n_units,
                                      density=density, **clustering)
        structure.add_potential()
    prior_set.check_unused()  # a prior for a parameter this model does not have (nothing compiled yet)
    return MixtureModel(
        model=model,
        data=encoded,
        kernels=kernels,
        class_model=class_model,
        class_labels=labels,
        structure=structure,
        components=components,
        name="lca",
        ordered=ordered,
        options={"call": call, "link": link, "equal_variances": equal_variances, "class_level": class_level,
                 "random_intercept": random_intercept, "n_between_classes": n_between_classes,
                 "between_specific": list(between_specific)},
        integration=integration,
        sample_size=encoded.n_units,
        sample_size_basis="units (rows)",
    )


def _within_between(encoded, class_model, measurement, priors, labels, kernels):
    """Model 6: random intercepts on the K-1 class logits (eq. 4-5), integrated over z."""
    effects = LatentEffects(labels[:-1], encoded.cluster_index, len(encoded.clusters),
                            encoded.cluster_covariates, encoded.cluster_covariate_names,
                            form="cholesky", dim="class_free")
    effects.build(priors)
    variance = effects.variances()
    pm.Deterministic("class_icc", variance / (variance + np.pi**2 / 3), dims="class_free")
    shared = shared_log_prior(class_model, effects)  # the same class probabilities at a shared node
    return WithinClasses(lambda z: class_model.log_prior(offset=effects.unit_values(z)), measurement,
                         encoded.n_units, cluster_index=encoded.cluster_index, n_clusters=len(encoded.clusters),
                         latent=effects, shared_log_prior_at=shared, patterns=response_patterns(kernels))


def _within_and_between(model, encoded, class_model, measurement, priors, n_between, *, random: bool = False,
                        sd_by_between: bool = False, kernels=(), n_between_measurement: int | None = None):
    """Section 6: within class C_ij predicted by between class D_j (eq. 24), D_j by w_j (eq. 26).

    ``random``: all three statuses of Table 4 together (eq. 24 with random
    alpha_cj): the K-1 logits of C_ij get cluster random intercepts as well,
    logit_c = a_c + gamma_cd + alpha_cj with alpha_j = L z_j, z_j ~ N(0, I)
    independent of D_j, so the mean of the random intercepts differs by D
    (gamma_cd, eq. 25) and, with ``sd_by_between``, their SDs too
    (alpha_j | D_j = d ~ N(gamma_d, diag(sd_d)^2), eq. 18). The cluster
    covariates predict D_j (eq. 26), not the random intercepts.
    """
    between_labels = class_labels(n_between, "between_class")
    if "between_class" not in model.coords:  # already there when item parameters vary by D (eq. 22)
        model.add_coord("between_class", between_labels)
    between_model = ClassModel(n_between, encoded.cluster_covariates, encoded.cluster_covariate_names,
                               prefix="between_class", covariate_dim="cluster_covariate")
    for name, values in between_model.coords(between_labels).items():
        model.add_coord(name, values)
    between_model.build(priors)
    gamma = create(priors, "class_between_effect", dims=("class_free", "between_class_free"))
    # gamma_cd with gamma_Ld = gamma_cM = 0 (identification, eq. 24): offsets (M, 1, K-1)
    gamma_full = pt.swapaxes(full_logits(gamma, axis=1), 0, 1)[:, None, :]
    effects, patterns, shared_log_prior_within_at = None, None, None
    if not random:
        log_prior_within = class_model.log_prior(offset=gamma_full)  # (M, N or 1, K)
        log_prior_within_at = lambda z: log_prior_within  # noqa: E731
    else:
        labels = class_model.coords(class_labels(class_model.n_classes))[class_model.free_dim]
        groups = dict(groups=between_labels, group_dim="between_class") if sd_by_between else {}
        effects = LatentEffects(labels, encoded.cluster_index, len(encoded.clusters),
                                form="diagonal" if sd_by_between else "cholesky", dim="class_free", **groups)
        effects.build(priors)
        variance = effects.variances()  # (K-1,) or (M, K-1)
        pm.Deterministic("class_icc", variance / (variance + np.pi**2 / 3),
                         dims=("between_class", "class_free") if sd_by_between else "class_free")

        def log_prior_within_at(z):
            u = effects.unit_values(z)  # (..., N, K-1), or (..., M, N, K-1) with SDs by D
            if not sd_by_between:
                u = pt.expand_dims(u, -3)
            return class_model.log_prior(offset=gamma_full + u)  # (..., M, N, K)

        def shared_log_prior_within_at(z):  # z (..., 1, D) shared by all clusters -> (..., M, 1, K)
            u = effects.values(z, broadcast=False)  # (..., 1, K-1), or (..., M, 1, K-1)
            if not sd_by_between:
                u = pt.expand_dims(u, -3)
            return class_model.log_prior(offset=gamma_full + u)
        if class_model.covariates is None:
            patterns = response_patterns(kernels)
    structure = NestedClasses(lambda z: between_model.log_prior(), log_prior_within_at, measurement,
                              encoded.n_units, encoded.cluster_index, len(encoded.clusters), latent=effects,
                              shared_log_prior_within_at=shared_log_prior_within_at if patterns is not None else None,
                              patterns=patterns, n_between_measurement=n_between_measurement)
    return structure, between_model
