"""SBC cases of bm.mixture_regression (eq. 19), single level and with a cluster random intercept."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...sbc_cases import SBCCase, builder, categorical, class_proportions, free_softmax


#: the regression's default priors are scaled on the data (Normal(mean y, 2 sd y), ...): SBC needs fixed ones
REGRESSION_PRIORS = {"regression_intercept": {"mu": 0.0, "sigma": 2.0}, "regression_slope": {"mu": 0.0, "sigma": 1.0},
                     "residual_sd": {"sigma": 1.0}}


def regression_case(n_units: int = 80, priors: dict | None = None, n_clusters: int | None = None,
                     **_) -> SBCCase:
    """Eq. 19: y = mu_c + beta_c x (+ u_j) + eps, eps ~ N(0, sigma^2) (equal variances), K = 2.

    With ``n_clusters``: a cluster random intercept u_j = sd z_j (Models 1-4 of section 5, within classes).
    """
    k = 2
    priors = {**REGRESSION_PRIORS, **({"random_sd": {"sigma": 1.0}} if n_clusters else {}), **(priors or {})}
    two_level = {"cluster": "cluster", "random": "intercept"} if n_clusters else {}
    index = np.arange(n_units) * (n_clusters or 1) // n_units
    cluster = np.array([f"c{j + 1:02d}" for j in index])
    build = builder("mixture_regression", y="y", x="x", n_classes=k, priors=priors, **two_level)

    def frame(y, x):
        out = pd.DataFrame({"y": y, "x": x})
        if n_clusters:
            out.insert(0, "cluster", cluster)
        return out

    def template(rng):
        return frame(rng.standard_normal(n_units), rng.standard_normal(n_units))

    def simulate(theta, rng):
        classes = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_units, k)))
        x = rng.standard_normal(n_units)
        mean = theta["regression_intercept"][classes] + theta["regression_slope"][classes, 0] * x
        if n_clusters:
            mean = mean + (theta["random_z"][:, 0] * theta["random_sd"][0])[index]
        return frame(mean + float(theta["residual_sd"]) * rng.standard_normal(n_units), x)

    def quantities(values):
        out = dict(class_proportions(values))
        for c in range(k):
            out[f"intercept[class{c + 1}]"] = np.asarray(values["regression_intercept"])[:, c]
            out[f"slope[class{c + 1}]"] = np.asarray(values["regression_slope"])[:, c, 0]
        out["residual_sd"] = np.asarray(values["residual_sd"]).reshape(-1)
        if n_clusters:
            out["random_sd"] = np.asarray(values["random_sd"])[:, 0]
        return out

    name = "mixture_regression_random_intercept" if n_clusters else "mixture_regression"
    size = f"{n_clusters} clusters, {n_units} units, a cluster random intercept" if n_clusters else f"{n_units} units"
    return SBCCase(name, f"bm.mixture_regression (eq. 19), K=2, {size}, one predictor, equal residual variances",
                   build, template, simulate, quantities, priors)


#: case name -> case maker
CASES = {
    "mixture_regression": regression_case,
    "mixture_regression_random_intercept": lambda **kw: regression_case(**{"n_clusters": 10, **kw}),
}
