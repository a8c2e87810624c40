"""Model specs (bm.from_spec / to_spec), the bayesmix command line, and Monte Carlo studies on dask (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.spec import bundled_dir, bundled_specs, read_spec, write_spec

REPO = Path(__file__).resolve().parent.parent
BAYESMIX = Path(sys.executable).parent / "bayesmix"
CARCINOMA_LL = -317.2568  # Agresti (2002), Table 13.1


def _quiet_build(spec, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bm.from_spec(spec, **kw)


def _base() -> dict:
    return {"name": "t", "data": {"dataset": "carcinoma"},
            "model": {"factory": "lca", "items": list("ABCDEFG"), "n_classes": 2}}


# ---------------------------------------------------------------- every bundled spec
def test_bundled_folder_is_the_repository_models_folder():
    assert bundled_dir() == REPO / "models"
    names = set(bundled_specs())
    assert {"carcinoma_lca_k2", "carcinoma_lca_k3", "table3_model5", "table3_model6", "sai_lca_within_between",
            "sai_lca_between", "sai_lca_within_and_between", "sai_lta_k2", "section4_lta_two_level"} <= names


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_every_spec_parses_builds_and_round_trips(name, tmp_path):
    spec = read_spec(name)
    model = _quiet_build(name, fast=True)
    assert model.options["call"]["factory"] == spec.factory
    for key, value in spec.options.items():  # the factory got the spec's options
        got = model.options["call"]["arguments"][key]
        assert (list(got) if isinstance(got, tuple) else got) == value
    # to_spec -> TOML -> from_spec rebuilds the same call on the same data
    path = write_spec(bm.to_spec(model), tmp_path / f"{name}.toml")
    again = _quiet_build(path, fast=True)
    first, second = model.options["call"]["arguments"], again.options["call"]["arguments"]
    pd.testing.assert_frame_equal(first["data"], second["data"])
    assert {k: v for k, v in first.items() if k != "data"} == {k: v for k, v in second.items() if k != "data"}
    assert bm.io.data_hash(model) == bm.io.data_hash(again)


def test_fast_mode_shrinks_simulated_data_and_draws():
    spec = read_spec("table3_model5")
    assert len(spec.load_data()) == 1000 and len(spec.load_data(fast=True)) == 200
    assert spec.sample_options(fast=False)["draws"] == 1000
    assert spec.sample_options(fast=True)["draws"] == 60
    assert spec.ml_options(fast=True)["integration"] == {"method": "gauss-hermite", "points": 10}


def test_to_spec_of_a_factory_built_model_writes_its_data(tmp_path):
    df = bm.datasets.load("carcinoma")
    m = bm.lca(df, items=list("ABCDE"), n_classes=2, priors={"binary_logit": {"sigma": 3}})
    with pytest.raises(ValueError, match="data_path"):
        bm.to_spec(m)
    spec = bm.to_spec(m, data_path=tmp_path / "data.csv")
    assert spec["model"] == {"factory": "lca", "items": list("ABCDE"), "n_classes": 2}
    assert spec["priors"] == {"binary_logit": {"sigma": 3}}
    m2 = bm.from_spec(write_spec(spec, tmp_path / "m.toml"))
    assert m2.options["call"]["arguments"]["priors"] == {"binary_logit": {"sigma": 3}}
    assert bm.io.data_hash(m2) == bm.io.data_hash(m)


def test_csv_path_resolves_next_to_the_spec(tmp_path):
    bm.datasets.load("carcinoma").to_csv(tmp_path / "c.csv", index=False)
    spec = _base() | {"data": {"csv": "c.csv"}}
    path = write_spec(spec, tmp_path / "s.toml")
    assert len(read_spec(path).load_data()) == 118


# ---------------------------------------------------------------- bad specs
@pytest.mark.parametrize("change, message", [
    (lambda s: s["model"].update(n_clases=2), r"unknown key 'n_clases' in \[model\].*did you mean 'n_classes'"),
    (lambda s: s.update(inferense={}), r"unknown key 'inferense'.*did you mean 'inference'"),
    (lambda s: s.update(inference={"ml": {"strats": 3}}), r"'strats'.*did you mean 'starts'"),
    (lambda s: s.update(inference={"sample": {"draws": "many"}}), r"\[inference.sample\].draws must be an integer"),
    (lambda s: s["model"].update(n_classes="two"), r"n_classes must be an integer"),
    (lambda s: s["model"].update(random_intercept="yes"), r"random_intercept must be true/false"),
    (lambda s: s["model"].update(factory="lcaa"), r"unknown factory 'lcaa'.*did you mean 'lca'"),
    (lambda s: s["model"].pop("n_classes"), r"misses required option\(s\) \['n_classes'\]"),
    (lambda s: s["model"].update(items=["A", "B", "Q"]), r"model.items names column\(s\) \['Q'\] missing"),
    (lambda s: s["model"].update(cluster="studdy"), r"model.cluster names column\(s\) \['studdy'\] missing"),
    (lambda s: s.update(data={"dataset": "carcinomma"}), r"unknown data set 'carcinomma'.*did you mean 'carcinoma'"),
    (lambda s: s.update(data={"dataset": "carcinoma", "csv": "x.csv"}), r"exactly one of dataset, csv, simulate"),
    (lambda s: s.update(data={"simulate": "simulate_lcaa"}), r"unknown simulator.*did you mean 'simulate_lca'"),
    (lambda s: s.update(data={"simulate": "simulate_lca", "parameters": {"n_unit": 5}}),
     r"'n_unit'.*did you mean 'n_units'"),
    (lambda s: s.update(priors={"binary_logit": 3}), r"\[priors\].binary_logit must be a table"),
    (lambda s: s.update(model={"factory": "lta", "n_classes": 2, "items_by_time": {"t1": ["A", "B"], "t2": ["C", "DD"]}}),
     r"model.items_by_time names column\(s\) \['DD'\] missing.*closest: 'D'"),
    (lambda s: s.update(data={"simulate": "simulate_lta", "parameters": {"n_cluster": 5}}),
     r"'n_cluster'.*did you mean 'n_clusters'"),
    (lambda s: s.pop("model"), r"has no \[model\] table"),
])
def test_bad_specs_fail_clearly_before_any_graph(change, message, no_model_building):
    spec = _base()
    change(spec)
    with pytest.raises(ValueError, match=message):
        bm.from_spec(spec)


def test_bad_toml_and_unknown_spec_name(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_spec(bad)
    with pytest.raises(ValueError, match="did you mean 'carcinoma_lca_k2'"):
        read_spec("carcinoma_lca_k22")


# ---------------------------------------------------------------- command line
def _cli(*args, env_extra=None, timeout=400):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([str(BAYESMIX), *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=REPO)


def test_cli_list_shows_every_bundled_spec():
    out = _cli("list")
    assert out.returncode == 0, out.stderr
    for name in bundled_specs():
        assert name in out.stdout


def test_cli_bad_spec_is_a_clear_error(tmp_path):
    path = write_spec(_base() | {"model": {"factory": "lca", "items": list("ABCDEFG"), "n_clases": 2}},
                      tmp_path / "bad.toml")
    out = _cli("run", str(path), "--out", str(tmp_path / "o"))
    assert out.returncode == 2
    assert "did you mean 'n_classes'" in out.stderr and "Traceback" not in out.stderr


def test_cli_runs_a_spec_end_to_end(tmp_path):
    """`bayesmix run` in fast mode: ML reaches the published LL, NUTS runs, files are written and reload."""
    out_dir = tmp_path / "run"
    out = _cli("run", "models/carcinoma_lca_k2.toml", "--out", str(out_dir), "--fast", "--sampler", "pymc")
    assert out.returncode == 0, out.stderr[-3000:]
    for name in ("summary.txt", "fit.bmx", "profiles.png", "class_proportions.png"):
        assert (out_dir / name).exists(), name
    summary = (out_dir / "summary.txt").read_text()
    for part in ("Maximum likelihood", "Paper vs ours", "NUTS posterior", "Class proportions", "Profiles",
                 "r_hat", "divergences"):
        assert part in summary
    assert (out_dir / "profiles.png").read_bytes()[:4] == b"\x89PNG"
    m, fits = bm.load(out_dir / "fit.bmx")
    assert set(fits) == {"ml", "nuts"}
    assert fits["ml"].loglik == pytest.approx(CARCINOMA_LL, abs=1e-3)
    assert f"{fits['ml'].loglik:.4f}" in summary
    assert fits["nuts"].posterior.sizes["draw"] == 60 and fits["nuts"].posterior.sizes["chain"] == 2
    # the reloaded posterior works with the result methods; the larger class is about half (59/118)
    props = m.class_proportions(fits["nuts"])
    assert props["mean"].sum() == pytest.approx(1.0)
    assert 0.35 < props["mean"].iloc[0] < 0.65


def test_cli_ml_only_with_replacement_data(tmp_path):
    df = bm.datasets.load("carcinoma").iloc[:80]
    df.to_csv(tmp_path / "part.csv", index=False)
    out = _cli("run", "carcinoma_lca_k2", "--data", str(tmp_path / "part.csv"), "--ml", "--out", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = (tmp_path / "o" / "summary.txt").read_text()
    assert "Data: 80 rows" in summary and "NUTS posterior" not in summary
    _, fits = bm.load(tmp_path / "o" / "fit.bmx")
    assert set(fits) == {"ml"} and fits["ml"].n_obs == 80
    # oracle: the same model fitted directly gives the same LL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = bm.lca(df, items=list("ABCDEFG"), n_classes=2).fit_ml(starts=20, seed=1)
    assert fits["ml"].loglik == pytest.approx(direct.loglik, abs=1e-3)


# ---------------------------------------------------------------- Monte Carlo
def test_montecarlo_on_a_local_cluster_reports_a_failing_replication():
    def prepare(replication, data):  # a local function: pickled by value to the workers
        if replication == 2:
            raise RuntimeError("injected failure in replication 2")
        if replication == 3:
            warnings.warn("injected warning in replication 3", UserWarning)
        return data

    study = bm.montecarlo("lca_power_k2", replications=3, seed=11, fast=True, prepare=prepare)
    reps = study.replications
    assert list(reps["replication"]) == [1, 2, 3]
    assert list(reps["ok"]) == [True, False, True]
    assert "injected failure in replication 2" in study.failed["error"].iloc[0]
    assert study.converged == pytest.approx(2 / 3)
    table = study.table
    assert list(table.columns) == ["population", "mean", "sd", "mean_se", "mse", "coverage", "n"]
    # population values are the simulator's truth (simulate_lca defaults: class logit 0.3, item logits ~ +-1.5)
    truth = bm.datasets.simulate_lca(n_units=150, n_items=6, n_classes=2, seed=0).truth
    assert table.loc["class_intercept[class1]", "population"] == pytest.approx(0.3)
    assert table.loc["binary_logit[class2, y4]", "population"] == pytest.approx(truth["binary_logit"][1, 3])
    assert (table["n"] == 2).all()
    # the table is what its definitions say, computed from the per-replication estimates
    est = study.estimates[study.estimates["parameter"] == "binary_logit[class1, y1]"]
    pop = table.loc["binary_logit[class1, y1]", "population"]
    assert table.loc["binary_logit[class1, y1]", "mse"] == pytest.approx(np.mean((est["estimate"] - pop) ** 2))
    assert table.loc["binary_logit[class1, y1]", "mean_se"] == pytest.approx(est["se"].mean())
    # labels follow the truth: estimates have the sign of the population item logits (well separated classes)
    items = table.index.str.startswith("binary_logit")
    assert (np.sign(table.loc[items, "mean"]) == np.sign(table.loc[items, "population"])).all()
    assert "replication 2 failed" in str(study)
    # warnings raised inside a replication are recorded per replication, counted and printed, not silenced
    assert "UserWarning: injected warning in replication 3" in reps.loc[2, "warnings"]
    assert "injected warning" not in reps.loc[0, "warnings"]
    assert study.warnings.loc["UserWarning: injected warning in replication #", "replications"] == 1
    assert study.warnings.loc["UserWarning: injected warning in replication #", "example"] == (
        "UserWarning: injected warning in replication 3")
    assert "1 x UserWarning: injected warning in replication 3" in str(study)


def test_montecarlo_needs_a_simulator():
    with pytest.raises(ValueError, match="has no simulator"):
        bm.montecarlo("carcinoma_lca_k2", replications=2)


def test_montecarlo_label_reference_is_per_cluster_for_a_between_class():
    """Model 2 of Table 2 (class on the between level): the true classes become one row per cluster."""
    from bayesmix.montecarlo import _true_membership, population_values
    spec = read_spec("table2_model2")
    sim = spec.simulate(seed=3, fast=True)
    model = _quiet_build(spec.raw, data=sim.data, fast=True)
    members = _true_membership(model, sim.classes)
    n_clusters = sim.data["cluster"].nunique()
    assert members.shape == (n_clusters, 2)
    per_cluster = sim.data.assign(c=sim.classes).groupby("cluster")["c"].first().to_numpy()
    np.testing.assert_array_equal(members.argmax(axis=1), per_cluster)
    pop = population_values(model, sim.truth)
    assert pop["regression_slope[class2, x]"] == 0.8 and pop["residual_sd"] == 1.0
    assert pop["class_intercept[class1]"] == 0.0


@pytest.mark.parametrize("model, class_level, v, mse", [(1, "within", 0.0, 0.31), (2, "between", 0.0, 0.10),
                                                        (3, "between", 0.1, 0.26), (4, "between", 0.2, 0.44)])
def test_table2_specs_follow_the_papers_design(model, class_level, v, mse):
    """Table 2: 50 clusters of 10, mu = 1/0, beta = .2/.8, theta = 1, random intercept and slope of variance v
    (covariance 0), the class on the level of the table; the truth maps onto the fitted random SDs."""
    from bayesmix.montecarlo import population_values
    spec = read_spec(f"table2_model{model}")
    params = spec.raw["data"]["parameters"]
    assert (params["n_clusters"], params["cluster_size"], params["class_level"]) == (50, 10, class_level)
    assert params.get("random_intercept_variance", 0.0) == v and params.get("random_slope_variance", 0.0) == v
    assert spec.raw["paper_values"]["mse[class_intercept[class1]]"] == mse
    assert spec.raw["montecarlo"]["replications"] == 100
    if v:
        sim = spec.simulate(seed=2, fast=True)
        model_ = _quiet_build(spec.raw, data=sim.data, fast=True)
        pop = population_values(model_, sim.truth)
        assert pop["random_sd[intercept]"] == pytest.approx(v ** 0.5)
        assert pop["random_sd[slope[x]]"] == pytest.approx(v ** 0.5)
        assert "random_corr_eta" not in model_.model.named_vars  # covariance 0 (diagonal)
        assert set(pop) >= {"class_intercept[class1]", "regression_slope[class1, x]", "residual_sd"}


def test_cli_summary_of_an_lta_shows_every_time_point_and_the_transitions(tmp_path):
    """An LTA's summary lists P(C_t = k) at every time point and the transition table, not C_1's classes only."""
    from bayesmix.cli import run_spec
    bm.datasets.load("sai_lta").iloc[:300].to_csv(tmp_path / "part.csv", index=False)
    out = run_spec("sai_lta_k2", data=tmp_path / "part.csv", out=tmp_path / "o", ml_only=True, quiet=True)
    summary = (out / "summary.txt").read_text()
    m, fits = bm.load(out / "fit.bmx")
    ml = fits["ml"]
    by_time = m.class_proportions_by_time(ml)["estimate"]
    transitions = m.transition_matrices(ml)["estimate"]
    lines = summary.splitlines()
    for (time, label), value in by_time.items():  # every (time, class) row with its estimate
        assert any(line.split()[:3] == [time, label, f"{value:.4f}"] for line in lines), (time, label)
    for (step, j, k), value in transitions.items():
        assert any(line.split()[:4] == [step, j, k, f"{value:.4f}"] for line in lines), (step, j, k)
    # time 2 differs from time 1 (the table is not C_1 repeated)
    assert not np.allclose(by_time.xs("t1").to_numpy(), by_time.xs("t2").to_numpy(), atol=1e-3)
