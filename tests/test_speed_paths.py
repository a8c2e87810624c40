"""Fast paths of issue 11 against their reference paths.

- Post-processing over draws (``results.evaluate_draws``): the graph with a
  leading draw axis, fed stacked draws in batches, equals the compiled graph
  evaluated once per draw (the reference loop of ``draw_function`` over
  ``iterate_draws``) to 1e-10, for the per-unit and per-cluster
  ``log_likelihood`` (quadrature over a random intercept), class
  probabilities, profiles and proportions, with batches that do not divide
  the number of draws; the single-level per-unit log-likelihood also against
  numpy (eq. 1 and 4 of the paper).
- The model's own graph is left as it was (the batched build works on a copy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from scipy.special import expit, logsumexp

import bayesmix as bm
from bayesmix import results as R
from bayesmix.inference.sampling import log_likelihood_dataset

TOL = 1e-10


def prior_posterior(m, draws: int, seed: int):
    """Prior draws of every free RV as a (chain=1, draw) posterior; random SDs kept moderate."""
    with m.model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed,
                                           var_names=[rv.name for rv in m.model.free_RVs])
    post = prior.prior.to_dataset() if hasattr(prior.prior, "to_dataset") else prior.prior
    for name in post.data_vars:
        if name.endswith("_sd"):
            post[name] = post[name].clip(0.05, 2.0)
    return _two_chains(post, draws // 2)  # two chains: (chain, draw) order is exercised


def _two_chains(post, half):
    import xarray as xr
    out = {}
    for name, da in post.data_vars.items():
        values = da.transpose("chain", "draw", ...).values[0, :2 * half]
        values = values.reshape(2, half, *values.shape[1:])
        out[name] = (("chain", "draw", *da.dims[2:]), values)
    coords = {k: v for k, v in post.coords.items() if k not in ("chain", "draw")}
    return xr.Dataset(out, coords={**coords, "chain": [0, 1], "draw": np.arange(half)})


def loop(m, key, graph, post, max_draws=None):
    """The reference: one call of the per-draw compiled graph per draw."""
    fn = R.draw_function(m, key, graph, R.posterior_rv_names(m, post))
    return np.stack([np.asarray(fn(*v)) for _, v in R.iterate_draws(m, post, max_draws)])


@pytest.fixture(scope="module")
def single():
    sim = bm.datasets.simulate_lca(n_units=150, n_items=5, n_classes=2, seed=3)
    m = bm.lca(sim.data, items=sim.items, n_classes=2)
    return m, sim, prior_posterior(m, 46, seed=1)


@pytest.fixture(scope="module")
def two_level():
    rng = np.random.default_rng(5)
    sizes = rng.integers(3, 9, size=12)
    cluster = np.repeat(np.arange(12), sizes)
    alpha = rng.normal(0, 1, size=12)[cluster]
    cls = (rng.uniform(size=len(cluster)) < expit(alpha)).astype(int)
    logits = np.array([[1.5, 1.0, -1.0, 0.5], [-1.5, -1.0, 1.0, -0.5]])
    y = (rng.uniform(size=(len(cluster), 4)) < expit(logits[cls])).astype(int)
    df = pd.DataFrame(y, columns=[f"y{i + 1}" for i in range(4)]).assign(cluster=cluster)
    m = bm.lca(df, [f"y{i + 1}" for i in range(4)], 2, cluster="cluster", random_intercept=True)
    return m, prior_posterior(m, 30, seed=2)


def test_single_level_loglik_batched_equals_loop_and_numpy(single):
    m, sim, post = single
    ds = log_likelihood_dataset(m, post)
    ref = loop(m, "unit_loglik_ref", m.integrated_loglik(), post)
    got = ds["y"].values.reshape(ref.shape)
    assert ds["y"].dims == ("chain", "draw", "unit") and ds["y"].shape == (2, 23, 150)
    assert np.max(np.abs(got - ref)) < TOL
    # numpy: log sum_c pi_c prod_i p_ic^y (1 - p_ic)^(1 - y), pi = softmax(intercept, 0) (eq. 1, 4)
    y = sim.data[sim.items].to_numpy()
    for c, d in [(0, 0), (1, 7), (1, 22)]:
        a = float(post["class_intercept"].values[c, d].ravel()[0])
        logit = post["binary_logit"].transpose("chain", "draw", "class", ...).values[c, d]  # (K, I)
        log_pi = np.array([a, 0.0]) - logsumexp([a, 0.0])
        ll_ic = (y[:, None, :] * np.log(expit(logit))[None] + (1 - y[:, None, :]) * np.log(expit(-logit))[None])
        expected = logsumexp(log_pi[None, :] + ll_ic.sum(-1), axis=1)
        assert np.max(np.abs(ds["y"].values[c, d] - expected)) < 1e-9


@pytest.mark.parametrize("batch", [1, 4, 7, 1000])
def test_batches_of_any_size_equal_the_loop(single, batch):
    m, _, post = single
    graph = m.class_probability_tensor()
    ref = loop(m, "cp_ref", graph, post)
    pairs, got = R.evaluate_draws(m, "cp", graph, post, batch=batch)
    assert pairs == [p for p, _ in R.iterate_draws(m, post)]
    assert got.shape == ref.shape and np.max(np.abs(got - ref)) < TOL
    assert not m._cache.get("batch_failed")


def test_fallback_to_the_per_draw_function(single, monkeypatch):
    m, _, post = single
    graph = m.class_probability_tensor()
    ref = loop(m, "cp_ref", graph, post)

    def broken(*args, **kwargs):
        raise NotImplementedError("no batched form")

    monkeypatch.setattr(R, "batch_function", broken)
    _, got = R.evaluate_draws(m, "cp_fallback", graph, post)
    assert np.max(np.abs(got - ref)) < TOL and ("cp_fallback", tuple(R.posterior_rv_names(m, post))) in \
        m._cache["batch_failed"]
    m._cache["batch_failed"].clear()


def test_compile_mode_follows_the_work_over_all_draws(monkeypatch):
    """Python thunks for a few cheap evaluations, C once the work over all calls repays its compile."""
    from bayesmix import _compile as C
    monkeypatch.setattr(C, "_SETTING", "auto")
    per_draw = 75_580  # two-level LCA, J = 200 clusters of 10, 10 items, 30 nodes
    assert C.choose_mode(per_draw) == "PY" and C.choose_mode(per_draw, calls=10) == "PY"
    assert C.choose_mode(per_draw, calls=4000) == C.COMPILE_MODE != "PY"
    assert C.choose_mode(C.PY_LIMIT + 1) == C.COMPILE_MODE and C.choose_mode(None, calls=10**9) == "PY"
    monkeypatch.setattr(C, "_SETTING", "PY")
    assert C.choose_mode(per_draw, calls=4000) == "PY"


def test_loglik_over_many_draws_in_c_equals_python_thunks(two_level, monkeypatch):
    """``log_likelihood`` over draws whose total work passes ``TOTAL_LIMIT`` is compiled to C: same values."""
    from bayesmix import _compile as C
    m, post = two_level
    monkeypatch.setattr(C, "_SETTING", "auto")
    key = "unit_loglik_modes"
    _, python = R.evaluate_draws(m, key, m.integrated_loglik(), post)
    monkeypatch.setattr(C, "TOTAL_LIMIT", m.work_size() * 10)  # 30 draws: now above the limit
    _, compiled = R.evaluate_draws(m, key, m.integrated_loglik(), post)
    modes = {k[2] for k in m._cache["batch_functions"] if k[0] == key}
    assert modes == {"PY", C.COMPILE_MODE}
    assert np.max(np.abs(python - compiled)) < 1e-10


def test_results_tables_equal_the_loop(single):
    m, _, post = single
    idata = xr.DataTree.from_dict({"posterior": post})
    probs = R.class_probabilities(m, idata, max_draws=10)  # thinned: every 5th of 46
    ref = loop(m, "cp_ref", m.class_probability_tensor(), post, max_draws=10).mean(0)
    assert np.max(np.abs(probs.to_numpy() - ref)) < TOL
    table, _ = R.profile_tensor(m)
    prof = R.profiles(m, idata)
    samples = loop(m, "prof_ref", table, post)
    assert np.max(np.abs(prof.xs("mean", axis=1, level="statistic").to_numpy() - samples.mean(0).T)) < TOL
    assert np.max(np.abs(prof.xs("sd", axis=1, level="statistic").to_numpy() - samples.std(0, ddof=1).T)) < TOL
    props = R.class_proportions(m, idata, ci_prob=0.94, ci_kind="eti")
    ref = loop(m, "prop_ref", m.proportion_tensor(), post)
    assert np.max(np.abs(props["mean"].to_numpy() - ref.mean(0))) < TOL
    assert np.max(np.abs(props["upper"].to_numpy() - np.quantile(ref, 0.97, axis=0))) < TOL


def test_two_level_cluster_loglik_batched_equals_loop(two_level):
    m, post = two_level
    graph = m.integrated_loglik()
    before = [str(v) for v in graph.owner.inputs]
    ds = log_likelihood_dataset(m, post)
    assert ds["y"].dims == ("chain", "draw", "cluster") and ds["y"].shape == (2, 15, 12)
    ref = loop(m, "cluster_loglik_ref", graph, post)
    assert np.max(np.abs(ds["y"].values.reshape(ref.shape) - ref)) < TOL
    for batch in (2, 11):
        _, got = R.evaluate_draws(m, "cluster_loglik", graph, post, batch=batch)
        assert np.max(np.abs(got - ref)) < TOL
    # the model's own graph was not rewritten in place by the batched build
    assert [str(v) for v in graph.owner.inputs] == before
    cp = R.evaluate_draws(m, "cluster_props", m.cluster_proportion_tensor(), post, batch=4)[1]
    assert np.max(np.abs(cp - loop(m, "cluster_props_ref", m.cluster_proportion_tensor(), post))) < TOL
    assert not m._cache.get("batch_failed")  # every graph above ran batched, none fell back to the loop


# ===================================================================== random starts: basins
from bayesmix.inference import optimize as O  # noqa: E402


def test_distinct_groups_and_final_selection():
    values = np.array([-10.0, -10.0005, -10.0008, -12.0, -12.0001, -15.0])  # best first
    assert O.distinct_groups(values, 1e-3).tolist() == [0, 0, 0, 1, 1, 2]
    chosen, groups = O.select_final(values, 4, 1e-3)
    assert chosen == [0, 3, 5, 1] and groups.tolist() == [0, 1, 2, 0]  # every basin once, then repeats
    chosen, groups = O.select_final(values, 2, 1e-3)
    assert chosen == [0, 3]
    # a chain of values each within tol of the next is cut at tol from the group's best
    assert O.distinct_groups(np.array([0.0, -0.0008, -0.0016, -0.0024]), 1e-3).tolist() == [0, 0, 1, 1]


@pytest.fixture(scope="module")
def saddle_case():
    """LCA data (2 well-separated classes) and two kinds of start: the symmetric start at the
    one-class ML solution (both classes equal: a stationary point the optimizer never leaves,
    with a high value after one iteration) and ordinary random starts (lower after one)."""
    sim = bm.datasets.simulate_lca(n_units=300, n_items=6, n_classes=2, seed=4)
    m = bm.lca(sim.data, items=sim.items, n_classes=2)
    y = sim.data[sim.items].to_numpy().astype(float)
    p = y.mean(0)
    one_class = np.log(p) - np.log1p(-p)
    ll1 = float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))
    symmetric = {"class_intercept": np.zeros(1), "binary_logit": np.vstack([one_class, one_class])}
    return m, symmetric, ll1


def _patched_starts(monkeypatch, m, starts):
    it = iter(starts)
    monkeypatch.setattr(m, "random_start", lambda rng: {k: np.array(v, dtype=float) for k, v in next(it).items()})


def test_final_stage_leaves_a_basin_many_starts_share(saddle_case, monkeypatch):
    m, symmetric, ll1 = saddle_case
    rng = np.random.default_rng(0)
    ordinary = m.random_start(rng)
    ordinary = {k: 4.0 * np.asarray(v) for k, v in ordinary.items()}  # far from the optimum: low after 1 step
    # 3 symmetric starts (the best after the initial stage, one point) and 1 ordinary start
    _patched_starts(monkeypatch, m, [symmetric, symmetric, symmetric, ordinary])
    with pytest.warns(UserWarning, match="reached by only one"):
        opt = O._multistart(m, "loglik", starts=(4, 3), seed=1, initial_iterations=1)
    report = opt.report
    assert report.n_basins == 2 and report.n_distinct == 2  # both initial-stage solutions got a final run
    # the ordinary start found the 2-class optimum, far above the one-class stationary point that
    # the 3 best initial-stage solutions (Mplus's choice) would all have returned
    assert opt.value > ll1 + 10
    assert report.final_values[1] == pytest.approx(ll1, abs=1e-6)  # the symmetric run stayed put
    assert report.n_reached == 1 and report.n_replicated == 1
    assert "NOT replicated" in str(report) and "2 distinct initial-stage solutions" in str(report)


def test_one_initial_stage_solution_is_not_replicated_by_its_final_runs(saddle_case, monkeypatch):
    m, symmetric, ll1 = saddle_case
    # the same start drawn twice: one initial-stage solution feeds two final runs -- one basin, so
    # reaching the best twice from it is not a replication (the old report said "2 of 3")
    start = {k: np.asarray(v) for k, v in m.random_start(np.random.default_rng(3)).items()}
    other = {k: np.asarray(v) for k, v in m.random_start(np.random.default_rng(8)).items()}
    _patched_starts(monkeypatch, m, [start, start, symmetric])
    with pytest.warns(UserWarning, match="all started from one initial-stage solution"):
        opt = O._multistart(m, "loglik", starts=(3, 3), seed=1, initial_iterations=1)
    r = opt.report
    assert r.n_basins == 2 and r.n_distinct == 2 and r.n_starts_behind == 2
    assert r.n_reached == 2 and r.n_replicated == 1 and "NOT replicated" in str(r)
    # two different ordinary starts that both reach the optimum: replicated from 2 basins
    _patched_starts(monkeypatch, m, [start, other, symmetric])
    r2 = O._multistart(m, "loglik", starts=(3, 3), seed=1, initial_iterations=1, warn_unreplicated=False).report
    assert r2.n_basins == 3 and r2.n_reached == 2 and r2.n_replicated == 2
    # a single initial-stage solution for every start: all agreed, each final run counts
    _patched_starts(monkeypatch, m, [start, start, start])
    r3 = O._multistart(m, "loglik", starts=(3, 2), seed=1, initial_iterations=1, warn_unreplicated=False).report
    assert r3.n_basins == 1 and r3.n_reached == 2 and r3.n_replicated == 2


def test_split_class_start_keeps_the_smaller_loglik_and_seeds_the_larger_search():
    from bayesmix.inference.objective import flat_model
    sim = bm.datasets.simulate_lca(n_units=400, n_items=8, n_classes=3, seed=11)
    m2 = bm.lca(sim.data, items=sim.items, n_classes=2)
    m3 = bm.lca(sim.data, items=sim.items, n_classes=3)
    ml2 = m2.fit_ml(starts=(8, 2), seed=1)
    flat3 = flat_model(m3)
    value3 = flat3.value_and_grad("loglik")
    rng = np.random.default_rng(0)
    for split in (0, 1):
        start = O.split_class_start(m3, ml2.point, split, rng, jitter=0.0)
        # a class divided in two equal halves: the 3-class likelihood equals the 2-class maximum
        assert -value3(flat3.to_theta(start))[0] == pytest.approx(ml2.loglik, abs=1e-8)
    seeded = [O.split_class_start(m3, ml2.point, split, rng) for split in (0, 1)]
    opt = O._multistart(m3, "loglik", starts=(2, 2), seed=3, extra_starts=seeded, warn_unreplicated=False)
    reference = O._multistart(m3, "loglik", starts=(16, 4), seed=5, warn_unreplicated=False)
    assert opt.report.n_initial == 4
    assert opt.value == pytest.approx(reference.value, abs=1e-3) and opt.value > ml2.loglik + 1
