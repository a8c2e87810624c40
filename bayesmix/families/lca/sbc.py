"""SBC cases of bm.lca: single level, random intercept (Model 6), between-level and within-and-between classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from ...sbc_cases import (SBCCase, bernoulli, binary_template, builder, categorical, class_proportions, cluster_ids,
                          free_softmax, item_names, item_probabilities)


def lca_case(n_units: int = 60, n_items: int = 4, priors: dict | None = None, **_) -> SBCCase:
    items, k = item_names(n_items), 2
    priors = dict(priors or {})

    build = builder("lca", items, k, priors=priors or None)

    def simulate(theta, rng):
        classes = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_units, k)))
        y = bernoulli(rng, expit(theta["binary_logit"])[classes])  # (N, I), eq. 1 and 4
        return pd.DataFrame(y, columns=items)

    def quantities(values):
        return {**class_proportions(values), **item_probabilities(values, "binary_logit", items, "logit", k)}

    return SBCCase("lca", f"bm.lca single level, K=2, {n_units} units x {n_items} binary items", build,
                   binary_template(n_units, items), simulate, quantities, priors)



def lca_random_intercept_case(n_clusters: int = 10, cluster_size: int = 8, n_items: int = 4,
                               priors: dict | None = None, **_) -> SBCCase:
    """Model 6 (eq. 4-5): class logit a + sd z_j, z_j ~ N(0, 1), per cluster; K = 2."""
    items, k, n = item_names(n_items), 2, n_clusters * cluster_size
    cluster = cluster_ids(n_clusters, cluster_size)
    index = np.repeat(np.arange(n_clusters), cluster_size)
    priors = dict(priors or {})

    build = builder("lca", items, k, cluster="cluster", random_intercept=True, priors=priors or None)

    def simulate(theta, rng):
        alpha = theta["class_intercept"][None, :] + theta["random_z"] * theta["random_sd"][None, :]  # (J, 1)
        classes = categorical(rng, free_softmax(alpha)[index])
        y = bernoulli(rng, expit(theta["binary_logit"])[classes])
        frame = pd.DataFrame(y, columns=items)
        frame.insert(0, "cluster", cluster)
        return frame

    def quantities(values):
        return {"random_sd": np.asarray(values["random_sd"])[:, 0],
                **class_proportions(values, label="P(class1 | alpha_j=0)"),
                **item_probabilities(values, "binary_logit", items, "logit", k)}

    return SBCCase("lca_random_intercept",
                   f"bm.lca two-level, random intercept on the class logit (Model 6), K=2, {n_clusters} clusters x "
                   f"{cluster_size} units x {n_items} binary items", build,
                   binary_template(n, items, {"cluster": cluster}), simulate, quantities, priors)


def lca_between_case(n_clusters: int = 24, cluster_size: int = 4, n_items: int = 4,
                      priors: dict | None = None, **_) -> SBCCase:
    """Between-level classes (eq. 16-17): one class per cluster."""
    items, k, n = item_names(n_items), 2, n_clusters * cluster_size
    cluster = cluster_ids(n_clusters, cluster_size)
    index = np.repeat(np.arange(n_clusters), cluster_size)
    priors = dict(priors or {})

    build = builder("lca", items, k, cluster="cluster", class_level="between", priors=priors or None)

    def simulate(theta, rng):
        classes = categorical(rng, np.broadcast_to(free_softmax(theta["class_intercept"]), (n_clusters, k)))
        y = bernoulli(rng, expit(theta["binary_logit"])[classes[index]])
        frame = pd.DataFrame(y, columns=items)
        frame.insert(0, "cluster", cluster)
        return frame

    def quantities(values):
        return {**class_proportions(values), **item_probabilities(values, "binary_logit", items, "logit", k)}

    return SBCCase("lca_between", f"bm.lca between-level classes (eq. 16-17), K=2, {n_clusters} clusters x "
                   f"{cluster_size} units x {n_items} binary items", build,
                   binary_template(n, items, {"cluster": cluster}), simulate, quantities, priors)


def lca_within_between_case(n_clusters: int = 20, cluster_size: int = 5, n_items: int = 4,
                             priors: dict | None = None, **_) -> SBCCase:
    """Within and between classes (section 6, eq. 24): D_j, then C_ij | D_j; K = M = 2."""
    items, k, m, n = item_names(n_items), 2, 2, n_clusters * cluster_size
    cluster = cluster_ids(n_clusters, cluster_size)
    index = np.repeat(np.arange(n_clusters), cluster_size)
    priors = dict(priors or {})

    build = builder("lca", items, k, cluster="cluster", n_between_classes=m, priors=priors or None)

    def simulate(theta, rng):
        between = categorical(rng, np.broadcast_to(free_softmax(theta["between_class_intercept"]),
                                                    (n_clusters, m)))
        gamma = np.concatenate([theta["class_between_effect"], np.zeros((k - 1, 1))], axis=1)  # gamma_cM = 0
        logits = theta["class_intercept"][:, None] + gamma  # (K-1, M)
        classes = categorical(rng, free_softmax(logits.T)[between[index]])
        y = bernoulli(rng, expit(theta["binary_logit"])[classes])
        frame = pd.DataFrame(y, columns=items)
        frame.insert(0, "cluster", cluster)
        return frame

    def quantities(values):
        within = free_softmax(np.asarray(values["class_intercept"]))[:, 0]  # P(C = 1 | D = M)
        shifted = np.asarray(values["class_intercept"]) + np.asarray(values["class_between_effect"])[..., 0]
        return {"P(between1)": free_softmax(values["between_class_intercept"])[:, 0],
                "P(class1|between1)": free_softmax(shifted)[:, 0], "P(class1|between2)": within,
                **item_probabilities(values, "binary_logit", items, "logit", k)}

    return SBCCase("lca_within_between", f"bm.lca within and between classes (eq. 24), K=M=2, {n_clusters} "
                   f"clusters x {cluster_size} units x {n_items} binary items", build,
                   binary_template(n, items, {"cluster": cluster}), simulate, quantities, priors)


def lca_three_statuses_case(n_clusters: int = 20, cluster_size: int = 5, n_items: int = 4,
                            priors: dict | None = None, **_) -> SBCCase:
    """All three class statuses (section 6, eq. 24 with random alpha_cj): D_j, z_j, then C_ij | D_j, z_j; K = M = 2."""
    items, k, m, n = item_names(n_items), 2, 2, n_clusters * cluster_size
    cluster = cluster_ids(n_clusters, cluster_size)
    index = np.repeat(np.arange(n_clusters), cluster_size)
    priors = dict(priors or {})

    build = builder("lca", items, k, cluster="cluster", n_between_classes=m, random_intercept=True,
                    priors=priors or None)

    def simulate(theta, rng):
        between = categorical(rng, np.broadcast_to(free_softmax(theta["between_class_intercept"]),
                                                    (n_clusters, m)))
        gamma = np.concatenate([theta["class_between_effect"], np.zeros((k - 1, 1))], axis=1)  # gamma_cM = 0
        alpha = theta["random_z"] * theta["random_sd"][None, :]  # (J, K-1), eq. 4-5
        logits = theta["class_intercept"][None, :] + gamma[:, between].T + alpha  # (J, K-1)
        classes = categorical(rng, free_softmax(logits)[index])
        y = bernoulli(rng, expit(theta["binary_logit"])[classes])
        frame = pd.DataFrame(y, columns=items)
        frame.insert(0, "cluster", cluster)
        return frame

    def quantities(values):
        within = free_softmax(np.asarray(values["class_intercept"]))[:, 0]  # P(C = 1 | D = M, alpha = 0)
        shifted = np.asarray(values["class_intercept"]) + np.asarray(values["class_between_effect"])[..., 0]
        return {"random_sd": np.asarray(values["random_sd"])[:, 0],
                "P(between1)": free_softmax(values["between_class_intercept"])[:, 0],
                "P(class1|between1, alpha=0)": free_softmax(shifted)[:, 0],
                "P(class1|between2, alpha=0)": within,
                **item_probabilities(values, "binary_logit", items, "logit", k)}

    return SBCCase("lca_three_statuses", f"bm.lca within, between and within-between classes together "
                   f"(eq. 24 with random intercepts), K=M=2, {n_clusters} clusters x {cluster_size} units x "
                   f"{n_items} binary items", build,
                   binary_template(n, items, {"cluster": cluster}), simulate, quantities, priors)


#: case name -> case maker, in the order bayesmix.sbc.CASES lists them
CASES = {
    "lca": lca_case,
    "lca_random_intercept": lca_random_intercept_case,
    "lca_between": lca_between_case,
    "lca_within_between": lca_within_between_case,
    "lca_three_statuses": lca_three_statuses_case,
}
