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

Bivariate residuals (Vermunt & Magidson, Latent GOLD): per item pair, the
Pearson X2 of the observed two-way table against the model's expected table
E_ab = n_jk sum_c P(C = c) P(y_j = a | c) P(y_k = b | c), divided by its
(C_j - 1)(C_k - 1) degrees of freedom; values well above 1 (e.g. > 3.84 for
two binary items) point to local dependence the classes do not explain.

Available for single-level models without covariates (the expected counts
then do not depend on the unit); the pattern statistics need complete
responses, the bivariate residuals use the pairwise-complete rows.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["pattern_table", "goodness_of_fit", "bivariate_residuals"]

#: mean expected count per cell below which the pattern tables are called sparse
SPARSE_MEAN_COUNT = 5.0


def _check_model(mm, what: str) -> None:
    if mm.latent is not None or mm.data.cluster_index is not None:
        raise ValueError(f"{what} is available for single-level models (no cluster=); this model has clusters.")
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
    from .predict import point_posterior
    from .results import _average_over_draws
    return _average_over_draws(mm, point_posterior(mm, _point(result)), key, graph, 1)


def _responses(mm) -> pd.DataFrame:
    frame = mm.data.frame
    return frame[mm.data.item_names()]


def pattern_table(mm, result: Any) -> pd.DataFrame:
    """Observed response patterns with observed and expected counts (like poLCA's ``predcell``).

    Parameters
    ----------
    mm : MixtureModel
        A single-level model with categorical items and no covariates.
    result : MLResult or MAP result
        The fitted point.

    Returns
    -------
    DataFrame
        One row per observed pattern: the item values, ``observed`` and
        ``expected`` (N P(y = s)), sorted by observed count.
    """
    _check_model(mm, "pattern_table")
    responses = _responses(mm)
    if responses.isna().any().any():
        n = int(responses.isna().any(axis=1).sum())
        raise ValueError(f"{n} row(s) have missing responses; the pattern statistics need complete patterns "
                         "(fit the model to the complete rows, or use bivariate_residuals).")
    loglik = _evaluate(mm, result, "fit_statistics:unit_loglik", mm.integrated_loglik())  # log P(y_i) (N,)
    table = responses.copy()
    table["expected"] = len(responses) * np.exp(loglik)
    grouped = table.groupby(list(responses.columns), sort=False, observed=True)
    out = grouped["expected"].agg(["size", "first"]).rename(columns={"size": "observed", "first": "expected"})
    return out.sort_values("observed", ascending=False).reset_index()


def goodness_of_fit(mm, result: Any) -> pd.Series:
    """G-squared and Pearson X2 of the fitted model against the saturated pattern model.

    Parameters
    ----------
    mm : MixtureModel
    result : MLResult or MAP result

    Returns
    -------
    Series
        ``G2``, ``X2``, ``df``, ``p_G2``, ``p_X2``, ``df_polca``, ``n_cells``,
        ``n_patterns`` (observed), ``N``, ``n_params``, ``mean_expected``
        (N / n_cells); a ``UserWarning`` when the table is sparse.

    Examples
    --------
    >>> ml = m.fit_ml(starts=20, seed=1)      # doctest: +SKIP
    >>> m.goodness_of_fit(ml)                 # doctest: +SKIP
    """
    table = pattern_table(mm, result)
    n = float(table["observed"].sum())
    n_cells = int(np.prod([it.n_categories for it in mm.data.items]))
    n_params = _n_params(mm, result)
    o, e = table["observed"].to_numpy(float), table["expected"].to_numpy(float)
    g2 = 2.0 * float(np.sum(o * np.log(o / e)))
    x2 = float(np.sum((o - e) ** 2 / e) + max(n - e.sum(), 0.0))
    df = max(n_cells - 1 - n_params, 0)
    df_polca = min(int(n), n_cells - 1) - n_params
    mean_expected = n / n_cells
    if mean_expected < SPARSE_MEAN_COUNT:
        warnings.warn(f"the pattern table is sparse ({n_cells} cells for N = {n:.0f}, mean expected count "
                      f"{mean_expected:.2f} < {SPARSE_MEAN_COUNT:g}): the chi-square p-values of G2 and X2 are "
                      "unreliable; look at bivariate_residuals, or bootstrap.", UserWarning, stacklevel=3)
    p = (lambda s: float(stats.chi2.sf(s, df)) if df > 0 else float("nan"))
    return pd.Series({"G2": g2, "X2": x2, "df": df, "p_G2": p(g2), "p_X2": p(x2), "df_polca": df_polca,
                      "n_cells": n_cells, "n_patterns": len(table), "N": n, "n_params": n_params,
                      "mean_expected": mean_expected}, name="goodness_of_fit")


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
