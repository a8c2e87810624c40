"""Wald tests of ML parameters: z = estimate / SE, two-sided normal p-values, odds ratios of class-logit slopes.

Added to ``ml.params`` as the columns ``z``, ``p`` and ``odds_ratio`` (as
Mplus prints Est./S.E. and Two-Tailed P-Value beside every estimate, and
the odds ratios of the multinomial logistic regression of the classes on
covariates). ``z`` uses the ``se`` column (observed information); NaN where
the SE is NaN (boundary parameters and quantities resting on them) or 0
(fixed elements). The test is against 0 on the parameter's own scale
(logits, slopes, log-odds; for an SD or variance it is not a useful test,
as in Mplus). ``odds_ratio`` = exp(estimate) for the covariate slopes of
reference-coded class (and transition) logits -- the odds of a class
against the last (reference) class per unit of the covariate -- and NaN
for every other parameter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["odds_ratio_parameters", "wald_columns"]


def odds_ratio_parameters(mm) -> set[str]:
    """Names of the covariate slopes of reference-coded multinomial logits (class, between-class, transition).

    They are the registered parameters that are reference coded (K - 1 logits
    against the last class) and unbounded (slopes; intercepts are bounded
    logits): ``class_slope``, ``between_class_slope``, ``transition_slope``,
    ``class_item_slope``.
    """
    return {info.name for info in mm.parameters if info.reference_coded and not info.bounded}


def wald_columns(mm, params: pd.DataFrame) -> pd.DataFrame:
    """``params`` with ``z``, ``p`` (two-sided normal) and ``odds_ratio`` columns appended.

    Parameters
    ----------
    mm : MixtureModel
        The model (its parameter registry tells which rows are class-logit slopes).
    params : DataFrame
        ``estimate`` and ``se`` per parameter element, indexed by labels such
        as ``class_slope[x1, class1]``.

    Returns
    -------
    DataFrame
        A copy with the three columns added.
    """
    estimate = params["estimate"].to_numpy(dtype=float)
    se = params["se"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(np.isfinite(se) & (se > 0), estimate / se, np.nan)
    names = np.array([str(label).split("[", 1)[0] for label in params.index])
    slopes = np.isin(names, sorted(odds_ratio_parameters(mm)))
    with np.errstate(over="ignore"):
        odds = np.where(slopes, np.exp(estimate), np.nan)
    return params.assign(z=z, p=2.0 * stats.norm.sf(np.abs(z)), odds_ratio=odds)
