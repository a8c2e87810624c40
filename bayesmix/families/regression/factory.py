"""Mixture regression, single and two level (paper section 5, eq. 19; Models 1-6).

    [Y_ij | C = c] = mu_cj + beta_cj' X_ij + eps_ij,   eps_ij ~ N(0, theta_c)      (19)

The class C is a unit (within) variable with the multinomial logit of eq. 4,
optionally with a cluster random intercept alpha_cj on its logits (Model 6,
within-between), or a cluster (between) variable C_ij = C_j (eq. 16) with
P(C_j = c) from cluster covariates (eq. 17). mu_cj and beta_cj are class
fixed effects plus cluster random effects u_j (eq. 5, 18: mu_cj = mu_c + u0_j,
beta_cj = beta_c + u1_j); the random effects are standardized (non-centered
``random_z``) and the one conditional cluster log-likelihood f(z) serves NUTS
(z sampled) and ML / LOO (z integrated by quadrature, section 10).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm

from ...class_model import ClassModel, class_labels
from ...constraints import constrained_model
from ...data import check_columns, check_missing_covariates, drop_missing_covariates, encode, numeric_matrix
from ...kernels import RegressionKernel
from ...latent import LatentEffects
from ...model import MixtureModel
from ...options import check_between_level, check_bool, check_class_level, check_clusters, check_integration, check_needs_cluster
from ...priors import PriorSet
from ...structure import BetweenClasses, WithinClasses


def _as_list(value, argument: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        out = list(value)
    except TypeError:
        raise ValueError(f"{argument} must be a column name or a list of column names, got {value!r}.") from None
    bad = [v for v in out if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{argument} must hold column names (strings); got {bad}.")
    return out


def _random_effects_spec(random, x: list[str]) -> list[str]:
    """``random`` -> the outcome random-effect labels: "intercept" and "slope[<x>]"."""
    names = _as_list(random, "random")
    labels: list[str] = []
    for name in names:
        if name == "intercept":
            new = ["intercept"]
        elif name == "slope":
            new = [f"slope[{p}]" for p in x]
        elif name in x:
            new = [f"slope[{name}]"]
        else:
            raise ValueError(
                f"random names {name!r}, which is neither 'intercept', 'slope' (random slopes of all x) "
                f"nor a predictor in x={x}; use e.g. random=('intercept', 'slope')."
            )
        labels.extend(label for label in new if label not in labels)
    order = ["intercept"] + [f"slope[{p}]" for p in x]
    return [label for label in order if label in labels]


def _validate(data, y, x, n_classes, cluster, class_level, random, random_class_intercept, covariates,
              cluster_covariates, equal_variances, integration, random_covariance):
    """Checks that need only the DataFrame (ValueError naming the argument and the fix)."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if not isinstance(y, str):
        raise ValueError(f"y must be the name of one outcome column (a string), got {y!r}.")
    check_columns(data, [y], "y")
    x = _as_list(x, "x")
    if not x:
        raise ValueError("x is empty; give at least one predictor column (for a mixture of normals without "
                         "predictors use bm.lca with a continuous item).")
    check_columns(data, x, "x")
    if y in x:
        raise ValueError(f"y={y!r} is also listed in x; the outcome cannot predict itself: remove it from x.")
    col = data[y]
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        raise ValueError(f"y column {y!r} has dtype {col.dtype}; the outcome of a mixture regression must be "
                         "numeric (continuous). Use bm.lca for categorical outcomes.")
    if col.dropna().nunique() < 2:
        raise ValueError(f"y column {y!r} is constant (or has fewer than two observed values); "
                         "there is nothing to regress.")
    check_class_level(class_level)
    random_labels = _random_effects_spec(random, x)
    covariates = _as_list(covariates, "covariates")
    cluster_covariates = _as_list(cluster_covariates, "cluster_covariates")
    if cluster is not None and (cluster == y or cluster in x):
        raise ValueError(f"cluster column {cluster!r} is also y or a predictor in x; use it once.")
    check_needs_cluster(cluster, [name for name, given in (
        (f"random={tuple(_as_list(random, 'random'))}", bool(random_labels)),
        ("random_class_intercept=True", random_class_intercept),
        ("class_level='between'", class_level == "between")) if given])
    if random_class_intercept:
        if class_level != "within":
            raise ValueError("random_class_intercept=True is the within-between class of Model 6; a "
                             "between-level class (class_level='between') has no class logits per unit: "
                             "drop random_class_intercept or use class_level='within'.")
        if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError("random_class_intercept=True needs n_classes >= 2 (it varies the class logits).")
    check_between_level(class_level, covariates)
    if cluster_covariates and class_level == "within" and not (random_labels or random_class_intercept):
        raise ValueError("cluster_covariates predict cluster random effects (eq. 5) or a between-level class "
                         "(eq. 17), and this model has neither: add random=..., random_class_intercept=True "
                         "or class_level='between', or drop cluster_covariates.")
    if random_covariance is None:  # the paper's Model 6: Cov(u0, alpha) = 0
        random_covariance = "diagonal" if random_class_intercept else "full"
    if random_covariance not in RANDOM_COVARIANCES:
        raise ValueError(f"random_covariance={random_covariance!r} is unknown; use 'full' (correlated random "
                         "effects, LKJ) or 'diagonal' (independent).")
    if not isinstance(equal_variances, (bool, np.bool_)):
        raise ValueError(f"equal_variances must be True or False, got {equal_variances!r}.")
    integration = check_integration(integration)
    return x, random_labels, covariates, cluster_covariates, integration, random_covariance


RANDOM_COVARIANCES = ("full", "diagonal")


def _known_priors(n_classes, class_level, covariates, cluster_covariates, n_effects, effects_have_w,
                  random_covariance):
    known = {"regression_intercept", "regression_slope", "residual_sd"}
    if n_classes > 1:
        known.add("class_intercept")
        if (class_level == "within" and covariates) or (class_level == "between" and cluster_covariates):
            known.add("class_slope")
    if n_effects:
        known.add("random_sd")
        if n_effects > 1 and random_covariance == "full":
            known.add("random_corr_eta")
        if effects_have_w:
            known.add("random_slope")
    return known


def mixture_regression(
    data: pd.DataFrame,
    y: str,
    x: str | Sequence[str],
    n_classes: int,
    *,
    cluster: str | None = None,
    class_level: str = "within",
    random: str | Sequence[str] = (),
    random_class_intercept: bool = False,
    random_covariance: str | None = None,
    covariates: Sequence[str] | None = None,
    cluster_covariates: Sequence[str] | None = None,
    equal_variances: bool = True,
    priors: Mapping[str, Any] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
    missing_covariates: str = "error",
) -> MixtureModel:
    """Mixture of linear regressions with classes marginalized exactly (section 5, eq. 19).

    Within class c, ``Y_ij = mu_cj + beta_cj' X_ij + eps_ij`` with
    eps_ij ~ N(0, theta_c) (eq. 19; eq. 2-3 with y* = y): class-specific
    ``regression_intercept`` mu_c (class), ``regression_slope`` beta_c
    (class, predictor) and ``residual_sd`` sqrt(theta) -- one SD shared by the
    classes when ``equal_variances=True`` (the paper's simulations), else
    (class,).

    The models of section 5 (and their single-level special case):

    - *single level* (no ``cluster``): log p(y_i) = logsumexp_c [log P(C_i = c
      | x_i) + log N(y_i | mu_c + beta_c' X_i, theta_c)], class logits of eq. 4
      on ``covariates``.
    - *Model 1* (``class_level="within"``, ``cluster=``, ``random=...``): a
      within class per unit (eq. 4); cluster random effects u_j on the
      intercept and/or slopes, mu_cj = mu_c + u0_j, beta_cj = beta_c + u1_j
      (eq. 5), regressed on ``cluster_covariates``; the units' marginals over
      C are summed per cluster and u_j is integrated.
    - *Models 2-5* (``class_level="between"``): C_ij = C_j (eq. 16), one class
      per cluster with P(C_j = c) the logit of eq. 17 on
      ``cluster_covariates``; the cluster's sum of unit log-likelihoods sits
      inside the logsumexp over classes, and the class-specific between model
      eq. 18 is mu_c + u0_j, beta_c + u1_j.
    - *Model 6* (``random_class_intercept=True``): the within class C_ij with a
      cluster random intercept alpha_j on the K-1 class logits (eq. 4-5),
      correlated with the outcome random effects through one LKJ Cholesky
      factor; ``class_icc`` = Var(alpha) / (Var(alpha) + pi^2/3) (eq. 20) near
      1 says the class is really a between-level one (Table 4).

    Random effects are standardized: u_j = Gamma' w_j + L z_j with z_j ~ N(0, I)
    (``random_z``, dims (cluster, random_effect)), ``random_sd`` (and
    ``random_chol``/``random_corr`` for several effects). NUTS samples z; ML and
    the per-cluster ``log_likelihood`` integrate the same conditional cluster
    log-likelihood over z by quadrature (``integration={"method":
    "gauss-hermite" | "trapezoid" | "monte-carlo", "points": 15}``, points per
    dimension). The random-intercept variance v of the paper is
    ``random_sd["intercept"] ** 2``; theta is ``residual_sd ** 2``.

    Parameters
    ----------
    data : DataFrame, one row per unit.
    y : the continuous outcome column. Rows with a missing y carry no
        information and are dropped with a warning.
    x : predictor column(s) of the regression (numeric, complete, not y).
    n_classes : number of latent classes K.
    cluster : cluster id column (two-level models).
    class_level : ``"within"`` (a class per unit) or ``"between"`` (per cluster).
    random : outcome random effects: ``"intercept"``, ``"slope"`` (random
        slopes of all x) or predictor names, e.g. ``("intercept", "slope")``.
    random_class_intercept : Model 6, a cluster random intercept on the class
        logits (within classes only).
    random_covariance : ``"full"``: all random effects (outcome and class-logit
        ones) correlated through one LKJ Cholesky factor; ``"diagonal"``:
        independent effects. Default (None): ``"diagonal"`` with
        ``random_class_intercept=True`` -- the paper's Model 6 adds only
        Var(alpha_1) to Model 5, Cov(u0_j, alpha_j) = 0 -- else ``"full"``. With
        ``"full"`` in Model 6 the covariance of the outcome intercept and the
        class logit can trade class separation for cluster-level variation
        (a different, lower-ICC solution).
    covariates : unit-level columns predicting a within class (eq. 4).
    cluster_covariates : cluster-level columns predicting a between class
        (eq. 17), or the random effects of a within-class model (eq. 5).
    equal_variances : one residual variance theta for all classes.
    priors : overrides by name: ``regression_intercept`` (default Normal(mean y,
        2 sd y)), ``regression_slope`` (Normal(0, 2 sd y / sd x)),
        ``residual_sd`` (HalfNormal(2 sd y)), ``class_intercept``,
        ``class_slope``, ``random_sd`` (HalfNormal(2.5); on the class logits it
        keeps the ICC of eq. 20 mostly below 0.9), ``random_corr_eta``,
        ``random_slope``.
    integration : quadrature for ML and the log-likelihood of LOO.
    fixed, equal : constraints by parameter name and coordinate labels (Mplus ``@`` and ``(1)``), e.g.
        ``fixed={"regression_slope[class1, x1]": 0.0}``, ``equal={"residual_sd": "class"}``; fixed elements and ties
        leave the parameter count and hold for every estimator (see :mod:`bayesmix.constraints`).
    missing_covariates : ``"error"`` or ``"drop"``
        The policy for rows with a missing predictor ``x``, class covariate or cluster
        covariate: ``"error"`` (default) refuses them, naming the column; ``"drop"`` leaves them out with a
        warning naming the count and the columns. The kept rows keep their
        labels, so ``bm.compare(..., units="common")`` sets the model against
        one fitted to all rows.

    Returns
    -------
    MixtureModel
        Ready for ``fit_ml``, ``fit_map``, ``fit_laplace``, ``sample``; the
        class profiles are the class-specific intercepts, slopes and residual
        SD; ``predict_proba`` and ``save`` work as for :func:`bayesmix.lca`.

    Examples
    --------
    >>> from bayesmix.datasets import simulate_mixture_regression
    >>> sim = simulate_mixture_regression(n_clusters=50, cluster_size=10, seed=1)   # Model 5 of Table 3
    >>> m = bm.mixture_regression(sim.data, "y", "x", 2, cluster="cluster", class_level="between",
    ...                           random="intercept")
    >>> ml = m.fit_ml(starts=10, seed=1)         # doctest: +SKIP
    >>> ml.params                                # doctest: +SKIP
    """
    call = {"factory": "mixture_regression", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    check_missing_covariates(missing_covariates)
    check_bool(random_class_intercept, "random_class_intercept")
    check_bool(equal_variances, "equal_variances")
    x, random_labels, covariates, cluster_covariates, integration, random_covariance = _validate(
        data, y, x, n_classes, cluster, class_level, random, random_class_intercept, covariates,
        cluster_covariates, equal_variances, integration, random_covariance)
    # encode validates the outcome, class covariates and clusters (rows with a missing y are dropped);
    # the regression predictors x are checked on the remaining rows
    # the predictors x follow the covariates' policy (one warning for every column)
    data = drop_missing_covariates(data, list(dict.fromkeys([*x, *(covariates or []), *(cluster_covariates or [])])),
                                   missing_covariates)
    encoded = encode(data, [y], n_classes, item_types="continuous", covariates=covariates, cluster=cluster,
                     cluster_covariates=cluster_covariates, missing_covariates=missing_covariates)
    frame = encoded.frame
    x_matrix = numeric_matrix(frame, x, "x")
    constant = [p for p, s in zip(x, x_matrix.std(axis=0)) if s == 0]
    if constant:
        raise ValueError(f"x column(s) {constant} are constant; a constant predictor is the intercept: "
                         "remove it from x.")
    class_covariates = encoded.covariates
    between_level = class_level == "between"
    n_clusters = None
    if cluster is not None:
        n_clusters = len(encoded.clusters)
        check_clusters(encoded.cluster_index, cluster, n_between_classes=n_classes if between_level else None,
                       random_options=[name for name, given in (("random", bool(random_labels)),
                                                                ("random_class_intercept", random_class_intercept))
                                       if given])
    labels = class_labels(n_classes)
    class_effect_labels = labels[:-1] if random_class_intercept else []
    effect_labels = random_labels + class_effect_labels
    effects_have_w = bool(effect_labels) and not between_level and bool(cluster_covariates)
    prior_set = PriorSet(priors, known=_known_priors(n_classes, class_level, covariates, cluster_covariates,
                                                     len(effect_labels), effects_have_w,
                                                     random_covariance))

    design = np.column_stack([np.ones(len(frame)) if label == "intercept" else x_matrix[:, x.index(label[6:-1])]
                              for label in random_labels]) if random_labels else None
    kernel = RegressionKernel(y, encoded.values[:, 0], x_matrix, x, random_design=design,
                              random_labels=random_labels, equal_variances=bool(equal_variances))
    if between_level:
        class_model = ClassModel(n_classes, encoded.cluster_covariates, encoded.cluster_covariate_names,
                                 covariate_dim="cluster_covariate")
    else:
        class_model = ClassModel(n_classes, class_covariates, covariates)

    coords = {"class": labels, "unit": list(encoded.units), "item": [y]}
    if cluster is not None:
        coords["cluster"] = list(encoded.clusters)
    coords.update(class_model.coords(labels))
    coords.update(kernel.coords())
    if effect_labels:
        coords["random_effect"] = effect_labels
        coords["random_effect_"] = effect_labels
        if effects_have_w:
            coords["cluster_covariate"] = encoded.cluster_covariate_names

    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        kernel.build(prior_set)
        effects = None
        if effect_labels:
            effects = LatentEffects(
                effect_labels, encoded.cluster_index, n_clusters,
                encoded.cluster_covariates if effects_have_w else None,
                encoded.cluster_covariate_names if effects_have_w else (),
                form="diagonal" if random_covariance == "diagonal" else "cholesky", dim="random_effect")
            effects.build(prior_set)
        structure = _structure(encoded, kernel, class_model, effects, len(random_labels), between_level)
        structure.add_potential()
    return MixtureModel(
        model=model,
        data=encoded,
        kernels=[kernel],
        class_model=class_model,
        class_labels=labels,
        structure=structure,
        name="mixture_regression",
        options={"call": call, "class_level": class_level, "equal_variances": bool(equal_variances), "y": y, "x": x,
                 "random": tuple(random_labels), "random_class_intercept": bool(random_class_intercept),
                 "random_covariance": random_covariance},
        integration=integration,
        sample_size=encoded.n_units,
        sample_size_basis="units (rows)",
    )


def _structure(encoded, kernel, class_model, effects, n_outcome, between_level):
    """Single level, Models 1-5 (eq. 16-18) and Model 6 as one structure over z.

    The cluster random effects u_j(z) (eq. 5) shift the regression (first
    ``n_outcome`` effects: intercept / slopes, eq. 18) and the class logits
    (the rest: alpha_j of Model 6); one conditional log-likelihood f(z)
    serves NUTS (z sampled) and quadrature.
    """
    def loglik_at(z):
        """log p(y_ij | C = c, u_j(z)) (..., N, K)."""
        if effects is None or not n_outcome:
            return kernel.loglik()
        return kernel.loglik(shift=kernel.random_shift(effects.unit_values(z)[..., :n_outcome]))

    def log_prior_at(z):
        """log P(C = c | x, alpha_j(z)) (..., N|J|1, K)."""
        if effects is None or effects.n_effects == n_outcome:
            return class_model.log_prior()
        return class_model.log_prior(offset=effects.unit_values(z)[..., n_outcome:])

    clustering = {} if encoded.cluster_index is None else {"cluster_index": encoded.cluster_index,
                                                           "n_clusters": len(encoded.clusters)}
    if effects is not None and effects.n_effects > n_outcome:  # Model 6: ICC of the class variable, eq. 20
        class_var = effects.variances()[n_outcome:]
        pm.Deterministic("class_icc", class_var / (class_var + np.pi**2 / 3), dims="class_free")
    if between_level:
        return BetweenClasses(log_prior_at, loglik_at, encoded.n_units, latent=effects, **clustering)
    return WithinClasses(log_prior_at, loglik_at, encoded.n_units, latent=effects, **clustering)
