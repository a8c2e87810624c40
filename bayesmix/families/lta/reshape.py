"""Long <-> wide layouts of LTA data: one row per unit and time vs ``items_by_time`` blocks."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...data import check_columns


def long_to_wide(data: pd.DataFrame, *, unit: str, time: str, items: Sequence[str],
                 times: Sequence | None = None, keep: Sequence[str] = (), sep: str = "_"):
    """A long DataFrame (one row per unit and time point) -> (wide DataFrame, ``items_by_time``).

    Wide columns are ``<item><sep><time>``; a unit absent at a time point gets
    NaN items there (a missing occasion). ``times`` fixes the time order
    (default: sorted values of ``time``); ``keep`` are unit-level columns
    (cluster id, time-invariant covariates) copied from the unit's first row,
    and must be constant within unit.

    Returns
    -------
    (DataFrame, dict)
        One row per unit (index: the unit ids, also kept as column ``unit``)
        and the ``items_by_time`` dict for :func:`lta`.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    items, keep = list(items), list(keep)
    check_columns(data, [unit, time, *items, *keep], "long_to_wide columns")
    if data.duplicated([unit, time]).any():
        dup = data.loc[data.duplicated([unit, time], keep=False), [unit, time]].head(3).to_dict("records")
        raise ValueError(f"data has more than one row for some (unit, time) pairs, e.g. {dup}; give one row per "
                         "unit and time point.")
    order = list(times) if times is not None else sorted(data[time].dropna().unique().tolist())
    unknown = sorted(set(data[time].dropna()) - set(order), key=str)
    if unknown:
        raise ValueError(f"time values {unknown} are not in times={order}.")
    for column in keep:
        varying = data.groupby(unit)[column].nunique(dropna=False) > 1
        if varying.any():
            raise ValueError(f"keep column {column!r} varies within unit(s) {list(varying.index[varying][:3])}; "
                             "only unit-level columns can be kept in the wide layout.")
    wide = data.pivot(index=unit, columns=time, values=items)
    units = pd.Index(pd.unique(data[unit]), name=unit)
    out = pd.DataFrame(index=units)
    items_by_time = {}
    for t in order:
        names = [f"{item}{sep}{t}" for item in items]
        for item, name in zip(items, names):
            out[name] = wide[(item, t)].reindex(units) if (item, t) in wide.columns else np.nan
        items_by_time[str(t)] = names
    if keep:
        first = data.groupby(unit, sort=False)[keep].first().reindex(units)
        for column in keep:
            out[column] = first[column]
    out.insert(0, unit, units)
    return out, items_by_time


def wide_to_long(data: pd.DataFrame, items_by_time: Mapping[str, Sequence[str]], *, unit: str | None = None,
                 item_names: Sequence[str] | None = None, keep: Sequence[str] = (), time: str = "time",
                 drop_missing: bool = True) -> pd.DataFrame:
    """The inverse of :func:`long_to_wide`: one row per unit and time point.

    Items are matched by position across times and named ``item_names``
    (default: the time-1 columns with a trailing ``_<time>`` removed). ``unit``:
    the unit id column (default: the index). ``drop_missing`` drops rows whose
    items are all missing (occasions the unit missed).
    """
    times = [str(t) for t in items_by_time]
    lists = [list(v) for v in items_by_time.values()]
    if len({len(v) for v in lists}) > 1:
        raise ValueError("wide_to_long needs the same number of items at every time point (matched by position).")
    if item_names is None:
        first_time = times[0]
        item_names = [c[: -len(first_time) - 1] if c.endswith(f"_{first_time}") else c for c in lists[0]]
    item_names = list(item_names)
    ids = data.index.to_numpy() if unit is None else data[unit].to_numpy()
    frames = []
    for t, columns in zip(times, lists):
        part = pd.DataFrame({unit or "unit": ids, time: t})
        for name, column in zip(item_names, columns):
            part[name] = data[column].to_numpy()
        for column in keep:
            part[column] = data[column].to_numpy()
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    if drop_missing:
        out = out.loc[~out[item_names].isna().all(axis=1)]
    order = {t: i for i, t in enumerate(times)}
    out = out.assign(_order=out[time].map(order)).sort_values([unit or "unit", "_order"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)
