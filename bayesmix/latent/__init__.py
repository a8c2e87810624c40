"""Continuous latent effects (eq. 5, 15, 35-39): one object per latent block, z standardized.

- :mod:`.base` -- :class:`LatentEffects` (diagonal, Cholesky, factor, structural forms) and ``segment_sum``;
- :mod:`.factor` -- :class:`PersonFactor`, the person factor of FMA / FMA-GoM / 3PL (eq. 36, 39);
- :mod:`.dirichlet` -- :class:`DirichletMembership`, Erosheva's Dirichlet GoM membership (importance nodes).
"""

from .base import FORMS, LatentEffects, segment_sum
from .dirichlet import DirichletMembership
from .factor import PersonFactor

__all__ = ["FORMS", "LatentEffects", "segment_sum", "PersonFactor", "DirichletMembership"]
