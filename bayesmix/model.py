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
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ metadata
    @property
    def n_classes(self) -> int:
        return len(self.class_labels)

    @property
    def n_units(self) -> int:
        return self.data.n_units

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
