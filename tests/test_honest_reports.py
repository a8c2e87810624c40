"""Honest counts and standard errors (issue 26 item 0): one replication count, "k of n" with k <= n;
no standard errors for quantities that rest on a parameter at the logit bound."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bayesmix as bm

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _k_of_n(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+) of (\d+)", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


@pytest.mark.parametrize("starts", [20, (4, 1), (6, 3)])
def test_replication_count_is_k_of_n_starts_everywhere(carcinoma, starts):
    m = bm.lca(carcinoma, list("ABCDEFG"), n_classes=2)
    ml = m.fit_ml(starts=starts, seed=1, progressbar=False)
    n_starts = starts if isinstance(starts, int) else starts[0]
    k, n = _k_of_n(ml.starts.replication)
    assert n == n_starts and 1 <= k <= n  # was "20 of 5" (README example) and "4 of 1" (demo)
    assert k == ml.starts.n_replicated
    assert ml.summary().fit["best_ll_replicated"] == ml.starts.replication
    assert ml.fit_table()["best_ll_replicated"] == ml.starts.replication
    assert f"reached by {ml.starts.replication} starts" in str(ml.starts)
    assert f"reached by {ml.starts.replication} starts" in str(ml)
    assert f"{ml.starts.replication}" in str(ml.summary())


def test_select_classes_prints_k_of_n_and_keeps_numbers_numeric(carcinoma):
    table = bm.select_classes(bm.lca, carcinoma, list("ABCDEFG"), k_max=2, starts=8, seed=1)
    for text in table["best_ll_replicated"]:
        k, n = _k_of_n(text)
        assert n == 8 and k <= n
    assert table["bic"].dtype == float and int(table["bic"].idxmin()) in (1, 2)


@pytest.fixture(scope="module")
def boundary_lta():
    """Class 2 never leaves (P = 0 of 2 -> 1): its transition logit goes to the bound."""
    from bayesmix.datasets.simulate_lta import simulate_lta
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = simulate_lta(400, n_times=2, transition=np.array([[1.0, 0.0], [0.25, 0.75]]), seed=7)
    m = bm.lta(sim.data, sim.items_by_time, n_classes=2)
    return m, m.fit_ml(starts=(8, 2), seed=1, progressbar=False)


def test_boundary_transition_has_no_standard_errors(boundary_lta):
    m, ml = boundary_lta
    assert ml.n_boundary == 1
    at_bound = ml.params[ml.params["at_bound"].astype(bool)]
    assert list(at_bound.index) == ["transition_logit[fall->spring, class2, class1]"]
    assert at_bound[["se", "se_robust"]].isna().all(axis=None)
    with pytest.warns(UserWarning, match="rest on parameters at the logit bound"):
        effects = m.transition_effects(ml)
    # alpha is the bound logit, gamma = tau_11 - tau_21 and R-squared (eq. 14) rest on it: no SE (was
    # gamma 28.0 with SE 0.46, R-squared SE 0.005), the estimates themselves are kept
    assert effects[["se", "se_robust", "lower", "upper"]].isna().all(axis=None)
    assert effects["estimate"].notna().all() and abs(effects.loc[("fall->spring", "gamma[class1 <- class1]"),
                                                                  "estimate"]) > 15
    matrices = m.transition_matrices(ml)
    free_row = matrices.loc[("fall->spring", "class1")]  # class 1's row rests on free logits only
    assert free_row["se"].notna().all() and (free_row["se"] > 0).all()
    text = str(ml.summary())
    assert "n/a" in text and "logit bound" in text


def test_inside_solutions_keep_every_standard_error():
    import pandas as pd
    from pathlib import Path
    data = pd.read_csv(Path(__file__).parent / "data" / "mplus_10faq" / "lca10faq.csv")
    m = bm.lca(data, [f"PYDI{i}Ab" for i in range(1, 8)], n_classes=2, missing_codes=[9999])
    ml = m.fit_ml(starts=8, seed=1, progressbar=False)
    assert ml.n_boundary == 0
    assert ml.params["se"].notna().all() and ml.class_proportions["se"].notna().all()
    assert ml.summary().note == "" and "n/a" not in str(ml.summary())


def test_probabilities_beside_boundary_logits_keep_their_standard_errors(carcinoma):
    """Carcinoma K = 2: 5 item logits at the bound; their profile probabilities (0 or 1) have no SE,
    everything else (class proportions, the other profiles) keeps its SE."""
    ml = bm.lca(carcinoma, list("ABCDEFG"), n_classes=2).fit_ml(starts=8, seed=1, progressbar=False)
    assert ml.n_boundary == 5
    assert ml.class_proportions["se"].notna().all()
    se = ml.profiles.xs("se", axis=1, level="statistic")
    assert int(se.isna().sum().sum()) == 5
