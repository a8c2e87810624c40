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
    assert f"reached from {ml.starts.replication} starts" in str(ml.starts)
    assert f"reached from {ml.starts.replication} starts" in str(ml)
    assert f"{ml.starts.replication}" in str(ml.summary())


def test_select_classes_prints_k_of_n_and_keeps_numbers_numeric(carcinoma):
    table = bm.select_classes(bm.lca, carcinoma, list("ABCDEFG"), k_max=2, starts=8, seed=1)
    for text in table["best_ll_replicated"]:
        k, n = _k_of_n(text)
        assert n == 8 and k <= n
    assert table["bic"].dtype == float and int(table["bic"].idxmin()) in (1, 2)
