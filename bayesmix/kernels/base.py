"""Item kernels: the measurement layer (paper eq. 1-2).

Each kernel owns the items of one type. ``build`` creates its PyMC
parameters in the current model context (registered in the parameter
registry, optionally with fixed elements); two log-likelihoods come out:

- ``loglik_by_item``: (..., N, I, K), log p(y_ni | C = k) per item -- what the
  item-level marginalizer of grade of membership (eq. 28-30) needs;
- ``loglik``: (..., N, K), the sum over the kernel's items -- what the
  unit-level marginalizers need (fast matrix products when there is no shift).

Both take an optional ``shift`` of the linear predictor, broadcastable to
(..., N, I, K): a per-unit (per-node, per-class) addition to the latent
response y* of eq. 1-2 -- the regression offset of random effects, FMA's
lambda_i eta_j (eq. 36) and covariates on items share this one mechanism.
Binary: P(y = 1) = F(beta + shift); ordinal: P(y <= k) = F(tau_k - shift);
continuous: mean + shift. Any leading axes of the parameters (quadrature
nodes, draws) broadcast through. Missing responses contribute exactly 0.

One parameter set can serve several data blocks (the same items at T time
points, measurement invariance, eq. 6/11): :meth:`ItemKernel.bind` gives a
kernel over other item columns sharing this one's parameters.

Posterior predictive simulation (:mod:`bayesmix.posterior_predictive`)
goes through two hooks: :meth:`ItemKernel.simulation_graphs` (what a draw
needs, as graphs of the parameters and the latent shift, eq. 1-2, 36) and
:meth:`ItemKernel.sample` (each item drawn given its class, from those
graphs evaluated); :meth:`ItemKernel.latent_shift` says how the model's
latent block shifts the kernel's linear predictor.

Categorical kernels (binary, nominal, ordinal) only differ in how they turn
parameters into a class x item x category log-probability table; the data
enter through a fixed one-hot matrix. The registry :data:`KERNELS` maps the
item type string to its kernel (StepMix-style), and a model with mixed item
types simply sums kernels.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import ordered as ordered_transform

from .._random import categorical
from ..data import EncodedData, ItemSpec
from ..parameters import create, register
from ..priors import PriorSet

#: padding value for impossible categories (exp(-1e4) == 0 in float64)
_IMPOSSIBLE = -1.0e4

LINKS = ("logit", "probit")


@dataclass(frozen=True)
class LinkBoundary:
    """Where ML reports a link-scale item parameter at the boundary (a category probability of 0 or 1).

    ``latent``: (lower, upper) of an intercept, threshold or class location
    on the latent-response scale (eq. 1): past it F(x) or 1 - F(x) is below
    ~3e-7. ``log_gap``: (lower, upper) of an ordinal threshold log-gap: below
    the lower end the category between two thresholds has a probability below
    max f x gap in that class. Parameters past these are held there, reported
    at the boundary with SE NaN and left out of the information matrix
    (:meth:`bayesmix.inference.objective.FlatModel.at_bound`).
    """

    latent: tuple[float, float]
    log_gap: tuple[float, float]


#: per link (the kernels' ``link``). Logit: Mplus' +-15 (expit(-15) = 3.1e-7) for every logit-scale
#: parameter. Probit: Phi(-5) = 2.9e-7, the probability of a logit at -15; a threshold gap below 1e-4
#: (a category probability below 0.4 x 1e-4 = 4e-5 in that class; measured on psych bfi's 25 items, GoM
#: K = 2: gaps run to 7e-5 and first thresholds to -5 where the likelihood is flat) or above 10 (wider
#: than the whole +-5 range). Probit values are ~1.7 x smaller than logits for the same item, so the
#: logit rules would leave probit boundary solutions unflagged and the optimizer drifting along them.
LINK_BOUNDARIES = {
    "logit": LinkBoundary(latent=(-15.0, 15.0), log_gap=(-15.0, 15.0)),
    "probit": LinkBoundary(latent=(-5.0, 5.0), log_gap=(float(np.log(1e-4)), float(np.log(10.0)))),
}


def _normal_logcdf(x):
    """log Phi(x), accurate in float64 over the whole real line.

    Same formula as ``pymc.distributions.dist_math.normal_lcdf``, which computes
    ``pt.sqrt(2.0)`` from a float32 constant (PyTensor autocasts exactly
    representable Python floats to float32) and so carries a relative error of
    up to ~1e-7; ``np.sqrt(2.0)`` keeps the constant in float64.
    """
    z = x / np.sqrt(2.0)
    return pt.switch(
        pt.lt(x, -1.0),
        pt.log(pt.erfcx(-z) / 2.0) - pt.sqr(x) / 2.0,
        pt.log1p(-pt.erfc(z) / 2.0),
    )


def log_cdf(x, link: str):
    """log F(x) for the link's latent-response distribution (eq. 1)."""
    if link == "logit":
        return -pt.softplus(-x)
    return _normal_logcdf(x)


def cdf(x, link: str):
    if link == "logit":
        return pt.sigmoid(x)
    return 0.5 * pt.erfc(-x / np.sqrt(2.0))


def _class_item_matrix(name, names, item_dim, priors, ordered_item, location, fixed=None, group=None, **meta):
    """A (class, item) parameter matrix, optionally ordered across classes for one item.

    ``group``: the coord of a class variable the matrix also varies over (the between class
    D of eq. 22), a leading axis: dims ``(group, class, item)``.

    Without ordering this is the plain random variable ``name``. With
    ``ordered_item`` the item's column is a separate variable ``name_ordered``
    with PyMC's ordered transform (increasing over classes), the other
    columns ``name_unordered``, and ``name`` is their deterministic join; this
    identifies the class labels (label switching).
    """
    dims = ("class", item_dim) if group is None else (group, "class", item_dim)
    meta = {"class_axis": 0 if group is None else 1, "class_dim": "class", **meta}
    if ordered_item is None:
        return create(priors, name, dims=dims, fixed=fixed, prior=location, **meta)
    if group is not None:
        raise ValueError(f"ordered={ordered_item!r} and between_specific={[name]!r} cannot be combined; "
                         f"drop {name!r} from between_specific or drop ordered=.")
    if fixed is not None:
        raise ValueError(f"ordered= and fixed values of {name!r} cannot be combined; the fixed values "
                         "already identify the classes: drop ordered=.")
    model = pm.modelcontext(None)
    n_classes = len(model.coords["class"])
    j = names.index(ordered_item)
    others = [i for i, n in enumerate(names) if n != ordered_item]
    dist, kw = priors.spec(name, **{k: np.asarray(v)[j] if np.ndim(v) else v for k, v in location.items()})
    if dist == "Normal":  # spread prior means so the default initial point is ordered
        kw["mu"] = kw["mu"] + np.linspace(-1.0, 1.0, n_classes) * kw.get("sigma", 1.0) / 2
    column = getattr(pm, dist)(f"{name}_ordered", dims="class", transform=ordered_transform, **kw)
    register(f"{name}_ordered", bounded=meta.get("bounded", True))
    cols = [None] * len(names)
    cols[j] = column
    if others:
        unordered_dim = f"{item_dim}_unordered"
        model.add_coord(unordered_dim, [names[i] for i in others])
        loc = {k: np.asarray(v)[others] if np.ndim(v) else v for k, v in location.items()}
        dist_r, kw_r = priors.spec(name, **loc)
        rest = getattr(pm, dist_r)(f"{name}_unordered", dims=("class", unordered_dim), **kw_r)
        register(f"{name}_unordered", bounded=meta.get("bounded", True), boundary=meta.get("boundary"))
        for pos, i in enumerate(others):
            cols[i] = rest[:, pos]
    register(name, **meta)
    return pm.Deterministic(name, pt.stack(cols, axis=1), dims=dims)


def _split_ordered(name, values, names, ordered_item):
    """Map a start value of ``name`` to the free variables of :func:`_class_item_matrix`."""
    if ordered_item is None:
        return {name: values}
    j = names.index(ordered_item)
    out = {f"{name}_ordered": np.sort(values[:, j])}
    others = [i for i in range(len(names)) if i != j]
    if others:
        out[f"{name}_unordered"] = values[:, others]
    return out


class ItemKernel:
    """Base class: one block of items of the same type.

    Subclasses implement ``build`` (parameters), ``loglik_by_item`` and
    optionally a faster ``loglik`` without shift, ``random_start``,
    ``coords`` and ``profile_rows``.
    """

    kind: str = ""
    #: responses are category codes (replicates map them to the items' categories); else values
    discrete: bool = False
    #: parameters that also vary by a group class (the between class D of eq. 22): :meth:`vary_by`
    group_dim: str | None = None
    n_groups: int = 0
    grouped: frozenset = frozenset()

    def __init__(self, items: list[ItemSpec], data: EncodedData, link: str = "logit"):
        self.items = items
        self.names = [it.name for it in items]
        self.link = link
        self.params: dict[str, pt.TensorVariable] = {}
        self.class_axis: dict[str, int] = {}  # parameter -> axis holding classes
        self.fixed: dict = {}

    @property
    def boundary(self) -> LinkBoundary:
        """The link's boundary rule (:data:`LINK_BOUNDARIES`) for this kernel's link-scale parameters."""
        return LINK_BOUNDARIES[self.link]

    def boundary_masks(self, values: dict) -> dict[str, np.ndarray]:
        """Elements at the boundary that the elementwise rule (:attr:`boundary`) cannot see.

        ``values``: the model's free random variables on their natural scale;
        returns parameter name -> boolean mask of its shape (default: none).
        """
        return {}

    # ------------------------------------------------------------ parameters by a group class (eq. 22)
    def vary_by(self, dim: str, n_groups: int, names) -> None:
        """Give the parameters ``names`` (those this kernel has) a leading axis ``dim`` of ``n_groups``.

        Called before :meth:`build`: item parameters that depend on the between class D_j
        as well as on C_ij (eq. 22). Such a parameter has dims ``(dim, class, ...)``, so the
        kernel's log-likelihood gets a leading group axis, (..., M, N, K) -- what
        :class:`~bayesmix.structure.NestedClasses` with ``by_between=True`` takes. Every
        kernel formula broadcasts over leading axes, so nothing else changes.
        """
        self.group_dim, self.n_groups, self.grouped = dim, int(n_groups), frozenset(names)

    def _group(self, name: str, dims, meta: dict | None = None):
        """(dims, meta) of parameter ``name``: with the group axis in front when it varies by the group."""
        dims = (dims,) if isinstance(dims, str) else tuple(dims)
        meta = dict(meta or {})
        if name not in self.grouped:
            return dims, meta
        if meta.get("class_axis") is not None:
            meta["class_axis"] += 1
        return (self.group_dim, *dims), meta

    def parameter_names(self) -> list[str]:
        """Names of the parameters :meth:`build` creates (what ``between_specific`` may name)."""
        return []

    def grouped_parameters(self) -> list[str]:
        """The kernel's parameters that vary by the group class (after :meth:`build`)."""
        return [name for name in self.grouped if name in self.params]

    def start(self, rng: np.random.Generator, n_classes: int) -> dict[str, np.ndarray]:
        """:meth:`random_start`, with an independent draw per group for the grouped parameters."""
        first = self.random_start(rng, n_classes)
        if not self.grouped:
            return first
        draws = [first] + [self.random_start(rng, n_classes) for _ in range(self.n_groups - 1)]
        return {name: np.stack([d[name] for d in draws]) if name in self.grouped else value
                for name, value in first.items()}

    def _joint_classes(self, value, core_ndim: int):
        """A graph with the class axis first, (K, ...) or (M, K, ...), as (M * K, ...): class d * K + c.

        Posterior predictive simulation with group-specific parameters draws the joint class
        (D_j, C_ij) of each unit (:meth:`bayesmix.structure.NestedClasses.simulate_classes`).
        """
        if not self.grouped:
            return value
        value = pt.as_tensor_variable(value)
        if value.ndim == core_ndim:
            value = pt.expand_dims(value, 0)
        value = value + pt.zeros((self.n_groups,) + (1,) * core_ndim)
        return value.reshape((-1, *[value.shape[i] for i in range(2, value.ndim)]))

    def _columns(self, data: EncodedData) -> list[int]:
        """Positions of this kernel's items among the data's items of its kind."""
        names = data.item_names(self.kind)
        return [names.index(n) for n in self.names]

    def _options(self) -> dict:
        return {}

    def bind(self, items: list[ItemSpec], data: EncodedData | None = None) -> ItemKernel:
        """A kernel over other item columns (e.g. the same items at another time) sharing these parameters.

        Items are matched by position; their types and category counts must agree.
        """
        if len(items) != len(self.items):
            raise ValueError(f"a {self.kind} kernel of {len(self.items)} items cannot measure "
                             f"{len(items)} items {[it.name for it in items]} with the same parameters.")
        for mine, other in zip(self.items, items):
            if other.kind != mine.kind or other.n_categories != mine.n_categories:
                raise ValueError(f"item {other.name!r} ({other.kind}, {other.n_categories} codes) cannot share "
                                 f"the parameters of {mine.name!r} ({mine.kind}, {mine.n_categories} codes): "
                                 "measurement invariance needs the same type and codes.")
        other = type(self)(items, data if data is not None else self._data, self.link, **self._options())
        other.params, other.class_axis, other.fixed = self.params, self.class_axis, self.fixed
        other.group_dim, other.n_groups, other.grouped = self.group_dim, self.n_groups, self.grouped
        other.ordered = getattr(self, "ordered", None)
        return other

    def build(self, priors: PriorSet, ordered_item: str | None = None, fixed: dict | None = None) -> None:
        raise NotImplementedError

    def loglik_by_item(self, params: dict | None = None, shift=None):
        """(..., N, I, K) class-conditional log-likelihood of each item response (0 if missing)."""
        raise NotImplementedError

    def loglik(self, params: dict | None = None, shift=None):
        """(..., N, K) class-conditional log-likelihood of each unit's responses to these items."""
        return self.loglik_by_item(params, shift).sum(axis=-2)

    def random_start(self, rng: np.random.Generator, n_classes: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def coords(self) -> dict[str, list]:
        raise NotImplementedError

    def pattern_key(self) -> np.ndarray:
        """(N, m) numbers equal for two units exactly when this kernel sees the same data (no NaN)."""
        raise NotImplementedError

    # ------------------------------------------------------------ data views
    @property
    def observed(self) -> np.ndarray:
        """(N, I) 1.0 where a response to the kernel's item is observed, 0.0 where it is missing."""
        raise NotImplementedError(f"{type(self).__name__} does not report its observed cells")

    def restrict(self, names: Sequence[str]) -> ItemKernel:
        """A copy sharing these parameters whose log-likelihood sums only the items ``names``.

        The other items' data are blanked (missing: they add 0); the copy keeps every item
        and its parameters (time-specific measurement of an LTA: one kernel holds every
        time's items, each time point's emission uses the view of its items).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot be restricted to a subset of its items")

    def tables(self, shift=None):
        """(log P(y_i = c | k) (..., K, I, C), one-hot responses (N, I, C)) for the table path, or None.

        The form :func:`bayesmix.marginal.item.loglik_from_tables` and the pattern density
        need at a ``shift`` shared by all units (:meth:`CategoricalKernel.node_table`);
        None for kernels whose responses are not categories.
        """
        return

    # ------------------------------------------------------------ closed-form EM (inference.em)
    #: :class:`bayesmix.inference.em.CategoricalEM` can update this kernel (:meth:`em_log_table`, :meth:`em_values`)
    em_supported: bool = False

    def em_log_table(self, values: dict, n_classes: int) -> np.ndarray:
        """Natural-scale parameter values -> log P(y_i = c | k), (K, I, C) (impossible categories: any value)."""
        raise NotImplementedError(f"closed-form EM does not update {type(self).__name__}")

    def em_values(self, probs: np.ndarray, p_min: float) -> dict:
        """P(y_i = c | k) (K, I, C) -> natural-scale values of the kernel's parameters (probabilities >= p_min)."""
        raise NotImplementedError(f"closed-form EM does not update {type(self).__name__}")

    # ------------------------------------------------------------ simulation (posterior predictive)
    def latent_shift(self, latent, z):
        """The shift of this kernel's linear predictor by the model's latent block at z (None: not shifted).

        Default: the block's :meth:`~bayesmix.latent.LatentEffects.item_shift` of these items
        (FMA's lambda_i eta_j, eq. 36); the regression kernel adds its random effects (eq. 19).
        """
        return latent.item_shift(self.names, z)

    def simulation_graphs(self, shift=None) -> dict:
        """name -> graph (of the parameters and ``shift``) that :meth:`sample` draws from."""
        raise NotImplementedError(f"no simulation for the kernel {type(self).__name__}")

    def sample(self, rng: np.random.Generator, graphs: dict, classes: np.ndarray,
               columns: Sequence[int]) -> np.ndarray:
        """Responses (N, len(columns)) to the kernel's items ``columns``, each given its class (N, len(columns)).

        ``graphs``: :meth:`simulation_graphs` evaluated at one parameter draw.
        """
        raise NotImplementedError(f"no simulation for the kernel {type(self).__name__}")

    def _fixed_start(self, start: dict) -> dict:
        """A random start in full: :meth:`MixtureModel.random_start` keeps the free values of fixed or
        tied parameters (the factory's and the user's constraints, :func:`bayesmix.parameters.free_start`)."""
        return dict(start)


def sample_normal(rng: np.random.Generator, graphs: dict, classes: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """Normal responses mean + sd * N(0, 1) from (N|1, I, K) ``mean`` and ``sd`` graphs, given classes (N, I')."""
    n, width = classes.shape
    shape = (n, width, graphs["mean"].shape[-1])
    mean, sd = (np.broadcast_to(graphs[part][:, columns], shape) for part in ("mean", "sd"))
    mean = np.take_along_axis(mean, classes[:, :, None], axis=2)
    sd = np.take_along_axis(sd, classes[:, :, None], axis=2)
    return mean[..., 0] + sd[..., 0] * rng.standard_normal((n, width))


class CategoricalKernel(ItemKernel):
    """Items with a finite set of categories: ll = onehot @ log P(y=c | class)."""

    discrete = True

    def __init__(self, items, data, link="logit"):
        super().__init__(items, data, link)
        self._data = data
        codes = data.codes[self.kind][:, self._columns(data)]
        self.n_categories = np.array([it.n_categories for it in items])
        self.max_categories = int(self.n_categories.max())
        n, n_items = codes.shape
        onehot = np.zeros((n, n_items, self.max_categories))
        rows, cols = np.nonzero(codes >= 0)
        onehot[rows, cols, codes[rows, cols]] = 1.0
        self.onehot3 = onehot
        self.onehot = onehot.reshape(n, n_items * self.max_categories)
        self.valid = np.arange(self.max_categories)[None, :] < self.n_categories[:, None]

    def log_prob_table(self, params: dict | None = None, shift=None):
        """(..., K, I, C) log-probabilities; impossible categories hold 0.

        With ``shift`` (broadcastable to (..., N, I, K)): (..., N, I, K, C).
        """
        raise NotImplementedError

    def node_table(self, params=None, shift=None):
        """(..., K, I, C) log-probabilities for a shift shared by all units, (..., 1, I, K or 1), or none.

        At a quadrature node of a person factor (eta_q the same for everyone)
        P(y_i = c | C = k, eta_q) depends on (i, c, k, q) only, so the units'
        log-likelihoods are one-hot sums over this table (:meth:`loglik`,
        :func:`bayesmix.marginal.item.loglik_from_tables`).
        """
        if shift is None:
            return self.log_prob_table(params)
        table = self.log_prob_table(params, shift)[..., 0, :, :, :]  # (..., I, K, C)
        return pt.moveaxis(table, -2, -3)

    def loglik(self, params=None, shift=None):
        if shift is not None and not unit_shared(shift):
            return super().loglik(params, shift)
        table = self.node_table(params, shift)
        flat = table.reshape((*table.shape[:-2], -1))  # (..., K, I*C)
        return pt.matmul(pt.as_tensor(self.onehot), pt.swapaxes(flat, -1, -2))

    def loglik_by_item(self, params=None, shift=None):
        onehot = pt.as_tensor(self.onehot3)  # (N, I, C)
        if shift is None:
            table = self.log_prob_table(params)  # (..., K, I, C)
            table = pt.expand_dims(pt.moveaxis(table, -3, -2), -4)  # (..., 1, I, K, C)
        else:
            table = self.log_prob_table(params, shift)  # (..., N, I, K, C)
        return (onehot[:, :, None, :] * table).sum(axis=-1)

    def probability_table(self, params=None):
        return pt.exp(self.log_prob_table(params)) * self.valid

    def pattern_key(self):
        return self.onehot

    @property
    def observed(self):
        return self.onehot3.sum(axis=-1)

    def restrict(self, names):
        keep = np.isin(self.names, list(names)).astype(float)
        view = copy.copy(self)
        view.onehot3 = self.onehot3 * keep[None, :, None]
        view.onehot = view.onehot3.reshape(self.onehot.shape)
        return view

    def tables(self, shift=None):
        return self.node_table(None, shift), self.onehot3

    def simulation_graphs(self, shift=None):
        """``table``: P(y_i = c | class), (1, I, K, C), or (N|1, I, K, C) with a shift."""
        if shift is None:  # (K, I, C) -> (1, I, K, C); group-specific: joint classes (M * K, I, C)
            return {"table": pt.moveaxis(self._joint_classes(self.probability_table(), 3), 0, 1)[None]}
        return {"table": pt.exp(self.log_prob_table(None, shift)) * self.valid[:, None, :]}

    def sample(self, rng, graphs, classes, columns):
        """Category codes drawn from P(y_i = c | class) (eq. 1)."""
        table = graphs["table"][:, columns]
        table = np.broadcast_to(table, (classes.shape[0], *table.shape[1:]))
        probs = np.take_along_axis(table, classes[:, :, None, None], axis=2)[:, :, 0, :]  # (N, I, C)
        return categorical(rng, probs)

    def profile_rows(self, params=None):
        """Class profile rows: P(y_i = category | class), (..., K, R) and (item, category) labels."""
        table = self.probability_table(params)  # (..., K, I, C)
        items, cats = np.nonzero(self.valid)
        rows = [(self.names[i], str(self.items[i].categories[c])) for i, c in zip(items, cats)]
        return table[..., items, cats], rows


def unit_shared(shift) -> bool:
    """A shift (..., N or 1, I, K or 1) whose unit axis is a static 1 (a node shared by all units)."""
    shift = pt.as_tensor_variable(shift)
    return shift.ndim >= 3 and shift.type.broadcastable[-3]


def _shifted(param, shift):
    """(..., K, I) parameter -> (..., N, I, K) with the shift added (shift broadcastable to (..., N, I, K))."""
    return pt.expand_dims(pt.swapaxes(param, -1, -2), -3) + shift


class BinaryKernel(CategoricalKernel):
    """Binary items: P(y = 2nd code | c) = F(beta_ci + shift), F logistic or normal."""

    kind = "binary"

    def parameter_names(self):
        return ["binary_logit"]

    def coords(self):
        return {"binary_item": self.names}

    def build(self, priors, ordered_item=None, fixed=None):
        self.ordered = ordered_item if ordered_item in self.names else None
        self.fixed = {k: v for k, v in (fixed or {}).items() if k == "binary_logit"}
        self.params["binary_logit"] = _class_item_matrix(
            "binary_logit", self.names, "binary_item", priors, self.ordered, {},
            fixed=self.fixed.get("binary_logit"), group=self.group_dim if "binary_logit" in self.grouped else None,
            boundary=self.boundary.latent,
        )
        self.class_axis["binary_logit"] = 1 if "binary_logit" in self.grouped else 0

    def log_prob_table(self, params=None, shift=None):
        beta = (params or self.params)["binary_logit"]
        if shift is not None:
            beta = _shifted(beta, shift)
        return pt.stack([log_cdf(-beta, self.link), log_cdf(beta, self.link)], axis=-1)

    def profile_rows(self, params=None):
        """P(y_i = second code | class) for each binary item (Table 1 of the paper)."""
        table = self.probability_table(params)
        rows = [(it.name, str(it.categories[1])) for it in self.items]
        return table[..., :, 1], rows

    em_supported = True

    def em_log_table(self, values, n_classes):
        from scipy.special import log_ndtr
        beta = np.asarray(values["binary_logit"], dtype=float)  # one binary kernel holds every binary item
        if self.link == "probit":
            return np.stack([log_ndtr(-beta), log_ndtr(beta)], axis=-1)
        return np.stack([-np.logaddexp(0.0, beta), -np.logaddexp(0.0, -beta)], axis=-1)

    def em_values(self, probs, p_min):
        from scipy.stats import norm
        p1 = np.clip(probs[..., 1], p_min, 1.0 - p_min)
        return {"binary_logit": norm.ppf(p1) if self.link == "probit" else np.log(p1) - np.log1p(-p1)}

    def random_start(self, rng, n_classes):
        start = rng.uniform(-2.0, 2.0, size=(n_classes, len(self.items)))
        return self._fixed_start(_split_ordered("binary_logit", start, self.names, self.ordered))


class NominalKernel(CategoricalKernel):
    """Unordered categories: multinomial logit, first category the reference."""

    kind = "nominal"

    def parameter_names(self):
        return ["nominal_logit"]

    def __init__(self, items, data, link="logit"):
        super().__init__(items, data, link)
        self.param_item = np.concatenate([np.full(c - 1, i) for i, c in enumerate(self.n_categories)])
        self.param_category = np.concatenate([np.arange(1, c) for c in self.n_categories])

    def coords(self):
        labels = [f"{self.names[i]}[{self.items[i].categories[c]}]" for i, c in zip(self.param_item, self.param_category)]
        return {"nominal_item": self.names, "nominal_parameter": labels}

    def build(self, priors, ordered_item=None, fixed=None):
        self.fixed = {k: v for k, v in (fixed or {}).items() if k == "nominal_logit"}
        dims, meta = self._group("nominal_logit", ("class", "nominal_parameter"), {"class_axis": 0, "class_dim": "class"})
        self.params["nominal_logit"] = create(priors, "nominal_logit", dims=dims,
                                              fixed=self.fixed.get("nominal_logit"), **meta)
        self.class_axis["nominal_logit"] = meta["class_axis"]

    def log_prob_table(self, params=None, shift=None):
        if shift is not None:
            raise ValueError("nominal items have no single latent response, so they take no shift of the "
                             "linear predictor; declare the item 'ordinal' or 'binary'.")
        flat = (params or self.params)["nominal_logit"]  # (..., K, P)
        shape = (*flat.shape[:-1], len(self.items), self.max_categories)
        pad = np.where(self.valid, 0.0, _IMPOSSIBLE)
        logits = pt.zeros(shape) + pad
        logits = pt.set_subtensor(logits[..., self.param_item, self.param_category], flat)
        return pt.where(self.valid, pt.special.log_softmax(logits, axis=-1), 0.0)

    em_supported = True

    def em_log_table(self, values, n_classes):
        flat = np.asarray(values["nominal_logit"], dtype=float)
        logits = np.where(self.valid, 0.0, -np.inf) + np.zeros((n_classes, *self.valid.shape))
        logits[:, self.param_item, self.param_category] = flat
        # NumPy log-softmax: scipy.special.log_softmax imports JAX when it is installed (+100 MB, ~1 s)
        top = logits.max(axis=-1, keepdims=True)
        shifted = logits - np.where(np.isfinite(top), top, 0.0)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    def em_values(self, probs, p_min):
        q = np.clip(probs, p_min, None)
        return {"nominal_logit": (np.log(q[:, self.param_item, self.param_category])
                                  - np.log(q[:, self.param_item, 0]))}

    def random_start(self, rng, n_classes):
        return self._fixed_start({"nominal_logit": rng.uniform(-2.0, 2.0, size=(n_classes, len(self.param_item)))})


class OrdinalKernel(CategoricalKernel):
    """Ordered categories with class-specific cumulative thresholds (eq. 1).

    P(y <= k | c) = F(tau_ck - shift); tau_c1 is free and later thresholds
    add positive gaps exp(log_gap), so thresholds stay ordered without an
    initial-value hack.
    """

    kind = "ordinal"

    def parameter_names(self):
        return ["ordinal_first_threshold"] + (["ordinal_log_gap"] if len(self.gap_item) else [])

    def __init__(self, items, data, link="logit"):
        super().__init__(items, data, link)
        gaps = [(i, k) for i, c in enumerate(self.n_categories) for k in range(1, c - 1)]
        self.gap_item = np.array([g[0] for g in gaps], dtype=int)
        self.gap_position = np.array([g[1] for g in gaps], dtype=int)
        # threshold (i, k) = first_i + sum of gaps (i, 1..k)
        n_thr = len(items) * (self.max_categories - 1)
        cum = np.zeros((len(items), self.max_categories - 1, len(gaps)))
        for g, (i, k) in enumerate(gaps):
            cum[i, k:, g] = 1.0
        self.gap_cumulative = cum.reshape(n_thr, len(gaps))

    def coords(self):
        labels = [f"{self.names[i]}[{k + 1}]" for i, k in zip(self.gap_item, self.gap_position)]
        return {"ordinal_item": self.names, "ordinal_gap": labels}

    def build(self, priors, ordered_item=None, fixed=None):
        self.fixed = {k: v for k, v in (fixed or {}).items() if k.startswith("ordinal_")}
        meta = {"class_axis": 0, "class_dim": "class"}
        dims, meta_t = self._group("ordinal_first_threshold", ("class", "ordinal_item"),
                                   {**meta, "boundary": self.boundary.latent})
        self.params["ordinal_first_threshold"] = create(
            priors, "ordinal_first_threshold", dims=dims, fixed=self.fixed.get("ordinal_first_threshold"), **meta_t)
        self.class_axis["ordinal_first_threshold"] = meta_t["class_axis"]
        if len(self.gap_item):
            dims, meta_g = self._group("ordinal_log_gap", ("class", "ordinal_gap"),
                                       {**meta, "boundary": self.boundary.log_gap})
            self.params["ordinal_log_gap"] = create(priors, "ordinal_log_gap", dims=dims,
                                                    fixed=self.fixed.get("ordinal_log_gap"), **meta_g)
            self.class_axis["ordinal_log_gap"] = meta_g["class_axis"]

    def thresholds(self, params=None):
        """(..., K, I, C-1) thresholds; unused slots are +large (F = 1)."""
        p = params or self.params
        first = p["ordinal_first_threshold"]
        n_items, n_thr = len(self.items), self.max_categories - 1
        tau = pt.repeat(first[..., :, None], n_thr, axis=-1)  # (..., K, I, C-1)
        if len(self.gap_item):
            add = pt.matmul(pt.exp(p["ordinal_log_gap"]), self.gap_cumulative.T)  # (..., K, I*(C-1))
            tau = tau + add.reshape((*add.shape[:-1], n_items, n_thr))
        used = np.arange(n_thr)[None, :] < (self.n_categories - 1)[:, None]
        return pt.where(used, tau, -_IMPOSSIBLE)

    def log_prob_table(self, params=None, shift=None):
        tau = self.thresholds(params)  # (..., K, I, C-1)
        valid = self.valid
        if shift is not None:
            tau = pt.expand_dims(pt.moveaxis(tau, -3, -2), -4) - pt.as_tensor(shift)[..., None]  # (..., N, I, K, C-1)
            valid = self.valid[:, None, :]  # (I, 1, C)
        cum = cdf(tau, self.link)
        zeros = pt.zeros_like(cum[..., :1])
        upper = pt.concatenate([cum, zeros + 1.0], axis=-1)
        lower = pt.concatenate([zeros, cum], axis=-1)
        prob = pt.maximum(upper - lower, 1e-300)
        return pt.where(valid, pt.log(prob), 0.0)

    # Closed-form EM: class-specific thresholds on C categories are C - 1 free values per class and
    # item, a one-to-one map of the category probabilities P(y_i = c | k) (the nominal model
    # reparameterized), so the M-step is the categorical one and the thresholds follow from the
    # cumulative probabilities, tau_ck = F^-1(P(y <= c | k)) (eq. 1).
    em_supported = True

    def _em_thresholds(self, values, n_classes) -> np.ndarray:
        first = np.asarray(values["ordinal_first_threshold"], dtype=float).reshape(n_classes, len(self.items))
        n_thr = self.max_categories - 1
        tau = np.repeat(first[:, :, None], n_thr, axis=-1)
        if len(self.gap_item):
            gaps = np.asarray(values["ordinal_log_gap"], dtype=float).reshape(n_classes, len(self.gap_item))
            tau = tau + (np.exp(gaps) @ self.gap_cumulative.T).reshape(n_classes, len(self.items), n_thr)
        return tau

    def boundary_masks(self, values):
        """Log-gaps that open a category lying wholly past the latent boundary (eq. 1), so flat.

        The gap between thresholds tau_k and tau_k+1 of a class: when tau_k is
        beyond the upper end of :attr:`boundary` (no response above category
        k) or tau_k+1 below its lower end (none up to category k+1), moving the
        gap changes no probability above ~3e-7 in that class -- the
        thresholds are a sum of the first one and the gaps, so the elementwise
        rule misses them (measured: a GoM probit fit with tau_2 = +290 left
        the next gap not identified). Only for unconstrained, ungrouped thresholds.
        """
        if not len(self.gap_item) or self.grouped or not {"ordinal_first_threshold", "ordinal_log_gap"} <= set(values):
            return {}
        n_classes = np.shape(values["ordinal_first_threshold"])[0]
        tau = self._em_thresholds(values, n_classes)  # (K, I, C-1)
        lo, hi = self.boundary.latent
        below = tau[:, self.gap_item, self.gap_position - 1]
        above = tau[:, self.gap_item, self.gap_position]
        return {"ordinal_log_gap": (below >= hi) | (above <= lo)}

    def em_log_table(self, values, n_classes):
        from scipy.special import expit, ndtr
        tau = self._em_thresholds(values, n_classes)  # (K, I, C-1)
        used = np.arange(tau.shape[-1])[None, :] < (self.n_categories - 1)[:, None]
        cum = np.where(used, expit(tau) if self.link == "logit" else ndtr(tau), 1.0)
        upper = np.concatenate([cum, np.ones_like(cum[..., :1])], axis=-1)
        lower = np.concatenate([np.zeros_like(cum[..., :1]), cum], axis=-1)
        return np.log(np.maximum(upper - lower, 1e-300))

    def em_values(self, probs, p_min):
        from scipy.special import logit, ndtri
        q = np.where(self.valid, np.clip(probs, p_min, None), 0.0)
        q = q / q.sum(axis=-1, keepdims=True)
        cum = np.clip(np.cumsum(q, axis=-1)[..., :-1], p_min, 1.0 - p_min)  # P(y <= c | k), c < C
        tau = logit(cum) if self.link == "logit" else ndtri(cum)  # (K, I, C-1); unused slots ignored below
        out = {"ordinal_first_threshold": tau[:, :, 0]}
        if len(self.gap_item):
            step = tau[:, self.gap_item, self.gap_position] - tau[:, self.gap_item, self.gap_position - 1]
            out["ordinal_log_gap"] = np.log(np.maximum(step, 1e-300))
        return out

    def random_start(self, rng, n_classes):
        out = {"ordinal_first_threshold": rng.uniform(-2.0, 0.0, size=(n_classes, len(self.items)))}
        if len(self.gap_item):
            out["ordinal_log_gap"] = rng.uniform(-0.5, 0.5, size=(n_classes, len(self.gap_item)))
        return self._fixed_start(out)


class RestrictedOrdinalKernel(OrdinalKernel):
    """Ordered categories with proportional odds: one threshold set per item and a class location (eq. 1).

    P(y_i <= k | c) = F(tau_ik - mu_ci - shift), with tau_i1 = 0 and later
    thresholds adding positive gaps exp(log_gap_ik) shared by all classes;
    the class location mu_ci (``ordinal_location``, dims ``(class,
    ordinal_item)``) moves the whole response distribution of item i up
    (mu > 0) or down. Per item: K locations and C - 2 gaps, against K (C - 1)
    thresholds of :class:`OrdinalKernel` -- the restricted ordinal LCA of
    rating-scale items (Latent GOLD's ordinal indicators; the cumulative-logit
    form with ``link="logit"``, ordered probit with ``"probit"``). With two
    categories it is the binary kernel (mu = -tau). Declared per item as
    ``item_types="ordinal-restricted"``.
    """

    variant = "restricted"

    def parameter_names(self):
        return ["ordinal_location"] + (["ordinal_restricted_log_gap"] if len(self.gap_item) else [])

    em_supported = False  # shared thresholds: no closed-form M-step

    def boundary_masks(self, values):  # its gaps are shared by the classes: the elementwise rule only
        return {}

    def coords(self):  # its own dims and names: restricted and unrestricted ordinal items can be mixed
        labels = [f"{self.names[i]}[{k + 1}]" for i, k in zip(self.gap_item, self.gap_position)]
        return {"ordinal_restricted_item": self.names, "ordinal_restricted_gap": labels}

    def build(self, priors, ordered_item=None, fixed=None):
        self.fixed = {k: v for k, v in (fixed or {}).items() if k.startswith("ordinal_")}
        dims, meta = self._group("ordinal_location", ("class", "ordinal_restricted_item"),
                                 {"class_axis": 0, "class_dim": "class", "boundary": self.boundary.latent})
        self.params["ordinal_location"] = create(
            priors, "ordinal_location", dims=dims, fixed=self.fixed.get("ordinal_location"), **meta)
        self.class_axis["ordinal_location"] = meta["class_axis"]
        if len(self.gap_item):
            dims, meta = self._group("ordinal_restricted_log_gap", ("ordinal_restricted_gap",),
                                     {"boundary": self.boundary.log_gap})
            self.params["ordinal_restricted_log_gap"] = create(
                priors, "ordinal_restricted_log_gap", dims=dims,
                fixed=self.fixed.get("ordinal_restricted_log_gap"), **meta)

    def thresholds(self, params=None):
        """(..., K, I, C-1) class thresholds tau_ik - mu_ci; unused slots are +large (F = 1)."""
        p = params or self.params
        location = p["ordinal_location"]  # (..., K, I)
        n_items, n_thr = len(self.items), self.max_categories - 1
        tau = pt.zeros((n_items, n_thr))
        if len(self.gap_item):
            add = pt.matmul(pt.exp(p["ordinal_restricted_log_gap"]), self.gap_cumulative.T)  # (..., I*(C-1))
            tau = tau + add.reshape((*add.shape[:-1], n_items, n_thr))
        tau = pt.expand_dims(tau, -3) - location[..., None]  # (..., K, I, C-1), or (..., M, K, I, C-1) by group
        used = np.arange(n_thr)[None, :] < (self.n_categories - 1)[:, None]
        return pt.where(used, tau, -_IMPOSSIBLE)

    def random_start(self, rng, n_classes):
        out = {"ordinal_location": rng.uniform(-1.5, 1.5, size=(n_classes, len(self.items)))}
        if len(self.gap_item):
            out["ordinal_restricted_log_gap"] = rng.uniform(-0.5, 0.5, size=len(self.gap_item))
        return self._fixed_start(out)


class NormalKernel(ItemKernel):
    """Continuous items, normal within class (eq. 2 with y* = y).

    ll[n, c] = sum_i m_ni log N(y_ni | mu_ci, sigma_ci), written as three
    matrix products so it broadcasts over leading parameter axes.
    """

    kind = "continuous"

    def parameter_names(self):
        return ["normal_mean", "normal_sd"]

    def __init__(self, items, data, link="logit", equal_variances: bool = False):
        super().__init__(items, data, link)
        self._data = data
        values = data.values[:, self._columns(data)]
        self.mask = np.isfinite(values).astype(float)
        y = np.where(self.mask > 0, values, 0.0)
        self.y, self.y2 = y, y**2
        self.item_mean = np.nanmean(values, axis=0)
        self.item_sd = np.nanstd(values, axis=0) + 1e-12
        self.equal_variances = equal_variances

    def _options(self):
        return {"equal_variances": self.equal_variances}

    def pattern_key(self):
        return np.hstack([self.mask, self.y])

    @property
    def observed(self):
        return self.mask

    def restrict(self, names):
        keep = np.isin(self.names, list(names)).astype(float)
        view = copy.copy(self)
        view.mask, view.y, view.y2 = self.mask * keep, self.y * keep, self.y2 * keep
        return view

    def coords(self):
        return {"continuous_item": self.names}

    def build(self, priors, ordered_item=None, fixed=None):
        self.ordered = ordered_item if ordered_item in self.names else None
        self.fixed = {k: v for k, v in (fixed or {}).items() if k.startswith("normal_")}
        location = {"mu": self.item_mean, "sigma": 2 * self.item_sd}
        mean = _class_item_matrix("normal_mean", self.names, "continuous_item", priors, self.ordered, location,
                                  fixed=self.fixed.get("normal_mean"), bounded=False,
                                  feature_scale=self.item_sd,
                                  group=self.group_dim if "normal_mean" in self.grouped else None)
        sd_dims = "continuous_item" if self.equal_variances else ("class", "continuous_item")
        sd_meta = {} if self.equal_variances else {"class_axis": 0, "class_dim": "class"}
        sd_dims, sd_meta = self._group("normal_sd", sd_dims, sd_meta)
        sd = create(priors, "normal_sd", dims=sd_dims, fixed=self.fixed.get("normal_sd"),
                    prior={"sigma": 2 * self.item_sd}, feature_scale=self.item_sd, feature_log=True, **sd_meta)
        self.params = {"normal_mean": mean, "normal_sd": sd}
        self.class_axis = {"normal_mean": 1 if "normal_mean" in self.grouped else 0}
        if not self.equal_variances:
            self.class_axis["normal_sd"] = sd_meta["class_axis"]

    def _mean_sd(self, p):
        mu, sd = p["normal_mean"], p["normal_sd"]
        if self.equal_variances:  # (..., [M,] I) -> (..., [M,] K, I)
            sd = pt.expand_dims(sd, -2) + pt.zeros_like(mu[..., :1, :]) if "normal_sd" in self.grouped else (
                pt.ones_like(mu) * sd[..., None, :])
        return mu, sd

    def loglik(self, params=None, shift=None):
        if shift is not None:
            return super().loglik(params, shift)
        mu, sd = self._mean_sd(params or self.params)
        prec = 1.0 / sd**2
        a = -0.5 * np.log(2 * np.pi) - pt.log(sd) - 0.5 * mu**2 * prec  # (..., K, I)
        b = mu * prec
        c = -0.5 * prec
        t = lambda m: pt.swapaxes(m, -1, -2)  # noqa: E731
        return (
            pt.matmul(pt.as_tensor(self.mask), t(a))
            + pt.matmul(pt.as_tensor(self.y), t(b))
            + pt.matmul(pt.as_tensor(self.y2), t(c))
        )

    def loglik_by_item(self, params=None, shift=None):
        mu, sd = self._mean_sd(params or self.params)
        mu = _shifted(mu, 0.0 if shift is None else shift)  # (..., N|1, I, K)
        sd = _shifted(sd, 0.0)
        z = (pt.as_tensor(self.y)[:, :, None] - mu) / sd
        ll = -0.5 * np.log(2 * np.pi) - pt.log(sd) - 0.5 * z**2
        return ll * self.mask[:, :, None]

    def simulation_graphs(self, shift=None):
        """``mean`` (1|N, I, K) (plus the shift) and ``sd`` (1, I, K)."""
        mu, sd = self._mean_sd(self.params)  # (K, I); group-specific: joint classes (M * K, I)
        mu, sd = self._joint_classes(mu, 2), self._joint_classes(sd, 2)
        mu = pt.swapaxes(mu, 0, 1)[None]  # (1, I, K)
        if shift is not None:
            mu = mu + shift
        return {"mean": mu, "sd": pt.swapaxes(sd, 0, 1)[None]}

    def sample(self, rng, graphs, classes, columns):
        """Normal values within class (eq. 2)."""
        return sample_normal(rng, graphs, classes, columns)

    def profile_rows(self, params=None):
        """Class-specific means and standard deviations, (..., K, 2I)."""
        mu, sd = self._mean_sd(params or self.params)
        mu, sd = mu + pt.zeros_like(sd), sd + pt.zeros_like(mu)  # one of them may carry a group axis
        rows = [(n, "mean") for n in self.names] + [(n, "sd") for n in self.names]
        return pt.concatenate([mu, sd], axis=-1), rows

    def random_start(self, rng, n_classes):
        shape = (n_classes, len(self.items))
        mean = self.item_mean + rng.uniform(-1.0, 1.0, size=shape) * self.item_sd
        sd = self.item_sd * rng.uniform(0.5, 1.0, size=shape)
        if self.equal_variances:
            sd = sd[0]
        return self._fixed_start({**_split_ordered("normal_mean", mean, self.names, self.ordered), "normal_sd": sd})


#: item type -> kernel class (StepMix-style registry)
KERNELS: dict[str, Callable[..., ItemKernel]] = {
    "binary": BinaryKernel,
    "nominal": NominalKernel,
    "ordinal": OrdinalKernel,
    "continuous": NormalKernel,
}
#: (item type, variant) -> kernel class of the items declared as that variant (``ItemSpec.variant``)
KERNEL_VARIANTS: dict[tuple[str, str], Callable[..., ItemKernel]] = {
    ("ordinal", "restricted"): RestrictedOrdinalKernel,
}


def build_kernels(data: EncodedData, link: str = "logit", items: Sequence[str] | None = None,
                  **options) -> list[ItemKernel]:
    """One kernel per item type present in ``data`` (or among ``items``, a subset of its items)."""
    if link not in LINKS:
        raise ValueError(f"link={link!r} is not supported; use one of {LINKS}.")
    kernels = []
    for kind, cls in KERNELS.items():
        items_of_kind = [it for it in data.items_of(kind) if items is None or it.name in items]
        if items is not None:  # keep the caller's order (blocks are matched by position)
            items_of_kind.sort(key=lambda it: list(items).index(it.name))
        extra = {"equal_variances": options.get("equal_variances", False)} if kind == "continuous" else {}
        for variant in dict.fromkeys(it.variant for it in items_of_kind):  # one kernel per variant, first-seen order
            block = [it for it in items_of_kind if it.variant == variant]
            kernels.append(KERNEL_VARIANTS.get((kind, variant), cls)(block, data, link, **extra))
    return kernels
