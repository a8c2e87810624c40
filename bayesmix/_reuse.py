"""Compile a model's functions once and reuse them on new data of the same shape (repeated fits: SBC).

bayesmix's likelihood graphs hold the data as graph constants, so a model
built on new data compiles every function again: in an SBC replication of a
2-class LCA (60 x 4) 40% of the time went to PyTensor's graph rewrites and
compilation of the same graphs with other numbers in them. Inside
:func:`reuse_compiled`, every ``pytensor.function`` call (bayesmix's own
objective and PyMC's sampler functions alike) is looked up by the *structure*
of its graph: the ops, their wiring, the inputs' types and the value of every
small constant. Large tensor constants (the data: responses, masks, index
arrays; at least :data:`LIFT_MIN` elements) and integer arrays used as
advanced indices (the representative rows of 9 or 14 response patterns) are
part of the key only by dtype and by which axes have length 1 (broadcast), not
by their lengths: simulated data sets have different numbers of response
patterns. On the first call for a structure the graph is compiled with those
constants replaced by shared variables of open lengths (the nodes remade on
them, so no length of the first data set is compiled in); a later call with
the same structure gets the same compiled function with the shared variables
set to its own constants (no rewrite, no compilation).

The reused function computes the same quantities as a function compiled on the
constants, but not always in the same floating-point order: rewrites such as
constant folding see different graphs, so values can differ in the last bits
and a NUTS trajectory from the same seed can drift apart after many steps.
The cache is therefore opt-in (SBC's ``reuse_compiled=True``), never used by a
plain fit.

Graphs with shared variables of their own (random generators of forward
sampling, adaptive quadrature grids), ``givens`` or ``updates`` are compiled as
usual and not cached. A store is meant for one process and one thread (dask
workers of :mod:`bayesmix.distributed` run one thread each); each function
handed out is valid until the next lookup of the same structure with other
data, which is why the store is only active while one replication runs.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import numpy as np
import pytensor
from pytensor.compile.io import In, Out
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import io_toposort
from pytensor.graph.replace import clone_replace
from pytensor.tensor.variable import TensorConstant

#: tensor constants with at least this many elements are data: keyed by type, swapped per call
LIFT_MIN = 16


class _Uncacheable(Exception):
    pass


class CompileStore:
    """Compiled functions by graph structure (see the module docstring); one per repeated-fit loop.

    ``hits`` and ``misses`` count lookups; ``uncached`` counts compilations
    that could not be cached (shared variables, givens or updates).
    """

    def __init__(self, max_entries: int = 256):
        self.entries: dict[Any, tuple[Any, list[SharedVariable]]] = {}
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self.uncached = 0

    def __repr__(self) -> str:
        return (f"CompileStore({len(self.entries)} functions, {self.hits} hits, {self.misses} misses, "
                f"{self.uncached} uncached)")


def _mode_key(mode) -> Any:
    config = (pytensor.config.cxx, pytensor.config.floatX, pytensor.config.mode)
    if mode is None or isinstance(mode, str):
        return ("name", mode, config)
    linker = mode.linker
    linker_key = (type(linker).__name__,) + tuple(
        (k, v) for k, v in sorted(vars(linker).items()) if isinstance(v, (bool, int, str, type(None))))
    return ("mode", type(mode).__name__, linker_key, _query_key(mode.provided_optimizer), config)


def _query_key(query) -> Any:
    """A rewrite query by its include / exclude / require tags (its repr holds object addresses)."""
    fields = ("include", "exclude", "require")
    if all(hasattr(query, f) for f in fields):
        subquery = getattr(query, "subquery", {}) or {}
        return (type(query).__name__, *(tuple(sorted(map(str, getattr(query, f) or ()))) for f in fields),
                getattr(query, "position_cutoff", None), tuple(sorted((str(k), _query_key(v))
                                                                      for k, v in subquery.items())),
                tuple(repr(r) for r in getattr(query, "extra_rewrites", ()) or ()))
    return (type(query).__name__, query if isinstance(query, (str, type(None))) else id(query))


def _constant_key(c: Constant) -> Any:
    try:
        signature = c.signature()
        hash(signature)
        return ("const", signature)
    except TypeError:  # an unhashable constant (rare): by its bytes
        data = np.asarray(c.data)
        return ("const", str(c.type), data.dtype.str, data.shape, hashlib.sha1(data.tobytes()).hexdigest())


def _lift(v, index: bool = False) -> bool:
    """Data: a tensor constant of at least :data:`LIFT_MIN` elements, or an integer array used as an index."""
    if not isinstance(v, TensorConstant) or v.type.ndim < 1:
        return False
    return np.size(v.data) >= LIFT_MIN or (index and v.type.dtype.startswith(("int", "uint")))


def _data_type(t) -> Any:
    """A lifted constant's key: dtype and which axes broadcast (length 1), not its other lengths."""
    return (t.dtype, tuple(s == 1 for s in t.shape))


def _index_inputs(node) -> range:
    """Positions of ``node``'s inputs that are advanced indices (data: the rows of a pattern, a cluster)."""
    name = type(node.op).__name__
    if name in ("AdvancedSubtensor1", "AdvancedSubtensor"):
        return range(1, len(node.inputs))
    if name in ("AdvancedIncSubtensor1", "AdvancedIncSubtensor"):
        return range(2, len(node.inputs))
    return range(0)


def _fixed_shared(v: SharedVariable) -> bool:
    """An integer scalar shared variable (PyMC's dimension lengths): fixed during a fit, swapped like data."""
    value = v.get_value(borrow=True)
    return getattr(v.type, "ndim", None) == 0 and np.asarray(value).dtype.kind in "iu"


def _value(v) -> np.ndarray:
    return np.asarray(v.get_value(borrow=True) if isinstance(v, SharedVariable) else v.data)


def graph_key(inputs: list, outputs: list) -> tuple[tuple, list]:
    """(structure key, the data constants and dimension-length shared variables in key order) of ``inputs -> outputs``."""
    ids: dict = {}
    key: list = []
    lifted: list[TensorConstant] = []
    for k, v in enumerate(inputs):
        ids[v] = ("in", k)
        key.append(("in", k, v.type, v.name))

    def ref(v, index=False):
        if v in ids:
            return ids[v]
        if isinstance(v, SharedVariable):
            if not _fixed_shared(v):
                raise _Uncacheable(f"shared variable {v}")
            ids[v] = ("shared", len(lifted))
            key.append(("shared", len(lifted), v.type))
            lifted.append(v)
            return ids[v]
        if isinstance(v, Constant):
            if _lift(v, index):
                ids[v] = ("data", len(lifted))
                key.append(("data", len(lifted), _data_type(v.type)))
                lifted.append(v)
            else:
                ids[v] = ("const", len(key))
                key.append(_constant_key(v))
            return ids[v]
        raise _Uncacheable(f"root variable {v} is not an input")

    for i, node in enumerate(io_toposort(inputs, outputs)):
        index = _index_inputs(node)
        key.append((node.op, tuple(ref(x, k in index) for k, x in enumerate(node.inputs))))
        for j, out in enumerate(node.outputs):
            ids[out] = ("node", i, j)
    key.append(("out", tuple(ref(o) for o in outputs)))
    return tuple(key), lifted


@contextlib.contextmanager
def reuse_compiled(store: CompileStore):
    """While active, ``pytensor.function`` reuses ``store``'s functions for graphs of the same structure."""
    original = pytensor.function
    epoch = object()  # functions handed out under this activation

    def function(inputs, outputs=None, mode=None, updates=None, givens=None, **kwargs):
        plain_inputs = [i.variable if isinstance(i, In) else i for i in inputs]
        single = outputs is not None and not isinstance(outputs, (list, tuple))
        out_list = [] if outputs is None else ([outputs] if single else list(outputs))
        if (updates or givens or any(isinstance(i, In) for i in inputs)
                or any(isinstance(o, Out) for o in out_list) or not out_list):
            store.uncached += 1
            return original(inputs, outputs, mode=mode, updates=updates, givens=givens, **kwargs)
        try:
            structure, lifted = graph_key(plain_inputs, out_list)
        except _Uncacheable:
            store.uncached += 1
            return original(inputs, outputs, mode=mode, updates=updates, givens=givens, **kwargs)
        key = (structure, single, _mode_key(mode), tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        try:
            entry = store.entries.get(key)
        except TypeError:  # an op that cannot be hashed
            store.uncached += 1
            return original(inputs, outputs, mode=mode, updates=updates, givens=givens, **kwargs)
        if entry is not None:
            fn, shared, handed = entry
            if handed is epoch and any(not np.array_equal(s.get_value(borrow=True), _value(c))
                                       for s, c in zip(shared, lifted)):
                # the same structure twice in one replication with other data: a function of its own
                store.uncached += 1
                return original(inputs, outputs, mode=mode, updates=updates, givens=givens, **kwargs)
            for s, c in zip(shared, lifted):
                s.set_value(_value(c), borrow=True)
            store.entries[key] = (fn, shared, epoch)
            store.hits += 1
            return fn
        store.misses += 1
        # lengths left open (other replications' data have other numbers of rows: response patterns);
        # the nodes are remade on the open types, so no length of this call's data is compiled in
        shared = [pytensor.shared(_value(c).copy(), shape=tuple(1 if s == 1 else None for s in c.type.shape),
                                  name=f"data{k}") for k, c in enumerate(lifted)]
        # an input with an owner (a random variable given as an input) would be cloned with the graph and the
        # outputs computed from the clone, not from the input: such inputs become fresh root variables first
        roots = [v if v.owner is None else v.type(name=v.name) for v in plain_inputs]
        replace = {**dict(zip(lifted, shared)), **{v: r for v, r in zip(plain_inputs, roots) if r is not v}}
        new_outputs = clone_replace(out_list, replace=replace, rebuild_strict=False) if lifted else out_list
        fn = original(roots if lifted else inputs, new_outputs[0] if single else new_outputs, mode=mode, **kwargs)
        if len(store.entries) < store.max_entries:
            store.entries[key] = (fn, shared, epoch)
        return fn

    pytensor.function = function
    try:
        yield store
    finally:
        pytensor.function = original
