"""Mixture regression, single and two level with random effects (paper section 5, eq. 19)."""

from ...datasets.simulate import simulate_mixture_regression
from ...registry import Family, register
from . import sbc
from .factory import mixture_regression

__all__ = ["mixture_regression"]


def _example(seed: int):
    """A small simulate_mixture_regression data set and the bm.mixture_regression options that fit it."""
    sim = simulate_mixture_regression(n_clusters=10, cluster_size=6, class_level="within", seed=seed)
    return sim.data, {"y": sim.y, "x": sim.x, "n_classes": 2}


register(Family("mixture_regression", mixture_regression,
                description="two-level mixture regression with random effects (section 5, eq. 19)",
                simulators={"simulate_mixture_regression": simulate_mixture_regression},
                sbc_cases=sbc.CASES, examples={"simulate_mixture_regression": _example}))
