"""Former home of cluster random effects; see :mod:`bayesmix.latent` (one latent-effects object).

Kept so that ``from bayesmix.random_effects import segment_sum`` keeps working.
"""

from .latent import LatentEffects, segment_sum

#: name of the standardized random effects of the default block (prefix ``random``)
Z_NAME = "random_z"

__all__ = ["LatentEffects", "segment_sum", "Z_NAME"]
