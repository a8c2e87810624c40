"""Figure 1: the two-level LTA's path diagram with its estimates, as DOT text (section 4, eq. 11-15; issue 24)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.plots import lta_path_diagram


def _at_truth(form: str):
    """The section 4 design (simulate_lta's defaults) and a point fit at its population values."""
    sim = bm.datasets.simulate_lta(200, n_clusters=10, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lta(sim.data, sim.items_by_time, n_classes=2, cluster=sim.cluster, random_intercepts=True,
                   random_form=form, integration={"method": "gauss-hermite", "points": 7})
    truth = sim.truth
    point = {"class_intercept": truth["class_intercept"], "transition_logit": truth["transition_logit"],
             "binary_logit": truth["binary_logit"], "random_sd": truth["random_sd_structural"],
             "random_regression": truth["random_regression"]}
    return m, point, truth


def _edge_label(dot: str, edge: str) -> str:
    match = re.search(re.escape(edge) + r' \[[^\]]*label="([^"]*)"', dot)
    assert match, f"no edge {edge} in\n{dot}"
    return match.group(1)


def test_diagram_carries_the_papers_paths_at_the_population_values():
    """At the population values: gamma = tau_11 - tau_21 (eq. 13), beta = 0.52 and SD(alpha) 1.45 / 1.02
    (eq. 15), R-squared of alpha_1 on C_1 = 1.45^2 / (1.45^2 + pi^2/3) = .39 (the paper's figure)."""
    m, point, truth = _at_truth("structural")
    dot = lta_path_diagram(m, point)
    assert dot.startswith("digraph lta {") and dot.rstrip().endswith("}")
    assert "subgraph cluster_within" in dot and "subgraph cluster_between" in dot
    tau = truth["transition_logit"][0, :, 0]
    gamma = _edge_label(dot, "C_fall -> C_spring")
    assert gamma.startswith(f"gamma = {tau[0] - tau[1]:.2f}")
    assert _edge_label(dot, "alpha_fall -> alpha_spring") == "beta = 0.52"
    r2 = 1.45**2 / (1.45**2 + np.pi**2 / 3)
    assert f"{r2:.2f}" == "0.39"
    assert _edge_label(dot, "alpha_fall -> C_fall") == f"1\\nR2 = {r2:.2f}"
    assert _edge_label(dot, "alpha_spring -> C_spring").startswith("1\\nR2 total = ")
    assert 'alpha_fall [shape=circle, label="alpha fall\\nSD 1.45"]' in dot
    assert 'alpha_spring [shape=circle, label="alpha spring\\nSD 1.02"]' in dot
    assert 'U_fall [shape=box, label="10 items, fall"]' in dot and "C_spring -> U_spring;" in dot
    assert dot.count("{") == dot.count("}")


def test_diagram_from_an_ml_fit_shows_estimates_with_standard_errors():
    sim = bm.datasets.simulate_lta(150, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lta(sim.data, sim.items_by_time, n_classes=2)
        ml = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
    dot = lta_path_diagram(m, ml, digits=3, items=False)
    effects = m.transition_effects(ml)
    row = effects.xs("gamma[class1 <- class1]", level="quantity").iloc[0]
    assert _edge_label(dot, "C_fall -> C_spring") == f"gamma = {row['estimate']:.3f} ({row['se']:.3f})"
    assert "alpha_" not in dot and "U_fall" not in dot  # single level: no between part; items left out


def test_bad_models_are_refused_with_the_reason(monkeypatch):
    sim = bm.datasets.simulate_lca(n_units=60, n_items=4, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lca(sim.data, list(sim.data.columns), 2)
    with pytest.raises(ValueError, match="bm.lta model"):
        lta_path_diagram(m, {})
    m2, point, _ = _at_truth("structural")
    with pytest.raises(ValueError, match="digits"):
        lta_path_diagram(m2, point, digits=-1)
    monkeypatch.setitem(__import__("sys").modules, "graphviz", None)  # render=True without the package
    with pytest.raises(ImportError, match="pip install graphviz"):
        lta_path_diagram(m2, point, render=True)


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def test_matplotlib_figure_draws_the_nodes_and_edge_labels_of_the_dot_text():
    """plot_lta_path_diagram: a Figure whose text artists are the DOT diagram's node and edge labels, the
    population values on them (beta 0.52, SD 1.45 / 1.02, R2 .39), the two level frames and no other labels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse, FancyArrowPatch

    from bayesmix.families.lta.diagram import path_graph
    m, point, truth = _at_truth("structural")
    fig = bm.plots.plot_lta_path_diagram(m, point)
    texts = _texts(fig)
    graph = path_graph(m, point)
    node_labels = [v["label"] for v in graph.nodes.values()]
    edge_labels = [lab for _, _, lab in graph.edges if lab]
    assert sorted(texts) == sorted(node_labels + edge_labels + ["Within (students)", "Between (classrooms)"])
    assert "alpha fall\nSD 1.45" in texts and "alpha spring\nSD 1.02" in texts
    assert "beta = 0.52" in texts and "1\nR2 = 0.39" in texts and "10 items, spring" in texts
    tau = truth["transition_logit"][0, :, 0]
    assert any(t.startswith(f"gamma = {tau[0] - tau[1]:.2f}") for t in texts)
    ax = fig.axes[0]
    assert sum(isinstance(p, Ellipse) for p in ax.patches) == 4  # C_fall, C_spring, alpha_fall, alpha_spring
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == len(graph.edges) == 6  # 2 items, gamma, beta, 2 alpha -> C
    # the DOT text carries the same labels (one description, two renderers)
    dot = lta_path_diagram(m, point)
    for label in node_labels + edge_labels:
        assert label.replace("\n", "\\n") in dot
    plt.close(fig)


def test_matplotlib_single_level_figure_has_no_between_frame_and_draws_into_a_given_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sim = bm.datasets.simulate_lta(150, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lta(sim.data, sim.items_by_time, n_classes=2)
    point = {k: sim.truth[k] for k in ("class_intercept", "transition_logit", "binary_logit")}
    fig, ax = plt.subplots()
    assert bm.plots.plot_lta_path_diagram(m, point, items=False, ax=ax) is fig
    texts = _texts(fig)
    assert "Between (classrooms)" not in texts and not any(t.startswith("alpha") for t in texts)
    assert any(t.startswith("gamma = ") for t in texts) and len(texts) == 4  # 2 nodes, gamma, the within frame
    plt.close(fig)
