"""Latent class analysis, single and two level (paper sections 2, 5, 6; eq. 1-5, 16-26)."""

from ...datasets.simulate import simulate_lca, simulate_lca_two_level
from ...registry import Family, register
from . import sbc
from .factory import lca

__all__ = ["lca"]


def _example(seed: int):
    """A small simulate_lca data set and the bm.lca options that fit it."""
    sim = simulate_lca(n_units=60, n_items=4, seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2}


def _example_two_level(seed: int):
    """A small simulate_lca_two_level data set and the bm.lca options of all three statuses (section 6)."""
    sim = simulate_lca_two_level(n_clusters=8, cluster_size=6, n_items=4, seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2, "cluster": "cluster", "n_between_classes": 2,
                      "random_intercept": True}


register(Family("lca", lca, description="latent class analysis, single and two level (sections 2, 5, 6)",
                simulators={"simulate_lca": simulate_lca, "simulate_lca_two_level": simulate_lca_two_level},
                sbc_cases=sbc.CASES,
                examples={"simulate_lca": _example, "simulate_lca_two_level": _example_two_level}))
