"""Model structures: how class variables, measurement and latent effects combine (one module per kind).

- :mod:`.base` -- the :class:`Structure` interface and the unit/cluster
  structures of sections 2, 5 and 6: :class:`WithinClasses`,
  :class:`BetweenClasses`, :class:`NestedClasses`.

New families add one module each (e.g. a chain of classes for LTA, item-level
classes for GoM) and export it here.
"""

from .base import BetweenClasses, FactorsInClusters, NestedClasses, Structure, WithinClasses, cluster_mean

__all__ = ["Structure", "WithinClasses", "FactorsInClusters", "BetweenClasses", "NestedClasses", "cluster_mean"]
from .item import ItemClasses  # noqa: E402  (item-level classes, GoM section 7)
__all__ += ["ItemClasses"]
from .chain import ChainClasses  # noqa: E402  (a chain of classes over time, LTA sections 3-4)
__all__ += ["ChainClasses"]
