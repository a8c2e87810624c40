"""The mixture SEM model object: :class:`MixtureSEMModel` (factor scores, structural tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from ...model import MixtureModel

__all__ = ["MixtureSEMModel"]


class MixtureSEMModel(MixtureModel):
    """A :class:`~bayesmix.MixtureModel` with within-class factors and structural regressions (eq. 2-4).

    Built by :func:`bayesmix.mixture_sem`. ``spec`` is the validated
    description (:class:`~bayesmix.families.mixture_sem.spec.WithinSpec`),
    ``within`` the factor block (:class:`~bayesmix.latent.structural.WithinFactors`,
    None without factors and direct effects).
    """

    @property
    def spec(self):
        return self.options["within_spec"]

    @property
    def within(self):
        return self.options.get("block")

    def _point_function(self, key: str, outputs, result):
        """Compile ``outputs`` of the free parameters and evaluate them at an ML / MAP ``result``."""
        from ...evaluate import as_fit
        from ...results import draw_function
        fit = as_fit(result)
        if not fit.is_point:
            raise ValueError("this table takes an ML or MAP result (fit_ml / fit_map) or a point dict; for a "
                             "posterior, evaluate it at draws of your choice.")
        names = [rv.name for rv in self.model.free_RVs if rv.name not in self.integrated]
        fn = draw_function(self, key, outputs, names)
        return [np.asarray(v) for v in fn(*[np.asarray(fit.point[n]) for n in names])]

    def factor_scores(self, result, integration: dict | None = None) -> pd.DataFrame:
        """EAP factor scores E[eta_if | y_i, x_i] and posterior SDs, classes and factors integrated out.

        sum_q P(z_q | y_i) sum_c P(C_i = c | y_i, z_q) eta_c(z_q) on the model's quadrature
        rule (or ``integration``); an ML or MAP ``result``.

        Returns
        -------
        DataFrame
            Persons x (factor, ``eap`` | ``sd``).
        """
        block = self.within
        if block is None or not block.factor_names:
            raise ValueError("this model has no factors (factors= was empty): nothing to score.")
        if self.spec.random:
            raise ValueError("factor_scores of a model with cluster random coefficients (random=) are not available "
                             "yet (the scores need the cluster effects integrated too); use sample() and the "
                             "posterior of factor_z, or the one-level model.")

        def moments(z):
            post = self.structure.class_posterior(z)[..., None]  # (..., N, K, 1)
            eta = block.eta(z)  # (..., N|1, K, F)
            return pt.concatenate([(post * eta).sum(axis=-2), (post * eta**2).sum(axis=-2)], axis=-1)

        graph = self.posterior_expectation(moments, "unit", integration)
        (values,) = self._point_function(f"factor_scores:{integration}", [graph], result)
        n_f = len(block.factor_names)
        mean, second = values[:, :n_f], values[:, n_f:]
        sd = np.sqrt(np.clip(second - mean**2, 0.0, None))
        columns = pd.MultiIndex.from_product([block.factor_names, ["eap", "sd"]], names=["factor", "statistic"])
        data = np.stack([mean, sd], axis=-1).reshape(len(mean), -1)
        return pd.DataFrame(data, index=pd.Index(self.data.units, name="unit"), columns=columns)

    def structural_table(self, result) -> pd.DataFrame:
        """Class-specific measurement and structural coefficients, one row per (class, path), lavaan style.

        ``op``: ``=~`` loadings (eq. 2), ``~`` regressions among factors (B) and on
        covariates (Gamma; items: direct effects K), ``~1`` factor means (structural
        intercepts mu_c), ``~~`` residual (co)variances of the factors (Psi_c).
        Estimates at an ML or MAP ``result`` (no SEs here: see ``result.params``).
        """
        block = self.within
        if block is None:
            raise ValueError("this model has no factors or direct effects: see result.params / profiles().")
        ones = block._ones()
        outputs = [block.params["loading"] * ones, block.params["factor_mean"]]
        outputs.append(block.params["B"] * ones if block.params["B"] is not None else pt.zeros((1,)))
        outputs.append(block.params["Gamma"] * ones if block.params["Gamma"] is not None else pt.zeros((1,)))
        outputs.append(block.params["K"] * ones if block.params["K"] is not None else pt.zeros((1,)))
        if block.random_names:
            s = block.loading_z * ones
            outputs.append(pt.matmul(s, pt.swapaxes(s, -1, -2)))
        lam, mu, b, gamma, kx, *psi = self._point_function("structural_table", outputs, result)
        rows = []
        for c, label in enumerate(self.class_labels):
            for f, loads in self.spec.factors.items():
                for item in loads:
                    rows.append((label, f, "=~", item, lam[c, block.f_index[f], block.i_index[item]]))
            for lhs, rhs in self.spec.factor_regressions:
                rows.append((label, lhs, "~", rhs, b[c, block.f_index[lhs], block.f_index[rhs]]))
            for lhs, x in self.spec.covariate_effects:
                rows.append((label, lhs, "~", x, gamma[c, block.x_names.index(x), block.f_index[lhs]]))
            for lhs, x in self.spec.item_covariate_effects:
                rows.append((label, lhs, "~", x, kx[c, block.x_names.index(x), block.i_index[lhs]]))
            for f in block.factor_names:
                rows.append((label, f, "~1", "", mu[c, block.f_index[f]]))
            if psi:
                for r, f in enumerate(block.random_names):
                    for s_, g in enumerate(block.random_names[: r + 1]):
                        rows.append((label, f, "~~", g, psi[0][c, r, s_]))
        return pd.DataFrame(rows, columns=["class", "lhs", "op", "rhs", "estimate"])
