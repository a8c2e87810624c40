"""Class enumeration in one call (issue 25 item 1), Wald z / p / odds ratios in ml.params (item 2).

bm.enumerate_classes against Mplus 8.11 on the public 10 FAQ LCA data for K = 1..4 (the same
data, starts and tolerances as test_mplus_10faq.py; the per-K fit statistics transcribed from
c<K>_lca10faq.out), the fits it returns, the argument convention of lrt / vlmr / blrt, and bad inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_mplus_10faq import (
    DATA,
    FOUR_DECIMALS,
    ITEMS,
    MPLUS_FIT,
    MPLUS_TECH11,
    THREE_DECIMALS,
)

import bayesmix as bm
from bayesmix.datasets.simulate import simulate_lca
from bayesmix.inference import objective

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: K -> AIC, BIC, aBIC, entropy, smallest class proportion and count (posterior probabilities);
#: Mplus 8.11, c<K>_lca10faq.out (MODEL FIT INFORMATION, FINAL CLASS COUNTS, CLASSIFICATION QUALITY)
MPLUS_TABLE = {1: (7825.784, 7863.555, 7841.317, np.nan, 1.0, 1629.0),
               2: (6908.967, 6989.902, 6942.250, 0.790, 0.20316, 330.94118),
               3: (6835.899, 6960.001, 6886.934, 0.718, 0.05515, 89.84513),
               4: (6820.872, 6988.140, 6889.658, 0.753, 0.05378, 87.60257)}

#: starts as test_mplus_10faq.py (enough to find Mplus's best LL with seed 1)
STARTS = {1: 20, 2: 20, 3: 20, 4: (100, 25)}


@pytest.fixture(scope="module")
def enum():
    data = pd.read_csv(DATA)
    return bm.enumerate_classes(bm.lca, data, ITEMS, classes=range(1, 5), starts=STARTS, seed=1,
                                missing_codes=[9999], progressbar=False)


def test_table_equals_mplus(enum):
    table = enum.table
    assert list(table.index) == [1, 2, 3, 4] and table.index.name == "n_classes"
    for k, (aic, bic, abic, entropy, smallest, count) in MPLUS_TABLE.items():
        row = table.loc[k]
        ll, n_params = MPLUS_FIT[k]
        assert row["n_params"] == n_params, k
        assert row["loglik"] == pytest.approx(ll, abs=THREE_DECIMALS), k
        # -2 LL + penalty: twice the LL's tolerance plus Mplus's rounding of the criterion
        for ours, theirs in ((row["aic"], aic), (row["bic"], bic), (row["abic"], abic)):
            assert ours == pytest.approx(theirs, abs=3 * THREE_DECIMALS), k
        if k > 1:
            assert row["entropy"] == pytest.approx(entropy, abs=THREE_DECIMALS), k
        assert row["smallest_class"] == pytest.approx(smallest, abs=2e-5), k
        assert row["smallest_class_count"] == round(count), k
        assert row["converged"] and row["best_ll_replicated"].endswith(f"of {_n_starts(STARTS[k])}")
    assert table["bic"].idxmin() == 3  # BIC's choice on these data (Mplus: 6960.001 at K = 3)
    assert np.isnan(table.loc[1, ["vlmr_p", "lmr_statistic", "lmr_p"]].astype(float)).all()
    assert table["blrt_p"].isna().all()  # not asked for
    for k in (2, 3, 4):
        _, _, _, _, p, lmr, lmr_p = MPLUS_TECH11[k]
        assert table.loc[k, "vlmr_p"] == pytest.approx(p, abs=FOUR_DECIMALS), k
        assert table.loc[k, "lmr_statistic"] == pytest.approx(lmr, abs=2 * THREE_DECIMALS), k
        assert table.loc[k, "lmr_p"] == pytest.approx(lmr_p, abs=FOUR_DECIMALS), k


def _n_starts(starts) -> int:
    return starts[0] if isinstance(starts, tuple) else starts  # "k of n": n the initial-stage starts


def test_fits_are_the_ones_in_the_table(enum, monkeypatch):
    assert sorted(enum.fits) == enum.classes == [1, 2, 3, 4]
    for k, (m, fit) in enum.fits.items():
        assert m.n_classes == k and enum[k][0] is m and enum[k][1] is fit
        assert enum.table.loc[k, "loglik"] == fit.loglik and enum.table.loc[k, "bic"] == fit.bic
        assert enum.table.loc[k, "n_boundary"] == fit.n_boundary
    # the tests reuse each fit's information and scores: no Hessian sweep, and the same numbers again
    def no_sweep(*args, **kwargs):
        raise AssertionError("vlmr recomputed the observed information")
    monkeypatch.setattr(objective.FlatModel, "_difference_sweep", no_sweep)
    for k in (2, 3, 4):
        again = bm.vlmr(*enum.fits[k - 1], *enum.fits[k])
        pd.testing.assert_series_equal(again, enum.tests[k]["vlmr"])
        assert enum.table.loc[k, "vlmr_p"] == again["p_value"]
    with pytest.raises(KeyError, match="no fit with 7"):
        enum[7]


def test_prints_and_renders_as_a_table(enum):
    text = str(enum)
    assert repr(enum) == text
    lines = text.splitlines()
    assert "VLMR p" in lines[1] and "LMR p" in lines[1] and "BIC" in lines[1] and "BLRT" not in text
    assert any(line.startswith("4 ") and "-3379.436" in line and "0.0016" in line for line in lines)
    html = enum._repr_html_()
    assert html.count("<tr") == 1 + 1 + 4 and "6960.001" in html and "0.0017" in html  # header rows + 4


def test_builder_function_and_blrt_column():
    """A function k -> model; the bootstrap LRT fills blrt_p (a tiny bootstrap: what is tabulated, not power)."""
    sim = simulate_lca(200, 5, 2, seed=4)
    enum = bm.enumerate_classes(lambda k: bm.lca(sim.data, sim.items, n_classes=k), classes=[1, 2],
                                starts=(6, 2), seed=1, blrt=3, blrt_starts=(4, 2), progressbar=False)
    assert enum.tests[2]["blrt"]["n_bootstrap"] == 3
    assert enum.table.loc[2, "blrt_p"] == enum.tests[2]["blrt"]["p_value"] == pytest.approx(0.25)  # 1 / (3 + 1)
    assert enum.table.loc[2, "vlmr_p"] < 0.001
    assert "BLRT p" in str(enum)


def test_wald_columns_in_ml_params():
    sim = simulate_lca(400, 5, 2, class_slope=np.array([[1.0]]), seed=2)
    m = bm.lca(sim.data, sim.items, n_classes=2, covariates=["x1"])
    ml = m.fit_ml(starts=(6, 2), seed=1, progressbar=False)
    params = ml.params
    assert list(params.columns[:3]) == ["estimate", "se", "se_robust"]
    assert {"z", "p", "odds_ratio"} <= set(params.columns)
    np.testing.assert_allclose(params["z"], params["estimate"] / params["se"])
    np.testing.assert_allclose(params["p"], 2 * stats.norm.sf(np.abs(params["estimate"] / params["se"])))
    slope = [label for label in params.index if label.startswith("class_slope")]
    assert len(slope) == 1
    assert params.loc[slope[0], "odds_ratio"] == pytest.approx(np.exp(params.loc[slope[0], "estimate"]))
    assert params.drop(index=slope)["odds_ratio"].isna().all()  # intercepts and item logits: no odds ratio
    assert params.loc[slope[0], "p"] < 1e-6  # a true effect of 1 logit per SD with N = 400


def test_wald_columns_nan_where_the_se_is():
    carcinoma = bm.datasets.load("carcinoma")
    ml = bm.lca(carcinoma, list("ABCDEFG"), n_classes=3).fit_ml(starts=(10, 3), seed=1, progressbar=False)
    params = ml.params
    assert params["at_bound"].any()  # carcinoma's 3 classes have boundary logits
    assert params.loc[params["se"].isna(), ["z", "p"]].isna().all().all()
    assert params.loc[params["se"].notna(), ["z", "p"]].notna().all().all()
    assert params["odds_ratio"].isna().all()  # no covariates


@pytest.mark.parametrize("kwargs, match", [
    ({"classes": []}, "empty"),
    ({"classes": 4}, "range"),
    ({"classes": [2, 1]}, "increasing"),
    ({"classes": [0, 1]}, ">= 1"),
    ({"classes": [1.5, 2]}, "integers"),
    ({"starts": {1: 5}}, "no entry for K=2"),
    ({"blrt": -1}, "blrt="),
    ({"fit_options": {"seed": 3}}, "seed="),
    ({"fit_options": {"maxiter": 3}}, "maxiter"),
])
def test_bad_enumeration_arguments_raise(kwargs, match):
    sim = simulate_lca(60, 4, 2, seed=5)
    options = {"classes": [1, 2], **kwargs}
    with pytest.raises(ValueError, match=match):
        bm.enumerate_classes(bm.lca, sim.data, sim.items, progressbar=False, **options)


def test_bad_model_arguments_raise():
    sim = simulate_lca(60, 4, 2, seed=5)
    with pytest.raises(ValueError, match="is a factory"):
        bm.enumerate_classes(bm.lca, classes=[1, 2])
    with pytest.raises(ValueError, match="n_classes is set"):
        bm.enumerate_classes(bm.lca, sim.data, sim.items, n_classes=2)
    with pytest.raises(ValueError, match="data is None"):
        bm.enumerate_classes(bm.lca, None, sim.items)
    with pytest.raises(ValueError, match="must build k classes"):
        bm.enumerate_classes(lambda k: bm.lca(sim.data, sim.items, n_classes=2), classes=[1], progressbar=False)
    with pytest.raises(ValueError, match="factory"):
        bm.enumerate_classes("lca", sim.data, sim.items)


def test_one_argument_convention_for_lrt_vlmr_blrt():
    sim = simulate_lca(150, 4, 2, seed=3)
    m1, m2 = (bm.lca(sim.data, sim.items, n_classes=k) for k in (1, 2))
    f1, f2 = m1.fit_ml(starts=1, seed=1, progressbar=False), m2.fit_ml(starts=(6, 2), seed=1, progressbar=False)
    lr = bm.lrt(m1, f1, m2, f2)
    assert lr["statistic"] == pytest.approx(bm.vlmr(m1, f1, m2, f2)["statistic"])
    with pytest.warns(FutureWarning, match="deprecated"):
        old = bm.lrt(f1, f2)
    pd.testing.assert_series_equal(old, lr)
    with pytest.warns(FutureWarning):
        pd.testing.assert_series_equal(bm.lrt(ml_small=f1, ml_big=f2), lr)
    for test in (bm.lrt, bm.vlmr, bm.blrt):
        name = test.__name__
        with pytest.raises(ValueError, match="ML result"):
            test(m1, object(), m2, f2)
        with pytest.raises(ValueError, match="must be the model"):
            test(f1, f1, m2, f2)
        with pytest.raises(ValueError, match="model first"):
            test(m2, f2, m1, f1)
        other = bm.lca(sim.data.iloc[:100], sim.items, n_classes=2)
        with pytest.raises(ValueError, match="same data"):
            test(m1, f1, other, f2)
        assert name in ("lrt", "vlmr", "blrt")
    with pytest.raises(ValueError, match="takes"):
        bm.lrt(m1, f1)
