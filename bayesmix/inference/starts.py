"""Start values given by the user: ``fit_ml(start=...)`` / ``fit_map(start=...)``.

A start is a dict of parameter values on their natural (constrained) scale,
by the names of ``ml.point`` / ``ml.params`` (``binary_logit``,
``class_intercept`` ...), or a fitted result (an :class:`~bayesmix.MLResult`
or MAP result) -- of this model, or of the same model with one class fewer:
section 10 of the paper recommends starting a K-class search from the
(K-1)-class solution, and each of its classes is then split in two
(:func:`~bayesmix.inference.optimize.split_class_start`), giving K-1 starts.
Parameters a dict leaves out start at random values, or at the model's
``start_defaults`` where it has them (a GoM started from an LCA result gets
a moderate membership SD, section 7). Constrained
parameters may be given in full (fixed elements are ignored, tied ones
averaged). Every start joins the initial stage of the random starts.

Unknown names (with the closest valid one), wrong shapes, a result with
neither K nor K-1 classes, and values outside a parameter's support raise a
``ValueError`` before any optimization.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from ..evaluate import fit_kind
from ..parameters import free_start

__all__ = ["user_starts"]


def _points(start: Any) -> list[tuple[dict, str]]:
    items = list(start) if isinstance(start, (list, tuple)) else [start]
    out = []
    for i, item in enumerate(items):
        where = "start" if len(items) == 1 else f"start[{i}]"
        if fit_kind(item) in ("ml", "map"):
            out.append((dict(item.point), f"{where} ({type(item).__name__})"))
        elif isinstance(item, dict):
            out.append((dict(item), where))
        else:
            raise ValueError(f"{where} must be a dict of parameter values (natural scale, by name), an ML or MAP "
                             f"result, or a list of them; got {type(item).__name__}. For a posterior, start from "
                             "m.fit_map() or pass a dict of posterior means.")
    return out


def _class_count(mm, point: dict, where: str) -> int | None:
    """Number of classes the point's class-specific parameters hold (None: none of them given)."""
    counts = {}
    for name, (axis, reference) in mm.parameters.class_parameters("class").items():
        if name in point and np.ndim(point[name]) > axis:
            dims = mm.model.named_vars_to_dims.get(name) or ()
            if len(dims) > axis:  # the axis' own dim says whether it holds K or K-1 (reference-coded) classes
                reference = str(dims[axis]).endswith("_free")
            counts[name] = np.shape(point[name])[axis] + (1 if reference else 0)
    if not counts:
        return None
    if len(set(counts.values())) > 1:
        raise ValueError(f"{where}: its class-specific parameters disagree on the number of classes {counts}.")
    return next(iter(counts.values()))


def _check(mm, flat, point: dict, where: str) -> dict:
    """Names and shapes of one start of this model's size; returns it by the free variables' names."""
    registry = mm.parameters
    free_rvs = {rv.name: np.shape(flat.point[mm.model.rvs_to_values[rv].name]) for rv in flat.rvs}
    full = {info.name: info.slots.shape for info in registry if info.constrained}
    ordered = {n[: -len("_ordered")] for n in free_rvs if n.endswith("_ordered")}
    valid = sorted(set(free_rvs) | set(full))
    out = {}
    for name, value in point.items():
        if name in mm.integrated:  # standardized random effects are integrated, not optimized
            continue
        if name not in free_rvs and name not in full:
            if name in ordered:
                raise ValueError(f"{where}: {name!r} is built from {name}_ordered and {name}_unordered in this "
                                 "model (ordered=); give those.")
            if name in mm.model.named_vars and where.endswith("Result)"):
                continue  # a derived quantity a result carries (not a parameter)
            match = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise ValueError(f"{where}: {name!r} is not a parameter of this model{hint}; parameters: {valid}.")
        shape = free_rvs.get(name, full.get(name))
        try:
            arr = np.asarray(value, dtype=float)
            value = np.broadcast_to(arr, shape).copy()
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {name!r} has shape {np.shape(value)}, but this model's {name!r} has shape "
                             f"{shape}{_dims_text(mm, name)}; give a number or an array of that shape.") from None
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{where}: {name!r} holds non-finite values; start values must be finite numbers.")
        out[name] = value
    return free_start(registry, out)


def _dims_text(mm, name: str) -> str:
    dims = mm.model.named_vars_to_dims.get(name)
    return f" (dims {tuple(dims)})" if dims else ""


def user_starts(mm, start: Any, seed: int | None = None, integration: dict | None = None) -> list[dict]:
    """The user's ``start`` as complete starts (dicts of the free variables, natural scale).

    Parameters
    ----------
    mm : MixtureModel
    start : dict, MLResult, MAPResult, or a list of them
        Values by parameter name; a result of this model or of the same
        model with one class fewer (each class split in turn: K-1 starts).
    seed : int, optional
        Seeds the random values of parameters a start leaves out and the
        jitter of split classes.
    integration : dict, optional
        The quadrature setting of the fit (the parameters do not depend on it).

    Returns
    -------
    list of dict
        One complete start per given start (K-1 per smaller result), ready
        for :func:`~bayesmix.inference.optimize._multistart`'s ``extra_starts``.

    Examples
    --------
    >>> ml2 = bm.lca(df, items, 2).fit_ml(seed=1)                    # doctest: +SKIP
    >>> bm.lca(df, items, 3).fit_ml(start=ml2, seed=1)               # doctest: +SKIP
    """
    from .objective import flat_model
    from .optimize import split_class_start
    if start is None:
        return []
    flat = flat_model(mm, integration)
    rng = np.random.default_rng(None if seed is None else [int(seed), 7919])
    out = []
    for point, where in _points(start):
        k = _class_count(mm, point, where)
        if k is not None and k == mm.n_classes - 1 and k >= 1:
            smaller = {n: v for n, v in point.items() if n not in mm.integrated}
            for split in range(k):
                out.append(_complete(mm, flat, split_class_start(mm, smaller, split, rng), rng, where))
            continue
        if k is not None and k != mm.n_classes:
            raise ValueError(f"{where} has {k} classes, this model {mm.n_classes}; give values of a "
                             f"{mm.n_classes}-class model or a {mm.n_classes - 1}-class result to split.")
        out.append(_complete(mm, flat, _check(mm, flat, point, where), rng, where))
    return out


def _complete(mm, flat, point: dict, rng, where: str) -> dict:
    """Fill missing free variables with random values; check the start maps to finite unconstrained values."""
    names = [rv.name for rv in flat.rvs]
    random = mm.random_start(rng)
    # a model's own values for what a start from a related model leaves out (e.g. GoM from LCA)
    random.update({k: v for k, v in mm.start_defaults.items() if k in random})
    full = {name: np.asarray(point[name] if name in point else random[name], dtype=float) for name in names}
    theta = flat.to_theta(full)
    if not np.all(np.isfinite(theta)):
        by_value = flat.split(theta)
        bad = [rv.name for rv in flat.rvs if not np.all(np.isfinite(by_value[mm.model.rvs_to_values[rv].name]))]
        raise ValueError(f"{where}: values outside the support of {bad} (e.g. a negative SD, unordered values "
                         "of an ordered parameter); start values are on the natural scale.")
    return full
