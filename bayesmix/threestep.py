"""Bias-adjusted three-step estimation: covariates and distal outcomes of latent classes.

Step 1 fits the measurement model (``m.fit_ml()``, or a posterior), step 2
assigns units to classes from their posterior probabilities P(C = c | y_i)
(modal, or soft / proportional), step 3 relates the assigned classes to
covariates (multinomial logit, Mplus ``R3STEP``) or to a distal outcome
(class-specific means and variances, ``DU3STEP`` / ``DE3STEP``; class-specific
probabilities of a binary or nominal outcome, ``DCAT``) while correcting for
the classification error of step 2:

- ``method="ML"`` (Vermunt 2010; Bakk, Tekle & Vermunt 2013): the assigned
  class W is treated as a single indicator of the true class with the fixed
  classification-error probabilities D[c, s] = P(W = s | C = c), and step 3
  maximizes log sum_c P(C = c | x_i) P(W_i | C = c) f(z_i | C = c).
- ``method="BCH"`` (Bolck, Croon & Hagenaars 2004; Vermunt 2010): the
  assignment weights are multiplied by the inverse of D and step 3 maximizes
  the weighted (pseudo) log-likelihood sum_i sum_c w*_ic log[P(C = c | x_i) f(z_i | c)]
  (weights may be negative).
- ``method="naive"``: no correction (the classical three-step, biased towards
  no effect when the classes overlap).

The formulas are those of StepMix 3.0 (Morin et al. 2024): D from the
posterior probabilities of all units of the measurement fit (Vermunt's
eq. 6), the soft ML likelihood as StepMix's ``P(W_i | C = c) = prod_s D[c, s]^{w_is}``
and, with ``proportions="fixed"``, the class proportions held at the step-1
estimates as StepMix does; ``tests/test_threestep.py`` checks the estimates
against StepMix on the same data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from ._warn import PACKAGE_FRAMES
from .evaluate import POSTERIOR_MEAN_ALIAS

__all__ = ["ThreeStepResult", "classification_error", "distal_outcome", "three_step", "three_step_bayes"]

_METHODS = ("ML", "BCH", "naive")
_ASSIGNMENTS = ("modal", "soft")
_KINDS = ("continuous", "binary", "nominal")


# --------------------------------------------------------------------------- step 2
def _posterior(model, fit) -> pd.DataFrame:
    """Units x classes P(C | y) from an MLResult, a posterior (DataTree) or a DataFrame."""
    if isinstance(fit, pd.DataFrame):
        post = fit
    elif hasattr(fit, "posterior_probabilities"):
        post = fit.posterior_probabilities
        if post is None:
            raise ValueError("fit= has no posterior_probabilities; pass the MLResult of m.fit_ml(), "
                             "a posterior from m.sample(), or a units x classes DataFrame of P(C | y).")
    elif hasattr(fit, "posterior") or hasattr(fit, "children"):
        if model is None:
            raise ValueError("fit= is a posterior: pass its model too (model=m), or a units x classes DataFrame.")
        post = model.class_probabilities(fit)
    else:
        raise ValueError(f"fit= must be an MLResult (m.fit_ml()), a posterior (m.sample()) or a units x classes "
                         f"DataFrame of posterior class probabilities, got {type(fit).__name__}.")
    if model is not None and getattr(getattr(model, "structure", None), "class_level", None) == "cluster":
        raise ValueError("three-step estimation needs unit-level classes; this model's classes are on the "
                         "cluster level (class_level='between'). Use a single-level or within-level model.")
    names = getattr(getattr(model, "data", None), "covariate_names", None)
    if names:
        warnings.warn(f"the measurement model already has covariates {list(names)}: its posterior class "
                      "probabilities use them, so step 3 is not a pure three-step analysis; fit the measurement "
                      "model without covariates for R3STEP / BCH.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    values = post.to_numpy(dtype=float)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"fit= gives posterior probabilities of shape {values.shape}; three-step needs >= 2 classes.")
    if not np.all(np.isfinite(values)) or np.any(values < -1e-9) or not np.allclose(values.sum(1), 1.0, atol=1e-6):
        raise ValueError("fit= posterior probabilities must be finite, non-negative and sum to 1 per unit.")
    return post


def _assign(probs: np.ndarray, assignment: str) -> np.ndarray:
    if assignment == "modal":
        return np.eye(probs.shape[1])[probs.argmax(1)]
    return probs


def classification_error(fit, assignment: str = "modal", *, model=None) -> pd.DataFrame:
    """Classification-error matrix D[c, s] = P(W = s | C = c) of step 2.

    D[c, s] = sum_i P(C_i = c | y_i) w_is / sum_i P(C_i = c | y_i) (Vermunt
    2010, eq. 6), with w_is the modal (one-hot) or soft (the posterior itself)
    assignment of unit i to class s. Rows are true classes, columns assigned
    classes; each row sums to 1, and the diagonal is the probability of a
    correct assignment.

    Parameters
    ----------
    fit : MLResult, DataTree or DataFrame
        The measurement fit (``m.fit_ml()``; a posterior needs ``model=``) or
        units x classes posterior probabilities.
    assignment : ``"modal"`` or ``"soft"``

    Returns
    -------
    DataFrame
        Classes x assigned classes.

    Examples
    --------
    >>> ml = m.fit_ml(starts=20, seed=1)                      # doctest: +SKIP
    >>> bm.classification_error(ml)                           # doctest: +SKIP
    """
    _check_choice(assignment, _ASSIGNMENTS, "assignment")
    post = _posterior(model, fit)
    d = _d_matrix(post.to_numpy(dtype=float), assignment)
    labels = list(post.columns)
    return pd.DataFrame(d, index=pd.Index(labels, name="class"), columns=pd.Index(labels, name="assigned"))


def _d_matrix(probs: np.ndarray, assignment: str) -> np.ndarray:
    w = _assign(probs, assignment)
    return (probs.T @ w) / probs.sum(0)[:, None]


# --------------------------------------------------------------------------- step 3 models
class _Structural:
    """The step-3 model: log P(C = c | x_i) + log f(z_i | c) per unit and class, and its derivatives."""

    def __init__(self, n_classes: int, x: np.ndarray | None, z: np.ndarray | None, kind: str | None,
                 n_categories: int = 0, variances: str = "class", class_model: bool = True,
                 fixed_logpi: np.ndarray | None = None):
        self.k, self.x, self.z, self.kind = n_classes, x, z, kind
        self.j, self.variances, self.class_model = n_categories, variances, class_model
        self.fixed_logpi = fixed_logpi
        k = n_classes
        self.n_gamma = (k - 1) * x.shape[1] if class_model else 0
        if kind == "continuous":
            self.n_z = k + (k if variances == "class" else 1)
        elif kind == "binary":
            self.n_z = k
        elif kind == "nominal":
            self.n_z = k * (n_categories - 1)
        else:
            self.n_z = 0
        self.n_params = self.n_gamma + self.n_z

    def split(self, theta):
        k = self.k
        gamma = theta[: self.n_gamma].reshape(k - 1, -1) if self.class_model else None
        return gamma, theta[self.n_gamma:]

    def terms(self, theta: np.ndarray, derivatives: bool = True):
        """a[i, c] and da[i, c, :] = d a[i, c] / d theta."""
        n, k = len(self.x) if self.x is not None else len(self.z), self.k
        gamma, zeta = self.split(theta)
        a = np.zeros((n, k))
        grad = np.zeros((n, k, self.n_params)) if derivatives else None
        if self.class_model:
            eta = np.column_stack([self.x @ gamma.T, np.zeros(n)])
            logpi = eta - special.logsumexp(eta, axis=1, keepdims=True)
            a += logpi
            if derivatives:
                pi = np.exp(logpi)[:, : k - 1]
                p = self.x.shape[1]
                for c in range(k):
                    d = -pi.copy()
                    if c < k - 1:
                        d[:, c] += 1.0
                    grad[:, c, : self.n_gamma] = (d[:, :, None] * self.x[:, None, :]).reshape(n, -1)
        elif self.fixed_logpi is not None:
            a += self.fixed_logpi[None, :]
        off = self.n_gamma
        if self.kind == "continuous":
            mu = zeta[:k]
            logsd = zeta[k:] if self.variances == "class" else np.repeat(zeta[k], k)
            r = (self.z[:, None] - mu[None, :]) / np.exp(logsd)[None, :]
            a += -0.5 * r ** 2 - logsd[None, :] - 0.5 * np.log(2 * np.pi)
            if derivatives:
                sd = np.exp(logsd)
                for c in range(k):
                    grad[:, c, off + c] = r[:, c] / sd[c]
                    grad[:, c, off + k + (c if self.variances == "class" else 0)] = r[:, c] ** 2 - 1.0
        elif self.kind == "binary":
            psi = zeta
            a += self.z[:, None] * psi[None, :] - np.logaddexp(0.0, psi)[None, :]
            if derivatives:
                p = special.expit(psi)
                for c in range(k):
                    grad[:, c, off + c] = self.z - p[c]
        elif self.kind == "nominal":
            jj = self.j
            psi = np.column_stack([np.zeros(k), zeta.reshape(k, jj - 1)])        # first category the reference
            logp = psi - special.logsumexp(psi, axis=1, keepdims=True)
            a += logp[:, self.z].T
            if derivatives:
                p = np.exp(logp)
                onehot = np.eye(jj)[self.z]
                for c in range(k):
                    grad[:, c, off + c * (jj - 1): off + (c + 1) * (jj - 1)] = onehot[:, 1:] - p[c, 1:]
        return a, grad


def _objective(model: _Structural, mode: str, meas: np.ndarray):
    """Negative log-likelihood, its gradient and per-unit scores.

    ``mode="mixture"``: ll_i = logsumexp_c(a_ic + meas_ic) (ML correction);
    ``mode="weighted"``: ll_i = sum_c meas_ic a_ic (naive and BCH, meas = weights).
    """

    def evaluate(theta, scores=False):
        a, g = model.terms(theta)
        if mode == "mixture":
            t = a + meas
            ll = special.logsumexp(t, axis=1)
            r = np.exp(t - ll[:, None])
        else:
            ll = (meas * a).sum(1)
            r = meas
        s = np.einsum("ic,icp->ip", r, g)
        if scores:
            return ll, s
        return -ll.sum(), -s.sum(0)

    return evaluate


def _hessian(fun, theta: np.ndarray) -> np.ndarray:
    """Hessian of the negative log-likelihood by central differences of the analytic gradient."""
    p = len(theta)
    h = np.zeros((p, p))
    for j in range(p):
        step = 1e-5 * max(1.0, abs(theta[j]))
        e = np.zeros(p)
        e[j] = step
        h[:, j] = (fun(theta + e)[1] - fun(theta - e)[1]) / (2 * step)
    return 0.5 * (h + h.T)


def _fit(model: _Structural, mode: str, meas: np.ndarray, start: np.ndarray):
    fun = _objective(model, mode, meas)
    res = optimize.minimize(lambda t: fun(t), start, jac=True, method="BFGS",
                            options={"gtol": 1e-9, "maxiter": 10000})
    theta = res.x
    for _ in range(20):                               # Newton polish to a tight optimum
        value, grad = fun(theta)
        hess = _hessian(fun, theta)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        t_new = theta - step
        if fun(t_new)[0] > value + 1e-10:
            break
        theta = t_new
        if np.max(np.abs(step)) < 1e-10:
            break
    value, grad = fun(theta)
    hess = _hessian(fun, theta)
    _, scores = fun(theta, scores=True)
    converged = bool(np.max(np.abs(grad)) < 1e-4 * max(1.0, len(meas) / 100))
    return theta, -value, hess, scores, converged


def _covariances(hess: np.ndarray, scores: np.ndarray):
    try:
        inv = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(hess)
    if not np.all(np.isfinite(inv)) or np.any(np.diag(inv) <= 0):
        inv = np.full_like(hess, np.nan)
    meat = scores.T @ scores
    return inv, inv @ meat @ inv


def _delta(fn, theta: np.ndarray, cov: np.ndarray):
    """Derived values and their covariance by the delta method (central-difference Jacobian)."""
    value = np.asarray(fn(theta), dtype=float)
    jac = np.zeros((len(value), len(theta)))
    for j in range(len(theta)):
        step = 1e-6 * max(1.0, abs(theta[j]))
        e = np.zeros(len(theta))
        e[j] = step
        jac[:, j] = (np.asarray(fn(theta + e)) - np.asarray(fn(theta - e))) / (2 * step)
    return value, jac @ cov @ jac.T


def _wald(est: np.ndarray, cov: np.ndarray, contrast: np.ndarray) -> tuple[float, int, float]:
    c = np.atleast_2d(contrast)
    diff = c @ est
    v = c @ cov @ c.T
    try:
        chi2 = float(diff @ np.linalg.solve(v, diff))
    except np.linalg.LinAlgError:
        return np.nan, c.shape[0], np.nan
    return chi2, c.shape[0], float(stats.chi2.sf(chi2, c.shape[0]))


def _z_table(est: np.ndarray, se: np.ndarray, index) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    return pd.DataFrame({"estimate": est, "se": se, "z": z, "p": 2 * stats.norm.sf(np.abs(z))}, index=index)


# --------------------------------------------------------------------------- result
@dataclass
class ThreeStepResult:
    """A step-3 fit: labelled estimates with SEs, Wald tests and the classification error of step 2.

    Attributes
    ----------
    estimates : DataFrame
        Covariates: rows (class, term) of the multinomial logit against the
        reference class, with ``estimate``, ``se``, ``z``, ``p``, ``odds_ratio``,
        ``or_lower``, ``or_upper`` (95 %). Distal outcomes: rows (class,
        parameter): ``mean`` and ``variance`` (continuous) or ``P(z=k)``
        (binary, nominal), with ``estimate``, ``se``, ``z``, ``p``.
    wald : DataFrame
        ``chi2``, ``df``, ``p`` of the Wald tests: covariates, each covariate's
        effects all zero (and all of them); distal outcomes, equality across
        all classes and for each pair of classes (Mplus' overall and pairwise tests).
    class_proportions : Series
        Step-3 class proportions (mean fitted P(C | x) with covariates).
    classification_error : DataFrame
        D[c, s] = P(assigned s | class c) used by the correction.
    params : DataFrame
        The estimated parameters on the optimizer's scale (logits, log SDs)
        with ``se`` and ``se_robust`` (sandwich).
    loglik : float
        Step-3 log-likelihood (ML: corrected likelihood; naive and BCH: the
        weighted pseudo-log-likelihood).
    n_obs, n_dropped : int
        Units used in step 3 and units dropped for missing covariates / outcome.

    Examples
    --------
    >>> res = bm.three_step(m, ml, df, covariates=["age"])     # doctest: +SKIP
    >>> print(res.summary())                                   # doctest: +SKIP
    >>> res.estimates[["estimate", "se", "odds_ratio", "p"]]   # doctest: +SKIP
    """

    what: str
    method: str
    assignment: str
    estimates: pd.DataFrame
    wald: pd.DataFrame
    class_proportions: pd.Series
    classification_error: pd.DataFrame
    params: pd.DataFrame
    loglik: float
    n_obs: int
    n_dropped: int
    converged: bool
    reference: str | None = None
    cov: np.ndarray = field(default=None, repr=False)
    #: the step-3 posterior (``three_step_bayes``)
    idata: Any = field(default=None, repr=False)

    def _repr_html_(self) -> str:
        """Jupyter: the header line and the estimates, Wald tests, class proportions and D as HTML tables."""
        import html
        head = html.escape(self.summary().splitlines()[0])
        ref = f"<br>Multinomial logit, reference class {html.escape(str(self.reference))}" if self.reference else ""
        tables = [("Estimates", self.estimates), ("Wald tests", self.wald),
                  ("Class proportions", self.class_proportions.to_frame()),
                  ("Classification error D[c, s] = P(assigned s | class c)", self.classification_error)]
        body = "".join(f"<b>{name}</b>{table.to_html(float_format=lambda v: f'{v:.4f}')}"
                       for name, table in tables if len(table))
        return f"<b>{head}</b>{ref}<br>{body}"

    def summary(self) -> str:
        """The estimates, Wald tests, class proportions and D as text.

        Returns
        -------
        str

        Examples
        --------
        >>> print(res.summary())      # doctest: +SKIP
        """
        lines = [f"Three-step {self.what} ({self.method}, {self.assignment} assignment): "
                 f"{self.n_obs} units" + (f", {self.n_dropped} dropped (missing values)" if self.n_dropped else "")
                 + f", step-3 LL {self.loglik:.4f}" + ("" if self.converged else " (NOT CONVERGED)")]
        if self.reference:
            lines.append(f"Multinomial logit, reference class {self.reference}")
        lines += ["", "Estimates", self.estimates.round(4).to_string(), "", "Wald tests",
                  self.wald.round(4).to_string(), "", "Class proportions",
                  self.class_proportions.round(4).to_string(), "",
                  f"Classification error D = P(assigned | class), {self.assignment} assignment",
                  self.classification_error.round(4).to_string()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"ThreeStepResult({self.what}, method={self.method!r}, assignment={self.assignment!r}, "
                f"n_obs={self.n_obs})")


# --------------------------------------------------------------------------- checks
def _check_choice(value, choices, argument):
    if value not in choices:
        raise ValueError(f"{argument}={value!r} is not one of {list(choices)}.")


def _columns(data: pd.DataFrame, names: Sequence[str], argument: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data= must be a pandas DataFrame, got {type(data).__name__}.")  # noqa: TRY004
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise ValueError(f"{argument}= names column(s) {missing} that are not in data; "
                         f"available columns: {list(data.columns)}.")


def _align(post: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """The rows of data belonging to the units of the measurement fit, in its order."""
    if not post.index.isin(data.index).all():
        n_out = int((~post.index.isin(data.index)).sum())
        raise ValueError(f"data= lacks {n_out} unit(s) of the measurement fit (rows are matched by index); pass the "
                         "data frame the model was fitted on (or one with the same index).")
    if not data.index.is_unique:
        raise ValueError("data= has a duplicated index; rows are matched to the fit's units by index: "
                         "reset it (data.reset_index(drop=True)) before fitting the model.")
    return data.loc[post.index]


def _drop_missing(rows: pd.DataFrame, names: Sequence[str], argument: str) -> np.ndarray:
    keep = rows[list(names)].notna().all(axis=1).to_numpy()
    n_drop = int((~keep).sum())
    if n_drop == len(keep):
        raise ValueError(f"every unit has a missing value in {argument}={list(names)}; nothing left for step 3.")
    if n_drop:
        warnings.warn(f"three-step: {n_drop} unit(s) with missing values in {argument}={list(names)} are dropped "
                      "from step 3 (the classification error D still uses every unit of the measurement fit).",
                      UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    return keep


# --------------------------------------------------------------------------- public API
def three_step(model, fit, data: pd.DataFrame, covariates: Sequence[str], *, method: str = "ML",
               assignment: str = "modal") -> ThreeStepResult:
    """Covariates predicting the latent classes by the bias-adjusted three-step method (Mplus R3STEP).

    Step 3 is the multinomial logit P(C = c | x) = exp(x'g_c) / sum_k exp(x'g_k)
    with the last class the reference (g_K = 0), estimated from the step-2
    class assignments corrected for their classification error D (see
    :func:`classification_error`): ``method="ML"`` maximizes
    sum_i log sum_c P(C = c | x_i) P(W_i | C = c) (Vermunt 2010; Mplus R3STEP),
    ``"BCH"`` the log-likelihood weighted by the assignments times D^-1
    (Bolck, Croon & Hagenaars 2004), ``"naive"`` uses the assignments as if
    they were the classes (biased toward zero effects).

    Standard errors: ``se`` is the observed information of step 3 (ML,
    naive) or the sandwich estimator (BCH, whose weights are not a
    likelihood); ``params.se_robust`` is the sandwich for every method. They
    treat the step-1 measurement model (D and the posteriors) as known, as
    StepMix's default and Mplus do: they do not account for step-1
    uncertainty (bootstrap the whole procedure for that).

    Parameters
    ----------
    model : MixtureModel or None
        The measurement model (``bm.lca(...)``), fitted without the covariates.
        Needed only when ``fit`` is a posterior.
    fit : MLResult, DataTree or DataFrame
        Step 1: ``m.fit_ml()`` (its ``posterior_probabilities``), a posterior
        from ``m.sample()`` (the posterior-mean class probabilities, i.e. the
        measurement posterior fixed), or a units x classes DataFrame of P(C | y).
    data : DataFrame
        Rows matched to the fit's units by index (the frame the model was fitted on).
    covariates : list of str
        Numeric columns; units with a missing covariate are dropped with a warning.
    method : ``"ML"``, ``"BCH"`` or ``"naive"``
        StepMix ``correction="ML"``, ``"BCH"``, ``None``.
    assignment : ``"modal"`` or ``"soft"``
        Step-2 assignment: the modal class, or the posterior probabilities
        (proportional). ML with soft assignment uses StepMix's likelihood
        P(W_i | C = c) = prod_s D[c, s]^{p_is}.

    Returns
    -------
    ThreeStepResult
        ``estimates`` (logits, SEs, z, p, odds ratios), ``wald`` (each
        covariate's effects zero), ``class_proportions``, ``classification_error``.

    Examples
    --------
    >>> import bayesmix as bm
    >>> sim = bm.datasets.simulate_lca(500, 6, 2, class_slope=[[1.0]], seed=1)
    >>> m = bm.lca(sim.data, items=sim.items, n_classes=2)
    >>> ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    >>> res = bm.three_step(m, ml, sim.data, covariates=["x1"], method="ML")
    >>> res.estimates.loc[("class1", "x1"), ["estimate", "se", "odds_ratio"]]   # doctest: +SKIP
    """
    _check_choice(method, _METHODS, "method")
    _check_choice(assignment, _ASSIGNMENTS, "assignment")
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates or [])
    if not covariates:
        raise ValueError("covariates= is empty: name at least one column of data, e.g. covariates=['age'].")
    post = _posterior(model, fit)
    _columns(data, covariates, "covariates")
    rows = _align(post, data)
    for name in covariates:
        if not (pd.api.types.is_numeric_dtype(rows[name]) or pd.api.types.is_bool_dtype(rows[name])):
            raise ValueError(f"covariates= column {name!r} is not numeric ({rows[name].dtype}); code it as numbers "
                             "(dummy-code a categorical covariate, e.g. pd.get_dummies(..., drop_first=True)).")
    probs = post.to_numpy(dtype=float)
    keep = _drop_missing(rows, covariates, "covariates")
    x = rows.loc[keep, covariates].to_numpy(dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("covariates= has infinite values; replace them or drop those rows.")
    labels = [str(c) for c in post.columns]
    k = len(labels)
    xfull = np.column_stack([np.ones(len(x)), x])
    terms = ["Intercept"] + covariates
    model3 = _Structural(k, xfull, None, None, class_model=True)
    d, mode, meas = _correction(probs, keep, method, assignment)
    start = np.zeros(model3.n_params)
    # start at the naive-soft intercepts (log ratios of the mean posteriors)
    m0 = np.clip(probs[keep].mean(0), 1e-6, None)
    start.reshape(k - 1, -1)[:, 0] = np.log(m0[:-1] / m0[-1])
    theta, ll, hess, scores, converged = _fit(model3, mode, meas, start)
    cov, cov_r = _covariances(hess, scores)
    main = cov_r if method == "BCH" else cov
    se = np.sqrt(np.diag(main))
    index = pd.MultiIndex.from_product([labels[:-1], terms], names=["class", "term"])
    est = _z_table(theta, se, index)
    est["odds_ratio"] = np.exp(theta)
    est["or_lower"] = np.exp(theta - 1.959963984540054 * se)
    est["or_upper"] = np.exp(theta + 1.959963984540054 * se)
    est.loc[(slice(None), "Intercept"), ["odds_ratio", "or_lower", "or_upper"]] = np.nan
    params = pd.DataFrame({"estimate": theta, "se": np.sqrt(np.diag(cov)), "se_robust": np.sqrt(np.diag(cov_r))},
                          index=pd.Index([f"class_logit[{c}, {t}]" for c, t in index], name="parameter"))
    p = len(terms)
    tests = {}
    for j, name in enumerate(covariates, start=1):
        con = np.zeros((k - 1, len(theta)))
        for c in range(k - 1):
            con[c, c * p + j] = 1.0
        tests[f"{name} (all classes)"] = _wald(theta, main, con)
    if len(covariates) > 1:
        con = np.zeros(((k - 1) * len(covariates), len(theta)))
        r = 0
        for c in range(k - 1):
            for j in range(1, p):
                con[r, c * p + j] = 1.0
                r += 1
        tests["all covariates"] = _wald(theta, main, con)
    wald = pd.DataFrame(tests, index=["chi2", "df", "p"]).T.astype({"df": int})
    wald.index.name = "test"
    a, _ = model3.terms(theta, derivatives=False)
    props = pd.Series(np.exp(a).mean(0), index=pd.Index(labels, name="class"), name="proportion")
    return ThreeStepResult(
        what=f"covariates {covariates}", method=method, assignment=assignment, estimates=est, wald=wald,
        class_proportions=props, classification_error=_d_frame(d, labels), params=params, loglik=ll,
        n_obs=int(keep.sum()), n_dropped=int((~keep).sum()), converged=converged, reference=labels[-1], cov=main)


def distal_outcome(model, fit, data: pd.DataFrame, outcome: str, *, kind: str = "continuous",
                   method: str = "ML", assignment: str = "modal", variances: str = "class",
                   proportions: str = "free") -> ThreeStepResult:
    """Class-specific means or probabilities of a distal outcome, bias-adjusted three-step (Mplus DU3STEP / DCAT / BCH).

    Step 3 fits f(z | C = c): a normal with class-specific mean and variance
    (``variances="class"``, Mplus DU3STEP and BCH) or one variance
    (``"equal"``, DE3STEP) for ``kind="continuous"``; class-specific
    P(z = 1) (``"binary"``) or category probabilities (``"nominal"``, DCAT),
    correcting for classification error as :func:`three_step` does
    (``method="ML"``: sum_i log sum_c pi_c P(W_i | C = c) f(z_i | c);
    ``"BCH"``: weighted means / proportions with weights assignment x D^-1;
    ``"naive"``: none).

    Standard errors: observed information of step 3 (ML, naive) or sandwich
    (BCH), treating step 1 as known (they do not account for step-1
    uncertainty, as StepMix's default); probabilities and variances get
    delta-method SEs. The Wald tests compare the class means (continuous) or
    the probabilities (binary, nominal) across all classes and for each pair.

    Parameters
    ----------
    model : MixtureModel or None
        The measurement model (fitted without the outcome); needed when ``fit`` is a posterior.
    fit : MLResult, DataTree or DataFrame
        Step 1 (see :func:`three_step`).
    data : DataFrame
        Rows matched to the fit's units by index.
    outcome : str
        The distal outcome column; units with it missing are dropped with a warning.
    kind : ``"continuous"``, ``"binary"`` or ``"nominal"``
        Binary: two distinct values (0/1, booleans or two labels; the larger
        one is "1"); nominal: a few unordered codes.
    method : ``"ML"``, ``"BCH"`` or ``"naive"``
    assignment : ``"modal"`` or ``"soft"``
    variances : ``"class"`` or ``"equal"``
        Continuous outcome: class-specific (default) or one variance.
    proportions : ``"free"`` or ``"fixed"``
        ML method: class proportions estimated in step 3 (default, as Mplus and
        Latent GOLD) or held at the step-1 estimates (mean posterior
        probabilities, as StepMix 3.0 does). Not used by BCH and naive, which
        report the mean (weighted) assignment.

    Returns
    -------
    ThreeStepResult
        ``estimates`` rows (class, mean / variance / P(z=k)), ``wald``,
        ``class_proportions``, ``classification_error``.

    Examples
    --------
    >>> res = bm.distal_outcome(m, ml, df, outcome="y", kind="continuous", method="BCH")   # doctest: +SKIP
    >>> res.estimates.xs("mean", level="parameter")                                      # doctest: +SKIP
    >>> res.wald                                                                         # doctest: +SKIP
    """
    _check_choice(method, _METHODS, "method")
    _check_choice(assignment, _ASSIGNMENTS, "assignment")
    _check_choice(kind, _KINDS, "kind")
    _check_choice(variances, ("class", "equal"), "variances")
    _check_choice(proportions, ("free", "fixed"), "proportions")
    if not isinstance(outcome, str):
        raise ValueError(f"outcome= must be one column name (a str), got {outcome!r}; call distal_outcome once "  # noqa: TRY004
                         "per outcome.")
    post = _posterior(model, fit)
    _columns(data, [outcome], "outcome")
    rows = _align(post, data)
    probs = post.to_numpy(dtype=float)
    keep = _drop_missing(rows, [outcome], "outcome")
    col = rows.loc[keep, outcome]
    z, categories = _encode_outcome(col, kind, outcome)
    labels = [str(c) for c in post.columns]
    k = len(labels)
    d, mode, meas = _correction(probs, keep, method, assignment)
    class_model = mode == "mixture" and proportions == "free"
    fixed_logpi = np.log(probs.mean(0)) if mode == "mixture" and proportions == "fixed" else None
    ones = np.ones((len(z), 1))
    model3 = _Structural(k, ones, z, kind, n_categories=len(categories), variances=variances,
                         class_model=class_model, fixed_logpi=fixed_logpi)
    start = _distal_start(model3, probs[keep], z, kind, len(categories), variances)
    if class_model:
        m0 = np.clip(probs.mean(0), 1e-6, None)
        start = np.concatenate([np.log(m0[:-1] / m0[-1]), start])
    theta, ll, hess, scores, converged = _fit(model3, mode, meas, start)
    cov, cov_r = _covariances(hess, scores)
    main = cov_r if method == "BCH" else cov

    def derived(t):
        _, zeta = model3.split(t)
        if kind == "continuous":
            logsd = zeta[k:] if variances == "class" else np.repeat(zeta[k], k)
            return np.concatenate([zeta[:k], np.exp(2 * logsd)])
        if kind == "binary":
            return special.expit(zeta)
        psi = np.column_stack([np.zeros(k), zeta.reshape(k, -1)])
        return special.softmax(psi, axis=1).ravel()

    val, vcov = _delta(derived, theta, main)
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    if kind == "continuous":
        names = ["mean", "variance"]
        order = [(labels[c], nm) for nm in names for c in range(k)]
    elif kind == "binary":
        order = [(labels[c], f"P({outcome}={categories[1]})") for c in range(k)]
    else:
        order = [(labels[c], f"P({outcome}={cat})") for c in range(k) for cat in categories]
    est = _z_table(val, se, pd.MultiIndex.from_tuples(order, names=["class", "parameter"]))
    if kind != "continuous":
        est[["z", "p"]] = np.nan                      # z against 0 is meaningless for probabilities
    est = est.sort_index(level="class", sort_remaining=False).reindex(labels, level="class")
    # Wald tests of equality across classes on the reported scale
    pick = (lambda c: [c]) if kind != "nominal" else (lambda c: [c * len(categories) + j for j in range(1, len(categories))])
    tests = {}

    def contrast(pairs):
        rows_ = []
        for c1, c2 in pairs:
            for i1, i2 in zip(pick(c1), pick(c2)):
                r = np.zeros(len(val))
                r[i1], r[i2] = 1.0, -1.0
                rows_.append(r)
        return np.array(rows_)

    tests["overall (all classes equal)"] = _wald(val, vcov, contrast([(c, k - 1) for c in range(k - 1)]))
    if k > 2:
        for c1 in range(k):
            for c2 in range(c1 + 1, k):
                tests[f"{labels[c1]} vs {labels[c2]}"] = _wald(val, vcov, contrast([(c1, c2)]))
    wald = pd.DataFrame(tests, index=["chi2", "df", "p"]).T.astype({"df": int})
    wald.index.name = "test"
    if class_model:
        pi = special.softmax(np.concatenate([theta[: k - 1], [0.0]]))
    elif fixed_logpi is not None:
        pi = np.exp(fixed_logpi)
    else:
        pi = meas.mean(0)
    props = pd.Series(pi, index=pd.Index(labels, name="class"), name="proportion")
    pnames = [f"class_logit[{labels[c]}]" for c in range(k - 1)] if class_model else []
    if kind == "continuous":
        pnames += [f"mean[{c}]" for c in labels]
        pnames += [f"log_sd[{c}]" for c in labels] if variances == "class" else ["log_sd"]
    elif kind == "binary":
        pnames += [f"logit[{c}]" for c in labels]
    else:
        pnames += [f"logit[{c}, {cat}]" for c in labels for cat in categories[1:]]
    params = pd.DataFrame({"estimate": theta, "se": np.sqrt(np.diag(cov)), "se_robust": np.sqrt(np.diag(cov_r))},
                          index=pd.Index(pnames, name="parameter"))
    return ThreeStepResult(
        what=f"distal outcome {outcome!r} ({kind})", method=method, assignment=assignment, estimates=est,
        wald=wald, class_proportions=props, classification_error=_d_frame(d, labels), params=params, loglik=ll,
        n_obs=int(keep.sum()), n_dropped=int((~keep).sum()), converged=converged, cov=vcov)


# --------------------------------------------------------------------------- helpers
def _d_frame(d, labels):
    return pd.DataFrame(d, index=pd.Index(labels, name="class"), columns=pd.Index(labels, name="assigned"))


def _correction(probs: np.ndarray, keep: np.ndarray, method: str, assignment: str):
    """D (from every unit of the fit) and the step-3 mode with its per-unit, per-class term."""
    d = _d_matrix(probs, assignment)
    w = _assign(probs, assignment)[keep]
    if method == "ML":
        log_d = np.log(np.clip(d, 1e-15, 1 - 1e-15))
        return d, "mixture", w @ log_d.T
    if method == "BCH":
        return d, "weighted", w @ np.linalg.pinv(d)
    return d, "weighted", w


def _encode_outcome(col: pd.Series, kind: str, outcome: str):
    values = col.to_numpy()
    uniq = pd.unique(col)
    if kind == "continuous":
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"outcome={outcome!r} is not numeric ({col.dtype}); use kind='binary' or kind='nominal' "
                             "for a categorical outcome.")
        if len(uniq) <= 2:
            raise ValueError(f"outcome={outcome!r} has {len(uniq)} distinct value(s); a continuous outcome needs more "
                             "(use kind='binary' for a two-valued outcome).")
        z = values.astype(float)
        if not np.all(np.isfinite(z)):
            raise ValueError(f"outcome={outcome!r} has infinite values; replace them or drop those rows.")
        return z, []
    try:
        cats = sorted(uniq)
    except TypeError:
        cats = sorted(uniq, key=str)
    if kind == "binary" and len(cats) != 2:
        raise ValueError(f"outcome={outcome!r} has {len(cats)} distinct values, kind='binary' needs exactly 2 "
                         + ("(use kind='continuous' or kind='nominal')." if len(cats) > 2 else "(it is constant)."))
    if kind == "nominal":
        if len(cats) < 2:
            raise ValueError(f"outcome={outcome!r} is constant; kind='nominal' needs at least 2 categories.")
        if pd.api.types.is_float_dtype(col) and not np.allclose(values, np.round(values)):
            raise ValueError(f"outcome={outcome!r} has non-integer numbers; kind='nominal' needs category codes "
                             "(use kind='continuous' for a numeric outcome).")
        if len(cats) > 20:
            raise ValueError(f"outcome={outcome!r} has {len(cats)} categories; kind='nominal' allows at most 20 "
                             "(use kind='continuous', or recode into fewer categories).")
    lookup = {c: i for i, c in enumerate(cats)}
    z = np.array([lookup[v] for v in values], dtype=int)
    return z, [str(c) for c in cats]


def _distal_start(model3: _Structural, probs: np.ndarray, z: np.ndarray, kind: str, n_cat: int, variances: str):
    k = probs.shape[1]
    w = probs / probs.sum(0)
    if kind == "continuous":
        mu = w.T @ z
        var = np.array([w[:, c] @ (z - mu[c]) ** 2 for c in range(k)])
        var = np.clip(var, 1e-8 * max(1.0, np.var(z)), None)
        logsd = 0.5 * np.log(var) if variances == "class" else np.array([0.5 * np.log(probs.mean(0) @ var)])
        return np.concatenate([mu, logsd])
    onehot = np.eye(n_cat)[z]
    p = np.clip(w.T @ onehot, 1e-6, None)
    p /= p.sum(1, keepdims=True)
    if kind == "binary":
        return np.log(p[:, 1] / p[:, 0])
    return (np.log(p[:, 1:]) - np.log(p[:, :1])).ravel()


# --------------------------------------------------------------------------- Bayesian step 3
def three_step_bayes(model, fit, data: pd.DataFrame, *, covariates: Sequence[str] | None = None,
                     outcome: str | None = None, kind: str = "continuous", assignment: str = "modal",
                     variances: str = "class", prior_sd: float = 5.0, draws: int = 1000, tune: int = 1000,
                     chains: int = 2, random_seed=None, progressbar: bool = False) -> ThreeStepResult:
    """Bayesian step 3: NUTS on the classification-error-corrected likelihood, measurement posterior fixed.

    The likelihood is that of ``method="ML"`` in :func:`three_step` /
    :func:`distal_outcome`: sum_i log sum_c P(C = c | x_i) P(W_i | C = c)
    f(z_i | c), with D and the assignments W computed once from ``fit`` (an
    ML fit, or a posterior's posterior-mean class probabilities: the
    measurement posterior is held fixed, its uncertainty is not propagated).
    Priors: Normal(0, ``prior_sd``) on multinomial logits (covariate effects,
    binary / nominal outcome logits); for a continuous outcome
    Normal(mean(z), ``prior_sd`` sd(z)) on class means and
    HalfNormal(``prior_sd`` sd(z)) on class SDs; Dirichlet(1) class
    proportions without covariates.

    Parameters
    ----------
    model, fit, data
        As in :func:`three_step`.
    covariates : list of str, optional
        Covariates predicting the class (give these or ``outcome``).
    outcome : str, optional
        A distal outcome, with ``kind`` ``"continuous"``, ``"binary"`` or ``"nominal"``.
    kind, assignment, variances
        As in :func:`distal_outcome`.
    prior_sd : float
        Scale of the weakly informative priors.
    draws, tune, chains, random_seed, progressbar
        Passed to ``pm.sample`` (PyMC's NUTS).

    Returns
    -------
    ThreeStepResult
        ``estimates`` with the posterior mean ``estimate`` (also as ``mean``, its old name, for one release), ``sd``, 2.5 % and 97.5 %
        quantiles (and odds ratios for covariate effects), ``idata`` the
        posterior; ``wald`` is empty (use the posterior draws).

    Examples
    --------
    >>> res = bm.three_step_bayes(m, ml, df, covariates=["x"], random_seed=1)   # doctest: +SKIP
    >>> res.estimates                                                          # doctest: +SKIP
    """
    import pymc as pm
    import pytensor.tensor as pt

    _check_choice(assignment, _ASSIGNMENTS, "assignment")
    _check_choice(kind, _KINDS, "kind")
    _check_choice(variances, ("class", "equal"), "variances")
    if (covariates is None) == (outcome is None):
        raise ValueError("three_step_bayes needs exactly one of covariates=[...] or outcome='...'.")
    post = _posterior(model, fit)
    probs = post.to_numpy(dtype=float)
    labels = [str(c) for c in post.columns]
    k = len(labels)
    if covariates is not None:
        covariates = [covariates] if isinstance(covariates, str) else list(covariates)
        if not covariates:
            raise ValueError("covariates= is empty: name at least one column of data, e.g. covariates=['age'].")
        _columns(data, covariates, "covariates")
        rows = _align(post, data)
        keep = _drop_missing(rows, covariates, "covariates")
        x = np.column_stack([np.ones(int(keep.sum())), rows.loc[keep, covariates].to_numpy(dtype=float)])
    else:
        if not isinstance(outcome, str):
            raise ValueError(f"outcome= must be one column name (a str), got {outcome!r}.")
        _columns(data, [outcome], "outcome")
        rows = _align(post, data)
        keep = _drop_missing(rows, [outcome], "outcome")
        z, categories = _encode_outcome(rows.loc[keep, outcome], kind, outcome)
    d, _, meas = _correction(probs, keep, "ML", assignment)
    with pm.Model() as pmodel:
        if covariates is not None:
            terms = ["Intercept", *covariates]
            gamma = pm.Normal("class_logit", 0.0, prior_sd, shape=(k - 1, x.shape[1]))
            eta = pt.concatenate([pt.as_tensor(x) @ gamma.T, pt.zeros((x.shape[0], 1))], axis=1)
            a = eta - pt.logsumexp(eta, axis=1, keepdims=True)
        else:
            pi = pm.Dirichlet("class_proportion", np.ones(k))
            a = pt.log(pi)[None, :]
            if kind == "continuous":
                mu = pm.Normal("mean", float(np.mean(z)), prior_sd * float(np.std(z)), shape=k)
                sd = pm.HalfNormal("sd", prior_sd * float(np.std(z)), shape=k if variances == "class" else 1)
                sd_k = sd if variances == "class" else pt.repeat(sd, k)
                a = a + pm.logp(pm.Normal.dist(mu[None, :], sd_k[None, :]), z[:, None])
            elif kind == "binary":
                psi = pm.Normal("logit", 0.0, prior_sd, shape=k)
                a = a + z[:, None] * psi[None, :] - pt.log1p(pt.exp(psi))[None, :]
            else:
                psi = pm.Normal("logit", 0.0, prior_sd, shape=(k, len(categories) - 1))
                full = pt.concatenate([pt.zeros((k, 1)), psi], axis=1)
                logp = full - pt.logsumexp(full, axis=1, keepdims=True)
                a = a + logp[:, z].T
        pm.Potential("corrected_loglik", pt.logsumexp(a + meas, axis=1).sum())
    idata = _nuts(pmodel, draws, tune, chains, random_seed, progressbar)
    posterior = idata.posterior

    def table(values: np.ndarray, index) -> pd.DataFrame:
        flat = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values[:, None]
        return pd.DataFrame({"estimate": flat.mean(0), "sd": flat.std(0, ddof=1),
                             "lower": np.quantile(flat, 0.025, axis=0), "upper": np.quantile(flat, 0.975, axis=0),
                             POSTERIOR_MEAN_ALIAS: flat.mean(0)}, index=index)

    if covariates is not None:
        g = np.asarray(posterior["class_logit"]).reshape(-1, (k - 1) * len(terms))
        est = table(g, pd.MultiIndex.from_product([labels[:-1], terms], names=["class", "term"]))
        est["odds_ratio"] = np.exp(g).mean(0)
        est.loc[(slice(None), "Intercept"), "odds_ratio"] = np.nan
        eta = np.column_stack([x @ est["estimate"].to_numpy().reshape(k - 1, -1).T, np.zeros(len(x))])
        props = special.softmax(eta, axis=1).mean(0)
        what, reference = f"covariates {covariates}", labels[-1]
    else:
        pi = np.asarray(posterior["class_proportion"]).reshape(-1, k)
        props = pi.mean(0)
        if kind == "continuous":
            mu = np.asarray(posterior["mean"]).reshape(-1, k)
            sd = np.asarray(posterior["sd"]).reshape(-1, k if variances == "class" else 1)
            var = np.broadcast_to(sd ** 2, mu.shape)
            vals = np.stack([mu, var], axis=2).reshape(len(mu), -1)
            index = [(c, p) for c in labels for p in ("mean", "variance")]
        elif kind == "binary":
            vals = special.expit(np.asarray(posterior["logit"]).reshape(-1, k))
            index = [(c, f"P({outcome}={categories[1]})") for c in labels]
        else:
            psi = np.asarray(posterior["logit"]).reshape(-1, k, len(categories) - 1)
            full = np.concatenate([np.zeros(psi.shape[:2] + (1,)), psi], axis=2)
            vals = special.softmax(full, axis=2).reshape(len(psi), -1)
            index = [(c, f"P({outcome}={cat})") for c in labels for cat in categories]
        est = table(vals, pd.MultiIndex.from_tuples(index, names=["class", "parameter"]))
        what, reference = f"distal outcome {outcome!r} ({kind})", None
    return ThreeStepResult(
        what=what, method="bayes (ML-corrected likelihood, NUTS)", assignment=assignment, estimates=est,
        wald=pd.DataFrame(columns=["chi2", "df", "p"]), class_proportions=pd.Series(props, index=pd.Index(
            labels, name="class"), name="proportion"), classification_error=_d_frame(d, labels),
        params=est, loglik=np.nan, n_obs=int(keep.sum()), n_dropped=int((~keep).sum()), converged=True,
        reference=reference, idata=idata)


def _nuts(pmodel, draws, tune, chains, random_seed, progressbar):
    """nutpie with its jax backend (seconds to compile) when installed, else PyMC's NUTS."""
    import pymc as pm
    try:
        import jax  # noqa: F401
        import nutpie
    except ImportError:
        with pmodel:
            return pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=random_seed,
                             progressbar=progressbar, compute_convergence_checks=False)
    compiled = nutpie.compile_pymc_model(pmodel, backend="jax", gradient_backend="jax")
    seed = random_seed if isinstance(random_seed, (int, np.integer)) else None
    return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=1, seed=seed,
                         progress_bar=progressbar)
