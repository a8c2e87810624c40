"""Fixed values and equality constraints by parameter name and coordinate labels.

Mplus fixes a parameter with ``@`` (``[u1$1@15]``) and holds parameters equal
with a shared label (``(1)``); poLCA/StepMix users think in items and
classes. Every bayesmix factory takes both as ``fixed=`` and ``equal=``,
addressed by the parameter names and coordinate labels that ``ml.params``
prints (``binary_logit[class1, A]``)::

    fixed = {"binary_logit[class1, A]": 15.0}        # one element, by its labels
    fixed = {"binary_logit[*, A]": [15.0, -15.0]}    # item A in every class ('*': all labels)
    fixed = {"binary_logit[item=A]": 0.0}            # by dim name (item= matches binary_item)
    fixed = {"binary_logit": values}                 # the whole parameter: NaN = free
    fixed = {"binary_logit": xr.DataArray(...)}      # labelled: its dims and coords select

    equal = {"binary_logit[*, A]": "class"}          # item A: one value for all classes
    equal = {"normal_sd": "class"}                   # every item's SD equal across classes
    equal = ["binary_logit[class1, *]"]              # all selected elements share one value
    equal = [["binary_logit[class1, A]", "binary_logit[class2, B]"]]   # one group of selections

A selector is ``name`` (every element), ``name[l1, l2, ...]`` with one label
(or ``*``) per dim of the parameter, or ``name[dim=label, ...]`` with dims
by name -- the full coord name (``binary_item``) or its last/first part
(``item``, ``class``); dims left out are all labels. A dict of ``equal``
maps a selector to the dim(s) across which its elements are equal (one free
value per combination of the other dims); a list gives groups directly.

The constraints are built into the model graph (:func:`bayesmix.parameters.create`):
a free vector of the reduced size is placed into the full parameter, so ML,
MAP, Laplace and NUTS all estimate the same constrained model and the
parameter count of AIC/BIC drops by exactly the fixed elements and the ties.
A tied group with a fixed element is fixed as a whole. Unknown parameter
names (with the closest valid one), unknown labels, wrong shapes and
contradictions raise a ``ValueError`` while the model is built, before
anything is compiled. Logit-scale parameters are fixed in logits: a
probability p is ``scipy.special.logit(p)`` (15 is Mplus' "probability 1").
"""

from __future__ import annotations

import difflib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["Constraints", "constrained_model"]

_SELECTOR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(.*)\])?\s*$", re.S)

FIXED_EXAMPLE = "{'binary_logit[class1, A]': 15.0}"
EQUAL_EXAMPLE = "{'binary_logit[*, A]': 'class'} or ['binary_logit[class1, *]']"


def _closest(word: str, choices) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets (labels such as ``A[2]`` keep theirs)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


@dataclass(frozen=True)
class Selector:
    """``name``, ``name[l1, l2]`` or ``name[dim=label]`` (see the module docstring)."""

    text: str
    name: str
    positional: tuple[str, ...] | None = None
    keyword: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: Any, argument: str) -> "Selector":
        if not isinstance(text, str):
            raise ValueError(f"{argument}: {text!r} is not a parameter name or element label; use strings such as "
                             "'binary_logit' or 'binary_logit[class1, A]'.")
        match = _SELECTOR.match(text)
        if match is None:
            raise ValueError(f"{argument}: {text!r} is not a parameter selector; write name, name[label, label, ...] "
                             "(one label or '*' per dim) or name[dim=label, ...], e.g. 'binary_logit[class1, A]'.")
        name, inside = match.group(1), match.group(2)
        if inside is None:
            return cls(text, name)
        parts = _split_top(inside)
        if any(p == "" for p in parts):
            raise ValueError(f"{argument}: {text!r} has an empty label; use '*' for all labels of a dim.")
        named = ["=" in p and not p.startswith("[") for p in parts]
        if any(named) and not all(named):
            raise ValueError(f"{argument}: {text!r} mixes positional labels and dim=label; use one form.")
        if all(named):
            pairs = tuple((k.strip(), v.strip()) for k, v in (p.split("=", 1) for p in parts))
            return cls(text, name, None, pairs)
        return cls(text, name, tuple(parts))

    # ------------------------------------------------------------ resolution
    def indices(self, dims: Sequence[str], coords: Mapping[str, list], argument: str) -> list[np.ndarray]:
        """Selected positions along each dim of the parameter."""
        out = [np.arange(len(coords[d])) for d in dims]
        if self.positional is not None:
            if len(self.positional) != len(dims):
                named = ", ".join(f"{d}=..." for d in dims) or "(no dims)"
                raise ValueError(f"{argument}: {self.text!r} gives {len(self.positional)} label(s), but {self.name!r} "
                                 f"has dims {tuple(dims)}; give one label (or '*') per dim, or name them: "
                                 f"{self.name}[{named}].")
            for axis, label in enumerate(self.positional):
                out[axis] = _label_positions(label, dims[axis], coords[dims[axis]], self, argument)
            return out
        seen = set()
        for key, label in self.keyword:
            axis = match_dim(key, dims, self.name, argument)
            if axis in seen:
                raise ValueError(f"{argument}: {self.text!r} names dim {dims[axis]!r} twice.")
            seen.add(axis)
            out[axis] = _label_positions(label, dims[axis], coords[dims[axis]], self, argument)
        return out


def match_dim(key: str, dims: Sequence[str], name: str, argument: str) -> int:
    """Axis of ``key`` among ``dims``: the dim itself, or the one it ends or begins (``item`` -> ``binary_item``)."""
    key = key.strip()
    if key in dims:
        return list(dims).index(key)
    hits = [i for i, d in enumerate(dims) if d.endswith("_" + key) or d.startswith(key + "_")]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValueError(f"{argument}: dim {key!r} of {name!r} is ambiguous among {[dims[i] for i in hits]}; "
                         "use the full dim name.")
    aliases = [*dims, *(d.split("_")[-1] for d in dims), *(d.split("_")[0] for d in dims)]
    raise ValueError(f"{argument}: {name!r} has dims {tuple(dims)}, not {key!r}{_closest(key, aliases)}.")


def _label_positions(label: str, dim: str, labels: list, selector: Selector, argument: str) -> np.ndarray:
    if label == "*":
        return np.arange(len(labels))
    names = [str(v) for v in labels]
    if label not in names:
        shown = names if len(names) <= 12 else names[:12] + ["..."]
        raise ValueError(f"{argument}: {selector.text!r}: {label!r} is not a label of dim {dim!r}"
                         f"{_closest(label, names)}; its labels are {shown}.")
    return np.array([names.index(label)])


def _block(indices: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Flat positions of the selected block, shaped like the block."""
    if not shape:
        return np.array(0)
    return np.ravel_multi_index(np.ix_(*indices), shape)


class Constraints:
    """The user's ``fixed=`` and ``equal=`` of one factory call (see the module docstring).

    Parsed and type-checked when made; each parameter's part is resolved by
    :meth:`resolve` while :func:`bayesmix.parameters.create` builds it, and
    :meth:`check_unused` refuses names no parameter took.
    """

    def __init__(self, fixed: Mapping[str, Any] | None = None,
                 equal: Mapping[str, str | Sequence[str]] | Sequence[str | Sequence[str]] | None = None):
        self.fixed: list[tuple[Selector, Any]] = []
        self.equal: list[tuple[list[Selector], tuple[str, ...] | None]] = []
        if fixed is not None:
            if not isinstance(fixed, Mapping):
                raise ValueError(f"fixed must be a dict of parameter (or element label) -> value, e.g. {FIXED_EXAMPLE}; "
                                 f"got {type(fixed).__name__}.")
            for key, value in fixed.items():
                sel = Selector.parse(key, "fixed")
                if _is_labelled(value) and (sel.positional is not None or sel.keyword):
                    raise ValueError(f"fixed[{key!r}]: a DataArray selects by its own dims and coords; "
                                     f"use the bare name {sel.name!r} as the key.")
                self.fixed.append((sel, value))
        if equal is not None:
            self.add_equal(equal)
        self._seen: set[str] = set()
        self._used: set[str] = set()

    def add_equal(self, equal) -> None:
        """Add equality groups, in the forms of the factories' ``equal=`` argument.

        Factories add their own identification ties this way (e.g. item
        intercepts held equal over classes, :func:`bayesmix.mixture_sem`), so
        they are resolved, counted and reported like the user's.

        Parameters
        ----------
        equal : dict or list
            ``{selector: dim or dims}`` (elements equal across those dims) or a
            list of groups (a selector string, or a list of selector strings of
            one parameter, held equal).

        Returns
        -------
        None

        Examples
        --------
        >>> c = Constraints()
        >>> c.add_equal(["binary_logit[*, y1]"])
        >>> bool(c), sorted(c.names())
        (True, ['binary_logit'])
        """
        if isinstance(equal, Mapping):
            for key, across in equal.items():
                sel = Selector.parse(key, "equal")
                dims = (across,) if isinstance(across, str) else across
                if not isinstance(dims, (list, tuple)) or not dims or not all(isinstance(d, str) for d in dims):
                    raise ValueError(f"equal[{key!r}] must name the dim(s) across which the elements are equal, "
                                     f"e.g. 'class' or ['class', 'item']; got {across!r}.")
                self.equal.append(([sel], tuple(dims)))
            return
        if isinstance(equal, str) or not isinstance(equal, (list, tuple)):
            raise ValueError(f"equal must be a dict (selector -> dims across which to hold equal) or a list of "
                             f"groups, e.g. {EQUAL_EXAMPLE}; got {type(equal).__name__} {equal!r}.")
        for group in equal:
            texts = [group] if isinstance(group, str) else group
            if not isinstance(texts, (list, tuple)) or not texts:
                raise ValueError(f"equal: each group is a selector string or a list of them, got {group!r}.")
            sels = [Selector.parse(t, "equal") for t in texts]
            names = sorted({s.name for s in sels})
            if len(names) > 1:
                raise ValueError(f"equal: the group {list(texts)} ties different parameters {names}; a group holds "
                                 "elements of one parameter equal.")
            self.equal.append((sels, None))

    def __bool__(self) -> bool:
        return bool(self.fixed or self.equal)

    def names(self) -> set[str]:
        """Parameter names the constraints mention."""
        return {s.name for s, _ in self.fixed} | {s.name for sels, _ in self.equal for s in sels}

    # ------------------------------------------------------------ resolution
    def resolve(self, name: str, dims: Sequence[str], coords: Mapping[str, list],
                shape: tuple[int, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(values with NaN = free, groups of flat positions held equal) of parameter ``name``."""
        self._seen.add(name)
        values = np.full(shape, np.nan)
        for sel, value in self.fixed:
            if sel.name != name:
                continue
            self._used.add(name)
            part = self._fixed_values(sel, value, dims, coords, shape)
            both = np.isfinite(values) & np.isfinite(part)
            if np.any(both & ~np.isclose(values, part)):
                raise ValueError(f"fixed: {sel.text!r} gives elements of {name!r} a value that another entry of "
                                 "fixed= already sets differently.")
            values = np.where(np.isfinite(part), part, values)
        groups: list[np.ndarray] = []
        for sels, across in self.equal:
            if sels[0].name != name:
                continue
            self._used.add(name)
            if across is None:
                group = np.unique(np.concatenate([_block(s.indices(dims, coords, "equal"), shape).ravel()
                                                  for s in sels]))
                if len(group) < 2:
                    raise ValueError(f"equal: {[s.text for s in sels]} select(s) one element of {name!r}; an "
                                     "equality needs two or more (use '*' or several selectors).")
                groups.append(group)
                continue
            sel = sels[0]
            axes = sorted({match_dim(d, dims, name, "equal") for d in across})
            block = _block(sel.indices(dims, coords, "equal"), shape)
            rows = np.moveaxis(block, axes, list(range(block.ndim - len(axes), block.ndim)))
            rows = rows.reshape(-1, int(np.prod([block.shape[a] for a in axes])))
            if rows.shape[1] < 2:
                raise ValueError(f"equal[{sel.text!r}]: across {list(across)} it selects one element per group; "
                                 "nothing to hold equal (check the labels, or use '*').")
            groups.extend(list(rows))
        return values, groups

    @staticmethod
    def _fixed_values(sel: Selector, value, dims, coords, shape) -> np.ndarray:
        out = np.full(shape, np.nan)
        if _is_labelled(value):
            axes = [match_dim(d, dims, sel.name, "fixed") for d in value.dims]
            if len(set(axes)) != len(axes):
                raise ValueError(f"fixed[{sel.name!r}]: the DataArray's dims {value.dims} name one dim of "
                                 f"{sel.name!r} twice.")
            index = [np.arange(n) for n in shape]
            for d, axis in zip(value.dims, axes):
                if d in value.coords:
                    labels = [str(v) for v in value.coords[d].values]
                    index[axis] = np.concatenate([_label_positions(lab, dims[axis], coords[dims[axis]], sel, "fixed")
                                                  for lab in labels])
                elif value.sizes[d] != shape[axis]:
                    raise ValueError(f"fixed[{sel.name!r}]: dim {d!r} has {value.sizes[d]} values without coords, "
                                     f"but {dims[axis]!r} has {shape[axis]}; give coords (labels) or all values.")
            order = sorted(range(len(axes)), key=lambda i: axes[i])
            arr = np.asarray(value.transpose(*[value.dims[i] for i in order]).values, dtype=float)
            full_shape = [len(index[a]) if a in axes else 1 for a in range(len(shape))]
            arr = arr.reshape(full_shape)
            out[np.ix_(*index)] = np.broadcast_to(arr, tuple(len(i) for i in index))
            return out
        indices = sel.indices(dims, coords, "fixed")
        block_shape = tuple(len(i) for i in indices)
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"fixed[{sel.text!r}] must be a number or an array of numbers (NaN = free), "
                             f"got {value!r}.") from None
        try:
            block = np.broadcast_to(arr, block_shape)
        except ValueError:
            raise ValueError(f"fixed[{sel.text!r}] has shape {arr.shape}, but it selects a block of shape "
                             f"{block_shape} of {sel.name!r} (dims {tuple(dims)}, shape {shape}); give a number, "
                             "an array of that shape (NaN = free), or select by labels, e.g. "
                             f"'{sel.name}[{', '.join(str(coords[d][0]) for d in dims)}]'.") from None
        if np.isinf(block).any():
            raise ValueError(f"fixed[{sel.text!r}] holds an infinite value; fix logits at +-15 for a "
                             "probability of 1 or 0 (as Mplus does).")
        if shape:
            out[np.ix_(*indices)] = block
        else:
            out[...] = block
        return out

    def check_unused(self, registry) -> None:
        """Refuse constraints on names no parameter of the model took (call after building it)."""
        for name in sorted(self.names() - self._used):
            which = "fixed" if any(s.name == name for s, _ in self.fixed) else "equal"
            if f"{name}_ordered" in registry:
                raise ValueError(f"{which} constrains {name!r}, which ordered= builds as an ordered column; "
                                 "ordered= and constraints on that parameter cannot be combined. Drop ordered= "
                                 "(fixed values or equalities that differ across classes already identify them).")
            known = sorted(self._seen)
            if name in registry:
                raise ValueError(f"{which} constrains {name!r}, which cannot be fixed or held equal in this model "
                                 f"(it is not built by the shared parameter machinery, e.g. a random-effects "
                                 f"parameter); parameters that can: {known}.")
            raise ValueError(f"{which} names parameter {name!r}, which this model does not have"
                             f"{_closest(name, known)}; parameters that can be fixed or held equal: {known}.")


def _is_labelled(value) -> bool:
    return hasattr(value, "dims") and hasattr(value, "coords") and hasattr(value, "transpose")


@contextmanager
def constrained_model(coords: Mapping[str, Any], fixed: Mapping[str, Any] | None = None,
                      equal: Any = None) -> Iterator:
    """``pm.Model(coords=coords)`` whose parameters take the user's ``fixed`` / ``equal`` constraints.

    Factories build their model inside it instead of a bare ``pm.Model``;
    on leaving, constraints that named no parameter raise a ``ValueError``
    (nothing is compiled by then).
    """
    import pymc as pm

    from .parameters import registry_of
    constraints = Constraints(fixed, equal)
    with pm.Model(coords=coords) as model:
        if constraints:
            registry_of(model).constraints = constraints
        yield model
    if constraints:
        constraints.check_unused(registry_of(model))
