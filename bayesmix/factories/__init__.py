"""Factories: DataFrame -> :class:`bayesmix.MixtureModel`, one module per model family."""

from .lca import lca
from .regression import mixture_regression

__all__ = ["lca", "mixture_regression"]
from .gom import gom  # noqa: E402  (grade of membership, section 7)
__all__ += ["gom"]
