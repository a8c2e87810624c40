"""A mixed-item LCA (binary, nominal, ordinal, continuous) through ML and NUTS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(8)
    n = 400
    cls = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "smoker": np.where(rng.uniform(size=n) < np.where(cls == 0, 0.2, 0.8), "yes", "no"),
        "region": [rng.choice(["north", "south", "west"], p=p) for p in
                   np.where(cls[:, None] == 0, [0.6, 0.3, 0.1], [0.1, 0.3, 0.6])],
        "severity": [rng.choice(4, p=p) + 1 for p in
                     np.where(cls[:, None] == 0, [0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5])],
        "score": rng.normal(np.where(cls == 0, 0.0, 2.0), np.where(cls == 0, 1.0, 0.5)),
    })
    frame.loc[rng.uniform(size=n) < 0.05, "score"] = np.nan
    m = bm.lca(frame, items=["smoker", "region", "severity", "score"], n_classes=2,
               item_types={"severity": "ordinal"})
    return m, cls


def test_mixed_ml_recovers_class_means(mixed):
    m, cls = mixed
    ml = m.fit_ml(starts=8, seed=1)
    means = ml.profiles.loc[("score", "mean")].xs("estimate", level="statistic").to_numpy()
    order = np.argsort(means)
    np.testing.assert_allclose(means[order], [0.0, 2.0], atol=0.2)
    sds = ml.profiles.loc[("score", "sd")].xs("estimate", level="statistic").to_numpy()[order]
    np.testing.assert_allclose(sds, [1.0, 0.5], atol=0.15)
    accuracy = np.mean((ml.posterior_probabilities.to_numpy().argmax(1) == order[1]) == (cls == 1))
    assert accuracy > 0.85
    rows = set(ml.profiles.index)
    assert {("smoker", "yes"), ("region", "west"), ("severity", "4"), ("score", "sd")} <= rows


def test_mixed_nuts_and_profiles(mixed):
    m, _ = mixed
    idata = m.sample(draws=200, tune=300, chains=2, sampler="pymc", random_seed=2, progressbar=False)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    prof = m.profiles(idata)
    # category probabilities of each categorical item sum to one within each class
    for item in ("region", "severity"):
        sums = prof.loc[item].xs("mean", axis=1, level="statistic").sum()
        np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-8)
    assert prof.loc[("score", "mean")].xs("mean", level="statistic").between(-0.5, 2.5).all()
