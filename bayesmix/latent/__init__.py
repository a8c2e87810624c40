"""Continuous latent effects (eq. 5, 15, 35-39): one object per latent block, z standardized.

- :mod:`.base` -- :class:`LatentEffects` (diagonal, Cholesky, factor, structural forms);
- :mod:`.segments` -- ``segment_sum`` (cluster sums) and ``gather_segments`` (u_j per unit) without scatter-adds;
- :mod:`.factor` -- :class:`PersonFactor`, the person factor of FMA / FMA-GoM / 3PL (eq. 36, 39);
- :mod:`.dirichlet` -- :class:`DirichletMembership`, Erosheva's Dirichlet GoM membership (importance nodes).
"""

from .base import FORMS, LatentEffects
from .dirichlet import DirichletMembership
from .factor import PersonFactor
from .segments import gather_segments, segment_sum

__all__ = ["FORMS", "LatentEffects", "segment_sum", "gather_segments", "PersonFactor", "DirichletMembership"]
