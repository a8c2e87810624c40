"""The model's graphs as functions of one flat unconstrained vector theta.

Optimizers and the Hessian work on theta (PyMC's value variables, raveled);
results are reported on the constrained scale users read. All functions are
compiled once per model and cached on the :class:`~bayesmix.MixtureModel`.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import jacobian

from .._compile import function
from ..kernels.base import ItemKernel
from .._warn import PACKAGE_FRAMES

#: ``hessian(method="auto")`` uses the exact vectorized Hessian while n_params * graph_size
#: stays below this, and central differences of the compiled gradient above it.
#: Measured (benchmarks/bench_hessian.py: N = 7,000 persons x 17 items long, K = 2, 30 nodes,
#: 36 parameters, n_params * graph_size = 2.6e8): exact 67 s + scores 20 s, 8.9 GB peak;
#: from gradients 38 s with the scores included, 0.75 GB.
EXACT_HESSIAN_LIMIT = 2e7

#: relative step of the central differences (about eps ** (1/3)): truncation and
#: rounding errors both ~1e-10 relative for smooth log-likelihoods
FD_STEP = 1e-5

#: value variables whose elements are logits (bounded during optimization so
#: that boundary solutions, probabilities -> 0/1, stay finite, as Mplus does)
LOGIT_BOUND = 30.0


class FlatModel:
    """Compiled value/gradient/Hessian of the log-likelihood or log-posterior in theta."""

    def __init__(self, mm, integration: dict | None = None):
        self.mm = mm
        model = mm.model
        self.model = model
        # random effects integrated by quadrature are not parameters of theta (marginal ML, section 10)
        self.rvs = [rv for rv in model.free_RVs if rv.name not in mm.integrated]
        self.value_vars = [model.rvs_to_values[rv] for rv in self.rvs]
        full_point = model.initial_point()
        self.names = [v.name for v in self.value_vars]
        self.point = {n: full_point[n] for n in self.names}
        self.shapes = [np.shape(self.point[n]) for n in self.names]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.n_params = int(sum(self.sizes))
        loglik_units = model.replace_rvs_by_values([mm.integrated_loglik(integration)])[0]
        log_prior = model.logp(vars=self.rvs, jacobian=False)
        log_prior_jac = model.logp(vars=self.rvs, jacobian=True)
        constrained = model.replace_rvs_by_values(self.rvs)
        outputs, self.theta = pm.pytensorf.join_nonshared_inputs(
            self.point, [loglik_units, log_prior + loglik_units.sum(), log_prior_jac + loglik_units.sum(),
                         *constrained], self.value_vars
        )
        self._unit_loglik, self._log_posterior, self._log_density, *self._constrained = outputs
        self._functions: dict = {}
        self._score_cache: tuple | None = None
        #: (theta bytes, kind, method) -> Hessian: the information fit_ml computed is reused (e.g. by bm.vlmr)
        self._hessian_cache: dict = {}
        #: default of :meth:`hessian`'s ``method`` (``fit_ml`` and ``laplace`` use it)
        self.hessian_method = "auto"
        self.bounds = self._bounds()
        settings = {**mm.integration, **(integration or {})}
        self.graph_size = self._graph_size(settings)
        self.work_size = mm.work_size(settings)
        self.adaptive = mm.adaptive_grid(settings)
        if self.adaptive is not None:
            nodes, logw = mm.rule(settings)
            moments = self.adaptive.moments(mm.cluster_loglik, nodes, logw)
            self._adaptive_moments = self._in_theta(list(moments))

    def adapt(self, theta: np.ndarray, rounds: int = 20, tol: float = 1e-8) -> None:
        """Move the adaptive quadrature to the clusters' posterior at theta (no-op if not adaptive)."""
        if self.adaptive is None:
            return
        self._score_cache = None  # the grid moves: the same theta gives other values
        self._hessian_cache = {}
        fn = self._compile("adaptive_moments", self._adaptive_moments)
        for _ in range(rounds):
            mean, sd = fn(theta)
            shift = np.max(np.abs(mean - self.adaptive.center.get_value())) + np.max(
                np.abs(sd - self.adaptive.scale.get_value()))
            self.adaptive.update(mean, sd)
            if shift < tol:
                break

    # --------------------------------------------------------------- compile
    def _compile(self, key, outputs):
        if key not in self._functions:
            self._functions[key] = function([self.theta], outputs, size=self.work_size)
        return self._functions[key]

    def _objective(self, kind: str):
        """``loglik`` (ML), ``posterior`` (MAP, no Jacobian) or ``laplace`` (density of theta)."""
        return {"loglik": self._unit_loglik.sum(), "posterior": self._log_posterior,
                "laplace": self._log_density}[kind]

    def value_and_grad(self, kind: str):
        """theta -> (-objective, -gradient) for scipy minimizers."""
        if ("vg", kind) not in self._functions:  # the gradient graph is built once, like the function
            obj = self._objective(kind)
            self._compile(("vg", kind), [-obj, -pt.grad(obj, self.theta)])
        fn = self._functions[("vg", kind)]

        def f(theta):
            value, grad = fn(np.asarray(theta, dtype=float))
            value = float(value)
            if not np.isfinite(value):
                return 1e300, np.zeros_like(theta)
            return value, np.asarray(grad, dtype=float)

        return f

    def hessian(self, theta: np.ndarray, kind: str = "loglik", method: str | None = None) -> np.ndarray:
        """Hessian of the negative objective (observed information for ML).

        ``method``: ``"exact"`` (reverse-mode Jacobian of the gradient,
        vectorized over the parameters: one graph with n_params copies of
        every intermediate, fast for small models but 9 GB at N = 7,000 x 17
        with 30 quadrature nodes), ``"gradient"`` (central differences of the
        compiled gradient: 2 n_params evaluations, memory of one gradient,
        agrees with the exact Hessian to ~1e-8 relative; the per-unit
        log-likelihoods of the same evaluations give :meth:`scores` for free)
        or ``"auto"`` (exact only when that function is already compiled and
        ``n_params * graph_size`` is at most :data:`EXACT_HESSIAN_LIMIT`; else
        gradient: the exact Hessian's first compilation alone took 24 s on
        carcinoma, its 2P gradient evaluations milliseconds). Default:
        :attr:`hessian_method`. The last few Hessians are kept (keyed by
        theta, ``kind`` and method), so the information ``fit_ml`` computed
        for its SEs is not computed again by :func:`bayesmix.vlmr`.
        """
        method = self._hessian_method(method)
        theta = np.asarray(theta, dtype=float)
        key = (theta.tobytes(), kind, method)
        if key in self._hessian_cache:
            return self._hessian_cache[key].copy()
        with _one_blas_thread():
            if method == "gradient":
                h = self._difference_sweep(theta, kind)
            else:
                obj = self._objective(kind)
                grad = pt.grad(-obj, self.theta)
                fn = self._compile(("hess", kind), jacobian(grad, self.theta, vectorize=True))
                h = np.asarray(fn(theta), dtype=float)
        h = 0.5 * (h + h.T)
        if len(self._hessian_cache) >= 4:  # a few solutions per model (ML, MAP, ...), oldest dropped
            self._hessian_cache.pop(next(iter(self._hessian_cache)))
        self._hessian_cache[key] = h
        return h.copy()

    def _hessian_method(self, method: str | None) -> str:
        method = self.hessian_method if method is None else method
        if method == "auto":
            compiled = any(isinstance(key, tuple) and key[0] == "hess" for key in self._functions)
            small = self.n_params * self.graph_size <= EXACT_HESSIAN_LIMIT
            return "exact" if compiled and small else "gradient"
        if method not in ("exact", "gradient"):
            raise ValueError(f"method={method!r}; use 'auto', 'exact' or 'gradient'.")
        return method

    def _graph_size(self, settings: dict) -> int:
        """Elements of the largest intermediate, roughly: rows x classes x quadrature nodes."""
        nodes = 1
        if self.mm.cluster_loglik is not None:
            from .quadrature import n_nodes, rule
            if settings["method"] == "gauss-jacobi":  # a latent block's own rule (the Dirichlet membership's)
                nodes = n_nodes(self.mm.rule(settings)[0])
            else:
                nodes = len(rule(settings["method"], settings["points"], self.mm.latent.n_effects,
                                 settings.get("seed", 0))[1])
        return int(self.mm.data.n_units) * int(self.mm.n_classes) * nodes

    @staticmethod
    def _steps(theta: np.ndarray) -> np.ndarray:
        return FD_STEP * np.maximum(1.0, np.abs(theta))

    def _difference_sweep(self, theta: np.ndarray, kind: str) -> np.ndarray:
        """Hessian of -objective by central differences of the gradient; caches the per-unit scores.

        Each of the 2 n_params evaluations returns the gradient and the
        per-unit log-likelihoods, so the scores (also central differences)
        come with the Hessian at no extra cost.
        """
        obj = self._objective(kind)
        fn = self._compile(("units_grad", kind), [self._unit_loglik, -pt.grad(obj, self.theta)])
        p = len(theta)
        h = np.empty((p, p))
        scores = None
        for j, step in enumerate(self._steps(theta)):
            up, down = theta.copy(), theta.copy()
            up[j] += step
            down[j] -= step
            units_up, grad_up = fn(up)
            units_down, grad_down = fn(down)
            h[:, j] = (np.asarray(grad_up) - np.asarray(grad_down)) / (2 * step)
            if scores is None:
                scores = np.empty((len(units_up), p))
            scores[:, j] = (np.asarray(units_up) - np.asarray(units_down)) / (2 * step)
        self._score_cache = (theta.tobytes(), scores)
        return h

    def unit_loglik(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(self._compile("units", self._unit_loglik)(theta))

    def scores(self, theta: np.ndarray) -> np.ndarray:
        """Per-unit score contributions d loglik_i / d theta, (n_units, n_params).

        Central differences of the per-unit log-likelihood vector: 2P forward
        passes, or none when ``hessian(theta, method="gradient")`` has just
        run at the same theta (its sweep evaluates the same differences). A
        reverse-mode Jacobian needs one backward pass per unit (measured:
        8.7 s for N = 10,000 against well under a second here); the relative
        error (~1e-8) is far below what standard errors need.
        """
        theta = np.asarray(theta, dtype=float)
        if self._score_cache is not None and self._score_cache[0] == theta.tobytes():
            return self._score_cache[1].copy()
        fn = self._compile("units", self._unit_loglik)
        out = None
        with _one_blas_thread():
            for j, step in enumerate(self._steps(theta)):
                up, down = theta.copy(), theta.copy()
                up[j] += step
                down[j] -= step
                diff = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * step)
                if out is None:
                    out = np.empty((len(diff), len(theta)))
                out[:, j] = diff
        if out is None:
            out = np.empty((len(self.unit_loglik(theta)), 0))
        return out

    def constrained(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Free random variables on their natural scale."""
        values = self._compile("constrained", self._constrained)(theta)
        return {rv.name: np.asarray(v) for rv, v in zip(self.rvs, values)}

    def _in_theta(self, outputs: Sequence):
        """Graphs given in terms of the model's RVs, rewritten as functions of theta."""
        replaced = self.model.replace_rvs_by_values([pt.as_tensor(o) for o in outputs])
        return pytensor.graph.graph_replace(replaced, self._value_replacements(), strict=False)

    def evaluate(self, key: str, outputs, theta: np.ndarray) -> list[np.ndarray]:
        """Values at theta of graphs given in terms of the model's RVs.

        ``outputs``: the graphs, or a callable returning them, called only when ``key`` is not yet
        compiled (building e.g. the class-probability graph again took 40 ms of a 0.3 s ``fit_ml``).
        """
        if key not in self._functions:
            outputs = outputs() if callable(outputs) else outputs
            self._functions[key] = function([self.theta], self._in_theta(outputs), size=self.work_size)
        return [np.asarray(v) for v in self._functions[key](theta)]

    def jacobian_of(self, key: str, outputs: Sequence, theta: np.ndarray, method: str = "difference"):
        """Values and Jacobians (w.r.t. theta) of graphs given in terms of the model's RVs, raveled.

        ``method="difference"`` (default): central differences of the compiled
        outputs, 2P forward evaluations (relative error ~1e-10, far below what
        delta-method SEs need) and no Jacobian graph to compile (measured on
        carcinoma: 7 s of cold compilation saved); ``"exact"``: reverse-mode,
        vectorized over theta.
        """
        if method == "difference":
            theta = np.asarray(theta, dtype=float)
            fn = self._compile(("flat_outputs", key),
                               pt.concatenate([o.ravel() for o in self._in_theta(outputs)]))
            value = np.asarray(fn(theta), dtype=float)
            jac = np.empty((len(value), self.n_params))
            with _one_blas_thread():
                for j, step in enumerate(self._steps(theta)):
                    up, down = theta.copy(), theta.copy()
                    up[j] += step
                    down[j] -= step
                    jac[:, j] = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * step)
            return value, jac
        if key not in self._functions:
            replaced = [o.ravel() for o in self._in_theta(outputs)]
            flat = pt.concatenate(replaced) if len(replaced) > 1 else replaced[0]
            self._functions[key] = function([self.theta], [flat, jacobian(flat, self.theta, vectorize=True)],
                                            size=self.work_size)
        value, jac = self._functions[key](theta)
        return np.asarray(value), np.asarray(jac).reshape(len(value), self.n_params)

    def _value_replacements(self):
        out, start = {}, 0
        for var, shape, size in zip(self.value_vars, self.shapes, self.sizes):
            out[var] = self.theta[start:start + size].reshape(shape) if shape else self.theta[start]
            start += size
        return out

    # ----------------------------------------------------------- conversion
    def to_theta(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Constrained values of the free RVs (by name) -> theta."""
        if "to_theta" not in self._functions:
            inputs, pieces = [], []
            for rv in self.rvs:
                x = pt.tensor(name=rv.name, shape=(None,) * rv.ndim, dtype="float64")
                inputs.append(x)
                transform = self.model.rvs_to_transforms.get(rv)
                y = transform.forward(x, *rv.owner.inputs) if transform is not None else x
                pieces.append(pt.as_tensor(y).ravel())
            self._functions["to_theta"] = function(inputs, pt.concatenate(pieces))
        args = [np.asarray(values[rv.name], dtype=float) for rv in self.rvs]
        return np.asarray(self._functions["to_theta"](*args))

    def split(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = np.reshape(theta[start:start + size], shape)
            start += size
        return out

    def labels(self) -> list[str]:
        """Readable label per element of theta, e.g. ``binary_logit[class1, A]``."""
        labels = []
        coords = self.model.coords
        for rv in self.rvs:
            value_name = self.model.rvs_to_values[rv].name
            dims = self.model.named_vars_to_dims.get(rv.name, ())
            shape = np.shape(self.point[value_name])
            for idx in np.ndindex(*shape):
                if dims and len(dims) == len(idx):
                    parts = [str(coords[d][i]) for d, i in zip(dims, idx)]
                else:
                    parts = [str(i) for i in idx]
                labels.append(f"{rv.name}[{', '.join(parts)}]" if parts else rv.name)
        return labels

    def _bounds(self):
        bounds, low, high = [], [], []
        registry = self.mm.parameters  # location parameters (means, slopes) are unbounded
        #: rv name -> slice of theta (for the kernels' own boundary rules, :meth:`at_bound`)
        self._slices, start = {}, 0
        for rv in self.rvs:
            size = int(np.prod(np.shape(self.point[self.model.rvs_to_values[rv].name])))
            self._slices[rv.name] = slice(start, start + size)
            start += size
            rule = registry.boundary(rv.name)  # per parameter: the kernel's link decides (LINK_BOUNDARIES)
            b = (-LOGIT_BOUND, LOGIT_BOUND) if rule is not None else (None, None)
            bounds.extend([b] * size)
            low.extend([-np.inf if rule is None else rule[0]] * size)
            high.extend([np.inf if rule is None else rule[1]] * size)
        #: per element of theta: the boundary rule (lower, upper); -inf / inf for unbounded elements
        self.boundary_low, self.boundary_high = np.array(low, dtype=float), np.array(high, dtype=float)
        return bounds

    def at_bound(self, theta: np.ndarray) -> np.ndarray:
        """Elements of theta past their boundary rule (a probability ~0 or 1): boundary solutions.

        Logits beyond +-15 (Mplus), probit thresholds beyond +-5, probit
        ordinal threshold log-gaps below log(1e-4), as each parameter's kernel
        registered it (:meth:`bayesmix.parameters.ParameterRegistry.boundary`,
        :data:`bayesmix.kernels.base.LINK_BOUNDARIES`). Mplus fixes such
        logits at +-15 when it computes standard errors; so do we.
        """
        theta = np.asarray(theta, dtype=float)
        mask = (theta <= self.boundary_low) | (theta >= self.boundary_high)
        kernels = [k for k in getattr(self.mm, "kernels", []) if type(k).boundary_masks is not ItemKernel.boundary_masks]
        if kernels:  # rules on several parameters at once (an ordinal category past the boundary)
            values = self.constrained(theta)
            for kernel in kernels:
                for name, extra in kernel.boundary_masks(values).items():
                    if name in self._slices:
                        mask[self._slices[name]] |= np.asarray(extra, dtype=bool).ravel()
        return mask

    def pull_to_boundary(self, theta: np.ndarray) -> np.ndarray:
        """theta with every element past its boundary rule moved back onto it."""
        return np.clip(np.asarray(theta, dtype=float), self.boundary_low, self.boundary_high)


def _one_blas_thread():
    """One BLAS thread for sweeps of many evaluations.

    Measured on the shared 2-core machine: OpenBLAS' default threads made one
    value+gradient of the N = 7,000 x 17 long model take 5.5 s instead of 0.57 s
    (the reverse-mode ``onehot.T @ g`` Dot22 alone 1.4 s instead of 3 ms).
    """
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1, user_api="blas")


def flat_model(mm, integration: dict | None = None) -> FlatModel:
    """The (cached) :class:`FlatModel` of a MixtureModel for one integration setting."""
    integration = {**mm.integration, **(integration or {})}
    key = ("flat", tuple(sorted(integration.items())))
    if key not in mm._cache:
        mm._cache[key] = FlatModel(mm, integration)
    return mm._cache[key]


#: eigenvalues of the information matrix at most this fraction of the largest count as flat directions
FLAT_DIRECTION_RTOL = 1e-8


def flat_directions(info: np.ndarray, labels: Sequence[str], n_directions: int = 3, n_terms: int = 4) -> list[str]:
    """The directions along which the log-likelihood is flat: eigenvectors of the information matrix.

    Eigenvalues at most :data:`FLAT_DIRECTION_RTOL` x the largest (or negative)
    are flat; each such eigenvector (smallest eigenvalue first, at most
    ``n_directions``) is written as its ``n_terms`` largest elements,
    ``"+0.71 a[x] -0.70 b[y] (eigenvalue 1.2e-11)"``. The parameters named are
    those a user would fix (``fixed=``) or drop to identify the model.
    """
    vals, vecs = np.linalg.eigh(info)
    scale = max(float(np.max(np.abs(vals), initial=0.0)), 1e-300)
    weak = [j for j in np.argsort(vals) if vals[j] <= FLAT_DIRECTION_RTOL * scale][:n_directions]
    if not weak:  # inv() failed but no eigenvalue is small: name the smallest one
        weak = [int(np.argmin(vals))]
    out = []
    for j in weak:
        v = vecs[:, j] * np.sign(vecs[np.argmax(np.abs(vecs[:, j])), j])
        order = [i for i in np.argsort(-np.abs(v))[:n_terms] if abs(v[i]) >= 0.1]
        out.append(" ".join(f"{v[i]:+.2f} {labels[i]}" for i in order) + f" (eigenvalue {vals[j]:.1e})")
    return out


def covariances(flat, theta, free, information: tuple[np.ndarray, np.ndarray] | None = None):
    """(observed-information covariance, sandwich covariance) of theta; rows of ``free`` only (others 0).

    ``information``: (observed information, per-unit scores) of the whole theta already computed
    elsewhere (an EM's, :func:`.optimize.em_information`); None: :meth:`FlatModel.hessian` and
    :meth:`FlatModel.scores` (central differences of the compiled gradient).
    """
    h = flat.hessian(theta, "loglik") if information is None else information[0]
    p = len(theta)
    cov = np.zeros((p, p))
    cov_r = np.zeros((p, p))
    hf = h[np.ix_(free, free)]
    try:
        hinv = np.linalg.inv(hf)
        if np.any(np.linalg.eigvalsh(hf) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        labels = flat.labels()
        flat_dirs = flat_directions(hf, [labels[i] for i in free])
        warnings.warn("the information matrix is not positive definite at the ML solution: the log-likelihood "
                      "is flat (not identified) along " + "; and along ".join(flat_dirs) + ". Common causes: a "
                      "category that one class (almost) never chooses, so its threshold or threshold gap runs off "
                      "to +-infinity (a boundary solution; fix it with fixed=, merge sparse categories, or use "
                      "fewer classes), an empty class, or more parameters than the data identify. Standard errors "
                      "use a pseudo-inverse.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
        hinv = np.linalg.pinv(hf)
    cov[np.ix_(free, free)] = hinv
    s = (flat.scores(theta) if information is None else information[1])[:, free]
    cov_r[np.ix_(free, free)] = hinv @ (s.T @ s) @ hinv
    return cov, cov_r


#: a derived quantity rests on a boundary logit when a unit change of that logit moves it by more
#: than this: e.g. gamma = tau_jk - tau_Kk (derivative 1) or eq. 14's R-squared (~1e-3 at gamma = 28),
#: but not a probability, whose derivative at a logit beyond +-15 is below p (1 - p) < 3.1e-7, at a
#: probit threshold beyond +-5 below phi(5) = 1.5e-6, and at a probit threshold log-gap below
#: log(1e-4) below max phi x gap = 4e-5 (the item's other category probabilities in that class)
BOUNDARY_DEPENDENCE = 1e-4


def delta_method(flat, key, outputs, theta, cov, cov_r, boundary):
    """Delta-method SEs; quantities that rest on boundary (fixed) parameters get NaN.

    A logit at the bound (a probability 0 or 1) is fixed there, so the
    sandwich/information SE of anything built from it would be the SE of the
    other parameters alone -- a small, precise-looking number (gamma = 27.8
    with SE 0.46 at a boundary transition). Mplus reports no SE for such
    parameters; here quantities that depend only on boundary parameters, or
    on one by more than :data:`BOUNDARY_DEPENDENCE` per logit unit, get NaN.
    """
    value, jac = flat.jacobian_of(key, outputs, theta)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, cov, jac), 0, None))
    se_r = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, cov_r, jac), 0, None))
    on_bound = np.abs(jac[:, boundary])
    depends = on_bound.sum(1) > 0
    if boundary.any():  # beyond ~+-25 a probability's derivative underflows to 0: ask at the rule which ones depend
        pulled = np.where(boundary, flat.pull_to_boundary(theta), theta)
        depends |= np.abs(flat.jacobian_of(key, outputs, pulled)[1][:, boundary]).sum(1) > 0
    fixed_only = depends & (np.abs(jac[:, ~boundary]).sum(1) < 1e-12)
    resting = on_bound.max(1, initial=0.0) > BOUNDARY_DEPENDENCE
    se[fixed_only | resting], se_r[fixed_only | resting] = np.nan, np.nan
    return value, se, se_r
