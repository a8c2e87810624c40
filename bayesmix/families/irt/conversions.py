"""Conversions between the 3PL parameterizations of section 9 (eq. 48-50), with standard errors.

FMA-GoM form (eq. 45-47): gamma_i (logit of the guessing class), lambda_i2,
tau_i2. Direct form (eq. 42): guessing g_i, discrimination a_i, difficulty b_i:

    g_i = exp(gamma_i) / (1 + exp(gamma_i))     (48)
    a_i = lambda_i2                             (49)
    b_i = -tau_i2 / lambda_i2                   (50)

and back: gamma_i = logit(g_i), lambda_i2 = a_i, tau_i2 = -a_i b_i. The
functions broadcast over any leading axes (posterior draws).
:func:`irt_parameters` reports both forms for a fitted
:func:`bayesmix.irt_3pl` model: delta-method standard errors after ML (the
same observed-information covariance as ``fit_ml``), posterior means, SDs
and ``ci_prob`` intervals after NUTS/Laplace (:func:`bayesmix.evaluate.evaluate_at_fit`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

__all__ = ["fmagom_to_irt", "irt_to_fmagom", "irt_parameters"]

QUANTITIES = ("g", "a", "b", "gamma", "lambda", "tau")


def fmagom_to_irt(gamma, lambda2, tau2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gamma_i, lambda_i2, tau_i2) -> (g_i, a_i, b_i) by eq. 48-50.

    Parameters
    ----------
    gamma, lambda2, tau2 : array_like
        The FMA-GoM parameters (any leading axes, e.g. draws).

    Returns
    -------
    tuple of ndarray
        g = expit(gamma) (48), a = lambda2 (49), b = -tau2 / lambda2 (50).

    Examples
    --------
    >>> from bayesmix.families.irt.conversions import fmagom_to_irt
    >>> [round(float(v), 4) for v in fmagom_to_irt(0.0, 2.0, -1.0)]
    [0.5, 2.0, 0.5]
    """
    lambda2 = np.asarray(lambda2, float)
    return expit(np.asarray(gamma, float)), lambda2, -np.asarray(tau2, float) / lambda2


def irt_to_fmagom(g, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(g_i, a_i, b_i) -> (gamma_i, lambda_i2, tau_i2), the inverse of eq. 48-50.

    Parameters
    ----------
    g, a, b : array_like
        Guessing, discrimination and difficulty (any leading axes).

    Returns
    -------
    tuple of ndarray
        gamma = logit(g), lambda2 = a, tau2 = -a b.

    Examples
    --------
    >>> from bayesmix.families.irt.conversions import irt_to_fmagom
    >>> [round(float(v), 4) for v in irt_to_fmagom(0.5, 2.0, 0.5)]
    [0.0, 2.0, -1.0]
    """
    a = np.asarray(a, float)
    return logit(np.asarray(g, float)), a, -a * np.asarray(b, float)


def irt_parameters(mm, result, ci_prob: float | None = None, *, ci_kind: str | None = None,
                   hdi_prob: float | None = None) -> pd.DataFrame:
    """Both parameterizations of a fitted 3PL model, items x (quantity, statistic).

    Quantities: g, a, b (eq. 42) and gamma, lambda, tau (eq. 44-47). Fixed
    elements (e.g. g_i = 0 for an item without guessing) have SE 0.

    Parameters
    ----------
    mm : ThreePLModel
        From :func:`bayesmix.irt_3pl`.
    result : MLResult, MAP result or DataTree
        ML (estimate, delta-method ``se`` and ``se_robust``), MAP (estimate) or
        a posterior (``mean``, ``sd``, ``lower``, ``upper`` over draws).
    ci_prob : float, optional
        Probability of the posterior interval (default ArviZ's ``stats.ci_prob``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (default, ArviZ's ``stats.ci_kind``) or highest density interval.
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        Items x (quantity, statistic).

    Examples
    --------
    >>> ml = m.fit_ml(seed=1)                                   # doctest: +SKIP
    >>> bm.irt_conversions.irt_parameters(m, ml)["b"]           # doctest: +SKIP
    """
    from ...evaluate import evaluate_at_fit, interval_arguments, summarize
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    graphs = mm.irt_graphs()
    items = mm.factor.item_names
    n = len(items)
    graph = _stack([graphs[q] for q in QUANTITIES])
    ev = evaluate_at_fit(mm, result, graph, key="irt_parameters", max_draws=4000)
    stats = summarize(ev, ci_prob=ci_prob, ci_kind=ci_kind, interval_at_point=False)
    cols = {}
    for s, v in stats.items():
        v = np.asarray(v).reshape(len(QUANTITIES), n)
        for qi, q in enumerate(QUANTITIES):
            cols[(q, s)] = v[qi]
    frame = pd.DataFrame(cols, index=pd.Index(items, name="item"))
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["quantity", "statistic"])
    return frame


def _stack(outputs):
    import pytensor.tensor as pt
    return pt.stack([pt.as_tensor(o) for o in outputs])
