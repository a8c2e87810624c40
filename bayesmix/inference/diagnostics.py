"""Convergence checks run after every ``sample``: nothing passes silently.

The thresholds are the usual ones (Vehtari et al. 2021, Stan's defaults):
R-hat > 1.01, bulk or tail ESS below 100 per chain, any divergent transition,
E-BFMI < 0.3, any transition that hit the maximum tree depth. Each problem
becomes one :class:`ConvergenceWarning` naming the worst parameters and what
to try; the figures are kept in ``idata.attrs`` (``bayesmix_*`` keys, plain
numbers and strings so the DataTree can still be written to disk).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from .._warn import PACKAGE_FRAMES

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3
MAX_NAMED = 6


class ConvergenceWarning(UserWarning):
    """A sampling or optimization result that should not be trusted as it stands."""


def _labels(da: xr.DataArray, mask: np.ndarray, order: np.ndarray) -> list[str]:
    """``name[coord, coord]`` for the flagged elements of ``da``, in ``order``."""
    out = []
    dims = da.dims
    for flat in order:
        if not mask.ravel()[flat]:
            continue
        if not dims:
            out.append(str(da.name))
            continue
        idx = np.unravel_index(flat, da.shape)
        parts = [str(da[d].values[i]) if d in da.coords else str(i) for d, i in zip(dims, idx)]
        out.append(f"{da.name}[{', '.join(parts)}]")
    return out


def _flagged(stat: xr.Dataset, bad, worst_first_key) -> tuple[list[tuple[float, str]], int]:
    """(value, label) of every flagged element across variables, worst first, and the count."""
    found = []
    for name, da in stat.data_vars.items():
        values = np.asarray(da.values, dtype=float)
        mask = np.isfinite(values) & bad(values)
        if not mask.any():
            continue
        da = da.rename(name)
        order = np.argsort(worst_first_key(values).ravel(), kind="stable")
        labels = _labels(da, mask, order)
        vals = values.ravel()[order][mask.ravel()[order]]
        found.extend(zip(vals.tolist(), labels))
    found.sort(key=lambda t: worst_first_key(np.array([t[0]]))[0])
    return found, len(found)


def _name_list(found: list[tuple[float, str]], fmt: str) -> str:
    shown = ", ".join(f"{label} ({fmt.format(value)})" for value, label in found[:MAX_NAMED])
    more = len(found) - MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _dataset(idata, group: str) -> xr.Dataset | None:
    if group not in idata.children:
        return None
    node = idata[group]
    return node.to_dataset() if hasattr(node, "to_dataset") else node


def _stat(ds: xr.Dataset, *names):
    for name in names:
        if name in ds:
            return ds[name]
    return None


def check_convergence(idata, *, max_treedepth: int | None = None, warn: bool = True,
                      var_names: list[str] | None = None, stacklevel: int = 3) -> dict:
    """Run the checks on a sampled DataTree, warn for each problem, return the figures.

    ``var_names`` restricts R-hat/ESS to these posterior variables (default:
    all). ``max_treedepth`` is used only when the sampler did not record
    whether the maximum depth was hit (default 10, the samplers' default).
    Returns a dict of ``bayesmix_*`` figures (also what ``sample`` stores in
    ``idata.attrs``), with ``bayesmix_convergence_warnings`` the messages.
    """
    import arviz as az

    posterior = _dataset(idata, "posterior")
    stats = _dataset(idata, "sample_stats")
    n_chains, n_draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    names = [v for v in (var_names or list(posterior.data_vars)) if v in posterior.data_vars]
    messages: list[str] = []
    figures: dict = {"bayesmix_chains": n_chains, "bayesmix_draws_per_chain": n_draws}

    # --- divergences, tree depth, E-BFMI (sampler statistics)
    if stats is not None:
        div = _stat(stats, "diverging")
        n_div = int(np.asarray(div.values).sum()) if div is not None else 0
        figures["bayesmix_divergences"] = n_div
        if n_div:
            per_chain = np.asarray(div.values).reshape(n_chains, -1).sum(1)
            messages.append(
                f"{n_div} divergent transition(s) after tuning ({n_div / (n_chains * n_draws):.1%} of draws; "
                f"per chain {per_chain.tolist()}): the sampler could not follow the posterior's curvature "
                "there and the draws may be biased. Try target_accept=0.95 (or 0.99), more tune, stronger "
                "priors (priors=...), or fewer classes if a class is nearly empty.")
        hit = _stat(stats, "reached_max_treedepth", "maxdepth_reached")
        if hit is not None:
            n_hit = int(np.asarray(hit.values, dtype=bool).sum())
        else:
            depth = _stat(stats, "tree_depth", "depth")
            n_hit = int((np.asarray(depth.values) >= (max_treedepth or 10)).sum()) if depth is not None else 0
        figures["bayesmix_max_treedepth_hits"] = n_hit
        if n_hit:
            messages.append(
                f"{n_hit} transition(s) ({n_hit / (n_chains * n_draws):.1%}) hit the maximum tree depth: "
                "the sampler stopped its trajectories early, so exploration is slow. Try more tune, a larger "
                "depth (sampler='pymc': nuts={'max_treedepth': 12}; sampler='nutpie': maxdepth=12), or "
                "stronger priors on weakly identified parameters.")
        if "energy" in stats:
            bfmi = np.asarray(_as_dataset(az.bfmi(idata))["energy"].values, dtype=float).ravel()
            figures["bayesmix_min_bfmi"] = float(np.nanmin(bfmi)) if bfmi.size else float("nan")
            low = np.flatnonzero(bfmi < BFMI_MIN)
            if low.size:
                messages.append(
                    f"low E-BFMI (< {BFMI_MIN}) in chain(s) {low.tolist()} ({', '.join(f'{b:.2f}' for b in bfmi[low])}): "
                    "the momentum resampling explores the energy distribution poorly (heavy tails or strong "
                    "funnels, e.g. random-effect SDs near 0). Try more tune or stronger priors on SDs.")

    # --- R-hat and ESS (posterior)
    if names and n_draws >= 4:
        sub = posterior[names]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rhat = _as_dataset(az.rhat(sub))
            ess_bulk = _as_dataset(az.ess(sub, method="bulk"))
            ess_tail = _as_dataset(az.ess(sub, method="tail"))
        figures["bayesmix_max_rhat"] = _extreme(rhat, np.nanmax)
        figures["bayesmix_min_ess_bulk"] = _extreme(ess_bulk, np.nanmin)
        figures["bayesmix_min_ess_tail"] = _extreme(ess_tail, np.nanmin)
        if n_chains > 1:
            found, count = _flagged(rhat, lambda v: v > RHAT_MAX, lambda v: -v)
            if count:
                messages.append(
                    f"R-hat > {RHAT_MAX} for {count} parameter(s): {_name_list(found, '{:.3f}')}. The chains "
                    "disagree: they have not mixed or sit in different modes (in mixtures often local modes or "
                    "label switching). Compare the chains (az.plot_trace_dist), run longer (more tune and draws), "
                    "start from a better mode (starts=40 or init='ml'), or identify the labels (ordered='item').")
        floor = ESS_PER_CHAIN_MIN * n_chains
        for kind, ess in (("bulk", ess_bulk), ("tail", ess_tail)):
            found, count = _flagged(ess, lambda v: v < floor, lambda v: v)
            if count:
                messages.append(
                    f"{kind} ESS below {floor} ({ESS_PER_CHAIN_MIN} per chain x {n_chains}) for {count} "
                    f"parameter(s): {_name_list(found, '{:.0f}')}. The {'posterior means and SDs' if kind == 'bulk' else 'interval ends'} "
                    "are estimated from too few effective draws: increase draws (and tune).")

    figures["bayesmix_convergence_ok"] = int(not messages)  # 1 / 0: netCDF has no boolean attribute
    figures["bayesmix_convergence_warnings"] = "\n".join(messages)
    if warn:
        for message in messages:
            warnings.warn(message, ConvergenceWarning, skip_file_prefixes=PACKAGE_FRAMES)
    return figures


def _as_dataset(result) -> xr.Dataset:
    if isinstance(result, xr.Dataset):
        return result
    if hasattr(result, "to_dataset"):
        return result.to_dataset()
    return result.dataset


def _extreme(ds: xr.Dataset, fn) -> float:
    values = [np.asarray(da.values, dtype=float).ravel() for da in ds.data_vars.values()]
    values = np.concatenate(values) if values else np.array([])
    values = values[np.isfinite(values)]
    return float(fn(values)) if values.size else float("nan")
