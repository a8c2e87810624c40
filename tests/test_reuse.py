"""Compiled functions reused across data sets of the same shape (bayesmix._reuse, used by SBC)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from bayesmix import _reuse


def _model(y: np.ndarray, prior_mean: float = 0.0):
    """A log density of theta with the data y and a prior mean as graph constants, as the factories build them."""
    theta = pt.vector("theta")
    data = pt.constant(y)
    logp = -0.5 * ((data - theta[None, :]) ** 2).sum() - 0.5 * ((theta - prior_mean) ** 2).sum()
    return [theta], [logp, pt.grad(logp, theta)]


def _plain(y, prior_mean=0.0):
    return pytensor.function(*_model(y, prior_mean))


def test_same_structure_new_data_reuses_the_function_with_the_new_data():
    rng = np.random.default_rng(0)
    y1, y2 = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    at = np.array([0.3, -0.2, 1.0])
    store = _reuse.CompileStore()
    with _reuse.reuse_compiled(store):  # one replication
        f1 = pytensor.function(*_model(y1))
        v1 = [np.asarray(v) for v in f1(at)]
    with _reuse.reuse_compiled(store):  # the next
        f2 = pytensor.function(*_model(y2))
        v2 = [np.asarray(v) for v in f2(at)]
    assert f2 is f1 and (store.hits, store.misses) == (1, 1)
    for got, want in zip(v1, _plain(y1)(at)):
        np.testing.assert_array_equal(got, want)  # the same bits as a function compiled on the constants
    for got, want in zip(v2, _plain(y2)(at)):
        np.testing.assert_array_equal(got, want)
    assert pytensor.function is not None and pytensor.function.__module__.startswith("pytensor")  # restored


def test_other_small_constants_or_shapes_compile_anew():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(20, 3))
    at = np.zeros(3)
    store = _reuse.CompileStore()
    with _reuse.reuse_compiled(store):
        f1 = pytensor.function(*_model(y, prior_mean=0.0))
        f2 = pytensor.function(*_model(y, prior_mean=1.0))  # a prior constant: part of the key by value
        f3 = pytensor.function(*_model(rng.normal(size=(21, 3))))  # another shape
        values = [np.asarray(f(at)[0]) for f in (f1, f2, f3)]
    assert store.hits == 0 and store.misses == 3
    assert values[0] != values[1]
    np.testing.assert_array_equal(values[1], _plain(y, 1.0)(at)[0])


def test_graphs_with_random_generators_or_updates_are_not_cached():
    store = _reuse.CompileStore()
    x = pt.vector("x")
    state = pytensor.shared(np.zeros(1))
    rv = pt.random.normal(0, 1, size=3)
    with _reuse.reuse_compiled(store):
        pytensor.function([x], x + rv)  # a random generator: a shared variable that changes
        pytensor.function([x], x.sum(), updates=[(state, state + 1)])
    assert store.uncached == 2 and not store.entries


def test_the_same_structure_twice_in_one_replication_with_other_data_gets_its_own_function():
    rng = np.random.default_rng(2)
    y1, y2 = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    at = np.ones(3)
    store = _reuse.CompileStore()
    with _reuse.reuse_compiled(store):
        f1 = pytensor.function(*_model(y1))
        f2 = pytensor.function(*_model(y2))  # both alive in the same activation: f1 must keep y1
        assert f2 is not f1
        np.testing.assert_array_equal(f1(at)[0], _plain(y1)(at)[0])
        np.testing.assert_array_equal(f2(at)[0], _plain(y2)(at)[0])
