"""SBC cases of bm.fma (eq. 36-37) and bm.fma_gom (eq. 38-41)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from ...sbc_cases import (PROBIT_PRIORS, SBCCase, bernoulli, binary_template, builder, categorical, class_proportions,
                          free_softmax, item_names)


def _loadings_and_intercepts(values, items: list[str], k: int) -> dict[str, np.ndarray]:
    """lambda_i and tau_ic of eq. 36 / 38, one quantity each."""
    lam = np.asarray(values["factor_loading"])
    tau = np.asarray(values["binary_logit"])
    out = {f"loading[{item}]": lam[:, i] for i, item in enumerate(items)}
    out.update({f"tau[{item}|class{c + 1}]": tau[:, c, i] for c in range(k) for i, item in enumerate(items)})
    return out


def fma_case(n_units: int = 80, n_items: int = 5, priors: dict | None = None, **_) -> SBCCase:
    """FMA (eq. 36-37): C_j ~ softmax(a), P(y_ij = 1 | c, eta_j) = Phi(tau_ic + lambda_i eta_j); K = 2."""
    items, k = item_names(n_items), 2
    priors = {**PROBIT_PRIORS, **(priors or {})}

    build = builder("fma", items, k, priors=priors)

    def simulate(theta, rng):
        classes = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_units, k)))
        eta = np.asarray(theta["factor_z"])[:, 0]
        p = stats.norm.cdf(np.asarray(theta["binary_logit"])[classes] + eta[:, None] * theta["factor_loading"])
        return pd.DataFrame(bernoulli(rng, p), columns=items)

    def quantities(values):
        return {**class_proportions(values), **_loadings_and_intercepts(values, items, k)}

    return SBCCase("fma", f"bm.fma K=2, invariant loadings, probit, {n_units} persons x {n_items} binary items",
                   build, binary_template(n_units, items), simulate, quantities, priors)


def fma_gom_case(n_units: int = 80, n_items: int = 5, priors: dict | None = None, **_) -> SBCCase:
    """FMA-GoM (eq. 38-41): C_ij with logit a + sd z_j, Phi(tau_{C_ij, i} + lambda_i eta_j); K = 2."""
    items, k = item_names(n_items), 2
    priors = {**PROBIT_PRIORS, **(priors or {})}

    build = builder("fma_gom", items, k, priors=priors)

    def simulate(theta, rng):
        z = np.asarray(theta["factor_z"])  # (N, 2): eta, membership z
        alpha = theta["class_intercept"][0] + theta["factor_membership_sd"][0] * z[:, 1]
        item_class = (rng.random((n_units, n_items)) >= expit(alpha)[:, None]).astype(int)  # 0 = class1 (eq. 39)
        tau = np.asarray(theta["binary_logit"])[item_class, np.arange(n_items)[None, :]]
        p = stats.norm.cdf(tau + z[:, :1] * theta["factor_loading"][None, :])  # eq. 38
        return pd.DataFrame(bernoulli(rng, p), columns=items)

    def quantities(values):
        return {"class_intercept": np.asarray(values["class_intercept"])[:, 0],
                "membership_sd": np.asarray(values["factor_membership_sd"])[:, 0],
                **_loadings_and_intercepts(values, items, k)}

    return SBCCase("fma_gom", f"bm.fma_gom K=2, invariant loadings, probit, {n_units} persons x {n_items} binary "
                   "items", build, binary_template(n_units, items), simulate, quantities, priors)


#: case name -> case maker, per family
FMA_CASES = {"fma": fma_case}
FMA_GOM_CASES = {"fma_gom": fma_gom_case}
