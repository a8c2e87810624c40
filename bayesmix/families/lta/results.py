"""Results of latent transition models (:func:`bayesmix.lta`, paper sections 3-4).

Every function takes the model and a fit:

- an ML result (``m.fit_ml()``): estimates with delta-method standard errors
  (observed information, and robust ``se_robust``) and ``ci_prob`` Wald
  intervals (probabilities: on the logit scale, mapped back);
- a MAP result (``m.fit_map()``): estimates only;
- a posterior DataTree (``m.sample()``, ``m.fit_laplace()``): posterior
  mean, sd and ``ci_prob`` intervals of kind ``ci_kind`` over draws (ArviZ's
  defaults: 89%, equal-tailed; ``hdi_prob=`` is deprecated and means an HDI).

Every fit goes through :func:`bayesmix.evaluate.evaluate_at_fit`.

The quantities are the structure's graphs (:class:`~bayesmix.structure.ChainClasses`),
integrated over classroom random intercepts by the model's quadrature:

- :func:`class_proportions_by_time` -- P(C_t = k): ``kind="model"`` the
  population proportions implied by eq. 8-9 (the paper's 46% / 52%),
  ``"posterior"`` the mean of the units' smoothed posteriors;
- :func:`transition_matrices` -- P(C_t = k | C_{t-1} = j) (the paper's 7% / 18%
  switching); ``kind="model"``: E[P(C_{t-1} = j, C_t = k)] / E[P(C_{t-1} = j)]
  over units and random intercepts, exactly softmax(tau_t) without covariates
  and random effects; ``"posterior"``: from the units' pairwise posteriors;
- :func:`transition_effects` -- eq. 9 in the paper's form (alpha_tk, gamma_tkj)
  and, for two classes, eq. 14's R-squared of C_{t-1} as a predictor of C_t;
- :func:`variance_explained` -- the two-level decomposition of section 4;
- :func:`time_class_probabilities`, :func:`path_probabilities`,
  :func:`most_likely_paths` -- per unit: smoothed marginals (forward-backward),
  posterior probabilities of the K^T class paths, and the Viterbi path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from ...marginal import chain
from ...evaluate import as_fit, evaluate_at_fit, interval_arguments, summarize
from ...structure.chain import check_paths, paths

__all__ = [
    "class_proportions_by_time",
    "transition_matrices",
    "transition_effects",
    "variance_explained",
    "time_class_probabilities",
    "path_probabilities",
    "most_likely_paths",
    "evaluate",
]

KINDS = ("model", "posterior")


# --------------------------------------------------------------------------- evaluation over fits

def _check_fit(mm, fit):
    return as_fit(fit)


def _setting(mm, fit, integration):
    if integration is not None:
        return dict(integration)
    return as_fit(fit).integration


def evaluate(mm, fit, key: str, graph, *, integration: dict | None = None, max_draws: int = 2000) -> np.ndarray:
    """Values of a graph of the model's parameters: (1, ...) at a point fit, (S, ...) over posterior draws."""
    ev = evaluate_at_fit(mm, fit, graph, key=f"lta:{key}:{integration}", integration=integration,
                         max_draws=max_draws, se=False)
    return ev.values()


def _summary(mm, fit, key, graph, integration, ci, probability: bool, max_draws: int = 2000) -> dict:
    """name -> array of the graph's shape: estimate/se/se_robust/lower/upper (ML), estimate (MAP),
    mean/sd/lower/upper (draws); ``ci`` = (ci_prob, ci_kind)."""
    ev = evaluate_at_fit(mm, fit, graph, key=f"lta:{key}:{integration}", integration=integration,
                         max_draws=max_draws)
    return summarize(ev, ci_prob=ci[0], ci_kind=ci[1], probability=probability)


def _frame(stats_: dict, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({name: np.ravel(v) for name, v in stats_.items()}, index=index)


def _average(mm, fit, key, graph, integration, max_draws=1000) -> np.ndarray:
    return evaluate(mm, fit, key, graph, integration=integration, max_draws=max_draws).mean(0)


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is unknown; use 'model' (implied by the estimated model) or 'posterior' "
                         "(from the units' posterior class probabilities).")


def _lta(mm):
    from ...structure import ChainClasses
    if not isinstance(mm.structure, ChainClasses):
        raise ValueError("these results are for latent transition models; build the model with bm.lta.")
    return mm.structure


# --------------------------------------------------------------------------- population quantities

def _population(mm, fit, kind, integration, model_graph_at, posterior_graph_at):
    """(setting, graph): a population quantity, implied by the model or averaged over the units' posteriors.

    ``kind="model"``: the expectation of ``model_graph_at`` over units and
    random intercepts (:meth:`~bayesmix.MixtureModel.prior_expectation`);
    ``"posterior"``: the mean over units of ``posterior_graph_at`` given their
    responses (:meth:`~bayesmix.MixtureModel.posterior_expectation`).
    """
    _check_fit(mm, fit)
    _check_kind(kind)
    setting = _setting(mm, fit, integration)
    if kind == "model":
        return setting, mm.prior_expectation(model_graph_at, setting)
    return setting, mm.posterior_expectation(posterior_graph_at, "unit", setting).mean(axis=0)


def class_proportions_by_time(mm, fit, *, kind: str = "model", ci_prob: float | None = None,
                              ci_kind: str | None = None, integration: dict | None = None,
                              hdi_prob: float | None = None) -> pd.DataFrame:
    """P(C_t = k) for every time point t, rows (time, class).

    ``kind="model"``: the population proportions the estimated model implies
    (eq. 8 propagated through eq. 9, averaged over units' covariates and the
    random intercepts' distribution); ``"posterior"``: the mean over units of
    P(C_t = k | y_i) (Mplus' "based on estimated posterior probabilities").

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    kind : ``"model"`` or ``"posterior"``
        Implied by the estimated model, or averaged posterior probabilities of the units.
    ci_prob : float, optional
        Probability of the interval (default ArviZ's ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or highest
        density interval (:mod:`arviz_stats`).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        Rows (time, class); ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
        ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

    Examples
    --------
    >>> m.class_proportions_by_time(ml)             # doctest: +SKIP
    """
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    structure = _lta(mm)
    setting, graph = _population(mm, fit, kind, integration, structure.time_proportions, structure.time_posterior)
    summary = _summary(mm, fit, f"time_proportions:{kind}", graph, setting, ci, probability=True)
    index = pd.MultiIndex.from_product([structure.time_labels, mm.class_labels], names=["time", "class"])
    return _frame(summary, index)


def transition_matrices(mm, fit, *, kind: str = "model", ci_prob: float | None = None, ci_kind: str | None = None,
                        integration: dict | None = None, hdi_prob: float | None = None) -> pd.DataFrame:
    """Transition probabilities P(C_t = k | C_{t-1} = j), rows (transition, from, to).

    ``kind="model"``: E[P(C_{t-1} = j, C_t = k | x, alpha)] / E[P(C_{t-1} = j | x, alpha)]
    over units and the random intercepts' distribution (without covariates
    and random intercepts, softmax of ``transition_logit``); ``"posterior"``:
    sum_i P(C_{t-1} = j, C_t = k | y_i) / sum_i P(C_{t-1} = j | y_i).
    ``table.xs("t1->t2")["estimate"].unstack()`` (or ``["mean"]`` after NUTS)
    is the K x K matrix, rows summing to one.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    kind : ``"model"`` or ``"posterior"``
        Implied by the estimated model, or averaged posterior probabilities of the units.
    ci_prob : float, optional
        Probability of the interval (default ArviZ's ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or highest
        density interval (:mod:`arviz_stats`).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        Rows (transition, from, to); ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
        ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

    Examples
    --------
    >>> m.transition_matrices(ml).xs("t1->t2")["estimate"].unstack()   # K x K   # doctest: +SKIP
    """
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    structure = _lta(mm)
    setting, joint = _population(mm, fit, kind, integration, structure.transition_joint,
                                 structure.pairwise_posterior)
    graph = joint / joint.sum(axis=-1, keepdims=True)
    summary = _summary(mm, fit, f"transitions:{kind}", graph, setting, ci, probability=True)
    steps = [f"{a}->{b}" for a, b in zip(structure.time_labels[:-1], structure.time_labels[1:])]
    index = pd.MultiIndex.from_product([steps, mm.class_labels, mm.class_labels], names=["transition", "from", "to"])
    return _frame(summary, index)


def _effect_graphs(mm):
    """(graphs list, labels list): eq. 9's alpha_tk, gamma_tkj and (K = 2) eq. 14's R-squared per step."""
    structure = _lta(mm)
    transitions = mm.options["transitions"]
    tau = transitions.params["transition_logit"][transitions.step_index]  # (T-1, K, K-1)
    k = mm.n_classes
    proportions = mm.prior_expectation(structure.time_proportions)  # (T, K)
    graphs, labels = [], []
    steps = transitions.step_labels
    for s, step in enumerate(steps):
        for c in range(k - 1):
            graphs.append(tau[s, k - 1, c])
            labels.append((step, f"alpha[{mm.class_labels[c]}]"))
        for c in range(k - 1):
            for j in range(k - 1):
                graphs.append(tau[s, j, c] - tau[s, k - 1, c])
                labels.append((step, f"gamma[{mm.class_labels[c]} <- {mm.class_labels[j]}]"))
        if k == 2:
            gamma = tau[s, 0, 0] - tau[s, 1, 0]
            p = proportions[s, 0]
            explained = gamma**2 * p * (1 - p)
            graphs.append(explained / (explained + np.pi**2 / 3))
            labels.append((step, "r_squared"))
    return graphs, labels


def transition_effects(mm, fit, *, ci_prob: float | None = None, ci_kind: str | None = None,
                       integration: dict | None = None, hdi_prob: float | None = None) -> pd.DataFrame:
    """Eq. 9 in the paper's parameterization, rows (transition, quantity).

    - ``alpha[k]``: logit of C_t = k vs the last class for a unit in the last
      class at t-1 (eq. 13's alpha_2);
    - ``gamma[k <- j]``: the effect of having been in class j rather than the
      last class at t-1 on the logit of C_t = k (eq. 9's gamma_kj; eq. 13's gamma
      for two classes);
    - ``r_squared`` (two classes): eq. 14,
      gamma^2 p (1 - p) / (gamma^2 p (1 - p) + pi^2 / 3) with p = P(C_{t-1} = 1)
      the model's population proportion.

    With covariates these are the effects at x = 0.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    ci_prob : float, optional
        Probability of the interval (default ArviZ's ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or highest
        density interval (:mod:`arviz_stats`).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        Rows (transition, quantity); ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
        ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

    Examples
    --------
    >>> m.transition_effects(ml)                    # doctest: +SKIP
    """
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    _lta(mm)
    _check_fit(mm, fit)
    if mm.n_classes < 2:
        raise ValueError("a one-class model has no transitions.")
    setting = _setting(mm, fit, integration)
    graphs, labels = _effect_graphs(mm)
    graph = pt.stack([pt.as_tensor(g) for g in graphs])
    is_r2 = np.array([q == "r_squared" for _, q in labels])
    summary = _summary(mm, fit, "effects", graph, setting, ci, probability=False)
    if "se" in summary and is_r2.any():  # R-squared lives in (0, 1): logit-scale interval
        r2 = _summary(mm, fit, "effects_r2", graph[np.flatnonzero(is_r2)], setting, ci, probability=True)
        for name in ("lower", "upper"):
            summary[name] = np.asarray(summary[name], dtype=float).copy()
            summary[name][is_r2] = r2[name]
    index = pd.MultiIndex.from_tuples(labels, names=["transition", "quantity"])
    return _frame(summary, index)


def variance_explained(mm, fit, *, ci_prob: float | None = None, ci_kind: str | None = None,
                       integration: dict | None = None, hdi_prob: float | None = None) -> pd.DataFrame:
    """The R-squared decomposition of section 4 (two-level LTA, two classes, two time points).

    On the latent-response scale of the logits (residual variance pi^2/3),
    with alpha_1 and alpha_2 the classroom random intercepts of the class-1
    logits at times 1 and 2, beta = Cov(alpha_2, alpha_1) / Var(alpha_1) and
    gamma the effect of C_1 on C_2 (eq. 13, 15):

    - ``C1: alpha1``: Var(alpha_1) / (Var(alpha_1) + pi^2/3) -- the share of C_1's
      variance the classroom explains (the paper's 39%);
    - ``C2: total``: the variance of C_2's logit explained by alpha_1, C_1 and
      alpha_2 together (65%), split into ``C2: alpha1`` (classroom effect of
      alpha_1, through C_1 and through alpha_2; 35%), ``C2: C1 residual`` (the
      individual effect of C_1 beyond alpha_1; 30%) and ``C2: alpha2 residual``
      (the part of alpha_2 not explained by alpha_1; 5%);
    - ``C2: C1 alone``: eq. 14 with gamma (41%); ``C2: alpha2``:
      Var(alpha_2) / (Var(alpha_2) + pi^2/3) (24%).

    C_1 enters as its indicator I(C_1 = 1), whose regression on alpha_1 is
    evaluated by quadrature over alpha_1 (the logistic curve of eq. 12):
    Var(I) = Var(E[I | alpha_1]) + E[Var(I | alpha_1)]. The explained
    variance of C_2's logit is Var(gamma I + alpha_2); each part is its share
    of the total latent variance Var(gamma I + alpha_2) + pi^2/3.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    ci_prob : float, optional
        Probability of the interval (default ArviZ's ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or highest
        density interval (:mod:`arviz_stats`).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        Rows ``C1: alpha1``, ``C2: total`` and its parts; ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
        ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

    Examples
    --------
    >>> m.variance_explained(ml)                    # doctest: +SKIP
    """
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    structure = _lta(mm)
    _check_fit(mm, fit)
    latent = mm.latent
    if latent is None or mm.n_classes != 2 or structure.n_times != 2:
        raise ValueError("variance_explained is the section 4 decomposition of a two-level LTA with two classes "
                         "and two time points (bm.lta(..., n_classes=2, cluster=..., random_intercepts=True)).")
    if latent.w is not None:
        raise ValueError("variance_explained does not cover cluster_covariates (their part of Var(alpha)).")
    setting = _setting(mm, fit, integration)
    transitions = mm.options["transitions"]
    tau = transitions.params["transition_logit"][transitions.step_index]  # (1, 2, 1)
    gamma = tau[0, 0, 0] - tau[0, 1, 0]
    cov = latent.covariance()  # (2, 2): alpha_1, alpha_2
    v1, v2, c12 = cov[0, 0], cov[1, 1], cov[0, 1]
    beta = c12 / v1
    residual = np.pi**2 / 3
    # I(C_1 = 1) given alpha_1 = sd1 * x: P = sigmoid(a + alpha_1), x over a normal quadrature rule
    from ...inference.quadrature import rule
    nodes, logw = rule("gauss-hermite", 40, 1)
    x, w = nodes[:, 0], np.exp(logw)
    if mm.class_model.covariates is not None:
        raise ValueError("variance_explained does not cover covariates on the class logits.")
    a = mm.class_model.params["class_intercept"][0]
    prob = pt.sigmoid(a + pt.sqrt(v1) * x)  # (Q,)
    p1 = (w * prob).sum()
    var_i = p1 * (1 - p1)
    cov_i_alpha1 = (w * prob * pt.sqrt(v1) * x).sum()  # Cov(I, alpha_1), E[alpha_1] = 0
    # Var(gamma I + alpha_2), alpha_2 = beta alpha_1 + e with e independent of I given alpha_1
    total = gamma**2 * var_i + v2 + 2 * gamma * beta * cov_i_alpha1
    # explained by alpha_1: Var(E[gamma I + alpha_2 | alpha_1]) = Var(gamma P(alpha_1) + beta alpha_1)
    mean_1 = (w * (gamma * prob + beta * pt.sqrt(v1) * x)).sum()
    by_alpha1 = (w * (gamma * prob + beta * pt.sqrt(v1) * x - mean_1) ** 2).sum()
    by_c1_residual = gamma**2 * (var_i - (w * (prob - p1) ** 2).sum())  # gamma^2 E[Var(I | alpha_1)]
    by_alpha2_residual = v2 - beta**2 * v1
    denominator = total + residual
    graphs = {
        "C1: alpha1": v1 / (v1 + residual),
        "C2: total": total / denominator,
        "C2: alpha1": by_alpha1 / denominator,
        "C2: C1 residual": by_c1_residual / denominator,
        "C2: alpha2 residual": by_alpha2_residual / denominator,
        "C2: C1 alone": gamma**2 * var_i / (gamma**2 * var_i + residual),
        "C2: alpha2": v2 / (v2 + residual),
        "beta (eq. 15)": beta,
        "gamma (eq. 13)": gamma,
    }
    graph = pt.stack([pt.as_tensor(g) for g in graphs.values()])
    summary = _summary(mm, fit, "variance_explained", graph, setting, ci, probability=False)
    return _frame(summary, pd.Index(list(graphs), name="quantity"))


# --------------------------------------------------------------------------- per-unit results

def time_class_probabilities(mm, fit, *, integration: dict | None = None, max_draws: int = 1000) -> pd.DataFrame:
    """Smoothed P(C_t = k | y_i) (forward-backward), units x (time, class); averaged over draws.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        Units x (time, class).

    Examples
    --------
    >>> m.time_class_probabilities(ml).head()       # doctest: +SKIP
    """
    structure = _lta(mm)
    _check_fit(mm, fit)
    setting = _setting(mm, fit, integration)
    graph = mm.posterior_expectation(structure.time_posterior, "unit", setting)
    values = _average(mm, fit, "time_posterior", graph, setting, max_draws)
    columns = pd.MultiIndex.from_product([structure.time_labels, mm.class_labels], names=["time", "class"])
    return pd.DataFrame(values.reshape(len(values), -1), index=mm.data.units, columns=columns)


def _path_labels(mm) -> list[str]:
    structure = _lta(mm)
    return [" > ".join(mm.class_labels[c] for c in path) for path in paths(mm.n_classes, structure.n_times)]


def path_probabilities(mm, fit, *, integration: dict | None = None, max_draws: int = 1000) -> pd.DataFrame:
    """P(C_1..C_T = path | y_i), units x K^T paths (labelled ``"class1 > class2"``); rows sum to one.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        Units x paths (labelled ``"class1 > class2"``); rows sum to one.

    Examples
    --------
    >>> m.path_probabilities(ml).mean()             # doctest: +SKIP
    """
    structure = _lta(mm)
    _check_fit(mm, fit)
    check_paths(mm.n_classes, structure.n_times, "path_probabilities")
    setting = _setting(mm, fit, integration)
    graph = mm.posterior_expectation(structure.path_posterior, "unit", setting)
    values = _average(mm, fit, "path_posterior", graph, setting, max_draws)
    return pd.DataFrame(values, index=mm.data.units, columns=pd.Index(_path_labels(mm), name="path"))


def most_likely_paths(mm, fit, *, integration: dict | None = None, max_draws: int = 1000) -> pd.DataFrame:
    """The most likely class path of each unit, argmax_path P(path | y_i), with that probability.

    At a point fit of a Markov model without random intercepts: the Viterbi
    algorithm (:func:`bayesmix.marginal.chain.viterbi`, any K^T). Otherwise
    (posterior draws, random intercepts integrated out, non-Markov chains)
    the argmax of :func:`path_probabilities`. Columns: one per time point
    (class labels) and ``probability``.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    integration : dict, optional
        Quadrature of the random intercepts (default: the fit's / model's).

    Returns
    -------
    DataFrame
        One column per time point (class labels) and ``probability``.

    Examples
    --------
    >>> m.most_likely_paths(ml).value_counts()      # doctest: +SKIP
    """
    structure = _lta(mm)
    _check_fit(mm, fit)
    setting = _setting(mm, fit, integration)
    times = structure.time_labels
    if as_fit(fit).is_point and mm.latent is None and structure.markov:
        (li, lt, em, ll) = _point_arrays(mm, fit, setting)
        best = chain.viterbi(li, lt, em)  # (N, T)
        n = em.shape[0]
        li = np.broadcast_to(li, (n, li.shape[-1]))
        lt = np.broadcast_to(lt, (n, *lt.shape[-3:]))
        rows = np.arange(n)
        score = li[rows, best[:, 0]] + em[rows, 0, best[:, 0]]
        for t in range(1, len(times)):
            score = score + lt[rows, t - 1, best[:, t - 1], best[:, t]] + em[rows, t, best[:, t]]
        probability = np.exp(score - ll)
    else:
        probs = path_probabilities(mm, fit, integration=integration, max_draws=max_draws).to_numpy()
        choice = probs.argmax(axis=1)
        best = paths(mm.n_classes, len(times))[choice]
        probability = probs[np.arange(len(probs)), choice]
    out = pd.DataFrame({t: pd.Categorical(np.asarray(mm.class_labels)[best[:, i]], categories=mm.class_labels)
                        for i, t in enumerate(times)}, index=mm.data.units)
    out["probability"] = probability
    return out


def _point_arrays(mm, fit, setting):
    structure = _lta(mm)
    graphs = [structure.log_initial_at(None), structure.log_transition_at(None), structure.emission_at(None),
              structure.unit_loglik(None)]
    from ...inference.objective import flat_model
    flat = flat_model(mm, setting)
    return tuple(np.asarray(v) for v in flat.evaluate(f"lta:viterbi:{setting}", graphs, _theta(flat, fit)))


def _theta(flat, fit) -> np.ndarray:
    fit = as_fit(fit)
    return np.asarray(fit.theta) if fit.theta is not None else flat.to_theta(fit.point)
