"""The path diagram of a (two-level) LTA with its estimates: the paper's figure 1 (section 4, eq. 11-15) as DOT.

Within level: the class C_t at each time point measured by its items (eq. 11)
and C_(t-1) -> C_t (eq. 9, 13: gamma, the effect of class 1 vs 2 at t-1 on
the logit of class 1 at t). Between level: the classroom random intercepts
alpha_t of the class-1 logits (eq. 12-13), alpha_(t-1) -> alpha_t (eq. 15:
beta = Cov(alpha_2, alpha_1) / Var(alpha_1), whatever the ``random_form``),
each alpha_t -> C_t fixed at 1. Nodes carry P(C_t = 1) and SD(alpha_t); for
two time points the arrows into C_1 and C_2 carry the R-squared figures of
section 4 (:func:`~bayesmix.families.lta.results.variance_explained`). The text is
Graphviz DOT: render it with the ``graphviz`` package or the ``dot`` program.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["path_diagram"]


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

    lines = ["digraph lta {", '  graph [rankdir=LR, fontsize=10, label="Two-level latent transition model '
             '(Asparouhov & Muthen 2006, figure 1)", labelloc=t];', "  node [fontsize=10];", "  edge [fontsize=9];"]
    lines.append('  subgraph cluster_within {\n    label="Within (students)"; style=rounded;')
    for t in times:
        share = _value(props, (t, c1), digits)
        lines.append(f"    C_{t} [shape=circle, label={_quote(f'C {t}' + chr(10) + f'P(class 1) = {share}')}];")
        if items:
            n = len(mm.items_by_time[t])
            lines.append(f"    U_{t} [shape=box, label={_quote(f'{n} items, {t}')}];")
            lines.append(f"    C_{t} -> U_{t};")
    for s in range(1, len(times)):
        prev, t = times[s - 1], times[s]
        step = effects.index.get_level_values(0).unique()[s - 1] if effects.index.nlevels > 1 else None
        label = f"gamma = {_value(effects, (step, f'gamma[{c1} <- {c1}]'), digits)}"
        if r2 is not None:
            label += f"\nR2 C1 alone = {_value(r2, 'C2: C1 alone', digits, with_se=False)}"
        lines.append(f"    C_{prev} -> C_{t} [label={_quote(label)}];")
    lines.append("  }")
    if two_level:
        lines.append('  subgraph cluster_between {\n    label="Between (classrooms)"; style=rounded;')
        for t in times:
            sd = _value(sds, t, digits)
            lines.append(f"    alpha_{t} [shape=circle, label={_quote(f'alpha {t}' + chr(10) + f'SD {sd}')}];")
        if r2 is not None:
            label = f"beta = {_value(r2, 'beta (eq. 15)', digits)}"
            lines.append(f"    alpha_{times[0]} -> alpha_{times[1]} [label={_quote(label)}];")
        lines.append("  }")
        for s, t in enumerate(times):
            label = "1"
            if r2 is not None:
                key = "C1: alpha1" if s == 0 else "C2: total"
                name = "R2" if s == 0 else "R2 total"
                label += f"\n{name} = {_value(r2, key, digits, with_se=False)}"
            lines.append(f"  alpha_{t} -> C_{t} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
