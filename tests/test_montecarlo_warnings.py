"""``MonteCarloResult.warnings``: the package's warnings over replications, grouped by message with the numbers
masked (issue 24: the section 2/5 study printed 42 "1 x ..." lines of one warning that differed only in its
eigenvalue)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayesmix.montecarlo import MonteCarloResult, _distinct_warnings

FLAT = ("UserWarning: the information matrix is not positive definite at the ML solution: the log-likelihood is "
        "flat (not identified) along {w} class_intercept[class1] (eigenvalue {e}). Standard errors use a "
        "pseudo-inverse.")
BOUNDARY = "UserWarning: {n} parameter(s) at the boundary: nominal_logit[class2, KNOWB[{c}]]. SE NaN."


def _study(cells: list[str]) -> MonteCarloResult:
    reps = pd.DataFrame({"replication": range(1, len(cells) + 1), "seed": range(len(cells)), "ok": True,
                         "converged": True, "relabeled": False, "loglik": -100.0, "seconds": 1.0, "error": "",
                         "warnings": cells})
    table = pd.DataFrame(columns=["population", "mean", "sd", "mean_se", "mse", "coverage", "n"])
    return MonteCarloResult(table=table, replications=reps, estimates=pd.DataFrame(), spec_name="toy")


def test_messages_that_differ_only_in_numbers_are_one_group_with_their_ranges():
    cells = [
        FLAT.format(w="+1.00", e="-1.2e-10"),
        # two messages of one group in one replication: the replication counts once
        FLAT.format(w="+1.00", e="-3.9e-13") + "\n" + FLAT.format(w="+0.99", e="-2.1e-06"),
        "",
        FLAT.format(w="+1.00", e="-8.8e-10") + "\n" + BOUNDARY.format(n=2, c="4.0"),
        BOUNDARY.format(n=13, c="3.0"),
        "UserWarning: injected warning in replication 3",
    ]
    groups = _study(cells).warnings
    assert list(groups.columns) == ["replications", "messages", "example", "summary"]
    assert len(groups) == 3
    flat = groups.loc[FLAT.format(w="#", e="#")]
    assert (flat["replications"], flat["messages"]) == (3, 4)
    assert flat["example"] == FLAT.format(w="+1.00", e="-1.2e-10")      # the first raised, unmasked
    assert flat["summary"] == FLAT.format(w="<+0.99..+1.00>", e="<-2.1e-06..-3.9e-13>")
    boundary = groups.loc[BOUNDARY.format(n="#", c="#")]                # "class2" keeps its digit: a name
    assert (boundary["replications"], boundary["messages"]) == (2, 2)
    assert boundary["summary"] == BOUNDARY.format(n="<2..13>", c="<3.0..4.0>")
    single = groups.loc["UserWarning: injected warning in replication #"]
    assert single["summary"] == "UserWarning: injected warning in replication 3"   # a constant number is shown
    assert groups.index[0] == FLAT.format(w="#", e="#")                 # most frequent first
    text = str(_study(cells))
    assert text.count(" x UserWarning") == 3
    assert "  3 x UserWarning: the information matrix is not positive definite" in text
    assert "<-2.1e-06..-3.9e-13>" in text


def test_no_warnings_give_an_empty_table_and_no_summary_lines():
    study = _study(["", ""])
    assert study.warnings.empty and list(study.warnings.columns) == ["replications", "messages", "example", "summary"]
    assert "warnings of the package" not in str(study)


def test_a_multi_line_warning_is_one_line_of_the_record():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("first line\n  second line", UserWarning)
        warnings.warn("first line\n  second line", UserWarning)   # a repeat is dropped
        warnings.warn("uses BLAS", UserWarning)                   # the BLAS notice is dropped
        warnings.warn("another", RuntimeWarning)
    assert _distinct_warnings(caught) == "UserWarning: first line second line\nRuntimeWarning: another"
    assert np.array_equal(_study([_distinct_warnings(caught)]).warnings["replications"].to_numpy(), [1, 1])
