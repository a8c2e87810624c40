"""SBC cases of bm.irt_3pl: direct (eq. 42) and as a constrained FMA-GoM (eq. 43-47)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ...sbc_cases import SBCCase, bernoulli, binary_template, builder, item_names


def irt_3pl_case(n_units: int = 100, n_items: int = 5, priors: dict | None = None, **_) -> SBCCase:
    """3PL direct (eq. 42): P(y_ij = 1) = g_i + (1 - g_i) expit(tau_i + lambda_i eta_j)."""
    items = item_names(n_items, "q")
    priors = dict(priors or {})

    build = builder("irt_3pl", items, priors=priors or None)

    def simulate(theta, rng):
        eta = np.asarray(theta["factor_z"])[:, 0]
        g = np.asarray(theta["irt_guessing"])
        p = g + (1 - g) * expit(np.asarray(theta["binary_logit"])[0] + eta[:, None] * theta["factor_loading"])
        return pd.DataFrame(bernoulli(rng, p), columns=items)

    def quantities(values):
        g, lam = np.asarray(values["irt_guessing"]), np.asarray(values["factor_loading"])
        tau = np.asarray(values["binary_logit"])[:, 0]
        out = {f"g[{item}]": g[:, i] for i, item in enumerate(items)}
        out.update({f"loading[{item}]": lam[:, i] for i, item in enumerate(items)})
        out.update({f"tau[{item}]": tau[:, i] for i, item in enumerate(items)})
        return out

    return SBCCase("irt_3pl", f"bm.irt_3pl direct (eq. 42), logit, {n_units} persons x {n_items} items", build,
                   binary_template(n_units, items), simulate, quantities, priors)


def irt_3pl_fma_gom_case(n_units: int = 100, n_items: int = 5, priors: dict | None = None, **_) -> SBCCase:
    """3PL as FMA-GoM (eq. 43-47): C_ij = guessing class with P expit(gamma_i), where P(y = 1) = F(15)."""
    items = item_names(n_items, "q")
    priors = dict(priors or {})
    build = builder("irt_3pl", items, parameterization="fma-gom", priors=priors or None)

    def simulate(theta, rng):
        eta = np.asarray(theta["factor_z"])[:, 0]
        guess = rng.random((n_units, n_items)) < expit(np.asarray(theta["guessing_logit"]))[None, :]  # eq. 44
        tau, lam = np.asarray(theta["binary_logit"]), np.asarray(theta["factor_loading"])  # (2, I): class 1 fixed
        p = np.where(guess, expit(tau[0] + lam[0] * eta[:, None]), expit(tau[1] + lam[1] * eta[:, None]))
        return pd.DataFrame(bernoulli(rng, p), columns=items)

    def quantities(values):
        g = expit(np.asarray(values["guessing_logit"]))
        lam, tau = np.asarray(values["factor_loading"])[:, 1], np.asarray(values["binary_logit"])[:, 1]
        out = {f"g[{item}]": g[:, i] for i, item in enumerate(items)}
        out.update({f"loading[{item}]": lam[:, i] for i, item in enumerate(items)})
        out.update({f"tau[{item}]": tau[:, i] for i, item in enumerate(items)})
        return out

    return SBCCase("irt_3pl_fma_gom", f"bm.irt_3pl parameterization='fma-gom' (eq. 43-47), logit, {n_units} persons x "
                   f"{n_items} items", build, binary_template(n_units, items), simulate, quantities, priors)


#: case name -> case maker
CASES = {"irt_3pl": irt_3pl_case, "irt_3pl_fma_gom": irt_3pl_fma_gom_case}
