"""SBC cases of bm.gom: logistic-normal, restricted one-factor and Dirichlet memberships."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ...sbc_cases import (PROBIT_PRIORS, SBCCase, bernoulli, binary_template, builder, categorical, free_softmax,
                          item_names, item_probabilities)


def gom_case(membership: str, n_units: int = 80, n_items: int = 5, priors: dict | None = None, **_) -> SBCCase:
    """GoM (eq. 28-30, 34-35; Erosheva's Dirichlet): C_ij ~ Categorical(g_j), y_ij ~ Bernoulli(Phi(tau_{C_ij, i}))."""
    items, k = item_names(n_items), 2
    priors = {**PROBIT_PRIORS, **(priors or {})}

    build = builder("gom", items, k, membership=membership, priors=priors)

    def simulate(theta, rng):
        if membership == "dirichlet":
            g = np.asarray(theta["membership_g"])  # (N, K)
        else:
            scale = theta["membership_sd"] if membership == "logistic-normal" else theta["membership_loading"]
            g = free_softmax(theta["class_intercept"][None, :] + theta["membership_z"] * scale[None, :])
        item_class = categorical(rng, np.broadcast_to(g[:, None, :], (n_units, n_items, k)))  # eq. 29-30
        p = stats.norm.cdf(np.asarray(theta["binary_logit"]))[item_class, np.arange(n_items)[None, :]]  # eq. 28
        return pd.DataFrame(bernoulli(rng, p), columns=items)

    def quantities(values):
        out = {}
        if membership == "dirichlet":
            a = np.asarray(values["membership_concentration"])
            out.update({"concentration[class1]": a[:, 0], "concentration[class2]": a[:, 1],
                        "mean membership[class1]": a[:, 0] / a.sum(axis=1)})
        else:
            out["class_intercept"] = np.asarray(values["class_intercept"])[:, 0]
            name = "membership_sd" if membership == "logistic-normal" else "membership_loading"
            out[name] = np.asarray(values[name])[:, 0]
        out.update(item_probabilities(values, "binary_logit", items, "probit", k))
        return out

    label = membership.replace("-", "_")
    return SBCCase(f"gom_{label}", f"bm.gom membership={membership!r}, K=2, probit, {n_units} persons x {n_items} "
                   "binary items", build, binary_template(n_units, items), simulate, quantities, priors)


#: case name -> case maker
CASES = {
    "gom_logistic_normal": lambda **kw: gom_case("logistic-normal", **kw),
    "gom_restricted": lambda **kw: gom_case("restricted", **kw),
    "gom_dirichlet": lambda **kw: gom_case("dirichlet", **kw),
}
