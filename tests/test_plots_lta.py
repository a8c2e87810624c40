"""LTA plots and faceted profile plots (issue 25 items 6-7), and the invariant items' profile labels.

The returned Axes are read back: panels per step / covariate row / item, their
labels, and the plotted values equal to the result tables they come from.
"""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_lta_at import simulate  # noqa: E402

import bayesmix as bm  # noqa: E402
from bayesmix.families.lta.model import item_labels  # noqa: E402
from bayesmix.plots import plot_lta_proportions, plot_profiles, plot_transitions  # noqa: E402


@pytest.fixture(scope="module")
def lta_fit():
    data, by_time = simulate(200, 3, seed=11)
    m = bm.lta(data, by_time, n_classes=2, covariates=["smoker"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(4, 2), seed=1)
    return m, ml


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_plot_lta_proportions_draws_the_table(lta_fit):
    m, ml = lta_fit
    table = m.class_proportions_by_time(ml)
    ax = plot_lta_proportions(m, ml)
    assert [t.get_text() for t in ax.get_xticklabels()] == m.times
    assert [t.get_text() for t in ax.get_legend().get_texts()] == m.class_labels
    # one errorbar container per class: its line at the table's values, its bars at the Wald bounds
    bars = list(ax.containers)
    assert [b.get_label() for b in bars] == m.class_labels
    for c, container in enumerate(bars):
        np.testing.assert_allclose(container.lines[0].get_ydata(),
                                   table.xs(m.class_labels[c], level="class")["estimate"])
    segments = bars[0].lines[2][0].get_segments()
    lower = np.array([seg[0][1] for seg in segments])
    np.testing.assert_allclose(lower, table.xs("class1", level="class")["lower"], atol=1e-12)
    assert "89%" in ax.get_title()
    axes = plot_lta_proportions(m, ml, at={"smoker": [0, 1]})
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["smoker = 0", "smoker = 1"]
    at_table = m.class_proportions_by_time(ml, at={"smoker": [0, 1]})
    line = [b for b in axes[1].containers if b.get_label() == "class2"][0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), at_table.xs((1.0, "class2"), level=["smoker", "class"])["estimate"])


def test_plot_transitions_heatmaps(lta_fit):
    m, ml = lta_fit
    table = m.transition_matrices(ml)
    axes = plot_transitions(m, ml)
    assert len(axes) == m.n_times - 1
    assert [a.get_title() for a in axes] == ["t1->t2", "t2->t3"]
    for ax, step in zip(axes, ["t1->t2", "t2->t3"]):
        matrix = table.xs(step, level="transition")["estimate"].to_numpy().reshape(2, 2)
        np.testing.assert_allclose(ax.images[0].get_array(), matrix)
        assert len(ax.texts) == 4 and ax.texts[0].get_text().startswith(f"{matrix[0, 0]:.2f}\n[")
        assert [t.get_text() for t in ax.get_yticklabels()] == m.class_labels
    axes = plot_transitions(m, ml.point, at={"smoker": [0, 1]}, annotate=False)  # a point: no intervals
    assert len(axes) == 2 * (m.n_times - 1)
    assert axes[3].get_title() == "t2->t3; smoker = 1"
    at_table = m.transition_matrices(ml.point, at={"smoker": [0, 1]})
    np.testing.assert_allclose(axes[3].images[0].get_array().ravel(),
                               at_table.xs((1.0, "t2->t3"), level=["smoker", "transition"])["estimate"])
    with pytest.raises(ValueError, match="panels"):
        plot_transitions(m, ml, axes=[axes[0]])


def test_invariant_items_are_labelled_by_their_stem(lta_fit):
    m, ml = lta_fit
    stems = [f"y{i}" for i in range(5)]
    assert list(ml.profiles.index.get_level_values("item")) == stems
    assert list(m.profiles(ml).index.get_level_values("item")) == stems
    assert item_labels({"fall": ["stub_f", "a1"], "spring": ["stub_s", "b7"]}, ["fall", "spring"]) == \
        {"stub_f": "stub", "a1": "a1/b7"}
    assert item_labels({"t1": ["x_1a", "x_2a"], "t2": ["x_1b", "x_2b"]}, ["t1", "t2"]) == \
        {"x_1a": "x_1a/x_1b", "x_2a": "x_2a/x_2b"}  # stems would coincide: every column named
    data, by_time = simulate(60, 2, seed=2)
    free = bm.lta(data, by_time, n_classes=2, invariant_measurement=False)
    assert free.profile_item_labels == {}  # time-specific items keep their columns


def test_binary_profiles_keep_one_line_chart(lta_fit):
    m, ml = lta_fit
    ax = plot_profiles(m, ml)
    assert not isinstance(ax, list)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"y{i}=1.0" for i in range(5)]


def test_nominal_profiles_are_faceted_per_item():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({f"q{i}": rng.integers(1, 4 + i % 2, 150) for i in range(5)})
    m = bm.lca(data, list(data.columns), n_classes=2, item_types="nominal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(4, 2), seed=1)
    panels = plot_profiles(m, ml)
    assert isinstance(panels, list) and len(panels) == 5
    assert len(panels[0].figure.axes) == 5  # the unused cells of the 2 x 4 grid are removed
    assert [a.get_title() for a in panels] == list(data.columns)
    for ax, item in zip(panels, data.columns):
        table = ml.profiles.xs(item, level="item")
        assert [t.get_text() for t in ax.get_xticklabels()] == list(table.index)
        assert len(ax.containers) >= m.n_classes
        heights = [[p.get_height() for p in bars] for bars in ax.containers if hasattr(bars, "patches")]
        for c, label in enumerate(m.class_labels):
            np.testing.assert_allclose(heights[c], table[(label, "estimate")])
    assert [t.get_text() for t in panels[0].get_legend().get_texts()] == m.class_labels
    two = plot_profiles(m, ml, items=["q1", "q3"], columns=1)
    assert [a.get_title() for a in two] == ["q1", "q3"]
    line = plot_profiles(m, ml, facet=False)  # the old single chart on request
    assert len(line.get_xticklabels()) == len(ml.profiles)
    with pytest.raises(ValueError, match="axes="):
        plot_profiles(m, ml, ax=line)
    with pytest.raises(ValueError, match="not rows of the profile table"):
        plot_profiles(m, ml, items=["nope"])
