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
- ``at=`` (both functions above): the same quantities at chosen covariate
  values, e.g. ``at={"smoker": [0, 1]}`` -- P(C_1 = k | x) (eq. 8) and
  P(C_t = k | C_{t-1} = j, x) (eq. 9) at each row x, averaged over the random
  intercepts' distribution when the model has them (:func:`covariate_rows`);
- :func:`transition_effects` -- eq. 9 in the paper's form (alpha_tk, gamma_tkj)
  and, for two classes, eq. 14's R-squared of C_{t-1} as a predictor of C_t;
- :func:`variance_explained` -- the two-level decomposition of section 4;
- :func:`time_class_probabilities`, :func:`path_probabilities`,
  :func:`most_likely_paths` -- per unit: smoothed marginals (forward-backward),
  posterior probabilities of the K^T class paths, and the Viterbi path.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Mapping

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from ...marginal import chain
from ...evaluate import as_fit, evaluate_at_fit, interval_arguments, summarize
from ...structure.chain import ChainClasses, check_paths, paths

__all__ = [
    "class_proportions_by_time",
    "transition_matrices",
    "covariate_rows",
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


# --------------------------------------------------------------------------- quantities at covariate values

def covariate_rows(mm, at) -> pd.DataFrame:
    """The covariate rows an ``at=`` argument names, checked: a DataFrame with the model's covariates as columns.

    ``at`` is a dict covariate -> value or list of values (every covariate of
    the model; the rows are the Cartesian product, in the model's covariate
    order) or a DataFrame with one column per covariate (its rows as given).

    Parameters
    ----------
    mm : LTAModel
        A model with ``covariates``.
    at : dict or DataFrame
        The covariate values.

    Returns
    -------
    DataFrame
        One row per covariate setting, the model's covariate columns (floats), a default index.

    Examples
    --------
    >>> covariate_rows(m, {"smoker": [0, 1], "age": 40})      # doctest: +SKIP
    """
    names = list(mm.class_model.covariate_names) if mm.class_model.covariates is not None else []
    if not names:
        raise ValueError("at= sets the values of the model's covariates, but this model has none; build it with "
                         "bm.lta(..., covariates=[...]) or leave at= out (the population quantities).")
    if isinstance(at, pd.DataFrame):
        given = [str(c) for c in at.columns]
        frame = at
    elif isinstance(at, Mapping):
        given = [str(c) for c in at]
        frame = None
    else:
        raise ValueError(f"at must be a dict covariate -> value(s), e.g. {{{names[0]!r}: [0, 1]}}, or a DataFrame "
                         f"with the columns {names}; got {type(at).__name__}.")
    unknown = [c for c in given if c not in names]
    if unknown:
        raise ValueError(f"at names {unknown}, which are not covariates of this model; its covariates are {names}.")
    missing = [c for c in names if c not in given]
    if missing:
        raise ValueError(f"at gives no value for the covariate(s) {missing}; results at covariate values need all "
                         f"of {names} (e.g. the sample mean: at={{..., {missing[0]!r}: data[{missing[0]!r}].mean()}}).")
    if frame is None:
        values = {}
        for name in names:
            v = at[name]
            v = [v] if np.ndim(v) == 0 else list(np.ravel(np.asarray(v, dtype=object)))
            if not v:
                raise ValueError(f"at[{name!r}] is empty; give at least one value.")
            values[name] = v
        frame = pd.DataFrame(list(itertools.product(*values.values())), columns=names)
    frame = frame[names].reset_index(drop=True)
    if not len(frame):
        raise ValueError("at has no rows; give at least one covariate setting.")
    for name in names:
        try:
            column = pd.to_numeric(frame[name].astype(object) if frame[name].dtype == bool else frame[name])
        except (TypeError, ValueError):
            raise ValueError(f"at[{name!r}] has non-numeric values {list(frame[name])[:5]}; covariates are numbers "
                             "(as in the data the model was built on).") from None
        column = column.astype(float)
        if not np.all(np.isfinite(column)):
            raise ValueError(f"at[{name!r}] has missing or infinite values; give finite numbers.")
        frame[name] = column
    return frame


def _at_key(rows: pd.DataFrame) -> str:
    return hashlib.sha1(np.ascontiguousarray(rows.to_numpy(float)).tobytes()).hexdigest()[:16]


def _rows_index(rows: pd.DataFrame, inner: pd.MultiIndex) -> pd.MultiIndex:
    """(covariate values..., inner levels...) for every row of ``rows`` and every entry of ``inner``."""
    outer = [tuple(r) for r in rows.itertuples(index=False, name=None)]
    tuples = [(*o, *i) for o in outer for i in inner]
    return pd.MultiIndex.from_tuples(tuples, names=[*rows.columns, *inner.names])


def _chain_at(mm, x: np.ndarray, offset_initial=None, offset_later=None):
    """(P(C_t = k | x, alpha), P(C_t = j, C_t+1 = k | x, alpha)) at covariate rows ``x`` (R, P): (..., R, T, K), (..., R, T-1, K, K).

    Eq. 8 propagated through eq. 9 (or the path prior of a non-Markov chain),
    with the units' covariates replaced by the rows ``x`` and the random
    intercepts ``offset_initial`` (..., 1, K-1) / ``offset_later`` (..., 1, T-1, K-1).
    """
    structure = _lta(mm)
    transitions = mm.options["transitions"]
    cm = mm.class_model

    def log_initial_at(z, rows=None):
        return cm.log_prior(offset=offset_initial, covariates=x)

    def log_transition_at(z, rows=None):
        return transitions.log_transition(offset_later, covariates=x)

    def log_path_prior_at(z, rows=None):
        return transitions.log_path_prior(cm.log_prior(offset=offset_initial, covariates=x), offset_later,
                                          covariates=x)

    rows = int(x.shape[0])
    local = ChainClasses(log_initial_at, log_transition_at, lambda z: None, rows, structure.n_times,
                         structure.n_classes, log_path_prior_at=None if structure.markov else log_path_prior_at,
                         time_labels=structure.time_labels)
    marg = local.prior_marginals() + pt.zeros((rows, 1, 1))
    pairs = local.prior_pairs() + pt.zeros((rows, 1, 1, 1))
    return marg, pairs


def _expected_at(mm, rows: pd.DataFrame, integration):
    """E over the random intercepts of (marginals (R, T, K), pairs (R, T-1, K, K)) at the covariate rows.

    Without random intercepts: eq. 8-9 at x. With them: the average over the
    quadrature nodes of the model's setting (and, with cluster covariates, over
    the clusters weighted by their units, as the population quantities are).
    """
    structure = _lta(mm)
    x = rows.to_numpy(float)
    latent = mm.latent
    if latent is None:
        return _chain_at(mm, x)
    k, n_times = structure.n_classes, structure.n_times
    nodes, logw = mm.rule(integration)
    u = latent.values(pt.as_tensor(np.asarray(nodes)[:, None, :]), broadcast=False)  # (Q, J or 1, T (K-1))
    u = u.reshape((u.shape[0], u.shape[1], 1, n_times, k - 1))
    marg, pairs = _chain_at(mm, x, u[..., 0, :], u[..., 1:, :])  # (Q, J', R, T, K), (Q, J', R, T-1, K, K)
    if latent.level_free:
        level_w = np.ones(1)
    else:
        index = structure.cluster_index
        level_w = np.bincount(index, minlength=structure.n_clusters) / len(index)
    w = pt.exp(pt.as_tensor(logw))[:, None] * pt.as_tensor(level_w)[None, :]  # (Q, J')

    def average(values):
        return (w.reshape((*w.shape, *([1] * (values.ndim - 2)))) * values).sum(axis=(0, 1))

    return average(marg), average(pairs)


def _check_at(mm, kind):
    if kind != "model":
        raise ValueError("at= gives the model-implied quantities at covariate values; kind='posterior' averages "
                         "the units' posteriors (their own covariates). Use kind='model' with at=.")
    if mm.n_classes < 2:
        raise ValueError("a one-class model has no class or transition probabilities that depend on covariates.")


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


def _at_covariates(mm, fit, kind, at, integration):
    """(covariate rows, quadrature setting, (P(C_t = k | x), P(C_{t-1} = j, C_t = k | x)) graphs) for ``at=``."""
    _check_kind(kind)
    _check_at(mm, kind)
    rows = covariate_rows(mm, at)
    _check_fit(mm, fit)
    setting = _setting(mm, fit, integration)
    return rows, setting, _expected_at(mm, rows, setting)


def class_proportions_by_time(mm, fit, *, kind: str = "model", at: Mapping | pd.DataFrame | None = None,
                              ci_prob: float | None = None, ci_kind: str | None = None,
                              integration: dict | None = None, hdi_prob: float | None = None) -> pd.DataFrame:
    """P(C_t = k) for every time point t, rows (time, class); with ``at``, P(C_t = k | x) per covariate row x.

    ``kind="model"``: the population proportions the estimated model implies
    (eq. 8 propagated through eq. 9, averaged over units' covariates and the
    random intercepts' distribution); ``"posterior"``: the mean over units of
    P(C_t = k | y_i) (Mplus' "based on estimated posterior probabilities").

    ``at`` (``kind="model"``): the proportions at chosen covariate values
    instead of averaged over the units' covariates, e.g.
    ``at={"smoker": [0, 1]}``: P(C_1 = k | x) of eq. 8 propagated through
    eq. 9 at x, P(C_t = k | x) = sum_j P(C_{t-1} = j | x) P(C_t = k | C_{t-1} = j, x);
    with random intercepts, E[P(C_t = k | x, alpha)] over their distribution
    (the model's quadrature). Rows gain the covariate values as leading index levels.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    kind : ``"model"`` or ``"posterior"``
        Implied by the estimated model, or averaged posterior probabilities of the units.
    at : dict or DataFrame, optional
        Covariate values (``kind="model"``): a dict covariate -> value or list of
        values naming every covariate (rows: their Cartesian product, in the
        model's covariate order) or a DataFrame with one column per covariate
        (:func:`covariate_rows`).
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
        Rows (time, class), led by the covariates with ``at``; ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
        ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

    Examples
    --------
    >>> m.class_proportions_by_time(ml)             # doctest: +SKIP
    >>> m.class_proportions_by_time(ml, at={"smoker": [0, 1]})   # doctest: +SKIP
    """
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    structure = _lta(mm)
    index = pd.MultiIndex.from_product([structure.time_labels, mm.class_labels], names=["time", "class"])
    if at is not None:
        rows, setting, (graph, _) = _at_covariates(mm, fit, kind, at, integration)
        summary = _summary(mm, fit, f"time_proportions_at:{_at_key(rows)}", graph, setting, ci, probability=True)
        return _frame(summary, _rows_index(rows, index))
    setting, graph = _population(mm, fit, kind, integration, structure.time_proportions, structure.time_posterior)
    summary = _summary(mm, fit, f"time_proportions:{kind}", graph, setting, ci, probability=True)
    return _frame(summary, index)


def transition_matrices(mm, fit, *, kind: str = "model", at: Mapping | pd.DataFrame | None = None,
                        ci_prob: float | None = None, ci_kind: str | None = None, integration: dict | None = None,
                        hdi_prob: float | None = None) -> pd.DataFrame:
    """Transition probabilities P(C_t = k | C_{t-1} = j), rows (transition, from, to); with ``at``, per covariate row.

    ``kind="model"``: E[P(C_{t-1} = j, C_t = k | x, alpha)] / E[P(C_{t-1} = j | x, alpha)]
    over units and the random intercepts' distribution (without covariates
    and random intercepts, softmax of ``transition_logit``); ``"posterior"``:
    sum_i P(C_{t-1} = j, C_t = k | y_i) / sum_i P(C_{t-1} = j | y_i).
    ``table.xs("t1->t2")["estimate"].unstack()`` (or ``["mean"]`` after NUTS)
    is the K x K matrix, rows summing to one.

    ``at`` (``kind="model"``): the matrices at chosen covariate values, e.g.
    smokers and non-smokers, ``at={"smoker": [0, 1]}``. Without random
    intercepts P(C_t = k | C_{t-1} = j, x) is the softmax of eq. 9's logits at x,
    tau_tjk + g_tk' x; with them, E[P(C_{t-1} = j, C_t = k | x, alpha)] /
    E[P(C_{t-1} = j | x, alpha)] over the random intercepts' distribution
    (the model's quadrature), the chain propagated from P(C_1 | x, alpha) of
    eq. 8 -- the same joint/marginal ratio as ``kind="model"``, at x instead of
    over the units (with ``cluster_covariates``, alpha's distribution is the
    mixture over the clusters' w weighted by their units). Rows gain the covariate values as leading index levels
    (``table.xs(1, level="smoker")``). A non-Markov chain (``markov=False``)
    gives the ratio of the path prior's pairs the same way.

    Parameters
    ----------
    mm : LTAModel
        The model (:func:`bayesmix.lta`).
    fit : MLResult, MAP result or DataTree
        An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
        (``sample``, ``fit_laplace``: means and intervals over draws).
    kind : ``"model"`` or ``"posterior"``
        Implied by the estimated model, or averaged posterior probabilities of the units.
    at : dict or DataFrame, optional
        Covariate values (``kind="model"``): a dict covariate -> value or list of
        values naming every covariate (rows: their Cartesian product, in the
        model's covariate order) or a DataFrame with one column per covariate
        (:func:`covariate_rows`).
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
        Rows (transition, from, to), led by the covariates with ``at``; ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
        ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

    Examples
    --------
    >>> m.transition_matrices(ml).xs("t1->t2")["estimate"].unstack()   # K x K   # doctest: +SKIP
    >>> m.transition_matrices(ml, at={"smoker": [0, 1]})                # doctest: +SKIP
    """
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    structure = _lta(mm)
    steps = [f"{a}->{b}" for a, b in zip(structure.time_labels[:-1], structure.time_labels[1:])]
    index = pd.MultiIndex.from_product([steps, mm.class_labels, mm.class_labels], names=["transition", "from", "to"])
    if at is not None:
        rows, setting, (_, joint) = _at_covariates(mm, fit, kind, at, integration)
        graph = joint / joint.sum(axis=-1, keepdims=True)
        summary = _summary(mm, fit, f"transitions_at:{_at_key(rows)}", graph, setting, ci, probability=True)
        return _frame(summary, _rows_index(rows, index))
    setting, joint = _population(mm, fit, kind, integration, structure.transition_joint,
                                 structure.pairwise_posterior)
    graph = joint / joint.sum(axis=-1, keepdims=True)
    summary = _summary(mm, fit, f"transitions:{kind}", graph, setting, ci, probability=True)
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
