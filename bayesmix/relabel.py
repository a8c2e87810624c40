"""One class labeling for every estimator: classes ordered by size, and ``relabel``.

A mixture's likelihood is the same under any permutation of the class labels
(label switching), so which solution is "class 1" is arbitrary. bayesmix
makes it one rule for every estimator of a model (:func:`order_by_size`):
the first solution found -- by ML (``fit_ml``), MAP (``fit_map``, the start
of ``sample(init="map")``) or Laplace -- has its classes **ordered by
decreasing population proportion** (class1 the largest), and every later
solution of the same model takes the labels whose class membership agrees
best with that first one. NUTS draws are aligned to their starting mode
(:mod:`bayesmix.inference.labels`). So ``fit_ml`` then ``sample`` (or the
other way round) give the same labels, also when two classes are of nearly
equal size.

Not reordered: models with ``ordered=`` (the constraint fixes the labels), with
class-specific constraints that a permutation would break (eq. 45-47 fix the
labels; so do ``fixed=`` / ``equal=`` constraints that treat classes
differently -- ones that hold for every class alike are permuted with the
classes), and solutions
whose log-likelihood the permutation would change (a product quadrature rule
over correlated random intercepts, K > 2, is not invariant to relabeling).

:func:`relabel` aligns any posterior (a DataTree from ``sample`` or
``fit_laplace``) to a reference solution, e.g. an :class:`~bayesmix.MLResult`.
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

_log = logging.getLogger("bayesmix")

__all__ = ["order_by_size", "permute_point", "relabel", "set_label_reference", "set_label_reference_at"]


def _point_variables(mm, point: dict) -> dict:
    """A constrained point as one-chain, one-draw arrays with their dims (from the model)."""
    out = {}
    for name, value in point.items():
        value = np.asarray(value)
        dims = list(mm.model.named_vars_to_dims.get(name, ()) or ())
        if len(dims) != value.ndim:
            dims = [f"{name}_dim_{i}" for i in range(value.ndim)]
        out[name] = (("chain", "draw", *dims), value[None, None])
    return out


def permute_point(mm, point: dict, perm) -> dict:
    """The point with new class k taking old class ``perm[k]`` (reference-coded logits re-expressed).

    Plain NumPy (:func:`~bayesmix.inference.labels.permute_variables`): no xarray
    object, so a first ``fit_ml`` does not pay xarray's import of dask (~1 s).
    """
    from .inference.labels import permute_variables
    perm = np.asarray(perm, dtype=int)
    out = permute_variables(_point_variables(mm, point), perm[None, None, :], mm=mm)
    return {name: np.asarray(out[name][1][0, 0]) for name in point if name in out}


def _can_reorder(mm) -> bool:
    if mm.n_classes < 2 or mm.ordered is not None:
        return False
    return not any(p.blocks_relabeling for p in mm.parameters)  # e.g. eq. 45-47, or a tie of two classes


def order_by_size(mm, opt, kind: str = "loglik", integration: dict | None = None):
    """The optimum ``opt`` (:class:`~bayesmix.inference.optimize.Optimum`) in the model's one labeling.

    The first solution found for a model has its classes ordered by
    decreasing population proportion P(C = c) (eq. 4 averaged over units and
    random effects); its class membership probabilities become the model's
    label reference. Every later solution (ML, MAP -- so ``sample``'s
    starting mode and with it the posterior --, Laplace) takes the
    permutation whose class membership agrees best with the reference
    (maximum sum_i sum_c P_new(i, perm c) P_ref(i, c), Hungarian algorithm).
    The permuted solution must give the same objective (checked to 1e-6);
    otherwise ``opt`` is returned unchanged.
    """
    if not _can_reorder(mm):
        return opt
    try:
        return _in_model_labeling(mm, opt, kind, integration)
    except Exception as err:  # a model family whose classes this rule does not cover: keep the optimizer's labels
        _log.debug("bayesmix: labels left as found (%s)", err)
        return opt


def _in_model_labeling(mm, opt, kind, integration):
    from .inference.objective import flat_model
    flat = flat_model(mm, integration)
    if flat.adaptive is not None:  # the adaptive grid is centred at this labeling's random effects
        return opt
    (members,) = flat.evaluate("class_probabilities",  # ml_result reuses it
                               lambda: [mm.class_probability_tensor(integration)], opt.theta)
    members = np.asarray(members)
    if members.ndim != 2 or members.shape[1] != mm.n_classes:  # e.g. classes per time point (LTA)
        return opt
    reference = mm.labeling
    if reference is not None and np.shape(reference) == members.shape:
        from scipy.optimize import linear_sum_assignment
        rows, cols = linear_sum_assignment(-(members.T @ reference))  # old class rows[j] -> new class cols[j]
        perm = np.empty(mm.n_classes, dtype=int)
        perm[cols] = rows
    else:
        (proportions,) = flat.evaluate(f"order_by_size:{integration}", lambda: [mm.proportion_tensor(integration)],
                                       opt.theta)
        perm = np.argsort(-np.asarray(proportions), kind="stable")
    if np.array_equal(perm, np.arange(mm.n_classes)):
        if mm.labeling is None:
            mm.labeling = members
        return opt
    point = flat.constrained(opt.theta)
    theta = flat.to_theta(permute_point(mm, point, perm))
    value, _ = flat.value_and_grad(kind)(theta)
    if not np.isfinite(value) or abs(-value - opt.value) > 1e-6 * max(1.0, abs(opt.value)):
        return opt
    if mm.labeling is None:
        mm.labeling = members[:, perm]
    from dataclasses import replace
    return replace(opt, theta=theta)


def set_label_reference(mm, probabilities) -> None:
    """Make ``probabilities`` (units x classes) the model's label reference (e.g. a loaded ML result's)."""
    mm.labeling = np.asarray(probabilities, dtype=float)


def set_label_reference_at(mm, start: dict, integration: dict | None = None) -> bool:
    """Make the class membership at ``start`` (free parameters, natural scale) the model's label reference.

    A fit started there keeps the start's labels instead of being ordered by
    size (:func:`order_by_size`), e.g. a Monte Carlo replication started at
    the population values (``bm.montecarlo(starts="population")``). Returns
    whether a reference was set (not for models whose class membership is
    not one units x classes table, nor for a complete ``start`` missing).
    """
    from .inference.objective import flat_model
    try:
        flat = flat_model(mm, integration)
        theta = flat.to_theta(start)
        (members,) = flat.evaluate("class_probabilities", lambda: [mm.class_probability_tensor(integration)], theta)
    except Exception as err:  # a family whose classes this rule does not cover: no reference
        _log.debug("bayesmix: no label reference at the start (%s)", err)
        return False
    members = np.asarray(members)
    if members.ndim != 2 or members.shape[1] != mm.n_classes or not np.all(np.isfinite(members)):
        return False
    mm.labeling = members
    return True


def relabel(mm, idata, reference) -> xr.DataTree:
    """Align the class labels of a posterior (``sample`` / ``fit_laplace`` output) to ``reference``.

    Parameters
    ----------
    mm : MixtureModel
        The model the posterior belongs to.
    idata : xarray.DataTree
        Posterior draws with a ``posterior`` group.
    reference : MLResult, MAPResult or dict
        A solution whose labels to adopt (anything with a ``point`` attribute,
        or a dict of constrained parameter values).

    Returns
    -------
    xarray.DataTree
        A copy with every draw's classes permuted to best match the reference
        (pivotal reordering by the class-specific parameters); the number of
        relabeled draws is in ``attrs["bayesmix_relabeled_draws"]``. The
        ``log_likelihood`` group is unchanged (it does not depend on labels).

    Examples
    --------
    >>> ml = m.fit_ml(starts=20, seed=1)                      # doctest: +SKIP
    >>> idata = bm.relabel(m, m.sample(random_seed=1), ml)    # doctest: +SKIP
    """
    from .inference.labels import align_labels
    point = dict(getattr(reference, "point", reference))
    posterior = idata["posterior"].to_dataset()
    aligned, changed = align_labels(mm, posterior, point)
    out = idata.copy()
    out["posterior"] = xr.DataTree(aligned)
    out.attrs = {**idata.attrs, "bayesmix_relabeled_draws": int(changed)}
    return out
