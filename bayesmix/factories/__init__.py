"""Factories: DataFrame -> :class:`bayesmix.MixtureModel`, one module per model family."""

from .lca import lca
from .regression import mixture_regression

__all__ = ["lca", "mixture_regression"]
from .gom import gom  # noqa: E402  (grade of membership, section 7)
__all__ += ["gom"]
from .lta import lta  # noqa: E402  (latent transition analysis, sections 3-4)
__all__ += ["lta"]
from .fma import fma, fma_gom  # noqa: E402  (factor mixture analysis, FMA-GoM, section 8)
from .irt import irt_3pl  # noqa: E402  (3PL guessing model, section 9)
__all__ += ["fma", "fma_gom", "irt_3pl"]
