"""Absolute fit of latent class models with categorical items: G-squared, Pearson X2, bivariate residuals.

The saturated model for I categorical items is the multinomial over all
response patterns (cells) s = (s_1, ..., s_I), prod_i C_i of them. With N
units, observed pattern counts O_s and expected counts E_s = N P(y = s) from
the fitted model (P(y = s) = sum_c P(C = c) prod_i P(y_i = s_i | C = c),
eq. 1 and 4 with the classes summed out),

    G2 = 2 sum_s O_s log(O_s / E_s)                    (over observed patterns)
    X2 = sum_s (O_s - E_s)^2 / E_s                     (over all cells: observed patterns,
                                                        plus N - sum_obs E_s for the unobserved ones)
    df = prod_i C_i - 1 - n_params

(``df`` is floored at 0; poLCA reports ``min(N, prod C_i - 1) - n_params``,
given as ``df_polca``). With many cells per unit the chi-square reference is
poor (sparse tables): a ``UserWarning`` says so when the mean expected count
per cell N / prod C_i is below 5; then use the bivariate residuals, or a
parametric bootstrap.

Missing answers. A unit's observed pattern keeps its missing cells as their
own symbol ("." in :func:`pattern_table`). Units are grouped by their
missing-data pattern m (which items are observed); within group m, of N_m
units, the observed part of the answers follows the model's marginal
multinomial over the observed items' cells, the missing items summed out
(for an LCA P(y_obs = s) = sum_c P(C = c) prod_{observed i} P(y_i = s_i | c)),
so E_s = N_m P(y_obs = s). The probability is the unit's own likelihood
exp(log p(y_obs,i)) of the fitted model (the ML objective, which already
leaves missing cells out), so sum_s O_s log(E_s / N_m) is the model's
log-likelihood. G2 and X2 are the sums of the per-group statistics (X2 again
adds N_m - sum_obs E_s for the unobserved cells of each group); with complete
data there is one group and they are the statistics above. Degrees of freedom:

* ``df`` stays the complete-data definition prod_i C_i - 1 - n_params (what
  Mplus prints as the chi-square df of the frequency table, and poLCA's
  ``resid.df``, which counts complete-data cells also when ``na.rm = FALSE``);
* ``df_observed`` = sum_m (prod_{observed i} C_i - 1) - n_params (floored at
  0), the df of the observed-pattern statistics against the saturated model of
  the observed data, one free multinomial per missing-data pattern (Fuchs
  1982, JASA 77, 270-278); equal to ``df`` for complete data. ``p_G2`` / ``p_X2`` use ``df_observed``. With missing answers
  the test is a joint test of the model and of MCAR (under MAR the answers
  observed in a missing-data group need not follow the model's marginal), and
  the tables are sparser still: read it as a guide, not a test.

poLCA (``na.rm = FALSE``) computes its G2 / X2 from the fully observed rows only
(``Nobs`` of them); that is the complete-pattern group here, and the pattern
table's rows without a "." reproduce its ``predcell`` expected counts when the
other groups are dropped (E_s there is N_obs P(y = s), the same formula).

Bivariate residuals (Vermunt & Magidson, Latent GOLD): per item pair, the
Pearson X2 of the observed two-way table against the model's expected table
E_ab = n_jk sum_c P(C = c) P(y_j = a | c) P(y_k = b | c), divided by its
(C_j - 1)(C_k - 1) degrees of freedom; values well above 1 (e.g. > 3.84 for
two binary items) point to local dependence the classes do not explain.

Available for models without covariates, clusters or continuous latent effects
(the expected counts then do not depend on the unit); the pattern statistics
take P(y_obs) from the model's own likelihood, so they also hold for an LTA
(cells: the answers at all times); the bivariate residuals use the
pairwise-complete rows.

:func:`blrt` is the bootstrap likelihood-ratio test of K - 1 against K
classes (parametric bootstrap from the smaller model, :func:`simulate_from`);
it works for single-level models with covariates and any item types.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from . import registry
from ._warn import PACKAGE_FRAMES

__all__ = ["pattern_table", "goodness_of_fit", "bivariate_residuals", "blrt", "simulate_from"]

#: mean expected count per cell below which the pattern tables are called sparse
SPARSE_MEAN_COUNT = 5.0


#: how a missing answer is shown in :func:`pattern_table`
MISSING = "."


def _check_model(mm, what: str) -> None:
    if mm.data.cluster_index is not None:
        raise ValueError(f"{what} is available for single-level models (no cluster=); this model has clusters "
                         "(the expected pattern counts would need the cluster's other units).")
    if mm.latent is not None:
        raise ValueError(f"{what} is available for models without continuous latent effects (random intercepts, "
                         "factors); this model has them (the unit probabilities are integrals, not one table).")
    if mm.data.covariate_names:
        raise ValueError(f"{what} needs a model without covariates (expected pattern counts then depend on each "
                         f"unit's covariates); this model has {mm.data.covariate_names}.")
    if mm.data.values is not None:
        kinds = [it.name for it in mm.data.items if it.kind == "continuous"]
        raise ValueError(f"{what} is for categorical items; {kinds} are continuous.")


def _point(result) -> dict:
    point = getattr(result, "point", None)
    if point is None:
        raise ValueError(f"result must be an ML or MAP result (with .point), got {type(result).__name__}; "
                         "for a posterior use m.fit_ml / m.fit_map first.")
    return point


def _evaluate(mm, result, key: str, graph):
    from .predict import mean_over_draws, point_posterior
    return mean_over_draws(mm, point_posterior(mm, _point(result)), key, graph, 1)


def _responses(mm) -> pd.DataFrame:
    frame = mm.data.frame
    return frame[mm.data.item_names()]


def _pattern_counts(mm, result, what: str) -> pd.DataFrame:
    """Observed patterns (missing cells as :data:`MISSING`) with ``observed``, ``expected`` and their group.

    ``expected`` = N_m exp(log p(y_obs)) with N_m the units of the pattern's
    missing-data group (same observed items) and log p(y_obs) the unit's
    log-likelihood at the point (missing cells left out); hidden columns
    ``_group`` (missing-data group id), ``_n_group`` (N_m) and ``_cells``
    (prod of the observed items' categories).
    """
    _check_model(mm, what)
    responses = _responses(mm)
    missing = responses.isna()
    loglik = np.asarray(_evaluate(mm, result, "fit_statistics:unit_loglik", mm.integrated_loglik()))  # (N,)
    if loglik.shape != (len(responses),):
        raise ValueError(f"{what} needs one log-likelihood per unit; this model gives shape {loglik.shape}.")
    keys = responses.copy()
    for name in responses.columns[missing.any().to_numpy()]:
        keys[name] = responses[name].astype(object).where(~missing[name], MISSING)
    group = missing.groupby(list(missing.columns), sort=False).ngroup().to_numpy()
    n_group = np.bincount(group)[group]
    n_categories = np.array([it.n_categories for it in mm.data.items], dtype=float)
    cells = np.prod(np.where(missing.to_numpy(), 1.0, n_categories[None, :]), axis=1)
    table = keys.assign(expected=n_group * np.exp(loglik), _group=group, _n_group=n_group, _cells=cells)
    grouped = table.groupby(list(responses.columns), sort=False, observed=True, dropna=False)
    out = grouped.agg(observed=("expected", "size"), expected=("expected", "first"), _group=("_group", "first"),
                      _n_group=("_n_group", "first"), _cells=("_cells", "first"))
    return out.sort_values("observed", ascending=False).reset_index()


def pattern_table(mm, result: Any, n_patterns: int | None = None) -> pd.DataFrame:
    """Observed response patterns with observed and expected counts and residuals (poLCA ``predcell``, Mplus TECH10).

    Missing answers are kept: a pattern is the observed part of the answers,
    a missing cell shown as ``"."``; its expected count is N_m P(y_obs = s),
    N_m the units with the same items missing and P(y_obs = s) the model's
    probability of the observed part, the missing items summed out (see the
    module docstring).

    Parameters
    ----------
    mm : MixtureModel
        A model with categorical items, no covariates, clusters or continuous
        latent effects.
    result : MLResult or MAP result
        The fitted point.
    n_patterns : int, optional
        Keep the ``n_patterns`` most frequent patterns (default all observed).

    Returns
    -------
    DataFrame
        One row per observed pattern: the item values (``"."`` = missing),
        ``observed``, ``expected`` (N_m P(y_obs = s); N P(y = s) for complete
        data), ``residual`` = (O - E) / sqrt(E), the standardized (Pearson)
        residual, whose squares are the X2 terms of the observed patterns, and
        ``z`` = (O - E) / sqrt(E (1 - E / N_m)), the binomial z-score of the
        count (the form of the standardized residual (z-score) Mplus TECH10
        prints per response pattern; not yet checked against Mplus output);
        sorted by observed count.

    Examples
    --------
    >>> m.pattern_table(ml, n_patterns=10)         # doctest: +SKIP
    """
    table = _pattern_counts(mm, result, "pattern_table")
    o, e, n_m = (table[c].to_numpy(float) for c in ("observed", "expected", "_n_group"))
    with np.errstate(divide="ignore", invalid="ignore"):
        table["residual"] = (o - e) / np.sqrt(e)
        table["z"] = (o - e) / np.sqrt(e * (1.0 - e / n_m))
    table = table.drop(columns=["_group", "_n_group", "_cells"])
    return table if n_patterns is None else table.head(n_patterns)


def goodness_of_fit(mm, result: Any) -> pd.Series:
    """G-squared and Pearson X2 of the fitted model against the saturated pattern model.

    With missing answers the statistics are those of the observed patterns,
    summed over the missing-data groups (module docstring); ``df`` keeps the
    complete-data definition (Mplus, poLCA) and ``df_observed`` is the df of
    the observed-data saturated model, which the p-values use.

    Parameters
    ----------
    mm : MixtureModel
    result : MLResult or MAP result

    Returns
    -------
    Series
        ``G2``, ``X2``, ``df`` (n_cells - 1 - n_params, floored at 0),
        ``df_observed`` (sum over missing-data groups of their cells - 1, minus
        n_params, floored at 0; = ``df`` for complete data), ``p_G2``, ``p_X2``
        (chi-square on ``df_observed``), ``df_polca``, ``n_cells``,
        ``n_patterns`` (observed), ``N``, ``N_complete`` (units with every
        answer), ``n_missing_patterns`` (missing-data groups, 1 for complete
        data), ``n_params``, ``mean_expected`` (N / n_cells); ``.attrs["note"]``
        says how the df are defined when answers are missing; a ``UserWarning``
        when the table is sparse.

    Examples
    --------
    >>> m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)
    >>> ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    >>> gof = m.goodness_of_fit(ml)           # warns: a sparse table (118 units, 128 cells)
    >>> round(float(gof["G2"]), 2), round(float(gof["X2"]), 2), int(gof["df"])
    (62.37, 92.65, 112)
    """
    table = _pattern_counts(mm, result, "goodness_of_fit")
    n = float(table["observed"].sum())
    n_cells = int(np.prod([it.n_categories for it in mm.data.items]))
    n_params = _n_params(mm, result)
    o, e = table["observed"].to_numpy(float), table["expected"].to_numpy(float)
    groups = table.drop_duplicates("_group")
    unobserved = np.maximum(groups["_n_group"].to_numpy(float)
                            - table.groupby("_group")["expected"].sum().reindex(groups["_group"]).to_numpy(), 0.0)
    g2 = 2.0 * float(np.sum(o * np.log(o / e)))
    x2 = float(np.sum((o - e) ** 2 / e) + unobserved.sum())
    df = max(n_cells - 1 - n_params, 0)
    df_observed = max(int(np.sum(groups["_cells"].to_numpy() - 1)) - n_params, 0)
    df_polca = min(int(n), n_cells - 1) - n_params
    complete = int(_responses(mm).notna().all(axis=1).sum())
    mean_expected = n / n_cells
    if mean_expected < SPARSE_MEAN_COUNT:
        warnings.warn(f"the pattern table is sparse ({n_cells} cells for N = {n:.0f}, mean expected count "
                      f"{mean_expected:.2f} < {SPARSE_MEAN_COUNT:g}): the chi-square p-values of G2 and X2 are "
                      "unreliable; look at bivariate_residuals, or bootstrap.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    p = (lambda s: float(stats.chi2.sf(s, df_observed)) if df_observed > 0 else float("nan"))
    out = pd.Series({"G2": g2, "X2": x2, "df": df, "df_observed": df_observed, "p_G2": p(g2), "p_X2": p(x2),
                     "df_polca": df_polca, "n_cells": n_cells, "n_patterns": len(table), "N": n,
                     "N_complete": complete, "n_missing_patterns": len(groups), "n_params": n_params,
                     "mean_expected": mean_expected}, name="goodness_of_fit")
    if len(groups) > 1 or complete < n:
        out.attrs["note"] = (
            f"{int(n) - complete} of {int(n)} units have missing answers: G2 and X2 are over the observed patterns "
            f"of {len(groups)} missing-data groups (E = N_group P(observed part)); df = {df} is the complete-data "
            f"df (cells - 1 - n_params, as Mplus and poLCA); p_G2 / p_X2 use df_observed = {df_observed} "
            "(one multinomial per missing-data group, Fuchs 1982), a joint test of the model and MCAR.")
    return out


def _n_params(mm, result) -> int:
    if hasattr(result, "n_params"):
        return int(result.n_params)
    from .inference.objective import flat_model
    return flat_model(mm).n_params


def _category_probabilities(mm, result) -> dict[str, np.ndarray]:
    """item -> (K, C_i) P(y_i = category | class) at the point."""
    kernels = [k for k in mm.kernels if hasattr(k, "probability_table")]
    out = {}
    for j, kernel in enumerate(kernels):
        table = np.asarray(_evaluate(mm, result, f"fit_statistics:probability_table:{j}",
                                     kernel.probability_table()))  # (K, I, C)
        for i, spec in enumerate(kernel.items):
            out[spec.name] = table[:, i, : spec.n_categories]
    return out


def bivariate_residuals(mm, result: Any) -> pd.DataFrame:
    """Bivariate residuals (BVR) per item pair: Pearson X2 of the two-way table / its df.

    Parameters
    ----------
    mm : MixtureModel
    result : MLResult or MAP result

    Returns
    -------
    DataFrame
        Rows (item1, item2) with ``x2``, ``df``, ``bvr`` (= x2 / df), ``p_value``
        (chi-square reference, a rough guide) and ``n`` (pairwise-complete rows),
        sorted by ``bvr``.

    Examples
    --------
    >>> m.bivariate_residuals(ml).head()      # doctest: +SKIP
    """
    _check_model(mm, "bivariate_residuals")
    probs = _category_probabilities(mm, result)
    weights = np.asarray(_evaluate(mm, result, "fit_statistics:proportions", mm.proportion_tensor()))
    specs = {it.name: it for it in mm.data.items}
    responses = _responses(mm)
    rows = {}
    for a, b in itertools.combinations(mm.data.item_names(), 2):
        both = responses[[a, b]].dropna()
        n = len(both)
        sa, sb = specs[a], specs[b]
        code_a = both[a].map({c: i for i, c in enumerate(sa.categories)}).to_numpy(int)
        code_b = both[b].map({c: i for i, c in enumerate(sb.categories)}).to_numpy(int)
        observed = np.zeros((sa.n_categories, sb.n_categories))
        np.add.at(observed, (code_a, code_b), 1.0)
        expected = n * np.einsum("k,ka,kb->ab", weights, probs[a], probs[b])
        x2 = float(np.sum((observed - expected) ** 2 / expected))
        df = (sa.n_categories - 1) * (sb.n_categories - 1)
        rows[(a, b)] = {"x2": x2, "df": df, "bvr": x2 / df, "p_value": float(stats.chi2.sf(x2, df)), "n": n}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["item1", "item2"])
    return table.sort_values("bvr", ascending=False)


# ----------------------------------------------------------------------------- bootstrap LRT
def simulate_from(mm, result: Any, rng: np.random.Generator) -> pd.DataFrame:
    """Data of the same shape as the model's (units, items, covariates, missingness) drawn at ``result``.

    Single-level models: the class of unit i from P(C_i | x_i) (eq. 4), then
    every item from its class-conditional distribution (eq. 1-2); responses
    missing in the data stay missing.
    """
    if mm.latent is not None or mm.data.cluster_index is not None:
        raise ValueError("simulation for the bootstrap LRT is available for single-level models.")
    frame = mm.data.frame
    n = len(frame)
    log_prior = np.asarray(_evaluate(mm, result, "simulate:log_prior", mm.class_model.log_prior()))
    prior = np.broadcast_to(np.exp(log_prior), (n, mm.n_classes))
    cum = np.cumsum(prior / prior.sum(axis=1, keepdims=True), axis=1)
    classes = np.minimum((rng.uniform(size=(n, 1)) > cum).sum(axis=1), mm.n_classes - 1)
    out = frame[mm.data.item_names() + list(mm.data.covariate_names)].copy()
    for j, kernel in enumerate(mm.kernels):
        if hasattr(kernel, "probability_table"):
            table = np.asarray(_evaluate(mm, result, f"simulate:probability_table:{j}", kernel.probability_table()))
            for i, spec in enumerate(kernel.items):
                p = table[classes, i, : spec.n_categories]  # (N, C)
                cum_p = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
                codes = np.minimum((rng.uniform(size=(n, 1)) > cum_p).sum(axis=1), spec.n_categories - 1)
                values = np.asarray(spec.categories, dtype=object)[codes]
                column = pd.Series(values, index=out.index).where(frame[spec.name].notna())
                if isinstance(frame[spec.name].dtype, pd.CategoricalDtype):
                    column = pd.Categorical(column, categories=frame[spec.name].dtype.categories,
                                            ordered=frame[spec.name].dtype.ordered)
                elif pd.api.types.is_numeric_dtype(frame[spec.name]):
                    column = column.astype(float)
                out[spec.name] = column
        else:
            table, rows = kernel.profile_rows()
            values = np.asarray(_evaluate(mm, result, f"simulate:profile_rows:{j}", table))  # (K, 2I)
            n_items = len(kernel.items)
            for i, spec in enumerate(kernel.items):
                draw = values[classes, i] + values[classes, n_items + i] * rng.standard_normal(n)
                out[spec.name] = np.where(frame[spec.name].notna(), draw, np.nan)
    return out


def _replicate(call_small: dict, call_big: dict, data: pd.DataFrame, starts, seed: int) -> float:
    """One bootstrap replicate: both models fitted by ML to simulated data; returns 2 (LL_big - LL_small)."""
    from .io import rebuild
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = rebuild(call_small, data=data)
        big = rebuild(call_big, data=data)
        fit_small = small.fit_ml(starts=starts, seed=int(rng.integers(2**31 - 1)), warn_unreplicated=False,
                                 progressbar=False)
        fit_big = big.fit_ml(starts=starts, seed=int(rng.integers(2**31 - 1)), warn_unreplicated=False,
                             progressbar=False)
    return 2.0 * (fit_big.loglik - fit_small.loglik)


def _bootstrap_one(args) -> float:
    m_small, ml_small, call_small, call_big, starts, seed_seq, item_types = args
    rng = np.random.default_rng(seed_seq)
    for _ in range(20):  # a simulated item can come out constant: draw again (same seed stream)
        data = simulate_from(m_small, ml_small, rng)
        try:
            changes = {"item_types": item_types} if item_types is not None else {}
            return _replicate({**call_small, "arguments": {**call_small["arguments"], **changes}},
                              {**call_big, "arguments": {**call_big["arguments"], **changes}}, data, starts,
                              int(rng.integers(2**63 - 1)))
        except ValueError as err:
            if "constant" not in str(err):
                raise
    raise RuntimeError("the bootstrap kept drawing data with a constant item; the small model is degenerate.")


def blrt(m_small, ml_small, m_big, ml_big, *, n_bootstrap: int = 50, starts=(10, 3), seed: int | None = None,
         n_jobs: int = 1, scheduler: Any = None) -> pd.Series:
    """Bootstrap likelihood-ratio test of K - 1 against K classes (McLachlan 1987; Nylund et al. 2007).

    The LR statistic 2 (LL_K - LL_{K-1}) has no chi-square reference (the
    null sits on the boundary, a class proportion of 0); its distribution is
    simulated instead: ``n_bootstrap`` data sets are drawn from the smaller
    model at its ML estimates (same units, covariates and missingness), both
    models are fitted to each by ML, and p = (1 + #{LR_b >= LR}) / (B + 1).

    Parameters
    ----------
    m_small, ml_small : MixtureModel, MLResult
        The smaller model (e.g. K - 1 classes) and its ML fit.
    m_big, ml_big : MixtureModel, MLResult
        The larger model and its ML fit, on the same data (the argument order
        of :func:`bayesmix.vlmr` and :func:`bayesmix.lrt`).
    n_bootstrap : int
        Bootstrap samples B.
    starts : int or (int, int)
        Random starts of each bootstrap fit.
    seed : int, optional
        Every replicate gets its own stream spawned from this seed, so the
        result does not depend on ``n_jobs``.
    n_jobs : int
        Worker processes (1: in this process). Workers are spawned (a fresh
        Python each, rebuilding the models from their recorded calls), so a
        script calling this with ``n_jobs > 1`` needs the usual
        ``if __name__ == "__main__":`` guard; notebooks need nothing.
    scheduler : str or distributed.Client, optional
        Where the bootstrap fits run instead (:mod:`bayesmix.distributed`):
        ``"serial"``, ``"local"`` (a dask ``LocalCluster`` of ``n_jobs``
        workers), a dask scheduler address or a ``distributed.Client``. The
        result is the same wherever they run.

    Returns
    -------
    Series
        ``statistic``, ``p_value``, ``n_bootstrap``, ``df_difference`` (extra
        parameters), and ``.attrs["replicates"]`` with the B bootstrap statistics.

    Examples
    --------
    >>> fit1, fit2 = m1.fit_ml(seed=1), m2.fit_ml(seed=1)                 # doctest: +SKIP
    >>> bm.blrt(m1, fit1, m2, fit2, n_bootstrap=100, seed=1, n_jobs=2)    # doctest: +SKIP
    """
    from ._pairs import check_pair
    from .io import call_of
    check_pair(m_small, ml_small, m_big, ml_big, "blrt")
    call_small, call_big = call_of(m_small), call_of(m_big)
    item_types = ({spec.name: spec.kind for spec in m_small.data.items}
                  if registry.get(call_small["factory"]).accepts("item_types") else None)
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise ValueError(f"n_jobs={n_jobs!r}: give a number of worker processes >= 1.")
    if scheduler is not None:
        from .distributed import resolve_scheduler
        resolve_scheduler(scheduler)
    streams = np.random.SeedSequence(seed).spawn(n_bootstrap)
    jobs = [(m_small, ml_small, call_small, call_big, starts, s, item_types) for s in streams]
    if scheduler is not None and scheduler != "serial":
        from .distributed import map_tasks
        replicates = map_tasks(_parallel_worker, [(_payload(job),) for job in jobs], scheduler=scheduler,
                               n_workers=n_jobs if n_jobs > 1 else None, name="bayesmix-blrt")
    elif n_jobs == 1 or scheduler == "serial":
        replicates = [_bootstrap_one(job) for job in jobs]
    else:
        replicates = _parallel(jobs, n_jobs)
    statistic = 2.0 * (ml_big.loglik - ml_small.loglik)
    replicates = np.asarray(replicates, dtype=float)
    p_value = (1.0 + np.sum(replicates >= statistic)) / (len(replicates) + 1.0)
    out = pd.Series({"statistic": statistic, "p_value": p_value, "n_bootstrap": n_bootstrap,
                     "df_difference": ml_big.n_params - ml_small.n_params}, name="blrt")
    out.attrs["replicates"] = replicates
    return out


def _parallel_worker(args) -> float:
    m_small_call, ml_point, call_small, call_big, starts, stream, item_types = args
    from types import SimpleNamespace

    from .io import rebuild
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m_small = rebuild(m_small_call)
    return _bootstrap_one((m_small, SimpleNamespace(point=ml_point), call_small, call_big, starts, stream, item_types))


def _payload(job) -> tuple:
    """A bootstrap job as plain data: the small model's call instead of the model (workers rebuild it)."""
    return (job[2], dict(job[1].point), job[2], job[3], job[4], job[5], job[6])


def _parallel(jobs, n_jobs: int) -> list[float]:
    """Replicates in ``n_jobs`` spawned processes (each rebuilds the small model from its call)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_parallel_worker, [_payload(job) for job in jobs]))
