"""Bundled reference data sets and simulators with known truth."""

from .loaders import available, load
from .simulate import simulate_lca, simulate_lca_two_level, simulate_mixture_regression
from .simulate_lta import simulate_lta

__all__ = ["load", "available", "simulate_lca", "simulate_lca_two_level", "simulate_mixture_regression", "simulate_lta"]
