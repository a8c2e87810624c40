"""Bundled reference data sets and simulators with known truth."""

from .loaders import available, load
from .simulate import simulate_lca

__all__ = ["load", "available", "simulate_lca"]
