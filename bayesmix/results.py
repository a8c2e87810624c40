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


def proportion_tensor(mm, integration: dict | None = None):
    """Population class proportions P(C = c), (K,); see :meth:`MixtureModel.proportion_tensor`."""
    return mm.proportion_tensor(integration)


def posterior_rv_names(mm, posterior) -> list[str]:
    """Free RVs present in a posterior (random effects are absent after Laplace/ML)."""
    return [rv.name for rv in mm.model.free_RVs if rv.name in posterior]


def draw_function(mm, key: str, outputs, names: list[str] | None = None):
    """Compile ``outputs`` as a function of the named free RVs (default: all), cached."""
    names = names or [rv.name for rv in mm.model.free_RVs]
    cache = mm._cache.setdefault("draw_functions", {})
    if (key, tuple(names)) not in cache:
        inputs = [rv for rv in mm.model.free_RVs if rv.name in names]
        cache[(key, tuple(names))] = function(inputs, outputs, size=mm.work_size())
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


def _average_over_draws(mm, idata, key: str, graph, max_draws: int) -> np.ndarray:
    """Mean over (up to ``max_draws``) posterior draws of a graph of the free RVs."""
    posterior = _posterior_dataset(idata)
    fn = draw_function(mm, key, graph, posterior_rv_names(mm, posterior))
    total, count = 0.0, 0
    for _, values in iterate_draws(mm, posterior, max_draws):
        total = total + np.asarray(fn(*values))
        count += 1
    return total / count


def _integration_of(idata) -> dict | None:
    """The quadrature setting a result was fitted with (stored by ML/Laplace), if any."""
    setting = getattr(idata, "attrs", {}).get("bayesmix_integration")
    return dict(setting) if isinstance(setting, dict) else None


def class_probabilities(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """P(C = c | data) averaged over (up to ``max_draws``) posterior draws.

    Rows are units for within-level classes and clusters for between-level
    classes; with latent effects the probabilities integrate the cluster's
    random effect over its posterior by quadrature
    (:meth:`MixtureModel.class_probability_tensor`).
    """
    probs = _average_over_draws(mm, idata, f"class_probabilities:{_integration_of(idata)}",
                                mm.class_probability_tensor(_integration_of(idata)), max_draws)
    return pd.DataFrame(probs, index=mm.class_index, columns=pd.Index(mm.class_labels, name="class"))


def cluster_class_proportions(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """E[pi_jc | y_j]: the model's class distribution of each cluster's units, clusters x classes.

    pi_jc is the mean over cluster j's units of P(C_ij = c | x_ij, alpha_j, D_j),
    with the cluster's latent variables -- random intercepts alpha_j on the
    class logits (eq. 4), the between class D_j of section 6 -- averaged over
    their posterior given the cluster's data (quadrature over alpha_j), then
    over posterior draws of the parameters. A between-level class (eq. 16)
    gives P(C_j = c | y_j). One definition after NUTS, ML, MAP and Laplace;
    see :meth:`MixtureModel.cluster_proportion_tensor`.
    """
    if mm.data.cluster_index is None:
        raise ValueError("cluster_class_proportions needs a model with cluster=...")
    props = _average_over_draws(mm, idata, f"cluster_proportions:{_integration_of(idata)}",
                                mm.cluster_proportion_tensor(_integration_of(idata)), max_draws)
    return pd.DataFrame(props, index=mm.data.clusters, columns=pd.Index(mm.class_labels, name="class"))


def between_class_probabilities(mm, idata, max_draws: int = 1000) -> pd.DataFrame:
    """P(D_j = d | y_j) for models with within and between classes (eq. 24-26)."""
    if not hasattr(mm.structure, "between_posterior"):
        raise ValueError("this model has no between class; fit bm.lca(..., n_between_classes=M).")
    probs = _average_over_draws(mm, idata, f"between_probabilities:{_integration_of(idata)}",
                                mm.between_posterior_tensor(_integration_of(idata)), max_draws)
    labels = list(mm.model.coords["between_class"])
    return pd.DataFrame(probs, index=mm.data.clusters, columns=pd.Index(labels, name="between_class"))


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
    fn = draw_function(mm, f"proportions:{_integration_of(idata)}", proportion_tensor(mm, _integration_of(idata)),
                       posterior_rv_names(mm, posterior))
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
