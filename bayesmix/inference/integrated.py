"""NUTS over the structural parameters only: the continuous latent effects integrated inside the density.

``m.sample(latent="integrated")`` samples a PyMC model built from the
model's own: the standardized latent effects z (``MixtureModel.integrated``:
GoM memberships, FMA person factors, random class intercepts, ...) are
removed, and the likelihood ``Potential`` -- f_j at the sampled z
(``Structure.sampled_loglik``) -- is replaced by the per-unit (per-cluster)
integral over z that ML maximizes:

    log p(y | theta) = sum_j log int exp f_j(z) phi(z) dz
                     ~= sum_j logsumexp_q (f_j(z_q) + log w_q)

(:meth:`MixtureModel.integrated_loglik`; section 10's numerical integration,
the marginal likelihood of eq. 4-5, 30-35, 36-39). The log density of the
new model equals :class:`~bayesmix.inference.objective.FlatModel`'s
log-posterior with the Jacobian of the transforms (``kind="laplace"``), so
the same quadrature is used for ML, NUTS and the per-unit
``log_likelihood`` of LOO / WAIC. Because the result is an ordinary
``pymc.Model`` (built with :func:`pymc.model.fgraph.fgraph_from_model`),
every backend (pymc, nutpie, numpyro) samples it unchanged.

When it pays: many units and few latent dimensions. NUTS then moves in the
space of the structural parameters (36 at the paper's GoM size instead of
7,362 with the memberships), where its adaptation converges quickly and the
chains mix like ML's curvature; each gradient costs Q quadrature nodes
(30 in 1-D, 15^2 in 2-D) times the sampled path's. With several latent
dimensions per unit (product rules grow as Q^D) or few units per latent
value, sampling z is cheaper.
"""

from __future__ import annotations

from typing import Any, Mapping

import pymc as pm
from pymc.model.fgraph import (ModelDeterministic, ModelFreeRV, ModelPotential, fgraph_from_model,
                               model_from_fgraph, model_potential)
from pytensor.graph.basic import clone_get_equiv
from pytensor.graph.traversal import ancestors

from ..parameters import _REGISTRIES, registry_of

#: values of ``sample(latent=...)``
LATENT_OPTIONS = ("sampled", "integrated")

#: name of the likelihood ``Potential`` every factory adds (``Structure.add_potential``)
LIKELIHOOD = "loglik"


def check_latent(mm, latent: Any, integration: Mapping[str, Any] | None) -> dict | None:
    """Validate ``sample(latent=, integration=)`` before any compilation; the integration setting or None.

    Returns the full quadrature setting (``mm.settings(integration)``) for
    ``latent="integrated"``, None for ``"sampled"``.
    """
    from ..options import check_integration
    from .quadrature import METHODS
    if not isinstance(latent, str) or latent not in LATENT_OPTIONS:
        raise ValueError(f"sample(latent={latent!r}) is unknown; use 'sampled' (NUTS samples the latent effects, "
                         f"the default) or 'integrated' (NUTS samples the structural parameters, the latent effects "
                         f"integrated by quadrature inside the density).")
    if latent == "sampled":
        if integration is not None:
            raise ValueError("sample(integration=...) applies to latent='integrated' only (the quadrature inside "
                             "the NUTS density); pass latent='integrated' or leave integration out.")
        return None
    if mm.latent is None or not mm.integrated:
        raise ValueError(f"sample(latent='integrated'): this {mm.name} model has no continuous latent effects to "
                         f"integrate (its classes are already summed out); use latent='sampled' (the default).")
    if integration is not None:
        check_integration({k: v for k, v in dict(integration).items() if k != "adaptive"}
                          if isinstance(integration, Mapping) else integration, METHODS)
    settings = mm.settings(dict(integration) if isinstance(integration, Mapping) else None)
    if settings.get("adaptive"):
        raise ValueError("sample(latent='integrated', integration={'adaptive': True}): adaptive quadrature moves "
                         "its nodes to each cluster's posterior at one parameter value, which a NUTS density "
                         "cannot do; pass integration={'adaptive': False} (and more points if needed).")
    return settings


def integrated_model(mm, settings: dict) -> pm.Model:
    """The model's ``pymc.Model`` without the latent z, its likelihood integrated over z (cached per setting).

    The free RVs named in ``mm.integrated`` are removed, the ``loglik``
    potential becomes ``mm.integrated_loglik(settings).sum()``, and
    deterministics of z are dropped; parameter names, dims, transforms, priors
    and the parameter registry are the original model's, so start values,
    label alignment and every result function read the posterior as they read
    a sampled one.
    """
    key = ("integrated_model", tuple(sorted(settings.items())))
    if key in mm._cache:
        return mm._cache[key]
    model = mm.model
    removed = set(mm.integrated)
    loglik = mm.integrated_loglik(settings).sum()
    fgraph, memo = fgraph_from_model(model)
    needed = set(ancestors([loglik]))
    # the integrated graph on the fgraph's variables: the model's RVs and shared data are mapped to their copies
    equiv = clone_get_equiv([], [loglik], copy_inputs=False, copy_orphans=False,
                            memo={old: new for old, new in memo.items() if old in needed})
    replaced = equiv[loglik]
    z_outputs = [out for out in fgraph.outputs
                 if isinstance(out.owner.op, ModelFreeRV) and out.owner.op.name in removed]
    potentials = [out for out in fgraph.outputs if isinstance(out.owner.op, ModelPotential)]
    likelihood = [out for out in potentials if out.owner.op.name == LIKELIHOOD]
    if len(likelihood) != 1:
        raise ValueError(f"sample(latent='integrated') needs the model's one likelihood potential {LIKELIHOOD!r}; "
                         f"this model has {[p.owner.op.name for p in potentials]}.")
    for out in potentials:
        if out is not likelihood[0] and set(z_outputs) & set(ancestors([out])):
            raise ValueError(f"sample(latent='integrated'): the potential {out.owner.op.name!r} depends on the "
                             f"latent effects {sorted(removed)}, which would be integrated; use latent='sampled'.")
    fgraph.replace(likelihood[0], model_potential(replaced, LIKELIHOOD), import_missing=True)
    dropped = [i for i, out in enumerate(fgraph.outputs)
               if out in z_outputs or (isinstance(out.owner.op, ModelDeterministic)
                                        and set(z_outputs) & set(ancestors([out])))]
    for i in reversed(dropped):
        fgraph.remove_output(i)
    new = model_from_fgraph(fgraph, mutate_fgraph=True)
    left = [rv.name for rv in new.free_RVs if rv.name in removed]
    if left:  # not reachable for the factories' models; a guard against a silently wrong density
        raise RuntimeError(f"the latent effects {left} are still in the integrated model")
    _REGISTRIES[new] = registry_of(model)
    mm._cache[key] = new
    return new


def dropped_deterministics(mm, model: pm.Model) -> list[str]:
    """Deterministics of the original model that depend on z (absent from an integrated posterior)."""
    kept = {d.name for d in model.deterministics}
    return [d.name for d in mm.model.deterministics if d.name not in kept]
