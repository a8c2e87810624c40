"""Factor mixture analysis and FMA-GoM (paper section 8, eq. 36-41)."""

from ...datasets.simulate_irt import simulate_fma, simulate_fma_gom
from ...registry import Family, register
from .factory import fma, fma_gom, observed_mask
from .model import FMA_LIMIT_SD, FMA_START_SD, LOADING_LIMIT, MEMBERSHIP_SD_LIMIT, FactorMixtureModel

__all__ = ["fma", "fma_gom", "FactorMixtureModel", "observed_mask", "LOADING_LIMIT", "FMA_START_SD",
           "FMA_LIMIT_SD", "MEMBERSHIP_SD_LIMIT"]

register(Family("fma", fma, FactorMixtureModel, description="factor mixture analysis (section 8, eq. 36-37)",
                simulators={"simulate_fma": simulate_fma}))
register(Family("fma_gom", fma_gom, FactorMixtureModel, description="FMA-GoM (section 8, eq. 38-41)",
                simulators={"simulate_fma_gom": simulate_fma_gom}))
