"""Within-class factors with structural regressions (paper eq. 2-3): :class:`WithinFactors`.

Person i in class c has F factors

    eta_i = mu_c + B_c eta_i + Gamma_c' x_i + xi_i,   xi_i ~ N(0, Psi_c)          (eq. 3)
          = A_c (mu_c + Gamma_c' x_i + S_c z_i),      A_c = (I - B_c)^-1, z_i ~ N(0, I_R)

non-centered: z_i are the R standardized residuals of the factors with a
variance (``zero_variance`` factors have none: latent class growth
analysis), S_c = diag(sd_c) L_c with L_c the Cholesky factor of the
residual correlations (free among exogenous factors, zero otherwise). They
enter the items' linear predictors (eq. 2) as the kernels' ``shift``

    y*_ij = nu_jc + sum_f lambda_c[f, j] eta_if + K_c[., j]' x_i                     (eq. 2)

so every kernel type but nominal carries factors and direct covariate
effects. B is acyclic (checked by :func:`bayesmix.families.mixture_sem.spec.parse`),
so A_c = I + B_c + ... + B_c^(F-1) exactly. NUTS samples z (``factor_z``,
dims ``(unit, factor_random)``); ML integrates it on a product rule
(:meth:`WithinFactors.rule`, refused beyond :data:`MAX_NODES` nodes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..parameters import create, register
from ..priors import PriorSet
from .base import LatentEffects

__all__ = ["MAX_NODES", "WithinFactors"]

#: largest product rule (points ** R) :meth:`WithinFactors.rule` builds; beyond it ML is refused
MAX_NODES = 4096


class WithinFactors(LatentEffects):
    """The factors of a within-level mixture SEM (see the module docstring).

    Parameters
    ----------
    spec : WithinSpec
        The validated description (:mod:`bayesmix.families.mixture_sem.spec`).
    item_names : all items of the model (coord ``item``), the order of :meth:`shift`'s item axis.
    n_units : persons N.
    class_names : the K class labels.
    covariates : (N, P) the factor / item covariates (columns ``covariate_names``) or None.
    item_scale : (I,) a scale per item (SD of continuous items, 1 otherwise) for priors and starts.
    item_location : (I,) item means (continuous; 0 otherwise) for starts of growth-factor means.
    """

    def __init__(self, spec, item_names: Sequence[str], n_units: int, class_names: Sequence[str],
                 covariates: np.ndarray | None = None, covariate_names: Sequence[str] = (),
                 item_scale: np.ndarray | None = None, item_location: np.ndarray | None = None):
        self.spec = spec
        self.factor_names = spec.factor_names
        self.random_names = spec.random_factors
        super().__init__(self.random_names, None, n_units, form="diagonal", dim="factor_random",
                         level_dim="unit", prefix="factor")
        self.item_names = list(item_names)
        self.class_names = list(class_names)
        self.n_classes = len(self.class_names)
        self.x = covariates
        self.x_names = list(covariate_names)
        self.item_scale = np.ones(len(self.item_names)) if item_scale is None else np.asarray(item_scale, float)
        self.item_location = (np.zeros(len(self.item_names)) if item_location is None
                              else np.asarray(item_location, float))
        f_index = {f: k for k, f in enumerate(self.factor_names)}
        i_index = {i: k for k, i in enumerate(self.item_names)}
        self.f_index, self.i_index = f_index, i_index
        n_f, n_i = len(self.factor_names), len(self.item_names)
        # loading pattern (F, I): NaN free, value fixed (0 where an item does not load)
        pattern = np.zeros((n_f, n_i))
        self.sign = np.zeros((n_f, n_i), bool)  # the first free loading of a standardized factor: positive
        for f, loads in spec.factors.items():
            for item, value in loads.items():
                pattern[f_index[f], i_index[item]] = np.nan if value is None else value
            if spec.kind(f) == "standardized":
                self.sign[f_index[f], i_index[next(iter(loads))]] = True
        self.pattern = pattern
        self.scaled_factors = [f for f in self.factor_names if spec.kind(f) == "standardized"]
        self.class_specific = set(spec.class_specific)
        self._random_design()

    def _random_design(self) -> None:
        """Constant maps of the cluster random coefficients u_j (eq. 5) onto the within model.

        For D terms of ``spec.random``: ``factor_map`` (D, F) and ``factor_weight`` (N, D) add
        u_jd (mean) or u_jd x_i (slope) to factor f's intercept; ``item_map`` (D, I) and
        ``item_weight`` (N, D) add u_jd (intercept) or u_jd x_i (direct effect) to item j's
        linear predictor; ``b_map`` (D, F, F) and ``loading_map`` (D, F, I) add u_jd to B or Lambda.
        """
        terms = list(getattr(self.spec, "random", ()))
        self.random_terms = terms
        d, n_f, n_i = len(terms), len(self.factor_names), len(self.item_names)
        n = 1 if self.x is None else self.x.shape[0]
        self.factor_map, self.factor_weight = np.zeros((d, n_f)), np.zeros((n, d))
        self.item_map, self.item_weight = np.zeros((d, n_i)), np.zeros((n, d))
        self.b_map, self.loading_map = np.zeros((d, n_f, n_f)), np.zeros((d, n_f, n_i))
        for k, t in enumerate(terms):
            x = 1.0 if t.kind in ("mean", "intercept") else None
            if t.kind in ("slope", "direct"):
                x = self.x[:, self.x_names.index(t.rhs)]
            if t.kind in ("mean", "slope"):
                self.factor_map[k, self.f_index[t.lhs]] = 1.0
                self.factor_weight[:, k] = x
            elif t.kind in ("intercept", "direct"):
                self.item_map[k, self.i_index[t.lhs]] = 1.0
                self.item_weight[:, k] = x
            elif t.kind == "regression":
                self.b_map[k, self.f_index[t.lhs], self.f_index[t.rhs]] = 1.0
            else:  # loading
                self.loading_map[k, self.f_index[t.lhs], self.i_index[t.rhs]] = 1.0

    # ------------------------------------------------------------------ metadata
    @property
    def n_effects(self) -> int:
        return len(self.random_names)

    @property
    def n_dims(self) -> int:
        return len(self.random_names)

    def _rows(self, group: str) -> int:
        return self.n_classes if group in self.class_specific else 1

    def _class_dims(self, group: str, *dims: str) -> tuple:
        return (("class",) if group in self.class_specific else ()) + dims

    def _class_meta(self, group: str) -> dict:
        return {"class_axis": 0, "class_dim": "class"} if group in self.class_specific else {}

    @property
    def corr_pairs(self) -> list[tuple[int, int]]:
        """(row, col) positions among the random factors of free residual correlations (exogenous pairs)."""
        if self.spec.orthogonal:
            return []
        exo = [r for r, f in enumerate(self.random_names) if f not in self.spec.endogenous]
        return [(exo[a], exo[b]) for a in range(len(exo)) for b in range(a)]

    def coords(self) -> dict:
        out = {"factor": self.factor_names, "factor_random": self.random_names,
               "factor_random_": self.random_names}
        if self.scaled_factors:
            out["factor_scaled"] = self.scaled_factors
        if self.corr_pairs:
            out["factor_pair"] = [f"{self.random_names[r]} ~~ {self.random_names[c]}" for r, c in self.corr_pairs]
        if self.spec.factor_regressions:
            out["factor_path"] = [f"{a} ~ {b}" for a, b in self.spec.factor_regressions]
        if self.spec.covariate_effects:
            out["factor_covariate_path"] = [f"{a} ~ {b}" for a, b in self.spec.covariate_effects]
        if self.spec.item_covariate_effects:
            out["item_covariate_path"] = [f"{a} ~ {b}" for a, b in self.spec.item_covariate_effects]
        return out

    def variable_names(self) -> tuple[str, ...]:
        return ("factor_z", "loading", "loading_first", "loading_matrix", "factor_mean", "factor_sd", "factor_corr_raw",
                "factor_regression", "factor_covariate_effect", "item_covariate_effect", "factor_cov")

    # ------------------------------------------------------------------ build
    def _mean_pattern(self) -> np.ndarray:
        pattern = np.zeros((self.n_classes, len(self.factor_names)))
        for k in range(self.n_classes):
            for f in self.factor_names:
                if self.spec.free_mean(f, k):
                    pattern[k, self.f_index[f]] = np.nan
        return pattern

    def _sd_pattern(self) -> np.ndarray:
        rows = self._rows("variances")
        pattern = np.full((rows, len(self.random_names)), np.nan)
        for r, f in enumerate(self.random_names):
            if f in self.scaled_factors:
                pattern[0, r] = 1.0  # variance 1 in class 1 (in every class when invariant)
        return pattern

    def _indicator_scale(self, f: str) -> float:
        idx = [self.i_index[i] for i in self.spec.indicators(f)]
        return float(np.max(self.item_scale[idx]))

    def build(self, priors: PriorSet) -> None:
        """Create the block's parameters and z in the model in context."""
        model = pm.modelcontext(None)
        for name, values in self.coords().items():
            if name not in model.coords:
                model.add_coord(name, values)
        meta = {"latent": self.prefix}
        n_f, n_i, k = len(self.factor_names), len(self.item_names), self.n_classes
        # loadings Lambda_c (eq. 2)
        rows = self._rows("loadings")
        pattern = np.broadcast_to(self.pattern, (rows, n_f, n_i)).copy()
        sign = np.broadcast_to(self.sign, (rows, n_f, n_i))
        pattern[sign] = 0.0  # placed by loading_first
        scale = np.broadcast_to(2.5 * self.item_scale, pattern.shape)
        if rows == 1:
            pattern, scale = pattern[0], scale[0]
        lam = None
        if np.isnan(pattern).any() or self.sign.any():
            if np.isnan(pattern).any():
                lam = create(priors, "loading", dims=self._class_dims("loadings", "factor", "item"),
                             fixed=pattern, prior={"sigma": scale}, bounded=False, **self._class_meta("loadings"),
                             **meta)
            else:
                lam = pt.as_tensor(pattern)
            if self.sign.any():
                firsts = [self.i_index[next(iter(self.spec.factors[f]))] for f in self.scaled_factors]
                first_scale = 2.5 * self.item_scale[firsts]
                first_scale = np.broadcast_to(first_scale, (rows, len(firsts)))
                first = priors.create("loading_first", dims=self._class_dims("loadings", "factor_scaled"),
                                      sigma=first_scale if rows > 1 else first_scale[0])
                register("loading_first", **self._class_meta("loadings"), **meta)
                f_rows = [self.f_index[f] for f in self.scaled_factors]
                lam3 = lam if rows > 1 else lam[None]
                lam3 = pt.set_subtensor(lam3[:, f_rows, firsts], pt.reshape(first, (rows, len(firsts))))
                lam = lam3 if rows > 1 else lam3[0]
        else:
            lam = pt.as_tensor(pattern)
        pm.Deterministic("loading_matrix", lam, dims=self._class_dims("loadings", "factor", "item"))
        self.params["loading"] = lam if rows > 1 else lam[None]  # (Kl, F, I)
        # factor means mu_c (structural intercepts), data-scaled priors
        mean_scale = np.array([2.5 * self._indicator_scale(f) + np.max(np.abs(
            self.item_location[[self.i_index[i] for i in self.spec.indicators(f)]])) for f in self.factor_names])
        self.params["factor_mean"] = create(priors, "factor_mean", dims=("class", "factor"),
                                            fixed=self._mean_pattern(),
                                            prior={"sigma": np.broadcast_to(mean_scale, (k, n_f))},
                                            bounded=False, class_axis=0, class_dim="class", **meta)
        # residual SDs and correlations Psi_c
        if self.random_names:
            rows_v = self._rows("variances")
            sd_scale = np.array([2.5 * self._indicator_scale(f) for f in self.random_names])
            sd = create(priors, "factor_sd", dims=self._class_dims("variances", "factor_random"),
                        fixed=self._sd_pattern() if rows_v > 1 else self._sd_pattern()[0],
                        prior={"sigma": np.broadcast_to(sd_scale, (rows_v, len(sd_scale))) if rows_v > 1
                               else sd_scale}, **self._class_meta("variances"), **meta)
            sd = sd if rows_v > 1 else sd[None]  # (Kv, R)
            r = len(self.random_names)
            chol = pt.zeros((rows_v, r, r)) + pt.eye(r)[None]
            if self.corr_pairs:
                raw = create(priors, "factor_corr_raw", dims=self._class_dims("variances", "factor_pair"),
                             bounded=False, **self._class_meta("variances"), **meta)
                raw = raw if rows_v > 1 else raw[None]
                rr, cc = zip(*self.corr_pairs)
                unit = pt.set_subtensor(chol[:, list(rr), list(cc)], raw)
                chol = unit / pt.sqrt(pt.sum(pt.square(unit), axis=-1, keepdims=True))  # unit rows: correlations
            self.params["factor_sd"] = sd
            self.loading_z = sd[:, :, None] * chol  # (Kv, R, R): S_c = diag(sd_c) L_c
            cov = pt.matmul(self.loading_z, pt.swapaxes(self.loading_z, -1, -2))
            pm.Deterministic("factor_cov", cov if rows_v > 1 else cov[0],
                             dims=self._class_dims("variances", "factor_random", "factor_random_"))
        # B (F, F) among factors
        self.params["B"] = None
        if self.spec.factor_regressions:
            rows_b = self._rows("regressions")
            b = create(priors, "factor_regression", dims=self._class_dims("regressions", "factor_path"),
                       bounded=False, **self._class_meta("regressions"), **meta)
            b = b if rows_b > 1 else b[None]
            lhs = [self.f_index[a] for a, _ in self.spec.factor_regressions]
            rhs = [self.f_index[c] for _, c in self.spec.factor_regressions]
            self.params["B"] = pt.set_subtensor(pt.zeros((rows_b, n_f, n_f))[:, lhs, rhs], b)
        # Gamma (P, F) and K (P, I)
        self.params["Gamma"] = self._slopes(priors, "factor_covariate_effect", "covariate_effects",
                                            "factor_covariate_path", self.spec.covariate_effects, self.f_index, n_f,
                                            meta)
        self.params["K"] = self._slopes(priors, "item_covariate_effect", "item_covariate_effects",
                                        "item_covariate_path", self.spec.item_covariate_effects, self.i_index, n_i,
                                        meta)
        if self.random_names:
            self.z = pm.Normal(self.z_name, 0.0, 1.0, dims=(self.level_dim, self.dim))
            register(self.z_name, bounded=False, **meta)
            self.params["z"] = self.z
        else:
            self.z = None

    def _slopes(self, priors, name, group, dim, paths, index, size, meta):
        if not paths:
            return None
        rows = self._rows(group)
        sd_x = np.array([np.std(self.x[:, self.x_names.index(x)]) + 1e-12 for _, x in paths])
        target = np.array([2.5 * (self.item_scale[index[a]] if name.startswith("item") else 1.0) for a, _ in paths])
        sigma = target / sd_x
        v = create(priors, name, dims=self._class_dims(group, dim), bounded=False,
                   prior={"sigma": np.broadcast_to(sigma, (rows, len(paths))) if rows > 1 else sigma},
                   **self._class_meta(group), **meta)
        v = v if rows > 1 else v[None]
        lhs = [index[a] for a, _ in paths]
        rhs = [self.x_names.index(x) for _, x in paths]
        return pt.set_subtensor(pt.zeros((rows, len(self.x_names), size))[:, rhs, lhs], v)  # (Kg, P, size)

    # ------------------------------------------------------------------ values
    def _ones(self):
        return pt.ones((self.n_classes, 1, 1))

    def total_effects(self):
        """A_c = (I - B_c)^-1 (K, F, F) (B nilpotent: the finite power series)."""
        n_f = len(self.factor_names)
        eye = pt.eye(n_f)[None] * self._ones()
        b = self.params["B"]
        if b is None:
            return eye
        b = b * self._ones()
        total, power = eye, eye
        for _ in range(n_f - 1):
            power = pt.matmul(power, b)
            total = total + power
        return total

    def z_loadings(self):
        """M_c = A_c S_c (K, F, R): the factors' loadings on the standardized z."""
        r = len(self.random_names)
        rows = [self.f_index[f] for f in self.random_names]
        s = pt.set_subtensor(pt.zeros((self.loading_z.shape[0], len(self.factor_names), r))[:, rows, :],
                             self.loading_z)
        return pt.matmul(self.total_effects(), s * self._ones())

    def fixed_eta(self):
        """E[eta_i | class c, x_i] = A_c (mu_c + Gamma_c' x_i): (N or 1, K, F)."""
        base = self.params["factor_mean"][None]  # (1, K, F)
        if self.params["Gamma"] is not None:
            base = base + pt.tensordot(pt.as_tensor(self.x), self.params["Gamma"] * self._ones(), axes=[[1], [1]])
        a = self.total_effects()  # (K, F, F)
        return (a[None] * base[:, :, None, :]).sum(axis=-1)

    def eta(self, z=None):
        """Factor values (..., N or 1, K, F) at standardized z (..., N or 1, R); the sampled z by default."""
        eta = self.fixed_eta()
        if self.random_names:
            z = self.z if z is None else z
            eta = eta + (z[..., :, None, None, :] * self.z_loadings()).sum(axis=-1)  # (..., N, K, F)
        return eta

    def shift(self, z=None):
        """The items' linear-predictor shift (..., N or 1, I, K) at z (all items, ``item`` order)."""
        lam = self.params["loading"] * self._ones()  # (K, F, I)
        fixed = (self.fixed_eta()[..., :, :, None] * lam[None]).sum(axis=-2)  # (N|1, K, I)
        if self.params["K"] is not None:
            fixed = fixed + pt.tensordot(pt.as_tensor(self.x), self.params["K"] * self._ones(), axes=[[1], [1]])
        total = fixed
        if self.random_names:
            z = self.z if z is None else z
            w = pt.matmul(pt.swapaxes(lam, -1, -2), self.z_loadings())  # (K, I, R)
            total = total + (z[..., :, None, None, :] * w).sum(axis=-1)  # (..., N, K, I)
        return pt.swapaxes(total, -1, -2)

    # ------------------------------------------------------------------ cluster random coefficients (eq. 5)
    def _uses(self, *kinds: str) -> bool:
        return any(t.kind in kinds for t in self.random_terms)

    def _residual_eta(self, z):
        """A-free residual part S_c z (..., N or 1, K, F) of the factors at standardized z (..., N or 1, R)."""
        r = len(self.random_names)
        rows = [self.f_index[f] for f in self.random_names]
        s = pt.set_subtensor(pt.zeros((self.loading_z.shape[0], len(self.factor_names), r))[:, rows, :],
                             self.loading_z) * self._ones()  # (K, F, R)
        return (z[..., :, None, None, :] * s).sum(axis=-1)

    def eta_at(self, z, u):
        """Factors (..., N, K, F) at within z (..., N or 1, R) and unit random coefficients u (..., N, D).

        eta_i = (I - B_c - B_u)^-1 (mu_c + u_mu + (Gamma_c + Gamma_u)' x_i + S_c z_i) (eq. 3 with the
        cluster deviations u_j of eq. 5 added to the coefficients named in ``random=``).
        """
        base = self.params["factor_mean"][None]  # (1, K, F)
        if self.params["Gamma"] is not None:
            base = base + pt.tensordot(pt.as_tensor(self.x), self.params["Gamma"] * self._ones(), axes=[[1], [1]])
        if self._uses("mean", "slope"):
            base = base + pt.matmul(u * self.factor_weight, self.factor_map)[..., :, None, :]  # (..., N, 1, F)
        if self.random_names and z is not None:
            base = base + self._residual_eta(z)
        if not self._uses("regression"):
            return (self.total_effects() * base[..., None, :]).sum(axis=-1)
        b = self.params["B"] * self._ones()  # (K, F, F)
        b = b + pt.tensordot(u, self.b_map, axes=[[-1], [0]])[..., :, None, :, :]  # (..., N, K, F, F)
        eye = pt.eye(len(self.factor_names))
        total, power = eye + pt.zeros_like(b), eye + pt.zeros_like(b)
        for _ in range(len(self.factor_names) - 1):  # B acyclic, so B + B_u has the same zero pattern: nilpotent
            power = pt.matmul(power, b)
            total = total + power
        return (total * base[..., None, :]).sum(axis=-1)

    def shift_at(self, z, u):
        """The items' linear-predictor shift (..., N, I, K) at within z and unit random coefficients u (..., N, D).

        Lambda_cj' eta_i + (K_c + K_u)' x_i + nu_u (eq. 2 with the random item intercepts, direct
        effects and loadings of ``random=``); with u = 0 it is :meth:`shift`.
        """
        if u is not None:  # D statically known: a length-1 effect axis must broadcast (pytensor checks statically)
            u = pt.specify_shape(pt.as_tensor(u), (None,) * (pt.as_tensor(u).ndim - 1) + (len(self.random_terms),))
        total = 0.0
        if self.factor_names:
            eta = self.eta_at(z, u)  # (..., N, K, F)
            lam = self.params["loading"] * self._ones()  # (K, F, I)
            if self._uses("loading"):
                lam = lam + pt.tensordot(u, self.loading_map, axes=[[-1], [0]])[..., :, None, :, :]
            total = (eta[..., :, :, :, None] * lam).sum(axis=-2)  # (..., N, K, I)
        if self.params["K"] is not None:
            total = total + pt.tensordot(pt.as_tensor(self.x), self.params["K"] * self._ones(), axes=[[1], [1]])
        if self._uses("intercept", "direct"):
            total = total + pt.matmul(u * self.item_weight, self.item_map)[..., :, None, :]  # (..., N, 1, I)
        total = total + pt.zeros((self.n_levels, self.n_classes, len(self.item_names)))
        return pt.swapaxes(total, -1, -2)

    def shifted_items(self) -> list[str]:
        """Items whose linear predictor the block moves: a nonzero (or free) loading or a direct covariate effect."""
        loads = np.any(np.isnan(self.pattern) | (self.pattern != 0), axis=0)
        direct = {item for item, _ in self.spec.item_covariate_effects}
        direct |= {t.lhs for t in self.random_terms if t.kind in ("intercept", "direct")}
        return [name for j, name in enumerate(self.item_names) if loads[j] or name in direct]

    # ------------------------------------------------------------------ simulation (posterior predictive)
    def item_shift(self, names, z):
        """The shift of the items ``names`` at standardized z (..., N or 1, len(names), K) (eq. 2), None if none moves.

        Lambda_c' eta_i(z) + K_c' x_i of :meth:`shift` for those items: the kernels' latent shift
        (:meth:`~bayesmix.kernels.base.ItemKernel.latent_shift`), so posterior predictive replicates
        draw the items given the factors (eq. 2-3). ``z`` None: the sampled z, or none when every
        factor has zero variance (latent class growth: the shift is the class's fixed trajectory,
        and the block is a model component rather than its latent block). Items no factor loads on
        and without direct effects (class indicators, nominal items) are not shifted.
        """
        if self.random_terms:
            raise ValueError("posterior predictive replicates of a mixture_sem with cluster random coefficients "
                             "(random=) are not available yet: they need new cluster effects and new factors drawn "
                             "together; check the one-level model, or compare models by LOO (per cluster).")
        moved = set(self.shifted_items())
        if not any(name in moved for name in names):
            return None
        idx = [self.i_index[name] for name in names]
        return self.shift(z)[..., idx, :]

    def values(self, z=None, broadcast: bool = True):
        """eta of the first class, (..., N, F) -- for the generic latent interface; use :meth:`eta`."""
        return self.eta(z)[..., 0, :]

    def covariance(self):
        m = self.z_loadings()
        return pt.matmul(m, pt.swapaxes(m, -1, -2))

    # ------------------------------------------------------------------ integration
    def rule(self, method: str, points: int | None, seed: int = 0):
        """The product rule over the R standardized factors; refused beyond :data:`MAX_NODES` nodes."""
        from ..inference.quadrature import default_points, rule
        d = self.n_dims
        q = points if points is not None else (default_points(d) if method != "monte-carlo" else 500)
        nodes = q if method == "monte-carlo" else q**d
        if nodes > MAX_NODES:
            raise ValueError(f"integrating {d} factors with {q} points each needs {q}**{d} = {nodes:,} quadrature "
                             f"nodes per person (limit {MAX_NODES:,}): ML by quadrature is not practical here. "
                             "Use sample() (NUTS samples the standardized factors per person) or fit_map(), or "
                             f"fewer points, e.g. integration={{'method': 'gauss-hermite', 'points': "
                             f"{int(MAX_NODES ** (1 / d))}}}.")
        return rule(method, q, d, seed)

    def random_start(self, rng: np.random.Generator) -> dict:
        n_f, n_i, k = len(self.factor_names), len(self.item_names), self.n_classes
        out: dict = {}
        rows = self._rows("loadings")
        if np.isnan(self.pattern).any():
            lam = np.where(np.isnan(self.pattern), rng.uniform(0.5, 1.2, size=self.pattern.shape) * self.item_scale,
                           self.pattern)
            lam = np.where(self.sign, 0.0, lam)
            out["loading"] = np.broadcast_to(lam, (rows, n_f, n_i)).copy() if rows > 1 else lam
        if self.sign.any():
            firsts = [self.i_index[next(iter(self.spec.factors[f]))] for f in self.scaled_factors]
            value = rng.uniform(0.5, 1.2, size=(rows, len(firsts))) * self.item_scale[firsts]
            out["loading_first"] = value if rows > 1 else value[0]
        # means: growth factors from the item means (least squares on the fixed loadings), others near 0
        spread = np.array([1.0 if f in self.scaled_factors else self._indicator_scale(f) for f in self.factor_names])
        mean = rng.uniform(-1.5, 1.5, size=(k, n_f)) * spread  # classes apart: mixtures need spread starts
        growth = [f for f in self.factor_names if self.spec.kind(f) == "fixed"]
        if growth:
            g_idx = [self.f_index[f] for f in growth]
            items = sorted({self.i_index[i] for f in growth for i in self.spec.indicators(f)})
            design = self.pattern[np.ix_(g_idx, items)].T  # (I_g, G)
            coef = np.linalg.lstsq(design, self.item_location[items], rcond=None)[0]
            spread = np.array([self._indicator_scale(f) for f in growth])
            mean[:, g_idx] = coef + rng.uniform(-0.7, 0.7, size=(k, len(growth))) * spread
        out["factor_mean"] = mean
        if self.random_names:
            rows_v = self._rows("variances")
            scale = np.array([1.0 if f in self.scaled_factors else 0.5 * self._indicator_scale(f)
                              for f in self.random_names])
            sd = rng.uniform(0.6, 1.2, size=(rows_v, len(scale))) * scale
            sd[0, [r for r, f in enumerate(self.random_names) if f in self.scaled_factors]] = 1.0
            out["factor_sd"] = sd if rows_v > 1 else sd[0]
            if self.corr_pairs:
                raw = rng.uniform(-0.3, 0.3, size=(rows_v, len(self.corr_pairs)))
                out["factor_corr_raw"] = raw if rows_v > 1 else raw[0]
        if self.spec.factor_regressions:
            rows_b = self._rows("regressions")
            b = rng.uniform(-0.3, 0.3, size=(rows_b, len(self.spec.factor_regressions)))
            out["factor_regression"] = b if rows_b > 1 else b[0]
        for name, group, paths in (("factor_covariate_effect", "covariate_effects", self.spec.covariate_effects),
                                   ("item_covariate_effect", "item_covariate_effects",
                                    self.spec.item_covariate_effects)):
            if paths:
                rows_g = self._rows(group)
                v = np.zeros((rows_g, len(paths)))
                out[name] = v if rows_g > 1 else v[0]
        return out
