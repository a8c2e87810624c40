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

Besides the checks that raise, two kinds of legal but suspicious input warn
(``UserWarning``): an item declared continuous that takes only two values, and
item codes that look like survey missing-value codes (negative codes, or
9/99/999... beyond the item's other codes); replace those by NaN first.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from ._warn import PACKAGE_FRAMES

ITEM_TYPES = ("binary", "nominal", "ordinal", "ordinal-restricted", "continuous")
#: declared types that are a variant of a kernel kind: type -> (kind, variant)
TYPE_VARIANTS = {"ordinal-restricted": ("ordinal", "restricted")}
#: inferred-nominal items with this many or more consecutive integer codes look like rating scales
LIKERT_MIN_CODES = 4
#: integer-coded items with at most this many distinct codes are treated as
#: categorical when the type is inferred; more codes -> continuous.
MAX_INFERRED_CATEGORIES = 10


@dataclass(frozen=True)
class ItemSpec:
    """One observed item: its column name, kernel type and category labels."""

    name: str
    kind: str
    categories: tuple = ()
    #: a variant of the kernel of ``kind`` ("restricted": proportional-odds ordinal), "" for the default
    variant: str = ""

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


def _is_plain_numeric(column: pd.Series) -> bool:
    """Numbers (not booleans, not a pandas Categorical)."""
    return (not isinstance(column.dtype, pd.CategoricalDtype) and not pd.api.types.is_bool_dtype(column)
            and pd.api.types.is_numeric_dtype(column))


def _n_infinite(column: pd.Series) -> int:
    """Number of inf / -inf values (also in object and categorical columns)."""
    observed = column.dropna()
    if pd.api.types.is_bool_dtype(observed):
        return 0
    if pd.api.types.is_numeric_dtype(observed) and not isinstance(observed.dtype, pd.CategoricalDtype):
        return int(np.isinf(observed.to_numpy(dtype=float)).sum())
    return int(sum(isinstance(v, (float, np.floating)) and bool(np.isinf(v)) for v in observed))


def _check_finite(column: pd.Series, name: str, argument: str) -> None:
    n_inf = _n_infinite(column)
    if n_inf:
        what = f"item {name!r}" if argument == "items" else f"{argument} column {name!r}"
        raise ValueError(
            f"{what} has {n_inf} infinite value(s) (inf / -inf); replace them by NaN "
            f"(missing) or a finite value first, e.g. data[{name!r}] = data[{name!r}].replace([np.inf, -np.inf], np.nan)."
        )


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, (float, np.floating)) else repr(value)


def _looks_like_missing_code(value: float) -> bool:
    """Negative integers and integers made of 7s, 8s and 9s (-9, 9, 99, 98, 999, -999, ...)."""
    if value != np.round(value) or value == 0:
        return False
    return value < 0 or set(str(int(abs(value)))) <= set("789")


def suspected_missing_codes(column: pd.Series) -> list:
    """Codes of a numeric item that look like survey missing-value codes.

    A code is suspected when it looks like one (negative, or 9/99/999/98/...)
    and lies beyond the range of the item's other values with a gap: for an
    item with a few integer codes, at least one unused code between them
    (1..5 and 9, 0/1 and 9, 1..5 and -9; not 1..8 and 9); for a continuous item, a
    gap larger than the range of the other values (ages 18..90 and 999).
    """
    if not _is_plain_numeric(column):
        return []
    values = np.unique(column.dropna().to_numpy(dtype=float))
    values = values[np.isfinite(values)]
    if len(values) < 3:
        return []
    candidate = np.array([_looks_like_missing_code(v) for v in values])
    body = values[~candidate]
    if len(body) < 2:
        return []
    lo, hi = body.min(), body.max()
    few_codes = _is_integer_valued(body) and len(body) <= MAX_INFERRED_CATEGORIES
    above = sorted(values[values > hi])
    below = sorted(values[values < lo], reverse=True)
    # codes that continue the scale (7 after 1..6, -1 before 0..4) belong to it
    while above and above[0] - hi < (2 if few_codes else max(2.0, hi - lo)):
        hi = above.pop(0)
    while below and lo - below[0] < (2 if few_codes or lo >= 0 else max(2.0, hi - lo)):
        lo = below.pop(0)
    return sorted(int(v) for v in above + below)


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
    likert = []
    for name in items:
        kind = item_types.get(name) or infer_item_type(frame[name])
        if kind not in ITEM_TYPES:
            raise ValueError(
                f"item_types[{name!r}] = {kind!r} is not a known type; use one of {ITEM_TYPES}."
            )
        if name not in item_types and kind == "nominal" and looks_like_rating_scale(frame[name]):
            likert.append(name)
        resolved[name] = kind
    if likert:
        warn_rating_scales(likert, stacklevel=5)
    return resolved


def warn_rating_scales(names: Sequence[str], stacklevel: int = 2) -> None:
    """Warn that items inferred as nominal look like rating scales, naming both ordinal types as the fix."""
    warnings.warn(
        f"items {list(names)} have {LIKERT_MIN_CODES} or more consecutive integer codes (a rating scale?) and are "
        "taken as nominal: a free probability per category and class. If the codes are ordered, declare "
        "item_types='ordinal' (class-specific thresholds) or 'ordinal-restricted' (proportional odds: one "
        "threshold set per item and a class location, far fewer parameters).", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


def looks_like_rating_scale(column: pd.Series) -> bool:
    """Plain numeric integer codes forming one run of >= LIKERT_MIN_CODES consecutive values (1..5, 0..6)."""
    if not _is_plain_numeric(column):
        return False
    values = np.unique(column.dropna().to_numpy(dtype=float))
    return (len(values) >= LIKERT_MIN_CODES and _is_integer_valued(values)
            and bool(np.all(np.diff(values) == 1)))


def _categories_of(column: pd.Series, kind: str) -> tuple:
    observed = column.dropna()
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = [c for c in column.dtype.categories if c in set(observed)]
        return tuple(present)
    try:
        return tuple(sorted(observed.unique()))
    except TypeError:  # mixed, unorderable labels: keep first-seen order
        return tuple(observed.unique())


def column_names(value) -> list[str]:
    """The data columns a factory argument names: a column, a list of columns, or (LTA's
    ``items_by_time``) a mapping time label -> columns."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [name for group in value.values() for name in group]
    return list(value)


def check_columns(frame: pd.DataFrame, names: Sequence[str], argument: str) -> None:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{argument} names column(s) {missing} that are not in the DataFrame; "
            f"available columns: {list(frame.columns)}."
        )
    duplicated = sorted({c for c in names if list(names).count(c) > 1})
    if duplicated:
        raise ValueError(f"{argument} lists {duplicated} more than once; give each column once.")
    for name in names:
        n_same = int((frame.columns == name).sum())
        if n_same > 1:
            raise ValueError(
                f"data has {n_same} columns named {name!r} (used in {argument}); column names must be unique: "
                "rename or drop the duplicates first, e.g. data = data.loc[:, ~data.columns.duplicated()]."
            )


#: a cluster covariate is constant within a cluster when its spread there is at most this fraction of
#: the column's largest absolute value (scale-free: a covariate on a 1e-9 scale is judged on that scale)
CLUSTER_CONSTANT_RTOL = 1e-9

#: the values of ``missing_covariates=`` (factories with covariates)
MISSING_COVARIATES = ("error", "drop")


def check_missing_covariates(policy) -> str:
    """Refuse a ``missing_covariates=`` value other than ``"error"`` / ``"drop"``, naming the argument."""
    if not isinstance(policy, str) or policy not in MISSING_COVARIATES:
        raise ValueError(f"missing_covariates must be one of {list(MISSING_COVARIATES)}, got {policy!r}: "
                         "'error' refuses rows with a missing covariate, 'drop' leaves them out with a warning.")
    return policy


def drop_missing_covariates(data: pd.DataFrame, names: Sequence[str], policy: str = "error") -> pd.DataFrame:
    """Apply the declared policy for rows with a missing covariate (``missing_covariates=`` of the factories).

    ``"error"`` (default) keeps every row; :func:`numeric_matrix` then refuses
    the missing values, naming the column and this option. ``"drop"`` leaves
    out the rows where any of ``names`` is missing (NaN, None, ``pd.NA``) with a
    ``UserWarning`` naming the count and the columns, as Mplus deletes cases
    with missing x's. The kept rows keep their labels (the model's ``unit``
    coordinate), so ``bm.compare(..., units="common")`` sets the model against
    one fitted to all rows without covariates.

    Parameters
    ----------
    data : DataFrame
        The user's data (its index labels the units).
    names : list of str
        Covariate and cluster covariate columns.
    policy : ``"error"`` or ``"drop"``
        The declared policy.

    Returns
    -------
    DataFrame
        ``data`` itself, or its complete rows.

    Examples
    --------
    >>> df = pd.DataFrame({"A": [0, 1, 1], "x": [0.5, None, 1.0]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     drop_missing_covariates(df, ["x"], "drop").index.tolist()
    [0, 2]
    """
    check_missing_covariates(policy)
    if policy == "error" or not names:
        return data
    missing = data[list(names)].isna()
    rows = missing.any(axis=1).to_numpy()
    if not rows.any():
        return data
    if rows.all():
        raise ValueError(f"every row has a missing value in covariates {list(names)}; missing_covariates='drop' "
                         "would leave nothing to fit.")
    counts = {name: int(n) for name, n in missing.sum().items() if n}
    warnings.warn(
        f"missing_covariates='drop': leaving out {int(rows.sum())} of {len(data)} row(s) with a missing value in "
        f"{', '.join(f'{name!r} ({n})' for name, n in counts.items())}; the kept rows keep their labels "
        "(compare with a model fitted to all rows by bm.compare(..., units='common')).",
        UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    return data.loc[~rows]


def numeric_matrix(frame: pd.DataFrame, names: Sequence[str], argument: str) -> np.ndarray:
    """The columns ``names`` of ``frame`` as a float matrix (N, len(names)), checked numeric, complete and finite.

    Parameters
    ----------
    frame : DataFrame
        The data.
    names : list of str
        Covariate columns (may be empty: an (N, 0) matrix).
    argument : str
        The factory argument that named them, for the error messages.

    Returns
    -------
    ndarray
        (N, len(names)) floats.

    Examples
    --------
    >>> numeric_matrix(pd.DataFrame({"x": [1, 2], "w": [0.5, 1.0]}), ["x"], "covariates")
    array([[1.],
           [2.]])
    """
    for name in names:
        col = frame[name]
        if not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)):
            raise ValueError(
                f"{argument} column {name!r} is not numeric (dtype {col.dtype}); "
                "encode it as numbers (e.g. pd.get_dummies(..., drop_first=True))."
            )
        if col.isna().any():  # also pd.NA in nullable boolean / integer columns
            raise ValueError(
                f"{argument} column {name!r} has {int(col.isna().sum())} missing value(s); "
                "covariates must be complete: drop or impute those rows first; missing_covariates='drop' leaves "
                "them out with a warning (the kept rows keep their labels, so bm.compare(..., units='common') can "
                "set the model against ones fitted to all rows)."
            )
        _check_finite(col, name, argument)
    return frame[list(names)].to_numpy(dtype=float) if names else np.zeros((len(frame), 0))


def _check_not_collinear(matrix: np.ndarray, names: Sequence[str], argument: str, what: str) -> None:
    """Refuse constant columns and columns that are linear combinations of the intercept and others."""
    for j, name in enumerate(names):
        if np.ptp(matrix[:, j]) == 0:
            raise ValueError(
                f"{argument} column {name!r} is constant ({_fmt(matrix[0, j])}{what}); it is collinear with "
                f"the intercept, so its slopes are not identified: remove it from {argument}."
            )
    centered = matrix - matrix.mean(axis=0)
    scaled = centered / np.linalg.norm(centered, axis=0)
    for j in range(1, len(names)):
        if np.linalg.matrix_rank(scaled[:, : j + 1]) <= j:
            raise ValueError(
                f"{argument} column {names[j]!r} is a linear combination of the intercept and {list(names[:j])}"
                f"{what} (collinear), so the slopes are not identified: remove {names[j]!r} (or one of the "
                f"others) from {argument}."
            )


def check_keys(options: Mapping | None, valid: Sequence[str], argument: str) -> None:
    """Refuse unknown keys of a dict option, naming the closest valid key.

    For factories and integrators, e.g. ``check_keys(integration, ("method", "points", "adaptive",
    "seed"), "integration")`` refuses ``integration={"npoints": 2}``.
    """
    if options is None:
        return
    if not isinstance(options, Mapping):
        raise ValueError(f"{argument} must be a dict with keys from {list(valid)}, got {type(options).__name__}.")
    unknown = [key for key in options if key not in valid]
    if unknown:
        hints = []
        for key in unknown:
            match = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.5)
            hints.append(f"{key!r} (did you mean {match[0]!r}?)" if match else repr(key))
        raise ValueError(
            f"{argument} has unknown key(s) {', '.join(hints)}; valid keys: {list(valid)}."
        )


def _warn_missing_codes(column: pd.Series, name: str, kind: str) -> None:
    codes = suspected_missing_codes(column)
    if codes:
        observed = column.dropna().to_numpy(dtype=float)
        rest = observed[~np.isin(observed, codes)]
        n_rows = int(np.isin(observed, codes).sum())
        warnings.warn(
            f"item {name!r} has code(s) {codes} ({n_rows} row(s)) beyond its other values "
            f"({_fmt(rest.min())}..{_fmt(rest.max())}); they look like survey missing-value codes but are "
            f"taken as real {kind} values. If they mean missing, replace them by NaN first: "
            f"pass missing_codes={codes} to the model (or data[{name!r}] = data[{name!r}].replace({codes}, np.nan)).",
            UserWarning,
            skip_file_prefixes=PACKAGE_FRAMES,
        )


#: text codes that usually mean missing (compared stripped and case-folded)
MISSING_TEXT = ("", "na", "n/a", "nan", "none", "null", "missing", ".", "-", "?")


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_codes(name: str, cats: Sequence) -> None:
    """Refuse codes mixing numbers and text; warn on text codes that look missing or nearly equal others."""
    numbers = [c for c in cats if _is_number(c)]
    texts = [c for c in cats if isinstance(c, str)]
    if numbers and texts:
        raise ValueError(
            f"item {name!r} mixes numeric codes {numbers[:6]} and text codes {texts[:6]}; 1 and '1' would be two "
            f"different categories. Give the column one type first: data[{name!r}] = data[{name!r}].astype(str), "
            f"or pd.to_numeric(data[{name!r}], errors='coerce') when the text codes mean missing."
        )
    blank = [c for c in texts if c.strip().casefold() in MISSING_TEXT]
    if blank:
        warnings.warn(
            f"item {name!r} has text code(s) {blank} that look like missing values but are taken as a category "
            f"of their own; if they mean missing, pass missing_codes={blank} to the model (or "
            f"data[{name!r}] = data[{name!r}].replace({blank}, np.nan)).", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    groups: dict[str, list[str]] = {}
    for code in texts:
        if code not in blank:
            groups.setdefault(" ".join(code.split()).casefold(), []).append(code)
    near = [group for group in groups.values() if len(group) > 1]
    if near:
        shown = "; ".join(" / ".join(repr(c) for c in group) for group in near[:4])
        warnings.warn(
            f"item {name!r} has codes that differ only in case or spaces ({shown}); they are taken as different "
            f"categories. If they are the same answer, clean them first: "
            f"data[{name!r}] = data[{name!r}].str.strip().str.lower().", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


#: continuous items whose SD or mean lie beyond these powers of ten warn (see :func:`_warn_scale`)
SCALE_LIMIT = 1e3


def _warn_scale(column: pd.Series, name: str) -> None:
    """Warn when a continuous item is far from unit scale (SD beyond 1e+-3, or mean > 1e3 SDs from 0).

    The optimizer's steps, its convergence tolerances and the random starts work
    on the data's own scale; measured on a 2-class normal mixture, values x 1e6
    or + 1e7 end 1.5-120 LL units below the optimum of the same data at unit scale.
    """
    observed = column.dropna().to_numpy(dtype=float)
    sd, mean = float(np.std(observed)), float(np.mean(observed))
    if sd == 0 or (1 / SCALE_LIMIT <= sd <= SCALE_LIMIT and abs(mean) <= SCALE_LIMIT * max(sd, 1.0)):
        return
    warnings.warn(
        f"continuous item {name!r} is far from unit scale (mean {mean:.3g}, SD {sd:.3g}); the optimizer, its "
        "tolerances and the random starts lose precision there (ML can stop short of the optimum). Standardize "
        f"it first: data[{name!r}] = (data[{name!r}] - {mean:.6g}) / {sd:.6g} (the log-likelihood then shifts by "
        "N log SD; means and SDs convert back as mean * SD + center, SD * SD).", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _apply_missing_codes(frame: pd.DataFrame, items: list[str], missing_codes) -> pd.DataFrame:
    """Set the cells of ``items`` holding a missing-value code to NaN (``encode(missing_codes=...)``)."""
    if isinstance(missing_codes, Mapping):
        unknown = [k for k in missing_codes if k not in items]
        if unknown:
            lower = {str(item).lower(): item for item in items}

            def hint(key):
                match = difflib.get_close_matches(str(key).lower(), list(lower), 1)
                return f"{key!r}" + (f" (did you mean {lower[match[0]]!r}?)" if match else "")
            hints = [hint(k) for k in unknown]
            raise ValueError(f"missing_codes names {', '.join(hints)}, which are not items; its keys must be "
                             f"among the items {items}.")
        per_item = {k: v for k, v in missing_codes.items()}
    elif isinstance(missing_codes, (str, bytes)) or not isinstance(missing_codes, Iterable):
        raise ValueError(f"missing_codes must be a list of codes, e.g. missing_codes=[-9, 999], or a dict "
                         f"item -> codes, got {missing_codes!r}.")
    else:
        per_item = {k: missing_codes for k in items}
    frame = frame.copy()
    for name, codes in per_item.items():
        if isinstance(codes, (str, bytes)) or not isinstance(codes, Iterable):
            codes = [codes]
        frame[name] = frame[name].mask(frame[name].isin(list(codes)))
    return frame


def encode(
    data: pd.DataFrame,
    items: Sequence[str],
    n_classes: int,
    *,
    item_types: str | Mapping[str, str] | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    cluster_covariates: Sequence[str] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    missing_covariates: str = "error",
) -> EncodedData:
    """Validate ``data`` and encode it for a mixture model.

    ``missing_codes``: item codes that mean missing (a list for every item,
    or a dict item -> codes); those cells become NaN before encoding.
    ``missing_covariates``: the policy for rows with a missing ``covariates`` /
    ``cluster_covariates`` value (see :func:`drop_missing_covariates`).
    Raises ``ValueError`` naming the offending argument/column and the fix.
    """
    check_missing_covariates(missing_covariates)
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
    check_columns(data, items, "items")
    covariates = list(covariates or [])
    check_columns(data, covariates, "covariates")
    overlap = sorted(set(covariates) & set(items))
    if overlap:
        raise ValueError(f"columns {overlap} are given both as items and as covariates; use each once.")
    cluster_covariates = list(cluster_covariates or [])
    if cluster is not None:
        check_columns(data, [cluster], "cluster")
        if cluster in items or cluster in covariates:
            raise ValueError(f"cluster column {cluster!r} is also an item or covariate; use it once.")
    if cluster_covariates and cluster is None:
        raise ValueError("cluster_covariates need a cluster column: pass cluster='<id column>'.")
    check_columns(data, cluster_covariates, "cluster_covariates")
    if data.index.has_duplicates:
        duplicated = data.index[data.index.duplicated()]
        raise ValueError(
            f"data has {len(duplicated)} duplicate row label(s) in its index (e.g. {duplicated[0]!r}); results are "
            "labelled by row and bm.compare matches units by label: give every row its own label, e.g. "
            "data = data.reset_index(drop=True).")

    data = drop_missing_covariates(data, covariates + cluster_covariates, missing_covariates)
    frame = data.reset_index(drop=True)
    if missing_codes is not None:
        frame = _apply_missing_codes(frame, items, missing_codes)
    all_missing = frame[items].isna().all(axis=1).to_numpy()
    if all_missing.all():
        raise ValueError("every row has all items missing; there is nothing to fit.")
    if all_missing.any():
        warnings.warn(
            f"dropping {int(all_missing.sum())} row(s) with every item missing "
            f"(positions {np.flatnonzero(all_missing)[:10].tolist()}...); they carry no "
            "information about the classes.",
            UserWarning,
            skip_file_prefixes=PACKAGE_FRAMES,
        )
    units = data.index[~all_missing]
    frame = frame.loc[~all_missing].reset_index(drop=True)

    if frame.shape[0] < n_classes:
        raise ValueError(
            f"data has {frame.shape[0]} usable row(s) but n_classes={n_classes}; "
            "use fewer classes or more data."
        )

    for name in items:
        _check_finite(frame[name], name, "items")
    kinds = _resolve_item_types(items, item_types, frame)
    variants = {name: TYPE_VARIANTS[kind][1] for name, kind in kinds.items() if kind in TYPE_VARIANTS}
    kinds = {name: TYPE_VARIANTS.get(kind, (kind,))[0] for name, kind in kinds.items()}
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
            if n_codes == 2:
                two = sorted(col.dropna().unique().tolist())
                warnings.warn(
                    f"item {name!r} is continuous (normal within class) but takes only the two values {two}; "
                    "a class can sit on one value and its SD then runs to 0. Declare it binary "
                    f"(item_types={{{name!r}: 'binary'}}) unless it really is continuous.",
                    UserWarning,
                    skip_file_prefixes=PACKAGE_FRAMES,
                )
            _warn_missing_codes(col, name, kind)
            _warn_scale(col, name)
            specs.append(ItemSpec(name, kind))
            continuous.append(col.to_numpy(dtype=float))
            continue
        if kind == "nominal" and _is_plain_numeric(col):
            observed = col.dropna().to_numpy(dtype=float)
            if not _is_integer_valued(observed) and n_codes > MAX_INFERRED_CATEGORIES:
                raise ValueError(
                    f"item {name!r} is declared nominal but has {n_codes} distinct non-integer values "
                    f"(e.g. {', '.join(_fmt(v) for v in observed[:3])}); it looks continuous: declare it 'continuous' "
                    f"in item_types, or cut it into a few categories first (e.g. pd.cut(data[{name!r}], 4))."
                )
        _warn_missing_codes(col, name, kind)
        cats = _categories_of(col, kind)
        _check_codes(name, cats)
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
        specs.append(ItemSpec(name, kind, tuple(cats), variants.get(name, "")))
        codes[kind].append(code)

    encoded = EncodedData(items=specs, units=pd.Index(units, name="unit"))
    encoded.codes = {k: np.column_stack(v) for k, v in codes.items() if v}
    encoded.values = np.column_stack(continuous) if continuous else None
    encoded.covariates = numeric_matrix(frame, covariates, "covariates")
    _check_not_collinear(encoded.covariates, covariates, "covariates", "")
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
        if len(labels) < 2:
            raise ValueError(
                f"cluster column {cluster!r} has a single cluster ({labels[0]!r}); cluster random effects and "
                "between-level classes vary across clusters and need at least 2 (in practice many more): "
                "drop cluster= (a single-level model) or give the right cluster id column."
            )
        encoded.cluster_index = index.astype(np.int64)
        encoded.clusters = pd.Index(labels, name="cluster")
        if cluster_covariates:
            matrix = numeric_matrix(frame, cluster_covariates, "cluster_covariates")
            per_cluster = np.zeros((len(labels), matrix.shape[1]))
            # within-cluster spread beyond rounding of the column's own scale (a 1e-9-scale covariate
            # varying within clusters is caught; CSV round-off of a constant is not)
            tol = CLUSTER_CONSTANT_RTOL * np.maximum(np.abs(matrix).max(axis=0), np.finfo(float).tiny)
            for j in range(len(labels)):
                rows = matrix[index == j]
                spread = np.ptp(rows, axis=0)
                if np.any(spread > tol):
                    bad = [cluster_covariates[p] for p in range(matrix.shape[1]) if spread[p] > tol[p]]
                    raise ValueError(
                        f"cluster_covariates {bad} vary within cluster {getattr(labels[j], 'item', lambda: labels[j])()!r} (spread {_fmt(float(spread[np.argmax(spread > tol)]))}); "
                        "a cluster-level covariate must be constant within each cluster."
                    )
                per_cluster[j] = rows[0]
            _check_not_collinear(per_cluster, cluster_covariates, "cluster_covariates", " across clusters")
            encoded.cluster_covariates = per_cluster
            encoded.cluster_covariate_names = cluster_covariates
    return encoded


def observed_dataset(data: EncodedData):
    """Item responses as the user gave them (NaN = missing), unit x item.

    Parameters
    ----------
    data : EncodedData
        A model's encoded data (``m.data``).

    Returns
    -------
    xarray.Dataset
        One variable per item, dim ``unit`` (text codes as strings; missing cells NaN).

    Examples
    --------
    >>> m.observed_data()["A"]             # doctest: +SKIP
    """
    import xarray as xr
    frame = data.frame
    out = {}
    for name in data.item_names():
        col = frame[name]
        values = col.to_numpy()
        if not pd.api.types.is_numeric_dtype(col):  # strings, NaN where missing (pandas 2 and 3 alike)
            values = col.astype(object).to_numpy().astype(str).astype(object)
            values[col.isna().to_numpy()] = np.nan
        out[name] = xr.DataArray(values, dims=["unit"], coords={"unit": np.asarray(data.units)})
    return xr.Dataset(out)
