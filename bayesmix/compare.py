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
    return da.stack(__sample__=("chain", "draw"), __unit__=unit_dims).transpose("__sample__", "__unit__").to_numpy()


@dataclass
class WAIC:
    """Widely applicable information criterion on the elpd scale (higher is better)."""

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    warning: bool

    def __str__(self) -> str:
        return f"elpd_waic {self.elpd:.2f} (se {self.se:.2f}), p_waic {self.p:.2f}"


def waic(idata) -> WAIC:
    """WAIC from the pointwise log-likelihood: elpd_i = lppd_i - Var_s(log p(y_i | theta_s))."""
    ll = _pointwise(idata)
    n_samples = ll.shape[0]
    lppd_i = logsumexp(ll, axis=0) - np.log(n_samples)
    p_i = ll.var(axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    return WAIC(elpd=float(elpd_i.sum()), se=float(np.sqrt(len(elpd_i) * elpd_i.var(ddof=1))),
                p=float(p_i.sum()), elpd_i=elpd_i, warning=bool(np.any(p_i > 0.4)))


def loo(idata):
    """PSIS-LOO (ArviZ) on the model's per-unit (or per-cluster) log-likelihood."""
    return az.loo(idata)


def compare(models: Mapping[str, object], ic: str = "loo") -> pd.DataFrame:
    """Rank models by expected log predictive density.

    ``ic="loo"`` uses ArviZ's ``compare`` (PSIS-LOO, stacking weights);
    ``ic="waic"`` ranks by WAIC with the paired standard error of the
    difference. All models must have been fitted to the same units.
    """
    if len(models) < 2:
        raise ValueError("compare needs at least two models, e.g. {'K=2': idata2, 'K=3': idata3}.")
    shapes = {name: _pointwise(idata).shape[1] for name, idata in models.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"models have log-likelihoods for different numbers of units {shapes}; "
                         "compare models fitted to the same data at the same level.")
    if ic == "loo":
        return az.compare(dict(models))
    if ic != "waic":
        raise ValueError(f"ic={ic!r} is unknown; use 'loo' or 'waic'.")
    fits = {name: waic(idata) for name, idata in models.items()}
    order = sorted(fits, key=lambda n: -fits[n].elpd)
    best = fits[order[0]]
    rows = []
    for rank, name in enumerate(order):
        diff = best.elpd_i - fits[name].elpd_i
        rows.append({"rank": rank, "elpd_waic": fits[name].elpd, "p_waic": fits[name].p,
                     "elpd_diff": float(diff.sum()), "dse": float(np.sqrt(len(diff) * diff.var(ddof=1))) if rank else 0.0,
                     "se": fits[name].se, "warning": fits[name].warning})
    return pd.DataFrame(rows, index=pd.Index(order, name="model"))
