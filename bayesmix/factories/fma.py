"""Factor mixture analysis and FMA-GoM (paper section 8, eq. 36-41).

FMA / mixture IRT (eq. 36-37): person j has a class C_j and a standard
normal factor eta_j; given both the items are independent,

    P(Y_ij = 1 | C_j = c, eta_j) = F(tau_ic + lambda_ic eta_j)          (36)
    P(C_j = c) = exp(alpha_c) / sum_k exp(alpha_k)                         (37)

with F the normal (probit, the paper's Phi) or logistic distribution
function. The factor enters every item kernel as a ``shift`` of its linear
predictor, lambda_i eta_j (class-invariant loadings) or lambda_ic eta_j
(class-specific), so ordinal and continuous items work the same way
(ordinal: P(y <= k) = F(tau_k - lambda eta); continuous: mean + lambda eta).
``n_classes=1`` is the ordinary one-factor IRT model (2PL with the logit
link, normal-ogive 2PL with the probit link).

FMA-GoM (eq. 38-41): the class is item-specific, C_ij, with person-level
membership logits alpha_cj = alpha_c + sd_c z_cj, integrated jointly with
eta_j (2-D quadrature for K = 2); the item-level marginalization is
:class:`~bayesmix.structure.ItemClasses` (the GoM structure) with the factor
in the kernels' shift. For K = 2 it has one parameter more than
FMA (the SD of alpha_1j); as the SD grows the item classes of a person
coincide and FMA is the limit (the ICC of alpha_1j, sd^2 / (sd^2 + pi^2/3),
tends to 1).

eta_j ~ N(0, 1) in every class by default: class-specific factor means are
absorbed by the class-specific intercepts. ``fma(...,
factor_variance="class-specific")`` lets Var(eta | C = k) = sd_k^2 differ
by class with sd_1 = 1 (invariant loadings), as Mplus's mixture IRT does
(Mplus's FMA of Table 6 counts one parameter more than the default here).

The factor's sign is identified by a positive loading of the first item
(in every class when loadings are class-specific: each class's factor could
flip on its own); class labels are aligned after NUTS by the usual aligner
(class-specific loadings carry the class axis).

Maximum likelihood: invariant loadings are well behaved. Class-specific
loadings may have **no finite ML estimate** on short tests (a class whose
items are perfectly ordered by eta lets lambda grow without bound: a 2-class
mixture 2PL on the 5-item LSAT7 runs to discriminations in the hundreds).
:meth:`FactorMixtureModel.fit_ml` flags loadings beyond
:data:`LOADING_LIMIT` and says so plainly; a Bayesian fit (``fit_map``,
``sample``) stays proper through the loading prior Normal(0, 2.5).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.special import expit
from scipy.stats import norm

from ..class_model import ClassModel
from ..constraints import constrained_model
from ..data import encode
from ..kernels import CategoricalKernel, build_kernels
from ..latent import LatentEffects
from ..model import MixtureModel
from ..options import check_integration
from ..parameters import create, register, registry_of
from ..priors import DEFAULT_PRIORS, PriorSet, _valid_keywords
from ..structure import ItemClasses, WithinClasses
from .lca import class_labels

__all__ = ["fma", "fma_gom", "FactorMixtureModel", "PersonFactor", "LOADING_LIMIT", "FMA_START_SD",
           "FMA_LIMIT_SD", "MEMBERSHIP_SD_LIMIT", "observed_mask"]

#: |loading| beyond this (logit scale; probit: / 1.7) is reported as running to infinity by ``fit_ml``
LOADING_LIMIT = 10.0

#: SD of alpha_1j where ``fma_gom(...).fit_ml(start=fma_result)`` starts (ICC 0.97: near the FMA limit)
FMA_START_SD = 10.0

#: ... and the second start, at the limit (its log-likelihood is FMA's to ~1e-4)
FMA_LIMIT_SD = 1.0e4

#: an FMA-GoM membership SD beyond this (ICC 0.9997) is reported as the FMA limit by ``fit_ml``
MEMBERSHIP_SD_LIMIT = 100.0

#: priors of the parameters this module adds (overridable by name like DEFAULT_PRIORS)
IRT_PRIORS: dict[str, tuple[str, dict[str, Any]]] = {
    # factor loadings lambda_ic (eq. 36); the sign-identifying first loading is HalfNormal with this sigma
    "factor_loading": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    # SD of the person's membership logits alpha_cj (FMA-GoM, eq. 39)
    "membership_sd": ("HalfNormal", {"sigma": 2.5}),
    # class-specific factor SD sqrt(Var(eta | C = k)) relative to class 1 (fma(factor_variance="class-specific"))
    "factor_sd": ("LogNormal", {"mu": 0.0, "sigma": 1.0}),
    # 3PL guessing g_i (eq. 42): mean 0.23, 95% below 0.42
    "irt_guessing": ("Beta", {"alpha": 5.0, "beta": 17.0}),
    # 3PL in its FMA-GoM form: gamma_i, the logit of P(C_ij = guessing class) (eq. 44, 47)
    "guessing_logit": ("Normal", {"mu": -1.5, "sigma": 1.5}),
}


class IRTPriorSet(PriorSet):
    """:class:`~bayesmix.priors.PriorSet` that also knows :data:`IRT_PRIORS`."""

    def __init__(self, overrides: Mapping[str, Any] | None = None):
        super().__init__(overrides, known=set(DEFAULT_PRIORS) | set(IRT_PRIORS))

    @staticmethod
    def _check_keywords(name: str, spec: Any) -> None:
        if name not in IRT_PRIORS or isinstance(spec, tuple):
            return PriorSet._check_keywords(name, spec)
        valid = _valid_keywords(IRT_PRIORS[name][0], IRT_PRIORS[name])
        bad = [key for key in spec if valid is not None and key not in valid]
        if bad:
            raise ValueError(f"priors[{name!r}] has keyword(s) {bad} that {IRT_PRIORS[name][0]} does not take; "
                             f"valid keywords: {sorted(valid)}.")

    def defaults_for(self, name: str):
        return IRT_PRIORS[name] if name in IRT_PRIORS else super().defaults_for(name)


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


# --------------------------------------------------------------------------- model object
class FactorMixtureModel(MixtureModel):
    """A :class:`~bayesmix.MixtureModel` with a person factor: factor scores, item curves, ML checks.

    Built by :func:`bayesmix.fma` and :func:`bayesmix.fma_gom`.

    Attributes
    ----------
    factor : PersonFactor
        The factor eta_j and its loadings (eq. 36).

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.fma(lsat, list(lsat.columns), n_classes=2)
    >>> ml = m.fit_ml(starts=5, seed=1)            # doctest: +SKIP
    >>> m.loading_values(ml)                       # doctest: +SKIP
    """

    @property
    def factor(self) -> PersonFactor:
        """The person factor block (:class:`PersonFactor`): loadings, eta, the kernels' shift (eq. 36)."""
        return self.structure.latent

    # ------------------------------------------------------------- helpers
    def _draws(self, result, max_draws: int = 200):
        """List of dicts of free-RV values (no z): one for ML/MAP, up to ``max_draws`` for a posterior."""
        names = [rv.name for rv in self.model.free_RVs if rv.name not in self.integrated]
        if hasattr(result, "point"):
            return names, [[np.asarray(result.point[n]) for n in names]]
        from ..results import _posterior_dataset, iterate_draws
        posterior = _posterior_dataset(result)
        names = [n for n in names if n in posterior]
        sub = posterior[names]
        return names, [values for _, values in iterate_draws(self, sub, max_draws)]

    def _function(self, key, names, outputs):
        from ..results import draw_function
        fn = draw_function(self, key, outputs, names)
        return lambda *values: fn(*values)[0]

    # ------------------------------------------------------------- scores
    def factor_scores(self, result, *, hdi_prob: float = 0.94, points: int = 61,
                      max_draws: int = 200) -> pd.DataFrame:
        """EAP factor scores E[eta_j | y_j] with posterior SD and an equal-tailed interval.

        The posterior of eta_j is computed on a trapezoid grid of ``points`` nodes
        (classes and, for FMA-GoM, the membership effects integrated out); after
        NUTS it is averaged over draws, so the interval carries parameter
        uncertainty too. With a class-specific factor variance eta_j = sd_k z_j
        is on class 1's scale, its posterior a mixture over the classes (the
        interval read from it binned on 1,201 values).

        Parameters
        ----------
        result : MLResult, MAP result or DataTree
            An ML / MAP fit or a posterior (``sample``, ``fit_laplace``).
        hdi_prob : float
            Probability of the interval.
        points : int
            Grid nodes for eta.
        max_draws : int
            At most this many posterior draws are averaged.

        Returns
        -------
        DataFrame
            Units x (``eap``, ``sd``, ``lower``, ``upper``).

        Examples
        --------
        >>> m.factor_scores(ml).head()                  # doctest: +SKIP
        """
        from ..inference.quadrature import node_posterior, rule
        nodes, logw = rule("trapezoid", points, self.factor.n_dims)
        z = pt.as_tensor(nodes[:, None, :])
        weights = node_posterior(self.structure.conditional_loglik(z), logw)  # (Q, N)
        names, draws = self._draws(result, max_draws)
        if self.factor.class_variance:  # eta = sd_k z: a point per (node, class), weighted by P(z_q, k | y)
            joint = weights[:, :, None] * self.structure.class_posterior(z)  # (Q, N, K)
            sd_k = self.factor.params["class_sd"]
            from ..results import draw_function
            fn = draw_function(self, f"factor_scores:{points}:class_sd",
                               [pt.moveaxis(joint, 1, 2), nodes[:, 0, None] * sd_k[None, :]], names)
            per_draw = [[np.asarray(v) for v in fn(*values)] for values in draws]  # ((Q, K, N), (Q, K))
            eta_values = np.linspace(-1.0, 1.0, 1201) * max(np.max(np.abs(e)) for _, e in per_draw)
            grid = np.zeros((len(eta_values), len(self.data.units)))
            for w, e in per_draw:  # each draw's distribution binned onto one grid of eta values
                index = np.clip(np.searchsorted(eta_values, e.ravel()), 0, len(eta_values) - 1)
                np.add.at(grid, index, w.reshape(-1, w.shape[-1]) / len(per_draw))
            mean = np.mean([np.einsum("qkn,qk->n", w, e) for w, e in per_draw], axis=0)
            second = np.mean([np.einsum("qkn,qk->n", w, e**2) for w, e in per_draw], axis=0)
        else:
            fn = self._function(f"factor_scores:{points}", names, [weights])
            w = sum(np.asarray(fn(*values)) for values in draws) / len(draws)
            eta_values, inverse = np.unique(nodes[:, 0], return_inverse=True)
            grid = np.zeros((len(eta_values), w.shape[1]))
            np.add.at(grid, inverse, w)
            mean, second = eta_values @ grid, (eta_values**2) @ grid
        sd = np.sqrt(np.clip(second - mean**2, 0, None))
        cdf = np.cumsum(grid, axis=0)
        tail = (1 - hdi_prob) / 2
        lower = np.array([np.interp(tail, cdf[:, j], eta_values) for j in range(grid.shape[1])])
        upper = np.array([np.interp(1 - tail, cdf[:, j], eta_values) for j in range(grid.shape[1])])
        return pd.DataFrame({"eap": mean, "sd": sd, "lower": lower, "upper": upper},
                            index=pd.Index(self.data.units, name="unit"))

    # ------------------------------------------------------------- curves
    def _curve_graph(self, theta: np.ndarray):
        """(G, I, K) P(y = top code | theta, class) of binary/ordinal items, and item names."""
        z = pt.as_tensor(np.asarray(theta, float)[:, None, None])  # (G, 1, 1): the grid as units
        pieces, names = [], []
        for kernel in self.kernels:
            if kernel.kind not in ("binary", "ordinal"):
                continue
            shift = self.factor.shift(kernel.names, z, loading=self.factor.loading_matrix)[:, 0]  # eta: (G, I, Kl)
            table = kernel.log_prob_table(None, shift)  # (G, I, K, C)
            top = np.eye(kernel.max_categories)[np.asarray(kernel.n_categories) - 1]  # (I, C)
            pieces.append((pt.exp(table) * top[None, :, None, :]).sum(axis=-1))
            names.extend(kernel.names)
        return pt.concatenate(pieces, axis=1), names

    def item_curves(self, result, theta: Sequence[float] | None = None, max_draws: int = 200) -> pd.DataFrame:
        """Item characteristic curves: P(y_i = highest code | eta = theta, class) on a grid.

        Binary items give P(y = 1); ordinal items P(y = top category). 3PL models
        give the marginal curve g_i + (1 - g_i) F(a_i (theta - b_i)) as class ``"3PL"``.

        Parameters
        ----------
        result : MLResult, MAP result or DataTree
            An ML / MAP fit or a posterior (``sample``, ``fit_laplace``).
        theta : sequence of float, optional
            The grid (default -4..4 by 0.1).
        max_draws : int
            At most this many posterior draws are averaged.

        Returns
        -------
        DataFrame
            One row per (theta, item, class): ``theta``, ``item``, ``class``,
            ``probability`` (mean over draws after NUTS; the estimate after ML / MAP).

        Examples
        --------
        >>> curves = m.item_curves(ml)                  # doctest: +SKIP
        >>> curves.pivot_table("probability", "theta", ["item", "class"]).plot()   # doctest: +SKIP
        """
        grid = np.linspace(-4, 4, 81) if theta is None else np.asarray(theta, float)
        graph, items, classes = self._curves(grid)
        names, draws = self._draws(result, max_draws)
        fn = self._function(f"item_curves:{len(grid)}:{grid[0]}:{grid[-1]}", names, [graph])
        total = 0.0
        for values in draws:
            total = total + np.asarray(fn(*values))
        prob = total / len(draws)  # (G, I, K)
        g, i, k = np.meshgrid(np.arange(len(grid)), np.arange(len(items)), np.arange(len(classes)), indexing="ij")
        return pd.DataFrame({"theta": grid[g.ravel()], "item": np.asarray(items)[i.ravel()],
                             "class": np.asarray(classes)[k.ravel()], "probability": prob.ravel()})

    def _curves(self, grid):
        graph, items = self._curve_graph(grid)
        return graph, items, list(self.class_labels)

    # ------------------------------------------------------------- likelihood
    def exact_membership(self, integration: dict | None = None) -> bool:
        """Whether the log-likelihood integrates the membership exactly (FMA-GoM, K = 2).

        ``membership_integration="exact"`` (the :func:`fma_gom` default for two
        classes): only eta_j is integrated by quadrature, the membership logit
        alpha_1j in closed form over its normal distribution
        (:mod:`bayesmix.marginal.logit_normal`), so FMA -- the limit sd -> infinity
        -- is reached exactly. Adaptive quadrature uses the joint 2-D grid.

        Parameters
        ----------
        integration : dict, optional
            The setting (default: the model's).

        Returns
        -------
        bool

        Examples
        --------
        >>> bm.fma_gom(lsat, list(lsat.columns), 2).exact_membership()   # doctest: +SKIP
        True
        """
        return self.options.get("membership_integration") == "exact" and not self.settings(integration).get(
            "adaptive")

    def _eta_rule(self, settings: dict):
        from ..inference.quadrature import rule
        return rule(settings["method"], settings["points"], 1, settings.get("seed", 0))

    def integrated_loglik(self, integration: dict | None = None):
        """Per-person log-likelihood; FMA-GoM (K = 2) integrates its membership exactly (eq. 38-41).

        As :meth:`MixtureModel.integrated_loglik`; with :meth:`exact_membership`
        the quadrature runs over eta_j alone (``points`` then counts eta nodes,
        default 30 as in :func:`fma`) and at each node
        log p(y_j | eta) = log sum_a e_a(y_j, eta) E[m^a (1 - m)^(I - a)]
        (:func:`bayesmix.marginal.logit_normal.loglik`).

        Parameters
        ----------
        integration : dict, optional
            ``{"method": ..., "points": ...}`` (default: the model's).

        Returns
        -------
        TensorVariable
            (persons,) log-likelihoods, a graph of the free parameters.

        Examples
        --------
        >>> ll = m.integrated_loglik({"method": "gauss-hermite", "points": 40})   # doctest: +SKIP
        """
        settings = self.settings(integration)
        if not self.exact_membership(settings):
            return super().integrated_loglik(integration)
        key = ("integrated:exact-membership", tuple(sorted(settings.items())))
        if key not in self._cache:
            from ..marginal import logit_normal
            nodes, logw = self._eta_rule(settings)
            by_item = self.structure.loglik_by_item_at(pt.as_tensor(nodes[:, None, :]))  # (Q, N, I, 2)
            observed = self.structure.observed
            if observed is not None:  # a missing response: q_i1 = q_i2 = 1
                by_item = pt.switch(pt.neq(pt.as_tensor(observed), 0)[..., None], by_item, 0.0)
            n_items = len(self.data.items)
            moments = logit_normal.log_moments(self.class_model.params["class_intercept"][0],
                                               self.factor.params["membership_sd"][0], n_items)
            person = logit_normal.loglik(by_item[..., 0], by_item[..., 1], moments, n_items=n_items)
            self._cache[key] = pt.logsumexp(person + logw[:, None], axis=0)
        return self._cache[key]

    def work_size(self, integration: dict | None = None) -> int:
        """Elements per evaluation (decides the compile mode); the exact membership's recursion counted.

        Parameters
        ----------
        integration : dict, optional
            Quadrature setting (default: the model's).

        Returns
        -------
        int

        Examples
        --------
        >>> m.work_size()                               # doctest: +SKIP
        """
        settings = self.settings(integration)
        if not self.exact_membership(settings):
            return super().work_size(integration)
        n, items = int(self.data.n_units), len(self.data.items)
        return len(self._eta_rule(settings)[0]) * n * items * (items + 3) // 2

    # ------------------------------------------------------------- ML
    def loading_values(self, result) -> pd.DataFrame:
        """Loadings lambda at a fit (averaged over draws for a posterior).

        Parameters
        ----------
        result : MLResult, MAP result or DataTree
            An ML / MAP fit or a posterior (``sample``, ``fit_laplace``).

        Returns
        -------
        DataFrame
            Items x classes, or one column ``all`` for invariant loadings.

        Examples
        --------
        >>> m.loading_values(ml)                        # doctest: +SKIP
        """
        names, draws = self._draws(result, max_draws=200)
        fn = self._function("loadings", names, [self.factor.loading_matrix])
        lam = np.mean([np.asarray(fn(*v)) for v in draws], axis=0)
        cols = self.class_labels if self.factor.class_specific else ["all"]
        return pd.DataFrame(lam.T, index=pd.Index(self.factor.item_names, name="item"), columns=cols)

    def _starts_from(self, start):
        """User starts; an FMA solution given to FMA-GoM becomes starts near and at the FMA limit."""
        n_membership = self.structure.latent.n_membership
        if start is not None and self.factor.class_variance:  # the invariant solution is sd_k = 1
            return [{**dict(getattr(given, "point", given)), "factor_sd": np.ones(len(self.class_labels))}
                    if "factor_sd" not in dict(getattr(given, "point", given)) else given
                    for given in (start if isinstance(start, (list, tuple)) else [start])]
        if start is None or not n_membership:
            return start
        out = []
        for given in (start if isinstance(start, (list, tuple)) else [start]):
            point = dict(getattr(given, "point", given))
            if "factor_membership_sd" in point:
                out.append(given)
                continue
            for sd in (FMA_START_SD, FMA_LIMIT_SD) if n_membership == 1 else (FMA_START_SD,):
                near = {**point, "factor_membership_sd": np.full(n_membership, sd)}
                if n_membership == 1 and "class_intercept" in point:
                    # near the FMA limit P(C_ij = 1) = 1{alpha_1 + sd z > 0}: class 1 has probability
                    # Phi(alpha_1 / sd), which FMA's expit(alpha) sets
                    share = expit(np.asarray(point["class_intercept"], float))
                    near["class_intercept"] = sd * norm.ppf(np.clip(share, 1e-6, 1 - 1e-6))
                out.append(near)
        return out

    def fit_ml(self, starts: int | tuple[int, int] = 20, *, seed: int | None = None, start=None, **kwargs):
        """Marginal ML (eta integrated by quadrature), as :meth:`MixtureModel.fit_ml`; flags loadings that run to infinity.

        Class-specific loadings may have no finite ML estimate on short tests: the
        likelihood keeps rising as a loading grows. Loadings beyond
        :data:`LOADING_LIMIT` (logit scale) are listed in a warning and in
        ``result.infinite_loadings``; use ``loadings="invariant"``, or a Bayesian
        fit whose prior keeps them finite.

        Parameters
        ----------
        starts : int or (int, int)
            Random starts N or (N, M), as Mplus ``STARTS``.
        seed : int, optional
            Seed of the random starts.
        start : MLResult, MAP result, dict or a list of them, optional
            Start values joining the random ones (as :meth:`MixtureModel.fit_ml`),
            e.g. the FMA solution for a 2-class FMA-GoM: it gives two starts with
            FMA's class sizes (alpha_1 = sd * Phi^-1(pi_1)), one near the FMA limit
            (sd = :data:`FMA_START_SD`) and one at it (sd = :data:`FMA_LIMIT_SD`,
            whose log-likelihood is FMA's to ~1e-4, so LL(FMA-GoM) >= LL(FMA)
            whenever it reaches the final stage, as with ``starts=(N, M)``, M >= 2);
            or an FMA with invariant factor variance for ``factor_variance=
            "class-specific"``: it starts at sd_k = 1, its own solution.
        **kwargs
            As :meth:`MixtureModel.fit_ml`: ``tol``, ``integration``,
            ``max_iterations``, ``initial_iterations``, ``warn_unreplicated``,
            ``progressbar``.

        Returns
        -------
        MLResult
            As :meth:`MixtureModel.fit_ml`, plus ``infinite_loadings``: (item, class,
            value) of loadings past the limit, and ``at_fma_limit``: FMA-GoM's
            membership SD beyond :data:`MEMBERSHIP_SD_LIMIT` (a warning says so).

        Examples
        --------
        >>> ml = m.fit_ml(starts=10, seed=1)            # doctest: +SKIP
        >>> ml.infinite_loadings                        # doctest: +SKIP
        """
        result = super().fit_ml(starts, seed=seed, start=self._starts_from(start), **kwargs)
        result.at_fma_limit = False
        if self.structure.latent.n_membership:
            sd = np.ravel(result.point.get("factor_membership_sd", []))
            result.at_fma_limit = bool(sd.size and np.all(sd > MEMBERSHIP_SD_LIMIT))
            if result.at_fma_limit:
                warnings.warn(
                    f"the SD of the membership logits ran to {', '.join(f'{v:.3g}' for v in sd)} (ICC of alpha_j > "
                    f"{MEMBERSHIP_SD_LIMIT**2 / (MEMBERSHIP_SD_LIMIT**2 + np.pi**2 / 3):.4f}): FMA-GoM is at its FMA "
                    "limit (sd -> infinity), every person in one class for all items. The log-likelihood is FMA's; "
                    "the SEs of the SD and of class_intercept are meaningless. Report the FMA (bm.fma) instead.",
                    UserWarning, stacklevel=2)
        limit = LOADING_LIMIT if self.options.get("link", "logit") == "logit" else LOADING_LIMIT / 1.7
        lam = self.loading_values(result)
        big = [(i, c, float(v)) for i in lam.index for c, v in lam.loc[i].items() if abs(v) > limit]
        result.infinite_loadings = big
        if big:
            shown = ", ".join(f"{i}[{c}] = {v:.1f}" for i, c, v in big[:6])
            warnings.warn(
                f"no finite ML estimate: {len(big)} loading(s) grew past {limit:g} ({shown}) and the "
                "log-likelihood still rises as they grow, so their ML estimate is at infinity. This happens with "
                "class-specific loadings on short tests, when one class's answers are almost perfectly ordered "
                "along the factor. These loadings and their SEs are meaningless. Use loadings='invariant', or "
                "fit_map() / sample(), whose loading prior keeps them finite.", UserWarning, stacklevel=2)
        return result


def observed_mask(kernels) -> np.ndarray:
    """(N, I) 1 where a response is observed, items in the kernels' order (as ``loglik_by_item`` concatenates)."""
    parts = [k.onehot3.sum(axis=-1) if hasattr(k, "onehot3") else k.mask for k in kernels]
    return np.concatenate(parts, axis=1)


# --------------------------------------------------------------------------- factories
LOADINGS = ("invariant", "class-specific")
FACTOR_VARIANCES = ("invariant", "class-specific")


def _check(encoded, n_classes, loadings, link, integration):
    if loadings not in LOADINGS:
        raise ValueError(f"loadings={loadings!r} is unknown; use one of {LOADINGS}.")
    if link not in ("logit", "probit"):
        raise ValueError(f"link={link!r} is not supported; use 'logit' or 'probit'.")
    nominal = encoded.item_names("nominal")
    if nominal:
        raise ValueError(f"items {nominal} are nominal: a factor shifts one latent response, which nominal items "
                         "lack; declare them 'ordinal' or 'binary' with item_types=.")
    if loadings == "class-specific" and n_classes < 2:
        raise ValueError("loadings='class-specific' needs n_classes >= 2.")
    return check_integration(integration)


def _check_factor_variance(factor_variance, loadings, n_classes) -> bool:
    """``factor_variance`` of :func:`fma`; True for a class-specific variance."""
    if factor_variance not in FACTOR_VARIANCES:
        raise ValueError(f"factor_variance={factor_variance!r} is unknown; use one of {FACTOR_VARIANCES}.")
    if factor_variance == "invariant":
        return False
    if loadings != "invariant":
        raise ValueError("factor_variance='class-specific' needs loadings='invariant': with class-specific loadings "
                         "a class's factor variance is absorbed by its loadings (not identified).")
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError("factor_variance='class-specific' needs n_classes >= 2.")
    return True


def _parts(encoded, n_classes, loadings, link, priors, n_membership: int = 0, class_variance: bool = False):
    """Priors, labels, kernels, class model (eq. 37/39), coords and the person factor of one model."""
    prior_set = IRTPriorSet(priors)
    labels = class_labels(n_classes)
    kernels = build_kernels(encoded, link=link)
    class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)
    coords = {"class": labels, "unit": list(encoded.units), "item": encoded.item_names()}
    coords.update(class_model.coords(labels))
    for kernel in kernels:
        coords.update(kernel.coords())
    factor = PersonFactor(encoded.item_names(), encoded.n_units, class_specific=loadings == "class-specific",
                          class_names=labels, n_membership=n_membership, class_variance=class_variance)
    return prior_set, labels, kernels, class_model, coords, factor


def fma(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    loadings: str = "invariant",
    factor_variance: str = "invariant",
    link: str = "probit",
    item_types: str | Mapping[str, str] | None = None,
    covariates: Sequence[str] | None = None,
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
) -> FactorMixtureModel:
    """Factor mixture analysis / mixture IRT (eq. 36-37); ``n_classes=1`` is the 2PL / one-factor IRT model.

    P(Y_ij = 1 | C_j = c, eta_j) = F(tau_ic + lambda_ic eta_j) with eta_j ~ N(0, 1)
    and class-specific item intercepts tau_ic (``binary_logit``; thresholds for
    ordinal items, means for continuous ones). ``loadings="invariant"`` gives
    lambda_ic = lambda_i (the paper's restricted FMA of section 8),
    ``"class-specific"`` one loading per item and class (may have no finite
    ML estimate: see the module docstring). The class model is the
    multinomial logit of eq. 37 (with ``covariates``, eq. 4).

    ``factor_variance="class-specific"`` (with invariant loadings) lets the
    factor variance differ by class, Var(eta_j | C_j = k) = sd_k^2 with
    sd_1 = 1 (``factor_sd``, as Mplus's mixture IRT: class 1 sets the unit
    of eta), i.e. P(Y_ij = 1 | k, z_j) = F(tau_ik + lambda_i sd_k z_j): one
    parameter more per class beyond the first. Class 1 is then the scale
    reference, so its label is kept (classes are not reordered by size, and
    NUTS draws are not label-aligned: the two labelings are different modes,
    so check R-hat across chains). Start it from the invariant fit,
    ``fit_ml(start=invariant_result)``: sd_k = 1 is that model's solution.

    eta_j is integrated by quadrature for ML and for the per-person
    ``log_likelihood`` of LOO (``integration``, default trapezoid with 30
    points); NUTS samples the standardized ``factor_z``. The 2PL in IRT
    terms: a_i = lambda_i, b_i = -tau_i / lambda_i.

    Parameters
    ----------
    data : DataFrame
        One row per person; missing responses NaN.
    items : list of str
        Binary, ordinal or continuous item columns (nominal items take no factor).
    n_classes : int
        Number of latent classes (1: the 2PL / one-factor model).
    loadings : ``"invariant"`` or ``"class-specific"``
        lambda_i shared by the classes, or one per item and class.
    factor_variance : ``"invariant"`` or ``"class-specific"``
        eta_j ~ N(0, 1) in every class, or N(0, sd_k^2) with sd_1 = 1
        (needs invariant loadings and n_classes >= 2).
    link : ``"probit"`` or ``"logit"``
        Of binary and ordinal items.
    item_types : str or dict, optional
        As in :func:`bayesmix.lca`.
    covariates : list of str, optional
        Person covariates of the class logits (eq. 4).
    missing_codes : list or dict, optional
        Item codes that mean "missing" (survey codes such as -9, 9 or 999):
        ``[-9, 999]`` for every item or ``{"A": [9], "B": [-1]}`` per item;
        those cells become missing and leave the likelihood (full information).
        Without it, suspicious codes warn and are taken as real categories.
    priors : dict, optional
        Overrides by parameter name (e.g. ``factor_loading``).
    integration : dict, optional
        Quadrature over eta_j (default trapezoid, 30 points).
    fixed, equal : dict or list, optional
        Constraints by parameter name and coordinate labels (Mplus ``@`` and
        ``(1)``), e.g. ``fixed={"binary_logit[class1, A]": 0.0}``,
        ``equal={"binary_logit[*, A]": "class"}``; they hold for every estimator
        and leave the parameter count (:mod:`bayesmix.constraints`).

    Returns
    -------
    FactorMixtureModel
        ``factor_scores``, ``item_curves``, ``loading_values`` on top of the
        usual fits and results.

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.fma(lsat, list(lsat.columns), n_classes=1, link="logit")   # the 2PL
    >>> ml = m.fit_ml(starts=5, seed=1)          # LL -2658.805 (R mirt)   # doctest: +SKIP
    >>> m.factor_scores(ml).head()               # doctest: +SKIP
    """
    call = {"factory": "fma", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    class_variance = _check_factor_variance(factor_variance, loadings, n_classes)
    encoded = encode(data, items, n_classes, item_types=item_types, covariates=covariates,
                     missing_codes=missing_codes)
    integration = _check(encoded, n_classes, loadings, link, integration)
    prior_set, labels, kernels, class_model, coords, factor = _parts(encoded, n_classes, loadings, link, priors,
                                                                     class_variance=class_variance)
    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        for kernel in kernels:
            kernel.build(prior_set)
        factor.build(prior_set)

        def measurement(z):
            return sum(kernel.loglik(shift=factor.shift(kernel.names, z)) for kernel in kernels)

        structure = WithinClasses(lambda z: class_model.log_prior(), measurement, encoded.n_units, latent=factor)
        structure.add_potential()
    prior_set.check_unused()
    return FactorMixtureModel(
        model=model, data=encoded, kernels=kernels, class_model=class_model, class_labels=labels,
        structure=structure, name="fma",
        options={"call": call, "link": link, "loadings": loadings, "factor_variance": factor_variance},
        integration=integration, sample_size=encoded.n_units, sample_size_basis="persons (rows)",
    )


def fma_gom(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    loadings: str = "invariant",
    link: str = "probit",
    item_types: str | Mapping[str, str] | None = None,
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
    membership_integration: str = "exact",
) -> FactorMixtureModel:
    """FMA-GoM (eq. 38-41): item-specific classes C_ij with person membership logits and a factor.

    P(Y_ij = 1 | C_ij = c, eta_j) = F(tau_ic + lambda_ic eta_j)                    (38)
    P(C_ij = c | alpha_j) = softmax_c(alpha_cj), alpha_cj = alpha_c + sd_c z_cj     (39)

    For K = 2 the log-likelihood integrates eta_j by quadrature (default
    trapezoid, 30 points, as :func:`fma`) and alpha_1j exactly: given eta the
    item classes and the normal membership logit have a closed form through
    I + 1 moments of the membership (:mod:`bayesmix.marginal.logit_normal`).
    FMA (eq. 36-37) is the limit sd -> infinity, where the membership becomes
    a step in z that no fixed grid over alpha_1j represents: on a 15 x 15
    grid LL(FMA-GoM) fell 0.8 below LL(FMA) on the ADHD-like data of section
    8, while the exact form reaches LL(FMA) with the same eta rule, so the
    nesting LL(FMA-GoM) >= LL(FMA) holds. For K > 2 (or
    ``membership_integration="quadrature"``, or adaptive quadrature) eta_j and
    the K-1 alpha_cj (independent normal effects, last class the reference)
    are integrated jointly on a product grid (default trapezoid 15 x 15 for
    K = 2). For K = 2 FMA-GoM has one parameter more than FMA
    (``factor_membership_sd``). ``membership_icc``
    is sd^2 / (sd^2 + pi^2/3), the ICC of alpha_1j reported in section 8
    (86% for the ADHD data).

    Parameters
    ----------
    data : DataFrame
        One row per person; missing responses NaN.
    items : list of str
        Binary, ordinal or continuous item columns.
    n_classes : int
        Number of item-level classes (>= 2).
    loadings : ``"invariant"`` or ``"class-specific"``
        As in :func:`bayesmix.fma`.
    link : ``"probit"`` or ``"logit"``
        Of binary and ordinal items.
    item_types : str or dict, optional
        As in :func:`bayesmix.lca`.
    missing_codes : list or dict, optional
        Item codes that mean "missing" (survey codes such as -9, 9 or 999):
        ``[-9, 999]`` for every item or ``{"A": [9], "B": [-1]}`` per item;
        those cells become missing and leave the likelihood (full information).
        Without it, suspicious codes warn and are taken as real categories.
    priors : dict, optional
        Overrides by parameter name.
    integration : dict, optional
        Quadrature over eta_j alone with the exact membership (``points``:
        eta nodes, default 30), else over (eta_j, alpha_j) jointly (``points``
        per dimension, default 15).
    fixed, equal : dict or list, optional
        Constraints by parameter name and coordinate labels (Mplus ``@`` and
        ``(1)``), e.g. ``fixed={"binary_logit[class1, A]": 0.0}``,
        ``equal={"binary_logit[*, A]": "class"}``; they hold for every estimator
        and leave the parameter count (:mod:`bayesmix.constraints`).
    membership_integration : ``"exact"`` or ``"quadrature"``
        K = 2: the membership logit integrated in closed form (default) or on
        the joint grid with eta (the only way for K > 2). Posterior summaries
        (membership scores, item classes) use the joint grid either way.

    Returns
    -------
    FactorMixtureModel
        With ``membership_icc`` among its variables.

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.fma_gom(lsat, list(lsat.columns), n_classes=2)
    >>> fma = bm.fma(lsat, list(lsat.columns), n_classes=2).fit_ml(seed=1)   # doctest: +SKIP
    >>> ml = m.fit_ml(starts=5, seed=1, start=fma)    # start at the FMA solution   # doctest: +SKIP
    """
    call = {"factory": "fma_gom", "arguments": dict(locals())}  # to rebuild: save/load, predict (issue 13)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"fma_gom needs n_classes >= 2 (item-level classes), got {n_classes!r}.")
    if membership_integration not in ("exact", "quadrature"):
        raise ValueError(f"membership_integration={membership_integration!r} is unknown; use 'exact' (K = 2) or "
                         "'quadrature'.")
    encoded = encode(data, items, n_classes, item_types=item_types, missing_codes=missing_codes)
    integration = _check(encoded, n_classes, loadings, link, integration)
    prior_set, labels, kernels, class_model, coords, factor = _parts(encoded, n_classes, loadings, link, priors,
                                                                     n_membership=n_classes - 1)
    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        registry = registry_of()
        if "class_intercept" in registry:  # alpha_c, the mean of alpha_cj, grows with sd_c toward the FMA limit:
            registry.add(dataclasses.replace(registry["class_intercept"], bounded=False))  # not a bounded logit
        for kernel in kernels:
            kernel.build(prior_set)
        factor.build(prior_set)
        var = pt.square(factor.params["membership_sd"])
        pm.Deterministic("membership_icc", var / (var + np.pi**2 / 3), dims=f"{factor.prefix}_membership")

        def by_item(z):
            return pt.concatenate([kernel.loglik_by_item(shift=factor.shift(kernel.names, z)) for kernel in kernels],
                                  axis=-2)

        def log_membership(z):  # (..., N|1, K): the same for every item (eq. 39)
            return class_model.log_prior(offset=factor.membership_offset(z))

        tables = None
        if all(isinstance(kernel, CategoricalKernel) for kernel in kernels):  # per (item, category) at shared nodes
            tables = lambda z: [(kernel.node_table(shift=factor.shift(kernel.names, z)), kernel.onehot3)  # noqa: E731
                                for kernel in kernels]
        structure = ItemClasses(log_membership, by_item, encoded.n_units, observed=observed_mask(kernels),
                                latent=factor, per_item=False,
                                shared_log_membership_at=log_membership if class_model.covariates is None else None,
                                tables_at=tables)
        structure.add_potential()
    prior_set.check_unused()
    return FactorMixtureModel(
        model=model, data=encoded, kernels=kernels, class_model=class_model, class_labels=labels,
        structure=structure, name="fma_gom", options={
            "call": call, "link": link, "loadings": loadings,
            "membership_integration": "exact" if membership_integration == "exact" and n_classes == 2 else "quadrature"},
        integration=integration, sample_size=encoded.n_units, sample_size_basis="persons (rows)",
    )
