"""The path diagram of a (two-level) LTA with its estimates: the paper's figure 1 (section 4, eq. 11-15) as DOT.

Within level: the class C_t at each time point measured by its items (eq. 11)
and C_(t-1) -> C_t (eq. 9, 13: gamma, the effect of class 1 vs 2 at t-1 on
the logit of class 1 at t). Between level: the classroom random intercepts
alpha_t of the class-1 logits (eq. 12-13), alpha_(t-1) -> alpha_t (eq. 15:
beta = Cov(alpha_2, alpha_1) / Var(alpha_1), whatever the ``random_form``),
each alpha_t -> C_t fixed at 1. Nodes carry P(C_t = 1) and SD(alpha_t); for
two time points the arrows into C_1 and C_2 carry the R-squared figures of
section 4 (:func:`~bayesmix.families.lta.results.variance_explained`).

One description (:func:`path_graph`: nodes and labelled edges) has two
renderers: :func:`path_diagram` writes Graphviz DOT text (render it with the
``graphviz`` package or the ``dot`` program), :func:`plot_path_diagram`
draws it with matplotlib (no Graphviz needed) and returns the Figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["path_graph", "path_diagram", "plot_path_diagram"]


def _value(frame: pd.DataFrame, row, digits: int, with_se: bool = True) -> str:
    """``estimate (se)`` of an ML table row, ``mean (sd)`` of a posterior one."""
    est_col = "estimate" if "estimate" in frame.columns else "mean"
    se_col = "se" if "se" in frame.columns else ("sd" if "sd" in frame.columns else None)
    est = float(frame.loc[row, est_col])
    text = f"{est:.{digits}f}"
    if with_se and se_col is not None and np.isfinite(float(frame.loc[row, se_col])):
        text += f" ({float(frame.loc[row, se_col]):.{digits}f})"
    return text


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class PathGraph:
    """The diagram's content: nodes by id (label, shape, level) and edges (source, target, label)."""

    times: list
    nodes: dict = field(default_factory=dict)   # id -> {"label": str, "shape": "circle" | "box", "level": str}
    edges: list = field(default_factory=list)   # (source id, target id, label or "")
    title: str = "Two-level latent transition model (Asparouhov & Muthen 2006, figure 1)"


def path_graph(mm, fit: Any, *, digits: int = 2, items: bool = True) -> PathGraph:
    """The nodes and labelled edges of figure 1 for ``mm`` at ``fit`` (see :func:`path_diagram`)."""
    if getattr(mm, "name", None) != "lta" or not hasattr(mm, "times"):
        raise ValueError("path_diagram draws a bm.lta model (figure 1); got "
                         f"{type(mm).__name__} {getattr(mm, 'name', '')!r}.")
    if mm.n_classes != 2:
        raise ValueError(f"path_diagram draws the two-class LTA of figure 1 (one logit per time); this model has "
                         f"{mm.n_classes} classes: read transition_effects(fit) for its gamma_kj.")
    if not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(f"digits={digits!r} must be a non-negative integer.")
    times = list(mm.times)
    c1 = mm.class_labels[0]
    props = mm.class_proportions_by_time(fit)
    effects = mm.transition_effects(fit)
    two_level = mm.latent is not None
    sds = None
    if two_level:  # SD(alpha_t) of the class-1 logits by the result engine (any fit, any random_form)
        import pytensor.tensor as pt

        from ...evaluate import evaluate_at_fit, summarize
        labels = list(mm.latent.effect_labels)
        idx = [labels.index(f"{t}:{c1}") for t in times]
        graph = pt.sqrt(mm.latent.variances()[idx])
        ev = evaluate_at_fit(mm, fit, graph, key="lta:diagram_sd", integration=None)
        sds = pd.DataFrame({k: np.ravel(v) for k, v in summarize(ev).items()}, index=times)
    r2 = None
    if two_level and len(times) == 2:
        try:
            r2 = mm.variance_explained(fit)
        except ValueError:  # covariates: no section 4 decomposition
            r2 = None

    g = PathGraph(times=times)
    for t in times:
        share = _value(props, (t, c1), digits)
        g.nodes[f"C_{t}"] = {"label": f"C {t}\nP(class 1) = {share}", "shape": "circle", "level": "within"}
        if items:
            n = len(mm.items_by_time[t])
            g.nodes[f"U_{t}"] = {"label": f"{n} items, {t}", "shape": "box", "level": "within"}
            g.edges.append((f"C_{t}", f"U_{t}", ""))
    for s in range(1, len(times)):
        prev, t = times[s - 1], times[s]
        step = effects.index.get_level_values(0).unique()[s - 1] if effects.index.nlevels > 1 else None
        label = f"gamma = {_value(effects, (step, f'gamma[{c1} <- {c1}]'), digits)}"
        if r2 is not None:
            label += f"\nR2 C1 alone = {_value(r2, 'C2: C1 alone', digits, with_se=False)}"
        g.edges.append((f"C_{prev}", f"C_{t}", label))
    if two_level:
        for t in times:
            sd = _value(sds, t, digits)
            g.nodes[f"alpha_{t}"] = {"label": f"alpha {t}\nSD {sd}", "shape": "circle", "level": "between"}
        if r2 is not None:
            g.edges.append((f"alpha_{times[0]}", f"alpha_{times[1]}", f"beta = {_value(r2, 'beta (eq. 15)', digits)}"))
        for s, t in enumerate(times):
            label = "1"
            if r2 is not None:
                key = "C1: alpha1" if s == 0 else "C2: total"
                name = "R2" if s == 0 else "R2 total"
                label += f"\n{name} = {_value(r2, key, digits, with_se=False)}"
            g.edges.append((f"alpha_{t}", f"C_{t}", label))
    return g


def path_diagram(mm, fit: Any, *, digits: int = 2, items: bool = True) -> str:
    """Figure 1 of the paper: the LTA's path diagram with the estimates of ``fit`` on its arrows, as DOT text.

    Parameters
    ----------
    mm : LTAModel
        A two-class ``bm.lta`` model, single or two level (``random_intercepts=True``).
    fit : MLResult, MAPResult or DataTree
        ML: ``estimate (se)``; posterior: ``mean (sd)``.
    digits : int
        Decimals of the numbers.
    items : bool
        Draw each time's items as one box (``"10 items"``) measured by C_t.

    Returns
    -------
    str
        A ``digraph`` with a ``cluster_within`` and (two level) a
        ``cluster_between`` subgraph; edges ``C_<t-1> -> C_<t>`` (gamma),
        ``alpha_<t> -> C_<t>`` (1, with R-squared at T = 2) and
        ``alpha_<t-1> -> alpha_<t>`` (beta of eq. 15, two time points).

    Examples
    --------
    >>> dot = bm.plots.lta_path_diagram(m, ml)                  # doctest: +SKIP
    >>> import graphviz; graphviz.Source(dot)                   # doctest: +SKIP
    """
    g = path_graph(mm, fit, digits=digits, items=items)
    lines = ["digraph lta {", f'  graph [rankdir=LR, fontsize=10, label={_quote(g.title)}, labelloc=t];',
             "  node [fontsize=10];", "  edge [fontsize=9];"]
    within = [n for n, v in g.nodes.items() if v["level"] == "within"]
    between = [n for n, v in g.nodes.items() if v["level"] == "between"]

    def edge_line(src, dst, label, indent):
        return f"{indent}{src} -> {dst}" + (f" [label={_quote(label)}];" if label else ";")

    lines.append('  subgraph cluster_within {\n    label="Within (students)"; style=rounded;')
    for t in g.times:  # the DOT of earlier versions: C_t, its items box and C_t -> U_t, time by time
        lines.append(f"    C_{t} [shape=circle, label={_quote(g.nodes[f'C_{t}']['label'])}];")
        if f"U_{t}" in g.nodes:
            lines.append(f"    U_{t} [shape=box, label={_quote(g.nodes[f'U_{t}']['label'])}];")
            lines.append(f"    C_{t} -> U_{t};")
    lines += [edge_line(a, b, lab, "    ") for a, b, lab in g.edges
              if a in within and b in within and not b.startswith("U_")]
    lines.append("  }")
    if between:
        lines.append('  subgraph cluster_between {\n    label="Between (classrooms)"; style=rounded;')
        for n in between:
            lines.append(f"    {n} [shape=circle, label={_quote(g.nodes[n]['label'])}];")
        lines += [edge_line(a, b, lab, "    ") for a, b, lab in g.edges if a in between and b in between]
        lines.append("  }")
        lines += [edge_line(a, b, lab, "  ") for a, b, lab in g.edges if a in between and b in within]
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_path_diagram(mm, fit: Any, *, digits: int = 2, items: bool = True, ax=None):
    """Figure 1 drawn with matplotlib: the path diagram of :func:`path_diagram` as a Figure (no Graphviz needed).

    The between level (classroom random intercepts alpha_t, eq. 12-13, 15) is
    drawn above the within level (classes C_t, eq. 9-11, 13, and their items),
    each in a rounded frame, time running left to right; arrows carry the
    same labels as the DOT edges (gamma, beta, the fixed 1 with section 4's
    R-squared), nodes P(C_t = 1) and SD(alpha_t).

    Parameters
    ----------
    mm, fit, digits, items
        As :func:`path_diagram`.
    ax : matplotlib Axes, optional
        Draw here (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold one text artist per node label and per edge label
        (the strings of :func:`path_graph`, with real line breaks).

    Examples
    --------
    >>> fig = bm.plots.plot_lta_path_diagram(m, ml)            # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch

    g = path_graph(mm, fit, digits=digits, items=items)
    two_level = any(v["level"] == "between" for v in g.nodes.values())
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.2 * len(g.times) + 1.6, 6.2 if two_level else 3.6))
    else:
        fig = ax.figure
    dx = 3.2
    pos, size = {}, {}
    for s, t in enumerate(g.times):
        pos[f"C_{t}"], size[f"C_{t}"] = (s * dx, 0.0), (1.7, 0.9)
        pos[f"U_{t}"], size[f"U_{t}"] = (s * dx, -1.6), (1.5, 0.5)
        pos[f"alpha_{t}"], size[f"alpha_{t}"] = (s * dx, 2.9), (1.5, 0.9)
    x_lo, x_hi = -1.4, (len(g.times) - 1) * dx + 1.4

    def frame(y0, y1, text):
        ax.add_patch(FancyBboxPatch((x_lo, y0), x_hi - x_lo, y1 - y0, boxstyle="round,pad=0.05,rounding_size=0.3",
                                    fill=False, ls="--", lw=0.8, ec="0.5"))
        ax.text(x_lo + 0.1, y1 - 0.12, text, ha="left", va="top", fontsize=8, color="0.35", style="italic")

    frame(-2.15 if items else -0.8, 1.05, "Within (students)")
    if two_level:
        frame(1.95, 3.75, "Between (classrooms)")
    for name, node in g.nodes.items():
        (x, y), (w, h) = pos[name], size[name]
        if node["shape"] == "box":
            ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="square,pad=0.02", fc="white",
                                        ec="black", lw=1))
        else:
            ax.add_patch(Ellipse((x, y), w, h, fc="#eef3fb" if node["level"] == "within" else "#fbf1e6",
                                 ec="black", lw=1))
        ax.text(x, y, node["label"], ha="center", va="center", fontsize=8.5, zorder=4)
    for src, dst, label in g.edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        (w0, h0), (w1, h1) = size[src], size[dst]
        if y0 == y1:  # horizontal: time to time
            a, b = (x0 + w0 / 2, y0), (x1 - w1 / 2, y1)
            text_at, align = ((a[0] + b[0]) / 2, y0 + 0.12), dict(ha="center", va="bottom")
        else:  # vertical: alpha_t -> C_t or C_t -> its items
            sign = -1 if y1 < y0 else 1
            a, b = (x0, y0 + sign * h0 / 2), (x1, y1 - sign * h1 / 2)
            text_at, align = (x0 + 0.1, (a[1] + b[1]) / 2), dict(ha="left", va="center")
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1.1, color="black",
                                     shrinkA=0, shrinkB=0, zorder=3))
        if label:
            ax.text(*text_at, label, fontsize=7.5, zorder=5,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85), **align)
    ax.set_xlim(x_lo - 0.2, x_hi + 0.2)
    ax.set_ylim(-2.35 if items else -1.0, 3.95 if two_level else 1.25)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(g.title, fontsize=9)
    return fig
