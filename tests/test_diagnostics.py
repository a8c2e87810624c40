"""Issue 15: convergence warnings after sampling, clean interrupts, ML warnings, sampler choice by cost."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.inference import sampling
from bayesmix.inference.diagnostics import ConvergenceWarning, check_convergence
from bayesmix.inference.sampling import PYMC_STEP_OVERHEAD, auto_sampler, choose_sampler

ITEMS = list("ABCDEFG")
CHOICE_KEY = ("sampler_choice", sampling.COMPILE_MODE)


@pytest.fixture(scope="module")
def tiny():
    """Two well separated classes, 5 binary items, N = 400: a posterior NUTS handles easily."""
    sim = bm.datasets.simulate_lca(n_units=400, n_items=5, n_classes=2, seed=3)
    return bm.lca(sim.data, items=sim.items, n_classes=2)


@pytest.fixture(scope="module")
def tiny_map(tiny):
    return tiny.fit_map(starts=4, seed=1)


def _sample(m, **kwargs):
    """Sample and return (idata, the bayesmix warnings raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = m.sample(progressbar=False, sampler="pymc", **kwargs)
    ours = [w for w in caught if issubclass(w.category, UserWarning) and "BLAS" not in str(w.message)]
    return idata, ours


def test_good_run_does_not_warn_and_keeps_figures(tiny, tiny_map):
    idata, caught = _sample(tiny, draws=500, tune=500, chains=4, cores=2, random_seed=1, init=tiny_map)
    assert not caught, [str(w.message) for w in caught]
    attrs = idata.attrs
    assert attrs["bayesmix_convergence_ok"] == 1 and attrs["bayesmix_convergence_warnings"] == ""
    assert attrs["bayesmix_divergences"] == 0 and attrs["bayesmix_max_treedepth_hits"] == 0
    assert attrs["bayesmix_max_rhat"] <= 1.01
    assert attrs["bayesmix_min_ess_bulk"] >= 400 and attrs["bayesmix_min_ess_tail"] >= 400
    assert attrs["bayesmix_min_bfmi"] >= 0.3
    assert idata["posterior"].attrs["bayesmix_max_rhat"] == attrs["bayesmix_max_rhat"]


def test_bad_run_warns_naming_parameters_and_what_to_try(carcinoma):
    """Three classes on carcinoma (boundary logits, local modes), almost no tuning, few draws."""
    m = bm.lca(carcinoma, items=ITEMS, n_classes=3)
    with pytest.warns(ConvergenceWarning) as record:
        idata = m.sample(draws=40, tune=8, chains=2, cores=2, sampler="pymc", random_seed=3, progressbar=False,
                         init=m.fit_map(starts=4, seed=1))
    messages = [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]
    text = "\n".join(messages)
    assert "R-hat > 1.01" in text and "binary_logit[class" in text and "ordered='item'" in text
    assert "bulk ESS below 200 (100 per chain x 2)" in text and "increase draws" in text
    assert "tail ESS below 200" in text
    assert idata.attrs["bayesmix_convergence_ok"] == 0
    assert idata.attrs["bayesmix_max_rhat"] > 1.01 and idata.attrs["bayesmix_min_ess_bulk"] < 200
    assert idata.attrs["bayesmix_convergence_warnings"].count("\n") == len(messages) - 1
    # the checks can be silenced; the figures stay
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        figures = check_convergence(idata, warn=False)
    assert figures["bayesmix_max_rhat"] == pytest.approx(idata.attrs["bayesmix_max_rhat"])


def test_divergences_treedepth_and_low_bfmi_are_reported(tiny, tiny_map):
    idata, _ = _sample(tiny, draws=60, tune=60, chains=2, cores=1, random_seed=2, init=tiny_map,
                       convergence_checks=False)
    stats = idata["sample_stats"].to_dataset()
    stats["diverging"][0, :3] = True
    stats["reached_max_treedepth"][1, :2] = True
    stats["energy"][0] = np.cumsum(np.ones(stats.sizes["draw"]))  # a random walk-like energy: low E-BFMI
    idata["sample_stats"] = stats
    with pytest.warns(ConvergenceWarning) as record:
        figures = check_convergence(idata)
    text = "\n".join(str(w.message) for w in record)
    assert figures["bayesmix_divergences"] == 3 and "3 divergent transition(s)" in text
    assert "target_accept=0.95" in text
    assert figures["bayesmix_max_treedepth_hits"] == 2 and "maximum tree depth" in text
    assert figures["bayesmix_min_bfmi"] < 0.3 and "E-BFMI" in text and "chain(s) [0]" in text


def _interrupt_at(phase: str, at: int):
    def callback(trace, draw):
        if draw.tuning == (phase == "tune") and draw.draw_idx >= at:
            raise KeyboardInterrupt
    return callback


def test_interrupt_during_tuning_is_a_clean_keyboard_interrupt(tiny, tiny_map):
    with pytest.raises(KeyboardInterrupt, match="during tuning"):
        tiny.sample(draws=50, tune=50, chains=1, cores=1, sampler="pymc", random_seed=1, progressbar=False,
                    init=tiny_map, callback=_interrupt_at("tune", 10))


def test_interrupt_after_tuning_returns_partial_trace_with_warning(tiny, tiny_map):
    with pytest.warns(UserWarning, match=r"interrupted after tuning: the trace holds (\d+) of the 100"):
        idata = tiny.sample(draws=100, tune=40, chains=1, cores=1, sampler="pymc", random_seed=1,
                            progressbar=False, init=tiny_map, callback=_interrupt_at("draw", 70),
                            convergence_checks=False)
    kept = idata["posterior"].to_dataset().sizes["draw"]
    assert 0 < kept < 100
    assert idata.attrs["bayesmix_interrupted"] == 1 and idata.attrs["bayesmix_draws_per_chain"] == kept
    assert idata["log_likelihood"]["y"].shape == (1, kept, 400)


def test_interrupt_in_a_backend_that_returns_a_short_trace(tiny, tiny_map, monkeypatch):
    """nutpie aborts on Ctrl-C and hands back what it has: the same warning, whatever the backend."""
    real = sampling._run_sampler

    def short_run(mm, sampler, draws, *args):
        interrupts = args[-1]
        interrupts.seen = True  # as the SIGINT handler would have recorded
        return real(mm, sampler, draws // 4, *args)

    monkeypatch.setattr(sampling, "_run_sampler", short_run)
    with pytest.warns(UserWarning, match="holds 10 of the 40 requested draws per chain"):
        idata = tiny.sample(draws=40, tune=20, chains=1, cores=1, sampler="pymc", random_seed=1,
                            progressbar=False, init=tiny_map, convergence_checks=False)
    assert idata.attrs["bayesmix_interrupted"] == 1


def test_sample_start_search_message_speaks_of_sample(carcinoma, monkeypatch):
    """Issue 13: sample()'s start-value search warns in sample's terms, not about final-stage optimizations."""
    from bayesmix.inference.optimize import StartReport

    def stop(*args, **kwargs):
        raise RuntimeError("stop before sampling")

    monkeypatch.setattr(sampling, "_run_sampler", stop)
    m = bm.lca(carcinoma, items=ITEMS, n_classes=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="stop before sampling"):
            m.sample(sampler="pymc", starts=(4, 2), random_seed=3, progressbar=False)
    text = "\n".join(str(w.message) for w in caught)
    assert "final-stage" not in text and "(100, 20)" not in text
    report = StartReport(4, 2, np.array([-290.0, -295.0]), 1, 1e-3)
    with pytest.warns(UserWarning, match=r"sample\(\): the chains start at the best posterior mode.*"
                                         r"pass starts=\(16, 8\) to sample"):
        sampling._warn_unreplicated_start("map", (4, 2), report)


def test_choice_logic_picks_the_cheaper_backend(tiny, monkeypatch):
    assert choose_sampler({"CVM": 0.122, "NUMBA": 6.184}, ["pymc", "nutpie"]) == "pymc"
    assert choose_sampler({"CVM": 0.026, "NUMBA": 0.008}, ["pymc", "nutpie"]) == "nutpie"
    # at tiny sizes PyMC's Python NUTS loop costs more than the gradient
    assert choose_sampler({"CVM": 1e-5, "NUMBA": 1e-5 + PYMC_STEP_OVERHEAD / 2}, ["pymc", "nutpie"]) == "nutpie"
    assert choose_sampler({"CVM": 0.1, "NUMBA": 0.01}, ["pymc"]) == "pymc"
    # above the threshold the model is measured for real (both modes compiled and timed)
    monkeypatch.setattr(sampling, "MEASURE_ABOVE", tiny.work_size() - 1)
    tiny._cache.pop(CHOICE_KEY, None)
    choice, info = auto_sampler(tiny)
    assert choice in ("pymc", "nutpie") and choice in info["bayesmix_sampler_choice"]
    if "nutpie" in sampling.installed_samplers():
        assert "measured" in info["bayesmix_sampler_choice"] and "not measured" not in info["bayesmix_sampler_choice"]
        assert info["bayesmix_gradient_ms_numba"] > 0 and info["bayesmix_gradient_ms_cvm"] > 0
        assert info["bayesmix_work_size"] == tiny.work_size()
        assert auto_sampler(tiny) is tiny._cache[CHOICE_KEY]  # measured once
    tiny._cache.pop(CHOICE_KEY, None)


def _no_measuring(*args, **kwargs):
    raise AssertionError("gradient_costs compiled the model to measure it")


def test_small_model_takes_nutpie_without_compiling_the_measurement(tiny, monkeypatch):
    """Issue 11: a first sample() of a small model must not compile the model in C and numba only to choose."""
    monkeypatch.setattr(sampling, "gradient_costs", _no_measuring)
    monkeypatch.setattr(sampling, "installed_samplers", lambda: ["pymc", "nutpie"])
    assert tiny.work_size() <= sampling.MEASURE_ABOVE
    for jax_installed, backend in ((True, "jax"), (False, "numba")):
        monkeypatch.setattr(sampling, "_installed", lambda package, yes=jax_installed: yes)
        tiny._cache.pop(CHOICE_KEY, None)
        choice, info = auto_sampler(tiny)
        assert choice == "nutpie" and info["bayesmix_nutpie_backend"] == backend
        assert info["bayesmix_sampler_choice"].startswith(f"auto: nutpie ({backend} backend), not measured")
        assert info["bayesmix_work_size"] == tiny.work_size() and "bayesmix_gradient_ms_numba" not in info
    tiny._cache.pop(CHOICE_KEY, None)
    monkeypatch.setattr(sampling, "installed_samplers", lambda: ["pymc"])
    assert auto_sampler(tiny)[0] == "pymc"  # without nutpie nothing is decided or cached
    assert CHOICE_KEY not in tiny._cache


def test_large_model_is_measured(tiny, monkeypatch):
    """Above MEASURE_ABOVE the choice follows the measured costs (issue 15: numba can lose at scale)."""
    calls = []

    def costs(mm, modes, **kwargs):
        calls.append(modes)
        return {"CVM": 0.122, "NUMBA": 6.184} if len(calls) == 1 else {"CVM": 0.026, "NUMBA": 0.008}

    monkeypatch.setattr(sampling, "gradient_costs", costs)
    monkeypatch.setattr(sampling, "installed_samplers", lambda: ["pymc", "nutpie"])
    monkeypatch.setattr(sampling, "MEASURE_ABOVE", tiny.work_size() - 1)
    tiny._cache.pop(CHOICE_KEY, None)
    choice, info = auto_sampler(tiny)
    assert calls == [(sampling.COMPILE_MODE, "NUMBA")] and choice == "pymc"
    assert "bayesmix_nutpie_backend" not in info and info["bayesmix_gradient_ms_numba"] == pytest.approx(6184)
    assert f"above {tiny.work_size() - 1:,}), so it was measured" in info["bayesmix_sampler_choice"]
    tiny._cache.pop(CHOICE_KEY, None)
    choice, info = auto_sampler(tiny)
    assert len(calls) == 2 and choice == "nutpie" and info["bayesmix_nutpie_backend"] == "numba"
    tiny._cache.pop(CHOICE_KEY, None)


def test_sample_passes_the_chosen_backend_to_nutpie(tiny, tiny_map, monkeypatch):
    """sampler='auto' hands its nutpie backend to the run and records it; a backend the user gives wins."""
    seen = []

    def stop(mm, sampler, *args):
        seen.append((sampler, args[-2].get("backend")))  # (..., kwargs, interrupts)
        raise RuntimeError("stop before sampling")

    monkeypatch.setattr(sampling, "_run_sampler", stop)
    monkeypatch.setattr(sampling, "installed_samplers", lambda: ["pymc", "nutpie"])
    monkeypatch.setattr(sampling, "gradient_costs", _no_measuring)
    tiny._cache.pop(CHOICE_KEY, None)
    for kwargs in ({}, {"backend": "numba"}):
        with pytest.raises(RuntimeError, match="stop before sampling"):
            tiny.sample(init=tiny_map, progressbar=False, **kwargs)
    assert seen == [("nutpie", sampling.nutpie_backend()), ("nutpie", "numba")]
    tiny._cache.pop(CHOICE_KEY, None)


def test_fit_ml_warns_for_non_convergence_and_boundary(carcinoma, monkeypatch):
    from bayesmix.inference import optimize
    m = bm.lca(carcinoma, items=ITEMS, n_classes=2)
    # gradient starts: EM's starts reach carcinoma's optimum within any iteration limit (converged, no warning)
    monkeypatch.setattr(optimize, "EM_WARMUP", False)
    with pytest.warns(ConvergenceWarning, match="did not converge.*max_iterations"):
        ml = m.fit_ml(starts=(2, 1), seed=1, max_iterations=3)
    assert not ml.converged
    with pytest.warns(UserWarning, match=r"parameter\(s\) at the boundary.*binary_logit\[class") as record:
        ml = m.fit_ml(starts=(6, 2), seed=1)
    assert ml.n_boundary > 0
    text = next(str(w.message) for w in record if "at the boundary" in str(w.message))
    assert "binary_logit beyond +-15" in text  # only the rule of the variables present: no threshold, no gap
    assert not any(k in text for k in ("probit", "gap", "Dirichlet", "concentration", "transition_effects")), text


def test_boundary_wording_names_the_rules_of_the_parameters_present():
    import math
    from bayesmix.inference.ml import _boundary_wording
    rules, derived = _boundary_wording(["transition_logit[t1->t2, class1, class1]"], lambda v: (-15.0, 15.0))
    assert "transition_logit beyond +-15" in rules and "transition_effects" in derived
    rules, _ = _boundary_wording(["binary_logit[class1, y3]"], {"binary_logit": (-5.0, 5.0)}.get)  # a probit item
    assert "binary_logit beyond +-5" in rules and "15" not in rules
    bounds = {"ordinal_log_gap": (math.log(1e-4), math.log(10.0)), "membership_concentration": (-15.0, 15.0)}
    rules, derived = _boundary_wording(["ordinal_log_gap[item1, class1, 2]", "membership_concentration[class1]"],
                                       bounds.get)
    assert "gap below 1e-04" in rules and "one-profile limit" in rules and "logit" not in rules and derived == ""


def test_select_classes_passes_warnings_through_per_k(carcinoma):
    with pytest.warns(UserWarning) as record:
        table = bm.select_classes(bm.lca, carcinoma, items=ITEMS, k_max=2, starts=(4, 2), seed=1)
    messages = [str(w.message) for w in record]
    assert any(msg.startswith("K=2: ") and "boundary" in msg for msg in messages)
    assert table.loc[2, "n_boundary"] > 0 and table.loc[2, "n_warnings"] >= 1
    assert table.loc[1, "n_boundary"] == 0
    assert any("boundary" in msg for msg in table.attrs["warnings"][2])
    assert table["bic"].idxmin() in (1, 2)


def _prior_posterior(m, chains=2, draws=3, seed=5):
    """(chain, draw) prior draws of the free RVs as a posterior dataset (valid parameter values)."""
    import pymc as pm
    import xarray as xr
    rvs = list(m.model.free_RVs)
    values = pm.draw(rvs, draws=chains * draws, random_seed=seed)
    data = {}
    for rv, value in zip(rvs, values):
        value = np.asarray(value).reshape(chains, draws, *np.shape(value)[1:])
        dims = list(m.model.named_vars_to_dims.get(rv.name, ()) or ())
        if len(dims) != value.ndim - 2:
            dims = [f"{rv.name}_dim_{i}" for i in range(value.ndim - 2)]
        data[rv.name] = (["chain", "draw", *dims], value)
    return xr.Dataset(data, coords={"chain": np.arange(chains), "draw": np.arange(draws)})


@pytest.mark.parametrize("covariate", [False, True])
def test_log_likelihood_by_pattern_equals_per_unit(tiny, covariate):
    """Issue 11: sample()'s log_likelihood group computed once per response pattern equals the per-unit graph."""
    from bayesmix.results import evaluate_draws
    m = tiny
    if covariate:  # a unit covariate splits patterns: still exact
        sim = bm.datasets.simulate_lca(n_units=300, n_items=4, n_classes=2, seed=4)
        frame = sim.data.assign(x=np.random.default_rng(0).integers(0, 3, len(sim.data)).astype(float))
        m = bm.lca(frame, items=sim.items, n_classes=2, covariates=["x"])
    posterior = _prior_posterior(m)
    by_pattern = sampling._loglik_by_pattern(m, posterior)
    assert by_pattern is not None and by_pattern.shape == (2, 3, m.n_units)
    _, per_unit = evaluate_draws(m, "unit_loglik", m.integrated_loglik(), posterior)
    np.testing.assert_allclose(by_pattern.reshape(6, -1), np.asarray(per_unit), rtol=1e-10, atol=1e-10)
    ds = sampling.log_likelihood_dataset(m, posterior)
    np.testing.assert_array_equal(ds["y"].values, by_pattern)


def test_unmeasured_jax_choice_falls_back_to_numba(monkeypatch):
    """A graph nutpie's jax backend cannot compile runs on numba under sampler='auto' (said in the attrs);
    a backend the user asked for is not replaced."""
    import nutpie
    calls = []

    def compile_pymc_model(model, backend="numba", **kwargs):
        calls.append(backend)
        if backend == "jax":
            raise NotImplementedError("No JAX conversion for the given Op: Foo")
        return "compiled with numba"

    monkeypatch.setattr(nutpie, "compile_pymc_model", compile_pymc_model)
    info = {"bayesmix_nutpie_backend": "jax", "bayesmix_sampler_choice": "auto: nutpie (jax backend), not measured"}
    assert sampling._nutpie_compile(None, {}, "jax", info) == "compiled with numba"
    assert calls == ["jax", "numba"] and info["bayesmix_nutpie_backend"] == "numba"
    assert "jax backend could not compile this model (NotImplementedError: No JAX conversion" in \
        info["bayesmix_sampler_choice"]
    with pytest.raises(NotImplementedError, match="No JAX conversion"):
        sampling._nutpie_compile(None, {}, "jax", None)
