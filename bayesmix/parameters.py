"""Parameter registry: what every model parameter *is*, in one place.

Each parameter a layer creates is registered with its metadata:

- ``class_axis`` / ``class_dim``: the axis (of the constrained value, without
  draw axes) that holds classes, and the coord name of that axis
  (``"class"``, ``"between_class"``; ``None``: not class-specific);
- ``reference_coded``: K-1 multinomial logits against the last class (eq. 4):
  relabeling re-expresses them against the new last class;
- ``bounded``: an element whose unconstrained value may run to a boundary
  (a logit of a probability at 0/1, the log of an SD at 0): the optimizer
  keeps it inside +-30 and ML reports it at the boundary past +-15 (Mplus);
  location parameters (means, slopes) are unbounded;
- ``fixed``: a mask of elements held at a given value (not estimated), e.g.
  tau_i1 = 15 and lambda_i1 = 0 of eq. 45-47;
- ``feature_scale`` / ``feature_log``: how the label aligner scales the
  parameter when it compares classes (continuous means by the item SD,
  SDs on the log scale);
- ``latent``: the parameter belongs to a latent-effects block (relabeled with
  the block, not by plain permutation).

The optimizer (bounds, boundary report), the label aligner and the SE code
read this registry instead of name lists. :func:`create` is how layers make a
parameter: a prior from :class:`~bayesmix.priors.PriorSet`, or a fixed value,
or a mix (fixed elements given, the rest free).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pymc as pm
import pytensor.tensor as pt


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

    @property
    def class_specific(self) -> bool:
        return self.class_axis is not None


class ParameterRegistry:
    """Ordered name -> :class:`ParamInfo` mapping of one PyMC model."""

    def __init__(self) -> None:
        self._items: dict[str, ParamInfo] = {}

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
    """A model parameter ``name``: free (prior from ``priors``), fixed, or partly fixed.

    ``fixed``: None (all free), a scalar or array broadcastable to the
    parameter's shape whose NaN elements stay free and whose finite elements
    are held at that value. A fully fixed parameter is a constant (no random
    variable); a partly fixed one is a random variable ``<name>_free`` over
    the free elements (dim ``<name>_free_element``, labelled by their coords)
    joined with the constants in the deterministic ``name``. ``meta`` is
    registered (see :class:`ParamInfo`); ``defaults`` of the prior are
    passed by the caller in ``meta["prior"]``.
    """
    prior_defaults = meta.pop("prior", {})
    if fixed is None:
        rv = priors.create(name, dims=dims, **prior_defaults)
        register(name, **meta)
        return rv
    shape = _dims_shape(dims)
    values = np.broadcast_to(np.asarray(fixed, dtype=float), shape).copy()
    free = np.isnan(values)
    register(name, fixed=~free, **meta)
    if not free.any():
        return pm.Data(name, values, dims=dims) if dims else pt.as_tensor(values)
    model = pm.modelcontext(None)
    dim_list = (dims,) if isinstance(dims, str) else tuple(dims)
    labels = [", ".join(str(model.coords[d][i]) for d, i in zip(dim_list, idx))
              for idx in itertools.product(*[range(n) for n in shape]) if free[idx]]
    element_dim = f"{name}_free_element"
    model.add_coord(element_dim, labels)
    defaults = {k: (np.broadcast_to(np.asarray(v, dtype=float), shape)[free] if np.ndim(v) else v)
                for k, v in prior_defaults.items()}
    dist, kwargs = priors.spec(name, **defaults)
    part = getattr(pm, dist)(f"{name}_free", dims=element_dim, **kwargs)
    register(f"{name}_free", bounded=meta.get("bounded", True))
    full = pt.set_subtensor(pt.as_tensor(np.where(free, 0.0, values))[np.nonzero(free)], part)
    return pm.Deterministic(name, full, dims=dims)


def fixed_mask(name: str, model: pm.Model | None = None) -> np.ndarray | None:
    """Boolean mask of the fixed elements of ``name`` (None: nothing fixed)."""
    info = registry_of(model).get(name)
    return None if info is None else info.fixed
