"""Latent class analysis (paper section 2, eq. 1-4, single level)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd
import pymc as pm

from ..class_model import ClassModel
from ..data import encode
from ..kernels import build_kernels
from ..marginal import marginal_loglik
from ..model import MixtureModel
from ..priors import DEFAULT_PRIORS, PriorSet


def class_labels(n_classes: int) -> list[str]:
    return [f"class{c + 1}" for c in range(n_classes)]


def lca(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    item_types: str | Mapping[str, str] | None = None,
    covariates: Sequence[str] | None = None,
    link: str = "logit",
    priors: Mapping[str, Any] | None = None,
    ordered: str | None = None,
    equal_variances: bool = False,
) -> MixtureModel:
    """Latent class analysis with the classes marginalized exactly.

    Model (Asparouhov & Muthén 2006, section 2 with one level): for unit i,
    ``log p(y_i) = logsumexp_c [log P(C_i=c | x_i) + sum_p log p(y_pi | C_i=c)]``
    with class probabilities from the multinomial logit of eq. 4 (last class
    the reference) and item kernels from eq. 1 (categorical: binary or
    ordinal thresholds with a logit or probit link; nominal: multinomial
    logit) and eq. 2 (continuous: normal with class-specific mean and
    variance). Items are conditionally independent given the class.

    Parameters
    ----------
    data : DataFrame, one row per unit (wide).
    items : item columns. Types are inferred (two codes -> binary; other
        integer/str codes -> nominal; many numeric values -> continuous) or
        given with ``item_types`` (one type for all, or a dict per item;
        ``"ordinal"`` for ordered thresholds).
    n_classes : number of latent classes K (required: no silent default).
    covariates : unit-level numeric columns predicting the class (eq. 4).
    link : ``"logit"`` or ``"probit"`` for binary and ordinal items.
    priors : overrides by parameter name, e.g. ``{"binary_logit": {"sigma": 3}}``.
    ordered : an item (binary or continuous) whose class-specific parameter
        is constrained to increase over classes; identifies the labels.
    equal_variances : continuous items share one variance across classes.

    Missing responses are left out of the likelihood (full information);
    rows with every item missing are dropped with a warning.
    """
    encoded = encode(data, items, n_classes, item_types=item_types, covariates=covariates)
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
    prior_set = PriorSet(priors, known=set(DEFAULT_PRIORS))
    labels = class_labels(n_classes)
    kernels = build_kernels(encoded, link=link, equal_variances=equal_variances)
    class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)

    coords = {"class": labels, "unit": list(encoded.units), "item": encoded.item_names()}
    coords.update(class_model.coords(labels))
    for kernel in kernels:
        coords.update(kernel.coords())
    with pm.Model(coords=coords) as model:
        class_model.build(prior_set)
        for kernel in kernels:
            kernel.build(prior_set, ordered_item=ordered)
        log_prior = class_model.log_prior()
        loglik_by_class = sum(kernel.loglik() for kernel in kernels)
        unit_loglik = marginal_loglik(log_prior, loglik_by_class)
        pm.Potential("loglik", unit_loglik.sum())
    return MixtureModel(
        model=model,
        data=encoded,
        kernels=kernels,
        class_model=class_model,
        class_labels=labels,
        log_prior=log_prior,
        loglik_by_class=loglik_by_class,
        unit_loglik=unit_loglik,
        name="lca",
        ordered=ordered,
        options={"link": link, "equal_variances": equal_variances},
    )
