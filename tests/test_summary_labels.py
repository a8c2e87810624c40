"""Posterior summary rows carry their own values (issue 26 item 0).

ArviZ 1.3's ``az.summary`` of several variables sharing a dimension name at different positions
flattens values in one order and labels them in another. ``MixtureModel.summary`` summarizes one
variable at a time; these tests compare every row's mean with the draws its label names.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bayesmix as bm
from bayesmix.datasets.simulate import simulate_lca
from bayesmix.datasets.simulate_lta import simulate_lta
from bayesmix.results import posterior_summary

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _means_by_label(posterior: xr.Dataset, names) -> dict[str, float]:
    """label -> mean of the draws of the element it names, labels as ArviZ writes them."""
    out = {}
    for name in names:
        array = posterior[name]
        dims = [d for d in array.dims if d not in ("chain", "draw")]
        if not dims:
            out[name] = float(array.mean())
            continue
        for index in np.ndindex(*[array.sizes[d] for d in dims]):
            element = array.isel({d: i for d, i in zip(dims, index)})
            coords = [str(array[d].values[i]) for d, i in zip(dims, index)]
            out[f"{name}[{', '.join(coords)}]"] = float(element.mean())
    return out


def _check_every_row(m, idata):
    posterior = idata.posterior.dataset if hasattr(idata.posterior, "dataset") else idata.posterior
    names = list(posterior.data_vars)
    truth = _means_by_label(posterior, names)
    raw = m.summary(idata, round_to="none")
    assert sorted(raw.index) == sorted(truth)
    for label, row in raw.iterrows():
        assert row["mean"] == pytest.approx(truth[label], abs=1e-10), label
    shown = m.summary(idata)  # the default rounding: the same rows
    assert list(shown.index) == list(raw.index)
    for label, row in shown.iterrows():
        assert float(row["mean"]) == pytest.approx(truth[label], abs=0.01 + 0.01 * abs(truth[label])), label
    return raw


def test_posterior_summary_labels_synthetic():
    """The minimal reproduction of the ArviZ defect: a(f) beside b(c, f); the per-variable summary is right."""
    rng = np.random.default_rng(0)
    a = xr.DataArray(rng.normal(size=(1, 50, 2)) + [0, 10], dims=("chain", "draw", "f"),
                     coords={"f": ["f0", "f1"]})
    b = xr.DataArray(rng.normal(size=(1, 50, 3, 2)) + 100 * np.arange(3)[:, None] + [0, 10],
                     dims=("chain", "draw", "c", "f"), coords={"c": ["c0", "c1", "c2"], "f": ["f0", "f1"]})
    ds = xr.Dataset({"a": a, "b": b})
    truth = _means_by_label(ds, ["a", "b"])
    out = posterior_summary(ds, round_to="none")
    assert list(out.index) == list(truth)
    np.testing.assert_allclose(out["mean"].to_numpy(float), list(truth.values()), atol=1e-12)
    # (az.summary(ds) itself shows b[c0, f1] = 100.1 where the draws say 10.0 under ArviZ 1.3)


def test_summary_rows_match_draws_lta():
    sim = simulate_lta(150, n_times=3, seed=3)
    m = bm.lta(sim.data, sim.items_by_time, n_classes=3)  # K = 3: class_free has 2 elements to swap
    idata = m.sample(draws=60, tune=60, chains=2, cores=1, sampler="pymc", random_seed=1,
                      progressbar=False, starts=2)
    raw = _check_every_row(m, idata)
    assert any(label.startswith("transition_logit[") for label in raw.index)


def test_summary_rows_match_draws_lca_two_covariates_three_classes():
    sim = simulate_lca(200, 5, 3, n_covariates=2, seed=5)
    m = bm.lca(sim.data, sim.items, n_classes=3, covariates=sim.covariates)
    idata = m.sample(draws=60, tune=60, chains=2, cores=1, sampler="pymc", random_seed=1,
                      progressbar=False, starts=2)
    raw = _check_every_row(m, idata)
    assert any(label.startswith("class_slope[") for label in raw.index)
    assert any(label.startswith("class_intercept[") for label in raw.index)
