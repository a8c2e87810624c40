"""Model-level negative controls for simulation-based calibration (issue 26.2).

:func:`bayesmix.sbc.miscalibrated` moves the fitted draws after the fact; the
controls here plant a real defect in the chain prior -> simulator -> model ->
sampler that :func:`bayesmix.sbc.run_sbc` checks, and so show that SBC at a
given number of replications catches the bugs it is run for. Each wraps an
:class:`~bayesmix.sbc_cases.SBCCase` and returns a case whose SBC must be
rejected:

``"simulator_shift"``
    a wrong simulator: the data are simulated at theta' with one coordinate
    moved by ``shift`` prior SDs, while the truth recorded (and ranked) is
    theta' (as if the simulator, or the likelihood, had an offset in that
    parameter);
``"prior_scale"``
    a wrong prior scale: the fitted model's prior of ``variable`` is the
    prior the truths are drawn from, scaled by ``factor`` about 0 (density
    p(x / factor) / factor: a Normal(0, s) prior becomes Normal(0, factor s), a
    HalfNormal(s) HalfNormal(factor s)). The truths come from the unscaled prior
    (:attr:`SBCCase.prior_build`). A prior only shows in SBC where the
    posterior depends on it: pick a small data set, or a parameter the data
    say little about (a random-effect SD with few clusters);
``"drop_jacobian"``
    a dropped Jacobian: the fitted model gets
    ``pm.Potential(-(log p_jac - log p))``, where ``log p_jac - log p`` is
    ``model.logp(vars=[rv], jacobian=True) - model.logp(vars=[rv], jacobian=False)``,
    the log-Jacobian of ``variable``'s transform to the unconstrained space
    (for a positive SD with PyMC's log transform: log sd). NUTS then samples
    the density of the constrained value as if it were the density of the
    unconstrained one, which for a positive SD is the prior p(sd) / sd.

The defects live in the model NUTS fits (``build``) or in the simulator only:
the prior draws, the label alignment, the ranks and the uniformity tests are
those of every SBC run. :func:`bayesmix.sbc.power` with the effect size the
control produced (:func:`effect_size`) says how many replications reject it
with a given probability.

The start search of ``sample(init="map")`` optimizes the posterior without
the model's potentials (it places the chains and the label reference only);
the NUTS draws SBC ranks are from the model with the defect.

Examples
--------
>>> from bayesmix import sbc, sbc_controls                                      # doctest: +SKIP
>>> case = sbc.make_case("lca_random_intercept", n_clusters=5, cluster_size=4)  # doctest: +SKIP
>>> wrong = sbc_controls.negative_control(case, "drop_jacobian", variable="random_sd")   # doctest: +SKIP
>>> sbc.verdict(sbc.uniformity_table(sbc.run_sbc(wrong, 20, seed=1)))           # doctest: +SKIP
('rejected', ...)
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Sequence

import numpy as np
import pymc as pm

from .sbc_cases import SBCCase

__all__ = ["KINDS", "negative_control", "prior_sd", "effect_size"]

#: the kinds of defect :func:`negative_control` plants
KINDS = ("simulator_shift", "prior_scale", "drop_jacobian")


def _template_model(case: SBCCase, seed: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (case.prior_build or case.build)(case.template(np.random.default_rng(seed)))


def _free_rv(model, variable: str, kind: str):
    free = [rv.name for rv in model.free_RVs]
    if variable not in free:
        raise ValueError(f"negative_control({kind!r}): variable={variable!r} is not a free variable of the case's "
                         f"model; use one of {free}.")
    return model[variable]


def prior_sd(case: SBCCase, variable: str, index: int | Sequence[int] = 0, n_draws: int = 4000,
             seed: int = 0) -> float:
    """SD of element ``index`` of ``variable`` under the case's prior (from ``n_draws`` forward draws).

    Parameters
    ----------
    case : SBCCase
    variable : str
        A free variable of the case's model.
    index : int or tuple of int
        Flat index, or a multi-index, into the variable's array.
    n_draws, seed : int

    Returns
    -------
    float
    """
    from .sbc import prior_draws

    mm = _template_model(case)
    _free_rv(mm.model, variable, "simulator_shift")
    draws = prior_draws(mm, n_draws, seed)
    values = np.array([np.asarray(d[variable]).reshape(-1)[_flat(index, np.shape(d[variable]))] for d in draws])
    return float(values.std(ddof=1))


def _flat(index: int | Sequence[int], shape: tuple) -> int:
    size = int(np.prod(shape))
    if isinstance(index, (int, np.integer)):
        flat = int(index)
    else:
        try:
            flat = int(np.ravel_multi_index(tuple(int(i) for i in index), shape))
        except ValueError as err:
            raise ValueError(f"negative_control: index={tuple(index)!r} is outside the variable's shape "
                             f"{shape}.") from err
    if not 0 <= flat < size:
        raise ValueError(f"negative_control: index={index!r} is outside the variable's {size} elements "
                         f"(shape {shape}).")
    return flat


def negative_control(case: SBCCase, kind: str, *, variable: str, index: int | Sequence[int] = 0,
                     shift: float = 1.0, factor: float = 2.0, sd: float | None = None) -> SBCCase:
    """``case`` with a planted defect of ``kind``: its SBC must be rejected.

    Parameters
    ----------
    case : SBCCase
        From :func:`bayesmix.sbc.make_case`.
    kind : str
        ``"simulator_shift"``, ``"prior_scale"`` or ``"drop_jacobian"`` (see
        the module docstring).
    variable : str
        The free variable of the case's model the defect is planted in (e.g.
        ``"binary_logit"``, ``"class_intercept"``, ``"random_sd"``).
    index : int or tuple of int
        ``"simulator_shift"`` only: the element of ``variable`` moved (flat
        index or multi-index; default the first).
    shift : float
        ``"simulator_shift"``: the move, in prior SDs of that element
        (``0``: no defect, the data are the case's own).
    factor : float
        ``"prior_scale"``: fitted prior SD / the truths' prior SD of every
        element of ``variable`` (``1``: no defect). The prior must be a scale
        family about 0 (Normal(0, s), HalfNormal(s), ...), as bayesmix's
        default priors of logits, intercepts and SDs are.
    sd : float, optional
        ``"simulator_shift"``: the prior SD of the element; default
        :func:`prior_sd` (4,000 forward draws).

    Returns
    -------
    SBCCase
        Named ``"<case> [<defect>]"``; the truths are drawn from the case's
        prior (``prior_build``), the fits and the simulator carry the defect.

    Raises
    ------
    ValueError
        An unknown ``kind``, a ``variable`` that is not a free variable of the
        model, an ``index`` outside it, a non-finite ``shift`` / ``sd``, a
        ``factor`` <= 0, or ``"drop_jacobian"`` on a variable without a
        transform (its Jacobian is 1: nothing to drop).
    """
    if kind not in KINDS:
        raise ValueError(f"negative_control: kind={kind!r} is unknown; use one of {list(KINDS)}.")
    mm = _template_model(case)
    rv = _free_rv(mm.model, variable, kind)
    prior_build = case.prior_build or case.build
    if kind == "simulator_shift":
        if not np.isfinite(shift):
            raise ValueError(f"negative_control: shift={shift!r} must be a finite number of prior SDs.")
        shape = tuple(int(s) for s in rv.shape.eval())
        flat = _flat(index, shape)
        element_sd = prior_sd(case, variable, flat) if sd is None else float(sd)
        if not (np.isfinite(element_sd) and element_sd > 0):
            raise ValueError(f"negative_control: sd={sd!r} must be a positive prior SD.")
        move = float(shift) * element_sd
        simulate_case = case.simulate

        def simulate(theta: dict, rng: np.random.Generator):
            moved = dict(theta)
            value = np.array(theta[variable], dtype=float)  # a copy: the truth keeps theta'
            value.reshape(-1)[flat] += move
            moved[variable] = value
            return simulate_case(moved, rng)

        label = f"{variable}[{flat}] + {shift:g} prior SD ({element_sd:.3g})"
        return dataclasses.replace(
            case, name=f"{case.name} [simulator {label}]", simulate=simulate, prior_build=prior_build,
            description=f"{case.description}; NEGATIVE CONTROL: data simulated at {label}, truth recorded "
                        f"at theta'")
    if kind == "prior_scale":
        if not (np.isfinite(factor) and factor > 0):
            raise ValueError(f"negative_control: factor={factor!r} must be a positive ratio of prior SDs.")
        build = _with_potential(case.build, variable, _prior_scale_term(float(factor)),
                                f"sbc_control_prior_scale_{variable}")
        return dataclasses.replace(
            case, name=f"{case.name} [prior of {variable} x {factor:g}]", build=build, prior_build=prior_build,
            description=f"{case.description}; NEGATIVE CONTROL: fitted prior SD of {variable} {factor:g} x the "
                        f"prior the truths are drawn from")
    if mm.model.rvs_to_transforms.get(rv) is None:
        raise ValueError(f"negative_control('drop_jacobian'): variable={variable!r} has no transform (it is "
                         "sampled on its own scale, its Jacobian is 1); use a constrained variable such as an "
                         "SD or a simplex.")
    build = _with_potential(case.build, variable, _drop_jacobian_term, f"sbc_control_drop_jacobian_{variable}")
    return dataclasses.replace(
        case, name=f"{case.name} [Jacobian of {variable} dropped]", build=build, prior_build=prior_build,
        description=f"{case.description}; NEGATIVE CONTROL: log-Jacobian of {variable}'s transform dropped "
                    f"from the fitted density")


def _prior_scale_term(factor: float):
    def term(model, rv):
        # log[p(x / f) / f] - log p(x) per element, summed: the prior p scaled by f about 0
        return (pm.logp(rv, rv / factor) - pm.logp(rv, rv)).sum() - np.log(factor) * rv.size
    return term


def _drop_jacobian_term(model, rv):
    """Minus the log-Jacobian of ``rv``'s transform, in the model's value variables."""
    return -(model.logp(vars=[rv], jacobian=True) - model.logp(vars=[rv], jacobian=False))


def _with_potential(build, variable: str, term, name: str):
    """``build(data)`` with ``pm.Potential(name, term(model, rv))`` added to the model NUTS fits."""
    def wrapped(data):
        mm = build(data)
        model = mm.model
        with model:
            pm.Potential(name, term(model, model[variable]))
        return mm
    return wrapped


def effect_size(result, quantity: str) -> dict[str, float]:
    """The miscalibration of ``quantity`` in an SBC result, in the terms of :func:`bayesmix.sbc.power`.

    With z_r = (truth_r - posterior mean_r) / posterior SD_r over replications
    r, a calibrated normal posterior gives z ~ N(0, 1); a posterior off by b
    SDs and 1 / s as wide gives z ~ N(b, s). Returns ``bias`` = mean z,
    ``scale`` = SD of z (``power(n, bias=..., scale=...)`` then says how many
    replications reject such a defect), and ``mean_u`` of the fractional ranks.

    Parameters
    ----------
    result : SBCResult
    quantity : str
        One of ``result.quantities``.

    Returns
    -------
    dict
    """
    if quantity not in result.truth.columns:
        raise ValueError(f"effect_size: quantity={quantity!r} is not in the result; use one of "
                         f"{list(result.truth.columns)}.")
    q = list(result.truth.columns).index(quantity)
    draws = result.draws[:, q, :]
    z = (result.truth[quantity].to_numpy() - draws.mean(axis=1)) / np.maximum(draws.std(axis=1, ddof=1), 1e-12)
    return {"bias": float(z.mean()), "scale": float(z.std(ddof=1)),
            "mean_u": float(result.fractional[quantity].mean())}

