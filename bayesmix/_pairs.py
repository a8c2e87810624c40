"""One argument convention for the tests of a smaller against a larger model: ``(m_small, fit_small, m_big, fit_big)``.

:func:`bayesmix.lrt`, :func:`bayesmix.vlmr` and :func:`bayesmix.blrt` take
the two models with their ML fits in this order, so ``bm.vlmr(*fits[k - 1],
*fits[k])`` works for all three with the ``(model, fit)`` pairs of
:func:`bayesmix.enumerate_classes`.
"""

from __future__ import annotations

from typing import Any

from .evaluate import fit_kind


def is_ml_result(fit: Any) -> bool:
    """Whether ``fit`` is an ML result (classified once, by :func:`bayesmix.evaluate.as_fit`)."""
    return fit_kind(fit) == "ml"


def check_pair(m_small, ml_small, m_big, ml_big, what: str) -> None:
    """ValueError unless the arguments are (model, ML fit) of the smaller and then of the larger model."""
    for fit, name in ((ml_small, "ml_small"), (ml_big, "ml_big")):
        if not is_ml_result(fit):
            raise ValueError(f"{what}: {name} must be an ML result (m.fit_ml()), got {type(fit).__name__}; the "
                             f"arguments are {what}(m_small, ml_small, m_big, ml_big).")
    for model, name in ((m_small, "m_small"), (m_big, "m_big")):
        if not hasattr(model, "n_units") or not hasattr(model, "fit_ml"):
            raise ValueError(f"{what}: {name} must be the model (bm.lca(...) etc.) the fit came from, got "
                             f"{type(model).__name__}; the arguments are {what}(m_small, ml_small, m_big, ml_big).")
    if m_small.n_units != m_big.n_units:
        raise ValueError(f"{what} needs two models of the same data: {m_small.n_units} and {m_big.n_units} units.")
    if int(ml_big.n_params) <= int(ml_small.n_params):
        raise ValueError(f"{what}: ml_big has {ml_big.n_params} parameters and ml_small {ml_small.n_params}: pass "
                         "the smaller (nested) model first.")
