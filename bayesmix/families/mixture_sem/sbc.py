"""SBC cases of bm.mixture_sem (eq. 2-4).

``mixture_sem``: one factor with invariant measurement and a class mean, plus class indicators;
``mixture_sem_two_factor``: two factors, the second regressed on the first with a class-specific slope
(B_c of eq. 3), plus class indicators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ...sbc_cases import (SBCCase, bernoulli, binary_template, builder, categorical, class_proportions, free_softmax,
                          item_names)

#: priors of the case: the defaults' scale 2.5 puts much logit mass where binary items are near constant at N ~ 100
#: (binary items: no data-scaled prior remains, as SBC needs)
SEM_SBC_PRIORS = {"binary_logit": {"sigma": 1.5}, "loading": {"sigma": 1.5}, "loading_first": {"sigma": 1.5},
                  "factor_mean": {"sigma": 1.5}}


def mixture_sem_case(n_units: int = 100, n_items: int = 6, priors: dict | None = None, **_) -> SBCCase:
    """K = 2; factor f measured by the first n_items - 2 binary items, the last two class indicators (eq. 2-4).

    C_i ~ softmax(a); eta_i = mu_C + z_i (mu_1 = 0, Var 1, eq. 3); P(y_ij = 1 | C, eta) =
    expit(nu_j + lambda_j eta_i) for the factor's items (nu, lambda equal over classes: the
    classes differ by the factor mean), expit(nu_jC) for the class indicators (eq. 1-2).
    """
    items, k = item_names(n_items), 2
    if n_items < 4:
        raise ValueError(f"the mixture_sem case needs n_items >= 4 (2 factor indicators, 2 class indicators), "
                         f"got {n_items}.")
    indicators = items[:-2]
    priors = {**SEM_SBC_PRIORS, **(priors or {})}
    build = builder("mixture_sem", items, k, factors={"f": indicators}, priors=priors)

    def simulate(theta, rng):
        classes = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_units, k)))
        eta = np.asarray(theta["factor_mean"])[classes, 0] + np.asarray(theta["factor_z"])[:, 0]  # eq. 3, A = I
        lam = np.asarray(theta["loading_matrix"])[0]  # (I,), 0 for the class indicators
        nu = np.asarray(theta["binary_logit"])[classes]  # (N, I): tied over classes for the factor's items
        return pd.DataFrame(bernoulli(rng, expit(nu + eta[:, None] * lam[None, :])), columns=items)

    def quantities(values):
        nu = np.asarray(values["binary_logit"])  # (S, K, I)
        lam = np.asarray(values["loading_matrix"])  # (S, F, I)
        out = {**class_proportions(values), "factor_mean[class2]": np.asarray(values["factor_mean"])[:, 1, 0]}
        out.update({f"loading[{item}]": lam[:, 0, i] for i, item in enumerate(indicators)})
        out.update({f"intercept[{item}]": nu[:, 0, i] for i, item in enumerate(indicators)})
        out.update({f"P({item}=1|class{c + 1})": expit(nu[:, c, i]) for i, item in enumerate(items)
                    if item not in indicators for c in range(k)})
        return out

    return SBCCase("mixture_sem", f"bm.mixture_sem K=2, one factor (class mean, invariant measurement) on "
                   f"{len(indicators)} + 2 class-indicator binary items, logit, {n_units} persons",
                   build, binary_template(n_units, items), simulate, quantities, priors)


def mixture_sem_two_factor_case(n_units: int = 120, n_items: int = 8, priors: dict | None = None, **_) -> SBCCase:
    """K = 2; f1, f2 on (n_items - 2) // 2 binary items each, f2 ON f1 class-specific, two class indicators (eq. 2-4).

    C_i ~ softmax(a); eta_1i = mu_1C + z_1i; eta_2i = mu_2C + b_C eta_1i + z_2i (eq. 3: A = I,
    Psi = I for the standardized factors, mu_class1 = 0, B_C class-specific); P(y_ij = 1 | C, eta)
    = expit(nu_j + lambda_j eta_f(j)i) for the factors' items (nu, lambda equal over classes),
    expit(nu_jC) for the two class indicators (eq. 1-2).
    """
    items, k = item_names(n_items), 2
    if n_items < 6 or n_items % 2:
        raise ValueError(f"the mixture_sem_two_factor case needs an even n_items >= 6 (two factors of at least 2 "
                         f"items each, 2 class indicators), got {n_items}.")
    per = (n_items - 2) // 2
    f1_items, f2_items = items[:per], items[per:2 * per]
    indicators = f1_items + f2_items
    priors = {**SEM_SBC_PRIORS, **(priors or {})}
    build = builder("mixture_sem", items, k, factors={"f1": f1_items, "f2": f2_items}, regressions={"f2": ["f1"]},
                    class_specific=("regressions",), priors=priors)

    def simulate(theta, rng):
        classes = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_units, k)))
        mu = np.asarray(theta["factor_mean"])[classes]  # (N, 2)
        z = np.asarray(theta["factor_z"])  # (N, 2), Psi = I
        b = np.asarray(theta["factor_regression"])[classes, 0]  # (N,): f2 ON f1 in the person's class
        eta1 = mu[:, 0] + z[:, 0]
        eta2 = mu[:, 1] + b * eta1 + z[:, 1]  # eq. 3
        lam = np.asarray(theta["loading_matrix"])  # (F, I), 0 off the factor's items
        nu = np.asarray(theta["binary_logit"])[classes]  # (N, I)
        shift = eta1[:, None] * lam[0][None, :] + eta2[:, None] * lam[1][None, :]
        return pd.DataFrame(bernoulli(rng, expit(nu + shift)), columns=items)

    def quantities(values):
        nu = np.asarray(values["binary_logit"])  # (S, K, I)
        lam = np.asarray(values["loading_matrix"])  # (S, F, I)
        mu = np.asarray(values["factor_mean"])  # (S, K, F)
        b = np.asarray(values["factor_regression"])  # (S, K, 1)
        out = {**class_proportions(values), "factor_mean[class2, f1]": mu[:, 1, 0],
               "factor_mean[class2, f2]": mu[:, 1, 1]}
        out.update({f"f2~f1[class{c + 1}]": b[:, c, 0] for c in range(k)})
        out.update({f"loading[{item}]": lam[:, 0 if item in f1_items else 1, i] for i, item in enumerate(indicators)})
        out.update({f"intercept[{item}]": nu[:, 0, i] for i, item in enumerate(indicators)})
        out.update({f"P({item}=1|class{c + 1})": expit(nu[:, c, i]) for i, item in enumerate(items)
                    if item not in indicators for c in range(k)})
        return out

    return SBCCase("mixture_sem_two_factor", f"bm.mixture_sem K=2, two factors (f2 ON f1 class-specific, class "
                   f"means, invariant measurement) on {len(indicators)} + 2 class-indicator binary items, logit, "
                   f"{n_units} persons", build, binary_template(n_units, items), simulate, quantities, priors)


#: case name -> case maker
CASES = {"mixture_sem": mixture_sem_case, "mixture_sem_two_factor": mixture_sem_two_factor_case}
