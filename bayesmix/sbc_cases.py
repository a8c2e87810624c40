"""Simulation-based calibration cases: :class:`SBCCase` and the helpers family packages write their cases with.

Each family package keeps its SBC cases in ``bayesmix/families/<family>/sbc.py``
and registers them with ``Family(sbc_cases={name: make_case})``;
:mod:`bayesmix.sbc` (the SBC loop, uniformity tests and plots) collects them
from :mod:`bayesmix.registry`. This module imports no PyMC and nothing from
bayesmix but the registry, so family packages can import it while they register.

The helpers simulate from the paper's equations with NumPy, independently of
the likelihood graphs SBC checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, softmax

__all__ = ["SBCCase", "PROBIT_PRIORS", "free_softmax", "cdf", "categorical", "bernoulli", "builder", "item_names",
           "binary_template", "item_probabilities", "class_proportions", "cluster_ids"]


@dataclass
class SBCCase:
    """One factory configuration under SBC.

    Attributes
    ----------
    name : str
        Short identifier (``"lca"``, ``"gom_dirichlet"``, ...).
    description : str
        The model and the data size, for tables.
    build : callable
        ``build(data) -> MixtureModel``: the factory call (with ``priors``).
    template : callable
        ``template(rng) -> DataFrame``: any data of the simulated shape
        (the prior model is built on it; only its shape matters).
    simulate : callable
        ``simulate(theta, rng) -> DataFrame``: data at one prior draw
        ``theta`` (name -> array, as the PyMC model names its variables).
    quantities : callable
        ``quantities(values) -> {name: (S,) array}`` from ``values`` (name ->
        array with a leading draw axis S) of the label-aligned variables.
    priors : dict
        The priors the SBC used (passed to the factory; empty = defaults).
    prior_build : callable, optional
        ``prior_build(data) -> MixtureModel`` whose prior the truths theta'
        are drawn from; default ``build``. Only the negative controls of
        :mod:`bayesmix.sbc_controls` set it (a fitted prior other than the
        one the truths come from).
    """

    name: str
    description: str
    build: Callable[[pd.DataFrame], Any]
    template: Callable[[np.random.Generator], pd.DataFrame]
    simulate: Callable[[dict, np.random.Generator], pd.DataFrame]
    quantities: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
    priors: dict = field(default_factory=dict)
    prior_build: Callable[[pd.DataFrame], Any] | None = None


def free_softmax(free: np.ndarray) -> np.ndarray:
    """Class probabilities from K-1 reference-coded logits (last class 0), along the last axis (eq. 4)."""
    free = np.asarray(free, dtype=float)
    return softmax(np.concatenate([free, np.zeros(free.shape[:-1] + (1,))], axis=-1), axis=-1)


def cdf(x, link: str) -> np.ndarray:
    """The item response function: logistic for ``link="logit"``, else the standard normal CDF (probit)."""
    return expit(x) if link == "logit" else stats.norm.cdf(x)


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (..., K)."""
    cum = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1] + (1,))
    return np.minimum((u > cum).sum(axis=-1), probs.shape[-1] - 1)


def bernoulli(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """0/1 draws with success probabilities ``p`` (any shape)."""
    return (rng.random(p.shape) < p).astype(int)


def builder(factory: str, *args, **kwargs) -> Callable[[pd.DataFrame], Any]:
    """``build(data)``: the registered factory ``factory`` called as ``factory(data, *args, **kwargs)``.

    The factory is looked up in :mod:`bayesmix.registry` when ``build`` runs
    (every family is registered by then), so case makers can be written while
    their family registers.
    """
    def build(data: pd.DataFrame):
        from . import registry
        return registry.get(factory).factory(data, *args, **kwargs)
    return build


def item_names(n_items: int, stem: str = "y") -> list[str]:
    """``[stem1, stem2, ...]``: item column names."""
    return [f"{stem}{i + 1}" for i in range(n_items)]


def binary_template(n_units: int, items: list[str], extra: dict | None = None):
    """``template(rng)``: random 0/1 items (none constant), id columns from ``extra`` first."""
    def template(rng: np.random.Generator) -> pd.DataFrame:
        y = rng.integers(0, 2, size=(n_units, len(items)))
        y[0], y[1] = 0, 1  # no constant item
        frame = pd.DataFrame(y, columns=items)
        for position, (name, values) in enumerate((extra or {}).items()):
            frame.insert(position, name, values)  # id columns first, as the simulators write them
        return frame
    return template


def item_probabilities(values, name: str, items: list[str], link: str, classes: int) -> dict[str, np.ndarray]:
    """P(y_i = 1 | class c) of binary items (eq. 1), one quantity per item and class."""
    p = cdf(np.asarray(values[name]), link)  # (S, K, I)
    return {f"P({item}=1|class{c + 1})": p[:, c, i] for c in range(classes) for i, item in enumerate(items)}


def class_proportions(values, name: str = "class_intercept", label: str = "P(class1)") -> dict[str, np.ndarray]:
    """P(class 1) from the reference-coded class logits ``values[name]`` (eq. 4), as one quantity."""
    return {label: free_softmax(values[name])[:, 0]}


def cluster_ids(n_clusters: int, cluster_size: int) -> np.ndarray:
    """Cluster labels ``c01, c01, ..., c02, ...``: ``cluster_size`` units per cluster."""
    return np.repeat([f"c{j + 1:02d}" for j in range(n_clusters)], cluster_size)



#: probit item parameters: the default Normal(0, 2.5) puts 30% of the prior mass on |tau| > 2.6
#: (P(y = 1 | class) beyond 0.005 / 0.995), which makes items constant in small samples
PROBIT_PRIORS = {"binary_logit": {"mu": 0.0, "sigma": 1.5}}
