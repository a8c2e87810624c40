"""Response-pattern fast paths (issue 11: unique patterns; issue 7: Hessian at real sizes).

Each fast path must equal the reference (per-unit, per-response) path to
1e-8 in value and gradient, and in the ML results built on it:

- two-level LCA with random class intercepts (Model 6): the marginal at a
  quadrature node shared by all clusters computed once per unique response
  pattern (:class:`bayesmix.patterns.Patterns`), cluster sums by a dense
  count matrix or by gather + segment sum;
- grade of membership (section 7, eq. 28-30): the per-response mixture at a
  shared node computed per (item, category) (:func:`marginal.item.loglik_from_tables`),
  with missing responses, binary and nominal items, 2 and 3 classes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from mixed_items import mixed_items
import bayesmix.patterns as patterns_module
from bayesmix._compile import no_c_compiler, python_mode
from bayesmix.datasets.simulate_gom import simulate_gom
from bayesmix.inference import objective
from bayesmix.patterns import response_patterns

TOL = 1e-8


@pytest.fixture
def reference_path(monkeypatch):
    """Build models with the pattern / table fast paths switched off."""
    def off():
        monkeypatch.setattr(patterns_module.Patterns, "worthwhile", property(lambda self: False))
    return off


def _value_grad(m, theta=None, seed=0):
    flat = objective.flat_model(m)
    if theta is None:
        theta = flat.to_theta(m.random_start(np.random.default_rng(seed)))
    return (*flat.value_and_grad("loglik")(theta), theta)


def _two_level(n_clusters=60, size=6, seed=3, covariate=False):
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(n_clusters), size)
    u = rng.normal(0, 1.0, n_clusters)[cluster]
    cls = (rng.uniform(size=cluster.size) < 1 / (1 + np.exp(-(0.2 + u)))).astype(int)
    p = np.where(cls[:, None] == 0, 0.8, 0.25)
    y = (rng.uniform(size=(cluster.size, 4)) < p).astype(float)
    y[rng.uniform(size=y.shape) < 0.1] = np.nan
    frame = pd.DataFrame(y, columns=list("abcd"))
    frame["school"] = cluster
    if covariate:
        frame["x"] = rng.normal(size=len(frame))
    return frame


def test_patterns_group_identical_rows_missing_cells_included():
    frame = pd.DataFrame({"a": [1, 1, 0, 1, np.nan, np.nan], "b": [0, 0, 1, 0, 1, 1]})
    m = bm.lca(frame, ["a", "b"], 2)
    pat = response_patterns(m.kernels)
    assert pat.n_patterns == 3
    assert pat.inverse[0] == pat.inverse[1] == pat.inverse[3] != pat.inverse[4] == pat.inverse[5]
    assert pat.inverse[2] not in (pat.inverse[0], pat.inverse[4])
    np.testing.assert_array_equal(pat.inverse[pat.representative], np.arange(3))


@pytest.mark.parametrize("dense", [True, False])
def test_two_level_random_intercept_by_pattern_equals_per_unit(reference_path, monkeypatch, dense):
    frame = _two_level()
    if not dense:  # force the gather + segment-sum branch
        monkeypatch.setattr(patterns_module, "_DENSE_LIMIT", 0)
    fast = bm.lca(frame, list("abcd"), 2, cluster="school", random_intercept=True)
    assert fast.structure.patterns is not None and fast.structure.patterns.n_patterns < 60 * 6 / 2
    v1, g1, theta = _value_grad(fast)
    reference_path()
    slow = bm.lca(frame, list("abcd"), 2, cluster="school", random_intercept=True)
    assert slow.structure.patterns is None
    v2, g2, _ = _value_grad(slow, theta)
    assert abs(v1 - v2) < TOL * abs(v2)
    np.testing.assert_allclose(g1, g2, rtol=TOL, atol=TOL)


def test_two_level_ml_results_equal_with_and_without_patterns(reference_path):
    frame = _two_level(seed=5)
    fast = bm.lca(frame, list("abcd"), 2, cluster="school", random_intercept=True)
    ml_fast = fast.fit_ml(starts=3, seed=1)
    reference_path()
    slow = bm.lca(frame, list("abcd"), 2, cluster="school", random_intercept=True)
    ml_slow = slow.fit_ml(starts=3, seed=1)
    assert abs(ml_fast.loglik - ml_slow.loglik) < 1e-6
    np.testing.assert_allclose(ml_fast.posterior_probabilities.to_numpy(),
                               ml_slow.posterior_probabilities.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(ml_fast.params["se"].to_numpy(), ml_slow.params["se"].to_numpy(), rtol=1e-4)


def test_unit_covariates_keep_the_per_unit_path():
    frame = _two_level(covariate=True)
    m = bm.lca(frame, list("abcd"), 2, cluster="school", random_intercept=True, covariates=["x"])
    assert m.structure.patterns is None


@pytest.mark.parametrize("k, membership", [(2, "logistic-normal"), (3, "logistic-normal"), (3, "restricted")])
def test_gom_table_path_equals_per_response(k, membership):
    sim = simulate_gom(150, 6, k, membership=membership if membership != "restricted" else "logistic-normal",
                       missing_rate=0.1, seed=2)
    data = sim.data.copy()
    data["nom"] = np.random.default_rng(0).integers(0, 3, len(data)).astype(float)  # a nominal item too
    items = [*sim.items, "nom"]
    types = {"nom": "nominal"}
    fast = bm.gom(data, items, k, membership=membership, item_types=types)
    assert fast.structure.tables_at is not None
    v1, g1, theta = _value_grad(fast)
    slow = bm.gom(data, items, k, membership=membership, item_types=types)
    slow.structure.tables_at = None  # the per-response reference path
    v2, g2, _ = _value_grad(slow, theta)
    assert abs(v1 - v2) < TOL * abs(v2)
    np.testing.assert_allclose(g1, g2, rtol=1e-7, atol=TOL)


def test_gom_with_covariates_or_continuous_items_keeps_the_per_response_path():
    sim = simulate_gom(120, 5, 2, seed=4)
    data = sim.data.assign(x=np.random.default_rng(1).normal(size=120))
    with_covariate = bm.gom(data, sim.items, 2, covariates=["x"]).structure  # membership differs by person
    assert with_covariate.tables_at is None and with_covariate.shared_log_membership_at is None
    cont = data.assign(score=np.random.default_rng(2).normal(size=120))
    assert bm.gom(cont, [*sim.items, "score"], 2).structure.tables_at is None


# --------------------------------------------------------------- person factor at shared nodes (eq. 36-47)
def _lsat_with_missing():
    lsat = bm.datasets.load("lsat7").copy()
    rows = np.random.default_rng(0).integers(0, len(lsat), 40)
    lsat.iloc[rows, 2] = np.nan
    return lsat, list(bm.datasets.load("lsat7").columns)


FACTOR_MODELS = {
    "fma": lambda d, i: bm.fma(d, i, 2, link="logit"),
    "fma class-specific": lambda d, i: bm.fma(d, i, 2, loadings="class-specific"),
    "fma class-specific variance": lambda d, i: bm.fma(d, i, 2, factor_variance="class-specific"),
    # the joint (eta, alpha) grid; the default for K = 2 integrates alpha exactly (marginal/logit_normal.py)
    "fma_gom": lambda d, i: bm.fma_gom(d, i, 2, membership_integration="quadrature"),
    "3pl direct": lambda d, i: bm.irt_3pl(d, i),
    "3pl fma-gom": lambda d, i: bm.irt_3pl(d, i, parameterization="fma-gom"),
}


@pytest.mark.parametrize("name", list(FACTOR_MODELS))
def test_factor_models_by_node_table_equal_per_response(name, monkeypatch):
    """At a node eta_q shared by all persons the kernels sum one-hot rows of a (K, I, C) table."""
    import bayesmix.kernels.base as kernels_module
    data, items = _lsat_with_missing()
    fast = FACTOR_MODELS[name](data, items)
    v1, g1, theta = _value_grad(fast, seed=3)
    monkeypatch.setattr(kernels_module, "unit_shared", lambda shift: False)
    slow = FACTOR_MODELS[name](data, items)
    if hasattr(slow.structure, "tables_at"):
        slow.structure.tables_at = None
    v2, g2, _ = _value_grad(slow, theta)
    assert abs(v1 - v2) < TOL * abs(v2)
    np.testing.assert_allclose(g1, g2, rtol=1e-7, atol=TOL)


@pytest.mark.parametrize("case", ["carcinoma", "mixed"])
def test_sampled_density_by_pattern_equals_per_unit(case, reference_path):
    # the Potential NUTS samples (single-level LCA, no covariates): the count-weighted sum over unique
    # patterns must equal the per-unit sum, value and gradient, at random points
    if case == "carcinoma":
        frame, items, kw = bm.datasets.load("carcinoma"), list("ABCDEFG"), {}
    else:
        frame, items = mixed_items(seed=2, n=400), list("abcd")
        kw = {"item_types": {"c": "nominal", "d": "ordinal"}}
    fast = bm.lca(frame, items, 3, **kw)
    assert fast.structure.density is not None
    reference_path()
    slow = bm.lca(frame, items, 3, **kw)
    assert slow.structure.density is None
    # Python thunks, no C compiler: the values of two graphs are compared, not the C backend (on an empty compile
    # cache the four C builds were most of this test's CPU; benchmarks/results/suite_cpu_ab_20261208.csv)
    with no_c_compiler():
        f_fast, f_slow = fast.model.compile_logp(mode=python_mode()), slow.model.compile_logp(mode=python_mode())
        g_fast, g_slow = fast.model.compile_dlogp(mode=python_mode()), slow.model.compile_dlogp(mode=python_mode())
    rng = np.random.default_rng(1)
    base = fast.model.initial_point()
    for _ in range(3):
        point = {k: v + rng.normal(scale=0.7, size=np.shape(v)) for k, v in base.items()}
        assert f_fast(point) == pytest.approx(f_slow(point), rel=1e-10)
        np.testing.assert_allclose(g_fast(point), g_slow(point), rtol=1e-8, atol=1e-8)


def test_sampled_density_keeps_the_per_unit_sum_where_patterns_do_not_apply():
    frame = mixed_items(seed=2, n=400).assign(x=np.random.default_rng(0).normal(size=400),
                                  z=np.random.default_rng(1).normal(size=400))
    assert bm.lca(frame, list("abcd"), 2, covariates=["x"]).structure.density is None  # class probabilities differ
    assert bm.lca(frame, ["a", "b", "z"], 2).structure.density is None  # a continuous item


FMA_MODELS = {
    "binary": lambda d, i: bm.fma(d, i, 2, link="logit"),
    "class-specific loadings": lambda d, i: bm.fma(d, i, 2, loadings="class-specific"),
    "class-specific variance": lambda d, i: bm.fma(d, i, 2, factor_variance="class-specific"),
    "ordinal": lambda d, i: bm.fma(d.assign(**{i[0]: d[i[0]] + d[i[1]]}), i, 2, item_types={i[0]: "ordinal"}),
}


@pytest.mark.parametrize("name", list(FMA_MODELS))
def test_fma_integral_by_pattern_equals_per_person(name):
    """FMA (eq. 36-37): the factor integrated once per unique response pattern equals the per-person quadrature.

    Value and gradient of the ML objective and of the integrated NUTS density (``sample(latent="integrated")``),
    with missing responses; the per-person reference is the same model with the pattern path switched off.
    """
    from bayesmix.inference.integrated import integrated_model
    data, items = _lsat_with_missing()
    fast = FMA_MODELS[name](data, items)
    patterns = fast.structure.node_patterns
    assert patterns is not None and patterns.n_patterns < fast.n_units
    assert fast.structure.integrated_loglik(fast.settings()) is not None
    slow = FMA_MODELS[name](data, items)
    slow.structure.tables_at = None
    assert slow.structure.integrated_loglik(slow.settings()) is None
    v1, g1, theta = _value_grad(fast, seed=4)
    v2, g2, _ = _value_grad(slow, theta)
    assert abs(v1 - v2) < TOL * abs(v2)
    np.testing.assert_allclose(g1, g2, rtol=1e-7, atol=TOL)
    models = [integrated_model(m, m.settings()) for m in (fast, slow)]
    rng = np.random.default_rng(2)
    base = models[0].initial_point()
    point = {k: v + rng.normal(scale=0.5, size=np.shape(v)) for k, v in base.items()}
    # one evaluation each: Python thunks, no C build (the values of two graphs are compared, not the C backend; the
    # integrated NUTS runs in C in tests/test_integrated_nuts.py): with an empty compile cache these four C builds
    # were most of this test's CPU (issue 26 item 5)
    with no_c_compiler():
        logp = [mm.compile_logp(mode=python_mode())(point) for mm in models]
        dlogp = [mm.compile_dlogp(mode=python_mode())(point) for mm in models]
    assert logp[0] == pytest.approx(logp[1], rel=1e-10)
    np.testing.assert_allclose(dlogp[0], dlogp[1], rtol=1e-8, atol=1e-8)


def test_fma_with_covariates_or_adaptive_quadrature_keeps_the_per_person_integral():
    data, items = _lsat_with_missing()
    data = data.assign(x=np.random.default_rng(0).normal(size=len(data)))
    assert bm.fma(data, items, 2, covariates=["x"]).structure.node_patterns is None  # class probabilities differ
    m = bm.fma(data, items, 2)
    assert m.structure.integrated_loglik({**m.settings(), "adaptive": True}) is None
