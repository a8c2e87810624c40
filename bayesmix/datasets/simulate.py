"""Simulate latent class data with known truth (for recovery checks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, softmax


@dataclass
class SimulatedLCA:
    """Simulated data with the true parameters (named like the model's variables)."""

    data: pd.DataFrame
    truth: dict[str, np.ndarray]
    classes: np.ndarray
    items: list[str]
    covariates: list[str]

    def __iter__(self):  # allows ``data, truth = simulate_lca(...)``
        return iter((self.data, self.truth))


def simulate_lca(
    n_units: int = 500,
    n_items: int = 6,
    n_classes: int = 2,
    *,
    class_intercept=None,
    binary_logit=None,
    class_slope=None,
    n_covariates: int = 0,
    missing_rate: float = 0.0,
    seed: int | None = None,
) -> SimulatedLCA:
    """Binary-item LCA data (eq. 4 class model, logit items) with known truth.

    Parameters
    ----------
    n_units, n_items, n_classes : int
        Sizes.
    class_intercept : array_like, optional
        (K-1,) class logits against the last class (default: 0.3 .. -0.3).
    binary_logit : array_like, optional
        (K, I) item logits (default: well separated +-1.5 patterns).
    class_slope : array_like, optional
        (P, K-1) effects of standard normal covariates ``x1..xP``.
    n_covariates : int
        Covariates without effects (ignored when ``class_slope`` is given).
    missing_rate : float
        Share of cells blanked completely at random.
    seed : int, optional

    Returns
    -------
    SimulatedLCA
        ``data`` (items ``y1..``, covariates ``x1..``), ``truth`` (named like the
        model's variables), ``classes``, ``items``, ``covariates``; unpacks as
        ``data, truth``.

    Examples
    --------
    >>> from bayesmix.datasets import simulate_lca
    >>> sim = simulate_lca(300, 6, 2, seed=1)
    >>> sim.data.shape
    (300, 6)
    """
    rng = np.random.default_rng(seed)
    K, I = n_classes, n_items
    if class_intercept is None:
        class_intercept = np.linspace(0.3, -0.3, K - 1) if K > 1 else np.zeros(0)
    class_intercept = np.asarray(class_intercept, dtype=float)
    if binary_logit is None:
        binary_logit = np.empty((K, I))
        for c in range(K):
            for i in range(I):
                binary_logit[c, i] = 1.5 if ((i + c) % K == 0) else -1.5
            binary_logit[c] += 0.5 * (c - (K - 1) / 2) * np.linspace(-1, 1, I)
    binary_logit = np.asarray(binary_logit, dtype=float)
    if class_slope is not None:
        class_slope = np.atleast_2d(np.asarray(class_slope, dtype=float))
        n_covariates = class_slope.shape[0]
    x = rng.standard_normal((n_units, n_covariates))
    logits = np.zeros((n_units, K))
    logits[:, : K - 1] = class_intercept
    if class_slope is not None:
        logits[:, : K - 1] += x @ class_slope
    probs = softmax(logits, axis=1)
    classes = np.array([rng.choice(K, p=p) for p in probs])
    y = (rng.uniform(size=(n_units, I)) < expit(binary_logit[classes])).astype(float)
    if missing_rate > 0:
        y[rng.uniform(size=y.shape) < missing_rate] = np.nan
    items = [f"y{i + 1}" for i in range(I)]
    frame = pd.DataFrame(y, columns=items)
    covariates = [f"x{p + 1}" for p in range(n_covariates)]
    for p, name in enumerate(covariates):
        frame[name] = x[:, p]
    truth = {"class_intercept": class_intercept, "binary_logit": binary_logit}
    if class_slope is not None:
        truth["class_slope"] = class_slope
    return SimulatedLCA(frame, truth, classes, items, covariates)


@dataclass
class SimulatedRegression:
    """Simulated two-level mixture-regression data with the true parameters.

    ``truth`` uses the model's variable names: ``regression_intercept`` (K,),
    ``regression_slope`` (K, P), ``residual_sd``, ``class_intercept`` (K-1,),
    ``random_sd`` (dict effect label -> SD, e.g. ``{"intercept": 0.447}``) and
    ``class_random_sd`` (SD of the random class-logit intercept, 0 if none).
    """

    data: pd.DataFrame
    truth: dict
    classes: np.ndarray
    y: str
    x: list[str]
    cluster: str

    def __iter__(self):  # allows ``data, truth = simulate_mixture_regression(...)``
        return iter((self.data, self.truth))


def simulate_mixture_regression(
    n_clusters: int = 100,
    cluster_size: int = 10,
    *,
    class_level: str = "between",
    regression_intercept=(1.0, 0.0),
    regression_slope=(0.2, 0.8),
    residual_variance: float = 1.0,
    random_intercept_variance: float = 0.2,
    random_slope_variance: float = 0.0,
    class_intercept=None,
    class_random_sd: float = 0.0,
    seed: int | None = None,
) -> SimulatedRegression:
    """Two-level mixture regression of the paper's section 5 (eq. 19) with known truth.

    Y_ij = mu_cj + beta_cj' X_ij + eps_ij with mu_cj = mu_c + u0_j,
    beta_cj = beta_c + u1_j, u0_j ~ N(0, v0), u1_j ~ N(0, v1) independent
    (covariance 0 as in the paper), eps_ij ~ N(0, theta), X_ij standard normal.
    The defaults are Model 5 (Table 3): mu = 1 / 0, beta = 0.2 / 0.8, theta = 1,
    v0 = 0.2 with a fixed slope (v1 = 0), two classes of equal size, the class
    on the between level and 100 clusters of 10.

    Parameters
    ----------
    n_clusters, cluster_size : int
        Clusters and units per cluster.
    class_level : ``"between"`` or ``"within"``
        A class per cluster (eq. 16) or per unit (Model 1; with
        ``class_random_sd`` a random class-logit intercept, eq. 4-5).
    regression_intercept, regression_slope : array_like
        mu_c (K,) and beta_c (K,) for one predictor ``x`` or (K, P) for ``x1..xP``.
    residual_variance, random_intercept_variance, random_slope_variance : float
        theta, v0, v1.
    class_intercept : array_like, optional
        (K-1,) class logits (default 0).
    class_random_sd : float
        SD of the cluster random intercept on the class logits (within classes).
    seed : int, optional

    Returns
    -------
    SimulatedRegression
        ``data`` (``cluster``, ``y``, ``x``...), ``truth``, ``classes``, ``y``,
        ``x``, ``cluster``; unpacks as ``data, truth``.

    Examples
    --------
    >>> from bayesmix.datasets import simulate_mixture_regression
    >>> sim = simulate_mixture_regression(n_clusters=20, cluster_size=5, seed=1)
    >>> list(sim.data.columns)
    ['cluster', 'y', 'x']
    """
    if class_level not in ("within", "between"):
        raise ValueError(f"class_level={class_level!r} is unknown; use 'within' or 'between'.")
    rng = np.random.default_rng(seed)
    mu = np.asarray(regression_intercept, dtype=float)
    k = len(mu)
    beta = np.asarray(regression_slope, dtype=float)
    beta = beta.reshape(k, -1)
    p = beta.shape[1]
    if class_intercept is None:
        class_intercept = np.zeros(k - 1)
    class_intercept = np.asarray(class_intercept, dtype=float)
    n = n_clusters * cluster_size
    cluster = np.repeat(np.arange(n_clusters), cluster_size)
    x = rng.standard_normal((n, p))
    u0 = rng.normal(0.0, np.sqrt(random_intercept_variance), n_clusters)
    u1 = rng.normal(0.0, np.sqrt(random_slope_variance), (n_clusters, p))
    logits = np.zeros(k)
    logits[: k - 1] = class_intercept
    if class_level == "between":
        classes_j = np.array([rng.choice(k, p=softmax(logits)) for _ in range(n_clusters)])
        classes = classes_j[cluster]
    else:
        alpha = rng.normal(0.0, class_random_sd, (n_clusters, k - 1)) if class_random_sd > 0 else 0.0
        unit_logits = np.zeros((n, k))
        unit_logits[:, : k - 1] = class_intercept + (alpha[cluster] if class_random_sd > 0 else 0.0)
        probs = softmax(unit_logits, axis=1)
        classes = np.array([rng.choice(k, p=pr) for pr in probs])
    mean = mu[classes] + u0[cluster] + ((beta[classes] + u1[cluster]) * x).sum(axis=1)
    y = mean + rng.normal(0.0, np.sqrt(residual_variance), n)
    names = ["x"] if p == 1 else [f"x{q + 1}" for q in range(p)]
    frame = pd.DataFrame({"cluster": cluster, "y": y})
    for q, name in enumerate(names):
        frame[name] = x[:, q]
    random_sd = {"intercept": float(np.sqrt(random_intercept_variance))}
    random_sd.update({f"slope[{name}]": float(np.sqrt(random_slope_variance)) for name in names})
    truth = {"regression_intercept": mu, "regression_slope": beta, "residual_sd": float(np.sqrt(residual_variance)),
             "class_intercept": class_intercept, "random_sd": random_sd, "class_random_sd": float(class_random_sd)}
    return SimulatedRegression(frame, truth, classes, "y", names, "cluster")
