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
and equal-tailed intervals after NUTS/Laplace.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from ...options import check_probability

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


def irt_parameters(mm, result, hdi_prob: float = 0.94) -> pd.DataFrame:
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
    hdi_prob : float
        Probability of the equal-tailed posterior interval.

    Returns
    -------
    DataFrame
        Items x (quantity, statistic).

    Examples
    --------
    >>> ml = m.fit_ml(seed=1)                                   # doctest: +SKIP
    >>> bm.irt_conversions.irt_parameters(m, ml)["b"]           # doctest: +SKIP
    """
    check_probability(hdi_prob, "hdi_prob")
    graphs = mm.irt_graphs()
    outputs = [graphs[q] for q in QUANTITIES]
    items = mm.factor.item_names
    n = len(items)
    if hasattr(result, "params") and hasattr(result, "theta"):  # MLResult
        from ...inference.ml import _covariances, _delta
        from ...inference.objective import flat_model
        flat = flat_model(mm)
        theta = result.theta
        cached = getattr(result, "_covariances", None)  # the Hessian is the costly part: once per result
        if cached is None:
            boundary = flat.at_bound(theta)
            cached = (*_covariances(flat, theta, np.flatnonzero(~boundary)), boundary)
            result._covariances = cached
        cov, cov_r, boundary = cached
        value, se, se_r = _delta(flat, "irt_parameters", outputs, theta, cov, cov_r, boundary)
        stats = {"estimate": value, "se": se, "se_robust": se_r}
    elif hasattr(result, "point"):
        names, draws = mm._draws(result)
        fn = mm._function("irt_parameters", names, [_stack(outputs)])
        stats = {"estimate": np.asarray(fn(*draws[0])).ravel()}
    else:
        names, draws = mm._draws(result, max_draws=4000)
        fn = mm._function("irt_parameters", names, [_stack(outputs)])
        values = np.stack([np.asarray(fn(*v)).ravel() for v in draws])
        tail = (1 - hdi_prob) / 2
        stats = {"mean": values.mean(0), "sd": values.std(0, ddof=1) if len(values) > 1 else values[0] * 0,
                 "lower": np.quantile(values, tail, axis=0), "upper": np.quantile(values, 1 - tail, axis=0)}
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
