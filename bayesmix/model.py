"""``MixtureModel``: a PyMC model plus the metadata to interpret it.

A factory (``bm.lca`` ...) composes the three layers of ARCHITECTURE.md ("the design") and hands
them here: the item kernels (measurement), the class model(s), and a
:class:`~bayesmix.structure.Structure` that marginalizes the discrete classes
given the (optional) continuous latent effects z. The model object keeps
fields (model, data, kernels, structure, options, the class ``labeling``),
graph algebra (:meth:`integrated_loglik`, :meth:`posterior_expectation`,
:meth:`prior_expectation`) and starts (:meth:`random_start`) -- no field per
model family. Estimation and results are functions of the model; the methods
that call them are one-line wrappers naming the function (``help`` it).
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
    >>> ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    >>> round(ml.loglik, 4)                      # Agresti (2002)
    -317.2568
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
    #: the model's one class labeling (:mod:`bayesmix.relabel`): units x classes posterior probabilities
    #: of the first solution; later solutions and posteriors are aligned to it. Not a cache.
    labeling: np.ndarray | None = field(default=None, repr=False)
    #: the latest ``fit_ml`` result (an ``MLResult``): where ``sample(init="auto")`` starts the chains
    latest_ml: Any = field(default=None, repr=False)
    #: compiled functions and graphs only (clearing it never changes a result or a label)
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
        return self.structure.integrated_names()

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
        from .inference.quadrature import n_nodes
        nodes = n_nodes(self.rule(integration)[0])
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

        Defined in :func:`bayesmix.results.cluster_class_proportions`.

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
            start.update(kernel.start(rng, self.n_classes))  # random_start, per group if grouped
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
        """See :func:`bayesmix.data.observed_dataset`."""
        from .data import observed_dataset
        return observed_dataset(self.data)

    # ---------------------------------------------------------------- inference
    def sample(self, draws: int = 1000, tune: int = 1000, chains: int = 4, *, sampler: str = "auto",
               random_seed: int | None = None, init: Any = "auto", progressbar: bool = True,
               target_accept: float = 0.8, cores: int | None = None, starts: int = 10, latent: str = "sampled",
               integration: dict | None = None, **kwargs):
        """See :func:`bayesmix.inference.sampling.sample`."""
        from .inference.sampling import sample
        return sample(self, draws=draws, tune=tune, chains=chains, sampler=sampler,
                      random_seed=random_seed, init=init, progressbar=progressbar,
                      target_accept=target_accept, cores=cores, starts=starts, latent=latent,
                      integration=integration, **kwargs)

    def fit_ml(self, starts: int | tuple[int, int] = 20, *, seed: int | None = None, start: Any = None,
               progressbar: bool = True, **kwargs):
        """See :func:`bayesmix.inference.ml.fit_ml`."""
        from .inference.ml import fit_ml
        return fit_ml(self, starts=starts, seed=seed, start=start, progressbar=progressbar, **kwargs)

    def fit_map(self, starts: int | tuple[int, int] = 10, *, seed: int | None = None, start: Any = None,
                progressbar: bool = True, **kwargs):
        """See :func:`bayesmix.inference.ml.fit_map`."""
        from .inference.ml import fit_map
        return fit_map(self, starts=starts, seed=seed, start=start, progressbar=progressbar, **kwargs)

    def fit_laplace(self, draws: int = 1000, *, starts: int | tuple[int, int] = 10, seed: int | None = None,
                    start: Any = None, progressbar: bool = True):
        """See :func:`bayesmix.inference.laplace.fit_laplace`."""
        from .inference.laplace import fit_laplace
        return fit_laplace(self, draws=draws, starts=starts, seed=seed, start=start, progressbar=progressbar)

    # ------------------------------------------------------------------ results (any fit: bayesmix.evaluate)
    def class_probabilities(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.results.class_probabilities`."""
        from .results import class_probabilities
        return class_probabilities(self, fit, **kwargs)

    def cluster_class_proportions(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.results.cluster_class_proportions`."""
        from .results import cluster_class_proportions
        return cluster_class_proportions(self, fit, **kwargs)

    def between_class_probabilities(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.results.between_class_probabilities`."""
        from .results import between_class_probabilities
        return between_class_probabilities(self, fit, **kwargs)

    def between_within_table(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.results.between_within_table`."""
        from .results import between_within_table
        return between_within_table(self, fit, **kwargs)

    @property
    def profile_item_labels(self) -> dict[str, str]:
        """Kernel item name -> the label of its rows in the profile tables (none: the item's column name).

        A hook for models whose kernels' items stand for several columns
        (LTA's invariant measurement: :attr:`LTAModel.profile_item_labels`).
        """
        return {}

    def item_factor_form(self):
        """The model as a unidimensional binary IRT model for the Bock-Aitkin EM (None: it is not one).

        A hook (:mod:`bayesmix.inference.em_irt`): a family whose model is the
        2PL / 3PL likelihood of one person factor returns an
        :class:`~bayesmix.inference.em_irt.ItemFactorForm` mapping its free
        variables to and from (tau, lambda, gamma) per item
        (:meth:`bayesmix.families.fma.FactorMixtureModel.item_factor_form`,
        :meth:`bayesmix.families.irt.ThreePLModel.item_factor_form`).

        Returns
        -------
        ItemFactorForm or None
            None here: the model is not a one-factor binary IRT model.

        Examples
        --------
        >>> bm.lca(df, items, 2).item_factor_form() is None   # doctest: +SKIP
        True
        """
        return None

    def membership_form(self):
        """The model as a grade-of-membership model with membership logits alpha + Lambda z (None: it is not one).

        A hook (:mod:`bayesmix.inference.em_gom`): a family whose likelihood is
        eq. 28-30 with a logistic-normal or one-factor membership (eq. 34-35) of
        categorical items returns a :class:`~bayesmix.inference.em_gom.MembershipForm`
        mapping its free variables to and from (alpha, Lambda)
        (:meth:`bayesmix.families.gom.GoMModel.membership_form`).

        Returns
        -------
        MembershipForm or None
            None here: the model is not such a GoM.

        Examples
        --------
        >>> bm.lca(df, items, 2).membership_form() is None   # doctest: +SKIP
        True
        """
        return None

    def profiles(self, fit, ci_prob: float | None = None, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.results.profiles`."""
        from .results import profiles
        return profiles(self, fit, ci_prob, **kwargs)

    def class_proportions(self, fit, ci_prob: float | None = None, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.results.class_proportions`."""
        from .results import class_proportions
        return class_proportions(self, fit, ci_prob, **kwargs)

    def entropy(self, fit) -> float:
        """See :func:`bayesmix.results.entropy`."""
        from .results import entropy
        return entropy(self, fit)

    def summary(self, idata, var_names: Sequence[str] | None = None, **kwargs):
        """See :func:`bayesmix.results.summary`."""
        from .results import summary
        return summary(self, idata, var_names, **kwargs)

    # ------------------------------------------------- workflow (issue 13): thin wrappers
    def predict_proba(self, new_data: pd.DataFrame, result, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.predict.predict_proba`."""
        from .predict import predict_proba
        return predict_proba(self, new_data, result, **kwargs)

    def predict(self, new_data: pd.DataFrame, result, *, max_draws: int = 1000) -> pd.Series:
        """See :func:`bayesmix.predict.predict`."""
        from .predict import predict
        return predict(self, new_data, result, max_draws=max_draws)

    def save(self, path, result=None, *, overwrite: bool = False):
        """See :func:`bayesmix.io.save`."""
        from .io import save
        return save(path, self, result, overwrite=overwrite)

    def goodness_of_fit(self, result) -> pd.Series:
        """See :func:`bayesmix.fit_statistics.goodness_of_fit`."""
        from .fit_statistics import goodness_of_fit
        return goodness_of_fit(self, result)

    def bivariate_residuals(self, result) -> pd.DataFrame:
        """See :func:`bayesmix.fit_statistics.bivariate_residuals`."""
        from .fit_statistics import bivariate_residuals
        return bivariate_residuals(self, result)

    def __getattr__(self, name: str):
        """The family's own result functions (``Family.results``) as methods, e.g. ``m.membership_scores(fit)``.

        Only called for names the class does not define; reads ``__dict__``
        directly so that unpickling and half-built objects never recurse.
        """
        if name.startswith("_"):
            raise AttributeError(name)
        options = self.__dict__.get("options") or {}
        factory = (options.get("call") or {}).get("factory") or self.__dict__.get("name")
        from .registry import _FAMILIES
        family = _FAMILIES.get(factory)
        if family is not None and name in family.results:
            import functools
            function = family.results[name]
            method = functools.partial(function, self)
            functools.update_wrapper(method, function)
            return method
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _repr_html_(self) -> str:
        """A short description for Jupyter (never the data)."""
        from .summary import model_html
        return model_html(self)

    def pattern_table(self, result, n_patterns: int | None = None) -> pd.DataFrame:
        """See :func:`bayesmix.fit_statistics.pattern_table`."""
        from .fit_statistics import pattern_table
        return pattern_table(self, result, n_patterns=n_patterns)

    # ------------------------------------------------- posterior predictive checks (issue 13 item 7)
    def posterior_predictive(self, result, *, seed: int | None = None, draws: int | None = 1000,
                             random_effects: str = "new", extend: bool = True) -> xr.DataTree:
        """See :func:`bayesmix.posterior_predictive.posterior_predictive`."""
        from .posterior_predictive import posterior_predictive
        return posterior_predictive(self, result, seed=seed, draws=draws, random_effects=random_effects,
                                    extend=extend)

    def ppc_patterns(self, ppc: xr.DataTree, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.posterior_predictive.pattern_frequencies`."""
        from .posterior_predictive import pattern_frequencies
        return pattern_frequencies(self, ppc, **kwargs)

    def ppc_item_pairs(self, ppc: xr.DataTree, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.posterior_predictive.item_pairs`."""
        from .posterior_predictive import item_pairs
        return item_pairs(self, ppc, **kwargs)
