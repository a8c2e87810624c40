"""Data from a within-level mixture SEM (eq. 2-4), drawn in plain numpy (independent of the model code).

Per person: class C from the multinomial logit of eq. 4 (last class the
reference); factors eta = (I - B_c)^-1 (mu_c + Gamma_c' x + xi), xi ~ N(0, Psi_c)
(eq. 3); items y* = nu_c + Lambda_c' eta + K' x + eps (eq. 2): continuous
y = y* with eps ~ N(0, theta), binary y = 1[y* + logistic (or normal) noise > 0].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SimulatedSEM", "simulate_growth_mixture", "simulate_mixture_sem"]


@dataclass
class SimulatedSEM:
    data: pd.DataFrame
    truth: dict
    classes: np.ndarray
    eta: np.ndarray
    items: list[str]
    covariates: list[str]

    def __iter__(self):
        return iter((self.data, self.truth))


def simulate_mixture_sem(n_units: int = 1000, *, loading, intercept, factor_mean, factor_cov, residual_sd=None,
                         regression=None, covariate_effect=None, item_covariate_effect=None, class_intercept=None,
                         class_slope=None, n_covariates: int = 0, item_types: str = "continuous",
                         link: str = "logit", seed: int | None = None) -> SimulatedSEM:
    """Draw N persons from a K-class mixture SEM.

    Parameters (arrays by class carry a leading K axis; without it they are the same in every class)
    ----------
    loading : (K,) F x I Lambda;  intercept : (K, I) nu;  factor_mean : (K, F) mu;
    factor_cov : (K,) F x F Psi (residual covariance of the factors);
    residual_sd : (I,) or (K, I) SDs of continuous items;  regression : (K,) F x F B with
    B[f, g] the effect of factor g on f;  covariate_effect : (K,) P x F Gamma;
    item_covariate_effect : P x I K;  class_intercept : (K-1,) logits vs the last class;
    class_slope : (P, K-1);  n_covariates : P standard-normal covariates ``x1..xP``;
    item_types : ``"continuous"`` or ``"binary"``.
    """
    rng = np.random.default_rng(seed)
    factor_mean = np.atleast_2d(np.asarray(factor_mean, float))
    k, n_f = factor_mean.shape
    lam = np.asarray(loading, float)
    n_i = lam.shape[-1]
    lam = np.broadcast_to(lam, (k, n_f, n_i))
    nu = np.broadcast_to(np.asarray(intercept, float), (k, n_i))
    psi = np.broadcast_to(np.asarray(factor_cov, float), (k, n_f, n_f))
    b = np.zeros((k, n_f, n_f)) if regression is None else np.broadcast_to(np.asarray(regression, float),
                                                                            (k, n_f, n_f))
    x = rng.standard_normal((n_units, n_covariates))
    gamma = (np.zeros((k, n_covariates, n_f)) if covariate_effect is None
             else np.broadcast_to(np.asarray(covariate_effect, float), (k, n_covariates, n_f)))
    kx = np.zeros((n_covariates, n_i)) if item_covariate_effect is None else np.asarray(item_covariate_effect, float)
    # classes, eq. 4
    logits = np.zeros((n_units, k))
    if k > 1:
        alpha = np.zeros(k - 1) if class_intercept is None else np.asarray(class_intercept, float)
        logits[:, :-1] = alpha
        if class_slope is not None:
            logits[:, :-1] += x @ np.asarray(class_slope, float)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    cls = np.array([rng.choice(k, p=p) for p in prob])
    # factors, eq. 3
    eta = np.zeros((n_units, n_f))
    for c in range(k):
        rows = np.flatnonzero(cls == c)
        xi = rng.multivariate_normal(np.zeros(n_f), psi[c], size=len(rows), method="eigh")
        inv = np.linalg.inv(np.eye(n_f) - b[c])
        eta[rows] = (factor_mean[c] + x[rows] @ gamma[c] + xi) @ inv.T
    # items, eq. 2
    ystar = nu[cls] + np.einsum("nf,nfi->ni", eta, lam[cls]) + x @ kx
    if item_types == "continuous":
        sd = np.broadcast_to(np.asarray(1.0 if residual_sd is None else residual_sd, float), (k, n_i))
        y = ystar + rng.standard_normal((n_units, n_i)) * sd[cls]
    elif item_types == "binary":
        noise = rng.logistic(size=ystar.shape) if link == "logit" else rng.standard_normal(ystar.shape)
        y = (ystar + noise > 0).astype(float)
    else:
        raise ValueError(f"item_types={item_types!r}; use 'continuous' or 'binary'.")
    items = [f"y{i + 1}" for i in range(n_i)]
    covs = [f"x{p + 1}" for p in range(n_covariates)]
    frame = pd.DataFrame(np.column_stack([y, x]) if n_covariates else y, columns=items + covs)
    truth = {"loading": lam, "intercept": nu, "factor_mean": factor_mean, "factor_cov": psi, "regression": b,
             "covariate_effect": gamma, "item_covariate_effect": kx, "class_probability": prob.mean(axis=0)}
    if item_types == "continuous":
        truth["residual_sd"] = sd
    return SimulatedSEM(frame, truth, cls, eta, items, covs)


def simulate_growth_mixture(n_units: int = 1000, *, times=(0, 1, 2, 3), growth_mean, growth_cov=None,
                            residual_sd: float = 1.0, class_intercept=None, seed: int | None = None) -> SimulatedSEM:
    """Linear growth mixture data: y_t = i + s t + e_t, (i, s) | class ~ N(growth_mean_c, growth_cov_c).

    ``growth_cov`` None gives zero growth variance (latent class growth analysis).
    """
    growth_mean = np.atleast_2d(np.asarray(growth_mean, float))
    times = np.asarray(times, float)
    lam = np.vstack([np.ones_like(times), times])
    cov = np.zeros((2, 2)) if growth_cov is None else np.asarray(growth_cov, float)
    return simulate_mixture_sem(n_units, loading=lam, intercept=np.zeros(len(times)), factor_mean=growth_mean,
                                factor_cov=cov, residual_sd=residual_sd, class_intercept=class_intercept, seed=seed)
