"""Cluster sums and gathers by slots (bayesmix/latent/segments.py) equal the scatter-add path they replace.

``segment_sum`` (the cluster sums of eq. 16-17 and of the quadrature objective)
and the cluster-to-unit gather of the random effects (eq. 5) no longer use
``inc_subtensor`` (``numpy.add.at`` in the C backend): checked here against a
NumPy reference and against the old graphs, values and gradients, for sorted
equal clusters (a reshape), shuffled rows, clusters of size 1, very unequal
clusters (the scatter-add kept), leading axes, whole two-level models (ML
objective and the sampled density, missing responses) and the numba backend
of the NUTS samplers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest

import bayesmix as bm
from bayesmix._compile import no_c_compiler, python_mode
from bayesmix.inference.objective import flat_model
from bayesmix.latent import LatentEffects, segments
from bayesmix.latent.segments import gather_segments, segment_layout, segment_sum, segment_sum_scatter
from two_level_frames import small_frame

ITEMS4 = ["y1", "y2", "y3", "y4"]


def _layouts():
    rng = np.random.default_rng(3)
    sorted_equal = np.repeat(np.arange(5), 4)
    return {
        "sorted_equal": (sorted_equal, 5),
        "shuffled_equal": (rng.permutation(sorted_equal), 5),
        "unequal_with_singletons": (rng.permutation(np.r_[0, 1, np.repeat(2, 5), np.repeat(3, 3), 4, 4]), 5),
        "sorted_unequal": (np.r_[0, 0, 0, 1, 2, 2], 3),
        "empty_segment": (np.array([0, 2, 2, 0, 3]), 4),
        "very_unequal": (rng.permutation(np.r_[np.zeros(40, int), np.arange(1, 21)]), 21),  # scatter-add kept
    }


LAYOUTS = _layouts()


def _compile(out, inputs):
    """The C backend (fit_ml's, PyMC's sampler's), where the scatter-add was ``numpy.add.at``."""
    return pytensor.function(inputs, out, mode="CVM")


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_segment_layout_slots(name):
    index, n = LAYOUTS[name]
    layout = segment_layout(index, n)
    assert len(np.unique(layout.slots)) == len(index)  # distinct slots
    assert np.array_equal(layout.slots // layout.width, index)  # each unit in its segment's row
    ranks = layout.slots % layout.width
    for j in range(n):  # ranks 0, 1, ... in data order within each segment
        assert np.array_equal(ranks[index == j], np.arange(np.sum(index == j)))
    assert layout.identity == (name == "sorted_equal")
    assert layout.compact == (name != "very_unequal")


def test_segment_layout_rejects_bad_index():
    with pytest.raises(ValueError, match=r"range\(3\)"):
        segment_layout(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="1-D"):
        segment_layout(np.zeros((2, 2), int), 3)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_segment_sum_value_and_gradient(name, lead):
    index, n = LAYOUTS[name]
    rng = np.random.default_rng(1)
    x = pt.tensor("x", shape=(None,) * (len(lead) + 1))
    xv = rng.normal(size=(*lead, len(index)))
    w = rng.normal(size=(*lead, n))
    expected = np.zeros((*lead, n))
    np.add.at(np.moveaxis(expected, -1, 0), index, np.moveaxis(xv, -1, 0))  # the NumPy reference
    for fn in (segment_sum, segment_sum_scatter):
        out = fn(x, index, n)
        value, grad = _compile([out, pt.grad((out * w).sum(), x)], [x])(xv)
        np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(grad, w[..., index], rtol=0, atol=0)  # d sum_j w_j S_j / d x_i = w_{index_i}


def test_segment_sum_uses_no_scatter_add_when_compact():
    x = pt.matrix("x")
    for name, (index, n) in LAYOUTS.items():
        out = segment_sum(x, index, n)
        graph = pytensor.function([x], [out, pt.grad(out.sum(), x)], mode="CVM").maker.fgraph
        adds = [node for node in graph.toposort() if type(node.op).__name__.startswith("AdvancedIncSubtensor")
                and not node.op.set_instead_of_inc]
        assert (len(adds) == 0) == (name != "very_unequal"), name


def test_segment_sum_keeps_infinities():
    index, n = LAYOUTS["shuffled_equal"]
    x = pt.vector("x")
    xv = np.zeros(len(index))
    xv[3] = -np.inf
    value = _compile(segment_sum(x, index, n), [x])(xv)
    assert value[index[3]] == -np.inf and np.all(value[np.arange(n) != index[3]] == 0.0)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_gather_segments_value_and_gradient(name):
    index, n = LAYOUTS[name]
    rng = np.random.default_rng(2)
    u = pt.tensor3("u")
    uv = rng.normal(size=(3, n, 2))
    w = rng.normal(size=(3, len(index), 2))
    out = gather_segments(u, index, n)
    value, grad = _compile([out, pt.grad((out * w).sum(), u)], [u])(uv)
    np.testing.assert_array_equal(value, uv[:, index, :])
    expected = np.zeros_like(uv)
    np.add.at(expected, (slice(None), index), w)
    np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-12)


def test_segments_in_numba_mode():
    """The NUTS samplers' backend (nutpie compiles with numba) runs the same graphs to the same numbers."""
    index, n = LAYOUTS["unequal_with_singletons"]
    sorted_index, m = LAYOUTS["sorted_equal"]
    rng = np.random.default_rng(4)
    x, u = pt.matrix("x"), pt.matrix("u")
    xv, uv = rng.normal(size=(2, len(index))), rng.normal(size=(m, 3))
    w = rng.normal(size=(2, n))
    s = segment_sum(x, index, n)
    g = gather_segments(u, sorted_index, m)
    outputs = [s, pt.grad((s * w).sum(), x), g, pt.grad((g**2).sum(), u)]
    c_values = _compile(outputs, [x, u])(xv, uv)
    numba_values = pytensor.function([x, u], outputs, mode="NUMBA")(xv, uv)
    for a, b in zip(c_values, numba_values):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(numba_values[1], w[:, index], rtol=0, atol=0)
    np.testing.assert_allclose(numba_values[3], 2 * len(sorted_index) // m * uv, rtol=1e-12)


# ------------------------------------------------------------------ whole models: new graphs vs old graphs
def _old_unit_values(self, z=None):
    u = self.values(z)
    return u if self.level_index is None else u[..., self.level_index, :]


@pytest.fixture
def old_paths(monkeypatch):
    """The graphs before slots: scatter-add sums (no layout is compact) and the plain gather at every z."""
    def use():
        monkeypatch.setattr(segments, "PAD_LIMIT", 0)
        monkeypatch.setattr(LatentEffects, "unit_values", _old_unit_values)
    return use


def _regression_frame(shuffle: bool) -> pd.DataFrame:
    sim = bm.datasets.simulate_mixture_regression(n_clusters=8, cluster_size=5, seed=3)
    data = sim.data
    if shuffle:  # rows in random order and two clusters cut to one row
        keep = ~data["cluster"].isin(data["cluster"].unique()[:2]) | ~data["cluster"].duplicated()
        data = data[keep].sample(frac=1.0, random_state=1).reset_index(drop=True)
    return data


def _models():
    return {
        "model6_sorted": lambda: bm.mixture_regression(_regression_frame(False), "y", ["x"], 2, cluster="cluster",
                                                       random=("intercept",), random_class_intercept=True),
        "model6_shuffled": lambda: bm.mixture_regression(_regression_frame(True), "y", ["x"], 2, cluster="cluster",
                                                         random=("intercept",), random_class_intercept=True),
        "lca_random_intercept": lambda: bm.lca(small_frame(5, sizes=(1, 3, 4, 5)), items=ITEMS4, n_classes=2,
                                               cluster="school", random_intercept=True),
        "lca_between": lambda: bm.lca(small_frame(6, sizes=(2, 3, 4)), items=ITEMS4, n_classes=2, cluster="school",
                                      class_level="between"),
        "lca_within_and_between": lambda: bm.lca(small_frame(7, sizes=(3, 4, 5)), items=ITEMS4, n_classes=2,
                                                 cluster="school", n_between_classes=2),
    }


def _evaluate(m, seed: int = 0) -> dict:
    """ML objective + gradient (quadrature, shared nodes), sampled log density + gradient (z drawn), per-unit LL."""
    integration = {"method": "gauss-hermite", "points": 5}
    flat = flat_model(m, integration)
    rng = np.random.default_rng(seed)
    theta = rng.normal(scale=0.3, size=flat.n_params)
    value, grad = flat.value_and_grad("loglik")(theta)
    out = {"ml_value": value, "ml_grad": grad, "units": flat.unit_loglik(theta)}
    point = m.model.initial_point()
    point = {k: v + rng.normal(scale=0.3, size=np.shape(v)) for k, v in point.items()}
    # one evaluation each: Python thunks, no C build (values of the new and old graphs are compared; the slots in
    # C are checked above, mode="CVM"): with an empty compile cache these C builds were most of the test's CPU
    with no_c_compiler():
        out["nuts_logp"] = m.model.compile_logp(mode=python_mode())(point)
        out["nuts_dlogp"] = m.model.compile_dlogp(mode=python_mode())(point)
    return out


@pytest.mark.parametrize("name", sorted(_models()))
def test_models_equal_the_scatter_add_graphs(name, old_paths):
    new = _evaluate(_models()[name]())
    old_paths()
    old = _evaluate(_models()[name]())
    for key, value in new.items():
        np.testing.assert_allclose(value, old[key], rtol=1e-10, atol=1e-10, err_msg=f"{name}: {key}")
    assert np.all(np.isfinite(new["ml_grad"])) and np.any(new["nuts_dlogp"] != 0.0)
