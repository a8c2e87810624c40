"""Save and load a model with its fitted results (``bm.save`` / ``bm.load``).

A :class:`~bayesmix.MixtureModel` holds a PyMC model and compiled PyTensor
graphs, which do not pickle reliably. What is stored instead is what rebuilds
it exactly: the factory call (factory name and every argument, the
DataFrame included) that each factory records in ``model.options["call"]``,
plus a hash of the encoded data (checked on load), the package version, and
the results:

- ML results (:class:`~bayesmix.MLResult`, MAP results): plain data (tables,
  arrays), pickled;
- posterior DataTrees (``sample``, ``fit_laplace``): netCDF-4 files written
  by the h5netcdf backend (a core dependency); attributes netCDF cannot hold
  (booleans, dicts) and the missing cells of text variables (netCDF has no
  missing string: they are written as ``''``) are kept in the pickle and
  restored on load exactly.

The saved fit is a directory::

    fit.bmx/
        bayesmix.pkl        # format, version, factory call, data hash, ML results, attrs
        <name>.nc           # one per posterior DataTree

:func:`to_netcdf` writes any bayesmix DataTree to one netCDF file for other
tools (booleans stored as 0/1, dicts as JSON text); ``xr.open_datatree(path)``
reads it back.

Loading rebuilds the model by calling the factory again (compiling its
graphs anew), so every result method gives the same numbers as before
saving. Load only files you trust: pickle runs code on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["save", "load", "rebuild", "data_hash", "to_netcdf"]

FORMAT = 1
_META = "bayesmix.pkl"


def data_hash(mm) -> str:
    """A hash of the model's encoded data frame (rows kept, item values, covariates, clusters)."""
    frame = mm.data.frame
    values = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def _call_of(mm) -> dict:
    call = mm.options.get("call")
    if not call:
        raise ValueError(f"this model ({mm.name}) does not record its factory call, so it cannot be rebuilt; "
                         "build it with a bayesmix factory such as bm.lca.")
    return call


def rebuild(call: Mapping[str, Any], **changes) -> Any:
    """Call the factory of a recorded ``call`` again, with ``changes`` to its arguments."""
    from . import registry
    try:
        factory = registry.get(call["factory"]).factory
    except ValueError as err:
        raise ValueError(f"unknown factory {call['factory']!r} in the saved call: {err}") from None
    return factory(**{**call["arguments"], **changes})


def _is_datatree(result) -> bool:
    return isinstance(result, xr.DataTree)


def save(path: str | os.PathLike, model, result=None, *, overwrite: bool = False) -> Path:
    """Save a model and its fitted result(s) to the directory ``path``.

    Parameters
    ----------
    path : str or path-like
        A directory to create (conventionally ending in ``.bmx``).
    model : MixtureModel
        A model built by a bayesmix factory (``bm.lca``, ``bm.mixture_regression``).
    result : MLResult, DataTree, dict of them, or None
        What to store with it: an ML/MAP result, a posterior from ``sample`` or
        ``fit_laplace``, or a dict ``{name: result}`` of several.
    overwrite : bool
        Replace an existing directory at ``path`` (default: refuse).

    Returns
    -------
    pathlib.Path
        The directory written.

    Examples
    --------
    >>> ml = m.fit_ml(starts=20, seed=1)                          # doctest: +SKIP
    >>> bm.save("carcinoma.bmx", m, {"ml": ml, "nuts": idata})   # doctest: +SKIP
    >>> m2, results = bm.load("carcinoma.bmx")                   # doctest: +SKIP
    """
    import bayesmix
    path = Path(path)
    call = _call_of(model)
    if path.exists():
        if not overwrite:
            raise ValueError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    single = _is_datatree(result) or not isinstance(result, Mapping)  # a DataTree is a Mapping too
    results = {"result": result} if single else dict(result)
    path.mkdir(parents=True)
    stored: dict[str, Any] = {}
    for name, value in results.items():
        if value is None:
            stored[name] = ("none", None)
        elif _is_datatree(value):
            target = f"{name}.nc"
            attrs = {node.path: dict(node.attrs) for node in value.subtree}
            _write_netcdf(value, path / target)
            stored[name] = ("netcdf", (target, attrs, _missing_text_cells(value)))
        elif hasattr(value, "point"):
            stored[name] = ("object", value)
        else:
            raise ValueError(f"result {name!r} is a {type(value).__name__}; save an MLResult, a MAP result "
                             "or a DataTree from sample / fit_laplace.")
    meta = {"format": FORMAT, "bayesmix_version": bayesmix.__version__, "call": call,
            "data_hash": data_hash(model), "single": single, "results": stored}
    with open(path / _META, "wb") as fh:
        pickle.dump(meta, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _missing_text_cells(tree: xr.DataTree) -> dict[str, dict[str, np.ndarray]]:
    """Node path -> {variable: mask} of the missing cells of text variables (e.g. ``observed_data``).

    netCDF has no missing value for strings: xarray writes them as ``''``,
    which reads back as an empty string, not as missing. The masks are kept
    in the pickle and put back on load (:func:`_open_datatree`).
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for node in tree.subtree:
        for name, variable in node.dataset.variables.items():
            if variable.dtype.kind == "O":
                mask = np.asarray(pd.isnull(variable.values), dtype=bool)
                if mask.any():
                    out.setdefault(node.path, {})[name] = mask
    return out


def _netcdf_attr(value):
    """An attribute value netCDF can store: booleans as 0/1, dicts / ragged lists / None as JSON text."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "iuf" and arr.ndim == 1:
            return arr
        if arr.dtype.kind in "U" and arr.ndim == 1:
            return [str(v) for v in arr]
    return json.dumps(value, default=str)


def _write_netcdf(tree: xr.DataTree, target: Path) -> None:
    clean = tree.copy()
    for node in clean.subtree:
        node.attrs = {key: _netcdf_attr(v) for key, v in node.attrs.items()}
    clean.to_netcdf(target, engine="h5netcdf")


def to_netcdf(idata: xr.DataTree, path: str | os.PathLike) -> Path:
    """Write a DataTree (``sample`` / ``fit_laplace`` output) to one netCDF-4 file.

    ``idata.to_netcdf`` refuses boolean attributes (bayesmix records e.g.
    ``bayesmix_convergence_ok``); this writes a copy with booleans as 0/1 and
    dict attributes as JSON text. Read it with ``xr.open_datatree(path)``;
    missing cells of text variables (``observed_data`` of text-coded items)
    read back as ``''`` there. :func:`save` keeps the model, the exact
    attributes and the missing text cells as well.

    Parameters
    ----------
    idata : xarray.DataTree
    path : str or path-like

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> bm.to_netcdf(idata, "carcinoma_nuts.nc")              # doctest: +SKIP
    >>> idata2 = xr.open_datatree("carcinoma_nuts.nc")       # doctest: +SKIP
    """
    path = Path(path)
    _write_netcdf(idata, path)
    return path


def _open_datatree(target: Path, attrs: dict | None = None, missing: dict | None = None) -> xr.DataTree:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = "zarr" if target.suffix == ".zarr" else "h5netcdf"
        tree = xr.open_datatree(target, engine=engine).load()
    for node_path, masks in (missing or {}).items():  # missing text cells: read back as '', made missing again
        node = tree if node_path == "/" else tree[node_path]
        for name, mask in masks.items():
            values = node[name].values.astype(object)
            values[mask] = np.nan
            node[name] = node[name].copy(data=values)
    for node_path, values in (attrs or {}).items():  # the exact attributes (booleans, dicts) from the pickle
        node = tree if node_path == "/" else tree[node_path]
        node.attrs = dict(values)
    return tree


def load(path: str | os.PathLike):
    """Load what :func:`save` wrote: ``(model, result)``.

    The model is rebuilt by calling its factory with the saved arguments
    (the data included); a mismatch of the rebuilt data with the saved hash
    raises. ``result`` comes back in the form it was saved (one result, a
    dict, or None).

    Parameters
    ----------
    path : str or path-like
        The directory written by :func:`save`.

    Returns
    -------
    (MixtureModel, result)
        ``result`` is an MLResult / DataTree / dict of them / None.

    Examples
    --------
    >>> m, idata = bm.load("carcinoma.bmx")   # doctest: +SKIP
    >>> m.class_probabilities(idata)          # doctest: +SKIP
    """
    import bayesmix
    path = Path(path)
    meta_file = path / _META
    if not meta_file.exists():
        raise ValueError(f"{str(path)!r} is not a bayesmix save directory (no {_META}); write one with bm.save.")
    with open(meta_file, "rb") as fh:
        meta = pickle.load(fh)
    if meta.get("format", 0) > FORMAT:
        raise ValueError(f"{str(path)!r} was written by a newer bayesmix ({meta.get('bayesmix_version')}); "
                         f"this is {bayesmix.__version__}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # data warnings were shown when the model was first built
        model = rebuild(meta["call"])
    if data_hash(model) != meta["data_hash"]:
        raise ValueError(f"the data rebuilt from {str(path)!r} differ from the data the model was saved with.")
    results = {}
    for name, (kind, value) in meta["results"].items():
        if kind == "netcdf":  # (target, attrs) before the missing text cells were kept
            target, attrs, missing = (*value, None)[:3]
            results[name] = _open_datatree(path / target, attrs, missing)
        elif kind == "datatree":  # zarr directories of an earlier layout
            results[name] = _open_datatree(path / value)
        else:
            results[name] = value
    from .relabel import set_label_reference
    for value in results.values():  # later fits of the reloaded model keep the saved labels
        probabilities = getattr(value, "posterior_probabilities", None)
        if probabilities is not None:
            set_label_reference(model, probabilities.to_numpy())
            break
    return model, (results["result"] if meta["single"] else results)
