"""``MixtureModel``: a PyMC model plus the metadata to interpret it.

A factory (``bm.lca`` ...) composes the three layers of DESIGN.md and hands
them here: the item kernels (measurement), the class model(s), and a
:class:`~bayesmix.structure.Structure` that marginalizes the discrete classes
given the (optional) continuous latent effects z. The model object keeps
model, data, kernels, structure and options -- no field per model family:

- :meth:`integrated_loglik`: the marginal log-likelihood of each independent
  unit (a cluster in two-level models), latent effects integrated by
  quadrature -- the ``log_likelihood`` of LOO/WAIC and the ML objective;
- :meth:`posterior_expectation`: any z-conditional graph of the structure
  averaged over each cluster's posterior of z (class membership, cluster
  proportions, the between class of section 6);
- :attr:`parameters`: the parameter registry (class axes, reference coding,
  bounds, fixed elements) that optimizer, label aligner and SEs read.

NUTS samples z with the structure's ``sampled_loglik`` in a ``pm.Potential``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from .class_model import ClassModel
from .data import EncodedData
from .kernels import ItemKernel
from .parameters import ParameterRegistry, free_start, registry_of
from .structure import Structure


@dataclass
class MixtureModel:
    """A mixture model ready to estimate. Build it with a factory such as :func:`bayesmix.lca`.

    Attributes
    ----------
    model : pymc.Model
        The PyMC model (classes summed out, the likelihood a ``pm.Potential``).
    data : EncodedData
        The validated, encoded data (``data.frame`` the rows kept).
    kernels : list
        Item kernels (measurement, eq. 1-2).
    class_model : ClassModel
        Multinomial logits of the classes (eq. 4).
    class_labels : list of str
        ``class1`` ... ``classK``.
    structure : Structure
        How classes, measurement and latent effects combine (:mod:`bayesmix.structure`).
    name : str
        The factory (``"lca"``, ``"mixture_regression"``, ...).
    options : dict
        Factory options, with the recorded call (``options["call"]``) for save/load and predict.
    integration : dict
        Default quadrature of the latent effects.
    sample_size : int
        The N of BIC (units / persons).

    Examples
    --------
    >>> import bayesmix as bm
    >>> m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)
    >>> m.n_classes, m.n_units
    (2, 118)
    >>> ml = m.fit_ml(starts=20, seed=1)          # doctest: +SKIP
    >>> idata = m.sample(random_seed=1)          # doctest: +SKIP
    """

    model: pm.Model
    data: EncodedData
    kernels: list[ItemKernel]
    class_model: ClassModel
    class_labels: list[str]
    structure: Structure
    name: str = "lca"
    ordered: str | None = None
    options: dict = field(default_factory=dict)
    integration: dict = field(default_factory=lambda: {"method": "trapezoid", "points": None})
    #: other parameter blocks with a ``random_start`` (e.g. the between class model of section 6)
    components: list = field(default_factory=list)
    #: the sample size of BIC and what it counts (persons: the independent observations of Mplus)
    sample_size: int | None = None
    sample_size_basis: str = "units"
    #: values for parameters a start from a related model leaves out (e.g. GoM from an LCA; :mod:`.inference.starts`)
    start_defaults: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.sample_size is None:
            self.sample_size = self.data.n_units

    def __reduce__(self):
        """Pickle as the factory call (data included): unpickling calls the factory again (see :func:`bayesmix.io.model_reduce`)."""
        from .io import model_reduce
        return model_reduce(self)

    def __copy__(self):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __repr__(self) -> str:
        return (f"MixtureModel({self.name}: {self.n_classes} classes, {self.data.n_units} units, "
                f"{len(self.data.items)} items, level={self.loglik_dim!r})")

    # ------------------------------------------------------------------ metadata
    @property
    def parameters(self) -> ParameterRegistry:
        """The parameter registry of this model (class axes, reference coding, bounds, fixed and tied elements; :mod:`bayesmix.parameters`)."""
        return registry_of(self.model)

    @property
    def latent(self):
        """The :class:`~bayesmix.latent.LatentEffects` block (None without continuous latent effects)."""
        return self.structure.latent


    @property
    def integrated(self) -> tuple:
        """Free RVs integrated out by quadrature for ML / log_likelihood (standardized latent effects)."""
        return () if self.latent is None else (self.latent.z_name,)

    @property
    def loglik_dim(self) -> str:
        """``"unit"`` or ``"cluster"``: the level of the independent log-likelihood units."""
        return self.structure.level

    @property
    def cluster_loglik(self):
        """z -> conditional log-likelihood per cluster (None without latent effects)."""
        return None if self.latent is None else self.structure.conditional_loglik

    @property
    def between_posterior(self):
        """P(D_j = d | y_j) of section 6 models (None otherwise)."""
        if self.structure.between_posterior is None:
            return None
        return self.between_posterior_tensor()

    def between_posterior_tensor(self, integration: dict | None = None):
        """P(D_j = d | y_j) of the between class of section 6 (eq. 24-26) as a graph, (J, M).

        Parameters
        ----------
        integration : dict, optional
            Quadrature of the latent effects (default: the model's setting).

        Returns
        -------
        TensorVariable
            Clusters x between classes, a graph of the free parameters.

        Examples
        --------
        >>> m = bm.lca(df, items, 2, cluster="school", n_between_classes=2)   # doctest: +SKIP
        >>> m.between_posterior_tensor().eval()                              # doctest: +SKIP
        """
        return self.posterior_expectation(self.structure.between_posterior, "cluster", integration)

    def settings(self, integration: dict | None = None) -> dict:
        """The model's integration setting updated with ``integration``.

        Parameters
        ----------
        integration : dict, optional
            Keys to override (``method``, ``points``, ``adaptive``, ``seed``).

        Returns
        -------
        dict
            The full setting, e.g. ``{"method": "trapezoid", "points": None}``.

        Examples
        --------
        >>> m.settings({"method": "gauss-hermite", "points": 15})   # doctest: +SKIP
        """
        return {**self.integration, **(integration or {})}

    def rule(self, integration: dict | None = None):
        """Quadrature nodes and log-weights of the latent block for an integration setting.

        Parameters
        ----------
        integration : dict, optional
            ``{"method": ..., "points": ...}`` (default: the model's setting).

        Returns
        -------
        tuple of ndarray
            Nodes (Q, D) of the standardized effects z and log-weights (Q,) (a
            graph of the parameters for importance-weighted rules).

        Examples
        --------
        >>> nodes, logw = m.rule({"method": "gauss-hermite", "points": 15})   # doctest: +SKIP
        """
        settings = self.settings(integration)
        return self.latent.rule(settings["method"], settings["points"], settings.get("seed", 0))

    def integrated_loglik(self, integration: dict | None = None):
        """Per-unit (per-cluster) log-likelihood with latent effects integrated by quadrature.

        The classes are summed out exactly (eq. 4 with 1-2, 16-17, 24-26 ...);
        continuous latent effects z are integrated numerically:
        log int exp f_j(z) phi(z) dz ~= logsumexp_q (f_j(z_q) + log w_q). This is
        the ML objective and the ``log_likelihood`` of LOO / WAIC.

        Parameters
        ----------
        integration : dict, optional
            ``{"method": "trapezoid"|"gauss-hermite"|"monte-carlo", "points": Q}``
            (points per dimension for the product rules; default trapezoid with 30
            points in 1-D, 15 per dimension in 2-D); default ``self.integration``.

        Returns
        -------
        TensorVariable
            (units,) or (clusters,) log-likelihoods, a graph of the free parameters
            (cached per setting).

        Examples
        --------
        >>> ll = m.integrated_loglik({"method": "gauss-hermite", "points": 20})   # doctest: +SKIP
        """
        if self.latent is None:
            return self.structure.conditional_loglik(None)
        from .inference.quadrature import integrate
        settings = self.settings(integration)
        key = ("integrated", tuple(sorted(settings.items())))
        if key not in self._cache:  # the structure's own integral (e.g. an exact membership), else quadrature
            self._cache[key] = self.structure.integrated_loglik(settings)
        if self._cache[key] is None:
            self._cache[key] = integrate(self.structure.conditional_loglik, settings["method"], settings["points"],
                                         dim=self.latent.n_dims, seed=settings.get("seed", 0),
                                         adaptive=self.adaptive_grid(settings), nodes_weights=self.rule(settings))
        return self._cache[key]

    @property
    def unit_loglik(self):
        """The per-unit (per-cluster) log-likelihood graph at the model's own integration setting."""
        return self.integrated_loglik()

    def adaptive_grid(self, integration: dict | None = None):
        """The adaptive quadrature grid of an ``adaptive=True`` setting.

        Parameters
        ----------
        integration : dict, optional
            The setting (default: the model's).

        Returns
        -------
        AdaptiveGrid or None
            :class:`~bayesmix.inference.quadrature.AdaptiveGrid` (shared per
            setting), None without ``adaptive`` or latent effects.

        Examples
        --------
        >>> m.adaptive_grid({"method": "gauss-hermite", "points": 15, "adaptive": True})   # doctest: +SKIP
        """
        settings = self.settings(integration)
        if not settings.get("adaptive") or self.latent is None:
            return None
        from .inference.quadrature import AdaptiveGrid
        key = ("adaptive", tuple(sorted(settings.items())))
        if key not in self._cache:
            self._cache[key] = AdaptiveGrid(self.latent.n_levels, self.latent.n_dims)
        return self._cache[key]

    def posterior_expectation(self, graph_at, level: str, integration: dict | None = None):
        """E[g(z) | y]: a z-conditional graph averaged over each cluster's posterior of z.

        Parameters
        ----------
        graph_at : callable
            z -> graph (..., R, ...) with R units (``level="unit"``) or clusters
            (``"cluster"``); called with ``None`` when the model has no latent effects.
        level : ``"unit"`` or ``"cluster"``
            What the graph's rows are.
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        TensorVariable
            sum_q P(z_q | y_j) g(z_q) by the quadrature rule
            (:func:`~bayesmix.inference.quadrature.node_posterior`), or g itself
            without latent effects.

        Examples
        --------
        >>> probs = m.posterior_expectation(m.structure.class_posterior, "unit")   # doctest: +SKIP
        """
        if self.latent is None:
            return graph_at(None)
        from .inference.quadrature import node_posterior
        nodes, logw = self.rule(integration)
        z = pt.as_tensor(nodes[:, None, :])  # (Q, 1, D)
        weights = node_posterior(self.structure.conditional_loglik(z), logw)  # (Q, J)
        if level == "unit" and self.latent.level_index is not None:  # cluster effects; person effects: per unit
            weights = weights[:, self.latent.level_index]
        values = graph_at(z)
        if values.ndim == graph_at(None).ndim:  # free of z: no node axis, nothing to average
            return values
        weights = weights.reshape((*weights.shape, *([1] * (values.ndim - 2))))
        return (weights * values).sum(axis=0)

    def prior_expectation(self, graph_at, integration: dict | None = None):
        """E[g(z)] over the latent effects' distribution (population quantities).

        Parameters
        ----------
        graph_at : callable
            z -> graph with the quadrature nodes on a leading axis.
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        TensorVariable
            sum_q w_q g(z_q), or g(None) without latent effects.

        Examples
        --------
        >>> m.prior_expectation(m.structure.proportions)   # population proportions   # doctest: +SKIP
        """
        if self.latent is None:
            return graph_at(None)
        nodes, logw = self.rule(integration)
        values = graph_at(pt.as_tensor(nodes[:, None, :]))
        if values.ndim == graph_at(None).ndim:  # free of z: no node axis, nothing to average
            return values
        return (pt.exp(logw).reshape((-1, *([1] * (values.ndim - 1)))) * values).sum(axis=0)

    def work_size(self, integration: dict | None = None) -> int:
        """Elements one likelihood evaluation touches: units x items x classes x quadrature nodes.

        Decides how bayesmix compiles its functions (:func:`bayesmix._compile.choose_mode`).

        Parameters
        ----------
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        int

        Examples
        --------
        >>> m.work_size()          # carcinoma K = 2: 118 x 7 x 2   # doctest: +SKIP
        1652
        """
        per_unit = int(self.data.n_units) * max(1, len(self.data.items)) * self.n_classes
        if self.latent is None:
            return per_unit
        own = self.structure.work_size(self.settings(integration), len(self.data.items), self.n_classes)
        if own is not None:
            return own
        nodes = len(self.rule(integration)[0])
        per_node = self.structure.node_work(len(self.data.items), self.n_classes)  # less: patterns / tables
        return per_unit * nodes if per_node is None else per_unit + nodes * per_node

    @property
    def n_classes(self) -> int:
        """Number of (within) latent classes K."""
        return len(self.class_labels)

    @property
    def n_units(self) -> int:
        """Number of units (rows kept after encoding)."""
        return self.data.n_units

    @property
    def class_index(self) -> pd.Index:
        """Labels of the level the class variable lives on: units, or clusters for between-level classes."""
        return self.data.clusters if self.structure.class_level == "cluster" else self.data.units

    def class_probability_tensor(self, integration: dict | None = None):
        """P(C = c | data) at the class's level, as a graph free of sampled latent effects.

        With latent effects the cluster's posterior over quadrature nodes weights
        the node-wise class probabilities:
        P(C_ij = c | y_j) = sum_q P(z_q | y_j) P(C_ij = c | y_ij, z_q).

        Parameters
        ----------
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        TensorVariable
            Units (clusters for between-level classes) x classes.

        Examples
        --------
        >>> m.class_probability_tensor()       # evaluate with bm.point_posterior or results   # doctest: +SKIP
        """
        return self.posterior_expectation(self.structure.class_posterior, self.structure.class_level, integration)

    def cluster_proportion_tensor(self, integration: dict | None = None):
        """E[pi_jc | y_j]: the model's class distribution of cluster j's units, (J, K).

        pi_jc = mean over the cluster's units of P(C_ij = c | x_ij, alpha_j, D_j)
        with the cluster's latent variables (random intercepts alpha_j, between
        class D_j) averaged over their posterior given the cluster's data; a
        between-level class gives P(C_j = c | y_j). The same quantity after NUTS
        (averaged over draws), ML, MAP and Laplace.

        Parameters
        ----------
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        TensorVariable
            Clusters x classes.

        Examples
        --------
        >>> m.cluster_proportion_tensor()      # doctest: +SKIP
        """
        return self.posterior_expectation(self.structure.cluster_proportions, "cluster", integration)

    def proportion_tensor(self, integration: dict | None = None):
        """Population class proportions P(C = c): units' class probabilities averaged over units and z.

        Parameters
        ----------
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        TensorVariable
            (K,).

        Examples
        --------
        >>> m.proportion_tensor()              # doctest: +SKIP
        """
        return self.prior_expectation(self.structure.proportions, integration)

    def class_parameters(self, class_dim: str = "class") -> dict[str, tuple[int, bool]]:
        """Posterior variables carrying a class axis, from the registry.

        Reference-coded variables (class logits) hold K-1 classes; relabeling them
        means re-expressing the logits against the new last class.

        Parameters
        ----------
        class_dim : str
            The class dimension (``"class"``, or e.g. ``"between_class"``).

        Returns
        -------
        dict
            name -> (axis, reference_coded).

        Examples
        --------
        >>> m.class_parameters()               # {'class_intercept': (0, True), 'binary_logit': (0, False)}   # doctest: +SKIP
        """
        return self.parameters.class_parameters(class_dim)

    def random_start(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Random starting values for every free variable (natural scale), as the optimizers draw them.

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        dict
            Variable name -> array (fixed and tied parameters: their free values only).

        Examples
        --------
        >>> m.random_start(np.random.default_rng(1))   # doctest: +SKIP
        """
        start = self.class_model.random_start(rng)
        for kernel in self.kernels:
            start.update(kernel.random_start(rng, self.n_classes))
        for component in [self.latent, *self.components]:
            if component is not None:
                start.update(component.random_start(rng))
        start = free_start(self.parameters, start)  # fixed / tied parameters: only their free values
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
        """Item responses as the user gave them (NaN = missing), unit x item.

        Returns
        -------
        xarray.Dataset
            One variable per item, dim ``unit`` (text codes as strings; missing cells NaN).

        Examples
        --------
        >>> m.observed_data()["A"]             # doctest: +SKIP
        """
        frame = self.data.frame
        items = self.data.item_names()
        out = {}
        for name in items:
            col = frame[name]
            values = col.to_numpy()
            if not pd.api.types.is_numeric_dtype(col):  # strings, NaN where missing (pandas 2 and 3 alike)
                values = col.astype(object).to_numpy().astype(str).astype(object)
                values[col.isna().to_numpy()] = np.nan
            out[name] = xr.DataArray(values, dims=["unit"], coords={"unit": np.asarray(self.data.units)})
        return xr.Dataset(out)

    # ---------------------------------------------------------------- inference
    def sample(self, draws: int = 1000, tune: int = 1000, chains: int = 4, *, sampler: str = "auto",
               random_seed: int | None = None, init: Any = "map", progressbar: bool = True,
               target_accept: float = 0.8, cores: int | None = None, starts: int = 10, **kwargs):
        """Sample the posterior with NUTS; returns an ArviZ ``DataTree``.

        Chains start at the best of ``starts`` posterior-mode optimizations
        (or at ``init="ml"``'s ML solution, or at user-given values), and are
        aligned to that solution's class labels afterwards. That mode follows
        the model's one labeling (:mod:`bayesmix.relabel`): after ``fit_ml``
        the posterior's class1 is the ML class1. The result has a
        ``log_likelihood`` group with one value per independent unit (the
        marginal over classes; a cluster in two-level models), ``observed_data``,
        and labelled coords.

        Parameters
        ----------
        draws, tune : int
            Posterior draws and tuning steps per chain.
        chains : int
            Number of chains.
        sampler : str
            ``"auto"`` (the cheaper of PyMC and nutpie per step, measured on
            this model), ``"pymc"``, ``"nutpie"``, ``"numpyro"`` or ``"blackjax"``.
        random_seed : int, optional
            Seeds the start search and the sampler.
        init : ``"map"``, ``"ml"``, a fitted result, a dict or a list of dicts
            Where the chains start (and whose labels they take). ``"map"`` /
            ``"ml"`` first run that optimizer (``starts`` random starts).
        progressbar : bool
            Bars for the start-value search (labelled "sample: start values
            (posterior mode, ...)") and for sampling; False: silent.
        target_accept : float
            NUTS target acceptance rate.
        cores : int, optional
            Parallel chains (default: min(chains, CPUs)).
        starts : int
            Random starts of the start-value search (``init="map"`` / ``"ml"``).
        **kwargs
            ``convergence_checks=False``, ``nuts={...}``, ``callback`` (PyMC),
            ``log_likelihood=False`` (no per-unit group: it is draws x N floats,
            6.4 GB at N = 200,000 x 4,000 draws; :func:`bayesmix.loo_by_pattern`
            computes LOO without it; default ``"auto"``: left out with a warning
            above 2.5e8 values); see :func:`bayesmix.inference.sampling.sample`.

        Returns
        -------
        xarray.DataTree
            Groups ``posterior``, ``sample_stats``, ``log_likelihood``,
            ``observed_data``; ``attrs`` record the sampler, relabeled draws and
            convergence figures. A ``ConvergenceWarning`` names problems.

        Examples
        --------
        >>> m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)  # doctest: +SKIP
        >>> idata = m.sample(draws=1000, chains=4, random_seed=1)                            # doctest: +SKIP
        >>> m.profiles(idata)                                                                # doctest: +SKIP
        """
        from .inference.sampling import sample
        return sample(self, draws=draws, tune=tune, chains=chains, sampler=sampler,
                      random_seed=random_seed, init=init, progressbar=progressbar,
                      target_accept=target_accept, cores=cores, starts=starts, **kwargs)

    def fit_ml(self, starts: int | tuple[int, int] = 20, *, seed: int | None = None, start: Any = None,
               progressbar: bool = True, **kwargs):
        """Marginal maximum likelihood with Mplus-style random starts (section 10 of the paper).

        Classes are summed out and random effects integrated by quadrature,
        so this is the ML of Mplus (not a joint mode). N random starting sets
        get a short optimization, the M best are optimized to convergence,
        and the output says how many reached the best log-likelihood.
        Constraints given to the factory (``fixed=``, ``equal=``, see
        :mod:`bayesmix.constraints`) hold here as in every other estimator.

        Parameters
        ----------
        starts : int or (int, int)
            N or (N, M) as Mplus ``STARTS = N M`` (M defaults to N // 4);
            ``starts=0`` with ``start=`` uses only the given start values
            (Mplus ``STARTS = 0``).
        seed : int, optional
            Seed of the random starts (same seed, same result).
        start : dict, MLResult, MAPResult or a list of them, optional
            Start values that join the initial stage: a dict of values on the
            natural scale by the names of ``ml.point`` (``{"class_intercept":
            [0.5], "binary_logit": array}``; parameters left out start at
            random), or a fitted result of this model -- or of the same model
            with one class fewer, whose classes are split in turn (K-1 starts,
            as section 10 recommends). Unknown names or wrong shapes raise a
            ``ValueError``.
        progressbar : bool
            Show a bar (terminal or notebook) counting the optimizations of
            both stages with the best log-likelihood so far (default True).
        tol : float
            Log-likelihood tolerance for "replicated" (default 1e-3).
        integration : dict, optional
            Quadrature for random effects, e.g. ``{"method": "trapezoid",
            "points": 30}`` (default), ``{"method": "gauss-hermite", "points":
            15, "adaptive": True}`` or ``{"method": "monte-carlo", "points": 500}``.
        max_iterations : int
            Final-stage optimizer iterations (default 5000).
        initial_iterations : int
            Iterations of each initial-stage start (default 25).
        warn_unreplicated : bool
            Warn when the best LL is reached by one final run only (default True).

        Returns
        -------
        MLResult
            ``loglik``, ``n_params`` (free parameters: fixed elements and ties
            do not count), ``aic``, ``bic``, ``abic``, ``entropy``;
            ``params`` (estimate, se, se_robust: observed information and
            sandwich, named like the PyMC variables; with constraints, a
            ``constraint`` column and every element of a constrained
            parameter, fixed ones with SE 0), ``profiles`` and
            ``class_proportions`` with delta-method SEs, ``class_counts``,
            ``posterior_probabilities`` (units x classes), ``starts`` (the
            start report), ``point`` (estimates by variable), ``iterations``;
            ``summary()`` prints the Mplus-style tables. Classes follow the
            model's one labeling (first solution ordered by size;
            :mod:`bayesmix.relabel`).

        Examples
        --------
        >>> m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)  # doctest: +SKIP
        >>> ml = m.fit_ml(starts=20, seed=1)         # doctest: +SKIP
        >>> ml.loglik                                # -317.2568 (Agresti 2002)   # doctest: +SKIP
        >>> print(ml.summary())                      # doctest: +SKIP
        >>> m3 = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=3)  # doctest: +SKIP
        >>> ml3 = m3.fit_ml(starts=20, seed=1, start=ml)   # K=2 solution split into K=3 starts  # doctest: +SKIP
        """
        from .inference.ml import fit_ml
        return fit_ml(self, starts=starts, seed=seed, start=start, progressbar=progressbar, **kwargs)

    def fit_map(self, starts: int | tuple[int, int] = 10, *, seed: int | None = None, start: Any = None,
                progressbar: bool = True, **kwargs):
        """Posterior mode under the model's priors (multi-start, like :meth:`fit_ml`).

        Parameters
        ----------
        starts : int or (int, int)
            Random starts N or (N, M), as in :meth:`fit_ml`.
        seed : int, optional
            Seed of the random starts.
        start : dict, MLResult, MAPResult or a list of them, optional
            Start values joining the initial stage, as in :meth:`fit_ml`.
        progressbar : bool
            Show the optimizations done and the best log-posterior so far.
        **kwargs
            ``tol``, ``max_iterations``, ``initial_iterations``, ``warn_unreplicated``.

        Returns
        -------
        MAPResult
            ``log_posterior``, ``loglik``, ``point`` (estimates by variable,
            constrained parameters in full too), ``theta``, ``starts``.

        Examples
        --------
        >>> mode = m.fit_map(starts=10, seed=1)              # doctest: +SKIP
        >>> idata = m.sample(init=mode, random_seed=1)       # doctest: +SKIP
        """
        from .inference.ml import fit_map
        return fit_map(self, starts=starts, seed=seed, start=start, progressbar=progressbar, **kwargs)

    def fit_laplace(self, draws: int = 1000, *, starts: int | tuple[int, int] = 10, seed: int | None = None,
                    start: Any = None, progressbar: bool = True):
        """Gaussian approximation at the posterior mode, returned as a DataTree like :meth:`sample`.

        Parameters
        ----------
        draws : int
            Draws from the Gaussian (one chain).
        starts : int or (int, int)
            Random starts of the mode search, as in :meth:`fit_ml`.
        seed : int, optional
            Seeds the starts and the draws.
        start : dict, MLResult, MAPResult or a list of them, optional
            Start values of the mode search, as in :meth:`fit_ml`.
        progressbar : bool
            Show the mode search's optimizations and its best value so far.

        Returns
        -------
        xarray.DataTree
            ``posterior`` (with constrained parameters in full), ``log_likelihood``,
            ``observed_data``; every result method takes it.

        Examples
        --------
        >>> approx = m.fit_laplace(draws=1000, seed=1)       # doctest: +SKIP
        >>> m.profiles(approx)                               # doctest: +SKIP
        """
        from .inference.laplace import fit_laplace
        return fit_laplace(self, draws=draws, starts=starts, seed=seed, start=start, progressbar=progressbar)

    # ------------------------------------------------------------------ results
    def class_probabilities(self, idata) -> pd.DataFrame:
        """Posterior class membership P(C_i = c | y_i), units x classes, averaged over draws.

        P(C_i = c | y_i) = P(C_i = c | x_i) p(y_i | c) / sum_k P(C_i = k | x_i) p(y_i | k)
        (eq. 4 with the kernels of eq. 1-2), per draw, then averaged; with
        random effects the cluster's effect is integrated over its posterior.

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace` (for an ML result use
            ``ml.posterior_probabilities``, or ``bm.point_posterior(m, ml.point)``).

        Returns
        -------
        DataFrame
            Units (clusters for between-level classes) x classes.

        Examples
        --------
        >>> probs = m.class_probabilities(idata)     # doctest: +SKIP
        >>> probs.idxmax(axis=1).value_counts()      # modal classes   # doctest: +SKIP
        """
        from .results import class_probabilities
        return class_probabilities(self, idata)

    def cluster_class_proportions(self, idata) -> pd.DataFrame:
        """Cluster-specific class proportions E[pi_jc | y_j] (two-level models), averaged over draws.

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace` (an ML fit: ``bm.point_posterior(m, ml.point)``).

        Returns
        -------
        DataFrame
            Clusters x classes (see :meth:`cluster_proportion_tensor`).

        Examples
        --------
        >>> m.cluster_class_proportions(idata).head()   # doctest: +SKIP
        """
        from .results import cluster_class_proportions
        return cluster_class_proportions(self, idata)

    def between_class_probabilities(self, idata) -> pd.DataFrame:
        """P(D_j = d | y_j) of the between class (``n_between_classes`` models, eq. 24-26), averaged over draws.

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace`.

        Returns
        -------
        DataFrame
            Clusters x between classes.

        Examples
        --------
        >>> m.between_class_probabilities(idata).idxmax(axis=1)   # doctest: +SKIP
        """
        from .results import between_class_probabilities
        return between_class_probabilities(self, idata)

    def profiles(self, idata, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Class profiles: response probabilities (or means) per item and class with intervals.

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace`.
        hdi_prob : float
            Probability of the equal-tailed interval (default 0.94).

        Returns
        -------
        DataFrame
            Rows (item, category): P(y = category | class) for categorical
            items (binary items: the second code), mean and sd for continuous
            items; columns (class, statistic) with statistic mean, sd, lower,
            upper. After ML the same table with SEs is ``ml.profiles``.

        Examples
        --------
        >>> m.profiles(idata).round(3)               # doctest: +SKIP
        """
        from .results import profiles
        return profiles(self, idata, hdi_prob=hdi_prob)

    def class_proportions(self, idata, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Class proportions (mean of P(C = c | x) over units, eq. 4) with intervals over draws.

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace`.
        hdi_prob : float
            Probability of the equal-tailed interval (default 0.94).

        Returns
        -------
        DataFrame
            One row per class: mean, sd, lower, upper. After ML: ``ml.class_proportions``.

        Examples
        --------
        >>> m.class_proportions(idata)         # doctest: +SKIP
        """
        from .results import class_proportions
        return class_proportions(self, idata, hdi_prob=hdi_prob)

    def entropy(self, idata) -> float:
        """Relative entropy of the posterior classification (Mplus definition, 1 = perfect).

        1 - sum_ic -p_ic log p_ic / (N log K) with p_ic the posterior class
        probabilities of :meth:`class_probabilities`.

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace`.

        Returns
        -------
        float
            NaN for K = 1.

        Examples
        --------
        >>> m.entropy(idata)                   # doctest: +SKIP
        """
        from .results import relative_entropy
        return relative_entropy(self.class_probabilities(idata).to_numpy())

    def summary(self, idata, var_names: Sequence[str] | None = None, **kwargs):
        """ArviZ summary of the posterior (class and item parameters).

        Parameters
        ----------
        idata : DataTree
            From :meth:`sample` or :meth:`fit_laplace`.
        var_names : list of str, optional
            Variables to include (default: every posterior variable).
        **kwargs
            Passed to ``az.summary`` (e.g. ``kind="diagnostics"``, ``round_to="none"``).

        Returns
        -------
        DataFrame
            ``az.summary``: mean, sd, 89% ETI, ESS, R-hat per element,
            computed one variable at a time (ArviZ 1.3 mislabels rows of
            variables sharing a dimension at different positions; see
            :func:`bayesmix.results.posterior_summary`).

        Examples
        --------
        >>> m.summary(idata, ["class_intercept"])   # doctest: +SKIP
        """
        from .results import posterior_summary
        names = var_names or [v for v in idata.posterior.data_vars]
        return posterior_summary(idata, list(names), **kwargs)

    # ------------------------------------------------- workflow (issue 13): thin wrappers
    def predict_proba(self, new_data: pd.DataFrame, result, *, max_draws: int = 1000,
                      hdi_prob: float | None = None) -> pd.DataFrame:
        """Class membership probabilities of new respondents, rows x classes (Bayes' rule, eq. 4 with 1-2).

        P(C = c | y, x) = P(C = c | x) p(y | C = c) / sum_k P(C = k | x) p(y | C = k)
        at the fitted parameters; averaged over the draws of a posterior.

        Parameters
        ----------
        new_data : DataFrame
            Rows to classify, with the model's item columns (and covariates,
            cluster id, cluster covariates). Checked against the training
            encoding: unseen category codes raise a ``ValueError``; an item
            constant within the new rows is fine; missing responses are left out.
        result : MLResult, MAP result or DataTree
            The fit to use: ``m.fit_ml()``, ``m.fit_map()``, ``m.sample()`` or ``m.fit_laplace()``.
        max_draws : int
            At most this many (thinned) posterior draws are averaged.
        hdi_prob : float, optional
            With a posterior: also the equal-tailed interval of this probability
            over draws; columns become (class, statistic) with mean, lower, upper.

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
        >>> ml = m.fit_ml(starts=20, seed=1)           # doctest: +SKIP
        >>> m.predict_proba(new_rows, ml)              # doctest: +SKIP
        """
        from .predict import predict_proba
        return predict_proba(self, new_data, result, max_draws=max_draws, hdi_prob=hdi_prob)

    def predict(self, new_data: pd.DataFrame, result, *, max_draws: int = 1000) -> pd.Series:
        """Modal class of new respondents (the column of largest :meth:`predict_proba`).

        Parameters
        ----------
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
        >>> m.predict(new_rows, ml)                    # doctest: +SKIP
        """
        from .predict import predict
        return predict(self, new_data, result, max_draws=max_draws)

    def save(self, path, result=None, *, overwrite: bool = False):
        """Save this model (its factory call, data included) with fitted results; see :func:`bayesmix.save`.

        Parameters
        ----------
        path : str or Path
            Directory to write (a ``.bmx`` name is customary).
        result : MLResult, DataTree or dict of them, optional
            Fits to store with the model.
        overwrite : bool
            Replace an existing directory.

        Returns
        -------
        Path
            Where the fit was saved.

        Examples
        --------
        >>> m.save("fit.bmx", {"ml": ml, "nuts": idata})     # doctest: +SKIP
        >>> m2, results = bm.load("fit.bmx")                 # doctest: +SKIP
        """
        from .io import save
        return save(path, self, result, overwrite=overwrite)

    def goodness_of_fit(self, result) -> pd.Series:
        """G-squared and Pearson X2 against the saturated pattern model, with df (:func:`bayesmix.fit_statistics.goodness_of_fit`).

        Parameters
        ----------
        result : MLResult or MAP result
            The fitted point.

        Returns
        -------
        Series
            ``G2``, ``X2``, ``df``, ``p_G2``, ``p_X2``, ``df_polca``, ``n_cells``,
            ``n_patterns``, ``N``, ``n_params``, ``mean_expected``; a ``UserWarning``
            when the table is sparse.

        Examples
        --------
        >>> m.goodness_of_fit(ml)              # carcinoma K = 2: G2 62.37, X2 92.65   # doctest: +SKIP
        """
        from .fit_statistics import goodness_of_fit
        return goodness_of_fit(self, result)

    def bivariate_residuals(self, result) -> pd.DataFrame:
        """Bivariate residuals per item pair (:func:`bayesmix.fit_statistics.bivariate_residuals`).

        Parameters
        ----------
        result : MLResult or MAP result
            The fitted point.

        Returns
        -------
        DataFrame
            Rows (item1, item2): ``x2``, ``df``, ``bvr`` (x2 / df), ``p_value``, ``n``;
            largest first.

        Examples
        --------
        >>> m.bivariate_residuals(ml).head()   # doctest: +SKIP
        """
        from .fit_statistics import bivariate_residuals
        return bivariate_residuals(self, result)

    def _repr_html_(self) -> str:
        """A short description for Jupyter (never the data)."""
        kinds = pd.Series([it.kind for it in self.data.items]).value_counts()
        rows = {"model": self.name, "classes": ", ".join(self.class_labels), "units": self.data.n_units,
                "items": f"{len(self.data.items)} (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")",
                "likelihood level": self.loglik_dim}
        if self.data.clusters is not None:
            rows["clusters"] = len(self.data.clusters)
        if self.data.covariate_names:
            rows["covariates"] = ", ".join(self.data.covariate_names)
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                       for k, v in rows.items())
        return f"<b>MixtureModel</b><table>{body}</table>"

    def pattern_table(self, result) -> pd.DataFrame:
        """Observed response patterns with observed and expected counts (:func:`bayesmix.fit_statistics.pattern_table`).

        Parameters
        ----------
        result : MLResult or MAP result
            The fitted point.

        Returns
        -------
        DataFrame
            One row per observed pattern: the item values, ``observed`` and
            ``expected`` (N P(y = s)), by observed count.

        Examples
        --------
        >>> m.pattern_table(ml).head()         # doctest: +SKIP
        """
        from .fit_statistics import pattern_table
        return pattern_table(self, result)

    # ------------------------------------------------- posterior predictive checks (issue 13 item 7)
    def posterior_predictive(self, result, *, seed: int | None = None, draws: int | None = 1000,
                             random_effects: str = "new", extend: bool = True) -> xr.DataTree:
        """Replicated data sets simulated from a fit, for posterior predictive checks.

        ``pm.sample_posterior_predictive(idata)`` returns an empty DataTree for
        these models: the likelihood is a ``pm.Potential`` (classes summed
        out), which PyMC cannot simulate. This method simulates per posterior
        draw: new random effects (or person factors / memberships) from their
        distribution (eq. 5), the classes from their prior given the
        parameters (eq. 4; between-level classes eq. 16-17, within and between
        eq. 24-26, a class per time point in LTA eq. 8-9, one class per
        response in GoM eq. 28), then every item from
        its class-conditional kernel (eq. 1-2, 19, 36). Cells missing in the
        data are missing in every replicate. See
        :mod:`bayesmix.posterior_predictive`.

        Parameters
        ----------
        result : DataTree, MLResult or MAP result
            A posterior (:meth:`sample`, :meth:`fit_laplace`): one replicate
            per draw; or an ML / MAP fit: ``draws`` replicates at the point
            estimate (a parametric bootstrap, ignoring estimation uncertainty).
        seed : int, optional
            Seed of the simulation (same seed, same replicates).
        draws : int or None
            At most about this many replicates: posterior draws are thinned
            evenly within each chain (None: every draw); after ML / MAP the
            number of replicates.
        random_effects : ``"new"`` or ``"posterior"``
            ``"new"`` (default): new levels' effects z ~ N(0, I) -- replicates
            of the marginal likelihood that ML and LOO use; ``"posterior"``:
            the draw's sampled effects (after :meth:`sample`; replicates of
            the same clusters / persons).
        extend : bool
            With a DataTree ``result``: add the groups to it (and return it);
            False returns a new DataTree.

        Returns
        -------
        xarray.DataTree
            ``posterior_predictive``: one variable per item, dims ``(chain,
            draw, unit)``, coded as in ``observed_data`` (NaN where the data
            are missing; the string "None" for items with text codes), and
            ``observed_data``. For the models of every factory (``bm.lca``,
            ``bm.mixture_regression``, ``bm.lta``, ``bm.gom``, ``bm.fma``,
            ``bm.fma_gom``, ``bm.irt_3pl``).

        Examples
        --------
        >>> idata = m.sample(random_seed=1)                         # doctest: +SKIP
        >>> m.posterior_predictive(idata, seed=1)                   # doctest: +SKIP
        >>> m.ppc_patterns(idata)                                   # doctest: +SKIP
        >>> m.ppc_item_pairs(idata).head()                          # doctest: +SKIP
        """
        from .posterior_predictive import posterior_predictive
        return posterior_predictive(self, result, seed=seed, draws=draws, random_effects=random_effects,
                                    extend=extend)

    def ppc_patterns(self, ppc: xr.DataTree, *, n_patterns: int = 10, items: Sequence[str] | None = None,
                     hdi_prob: float = 0.94) -> pd.DataFrame:
        """Observed vs posterior predictive frequencies of the most frequent response patterns.

        Parameters
        ----------
        ppc : DataTree
            From :meth:`posterior_predictive` (it has ``posterior_predictive``
            and ``observed_data`` groups).
        n_patterns : int
            The most frequent observed patterns to compare (missing cells are
            part of a pattern, shown as ``.``: replicates share the data's
            missing cells).
        items : list of str, optional
            Categorical items forming the patterns (default: every categorical item).
        hdi_prob : float
            Probability of the equal-tailed interval of the replicated counts.

        Returns
        -------
        DataFrame
            One row per pattern (index: the pattern as a string), the item
            values, ``observed``, ``expected`` (mean replicated count),
            ``lower``, ``upper`` and ``ppp`` = P(rep > obs) + P(rep = obs) / 2
            (near 0: the model under-predicts the pattern, near 1: over-predicts).
            ``.attrs["overall"]``: the Pearson discrepancy over these patterns
            and the rest pooled, with its ppp.

        Examples
        --------
        >>> ppc = m.posterior_predictive(idata, seed=1)     # doctest: +SKIP
        >>> m.ppc_patterns(ppc, n_patterns=5)               # doctest: +SKIP
        """
        from .posterior_predictive import pattern_frequencies
        return pattern_frequencies(self, ppc, n_patterns=n_patterns, items=items, hdi_prob=hdi_prob)

    def ppc_item_pairs(self, ppc: xr.DataTree, *, statistic: str = "cramers_v", items: Sequence[str] | None = None,
                       hdi_prob: float = 0.94) -> pd.DataFrame:
        """Observed vs posterior predictive association of every item pair (local dependence).

        Parameters
        ----------
        ppc : DataTree
            From :meth:`posterior_predictive`.
        statistic : str
            ``"cramers_v"`` (default, any categorical items), ``"log_odds_ratio"``
            (binary items), ``"correlation"`` (any items, continuous too) or
            ``"bvr"`` (Pearson X2 / df of the two-way table against its
            posterior predictive mean).
        items : list of str, optional
            Items to pair (default: every categorical item; every item for ``"correlation"``).
        hdi_prob : float
            Probability of the equal-tailed interval of the replicated statistic.

        Returns
        -------
        DataFrame
            Rows (item1, item2) with ``observed``, ``replicated`` (mean),
            ``lower``, ``upper``, ``ppp`` = P(T_rep > T_obs) + P(T_rep = T_obs) / 2
            and ``n`` (pairwise-complete rows), most suspicious (smallest ppp)
            first: a ppp near 0 says the pair is more associated than the
            classes explain (local dependence).

        Examples
        --------
        >>> ppc = m.posterior_predictive(idata, seed=1)     # doctest: +SKIP
        >>> m.ppc_item_pairs(ppc).head()                    # doctest: +SKIP
        """
        from .posterior_predictive import item_pairs
        return item_pairs(self, ppc, statistic=statistic, items=items, hdi_prob=hdi_prob)
