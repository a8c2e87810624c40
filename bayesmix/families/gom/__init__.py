"""Grade of membership: logistic-normal, restricted one-factor and Dirichlet (paper section 7, eq. 27-35)."""

from ...datasets.simulate_gom import simulate_gom
from ...registry import Family, register
from . import sbc
from .factory import MEMBERSHIPS, gom
from .model import GoMModel
from .results import integration_error, membership_curves, membership_scores

__all__ = ["gom", "GoMModel", "MEMBERSHIPS", "membership_scores", "integration_error", "membership_curves"]


def _example(seed: int):
    """A small simulate_gom data set and the bm.gom options that fit it."""
    sim = simulate_gom(n_units=60, n_items=5, seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2}


register(Family("gom", gom, description="grade of membership (section 7)",
                simulators={"simulate_gom": simulate_gom}, sbc_cases=sbc.CASES,
                examples={"simulate_gom": _example},
                results={"membership_scores": membership_scores, "integration_error": integration_error,
                         "membership_curves": membership_curves}))
