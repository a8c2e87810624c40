"""Results people read: class membership, proportions, profiles, entropy.

PyTensor graphs from the model (the same ones the likelihood uses) are
compiled as functions of the free random variables and evaluated per
posterior draw (numpy first); pandas/xarray labels go on top.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import xarray as xr

from ._compile import function
from .marginal.within import posterior_class_probabilities


def profile_tensor(mm):
    """(K, R) class profile rows of all kernels and their (item, category) labels."""
    pieces, rows = [], []
    for kernel in mm.kernels:
        table, labels = kernel.profile_rows()
        pieces.append(table)
        rows.extend(labels)
    return pt.concatenate(pieces, axis=-1), rows


def proportion_tensor(mm):
    """Class proportions: P(C = c | x) averaged over units, (K,)."""
    return pt.exp(mm.log_prior).mean(axis=-2)


def draw_function(mm, key: str, outputs):
    """Compile ``outputs`` as a function of the model's free RVs (cached)."""
    cache = mm._cache.setdefault("draw_functions", {})
    if key not in cache:
        cache[key] = function(list(mm.model.free_RVs), outputs)
    return cache[key]


def iterate_draws(mm, posterior: xr.Dataset, max_draws: int | None = None):
    """Yield ((chain, draw), tuple of free-RV values) over the posterior."""
    names = [rv.name for rv in mm.model.free_RVs]
    arrays = [posterior[n].transpose("chain", "draw", ...).to_numpy() for n in names]
    n_chain, n_draw = arrays[0].shape[:2] if arrays else (posterior.sizes["chain"], posterior.sizes["draw"])
    pairs = [(c, d) for c in range(n_chain) for d in range(n_draw)]
    if max_draws is not None and len(pairs) > max_draws:
        step = int(np.ceil(len(pairs) / max_draws))
        pairs = pairs[::step]
    for c, d in pairs:
        yield (c, d), [a[c, d] for a in arrays]


def class_probabilities(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """P(C_i = c | y_i, x_i) averaged over (up to ``max_draws``) posterior draws."""
    fn = draw_function(mm, "class_parts", [mm.log_prior, mm.loglik_by_class])
    total, count = 0.0, 0
    for _, values in iterate_draws(mm, _posterior_dataset(idata), max_draws):
        log_prior, ll = fn(*values)
        total = total + posterior_class_probabilities(log_prior, ll)
        count += 1
    return pd.DataFrame(total / count, index=mm.data.units, columns=pd.Index(mm.class_labels, name="class"))


def _posterior_dataset(idata):
    node = idata["posterior"]
    return node.dataset if hasattr(node, "dataset") else node


def _summarize(samples: np.ndarray, hdi_prob: float):
    """mean, sd, equal-tailed interval over axis 0."""
    lo, hi = np.quantile(samples, [(1 - hdi_prob) / 2, (1 + hdi_prob) / 2], axis=0)
    return samples.mean(0), samples.std(0, ddof=1) if len(samples) > 1 else np.zeros(samples.shape[1:]), lo, hi


def profiles(mm, idata, hdi_prob: float = 0.94, max_draws: int = 2000) -> pd.DataFrame:
    """Items x classes profile table (like the paper's Table 1) with intervals.

    Rows: (item, category) -- P(y = category | class) for categorical items
    (for binary items the second code), mean and sd for continuous items.
    Columns: (class, statistic) with statistic in mean, sd, lower, upper
    (equal-tailed ``hdi_prob`` interval).
    """
    table, rows = profile_tensor(mm)
    fn = draw_function(mm, "profiles", table)
    samples = np.stack([fn(*v) for _, v in iterate_draws(mm, _posterior_dataset(idata), max_draws)])
    mean, sd, lo, hi = _summarize(samples, hdi_prob)
    return _class_table(mm, rows, {"mean": mean, "sd": sd, "lower": lo, "upper": hi})


def class_proportions(mm, idata, hdi_prob: float = 0.94, max_draws: int = 2000) -> pd.DataFrame:
    """Posterior class proportions with intervals, one row per class."""
    fn = draw_function(mm, "proportions", proportion_tensor(mm))
    samples = np.stack([fn(*v) for _, v in iterate_draws(mm, _posterior_dataset(idata), max_draws)])
    mean, sd, lo, hi = _summarize(samples, hdi_prob)
    return pd.DataFrame({"mean": mean, "sd": sd, "lower": lo, "upper": hi},
                        index=pd.Index(mm.class_labels, name="class"))


def _class_table(mm, rows, stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """(K, R) arrays per statistic -> DataFrame rows (item, category), columns (class, stat)."""
    index = pd.MultiIndex.from_tuples(rows, names=["item", "category"])
    columns = pd.MultiIndex.from_product([mm.class_labels, list(stats)], names=["class", "statistic"])
    data = np.stack([np.asarray(v).T for v in stats.values()], axis=-1)  # (R, K, S)
    return pd.DataFrame(data.reshape(len(rows), -1), index=index, columns=columns)


def relative_entropy(probabilities: np.ndarray) -> float:
    """Mplus relative entropy: 1 - sum_ic -p_ic log p_ic / (N log K); NaN for K = 1."""
    n, k = probabilities.shape
    if k < 2:
        return float("nan")
    p = np.clip(probabilities, 1e-300, 1.0)
    return float(1.0 - np.sum(-p * np.log(p)) / (n * np.log(k)))
