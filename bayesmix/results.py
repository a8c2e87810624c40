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


def profile_tensor(mm):
    """(K, R) class profile rows of all kernels and their (item, category) labels."""
    pieces, rows = [], []
    for kernel in mm.kernels:
        table, labels = kernel.profile_rows()
        pieces.append(table)
        rows.extend(labels)
    return pt.concatenate(pieces, axis=-1), rows


def proportion_tensor(mm):
    """Class proportions: P(C = c | x) averaged over units (and over the random-effect distribution), (K,)."""
    if mm.class_parts_at is None:
        return pt.exp(mm.log_prior).mean(axis=-2)
    from .inference.quadrature import rule
    nodes, logw = rule(mm.integration["method"], mm.integration["points"], mm.random_effects.n_effects,
                       mm.integration.get("seed", 0))
    log_prior, _ = mm.class_parts_at(pt.as_tensor(nodes[:, None, :]))  # (Q, N, K)
    return (np.exp(logw)[:, None] * pt.exp(log_prior).mean(axis=-2)).sum(axis=0)


def posterior_rv_names(mm, posterior) -> list[str]:
    """Free RVs present in a posterior (random effects are absent after Laplace/ML)."""
    return [rv.name for rv in mm.model.free_RVs if rv.name in posterior]


def draw_function(mm, key: str, outputs, names: list[str] | None = None):
    """Compile ``outputs`` as a function of the named free RVs (default: all), cached."""
    names = names or [rv.name for rv in mm.model.free_RVs]
    cache = mm._cache.setdefault("draw_functions", {})
    if (key, tuple(names)) not in cache:
        inputs = [rv for rv in mm.model.free_RVs if rv.name in names]
        cache[(key, tuple(names))] = function(inputs, outputs)
    return cache[(key, tuple(names))]


def iterate_draws(mm, posterior: xr.Dataset, max_draws: int | None = None):
    """Yield ((chain, draw), values of :func:`posterior_rv_names`) over the posterior."""
    names = posterior_rv_names(mm, posterior)
    arrays = [posterior[n].transpose("chain", "draw", ...).to_numpy() for n in names]
    n_chain, n_draw = arrays[0].shape[:2] if arrays else (posterior.sizes["chain"], posterior.sizes["draw"])
    pairs = [(c, d) for c in range(n_chain) for d in range(n_draw)]
    if max_draws is not None and len(pairs) > max_draws:
        step = int(np.ceil(len(pairs) / max_draws))
        pairs = pairs[::step]
    for c, d in pairs:
        yield (c, d), [a[c, d] for a in arrays]


def class_probabilities(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """P(C = c | data) averaged over (up to ``max_draws``) posterior draws.

    Rows are units for within-level classes and clusters for between-level
    classes; with random effects the probabilities integrate the cluster's
    random effect by quadrature (:meth:`MixtureModel.class_probability_tensor`).
    """
    posterior = _posterior_dataset(idata)
    fn = draw_function(mm, "class_probabilities", mm.class_probability_tensor(), posterior_rv_names(mm, posterior))
    total, count = 0.0, 0
    for _, values in iterate_draws(mm, posterior, max_draws):
        total = total + np.asarray(fn(*values))
        count += 1
    total = total / count
    return pd.DataFrame(total, index=mm.class_index, columns=pd.Index(mm.class_labels, name="class"))


def cluster_class_proportions(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """Cluster-specific class proportions, clusters x classes, averaged over draws.

    Within-between classes (random intercepts alpha_cj, eq. 4): the mean over
    the cluster's units of P(C_ij = c | x_ij, alpha_j) at the sampled alpha_j.
    Within classes: the cluster mean of the units' posterior probabilities.
    Between-level classes: P(D_j = c | y_j), every unit being in its cluster's class.
    """
    if mm.data.cluster_index is None:
        raise ValueError("cluster_class_proportions needs a model with cluster=...")
    if mm.options.get("class_level") == "between":
        return class_probabilities(mm, idata, max_draws)
    posterior = _posterior_dataset(idata)
    names = posterior_rv_names(mm, posterior)
    n_clusters = len(mm.data.clusters)
    if mm.random_effects is not None and "random_z" in names:
        graph = pt.exp(mm.log_prior)
    else:
        graph = mm.class_probability_tensor()
    fn = draw_function(mm, "cluster_proportions", graph, names)
    counts = np.bincount(mm.data.cluster_index, minlength=n_clusters)[:, None]
    total, count = 0.0, 0
    for _, values in iterate_draws(mm, posterior, max_draws):
        probs = np.broadcast_to(np.asarray(fn(*values)), (mm.n_units, mm.n_classes))
        sums = np.zeros((n_clusters, mm.n_classes))
        np.add.at(sums, mm.data.cluster_index, probs)
        total = total + sums / counts
        count += 1
    return pd.DataFrame(total / count, index=mm.data.clusters, columns=pd.Index(mm.class_labels, name="class"))


def between_class_probabilities(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """P(D_j = d | y_j) for models with within and between classes (eq. 24-26)."""
    if mm.between_posterior is None:
        raise ValueError("this model has no between class; fit bm.lca(..., n_between_classes=M).")
    posterior = _posterior_dataset(idata)
    fn = draw_function(mm, "between_probabilities", mm.between_posterior, posterior_rv_names(mm, posterior))
    draws = [np.asarray(fn(*v)) for _, v in iterate_draws(mm, posterior, max_draws)]
    labels = list(mm.model.coords["between_class"])
    return pd.DataFrame(np.mean(draws, axis=0), index=mm.data.clusters,
                        columns=pd.Index(labels, name="between_class"))


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
    posterior = _posterior_dataset(idata)
    fn = draw_function(mm, "profiles", table, posterior_rv_names(mm, posterior))
    samples = np.stack([fn(*v) for _, v in iterate_draws(mm, posterior, max_draws)])
    mean, sd, lo, hi = _summarize(samples, hdi_prob)
    return _class_table(mm, rows, {"mean": mean, "sd": sd, "lower": lo, "upper": hi})


def class_proportions(mm, idata, hdi_prob: float = 0.94, max_draws: int = 2000) -> pd.DataFrame:
    """Posterior class proportions with intervals, one row per class."""
    posterior = _posterior_dataset(idata)
    fn = draw_function(mm, "proportions", proportion_tensor(mm), posterior_rv_names(mm, posterior))
    samples = np.stack([fn(*v) for _, v in iterate_draws(mm, posterior, max_draws)])
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
