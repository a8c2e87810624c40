"""Parameter registry: what every model parameter *is*, in one place.

Each parameter a layer creates is registered with its metadata:

- ``class_axis`` / ``class_dim``: the axis (of the constrained value, without
  draw axes) that holds classes, and the coord name of that axis
  (``"class"``, ``"between_class"``; ``None``: not class-specific);
- ``reference_coded``: K-1 multinomial logits against the last class (eq. 4):
  relabeling re-expresses them against the new last class;
- ``bounded``: an element whose unconstrained value may run to a boundary
  (a logit of a probability at 0/1, the log of an SD at 0): the optimizer
  keeps it inside +-30 and ML reports it at the boundary past ``boundary``
  (default +-15, Mplus' rule for logits); location parameters (means,
  slopes) are unbounded;
- ``boundary``: (lower, upper) of the unconstrained value past which ML
  reports the element at the boundary, holds it there and gives it no SE;
  the item kernels set it from their link (:data:`bayesmix.kernels.base.LINK_BOUNDARIES`:
  a probit threshold beyond +-5, an ordinal threshold gap below 1e-4);
- ``fixed``: a mask of elements held at a given value (not estimated), e.g.
  tau_i1 = 15 and lambda_i1 = 0 of eq. 45-47; ``values`` holds them (NaN =
  free) and ``slots`` maps every element to the element of the free vector
  ``free_name`` it takes (-1: fixed): elements held equal share a slot
  (:mod:`bayesmix.constraints`, Mplus' ``@`` and ``(1)``);
  ``class_symmetric``: the constraints look the same under every
  permutation of the classes, so relabeling keeps them;
- ``feature_scale`` / ``feature_log``: how the label aligner scales the
  parameter when it compares classes (continuous means by the item SD,
  SDs on the log scale);
- ``latent``: the parameter belongs to a latent-effects block (relabeled with
  the block, not by plain permutation).

The optimizer (bounds, boundary report), the label aligner and the SE code
read this registry instead of name lists. :func:`create` is how layers make a
parameter: a prior from :class:`~bayesmix.priors.PriorSet`, or a fixed value,
or a mix (fixed elements given, the rest free), with elements held equal;
the user's ``fixed=`` / ``equal=`` of a factory reach it through the
registry's :class:`~bayesmix.constraints.Constraints`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pymc as pm
import pytensor.tensor as pt


#: a logit beyond +-15 (a probability below 3.1e-7 or above 1 - 3.1e-7) is at the boundary (Mplus)
LOGIT_BOUNDARY = 15.0


@dataclass(frozen=True)
class ParamInfo:
    """Metadata of one named parameter (see the module docstring)."""

    name: str
    class_axis: int | None = None
    class_dim: str | None = None
    reference_coded: bool = False
    bounded: bool = True
    fixed: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    feature_log: bool = False
    latent: str | None = None
    values: np.ndarray | None = None
    slots: np.ndarray | None = None
    free_name: str | None = None
    class_symmetric: bool = True
    expands: str | None = None
    boundary: tuple[float, float] | None = None

    @property
    def class_specific(self) -> bool:
        return self.class_axis is not None

    @property
    def constrained(self) -> bool:
        """Some elements fixed or held equal (the parameter is built from ``free_name``)."""
        return self.slots is not None

    @property
    def n_free(self) -> int:
        """Free values behind the parameter (its size when unconstrained is not known here)."""
        return 0 if self.slots is None else int(self.slots.max(initial=-1)) + 1

    @property
    def blocks_relabeling(self) -> bool:
        """Class-specific constraints that a permutation of the classes would break (e.g. eq. 45-47)."""
        if not self.class_specific:
            return False
        if self.slots is None:
            return self.fixed is not None
        return not self.class_symmetric


class ParameterRegistry:
    """Ordered name -> :class:`ParamInfo` mapping of one PyMC model."""

    def __init__(self) -> None:
        self._items: dict[str, ParamInfo] = {}
        #: the user's fixed values and equalities (:class:`bayesmix.constraints.Constraints`), read by :func:`create`
        self.constraints = None

    def add(self, info: ParamInfo) -> ParamInfo:
        self._items[info.name] = info
        return info

    def __getitem__(self, name: str) -> ParamInfo:
        return self._items[name]

    def get(self, name: str, default=None):
        return self._items.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[ParamInfo]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def class_parameters(self, class_dim: str = "class") -> dict[str, tuple[int, bool]]:
        """name -> (class axis, reference coded) for the parameters of one class variable."""
        return {p.name: (p.class_axis, p.reference_coded) for p in self
                if p.class_axis is not None and p.class_dim == class_dim}

    def is_bounded(self, name: str) -> bool:
        """Unregistered free variables (e.g. a transformed helper) are bounded like logits."""
        info = self.get(name)
        return True if info is None else info.bounded

    def boundary(self, name: str) -> tuple[float, float] | None:
        """(lower, upper) past which ML reports the element at the boundary; None: unbounded.

        Logit-type elements (and unregistered free variables) use Mplus' +-15
        (:data:`LOGIT_BOUNDARY`); a parameter registered with ``boundary=``
        (the item kernels, from their link) uses its own.
        """
        info = self.get(name)
        if info is not None and not info.bounded:
            return None
        if info is None or info.boundary is None:
            return (-LOGIT_BOUNDARY, LOGIT_BOUNDARY)
        return (float(info.boundary[0]), float(info.boundary[1]))


_REGISTRIES: "weakref.WeakKeyDictionary[pm.Model, ParameterRegistry]" = weakref.WeakKeyDictionary()


def registry_of(model: pm.Model | None = None) -> ParameterRegistry:
    """The registry of ``model`` (default: the model in context), created on first use."""
    model = pm.modelcontext(model)
    if model not in _REGISTRIES:
        _REGISTRIES[model] = ParameterRegistry()
    return _REGISTRIES[model]


def register(name: str, **meta: Any) -> ParamInfo:
    """Register metadata of a parameter of the model in context."""
    return registry_of().add(ParamInfo(name, **meta))


def _dims_shape(dims) -> tuple[int, ...]:
    model = pm.modelcontext(None)
    dims = (dims,) if isinstance(dims, str) else tuple(dims or ())
    return tuple(len(model.coords[d]) for d in dims)


def create(priors, name: str, *, dims=None, fixed: Any = None, **meta: Any):
    """A model parameter ``name``: free (prior from ``priors``), fixed, partly fixed, or with tied elements.

    ``fixed``: None (all free), a scalar or array broadcastable to the
    parameter's shape whose NaN elements stay free and whose finite elements
    are held at that value (the factory's own constraints, e.g. eq. 45-47).
    The user's constraints (``fixed=`` / ``equal=`` of a factory, kept in the
    registry's :class:`~bayesmix.constraints.Constraints`) are added to them.
    An unconstrained parameter is the plain random variable ``name``; a fully
    fixed one is a constant (no random variable); otherwise a random variable
    ``<name>_free`` holds one value per free element -- elements held equal
    share one -- (dim ``<name>_free_element``, labelled by their coords,
    ``"class1, A = class2, A"`` for a tied pair), placed into the full shape
    by the deterministic ``name``. So every estimator (ML, MAP, Laplace,
    NUTS) sees the same constrained model, and the parameter count drops by
    exactly the fixed elements and the ties. ``meta`` is registered (see
    :class:`ParamInfo`); ``defaults`` of the prior are passed by the caller
    in ``meta["prior"]`` (a free value takes those of its group's first element),
    or the whole prior as ``meta["prior_spec"] = (distribution, kwargs)``.
    """
    prior_defaults = meta.pop("prior", {})
    prior_spec = meta.pop("prior_spec", None)  # (distribution, kwargs) decided by the caller (latent SDs)
    registry = registry_of()
    dim_list = _dim_list(dims)
    shape = _dims_shape(dims)
    values, slots = _constraint_arrays(registry, name, dim_list, shape, fixed)
    if slots is None:
        rv = (priors.create(name, dims=dims, **prior_defaults) if prior_spec is None
              else getattr(pm, prior_spec[0])(name, dims=dims, **prior_spec[1]))
        register(name, **meta)
        return rv
    free = slots >= 0
    symmetric = _class_symmetric(values, slots, meta.get("class_axis"), meta.get("reference_coded", False))
    register(name, fixed=None if free.all() else ~free, values=values, slots=slots,
             free_name=f"{name}_free" if free.any() else None, class_symmetric=symmetric, **meta)
    if not free.any():
        return pm.Data(name, values, dims=dims) if dims else pt.as_tensor(values)
    model = pm.modelcontext(None)
    n_slots = int(slots.max()) + 1
    flat_slots = slots.ravel()
    members = [np.flatnonzero(flat_slots == k) for k in range(n_slots)]
    def element(flat_index):
        idx = np.unravel_index(flat_index, shape)
        return ", ".join(str(model.coords[d][i]) for d, i in zip(dim_list, idx))
    labels = [" = ".join(element(i) for i in group) for group in members]
    element_dim = f"{name}_free_element"
    model.add_coord(element_dim, labels)
    first = np.array([group[0] for group in members])
    defaults = {k: (np.broadcast_to(np.asarray(v, dtype=float), shape).ravel()[first] if np.ndim(v) else v)
                for k, v in prior_defaults.items()}
    dist, kwargs = priors.spec(name, **defaults) if prior_spec is None else prior_spec
    part = getattr(pm, dist)(f"{name}_free", dims=element_dim, **kwargs)
    register(f"{name}_free", bounded=meta.get("bounded", True), boundary=meta.get("boundary"), expands=name)
    full = pt.set_subtensor(pt.as_tensor(np.where(free, 0.0, values))[np.nonzero(free)], part[slots[free]])
    return pm.Deterministic(name, full, dims=dims)


def _dim_list(dims) -> tuple[str, ...]:
    return (dims,) if isinstance(dims, str) else tuple(dims or ())


def _constraint_arrays(registry, name, dims, shape, fixed):
    """(values with NaN = free, slots) of a parameter from the factory's and the user's constraints.

    ``slots`` is None when nothing is fixed or tied (a plain random variable).
    """
    values = np.full(shape, np.nan)
    if fixed is not None:
        values = np.broadcast_to(np.asarray(fixed, dtype=float), shape).copy()
    groups: list[np.ndarray] = []
    if registry.constraints is not None:
        model = pm.modelcontext(None)
        user, groups = registry.constraints.resolve(name, dims, {d: list(model.coords[d]) for d in dims}, shape)
        both = np.isfinite(values) & np.isfinite(user)
        if np.any(both & ~np.isclose(values, user)):
            raise ValueError(f"fixed= sets elements of {name!r} that the model itself fixes at other values "
                             f"({values[both].tolist()}); leave them out of fixed=.")
        values = np.where(np.isfinite(user), user, values)
    if np.isnan(values).all() and not any(len(g) > 1 for g in groups):
        return values, None
    return values, _slots(name, values, groups)


def _slots(name: str, values: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Free-vector index per element (-1 fixed): tied groups share one; a group with a fixed element is fixed."""
    parent = np.arange(values.size)

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in groups:
        for j in group[1:]:
            parent[root(j)] = root(group[0])
    flat = values.ravel().copy()
    roots = np.array([root(i) for i in range(values.size)])
    for r in np.unique(roots):
        members = roots == r
        held = flat[members][np.isfinite(flat[members])]
        if len(held) and not np.allclose(held, held[0]):
            raise ValueError(f"equal= ties elements of {name!r} that are fixed at different values "
                             f"{sorted(set(held.tolist()))}; drop the equality or make the fixed values agree.")
        if len(held):
            flat[members] = held[0]  # a tied group with one fixed element is fixed as a whole
    slots = np.full(values.size, -1)
    free_roots: dict[int, int] = {}
    for i in range(values.size):
        if np.isnan(flat[i]):
            slots[i] = free_roots.setdefault(int(roots[i]), len(free_roots))
    values[...] = flat.reshape(values.shape)
    return slots.reshape(values.shape)


def _class_symmetric(values, slots, class_axis, reference_coded) -> bool:
    """Constraints unchanged by every permutation of the classes (adjacent swaps generate them all)."""
    if class_axis is None:
        return True
    if reference_coded:
        return False
    k = values.shape[class_axis]
    for i in range(k - 1):
        perm = np.arange(k)
        perm[[i, i + 1]] = perm[[i + 1, i]]
        v2, s2 = np.take(values, perm, axis=class_axis), np.take(slots, perm, axis=class_axis)
        if not np.array_equal(np.isnan(values), np.isnan(v2)) or not np.allclose(
                values[np.isfinite(values)], v2[np.isfinite(v2)]):
            return False
        pairs = set(zip(slots.ravel().tolist(), s2.ravel().tolist()))
        if len({a for a, _ in pairs}) != len(pairs) or len({b for _, b in pairs}) != len(pairs):
            return False
    return True


# ------------------------------------------------------ free vector <-> full parameter
def expand(info: ParamInfo, free_values) -> np.ndarray:
    """Full parameter values (..., *shape) from the free vector (..., n_free) of a constrained parameter."""
    free_values = np.asarray(free_values, dtype=float)
    lead = free_values.shape[:-1]
    out = np.broadcast_to(info.values, (*lead, *info.values.shape)).copy()
    mask = info.slots >= 0
    if mask.any():
        out[..., mask] = free_values[..., info.slots[mask]]
    return out


def contract(info: ParamInfo, full_values) -> np.ndarray:
    """The free vector (..., n_free) of a constrained parameter from full values (mean over tied elements)."""
    full = np.asarray(full_values, dtype=float)
    shape = info.slots.shape
    flat = full.reshape(*full.shape[: full.ndim - len(shape)], -1)
    slots = info.slots.ravel()
    weights = (slots[:, None] == np.arange(info.n_free)[None, :]).astype(float)
    return flat @ (weights / weights.sum(axis=0))


def free_start(registry: ParameterRegistry, start: dict) -> dict:
    """A start (constrained scale) by full parameter names -> by the model's free variables.

    Constrained parameters given in full become their ``<name>_free`` vector
    (tied elements averaged, fixed ones dropped); fully fixed ones are dropped.
    """
    out = dict(start)
    for info in registry:
        if not info.constrained or info.name not in out:
            continue
        value = np.asarray(out.pop(info.name), dtype=float)
        if info.free_name is not None:
            out[info.free_name] = contract(info, np.broadcast_to(value, info.slots.shape))
    return out


def with_full(registry: ParameterRegistry, point: dict) -> dict:
    """``point`` plus the full values of its constrained parameters (fixed elements included)."""
    out = dict(point)
    for info in registry:
        if not info.constrained or info.name in out:
            continue
        if info.free_name is None:
            out[info.name] = info.values.copy()
        elif info.free_name in out:
            out[info.name] = expand(info, out[info.free_name])
    return out


def fixed_mask(name: str, model: pm.Model | None = None) -> np.ndarray | None:
    """Boolean mask of the fixed elements of ``name`` (None: nothing fixed)."""
    info = registry_of(model).get(name)
    return None if info is None else info.fixed
