"""Compiled functions reused across data sets of the same shape (bayesmix._reuse, used by SBC)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

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


def test_other_small_constants_or_a_broadcasting_axis_compile_anew():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(20, 3))
    at = np.zeros(3)
    store = _reuse.CompileStore()
    with _reuse.reuse_compiled(store):
        f1 = pytensor.function(*_model(y, prior_mean=0.0))
        f2 = pytensor.function(*_model(y, prior_mean=1.0))  # a prior constant: part of the key by value
        values = [np.asarray(f(at)[0]) for f in (f1, f2)]
    one_row = rng.normal(size=(1, 16))  # 16 elements: data, but a length-1 axis broadcasts: another structure
    theta = pt.vector("theta")
    graph = [theta], [(pt.constant(one_row) * theta[:, None]).sum()]
    wide = rng.normal(size=(4, 16))
    with _reuse.reuse_compiled(store):
        f3 = pytensor.function(graph[0], (pt.constant(wide) * theta[:, None]).sum())
        f3(np.ones(4))
    with _reuse.reuse_compiled(store):
        f4 = pytensor.function(*graph)
        got = f4(np.ones(1))[0]
    assert f4 is not f3
    assert got == pytest.approx(one_row.sum(), rel=1e-12)
    assert store.hits == 0 and store.misses == 4
    assert values[0] != values[1]
    np.testing.assert_array_equal(values[1], _plain(y, 1.0)(at)[0])


def test_data_of_another_length_reuse_the_function_with_their_own_values():
    """The lengths of the data are not compiled in (SBC: each data set has its own number of response patterns)."""
    rng = np.random.default_rng(3)
    at = np.array([0.3, -0.2, 1.0])
    store = _reuse.CompileStore()
    with _reuse.reuse_compiled(store):
        f1 = pytensor.function(*_model(rng.normal(size=(20, 3))))
        f1(at)
    y = rng.normal(size=(37, 3))
    with _reuse.reuse_compiled(store):
        f2 = pytensor.function(*_model(y))
        got = [np.asarray(v) for v in f2(at)]
    assert f2 is f1 and (store.hits, store.misses) == (1, 1)
    for value, want in zip(got, _plain(y)(at)):
        np.testing.assert_allclose(value, want, rtol=1e-12)


def test_a_short_integer_index_is_data():
    """An index array shorter than LIFT_MIN (the representative rows of 9 or 14 patterns) is swapped, not keyed."""
    table = np.arange(40.0).reshape(20, 2)
    theta = pt.vector("theta")

    def gathered(index):
        return [theta], [(pt.constant(table)[np.asarray(index)] * theta).sum()]

    store = _reuse.CompileStore()
    at = np.array([1.0, -0.5])
    results = []
    for index in ([3, 1, 4, 1, 5], [2, 7, 1, 8, 2, 8, 1, 8, 2]):
        with _reuse.reuse_compiled(store):
            results.append(float(pytensor.function(*gathered(index))(at)[0]))
        assert results[-1] == pytest.approx((table[index] * at).sum(), rel=1e-12)
    assert (store.hits, store.misses) == (1, 1)


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


def test_random_variables_given_as_inputs_stay_the_inputs():
    """A function of random variables (inputs with an owner, as ``function(free_RVs, graph)`` in bayesmix's result
    code) with data constants: the store's rebuilt graph computes from the inputs, not from clones of the random
    variables (which evaluated their prior draws: every value of the sampled latent effects' start off by ~50-90
    log-units, found in SBC, benchmarks/results/sbc/notes.md)."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=(20, 3))
    mu = pt.random.normal(0.0, 1.0, size=3, rng=pytensor.shared(np.random.default_rng(0)))
    graph = -0.5 * ((pt.constant(y) - mu[None, :]) ** 2).sum()
    plain = pytensor.function([mu], graph)
    at = [np.array([0.5, -1.0, 2.0]), np.zeros(3)]
    store = _reuse.CompileStore()
    with _reuse.reuse_compiled(store):
        reused = pytensor.function([mu], graph)
        values = [float(reused(a)) for a in at]
    assert store.misses == 1
    np.testing.assert_allclose(values, [float(plain(a)) for a in at], rtol=1e-12)
    assert values[0] != values[1]
