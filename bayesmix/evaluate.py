"""One result engine: evaluate a graph of the parameters at any fit, summarize it with intervals.

Every result function takes a fit the same way:

- :func:`as_fit` classifies a result once -- an ML result (``m.fit_ml()``), a
  MAP result (``m.fit_map()``), a Laplace or a posterior DataTree
  (``m.fit_laplace()``, ``m.sample()``) or a point dict (``ml.point``) -- into
  a small :class:`Fit`; nothing else guesses the type with ``hasattr``;
- :func:`evaluate_at_fit` evaluates a graph of the free parameters there:
  :class:`Evaluation` with the estimate and delta-method SEs (observed
  information and robust sandwich, ML), the estimate (MAP, point), or the
  values at every (thinned) draw (posterior, Laplace);
- :func:`summarize` turns an evaluation into the columns of a result table:
  ``estimate, se, se_robust, lower, upper`` (ML, Wald intervals; probabilities
  on the logit scale), ``estimate`` (MAP), or ``mean, sd, lower, upper`` with
  the ``ci_prob`` interval of kind ``ci_kind`` (``"eti"`` equal-tailed or
  ``"hdi"`` highest density, computed with :mod:`arviz_stats`) over draws.

:func:`interval_arguments` reads ArviZ's defaults (``arviz_base.rcParams``
``stats.ci_prob`` and ``stats.ci_kind``: 0.89 and ``"eti"`` in ArviZ 1.3) and
maps the deprecated ``hdi_prob=`` to ``ci_prob`` with ``ci_kind="hdi"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ._warn import PACKAGE_FRAMES

KINDS = ("ml", "map", "point", "laplace", "posterior")
CI_KINDS = ("eti", "hdi")


# --------------------------------------------------------------------------- fits

@dataclass(eq=False)
class Fit:
    """A fitted result classified once: what it is and what it holds.

    Attributes
    ----------
    kind : str
        ``"ml"``, ``"map"``, ``"point"`` (a dict of values), ``"laplace"`` or ``"posterior"``.
    result : object
        The result as given.
    point : dict or None
        Estimates by variable (natural scale) of a point fit.
    theta : ndarray or None
        The optimizer's unconstrained vector (ML, MAP).
    posterior : xarray.Dataset or None
        The posterior draws (Laplace, posterior).
    integration : dict or None
        The quadrature setting the fit recorded (DataTrees), if any.

    Examples
    --------
    >>> from bayesmix.evaluate import as_fit
    >>> as_fit({"class_intercept": np.zeros(1)}).kind
    'point'
    """

    kind: str
    result: Any = field(repr=False)
    point: dict | None = field(default=None, repr=False)
    theta: np.ndarray | None = field(default=None, repr=False)
    posterior: Any = field(default=None, repr=False)
    integration: dict | None = None

    @property
    def is_point(self) -> bool:
        """True for ML, MAP and point-dict fits (one value per quantity)."""
        return self.kind in ("ml", "map", "point")

    @property
    def has_se(self) -> bool:
        """True for ML fits: delta-method standard errors from the observed information."""
        return self.kind == "ml"

    def check_model(self, mm) -> None:
        """Refuse a fit of another model: every free parameter it holds must have the model's shape.

        A fit of a 2-class model handed to a 3-class one (or a model on other
        items) would otherwise end in a numpy broadcasting error.
        """
        shapes = mm._cache.get("rv_shapes")
        if shapes is None:
            shapes = mm._cache.setdefault("rv_shapes", _rv_shapes(mm))
        if self.is_point:
            held = {name: np.shape(value) for name, value in self.point.items()}
        else:
            held = {name: tuple(self.posterior[name].shape[2:]) for name in self.posterior.data_vars}
        wrong = [(name, held[name], shapes[name]) for name in shapes
                 if name in held and name not in mm.integrated and tuple(held[name]) != shapes[name]]
        if wrong:
            name, got, want = wrong[0]
            raise ValueError(f"this {self.kind} fit is not a fit of this model: parameter {name!r} has shape "
                             f"{tuple(got)} in the fit but {want} in the model ({mm!r}); pass the fit of the same "
                             "model (or of one rebuilt with the same classes and items).")

    def draws(self, mm):
        """The fit's parameter values as a posterior dataset (a point fit: one chain, one draw).

        Sampled latent effects (``mm.integrated``) are left out: result graphs
        integrate them, and their shape is the fitted data's.
        """
        if self.is_point:
            from .predict import point_posterior
            missing = [rv.name for rv in mm.model.free_RVs if rv.name not in self.point and rv.name not in mm.integrated]
            if missing:
                raise ValueError(f"result must be a fit of this model: the {self.kind} fit lacks the parameter(s) "
                                 f"{missing[:5]}{' ...' if len(missing) > 5 else ''}.")
            return point_posterior(mm, self.point)["posterior"].to_dataset()
        keep = [name for name in self.posterior.data_vars if name not in mm.integrated]
        return self.posterior[keep]


def _rv_shapes(mm) -> dict[str, tuple[int, ...]]:
    """Shapes of the model's free random variables (from the model's coords, evaluated once)."""
    import pytensor
    rvs = list(mm.model.free_RVs)
    values = pytensor.function([], [rv.shape for rv in rvs], on_unused_input="ignore", mode="FAST_COMPILE")()
    return {rv.name: tuple(int(n) for n in v) for rv, v in zip(rvs, values)}


def as_fit(result) -> Fit:
    """Classify a fitted result: ML, MAP, Laplace DataTree, posterior DataTree or point dict.

    Parameters
    ----------
    result : MLResult, MAPResult, DataTree, dict or Fit
        ``m.fit_ml()``, ``m.fit_map()``, ``m.fit_laplace()``, ``m.sample()``,
        a dict of values by variable (e.g. ``ml.point``), or an already classified fit.

    Returns
    -------
    Fit
        The kind and the parts a result function reads.

    Examples
    --------
    >>> from bayesmix.evaluate import as_fit
    >>> as_fit({"binary_logit": np.zeros((2, 3))}).is_point
    True
    """
    if isinstance(result, Fit):
        return result
    from .inference.ml import MAPResult, MLResult
    if isinstance(result, MLResult):
        return Fit("ml", result, point=result.point, theta=np.asarray(result.theta))
    if isinstance(result, MAPResult):
        return Fit("map", result, point=result.point, theta=np.asarray(result.theta))
    if isinstance(result, dict):
        return Fit("point", result, point=result)
    attrs = getattr(result, "attrs", None)
    try:
        node = result["posterior"]
    except (KeyError, TypeError, IndexError, AttributeError):
        node = None
    if node is None or attrs is None:
        raise ValueError("fit must be an ML result (m.fit_ml()), a MAP result (m.fit_map()), a posterior DataTree "
                         f"(m.sample(), m.fit_laplace()) or a dict of values; got {type(result).__name__}.")
    posterior = node.to_dataset() if hasattr(node, "to_dataset") else node
    kind = "laplace" if attrs.get("bayesmix_method") == "laplace" else "posterior"
    return Fit(kind, result, posterior=posterior, integration=integration_attr(attrs))


def integration_attr(attrs) -> dict | None:
    """The quadrature setting recorded in a DataTree's ``bayesmix_integration`` attribute, if any.

    Stored as JSON text (netCDF attributes hold no dicts, so ``idata.to_netcdf`` writes it as it is); a
    dict (DataTrees of earlier versions) is read as well.
    """
    setting = (attrs or {}).get("bayesmix_integration")
    if isinstance(setting, str):
        import json
        try:
            setting = json.loads(setting)
        except ValueError:
            return None
    return dict(setting) if isinstance(setting, dict) else None


def fit_kind(result) -> str | None:
    """``as_fit(result).kind``, or None when ``result`` is not a fit (a string, a list, ...)."""
    if isinstance(result, (str, bytes, list, tuple)) or result is None:
        return None
    try:
        return as_fit(result).kind
    except ValueError:
        return None


# --------------------------------------------------------------------------- intervals

def interval_arguments(ci_prob: float | None = None, ci_kind: str | None = None,
                       hdi_prob: float | None = None, stacklevel: int = 3) -> tuple[float, str]:
    """``(ci_prob, ci_kind)`` with ArviZ's defaults filled in; ``hdi_prob`` (deprecated) means an HDI.

    Parameters
    ----------
    ci_prob : float, optional
        Interval probability (default ``arviz_base.rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed or highest density interval (default
        ``arviz_base.rcParams["stats.ci_kind"]``, ``"eti"``).
    hdi_prob : float, optional
        Deprecated: a ``FutureWarning``, then ``ci_prob=hdi_prob, ci_kind="hdi"``.
    stacklevel : int
        Of the warning.

    Returns
    -------
    tuple
        (probability, kind), checked.

    Examples
    --------
    >>> from bayesmix.evaluate import interval_arguments
    >>> interval_arguments(0.9, "hdi")
    (0.9, 'hdi')
    """
    from .options import check_probability
    name = "ci_prob"
    if hdi_prob is not None:
        if ci_prob is not None:
            raise ValueError("give ci_prob= (hdi_prob= is its deprecated form), not both.")
        warnings.warn("hdi_prob= is deprecated (one more release): use ci_prob= and ci_kind=; hdi_prob=p now "
                      "means ci_prob=p, ci_kind='hdi' (a highest density interval).", FutureWarning,
                      skip_file_prefixes=PACKAGE_FRAMES)
        check_probability(hdi_prob, "hdi_prob")
        if ci_kind not in (None, "hdi"):
            raise ValueError(f"hdi_prob= asks for a highest density interval; got ci_kind={ci_kind!r}.")
        return float(hdi_prob), "hdi"
    from arviz_base import rcParams
    ci_prob = rcParams["stats.ci_prob"] if ci_prob is None else ci_prob
    check_probability(ci_prob, name)
    ci_kind = rcParams["stats.ci_kind"] if ci_kind is None else ci_kind
    if ci_kind not in CI_KINDS:
        raise ValueError(f"ci_kind must be 'eti' (equal-tailed) or 'hdi' (highest density); got {ci_kind!r}.")
    return float(ci_prob), ci_kind


def interval(samples: np.ndarray, ci_prob: float, ci_kind: str = "eti", axis: int = 0,
             weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the ``ci_prob`` interval of samples along ``axis``.

    Parameters
    ----------
    samples : ndarray
        Draws along ``axis``.
    ci_prob : float
        Probability of the interval.
    ci_kind : ``"eti"`` or ``"hdi"``
        Equal-tailed (quantiles) or highest density (``arviz_stats``, method ``"nearest"``).
    axis : int
        The draw axis.
    weights : ndarray, optional
        Not supported with HDI; equal-tailed only (ignored when None).

    Returns
    -------
    tuple of ndarray
        (lower, upper), the samples' shape without ``axis``.

    Examples
    --------
    >>> from bayesmix.evaluate import interval
    >>> [float(v) for v in interval(np.arange(101.0), 0.9, "eti")]
    [5.0, 95.0]
    """
    samples = np.asarray(samples, dtype=float)
    if ci_kind == "eti":
        lo, hi = np.quantile(samples, [(1 - ci_prob) / 2, (1 + ci_prob) / 2], axis=axis)
        return lo, hi
    if ci_kind != "hdi":
        raise ValueError(f"ci_kind must be 'eti' or 'hdi'; got {ci_kind!r}.")
    from arviz_stats.base import array_stats
    if samples.shape[axis] < 2:
        value = np.take(samples, 0, axis=axis)
        return value, value.copy()
    bounds = np.asarray(array_stats.hdi(samples, ci_prob, axis=axis))  # (..., 2)
    return bounds[..., 0], bounds[..., 1]


def interval_label(ci_prob: float, ci_kind: str) -> str:
    """``"89% equal-tailed interval"`` / ``"94% highest density interval"`` (plot and table captions)."""
    return f"{100 * ci_prob:.0f}% " + ("equal-tailed interval" if ci_kind == "eti" else "highest density interval")


# --------------------------------------------------------------------------- evaluation

@dataclass
class Evaluation:
    """A graph evaluated at a fit: a point estimate (with SEs after ML) or values per draw.

    Attributes
    ----------
    kind : str
        The fit's kind (:attr:`Fit.kind`).
    estimate, se, se_robust : ndarray or None
        Point fits: the value; ML: observed-information and sandwich delta-method SEs.
    draws : ndarray or None
        Posterior / Laplace: values (S, ...) at the (thinned) draws.

    Examples
    --------
    >>> ev = evaluate_at_fit(m, ml, m.proportion_tensor())     # doctest: +SKIP
    >>> ev.estimate, ev.se                                     # doctest: +SKIP
    """

    kind: str
    estimate: np.ndarray | None = None
    se: np.ndarray | None = None
    se_robust: np.ndarray | None = None
    draws: np.ndarray | None = None

    def values(self) -> np.ndarray:
        """Values with a leading draw axis: (1, ...) at a point fit, (S, ...) over draws."""
        return self.estimate[None] if self.draws is None else self.draws

    def mean(self) -> np.ndarray:
        """The estimate, or the mean over draws."""
        return self.estimate if self.draws is None else self.draws.mean(axis=0)


def ml_covariances(mm, fit: Fit, integration: dict | None = None):
    """(cov, cov_robust, boundary) at an ML solution; computed once per fit and setting (kept on the result)."""
    from .inference.objective import covariances, flat_model
    result = fit.result
    cache = result.__dict__.setdefault("_covariance_cache", {})
    key = str(integration)
    if key not in cache:
        flat = flat_model(mm, integration)
        boundary = flat.at_bound(fit.theta)
        cov, cov_r = covariances(flat, fit.theta, np.flatnonzero(~boundary))
        cache[key] = (cov, cov_r, boundary)
    return cache[key]


def _shape(graph, value) -> tuple:
    shape = getattr(getattr(graph, "type", None), "shape", None)
    if shape is not None and all(s is not None for s in shape) and int(np.prod(shape)) == np.size(value):
        return tuple(shape)
    return None


def evaluate_at_fit(mm, fit, graph, *, key: str, integration: dict | None = None, max_draws: int | None = 2000,
                    se: bool = True) -> Evaluation:
    """Evaluate a graph of the model's free parameters at a fit.

    Parameters
    ----------
    mm : MixtureModel
        The model the fit belongs to (or one with the same parameters, e.g. rebuilt on new data).
    fit : any fit
        ML, MAP, Laplace, posterior or a point dict (:func:`as_fit`).
    graph : TensorVariable
        A graph of the free random variables (no sampled latent effects).
    key : str
        Cache key of the compiled functions (include the integration setting).
    integration : dict, optional
        The quadrature setting the graph was built with (ML: the setting of the SEs).
    max_draws : int, optional
        At most this many (thinned) posterior draws.
    se : bool
        ML: compute delta-method SEs (False: the estimate only).

    Returns
    -------
    Evaluation
        ``estimate`` (and ``se``, ``se_robust`` after ML) or ``draws`` (S, ...).

    Examples
    --------
    >>> ev = evaluate_at_fit(m, ml, m.proportion_tensor(), key="proportions")   # doctest: +SKIP
    """
    from .results import evaluate_draws
    fit = as_fit(fit)
    fit.check_model(mm)
    if fit.has_se and se:
        from .inference.objective import delta_method, flat_model
        flat = flat_model(mm, integration)
        cov, cov_r, boundary = ml_covariances(mm, fit, integration)
        value, s, s_r = delta_method(flat, f"delta:{key}", [graph], fit.theta, cov, cov_r, boundary)
        if boundary.any() and np.isnan(s).any():
            warnings.warn(f"{int(np.isnan(s).sum())} of the {len(s)} quantities rest on parameters at the logit "
                          "bound (a probability 0 or 1, fixed there as Mplus does): their standard errors and "
                          "intervals are not available (NaN), not small.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
        shape = _shape(graph, value)
        if shape is None:
            (point,) = flat.evaluate(f"point:{key}", [graph], fit.theta)
            shape = np.shape(point)
        return Evaluation(fit.kind, *(np.reshape(v, shape) for v in (value, s, s_r)))
    _, values = evaluate_draws(mm, key, graph, fit.draws(mm), None if fit.is_point else max_draws)
    if fit.is_point:
        return Evaluation(fit.kind, estimate=np.asarray(values[0]))
    return Evaluation(fit.kind, draws=np.asarray(values))


#: posterior tables also carry the posterior mean under its old column name ``mean`` (a copy of
#: ``estimate``) for one release; every fit kind's point estimate is ``estimate`` (issue 25)
POSTERIOR_MEAN_ALIAS = "mean"


def summarize(evaluation: Evaluation, *, ci_prob: float | None = None, ci_kind: str | None = None,
              probability: bool = False, interval_at_point: bool = True) -> dict[str, np.ndarray]:
    """Result columns of an evaluation: name -> array of the graph's shape.

    Parameters
    ----------
    evaluation : Evaluation
        From :func:`evaluate_at_fit`.
    ci_prob : float, optional
        Interval probability (default: ArviZ's ``stats.ci_prob``).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Kind of the interval over draws (default: ArviZ's ``stats.ci_kind``, ``"eti"``).
        ML intervals are Wald intervals whatever the kind.
    probability : bool
        The quantity is a probability: ML intervals on the logit scale, mapped back.
    interval_at_point : bool
        ML: include the Wald ``lower`` / ``upper`` (False: estimate and SEs only).

    Returns
    -------
    dict
        ML: ``estimate, se, se_robust[, lower, upper]``; MAP / point: ``estimate``;
        draws: ``estimate`` (the posterior mean), ``sd, lower, upper`` and ``mean``, the old name of
        the posterior mean kept as a copy for one release (:data:`POSTERIOR_MEAN_ALIAS`). The point
        estimate is ``estimate`` for every kind of fit.

    Examples
    --------
    >>> summarize(evaluate_at_fit(m, idata, graph, key="g"), ci_prob=0.9, ci_kind="hdi")   # doctest: +SKIP
    """
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind)
    ev = evaluation
    if ev.draws is not None:
        samples = ev.draws
        lo, hi = interval(samples, ci_prob, ci_kind)
        sd = samples.std(0, ddof=1) if len(samples) > 1 else np.zeros(samples.shape[1:])
        mean = samples.mean(0)
        return {"estimate": mean, "sd": sd, "lower": lo, "upper": hi, POSTERIOR_MEAN_ALIAS: mean}
    if ev.se is None:
        return {"estimate": ev.estimate}
    out = {"estimate": ev.estimate, "se": ev.se, "se_robust": ev.se_robust}
    if interval_at_point:
        out["lower"], out["upper"] = wald_interval(ev.estimate, ev.se, ci_prob, probability)
    return out


def wald_interval(value, se, ci_prob: float, probability: bool = False):
    """Normal-theory interval value +- z se; probabilities on the logit scale (stays inside (0, 1))."""
    from scipy import stats
    from scipy.special import expit, logit
    z = stats.norm.ppf((1 + ci_prob) / 2)
    value, se = np.asarray(value, dtype=float), np.asarray(se, dtype=float)
    if probability:
        p = np.clip(value, 1e-12, 1 - 1e-12)
        half = z * se / (p * (1 - p))
        return expit(logit(p) - half), expit(logit(p) + half)
    return value - z * se, value + z * se


def parameter_draws(mm, fit, names: list[str] | None = None, max_draws: int | None = None):
    """``(names, [values per draw])``: the fit's values of the named free RVs (default: all but integrated ones).

    One entry for a point fit; up to ``max_draws`` (thinned evenly) for a posterior.
    """
    from .results import draw_pairs
    fit = as_fit(fit)
    names = names or [rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    if fit.is_point:
        fit.draws(mm)  # refuses a point that lacks the model's parameters
        return names, [[np.asarray(fit.point[n]) for n in names]]
    posterior = fit.posterior
    names = [n for n in names if n in posterior]
    arrays = [posterior[n].transpose("chain", "draw", ...).to_numpy() for n in names]
    return names, [[a[c, d] for a in arrays] for c, d in draw_pairs(posterior, max_draws)]
