"""Model specs: one small declarative TOML file per model (``bm.from_spec`` / ``bm.to_spec``).

A spec says, like an Mplus input file, where the data come from, which
factory builds the model with which options and priors, and how to fit it::

    name = "carcinoma_lca_k2"
    description = "Two-class LCA of the carcinoma data"
    paper = "Section 2 (latent class analysis, eq. 1 and 4)"

    [data]
    dataset = "carcinoma"            # or csv = "file.csv" (relative to the spec),
                                     # or simulate = "simulate_mixture_regression"
                                     #    with [data.parameters] and seed
    [model]
    factory = "lca"                  # any bayesmix factory: lca, mixture_regression, lta, gom, ...
    items = ["A", "B", "C", "D", "E", "F", "G"]
    n_classes = 2

    [priors]                         # optional overrides by parameter name
    binary_logit = { sigma = 3 }

    [inference.ml]                   # keyword arguments of fit_ml
    starts = 20
    seed = 1

    [inference.sample]               # keyword arguments of sample
    draws = 1000
    chains = 4

    [fast]                           # optional overrides for fast mode (CI, --fast)
    data = { n_clusters = 30 }
    sample = { draws = 100 }

Everything is checked before any graph is compiled: unknown keys (naming
the closest valid one), wrong types, unknown data sets / simulators, and
columns missing from the data all raise a ``ValueError``. A model
round-trips: ``to_spec(model)`` gives the dict ``from_spec`` rebuilds it
from (the factory call every factory records, see :mod:`bayesmix.io`).

The bundled specs are the repository's top-level ``models/*.toml``. They are
found from the package's location (``<checkout>/bayesmix/../models``), which
holds in a checkout and after ``pip install -e .`` (the way ``make demo`` /
``make test`` install); ``BAYESMIX_MODELS=/path/to/models`` points elsewhere
(e.g. for a non-editable install, whose wheel does not carry them).
:func:`bundled_specs` lists them and :func:`resolve` accepts a bundled name
(``"carcinoma_lca_k2"``) as well as a path.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from . import registry
from .data import column_names

__all__ = ["Spec", "read_spec", "from_spec", "to_spec", "write_spec", "bundled_specs", "resolve", "FAST_ENV"]

#: The values of ``bm.montecarlo(starts=...)`` / ``[montecarlo] starts``.
MONTECARLO_STARTS = ("random", "population")

#: Environment variable switching fast mode on (notebooks, CI): ``BAYESMIX_FAST=1``.
FAST_ENV = "BAYESMIX_FAST"

_TOP = {"name": str, "description": str, "paper": str, "data": dict, "model": dict, "priors": dict,
        "inference": dict, "fast": dict, "montecarlo": dict, "paper_values": dict}
_DATA = {"dataset": str, "csv": str, "simulate": str, "parameters": dict, "seed": int, "columns": list,
         "n_rows": int}
_INFERENCE = {"ml": dict, "sample": dict}
_FAST = {"data": dict, "ml": dict, "sample": dict}
_MONTECARLO = {"replications": int, "seed": int, "ml": dict, "starts": str, "start_values": dict}
_ML = {"starts": (int, list), "seed": int, "tol": float, "integration": dict, "max_iterations": int,
       "initial_iterations": int, "warn_unreplicated": bool, "progressbar": bool}
_SAMPLE = {"draws": int, "tune": int, "chains": int, "sampler": str, "random_seed": int, "init": str,
           "progressbar": bool, "target_accept": float, "cores": int, "starts": int}
#: Fast mode defaults (applied before the spec's own [fast] overrides).
FAST_DEFAULTS = {"ml": {"starts": [4, 1]}, "sample": {"draws": 60, "tune": 60, "chains": 2, "starts": 1}}
# Factory arguments naming data columns: checked against the data before the factory is called.
_COLUMN_ARGS = ("items", "items_by_time", "y", "x", "cluster", "covariates", "cluster_covariates")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "a table",
               list: "an array"}


def _type_ok(value: Any, expected) -> bool:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    for kind in kinds:
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind not in (int, float) and isinstance(value, kind):
            return True
    return False


def _check_table(table: Any, schema: Mapping[str, Any], where: str) -> None:
    """Unknown keys (with the closest valid one) and wrong types of one TOML table."""
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must be a table, got {type(table).__name__} {table!r}.")
    for key, value in table.items():
        if key not in schema:
            close = difflib.get_close_matches(key, list(schema), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {sorted(schema)}."
            raise ValueError(f"unknown key {key!r} in {where}{hint}")
        expected = schema[key]
        if expected is not Any and not _type_ok(value, expected):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            raise ValueError(f"{where}.{key} must be {names}, got {type(value).__name__} {value!r}.")


def _factories() -> dict[str, Any]:
    return registry.factories()


def _simulators() -> dict[str, Any]:
    return registry.simulators()


def _merge(base: Mapping, over: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class Spec:
    """A validated model spec (see the module docstring for the format); made by :func:`bayesmix.read_spec`.

    Attributes
    ----------
    raw : dict
        The parsed TOML.
    source : Path or None
        The file it was read from (relative CSV paths resolve against its
        folder), None for a dict.
    name, factory : str
        The spec's name and the bayesmix factory it calls.
    options : dict
        The factory's options.

    Examples
    --------
    >>> spec = bm.read_spec("carcinoma_lca_k2")        # doctest: +SKIP
    >>> m = spec.build()                               # doctest: +SKIP
    >>> ml = m.fit_ml(**spec.ml_options())             # doctest: +SKIP
    """

    raw: dict
    source: Path | None = None
    name: str = ""
    factory: str = ""
    options: dict = field(default_factory=dict)

    # -- sections ---------------------------------------------------------
    @property
    def data_section(self) -> dict:
        """The ``[data]`` section (a copy)."""
        return dict(self.raw.get("data", {}))

    @property
    def description(self) -> str:
        """The spec's ``description``."""
        return self.raw.get("description", "")

    @property
    def paper(self) -> str:
        """Where in the paper the model is (``paper`` key)."""
        return self.raw.get("paper", "")

    @property
    def priors(self) -> dict | None:
        """The ``priors`` section, or None."""
        return copy.deepcopy(self.raw["priors"]) if self.raw.get("priors") else None

    @property
    def is_simulated(self) -> bool:
        """Whether the data come from a simulator (``[data] simulate``)."""
        return "simulate" in self.data_section

    def ml_options(self, fast: bool = False) -> dict | None:
        """Keyword arguments of ``fit_ml`` from ``[inference.ml]``.

        Parameters
        ----------
        fast : bool
            Apply the spec's ``[fast]`` overrides.

        Returns
        -------
        dict or None
            None when the spec has no ``[inference.ml]``.

        Examples
        --------
        >>> m.fit_ml(**spec.ml_options())                  # doctest: +SKIP
        """
        return self._inference("ml", fast)

    def sample_options(self, fast: bool = False) -> dict | None:
        """Keyword arguments of ``sample`` from ``[inference.sample]``.

        Parameters
        ----------
        fast : bool
            Apply the spec's ``[fast]`` overrides.

        Returns
        -------
        dict or None
            None when the spec has no ``[inference.sample]``.

        Examples
        --------
        >>> m.sample(**spec.sample_options(fast=True))     # doctest: +SKIP
        """
        return self._inference("sample", fast)

    def _inference(self, kind: str, fast: bool) -> dict | None:
        section = self.raw.get("inference", {}).get(kind)
        if section is None:
            return None
        out = dict(section)
        if fast:
            out = _merge(out, FAST_DEFAULTS[kind])
            out = _merge(out, self.raw.get("fast", {}).get(kind, {}))
        if isinstance(out.get("starts"), list):
            out["starts"] = tuple(out["starts"])
        return out

    # -- data ---------------------------------------------------------------
    def simulate(self, seed: int | None = None, fast: bool = False):
        """Run the spec's simulator (its ``[data.parameters]``).

        Parameters
        ----------
        seed : int, optional
            Overrides ``data.seed``.
        fast : bool
            Apply the spec's ``[fast]`` overrides.

        Returns
        -------
        object
            The simulator's result (e.g. ``SimulatedLCA``: ``data``, ``truth``).

        Examples
        --------
        >>> sim = bm.read_spec("lca_power_k2").simulate(seed=1)   # doctest: +SKIP
        """
        section = self.data_section
        if "simulate" not in section:
            raise ValueError(f"spec {self.name!r} has no simulator ([data] simulate = ...); "
                             "Monte Carlo studies need one.")
        params = dict(section.get("parameters", {}))
        if fast:
            params = _merge(params, self.raw.get("fast", {}).get("data", {}))
        fn = _simulators()[section["simulate"]]
        return fn(**params, seed=section.get("seed") if seed is None else seed)

    def load_data(self, data: pd.DataFrame | str | os.PathLike | None = None, *, fast: bool = False) -> pd.DataFrame:
        """The spec's data: ``data`` when given, else its source.

        Fast mode applies ``[fast] data`` overrides to simulator parameters.

        Parameters
        ----------
        data : DataFrame or CSV path, optional
            Replaces the spec's data source (same columns).
        fast : bool
            Apply the spec's ``[fast]`` overrides.

        Returns
        -------
        DataFrame

        Examples
        --------
        >>> spec.load_data().head()                       # doctest: +SKIP
        """
        from . import datasets
        section = self.data_section
        if data is not None:
            frame = data if isinstance(data, pd.DataFrame) else _read_csv(Path(data))
        elif "dataset" in section:
            frame = datasets.load(section["dataset"])
        elif "csv" in section:
            path = Path(section["csv"])
            if not path.is_absolute() and self.source is not None:
                path = self.source.parent / path
            frame = _read_csv(path)
        else:
            frame = self.simulate(fast=fast).data
        if fast and "n_rows" in self.raw.get("fast", {}).get("data", {}):
            frame = frame.head(int(self.raw["fast"]["data"]["n_rows"]))
        return frame

    def check_columns(self, frame: pd.DataFrame) -> None:
        """Every column the model options name is in ``frame``.

        Parameters
        ----------
        frame : DataFrame

        Returns
        -------
        None
            Raises a ``ValueError`` naming a missing column.

        Examples
        --------
        >>> spec.check_columns(my_frame)                   # doctest: +SKIP
        """
        columns = set(map(str, frame.columns))
        for arg in _COLUMN_ARGS:
            value = self.options.get(arg)
            if value is None:
                continue
            names = column_names(value)
            missing = [n for n in names if n not in columns]
            if missing:
                close = difflib.get_close_matches(missing[0], sorted(columns), n=1, cutoff=0.5)
                hint = f" (closest: {close[0]!r})" if close else ""
                raise ValueError(f"spec {self.name!r}: model.{arg} names column(s) {missing} missing from the "
                                 f"data{hint}; the data have {sorted(columns)}.")

    # -- model --------------------------------------------------------------
    def call(self, frame: pd.DataFrame) -> dict:
        """The factory call ``{"factory", "arguments"}`` (as :mod:`bayesmix.io` records it).

        Parameters
        ----------
        frame : DataFrame
            The data.

        Returns
        -------
        dict

        Examples
        --------
        >>> spec.call(spec.load_data())["factory"]        # doctest: +SKIP
        """
        arguments = {"data": frame, **copy.deepcopy(self.options)}
        for key in ("random", "starts"):
            if isinstance(arguments.get(key), list):
                arguments[key] = tuple(arguments[key])
        if self.priors is not None:
            arguments["priors"] = self.priors
        return {"factory": self.factory, "arguments": arguments}

    def build(self, data: pd.DataFrame | str | os.PathLike | None = None, *, fast: bool = False):
        """Load the data, check the columns, and call the factory (via :func:`bayesmix.io.rebuild`).

        Parameters
        ----------
        data : DataFrame or CSV path, optional
            Replaces the spec's data source (same columns).
        fast : bool
            Apply the spec's ``[fast]`` overrides.

        Returns
        -------
        MixtureModel

        Examples
        --------
        >>> m = bm.read_spec("table3_model6").build(fast=True)   # doctest: +SKIP
        """
        from .io import rebuild
        frame = self.load_data(data, fast=fast)
        self.check_columns(frame)
        call = self.call(frame)
        model = rebuild(call)
        if "call" not in model.options:  # factories that do not record their call yet: every argument, as locals()
            bound = inspect.signature(_factories()[self.factory]).bind(**call["arguments"])
            bound.apply_defaults()
            model.options["call"] = {"factory": self.factory, "arguments": dict(bound.arguments)}
        model.options["spec"] = copy.deepcopy(self.raw)  # to_spec keeps the data source
        return model


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ValueError(f"data file {str(path)!r} does not exist.")
    return pd.read_csv(path)


def bundled_dir() -> Path:
    """The folder of the bundled specs: ``$BAYESMIX_MODELS`` or the repository's ``models/``."""
    override = os.environ.get("BAYESMIX_MODELS")
    if override:
        return Path(override)
    shipped = (Path(__file__).resolve().parent / "models").resolve()  # in a wheel; a checkout: symlink to ../models
    return shipped if shipped.is_dir() else Path(__file__).resolve().parent.parent / "models"


def bundled_specs() -> dict[str, Path]:
    """Bundled spec names -> files."""
    folder = bundled_dir()
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A spec file: an existing path, or the name of a bundled spec (with or without ``.toml``)."""
    path = Path(path_or_name)
    if path.exists():
        return path
    specs = bundled_specs()
    stem = path.name[:-5] if path.name.endswith(".toml") else path.name
    if stem in specs:
        return specs[stem]
    close = difflib.get_close_matches(stem, list(specs), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else f"; bundled specs: {sorted(specs)}."
    raise ValueError(f"no spec file {str(path_or_name)!r} and no bundled spec of that name{hint}")


def read_spec(path_or_dict: str | os.PathLike | Mapping[str, Any]) -> Spec:
    """Parse and validate a spec (a TOML path, a bundled spec name, or a dict); nothing is compiled.

    Parameters
    ----------
    path_or_dict : path, bundled spec name, or dict
        The spec (see :mod:`bayesmix.spec` for the format; ``bayesmix list``
        shows the bundled names).

    Returns
    -------
    Spec

    Examples
    --------
    >>> spec = bm.read_spec("carcinoma_lca_k2")
    >>> spec.factory
    'lca'

    Raises
    ------
    ValueError
        Unknown keys (with the closest valid one), wrong types, an unknown
        factory / data set / simulator, missing required options, a data
        section with not exactly one source.
    """
    source = None
    if isinstance(path_or_dict, Mapping):
        raw = copy.deepcopy(dict(path_or_dict))
    else:
        source = resolve(path_or_dict)
        try:
            with open(source, "rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{str(source)!r} is not valid TOML: {err}") from None
    _check_table(raw, _TOP, "the spec")
    name = raw.get("name") or (source.stem if source is not None else "spec")
    for section in ("data", "model"):
        if section not in raw:
            raise ValueError(f"spec {name!r} has no [{section}] table.")
    data = raw["data"]
    _check_table(data, _DATA, "[data]")
    sources = [k for k in ("dataset", "csv", "simulate") if k in data]
    if len(sources) != 1:
        raise ValueError(f"spec {name!r}: [data] needs exactly one of dataset, csv, simulate (got {sources or 'none'}).")
    if "dataset" in data:
        from .datasets import available
        if data["dataset"] not in available():
            close = difflib.get_close_matches(data["dataset"], available(), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"spec {name!r}: unknown data set {data['dataset']!r}{hint} (available: {available()}).")
    if "simulate" in data:
        sims = _simulators()
        if data["simulate"] not in sims:
            close = difflib.get_close_matches(data["simulate"], list(sims), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"spec {name!r}: unknown simulator {data['simulate']!r}{hint} (available: {sorted(sims)}).")
        accepted = [n for n in inspect.signature(sims[data["simulate"]]).parameters if n != "seed"]
        params = dict(data.get("parameters", {}))
        params.update(raw.get("fast", {}).get("data", {}))
        params.pop("n_rows", None)
        _check_table(params, {n: Any for n in accepted}, f"[data.parameters] of {data['simulate']}")
    elif set(data) & {"parameters", "seed"}:
        raise ValueError(f"spec {name!r}: [data] parameters/seed apply to a simulator only (simulate = ...).")
    model = dict(raw["model"])
    if "factory" not in model:
        raise ValueError(f"spec {name!r}: [model] needs factory = one of {sorted(_factories())}.")
    factories = _factories()
    factory_name = model.pop("factory")
    if factory_name not in factories:
        close = difflib.get_close_matches(str(factory_name), list(factories), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"spec {name!r}: unknown factory {factory_name!r}{hint} (available: {sorted(factories)}).")
    family = registry.get(factory_name)
    schema = family.option_schema()
    schema.pop("priors", None)  # priors go in their own table
    _check_table(model, schema, f"[model] ({factory_name})")
    missing = [n for n in family.required_options() if n not in model]
    if missing:
        raise ValueError(f"spec {name!r}: [model] misses required option(s) {missing} of {factory_name}.")
    if "priors" in raw:
        for pname, kwargs in raw["priors"].items():
            if not isinstance(kwargs, Mapping):
                raise ValueError(f"[priors].{pname} must be a table of distribution keywords, e.g. "
                                 f"{pname} = {{ sigma = 2 }}; got {kwargs!r}.")
    inference = raw.get("inference", {})
    _check_table(inference, _INFERENCE, "[inference]")
    _check_table(inference.get("ml", {}), _ML, "[inference.ml]")
    _check_table(inference.get("sample", {}), _SAMPLE, "[inference.sample]")
    fast = raw.get("fast", {})
    _check_table(fast, _FAST, "[fast]")
    _check_table(fast.get("ml", {}), _ML, "[fast.ml]")
    _check_table(fast.get("sample", {}), _SAMPLE, "[fast.sample]")
    if "data" in fast and "simulate" not in data:
        _check_table(fast["data"], {"n_rows": int}, "[fast.data]")
    mc = raw.get("montecarlo", {})
    _check_table(mc, _MONTECARLO, "[montecarlo]")
    _check_table(mc.get("ml", {}), _ML, "[montecarlo.ml]")
    if "starts" in mc and mc["starts"] not in MONTECARLO_STARTS:
        raise ValueError(f"[montecarlo] starts = {mc['starts']!r}; give one of {list(MONTECARLO_STARTS)} "
                         "(\"population\": each replication starts at the population values, Mplus's MONTECARLO "
                         "convention; \"random\": the [montecarlo.ml] random starts).")
    for key, value in mc.get("start_values", {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"[montecarlo.start_values] {key!r} = {value!r}; give a number (a start value by its "
                             "ML parameter name, e.g. \"random_sd[class1]\" = 10.0).")
    return Spec(raw=raw, source=source, name=name, factory=factory_name, options=model)


def fast_mode() -> bool:
    """Whether ``BAYESMIX_FAST`` asks for fast mode."""
    return os.environ.get(FAST_ENV, "").strip().lower() not in ("", "0", "false", "no")


def from_spec(path_or_dict: str | os.PathLike | Mapping[str, Any], *, data: pd.DataFrame | str | None = None,
              fast: bool | None = None):
    """Build the model a spec describes (validated before any compilation).

    Parameters
    ----------
    path_or_dict : path, bundled spec name, or dict
        The spec (see :mod:`bayesmix.spec` for the format).
    data : DataFrame or CSV path, optional
        Replaces the spec's data source (same columns).
    fast : bool, optional
        Fast mode: the spec's ``[fast] data`` overrides (smaller simulated
        data); default from ``BAYESMIX_FAST``.

    Returns
    -------
    MixtureModel
        With the spec in ``model.options["spec"]``; fit with
        ``read_spec(path).ml_options()`` / ``.sample_options()``.

    Examples
    --------
    >>> m = bm.from_spec("carcinoma_lca_k2")          # doctest: +SKIP
    >>> ml = m.fit_ml(starts=20, seed=1)              # doctest: +SKIP
    """
    spec = read_spec(path_or_dict)
    return spec.build(data, fast=fast_mode() if fast is None else fast)


def to_spec(model, *, data_path: str | os.PathLike | None = None) -> dict:
    """The spec (as a dict) that rebuilds ``model``; :func:`write_spec` saves it as TOML.

    The options come from the factory call the model records (the one
    :func:`bayesmix.save` stores). The data source is the spec's when the model
    was built by :func:`from_spec`; otherwise ``data_path`` is required and the
    model's data frame is written there as CSV.

    Parameters
    ----------
    model : MixtureModel
        A model built by a bayesmix factory or :func:`from_spec`.
    data_path : path, optional
        Where to write the data as CSV (needed unless the model came from a spec).

    Returns
    -------
    dict
        The spec, valid for :func:`read_spec`.

    Examples
    --------
    >>> spec = bm.to_spec(m, data_path="my_data.csv")     # doctest: +SKIP
    >>> bm.write_spec(spec, "my_model.toml")             # doctest: +SKIP
    """
    from .io import call_of
    call = call_of(model)
    arguments = dict(call["arguments"])
    frame = arguments.pop("data")
    priors = arguments.pop("priors", None)
    factory = _factories()[call["factory"]]
    defaults = {n: p.default for n, p in inspect.signature(factory).parameters.items()}
    options = {}
    for key, value in arguments.items():
        if key in defaults and defaults[key] is not inspect.Parameter.empty and _same(value, defaults[key]):
            continue  # left at its default
        options[key] = _plain(value)
    old = model.options.get("spec") or {}
    spec: dict[str, Any] = {k: copy.deepcopy(v) for k, v in old.items() if k not in ("model", "priors", "data")}
    spec.setdefault("name", model.name)
    if data_path is not None:
        pd.DataFrame(frame).to_csv(data_path, index=False)
        spec["data"] = {"csv": str(data_path)}
    elif "data" in old:
        spec["data"] = copy.deepcopy(old["data"])
    else:
        raise ValueError("this model was not built from a spec: pass data_path='data.csv' to write its data "
                         "next to the spec.")
    spec["model"] = {"factory": call["factory"], **options}
    if priors:
        spec["priors"] = _plain(priors)
    return spec


def _same(a, b) -> bool:
    try:
        return bool(a == b) if not isinstance(a, pd.DataFrame) else False
    except (ValueError, TypeError):
        return False


def _plain(value):
    """TOML-friendly values: tuples -> lists, numpy scalars -> Python, mappings -> dicts."""
    import numpy as np
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in list(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        raise ValueError("TOML has no null; leave the key out instead.")
    raise ValueError(f"cannot write {type(value).__name__} {value!r} to TOML.")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(str(key))


def write_spec(spec: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write a spec dict as TOML (scalars first, then one table per section).

    Parameters
    ----------
    spec : dict
        From :func:`to_spec` (or written by hand).
    path : path
        The TOML file to write.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> bm.write_spec(bm.to_spec(m, data_path="d.csv"), "my_model.toml")   # doctest: +SKIP
    """
    lines: list[str] = []

    def emit(table: Mapping, prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if v is not None and not isinstance(v, Mapping)}
        tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        # small leaf tables (priors, integration, a factor's loadings) inline; sections as [tables]
        inline = {k: v for k, v in tables.items()
                  if prefix and all(not isinstance(x, Mapping) for x in v.values()) and prefix != "priors"
                  and prefix.split(".")[0] not in ("inference", "fast", "montecarlo", "data")}
        if prefix and (scalars or inline or not tables):  # a table of inline tables needs its header too
            lines.append(f"\n[{prefix}]")
        for key, value in {**scalars, **inline}.items():  # keys of this table before any sub-table header
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        for key, value in tables.items():
            if key not in inline:
                emit(value, f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key))

    emit(spec, "")
    path = Path(path)
    path.write_text("\n".join(lines).lstrip("\n") + "\n")
    with open(path, "rb") as fh:  # what we wrote must read back
        tomllib.load(fh)
    return path
