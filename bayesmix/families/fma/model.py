"""The factor mixture model object (sections 8-9): :class:`FactorMixtureModel` and its result methods.

FMA and FMA-GoM models keep :class:`~bayesmix.MixtureModel`'s likelihood (FMA-GoM's
exact membership integral lives in :class:`~bayesmix.structure.ItemClasses`); this
class adds factor scores, item curves and the starts near the FMA limit
(``fit_ml(start=fma_result)``), and the limits it reports at.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import expit
from scipy.stats import norm

from ...latent import PersonFactor
from ...model import MixtureModel
from ..._warn import PACKAGE_FRAMES


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

    # ------------------------------------------------------------- the Bock-Aitkin EM's view (ML starts)
    def _free_names_within(self, allowed: set[str]) -> bool:
        """The free variables (latent z aside) are among ``allowed``, and no ``fixed=`` / ``equal=`` was given."""
        arguments = (self.options.get("call") or {}).get("arguments", {})
        if arguments.get("fixed") is not None or arguments.get("equal") is not None:
            return False
        names = {rv.name for rv in self.model.free_RVs} - set(self.integrated)
        return names <= allowed

    def item_factor_form(self):
        """The 2PL (``n_classes=1``, binary items) for the Bock-Aitkin EM of ML starts (:mod:`~bayesmix.inference.em_irt`).

        None for every other factor mixture (classes, covariates, non-binary items, constraints).

        Returns
        -------
        ItemFactorForm or None
            (tau, lambda, gamma = -inf) per item and back (:class:`~bayesmix.inference.em_irt.ItemFactorForm`).

        Examples
        --------
        >>> bm.fma(lsat, items, 1, link="logit").item_factor_form().link   # doctest: +SKIP
        'logit'
        """
        factor = getattr(self.structure, "latent", None)
        if self.n_classes != 1 or len(self.kernels) != 1 or not isinstance(factor, PersonFactor):
            return None
        kernel = self.kernels[0]
        if kernel.kind != "binary" or not kernel.em_supported or factor.n_membership or factor.class_variance:
            return None
        if getattr(self.class_model, "covariates", None) is not None or list(kernel.names) != factor.item_names:
            return None
        if not self._free_names_within({"binary_logit", factor.name("loading_positive"), factor.name("loading_free")}):
            return None
        from ...inference.em_irt import ItemFactorForm
        n_items = len(kernel.names)

        def to_items(values):
            tau = np.asarray(values["binary_logit"], dtype=float).reshape(-1)
            return tau, factor.loadings_of(values)[0], np.full(n_items, -np.inf)

        def from_items(tau, lam, gamma):
            return {"binary_logit": np.asarray(tau, dtype=float)[None], **factor.loading_values(np.asarray(lam)[None])}

        return ItemFactorForm(kernel, self.options["link"], to_items, from_items,
                              guessing_free=np.zeros(n_items, bool), positive=factor.positive_loadings()[0])

    # ------------------------------------------------------------- helpers
    def _draws(self, result, max_draws: int = 200):
        """(names, values per draw) of the free RVs (no z): one for ML/MAP, up to ``max_draws`` for a posterior."""
        from ...evaluate import parameter_draws
        return parameter_draws(self, result, max_draws=max_draws)

    def _function(self, key, names, outputs):
        from ...results import draw_function
        fn = draw_function(self, key, outputs, names)
        return lambda *values: fn(*values)[0]

    # ------------------------------------------------------------- scores
    def factor_scores(self, result, *, ci_prob: float | None = None, points: int = 61,
                      max_draws: int = 200, hdi_prob: float | None = None) -> pd.DataFrame:
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
        ci_prob : float, optional
            Probability of the equal-tailed interval (default ArviZ's ``stats.ci_prob``, 0.89;
            the interval is read from the gridded posterior: equal-tailed only).
        points : int
            Grid nodes for eta.
        max_draws : int
            At most this many posterior draws are averaged.
        hdi_prob : float, optional
            Deprecated (a ``FutureWarning``); an HDI is not available here: use ``ci_prob``.

        Returns
        -------
        DataFrame
            Units x (``eap``, ``sd``, ``lower``, ``upper``).

        Examples
        --------
        >>> m.factor_scores(ml).head()                  # doctest: +SKIP
        """
        from ...evaluate import interval_arguments
        from ...inference.quadrature import node_posterior, rule
        ci_prob, ci_kind = interval_arguments(ci_prob, None if hdi_prob is not None else "eti", hdi_prob)
        if ci_kind != "eti":
            raise ValueError("factor_scores reads its interval from the gridded posterior of eta: equal-tailed "
                             "only; use ci_prob= (hdi_prob= is deprecated).")
        nodes, logw = rule("trapezoid", points, self.factor.n_dims)
        z = pt.as_tensor(nodes[:, None, :])
        weights = node_posterior(self.structure.conditional_loglik(z), logw)  # (Q, N)
        names, draws = self._draws(result, max_draws)
        if self.factor.class_variance:  # eta = sd_k z: a point per (node, class), weighted by P(z_q, k | y)
            joint = weights[:, :, None] * self.structure.class_posterior(z)  # (Q, N, K)
            sd_k = self.factor.params["class_sd"]
            from ...results import draw_function
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
        tail = (1 - ci_prob) / 2
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
                    UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
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
                "fit_map() / sample(), whose loading prior keeps them finite.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
        return result


#: |loading| beyond this (logit scale; probit: / 1.7) is reported as running to infinity by ``fit_ml``
LOADING_LIMIT = 10.0


#: SD of alpha_1j where ``fma_gom(...).fit_ml(start=fma_result)`` starts (ICC 0.97: near the FMA limit)
FMA_START_SD = 10.0


#: ... and the second start, at the limit (its log-likelihood is FMA's to ~1e-4)
FMA_LIMIT_SD = 1.0e4


#: an FMA-GoM membership SD beyond this (ICC 0.9997) is reported as the FMA limit by ``fit_ml``
MEMBERSHIP_SD_LIMIT = 100.0
