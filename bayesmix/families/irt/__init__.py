"""The 3PL guessing model, directly and as a constrained FMA-GoM (paper section 9, eq. 42-50)."""

from ...datasets.simulate_irt import simulate_3pl
from ...registry import Family, register
from . import conversions, sbc
from .conversions import irt_parameters
from .factory import irt_3pl
from .model import ThreePLModel

__all__ = ["irt_3pl", "ThreePLModel", "conversions", "irt_parameters"]


def _example(seed: int):
    """A small simulate_3pl data set and the bm.irt_3pl options that fit it."""
    sim = simulate_3pl(n_units=80, n_items=5, seed=seed)
    return sim.data, {"items": sim.items}


register(Family("irt_3pl", irt_3pl, ThreePLModel, description="3PL guessing model (section 9, eq. 42-50)",
                simulators={"simulate_3pl": simulate_3pl}, results={"irt_parameters": irt_parameters},
                sbc_cases=sbc.CASES, examples={"simulate_3pl": _example}))
