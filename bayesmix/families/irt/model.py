"""The 3PL model object (section 9): :class:`ThreePLModel`, a :class:`FactorMixtureModel` with IRT results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import expit, log_expit, log_ndtr, logit

from ..fma.model import FactorMixtureModel


class ThreePLModel(FactorMixtureModel):
    """The 3PL model in either parameterization; :meth:`irt_parameters` gives both (eq. 48-50).

    Built by :func:`bayesmix.irt_3pl`; a :class:`FactorMixtureModel`.

    Attributes
    ----------
    parameterization : str
        ``"direct"`` (eq. 42) or ``"fma-gom"`` (eq. 43-47).

    Examples
    --------
    >>> lsat = bm.datasets.load("lsat7")
    >>> m = bm.irt_3pl(lsat, list(lsat.columns))
    >>> m.parameterization
    'direct'
    """

    @property
    def parameterization(self) -> str:
        """``"direct"`` (eq. 42) or ``"fma-gom"`` (eq. 43-47)."""
        return self.options["parameterization"]

    def item_factor_form(self):
        """Both parameterizations for the Bock-Aitkin EM of ML starts (:mod:`~bayesmix.inference.em_irt`).

        Direct (eq. 42): P = g_i + (1 - g_i) F(tau_i + lambda_i eta), gamma_i = logit g_i.
        FMA-GoM (eq. 43-47): the ability class's tau_i2, lambda_i2 and the item's class
        logit gamma_i, with P(y = 1 | guessing class) = F(15) (eq. 45). None with
        ``fixed=`` / ``equal=`` constraints.

        Returns
        -------
        ItemFactorForm or None
            The mapping to and from (tau, lambda, gamma) per item (:class:`~bayesmix.inference.em_irt.ItemFactorForm`).

        Examples
        --------
        >>> bm.irt_3pl(lsat, items, parameterization="fma-gom").item_factor_form().log_c   # doctest: +SKIP
        -3.059e-07
        """
        from ...inference.em_irt import ItemFactorForm
        from ...parameters import free_start, with_full
        from .factory import TAU_GUESSING
        factor, kernel, registry = self.factor, self.kernels[0], self.parameters
        guess = np.asarray(self.options["guessing"], dtype=float)
        loading = {factor.name("loading_positive"), factor.name("loading_free")}
        if list(kernel.names) != factor.item_names:
            return None
        if self.parameterization == "direct":
            if not self._free_names_within({"binary_logit", "irt_guessing", "irt_guessing_free"} | loading):
                return None

            def to_items(values):
                full = with_full(registry, values)
                g = np.asarray(full["irt_guessing"], dtype=float)
                with np.errstate(divide="ignore"):
                    gamma = logit(g)
                return np.asarray(full["binary_logit"], dtype=float)[0], factor.loadings_of(full)[0], gamma

            def from_items(tau, lam, gamma):
                start = {"binary_logit": np.asarray(tau)[None], "irt_guessing": expit(gamma),
                         **factor.loading_values(np.asarray(lam)[None])}
                return free_start(registry, start)

            return ItemFactorForm(kernel, self.options["link"], to_items, from_items,
                                  guessing_free=np.isnan(guess), positive=factor.positive_loadings()[0])
        if not self._free_names_within({"binary_logit_free", "guessing_logit", "guessing_logit_free"} | loading):
            return None
        n_items = len(kernel.names)

        def to_items(values):
            full = with_full(registry, values)
            return (np.asarray(full["binary_logit"], dtype=float)[1], factor.loadings_of(full)[1],
                    np.asarray(full["guessing_logit"], dtype=float))

        def from_items(tau, lam, gamma):
            start = {"binary_logit": np.vstack([np.full(n_items, TAU_GUESSING), tau]),
                     "guessing_logit": np.asarray(gamma, dtype=float),
                     **factor.loading_values(np.vstack([np.zeros(n_items), lam]))}
            return free_start(registry, start)

        log_c = float(log_expit(TAU_GUESSING) if self.options["link"] == "logit" else log_ndtr(TAU_GUESSING))
        return ItemFactorForm(kernel, self.options["link"], to_items, from_items, guessing_free=np.isnan(guess),
                              positive=factor.positive_loadings()[1], log_c=log_c)

    def irt_graphs(self) -> dict:
        """Graphs of g, a, b (eq. 42) and gamma, lambda_2, tau_2 (eq. 44-47) in terms of the model's RVs.

        Returns
        -------
        dict
            Quantity -> (I,) graph: ``g``, ``a``, ``b``, ``gamma``, ``lambda``, ``tau``.

        Examples
        --------
        >>> graphs = m.irt_graphs()                     # doctest: +SKIP
        """
        kernel = self.kernels[0]
        lam = self.factor.loading_matrix[-1]
        tau = kernel.params["binary_logit"][-1]
        if self.parameterization == "direct":
            g = kernel.params["irt_guessing"]
            gamma = pt.log(pt.maximum(g, 1e-300)) - pt.log1p(-g)
        else:
            gamma = self.guessing_logit
            g = pt.sigmoid(gamma)
        return {"g": g, "a": lam, "b": -tau / lam, "gamma": gamma, "lambda": lam, "tau": tau}

    def irt_parameters(self, result, ci_prob: float | None = None, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.irt.conversions.irt_parameters`."""
        from .conversions import irt_parameters
        return irt_parameters(self, result, ci_prob, **kwargs)

    def _curves(self, grid):
        graph, items = self._curve_graph(grid)  # (G, I, K)
        if self.parameterization == "fma-gom":
            membership = pt.exp(self.log_membership)  # (I, K)
            graph = (graph * membership[None]).sum(axis=-1, keepdims=True)
        return graph, items, ["3PL"]
