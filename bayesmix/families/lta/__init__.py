"""Latent transition analysis, single and two level (paper sections 3-4, eq. 6-15)."""

from ...datasets.simulate_lta import simulate_lta
from ...registry import Family, MonteCarloHooks, register
from . import montecarlo, results, sbc
from .factory import lta
from .model import LTAModel, summary_by_time
from .reshape import long_to_wide, wide_to_long

__all__ = ["lta", "LTAModel", "long_to_wide", "wide_to_long", "results"]


def _example(seed: int):
    """A small simulate_lta data set and the bm.lta options that fit it."""
    sim = simulate_lta(n_units=60, seed=seed)
    return sim.data, {"items_by_time": sim.items_by_time, "n_classes": 2}


register(Family("lta", lta, LTAModel, description="latent transition analysis (sections 3-4)",
                simulators={"simulate_lta": simulate_lta}, sbc_cases=sbc.CASES,
                examples={"simulate_lta": _example},
                results={name: getattr(results, name) for name in results.__all__},
                summary_extra=summary_by_time,
                # the simulator's truth holds (N, T) classes and the random SDs of every random_form: the hooks map
                # them onto the fitted names and align each replication's labels over all time points
                montecarlo_hooks=MonteCarloHooks(population=montecarlo.population,
                                                 true_membership=montecarlo.true_membership,
                                                 membership=montecarlo.membership)))
