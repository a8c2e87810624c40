"""Posterior predictive checks: replicated data from a fit, and the standard checks for mixtures.

``pm.sample_posterior_predictive(idata)`` returns an empty DataTree for a
bayesmix model (with PyMC's warning that Potentials are ignored): the
likelihood is a ``pm.Potential`` with the classes summed out, so PyMC has no
observed variable to simulate. :func:`posterior_predictive` simulates instead,
per posterior draw theta_s (or, after ML / MAP, repeatedly at the point):

1. the continuous latent effects, as new levels from their distribution,
   z ~ N(0, I) (u = Gamma' w + Lambda z, eq. 5; for ``random_effects=
   "posterior"``: the draw's sampled z); Dirichlet memberships g_j ~ Dir(a);
2. the classes from their prior given the parameters and effects, not from
   their posterior given y: C_i ~ P(C | x_i, u_j) (eq. 4) for within classes,
   C_j ~ P(C_j | w_j) (eq. 16-17) for between-level classes, D_j then
   C_ij | D_j (eq. 24-26) for within and between classes, C_1 then
   C_t+1 | C_t along the chain (LTA, eq. 8-9; the K^T class paths without
   the Markov property), C_ij ~ g_j per response (GoM, eq. 28-30);
3. every item response from its class-conditional kernel (eq. 1-2; the
   regression of eq. 19 with the cluster's random effects; FMA's lambda_i
   eta_j shift, eq. 36; the mixture SEM's Lambda_c' eta_i + K_c' x_i with
   eta_i = (I - B_c)^-1 (mu_c + Gamma_c' x_i + xi_i), eq. 2-3; at time t of
   an LTA, given C_t, eq. 6-7, 11).

Cells missing in the data are missing in every replicate, so the replicates
have the data's shape and missingness pattern (pairwise-complete rows and
response patterns are comparable one to one). The replicated data go into
the DataTree's ``posterior_predictive`` group (one variable per item, dims
``(chain, draw, unit)``, coded as in ``observed_data``).

The checks compare a statistic T of the observed data with its replicates
and report the posterior predictive p-value (mid-p for discrete statistics)

    ppp = P(T(y_rep) > T(y)) + 0.5 P(T(y_rep) = T(y)),

the share of replicates at least as extreme; values near 0 (or 1) say the
model does not reproduce that feature (Gelman, Meng & Stern 1996):

- :func:`pattern_frequencies`: observed counts of the most frequent
  response patterns against their posterior predictive distribution, with an
  overall Pearson discrepancy over those patterns and the rest;
- :func:`item_pairs`: per item pair an association statistic -- Cramer's V
  of the two-way table (default), the log odds ratio of two binary items
  (Sinharay, Johnson & Stern 2006), the correlation, or the bivariate
  residual of the table against its posterior predictive mean (the PPC form
  of Latent GOLD's BVR; noisier in sparse tables, as its expected counts
  carry the parameters' uncertainty) -- whose observed value well above the
  replicates (ppp near 0) flags local dependence the classes do not explain.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from . import registry
from ._random import categorical
from .evaluate import as_fit, fit_kind

__all__ = ["posterior_predictive", "pattern_frequencies", "item_pairs"]

RANDOM_EFFECTS = ("new", "posterior")
PAIR_STATISTICS = ("bvr", "cramers_v", "log_odds_ratio", "correlation")


# ============================================================================ simulation
class _Block:
    """Items drawn from one kernel's class-conditional distribution: their columns and time point."""

    def __init__(self, kernel, key: str, names: list[str], time: int | None, offset: int,
                 columns: list[int] | None = None):
        self.kernel, self.key, self.names, self.time = kernel, key, names, time
        self.offset = offset  # position of the first item among the responses (GoM: item-level classes)
        #: the kernel's items (positions) this block draws
        self.columns = list(range(len(names))) if columns is None else columns


class _Simulator:
    """Compiled graphs of one model that the simulation needs, as functions of the parameters and z.

    Generic over the model's layers: the structure gives the class priors and draws the
    classes (:meth:`Structure.simulation_graphs`, :meth:`Structure.simulate_classes`), each
    kernel its response distribution and draws (:meth:`ItemKernel.simulation_graphs`,
    :meth:`ItemKernel.sample`), the latent block new effects (:meth:`LatentEffects.draw_z`).
    """

    def __init__(self, mm):
        self.mm = mm
        structure = mm.structure
        self.latent = mm.latent
        self.z_rv = None if self.latent is None else self.latent.z
        z = self.z_rv
        outputs: dict[str, Any] = {f"class:{k}": v for k, v in structure.simulation_graphs(z).items()}
        for j, kernel in enumerate(mm.kernels):
            shift = None if z is None else kernel.latent_shift(self.latent, z)
            for block in self._fixed_blocks():
                extra = kernel.latent_shift(block, None)
                shift = extra if shift is None else shift if extra is None else shift + extra
            outputs.update({f"{j}:{k}": v for k, v in kernel.simulation_graphs(shift).items()})
        self.blocks = self._blocks()
        self.names = list(outputs)
        self.param_rvs = [rv for rv in mm.model.free_RVs if self.z_rv is None or rv is not self.z_rv]
        inputs = self.param_rvs + ([] if self.z_rv is None else [self.z_rv])
        from ._compile import function
        self.fn = function(inputs, list(outputs.values()), size=mm.work_size())
        self.z_shape = None if self.z_rv is None else tuple(int(s) for s in self.z_rv.shape.eval())
        latent_graphs = {} if self.latent is None else self.latent.simulation_graphs()
        self.latent_names = list(latent_graphs)
        self.latent_fn = function(self.param_rvs, list(latent_graphs.values())) if latent_graphs else None

    def _fixed_blocks(self) -> list:
        """Latent blocks among the model's components: nothing to integrate, but they may shift items.

        E.g. the deterministic growth factors of latent class growth analysis (``bm.mixture_sem`` with
        ``zero_variance``): the class's trajectory enters the items as a shift at z = None.
        """
        from .latent import LatentEffects
        return [c for c in self.mm.components if isinstance(c, LatentEffects) and c is not self.latent]

    def _blocks(self) -> list[_Block]:
        """The item columns each kernel draws (the structure's blocks; LTA: per time point)."""
        blocks, offset = [], 0
        for j, names, time, columns in self.mm.structure.item_blocks(self.mm.kernels):
            blocks.append(_Block(self.mm.kernels[j], str(j), names, time, offset, columns))
            offset += len(names)
        return blocks

    def evaluate(self, values: list[np.ndarray], z: np.ndarray | None) -> dict[str, np.ndarray]:
        args = list(values) + ([] if z is None else [z])
        return {k: np.asarray(v) for k, v in zip(self.names, self.fn(*args))}

    def draw_z(self, rng: np.random.Generator, values: list[np.ndarray]) -> np.ndarray | None:
        """New latent effects from the latent block (standard normal z, eq. 5; Dirichlet g_j ~ Dir(a))."""
        if self.z_rv is None:
            return None
        graphs = {} if self.latent_fn is None else {
            k: np.asarray(v) for k, v in zip(self.latent_names, self.latent_fn(*values))}
        return self.latent.draw_z(rng, self.z_shape, graphs)

    # ----------------------------------------------------------------------- one replicate
    def replicate(self, out: dict, rng: np.random.Generator) -> list[np.ndarray]:
        """One replicated data set: per block, category codes or values (N, items of the block)."""
        structure = self.mm.structure
        n_items = sum(len(block.names) for block in self.blocks)
        cls = structure.simulate_classes(rng, _part(out, "class"), n_items)
        pieces = []
        for block in self.blocks:
            c = structure.block_classes(cls, block.offset, len(block.names), block.time)
            pieces.append(block.kernel.sample(rng, _part(out, block.key), c, block.columns))
        return pieces


def _part(out: dict, prefix: str) -> dict:
    """The evaluated graphs of one layer (keys ``<prefix>:<name>``) by name."""
    head = prefix + ":"
    return {k[len(head):]: v for k, v in out.items() if k.startswith(head)}


#: kept for callers of the old private helper
_categorical = categorical


def _check_supported(mm) -> None:
    known = registry.families()
    if mm.name not in known:
        raise NotImplementedError(
            f"posterior_predictive does not simulate {mm.name!r} models; it covers the registered families "
            + ", ".join(f"bm.{f}" for f in known) + ".")
    mm.structure.check_simulation()


def _selected_posterior(mm, result, draws: int | None, random_effects: str):
    """(posterior Dataset thinned within chains, is_point): parameters as (chain, draw, ...) arrays."""
    from .predict import point_posterior
    if isinstance(result, xr.DataTree):
        if "posterior" not in result.children:
            raise ValueError("result has no posterior group; pass the DataTree of m.sample() / m.fit_laplace() "
                             "or an ML / MAP result.")
        posterior = result["posterior"].to_dataset()
        step = 1
        if draws is not None:
            total = posterior.sizes["chain"] * posterior.sizes["draw"]
            step = max(1, int(np.ceil(total / draws)))
        posterior = posterior.isel(draw=slice(None, None, step))
        is_point = False
    elif fit_kind(result) in ("ml", "map", "point"):
        single = point_posterior(mm, as_fit(result).point)["posterior"].to_dataset()
        n = 1000 if draws is None else int(draws)
        posterior = single.isel(draw=np.zeros(n, dtype=int)).assign_coords(draw=np.arange(n))
        is_point = True
    else:
        raise ValueError(f"result must be a posterior DataTree (m.sample, m.fit_laplace) or an ML / MAP result, "
                         f"got {type(result).__name__}.")
    z_name = None if mm.latent is None else mm.latent.z_name
    missing = [rv.name for rv in mm.model.free_RVs if rv.name != z_name and rv.name not in posterior]
    if missing:
        raise ValueError(f"the posterior lacks the parameter(s) {missing} of this model; is result a fit of "
                         "this model?")
    if random_effects == "posterior":
        if z_name is None:
            raise ValueError("random_effects='posterior' needs a model with random effects (or a person factor "
                             "or membership); this one has none: use random_effects='new'.")
        if z_name not in posterior:
            raise ValueError(f"random_effects='posterior' needs the sampled {z_name!r} in the posterior (m.sample); "
                             "ML, MAP and Laplace fits and sample(latent='integrated') integrate it out: use "
                             "random_effects='new' (or sample with latent='sampled').")
    return posterior, is_point


def posterior_predictive(mm, result: Any, *, seed: int | None = None, draws: int | None = 1000,
                         random_effects: str = "new", extend: bool = True) -> xr.DataTree:
    """Replicated data sets simulated from a fit, for posterior predictive checks.

    ``pm.sample_posterior_predictive(idata)`` returns an empty DataTree for
    these models: the likelihood is a ``pm.Potential`` (classes summed
    out), which PyMC cannot simulate. This method simulates per posterior
    draw: new random effects (or person factors / memberships) from their
    distribution (eq. 5), the classes from their prior given the
    parameters (eq. 4; between-level classes eq. 16-17, within and between
    eq. 24-26, a class per time point in LTA eq. 8-9, one class per
    response in GoM eq. 28), then every item from
    its class-conditional kernel (eq. 1-2, 19, 36). Cells missing in the
    data are missing in every replicate. See
    :mod:`bayesmix.posterior_predictive`.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    result : DataTree, MLResult or MAP result
        A posterior (:meth:`sample`, :meth:`fit_laplace`): one replicate
        per draw; or an ML / MAP fit: ``draws`` replicates at the point
        estimate (a parametric bootstrap, ignoring estimation uncertainty).
    seed : int, optional
        Seed of the simulation (same seed, same replicates).
    draws : int or None
        At most about this many replicates: posterior draws are thinned
        evenly within each chain (None: every draw); after ML / MAP the
        number of replicates.
    random_effects : ``"new"`` or ``"posterior"``
        ``"new"`` (default): new levels' effects z ~ N(0, I) -- replicates
        of the marginal likelihood that ML and LOO use; ``"posterior"``:
        the draw's sampled effects (after :meth:`sample`; replicates of
        the same clusters / persons).
    extend : bool
        With a DataTree ``result``: add the groups to it (and return it);
        False returns a new DataTree.

    Returns
    -------
    xarray.DataTree
        ``posterior_predictive``: one variable per item, dims ``(chain,
        draw, unit)``, coded as in ``observed_data`` (NaN where the data
        are missing; the string "None" for items with text codes), and
        ``observed_data``. For the models of every factory (``bm.lca``,
        ``bm.mixture_regression``, ``bm.lta``, ``bm.gom``, ``bm.fma``,
        ``bm.fma_gom``, ``bm.irt_3pl``, ``bm.mixture_sem``).

    Examples
    --------
    >>> idata = m.sample(random_seed=1)                         # doctest: +SKIP
    >>> m.posterior_predictive(idata, seed=1)                   # doctest: +SKIP
    >>> m.ppc_patterns(idata)                                   # doctest: +SKIP
    >>> m.ppc_item_pairs(idata).head()                          # doctest: +SKIP
    """
    _check_supported(mm)
    if random_effects not in RANDOM_EFFECTS:
        raise ValueError(f"random_effects={random_effects!r} is unknown; use 'new' (new cluster / person effects "
                         "from their distribution) or 'posterior' (the sampled ones).")
    if draws is not None and (not isinstance(draws, (int, np.integer)) or draws < 1):
        raise ValueError(f"draws must be a positive integer (or None for every draw), got {draws!r}.")
    posterior, is_point = _selected_posterior(mm, result, draws, random_effects)
    key = "posterior_predictive:simulator"
    if key not in mm._cache:
        mm._cache[key] = _Simulator(mm)
    sim: _Simulator = mm._cache[key]
    rng = np.random.default_rng(seed)
    arrays = [posterior[rv.name].transpose("chain", "draw", ...).to_numpy() for rv in sim.param_rvs]
    z_draws = None
    if random_effects == "posterior":
        z_draws = posterior[mm.latent.z_name].transpose("chain", "draw", ...).to_numpy()
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    replicates: list[list[np.ndarray]] = []
    for c in range(n_chain):
        for d in range(n_draw):
            values = [a[c, d] for a in arrays]
            z = z_draws[c, d] if z_draws is not None else sim.draw_z(rng, values)
            replicates.append(sim.replicate(sim.evaluate(values, z), rng))
    dataset = _to_dataset(mm, sim, replicates, posterior, n_chain, n_draw)
    dataset.attrs.update({"bayesmix_random_effects": random_effects, "bayesmix_seed": -1 if seed is None else seed,
                          "bayesmix_plug_in": int(is_point)})
    observed = mm.observed_data()
    if isinstance(result, xr.DataTree) and extend:
        result["posterior_predictive"] = xr.DataTree(dataset)
        if "observed_data" not in result.children:
            result["observed_data"] = xr.DataTree(observed)
        return result
    return xr.DataTree.from_dict({"posterior_predictive": dataset, "observed_data": observed})


def _to_dataset(mm, sim: _Simulator, replicates, posterior, n_chain: int, n_draw: int) -> xr.Dataset:
    """Replicates -> one variable per item (chain, draw, unit), coded as ``observed_data``, data's missing cells."""
    frame = mm.data.frame
    specs = {spec.name: spec for spec in mm.data.items}
    units = np.asarray(mm.data.units)
    out = {}
    for j, block in enumerate(sim.blocks):
        stacked = np.stack([rep[j] for rep in replicates])  # (S, N, I)
        for i, name in enumerate(block.names):
            column = frame[name]
            missing = column.isna().to_numpy()
            values = stacked[:, :, i]
            numeric = pd.api.types.is_numeric_dtype(column)
            if block.kernel.discrete:
                categories = np.asarray(specs[name].categories, dtype=object)
                values = categories[values]
                values = (np.where(missing, np.nan, values.astype(float)) if numeric
                          else np.where(missing, "None", values.astype(str)))
            else:
                values = np.where(missing, np.nan, values)
            out[name] = (("chain", "draw", "unit"), values.reshape(n_chain, n_draw, len(units)))
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values, "unit": units}
    return xr.Dataset({name: out[name] for name in mm.data.item_names() if name in out}, coords=coords)


# ============================================================================ checks
def _tree_groups(mm, ppc) -> tuple[xr.Dataset, xr.Dataset]:
    if not isinstance(ppc, xr.DataTree) or "posterior_predictive" not in ppc.children:
        raise ValueError("ppc must be the DataTree returned by m.posterior_predictive(result) (it has a "
                         "posterior_predictive group); call that first.")
    observed = ppc["observed_data"].to_dataset() if "observed_data" in ppc.children else mm.observed_data()
    return observed, ppc["posterior_predictive"].to_dataset()


def _items(mm, items: Sequence[str] | None, replicated: xr.Dataset, categorical: bool, what: str) -> list[str]:
    specs = {spec.name: spec for spec in mm.data.items}
    names = [n for n in replicated.data_vars if n in specs] if items is None else list(items)
    unknown = [n for n in names if n not in replicated.data_vars or n not in specs]
    if unknown:
        raise ValueError(f"items {unknown} are not items of this model's replicates; "
                         f"use some of {[n for n in replicated.data_vars]}.")
    if categorical:
        continuous = [n for n in names if specs[n].kind == "continuous"]
        if items is None:
            names = [n for n in names if n not in continuous]
        elif continuous:
            raise ValueError(f"{what} needs categorical items; {continuous} are continuous (leave them out with "
                             "items=[...]).")
    if len(names) < (2 if what == "item_pairs" else 1):
        raise ValueError(f"{what} needs at least {2 if what == 'item_pairs' else 1} categorical item(s) "
                         f"in the replicates, found {names}.")
    return names


def _codes(spec, values: np.ndarray) -> np.ndarray:
    """Item values (as in ``observed_data``) -> category codes 0..C-1, -1 for missing."""
    values = np.asarray(values)
    categories = list(spec.categories)
    codes = np.full(values.shape, -1, dtype=np.int64)
    numeric = np.issubdtype(values.dtype, np.number)
    for code, category in enumerate(categories):
        if numeric:
            try:
                hit = values == float(category)
            except (TypeError, ValueError):
                continue
        else:
            hit = values == str(category)
        codes[hit] = code
    return codes


def _mid_p(replicated: np.ndarray, observed, axis: int = 0) -> np.ndarray:
    """P(T_rep > T_obs) + 0.5 P(T_rep = T_obs) over ``axis``."""
    return (np.mean(replicated > observed, axis=axis) + 0.5 * np.mean(replicated == observed, axis=axis))


def _interval(values: np.ndarray, ci) -> tuple:
    from .evaluate import interval
    return interval(np.asarray(values, dtype=float), ci[0], ci[1])


def _check_prob(ci_prob, ci_kind, hdi_prob) -> tuple:
    from .evaluate import interval_arguments
    return interval_arguments(ci_prob, ci_kind, hdi_prob, stacklevel=4)


def pattern_frequencies(mm, ppc: xr.DataTree, *, n_patterns: int = 10, items: Sequence[str] | None = None,
                        ci_prob: float | None = None,
                        ci_kind: str | None = None, hdi_prob: float | None = None) -> pd.DataFrame:
    """Observed vs posterior predictive frequencies of the most frequent response patterns.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    ppc : DataTree
        From :meth:`posterior_predictive` (it has ``posterior_predictive``
        and ``observed_data`` groups).
    n_patterns : int
        The most frequent observed patterns to compare (missing cells are
        part of a pattern, shown as ``.``: replicates share the data's
        missing cells).
    items : list of str, optional
        Categorical items forming the patterns (default: every categorical item).
    ci_prob : float, optional
        Probability of the interval (default ArviZ's ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or highest
        density interval (:mod:`arviz_stats`).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        One row per pattern (index: the pattern as a string), the item
        values, ``observed``, ``expected`` (mean replicated count),
        ``lower``, ``upper`` and ``ppp`` = P(rep > obs) + P(rep = obs) / 2
        (near 0: the model under-predicts the pattern, near 1: over-predicts).
        ``.attrs["overall"]``: the Pearson discrepancy over these patterns
        and the rest pooled, with its ppp.

    Examples
    --------
    >>> ppc = m.posterior_predictive(idata, seed=1)     # doctest: +SKIP
    >>> m.ppc_patterns(ppc, n_patterns=5)               # doctest: +SKIP
    """
    ci = _check_prob(ci_prob, ci_kind, hdi_prob)
    if not isinstance(n_patterns, (int, np.integer)) or n_patterns < 1:
        raise ValueError(f"n_patterns must be a positive integer, got {n_patterns!r}.")
    observed, replicated = _tree_groups(mm, ppc)
    names = _items(mm, items, replicated, True, "ppc_patterns")
    specs = {spec.name: spec for spec in mm.data.items}
    obs = np.stack([_codes(specs[n], observed[n].to_numpy()) for n in names], axis=-1)  # (N, I)
    rep = np.stack([_codes(specs[n], replicated[n].transpose("chain", "draw", "unit").to_numpy())
                    for n in names], axis=-1)
    rep = rep.reshape(-1, *obs.shape)  # (S, N, I)
    patterns, counts = np.unique(obs, axis=0, return_counts=True)
    order = np.lexsort((np.arange(len(counts)), -counts))[:n_patterns]
    patterns, counts = patterns[order], counts[order]
    rep_counts = np.stack([(r[:, None, :] == patterns[None]).all(axis=-1).sum(axis=0) for r in rep])  # (S, P)
    n = obs.shape[0]
    expected = rep_counts.mean(axis=0)
    lower, upper = _interval(rep_counts, ci)
    rows = {}
    for name, column in zip(names, patterns.T):
        categories = np.asarray(specs[name].categories, dtype=object)
        rows[name] = [categories[c] if c >= 0 else np.nan for c in column]
    table = pd.DataFrame(rows)
    table.index = pd.Index(["".join("." if c < 0 else _symbol(specs[nm], c) for nm, c in zip(names, p))
                            for p in patterns], name="pattern")
    table["observed"] = counts
    table["expected"] = expected
    table["lower"], table["upper"] = lower, upper
    table["ppp"] = _mid_p(rep_counts, counts[None])
    # overall Pearson discrepancy over the listed patterns and the rest (other patterns pooled)
    o_all = np.append(counts, n - counts.sum()).astype(float)
    r_all = np.column_stack([rep_counts, n - rep_counts.sum(axis=1)]).astype(float)
    e_all = np.maximum(r_all.mean(axis=0), 1e-12)
    t_obs = float(np.sum((o_all - e_all) ** 2 / e_all))
    t_rep = np.sum((r_all - e_all) ** 2 / e_all, axis=1)
    table.attrs["overall"] = {"statistic": t_obs, "replicated_mean": float(t_rep.mean()),
                              "ppp": float(_mid_p(t_rep, t_obs)), "n_patterns": int(len(counts)),
                              "n_replicates": int(len(rep))}
    table.attrs["items"] = names
    return table


def _symbol(spec, code: int) -> str:
    value = spec.categories[code]
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    label = str(value)
    return label if len(label) == 1 else f"[{label}]"


def _pair_statistic(statistic: str, tables: np.ndarray, df: int, expected: np.ndarray | None = None) -> np.ndarray:
    """Statistic of two-way tables (..., Ca, Cb)."""
    if statistic == "bvr":
        e = np.maximum(expected, 1e-12)
        return np.sum((tables - e) ** 2 / e, axis=(-2, -1)) / df
    if statistic == "cramers_v":
        n = tables.sum(axis=(-2, -1), keepdims=True)
        indep = tables.sum(axis=-1, keepdims=True) * tables.sum(axis=-2, keepdims=True) / np.maximum(n, 1e-12)
        x2 = np.sum(np.where(indep > 0, (tables - indep) ** 2 / np.maximum(indep, 1e-12), 0.0), axis=(-2, -1))
        k = min(tables.shape[-2], tables.shape[-1]) - 1
        return np.sqrt(x2 / (np.maximum(n[..., 0, 0], 1e-12) * k))
    # log odds ratio of a 2 x 2 table (0.5 added to every cell)
    t = tables + 0.5
    return np.log(t[..., 1, 1] * t[..., 0, 0] / (t[..., 1, 0] * t[..., 0, 1]))


def item_pairs(mm, ppc: xr.DataTree, *, statistic: str = "cramers_v", items: Sequence[str] | None = None,
               ci_prob: float | None = None,
               ci_kind: str | None = None, hdi_prob: float | None = None) -> pd.DataFrame:
    """Observed vs posterior predictive association of every item pair (local dependence).

    Parameters
    ----------
    mm : MixtureModel
        The model.
    ppc : DataTree
        From :meth:`posterior_predictive`.
    statistic : str
        ``"cramers_v"`` (default, any categorical items), ``"log_odds_ratio"``
        (binary items), ``"correlation"`` (any items, continuous too) or
        ``"bvr"`` (Pearson X2 / df of the two-way table against its
        posterior predictive mean).
    items : list of str, optional
        Items to pair (default: every categorical item; every item for ``"correlation"``).
    ci_prob : float, optional
        Probability of the interval (default ArviZ's ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or highest
        density interval (:mod:`arviz_stats`).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        Rows (item1, item2) with ``observed``, ``replicated`` (mean),
        ``lower``, ``upper``, ``ppp`` = P(T_rep > T_obs) + P(T_rep = T_obs) / 2
        and ``n`` (pairwise-complete rows), most suspicious (smallest ppp)
        first: a ppp near 0 says the pair is more associated than the
        classes explain (local dependence).

    Examples
    --------
    >>> ppc = m.posterior_predictive(idata, seed=1)     # doctest: +SKIP
    >>> m.ppc_item_pairs(ppc).head()                    # doctest: +SKIP
    """
    ci = _check_prob(ci_prob, ci_kind, hdi_prob)
    if statistic not in PAIR_STATISTICS:
        raise ValueError(f"statistic={statistic!r} is unknown; use one of {PAIR_STATISTICS}.")
    observed, replicated = _tree_groups(mm, ppc)
    names = _items(mm, items, replicated, statistic != "correlation", "item_pairs")
    specs = {spec.name: spec for spec in mm.data.items}
    if statistic == "log_odds_ratio":
        wide = [n for n in names if specs[n].n_categories != 2]
        if wide:
            raise ValueError(f"statistic='log_odds_ratio' is for binary items; {wide} have more than two "
                             "categories: use statistic='bvr' or 'cramers_v', or leave them out with items=.")
    n_reps = replicated.sizes["chain"] * replicated.sizes["draw"]
    rows = {}
    for a, b in itertools.combinations(names, 2):
        if statistic == "correlation":
            t_obs, t_rep, n = _correlations(specs, observed, replicated, a, b, n_reps)
        else:
            ca, cb = specs[a].n_categories, specs[b].n_categories
            obs_a, obs_b = (_codes(specs[x], observed[x].to_numpy()) for x in (a, b))
            rep_a, rep_b = (_codes(specs[x], replicated[x].transpose("chain", "draw", "unit").to_numpy())
                            .reshape(n_reps, -1) for x in (a, b))
            both = (obs_a >= 0) & (obs_b >= 0)  # the replicates share the data's missing cells
            n = int(both.sum())
            table_obs = np.bincount(obs_a[both] * cb + obs_b[both], minlength=ca * cb).reshape(ca, cb).astype(float)
            joint = rep_a[:, both] * cb + rep_b[:, both] + (np.arange(n_reps) * ca * cb)[:, None]
            tables = np.bincount(joint.ravel(), minlength=n_reps * ca * cb).reshape(n_reps, ca, cb).astype(float)
            df = (ca - 1) * (cb - 1)
            if statistic == "bvr":  # against the posterior predictive mean table; each replicate leaves itself out
                mean = tables.mean(axis=0)
                t_obs = float(_pair_statistic("bvr", table_obs, df, mean))
                loo = (tables.sum(axis=0)[None] - tables) / max(n_reps - 1, 1)
                t_rep = _pair_statistic("bvr", tables, df, loo)
            else:
                t_obs = float(_pair_statistic(statistic, table_obs, df))
                t_rep = _pair_statistic(statistic, tables, df)
        lower, upper = _interval(t_rep, ci)
        rows[(a, b)] = {"observed": t_obs, "replicated": float(np.mean(t_rep)), "lower": float(lower),
                        "upper": float(upper), "ppp": float(_mid_p(t_rep, t_obs)), "n": n}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["item1", "item2"])
    table = table.sort_values(["ppp", "observed"], ascending=[True, False], kind="stable")
    table.attrs["statistic"] = statistic
    return table


def _correlations(specs, observed, replicated, a: str, b: str, n_reps: int):
    """Pearson correlation of two items (category codes for categorical items) in the data and the replicates."""
    def numbers(name, values):
        if specs[name].kind == "continuous":
            return np.asarray(values, dtype=float)
        codes = _codes(specs[name], values).astype(float)
        return np.where(codes < 0, np.nan, codes)

    obs = [numbers(x, observed[x].to_numpy()) for x in (a, b)]
    rep = [numbers(x, replicated[x].transpose("chain", "draw", "unit").to_numpy()).reshape(n_reps, -1)
           for x in (a, b)]
    both = np.isfinite(obs[0]) & np.isfinite(obs[1])

    def corr(x, y):
        x = x - x.mean(axis=-1, keepdims=True)
        y = y - y.mean(axis=-1, keepdims=True)
        denom = np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1))
        return np.where(denom > 0, (x * y).sum(axis=-1) / np.maximum(denom, 1e-300), 0.0)

    return float(corr(obs[0][both], obs[1][both])), corr(rep[0][:, both], rep[1][:, both]), int(both.sum())
