"""Golden snapshot: refactors that only move code must not move a number.

``tests/golden/golden.npz`` holds, for every spec in ``models/`` (fast mode)
and every SBC case, the ML objective and its gradient at a fixed point, a
short ``fit_ml`` (LL, estimates, SEs, profiles, class proportions) and
``posterior_predictive`` replicates at the ML point, all with fixed seeds
(``tests/golden/make_golden.py`` writes it). The evaluation at a fixed point
is deterministic arithmetic: compared to 1e-10. The fit runs an optimizer
whose path a reordering of floating-point sums may nudge at the last digits,
so its outputs are compared to 1e-6 relative (SEs 1e-5), far below any
reported precision; replicates drawn with a fixed seed must be equal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import make_golden  # noqa: E402

GOLDEN = dict(np.load(make_golden.GOLDEN))
KEYS = sorted({k.split("|")[0] for k in GOLDEN})

TOLERANCES = {"loglik_at_theta0": (1e-10, 1e-10), "grad_at_theta0": (1e-10, 1e-8),
              "ml_loglik": (1e-8, 1e-6), "ml_estimate": (1e-6, 1e-6), "ml_se": (1e-5, 1e-6),
              "ml_profiles": (1e-6, 1e-6), "ml_class_proportions": (1e-6, 1e-6)}


def test_every_spec_and_sbc_case_is_in_the_snapshot():
    assert set(KEYS) == set(make_golden.all_cases()), "regenerate tests/golden/golden.npz for new cases"


@pytest.mark.parametrize("key", KEYS)
def test_golden_numbers(key):
    now = make_golden.snapshot(key)
    stored = {k.split("|")[1]: v for k, v in GOLDEN.items() if k.startswith(key + "|")}
    assert set(now) == set(stored)
    for name, value in stored.items():
        rtol, atol = TOLERANCES.get(name, (0.0, 1e-12))  # ppc replicates: equal
        np.testing.assert_allclose(now[name], value, rtol=rtol, atol=atol, err_msg=f"{key}: {name}")
