"""Class enumeration in one call: fit K = 1, 2, ... classes by ML and tabulate fit and tests per K.

The table practitioners read when they choose the number of classes (Nylund,
Asparouhov & Muthen 2007; Mplus's summaries with TECH11 and TECH14; StepMix):
per K the log-likelihood, free parameters, AIC, BIC, sample-size adjusted
BIC, relative entropy, the smallest class, how often the best LL was
replicated by the random starts, the Vuong-Lo-Mendell-Rubin and the
Lo-Mendell-Rubin adjusted LRT of K - 1 against K classes
(:func:`bayesmix.vlmr`) and optionally the bootstrap LRT
(:func:`bayesmix.blrt`). The fits are kept: ``enum.fits[k]`` is the
``(model, MLResult)`` pair of K classes, so nothing needs to be refitted,
and the VLMR reuses the scores and observed information each fit computed
for its standard errors (a second per comparison).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from ._warn import PACKAGE_FRAMES

__all__ = ["ClassEnumeration", "enumerate_classes"]

#: the table's columns, in order
COLUMNS = ("loglik", "n_params", "aic", "bic", "abic", "entropy", "smallest_class", "smallest_class_count",
           "best_ll_replicated", "vlmr_p", "lmr_statistic", "lmr_p", "blrt_p", "converged", "n_boundary",
           "n_warnings")

#: headers and number formats of the printed / HTML table
_DISPLAY = {"loglik": ("LL", "{:.3f}"), "n_params": ("Par", "{:d}"), "aic": ("AIC", "{:.3f}"),
            "bic": ("BIC", "{:.3f}"), "abic": ("aBIC", "{:.3f}"), "entropy": ("Entropy", "{:.3f}"),
            "smallest_class": ("Smallest", "{:.3f}"), "smallest_class_count": ("n", "{:d}"),
            "best_ll_replicated": ("LL replicated", "{}"), "vlmr_p": ("VLMR p", "{:.4f}"),
            "lmr_statistic": ("LMR", "{:.3f}"), "lmr_p": ("LMR p", "{:.4f}"), "blrt_p": ("BLRT p", "{:.4f}")}


@dataclass(eq=False)
class ClassEnumeration:
    """Fits of K = 1, 2, ... classes with their fit statistics and tests (:func:`bayesmix.enumerate_classes`).

    Attributes
    ----------
    table : DataFrame
        One row per K (index ``n_classes``): ``loglik``, ``n_params``,
        ``aic``, ``bic``, ``abic``, ``entropy``, ``smallest_class`` (the
        smallest estimated class proportion) and ``smallest_class_count``
        (its count from the posterior probabilities, as Mplus's final class
        counts), ``best_ll_replicated`` ("k of n" starts), ``vlmr_p``,
        ``lmr_statistic``, ``lmr_p`` (K - 1 against K, Mplus TECH11),
        ``blrt_p`` (TECH14; NaN unless asked for), ``converged``,
        ``n_boundary`` (logits at the bound), ``n_warnings``.
    fits : dict
        K -> ``(model, MLResult)``: ``bm.vlmr(*enum.fits[2], *enum.fits[3])``.
    tests : dict
        K -> ``{"vlmr": Series, "blrt": Series}``, the full test results of
        K - 1 against K (statistic, mean and SD of the reference distribution,
        eigenvalues, bootstrap replicates).
    warnings : dict
        K -> the warnings of its fit and tests (also emitted, prefixed ``K=k:``).

    Examples
    --------
    >>> enum = bm.enumerate_classes(bm.lca, df, items, classes=range(1, 5), seed=1)   # doctest: +SKIP
    >>> enum                                 # the table (HTML in Jupyter)              # doctest: +SKIP
    >>> m3, fit3 = enum.fits[3]                                                         # doctest: +SKIP
    """

    table: pd.DataFrame
    fits: dict = field(repr=False)
    tests: dict = field(default_factory=dict, repr=False)
    warnings: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, k: int) -> tuple:
        """``enum[k]``: the ``(model, MLResult)`` of K = k classes."""
        if k not in self.fits:
            raise KeyError(f"no fit with {k} classes; fitted: {sorted(self.fits)}.")
        return self.fits[k]

    @property
    def classes(self) -> list[int]:
        """The numbers of classes fitted."""
        return list(self.table.index)

    def _display(self) -> pd.DataFrame:
        """The table as strings with Mplus's digits (empty where a value does not apply)."""
        shown = [c for c in _DISPLAY if c in self.table and not self.table[c].isna().all()]
        out = pd.DataFrame(index=self.table.index)
        for column in shown:
            header, fmt = _DISPLAY[column]
            out[header] = [("" if _missing(v) else fmt.format(int(v) if fmt == "{:d}" else v))
                           for v in self.table[column]]
        out.index.name = "K"
        return out

    def __str__(self) -> str:
        text = "Class enumeration (ML; tests of K - 1 against K classes)\n" + self._display().to_string()
        flagged = {k: len(m) for k, m in self.warnings.items() if m}
        if flagged:
            text += "\nwarnings: " + ", ".join(f"K={k}: {n}" for k, n in flagged.items()) + " (enum.warnings)"
        return text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        note = "" if not any(self.warnings.values()) else (
            "<br><small>warnings: " + ", ".join(f"K={k}: {len(m)}" for k, m in self.warnings.items() if m)
            + " (enum.warnings)</small>")
        return ("<b>Class enumeration</b> (ML; tests of K - 1 against K classes)"
                + self._display().to_html() + "<small>enum.fits[k]: (model, MLResult); enum.table: the numbers"
                "</small>" + note)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _check_classes(classes) -> list[int]:
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        raise ValueError(f"classes={classes!r}: give the numbers of classes to fit, e.g. range(1, {classes + 1}).")
    try:
        given = list(classes)
    except TypeError:
        raise ValueError(f"classes={classes!r}: give the numbers of classes to fit, e.g. range(1, 7).") from None
    if not given:
        raise ValueError("classes is empty: give the numbers of classes to fit, e.g. range(1, 7).")
    if not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in given) or min(given) < 1:
        raise ValueError(f"classes={given!r}: numbers of classes are integers >= 1.")
    ks = [int(c) for c in given]
    if ks != sorted(set(ks)):
        raise ValueError(f"classes={given!r}: give increasing numbers of classes without repeats "
                         "(each K is tested against the one before it).")
    return ks


def _starts_of(starts, k: int):
    if isinstance(starts, Mapping):
        if k not in starts:
            raise ValueError(f"starts has no entry for K={k} (given for {sorted(starts)}).")
        return starts[k]
    return starts


def _builder(model, data, args: tuple, kwargs: dict) -> Callable[[int], Any]:
    """k -> MixtureModel from a factory with its arguments, or from the user's own function of k."""
    from . import registry
    if not callable(model):
        raise ValueError(f"model must be a factory such as bm.lca (with data and its arguments) or a function "
                         f"k -> model, got {type(model).__name__}.")
    if data is not None or args or kwargs:
        if data is None:
            raise ValueError("data is None: pass the data after the factory, "
                             "bm.enumerate_classes(bm.lca, df, items, ...).")
        if "n_classes" in kwargs:
            raise ValueError("n_classes is set by enumerate_classes (classes=...); leave it out of the "
                             "factory's arguments.")
        return lambda k: model(data, *args, n_classes=k, **kwargs)
    if model in registry.factories().values():
        raise ValueError(f"{model.__name__} is a factory: pass its data and arguments too, "
                         f"bm.enumerate_classes(bm.{model.__name__}, df, items, ...), or a function k -> model.")
    return model


def enumerate_classes(model: Callable[..., Any], data: pd.DataFrame | None = None, *args,
                      classes=range(1, 7), starts=20, seed: int | None = None, vlmr: bool = True,
                      blrt: bool | int = False, blrt_starts=(10, 3), n_jobs: int = 1,
                      fit_options: Mapping[str, Any] | None = None, progressbar: bool = True,
                      scheduler: Any = None, **kwargs) -> ClassEnumeration:
    """Fit K = 1, 2, ... classes by ML and tabulate fit statistics and tests of K - 1 against K classes.

    Mplus's and StepMix's class enumeration in one call: for every K in
    ``classes`` the model is fitted with ``starts`` random starts; the table
    holds LL, free parameters, AIC, BIC, aBIC, relative entropy, the
    smallest class (proportion and count), the replication of the best LL
    ("k of n" starts), the VLMR and LMR adjusted LRT p-values of the
    previous K against this one (Mplus TECH11, :func:`bayesmix.vlmr`) and,
    with ``blrt=``, the bootstrap LRT (TECH14, :func:`bayesmix.blrt`). The
    fits are returned with the table.

    Parameters
    ----------
    model : callable
        A factory such as :func:`bayesmix.lca`, called as ``model(data,
        *args, n_classes=k, **kwargs)``; or, without ``data``, any function
        ``k -> MixtureModel`` (e.g. ``lambda k: bm.lca(df, items, k,
        covariates=["x"])``).
    data : DataFrame, optional
        The data, with ``*args`` and ``**kwargs`` the factory's other
        arguments (``items``, ``missing_codes=``, ...).
    classes : iterable of int
        Increasing numbers of classes (default 1..6). Each K is tested against
        the K before it in this list (K - 1 when consecutive).
    starts : int, (int, int) or dict
        Random starts of each fit (``STARTS = N M`` of Mplus), or a dict K ->
        starts (more starts for more classes).
    seed : int, optional
        Seed of every fit's starts (and of the bootstrap).
    vlmr : bool
        Run the VLMR / LMR test (seconds: it reuses each fit's scores and
        observed information).
    blrt : bool or int
        Run the bootstrap LRT with this many bootstrap samples (``True``: 50).
        It refits both models to every bootstrap sample: minutes.
    blrt_starts : int or (int, int)
        Random starts of the bootstrap fits.
    n_jobs : int
        Worker processes of the bootstrap (see :func:`bayesmix.blrt`).
    scheduler : str or distributed.Client, optional
        Where the fits of the K's and the bootstrap fits run
        (:mod:`bayesmix.distributed`): ``"serial"`` (default: here, one
        after another), ``"local"`` (a dask ``LocalCluster``), a dask scheduler
        address or a ``distributed.Client``. The table is the same wherever
        they run; progress bars show only in this process.
    fit_options : dict, optional
        Other keywords of ``fit_ml`` (e.g. ``max_iterations``, ``integration``).
    progressbar : bool
        Progress bar of each fit, labelled ``K=k``.

    Returns
    -------
    ClassEnumeration
        ``.table`` (DataFrame, one row per K), ``.fits`` (K -> (model,
        MLResult)), ``.tests`` (K -> full VLMR / BLRT results),
        ``.warnings``; prints as a table, and as HTML in Jupyter.

    Examples
    --------
    >>> enum = bm.enumerate_classes(bm.lca, df, list("ABCDEFG"), classes=range(1, 5),
    ...                             starts={1: 1, 2: 20, 3: 50, 4: (100, 25)}, seed=1)   # doctest: +SKIP
    >>> print(enum)                                                                      # doctest: +SKIP
    >>> enum.table["bic"].idxmin()                                                       # doctest: +SKIP
    >>> m3, fit3 = enum.fits[3]                                                          # doctest: +SKIP
    """
    from .fit_statistics import blrt as run_blrt
    from .inference.ml import check_fit_keywords
    from .vlmr import vlmr as run_vlmr
    ks = _check_classes(classes)
    build = _builder(model, data, args, kwargs)
    fit_options = dict(fit_options or {})
    for name in ("starts", "seed", "progressbar"):
        if name in fit_options:
            raise ValueError(f"fit_options[{name!r}]: pass {name}= to enumerate_classes itself.")
    check_fit_keywords({k: v for k, v in fit_options.items() if k not in ("tol", "start", "integration")},
                       "fit_ml", fit_options.get("integration"))
    if isinstance(blrt, bool):
        n_bootstrap = 50 if blrt else 0
    elif isinstance(blrt, (int, np.integer)) and blrt >= 0:
        n_bootstrap = int(blrt)
    else:
        raise ValueError(f"blrt={blrt!r}: give False, True (50 bootstrap samples) or the number of samples.")
    for k in ks:
        _starts_of(starts, k)  # a dict without some K: say so before any fitting
    integration = fit_options.get("integration")

    from .distributed import map_tasks, resolve_scheduler
    serial = resolve_scheduler(scheduler) == "serial"
    outcomes = map_tasks(_fit_k, [(build, k, _starts_of(starts, k), seed, bool(progressbar) and serial, fit_options)
                                  for k in ks], scheduler=scheduler, name="bayesmix-enumerate")
    fits, tests, messages, rows = {}, {}, {}, {}
    previous = None
    for k, (m, fit, caught_fit) in zip(ks, outcomes):
        messages[k] = []
        fits[k] = (m, fit)
        tests[k] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if previous is not None and vlmr:
                tests[k]["vlmr"] = _test(run_vlmr, k, previous, m, fit, integration=integration)
            if previous is not None and n_bootstrap:
                tests[k]["blrt"] = _test(run_blrt, k, previous, m, fit, n_bootstrap=n_bootstrap,
                                         starts=blrt_starts, seed=seed, n_jobs=n_jobs, scheduler=scheduler)
        _pass_on(list(caught_fit) + list(caught), k, messages[k])
        rows[k] = _row(m, fit, tests[k], len(messages[k]))
        previous = fits[k]
    table = pd.DataFrame.from_dict(rows, orient="index")[list(COLUMNS)]
    table.index.name = "n_classes"
    for column in ("n_params", "smallest_class_count", "n_boundary", "n_warnings"):
        table[column] = table[column].astype(int)
    table["converged"] = table["converged"].astype(bool)
    return ClassEnumeration(table=table, fits=fits, tests=tests, warnings=messages)


def _fit_k(build: Callable[[int], Any], k: int, starts, seed, progressbar: bool, fit_options: dict) -> tuple:
    """Build and fit K = k classes (here or on a dask worker); its warnings come back as plain records."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = build(k)
        if not hasattr(m, "fit_ml") or getattr(m, "n_classes", None) != k:
            raise ValueError(f"the model for K={k} has {getattr(m, 'n_classes', '?')} classes "
                             f"({type(m).__name__}): the factory or function must build k classes.")
        fit = m.fit_ml(starts=starts, seed=seed, progressbar=f"K={k}" if progressbar else False, **fit_options)
    return m, fit, caught_records(caught)


def caught_records(caught) -> list[SimpleNamespace]:
    """Caught warnings as picklable records (message text, category, filename, lineno)."""
    return [SimpleNamespace(message=str(w.message), category=w.category, filename=w.filename, lineno=w.lineno)
            for w in caught]


def _test(function, k: int, previous: tuple, m, fit, **options) -> pd.Series | None:
    """A test of the previous K against k; a failure (e.g. LL below the previous K's) becomes a warning."""
    try:
        return function(*previous, m, fit, **options)
    except ValueError as err:
        warnings.warn(f"{function.__name__} not computed: {err}", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
        return None


def _pass_on(caught, k: int, messages: list) -> None:
    """Re-emit a fit's warnings prefixed ``K=k:``, recording the user-facing ones."""
    for w in caught:
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        messages.append(str(w.message))
        warnings.warn(f"K={k}: {w.message}", w.category, skip_file_prefixes=PACKAGE_FRAMES)


def _row(m, fit, tests: dict, n_warnings: int) -> dict:
    proportions = fit.class_proportions["estimate"].to_numpy(dtype=float)
    smallest = int(np.argmin(proportions))
    post = fit.posterior_probabilities
    count = float(post.to_numpy()[:, smallest].sum()) if post is not None else proportions[smallest] * m.n_units
    v, b = tests.get("vlmr"), tests.get("blrt")
    return {"loglik": fit.loglik, "n_params": fit.n_params, "aic": fit.aic, "bic": fit.bic, "abic": fit.abic,
            "entropy": fit.entropy, "smallest_class": proportions[smallest],
            "smallest_class_count": round(count), "best_ll_replicated": fit.starts.replication,
            "vlmr_p": np.nan if v is None else v["p_value"],
            "lmr_statistic": np.nan if v is None else v["lmr_statistic"],
            "lmr_p": np.nan if v is None else v["lmr_p_value"],
            "blrt_p": np.nan if b is None else b["p_value"],
            "converged": bool(fit.converged), "n_boundary": int(fit.n_boundary), "n_warnings": n_warnings}
