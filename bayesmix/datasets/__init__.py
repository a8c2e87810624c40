"""Bundled reference data sets and simulators with known truth."""

from .loaders import available, load
from .simulate import simulate_lca, simulate_mixture_regression

__all__ = ["load", "available", "simulate_lca", "simulate_mixture_regression"]
