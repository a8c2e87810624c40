"""Monte Carlo hooks of the LTA family: simulate_lta's truth on bm.lta's parameters (sections 3-4, eq. 6-15).

:func:`bayesmix.montecarlo` calls these through the family registry
(:class:`bayesmix.registry.MonteCarloHooks`):

- ``population``: ``simulate_lta``'s truth under the fitted names. The
  classroom random intercepts alpha_tj of eq. 12-13 enter as the ``random_sd``
  of the model's ``random_form``: under ``"structural"`` (eq. 15,
  alpha_2j = beta alpha_1j + e_j) the SD of alpha_1 then of the residuals
  e_t (the simulator's ``random_sd_structural``) with ``random_regression``
  beta; under ``"cholesky"`` / ``"diagonal"`` the marginal SD of every
  alpha_t. Time-specific measurement (``invariant_measurement=False``) gets
  the simulator's one profile at every time (matched by item column); a
  stationary transition model gets the simulator's transition when it is the
  same at every step.
- ``true_membership`` / ``membership``: the (N, T) true classes and the fit's
  P(C_t = k | y) as (N, T, K) arrays, so each replication's class labels are
  aligned over all time points (ML's own labeling looks at no single (N, K)
  table for an LTA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["population", "true_membership", "membership"]


def _coords(model, name: str) -> list[list]:
    dims = model.model.named_vars_to_dims.get(name) or ()
    return [list(model.model.coords[d]) for d in dims]


def _truth_in_model_shapes(model, truth: dict) -> dict:
    """``truth`` with each array brought to the shape of the model's variable (see the module docstring)."""
    out = dict(truth)
    form = model.options.get("random_form")
    structural = out.pop("random_sd_structural", None)
    if form == "structural" and structural is not None:
        out["random_sd"] = structural
    elif form != "structural":
        out.pop("random_regression", None)
    if "binary_logit" in out and "binary_logit" in model.model.named_vars:
        coords = _coords(model, "binary_logit")
        logit = np.asarray(out["binary_logit"], dtype=float)
        if len(coords) == 2 and logit.shape[1] != len(coords[1]):
            position = {item: p for items in model.options["items_by_time"].values() for p, item in enumerate(items)}
            if all(item in position for item in coords[1]) and max(position.values()) < logit.shape[1]:
                out["binary_logit"] = logit[:, [position[item] for item in coords[1]]]
    if "transition_logit" in out and "transition_logit" in model.model.named_vars:
        coords = _coords(model, "transition_logit")
        tau = np.asarray(out["transition_logit"], dtype=float)
        if coords and len(coords[0]) == 1 and tau.shape[0] > 1:
            if np.allclose(tau, tau[:1]):  # stationary truth, stationary model
                out["transition_logit"] = tau[:1]
            else:
                out.pop("transition_logit")  # no one population value for a stationary model's transition
    return out


def population(model, sim) -> dict[str, float]:
    """``sim.truth`` of :func:`~bayesmix.datasets.simulate_lta` under the fitted parameter names of ``model``.

    Parameters
    ----------
    model : LTAModel
        Built on ``sim.data`` (``bm.lta``).
    sim : SimulatedLTA

    Returns
    -------
    dict
        ``{"transition_logit[fall->spring, class1, class1]": 2.52, "random_sd[fall:class1]": 1.45, ...}``.

    Examples
    --------
    >>> sim = bm.datasets.simulate_lta(200, seed=1)                               # doctest: +SKIP
    >>> population(bm.lta(sim.data, sim.items_by_time, n_classes=2), sim)       # doctest: +SKIP
    """
    from ...montecarlo import population_values  # the workflow layer, imported when a study asks
    return population_values(model, _truth_in_model_shapes(model, sim.truth))


def true_membership(model, sim) -> np.ndarray | None:
    """One-hot true classes (N, T, K) of a simulated LTA (``None`` if they do not fit the model's rows)."""
    classes = np.asarray(getattr(sim, "classes", None))
    if classes.ndim != 2 or classes.shape != (len(model.data.frame), model.n_times) or classes.max() >= model.n_classes:
        return None
    return np.eye(model.n_classes)[classes.astype(int)]


def membership(model, fit: Any) -> np.ndarray:
    """P(C_t = k | y) at ``fit`` as an (N, T, K) array (eq. 6-9's forward-backward posterior)."""
    frame = model.time_class_probabilities(fit)
    return frame.to_numpy(dtype=float).reshape(len(frame), model.n_times, model.n_classes)
