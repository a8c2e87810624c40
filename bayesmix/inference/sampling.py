"""NUTS sampling over the marginalized model, with initialization and post-processing.

All backends sample the same PyMC model (classes already summed out). The
chains start at one mode found by multi-start optimization (different
random-start optima are how LCA local modes and label permutations show up),
and afterwards every draw is aligned to that mode's labels. The returned
DataTree gets a ``log_likelihood`` group with one value per independent unit
and an ``observed_data`` group.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import sys
import time
import warnings

import numpy as np
import pymc as pm
import xarray as xr

from .._compile import COMPILE_MODE
from ..results import draw_function, iterate_draws, posterior_rv_names
from .labels import align_labels

_log = logging.getLogger("bayesmix")

SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax")
_PACKAGE = {"pymc": "pymc", "nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}
_EXTRA = {"nutpie": "bayesmix[nutpie]", "numpyro": "bayesmix[jax]", "blackjax": "blackjax==1.2.5"}


def installed_samplers() -> list[str]:
    return [s for s in SAMPLERS if importlib.util.find_spec(_PACKAGE[s]) is not None]


def resolve_sampler(sampler: str) -> str:
    """Check the requested backend and return its name (``auto``: nutpie if installed, else PyMC)."""
    available = installed_samplers()
    if sampler == "auto":
        return "nutpie" if "nutpie" in available else "pymc"
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is unknown; use one of {('auto',) + SAMPLERS}.")
    if sampler not in available:
        raise ValueError(
            f"sampler={sampler!r} is not installed (pip install '{_EXTRA[sampler]}'); "
            f"installed samplers: {available}."
        )
    if sampler == "blackjax":
        version = importlib.metadata.version("blackjax")
        if tuple(int(p) for p in version.split(".")[:2]) >= (1, 3):
            raise ValueError(
                f"sampler='blackjax' does not run with blackjax {version} under PyMC "
                f"{pm.__version__} (PyMC passes a progress_bar argument that blackjax>=1.3 rejects); "
                f"use blackjax==1.2.5, or one of the working samplers: "
                f"{[s for s in available if s != 'blackjax']}."
            )
    return sampler


def _initial_point(mm, init, random_seed, starts):
    """(reference point for labels, per-chain initial values) on the constrained scale."""
    names = {rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated}
    if isinstance(init, str):
        if init == "map":
            point = mm.fit_map(starts=starts, seed=random_seed).point
        elif init == "ml":
            point = mm.fit_ml(starts=starts, seed=random_seed).point
        else:
            raise ValueError(f"init={init!r} is unknown; use 'map', 'ml', a dict of values or a list of dicts.")
        return point, None
    if hasattr(init, "point"):  # an MLResult / MAPResult
        return dict(init.point), None
    if isinstance(init, dict):
        missing = names - set(init)
        if missing:
            raise ValueError(f"init is missing values for {sorted(missing)}.")
        return dict(init), None
    if isinstance(init, (list, tuple)):
        for point in init:
            missing = names - set(point)
            if missing:
                raise ValueError(f"init contains a point missing values for {sorted(missing)}.")
        return dict(init[0]), [dict(p) for p in init]
    raise ValueError("init must be 'map', 'ml', a fitted result, a dict of values or a list of dicts.")


def _complete(mm, point: dict) -> dict:
    """Start integrated random effects (standardized z) at 0 unless given."""
    full = mm.model.initial_point()
    for rv in mm.model.free_RVs:
        if rv.name in mm.integrated and rv.name not in point:
            point[rv.name] = np.zeros_like(full[mm.model.rvs_to_values[rv].name])
    return point


def _run_sampler(mm, sampler, draws, tune, chains, cores, seed, point, per_chain, progressbar, target_accept, kwargs):
    model = mm.model
    initvals = per_chain if per_chain is not None else [point] * chains
    if per_chain is not None and len(per_chain) != chains:
        raise ValueError(f"init gives {len(per_chain)} points for {chains} chains; give one per chain.")
    if sampler == "pymc":
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed, model=model,
                         nuts_sampler="pymc", initvals=initvals, init="adapt_diag", progressbar=progressbar,
                         compute_convergence_checks=False, nuts={"target_accept": target_accept},
                         compile_kwargs={"mode": kwargs.pop("mode", COMPILE_MODE)}, **kwargs)
    if per_chain is not None and sampler != "pymc":
        raise ValueError(f"sampler={sampler!r} takes one initial point for all chains; pass a dict or use sampler='pymc'.")
    if sampler == "nutpie":
        import nutpie
        compiled = nutpie.compile_pymc_model(model, initial_points=point, jitter_rvs=set(),
                                             backend=kwargs.pop("backend", "numba"))
        return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                             progress_bar=progressbar, target_accept=target_accept, **kwargs)
    if sampler == "numpyro" and "jaxlib" not in sys.modules:  # (arviz registers a lazy "jax" module)
        os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={max(chains, 1)}")
    try:
        return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, model=model,
                         nuts_sampler=sampler, initvals=point, progressbar=progressbar,
                         compute_convergence_checks=False, nuts={"target_accept": target_accept}, **kwargs)
    except TypeError as err:
        if "progress_bar" in str(err):
            raise ValueError(f"sampler={sampler!r} failed with this PyMC version ({err}); use "
                             f"{[s for s in installed_samplers() if s != sampler]}.") from err
        raise


def log_likelihood_dataset(mm, posterior: xr.Dataset) -> xr.Dataset:
    """Pointwise marginal log-likelihood, one value per independent unit (chain, draw, unit)."""
    fn = draw_function(mm, "unit_loglik", mm.integrated_loglik(), posterior_rv_names(mm, posterior))
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    units = mm.data.units if mm.loglik_dim == "unit" else mm.data.clusters
    out = np.empty((n_chain, n_draw, len(units)))
    for (c, d), values in iterate_draws(mm, posterior):
        out[c, d] = fn(*values)
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values, mm.loglik_dim: np.asarray(units)}
    return xr.Dataset({"y": (("chain", "draw", mm.loglik_dim), out)}, coords=coords)


def finalize(mm, idata, reference: dict | None, info: dict) -> xr.DataTree:
    """Align labels, add ``log_likelihood`` and ``observed_data``, record what was done."""
    posterior = idata["posterior"].to_dataset()
    relabeled = 0
    if reference is not None and mm.ordered is None and mm.n_classes > 1:
        posterior, relabeled = align_labels(mm, posterior, reference)
        if relabeled:
            _log.info("bayesmix: relabeled %d draw(s) to the reference class labels", relabeled)
        idata["posterior"] = xr.DataTree(posterior)
    idata["log_likelihood"] = xr.DataTree(log_likelihood_dataset(mm, posterior))
    idata["observed_data"] = xr.DataTree(mm.observed_data())
    attrs = {"bayesmix_model": mm.name, "bayesmix_relabeled_draws": relabeled, **info}
    idata.attrs.update(attrs)
    idata["posterior"].attrs.update(attrs)
    return idata


def sample(mm, draws=1000, tune=1000, chains=4, *, sampler="auto", random_seed=None, init="map",
           progressbar=True, target_accept=0.8, cores=None, starts=10, **kwargs) -> xr.DataTree:
    """See :meth:`bayesmix.MixtureModel.sample`."""
    sampler = resolve_sampler(sampler)
    if cores is None:
        cores = max(1, min(chains, os.cpu_count() or 1))
    seed = None if random_seed is None else int(np.random.default_rng(random_seed).integers(2**31 - 1))
    point, per_chain = _initial_point(mm, init, random_seed, starts)
    names = {rv.name for rv in mm.model.free_RVs}
    point = _complete(mm, {k: v for k, v in point.items() if k in names})
    if per_chain is not None:
        per_chain = [_complete(mm, {k: v for k, v in p.items() if k in names}) for p in per_chain]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*initvals.*")
        idata = _run_sampler(mm, sampler, draws, tune, chains, cores, seed, point, per_chain,
                             progressbar, target_accept, dict(kwargs))
    info = {"bayesmix_sampler": sampler, "bayesmix_sampling_seconds": time.perf_counter() - start}
    return finalize(mm, idata, point, info)
