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
class SimulatedTwoLevelLCA:
    """Simulated two-level LCA data (section 6) with the truth named like the model's variables."""

    data: pd.DataFrame
    truth: dict[str, np.ndarray]
    classes: np.ndarray
    between_classes: np.ndarray | None
    items: list[str]
    cluster: str

    def __iter__(self):  # allows ``data, truth = simulate_lca_two_level(...)``
        return iter((self.data, self.truth))


def simulate_lca_two_level(
    n_clusters: int = 40,
    cluster_size: int = 20,
    n_items: int = 5,
    n_classes: int = 2,
    n_between_classes: int | None = 2,
    *,
    between_class_intercept=None,
    class_intercept=None,
    class_between_effect=None,
    random_sd=None,
    binary_logit=None,
    seed: int | None = None,
) -> SimulatedTwoLevelLCA:
    """Two-level binary LCA with all three class statuses of Table 4 (section 6, eq. 24-26).

    Per cluster j: the between class D_j ~ softmax(between_class_intercept)
    (eq. 26, last class the reference) and random intercepts
    alpha_j = diag(sd_d) z_j, z_j ~ N(0, I) (eq. 4-5, 18); per unit i of j:
    C_ij ~ softmax(class_intercept + gamma_d + alpha_j) with gamma_cM = 0
    (eq. 24, ``class_between_effect`` holds its K-1 x M-1 free part) and
    binary items from ``binary_logit`` (eq. 1). ``n_between_classes=None``
    leaves D out (the within-between model); ``random_sd=0`` leaves the
    random intercepts out (the within and between model).

    Parameters
    ----------
    n_clusters, cluster_size, n_items, n_classes : int
        Sizes (J, units per cluster, I, K).
    n_between_classes : int or None
        M; None: no between class.
    between_class_intercept : array_like, optional
        (M-1,) logits of D (default 0.4 .. -0.4).
    class_intercept : array_like, optional
        (K-1,) logits of C in the last between class (default 0).
    class_between_effect : array_like, optional
        (K-1, M-1) gamma (default: +2 in the first between class, spaced down).
    random_sd : float, array_like, optional
        SD of the K-1 random intercepts: a scalar, (K-1,) or (M, K-1) (SDs by D);
        default 0.8.
    binary_logit : array_like, optional
        (K, I) item logits (default: +-1.5 patterns).
    seed : int, optional

    Returns
    -------
    SimulatedTwoLevelLCA
        ``data`` (items ``y1..``, ``cluster``), ``truth`` (with ``random_z``
        and ``random_sd`` of shape (K-1,) or (M, K-1)), the within and between
        classes; unpacks as ``data, truth``.

    Examples
    --------
    >>> from bayesmix.datasets import simulate_lca_two_level
    >>> sim = simulate_lca_two_level(10, 5, seed=1)
    >>> sim.data.shape
    (50, 6)
    """
    rng = np.random.default_rng(seed)
    K, I, J = n_classes, n_items, n_clusters
    M = 1 if n_between_classes is None else int(n_between_classes)
    if between_class_intercept is None:
        between_class_intercept = np.linspace(0.4, -0.4, M - 1) if M > 2 else np.full(M - 1, 0.4)
    between_class_intercept = np.asarray(between_class_intercept, dtype=float).reshape(M - 1)
    class_intercept = np.zeros(K - 1) if class_intercept is None else np.asarray(class_intercept, float)
    if class_between_effect is None:
        class_between_effect = np.tile(np.linspace(2.0, 1.0, M - 1), (K - 1, 1)) if M > 1 else np.zeros((K - 1, 0))
    gamma = np.zeros((K - 1, M))
    gamma[:, : M - 1] = np.asarray(class_between_effect, dtype=float).reshape(K - 1, M - 1)
    sd = np.asarray(0.8 if random_sd is None else random_sd, dtype=float)
    sd_by_d = np.broadcast_to(sd if sd.ndim == 2 else np.broadcast_to(sd, (K - 1,))[None], (M, K - 1))
    if binary_logit is None:
        binary_logit = np.array([[1.5 if (i + c) % K == 0 else -1.5 for i in range(I)] for c in range(K)])
    binary_logit = np.asarray(binary_logit, dtype=float)
    between = rng.choice(M, size=J, p=softmax(np.append(between_class_intercept, 0.0)))
    z = rng.standard_normal((J, K - 1))
    index = np.repeat(np.arange(J), cluster_size)
    logits = np.zeros((J, K))
    logits[:, : K - 1] = class_intercept + gamma[:, between].T + sd_by_d[between] * z
    probs = softmax(logits, axis=1)[index]
    classes = (rng.uniform(size=(len(index), 1)) > np.cumsum(probs, axis=1)).sum(1)
    y = (rng.uniform(size=(len(index), I)) < expit(binary_logit[classes])).astype(float)
    items = [f"y{i + 1}" for i in range(I)]
    frame = pd.DataFrame(y, columns=items)
    frame.insert(0, "cluster", [f"c{j}" for j in index])
    truth = {"class_intercept": class_intercept, "binary_logit": binary_logit,
             "random_sd": np.array(sd_by_d if sd.ndim == 2 else sd_by_d[0]), "random_z": z}
    if n_between_classes is not None:
        truth.update(between_class_intercept=between_class_intercept, class_between_effect=gamma[:, : M - 1])
    return SimulatedTwoLevelLCA(frame, truth, classes, None if n_between_classes is None else between,
                                items, "cluster")


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
