"""Latent class analysis, single and two level (paper sections 2, 5, 6; eq. 1-5, 16-26)."""

from ...datasets.simulate import simulate_lca
from ...registry import Family, register
from . import sbc
from .factory import lca

__all__ = ["lca"]


def _example(seed: int):
    """A small simulate_lca data set and the bm.lca options that fit it."""
    sim = simulate_lca(n_units=60, n_items=4, seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2}


register(Family("lca", lca, description="latent class analysis, single and two level (sections 2, 5, 6)",
                simulators={"simulate_lca": simulate_lca}, sbc_cases=sbc.CASES,
                examples={"simulate_lca": _example}))
