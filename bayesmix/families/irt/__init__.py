"""The 3PL guessing model, directly and as a constrained FMA-GoM (paper section 9, eq. 42-50)."""

from ...datasets.simulate_irt import simulate_3pl
from ...registry import Family, register
from . import conversions
from .conversions import irt_parameters
from .factory import irt_3pl
from .model import ThreePLModel

__all__ = ["irt_3pl", "ThreePLModel", "conversions", "irt_parameters"]

register(Family("irt_3pl", irt_3pl, ThreePLModel, description="3PL guessing model (section 9, eq. 42-50)",
                simulators={"simulate_3pl": simulate_3pl}, results={"irt_parameters": irt_parameters}))
