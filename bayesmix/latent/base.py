"""Continuous latent effects of clusters or persons (paper eq. 5 and 15, 35).

One object for every continuous latent block of the paper:

    u_j = (I - B)^-1 (mu + Gamma' w_j + Lambda z_j),   z_j ~ N(0, I)      (eq. 5)

- ``form="diagonal"``: Lambda = diag(sd) -- independent effects;
- ``form="cholesky"``: Lambda = an LKJ Cholesky factor (correlated effects,
  the Cholesky parameterization of section 10);
- ``form="factor"``: Lambda = a (D x 1) loading vector and one z per level:
  all D effects move with one factor, alpha_cj = alpha_c + lambda_c eta_j
  (eq. 35, restricted GoM; FMA's eta_j with D = 1); the first loading is
  positive (a factor's sign is otherwise arbitrary);
- ``form="structural"``: Lambda = diag(sd) plus a strictly lower triangular
  B of regressions among the effects, e.g. alpha_2j = beta alpha_1j + e_j
  (eq. 15, two-level LTA); ``structure`` marks the free B elements.

Non-centered: NUTS samples the standardized ``<prefix>_z`` (dims
``(level, <prefix>_factor)``), quadrature integrates over it (the rule of
:meth:`LatentEffects.rule`; a block whose latent is not normal overrides it,
e.g. with importance weights). Names carry the block's ``prefix`` so one
model can hold several blocks. The class/outcome layers take
:meth:`values` with z carrying any leading axes (nodes, draws).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..parameters import _constraint_arrays, _dims_shape, create, register, registry_of
from ..priors import PriorSet
from .segments import gather_segments

FORMS = ("diagonal", "cholesky", "factor", "structural")


def shared_node(z) -> bool:
    """z is a quadrature node shared by all levels: a static length-1 level axis (..., 1, D)."""
    if z is None:
        return False
    z = pt.as_tensor_variable(z)
    return z.ndim >= 2 and bool(z.type.broadcastable[-2])


def _spec(priors: PriorSet, generic: str, name: str, **defaults) -> tuple[str, dict]:
    """(distribution, kwargs) of ``name``: the default prior of ``generic``; a user override of either name wins."""
    dist, kwargs = priors.spec(generic, **defaults)
    override = priors.overrides.get(name) if name != generic else None
    if isinstance(override, tuple):
        dist, kwargs = override[0], dict(override[1])
    elif override is not None:
        kwargs.update(override)
    return dist, kwargs


def _prior(priors: PriorSet, generic: str, name: str, dims=None, **defaults):
    """An RV ``name`` with the default prior of ``generic``; a user override of either name wins."""
    dist, kwargs = _spec(priors, generic, name, **defaults)
    return getattr(pm, dist)(name, dims=dims, **kwargs), (dist, kwargs)


def _sd_constraints(name: str, dims) -> tuple[np.ndarray, np.ndarray | None]:
    """(values, slots) of the user's ``fixed=`` / ``equal=`` on the SDs ``name`` (slots None: unconstrained)."""
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    return _constraint_arrays(registry_of(), name, dims, _dims_shape(dims), None)


class LatentEffects:
    """D continuous effects per level unit (cluster or person), see the module docstring.

    Parameters
    ----------
    effect_labels : labels of the D effects (coord ``dim``).
    level_index : (N,) index of each unit's level (cluster) -- None when the
        effects are per unit (person-level effects).
    n_levels : number of clusters (or units).
    covariates, covariate_names : level covariates w_j of eq. 5 (Gamma).
    form : ``"diagonal"``, ``"cholesky"``, ``"factor"`` or ``"structural"``.
    structure : for ``form="structural"``, a (D, D) boolean mask of the free
        regressions B[d, d'] (strictly lower triangular: d' < d).
    dim : coord name of the effects; ``level_dim``: coord of the levels.
    prefix : namespace of the block's variables (``random`` gives
        ``random_sd``, ``random_chol``, ``random_z`` ...).
    groups, group_dim : labels (and their coord) of classes with their own
        SDs: ``form="diagonal"`` with ``sd`` of dims ``(group_dim, dim)``, so
        u_j = mu + Gamma' w_j + diag(sd_g) z_j in group g (class-specific
        between-level variances, eq. 18, 25: g the between class D_j). Then
        :meth:`values` and :meth:`unit_values` carry a group axis before the
        level axis, (..., G, J, D) and (..., G, N, D); z stays one standard
        normal per level, shared by all groups.
    """

    def __init__(self, effect_labels: Sequence[str], level_index: np.ndarray | None, n_levels: int,
                 covariates: np.ndarray | None = None, covariate_names: Sequence[str] = (), *,
                 form: str = "cholesky", structure: np.ndarray | None = None, dim: str = "effect",
                 level_dim: str = "cluster", prefix: str = "random", covariate_dim: str = "cluster_covariate",
                 groups: Sequence[str] | None = None, group_dim: str | None = None):
        if form not in FORMS:
            raise ValueError(f"form={form!r} is unknown; use one of {FORMS}.")
        self.effect_labels = list(effect_labels)
        self.form = form if (form != "cholesky" or len(self.effect_labels) > 1) else "diagonal"
        self.groups = None if groups is None else list(groups)
        self.group_dim = group_dim
        if self.groups is not None:
            if group_dim is None:
                raise ValueError("groups= needs group_dim= (the coord of the groups).")
            if form != "diagonal":
                raise ValueError("group-specific SDs (groups=) are available for form='diagonal'.")
            self.form = "diagonal"
        self.dim = dim
        self.level_dim = level_dim
        self.prefix = prefix
        self.level_index = level_index
        self.n_levels = n_levels
        self.w = covariates if covariates is not None and covariates.shape[1] else None
        self.covariate_names = list(covariate_names)
        self.covariate_dim = covariate_dim
        d = len(self.effect_labels)
        if form == "structural":
            mask = np.zeros((d, d), bool) if structure is None else np.asarray(structure, bool)
            if mask.shape != (d, d) or np.any(np.triu(mask)):
                raise ValueError(f"structure must be a strictly lower triangular ({d}, {d}) boolean mask "
                                 "(B[d, d'] with d' < d: an effect regressed on earlier ones, eq. 15).")
            self.structure = mask
        else:
            self.structure = None
        self.params: dict = {}

    # ------------------------------------------------------------ metadata
    def name(self, part: str) -> str:
        return f"{self.prefix}_{part}"

    @property
    def n_effects(self) -> int:
        return len(self.effect_labels)

    @property
    def n_dims(self) -> int:
        """Dimension of the standardized z (the integration dimension): 1 for a factor."""
        return 1 if self.form == "factor" else self.n_effects

    @property
    def z_name(self) -> str:
        return self.name("z")

    @property
    def factor_dim(self) -> str:
        return f"{self.prefix}_factor" if self.form == "factor" else self.dim

    def variable_names(self) -> tuple[str, ...]:
        """Posterior variables of this block (relabeled with it, not by plain permutation)."""
        return tuple(self.name(p) for p in ("z", "sd", "chol", "corr", "slope", "loading", "regression"))

    def coords(self) -> dict:
        out = {self.dim: self.effect_labels, f"{self.dim}_": self.effect_labels}
        if self.groups is not None:
            out[self.group_dim] = self.groups
        if self.form == "factor":
            out[self.factor_dim] = ["factor"]
        if self.w is not None:
            out[self.covariate_dim] = self.covariate_names
        if self.form == "structural" and self.structure.any():
            rows, cols = np.nonzero(self.structure)
            out[self.name("path")] = [f"{self.effect_labels[r]} ~ {self.effect_labels[c]}" for r, c in zip(rows, cols)]
        return out

    # --------------------------------------------------------------- build
    def build(self, priors: PriorSet) -> None:
        """Create the block's parameters and its standardized z in the model in context."""
        model = pm.modelcontext(None)
        for name, values in self.coords().items():
            if name not in model.coords:
                model.add_coord(name, values)
        d = self.n_effects
        meta = {"latent": self.prefix}
        sd_spec = _spec(priors, "random_sd", self.name("sd"))
        if self.form == "cholesky":
            values, slots = _sd_constraints(self.name("sd"), self.dim)
            if slots is not None:
                if not (np.all(values == 0.0)):
                    raise ValueError(f"fixed= / equal= on {self.name('sd')!r}: the {d} correlated random effects "
                                     "(an LKJ Cholesky factor) can only have all their SDs fixed at 0 (no random "
                                     f"effect: fixed={{{self.name('sd')!r}: 0.0}}); fix or tie single SDs of "
                                     "uncorrelated effects instead.")
                self.form = "diagonal"  # every SD 0: the block is the zero effect, alpha = mu + 0 * z
        if self.groups is not None:  # sd (G, D): Lambda_g = diag(sd_g)
            sd = create(priors, self.name("sd"), dims=(self.group_dim, self.dim), prior_spec=sd_spec,
                        class_axis=0, class_dim=self.group_dim, **meta)
            self.params["sd"] = sd
            self.loading = sd[:, :, None] * pt.eye(d)  # (G, D, D)
        elif self.form in ("diagonal", "structural"):
            # through the constraint machinery: fixed={"random_sd": 0.0} (alpha = mu + 0 * z, exact), equal=
            sd = create(priors, self.name("sd"), dims=self.dim, prior_spec=sd_spec, **meta)
            self.params["sd"] = sd
            self.loading = pt.diag(sd)
        elif self.form == "cholesky":
            dist, kw = priors.spec("random_sd")
            sd_dist = getattr(pm, dist).dist(**kw, shape=d)
            _, eta = priors.spec("random_corr_eta")
            chol, corr, sd = pm.LKJCholeskyCov(self.name("chol"), n=d, eta=eta["eta"], sd_dist=sd_dist,
                                               compute_corr=True, store_in_trace=False)
            register(self.name("chol"), **meta)
            self.params["chol"] = chol
            self.loading = chol
            pm.Deterministic(self.name("sd"), sd, dims=self.dim)
            pm.Deterministic(self.name("corr"), corr, dims=(self.dim, f"{self.dim}_"))
        else:  # factor (eq. 35): lambda (D, 1), first element positive
            first, _ = _prior(priors, "random_sd", self.name("loading_first"))
            register(self.name("loading_first"), **meta)
            parts = [first[None]]
            if d > 1:
                model.add_coord(f"{self.dim}_rest", self.effect_labels[1:])
                rest, _ = _prior(priors, "random_loading", self.name("loading_rest"), dims=f"{self.dim}_rest")
                register(self.name("loading_rest"), bounded=False, **meta)
                parts.append(rest)
            loading = pm.Deterministic(self.name("loading"), pt.concatenate(parts), dims=self.dim)
            self.params["loading"] = loading
            self.loading = loading[:, None]  # (D, 1)
        if self.form == "structural" and self.structure.any():
            b, _ = _prior(priors, "random_regression", self.name("regression"), dims=self.name("path"))
            register(self.name("regression"), bounded=False, **meta)
            self.params["regression"] = b
        if self.w is not None:
            slope, _ = _prior(priors, "random_slope", self.name("slope"), dims=(self.covariate_dim, self.dim))
            register(self.name("slope"), bounded=False, **meta)
            self.params["slope"] = slope
        self.z = pm.Normal(self.z_name, 0.0, 1.0, dims=(self.level_dim, self.factor_dim))
        register(self.z_name, bounded=False, **meta)
        self.params["z"] = self.z

    # -------------------------------------------------------------- values
    def _b_matrix(self):
        d = self.n_effects
        rows, cols = np.nonzero(self.structure)
        return pt.set_subtensor(pt.zeros((d, d))[rows, cols], self.params["regression"])

    @property
    def level_free(self) -> bool:
        """No level covariates: u at a standardized z shared by all levels is the same for all of them."""
        return self.w is None

    def values(self, z=None, broadcast: bool = True):
        """u (..., J, D) for standardized z (..., J or 1, n_dims); default: the sampled z.

        With ``groups``: (..., G, J, D), one value per group at the same z.

        ``broadcast=False`` keeps a length-1 level axis of ``z`` (a quadrature
        node shared by all levels) when :attr:`level_free`.
        """
        z = self.z if z is None else z
        if self.groups is not None:  # (..., 1, J, D) * (G, 1, D) -> (..., G, J, D)
            u = pt.expand_dims(pt.as_tensor_variable(z), -3) * self.params["sd"][:, None, :]
        else:
            u = pt.matmul(z, self.loading.T)
        if broadcast or not self.level_free:
            u = u + pt.zeros((self.n_levels, self.n_effects))
        if self.w is not None:
            u = u + pt.matmul(pt.as_tensor(self.w), self.params["slope"])
        if self.form == "structural" and self.structure.any():
            # (I - B)^-1 by forward substitution: u_d = e_d + sum_{d' < d} B[d, d'] u_d' (eq. 15)
            b = self._b_matrix()
            cols = []
            for d in range(self.n_effects):
                col = u[..., d]
                for e in range(d):
                    if self.structure[d, e]:
                        col = col + b[d, e] * cols[e]
                cols.append(col)
            u = pt.stack(cols, axis=-1)
        return u

    def unit_values(self, z=None):
        """u of each unit's level, (..., N, D) (the level's values repeated for its units)."""
        if self.level_index is None:
            return self.values(z)
        if self.level_free and shared_node(z):
            # a node shared by all levels (ML quadrature): u is the same for every cluster, so every unit
            # gets it by broadcasting -- no gather, whose gradient is a scatter-add
            u = self.values(z, broadcast=False)  # (..., 1, D)
            return u + pt.zeros((len(self.level_index), self.n_effects))
        return gather_segments(self.values(z), self.level_index, self.n_levels)

    def covariance(self):
        """Cov(u_j) excluding the covariate part, (D, D); (G, D, D) with ``groups``."""
        lam = self.loading
        if self.groups is not None:
            return pt.matmul(lam, pt.swapaxes(lam, -1, -2))
        if self.form == "structural" and self.structure.any():
            inv = pt.linalg.inv(pt.eye(self.n_effects) - self._b_matrix())
            lam = pt.matmul(inv, lam)
        return pt.matmul(lam, lam.T)

    def variances(self):
        """Var(u_jd) excluding the covariate part, (D,); (G, D) with ``groups``."""
        return pt.diagonal(self.covariance(), axis1=-2, axis2=-1)

    # ------------------------------------------------------------ simulation (posterior predictive)
    def item_shift(self, names: Sequence[str], z):
        """The shift this block adds to the linear predictor of the items ``names`` at z (None: none).

        A person factor returns lambda_i eta_j (eq. 36); the default block enters the class
        logits or a regression kernel's own design (:meth:`ItemKernel.latent_shift`), not the items.
        """
        return

    def simulation_graphs(self) -> dict:
        """name -> graph of the parameters that :meth:`draw_z` needs (none for normal effects)."""
        return {}

    def draw_z(self, rng: np.random.Generator, shape: tuple[int, ...], graphs: dict) -> np.ndarray:
        """New standardized effects for a replicate: z ~ N(0, I) (eq. 5); ``graphs``: :meth:`simulation_graphs` evaluated."""
        return rng.standard_normal(shape)

    def sampler_start(self) -> np.ndarray | None:
        """Where NUTS starts z. Not overridden (normal z): each level's conditional mode given the start's
        parameters (:func:`bayesmix.inference.sampling.latent_start`); a non-normal block overrides it
        (its value, None: at 0)."""
        return None

    def permuted(self, before: dict, after: dict, perms: np.ndarray, permute) -> None:
        """Relabeling hook: fix up this block's variables in ``after`` (name -> (dims, array)) after a class
        permutation of ``before``; ``permute(array, perms, axis)`` permutes a class axis. Nothing here."""
        return None

    # --------------------------------------------------------- integration
    def rule(self, method: str, points: int | None, seed: int = 0):
        """Quadrature nodes (Q, n_dims) and log-weights (Q,) for integrating over z.

        The standard normal rule of :mod:`bayesmix.inference.quadrature`; a
        block with a non-normal latent overrides this (importance weights
        log p(z) - log q(z) added to the proposal's weights).
        """
        from ..inference.quadrature import rule
        return rule(method, points, self.n_dims, seed)

    def random_start(self, rng: np.random.Generator) -> dict:
        d = self.n_effects
        out: dict = {}
        if self.groups is not None:
            out[self.name("sd")] = rng.uniform(0.3, 1.5, size=(len(self.groups), d))
        elif self.form in ("diagonal", "structural"):
            out[self.name("sd")] = rng.uniform(0.3, 1.5, size=d)
        elif self.form == "cholesky":
            packed = [rng.uniform(0.3, 1.5) if i == j else 0.0 for i in range(d) for j in range(i + 1)]
            out[self.name("chol")] = np.array(packed)
        else:
            out[self.name("loading_first")] = np.asarray(rng.uniform(0.3, 1.5))
            if d > 1:
                out[self.name("loading_rest")] = rng.uniform(-1.0, 1.0, size=d - 1)
        if self.form == "structural" and self.structure.any():
            out[self.name("regression")] = rng.uniform(-0.5, 0.5, size=int(self.structure.sum()))
        if self.w is not None:
            out[self.name("slope")] = np.zeros((self.w.shape[1], d))
        return out
