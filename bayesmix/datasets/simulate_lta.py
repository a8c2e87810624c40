"""Simulate latent transition data with known truth (paper section 4 design by default).

The defaults are the published values of the paper's two-level LTA of the
TOCA classroom-behaviour items (section 4; the TOCA data are not public):
ten binary items with the class profiles of Table 1, P(C_1 = 1) = 0.46,
switching class 1 -> 2 of 7% and 2 -> 1 of 18% (so P(C_2 = 1) = 0.52), two
time points (fall, spring). With ``n_clusters`` the class logits get
classroom random intercepts alpha_tj (eq. 12-13) related by the
between-level regression of eq. 15, alpha_2j = beta alpha_1j + e_j; the
defaults of that part are derived from the paper's R-squared figures:
Var(alpha_1) / (Var(alpha_1) + pi^2/3) = 0.39 (sd 1.45), Var(alpha_2) share
0.24 (Var 1.04) with a residual e of 5% of C_2's latent variance
(beta = 0.52, sd(e) = 0.69).

``calibrate=True`` (default) sets the class and transition intercepts so that
the *population* proportions and switching probabilities (averaged over the
random intercepts) equal the published ones; the truth is returned in the
model's parameter names (``class_intercept``, ``transition_logit``,
``binary_logit``, ``random_sd``, ``random_regression``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import fsolve
from scipy.special import expit, logit, softmax

__all__ = ["simulate_lta", "SimulatedLTA", "TOCA_ITEMS", "TABLE1_PROFILES"]

#: the ten TOCA items of Table 1 and column stems used for them
TOCA_ITEMS = ["stubborn", "break_rules", "harm_others", "break_things", "yells", "takes_property", "fights",
              "lies", "teases", "trouble_authority"]
#: Table 1: P(U_p = 2 | C_t = c), rows class 1 (disruptive), class 2
TABLE1_PROFILES = np.array([
    [0.92, 0.96, 0.73, 0.59, 0.82, 0.78, 0.73, 0.81, 0.90, 0.78],
    [0.36, 0.29, 0.03, 0.03, 0.18, 0.07, 0.08, 0.10, 0.24, 0.12],
])
#: section 4's published class proportion at time 1 and switching probabilities
PAPER_INITIAL = np.array([0.46, 0.54])
PAPER_TRANSITION = np.array([[0.93, 0.07], [0.18, 0.82]])


@dataclass
class SimulatedLTA:
    """Simulated wide data, the ``items_by_time`` layout and the truth (model parameter names)."""

    data: pd.DataFrame
    items_by_time: dict[str, list[str]]
    truth: dict[str, np.ndarray]
    classes: np.ndarray  # (N, T) true classes (0-based), -1 never for simulated units
    cluster: str | None = None
    population: dict = field(default_factory=dict)

    def __iter__(self):  # data, items_by_time = simulate_lta(...)
        return iter((self.data, self.items_by_time))


def _population(a, tau, sd, beta, sd_e, nodes=60):
    """Population P(C_1 = 1) and P(C_2 = k | C_1 = j) for K = 2, T = 2 with random intercepts (quadrature)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    a1 = sd[0] * x[:, None]
    a2 = beta * a1 + sd_e * x[None, :]
    ww = w[:, None] * w[None, :]
    p1 = expit(a + a1)  # (Q, 1)
    stay = expit(tau[0] + a2)  # P(C_2 = 1 | C_1 = 1)
    move = expit(tau[1] + a2)  # P(C_2 = 1 | C_1 = 2)
    joint11 = (ww * p1 * stay).sum()
    joint21 = (ww * (1 - p1) * move).sum()
    prop1 = (ww * p1).sum()
    return prop1, 1 - joint11 / prop1, joint21 / (1 - prop1)


def simulate_lta(
    n_units: int = 1000,
    *,
    n_times: int = 2,
    profiles=None,
    initial=None,
    transition=None,
    n_clusters: int | None = None,
    random_sd: tuple[float, float] = (1.45, 1.02),
    random_beta: float = 0.52,
    calibrate: bool = True,
    time_labels=None,
    item_stems=None,
    missing_occasion_rate: float = 0.0,
    missing_rate: float = 0.0,
    seed: int | None = None,
) -> SimulatedLTA:
    """Binary-item LTA data with T time points (K from ``profiles``).

    Parameters
    ----------
    n_units : persons in all (split evenly over ``n_clusters`` classrooms).
    profiles : (K, I) P(item = 1 | class); default Table 1 (K = 2, I = 10).
    initial : (K,) P(C_1 = k); default 0.46 / 0.54.
    transition : (K, K) or (T-1, K, K) P(C_t = k | C_{t-1} = j); default 7% / 18% switching.
    n_clusters : classrooms with random intercepts on the class logits
        (K = 2 only): alpha_1j ~ N(0, sd_1^2), alpha_tj = beta alpha_(t-1)j + e_tj
        with Var(alpha_t) kept at sd_2^2 for t >= 2 (eq. 15).
    random_sd, random_beta : sd(alpha_1), sd(alpha_2) and beta of eq. 15.
    calibrate : with clusters, choose the intercepts so the *population*
        P(C_1 = 1) and switching probabilities equal ``initial`` / ``transition``
        (T = 2); otherwise they are the conditional ones at alpha = 0.
    time_labels : default ``["fall", "spring"]`` for T = 2, else ``t1..tT``.
    item_stems : item names; columns are ``<stem>_<time>``; default the TOCA stems.
    missing_occasion_rate : share of units whose last occasion is missing entirely.
    missing_rate : cells blanked completely at random.
    seed : random seed.

    Returns
    -------
    SimulatedLTA
        ``data`` (wide, one row per unit; a ``classroom`` column with
        ``n_clusters``), ``items_by_time`` for :func:`bayesmix.lta`, ``truth``
        in the model's parameter names (two-level: ``random_sd`` is the
        marginal sd of every alpha_t, the ``random_form="cholesky"``
        parameter; ``random_sd_structural`` and ``random_regression`` are the
        ``random_form="structural"`` ones of eq. 15), the true ``classes``
        (N, T) and the ``population`` proportions and transitions.

    Examples
    --------
    >>> sim = bm.datasets.simulate_lta(2000, n_clusters=100, seed=2006)     # doctest: +SKIP
    >>> m = bm.lta(sim.data, sim.items_by_time, n_classes=2, cluster=sim.cluster,
    ...            random_intercepts=True, random_form="structural")       # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    profiles = TABLE1_PROFILES if profiles is None else np.asarray(profiles, dtype=float)
    k, n_items = profiles.shape
    initial = (PAPER_INITIAL if k == 2 else np.full(k, 1 / k)) if initial is None else np.asarray(initial, float)
    if transition is None:
        transition = PAPER_TRANSITION if k == 2 else 0.8 * np.eye(k) + 0.2 / k
    transition = np.asarray(transition, dtype=float)
    if transition.ndim == 2:
        transition = np.broadcast_to(transition, (n_times - 1, k, k)).copy()
    if time_labels is None:
        time_labels = ["fall", "spring"] if n_times == 2 else [f"t{t + 1}" for t in range(n_times)]
    stems = TOCA_ITEMS[:n_items] if item_stems is None and n_items <= 10 else (
        list(item_stems) if item_stems is not None else [f"u{p + 1}" for p in range(n_items)])
    items_by_time = {t: [f"{s}_{t}" for s in stems] for t in time_labels}

    a = np.log(initial[:-1] / initial[-1])  # class_intercept (K-1,)
    tau = np.log(transition[..., :-1] / transition[..., -1:])  # transition_logit (T-1, K, K-1)
    truth = {"binary_logit": logit(profiles), "class_intercept": a, "transition_logit": tau}
    population = {"initial": initial, "transition": transition}

    cluster_index = None
    alpha = np.zeros((n_units, n_times, max(k - 1, 1)))
    if n_clusters is not None:
        if k != 2:
            raise ValueError("simulate_lta draws classroom random intercepts for K = 2 classes only.")
        sd1, sd2 = random_sd
        sd_e = np.sqrt(max(sd2**2 - random_beta**2 * sd1**2, 1e-12))
        if calibrate and n_times == 2:
            target = (initial[0], transition[0, 0, 1], transition[0, 1, 0])

            def gap(v):
                p, s12, s21 = _population(v[0], v[1:], (sd1, sd2), random_beta, sd_e)
                return [logit(p) - logit(target[0]), logit(s12) - logit(target[1]), logit(s21) - logit(target[2])]

            solution = fsolve(gap, [a[0], tau[0, 0, 0], tau[0, 1, 0]], xtol=1e-12)
            a = np.array([solution[0]])
            tau = np.array([[[solution[1]], [solution[2]]]])
            truth.update(class_intercept=a, transition_logit=tau)
        cluster_index = np.arange(n_units) * n_clusters // n_units
        a_cluster = np.zeros((n_clusters, n_times))
        a_cluster[:, 0] = sd1 * rng.standard_normal(n_clusters)
        for t in range(1, n_times):
            a_cluster[:, t] = random_beta * a_cluster[:, t - 1] + sd_e * rng.standard_normal(n_clusters)
        alpha = a_cluster[cluster_index][:, :, None]
        # random_sd is what the model reports under random_form="structural" (sd of alpha_1, then of the
        # residuals e_t) and "cholesky" / "diagonal" (marginal sd of every alpha_t): both given
        truth["random_sd_structural"] = np.array([sd1] + [sd_e] * (n_times - 1))
        truth["random_sd"] = np.sqrt(_ar_variances(sd1**2, random_beta, sd_e**2, n_times))
        truth["random_regression"] = np.full(n_times - 1, random_beta)

    classes = np.empty((n_units, n_times), dtype=int)
    logits0 = np.concatenate([a[None, :] + alpha[:, 0, :k - 1], np.zeros((n_units, 1))], axis=1)
    classes[:, 0] = _draw(rng, softmax(logits0, axis=1))
    for t in range(1, n_times):
        free = tau[t - 1][classes[:, t - 1]] + alpha[:, t, :k - 1]  # (N, K-1)
        probs = softmax(np.concatenate([free, np.zeros((n_units, 1))], axis=1), axis=1)
        classes[:, t] = _draw(rng, probs)

    columns = {}
    for t, label in enumerate(time_labels):
        y = (rng.random((n_units, n_items)) < profiles[classes[:, t]]).astype(float)
        for p, name in enumerate(items_by_time[label]):
            columns[name] = y[:, p]
    data = pd.DataFrame(columns)
    if missing_rate > 0:
        mask = rng.random(data.shape) < missing_rate
        data = data.mask(mask)
    if missing_occasion_rate > 0:
        gone = rng.random(n_units) < missing_occasion_rate
        data.loc[gone, items_by_time[time_labels[-1]]] = np.nan
    cluster = None
    if cluster_index is not None:
        cluster = "classroom"
        data.insert(0, cluster, [f"room{j + 1:03d}" for j in cluster_index])
    return SimulatedLTA(data=data, items_by_time=items_by_time, truth=truth, classes=classes, cluster=cluster,
                        population=population)


def _ar_variances(v1, beta, ve, d):
    out = [v1]
    for _ in range(d - 1):
        out.append(beta**2 * out[-1] + ve)
    return out


def _draw(rng, probs):
    cum = np.cumsum(probs, axis=1)
    return (rng.random((len(probs), 1)) > cum).sum(axis=1).clip(max=probs.shape[1] - 1)
