"""NUTS on the factor's two signs, draws folded to the model's sign afterwards (FMA, FMA-GoM, IRT; eq. 36-47).

A one-factor model is invariant under the reflection (lambda, eta) -> (-lambda, -eta):
P(y | c, eta) = F(tau_ic + lambda_i eta_j) (eq. 36) is unchanged and eta_j ~ N(0, 1) is
symmetric. The factories identify the sign by a positive first loading
(``factor_loading_positive`` ~ HalfNormal(sigma), the others Normal(0, sigma)), and
maximum likelihood / posterior modes use that model as it is. For NUTS the constraint
is a trap: when the first loading's posterior reaches 0 (a small first loading,
or an item that barely loads), the constrained posterior has two modes -- the
solution with lambda_1 > 0 and the *reflected* solution truncated at lambda_1 = 0+ --
separated by lambda = 0 (the factor switched off). A chain that tunes into the
truncated mode does not leave it (SBC: the stuck FMA / 3PL / FMA-GoM fits, their
posterior-mode start sat at lambda_1 = 0 with every other loading of the wrong sign).

The fix samples the same posterior without the trap: NUTS runs on a copy of the
model whose first loading is Normal(0, sigma) on the real line (the HalfNormal's
density there, up to the constant log 2, mirrored), so each chain explores one full
reflection mode, crossing lambda_1 = 0 freely. Every draw with lambda_1 < 0 is then
reflected, (lambda, eta) -> (-lambda, -eta), which maps the sampled (symmetric)
posterior exactly onto the model's posterior with lambda_1 > 0: the reflection
is a symmetry of the density (checked numerically at a random point before it is
used, to 1e-8), and the folded distribution of the symmetric posterior -- or of
either of its two mirror-image modes alone -- is the constrained one. The prior
is unchanged: Normal(0, sigma) folded at 0 is the HalfNormal(sigma).

Used only when the reflection is an exact symmetry: one sign-identified loading in
the whole model (class-invariant loadings; the 3PL's FMA-GoM form, whose guessing
class has loadings fixed at 0), nothing else fixed at a non-zero value. With
class-specific loadings each class has its own positive loading and a per-class
flip is not a symmetry of the sampled (lambda, eta): those models are sampled
as they are.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pymc as pm
import xarray as xr
from pymc.model.fgraph import ModelFreeRV, fgraph_from_model, model_free_rv, model_from_fgraph

from ..parameters import _REGISTRIES, registry_of

#: |logp(x) - logp(reflected x)| allowed (relative to 1 + |logp|) before the reflection counts as a symmetry
SYMMETRY_TOLERANCE = 1e-8


@dataclasses.dataclass
class Reflection:
    """The free-sign copy of a model and how a draw is reflected to the model's sign.

    ``model``: the copy NUTS samples (``positive`` on the real line).
    ``positive``: the name of the sign-identifying loading (one element).
    ``signs``: variable name -> +1 / -1 pattern (the variable's non-draw shape) of the reflection:
    free variables by definition (loadings -1, the factor column of z -1), deterministics as
    measured at a random point (even or odd elementwise).
    """

    model: pm.Model
    positive: str
    signs: dict

    def fold(self, posterior: xr.Dataset) -> tuple[xr.Dataset, int]:
        """Reflect every draw whose ``positive`` loading is negative; the posterior and how many draws."""
        value = posterior[self.positive]
        negative = (value < 0).any([d for d in value.dims if d not in ("chain", "draw")]) if value.ndim > 2 \
            else value < 0
        n = int(negative.sum())
        if not n:
            return posterior, 0
        out = posterior.copy()
        for name, sign in self.signs.items():
            if name not in out or np.all(sign == 1):
                continue
            var = out[name]
            pattern = xr.DataArray(np.broadcast_to(sign, var.shape[2:]), dims=var.dims[2:])
            out[name] = xr.where(negative, var * pattern, var).transpose(*var.dims).astype(var.dtype)
            out[name].attrs = var.attrs
        return out, n


def _candidate(mm):
    """(positive loading name, z name) if ``mm`` has a factor with one sign-identified loading, else None."""
    from ..latent import PersonFactor
    factor = getattr(mm, "latent", None)
    if not isinstance(factor, PersonFactor):
        return None
    fixed = factor.fixed_loadings
    if np.any(~np.isnan(fixed) & (fixed != 0)):  # a loading fixed at a non-zero value sets the sign itself
        return None
    _, positive = factor._masks()
    if int(positive.sum()) != 1:
        return None
    return factor.name("loading_positive"), factor.name("loading_free"), factor.z_name


def free_sign_model(mm, model: pm.Model | None = None) -> Reflection | None:
    """The :class:`Reflection` of ``model`` (default ``mm.model``; an integrated model works too), or None.

    None when the model has no single sign-identified loading, or when the reflection is
    not a symmetry of its log density at a random point (e.g. a constraint ties a loading to
    a non-zero value): such models are sampled as they are.
    """
    model = mm.model if model is None else model
    names = _candidate(mm)
    if names is None:
        return None
    key = ("free_sign", id(model))
    if key in mm._cache:
        return mm._cache[key]
    positive, free, z_name = names
    rvs = {rv.name: rv for rv in model.free_RVs}
    if positive not in rvs or free not in rvs:
        mm._cache[key] = None
        return None
    fgraph, _ = fgraph_from_model(model)
    for out in list(fgraph.outputs):
        op = out.owner.op
        if isinstance(op, ModelFreeRV) and op.name == positive:
            rv, value = out.owner.inputs[:2]
            sigma = rv.owner.inputs[-1]
            mirrored = pm.Normal.dist(mu=0.0, sigma=sigma, size=rv.shape)
            fgraph.replace(out, model_free_rv(mirrored, value.type(name=positive), None, positive, *op.dims),
                           import_missing=True)
            break
    new = model_from_fgraph(fgraph, mutate_fgraph=True)
    _REGISTRIES[new] = registry_of(model)
    reflection = _checked(new, positive, free, z_name)
    mm._cache[key] = reflection
    return reflection


def _reflect_values(model: pm.Model, point: dict, positive: str, free: str, z_name: str) -> dict:
    out = dict(point)
    for name in (positive, free):
        value_name = model.rvs_to_values[model[name]].name
        out[value_name] = -np.asarray(point[value_name])
    if z_name in {rv.name for rv in model.free_RVs}:
        value_name = model.rvs_to_values[model[z_name]].name
        z = np.array(point[value_name], copy=True)
        z[..., 0] = -z[..., 0]
        out[value_name] = z
    return out


def _checked(model: pm.Model, positive: str, free: str, z_name: str) -> Reflection | None:
    """The reflection's sign patterns, if it is a symmetry of ``model``'s log density at a random point."""
    for name in (positive, free, z_name):
        if name in model.named_vars and model.rvs_to_transforms.get(model[name]) is not None:
            return None  # the reflection is defined on the natural scale
    rng = np.random.default_rng(20261207)
    point = {k: np.asarray(v) + rng.normal(0.0, 0.7, np.shape(v)) for k, v in model.initial_point().items()}
    mirrored = _reflect_values(model, point, positive, free, z_name)
    logp = model.compile_logp()
    a, b = float(logp(point)), float(logp(mirrored))
    if not (np.isfinite(a) and abs(a - b) <= SYMMETRY_TOLERANCE * (1.0 + abs(a))):
        return None
    signs = {positive: np.array(-1.0), free: np.array(-1.0)}
    zs = {rv.name for rv in model.free_RVs}
    if z_name in zs:
        z_shape = np.shape(point[model.rvs_to_values[model[z_name]].name])
        pattern = np.ones(z_shape[-1])
        pattern[0] = -1.0
        signs[z_name] = pattern
    outputs = [d for d in model.deterministics]
    if outputs:
        fn = model.compile_fn(model.replace_rvs_by_values(outputs), inputs=model.value_vars,
                              on_unused_input="ignore", point_fn=True)
        before, after = fn(point), fn(mirrored)
        for d, x, y in zip(outputs, before, after):
            x, y = np.asarray(x, float), np.asarray(y, float)
            even = np.isclose(x, y, rtol=1e-9, atol=1e-12)
            odd = np.isclose(x, -y, rtol=1e-9, atol=1e-12)
            if not np.all(even | odd):
                return None  # a deterministic neither even nor odd elementwise: not recomputable by a sign flip
            signs[d.name] = np.where(even, 1.0, -1.0)
    return Reflection(model=model, positive=positive, signs=signs)
