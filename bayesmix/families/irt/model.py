"""The 3PL model object (section 9): :class:`ThreePLModel`, a :class:`FactorMixtureModel` with IRT results."""

from __future__ import annotations

import pandas as pd
import pytensor.tensor as pt

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
