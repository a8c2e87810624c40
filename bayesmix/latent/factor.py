"""The person factor eta_j of factor mixture models (eq. 36) and the FMA-GoM membership effects (eq. 39).

A :class:`~bayesmix.latent.LatentEffects` block with one standardized z per
person whose first column is the factor and whose loadings enter the item
kernels as a ``shift``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..parameters import create, register
from ..priors import PriorSet
from . import LatentEffects


# --------------------------------------------------------------------------- latent block
class PersonFactor(LatentEffects):
    """The person factor eta_j of eq. 36 (and, for FMA-GoM, the membership effects of eq. 39).

    One standardized z per person, dims ``(unit, factor_effect)``: the first
    column is eta_j ~ N(0, 1); further columns (FMA-GoM) are the K-1
    standardized membership effects, alpha_cj = alpha_c + sd_c z_cj. The
    loadings lambda (Kl, I) live here (Kl = 1 for class-invariant loadings,
    K for class-specific ones); ``fixed`` (Kl, I) holds values for fixed
    elements (NaN = free), e.g. lambda_i1 = 0 of the 3PL (eq. 45-47). The
    first free loading of every row is positive (sign identification).
    ``class_variance``: eta_j | C_j = k ~ N(0, sd_k^2) with sd_1 = 1 (the
    parameter ``factor_sd``, dims ``class``); the shift is then
    lambda_i sd_k z_j, a class-specific scale of invariant loadings.
    """

    def __init__(self, item_names: Sequence[str], n_units: int, *, class_specific: bool = False,
                 class_names: Sequence[str] = (), n_membership: int = 0, fixed: np.ndarray | None = None,
                 prefix: str = "factor", class_variance: bool = False):
        labels = ["eta"] + [f"membership[{c}]" for c in list(class_names)[:n_membership]]
        super().__init__(labels, None, n_units, form="diagonal", dim=f"{prefix}_effect", level_dim="unit",
                         prefix=prefix)
        self.item_names = list(item_names)
        self.class_specific = class_specific
        self.class_names = list(class_names)
        self.n_membership = n_membership
        self.class_variance = class_variance
        rows = len(self.class_names) if class_specific else 1
        self.fixed_loadings = (np.full((rows, len(self.item_names)), np.nan) if fixed is None
                               else np.broadcast_to(np.asarray(fixed, float), (rows, len(self.item_names))).copy())

    @property
    def item_dim(self) -> str:
        return f"{self.prefix}_item"

    def coords(self) -> dict:
        return {self.dim: self.effect_labels, self.item_dim: self.item_names}

    def variable_names(self) -> tuple[str, ...]:
        return tuple(self.name(p) for p in ("z", "loading", "loading_positive", "loading_free", "membership_sd",
                                            "sd", "sd_free"))

    def _masks(self):
        free = np.isnan(self.fixed_loadings)
        positive = np.zeros_like(free)
        for r in range(free.shape[0]):
            cols = np.flatnonzero(free[r])
            if len(cols):
                positive[r, cols[0]] = True
        return free & ~positive, positive

    def build(self, priors: PriorSet) -> None:
        model = pm.modelcontext(None)
        for name, values in self.coords().items():
            if name not in model.coords:
                model.add_coord(name, values)
        meta = {"latent": self.prefix}
        free, positive = self._masks()
        rows, n_items = self.fixed_loadings.shape
        _, kw = priors.spec("factor_loading")
        sigma = kw.get("sigma", 2.5)
        clean = not np.any(~np.isnan(self.fixed_loadings)) and n_items > 1
        loading = pt.as_tensor(np.where(np.isnan(self.fixed_loadings), 0.0, self.fixed_loadings))
        if clean:  # no fixed elements: first column positive, the rest free, class axis kept for relabeling
            class_meta = {"class_axis": 0, "class_dim": "class"} if self.class_specific else {}
            rest_dim = f"{self.item_dim}_rest"
            model.add_coord(rest_dim, self.item_names[1:])
            dims_pos = ("class",) if self.class_specific else None
            dims_rest = ("class", rest_dim) if self.class_specific else (rest_dim,)
            pos = pm.HalfNormal(self.name("loading_positive"), sigma=sigma, dims=dims_pos)
            register(self.name("loading_positive"), **class_meta, **meta)
            dist, kwf = priors.spec("factor_loading")
            rest = getattr(pm, dist)(self.name("loading_free"), dims=dims_rest, **kwf)
            register(self.name("loading_free"), bounded=False, **class_meta, **meta)
            pos2 = pt.reshape(pos, (rows, 1))
            rest2 = pt.reshape(rest, (rows, n_items - 1))
            loading = pt.concatenate([pos2, rest2], axis=1)
        else:
            def labels(mask):
                out = []
                for r, i in zip(*np.nonzero(mask)):
                    out.append(f"{self.item_names[i]}[{self.class_names[r]}]" if self.class_specific
                               else self.item_names[i])
                return out
            if positive.any():
                dim = f"{self.name('loading_positive')}_element"
                model.add_coord(dim, labels(positive))
                pos = pm.HalfNormal(self.name("loading_positive"), sigma=sigma, dims=dim)
                register(self.name("loading_positive"), **meta)
                loading = pt.set_subtensor(loading[np.nonzero(positive)], pos)
            if free.any():
                dim = f"{self.name('loading_free')}_element"
                model.add_coord(dim, labels(free))
                dist, kwf = priors.spec("factor_loading")
                rest = getattr(pm, dist)(self.name("loading_free"), dims=dim, **kwf)
                register(self.name("loading_free"), bounded=False, **meta)
                loading = pt.set_subtensor(loading[np.nonzero(free)], rest)
        dims = ("class", self.item_dim) if self.class_specific else (self.item_dim,)
        value = loading if self.class_specific else loading[0]
        self.params["loading"] = pm.Deterministic(self.name("loading"), value, dims=dims)
        self.loading_matrix = loading  # (Kl, I)
        if self.class_variance:  # Var(eta | C = k) = sd_k^2, class 1 the unit of eta (identification)
            fixed_sd = np.full(len(self.class_names), np.nan)
            fixed_sd[0] = 1.0
            self.params["class_sd"] = create(priors, self.name("sd"), dims="class", fixed=fixed_sd, class_axis=0,
                                             class_dim="class", **meta)
        if self.n_membership:
            dist, kwm = priors.spec("membership_sd")
            model.add_coord(f"{self.prefix}_membership", self.effect_labels[1:])
            sd = getattr(pm, dist)(self.name("membership_sd"), dims=f"{self.prefix}_membership", **kwm)
            register(self.name("membership_sd"), **meta)
            self.params["membership_sd"] = sd
        self.z = pm.Normal(self.z_name, 0.0, 1.0, dims=(self.level_dim, self.dim))
        register(self.z_name, bounded=False, **meta)
        self.params["z"] = self.z

    # -------------------------------------------------------------- loadings <-> free variables
    def _clean(self) -> bool:
        """No fixed loadings: the free variables are the first loading per row and the rest (see ``build``)."""
        return not np.any(~np.isnan(self.fixed_loadings)) and len(self.item_names) > 1

    def loadings_of(self, values: dict) -> np.ndarray:
        """The (Kl, I) loading matrix at natural-scale values of the free variables (fixed elements included)."""
        free, positive = self._masks()
        rows, n_items = self.fixed_loadings.shape
        if self._clean():
            pos = np.reshape(np.asarray(values[self.name("loading_positive")], float), (rows, 1))
            rest = np.reshape(np.asarray(values[self.name("loading_free")], float), (rows, n_items - 1))
            return np.concatenate([pos, rest], axis=1)
        matrix = np.where(np.isnan(self.fixed_loadings), 0.0, self.fixed_loadings)
        if positive.any():
            matrix[np.nonzero(positive)] = np.ravel(values[self.name("loading_positive")])
        if free.any():
            matrix[np.nonzero(free)] = np.ravel(values[self.name("loading_free")])
        return matrix

    def loading_values(self, matrix: np.ndarray) -> dict:
        """The free loading variables (natural scale) of a (Kl, I) loading matrix: :meth:`loadings_of` inverted."""
        matrix = np.asarray(matrix, dtype=float)
        free, positive = self._masks()
        if self._clean():
            pos, rest = matrix[:, 0], matrix[:, 1:]
            return {self.name("loading_positive"): pos if self.class_specific else np.asarray(pos[0]),
                    self.name("loading_free"): rest if self.class_specific else rest[0]}
        out = {}
        if positive.any():
            out[self.name("loading_positive")] = matrix[np.nonzero(positive)]
        if free.any():
            out[self.name("loading_free")] = matrix[np.nonzero(free)]
        return out

    def positive_loadings(self) -> np.ndarray:
        """(Kl, I) bool: the loadings held positive (the first free one of each row: sign identification)."""
        return self._masks()[1]

    # -------------------------------------------------------------- values
    def eta(self, z=None):
        """eta (..., N or 1) for standardized z (..., N or 1, D)."""
        z = self.z if z is None else z
        return z[..., 0]

    def scaled_loadings(self):
        """(Kl, I) loadings of the standardized z: lambda_ic, or lambda_i sd_k with a class-specific variance."""
        if self.class_variance:
            return self.loading_matrix * self.params["class_sd"][:, None]  # (K, I)
        return self.loading_matrix

    def shift(self, names: Sequence[str], z=None, loading=None):
        """lambda_i eta_j for the items ``names``: (..., N or 1, I, Kl) -- a kernel's ``shift`` (eq. 36).

        ``z`` standardized (eta_j = sd_k z_j with a class-specific variance); ``loading``
        (Kl, I) replaces :meth:`scaled_loadings`, e.g. the unscaled ones for curves over eta.
        """
        lam = self.scaled_loadings() if loading is None else loading  # (Kl, I)
        idx = [self.item_names.index(n) for n in names]
        return self.eta(z)[..., None, None] * pt.swapaxes(lam, 0, 1)[idx]

    def item_shift(self, names, z):
        """lambda_i eta_j of the items ``names`` (:meth:`shift`): how the factor enters every kernel."""
        return self.shift(names, z)

    def membership_offset(self, z=None):
        """sd_c z_cj: the random part of the K-1 membership logits (..., N or 1, K-1) (eq. 39)."""
        z = self.z if z is None else z
        return z[..., 1:] * self.params["membership_sd"]

    def values(self, z=None):
        z = self.z if z is None else z
        scale = pt.concatenate([pt.ones(1), self.params["membership_sd"]]) if self.n_membership else pt.ones(1)
        return z * scale + pt.zeros((self.n_levels, self.n_effects))

    def covariance(self):
        return pt.diag(pt.square(self.values(pt.ones((1, self.n_effects)))[0]))

    def random_start(self, rng: np.random.Generator) -> dict:
        free, positive = self._masks()
        clean = not np.any(~np.isnan(self.fixed_loadings)) and len(self.item_names) > 1
        out: dict = {}
        if clean:
            rows = self.fixed_loadings.shape[0]
            pos = rng.uniform(0.5, 1.5, size=rows)
            out[self.name("loading_positive")] = pos if self.class_specific else np.asarray(pos[0])
            rest = rng.uniform(0.3, 1.5, size=(rows, len(self.item_names) - 1))
            out[self.name("loading_free")] = rest if self.class_specific else rest[0]
        else:
            if positive.any():
                out[self.name("loading_positive")] = rng.uniform(0.5, 1.5, size=int(positive.sum()))
            if free.any():
                out[self.name("loading_free")] = rng.uniform(0.3, 1.5, size=int(free.sum()))
        if self.n_membership:
            out[self.name("membership_sd")] = rng.uniform(0.5, 2.0, size=self.n_membership)
        if self.class_variance:  # in full; the fixed sd_1 = 1 is dropped by the start machinery
            out[self.name("sd")] = np.r_[1.0, rng.uniform(0.6, 1.6, size=len(self.class_names) - 1)]
        return out
