"""Conditional class probability curves P(C_ij = c | alpha_1j) (the paper's figures 2-3, eq. 4-5, 20).

A model with random intercepts alpha_cj on its K-1 class logits (eq. 4-5: a
two-level LCA with ``random_intercept=True``, Model 6 of ``bm.mixture_regression``
with ``random_class_intercept=True``, an LTA with ``random_intercepts=True``
at its first time point, a logistic-normal GoM) gives every unit of cluster j
the class probabilities softmax(alpha + alpha_j). The larger Var(alpha_1j)
(the higher the ICC of eq. 20), the steeper P(C = 1 | alpha_1j) on the
standard scale of alpha_1j: 0 or 1 for most clusters, and the within class
is in effect a between one (eq. 16, 21; Table 4). :func:`class_probability_curves`
computes these curves for any such model -- at a fit's estimates, or at given
variances (the paper's figures: Var(alpha_1) = 100 and 10,000, mean 0).

The class-logit random intercepts are found by their effect labels: the
latent effects labelled by the free class labels (``class1``, ...), else, for
effects labelled ``<block>:<class>`` (LTA: ``<time>:<class>``), those of the
first block, the time-1 class C_1 whose logits are ``class_intercept`` +
alpha_1j (eq. 12).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import logsumexp

from ._compile import function
from .evaluate import as_fit, interval, interval_arguments, parameter_draws

__all__ = ["class_probability_curves", "class_intercept_effects", "curves_at"]


def class_intercept_effects(mm) -> list[int]:
    """Indices of ``mm.latent``'s effects that are random intercepts alpha_cj of the K-1 free class logits.

    Raises a ValueError naming the fix when the model has none.
    """
    latent = getattr(mm, "latent", None)
    free = list(mm.class_labels[:-1]) if mm.n_classes > 1 else []
    labels = list(getattr(latent, "effect_labels", []) or [])
    idx = [labels.index(c) for c in free if c in labels]
    if not idx:
        blocks = [lab.split(":", 1)[0] for lab in labels if ":" in lab and lab.split(":", 1)[1] in free]
        if blocks:
            first = blocks[0]
            idx = [labels.index(f"{first}:{c}") for c in free if f"{first}:{c}" in labels]
    if len(idx) != len(free) or not free:
        raise ValueError(
            f"{type(mm).__name__} {mm.name!r} has no random intercepts on its class logits (eq. 4-5), so "
            "P(C = c | alpha_1) is not defined: build it with random class intercepts (bm.lca(..., cluster=..., "
            "random_intercept=True), bm.mixture_regression(..., random_class_intercept=True), bm.lta(..., "
            "random_intercepts=True)), or call class_probability_curves(mm, None, variances=...) for the "
            "curves of given variances.")
    return idx


def _curve_function(mm):
    """Compiled: parameters -> (mean of the class logits (K-1,) at the covariate means, Cov(alpha_j) (K-1, K-1))."""
    if "class_probability_curves" not in mm._cache:
        idx = class_intercept_effects(mm)
        cm, latent = mm.class_model, mm.latent
        mu = cm.params["class_intercept"]
        if getattr(cm, "covariates", None) is not None and "class_slope" in cm.params:
            mu = mu + pt.dot(pt.as_tensor(np.asarray(cm.covariates, dtype=float).mean(axis=0)), cm.params["class_slope"])
        if getattr(latent, "w", None) is not None and "slope" in latent.params:  # cluster covariates at their means
            shift = pt.dot(pt.as_tensor(np.asarray(latent.w, dtype=float).mean(axis=0)), latent.params["slope"])
            mu = mu + shift[idx]
        cov = latent.covariance()[idx][:, idx]
        rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        mm._cache["class_probability_curves"] = ([rv.name for rv in rvs], function(rvs, [mu, cov]))
    return mm._cache["class_probability_curves"]


def curves_at(mu: np.ndarray, offset: np.ndarray, sigma: np.ndarray, grid: np.ndarray, nodes: int = 20) -> np.ndarray:
    """P(C = k | alpha_1 = mu_1 + sd_1 t) for t in ``grid``, (G, K) (eq. 4 with alpha_j normal, eq. 5).

    ``mu`` (K-1,) the means of the free class logits, ``offset`` (I or 1, K-1)
    fixed shifts averaged over (GoM: item covariates), ``sigma`` (K-1, K-1)
    their covariance. The other logits given alpha_1 are normal (mean
    mu_r + Sigma_r1 / Sigma_11 (alpha_1 - mu_1), covariance Sigma_rr -
    Sigma_r1 Sigma_1r / Sigma_11: zero for GoM's restricted form, eq. 35) and
    integrated by Gauss-Hermite with ``nodes`` per dimension. For K = 2 the
    curve is the logistic function of mu_1 + sd_1 t.
    """
    mu = np.atleast_1d(np.asarray(mu, dtype=float))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=float))
    offset = np.atleast_2d(np.asarray(offset, dtype=float))
    d = len(mu)
    sd1 = np.sqrt(sigma[0, 0])
    alpha1 = mu[0] + sd1 * grid  # (G,)
    if d == 1:
        logits = alpha1[:, None, None]  # (G, 1 node, 1)
        weights = np.ones(1)
    else:
        beta = sigma[1:, 0] / sigma[0, 0]
        cond = sigma[1:, 1:] - np.outer(sigma[1:, 0], sigma[0, 1:]) / sigma[0, 0]
        vals, vecs = np.linalg.eigh((cond + cond.T) / 2)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
        x, w = np.polynomial.hermite_e.hermegauss(nodes)
        grids = np.meshgrid(*[x] * (d - 1), indexing="ij")
        points = np.stack([g.ravel() for g in grids], axis=-1)  # (Q, d-1)
        weights = np.prod(np.stack(np.meshgrid(*[w] * (d - 1), indexing="ij"), -1).reshape(-1, d - 1), axis=1)
        rest = (mu[1:] + beta * (alpha1[:, None] - mu[0]))[:, None, :] + (points @ root.T)[None]  # (G, Q, d-1)
        logits = np.concatenate([np.broadcast_to(alpha1[:, None, None], rest.shape[:2] + (1,)), rest], axis=-1)
        weights = weights / weights.sum()
    logits = logits[:, :, None, :] + offset[None, None]  # (G, Q, I, K-1)
    full = np.concatenate([logits, np.zeros(logits.shape[:-1] + (1,))], axis=-1)
    probs = np.exp(full - logsumexp(full, axis=-1, keepdims=True)).mean(axis=2)  # (G, Q, K)
    return np.einsum("gqk,q->gk", probs, weights)


def _with_variance(sigma: np.ndarray, variance: float) -> np.ndarray:
    """``sigma`` with Var(alpha_1) set to ``variance``, correlations kept."""
    sigma = np.array(sigma, dtype=float, copy=True)
    scale = np.sqrt(variance / sigma[0, 0]) if sigma[0, 0] > 0 else 0.0
    sigma[0, 1:] *= scale
    sigma[1:, 0] *= scale
    sigma[0, 0] = variance
    return sigma


def class_probability_curves(mm, fit=None, *, variances: Sequence[float] | None = None, mean: float | None = None,
                             grid: Sequence[float] | None = None, ci_prob: float | None = None,
                             ci_kind: str | None = None, max_draws: int = 200, nodes: int = 20) -> pd.DataFrame:
    """P(C = c | alpha_1) over a grid of the standardized alpha_1 (figures 2-3 of section 5; eq. 4-5, 20-21).

    For a unit of cluster j the class probabilities are the multinomial logit
    softmax(alpha_c + alpha_cj) (eq. 4) with alpha_j normal (eq. 5); the curve
    holds alpha_1j = E(alpha_1j) + SD(alpha_1j) t at each grid value t (the
    paper's "standard scale of alpha_1") and, for K > 2, integrates the other
    logits over their normal distribution given alpha_1j. For K = 2,
    P(C = 1 | alpha_1) = 1 / (1 + exp(-(mu + SD t))). A large Var(alpha_1)
    (ICC = Var / (Var + pi^2/3), eq. 20, near 1) makes the curve a step:
    classes are then constant within clusters (eq. 21), a between-level class.

    Parameters
    ----------
    mm : MixtureModel or None
        A model with random intercepts on its class logits (see
        :mod:`bayesmix.curves`); ``None`` with ``fit=None`` draws the paper's
        two-class curves of the given ``variances`` alone.
    fit : MLResult, MAPResult, point dict or DataTree, optional
        The estimates: the mean of the class logits and Cov(alpha_j) (a
        posterior: the mean and a ``ci_prob`` interval over up to
        ``max_draws`` draws). ``None``: no fit, ``variances`` required.
    variances : sequence of float, optional
        Var(alpha_1) values to draw a curve for, instead of the fitted one
        (the paper's figures 2 and 3: ``(100, 10000)``); correlations with the
        other class logits are kept.
    mean : float, optional
        E(alpha_1j) (default the fitted class intercept at the covariate
        means; without a fit 0, as the paper's figures).
    grid : sequence of float, optional
        Standardized alpha_1 values t (default 121 points on [-3, 3]).
    ci_prob, ci_kind : optional
        Posterior interval (defaults of ArviZ, :mod:`bayesmix.evaluate`).
    max_draws : int
        Posterior draws used (thinned evenly).
    nodes : int
        Gauss-Hermite nodes per further class logit (K > 2).

    Returns
    -------
    DataFrame
        Tidy: one row per (variance, grid value, class) with columns
        ``variance`` (Var(alpha_1)), ``icc`` (eq. 20), ``alpha1_std`` (t),
        ``alpha1`` (mean + SD t), ``class`` and ``probability``; a posterior
        adds ``lower`` and ``upper``.

    Examples
    --------
    >>> curves = bm.class_probability_curves(None, variances=(100, 10000))      # figures 2-3  # doctest: +SKIP
    >>> m6 = bm.from_spec("table3_model6"); ml = m6.fit_ml(seed=1)               # doctest: +SKIP
    >>> bm.class_probability_curves(m6, ml, variances=(100, 10000))             # doctest: +SKIP
    """
    grid = np.linspace(-3.0, 3.0, 121) if grid is None else np.asarray(grid, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError("grid must be a non-empty sequence of finite numbers (standardized alpha_1 values).")
    if variances is not None:
        variances = [float(v) for v in np.atleast_1d(np.asarray(variances, dtype=float))]
        if not variances or not all(np.isfinite(v) and v > 0 for v in variances):
            raise ValueError(f"variances={variances!r}: give positive, finite values of Var(alpha_1), "
                             "e.g. variances=(100, 10000) for the paper's figures 2-3.")
    if mean is not None and not np.isfinite(mean):
        raise ValueError(f"mean={mean!r} must be a finite number (E alpha_1).")
    if fit is None:
        if variances is None:
            raise ValueError("class_probability_curves needs a fit (the fitted Var(alpha_1)) or variances=... "
                             "(e.g. (100, 10000), the paper's figures 2-3).")
        k = 2 if mm is None else mm.n_classes
        if k != 2:
            raise ValueError(f"without a fit the curves need K = 2 classes (the model has {k}): the other class "
                             "logits' distribution comes from a fit; pass one.")
        labels = ["class1", "class2"] if mm is None else list(mm.class_labels)
        points = [(np.array([0.0 if mean is None else mean]), np.ones((1, 1)))]
    else:
        if mm is None:
            raise ValueError("a fit needs its model: class_probability_curves(mm, fit, ...).")
        labels = list(mm.class_labels)
        names, fn = _curve_function(mm)
        _, draws = parameter_draws(mm, fit, names=names, max_draws=max_draws)
        points = []
        for values in draws:
            mu, cov = fn(*values)
            mu = np.array(mu, dtype=float)
            if mean is not None:
                mu[0] = mean
            points.append((mu, np.asarray(cov, dtype=float)))
    is_point = fit is None or as_fit(fit).is_point
    settings = [None] if variances is None else variances
    frames = []
    for variance in settings:
        curves, used = [], []
        for mu, cov in points:
            sigma = cov if variance is None else _with_variance(cov, variance)
            used.append(sigma[0, 0])
            curves.append(curves_at(mu, np.zeros((1, len(mu))), sigma, grid, nodes))
        curves = np.stack(curves)  # (S, G, K)
        var = float(np.mean(used))
        mu1 = float(np.mean([mu[0] for mu, _ in points]))
        base = {"variance": var, "icc": var / (var + np.pi**2 / 3)}
        for c, label in enumerate(labels):
            frame = pd.DataFrame({**base, "alpha1_std": grid, "alpha1": mu1 + np.sqrt(var) * grid, "class": label,
                                  "probability": curves[:, :, c].mean(0)})
            if not is_point:
                ci_prob_, ci_kind_ = interval_arguments(ci_prob, ci_kind, None)
                lower, upper = interval(curves[:, :, c], ci_prob_, ci_kind_)
                frame["lower"], frame["upper"] = lower, upper
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)
