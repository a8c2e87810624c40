"""Laplace approximation: a Gaussian at the posterior mode in the unconstrained space.

theta ~ N(theta_hat, H^-1) with H the Hessian of -log p(theta | y) including
the transforms' Jacobians; draws are mapped back to the constrained scale
and returned as a DataTree like :func:`~bayesmix.inference.sampling.sample`
(one chain), with the same ``log_likelihood`` and ``observed_data`` groups.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..parameters import expand
from .objective import flat_model
from .optimize import multistart
from .sampling import finalize


def fit_laplace(mm, draws: int = 1000, *, starts=10, seed=None, start=None,
                progressbar: bool | str = True) -> xr.DataTree:
    """Gaussian approximation at the posterior mode, returned as a DataTree like :meth:`sample`.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    draws : int
        Draws from the Gaussian (one chain).
    starts : int or (int, int)
        Random starts of the mode search, as in :meth:`fit_ml`.
    seed : int, optional
        Seeds the starts and the draws.
    start : dict, MLResult, MAPResult or a list of them, optional
        Start values of the mode search, as in :meth:`fit_ml`.
    progressbar : bool
        Show the mode search's optimizations and its best value so far.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (with constrained parameters in full), ``log_likelihood``,
        ``observed_data``; every result method takes it.

    Examples
    --------
    >>> approx = m.fit_laplace(draws=1000, seed=1)       # doctest: +SKIP
    >>> m.profiles(approx)                               # doctest: +SKIP
    """
    from ..options import check_count
    from .starts import user_starts
    check_count(draws, "draws", "fit_laplace")
    flat = flat_model(mm)
    opt = multistart(mm, "laplace", starts=starts, seed=seed, extra_starts=user_starts(mm, start, seed),
                     progress=("fit_laplace" if progressbar is True else progressbar) or None)
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
    for info in mm.parameters:  # constrained parameters in full (fixed elements included), as NUTS stores them
        if info.constrained and (info.free_name is None or info.free_name in data_vars):
            arr = (np.broadcast_to(info.values, (1, draws, *info.values.shape)) if info.free_name is None
                   else expand(info, data_vars[info.free_name][1]))
            dims = list(mm.model.named_vars_to_dims.get(info.name, ()) or ())
            if len(dims) == arr.ndim - 2:
                data_vars[info.name] = (["chain", "draw", *dims], np.array(arr))
    used = {d for v in data_vars.values() for d in v[0]}
    posterior = xr.Dataset(data_vars, coords={"chain": [0], "draw": np.arange(draws),
                                              **{k: v for k, v in coords.items() if k in used}})
    idata = xr.DataTree.from_dict({"posterior": posterior})
    cov = eigvec @ np.diag(1 / eigval) @ eigvec.T
    return finalize(mm, idata, None, {"bayesmix_method": "laplace",
                                      "bayesmix_laplace_sd_theta": np.sqrt(np.diag(cov)).tolist()})
