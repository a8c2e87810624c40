"""Mplus / Latent GOLD style output of an ML result: ``ml.summary()``.

Tables in Mplus order: model fit (LL, parameters, AIC, BIC, aBIC, entropy,
N), class counts and proportions (by estimated posterior probabilities and by
modal class), the classification table of average posterior probabilities
(AvePP: rows the modal class, columns the class; the diagonal near 1 means
a clean classification), the profiles with standard errors, and the
parameters with standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FitSummary", "ml_summary"]


@dataclass
class FitSummary:
    """Tables of a fitted model in Mplus order; print it, or show it in Jupyter (HTML). From ``ml.summary()``.

    Attributes
    ----------
    fit : Series
        LL, parameters, AIC, BIC, aBIC, entropy, N.
    classes : DataFrame
        Proportions with SEs, counts by posterior probabilities and by modal class.
    classification : DataFrame or None
        Average posterior probabilities by modal class (AvePP).
    profiles, parameters : DataFrame
        Estimates with SEs.
    title : str
    note : str
        Printed below the tables (why some standard errors are n/a).

    Examples
    --------
    >>> s = ml.summary()          # doctest: +SKIP
    >>> print(s)                  # doctest: +SKIP
    >>> s.classification          # doctest: +SKIP
    """

    fit: pd.Series
    classes: pd.DataFrame
    classification: pd.DataFrame | None
    profiles: pd.DataFrame
    parameters: pd.DataFrame
    title: str = "Maximum likelihood"
    #: printed below the tables, e.g. why some SEs are n/a (parameters at the logit bound)
    note: str = ""

    def tables(self) -> dict[str, pd.DataFrame | pd.Series]:
        """The tables in printing order.

        Returns
        -------
        dict
            Title -> table: model fit, classes, average posterior probabilities,
            profiles, parameters.

        Examples
        --------
        >>> for title, table in ml.summary().tables().items(): print(title)   # doctest: +SKIP
        """
        out = {"Model fit": self.fit, "Classes": self.classes}
        if self.classification is not None:
            out["Average posterior probabilities (rows: modal class)"] = self.classification
        out["Profiles (estimate, se)"] = self.profiles
        out["Parameters"] = self.parameters
        return out

    def __str__(self) -> str:
        parts = [self.title]
        for name, table in self.tables().items():
            text = table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="n/a")
            parts.append(f"\n{name}\n{text}")
        if self.note:
            parts.append(f"\n{self.note}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        parts = [f"<h4>{self.title}</h4>"]
        for name, table in self.tables().items():
            frame = table.to_frame() if isinstance(table, pd.Series) else table
            parts.append(f"<h5>{name}</h5>" + frame.to_html(float_format=lambda v: f"{v:.4f}", na_rep="n/a"))
        return "\n".join(parts)


def fit_series(result) -> pd.Series:
    """LL, parameters, AIC, BIC, aBIC, relative entropy, N, best-LL replication ("k of n" starts)."""
    return pd.Series({"loglik": result.loglik, "n_params": result.n_params, "aic": result.aic, "bic": result.bic,
                      "abic": result.abic, "entropy": result.entropy, "N": result.n_obs,
                      "best_ll_replicated": result.starts.replication},
                     name="fit", dtype=object)


def class_table(result) -> pd.DataFrame:
    """Class proportions with SEs and counts by posterior probabilities and by modal class."""
    props = result.class_proportions
    table = pd.DataFrame({"proportion": props["estimate"], "se": props["se"]})
    post = result.posterior_probabilities
    if post is not None:
        table["count_posterior"] = post.sum(axis=0).to_numpy()
    table["count_modal"] = result.class_counts.reindex(table.index).to_numpy()
    return table


def classification_table(result) -> pd.DataFrame | None:
    """AvePP: mean posterior probability of each class among units whose modal class is the row."""
    post = result.posterior_probabilities
    if post is None:
        return None
    modal = post.to_numpy().argmax(axis=1)
    labels = list(post.columns)
    rows = {}
    for k, label in enumerate(labels):
        members = post.to_numpy()[modal == k]
        rows[label] = members.mean(axis=0) if len(members) else np.full(len(labels), np.nan)
    table = pd.DataFrame(rows, index=pd.Index(labels, name="class")).T
    table.index.name = "modal_class"
    return table


def profile_table(result) -> pd.DataFrame:
    """Profiles: estimate and SE per class (robust SEs left to ``result.profiles``)."""
    cols = [c for c in result.profiles.columns if c[1] in ("estimate", "se")]
    return result.profiles[cols]


def ml_summary(result) -> FitSummary:
    params = result.params[[c for c in ("estimate", "se", "se_robust", "constraint") if c in result.params]]
    note = ("" if not result.n_boundary else
            f"n/a: {result.n_boundary} parameter(s) at the logit bound (a probability 0 or 1) and quantities "
            "resting on them have no standard error; they are fixed there, as Mplus does.")
    return FitSummary(fit=fit_series(result), classes=class_table(result),
                      classification=classification_table(result), profiles=profile_table(result),
                      parameters=params, note=note)


def model_html(mm) -> str:
    """A model's short HTML description for Jupyter (never the data)."""
    import pandas as pd
    kinds = pd.Series([it.kind for it in mm.data.items]).value_counts()
    rows = {"model": mm.name, "classes": ", ".join(mm.class_labels), "units": mm.data.n_units,
            "items": f"{len(mm.data.items)} (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")",
            "likelihood level": mm.loglik_dim}
    if mm.data.clusters is not None:
        rows["clusters"] = len(mm.data.clusters)
    if mm.data.covariate_names:
        rows["covariates"] = ", ".join(mm.data.covariate_names)
    body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                   for k, v in rows.items())
    return f"<b>MixtureModel</b><table>{body}</table>"
