"""The grade-of-membership model object (section 7): :class:`GoMModel`, the EM's view of its membership."""

from __future__ import annotations

import numpy as np

from ...model import MixtureModel

__all__ = ["GoMModel"]


class GoMModel(MixtureModel):
    """A :class:`~bayesmix.MixtureModel` built by :func:`bayesmix.gom`; the likelihood is the base class's.

    Examples
    --------
    >>> m = bm.gom(bm.datasets.load("carcinoma"), list("ABCDEFG"), 2)   # doctest: +SKIP
    >>> m.membership_form().n_classes                                    # doctest: +SKIP
    2
    """

    def membership_form(self):
        """The membership logits alpha + Lambda z for the GoM EM of ML starts (:mod:`~bayesmix.inference.em_gom`).

        Lambda is the Cholesky factor of Sigma (``"logistic-normal"``, eq. 34; the SD for K = 2)
        or the one-factor loadings (``"restricted"``, eq. 35). None for the Dirichlet form,
        covariates (eq. 33), item covariates, clusters, ``fixed=`` / ``equal=`` and items
        without a closed-form M step (continuous, proportional-odds ordinal).

        Returns
        -------
        MembershipForm or None

        Examples
        --------
        >>> bm.gom(df, items, 3, membership="restricted").membership_form().free.shape   # doctest: +SKIP
        (2, 1)
        """
        if self.options.get("membership") not in ("logistic-normal", "restricted") or self.options.get("item_covariates"):
            return None
        arguments = (self.options.get("call") or {}).get("arguments", {})
        if arguments.get("fixed") is not None or arguments.get("equal") is not None:
            return None
        latent = self.latent
        if latent is None or latent.w is not None or self.structure.cluster_index is not None:
            return None
        if self.class_model.covariates is not None or not self.kernels:
            return None
        if not all(kernel.em_supported and kernel.discrete for kernel in self.kernels):
            return None
        kinds = {"diagonal": ("sd",), "cholesky": ("chol",), "factor": ("loading_first", "loading_rest")}
        if latent.form not in kinds:
            return None
        membership = {latent.name(part) for part in kinds[latent.form]}
        items = {name for kernel in self.kernels for name in kernel.parameter_names()}
        names = {rv.name for rv in self.model.free_RVs} - set(self.integrated)
        if "class_intercept" not in names or not names <= {"class_intercept"} | membership | items:
            return None
        from ...inference.em_gom import MembershipForm
        d, form = latent.n_effects, latent.form
        rows, cols = np.tril_indices(d)

        def to_membership(values):
            alpha = np.asarray(values["class_intercept"], dtype=float).reshape(-1)
            if form == "diagonal":
                lam = np.diag(np.asarray(values[latent.name("sd")], dtype=float).reshape(-1))
            elif form == "cholesky":
                lam = np.zeros((d, d))
                lam[rows, cols] = np.asarray(values[latent.name("chol")], dtype=float)
            else:
                first = np.asarray(values[latent.name("loading_first")], dtype=float).reshape(1)
                rest = np.asarray(values.get(latent.name("loading_rest"), []), dtype=float).reshape(-1)
                lam = np.concatenate([first, rest])[:, None]
            return alpha, lam

        def from_membership(alpha, lam):
            out = {"class_intercept": np.asarray(alpha, dtype=float)}
            if form == "diagonal":
                out[latent.name("sd")] = np.diagonal(lam).copy()
            elif form == "cholesky":
                out[latent.name("chol")] = np.asarray(lam)[rows, cols]
            else:
                out[latent.name("loading_first")] = np.asarray(lam[0, 0])
                if d > 1:
                    out[latent.name("loading_rest")] = np.asarray(lam[1:, 0])
            return out

        if form == "factor":
            free, sign_rows = np.ones((d, 1), bool), np.array([0])
        else:
            free, sign_rows = np.tril(np.ones((d, d), bool)) if form == "cholesky" else np.eye(d, dtype=bool), np.arange(d)
        return MembershipForm(list(self.kernels), self.n_classes, free, sign_rows, to_membership, from_membership)
