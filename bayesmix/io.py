"""Save and load a model with its fitted results (``bm.save`` / ``bm.load``).

A :class:`~bayesmix.MixtureModel` holds a PyMC model and compiled PyTensor
graphs, which do not pickle reliably. What is stored instead is what rebuilds
it exactly: the factory call (factory name and every argument, the
DataFrame included) that each factory records in ``model.options["call"]``,
plus a hash of the encoded data (checked on load), the package version, and
the results. Nothing in a save directory is code: loading it runs no pickle.

The saved fit is a directory::

    fit.bmx/
        bayesmix.json            # format, version, factory call, data hash, every result's fields
        data.parquet             # the factory's DataFrame argument (every column, dtypes kept)
        <name>.<field>.parquet   # the tables of an ML result (params, profiles, ...)
        <name>.nc                # one netCDF-4 file per posterior DataTree

``bayesmix.json`` is plain JSON: numbers (NaN / inf as ``{"__float__":
"nan"}``), tuples as ``{"__tuple__": [...]}``, arrays as ``{"__ndarray__":
[...], "dtype", "shape"}``, tables as ``{"__frame__": "<file>.parquet"}`` and
result objects (:class:`~bayesmix.MLResult`, MAP results, their
:class:`StartReport`) as ``{"__object__": "<class>", "fields": {...}}``;
load rebuilds only those classes. Tables are Parquet files (pyarrow) with
their row index, column labels and any column pyarrow cannot hold exactly
(mixed int / str labels) described in the file's ``bayesmix`` metadata.
Posterior DataTrees are netCDF-4 (h5netcdf); their exact attributes
(booleans, dicts) and the missing cells of text variables (netCDF has no
missing string: they are written as ``''``) are kept in ``bayesmix.json``
and restored on load.

Writes are atomic: everything is written to a hidden sibling directory
that is renamed to ``path`` only once complete, so an interrupted save
leaves either no directory or the previous one, never a partial one.

:func:`to_netcdf` writes any bayesmix DataTree to one netCDF file for other
tools (booleans stored as 0/1, dicts as JSON text); ``xr.open_datatree(path)``
reads it back.

Loading rebuilds the model by calling the factory again (compiling its
graphs anew), so every result method gives the same numbers as before
saving. Directories of bayesmix before this format (a ``bayesmix.pkl``
file) load only with ``bm.load(path, allow_pickle=True)``: pickle runs code
on load, so do that only for files you trust, and save them again to convert.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["save", "load", "rebuild", "data_hash", "to_netcdf"]

FORMAT = 2
_MANIFEST = "bayesmix.json"
_META = "bayesmix.pkl"  # the pickle of format 1 (bayesmix before the JSON format)


def data_hash(mm) -> str:
    """A hash of the model's encoded data frame (rows kept, item values, covariates, clusters)."""
    frame = mm.data.frame
    values = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def call_of(mm) -> dict:
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


def model_reduce(mm):
    """``MixtureModel.__reduce__``: a model pickles as its factory call, rebuilt (compiled anew) on unpickling.

    The PyMC model and the compiled PyTensor functions do not pickle; the
    call (data included), the data hash, the spec and the label reference
    do. A model without a recorded call cannot be pickled: the error says so
    and points to :func:`save`.
    """
    call = mm.options.get("call")
    if not call:
        raise TypeError(f"this {type(mm).__name__} ({mm.name}) cannot be pickled: it holds a PyMC model and "
                        "compiled PyTensor functions, which do not pickle, and records no factory call to rebuild "
                        "it from. Build it with a bayesmix factory (bm.lca, ...), and store fits with "
                        "bm.save(path, model, results) / bm.load(path).")
    state = {"spec": mm.options.get("spec"), "label_reference": mm.labeling}
    return _unpickle_model, (call, data_hash(mm), state)


def _unpickle_model(call, digest, state):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # data warnings were shown when the model was first built
        model = rebuild(call)
    if data_hash(model) != digest:
        raise ValueError("the data rebuilt from the pickled model differ from the data it was pickled with "
                         "(a different pandas or bayesmix?); store fits with bm.save / bm.load.")
    if state.get("spec") is not None:
        model.options["spec"] = state["spec"]
    if state.get("label_reference") is not None:
        from .relabel import set_label_reference
        set_label_reference(model, state["label_reference"])
    return model


def _is_datatree(result) -> bool:
    return isinstance(result, xr.DataTree)


# ----------------------------------------------------------------------------- JSON / Parquet codec
def _result_classes() -> dict[str, type]:
    """The only classes ``load`` rebuilds from ``{"__object__": name}`` (no import by name from the file)."""
    from .inference.ml import MAPResult, MLResult
    from .inference.optimize import StartReport
    return {"MLResult": MLResult, "MAPResult": MAPResult, "StartReport": StartReport}


class _Unstorable(ValueError):
    pass


class _Writer:
    """Encodes values as JSON, writing tables (Parquet) and DataTrees (netCDF) to files in ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.files: set[str] = set()

    def _name(self, stem: str, suffix: str) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "x"
        name, i = f"{safe}{suffix}", 1
        while name.lower() in self.files:
            name, i = f"{safe}-{i}{suffix}", i + 1
        self.files.add(name.lower())
        return name

    def encode(self, value, where: str):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            number = float(value)
            return number if np.isfinite(number) else {"__float__": repr(number)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufUO":
                raise _Unstorable(f"{where} is an array of dtype {value.dtype}")
            data = [self.encode(v, where) for v in value.ravel().tolist()]
            return {"__ndarray__": data, "dtype": value.dtype.str if value.dtype.kind != "O" else "O",
                    "shape": list(value.shape)}
        if isinstance(value, (pd.DataFrame, pd.Series)):
            name = self._name(where, ".parquet")
            _write_table(value, self.root / name, where)
            return {"__frame__": name}
        if _is_datatree(value):
            name = self._name(where, ".nc")
            _write_netcdf(value, self.root / name)
            attrs = {node.path: self.encode(dict(node.attrs), f"{where} attributes") for node in value.subtree}
            return {"__datatree__": name, "attrs": attrs, "missing": _missing_text_cells(value)}
        if isinstance(value, Mapping):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}
            return {"__dict__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        name = type(value).__name__
        if dataclasses.is_dataclass(value) and _result_classes().get(name) is type(value):
            names = [f.name for f in dataclasses.fields(value)]
            fields = {n: self.encode(getattr(value, n), f"{where}.{n}") for n in names}
            extra = {k: self.encode(v, f"{where}.{k}") for k, v in vars(value).items()
                     if k not in names and not k.startswith("_")}  # e.g. fma's infinite_loadings; _caches left out
            return {"__object__": name, "fields": fields, "extra": extra}
        raise _Unstorable(f"{where} is a {name}")


def _decode(value, root: Path):
    if isinstance(value, list):
        return [_decode(v, root) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(_decode(v, root) for v in value["__tuple__"])
    if "__ndarray__" in value:
        data = [_decode(v, root) for v in value["__ndarray__"]]
        dtype = object if value["dtype"] == "O" else np.dtype(value["dtype"])
        out = np.empty(len(data), dtype=dtype)
        out[:] = data
        return out.reshape(value["shape"])
    if "__frame__" in value:
        return _read_table(_inside(root, value["__frame__"]))
    if "__datatree__" in value:
        attrs = {path: _decode(a, root) for path, a in value.get("attrs", {}).items()}
        return _open_datatree(_inside(root, value["__datatree__"]), attrs, value.get("missing"))
    if "__dict__" in value:
        return {_decode(k, root): _decode(v, root) for k, v in value["__dict__"]}
    if "__object__" in value:
        cls = _result_classes().get(value["__object__"])
        if cls is None:
            raise ValueError(f"unknown result type {value['__object__']!r} in {str(root)!r}; this bayesmix "
                             f"rebuilds {sorted(_result_classes())}.")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: _decode(v, root) for k, v in value["fields"].items() if k in names}
        obj = cls(**fields)
        for key, extra in value.get("extra", {}).items():
            setattr(obj, key, _decode(extra, root))
        return obj
    return {k: _decode(v, root) for k, v in value.items()}


def _inside(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if target.parent != root.resolve():
        raise ValueError(f"{str(root)!r}: the file name {name!r} in {_MANIFEST} points outside the directory.")
    return target


def _json_text(value) -> str:
    """One cell of a column pyarrow cannot hold exactly (mixed int / str, ...), as tagged JSON."""
    return json.dumps(_Writer(Path(".")).encode(value, "cell"), allow_nan=False)


def _plain_column(column: pd.Series) -> bool:
    """Whether pyarrow stores ``column`` exactly (else it goes as JSON text)."""
    import pyarrow as pa
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _plain_column(pd.Series(column.dtype.categories))
    if column.dtype != np.dtype(object):  # numbers, booleans, pandas' str and nullable dtypes: arrow's own
        try:
            pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
            return False
        return True
    kinds = {type(v) for v in column if not (v is None or (isinstance(v, float) and np.isnan(v)))}
    nulls = {type(v) for v in column if v is None or (isinstance(v, float) and np.isnan(v))}
    return kinds <= {str} and len(nulls) <= 1 and not (nulls and not kinds)


def _write_table(table: pd.DataFrame | pd.Series, target: Path, where: str) -> None:
    """A DataFrame / Series as Parquet: labels, index and non-arrow columns described in the metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    series = isinstance(table, pd.Series)
    frame = table.to_frame() if series else table
    meta: dict[str, Any] = {"series": series, "name": _json_text(table.name) if series else None,
                            "columns": [_json_text(c) for c in frame.columns],
                            "column_names": [_json_text(n) for n in frame.columns.names],
                            "multi_columns": isinstance(frame.columns, pd.MultiIndex),
                            "index_names": [_json_text(n) for n in frame.index.names],
                            "attrs": _json_text(dict(table.attrs)), "json": [], "nulls": {}, "categorical": {}}
    if isinstance(frame.index, pd.RangeIndex):
        meta["range"] = [frame.index.start, frame.index.stop, frame.index.step]
        levels = []
    else:
        levels = [frame.index.get_level_values(i).to_series(index=None).reset_index(drop=True)
                  for i in range(frame.index.nlevels)]
    columns = {}
    for position, column in enumerate(levels + [frame.iloc[:, j].reset_index(drop=True)
                                                   for j in range(frame.shape[1])]):
        key = f"i{position}" if position < len(levels) else f"c{position - len(levels)}"
        if isinstance(column.dtype, pd.CategoricalDtype):  # codes, with the categories in the metadata
            categories = column.dtype.categories
            meta["categorical"][key] = {"categories": _json_text(list(categories)),
                                        "dtype": str(categories.dtype), "ordered": bool(column.dtype.ordered)}
            columns[key] = pd.Series(np.asarray(column.cat.codes, dtype=np.int64))
        elif _plain_column(column):
            if column.dtype == np.dtype(object):
                nulls = {type(v).__name__ for v in column if v is None or isinstance(v, float)}
                meta["nulls"][key] = nulls.pop() if nulls else None
            columns[key] = column
        else:
            meta["json"].append(key)
            columns[key] = pd.Series([_json_text(v) for v in column], dtype=object)
    plain = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
    arrow = pa.Table.from_pandas(plain, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), b"bayesmix": json.dumps(meta).encode()})
    pq.write_table(arrow, target)
    back = _read_table(target)  # what was written must read back exactly
    try:
        (pd.testing.assert_series_equal if series else pd.testing.assert_frame_equal)(back, table, check_exact=True)
    except AssertionError as err:
        raise _Unstorable(f"{where} (a table) does not survive Parquet ({' '.join(str(err).split())})") from None


def _read_table(target: Path) -> pd.DataFrame | pd.Series:
    import pyarrow.parquet as pq
    arrow = pq.read_table(target)
    meta = json.loads(arrow.schema.metadata[b"bayesmix"])
    cell = lambda text: _decode(json.loads(text), target.parent)  # noqa: E731
    plain = arrow.to_pandas()
    out = {}
    for key in plain.columns:
        column = plain[key]
        if key in meta["categorical"]:
            spec = meta["categorical"][key]
            categories = cell(spec["categories"])
            try:
                categories = pd.Index(categories, dtype=spec["dtype"])
            except (TypeError, ValueError):
                categories = pd.Index(categories, dtype=object)
            column = pd.Series(pd.Categorical.from_codes(column.to_numpy(np.int64), categories=categories,
                                                         ordered=spec["ordered"]))
        elif key in meta["json"]:
            values = np.empty(len(column), dtype=object)
            values[:] = [cell(v) for v in column]
            column = pd.Series(values, dtype=object)
        elif key in meta["nulls"]:  # an object column of text: object again, its missing cells None or NaN
            missing = np.nan if meta["nulls"][key] == "float" else None
            values = np.empty(len(column), dtype=object)
            values[:] = [missing if v is None or (isinstance(v, float) and np.isnan(v)) else v
                         for v in column.astype(object)]
            column = pd.Series(values, dtype=object)
        out[key] = column
    levels = [out[k] for k in out if k.startswith("i")]
    if "range" in meta:
        index = pd.RangeIndex(*meta["range"])
    elif len(levels) == 1:
        index = pd.Index(levels[0].array)
    else:
        index = pd.MultiIndex.from_arrays([level.array for level in levels])
    index.names = [cell(n) for n in meta["index_names"]]
    labels = [cell(c) for c in meta["columns"]]
    names = [cell(n) for n in meta["column_names"]]
    columns = (pd.MultiIndex.from_tuples(labels, names=names) if meta["multi_columns"]
               else pd.Index(labels, name=names[0], dtype=object if not labels else None))
    values = [out[k] for k in out if k.startswith("c")]
    frame = pd.DataFrame({i: v for i, v in enumerate(values)}, index=pd.RangeIndex(len(index)))  # dtypes kept
    frame.index = index
    frame.columns = columns
    frame.attrs = cell(meta["attrs"])
    if meta["series"]:
        series = frame.iloc[:, 0]
        series.name = cell(meta["name"])
        return series
    return frame


# ----------------------------------------------------------------------------- save / load
def save(path: str | os.PathLike, model, result=None, *, overwrite: bool = False) -> Path:
    """Save a model and its fitted result(s) to the directory ``path`` (JSON, Parquet and netCDF; no pickle).

    The directory is written under a temporary name and renamed when
    complete, so an interrupted save never leaves a partial directory at
    ``path`` (with ``overwrite=True`` the old one stays until the new one is
    complete). See :mod:`bayesmix.io` for the layout.

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
    from .options import check_bool
    check_bool(overwrite, "overwrite")
    path = Path(path)
    call = call_of(model)
    if path.exists() and not overwrite:
        raise ValueError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    single = _is_datatree(result) or not isinstance(result, Mapping)  # a DataTree is a Mapping too
    results = {"result": result} if single else dict(result)
    for name, value in results.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"result names must be non-empty strings, got {name!r}.")
        from .evaluate import fit_kind
        if value is not None and not _is_datatree(value) and fit_kind(value) not in ("ml", "map"):
            raise ValueError(f"result {name!r} is a {type(value).__name__}; save an MLResult, a MAP result "
                             "or a DataTree from sample / fit_laplace.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        writer = _Writer(staging)
        writer.files.add(_MANIFEST)
        arguments = dict(call["arguments"])
        encoded_call = {"factory": call["factory"], "arguments": {}}
        for key, value in arguments.items():
            try:
                encoded_call["arguments"][key] = writer.encode(value, key)
            except _Unstorable as err:
                raise ValueError(f"cannot save the model: its factory argument {err} that bm.save cannot store "
                                 f"as JSON / Parquet; pass plain values (numbers, strings, lists, dicts, "
                                 f"DataFrames) to {call['factory']}.") from None
        stored = {}
        for name, value in results.items():
            try:
                stored[name] = writer.encode(value, name)
            except _Unstorable as err:
                raise ValueError(f"cannot save result {name!r}: {err}, which bm.save cannot store as JSON / "
                                 "Parquet / netCDF.") from None
        manifest = {"format": FORMAT, "bayesmix_version": bayesmix.__version__, "call": encoded_call,
                    "data_hash": data_hash(model), "single": single, "results": stored}
        with open(staging / _MANIFEST, "w") as fh:
            json.dump(manifest, fh, allow_nan=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _replace(staging: Path, path: Path) -> None:
    """Move the complete ``staging`` directory to ``path`` (an old one is moved aside first, then removed)."""
    old = None
    if path.exists() or path.is_symlink():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
    try:
        os.replace(staging, path)
    except BaseException:
        if old is not None:
            os.replace(old, path)
        raise
    if old is not None:
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def _missing_text_cells(tree: xr.DataTree) -> dict[str, dict[str, list[int]]]:
    """Node path -> {variable: flat positions} of the missing cells of text variables (e.g. ``observed_data``).

    netCDF has no missing value for strings: xarray writes them as ``''``,
    which reads back as an empty string, not as missing. The positions are
    kept in ``bayesmix.json`` and put back on load (:func:`_open_datatree`).
    """
    out: dict[str, dict[str, list[int]]] = {}
    for node in tree.subtree:
        for name, variable in node.dataset.variables.items():
            if variable.dtype.kind == "O":
                mask = np.asarray(pd.isnull(variable.values), dtype=bool)
                if mask.any():
                    out.setdefault(node.path, {})[str(name)] = np.flatnonzero(mask).tolist()
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

    The DataTrees bayesmix returns store only netCDF-compatible attributes
    (``idata.to_netcdf(path)`` works as well); this also writes a DataTree
    whose attributes were changed afterwards, storing booleans as 0/1 and
    dicts as JSON text. Read it with ``xr.open_datatree(path)``; missing
    cells of text variables (``observed_data`` of text-coded items) read back
    as ``''`` there. :func:`save` keeps the model, the exact attributes and
    the missing text cells as well.

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
            if isinstance(mask, np.ndarray) and mask.dtype == bool:  # format 1: boolean masks
                values[mask] = np.nan
            else:
                values.reshape(-1)[np.asarray(mask, dtype=np.int64)] = np.nan
            node[name] = node[name].copy(data=values)
    for node_path, values in (attrs or {}).items():  # the exact attributes (booleans, dicts)
        node = tree if node_path == "/" else tree[node_path]
        node.attrs = dict(values)
    return tree


def load(path: str | os.PathLike, *, allow_pickle: bool = False):
    """Load what :func:`save` wrote: ``(model, result)``.

    The model is rebuilt by calling its factory with the saved arguments
    (the data included); a mismatch of the rebuilt data with the saved hash
    raises. ``result`` comes back in the form it was saved (one result, a
    dict, or None). Nothing is unpickled unless ``allow_pickle=True``.

    Parameters
    ----------
    path : str or path-like
        The directory written by :func:`save`.
    allow_pickle : bool
        Also load a directory written by bayesmix before the JSON format (a
        ``bayesmix.pkl`` file). Unpickling runs code from the file: only for
        files you trust; save the loaded fit again to convert it.

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
    from .options import check_bool
    check_bool(allow_pickle, "allow_pickle")
    path = Path(path)
    manifest_file, legacy_file = path / _MANIFEST, path / _META
    if manifest_file.exists():
        try:
            with open(manifest_file) as fh:
                meta = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{str(manifest_file)!r} is not valid JSON ({err}); the save is damaged.") from None
    elif legacy_file.exists():
        if not allow_pickle:
            raise ValueError(f"{str(path)!r} was written by an older bayesmix in the pickle format, and "
                             "unpickling runs code from the file. If you trust it, load it with "
                             "bm.load(path, allow_pickle=True) and save it again with bm.save to convert it.")
        return _load_pickled(path)
    else:
        raise ValueError(f"{str(path)!r} is not a bayesmix save directory (no {_MANIFEST}); write one with bm.save.")
    if not isinstance(meta, dict) or meta.get("format", 0) > FORMAT:
        raise ValueError(f"{str(path)!r} was written by a newer bayesmix ({meta.get('bayesmix_version')}); "
                         f"this is {bayesmix.__version__}.")
    call = {"factory": meta["call"]["factory"], "arguments": _decode(meta["call"]["arguments"], path)}
    results = {name: _decode(value, path) for name, value in meta["results"].items()}
    return _finish(path, call, meta, results)


def _finish(path: Path, call: dict, meta: dict, results: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # data warnings were shown when the model was first built
        model = rebuild(call)
    if data_hash(model) != meta["data_hash"]:
        raise ValueError(f"the data rebuilt from {str(path)!r} differ from the data the model was saved with.")
    from .relabel import set_label_reference
    for value in results.values():  # later fits of the reloaded model keep the saved labels
        probabilities = getattr(value, "posterior_probabilities", None)
        if probabilities is not None:
            set_label_reference(model, probabilities.to_numpy())
            break
    return model, (results["result"] if meta["single"] else results)


def _load_pickled(path: Path):
    """Format 1 (``bayesmix.pkl``): only behind ``load(..., allow_pickle=True)``."""
    import bayesmix
    with open(path / _META, "rb") as fh:
        meta = pickle.load(fh)
    if meta.get("format", 0) > 1:
        raise ValueError(f"{str(path)!r} was written by a newer bayesmix ({meta.get('bayesmix_version')}); "
                         f"this is {bayesmix.__version__}.")
    results = {}
    for name, (kind, value) in meta["results"].items():
        if kind == "netcdf":  # (target, attrs) before the missing text cells were kept
            target, attrs, missing = (*value, None)[:3]
            results[name] = _open_datatree(path / target, attrs, missing)
        elif kind == "datatree":  # zarr directories of an earlier layout
            results[name] = _open_datatree(path / value)
        else:
            results[name] = value
    return _finish(path, meta["call"], meta, results)
