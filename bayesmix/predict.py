"""Classify new respondents: ``m.predict_proba(new_data, result)`` and ``m.predict``.

Bayes' rule at the fitted parameters: for a new unit i with responses y_i
(and covariates x_i),

    P(C_i = c | y_i, x_i) = P(C_i = c | x_i) p(y_i | C_i = c) / sum_k P(C_i = k | x_i) p(y_i | C_i = k)

with P(C = c | x) the class model of eq. 4 and p(y | C = c) the product of
the item kernels of eq. 1-2 (missing responses left out). After NUTS or
Laplace the probabilities are averaged over posterior draws; after ML / MAP
they are evaluated at the point estimate.

How it is computed: the model's factory is called again (from the call it
recorded) on the training rows followed by the new rows, with the training
item types, and its class-membership graph is evaluated at the fitted
parameters; the new rows' values are returned. So the new data are checked
against the *training* encoding -- same items, no unseen category codes (a
``ValueError`` names them) -- and an item that is constant within the few
new rows is fine.

Two-level models: a new unit in a *known* cluster is classified with the
cluster's random effect (or between class) integrated over its posterior
given the cluster's training units and the new units of that cluster; a unit
in a *new* cluster gets the effect integrated over its posterior given the
new cluster's units (the prior when the cluster has one unit with little
data). Between-level classes (``class_level="between"``) are classified per
cluster: rows are the clusters of ``new_data``. Passing training rows again
counts them as further units of their clusters (in single-level models the
result equals ``class_probabilities`` exactly).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .data import column_names
from . import registry
from ._warn import PACKAGE_FRAMES

__all__ = ["predict_proba", "predict", "point_posterior"]

_COLUMN_ARGUMENTS = ("items", "items_by_time", "y", "x", "covariates", "cluster", "cluster_covariates")


def point_posterior(mm, point: dict) -> xr.DataTree:
    """A fitted point (ML / MAP ``result.point``) as a one-chain, one-draw posterior DataTree.

    With it, every posterior result method evaluates at the point.

    Parameters
    ----------
    mm : MixtureModel
        The model the point belongs to.
    point : dict
        Values by variable name on the natural scale (``ml.point``); integrated
        latent effects are left out.

    Returns
    -------
    xarray.DataTree
        A ``posterior`` group with chain and draw of length 1.

    Examples
    --------
    >>> ml = m.fit_ml(seed=1)                                       # doctest: +SKIP
    >>> m.class_proportions(bm.point_posterior(m, ml.point))        # doctest: +SKIP
    """
    data = {}
    for rv in mm.model.free_RVs:
        if rv.name not in point or rv.name in mm.integrated:
            continue
        value = np.asarray(point[rv.name])
        dims = list(mm.model.named_vars_to_dims.get(rv.name, ()) or ())
        if len(dims) != value.ndim:
            dims = [f"{rv.name}_dim_{i}" for i in range(value.ndim)]
        data[rv.name] = (["chain", "draw", *dims], value[None, None])
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data, coords={"chain": [0], "draw": [0]})})


def _columns(call: dict) -> list[str]:
    args = call["arguments"]
    out: list[str] = []
    for key in _COLUMN_ARGUMENTS:
        value = args.get(key)
        if value is None:
            continue
        for name in column_names(value):
            if name not in out:
                out.append(name)
    return out


def _check_new_data(mm, new_data, columns: list[str]) -> pd.DataFrame:
    if not isinstance(new_data, pd.DataFrame):
        raise ValueError(f"new_data must be a pandas DataFrame, got {type(new_data).__name__}.")
    if len(new_data) == 0:
        raise ValueError("new_data has no rows.")
    missing = [c for c in columns if c not in new_data.columns]
    if missing:
        raise ValueError(f"new_data lacks column(s) {missing} that the model was fitted with; "
                         f"it needs {columns}.")
    new = new_data[columns].reset_index(drop=True).copy()
    train = mm.data.frame
    for spec in mm.data.items:
        column = new[spec.name]
        if spec.kind == "continuous":
            values = pd.to_numeric(column, errors="coerce")
            bad = column.notna() & values.isna()
            if bad.any() or np.isinf(values.to_numpy(dtype=float)).any():
                raise ValueError(f"item {spec.name!r} is continuous, but new_data holds non-numeric or "
                                 f"infinite values {column[bad].unique().tolist()[:5]}; use numbers or NaN.")
            continue
        known = set(spec.categories)
        observed = column.dropna()
        unseen = sorted({_plain(v) for v in observed if v not in known}, key=str)
        if unseen:
            raise ValueError(f"item {spec.name!r} has code(s) {unseen} in new_data that the model never saw "
                             f"(fitted codes: {[_plain(c) for c in spec.categories]}); recode them to fitted codes "
                             "or set them missing (NaN).")
        if isinstance(train[spec.name].dtype, pd.CategoricalDtype):
            new[spec.name] = pd.Categorical(column, categories=train[spec.name].dtype.categories,
                                            ordered=train[spec.name].dtype.ordered)
    return new


def _plain(value):
    """numpy scalars as Python values (readable in messages)."""
    return value.item() if isinstance(value, np.generic) else value


def predict_proba(mm, new_data: pd.DataFrame, result: Any, *, max_draws: int = 1000,
                  ci_prob: float | None = None, ci_kind: str | None = None,
                  hdi_prob: float | None = None) -> pd.DataFrame:
    """Class membership probabilities of new respondents, rows x classes (Bayes' rule, eq. 4 with 1-2).

    P(C = c | y, x) = P(C = c | x) p(y | C = c) / sum_k P(C = k | x) p(y | C = k)
    at the fitted parameters; averaged over the draws of a posterior.

    Parameters
    ----------
    mm : MixtureModel
        The fitted model (built by a factory that records its call).
    new_data : DataFrame
        Rows to classify, with the model's item columns (and covariates,
        cluster id, cluster covariates). Checked against the training
        encoding: unseen category codes raise a ``ValueError``; an item
        constant within the new rows is fine; missing responses are left out.
    result : MLResult, MAP result or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`): ``m.fit_ml()``, ``m.fit_map()``,
        ``m.sample()`` or ``m.fit_laplace()``.
    max_draws : int
        At most this many (thinned) posterior draws are averaged.
    ci_prob : float, optional
        With a posterior: also the interval of this probability over draws;
        columns become (class, statistic) with mean, lower, upper (None: no interval).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Kind of that interval (default ArviZ's ``stats.ci_kind``, ``"eti"``).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        Indexed like ``new_data`` (rows with every item missing: NaN),
        one column per class. On the training rows of a single-level model
        it equals :meth:`class_probabilities` (or ``ml.posterior_probabilities``).
        Two-level models: new units in known clusters use the cluster's
        training units too; between-level classes give one row per cluster
        of ``new_data`` (see :mod:`bayesmix.predict`).

    Examples
    --------
    >>> df = bm.datasets.load("carcinoma")
    >>> m = bm.lca(df, items=list("ABCDEFG"), n_classes=2)
    >>> ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    >>> new_rows = pd.DataFrame({"A": [1, 0], "B": [1, 0], "C": [1, 0], "D": [1, 0], "E": [1, 0],
    ...                          "F": [1, 0], "G": [1, 0]})
    >>> m.predict_proba(new_rows, ml).round(3)     # all seven say carcinoma / none does
    class  class1  class2
    0         1.0     0.0
    1         0.0     1.0
    """
    from .evaluate import POSTERIOR_MEAN_ALIAS, as_fit, evaluate_at_fit, interval, interval_arguments
    with_interval = ci_prob is not None or hdi_prob is not None
    if with_interval:
        ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    call = mm.options.get("call")
    if not call:
        raise ValueError(f"this model ({mm.name}) does not record its factory call; build it with a bayesmix "
                         "factory (bm.lca, bm.mixture_regression) to predict.")
    family = registry.get(call["factory"])
    if not family.predict:
        raise ValueError(f"bm.{family.name} models cannot classify new rows (its family declares predict=False); "
                         "use class_probabilities on the fitted data instead.")
    columns = _columns(call)
    new = _check_new_data(mm, new_data, columns)
    fit = as_fit(result)
    integration = fit.integration
    train = mm.data.frame[columns]
    combined = pd.concat([train, new], ignore_index=True)
    for name in columns:  # keep categorical dtypes (ordinal category order) through the concatenation
        if isinstance(train[name].dtype, pd.CategoricalDtype):
            combined[name] = pd.Categorical(combined[name], categories=train[name].dtype.categories,
                                            ordered=train[name].dtype.ordered)
    changes: dict[str, Any] = {"data": combined}
    if registry.get(call["factory"]).accepts("item_types"):  # keep the training item types
        changes["item_types"] = {spec.name: spec.kind for spec in mm.data.items}
    if registry.get(call["factory"]).accepts("missing_covariates"):  # new rows are never dropped silently
        changes["missing_covariates"] = "error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # suspicious codes etc. were reported at fitting
        both = _rebuild_quietly(call, changes)
    graph = both.class_probability_tensor(integration)
    ev = evaluate_at_fit(both, fit, graph, key=f"predict:{integration}", integration=integration,
                         max_draws=max_draws, se=False)
    values = {"estimate": ev.mean()}
    if with_interval:
        values["lower"], values["upper"] = interval(ev.values(), ci_prob, ci_kind)
        values[POSTERIOR_MEAN_ALIAS] = values["estimate"]
    labels = pd.Index(mm.class_labels, name="class")
    tables = {stat: _rows(mm, both, call, new, new_data, len(train), array, labels) for stat, array in values.items()}
    if not with_interval:
        return tables["estimate"]
    out = pd.concat(tables, axis=1, names=["statistic", "class"]).swaplevel(axis=1)
    return out[pd.MultiIndex.from_product([list(labels), list(values)], names=["class", "statistic"])]


def mean_over_draws(mm, tree, key: str, graph, max_draws: int = 1000) -> np.ndarray:
    """Mean of a graph of the free RVs over (up to ``max_draws``) draws of any fit (:func:`bayesmix.evaluate.evaluate_at_fit`)."""
    from .evaluate import evaluate_at_fit
    return evaluate_at_fit(mm, tree, graph, key=key, max_draws=max_draws, se=False).mean()


def _rows(mm, both, call, new, new_data, n_train, probs, labels) -> pd.DataFrame:
    """The new data's rows of the combined model's (rows, K) values."""
    if both.structure.class_level == "cluster":
        clusters = list(pd.unique(new[call["arguments"]["cluster"]]))
        table = pd.DataFrame(probs, index=both.data.clusters, columns=labels)
        return table.loc[clusters]
    kept = np.asarray(both.data.units)  # combined positions kept (rows with every item missing are dropped)
    out = pd.DataFrame(np.nan, index=new_data.index, columns=labels)
    is_new = kept >= n_train
    out.iloc[kept[is_new] - n_train] = probs[is_new]
    n_empty = int(out.isna().any(axis=1).sum())
    if n_empty:
        warnings.warn(f"{n_empty} row(s) of new_data have every item missing; their class probabilities are NaN.",
                      UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    return out


def _rebuild_quietly(call, changes):
    from .io import rebuild
    return rebuild(call, **changes)


def predict(mm, new_data: pd.DataFrame, result: Any, *, max_draws: int = 1000) -> pd.Series:
    """Modal class of new respondents (the column of largest :meth:`predict_proba`).

    Parameters
    ----------
    mm : MixtureModel
        The model.
    new_data : DataFrame
        Rows to classify (see :meth:`predict_proba`).
    result : MLResult, MAP result or DataTree
        The fit to use.
    max_draws : int
        At most this many (thinned) posterior draws are averaged.

    Returns
    -------
    Series
        Class labels indexed like ``new_data`` (``pd.NA`` for rows with every item missing).

    Examples
    --------
    >>> df = bm.datasets.load("carcinoma")
    >>> m = bm.lca(df, items=list("ABCDEFG"), n_classes=2)
    >>> ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    >>> m.predict(df.head(3), ml).tolist()         # the three slides' modal classes (see ml.summary())
    ['class2', 'class2', 'class2']
    """
    probs = predict_proba(mm, new_data, result, max_draws=max_draws)
    modal = pd.Series(pd.NA, index=probs.index, name="class", dtype=object)
    ok = probs.notna().all(axis=1)
    modal[ok] = probs[ok].idxmax(axis=1)
    return modal
