"""Laplace approximation: a Gaussian at the posterior mode in the unconstrained space.

theta ~ N(theta_hat, H^-1) with H the Hessian of -log p(theta | y) including
the transforms' Jacobians; draws are mapped back to the constrained scale
and returned as a DataTree like :func:`~bayesmix.inference.sampling.sample`
(one chain), with the same ``log_likelihood`` and ``observed_data`` groups.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .objective import flat_model
from .optimize import multistart
from .sampling import finalize


def fit_laplace(mm, draws: int = 1000, *, starts=10, seed=None) -> xr.DataTree:
    flat = flat_model(mm)
    opt = multistart(mm, "laplace", starts=starts, seed=seed)
    h = flat.hessian(opt.theta, "laplace")
    eigval, eigvec = np.linalg.eigh(h)
    if np.any(eigval <= 0):
        raise ValueError("the posterior Hessian is not positive definite at the mode; the Laplace "
                         "approximation does not exist here (use m.sample).")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((draws, len(opt.theta)))
    thetas = opt.theta + (z / np.sqrt(eigval)) @ eigvec.T
    samples = [flat.constrained(t) for t in thetas]
    coords = {name: list(values) for name, values in mm.model.coords.items()}
    data_vars = {}
    for rv in flat.rvs:
        dims = list(mm.model.named_vars_to_dims.get(rv.name, ()))
        arr = np.stack([s[rv.name] for s in samples])[None]
        if len(dims) != arr.ndim - 2:
            dims = [f"{rv.name}_dim_{i}" for i in range(arr.ndim - 2)]
        data_vars[rv.name] = (["chain", "draw", *dims], arr)
    used = {d for v in data_vars.values() for d in v[0]}
    posterior = xr.Dataset(data_vars, coords={"chain": [0], "draw": np.arange(draws),
                                              **{k: v for k, v in coords.items() if k in used}})
    idata = xr.DataTree.from_dict({"posterior": posterior})
    cov = eigvec @ np.diag(1 / eigval) @ eigvec.T
    return finalize(mm, idata, None, {"bayesmix_method": "laplace",
                                      "bayesmix_laplace_sd_theta": np.sqrt(np.diag(cov)).tolist()})
