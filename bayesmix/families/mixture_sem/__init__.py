"""Mixture structural equation models: the paper's general within-level model (eq. 2-4)."""

from ...datasets.simulate_sem import simulate_growth_mixture, simulate_mixture_sem
from ...registry import Family, register
from .factory import SEM_PRIORS, mixture_sem
from .model import MixtureSEMModel
from .spec import CLASS_SPECIFIC, WithinSpec

__all__ = ["CLASS_SPECIFIC", "SEM_PRIORS", "MixtureSEMModel", "WithinSpec", "mixture_sem"]

register(Family("mixture_sem", mixture_sem, MixtureSEMModel,
                description="mixture SEM: factors, structural regressions and covariates within classes (eq. 2-4)",
                simulators={"simulate_mixture_sem": simulate_mixture_sem,
                            "simulate_growth_mixture": simulate_growth_mixture}))
