"""Mixture regression, single and two level with random effects (paper section 5, eq. 19)."""

from ...datasets.simulate import simulate_mixture_regression
from ...registry import Family, register
from .factory import mixture_regression

__all__ = ["mixture_regression"]

register(Family("mixture_regression", mixture_regression,
                description="two-level mixture regression with random effects (section 5, eq. 19)",
                simulators={"simulate_mixture_regression": simulate_mixture_regression}))
