"""Align class labels across draws and chains to one reference labeling.

Pivotal reordering (Marin, Mengersen & Robert 2005): every draw's classes are
permuted to best match a reference solution (the ML/MAP mode the chains
start from), by the squared distance between class-specific parameters.
Variables with a ``class`` dim are permuted along it; reference-coded class
logits (dim ``class_free``) are re-expressed against the new last class.
The number of relabeled draws is reported, never hidden.
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr
from scipy.optimize import linear_sum_assignment

_MAX_ENUMERATED_CLASSES = 6


def _features(mm, values: dict[str, np.ndarray], lead: int) -> np.ndarray:
    """(..., K, F) class features from class-specific parameters (scales from the parameter registry)."""
    pieces = []
    registry = mm.parameters
    for name, (axis, reference) in mm.class_parameters().items():
        if reference or name not in values:
            continue
        info = registry[name]
        arr = np.asarray(values[name], dtype=float)
        arr = np.moveaxis(arr, lead + axis, lead)
        if info.feature_scale is not None:
            arr = arr / np.asarray(info.feature_scale)
        if info.feature_log:
            arr = np.log(arr)
        pieces.append(arr.reshape(*arr.shape[: lead + 1], -1))
    if not pieces:  # only class logits: use the class log-probabilities
        return None
    return np.concatenate(pieces, axis=-1)


def find_permutations(mm, posterior: xr.Dataset, reference: dict[str, np.ndarray]) -> np.ndarray:
    """(chain, draw, K) permutations: new class k takes old class perm[k]."""
    from ..parameters import with_full
    k = mm.n_classes
    reference = with_full(mm.parameters, reference)  # constrained parameters in full
    names = [n for n, (_, ref) in mm.class_parameters().items() if not ref and n in posterior and n in reference]
    values = {n: posterior[n].transpose("chain", "draw", ...).to_numpy() for n in names}
    feats = _features(mm, values, lead=2)
    ref = _features(mm, {n: reference[n] for n in names}, lead=0)
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    if feats is None or k == 1:
        return np.broadcast_to(np.arange(k), (n_chain, n_draw, k)).copy()
    return _best_permutations(feats, ref)


def _permute(arr: np.ndarray, perms: np.ndarray, axis: int) -> np.ndarray:
    """Permute ``axis`` of arr (chain, draw, ...) by per-draw permutations."""
    moved = np.moveaxis(arr, axis, -1)
    idx = np.broadcast_to(perms.reshape(perms.shape[:2] + (1,) * (moved.ndim - 3) + perms.shape[2:]), moved.shape)
    return np.moveaxis(np.take_along_axis(moved, idx, axis=-1), -1, axis)




def _reference_matrix(perm: np.ndarray) -> np.ndarray:
    """A with alpha' = A alpha for K-1 reference-coded logits under class permutation ``perm``."""
    k = len(perm)
    e = np.eye(k)[:, : k - 1]  # full class c -> free coordinates (last class is 0)
    return e[perm[: k - 1]] - e[perm[k - 1]][None, :]


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Cholesky factor of a covariance that may be singular: an SD draw of exactly 0 (exp of a log-SD
    that underflowed) scales its effects to 0 for every cluster, so their standardized z are not
    determined; a jitter of 1e-12 of the largest variance on the diagonal sets them to 0."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        jitter = 1e-12 * max(1.0, float(np.max(np.diag(cov))))
        return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))


def _relabel_random_effects(mm, variables: dict, perms: np.ndarray) -> dict:
    """Relabel random intercepts on class logits: alpha' = A alpha, Sigma' = A Sigma A'.

    With L the Cholesky factor and z the standardized effects: L' = chol(A L L' A'),
    z' = L'^-1 A L z, regressions on cluster covariates Gamma' = Gamma A'; SDs,
    correlations and the class ICC (eq. 20) are recomputed from Sigma'. ``variables``:
    name -> (dims, array with chain and draw first) (:func:`permute_variables`).
    """
    effects = mm.latent
    labels = effects.effect_labels
    idx = [i for i, lab in enumerate(labels) if lab in mm.class_labels[:-1]]
    d = len(labels)
    names = {part: effects.name(part) for part in ("z", "sd", "chol", "corr", "slope")}
    names["class_icc"] = "class_icc"
    get = {part: variables[n][1].copy() for part, n in names.items() if n in variables}
    n_chain, n_draw = perms.shape[:2]
    tril = np.tril_indices(d)
    for c in range(n_chain):
        for t in range(n_draw):
            perm = perms[c, t]
            if np.all(perm == np.arange(len(perm))):
                continue
            a = np.eye(d)
            a[np.ix_(idx, idx)] = _reference_matrix(perm)[np.ix_(range(len(idx)), range(len(idx)))]
            if "chol" in get:
                chol = np.zeros((d, d))
                chol[tril] = get["chol"][c, t]
            elif "sd" in get:
                chol = np.diag(np.atleast_1d(get["sd"][c, t]))
            else:  # SDs fixed (fixed={"random_sd": ...}): not in the posterior, values from the registry
                chol = np.diag(np.atleast_1d(mm.parameters[names["sd"]].values))
            new_cov = a @ chol @ chol.T @ a.T
            new_chol = _cholesky(new_cov)
            if "z" in get:
                z = get["z"][c, t]  # (J, D)
                get["z"][c, t] = np.linalg.solve(new_chol, a @ chol @ z.T).T
            if "slope" in get:
                get["slope"][c, t] = get["slope"][c, t] @ a.T
            sd = np.sqrt(np.diag(new_cov))
            if "chol" in get:
                get["chol"][c, t] = new_chol[tril]
            if "sd" in get:
                get["sd"][c, t] = sd
            if "corr" in get:
                get["corr"][c, t] = new_cov / np.outer(sd, sd)
            if "class_icc" in get:
                var = sd[idx] ** 2
                get["class_icc"][c, t] = var / (var + np.pi**2 / 3)
    return {names[p]: (variables[names[p]][0], v) for p, v in get.items()}


def _constrained_in(mm, variables: dict, dim: str) -> tuple[list, list[str]]:
    """Class-symmetric constrained parameters whose free vector is in ``variables`` (their full values
    are permuted, then the free vector is taken back from them), and the full ones added for it
    (in place on ``variables``: name -> (dims, array with chain and draw first))."""
    from ..parameters import expand
    if mm is None:
        return [], []
    infos, added = [], []
    for info in mm.parameters:
        if not (info.constrained and info.free_name and info.class_dim == dim and info.free_name in variables):
            continue
        infos.append(info)
        if info.name not in variables:
            dims = ("chain", "draw", *(mm.model.named_vars_to_dims.get(info.name, ()) or ()))
            variables[info.name] = (dims, expand(info, variables[info.free_name][1]))
            added.append(info.name)
    return infos, added


def permute_variables(variables: dict, perms: np.ndarray, dim: str = "class", mm=None) -> dict:
    """:func:`apply_permutations` on plain arrays: name -> (dims, array with ``chain`` and ``draw`` first).

    The engine of both :func:`apply_permutations` (posterior datasets) and
    :func:`bayesmix.relabel.permute_point` (one point, without building an xarray
    object: xarray imports dask, when installed, on the first Dataset, ~1 s of a first ``fit_ml``).
    """
    from ..parameters import contract
    variables = dict(variables)
    constrained, added = _constrained_in(mm, variables, dim)
    out = {}
    free = f"{dim}_free"
    relabeled_effects = {}
    if dim == "class" and mm is not None and mm.latent is not None and any(
            lab in mm.class_labels[:-1] for lab in mm.latent.effect_labels):
        relabeled_effects = _relabel_random_effects(mm, variables, perms)
    for name, (dims, arr) in variables.items():
        if name in relabeled_effects:
            out[name] = relabeled_effects[name]
            continue
        dims = tuple(dims)
        if dim in dims:
            arr = _permute(arr, perms, dims.index(dim))
        if free in dims:
            axis = dims.index(free)
            full = np.concatenate([arr, np.zeros_like(np.take(arr, [0], axis=axis))], axis=axis)
            full = _permute(full, perms, axis)
            full = full - np.take(full, [-1], axis=axis)
            arr = np.take(full, np.arange(full.shape[axis] - 1), axis=axis)
        out[name] = (dims, arr)
    for info in constrained:
        out[info.free_name] = (out[info.free_name][0], contract(info, out[info.name][1]))
    for name in added:
        out.pop(name)
    if mm is not None and mm.latent is not None:
        _keep_factor_sign(mm.latent, out, dim)
        if dim == "class":
            mm.latent.permuted(variables, out, perms, _permute)
    return out


def apply_permutations(posterior: xr.Dataset, perms: np.ndarray, dim: str = "class", mm=None) -> xr.Dataset:
    """Relabel every variable with the class dim ``dim`` (or its reference-coded ``dim_free``).

    Fixed or tied parameters (class-symmetric constraints, see
    :attr:`bayesmix.parameters.ParamInfo.class_symmetric`) are permuted in
    full and their free vector ``<name>_free`` is read back from the result
    (:func:`permute_variables` does the work on the arrays).
    """
    arrays = {name: da.transpose("chain", "draw", ...) for name, da in posterior.data_vars.items()}
    out = permute_variables({name: (da.dims, da.to_numpy()) for name, da in arrays.items()}, perms, dim, mm)
    return xr.Dataset({name: arrays[name].copy(data=arr) for name, (_, arr) in out.items()}, attrs=posterior.attrs)


def _keep_factor_sign(latent, out: dict, dim: str) -> None:
    """A one-factor effect on the class logits (restricted GoM, eq. 34-35) keeps its first loading positive.

    Relabeling maps the logit offset lambda z to A lambda z; the permutation above turns lambda into A lambda
    (dims ``class_free``) but leaves ``loading_first`` and z alone, so a relabeled draw would have a
    negative first loading next to a positive ``loading_first`` (not a point of the model). The factor's sign is
    a convention (z ~ N(0, 1) is symmetric): where (A lambda)_1 < 0 the draw takes (-A lambda, -z), the same logits
    with the first loading positive again. In place on ``out`` (name -> (dims, array (chain, draw, ...))).
    """
    loading = latent.name("loading")
    if latent.form != "factor" or latent.dim != f"{dim}_free" or loading not in out:
        return
    dims, values = out[loading]  # (chain, draw, K - 1): A lambda
    sign = np.where(values[..., 0] < 0, -1.0, 1.0)  # (chain, draw)
    values = values * sign[..., None]
    out[loading] = (dims, values)
    if latent.z_name in out:
        z_dims, z = out[latent.z_name]
        out[latent.z_name] = (z_dims, z * sign.reshape(sign.shape + (1,) * (z.ndim - 2)))
    for name, part in ((latent.name("loading_first"), values[..., 0]), (latent.name("loading_rest"), values[..., 1:])):
        if name in out:  # the free parameters read back from the relabeled loading
            free_dims, free = out[name]
            out[name] = (free_dims, part.reshape(free.shape))


def _best_permutations(feats: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """feats (chain, draw, K, F), ref (K, F) -> (chain, draw, K): new class k takes old class perm[k].

    All K! permutations up to K = 6 classes, the Hungarian algorithm beyond.
    """
    k = ref.shape[0]
    # cost[s, a, b]: old class a of draw s vs reference class b
    cost = ((feats[:, :, :, None, :] - ref[None, None, None, :, :]) ** 2).sum(-1)
    if k <= _MAX_ENUMERATED_CLASSES:
        perms = np.array(list(itertools.permutations(range(k))))  # (P, K): new b <- old perms[p, b]
        return perms[cost[:, :, perms, np.arange(k)].sum(-1).argmin(-1)]
    out = np.empty(cost.shape[:3], dtype=int)
    for c in range(cost.shape[0]):
        for d in range(cost.shape[1]):
            rows, cols = linear_sum_assignment(cost[c, d])
            out[c, d, cols] = rows
    return out


def _full(values: np.ndarray, axis: int) -> np.ndarray:
    """Reference-coded logits -> all classes (last = 0) along ``axis``."""
    return np.concatenate([values, np.zeros_like(np.take(values, [0], axis=axis))], axis=axis)


def find_between_permutations(posterior: xr.Dataset, reference: dict) -> np.ndarray:
    """Permutations of the between class D (section 6) from its logits and its effect on C."""
    def features(intercept, gamma, lead):
        parts = [_full(intercept, lead)[..., None]]
        g = _full(_full(gamma, lead), lead + 1)  # (..., K, M)
        parts.append(np.swapaxes(g, -1, -2))  # (..., M, K)
        return np.concatenate(parts, axis=-1)
    draws = features(posterior["between_class_intercept"].transpose("chain", "draw", ...).to_numpy(),
                     posterior["class_between_effect"].transpose("chain", "draw", ...).to_numpy(), 2)
    ref = features(np.asarray(reference["between_class_intercept"]), np.asarray(reference["class_between_effect"]), 0)
    return _best_permutations(draws, ref)


def align_labels(mm, posterior: xr.Dataset, reference: dict[str, np.ndarray]) -> tuple[xr.Dataset, int]:
    """Aligned posterior and the number of draws whose labels were changed.

    Within classes first (dim ``class``), then, for models with a between
    class D (section 6), D (dim ``between_class``) given the aligned C.
    """
    if any(p.blocks_relabeling for p in mm.parameters):
        return posterior, 0  # class-specific constraints (e.g. eq. 45-47) already identify the labels
    perms = find_permutations(mm, posterior, reference)
    changed = int(np.any(perms != np.arange(mm.n_classes), axis=-1).sum())
    if changed:
        posterior = apply_permutations(posterior, perms, mm=mm)
    if "between_class_intercept" in posterior and "class_between_effect" in reference:
        perms_d = find_between_permutations(posterior, reference)
        moved = np.any(perms_d != np.arange(perms_d.shape[-1]), axis=-1)
        if moved.any():
            # logit of C given D = d: a_c + gamma_cd (gamma_cM = 0); relabeling D by perm moves
            # gamma_c,perm[M-1] into the intercept: a'_c = a_c + gamma_c,perm[M-1] (eq. 24)
            gamma = posterior["class_between_effect"].transpose("chain", "draw", "class_free", "between_class_free")
            last = np.take_along_axis(_full(gamma.to_numpy(), 3), perms_d[:, :, None, -1:], axis=3)[..., 0]
            intercept = posterior["class_intercept"].transpose("chain", "draw", "class_free")
            posterior = apply_permutations(posterior, perms_d, dim="between_class")
            posterior["class_intercept"] = intercept.copy(data=intercept.to_numpy() + last)
            changed += int(moved.sum())
    return posterior, changed
