"""Latent class analysis, single and two level (paper sections 2, 5, 6; eq. 1-5, 16-26)."""

from ...datasets.simulate import simulate_lca
from ...registry import Family, register
from .factory import lca

__all__ = ["lca"]

register(Family("lca", lca, description="latent class analysis, single and two level (sections 2, 5, 6)",
                simulators={"simulate_lca": simulate_lca}))
