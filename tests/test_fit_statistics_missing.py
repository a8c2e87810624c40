"""Absolute fit with missing answers (issue 25 item 2): observed-pattern G2 / X2, residuals of pattern_table.

Oracle: a direct numpy computation at the ML point from the printed profiles and
class proportions. Units are grouped by which items they answered; within a
group of N_m units every cell of the observed items is enumerated, its
probability sum_k pi_k prod_{observed j} p_jk(y_j) (the missing items dropped
from the product), E = N_m P, O counted from the data; G2 over the observed
cells, X2 over all cells of every group. Complete data: the numbers of the
code before this change (one group, E = N P(y)).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix.fit_statistics import MISSING, goodness_of_fit, pattern_table


@pytest.fixture(scope="module")
def missing_fit():
    """2 classes, 4 binary items, N = 300, about 15% of the answers missing; ML."""
    sim = bm.datasets.simulate_lca(n_units=300, n_items=4, n_classes=2, missing_rate=0.15, seed=4)
    m = bm.lca(sim.data, items=sim.items, n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=5, seed=1, progressbar=False)
    return sim, m, ml


def _direct(ml, labels, y: np.ndarray):
    """{pattern (tuple, '.' = missing): (O, E, N_m)}, G2, X2, number of groups, sum of (cells - 1), loglik."""
    p1 = np.stack([ml.profiles[(c, "estimate")].to_numpy() for c in labels])  # (K, I) P(y = 1 | class)
    pi = ml.class_proportions["estimate"].to_numpy()
    observed = ~np.isnan(y)
    cells_out, g2, x2, free, loglik = {}, 0.0, 0.0, 0, 0.0
    masks = np.unique(observed, axis=0)
    for mask in masks:
        rows = y[(observed == mask).all(axis=1)][:, mask]
        n_m, js = len(rows), np.flatnonzero(mask)
        free += 2 ** len(js) - 1
        for cell in itertools.product([0.0, 1.0], repeat=len(js)):
            cell = np.array(cell)
            prob = float(np.sum(pi * np.prod(np.where(cell == 1, p1[:, js], 1 - p1[:, js]), axis=1)))
            o = float((rows == cell).all(axis=1).sum()) if len(js) else float(n_m)
            e = n_m * prob
            x2 += (o - e) ** 2 / e
            if o > 0:
                g2 += 2 * o * np.log(o / e)
                loglik += o * np.log(prob)
                full = [MISSING] * y.shape[1]
                for j, v in zip(js, cell):
                    full[j] = v
                cells_out[tuple(full)] = (o, e, n_m)
    return cells_out, g2, x2, len(masks), free, loglik


def test_observed_pattern_statistics_match_a_direct_computation(missing_fit):
    sim, m, ml = missing_fit
    y = sim.data[sim.items].to_numpy(float)
    assert 0.12 < np.isnan(y).mean() < 0.18
    cells, g2, x2, n_groups, free, loglik = _direct(ml, m.class_labels, y)
    assert ml.profiles.shape[0] == len(sim.items)
    assert loglik == pytest.approx(ml.loglik, rel=1e-9)  # the direct probabilities are the model's likelihood

    fit = m.goodness_of_fit(ml)
    assert fit["G2"] == pytest.approx(g2, rel=1e-8, abs=1e-8)
    assert fit["X2"] == pytest.approx(x2, rel=1e-8, abs=1e-8)
    assert fit["n_missing_patterns"] == n_groups > 1
    assert fit["N"] == 300 and fit["N_complete"] == int((~np.isnan(y)).all(axis=1).sum()) < 300
    assert fit["df"] == 2**4 - 1 - 9 == 6  # complete-data df (Mplus, poLCA resid.df)
    assert fit["df_observed"] == free - 9
    assert "missing answers" in fit.attrs["note"] and "df_observed" in fit.attrs["note"]

    table = m.pattern_table(ml)
    assert len(table) == len(cells) == fit["n_patterns"]
    assert table["observed"].sum() == 300 and table["observed"].is_monotonic_decreasing
    for row in table.itertuples(index=False):
        key = tuple(getattr(row, item) for item in sim.items)
        o, e, n_m = cells[key]
        assert row.observed == o
        assert row.expected == pytest.approx(e, rel=1e-8)
        assert row.residual == pytest.approx((o - e) / np.sqrt(e), rel=1e-8, abs=1e-10)
        assert row.z == pytest.approx((o - e) / np.sqrt(e * (1 - e / n_m)), rel=1e-8, abs=1e-10)
    assert (table[sim.items] == MISSING).to_numpy().any()
    assert len(pattern_table(m, ml, n_patterns=5)) == 5
    # poLCA (na.rm = FALSE) takes its table from the complete rows: E = N_obs P(y = s); the rows without '.'
    complete = table[~(table[sim.items] == MISSING).any(axis=1)]
    assert complete["observed"].sum() == fit["N_complete"]


def test_complete_data_numbers_are_unchanged():
    """Carcinoma K = 2: the values the code gave before missing answers were allowed (and Agresti's G2)."""
    carc = bm.datasets.load("carcinoma")
    m = bm.lca(carc, items=list("ABCDEFG"), n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=10, seed=1, progressbar=False)
        fit = goodness_of_fit(m, ml)
    # printed by the code at 7c33639 (complete patterns only), same fit
    assert fit["G2"] == pytest.approx(62.36542937021162, rel=1e-6)
    assert fit["X2"] == pytest.approx(92.64813529791599, rel=1e-6)
    assert fit["df"] == fit["df_observed"] == 112 and fit["df_polca"] == 103 and fit["n_patterns"] == 20
    assert fit["n_missing_patterns"] == 1 and fit["N_complete"] == fit["N"] == 118 and "note" not in fit.attrs
    table = pattern_table(m, ml)
    assert (table[list("ABCDEFG")].dtypes == carc[list("ABCDEFG")].dtypes).all()  # no '.' column conversion
    # the old formulas: E = N exp(log p(y)), X2 adds N - sum E for the unobserved cells
    o, e = table["observed"].to_numpy(float), table["expected"].to_numpy(float)
    assert fit["G2"] == pytest.approx(2 * np.sum(o * np.log(o / e)), rel=1e-12)
    assert fit["X2"] == pytest.approx(np.sum(table["residual"] ** 2) + 118 - e.sum(), rel=1e-12)


def test_lta_with_missing_answers_uses_its_own_likelihood():
    """LTA (forward recursion): E / N_m is exp of each unit's log-likelihood, so sum O log(E / N_m) = LL."""
    sim = bm.datasets.simulate_lta(n_units=150, n_times=2, profiles=np.array([[0.8, 0.7, 0.9], [0.2, 0.3, 0.1]]),
                                   item_stems=["a", "b", "c"], missing_rate=0.15, seed=3)
    m = bm.lta(sim.data, items_by_time=sim.items_by_time, n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=4, seed=1, progressbar=False)
        fit = goodness_of_fit(m, ml)
    items = m.data.item_names()
    table = pattern_table(m, ml)
    missing = table[items] == MISSING
    assert missing.to_numpy().any() and fit["n_missing_patterns"] > 1
    n_m = table.groupby([missing[c] for c in items])["observed"].transform("sum")  # units in the missing group
    assert np.sum(table["observed"] * np.log(table["expected"] / n_m)) == pytest.approx(ml.loglik, rel=1e-9)
    o, e = table["observed"].to_numpy(float), table["expected"].to_numpy(float)
    assert fit["G2"] == pytest.approx(2 * np.sum(o * np.log(o / e)), rel=1e-12)
    assert fit["df"] == max(2**6 - 1 - ml.n_params, 0)


def test_two_level_and_random_effect_models_are_refused_with_the_reason(missing_fit):
    sim, _, ml = missing_fit
    data = sim.data.assign(school=np.arange(len(sim.data)) // 10)
    two_level = bm.lca(data, items=sim.items, n_classes=2, cluster="school", n_between_classes=2)
    with pytest.raises(ValueError, match="clusters"):
        goodness_of_fit(two_level, ml)
    with pytest.raises(ValueError, match="clusters"):
        pattern_table(two_level, ml)
    random = bm.lca(data, items=sim.items, n_classes=2, cluster="school", random_intercept=True)
    with pytest.raises(ValueError, match="single-level|latent effects"):
        pattern_table(random, ml)
    with pytest.raises(ValueError, match="single-level|latent effects"):
        pattern_table(random, pd.Series(dtype=float))
