"""Maximum likelihood and MAP with random starts and standard errors.

The random effects and classes are integrated out of the objective exactly
as in NUTS (same ``unit_loglik`` graph), so this is marginal ML as in Mplus
(section 10 of the paper), not a joint mode. Standard errors come from the
observed information (inverse Hessian of -LL in the unconstrained
parameters) and the robust sandwich H^-1 (sum_i s_i s_i') H^-1 (MLR, White
1980) with per-unit scores s_i; parameters on the natural scale and derived
quantities (class proportions, profile probabilities) get delta-method SEs.
The Hessian and scores are central differences of the compiled gradient, or,
where the model's EM offers them (:func:`.optimize.em_information`, e.g. the
IRT EM by Louis' identity), the EM's exact ones in the same parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..parameters import registry_of, with_full
from ..results import profile_columns, profile_tensor, proportion_tensor, relative_entropy
from .diagnostics import ConvergenceWarning
from .objective import covariances, delta_method, flat_model
from .optimize import Optimum, StartReport, em_information, multistart
from .wald import wald_columns
from .._warn import PACKAGE_FRAMES


@dataclass
class MLResult:
    """Maximum-likelihood solution: fit statistics, parameters with SEs, profiles (``m.fit_ml()``).

    Attributes
    ----------
    loglik : float
        The maximized log-likelihood (classes summed out, random effects integrated).
    n_params : int
        Free parameters (fixed elements and ties do not count).
    n_obs : int
        The N of BIC (units / persons).
    params : DataFrame
        ``estimate``, ``se`` (observed information), ``se_robust`` (sandwich,
        MLR), ``at_bound`` per parameter element, named like the PyMC variables;
        ``z`` (estimate / se), ``p`` (two-sided normal) and ``odds_ratio``
        (exp(estimate) for class-logit covariate slopes, else NaN):
        :mod:`bayesmix.inference.wald`.
    profiles : DataFrame
        P(item category | class) (means and SDs of continuous items) with delta-method SEs.
    class_proportions : DataFrame
        ``estimate``, ``se``, ``se_robust`` per class.
    class_counts : Series
        Units per modal class.
    entropy : float
        Relative entropy of the classification (Mplus).
    starts : StartReport
        Random starts: best LL, how often replicated, basins.
    point : dict
        Estimates by variable (natural scale): ``bm.point_posterior(m, ml.point)``.
    theta : ndarray
        Estimates on the unconstrained scale of the optimizer.
    converged, n_boundary, posterior_probabilities, iterations
        Optimizer status, logits at +-15, units x classes P(C | y), iterations.

    Examples
    --------
    >>> ml = m.fit_ml(starts=20, seed=1)       # doctest: +SKIP
    >>> ml.loglik, ml.bic                      # doctest: +SKIP
    >>> ml.params.head()                       # doctest: +SKIP
    >>> print(ml.summary())                    # doctest: +SKIP
    """

    loglik: float
    n_params: int
    n_obs: int
    params: pd.DataFrame
    profiles: pd.DataFrame
    class_proportions: pd.DataFrame
    class_counts: pd.Series
    entropy: float
    starts: StartReport
    point: dict = field(repr=False)
    theta: np.ndarray = field(repr=False)
    converged: bool = True
    n_boundary: int = 0
    posterior_probabilities: pd.DataFrame | None = field(default=None, repr=False)
    #: optimizer iterations of the best final-stage run
    iterations: int = 0

    @property
    def aic(self) -> float:
        """Akaike information criterion, -2 LL + 2 p."""
        return -2 * self.loglik + 2 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, -2 LL + p log N (N: ``n_obs``)."""
        return -2 * self.loglik + self.n_params * np.log(self.n_obs)

    @property
    def abic(self) -> float:
        """Sample-size adjusted BIC (Sclove 1987): n* = (n + 2) / 24."""
        return -2 * self.loglik + self.n_params * np.log((self.n_obs + 2) / 24)

    def __repr__(self) -> str:
        return (f"MLResult(loglik={self.loglik:.4f}, n_params={self.n_params}, N={self.n_obs}, "
                f"bic={self.bic:.3f}, entropy={self.entropy:.3f}, classes={len(self.class_proportions)})")

    def summary(self):
        """Mplus-style tables: fit, classes, classification (AvePP), profiles and parameters with SEs.

        Returns
        -------
        bayesmix.summary.FitSummary
            ``.fit`` (LL, n_params, AIC, BIC, aBIC, entropy, N), ``.classes``
            (proportion, se, counts by posterior probabilities and modal
            class), ``.classification`` (average posterior probabilities),
            ``.profiles`` (estimate, se), ``.parameters``; prints as text and
            shows as HTML in Jupyter.

        Examples
        --------
        >>> ml = m.fit_ml(starts=20, seed=1)   # doctest: +SKIP
        >>> print(ml.summary())                # doctest: +SKIP
        """
        from ..summary import ml_summary
        return ml_summary(self)

    def _repr_html_(self) -> str:
        from ..summary import class_table, fit_series
        fit = fit_series(self).to_frame().to_html()
        classes = class_table(self).to_html(float_format=lambda v: f"{v:.4f}")
        return (f"<b>Maximum likelihood</b> (N = {self.n_obs})<br>{fit}<b>Classes</b>{classes}"
                "<small>ml.summary() for classification, profiles and parameters with SEs</small>")

    def fit_table(self) -> pd.Series:
        """One row of fit statistics (what :func:`bayesmix.select_classes` tabulates).

        Returns
        -------
        Series
            ``loglik``, ``n_params``, ``aic``, ``bic``, ``abic``, ``entropy``,
            ``best_ll_replicated`` ("k of n": the best LL reached from k of
            the n starting sets, :attr:`StartReport.replication`).

        Examples
        --------
        >>> ml.fit_table()           # doctest: +SKIP
        """
        return pd.Series({"loglik": self.loglik, "n_params": self.n_params, "aic": self.aic,
                          "bic": self.bic, "abic": self.abic, "entropy": self.entropy,
                          "best_ll_replicated": self.starts.replication})

    def __str__(self) -> str:
        lines = [
            f"Maximum likelihood (N = {self.n_obs})",
            f"  log-likelihood {self.loglik:.4f}   parameters {self.n_params}",
            f"  AIC {self.aic:.3f}   BIC {self.bic:.3f}   aBIC {self.abic:.3f}   entropy {self.entropy:.3f}",
            f"  starts: {self.starts}",
        ]
        if self.n_boundary:
            lines.append(f"  {self.n_boundary} parameter(s) at the boundary (a probability of 0 or 1): "
                         "held there, SE not available, as Mplus does")
        lines.append("Class proportions:\n" + self.class_proportions.round(4).to_string())
        return "\n".join(lines)


#: keywords fit_ml / fit_map pass on to the start search (documented in MixtureModel.fit_ml)
FIT_EXTRAS = ("initial_iterations", "max_iterations", "warn_unreplicated", "integration", "nested_starts")
FIT_ARGUMENTS = ("starts", "seed", "tol", "integration", "start", "progressbar")


def check_fit_keywords(kwargs, method: str, integration=None) -> None:
    """Unknown keywords of ``fit_ml`` / ``fit_map`` (public names in the message) and ``integration`` keys."""
    from ..options import check_integration, check_keywords
    from .quadrature import METHODS
    public = FIT_ARGUMENTS + FIT_EXTRAS + (("em",) if method == "fit_ml" else ())
    check_keywords(kwargs, FIT_EXTRAS + ("extra_starts",), method, public)
    if integration is not None:
        check_integration(integration, METHODS)  # the model's rule refuses a method its latent block lacks


def fit_ml(mm, starts=20, *, seed=None, tol: float = 1e-3, integration: dict | None = None,
           start=None, progressbar: bool | str = True, em: bool | str = "auto", **kwargs) -> MLResult:
    """Marginal maximum likelihood with Mplus-style random starts (section 10 of the paper).

    Classes are summed out and random effects integrated by quadrature,
    so this is the ML of Mplus (not a joint mode). N random starting sets
    get a short optimization, the M best are optimized to convergence,
    and the output says how many reached the best log-likelihood.
    Constraints given to the factory (``fixed=``, ``equal=``, see
    :mod:`bayesmix.constraints`) hold here as in every other estimator.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    starts : int or (int, int)
        N or (N, M) as Mplus ``STARTS = N M`` (M defaults to N // 4);
        ``starts=0`` with ``start=`` uses only the given start values
        (Mplus ``STARTS = 0``).
    seed : int, optional
        Seed of the random starts (same seed, same result).
    start : dict, MLResult, MAPResult or a list of them, optional
        Start values that join the initial stage: a dict of values on the
        natural scale by the names of ``ml.point`` (``{"class_intercept":
        [0.5], "binary_logit": array}``; parameters left out start at
        random), or a fitted result of this model -- or of the same model
        with one class fewer, whose classes are split in turn (K-1 starts,
        as section 10 recommends). Unknown names or wrong shapes raise a
        ``ValueError``.
    progressbar : bool
        Show a bar (terminal or notebook) counting the optimizations of
        both stages with the best log-likelihood so far (default True).
    tol : float
        Log-likelihood tolerance for "replicated" (default 1e-3).
    integration : dict, optional
        Quadrature for random effects, e.g. ``{"method": "trapezoid",
        "points": 30}`` (default), ``{"method": "gauss-hermite", "points":
        15, "adaptive": True}`` or ``{"method": "monte-carlo", "points": 500}``.
    max_iterations : int
        Final-stage optimizer iterations (default 5000). Where a closed-form
        EM serves the starts (LCA, LTA, within-between, 2PL / 3PL), it caps
        the EM maps of each final-stage run as well, counted apart from the
        L-BFGS-B iterations (each has its own budget of ``max_iterations``;
        ``iterations`` reports L-BFGS-B's): a lower value bounds both stages,
        and an EM map is not free (the 3PL's costs an E step over patterns x
        nodes, a third of a gradient evaluation).
    em : "auto", True or False
        Which closed-form EM may serve the starts (before L-BFGS-B on the model's own
        likelihood finishes them; :func:`bayesmix.inference.optimize.em_for`). ``"auto"``
        (default): the EMs that pay for their families, LCA, LTA, within-between and the
        2PL / 3PL, not the GoM's. ``True``: the GoM EM as well (logistic-normal and
        restricted GoM; :mod:`bayesmix.inference.em_gom`). Measured (whole ``fit_ml``, 20
        starts, CPU s, EM vs gradient starts, load ~18, benchmarks/README): K = 2 at N = 1,000
        x 17 5.8 vs 7.2 s, but at N = 3,000 7.2 vs 4.7 s and at N = 7,326 12.9 vs 4.2 s
        (an EM map costs about a gradient of the pattern density, and the gradient starts
        need few); the restricted K = 3 at N = 1,000 23.9 vs 37.8 s and an LL 0.68 higher,
        which the gradient starts missed. ``False``: gradient starts only, and the standard
        errors from the difference Hessian (not an EM's information). Anything else raises
        a ``ValueError``.
    initial_iterations : int
        Iterations of each initial-stage start (default 25).
    warn_unreplicated : bool
        Warn when the best LL is reached by one final run only (default True).
    nested_starts : bool
        Add starts from the solutions of smaller models, as section 10 of the
        paper recommends (default True; ``False`` turns them off). For
        within and between classes (``n_between_classes=M``, eq. 24-26) of
        binary / nominal items without covariates: the one-between-class
        model (the LCA) is fitted by closed-form EM, its clusters' class
        proportions are partitioned in M groups by k-means++ and each between
        class of the chain of (M-1)-class solutions is split in two; the best
        distinct EM optima join the random starts
        (:func:`bayesmix.inference.optimize.nested_seed_starts`,
        :mod:`bayesmix.inference.em_nested`). The start report counts them
        ("from smaller models' solutions"). Other models have none yet.

    Returns
    -------
    MLResult
        ``loglik``, ``n_params`` (free parameters: fixed elements and ties
        do not count), ``aic``, ``bic``, ``abic``, ``entropy``;
        ``params`` (estimate, se, se_robust: observed information and
        sandwich, named like the PyMC variables; with constraints, a
        ``constraint`` column and every element of a constrained
        parameter, fixed ones with SE 0), ``profiles`` and
        ``class_proportions`` with delta-method SEs, ``class_counts``,
        ``posterior_probabilities`` (units x classes), ``starts`` (the
        start report), ``point`` (estimates by variable), ``iterations``;
        ``summary()`` prints the Mplus-style tables. Classes follow the
        model's one labeling (first solution ordered by size;
        :mod:`bayesmix.relabel`).

    Examples
    --------
    >>> m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)
    >>> ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    >>> round(ml.loglik, 4), ml.n_params         # Agresti (2002): -317.2568, 15 parameters
    (-317.2568, 15)
    >>> print(ml.summary())                      # doctest: +SKIP
    >>> m3 = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=3)
    >>> ml3 = m3.fit_ml(starts=5, seed=1, start=ml, progressbar=False)   # K=2 solution split into K=3 starts
    >>> round(ml3.loglik, 3)                     # poLCA and StepMix: -293.705
    -293.705
    """
    from threadpoolctl import threadpool_limits
    from .optimize import check_em
    from .starts import user_starts
    check_em(em)
    check_fit_keywords(kwargs, "fit_ml", integration)
    extra = list(kwargs.pop("extra_starts", None) or []) + user_starts(mm, start, seed, integration)
    label = ("fit_ml" if progressbar is True else progressbar) or None
    with threadpool_limits(limits=1, user_api="blas"):  # see optimize.multistart
        opt = multistart(mm, "loglik", starts=starts, seed=seed, tol=tol, integration=integration,
                         extra_starts=extra, progress=label, use_em=em, **kwargs)
        result = ml_result(mm, opt, integration, em)
    mm.latest_ml = result  # sample(init="auto") starts at it
    return result


def _check_adaptive(mm, flat, theta, integration, loglik) -> None:
    """Warn when adaptive quadrature disagrees with the fixed default rule at the solution.

    Adaptive rules assume a roughly normal cluster posterior of z; with a
    class ICC near 1 the integrand is nearly a step function and the adaptive
    value can be far off (measured: +5 LL units on the paper's Model 6).
    """
    if flat.adaptive is None:
        return
    fixed = flat_model(mm, {"method": "trapezoid", "points": None, "adaptive": False})
    reference = float(fixed.unit_loglik(fixed.to_theta(flat.constrained(theta))).sum())
    if abs(reference - loglik) > 0.05:
        warnings.warn(f"adaptive quadrature gives LL {loglik:.3f} but the fixed trapezoid rule gives "
                      f"{reference:.3f} at the same estimates: the clusters' posteriors are far from normal "
                      "(e.g. a class ICC near 1); use integration={'method': 'trapezoid', 'points': 30}.",
                      UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _warn_ml(opt: Optimum, params: pd.DataFrame | None, kind: str = "ML", stacklevel: int = 5,
             boundary_of=None) -> None:
    """Say when the best solution's optimizer stopped without converging, and which parameters sit at a bound."""
    if not opt.converged:
        warnings.warn(
            f"the {kind} optimizer did not converge for the best solution (log value {opt.value:.4f}, "
            f"{opt.iterations} iterations: {opt.message or 'no message'}); the estimates and SEs may be off. "
            "Increase max_iterations= (default 5000), or check the model for an empty class or an unidentified "
            "parameter.", ConvergenceWarning, skip_file_prefixes=PACKAGE_FRAMES)
    if params is not None and "at_bound" in params and params["at_bound"].any():
        names = list(params.index[params["at_bound"].to_numpy(bool)])
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        rules, derived = _boundary_wording(names, boundary_of)
        warnings.warn(
            f"{len(names)} parameter(s) at the boundary ({rules}): {shown}. They are held there by the "
            "optimizer and left out of the information matrix (SE NaN, n/a, as Mplus; so are quantities "
            f"derived from them{derived}). Common with small "
            "classes or sparse items; if the class is tiny consider fewer classes, or a Bayesian fit "
            "(fit_map / sample) whose priors keep the estimates inside.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _boundary_wording(names: list[str], boundary_of=None) -> tuple[str, str]:
    """The boundary rules of the named parameters and the derived results they concern.

    ``boundary_of(variable)``: the (lower, upper) past which ML holds an element of the variable at the
    boundary, as the model's parameter registry has it (:meth:`bayesmix.parameters.ParameterRegistry.boundary`:
    an item kernel's link sets +-15 for logits, +-5 for probits, a log-gap range for ordinal thresholds; default
    Mplus' +-15). Only the variables listed are named, each with its own rule.
    """
    from math import exp
    variables = list(dict.fromkeys(name.split("[")[0] for name in names))
    rules = []
    for variable in variables:
        low, high = (boundary_of(variable) if boundary_of is not None else None) or (-15.0, 15.0)
        if "gap" in variable:
            rules.append(f"{variable} outside [{low:.3g}, {high:.3g}] (a threshold gap below {exp(low):.0e})")
        elif "concentration" in variable:
            rules.append(f"{variable} beyond +-{high:g} (log scale: a GoM's LCA or one-profile limit)")
        else:
            rules.append(f"{variable} beyond +-{high:g}" if low == -high else
                         f"{variable} outside [{low:.3g}, {high:.3g}]")
    text = " ".join(variables).lower()
    derived = ["transition_effects"] if "transition" in text else []
    if any(k in text for k in ("transition", "random", "regression")):
        derived.append("R-squared")
    return "a probability of 0 or 1: " + "; ".join(rules), (f", e.g. {', '.join(derived)}" if derived else "")


def ml_result(mm, opt: Optimum, integration: dict | None = None, em: bool | str = "auto") -> MLResult:
    flat = flat_model(mm, integration)
    theta = opt.theta
    _check_adaptive(mm, flat, theta, integration, opt.value)
    boundary = flat.at_bound(theta)
    free = np.flatnonzero(~boundary)
    cov, cov_r = covariances(flat, theta, free, em_information(mm, flat, theta, integration, em))

    labels = flat.labels()
    values, se, se_r = delta_method(flat, "ml_params", list(flat.rvs), theta, cov, cov_r, boundary)
    se[boundary], se_r[boundary] = np.nan, np.nan
    params = pd.DataFrame({"estimate": values, "se": se, "se_robust": se_r, "at_bound": boundary},
                          index=pd.Index(labels, name="parameter"))
    params = constrained_rows(mm, flat, params)
    params = wald_columns(mm, params)  # z, p, odds_ratio (bayesmix/inference/wald.py)

    table, rows = profile_tensor(mm)
    prop = proportion_tensor(mm)
    derived, dse, dse_r = delta_method(flat, "ml_derived", [table, prop], theta, cov, cov_r, boundary)
    k, r = mm.n_classes, len(rows)
    gk = k * (1 if mm.structure.measurement_groups is None else mm.structure.measurement_groups[1])  # by D: M K
    index = pd.MultiIndex.from_tuples(rows, names=["item", "category"])
    cols = profile_columns(mm, ["estimate", "se", "se_robust"])
    stacked = np.stack([derived[: gk * r].reshape(gk, r).T, dse[: gk * r].reshape(gk, r).T,
                        dse_r[: gk * r].reshape(gk, r).T], axis=-1)
    profiles = pd.DataFrame(stacked.reshape(r, -1), index=index, columns=cols)
    proportions = pd.DataFrame({"estimate": derived[gk * r:], "se": dse[gk * r:], "se_robust": dse_r[gk * r:]},
                               index=pd.Index(mm.class_labels, name="class"))

    _warn_ml(opt, params, kind="ML", boundary_of=registry_of(mm.model).boundary)

    (post,) = flat.evaluate("class_probabilities", lambda: [mm.class_probability_tensor(integration)], theta)
    post_df = pd.DataFrame(post, index=mm.class_index, columns=pd.Index(mm.class_labels, name="class"))
    counts = pd.Series(np.bincount(post.argmax(1), minlength=k), index=mm.class_labels, name="modal_count")
    return MLResult(
        loglik=float(opt.value), n_params=flat.n_params, n_obs=mm.sample_size,
        params=params, profiles=profiles, class_proportions=proportions, class_counts=counts,
        entropy=relative_entropy(post), starts=opt.report, point=with_full(mm.parameters, flat.constrained(theta)),
        theta=theta, converged=opt.converged, n_boundary=int(boundary.sum()), posterior_probabilities=post_df,
        iterations=opt.iterations,
    )


def constrained_rows(mm, flat, params: pd.DataFrame) -> pd.DataFrame:
    """Parameters with fixed or tied elements shown in full (Mplus lists fixed ones with SE 0).

    The rows of each ``<name>_free`` vector become one row per element of
    ``name`` with a ``constraint`` column: ``"fixed"``, ``"= <label>"`` (held
    equal to that element, which carries the same estimate and SE) or ``""``;
    fully fixed parameters are appended. Unconstrained models: unchanged.
    """
    infos = [info for info in mm.parameters if info.constrained]
    if not infos:
        return params
    offsets = np.cumsum([0, *flat.sizes])
    position = {rv.name: (offsets[i], offsets[i + 1]) for i, rv in enumerate(flat.rvs)}
    params = params.assign(constraint="")
    pieces, cursor = [], 0
    end = (len(params), len(params))  # fully fixed parameters: appended
    blocks = sorted([(position.get(i.free_name, end), i) for i in infos if i.free_name is None or i.free_name in position],
                    key=lambda t: t[0])
    for (begin, end), info in blocks:
        pieces.append(params.iloc[cursor:begin])
        pieces.append(_element_rows(mm, info, params.iloc[begin:end]))
        cursor = end
    pieces.append(params.iloc[cursor:])
    return pd.concat(pieces)


def _element_rows(mm, info, free_rows: pd.DataFrame) -> pd.DataFrame:
    dims = list(mm.model.named_vars_to_dims.get(info.name, ()) or ())
    coords = mm.model.coords
    shape = info.slots.shape
    def label(idx):
        parts = [str(coords[d][i]) for d, i in zip(dims, idx)] if len(dims) == len(idx) else [str(i) for i in idx]
        return f"{info.name}[{', '.join(parts)}]" if parts else info.name
    elements = list(np.ndindex(*shape))
    labels = [label(idx) for idx in elements]
    first = {}
    rows = []
    for idx, lab in zip(elements, labels):
        slot = int(info.slots[idx])
        if slot < 0:
            rows.append({"estimate": float(info.values[idx]), "se": 0.0, "se_robust": 0.0, "at_bound": False,
                         "constraint": "fixed"})
            continue
        row = free_rows.iloc[slot]
        tied = first.setdefault(slot, lab)
        rows.append({"estimate": row["estimate"], "se": row["se"], "se_robust": row["se_robust"],
                     "at_bound": bool(row["at_bound"]), "constraint": "" if tied == lab else f"= {tied}"})
    return pd.DataFrame(rows, index=pd.Index(labels, name="parameter"))



@dataclass
class MAPResult:
    """Posterior mode (with the model's priors) from multi-start optimization (``m.fit_map()``).

    Attributes
    ----------
    log_posterior : float
        Log prior + log-likelihood at the mode (no Jacobian).
    loglik : float
        The log-likelihood there.
    point : dict
        The mode by variable (natural scale).
    theta : ndarray
        The mode on the optimizer's unconstrained scale.
    starts : StartReport
        The random starts' report.

    Examples
    --------
    >>> mode = m.fit_map(starts=10, seed=1)              # doctest: +SKIP
    >>> m.predict_proba(df.head(), mode)                 # doctest: +SKIP
    >>> idata = m.sample(init=mode, random_seed=1)       # doctest: +SKIP
    """

    log_posterior: float
    loglik: float
    point: dict
    theta: np.ndarray
    starts: StartReport

    def __repr__(self) -> str:
        return (f"MAPResult(log_posterior={self.log_posterior:.4f}, loglik={self.loglik:.4f}, "
                f"replicated {self.starts.replication})")

    def _repr_html_(self) -> str:
        """Jupyter: the mode's values and its start report, then the estimates by variable as tables."""
        import html
        fit = pd.Series({"log posterior": self.log_posterior, "log-likelihood": self.loglik,
                         "best value replicated": self.starts.replication}, name="value").to_frame()
        parts = [f"<b>Posterior mode</b>{fit.to_html()}"]
        for name, value in self.point.items():
            value = np.asarray(value, dtype=float)
            frame = pd.DataFrame(np.atleast_2d(value) if value.ndim <= 2 else value.reshape(value.shape[0], -1))
            parts.append(f"<b>{html.escape(name)}</b>{frame.to_html(float_format=lambda v: f'{v:.4f}')}")
        return "".join(parts) + f"<small>{html.escape(str(self.starts))}</small>"


def fit_map(mm, starts=10, *, seed=None, tol: float = 1e-3, start=None, progressbar: bool | str = True,
            **kwargs) -> MAPResult:
    """Posterior mode: maximize log prior + log-likelihood (no Jacobian), multi-start; see
    :meth:`bayesmix.MixtureModel.fit_map`.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    starts : int or (int, int)
        Random starts N or (N, M), as in :meth:`fit_ml`.
    seed : int, optional
        Seed of the random starts.
    start : dict, MLResult, MAPResult or a list of them, optional
        Start values joining the initial stage, as in :meth:`fit_ml`.
    progressbar : bool
        Show the optimizations done and the best log-posterior so far.
    **kwargs
        ``tol``, ``max_iterations``, ``initial_iterations``, ``warn_unreplicated``.

    Returns
    -------
    MAPResult
        ``log_posterior``, ``loglik``, ``point`` (estimates by variable,
        constrained parameters in full too), ``theta``, ``starts``.

    Examples
    --------
    >>> mode = m.fit_map(starts=10, seed=1)              # doctest: +SKIP
    >>> idata = m.sample(init=mode, random_seed=1)       # doctest: +SKIP
    """
    from .starts import user_starts
    check_fit_keywords(kwargs, "fit_map", kwargs.get("integration"))
    extra = list(kwargs.pop("extra_starts", None) or []) + user_starts(mm, start, seed, kwargs.get("integration"))
    label = ("fit_map" if progressbar is True else progressbar) or None
    opt = multistart(mm, "posterior", starts=starts, seed=seed, tol=tol, extra_starts=extra, progress=label,
                     **kwargs)
    _warn_ml(opt, None, kind="posterior-mode", stacklevel=4)
    flat = flat_model(mm)
    return MAPResult(log_posterior=opt.value, loglik=float(flat.unit_loglik(opt.theta).sum()),
                     point=with_full(mm.parameters, flat.constrained(opt.theta)), theta=opt.theta,
                     starts=opt.report)


def lrt(m_small=None, ml_small=None, m_big=None, ml_big=None) -> pd.Series:
    """Likelihood-ratio test of nested ML fits: 2 (LL_big - LL_small) ~ chi2(df).

    Caveat: comparing models with different numbers of classes puts the null
    on the boundary of the parameter space (a class probability of 0), so the
    chi-square reference distribution does not hold there; use
    :func:`bayesmix.vlmr`, :func:`bayesmix.blrt`, BIC or LOO for the number of
    classes. The test is valid for nested models with the same classes (e.g.
    equality constraints, ``fixed=`` / ``equal=``).

    Parameters
    ----------
    m_small, ml_small : MixtureModel, MLResult
        The restricted model and its fit.
    m_big, ml_big : MixtureModel, MLResult
        The larger model and its fit, on the same data. The same order as
        :func:`bayesmix.vlmr` and :func:`bayesmix.blrt`; the older
        ``lrt(ml_small, ml_big)`` (fits only) still works, with a FutureWarning.

    Returns
    -------
    Series
        ``statistic``, ``df`` (difference in parameters), ``p_value``.

    Examples
    --------
    >>> df, items = bm.datasets.load("carcinoma"), list("ABCDEFG")
    >>> m_free = bm.lca(df, items, 2)
    >>> m_tied = bm.lca(df, items, 2, equal={"binary_logit[*, A]": "class"})   # item A the same in both classes
    >>> test = bm.lrt(m_tied, m_tied.fit_ml(seed=1, progressbar=False), m_free, m_free.fit_ml(seed=1, progressbar=False))
    >>> int(test["df"]), bool(test["p_value"] < 0.001)   # A separates the classes: the tie is rejected
    (1, True)
    """
    from .._pairs import check_pair, is_ml_result
    given = [a for a in (m_small, ml_small, m_big, ml_big) if a is not None]
    if len(given) == 2 and all(is_ml_result(a) for a in given):  # the old lrt(ml_small, ml_big)
        warnings.warn("bm.lrt(ml_small, ml_big) is deprecated: pass the models too, "
                      "bm.lrt(m_small, ml_small, m_big, ml_big), as bm.vlmr and bm.blrt take them.",
                      FutureWarning, skip_file_prefixes=PACKAGE_FRAMES)
        ml_small, ml_big = given
        if ml_big.n_params <= ml_small.n_params:
            raise ValueError("ml_big must have more parameters than ml_small (pass the nested model first).")
    elif len(given) == 4:
        check_pair(m_small, ml_small, m_big, ml_big, "lrt")
    else:
        raise ValueError("lrt takes (m_small, ml_small, m_big, ml_big): the smaller (nested) model and its ML fit, "
                         "then the larger model and its fit.")
    statistic = 2.0 * (ml_big.loglik - ml_small.loglik)
    df = ml_big.n_params - ml_small.n_params
    return pd.Series({"statistic": statistic, "df": df, "p_value": float(stats.chi2.sf(statistic, df))})


def _select_one(factory, data, args: tuple, kwargs: dict, k: int, starts, seed, progressbar) -> tuple:
    """Fit K = k by ML (here or on a dask worker): its fit-table row and its warnings as plain records."""
    from ..enumeration import caught_records
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = factory(data, *args, n_classes=k, **kwargs).fit_ml(starts=starts, seed=seed, progressbar=progressbar)
    row = fit.fit_table()
    row["converged"] = float(fit.converged)
    row["n_boundary"] = fit.n_boundary
    return row, caught_records(caught)


def select_classes(factory, data, *args, k_max: int = 4, k_min: int = 1, starts=20, seed=None,
                   scheduler=None, **kwargs) -> pd.DataFrame:
    """Fit K = k_min..k_max classes by ML and tabulate LL, parameters, AIC, BIC, aBIC, entropy.

    Each K's warnings (unreplicated best LL, non-convergence, boundary
    parameters) are passed on prefixed ``K=k:``. :func:`bayesmix.enumerate_classes`
    also returns the fits and adds the smallest class and the VLMR, LMR and
    bootstrap LRTs of K - 1 against K classes.

    Parameters
    ----------
    factory : callable
        A bayesmix factory such as :func:`bayesmix.lca`.
    data : DataFrame
        Passed to the factory with ``*args`` and ``**kwargs``.
    k_max, k_min : int
        The range of class numbers (default 1..4).
    starts : int or (int, int)
        Random starts of each fit.
    seed : int, optional
        Seed of each fit's starts.
    scheduler : str or distributed.Client, optional
        Where the K's are fitted (:mod:`bayesmix.distributed`): ``"serial"``
        (default), ``"local"`` (a dask ``LocalCluster``), a dask scheduler
        address or a ``distributed.Client``; the table is the same.

    Returns
    -------
    DataFrame
        One row per K: ``loglik``, ``n_params``, ``aic``, ``bic``, ``abic``,
        ``entropy``, ``best_ll_replicated``, ``converged``, ``n_boundary``,
        ``n_warnings``; ``table.attrs["warnings"]`` maps K to its messages.

    Examples
    --------
    >>> bm.select_classes(bm.lca, df, items=list("ABCDEFG"), k_max=4, seed=1)   # doctest: +SKIP
    """
    from ..distributed import map_tasks, resolve_scheduler
    serial = resolve_scheduler(scheduler) == "serial"  # progress bars only in this process
    tasks = [(factory, data, args, kwargs, k, starts, seed, f"K={k}" if serial else False)
             for k in range(k_min, k_max + 1)]
    outcomes = map_tasks(_select_one, tasks, scheduler=scheduler, name="bayesmix-select-classes")
    rows, messages = {}, {}
    for k, (row, caught) in zip(range(k_min, k_max + 1), outcomes):
        rows[k] = row
        messages[k] = []
        for w in caught:
            if not issubclass(w.category, UserWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                continue
            messages[k].append(str(w.message))
            warnings.warn(f"K={k}: {w.message}", w.category, skip_file_prefixes=PACKAGE_FRAMES)
        rows[k]["n_warnings"] = len(messages[k])
    table = pd.DataFrame(rows).T.infer_objects()  # numeric columns numeric; best_ll_replicated "k of n"
    table.index.name = "n_classes"
    table.attrs["warnings"] = messages
    return table
