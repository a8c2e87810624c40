"""Simulation-based calibration, fast subset (issue 14): LCA and the two-level random-intercept SD.

Each SBC run draws parameters from the model's prior, simulates data with an
independent NumPy simulator, fits NUTS as users do (start search, label
alignment) and ranks the truth among the posterior draws (bayesmix.sbc).

What passes, and how strong that is (stated honestly):

- single-level LCA, K = 2, 60 units x 4 binary items, 40 replications: the
  class-1 proportion and the 8 item probabilities P(y_i = 1 | class);
- two-level LCA with a random class-logit intercept (Model 6), 10 clusters
  x 8 units x 4 items, 24 replications: the random-intercept SD, the class-1
  proportion at alpha_j = 0 and the 8 item probabilities;
- verdict: the chi-square and ECDF uniformity tests of every quantity, Bonferroni
  over quantities and both tests, at family level alpha = 0.01.

Power at these sizes (``bayesmix.sbc.power``, per quantity at the Bonferroni
level, normal posteriors): with 40 replications a posterior mean off by 1
posterior SD is detected with probability 0.98 (ECDF test), off by 0.5 SD only
0.26; a posterior SD half the right one 0.70. With 24 replications (10
quantities): 0.73, 0.07 and 0.36; a posterior 3x too narrow 0.89 (30 replications,
the suite's count before issue 26.5: 0.82, 0.08, 0.33 and 0.92, for 25% more CPU). So the fast subset catches gross errors (a wrong Jacobian or prior
scale, a biased label alignment, a likelihood that does not match the
simulator); the benchmark ``benchmarks/sbc_all.py`` runs more replications
for every factory. The negative controls below show that the same tests on
the same fits reject a posterior moved by 1.5 posterior SDs.

Runtime: about 2-4 minutes on one core (the PyMC sampler's C code compiles
once; every replication builds a new model on its data, and its functions are
the ones compiled for the first replication with the new data swapped in,
whatever its number of response patterns: bayesmix._reuse).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesmix import _compile, sbc
from bayesmix._compile import no_c_compiler, python_mode

ALPHA = 0.01


@pytest.fixture(scope="module")
def lca_sbc():
    case = sbc.make_case("lca", n_units=60, n_items=4)
    return sbc.run_sbc(case, 40, draws=100, tune=200, chains=2, n_posterior=50, starts=3, seed=7)


@pytest.fixture(scope="module")
def random_intercept_sbc():
    case = sbc.make_case("lca_random_intercept", n_clusters=10, cluster_size=8, n_items=4)
    return sbc.run_sbc(case, 24, draws=100, tune=200, chains=2, n_posterior=50, starts=3, seed=11)


def _items(prefix_classes=2, n_items=4):
    return [f"P(y{i + 1}=1|class{c + 1})" for c in range(prefix_classes) for i in range(n_items)]


def test_lca_class_proportion_and_item_probabilities_are_calibrated(lca_sbc):
    table = sbc.uniformity_table(lca_sbc)
    assert list(table.index) == ["P(class1)", *_items()]
    assert (table["n"] == 40).all()
    assert lca_sbc.ranks.to_numpy().min() >= 0 and lca_sbc.ranks.to_numpy().max() <= 50
    decision, adjusted = sbc.verdict(table, alpha=ALPHA)
    assert decision == "not rejected", table.round(3).to_string()
    assert adjusted >= ALPHA


def test_random_intercept_sd_is_calibrated(random_intercept_sbc):
    table = sbc.uniformity_table(random_intercept_sbc)
    assert list(table.index)[:2] == ["random_sd", "P(class1 | alpha_j=0)"]
    decision, _ = sbc.verdict(table, alpha=ALPHA)
    assert decision == "not rejected", table.round(3).to_string()
    n_tests = 2 * len(table)
    assert table.loc["random_sd", "p_ecdf"] * n_tests >= ALPHA
    assert table.loc["random_sd", "p_chi2"] * n_tests >= ALPHA
    # the SD was learned from the data in some replications: posteriors narrower than the HalfNormal(2.5) prior
    prior_sd = 2.5 * np.sqrt(1 - 2 / np.pi)
    posterior_sd = random_intercept_sbc.draws[:, 0, :].std(axis=1)
    assert np.median(posterior_sd) < prior_sd


@pytest.mark.parametrize("bias, scale", [(1.5, 1.0), (0.0, 3.0)])
def test_the_same_fits_made_wrong_are_rejected(lca_sbc, bias, scale):
    """Negative control: the tests have power at this size (posterior moved, or 3x too narrow)."""
    wrong = sbc.miscalibrated(lca_sbc, bias=bias, scale=scale)
    decision, _ = sbc.verdict(sbc.uniformity_table(wrong), alpha=ALPHA)
    assert decision == "rejected"
    same = sbc.miscalibrated(lca_sbc)  # no change: same draws, ranks of the same truths
    np.testing.assert_allclose(same.draws, lca_sbc.draws)


def test_fits_are_usable(lca_sbc, random_intercept_sbc):
    for result in (lca_sbc, random_intercept_sbc):
        fits = result.fits
        assert len(fits) == result.settings["n_replications"]
        assert fits["max_rhat"].median() < 1.1  # max over all parameters of 2 short chains: noisy
        assert fits["divergences"].sum() <= len(fits)  # a few at most over all fits


# ------------------------------------------------------------------- pieces, without fitting
def test_prior_draws_follow_the_documented_priors():
    """Forward draws of the factory's model are the documented priors (eq. 4 logit N(0, 1.5), items N(0, 2.5))."""
    case = sbc.make_case("lca_random_intercept", n_clusters=5, cluster_size=4, n_items=3)
    mm = case.build(case.template(np.random.default_rng(0)))
    draws = sbc.prior_draws(mm, 2000, seed=1)
    intercept = np.array([d["class_intercept"][0] for d in draws])
    logits = np.array([d["binary_logit"] for d in draws]).reshape(-1)
    sd = np.array([d["random_sd"][0] for d in draws])
    assert stats.kstest(intercept, stats.norm(0, 1.5).cdf).pvalue > 0.001
    assert stats.kstest(logits, stats.norm(0, 2.5).cdf).pvalue > 0.001
    assert stats.kstest(sd, stats.halfnorm(scale=2.5).cdf).pvalue > 0.001


@pytest.mark.parametrize("name", sorted(sbc.CASES))
def test_simulators_make_data_the_factory_accepts(name):
    """Every case's simulator gives data of the template's layout that its factory builds a model on."""
    case = sbc.make_case(name)
    template = case.template(np.random.default_rng(0))
    mm = case.build(template)
    theta = sbc.prior_draws(mm, 1, seed=3)[0]
    data = case.simulate(theta, np.random.default_rng(4))
    assert list(data.columns) == list(template.columns)
    assert data.shape == template.shape
    values = sbc._stack(sbc._dataset(mm, theta, [k for k in theta if k in mm.model.named_vars]))
    quantities = case.quantities(values)
    assert all(np.shape(v) == (1,) and np.isfinite(v).all() for v in quantities.values())


def test_lca_simulator_matches_its_parameters():
    """Law of large numbers: item means equal sum_c P(c) P(y = 1 | c) at the given parameters."""
    case = sbc.make_case("lca", n_units=20000, n_items=3)
    theta = {"class_intercept": np.array([0.4]), "binary_logit": np.array([[1.0, -2.0, 0.5], [-1.0, 1.5, 0.0]])}
    data = case.simulate(theta, np.random.default_rng(5))
    weights = np.exp([0.4, 0.0]) / np.exp([0.4, 0.0]).sum()
    expected = weights @ (1 / (1 + np.exp(-theta["binary_logit"])))
    np.testing.assert_allclose(data.mean().to_numpy(), expected, atol=0.015)


def test_uniformity_tests_accept_uniform_and_reject_skewed():
    rng = np.random.default_rng(0)
    uniform = rng.random(60)
    assert sbc.chi_square_uniformity(uniform)[1] > 0.01
    assert sbc.ecdf_uniformity(uniform)[1] > 0.01
    skewed = rng.random(60) ** 2
    assert sbc.chi_square_uniformity(skewed)[1] < 0.01
    assert sbc.ecdf_uniformity(skewed)[1] < 0.01
    points, lower, upper = sbc.ecdf_band(60)
    assert np.all(lower <= points) and np.all(upper >= points)


def test_ranks_and_fractional_ranks():
    rng = np.random.default_rng(0)
    ranks = sbc.ranks_of(np.array([[0.5, 2.0]]), np.array([[[0.1, 0.2, 0.9], [3.0, 4.0, 5.0]]]), rng)
    np.testing.assert_array_equal(ranks, [[2, 0]])
    u = sbc.fractional_ranks(rng.integers(0, 10, size=5000), 9, rng)
    assert 0 < u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.02


def test_unknown_case_is_refused():
    with pytest.raises(ValueError, match=r"SBC case 'lcaa' is unknown; use one of \["):
        sbc.make_case("lcaa")


def test_result_tables_have_one_row_per_replication(lca_sbc):
    assert isinstance(lca_sbc.truth, pd.DataFrame)
    assert lca_sbc.draws.shape == (40, 9, 50)
    assert lca_sbc.ranks.shape == (40, 9)


def test_reusing_compiled_functions_gives_the_same_draws():
    """run_sbc(reuse_compiled=True) (the default) swaps each replication's data into functions compiled once.

    It must give the fits a fresh compilation gives, bit for bit: truths, draws and ranks of the same seeds.
    """
    case = sbc.make_case("lca", n_units=40, n_items=4)
    settings = dict(draws=30, tune=40, chains=2, n_posterior=10, starts=2, seed=5)
    sbc._STORES.clear()
    fresh = sbc.run_sbc(case, 3, reuse_compiled=False, **settings)
    assert not sbc._STORES  # nothing cached without the option
    reused = sbc.run_sbc(case, 3, **settings)
    (store,) = sbc._STORES.values()
    assert store.hits >= 10, store  # the second and third replications compiled (almost) nothing
    np.testing.assert_array_equal(reused.truth.to_numpy(), fresh.truth.to_numpy())
    np.testing.assert_array_equal(reused.draws, fresh.draws)
    np.testing.assert_array_equal(reused.ranks.to_numpy(), fresh.ranks.to_numpy())
    assert (reused.fits["cpu_seconds"] > 0).all()


def test_fits_can_integrate_the_latent_effects(monkeypatch):
    """run_sbc(latent="integrated") fits NUTS on the structural parameters, the person factors integrated.

    The truths still come with their factors (the simulation needs them); the ranked quantities are structural.
    A model without continuous latent effects is refused before any fit.

    The fits run with Python thunks (``BAYESMIX_COMPILE_MODE=PY``): this test checks run_sbc's integrated path, not
    the C backend (the integrated density in C: tests/test_integrated_nuts.py). With an empty compile cache the C
    build of the integrated FMA's sampler functions was most of this test's CPU (issue 26 item 5,
    benchmarks/results/suite_fast_ab_20261207.csv); a store of its own keeps these Python functions out of other tests.
    """
    monkeypatch.setattr(_compile, "_SETTING", "PY")
    monkeypatch.setattr(sbc, "_STORES", {})
    case = sbc.make_case("fma", n_units=30, n_items=4)
    settings = dict(draws=20, tune=30, chains=2, n_posterior=10, starts=2, seed=3)
    result = sbc.run_sbc(case, 2, latent="integrated", **settings)
    assert list(result.fits["latent"]) == ["integrated", "integrated"]
    assert result.settings["latent"] == "integrated"
    assert result.draws.shape == (2, len(result.quantities), 10) and np.isfinite(result.draws).all()
    assert "loading[y1]" in result.quantities and result.ranks.to_numpy().max() <= 10
    with pytest.raises(ValueError, match="no continuous latent effects to integrate"):
        sbc.run_sbc(sbc.make_case("lca", n_units=30, n_items=4), 1, latent="integrated", **settings)
    with pytest.raises(ValueError, match=r"sample\(latent='marginal'\) is unknown"):
        sbc.run_sbc(case, 1, latent="marginal", **settings)


def _sbc_all():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sbc_all.py"
    spec = importlib.util.spec_from_file_location("sbc_all_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cut_run_resumes_from_its_saved_fits(tmp_path, monkeypatch):
    """run_sbc(on_fit=) hands out each fit as it finishes; run_sbc(completed=) fits only the replications missing.

    Through the checkpoint file of benchmarks/sbc_all.py (JSON lines, its last line cut mid-write as a killed run
    leaves it), a run cut after 2 of 3 fits resumes to the uncut run's truths, draws, ranks and fit records.
    """
    case = sbc.make_case("lca", n_units=40, n_items=4)
    settings = dict(draws=30, tune=40, chains=2, n_posterior=10, starts=2, seed=5)
    saved: dict[int, tuple] = {}
    whole = sbc.run_sbc(case, 3, on_fit=saved.__setitem__, **settings)
    assert sorted(saved) == [0, 1, 2]
    runner = _sbc_all()
    header = runner._checkpoint_header("lca", 3, 5, settings)
    path = tmp_path / "lca_partial.jsonl"
    lines = [json.dumps(header)] + [json.dumps({"r": r, "truth": saved[r][0], "draws": saved[r][1],
                                                "record": saved[r][2]}, default=runner._json_default)
                                    for r in (2, 0)]
    path.write_text("\n".join(lines) + '\n{"r": 1, "truth": {"P(class1)": 0.4')
    completed = runner.read_checkpoint(path, header)
    assert sorted(completed) == [0, 2]
    fitted = []
    fit = sbc._fit_replication
    monkeypatch.setattr(sbc, "_fit_replication", lambda *task: fitted.append(task[3]) or fit(*task))
    resumed = sbc.run_sbc(case, 3, completed=completed, **settings)
    assert fitted == [1]
    np.testing.assert_array_equal(resumed.truth.to_numpy(), whole.truth.to_numpy())
    np.testing.assert_array_equal(resumed.draws, whole.draws)
    np.testing.assert_array_equal(resumed.ranks.to_numpy(), whole.ranks.to_numpy())
    timing = ["seconds", "cpu_seconds"]  # replication 1 was fitted again
    pd.testing.assert_frame_equal(resumed.fits.drop(columns=timing), whole.fits.drop(columns=timing))
    # a file of another run (here another seed) is moved aside, nothing resumed
    assert runner.read_checkpoint(path, {**header, "seed": 6}) == {}
    assert not path.exists() and path.with_name(path.name + ".stale").exists()
    with pytest.raises(ValueError, match="outside 0..1"):
        sbc.run_sbc(case, 2, completed={2: saved[2]}, **settings)


def _value_point(model, theta: dict) -> dict:
    """Constrained values of the free variables -> the model's value variables (transformed)."""
    point = {}
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms.get(rv)
        x = np.asarray(theta[rv.name], dtype=float)
        point[model.rvs_to_values[rv].name] = x if transform is None else np.asarray(
            transform.forward(x, *rv.owner.inputs).eval())
    return point


@pytest.mark.parametrize("name", ["mixture_regression", "mixture_regression_random_intercept"])
def test_regression_model_density_is_the_simulators_density(name):
    """Eq. 19 with the cluster random intercept: the fitted model's log-likelihood and log prior at a prior draw
    equal the simulator's own density written in NumPy (classes summed out, u_j = sd z_j shared by the classes)
    -- a wrong prior, a dropped Jacobian-free term or a likelihood that does not match the simulator would differ
    (the SBC rejection of issue 26.2 was checked this way; benchmarks/results/sbc/notes.md)."""
    from scipy.special import logsumexp
    case = sbc.make_case(name)
    template = case.build(case.template(np.random.default_rng(0)))
    for i, theta in enumerate(sbc.prior_draws(template, 3, seed=21)):
        data = case.simulate(theta, np.random.default_rng(i))
        mm = case.build(data)
        point = _value_point(mm.model, theta)
        with no_c_compiler():  # one evaluation each: Python thunks, no C build of every data set's model
            loglik = float(mm.model.compile_logp(vars=mm.model.potentials, jacobian=False, mode=python_mode())(point))
            prior = float(mm.model.compile_logp(vars=mm.model.free_RVs, jacobian=False, mode=python_mode())(point))
        y, x = data["y"].to_numpy(), data["x"].to_numpy()
        shift = 0.0
        expected_prior = (stats.norm(0, 1.5).logpdf(theta["class_intercept"]).sum()
                          + stats.norm(0, 2).logpdf(theta["regression_intercept"]).sum()
                          + stats.norm(0, 1).logpdf(theta["regression_slope"]).sum()
                          + stats.halfnorm(scale=1).logpdf(theta["residual_sd"]).sum())
        if "cluster" in data:
            j = data["cluster"].str[1:].astype(int).to_numpy() - 1
            shift = (theta["random_sd"][0] * theta["random_z"][:, 0])[j]
            expected_prior += (stats.halfnorm(scale=1).logpdf(theta["random_sd"]).sum()
                               + stats.norm().logpdf(theta["random_z"]).sum())
        log_p = np.log(np.exp([theta["class_intercept"][0], 0.0]) / (1 + np.exp(theta["class_intercept"][0])))
        mean = theta["regression_intercept"] + theta["regression_slope"][:, 0] * x[:, None] + np.reshape(shift, (-1, 1))
        expected = logsumexp(log_p + stats.norm(mean, float(theta["residual_sd"])).logpdf(y[:, None]), axis=1).sum()
        assert loglik == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert prior == pytest.approx(expected_prior, rel=1e-9, abs=1e-6)


def test_label_alignment_is_equivariant_under_mirrored_slopes():
    """x -> -x maps the regression SBC to itself with every slope negated; the label alignment commutes with it,
    so (with the mirrored-symmetric prior and simulator) a slope's fractional rank u and 1 - u are equally likely:
    E[u] = 1/2 for any slope whatever else is wrong -- a mean rank off 1/2 there is chance, not bias."""
    import xarray as xr
    from bayesmix.inference.labels import find_permutations
    case = sbc.make_case("mixture_regression_random_intercept")
    mm = case.build(case.template(np.random.default_rng(0)))
    rng = np.random.default_rng(3)
    posterior = xr.Dataset({"regression_intercept": (("chain", "draw", "class"), rng.normal(0, 2, (2, 50, 2))),
                            "regression_slope": (("chain", "draw", "class", "predictor"), rng.normal(0, 1, (2, 50, 2, 1)))})
    reference = {"regression_intercept": np.array([0.5, -0.3]), "regression_slope": np.array([[0.2], [1.1]])}
    perms = find_permutations(mm, posterior, reference)
    mirrored = posterior.assign(regression_slope=-posterior["regression_slope"])
    mirrored_ref = {**reference, "regression_slope": -reference["regression_slope"]}
    assert (perms != np.arange(2)).any(axis=-1).sum() > 10  # the check is not vacuous
    np.testing.assert_array_equal(find_permutations(mm, mirrored, mirrored_ref), perms)


def test_ess_thinned_ranks():
    """Ranks among draws thinned to their bulk ESS: all kept for independent draws, fewer for a slow chain."""
    rng = np.random.default_rng(0)
    independent = rng.standard_normal(200)
    slow = np.repeat(rng.standard_normal(10), 20)  # 2 chains x 100 draws, 5 distinct values per chain
    out = sbc._ess_thinned_ranks({"a": np.array([10.0]), "b": np.array([0.0])}, {"a": independent, "b": slow},
                                 2, 50, rng)
    assert out["L_ess[a]"] == 50 and out["rank_ess[a]"] == 50  # the truth above every draw
    assert out["ess_bulk[b]"] < 20 and out["L_ess[b]"] < 20
    assert 0 <= out["rank_ess[b]"] <= out["L_ess[b]"]
