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
           "plot_membership_curves", "plot_class_probability_curves", "lta_path_diagram",
           "plot_lta_path_diagram"]


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
                  hdi_prob: float | None = None, facet: bool | None = None, columns: int | None = None, ax=None,
                  axes=None):
    """Class profiles: P(item = category | class) (means for continuous items) with intervals.

    Binary and continuous items: one line chart, an x position per item
    (P(second code | class), or the class mean), a line per class. Nominal and
    ordinal items (several category rows each) are drawn as poLCA and StepMix
    draw them: a grid of small panels, one per item, with a bar per category
    and class (``facet=True``; the default when any shown item has more than
    one category row), so categories of different items are never joined.

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
    facet : bool, optional
        One panel per item (True), one line chart (False); default: panels when
        some item has several category rows (nominal, ordinal).
    columns : int, optional
        Panels per row of the grid (default: up to 4).
    ax : matplotlib Axes, optional
        The Axes of the line chart (``facet=False``).
    axes : sequence of matplotlib Axes, optional
        One Axes per item (``facet=True``).

    Returns
    -------
    matplotlib.axes.Axes or list of matplotlib.axes.Axes
        The line chart's Axes; with facets, one Axes per item (titled by the item).

    Examples
    --------
    >>> from bayesmix.plots import plot_profiles
    >>> ax = plot_profiles(m, ml)                       # doctest: +SKIP
    >>> ax.figure.savefig("profiles.png")               # doctest: +SKIP
    >>> panels = plot_profiles(m_nominal, ml)           # one panel per item  # doctest: +SKIP
    """
    plt = _pyplot()
    frame, what = _profile_frame(mm, result, interval_arguments(ci_prob, ci_kind, hdi_prob))
    rows = [r for r in frame.index if r[1] != "sd" and (items is None or r[0] in items)]
    if items is not None:
        unknown = [i for i in items if i not in {r[0] for r in frame.index}]
        if unknown:
            raise ValueError(f"items {unknown} are not rows of the profile table; use some of "
                             f"{list(dict.fromkeys(r[0] for r in frame.index))}.")
    frame = frame.loc[rows]
    counts = pd.Series([r[0] for r in rows]).value_counts()
    if facet is None:
        facet = bool((counts > 1).any())
    if facet:
        if ax is not None:
            raise ValueError("facet=True draws one panel per item: pass axes=[...] (one per item), or facet=False "
                             "to draw on ax.")
        return _profile_facets(mm, frame, what, columns, axes)
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


def _profile_facets(mm, frame: pd.DataFrame, what: str, columns: int | None, axes) -> list:
    """One small grouped bar chart per item: categories on x, a bar (with its interval) per class."""
    plt = _pyplot()
    names = list(dict.fromkeys(r[0] for r in frame.index))
    if axes is None:
        ncol = max(1, min(columns or 4, len(names)))
        nrow = int(np.ceil(len(names) / ncol))
        fig, grid = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False, layout="constrained")
        grid = list(grid.ravel())
        for extra in grid[len(names):]:
            fig.delaxes(extra)
        axes = grid[: len(names)]
    axes = list(np.atleast_1d(axes))
    if len(axes) != len(names):
        raise ValueError(f"axes has {len(axes)} panels for {len(names)} items; pass one Axes per item.")
    k = mm.n_classes
    width = 0.8 / k
    for ax, name in zip(axes, names):
        part = frame.xs(name, level=0, drop_level=False)
        cats = [r[1] for r in part.index]
        x = np.arange(len(cats))
        for c, label in enumerate(mm.class_labels):
            value = part[(label, "value")].to_numpy(float)
            err = np.vstack([value - part[(label, "lower")].to_numpy(float),
                             part[(label, "upper")].to_numpy(float) - value])
            ax.bar(x + (c - (k - 1) / 2) * width, value, width, yerr=np.clip(err, 0, None), capsize=2,
                   label=label, color=f"C{c}", error_kw={"elinewidth": 0.8})
        ax.set_xticks(x)
        ax.set_xticklabels(["mean" if cat == "mean" else str(cat) for cat in cats], fontsize=8)
        ax.set_title(name, fontsize=9)
        if "mean" not in cats:
            ax.set_ylim(0, 1)
    axes[0].set_ylabel("P(category | class)")
    axes[0].legend(fontsize=7)
    axes[0].figure.suptitle(f"Class profiles ({what})", fontsize=9)
    return axes


def plot_class_proportions(mm, result: Any, *, ci_prob: float | None = None, ci_kind: str | None = None,
                  hdi_prob: float | None = None, ax=None):
    """Class proportions with intervals (ML: +- z SE; posterior: equal-tailed interval).

    Parameters
    ----------
    mm : MixtureModel
    result : MLResult or DataTree
        ML: estimate +- z SE (z for ``ci_prob``); posterior: mean and ``ci_kind`` interval.
    ci_prob : float, optional
        Interval probability (default ArviZ's ``stats.ci_prob``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Kind of the posterior interval (default ArviZ's ``stats.ci_kind``, ``"eti"``).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"``.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

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

    Parameters
    ----------
    mm : MixtureModel
    ml : MLResult
        The ML fit (x: estimate +- z SE, z for ``ci_prob``).
    idata : DataTree
        The posterior (y: mean and ``ci_kind`` interval).
    ci_prob : float, optional
        Interval probability (default ArviZ's ``stats.ci_prob``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Kind of the posterior interval (default ArviZ's ``stats.ci_kind``, ``"eti"``).
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"``.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

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


# --------------------------------------------------------------------------- LTA: proportions over time, transitions
# (issue 25 item 6; a block of its own: its names join __all__ here)

__all__ += ["plot_lta_proportions", "plot_transitions"]


def _lta_values(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(value, lower, upper, name of the value column) of an LTA result table, any fit.

    ML tables hold ``estimate`` and Wald ``lower`` / ``upper``; MAP ``estimate``
    only (NaN bounds); posterior tables ``mean``, ``lower``, ``upper``.
    """
    name = "estimate" if "estimate" in table else "mean"
    value = table[name].to_numpy(float)
    nan = np.full(value.shape, np.nan)
    lower = table["lower"].to_numpy(float) if "lower" in table else nan
    upper = table["upper"].to_numpy(float) if "upper" in table else nan
    return value, lower, upper, name


def _lta_caption(mm, result, kind: str, ci: tuple[float, str]) -> str:
    from .evaluate import as_fit
    fit = as_fit(result)
    source = "implied by the model" if kind == "model" else "mean posterior probabilities"
    if fit.kind == "ml":
        return f"{source}; ML estimate, {100 * ci[0]:.0f}% Wald interval"
    if fit.is_point:
        return f"{source}; {fit.kind.upper()} estimate"
    return f"{source}; posterior mean, {interval_label(*ci)}"


def _covariate_title(keys, names) -> str:
    keys = keys if isinstance(keys, tuple) else (keys,)
    return ", ".join(f"{n} = {v:g}" if isinstance(v, (int, float, np.number)) else f"{n} = {v}"
                     for n, v in zip(names, keys))


def plot_lta_proportions(mm, result: Any, *, kind: str = "model", at=None, ci_prob: float | None = None,
                         ci_kind: str | None = None, ax=None, axes=None):
    """Class proportions P(C_t = k) over the time points of an LTA, a line per class with intervals.

    The values are :meth:`LTAModel.class_proportions_by_time` (eq. 8 propagated
    through eq. 9): ML estimates with Wald intervals (logit scale), a MAP
    estimate, or posterior means with ``ci_prob`` intervals.

    Parameters
    ----------
    mm : LTAModel
        A latent transition model (:func:`bayesmix.lta`).
    result : fit
        ML, MAP, Laplace or posterior.
    kind : ``"model"`` or ``"posterior"``
        Model-implied proportions or mean posterior class probabilities.
    at : dict or DataFrame, optional
        Covariate values (``kind="model"``): one panel per covariate row.
    ci_prob, ci_kind : optional
        Interval probability and kind (ArviZ's defaults: 0.89, equal-tailed).
    ax : matplotlib Axes, optional
        Without ``at``.
    axes : sequence of matplotlib Axes, optional
        With ``at``: one per covariate row.

    Returns
    -------
    matplotlib.axes.Axes or list of matplotlib.axes.Axes
        The Axes; with ``at``, one Axes per covariate row.

    Examples
    --------
    >>> ax = plot_lta_proportions(m, ml)                                   # doctest: +SKIP
    >>> axes = plot_lta_proportions(m, ml, at={"smoker": [0, 1]})          # doctest: +SKIP
    """
    from .families.lta.results import _lta
    structure = _lta(mm)
    ci = interval_arguments(ci_prob, ci_kind)
    table = mm.class_proportions_by_time(result, kind=kind, at=at, ci_prob=ci[0], ci_kind=ci[1])
    plt = _pyplot()
    times, k = structure.time_labels, mm.n_classes
    if at is None:
        if ax is None:
            _, ax = plt.subplots(figsize=(1.2 * len(times) + 3, 3.4), layout="constrained")
        panels, parts, titles = [ax], [table], [None]
    else:
        names = [n for n in table.index.names if n not in ("time", "class")]
        groups = list(table.groupby(level=names, sort=False))
        if axes is None:
            _, grid = plt.subplots(1, len(groups), figsize=((1.2 * len(times) + 2.5) * len(groups), 3.4),
                                   squeeze=False, sharey=True, layout="constrained")
            axes = list(grid[0])
        panels = list(np.atleast_1d(axes))
        if len(panels) != len(groups):
            raise ValueError(f"axes has {len(panels)} panels for {len(groups)} covariate rows; pass one per row.")
        parts = [g for _, g in groups]
        titles = [_covariate_title(key, names) for key, _ in groups]
    x = np.arange(len(times))
    offsets = (np.arange(k) - (k - 1) / 2) * 0.05
    for panel, part, title in zip(panels, parts, titles):
        value, lower, upper, _ = _lta_values(part)
        value, lower, upper = (v.reshape(len(times), k) for v in (value, lower, upper))
        for c, label in enumerate(mm.class_labels):
            err = np.vstack([value[:, c] - lower[:, c], upper[:, c] - value[:, c]])
            has = np.isfinite(err).all()
            panel.errorbar(x + offsets[c], value[:, c], yerr=np.clip(err, 0, None) if has else None, marker="o",
                           capsize=3, label=label, color=f"C{c}")
        panel.set_xticks(x)
        panel.set_xticklabels(times)
        panel.set_ylim(0, 1)
        panel.set_xlabel("time")
        panel.set_title(title if title else _lta_caption(mm, result, kind, ci), fontsize=9)
    panels[0].set_ylabel("P(C_t = k)")
    panels[0].legend(fontsize=8)
    if at is not None:
        panels[0].figure.suptitle(_lta_caption(mm, result, kind, ci), fontsize=9)
        return panels
    return panels[0]


def plot_transitions(mm, result: Any, *, kind: str = "model", at=None, ci_prob: float | None = None,
                     ci_kind: str | None = None, annotate: bool = True, cmap: str = "Blues", axes=None):
    """Transition matrices P(C_t = k | C_{t-1} = j) as annotated heatmaps, one panel per step.

    Rows are the class at t-1 (from), columns the class at t (to); each cell
    shows the probability and, where the fit has one, its interval
    (:meth:`LTAModel.transition_matrices`: ML Wald, posterior ``ci_prob``).
    With ``at``, one row of panels per covariate row (e.g. smokers and
    non-smokers).

    Parameters
    ----------
    mm : LTAModel
        A latent transition model (:func:`bayesmix.lta`).
    result : fit
        ML, MAP, Laplace or posterior.
    kind : ``"model"`` or ``"posterior"``
        Model-implied or from the units' pairwise posteriors.
    at : dict or DataFrame, optional
        Covariate values (``kind="model"``).
    ci_prob, ci_kind : optional
        Interval probability and kind (ArviZ's defaults).
    annotate : bool
        Write the values (and intervals) in the cells.
    cmap : str
        Matplotlib colormap of the probabilities (0 to 1).
    axes : sequence of matplotlib Axes, optional
        One per panel (steps, times covariate rows), row-major.

    Returns
    -------
    list of matplotlib.axes.Axes
        One Axes per panel (per step; with ``at``, per covariate row and step, row-major),
        each with the K x K matrix as its image.

    Examples
    --------
    >>> axes = plot_transitions(m, ml)                                 # doctest: +SKIP
    >>> axes = plot_transitions(m, idata, at={"smoker": [0, 1]})       # doctest: +SKIP
    """
    from .families.lta.results import _lta
    _lta(mm)
    ci = interval_arguments(ci_prob, ci_kind)
    table = mm.transition_matrices(result, kind=kind, at=at, ci_prob=ci[0], ci_kind=ci[1])
    k = mm.n_classes
    names = [n for n in table.index.names if n not in ("transition", "from", "to")]
    groups = list(table.groupby(level=names, sort=False)) if names else [(None, table)]
    steps = list(dict.fromkeys(table.index.get_level_values("transition")))
    plt = _pyplot()
    if axes is None:
        fig, grid = plt.subplots(len(groups), len(steps), figsize=(3.2 * len(steps) + 1.0, 3.2 * len(groups)),
                                 squeeze=False, layout="constrained")
        axes = list(grid.ravel())
    axes = list(np.atleast_1d(axes))
    if len(axes) != len(groups) * len(steps):
        raise ValueError(f"axes has {len(axes)} panels for {len(groups) * len(steps)} matrices "
                         f"({len(groups)} covariate row(s) x {len(steps)} step(s)).")
    image = None
    for g, (key, part) in enumerate(groups):
        for s, step in enumerate(steps):
            ax = axes[g * len(steps) + s]
            cell = part.xs(step, level="transition")
            value, lower, upper, _ = _lta_values(cell)
            value, lower, upper = (v.reshape(k, k) for v in (value, lower, upper))
            image = ax.imshow(value, vmin=0.0, vmax=1.0, cmap=cmap)
            if annotate:
                for j in range(k):
                    for c in range(k):
                        text = f"{value[j, c]:.2f}"
                        if np.isfinite(lower[j, c]) and np.isfinite(upper[j, c]):
                            text += f"\n[{lower[j, c]:.2f}, {upper[j, c]:.2f}]"
                        ax.text(c, j, text, ha="center", va="center", fontsize=8,
                                color="white" if value[j, c] > 0.6 else "black")
            ax.set_xticks(range(k))
            ax.set_xticklabels(mm.class_labels)
            ax.set_yticks(range(k))
            ax.set_yticklabels(mm.class_labels)
            if g == len(groups) - 1:
                ax.set_xlabel("to (time t)")
            if s == 0:
                ax.set_ylabel("from (time t-1)")
            title = step if key is None else f"{step}; {_covariate_title(key, names)}"
            ax.set_title(title, fontsize=9)
    fig = axes[0].figure
    fig.colorbar(image, ax=axes, shrink=0.8, label="P(C_t = k | C_t-1 = j)")
    fig.suptitle(_lta_caption(mm, result, kind, ci), fontsize=9)
    return axes


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


def plot_lta_path_diagram(mm, result: Any, *, digits: int = 2, items: bool = True, ax=None):
    """Figure 1 drawn with matplotlib: the (two-level) LTA's path diagram with the estimates of ``result``.

    The same nodes and edge labels as :func:`lta_path_diagram` (gamma of
    eq. 13, beta of eq. 15, alpha_t -> C_t fixed at 1 with section 4's
    R-squared, P(C_t = 1) and SD(alpha_t) in the nodes), drawn without
    Graphviz. See :func:`bayesmix.families.lta.diagram.plot_path_diagram`.

    Parameters
    ----------
    mm : LTAModel
        A two-class ``bm.lta`` model.
    result : MLResult, MAPResult or DataTree
    digits : int
        Decimals.
    items : bool
        Draw the items of each time as one box.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_lta_path_diagram(m, ml)      # doctest: +SKIP
    """
    from .families.lta.diagram import plot_path_diagram
    return plot_path_diagram(mm, result, digits=digits, items=items, ax=ax)
