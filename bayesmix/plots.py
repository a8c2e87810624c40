"""Plots of fitted mixtures (matplotlib, ``pip install 'bayesmix[plot]'``).

Every function takes the model and a fitted result (an ML result or a
posterior DataTree), draws on ``ax`` (a new figure when None) and returns the
axes, so the plot can be adjusted or saved by the caller.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .evaluate import fit_kind, interval_arguments, interval_label

__all__ = ["plot_profiles", "plot_class_proportions", "plot_membership", "plot_ml_vs_posterior",
           "plot_membership_curves", "plot_class_probability_curves", "lta_path_diagram"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("bayesmix.plots needs matplotlib: pip install 'bayesmix[plot]'.") from err
    return plt


def _profile_frame(mm, result, ci) -> tuple[pd.DataFrame, str]:
    """(rows x (class, [value, lower, upper])) and a label of the interval."""
    ci_prob, ci_kind = ci
    if fit_kind(result) == "ml":
        table = result.profiles
        z = _normal_quantile(ci_prob)
        out = {}
        for label in mm.class_labels:
            est, se = table[(label, "estimate")], table[(label, "se")].fillna(0.0)
            out[(label, "value")], out[(label, "lower")], out[(label, "upper")] = est, est - z * se, est + z * se
        return pd.DataFrame(out), f"ML estimate +- {z:.2f} SE"
    table = mm.profiles(result, ci_prob, ci_kind=ci_kind)
    out = {}
    for label in mm.class_labels:
        out[(label, "value")] = table[(label, "mean")]
        out[(label, "lower")], out[(label, "upper")] = table[(label, "lower")], table[(label, "upper")]
    return pd.DataFrame(out), f"posterior mean, {interval_label(ci_prob, ci_kind)}"


def _normal_quantile(prob: float) -> float:
    from scipy import stats

    from .options import check_probability
    check_probability(prob, "ci_prob")
    return float(stats.norm.ppf(0.5 + prob / 2))


def plot_profiles(mm, result: Any, *, items=None, ci_prob: float | None = None, ci_kind: str | None = None,
                  hdi_prob: float | None = None, ax=None):
    """Class profiles: P(item = category | class) (means for continuous items) with intervals.

    Parameters
    ----------
    mm : MixtureModel
    result : MLResult or DataTree
        ML: estimate +- z SE (z for ``ci_prob``); posterior: mean and ``ci_kind`` interval.
    items : list of str, optional
        Items to show (default: every row of the profile table except continuous SDs).
    ci_prob : float, optional
        Interval probability (default ArviZ's ``stats.ci_prob``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Kind of the posterior interval (default ArviZ's ``stats.ci_kind``, ``"eti"``).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from bayesmix.plots import plot_profiles
    >>> ax = plot_profiles(m, ml)                       # doctest: +SKIP
    >>> ax.figure.savefig("profiles.png")               # doctest: +SKIP
    """
    plt = _pyplot()
    frame, what = _profile_frame(mm, result, interval_arguments(ci_prob, ci_kind, hdi_prob))
    rows = [r for r in frame.index if r[1] != "sd" and (items is None or r[0] in items)]
    frame = frame.loc[rows]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(rows) + 2), 3.5))
    x = np.arange(len(rows))
    k = mm.n_classes
    offsets = (np.arange(k) - (k - 1) / 2) * 0.08
    for c, label in enumerate(mm.class_labels):
        value = frame[(label, "value")].to_numpy(float)
        err = np.vstack([value - frame[(label, "lower")].to_numpy(float),
                         frame[(label, "upper")].to_numpy(float) - value])
        ax.errorbar(x + offsets[c], value, yerr=np.clip(err, 0, None), marker="o", capsize=3, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{i}={cat}" if cat not in ("mean",) else f"{i} (mean)" for i, cat in rows],
                       rotation=45 if len(rows) > 8 else 0, ha="right" if len(rows) > 8 else "center")
    ax.set_ylabel("P(category | class)")
    ax.set_title(f"Class profiles ({what})", fontsize=9)
    ax.legend(fontsize=8)
    return ax


def plot_class_proportions(mm, result: Any, *, ci_prob: float | None = None, ci_kind: str | None = None,
                  hdi_prob: float | None = None, ax=None):
    """Class proportions with intervals (ML: +- z SE; posterior: equal-tailed interval).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_class_proportions(m, idata)           # doctest: +SKIP
    """
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    plt = _pyplot()
    if fit_kind(result) == "ml":
        table = result.class_proportions
        z = _normal_quantile(ci_prob)
        value, se = table["estimate"].to_numpy(float), table["se"].fillna(0.0).to_numpy(float)
        lower, upper = value - z * se, value + z * se
    else:
        table = mm.class_proportions(result, ci_prob, ci_kind=ci_kind)
        value, lower, upper = (table[c].to_numpy(float) for c in ("mean", "lower", "upper"))
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 * mm.n_classes + 2, 3.0))
    x = np.arange(mm.n_classes)
    ax.bar(x, value, color="0.7")
    ax.errorbar(x, value, yerr=np.clip(np.vstack([value - lower, upper - value]), 0, None), fmt="none",
                ecolor="k", capsize=4)
    ax.set_xticks(x)
    ax.set_xticklabels(mm.class_labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("class proportion")
    return ax


def plot_membership(mm, result: Any, *, bins: int = 20, ax=None):
    """Histogram of each unit's largest class probability, by modal class (classification quality).

    Parameters
    ----------
    mm : MixtureModel
    result : MLResult or DataTree
        ML: ``posterior_probabilities``; posterior: :meth:`MixtureModel.class_probabilities`.
    bins : int
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_membership(m, ml)                     # doctest: +SKIP
    """
    plt = _pyplot()
    probs = getattr(result, "posterior_probabilities", None)
    if not isinstance(probs, pd.DataFrame):
        probs = mm.class_probabilities(result)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    values = probs.to_numpy()
    modal = values.argmax(axis=1)
    edges = np.linspace(1.0 / mm.n_classes, 1.0, bins + 1)
    for k, label in enumerate(mm.class_labels):
        ax.hist(values[modal == k, k], bins=edges, alpha=0.6, label=f"{label} (n = {int((modal == k).sum())})")
    ax.set_xlabel("largest class probability")
    ax.set_ylabel("units")
    ax.legend(fontsize=8)
    return ax


def plot_ml_vs_posterior(mm, ml: Any, idata: Any, *, ci_prob: float | None = None, ci_kind: str | None = None,
                  hdi_prob: float | None = None, ax=None):
    """Profile estimates of ML (x, +- z SE) against the posterior (y, mean and interval), one point per row and class.

    ML and the posterior share the model's labeling (:mod:`bayesmix.relabel`), so
    class c is compared with class c; points on the diagonal agree.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_ml_vs_posterior(m, ml, idata)         # doctest: +SKIP
    """
    plt = _pyplot()
    ci = interval_arguments(ci_prob, ci_kind, hdi_prob)
    ml_frame, _ = _profile_frame(mm, ml, ci)
    post_frame, _ = _profile_frame(mm, idata, ci)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    for label in mm.class_labels:
        x, y = ml_frame[(label, "value")].to_numpy(float), post_frame[(label, "value")].to_numpy(float)
        xerr = np.vstack([x - ml_frame[(label, "lower")].to_numpy(float),
                          ml_frame[(label, "upper")].to_numpy(float) - x])
        yerr = np.vstack([y - post_frame[(label, "lower")].to_numpy(float),
                          post_frame[(label, "upper")].to_numpy(float) - y])
        ax.errorbar(x, y, xerr=np.clip(xerr, 0, None), yerr=np.clip(yerr, 0, None), fmt="o", capsize=2, label=label)
    lo = float(np.nanmin([ax.get_xlim()[0], ax.get_ylim()[0]]))
    hi = float(np.nanmax([ax.get_xlim()[1], ax.get_ylim()[1]]))
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--")
    ax.set_xlabel("ML estimate")
    ax.set_ylabel("posterior mean")
    ax.legend(fontsize=8)
    return ax


def plot_membership_curves(mm, result: Any, *, grid=None, ci_prob: float | None = None, ci_kind: str | None = None,
                           hdi_prob: float | None = None, classes=None, ax=None):
    """Conditional class probability curves P(C_ij = k | alpha_1j) of a GoM model (figures 2-3).

    Parameters
    ----------
    mm : MixtureModel
        A ``bm.gom`` model (logistic-normal or restricted membership).
    result : MLResult or DataTree
        ML: the curves at the estimates; posterior: mean with a ``ci_prob``
        band (:func:`bayesmix.families.gom.membership_curves`).
    grid : sequence of float, optional
        Standardized alpha_1j values (default [-3, 3]).
    ci_prob : float, optional
        Interval probability (default ArviZ's ``stats.ci_prob``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Kind of the posterior interval (default ArviZ's ``stats.ci_kind``, ``"eti"``).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"``.
    classes : list of str, optional
        Classes to draw (default: all; the paper's figures show class 1).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_membership_curves(m, ml, classes=["class1"])   # doctest: +SKIP
    """
    from .families.gom import membership_curves
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    curves = membership_curves(mm, result, grid=grid, ci_prob=ci_prob, ci_kind=ci_kind)
    classes = list(mm.class_labels if classes is None else classes)
    unknown = [c for c in classes if c not in mm.class_labels]
    if unknown:
        raise ValueError(f"classes {unknown} are not classes of this model; use some of {list(mm.class_labels)}.")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    x = curves.index.to_numpy(float)
    band = isinstance(curves.columns, pd.MultiIndex)
    for label in classes:
        y = curves[(label, "mean")] if band else curves[label]
        (line,) = ax.plot(x, y.to_numpy(float), label=label)
        if band:
            ax.fill_between(x, curves[(label, "lower")].to_numpy(float), curves[(label, "upper")].to_numpy(float),
                            color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel("alpha_1j (standardized)")
    ax.set_ylabel("P(C_ij = k | alpha_1j)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_class_probability_curves(mm, result: Any = None, *, variances=None, mean: float | None = None, grid=None,
                                  classes=("class1",), ci_prob: float | None = None, ci_kind: str | None = None,
                                  axes=None):
    """P(C = c | alpha_1) against the standardized alpha_1, one panel per variance (figures 2-3, eq. 4-5, 20).

    The paper's figure 2 is ``plot_class_probability_curves(None,
    variances=[100])`` and figure 3 ``variances=[10000]`` (mean 0, class 1):
    the larger Var(alpha_1), the closer the curve to a step, i.e. a
    between-level class (eq. 21).

    Parameters
    ----------
    mm : MixtureModel or None
        A model with random class intercepts (:func:`bayesmix.class_probability_curves`).
    result : fit, optional
        ML / MAP / point / posterior (a posterior draws a ``ci_prob`` band).
    variances : sequence of float, optional
        Var(alpha_1) per panel (default the fitted one).
    mean : float, optional
        E(alpha_1) (default the fitted class intercept; 0 without a fit).
    grid : sequence of float, optional
        Standardized alpha_1 values (default [-3, 3]).
    classes : sequence of str
        Classes to draw (default class 1, as the paper).
    ci_prob, ci_kind : optional
        Posterior interval.
    axes : sequence of matplotlib Axes, optional
        One per variance.

    Returns
    -------
    list of matplotlib.axes.Axes

    Examples
    --------
    >>> axes = plot_class_probability_curves(None, variances=(100, 10000))   # figures 2-3  # doctest: +SKIP
    """
    from .curves import class_probability_curves
    curves = class_probability_curves(mm, result, variances=variances, mean=mean, grid=grid, ci_prob=ci_prob,
                                      ci_kind=ci_kind)
    known = list(dict.fromkeys(curves["class"]))
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise ValueError(f"classes {unknown} are not classes of this model; use some of {known}.")
    panels = list(dict.fromkeys(curves["variance"]))
    plt = _pyplot()
    if axes is None:
        _, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3), squeeze=False)
        axes = list(axes[0])
    axes = list(np.atleast_1d(axes))
    if len(axes) != len(panels):
        raise ValueError(f"axes has {len(axes)} panels for {len(panels)} variances; pass one Axes per variance.")
    for ax, variance in zip(axes, panels):
        part = curves[curves["variance"] == variance]
        for label in classes:
            rows = part[part["class"] == label]
            x = rows["alpha1_std"].to_numpy(float)
            (line,) = ax.plot(x, rows["probability"].to_numpy(float), label=f"P(C = {label} | alpha_1)")
            if "lower" in rows:
                ax.fill_between(x, rows["lower"].to_numpy(float), rows["upper"].to_numpy(float),
                                color=line.get_color(), alpha=0.25, lw=0)
        ax.set_title(f"Var(alpha_1) = {variance:,.6g} (ICC {variance / (variance + np.pi**2 / 3):.4f})", fontsize=9)
        ax.set_xlabel("alpha_1 (standard scale)")
        ax.set_ylabel("P(C = c | alpha_1)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    return axes


def lta_path_diagram(mm, result: Any, *, digits: int = 2, items: bool = True, render: bool = False):
    """Figure 1: the (two-level) LTA's path diagram with the estimates of ``result`` (DOT text; section 4, eq. 11-15).

    Within: C_(t-1) -> C_t with gamma (eq. 13) and each C_t measured by its
    items; between: alpha_(t-1) -> alpha_t with beta (eq. 15) and alpha_t -> C_t
    (fixed 1) with the R-squared of section 4 (eq. 14) at two time points;
    nodes show P(C_t = 1) and SD(alpha_t). See
    :func:`bayesmix.families.lta.diagram.path_diagram`.

    Parameters
    ----------
    mm : LTAModel
        A two-class ``bm.lta`` model.
    result : MLResult, MAPResult or DataTree
    digits : int
        Decimals.
    items : bool
        Draw the items of each time as one box.
    render : bool
        Return a ``graphviz.Source`` (needs ``pip install graphviz`` and the
        Graphviz programs) instead of the DOT text.

    Returns
    -------
    str or graphviz.Source

    Examples
    --------
    >>> print(lta_path_diagram(m, ml))          # doctest: +SKIP
    """
    from .families.lta.diagram import path_diagram
    dot = path_diagram(mm, result, digits=digits, items=items)
    if not render:
        return dot
    try:
        import graphviz
    except ImportError as err:
        raise ImportError("render=True needs the graphviz package (pip install graphviz) and the Graphviz "
                          "programs; without them use the DOT text (render=False).") from err
    return graphviz.Source(dot)
