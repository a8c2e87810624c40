"""Validate a wide DataFrame and encode it into arrays and coords.

Everything here is plain numpy/pandas and runs before any PyTensor graph is
built, so bad input fails fast with a ``ValueError`` that names the column and
the fix (scikit-learn style).

Item types (the measurement kernels of eq. 1-2 of the paper):

``binary``
    exactly two observed codes (any labels); the larger code is "category 2".
``nominal``
    unordered categories (multinomial logit), the poLCA/StepMix default for
    categorical items with more than two codes.
``ordinal``
    ordered categories with cumulative thresholds (eq. 1).
``continuous``
    normal within class (eq. 2 with y* = y).

Missing responses (NaN/None) are kept as missing and left out of the
likelihood (full information). Rows with *every* item missing carry no
information about the measurement model; they are dropped with a warning
(their likelihood contribution is exactly zero).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

ITEM_TYPES = ("binary", "nominal", "ordinal", "continuous")
#: integer-coded items with at most this many distinct codes are treated as
#: categorical when the type is inferred; more codes -> continuous.
MAX_INFERRED_CATEGORIES = 10


@dataclass(frozen=True)
class ItemSpec:
    """One observed item: its column name, kernel type and category labels."""

    name: str
    kind: str
    categories: tuple = ()

    @property
    def n_categories(self) -> int:
        return len(self.categories)


@dataclass
class EncodedData:
    """Arrays and labels a factory needs; produced by :func:`encode`.

    ``codes[kind]`` holds integer category codes (-1 = missing) for the
    categorical items of that kind, ``values`` the continuous items (NaN =
    missing).
    """

    items: list[ItemSpec]
    units: pd.Index
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    values: np.ndarray | None = None
    covariates: np.ndarray | None = None
    covariate_names: list[str] = field(default_factory=list)
    cluster_index: np.ndarray | None = None
    clusters: pd.Index | None = None
    cluster_covariates: np.ndarray | None = None
    cluster_covariate_names: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = None

    @property
    def n_units(self) -> int:
        return len(self.units)

    def items_of(self, kind: str) -> list[ItemSpec]:
        return [it for it in self.items if it.kind == kind]

    def item_names(self, kind: str | None = None) -> list[str]:
        return [it.name for it in self.items if kind is None or it.kind == kind]


def _is_integer_valued(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(np.round(values) == values))


def infer_item_type(column: pd.Series) -> str:
    """Infer the kernel type of one item column (missing values ignored)."""
    observed = column.dropna()
    if isinstance(column.dtype, pd.CategoricalDtype):
        if column.dtype.ordered and len(column.dtype.categories) > 2:
            return "ordinal"
        return "binary" if observed.nunique() == 2 else "nominal"
    if pd.api.types.is_bool_dtype(observed) or not pd.api.types.is_numeric_dtype(observed):
        return "binary" if observed.nunique() == 2 else "nominal"
    n_codes = observed.nunique()
    if n_codes == 2:
        return "binary"
    values = observed.to_numpy(dtype=float)
    if _is_integer_valued(values) and n_codes <= MAX_INFERRED_CATEGORIES:
        return "nominal"
    return "continuous"


def _resolve_item_types(
    items: Sequence[str], item_types: str | Mapping[str, str] | None, frame: pd.DataFrame
) -> dict[str, str]:
    if isinstance(item_types, str):
        item_types = {name: item_types for name in items}
    item_types = dict(item_types or {})
    unknown = set(item_types) - set(items)
    if unknown:
        raise ValueError(
            f"item_types names {sorted(unknown)}, which are not in items; "
            "give types only for the item columns."
        )
    resolved = {}
    for name in items:
        kind = item_types.get(name) or infer_item_type(frame[name])
        if kind not in ITEM_TYPES:
            raise ValueError(
                f"item_types[{name!r}] = {kind!r} is not a known type; use one of {ITEM_TYPES}."
            )
        resolved[name] = kind
    return resolved


def _categories_of(column: pd.Series, kind: str) -> tuple:
    observed = column.dropna()
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = [c for c in column.dtype.categories if c in set(observed)]
        return tuple(present)
    try:
        return tuple(sorted(observed.unique()))
    except TypeError:  # mixed, unorderable labels: keep first-seen order
        return tuple(observed.unique())


def _check_columns(frame: pd.DataFrame, names: Sequence[str], argument: str) -> None:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{argument} names column(s) {missing} that are not in the DataFrame; "
            f"available columns: {list(frame.columns)}."
        )
    duplicated = sorted({c for c in names if list(names).count(c) > 1})
    if duplicated:
        raise ValueError(f"{argument} lists {duplicated} more than once; give each column once.")


def _numeric_matrix(frame: pd.DataFrame, names: Sequence[str], argument: str) -> np.ndarray:
    for name in names:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            continue
        if not pd.api.types.is_numeric_dtype(col):
            raise ValueError(
                f"{argument} column {name!r} is not numeric (dtype {col.dtype}); "
                "encode it as numbers (e.g. pd.get_dummies(..., drop_first=True))."
            )
        if col.isna().any():
            raise ValueError(
                f"{argument} column {name!r} has {int(col.isna().sum())} missing value(s); "
                "covariates must be complete: drop or impute those rows first."
            )
    return frame[list(names)].to_numpy(dtype=float) if names else np.zeros((len(frame), 0))


def encode(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    item_types: str | Mapping[str, str] | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    cluster_covariates: Sequence[str] | None = None,
) -> EncodedData:
    """Validate ``data`` and encode it for a mixture model.

    Raises ``ValueError`` naming the offending argument/column and the fix.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if data.shape[0] == 0:
        raise ValueError("data is empty (0 rows); pass a DataFrame with one row per unit.")
    if isinstance(items, str):
        raise ValueError("items must be a list of column names, e.g. items=['A', 'B'], not a string.")
    items = list(items)
    if not items:
        raise ValueError("items is empty; name at least one item column.")
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 1:
        raise ValueError(f"n_classes must be an integer >= 1, got {n_classes!r}.")
    _check_columns(data, items, "items")
    covariates = list(covariates or [])
    _check_columns(data, covariates, "covariates")
    overlap = sorted(set(covariates) & set(items))
    if overlap:
        raise ValueError(f"columns {overlap} are given both as items and as covariates; use each once.")
    cluster_covariates = list(cluster_covariates or [])
    if cluster is not None:
        _check_columns(data, [cluster], "cluster")
        if cluster in items or cluster in covariates:
            raise ValueError(f"cluster column {cluster!r} is also an item or covariate; use it once.")
    if cluster_covariates and cluster is None:
        raise ValueError("cluster_covariates need a cluster column: pass cluster='<id column>'.")
    _check_columns(data, cluster_covariates, "cluster_covariates")

    frame = data.reset_index(drop=True)
    all_missing = frame[items].isna().all(axis=1).to_numpy()
    if all_missing.all():
        raise ValueError("every row has all items missing; there is nothing to fit.")
    if all_missing.any():
        warnings.warn(
            f"dropping {int(all_missing.sum())} row(s) with every item missing "
            f"(positions {np.flatnonzero(all_missing)[:10].tolist()}...); they carry no "
            "information about the classes.",
            UserWarning,
            stacklevel=3,
        )
    units = data.index[~all_missing]
    frame = frame.loc[~all_missing].reset_index(drop=True)

    if frame.shape[0] < n_classes:
        raise ValueError(
            f"data has {frame.shape[0]} usable row(s) but n_classes={n_classes}; "
            "use fewer classes or more data."
        )

    kinds = _resolve_item_types(items, item_types, frame)
    specs: list[ItemSpec] = []
    codes: dict[str, list[np.ndarray]] = {k: [] for k in ("binary", "nominal", "ordinal")}
    continuous: list[np.ndarray] = []
    for name in items:
        col = frame[name]
        kind = kinds[name]
        n_codes = col.dropna().nunique()
        if n_codes < 2:
            raise ValueError(
                f"item {name!r} is constant (observed codes: {col.dropna().unique().tolist()}); "
                "it carries no information about classes: remove it from items."
            )
        if kind == "continuous":
            if not pd.api.types.is_numeric_dtype(col):
                raise ValueError(
                    f"item {name!r} is declared continuous but has dtype {col.dtype}; "
                    "give numbers or declare it 'nominal'."
                )
            specs.append(ItemSpec(name, kind))
            continuous.append(col.to_numpy(dtype=float))
            continue
        cats = _categories_of(col, kind)
        if kind == "binary" and len(cats) != 2:
            raise ValueError(
                f"item {name!r} is binary but has {len(cats)} observed codes {list(cats)}; "
                "recode it to two values or declare it 'nominal' or 'ordinal' in item_types."
            )
        if kind == "ordinal":
            if isinstance(col.dtype, pd.CategoricalDtype):
                pass
            elif not (pd.api.types.is_numeric_dtype(col) and _is_integer_valued(col.dropna().to_numpy(float))):
                raise ValueError(
                    f"item {name!r} is declared ordinal but its codes {list(cats)[:6]} are not "
                    "integers; use integer codes or an ordered pandas Categorical."
                )
        lookup = {c: i for i, c in enumerate(cats)}
        code = np.array([-1 if pd.isna(v) else lookup[v] for v in col], dtype=np.int64)
        specs.append(ItemSpec(name, kind, tuple(cats)))
        codes[kind].append(code)

    encoded = EncodedData(items=specs, units=pd.Index(units, name="unit"))
    encoded.codes = {k: np.column_stack(v) for k, v in codes.items() if v}
    encoded.values = np.column_stack(continuous) if continuous else None
    encoded.covariates = _numeric_matrix(frame, covariates, "covariates")
    encoded.covariate_names = covariates
    encoded.frame = frame

    if cluster is not None:
        ids = frame[cluster]
        if ids.isna().any():
            raise ValueError(
                f"cluster column {cluster!r} has {int(ids.isna().sum())} missing id(s); "
                "every row needs a cluster id: drop those rows or give them an id."
            )
        index, labels = pd.factorize(ids, sort=True)
        encoded.cluster_index = index.astype(np.int64)
        encoded.clusters = pd.Index(labels, name="cluster")
        if cluster_covariates:
            matrix = _numeric_matrix(frame, cluster_covariates, "cluster_covariates")
            per_cluster = np.zeros((len(labels), matrix.shape[1]))
            for j in range(len(labels)):
                rows = matrix[index == j]
                if not np.allclose(rows, rows[0]):
                    bad = [cluster_covariates[p] for p in range(matrix.shape[1]) if not np.allclose(rows[:, p], rows[0, p])]
                    raise ValueError(
                        f"cluster_covariates {bad} vary within cluster {labels[j]!r}; "
                        "a cluster-level covariate must be constant within each cluster."
                    )
                per_cluster[j] = rows[0]
            encoded.cluster_covariates = per_cluster
            encoded.cluster_covariate_names = cluster_covariates
    return encoded
