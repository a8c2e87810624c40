"""PSIS-LOO by unique response pattern: the per-unit result at the memory of the patterns.

Units with the same responses (and the same covariates) have the same
marginal log-likelihood log p(y_i | theta) = log sum_c P(C = c) prod_j
p(y_ij | C = c) (eq. 4 with eq. 1-2) at every posterior draw. Their PSIS-LOO
terms -- Pareto smoothing of the importance ratios 1 / p(y_i | theta_s)
(Vehtari, Gelman & Gabry 2017, eq. 10) -- are therefore identical too, so
PSIS runs once per pattern and the sums over units become count-weighted
sums over patterns:

    elpd_loo = sum_p n_p elpd_p,    p_loo = sum_p n_p p_p,
    se = sqrt(N Var_i(elpd_i)),     Var over units (ddof = 1) from the counts.

This equals ArviZ's per-unit ``loo`` (same relative efficiency r_eff from
the posterior, same PSIS per column) up to floating-point summation order,
while holding an (S, P) matrix instead of (S, N): with 10 binary items P
is at most 1,024 whatever N is. At N = 200,000 and 4,000 draws the per-unit
``log_likelihood`` group alone is 6.4 GB in float64 (PSIS needs as much again
for its log weights); by pattern it is 33 MB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .patterns import Patterns, response_patterns
from .results import BATCH_ELEMENTS, inline_symbolic_ops, evaluate_draws

__all__ = ["PatternLOO", "loo_by_pattern", "unit_patterns"]

#: relative tolerance of the check that units of one pattern share their log-likelihood
_CHECK_RTOL = 1e-9


@dataclass
class PatternLOO:
    """PSIS-LOO computed per unique response pattern (see :func:`loo_by_pattern`).

    Attributes
    ----------
    elpd, se, p : float
        elpd_loo, its standard error and p_loo over all N units (as ArviZ's ``loo``).
    elpd_i, pareto_k : ndarray
        Per unit (N,): each unit's pattern's value.
    elpd_pattern, pareto_k_pattern, p_pattern, counts : ndarray
        Per pattern (P,), and the number of units showing each pattern.
    n_samples : int
        Posterior draws used (chains x draws).
    good_k : float
        ArviZ's Pareto k threshold min(1 - 1/log10(S), 0.7).
    warning : bool
        Some unit's Pareto k exceeds ``good_k``.

    Examples
    --------
    >>> print(bm.loo_by_pattern(m, idata))      # doctest: +SKIP
    """

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    pareto_k: np.ndarray
    elpd_pattern: np.ndarray
    pareto_k_pattern: np.ndarray
    p_pattern: np.ndarray
    counts: np.ndarray
    n_samples: int
    good_k: float
    warning: bool

    @property
    def n_patterns(self) -> int:
        return len(self.counts)

    def __str__(self) -> str:
        return (f"elpd_loo {self.elpd:.2f} (se {self.se:.2f}), p_loo {self.p:.2f}; "
                f"{self.n_patterns} patterns of {int(self.counts.sum())} units")


def unit_patterns(model) -> Patterns:
    """Units grouped by everything their log-likelihood reads: item responses (missing cells included) and covariates.

    Parameters
    ----------
    model : MixtureModel
        A model with one log-likelihood value per unit (no ``cluster=``).

    Returns
    -------
    Patterns
        ``representative`` (P,) and ``inverse`` (N,), see :mod:`bayesmix.patterns`.

    Raises
    ------
    ValueError
        For two-level models: their ``log_likelihood`` is per cluster, and
        clusters do not share patterns.

    Examples
    --------
    >>> unit_patterns(m).n_patterns             # doctest: +SKIP
    """
    if model.loglik_dim != "unit" or model.data.cluster_index is not None:
        raise ValueError(f"loo_by_pattern needs one log-likelihood per unit; this model's is per "
                         f"{model.loglik_dim!r} (cluster=...). Use bm.loo(idata) for leave-one-cluster-out.")
    return response_patterns(model.kernels, extra=model.data.covariates)


def _posterior(idata) -> xr.Dataset:
    try:
        node = idata["posterior"]
    except KeyError as err:
        raise ValueError("idata has no posterior group; pass the result of m.sample(...).") from err
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def _stored_loglik(idata, n_units: int) -> np.ndarray | None:
    """(chain, draw, N) values of a per-unit ``log_likelihood`` group, or None when there is none."""
    if "log_likelihood" not in getattr(idata, "children", {}):
        return None
    ds = idata["log_likelihood"].to_dataset()
    if len(ds.data_vars) != 1:
        raise ValueError(f"log_likelihood has variables {list(ds.data_vars)}; keep one per model.")
    da = next(iter(ds.data_vars.values()))
    if da.ndim != 3 or da.shape[-1] != n_units:
        raise ValueError(f"log_likelihood has shape {da.shape}; expected (chain, draw, {n_units}) per unit.")
    return da.transpose("chain", "draw", ...).values


def pattern_loglik(model, idata, patterns: Patterns) -> np.ndarray:
    """(chain, draw, P) log-likelihood per pattern, checked against the per-unit values."""
    posterior = _posterior(idata)
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    stored = _stored_loglik(idata, patterns.n_units)
    if stored is not None:
        values = stored[..., patterns.representative]
        units = stored[0, :2]  # two draws of every unit for the check
        check = values[0, :2]
    else:
        graph = model.integrated_loglik()
        one = posterior.isel(chain=[0], draw=[0])
        _, units = evaluate_draws(model, "unit_loglik", graph, one)
        key, pattern_graph = _pattern_graph(graph, patterns)
        values = None
        if pattern_graph is not None:  # the graph on the P representative rows: checked at one draw first
            try:
                _, first = evaluate_draws(model, key, pattern_graph, one)
                fits = np.shape(first) == (1, patterns.n_patterns) and np.allclose(
                    units, np.asarray(first)[..., patterns.inverse], rtol=_CHECK_RTOL, atol=_CHECK_RTOL)
            except Exception:  # a shape the data rows fix elsewhere in the graph: use the per-unit graph
                fits = False
            if fits:
                work = patterns.n_patterns * model.n_classes * len(model.data.items)
                batch = max(1, min(n_chain * n_draw, BATCH_ELEMENTS // max(1, work)))
                _, flat = evaluate_draws(model, key, pattern_graph, posterior, batch=batch)
                values = np.asarray(flat, dtype=float).reshape(n_chain, n_draw, patterns.n_patterns)
        if values is None:  # every unit per draw, P columns kept: the cost of the per-unit group, not its memory
            _, flat = evaluate_draws(model, "loglik_by_pattern", graph[patterns.representative], posterior)
            values = np.asarray(flat, dtype=float).reshape(n_chain, n_draw, patterns.n_patterns)
        check = values[0, :1]
    expanded = np.asarray(check)[..., patterns.inverse]
    if not np.allclose(units, expanded, rtol=_CHECK_RTOL, atol=_CHECK_RTOL):
        worst = float(np.max(np.abs(units - expanded)))
        raise ValueError(f"units with the same responses and covariates differ in log-likelihood (by up to "
                         f"{worst:.3g}): this model has unit-level inputs the patterns do not see; use bm.loo(idata).")
    return values


def _pattern_graph(graph, patterns: Patterns):
    """(cache key, ``graph`` with every (N, ...) data constant cut to the P representative rows) or (key, None).

    The per-unit log-likelihood reads the data as constants whose first axis
    is the unit; on their representative rows the same graph gives the (P,)
    per-pattern values at P/N of the cost. The caller checks the result at
    one draw against the per-unit graph.
    """
    import pytensor.tensor as pt
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors, explicit_graph_inputs, io_toposort
    from pytensor.tensor.shape import SpecifyShape

    n, rows = patterns.n_units, patterns.representative
    key = f"loglik_by_pattern:{patterns.n_patterns}:{hash(rows.tobytes())}"
    graph = inline_symbolic_ops([graph])[0]  # logsumexp & co. carry inner graphs typed for N rows
    cut = {v: pt.constant(np.asarray(v.data)[rows], dtype=v.dtype) for v in ancestors([graph])
           if isinstance(v, Constant) and getattr(v, "ndim", 0) >= 1 and np.shape(v.data)[0] == n}
    if not cut or n == patterns.n_patterns:
        return key, None
    try:  # rebuild every node above a cut constant with make_node (output types follow the new rows)
        new = dict(cut)
        for node in io_toposort(list(explicit_graph_inputs([graph])) + list(cut), [graph]):
            inputs = [new.get(i, i) for i in node.inputs]
            if all(a is b for a, b in zip(inputs, node.inputs)):
                continue
            if isinstance(node.op, SpecifyShape):  # a shape assertion that fixes the unit axis to N
                new[node.outputs[0]] = inputs[0]
                continue
            for old, rebuilt in zip(node.outputs, node.op.make_node(*inputs).outputs):
                new[old] = rebuilt
        return key, new.get(graph)
    except Exception:  # an op that cannot be rebuilt on fewer rows
        return key, None


def _r_eff(posterior: xr.Dataset, n_samples: int) -> float:
    """Relative efficiency as ArviZ's ``loo`` computes it: mean ESS (method 'mean') of all posterior values / S."""
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess = posterior.azstats.ess(method="mean")
    return float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n_samples)


def loo_by_pattern(model, idata) -> PatternLOO:
    """PSIS-LOO (Vehtari, Gelman & Gabry 2017) run once per unique response pattern, weighted by counts.

    Equals ``bm.loo(idata)`` (ArviZ, per unit) -- elpd, se, p_loo, pointwise
    elpd and Pareto k -- because units with the same data have the same
    log-likelihood at every draw (eq. 4). Uses the ``log_likelihood`` group
    when ``idata`` has one (only P of its N columns are read); otherwise the
    per-pattern values are computed from the posterior in batches of draws,
    so the (draws, N) matrix is never formed. One draw (or two) is checked
    unit by unit against the per-pattern values before anything is returned.

    Parameters
    ----------
    model : MixtureModel
        The model that produced ``idata`` (single-level: one value per unit).
    idata : DataTree
        ``m.sample(...)``'s result (a ``posterior`` group; ``log_likelihood`` optional).

    Returns
    -------
    PatternLOO
        ``elpd``, ``se``, ``p``, per-unit ``elpd_i`` and ``pareto_k``, the
        per-pattern values and ``counts``, ``warning`` (Pareto k > ``good_k``).

    Raises
    ------
    ValueError
        Two-level models (per-cluster log-likelihood), idata without a
        posterior, or units with the same data that differ in log-likelihood.

    Examples
    --------
    >>> m = bm.lca(df, items=items, n_classes=3)       # doctest: +SKIP
    >>> idata = m.sample()                              # doctest: +SKIP
    >>> bm.loo_by_pattern(m, idata).elpd               # doctest: +SKIP
    """
    import arviz_stats  # noqa: F401  (registers the .azstats accessors)

    patterns = unit_patterns(model)
    values = pattern_loglik(model, idata, patterns)
    posterior = _posterior(idata)
    n_samples = values.shape[0] * values.shape[1]
    da = xr.DataArray(values, dims=("chain", "draw", "__pattern__"))
    elpd_p, k_p, p_p = (np.asarray(x.values, dtype=float).reshape(-1)
                        for x in da.azstats.loo(sample_dims=["chain", "draw"], r_eff=_r_eff(posterior, n_samples)))
    counts = np.bincount(patterns.inverse, minlength=patterns.n_patterns).astype(float)
    n = counts.sum()
    elpd = float(counts @ elpd_p)
    var = float(counts @ (elpd_p - elpd / n) ** 2) / (n - 1) if n > 1 else 0.0
    good_k = min(1 - 1 / np.log10(n_samples), 0.7) if n_samples > 1 else 0.7
    return PatternLOO(elpd=elpd, se=float(np.sqrt(n * var)), p=float(counts @ p_p),
                      elpd_i=elpd_p[patterns.inverse], pareto_k=k_p[patterns.inverse], elpd_pattern=elpd_p,
                      pareto_k_pattern=k_p, p_pattern=p_p, counts=counts, n_samples=int(n_samples),
                      good_k=float(good_k), warning=bool(np.any(k_p > good_k)))
