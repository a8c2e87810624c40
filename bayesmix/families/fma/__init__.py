"""Factor mixture analysis and FMA-GoM (paper section 8, eq. 36-41)."""

from ...datasets.simulate_irt import simulate_fma, simulate_fma_gom
from ...registry import Family, register
from . import sbc
from .factory import fma, fma_gom, observed_mask
from .model import FMA_LIMIT_SD, FMA_START_SD, LOADING_LIMIT, MEMBERSHIP_SD_LIMIT, FactorMixtureModel

__all__ = ["fma", "fma_gom", "FactorMixtureModel", "observed_mask", "LOADING_LIMIT", "FMA_START_SD",
           "FMA_LIMIT_SD", "MEMBERSHIP_SD_LIMIT"]


def _fma_example(seed: int):
    """A small simulate_fma data set and the bm.fma options that fit it."""
    sim = simulate_fma(n_units=60, n_items=5, seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2}


def _fma_gom_example(seed: int):
    """A small simulate_fma_gom data set and the bm.fma_gom options that fit it."""
    sim = simulate_fma_gom(n_units=60, n_items=5, seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2}


register(Family("fma", fma, FactorMixtureModel, description="factor mixture analysis (section 8, eq. 36-37)",
                simulators={"simulate_fma": simulate_fma}, sbc_cases=sbc.FMA_CASES,
                examples={"simulate_fma": _fma_example}))
register(Family("fma_gom", fma_gom, FactorMixtureModel, description="FMA-GoM (section 8, eq. 38-41)",
                simulators={"simulate_fma_gom": simulate_fma_gom}, sbc_cases=sbc.FMA_GOM_CASES,
                examples={"simulate_fma_gom": _fma_gom_example}))
