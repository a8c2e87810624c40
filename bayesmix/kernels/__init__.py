"""Item kernels (measurement, eq. 1-2, 19): per item and class log-likelihoods, a registry by item type.

- :mod:`.base` -- :class:`ItemKernel` and the categorical / normal kernels, registry ``KERNELS``;
- :mod:`.regression` -- the outcome regression of mixture regression (eq. 19);
- :mod:`.guessing` -- the 3PL guessing kernel (eq. 42).
"""

from .base import (KERNEL_VARIANTS, KERNELS, LINKS, BinaryKernel, CategoricalKernel, ItemKernel, NominalKernel,
                   NormalKernel, OrdinalKernel, RestrictedOrdinalKernel, build_kernels, cdf, log_cdf, unit_shared)
from .guessing import GuessingKernel
from .regression import RegressionKernel

__all__ = ["KERNELS", "KERNEL_VARIANTS", "LINKS", "ItemKernel", "CategoricalKernel", "BinaryKernel", "NominalKernel",
           "OrdinalKernel", "RestrictedOrdinalKernel", "NormalKernel", "RegressionKernel", "GuessingKernel", "build_kernels", "cdf", "log_cdf", "unit_shared"]
