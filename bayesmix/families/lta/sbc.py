"""SBC case of bm.lta (eq. 6-9): K=2, T=2, invariant measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ...sbc_cases import (SBCCase, bernoulli, binary_template, builder, categorical, free_softmax, item_names,
                          item_probabilities)


def lta_case(n_units: int = 60, n_items: int = 3, priors: dict | None = None, **_) -> SBCCase:
    """LTA (eq. 6-9): C_1 ~ softmax(a), C_2 | C_1 = j ~ softmax(tau_j), invariant measurement; K = 2, T = 2."""
    k, times = 2, ("t1", "t2")
    stems = item_names(n_items, "u")
    items_by_time = {t: [f"{s}_{t}" for s in stems] for t in times}
    columns = [c for t in times for c in items_by_time[t]]
    priors = dict(priors or {})

    build = builder("lta", items_by_time, k, priors=priors or None)

    def simulate(theta, rng):
        c1 = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_units, k)))
        c2 = categorical(rng, free_softmax(theta["transition_logit"][0])[c1])  # (N, K) rows of eq. 9
        p = expit(theta["binary_logit"])
        y = np.concatenate([bernoulli(rng, p[c1]), bernoulli(rng, p[c2])], axis=1)
        return pd.DataFrame(y, columns=columns)

    def quantities(values):
        transition = free_softmax(np.asarray(values["transition_logit"])[:, 0])  # (S, K, K)
        return {"P(C1=class1)": free_softmax(values["class_intercept"])[:, 0],
                "P(C2=class1|C1=class1)": transition[:, 0, 0], "P(C2=class1|C1=class2)": transition[:, 1, 0],
                **item_probabilities(values, "binary_logit", stems, "logit", k)}

    return SBCCase("lta", f"bm.lta K=2, T=2, invariant measurement, Markov transitions, {n_units} units x "
                   f"{n_items} binary items per time", build, binary_template(n_units, columns), simulate,
                   quantities, priors)


#: case name -> case maker
CASES = {"lta": lta_case}
