"""Factories: DataFrame -> :class:`bayesmix.MixtureModel`, one module per model family."""

from .lca import lca

__all__ = ["lca"]
