"""``bm.montecarlo(starts="population")``: Mplus's MONTECARLO convention (each replication starts at the truth)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix.montecarlo import _ml_options, _true_membership, population_start, population_values
from bayesmix.relabel import set_label_reference
from bayesmix.spec import read_spec


def _by_hand(name: str, seed: int):
    """Replication 1 of ``montecarlo(name, seed=seed, fast=True)`` done by hand: fit_ml(start=truth, starts=0)."""
    spec = read_spec(name)
    rep_seed = int(np.random.SeedSequence(seed).spawn(1)[0].generate_state(1)[0])
    sim = spec.simulate(seed=rep_seed, fast=True)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model = spec.build(sim.data, fast=True)
        set_label_reference(model, _true_membership(model, sim.classes))
        truth = population_start(model, population_values(model, sim.truth))
        options = {**_ml_options(spec, None, True), "starts": 0, "start": truth, "progressbar": False}
        return model.fit_ml(**options), truth


@pytest.mark.parametrize("name", ["table2_model2", "table2_model3"])
def test_population_starts_give_the_fit_ml_at_the_truth(name):
    """Model 2 (between class) and Model 3 (random intercept and slope, integrated): one replication's
    estimates and SEs are those of fit_ml(start=truth, starts=0) on the same simulated data."""
    study = bm.montecarlo(name, replications=1, seed=7, fast=True, scheduler="serial", starts="population")
    assert study.replications["ok"].all(), study.failed["error"].tolist()
    ml, truth = _by_hand(name, 7)
    est = study.estimates.set_index("parameter")
    assert set(est.index) == set(ml.params.index)
    np.testing.assert_allclose(est.loc[ml.params.index, "estimate"], ml.params["estimate"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(est.loc[ml.params.index, "se"], ml.params["se"], rtol=1e-6, atol=1e-10)
    assert study.replications["loglik"].iloc[0] == pytest.approx(ml.loglik, abs=1e-8)
    assert ml.starts is not None  # a start at the truth alone: the population values are the one start
    assert study.table.loc["regression_slope[class2, x]", "population"] == pytest.approx(0.8)
    assert truth["regression_slope"].tolist() == [[0.2], [0.8]]


def test_population_start_needs_every_parameter_and_takes_start_values():
    """Model 6 (within-between class on between-class data): the class random-intercept SD has no population value."""
    spec = read_spec("table3_model6")
    sim = spec.simulate(seed=1, fast=True)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model = spec.build(sim.data, fast=True)
    population = population_values(model, sim.truth)
    with pytest.raises(ValueError, match=r"random_sd\[class1\].*start_values"):
        population_start(model, population)
    start = population_start(model, population, {"random_sd[class1]": 10.0})
    assert start["random_sd"].tolist() == pytest.approx([np.sqrt(0.2), 10.0])
    assert "random_z" not in start  # integrated random effects are not parameters


def test_bad_starts_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match=r"starts='truth'.*population"):
        bm.montecarlo("table2_model1", replications=1, starts="truth", scheduler="serial")
    with pytest.raises(ValueError, match="start_values are used only with starts=\"population\""):
        bm.montecarlo("table2_model1", replications=1, start_values={"residual_sd": 1.0}, scheduler="serial")
    raw = read_spec("table2_model1").raw
    with pytest.raises(ValueError, match=r"\[montecarlo\] starts = 'truth'"):
        read_spec({**raw, "montecarlo": {**raw["montecarlo"], "starts": "truth"}})


def test_spec_key_selects_population_starts_and_a_lta_keeps_the_truth_alignment():
    """``[montecarlo] starts = "population"`` in a spec; a single-level LTA (labels checked after the fit by the
    truth alignment) starts at the truth and needs no relabeling."""
    items = ["stubborn", "break_rules", "harm_others", "break_things", "yells", "takes_property", "fights", "lies",
             "teases", "trouble_authority"]
    spec = {"name": "lta_pop_test", "data": {"simulate": "simulate_lta", "seed": 1, "parameters": {"n_units": 300}},
            "model": {"factory": "lta", "n_classes": 2,
                      "items_by_time": {t: [f"{s}_{t}" for s in items] for t in ("fall", "spring")}},
            "inference": {"ml": {"starts": [4, 1], "seed": 1}},
            "montecarlo": {"starts": "population"}}
    study = bm.montecarlo(spec, replications=2, seed=3, fast=True, scheduler="serial")
    reps = study.replications
    assert reps["ok"].all() and reps["converged"].all(), study.failed["error"].tolist()
    assert not reps["relabeled"].any()
    table = study.table
    stay = "transition_logit[fall->spring, class1, class1]"
    assert abs(table.loc[stay, "mean"] - np.log(0.93 / 0.07)) < 0.8
    items_rows = table.index.str.startswith("binary_logit")
    assert (np.sign(table.loc[items_rows, "mean"]) == np.sign(table.loc[items_rows, "population"])).all()


def test_cli_starts_population(capsys, tmp_path):
    """``bayesmix montecarlo --starts population`` reaches bm.montecarlo (one fast replication, serial)."""
    from bayesmix.cli import main
    assert main(["montecarlo", "table2_model1", "--replications", "1", "--scheduler", "serial", "--fast",
                 "--starts", "population", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 replications, 1 completed" in out
    assert (tmp_path / "montecarlo.csv").exists()


def test_fast_mode_applies_fast_ml_on_top_of_montecarlo_ml():
    """Fast mode: ``[inference.ml]`` < ``[montecarlo.ml]`` < fast defaults < ``[fast.ml]``; full mode ignores fast."""
    spec = read_spec("table2_model3")   # [montecarlo.ml] starts = [6, 2]; [fast.ml] integration GH 6 points
    full = _ml_options(spec, None, False)
    fast = _ml_options(spec, None, True)
    assert full["starts"] == (6, 2) and full["integration"] == {"method": "gauss-hermite", "points": 10}
    assert fast["integration"] == {"method": "gauss-hermite", "points": 6}
    assert fast["starts"] == (4, 1)
    assert _ml_options(spec, {"starts": 3}, True) == {"starts": 3, "warn_unreplicated": False}
