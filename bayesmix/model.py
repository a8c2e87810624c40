"""``MixtureModel``: a PyMC model plus the metadata to interpret it.

A factory (``bm.lca`` ...) builds the three layers of DESIGN.md and hands
them here. The model object keeps the conditional pieces as PyTensor graphs
in terms of the model's random variables:

- ``log_prior``: log P(C = c | x), (N or 1, K) -- the class layer (eq. 4);
- ``loglik_by_class``: log p(y_i | C_i = c), (N, K) -- the measurement layer;
- ``unit_loglik``: the marginal log-likelihood of each independent unit
  (the ``log_likelihood`` that LOO/WAIC use).

Every integrator (NUTS, ML/MAP optimization, Laplace) and every result
(class probabilities, profiles) is computed from these same graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from .class_model import ClassModel
from .data import EncodedData
from .kernels import ItemKernel


@dataclass
class MixtureModel:
    """A mixture model ready to estimate. Build it with a factory such as :func:`bayesmix.lca`."""

    model: pm.Model
    data: EncodedData
    kernels: list[ItemKernel]
    class_model: ClassModel
    class_labels: list[str]
    log_prior: Any
    loglik_by_class: Any
    unit_loglik: Any
    name: str = "lca"
    loglik_dim: str = "unit"
    ordered: str | None = None
    options: dict = field(default_factory=dict)
    #: free RVs integrated out by quadrature for ML / log_likelihood (standardized random effects)
    integrated: tuple = ()
    #: z (..., J or 1, D) -> conditional cluster log-likelihood (..., J); None without random effects
    cluster_loglik: Any = None
    random_effects: Any = None
    integration: dict = field(default_factory=lambda: {"method": "trapezoid", "points": None})
    #: z (..., J or 1, D) -> (log P(C | x, u(z)) (..., N, K), log p(y | C) (N, K)); with random effects
    class_parts_at: Any = None
    #: P(C = c | y) graph when it is not Bayes' rule per unit (between-level classes)
    class_posterior: Any = None
    #: within and between classes (section 6): the between class model and P(D_j = d | y_j)
    between_model: Any = None
    between_posterior: Any = None
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ metadata
    def integrated_loglik(self, integration: dict | None = None):
        """Per-unit (per-cluster) log-likelihood with random effects integrated by quadrature.

        ``integration``: ``{"method": "trapezoid"|"gauss-hermite"|"monte-carlo", "points": Q}``
        (points per dimension for the product rules; default trapezoid with 30
        points in 1-D, 15 per dimension in 2-D); default ``self.integration``.
        Models without random effects return ``unit_loglik`` unchanged.
        """
        if self.cluster_loglik is None:
            return self.unit_loglik
        from .inference.quadrature import integrate
        settings = {**self.integration, **(integration or {})}
        key = ("integrated", tuple(sorted(settings.items())))
        if key not in self._cache:
            self._cache[key] = integrate(self.cluster_loglik, settings["method"], settings["points"],
                                         dim=self.random_effects.n_effects, seed=settings.get("seed", 0),
                                         adaptive=self.adaptive_grid(settings))
        return self._cache[key]

    def adaptive_grid(self, integration: dict | None = None):
        """The :class:`~bayesmix.inference.quadrature.AdaptiveGrid` of an ``adaptive=True`` setting, else None."""
        settings = {**self.integration, **(integration or {})}
        if not settings.get("adaptive") or self.cluster_loglik is None:
            return None
        from .inference.quadrature import AdaptiveGrid
        key = ("adaptive", tuple(sorted(settings.items())))
        if key not in self._cache:
            self._cache[key] = AdaptiveGrid(len(self.data.clusters), self.random_effects.n_effects)
        return self._cache[key]

    @property
    def n_classes(self) -> int:
        return len(self.class_labels)

    @property
    def n_units(self) -> int:
        return self.data.n_units

    @property
    def class_index(self) -> pd.Index:
        """Labels of the level the class variable lives on: units, or clusters for between-level classes."""
        return self.data.clusters if self.options.get("class_level") == "between" else self.data.units

    def class_probability_tensor(self, integration: dict | None = None):
        """P(C = c | data) at the class's level, as a graph free of sampled random effects.

        Without random effects: Bayes' rule per unit. With random effects the
        cluster's posterior over quadrature nodes weights the node-wise class
        probabilities: P(C_ij = c | y_j) = sum_q P(z_q | y_j) P(C_ij = c | y_ij, z_q).
        """
        import pytensor.tensor as pt
        if self.class_posterior is not None:
            return self.class_posterior
        if self.class_parts_at is None:
            return pt.special.softmax(self.log_prior + self.loglik_by_class, axis=-1)
        from .inference.quadrature import rule
        settings = {**self.integration, **(integration or {})}
        nodes, logw = rule(settings["method"], settings["points"], self.random_effects.n_effects,
                           settings.get("seed", 0))
        z = pt.as_tensor(nodes[:, None, :])
        node_post = pt.special.softmax(self.cluster_loglik(z) + logw[:, None], axis=0)  # (Q, J)
        log_prior, ll = self.class_parts_at(z)
        probs = pt.special.softmax(log_prior + ll, axis=-1)  # (Q, N, K)
        weights = node_post[:, self.data.cluster_index]  # (Q, N)
        return (weights[..., None] * probs).sum(axis=0)

    def class_parameters(self) -> dict[str, tuple[int, bool]]:
        """Posterior variables carrying a class axis: name -> (axis, reference_coded).

        Reference-coded variables (class logits) hold K-1 classes; relabeling
        them means re-expressing the logits against the new last class.
        """
        out = {name: (axis, False) for k in self.kernels for name, axis in k.class_axis.items()}
        out.update({name: (axis, True) for name, axis in self.class_model.reference_axis.items()})
        return out

    def random_start(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Random starting values (constrained scale) for every free variable."""
        start = self.class_model.random_start(rng)
        for kernel in self.kernels:
            start.update(kernel.random_start(rng, self.n_classes))
        if self.random_effects is not None:
            start.update(self.random_effects.random_start(rng))
        if self.between_model is not None:
            start.update(self.between_model.random_start(rng))
        # any other unconstrained parameter (e.g. gamma_cd of eq. 24): its initial value plus noise
        if "initial_point" not in self._cache:  # compiles a small function: once per model
            self._cache["initial_point"] = self.model.initial_point()
        initial = self._cache["initial_point"]
        for rv in self.model.free_RVs:
            if rv.name in start or rv.name in self.integrated:
                continue
            if self.model.rvs_to_transforms.get(rv) is not None:
                raise RuntimeError(f"no random start defined for the transformed variable {rv.name!r}")
            value = initial[self.model.rvs_to_values[rv].name]
            start[rv.name] = value + rng.uniform(-0.5, 0.5, size=np.shape(value))
        return start

    def observed_data(self) -> xr.Dataset:
        """Item responses as the user gave them (NaN = missing), unit x item."""
        frame = self.data.frame
        items = self.data.item_names()
        out = {}
        for name in items:
            col = frame[name]
            values = col.to_numpy()
            if not pd.api.types.is_numeric_dtype(col):
                values = col.astype(object).where(col.notna(), None).astype(str).to_numpy()
            out[name] = xr.DataArray(values, dims=["unit"], coords={"unit": np.asarray(self.data.units)})
        return xr.Dataset(out)

    # ---------------------------------------------------------------- inference
    def sample(self, draws: int = 1000, tune: int = 1000, chains: int = 4, *, sampler: str = "auto",
               random_seed: int | None = None, init: Any = "map", progressbar: bool = True,
               target_accept: float = 0.8, cores: int | None = None, starts: int = 10, **kwargs):
        """Sample the posterior with NUTS; returns an ArviZ ``DataTree``.

        Chains start at the best of ``starts`` posterior-mode optimizations
        (or at ``init="ml"``'s ML solution, or at user-given values), and are
        aligned to that solution's class labels afterwards. The result has a
        ``log_likelihood`` group with one value per independent unit (the
        marginal over classes), ``observed_data``, and labelled coords.

        ``sampler``: ``"auto"`` (nutpie if installed, else PyMC), ``"pymc"``,
        ``"nutpie"``, ``"numpyro"`` or ``"blackjax"``.
        """
        from .inference.sampling import sample
        return sample(self, draws=draws, tune=tune, chains=chains, sampler=sampler,
                      random_seed=random_seed, init=init, progressbar=progressbar,
                      target_accept=target_accept, cores=cores, starts=starts, **kwargs)

    def fit_ml(self, starts: int | tuple[int, int] = 20, *, seed: int | None = None, **kwargs):
        """Maximum likelihood with Mplus-style random starts; see :func:`bayesmix.inference.ml.fit_ml`."""
        from .inference.ml import fit_ml
        return fit_ml(self, starts=starts, seed=seed, **kwargs)

    def fit_map(self, starts: int | tuple[int, int] = 10, *, seed: int | None = None, **kwargs):
        """Posterior mode under the model's priors (multi-start)."""
        from .inference.ml import fit_map
        return fit_map(self, starts=starts, seed=seed, **kwargs)

    def fit_laplace(self, draws: int = 1000, *, starts: int | tuple[int, int] = 10, seed: int | None = None):
        """Gaussian approximation at the posterior mode, returned as a DataTree like :meth:`sample`."""
        from .inference.laplace import fit_laplace
        return fit_laplace(self, draws=draws, starts=starts, seed=seed)

    # ------------------------------------------------------------------ results
    def class_probabilities(self, idata) -> pd.DataFrame:
        """Posterior class membership P(C_i = c | y_i), units x classes, averaged over draws."""
        from .results import class_probabilities
        return class_probabilities(self, idata)

    def cluster_class_proportions(self, idata) -> pd.DataFrame:
        """Cluster-specific class proportions (two-level models), clusters x classes."""
        from .results import cluster_class_proportions
        return cluster_class_proportions(self, idata)

    def between_class_probabilities(self, idata) -> pd.DataFrame:
        """P(D_j = d | y_j) of the between class (``n_between_classes`` models), clusters x classes."""
        from .results import between_class_probabilities
        return between_class_probabilities(self, idata)

    def profiles(self, idata, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Class profiles: response probabilities (or means) per item and class with intervals."""
        from .results import profiles
        return profiles(self, idata, hdi_prob=hdi_prob)

    def class_proportions(self, idata, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Class proportions (mean of P(C = c | x) over units) with intervals."""
        from .results import class_proportions
        return class_proportions(self, idata, hdi_prob=hdi_prob)

    def entropy(self, idata) -> float:
        """Relative entropy of the posterior classification (Mplus definition, 1 = perfect)."""
        from .results import relative_entropy
        return relative_entropy(self.class_probabilities(idata).to_numpy())

    def summary(self, idata, var_names: Sequence[str] | None = None):
        """ArviZ summary of the class and item parameters."""
        import arviz as az
        names = var_names or [v for v in idata.posterior.data_vars]
        return az.summary(idata, var_names=list(names))
