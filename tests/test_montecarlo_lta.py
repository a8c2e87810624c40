"""Monte Carlo studies of LTA specs (issue 24): simulate_lta's truth on bm.lta's names, labels aligned over time."""

from __future__ import annotations

import copy
import dataclasses
import warnings

import numpy as np
import pytest

import bayesmix as bm
from bayesmix import registry
from bayesmix.families.lta import montecarlo as lta_mc
from bayesmix.montecarlo import _replicate, align_to_truth
from bayesmix.spec import read_spec

ITEMS = ["stubborn", "break_rules", "harm_others", "break_things", "yells", "takes_property", "fights", "lies",
         "teases", "trouble_authority"]


def _single_level_spec() -> dict:
    """Section 3's single-level LTA on the section 4 (Table 1) profiles, 300 persons in fast mode."""
    return {"name": "lta_mc_test", "data": {"simulate": "simulate_lta", "seed": 1,
                                            "parameters": {"n_units": 1000}},
            "model": {"factory": "lta", "n_classes": 2,
                      "items_by_time": {t: [f"{s}_{t}" for s in ITEMS] for t in ("fall", "spring")}},
            "inference": {"ml": {"starts": [4, 1], "seed": 1}},
            "fast": {"data": {"n_units": 300}}}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_lta_family_registers_montecarlo_hooks():
    fam = registry.get("lta")
    assert fam.montecarlo and fam.montecarlo_hooks is not None
    assert fam.montecarlo_hooks.population is lta_mc.population


def test_lta_montecarlo_maps_the_truth_reports_every_column_and_recovers_the_transition():
    """3 replications of 300 persons: every truth entry is a fitted parameter, the table columns are finite,
    labels follow the truth (the disruptive class 1 has the positive item logits) and the mean stay logit of
    class 1 is near its population value."""
    study = bm.montecarlo(_single_level_spec(), replications=3, seed=5, fast=True, n_workers=1)
    reps = study.replications
    assert reps["ok"].all() and reps["converged"].all(), study.failed["error"].tolist()
    assert "relabeled" in reps.columns
    table = study.table
    sim = read_spec(_single_level_spec()).simulate(seed=0, fast=True)
    model = _quiet(read_spec(_single_level_spec()).build, sim.data, fast=True)
    population = lta_mc.population(model, sim)
    assert len(population) == 1 + 2 + 20  # class logit, K x (K-1) transition logits, K x I item logits
    assert set(population) == set(table.index)  # every truth key is a fitted parameter, and the reverse
    for name, value in population.items():
        assert table.loc[name, "population"] == pytest.approx(value)
    columns = ["population", "mean", "sd", "mean_se", "mse", "coverage", "n"]
    assert list(table.columns) == columns
    assert np.isfinite(table[columns].to_numpy(dtype=float)).all()
    assert (table["n"] == 3).all()
    stay = "transition_logit[fall->spring, class1, class1]"
    assert table.loc[stay, "population"] == pytest.approx(np.log(0.93 / 0.07))
    assert abs(table.loc[stay, "mean"] - table.loc[stay, "population"]) < 0.6
    items = table.index.str.startswith("binary_logit")
    assert (np.sign(table.loc[items, "mean"]) == np.sign(table.loc[items, "population"])).all()


def test_align_to_truth_permutes_the_estimates_and_keeps_the_likelihood():
    """Given the fit's own membership with the classes swapped as the truth, the aligned fit has the classes
    swapped: item logits exchange rows, the class logit changes sign, and P(stay | class) moves with its class."""
    sim = bm.datasets.simulate_lta(300, seed=3)
    m = _quiet(bm.lta, sim.data, sim.items_by_time, n_classes=2)
    ml = _quiet(m.fit_ml, starts=(4, 1), seed=1, progressbar=False, warn_unreplicated=False)
    membership = lta_mc.membership(m, ml)
    assert membership.shape == (300, 2, 2)
    np.testing.assert_allclose(membership.sum(-1), 1.0, atol=1e-8)
    same, relabeled = align_to_truth(m, ml, membership, np.round(membership))
    assert same is ml and not relabeled
    swapped, relabeled = _quiet(align_to_truth, m, ml, membership, np.round(membership)[..., ::-1])
    assert relabeled
    assert swapped.loglik == pytest.approx(ml.loglik, abs=1e-4)
    np.testing.assert_allclose(swapped.point["binary_logit"], ml.point["binary_logit"][::-1], atol=2e-3)
    np.testing.assert_allclose(swapped.point["class_intercept"], -ml.point["class_intercept"], atol=2e-3)
    old = m.transition_matrices(ml)["estimate"].to_numpy().reshape(2, 2)
    new = m.transition_matrices(swapped)["estimate"].to_numpy().reshape(2, 2)
    np.testing.assert_allclose(new, old[::-1, ::-1], atol=1e-3)
    assert np.isfinite(swapped.params["se"]).all()


@pytest.mark.parametrize("form", ["structural", "cholesky"])
def test_two_level_truth_maps_the_random_intercept_sds_of_the_models_form(form):
    """Section 4's spec: structural SDs (alpha_1, then the eq. 15 residual) and beta under random_form='structural',
    the marginal SDs of alpha_1, alpha_2 under 'cholesky'."""
    raw = copy.deepcopy(read_spec("section4_lta_two_level").raw)
    raw["model"]["random_form"] = form
    spec = read_spec(raw)
    sim = spec.simulate(seed=1, fast=True)
    model = _quiet(spec.build, sim.data, fast=True)
    pop = lta_mc.population(model, sim)
    sd1, sd2, beta = 1.45, 1.02, 0.52
    assert pop["random_sd[fall:class1]"] == pytest.approx(sd1)
    if form == "structural":
        assert pop["random_sd[spring:class1]"] == pytest.approx(np.sqrt(sd2**2 - beta**2 * sd1**2))
        assert pop["random_regression[spring:class1 ~ fall:class1]"] == pytest.approx(beta)
    else:
        assert pop["random_sd[spring:class1]"] == pytest.approx(sd2)
        assert not any(name.startswith("random_regression") for name in pop)
    assert pop["class_intercept[class1]"] == pytest.approx(sim.truth["class_intercept"][0])


def test_time_specific_measurement_and_stationary_transitions_get_the_truth_by_item_and_step():
    sim = bm.datasets.simulate_lta(120, n_times=3, seed=2)
    m = _quiet(bm.lta, sim.data, sim.items_by_time, n_classes=2, invariant_measurement=False,
               stationary_transitions=True)
    pop = lta_mc.population(m, sim)
    for t, items in sim.items_by_time.items():
        for p, item in enumerate(items):
            assert pop[f"binary_logit[class2, {item}]"] == pytest.approx(sim.truth["binary_logit"][1, p])
    stay = [name for name in pop if name.startswith("transition_logit") and name.endswith("class1, class1]")]
    assert len(stay) == 1 and pop[stay[0]] == pytest.approx(np.log(0.93 / 0.07))


def test_a_two_level_replication_fits_and_covers_every_population_value():
    """One replication of a tiny section 4 design (150 persons in 10 classrooms): every population value is a
    fitted parameter with a finite estimate and SE."""
    raw = copy.deepcopy(read_spec("section4_lta_two_level").raw)
    raw["fast"]["data"] = {"n_units": 150, "n_clusters": 10}
    raw["model"]["integration"] = {"method": "gauss-hermite", "points": 5}
    record = _replicate(raw, None, 1, 4, True, {"starts": (1, 1), "seed": 1, "warn_unreplicated": False}, None)
    assert record["ok"], record["error"]
    assert set(record["population"]) <= set(record["estimates"])
    assert {"random_sd[fall:class1]", "random_sd[spring:class1]",
            "random_regression[spring:class1 ~ fall:class1]"} <= set(record["population"])
    assert all(np.isfinite(est) and np.isfinite(se) for est, se in record["estimates"].values())


def test_a_family_can_still_opt_out_of_montecarlo(monkeypatch):
    fam = registry.get("lta")
    monkeypatch.setitem(registry._FAMILIES, "lta", dataclasses.replace(fam, montecarlo=False))
    with pytest.raises(ValueError, match="uses bm.lta; Monte Carlo studies of its specs are not supported"):
        bm.montecarlo("section4_lta_two_level", replications=2)
