"""The Vuong-Lo-Mendell-Rubin likelihood-ratio test of K - 1 against K classes (Mplus TECH11).

The likelihood ratio LR = 2 (LL_K - LL_{K-1}) of two mixtures has no
chi-square reference: under H0 the larger model sits on the boundary of its
parameter space (a class proportion of 0) or is not identified. Vuong (1989,
Theorem 3.3) gives the limiting distribution of LR for two models f (K
classes, p parameters) and g (K - 1 classes, q parameters) fitted by ML to
the same data without requiring the smaller one to be a regular special
case: a weighted sum of independent chi-squares,

    LR -> sum_j lambda_j Z_j^2,   Z_j ~ N(0, 1),

with lambda the p + q eigenvalues of

    W = [  B_f A_f^-1     B_fg A_g^-1 ]
        [ -B_gf A_f^-1   -B_g A_g^-1  ],

A = -E[d2 log f / d theta d theta'] (information per unit), B = E[s s']
(outer products of the per-unit scores s_i) and B_fg = E[s_f s_g'] the
cross products of the two models' scores; here the sample versions at the
ML estimates: A = H / n (H the observed information, the Hessian of -LL)
and B = S'S / n over the n independent units (units, or clusters in
two-level models). Lo, Mendell & Rubin (2001) proposed this reference for
the number of mixture components (the "VLMR" test), and an ad hoc
correction of the statistic for small samples (their eq. 15),

    LR* = LR / (1 + 1 / ((p - q) ln n)),

referred to the same distribution (the "LMR adjusted" test). Mplus prints
both in TECH11, with the mean sum(lambda) and the standard deviation
sqrt(2 sum(lambda^2)) of the reference distribution. The tail probability
P(sum lambda_j Z_j^2 > x) is computed by Imhof's (1961) inversion of the
characteristic function.

Mplus and Vuong differ in one matrix (Vermunt 2024, Methodology 20, 72-83):
where Vuong's W has A^-1 -- the per-unit covariance of the estimates under
the information equality -- Mplus puts the robust (sandwich) covariance
A^-1 B A^-1. ``variance="robust"`` (the default) is Mplus's

    W = [  B_f A_f^-1 B_f A_f^-1     B_fg A_g^-1 B_g A_g^-1 ]
        [ -B_gf A_f^-1 B_f A_f^-1   -B_g A_g^-1 B_g A_g^-1  ],

``variance="information"`` Vuong's (and Latent GOLD's). Checked on Mplus
8.11's TECH11 for the public "10 FAQ" LCA data (tests/data/mplus_10faq,
K = 1..6, N = 1629): with the robust form mean, SD, the LMR statistic and
both p-values agree with Mplus to its printed digits for 1 vs 2 up to 4 vs 5
classes; at 5 vs 6 (14 logits at the bound in the two fits, W nearly
singular) mean and SD are 25.518 / 51.721 against 25.520 / 51.724 and the
p-values 0.4724 / 0.4749 against 0.4724 / 0.4750. With Vuong's form the
mean and SD differ (1 vs 2 classes: 8.86 / 5.21 against Mplus's
9.00 / 10.62; 4 vs 5: p 0.105 against 0.429). Vermunt's simulations found the robust
form's reference more data dependent; neither gives uniform p-values under H0.

As in Mplus, logits at the boundary (beyond +-15, a probability 0 or 1)
are fixed: they take no part in A, B or W (the ML standard errors do the
same). Jeffries (2003) showed the regularity conditions behind the
distribution do not hold for mixtures; simulation studies (Nylund,
Asparouhov & Muthen 2007) found the VLMR useful but the bootstrap LRT
(:func:`bayesmix.blrt`) more accurate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate


__all__ = ["vlmr", "weighted_chi2_sf", "vuong_eigenvalues"]


def weighted_chi2_sf(x: float, weights, *, tol: float = 1e-7) -> float:
    """P(sum_j w_j Z_j^2 > x) for independent standard normal Z_j.

    Imhof's (1961) inversion of the characteristic function for three or
    more weights,

        P = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du,
        theta(u) = 1/2 sum arctan(w_j u) - x u / 2,   rho(u) = prod (1 + w_j^2 u^2)^(1/4),

    by Simpson's rule on a grid fine enough for the oscillation of theta up
    to where Imhof's bound on the rest falls below ``tol``; the exact chi-square
    tail for one weight and a one-dimensional integral for two.

    Parameters
    ----------
    x : float
        The point.
    weights : array_like
        The weights w_j (any signs; weights below 1e-10 of the largest are dropped).
    tol : float
        Bound on the truncation error of the integral.

    Returns
    -------
    float
        The upper tail probability; 0 below 10 ``tol`` with three or more
        weights (the accuracy of the integral), as Mplus prints 0.0000.

    Examples
    --------
    >>> from bayesmix.vlmr import weighted_chi2_sf
    >>> round(weighted_chi2_sf(3.841459, [1.0]), 6)                  # chi-square(1)
    0.05
    >>> round(weighted_chi2_sf(11.070498, [1.0] * 5), 6)             # chi-square(5)
    0.05
    """
    from scipy import stats
    w = np.asarray(weights, dtype=float).ravel()
    if len(w) == 0 or not np.any(w):
        return float(x < 0)
    w = w[np.abs(w) > 1e-10 * np.max(np.abs(w))]
    x = float(x)
    if len(w) == 1:
        return float(stats.chi2.sf(x / w[0], 1) if w[0] > 0 else stats.chi2.cdf(x / w[0], 1))
    if len(w) == 2:  # condition on the second: P = E_z[P(w1 Z1^2 > x - w2 z^2)]
        def inner(z: float) -> float:
            return stats.norm.pdf(z) * weighted_chi2_sf(x - w[1] * z * z, w[:1])
        value, _ = integrate.quad(inner, -np.inf, np.inf, limit=200, epsabs=tol)
        return float(np.clip(value, 0.0, 1.0))
    if _chernoff_log_bound(x, w) < np.log(9 * tol):  # far in the tail: 0, as the integral would give
        return 0.0
    m = len(w)
    # Imhof's bound on the integral beyond U: 2 / (pi m U^(m/2) prod |w_j|^(1/2))
    log_u = (np.log(2.0 / (np.pi * m * tol)) - 0.5 * np.sum(np.log(np.abs(w)))) * 2.0 / m
    upper = float(np.exp(log_u))
    h = 2 * np.pi / (0.5 * (np.sum(np.abs(w)) + abs(x))) / 40.0  # 40 points per period of theta
    n_steps = int(min(max(np.ceil(upper / h), 400), 4e7))
    n_steps += n_steps % 2  # Simpson: an even number of intervals
    h = upper / n_steps
    total = 0.0
    chunk = 200_000  # even
    for start in range(0, n_steps, chunk):
        stop = min(start + chunk, n_steps)
        u = np.arange(start, stop + 1) * h
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = 0.5 * np.arctan(np.outer(u, w)).sum(axis=1) - 0.5 * x * u
            log_rho = 0.25 * np.log1p(np.outer(u, w) ** 2).sum(axis=1)
            f = np.sin(theta) / (u * np.exp(log_rho))
        if start == 0:
            f[0] = 0.5 * (np.sum(w) - x)  # the limit at u = 0
        coef = np.ones(len(u))
        coef[1:-1:2], coef[2:-1:2] = 4.0, 2.0
        total += h / 3.0 * float(coef @ f)
    value = 0.5 + total / np.pi
    return 0.0 if value < 10 * tol else float(min(value, 1.0))  # below the integral's accuracy: 0


def _chernoff_log_bound(x: float, w: np.ndarray) -> float:
    """log of Chernoff's bound min_t exp(-t x) E[exp(t sum w_j Z_j^2)] >= P(sum w_j Z_j^2 > x).

    A cheap check before Imhof's integral: the LR of K - 1 against a clearly
    better K sits far in the tail (the integral then takes a fine grid for
    nothing). 0 (no information) unless x exceeds the mean.
    """
    from scipy.optimize import minimize_scalar
    top = float(np.max(w))
    if x <= np.sum(w):
        return 0.0
    if top <= 0:
        return -np.inf
    upper = 0.5 / top * (1 - 1e-9)

    def log_bound(t: float) -> float:
        return -t * x - 0.5 * float(np.sum(np.log1p(-2.0 * t * w)))

    res = minimize_scalar(log_bound, bounds=(0.0, upper), method="bounded", options={"xatol": upper * 1e-6})
    return min(0.0, float(res.fun))


def vuong_eigenvalues(scores_big: np.ndarray, information_big: np.ndarray, scores_small: np.ndarray,
                      information_small: np.ndarray, variance: str = "information") -> np.ndarray:
    """Eigenvalues of Vuong's W (eq. 3.6 of Vuong 1989) from per-unit scores and observed information.

    Parameters
    ----------
    scores_big, scores_small : (n, p), (n, q) arrays
        Per-unit scores d loglik_i / d theta of the larger (K classes) and the
        smaller (K - 1 classes) model at their ML estimates, rows the same units.
    information_big, information_small : (p, p), (q, q) arrays
        Observed information (Hessian of -LL, summed over units) of each model.
    variance : {"information", "robust"}
        The covariance of the estimates in W: A^-1 (Vuong; Latent GOLD) or
        the sandwich A^-1 B A^-1 (Mplus TECH11); see :mod:`bayesmix.vlmr`.

    Returns
    -------
    ndarray
        The p + q (real parts of the) eigenvalues, largest first.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesmix.vlmr import vuong_eigenvalues
    >>> s = np.random.default_rng(0).standard_normal((500, 2))
    >>> lam = vuong_eigenvalues(s, s.T @ s, s[:, :1], s[:, :1].T @ s[:, :1])   # nested, information equality
    >>> np.round(np.sort(lam), 6) + 0.0        # one weight 1 (chi-square with p - q = 1 df), the rest 0
    array([0., 0., 1.])
    """
    n = scores_big.shape[0]
    if scores_small.shape[0] != n:
        raise ValueError(f"the two models have scores for {n} and {scores_small.shape[0]} units; the VLMR test "
                         "needs two models of the same data (same units).")
    if variance not in ("information", "robust"):
        raise ValueError(f"variance={variance!r} is unknown; use 'robust' (Mplus) or 'information' (Vuong).")
    a_big_inv = np.linalg.inv(information_big / n)
    a_small_inv = np.linalg.inv(information_small / n)
    b_big = scores_big.T @ scores_big / n
    b_small = scores_small.T @ scores_small / n
    b_cross = scores_big.T @ scores_small / n  # (p, q)
    if variance == "robust":  # Mplus: the sandwich covariance of the estimates in place of A^-1
        a_big_inv = a_big_inv @ b_big @ a_big_inv
        a_small_inv = a_small_inv @ b_small @ a_small_inv
    w = np.block([[b_big @ a_big_inv, b_cross @ a_small_inv],
                  [-b_cross.T @ a_big_inv, -b_small @ a_small_inv]])
    lam = np.real(np.linalg.eigvals(w))
    return np.sort(lam)[::-1]


def _scores_and_information(mm, fit, integration: dict | None, what: str):
    """Per-unit scores and observed information at an ML fit, boundary logits left out."""
    from .inference.objective import flat_model
    theta = getattr(fit, "theta", None)
    if theta is None or not hasattr(fit, "loglik") or not hasattr(fit, "n_params"):
        raise ValueError(f"{what} must be an ML result (m.fit_ml()), got {type(fit).__name__}.")
    flat = flat_model(mm, integration)
    theta = np.asarray(theta, dtype=float)
    if len(theta) != flat.n_params:
        raise ValueError(f"{what} has {len(theta)} parameters but its model has {flat.n_params}: pass the model the "
                         "result was fitted with.")
    loglik = -flat.value_and_grad("loglik")(theta)[0]  # the optimizer's compiled function: no new compile
    if abs(loglik - fit.loglik) > 1e-3 + 1e-6 * abs(fit.loglik):
        raise ValueError(f"{what}'s log-likelihood {fit.loglik:.4f} is not its model's at its estimates "
                         f"({loglik:.4f}): pass the model it was fitted with, and the integration= setting "
                         "fit_ml used (two-level models).")
    free = ~flat.at_bound(theta)
    # both were computed by fit_ml for the standard errors and are kept on the model's FlatModel:
    # reused when the fit is the model's latest (else one sweep of 2 n_params gradients)
    information = flat.hessian(theta, "loglik")[np.ix_(free, free)]
    scores = flat.scores(theta)[:, free]
    return scores, information, int(free.sum())


def vlmr(m_small, ml_small: Any, m_big, ml_big: Any, *, integration: dict | None = None,
         variance: str = "robust") -> pd.Series:
    """Vuong-Lo-Mendell-Rubin test of K - 1 against K classes, and the LMR adjusted test (Mplus TECH11).

    LR = 2 (LL_K - LL_{K-1}) is referred to the weighted sum of chi-squares of
    Vuong (1989, Theorem 3.3) with the weights the eigenvalues of W built
    from both models' per-unit scores and observed information at their ML
    estimates (Lo, Mendell & Rubin 2001); the adjusted statistic is
    LR / (1 + 1 / ((p - q) ln n)) (their eq. 15). By default W holds the
    robust covariance of the estimates as in Mplus TECH11 (mean, SD and
    p-values equal to Mplus 8.11's on the 10 FAQ data, K = 1..6, to its
    printed digits or, at 5 vs 6 classes, within 0.003); see
    :mod:`bayesmix.vlmr`. Same argument order as :func:`bayesmix.blrt` and
    :func:`bayesmix.lrt`. Takes about a second: the scores and observed
    information ``fit_ml`` computed for the standard errors are reused.

    Parameters
    ----------
    m_small, ml_small : MixtureModel, MLResult
        The smaller model (K - 1 classes) and its ML fit.
    m_big, ml_big : MixtureModel, MLResult
        The larger model (K classes) and its ML fit, on the same data.
    integration : dict, optional
        The quadrature ``fit_ml`` used (two-level models), if not the models' default.
    variance : {"robust", "information"}
        The covariance of the estimates in W: the sandwich A^-1 B A^-1 as
        Mplus (default), or A^-1 as Vuong (1989) and Latent GOLD.

    Returns
    -------
    Series
        ``loglik_h0`` (LL of the smaller model), ``statistic`` (LR),
        ``df_difference`` (p - q, free parameters as counted for BIC), ``mean``
        and ``sd`` of the reference distribution, ``p_value`` (VLMR),
        ``lmr_statistic`` and ``lmr_p_value`` (adjusted), ``n`` (independent
        units), ``n_boundary`` (boundary logits of both fits, left out of W);
        ``.attrs["eigenvalues"]``: the weights lambda. A small p-value
        rejects K - 1 classes in favour of K.

    Examples
    --------
    >>> df = bm.datasets.load("carcinoma")
    >>> m1, m2 = (bm.lca(df, list("ABCDEFG"), n_classes=k) for k in (1, 2))
    >>> out = bm.vlmr(m1, m1.fit_ml(seed=1, progressbar=False), m2, m2.fit_ml(seed=1, progressbar=False))
    >>> round(float(out["statistic"]), 2), bool(out["p_value"] < 0.001)   # 2 (LL difference); one class rejected
    (414.42, True)
    """
    from ._pairs import check_pair
    check_pair(m_small, ml_small, m_big, ml_big, "vlmr")
    if ml_big.loglik < ml_small.loglik - 1e-6:
        raise ValueError(f"the larger model's LL ({ml_big.loglik:.4f}) is below the smaller one's "
                         f"({ml_small.loglik:.4f}): pass the K - 1 class model first, and fit the K-class model "
                         "with more starts (e.g. start=ml_small).")
    s_big, h_big, free_big = _scores_and_information(m_big, ml_big, integration, "ml_big")
    s_small, h_small, free_small = _scores_and_information(m_small, ml_small, integration, "ml_small")
    df = int(ml_big.n_params) - int(ml_small.n_params)  # parameters counted as for BIC (boundary logits too)
    lam = vuong_eigenvalues(s_big, h_big, s_small, h_small, variance)
    n = s_big.shape[0]
    statistic = 2.0 * (ml_big.loglik - ml_small.loglik)
    adjusted = statistic / (1.0 + 1.0 / (df * np.log(n)))
    out = pd.Series({"loglik_h0": float(ml_small.loglik), "statistic": statistic, "df_difference": df,
                     "mean": float(np.sum(lam)), "sd": float(np.sqrt(2.0 * np.sum(lam**2))),
                     "p_value": weighted_chi2_sf(statistic, lam), "lmr_statistic": adjusted,
                     "lmr_p_value": weighted_chi2_sf(adjusted, lam), "n": n,
                     "n_boundary": (ml_big.n_params - free_big) + (ml_small.n_params - free_small)}, name="vlmr")
    out.attrs["eigenvalues"] = lam
    return out
