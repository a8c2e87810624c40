"""The three-parameter (guessing) IRT model, directly and as a constrained FMA-GoM (paper section 9).

Direct (eq. 42):

    P(Y_ij = 1 | eta_j) = g_i + (1 - g_i) F(a_i (eta_j - b_i)),   eta_j ~ N(0, 1)

estimated as g_i + (1 - g_i) F(tau_i + lambda_i eta_j) with a_i = lambda_i,
b_i = -tau_i / lambda_i. FMA-GoM form (eq. 43-47): two item-level classes,
the first ("guessing") with alpha_1j = 0, lambda_i1 = 0 and tau_i1 = 15, so
P(Y_ij = 1 | C_ij = 1) = F(15) ~ 1 (eq. 45), the second an ordinary 2PL item
(eq. 46), and item-specific class logits gamma_i (eq. 44, 47). The two are one
model: g_i = expit(gamma_i), a_i = lambda_i2, b_i = -tau_i2 / lambda_i2
(eq. 48-50; :mod:`bayesmix.families.irt.conversions`).

``guessing=`` chooses which items guess: ``None`` every item (g_i free,
Beta(5, 17) prior for Bayesian fits, ``priors={"irt_guessing": {...}}``),
a list of items (the others have g_i = 0: a 2PL item), a number (every g_i
fixed there) or a dict item -> ``"free"`` or a fixed value (unlisted items
g_i = 0). In the FMA-GoM form a fixed g_i fixes gamma_i = logit(g_i)
(g_i = 0 as gamma_i = -30).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import logit

from ...class_model import ClassModel
from ...constraints import constrained_model
from ...data import encode
from ...kernels import BinaryKernel, GuessingKernel
from ...latent import PersonFactor
from ...model import MixtureModel  # noqa: F401  (type of the result)
from ...options import check_integration
from ...parameters import create
from ...structure import ItemClasses, WithinClasses
from ..fma.factory import IRTPriorSet, observed_mask
from .model import ThreePLModel

__all__ = ["irt_3pl", "PARAMETERIZATIONS", "TAU_GUESSING"]

PARAMETERIZATIONS = ("direct", "fma-gom")
#: tau_i1 of the guessing class (eq. 45-47): F(15) ~ 1 for the logit and the probit link
TAU_GUESSING = 15.0
#: gamma_i standing in for g_i = 0 in the FMA-GoM form (expit(-30) ~ 1e-13)
GAMMA_ZERO = -30.0


def _guessing_values(guessing, items: list[str]) -> np.ndarray:
    """``guessing=`` -> (I,) array: NaN = estimated, a number = fixed g_i."""
    n = len(items)
    if guessing is None:
        return np.full(n, np.nan)
    if isinstance(guessing, (int, float, np.floating, np.integer)) and not isinstance(guessing, bool):
        values = np.full(n, float(guessing))
    elif isinstance(guessing, Mapping):
        unknown = [k for k in guessing if k not in items]
        if unknown:
            raise ValueError(f"guessing= names {unknown}, which are not among the items {items}.")
        values = np.zeros(n)
        for k, v in guessing.items():
            if isinstance(v, str):
                if v != "free":
                    raise ValueError(f"guessing[{k!r}] = {v!r}: use 'free' (estimated) or a number in [0, 1).")
                values[items.index(k)] = np.nan
            else:
                values[items.index(k)] = float(v)
    elif isinstance(guessing, (list, tuple, set)) and all(isinstance(k, str) for k in guessing):
        unknown = [k for k in guessing if k not in items]
        if unknown:
            raise ValueError(f"guessing= names {unknown}, which are not among the items {items}.")
        values = np.array([np.nan if it in guessing else 0.0 for it in items])
    else:
        raise ValueError("guessing must be None (every item guesses), a list of items, a number (fixed g for "
                         f"every item) or a dict item -> 'free' | number; got {guessing!r}.")
    fixed = values[~np.isnan(values)]
    if np.any((fixed < 0) | (fixed >= 1)):
        raise ValueError(f"fixed guessing values must be in [0, 1), got {sorted(set(fixed.tolist()))}.")
    return values


def irt_3pl(
    data: pd.DataFrame,
    items: Sequence[str],
    *,
    parameterization: str = "direct",
    link: str = "logit",
    guessing: Any = None,
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
) -> ThreePLModel:
    """Three-parameter guessing IRT model (eq. 42), directly or as the constrained FMA-GoM of eq. 43-47.

    ``parameterization="direct"``: parameters ``binary_logit`` (tau_i),
    ``factor_loading`` (a_i) and ``irt_guessing`` (g_i).
    ``parameterization="fma-gom"``: two item-level classes (``guessing``,
    ``ability``); ``binary_logit[guessing] = 15`` and
    ``factor_loading[guessing] = 0`` fixed, alpha_1j = 0 (no membership random
    effect), ``guessing_logit`` gamma_i free (eq. 44, 47).
    Both give the same likelihood (up to F(15) < 1 with the logit link, a
    relative 3e-7 per correct response) and the parameters of
    :meth:`ThreePLModel.irt_parameters` agree. eta_j ~ N(0, 1) is integrated by
    quadrature for ML and the per-person ``log_likelihood``; NUTS samples it.

    Parameters
    ----------
    data : DataFrame
        One row per person, binary items.
    items : list of str
        The item columns.
    parameterization : ``"direct"`` or ``"fma-gom"``
        Eq. 42 or the constrained FMA-GoM of eq. 43-47.
    link : ``"logit"`` or ``"probit"``
        F of eq. 42.
    guessing : None, list, float or dict
        Which items guess: None (all, g_i estimated), a list of items, a
        number (one fixed g for every item) or ``{item: "free" | number}``.
    missing_codes : list or dict, optional
        Item codes that mean "missing" (survey codes such as -9, 9 or 999):
        ``[-9, 999]`` for every item or ``{"A": [9], "B": [-1]}`` per item;
        those cells become missing and leave the likelihood (full information).
        Without it, suspicious codes warn and are taken as real categories.
    priors : dict, optional
        Overrides by parameter name (``irt_guessing``, ``factor_loading`` ...).
    integration : dict, optional
        Quadrature over eta_j.
    fixed, equal : dict or list, optional
        Constraints by parameter name and coordinate labels (Mplus ``@`` and
        ``(1)``), e.g. ``fixed={"binary_logit[class1, Q1]": 0.0}``,
        ``equal={"irt_guessing": "binary_item"}``; they hold for every estimator
        and leave the parameter count (:mod:`bayesmix.constraints`).

    Returns
    -------
    ThreePLModel
        :meth:`ThreePLModel.irt_parameters` gives both parameterizations
        (eq. 48-50) with SEs or intervals; ``factor_scores`` and
        ``item_curves`` as for :func:`bayesmix.fma`.

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.irt_3pl(lsat, list(lsat.columns), guessing=0.2)    # g_i fixed at 0.2
    >>> ml = m.fit_ml(starts=5, seed=1)          # doctest: +SKIP
    >>> m.irt_parameters(ml)                     # doctest: +SKIP
    """
    call = {"factory": "irt_3pl", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"parameterization={parameterization!r} is unknown; use one of {PARAMETERIZATIONS}.")
    if link not in ("logit", "probit"):
        raise ValueError(f"link={link!r} is not supported; use 'logit' or 'probit'.")
    encoded = encode(data, items, 1, item_types="binary", missing_codes=missing_codes)
    integration = check_integration(integration)
    names = encoded.item_names()
    guess = _guessing_values(guessing, names)
    prior_set = IRTPriorSet(priors)
    direct = parameterization == "direct"
    labels = ["class1"] if direct else ["guessing", "ability"]
    coords = {"class": labels, "unit": list(encoded.units), "item": names, "binary_item": names}
    class_model = ClassModel(len(labels))
    coords.update(class_model.coords(labels))
    items_spec = encoded.items_of("binary")
    model_kwargs = {}
    with constrained_model(coords, fixed, equal) as model:
        if direct:
            kernel = GuessingKernel(items_spec, encoded, link, guessing_fixed=guess)
            kernel.build(prior_set)
            factor = PersonFactor(names, encoded.n_units)
            factor.build(prior_set)
            structure = WithinClasses(lambda z: class_model.log_prior(),
                                      lambda z: kernel.loglik(shift=factor.shift(names, z)), encoded.n_units,
                                      latent=factor)
        else:
            kernel = BinaryKernel(items_spec, encoded, link)
            tau_fixed = np.vstack([np.full(len(names), TAU_GUESSING), np.full(len(names), np.nan)])
            kernel.build(prior_set, fixed={"binary_logit": tau_fixed})
            factor = PersonFactor(names, encoded.n_units, class_specific=True, class_names=labels,
                                  fixed=np.vstack([np.zeros(len(names)), np.full(len(names), np.nan)]))
            factor.build(prior_set)
            gamma_fixed = np.where(np.isnan(guess), np.nan,
                                   np.where(guess > 0, logit(np.clip(guess, 1e-13, None)), GAMMA_ZERO))
            gamma = create(prior_set, "guessing_logit", dims="binary_item",
                           fixed=None if np.isnan(gamma_fixed).all() else gamma_fixed)
            log_membership = pt.special.log_softmax(pt.stack([gamma, pt.zeros_like(gamma)], axis=-1), axis=-1)
            membership = lambda z: log_membership[None]  # noqa: E731  (1, I, K): item-specific (eq. 44, 47)
            structure = ItemClasses(membership, lambda z: kernel.loglik_by_item(shift=factor.shift(names, z)),
                                    encoded.n_units, observed=observed_mask([kernel]), latent=factor,
                                    per_item=True, shared_log_membership_at=membership,
                                    tables_at=lambda z: [kernel.tables(factor.shift(names, z))])
            model_kwargs = {"guessing_logit": gamma, "log_membership": log_membership}
        structure.add_potential()
    prior_set.check_unused()
    mm = ThreePLModel(
        model=model, data=encoded, kernels=[kernel], class_model=class_model, class_labels=labels,
        structure=structure, name="irt_3pl",
        options={"call": call, "link": link, "loadings": "invariant" if direct else "class-specific",
                 "parameterization": parameterization, "guessing": guess},
        integration=integration, sample_size=encoded.n_units, sample_size_basis="persons (rows)",
    )
    for key, value in model_kwargs.items():
        setattr(mm, key, value)
    return mm
