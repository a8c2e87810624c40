"""Model comparison from the pointwise ``log_likelihood`` group.

The pointwise values are per independent unit (a person in single-level
models, a cluster in two-level models, integrated over its random effects),
so LOO and WAIC leave out the right thing. ArviZ 1.x dropped ``waic``; it is
computed here from the same pointwise values (Watanabe 2010; Vehtari,
Gelman & Gabry 2017, eq. 11-13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp


def _pointwise(idata) -> np.ndarray:
    """(samples, units) log-likelihood matrix from the ``log_likelihood`` group."""
    return _pointwise_array(idata).transpose("__sample__", "__unit__").to_numpy()


def _unit_labels(idata) -> tuple[tuple[str, ...], pd.Index]:
    """(dims, labels) of the independent units of the ``log_likelihood`` group: which units, at which level."""
    da = _pointwise_array(idata)
    unit_dims = tuple(d for d in da.indexes["__unit__"].names)
    return unit_dims, pd.Index(da.indexes["__unit__"])


def _pointwise_array(idata):
    """The log-likelihood with (chain, draw) stacked to ``__sample__`` and the unit dims to ``__unit__``."""
    try:
        group = idata["log_likelihood"]
    except KeyError as err:
        raise ValueError("idata has no log_likelihood group; sample with bayesmix (m.sample) "
                         "or add one with pm.compute_log_likelihood.") from err
    ds = group.to_dataset() if hasattr(group, "to_dataset") else group
    if len(ds.data_vars) != 1:
        raise ValueError(f"log_likelihood has variables {list(ds.data_vars)}; keep one per model.")
    da = next(iter(ds.data_vars.values()))
    unit_dims = [d for d in da.dims if d not in ("chain", "draw")]
    return da.stack(__sample__=("chain", "draw"), __unit__=unit_dims)


@dataclass
class WAIC:
    """Widely applicable information criterion on the elpd scale (higher is better); see :func:`waic`.

    Attributes
    ----------
    elpd, se : float
        elpd_waic and its standard error.
    p : float
        Effective number of parameters p_waic.
    elpd_i : ndarray
        Pointwise elpd (per unit or cluster).
    warning : bool
        Some p_waic_i exceed 0.4 (WAIC unreliable; prefer LOO).

    Examples
    --------
    >>> print(bm.waic(idata))       # doctest: +SKIP
    """

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    warning: bool

    def __str__(self) -> str:
        return f"elpd_waic {self.elpd:.2f} (se {self.se:.2f}), p_waic {self.p:.2f}"


def waic(idata) -> WAIC:
    """WAIC (Watanabe 2010) from the pointwise log-likelihood, on the elpd scale (higher is better).

    elpd_i = lppd_i - Var_s(log p(y_i | theta_s)), lppd_i = log mean_s p(y_i |
    theta_s); ArviZ 1.x has no WAIC. The units are the model's independent
    units (clusters in two-level models).

    Parameters
    ----------
    idata : DataTree
        With a ``log_likelihood`` group (``m.sample``, ``m.fit_laplace``).

    Returns
    -------
    WAIC
        ``elpd``, ``se``, ``p`` (p_waic), ``elpd_i``, ``warning`` (some p_waic_i > 0.4).

    Examples
    --------
    >>> w = bm.waic(idata)          # doctest: +SKIP
    >>> print(w)                    # elpd_waic ... (se ...), p_waic ...   # doctest: +SKIP
    """
    ll = _pointwise(idata)
    n_samples = ll.shape[0]
    lppd_i = logsumexp(ll, axis=0) - np.log(n_samples)
    p_i = ll.var(axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    return WAIC(elpd=float(elpd_i.sum()), se=float(np.sqrt(len(elpd_i) * elpd_i.var(ddof=1))),
                p=float(p_i.sum()), elpd_i=elpd_i, warning=bool(np.any(p_i > 0.4)))


def loo(idata):
    """PSIS-LOO (Vehtari, Gelman & Gabry 2017, ArviZ) on the model's per-unit (or per-cluster) log-likelihood.

    Parameters
    ----------
    idata : DataTree
        With a ``log_likelihood`` group (``m.sample``, ``m.fit_laplace``); two-level
        models hold one value per cluster (leave-one-cluster-out).

    Returns
    -------
    ELPDDataLOO
        ArviZ's result: ``elpd``, ``se``, ``p``, ``pareto_k``, ``elpd_i``, ``warning``.

    Examples
    --------
    >>> bm.loo(idata).elpd          # doctest: +SKIP
    """
    if hasattr(idata, "children") and "log_likelihood" not in idata.children:
        raise ValueError("idata has no log_likelihood group (sample(log_likelihood=False), or left out above "
                         "sample's size budget); compute LOO from the model and the posterior with "
                         "bm.loo_by_pattern(m, idata), or sample again with log_likelihood=True.")
    return az.loo(idata)


def _loo_fit(idata):
    """(elpd, se, p, elpd_i, warning) of PSIS-LOO, unrounded."""
    import warnings as _warnings
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)  # high Pareto k: reported in the ``warning`` column
        fit = az.loo(idata)
    elpd_i = np.asarray(fit.elpd_i).reshape(-1)
    return float(fit.elpd), float(fit.se), float(fit.p), elpd_i, bool(fit.warning)


def _common_units(models: Mapping[str, object], units: str) -> dict | None:
    """Unit positions per model for ``compare``: None when every model has the same units in the same order.

    Units are identified by the labels of the log-likelihood's unit coordinate
    (the DataFrame index of the rows, or the cluster ids), so two models fitted
    to different rows are told apart even when their counts agree.
    """
    labels = {name: _unit_labels(idata) for name, idata in models.items()}
    levels = {name: dims for name, (dims, _) in labels.items()}
    if len(set(levels.values())) > 1:
        raise ValueError(f"models have log-likelihoods at different levels {levels} (e.g. units vs clusters); "
                         "compare models whose log-likelihood is per the same kind of unit.")
    first = next(iter(labels.values()))[1]
    if all(index.equals(first) for _, index in labels.values()):
        return None
    for name, (_, index) in labels.items():
        if index.has_duplicates:
            raise ValueError(f"model {name!r} has duplicate unit labels in its log_likelihood; give the data a "
                             "unique index (df.reset_index(drop=True)) before fitting.")
    common = first
    for _, index in labels.values():
        common = common.intersection(index, sort=False)
    counts = {name: len(index) for name, (_, index) in labels.items()}
    if units == "same":
        raise ValueError(
            f"models are fitted to different units (counts {counts}, {len(common)} units in common, matched by the "
            "data's row labels): their elpd values are not comparable. Fit every model to the same rows (e.g. drop "
            "rows with missing covariates before fitting all models), or pass units='common' to compare on the "
            f"{len(common)} shared units.")
    if len(common) < 2:
        raise ValueError(f"models share {len(common)} unit(s) (counts {counts}); units='common' needs at least two.")
    return {name: index.get_indexer(common) for name, (_, index) in labels.items()}


def compare(models: Mapping[str, object], ic: str = "loo", *, units: str = "same") -> pd.DataFrame:
    """Rank models by expected log predictive density (elpd scale: higher is better).

    Parameters
    ----------
    models : dict
        ``{name: idata}``: DataTrees with a ``log_likelihood`` group (from
        ``m.sample`` / ``m.fit_laplace``), all fitted to the same units.
    ic : ``"loo"`` or ``"waic"``
        PSIS-LOO (Vehtari, Gelman & Gabry 2017, via ArviZ) or WAIC
        (computed here, :func:`waic`).
    units : ``"same"`` or ``"common"``
        Units are identified by the log-likelihood's unit labels (the data's
        row index, or cluster ids). ``"same"`` (default): every model must
        hold the same units, else a ``ValueError`` says how many are shared.
        ``"common"``: compare on the units all models share (e.g. a model
        with a covariate fitted to the complete rows against one without,
        fitted to all rows); elpd, its SE and p are sums over those units of
        each model's pointwise values (each posterior still conditions on its
        own data), and ``table.attrs["n_units"]`` says how many.

    Returns
    -------
    DataFrame
        One row per model, best first, unrounded (round when printing), the
        same columns for both criteria:

        - ``rank``: 0 for the best model;
        - ``elpd``: elpd_loo or elpd_waic (higher is better); ``se`` its SE;
        - ``p``: effective number of parameters (p_loo or p_waic);
        - ``elpd_diff``: elpd of this model minus the best one's (<= 0);
        - ``dse``: SE of that difference from the paired pointwise values;
        - ``weight``: pseudo-BMA weights exp(elpd) / sum exp(elpd);
        - ``warning``: high Pareto k (LOO) or p_waic_i > 0.4 (WAIC).

        ``table.attrs["ic"]`` names the criterion.

    Examples
    --------
    >>> bm.compare({"K=2": idata2, "K=3": idata3})              # doctest: +SKIP
    >>> bm.compare({"K=2": idata2, "K=3": idata3}, ic="waic")   # doctest: +SKIP
    >>> bm.compare({"x": idata_complete_rows, "no x": idata_all_rows}, units="common")   # doctest: +SKIP
    """
    if len(models) < 2:
        raise ValueError("compare needs at least two models, e.g. {'K=2': idata2, 'K=3': idata3}.")
    if ic not in ("loo", "waic"):
        raise ValueError(f"ic={ic!r} is unknown; use 'loo' or 'waic'.")
    if units not in ("same", "common"):
        raise ValueError(f"units={units!r} is unknown; use 'same' (every model on the same units) or 'common'.")
    positions = _common_units(models, units)
    fits = {}
    for name, idata in models.items():
        if ic == "loo":
            fits[name] = _loo_fit(idata)
        else:
            w = waic(idata)
            fits[name] = (w.elpd, w.se, w.p, w.elpd_i, w.warning)
        if positions is not None:
            fits[name] = _restricted(fits[name], _pointwise(idata), positions[name])
    order = sorted(fits, key=lambda n: -fits[n][0])
    best = fits[order[0]]
    elpds = np.array([fits[n][0] for n in order])
    weights = np.exp(elpds - elpds.max())
    weights = weights / weights.sum()
    rows = []
    for rank, name in enumerate(order):
        elpd, se, p, elpd_i, warning = fits[name]
        diff = elpd_i - best[3]
        rows.append({"rank": rank, "elpd": elpd, "se": se, "p": p, "elpd_diff": float(diff.sum()),
                     "dse": float(np.sqrt(len(diff) * diff.var(ddof=1))) if rank else 0.0,
                     "weight": float(weights[rank]), "warning": warning})
    table = pd.DataFrame(rows, index=pd.Index(order, name="model"))
    table.attrs["ic"] = ic
    table.attrs["n_units"] = len(best[3])
    return table


def _restricted(fit: tuple, pointwise: np.ndarray, keep: np.ndarray) -> tuple:
    """(elpd, se, p, elpd_i, warning) over the units ``keep``: p from p_i = lppd_i - elpd_i (as ArviZ's p_loo)."""
    _, _, _, elpd_i, warning = fit
    elpd_i = np.asarray(elpd_i)[keep]
    lppd_i = logsumexp(pointwise[:, keep], axis=0) - np.log(pointwise.shape[0])
    return (float(elpd_i.sum()), float(np.sqrt(len(elpd_i) * elpd_i.var(ddof=1))), float((lppd_i - elpd_i).sum()),
            elpd_i, warning)
