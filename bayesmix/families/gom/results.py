"""Grade-of-membership results (section 7): membership scores, the integration check, membership curves.

Each function takes a GoM model and any fit (ML result or posterior draws).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import logsumexp

from ..._compile import function
from ...curves import curves_at
from ...evaluate import POSTERIOR_MEAN_ALIAS, as_fit, interval, interval_arguments, parameter_draws
from ...model import MixtureModel
from ...inference.quadrature import n_nodes


def _points(mm: MixtureModel, fit, max_draws: int) -> list[dict]:
    """Parameter points (name -> value, integrated effects excluded) of a point fit or a posterior."""
    names, draws = parameter_draws(mm, fit, max_draws=max_draws)
    return [dict(zip(names, values)) for values in draws]


def _node_function(mm: MixtureModel, integration: dict | None):
    """Compiled: parameters -> (f_j(z_q) (Q, N), log w_q (Q,), g_j(z_q) (Q, N, K))."""
    settings = mm.settings(integration)
    key = ("gom_nodes", tuple(sorted(settings.items())))
    if key not in mm._cache:
        nodes, logw = mm.rule(settings)
        z = pt.as_tensor(nodes[:, None, :])
        rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        outputs = [mm.structure.conditional_loglik(z), pt.as_tensor(logw) + pt.zeros(n_nodes(nodes)),
                   mm.structure.membership(z)]
        mm._cache[key] = ([rv.name for rv in rvs], function(rvs, outputs))
    return mm._cache[key]


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Quantile over axis 0 of values (S, N, K) with weights (S, N)."""
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, axis=0)
    w = np.take_along_axis(np.broadcast_to(weights[..., None], values.shape), order, axis=0)
    cum = np.cumsum(w, axis=0) / w.sum(axis=0, keepdims=True)
    idx = np.clip((cum < q).sum(axis=0), 0, len(values) - 1)
    return np.take_along_axis(v, idx[None], axis=0)[0]


def membership_scores(mm: MixtureModel, fit, ci_prob: float | None = None, integration: dict | None = None,
                      max_draws: int = 50, *, ci_kind: str | None = None,
                      hdi_prob: float | None = None) -> pd.DataFrame:
    """Per-person membership scores g_jk: posterior mean (EAP), sd and an equal-tailed ``ci_prob`` interval.

    The interval pools draws and quadrature nodes with weights, so it is
    equal-tailed only (``ci_kind="eti"``; ``ci_prob`` defaults to ArviZ's
    ``stats.ci_prob``, 0.89; ``hdi_prob=`` is deprecated).

    The posterior of g_j given y_j at the parameters of ``fit`` (an ML
    result), or pooled over up to ``max_draws`` posterior draws (a NUTS /
    Laplace DataTree), by the quadrature / importance nodes of the model's
    ``integration``. Rows: persons; columns (class, statistic). With the
    Dirichlet membership's default Gauss-Jacobi rule the estimate is exact (the
    default points integrate g_k p(y_j | g) exactly) but the interval's ends are
    node values, coarse with few nodes: pass ``integration={"method":
    "monte-carlo", "points": 4000}`` for finer intervals.
    """
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind or ("eti" if hdi_prob is None else None), hdi_prob)
    if ci_kind != "eti":
        raise ValueError("membership_scores pools draws and quadrature nodes with weights: its interval is "
                         "equal-tailed only (ci_kind='eti'; hdi_prob= is deprecated, use ci_prob=).")
    names, fn = _node_function(mm, integration)
    values, weights = [], []
    for point in _points(mm, fit, max_draws):
        f, logw, g = fn(*[point[k] for k in names])
        a = f + logw[:, None]
        weights.append(np.exp(a - logsumexp(a, axis=0, keepdims=True)))
        values.append(np.broadcast_to(g, (len(logw), mm.n_units, mm.n_classes)))
    w = np.concatenate(weights) / len(weights)
    v = np.concatenate(values)
    mean = np.einsum("sn,snk->nk", w, v)
    sd = np.sqrt(np.maximum(np.einsum("sn,snk->nk", w, v**2) - mean**2, 0.0))
    lo = _weighted_quantile(v, w, (1 - ci_prob) / 2)
    hi = _weighted_quantile(v, w, (1 + ci_prob) / 2)
    stats = {"estimate": mean, "sd": sd, "lower": lo, "upper": hi, POSTERIOR_MEAN_ALIAS: mean}
    columns = pd.MultiIndex.from_product([mm.class_labels, list(stats)], names=["class", "statistic"])
    table = np.stack([stats[s] for s in stats], axis=-1).reshape(mm.n_units, -1)
    return pd.DataFrame(table, index=mm.data.units, columns=columns)


def integration_error(mm: MixtureModel, fit, integration: dict | None = None) -> dict[str, float]:
    """Integrated log-likelihood at an ML result's estimates with its numerical-integration error.

    Monte Carlo / importance rules (the Dirichlet membership, ``method=
    "monte-carlo"``): the delta-method standard error of the summed log of
    the per-person estimates. All persons share the Q nodes, so their errors
    are correlated: sum_j log p_j - log p_j ~= mean_q R_q - N with
    R_q = sum_j w_q p(y_j | z_q) / p_j, and the SE is sd_q(R_q) / sqrt(Q)
    (i.i.d. nodes; heavy-tailed weights make it an underestimate -- compare
    two seeds). Product rules (trapezoid, Gauss-Hermite): the change of the LL
    when the points per dimension are doubled.
    """
    settings = mm.settings(integration)
    names, fn = _node_function(mm, settings)
    point = _points(mm, fit, 1)[0]
    f, logw, _ = fn(*[point[k] for k in names])
    a = f + logw[:, None]
    per_person = logsumexp(a, axis=0)
    loglik = float(per_person.sum())
    q = len(logw)
    if settings["method"] == "monte-carlo":
        ratio = np.exp(a + np.log(q) - per_person[None, :]).sum(axis=1)  # R_q, mean N over the nodes
        se = float(ratio.std(ddof=1) / np.sqrt(q))
        return {"loglik": loglik, "mc_se": se, "points": q}
    points = settings["points"] or round(q ** (1 / mm.latent.n_dims))
    finer = {**settings, "points": 2 * points}
    names2, fn2 = _node_function(mm, finer)
    f2, logw2, _ = fn2(*[point[k] for k in names2])
    fine = float(logsumexp(f2 + logw2[:, None], axis=0).sum())
    return {"loglik": loglik, "quadrature_error": abs(fine - loglik), "points": points}


def _curve_function(mm: MixtureModel):
    """Compiled: parameters -> (mu (K-1,) at the covariate means, item offsets (I or 1, K-1), Sigma (K-1, K-1))."""
    if "gom_curves" not in mm._cache:
        cm, latent = mm.class_model, mm.latent
        mu = cm.params["class_intercept"]
        if cm.covariates is not None:
            mu = mu + pt.dot(pt.as_tensor(cm.covariates.mean(axis=0)), cm.params["class_slope"])
        offset = pt.zeros((1, mm.n_classes - 1))
        if "class_item_slope" in mm.model.named_vars:  # gamma_ci at the item covariates' means
            terms = mm.options["item_covariates"]
            means = getattr(mm, "item_covariate_means", {})
            names = [name for kernel in mm.kernels for name in kernel.names]
            rows = np.zeros((len(names), len(terms)))
            for t, term in enumerate(terms):
                column, item_name = term.rsplit(":", 1)
                rows[names.index(item_name), t] = means[column]
            offset = pt.dot(pt.as_tensor(rows), mm.model["class_item_slope"])
        rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        mm._cache["gom_curves"] = ([rv.name for rv in rvs], function(rvs, [mu, offset, latent.covariance()]))
    return mm._cache["gom_curves"]


def _curves_at(mu: np.ndarray, offset: np.ndarray, sigma: np.ndarray, grid: np.ndarray, nodes: int) -> np.ndarray:
    """P(C_ij = k | alpha_1j = mu_1 + sd_1 t), (G, K): :func:`bayesmix.curves.curves_at` (shared with every model
    with random class intercepts, :func:`bayesmix.class_probability_curves`)."""
    return curves_at(mu, offset, sigma, grid, nodes)


def membership_curves(mm: MixtureModel, fit, grid: Sequence[float] | None = None, ci_prob: float | None = None,
                      max_draws: int = 200, nodes: int = 20, *, ci_kind: str | None = None,
                      hdi_prob: float | None = None) -> pd.DataFrame:
    """Conditional class probability curves P(C_ij = k | alpha_1j) (figures 2-3 of section 5, eq. 30, 34-35).

    The membership of a response as a function of the person's first class
    logit alpha_1j, on its standard scale t = (alpha_1j - E alpha_1j) / SD
    (as the paper's figures 2 and 3): alpha_1j = alpha_1 + SD(alpha_1j) t.
    For K = 2 the curve is Phi_logistic(alpha_1 + SD t) (eq. 30); for K > 2
    the other logits are integrated over their normal distribution given
    alpha_1j (degenerate for the restricted form, eq. 35). A large variance
    (a high ``class_icc``) gives steep curves, 0 or 1 for most persons: the
    LCA limit. Covariates (and item covariates, averaged over items) are
    held at their sample means.

    Parameters
    ----------
    mm : MixtureModel
        A ``bm.gom`` model with ``membership="logistic-normal"`` or ``"restricted"``.
    fit : MLResult or DataTree
        An ML (or MAP) result: the curves at its estimates; a posterior
        (NUTS / Laplace): the posterior mean and a ``ci_prob`` interval over
        up to ``max_draws`` draws.
    grid : sequence of float, optional
        Values of the standardized alpha_1j (default 61 points on [-3, 3]).
    ci_prob : float, optional
        Probability of the posterior interval (default ArviZ's ``stats.ci_prob``, 0.89).
    max_draws : int
        Posterior draws used (thinned evenly).
    nodes : int
        Gauss-Hermite nodes per further logit (K > 2).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (default, ArviZ's ``stats.ci_kind``) or highest density interval.
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        Index ``alpha1_std`` (the grid). ML: one column per class; posterior:
        columns (class, statistic) with statistics mean, lower, upper.

    Examples
    --------
    >>> m = bm.gom(df, items, 2)                                          # doctest: +SKIP
    >>> curves = membership_curves(m, m.fit_ml(starts=5, seed=1))         # doctest: +SKIP
    >>> curves["class1"].plot()                                           # doctest: +SKIP
    """
    if mm.name != "gom" or mm.options.get("membership") == "dirichlet":
        raise ValueError("membership_curves needs a bm.gom model with membership='logistic-normal' or "
                         "'restricted' (the curves are of the class logit alpha_1j; a Dirichlet membership has none).")
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    grid = np.linspace(-3.0, 3.0, 61) if grid is None else np.asarray(grid, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError("grid must be a non-empty sequence of finite numbers (standardized alpha_1j values).")
    names, fn = _curve_function(mm)
    curves = np.stack([_curves_at(*fn(*[point[k] for k in names]), grid, nodes)
                       for point in _points(mm, fit, max_draws)])  # (S, G, K)
    index = pd.Index(grid, name="alpha1_std")
    if as_fit(fit).is_point:
        return pd.DataFrame(curves[0], index=index, columns=pd.Index(mm.class_labels, name="class"))
    lower, upper = interval(curves, ci_prob, ci_kind)
    mean = curves.mean(0)
    stats = {"estimate": mean, "lower": lower, "upper": upper, POSTERIOR_MEAN_ALIAS: mean}
    columns = pd.MultiIndex.from_product([mm.class_labels, list(stats)], names=["class", "statistic"])
    table = np.stack([stats[s] for s in stats], axis=-1).reshape(len(grid), -1)
    return pd.DataFrame(table, index=index, columns=columns)
