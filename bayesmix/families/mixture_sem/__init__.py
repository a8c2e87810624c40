"""Mixture structural equation models: the paper's general within-level model (eq. 2-4)."""

import numpy as np

from ...datasets.simulate_sem import simulate_growth_mixture, simulate_mixture_sem
from ...registry import Family, register
from . import sbc
from .factory import SEM_PRIORS, mixture_sem
from .model import MixtureSEMModel
from .spec import CLASS_SPECIFIC, WithinSpec

__all__ = ["CLASS_SPECIFIC", "SEM_PRIORS", "MixtureSEMModel", "WithinSpec", "mixture_sem"]

#: linear growth over four time points: intercept and slope factors with fixed loadings
GROWTH_FACTORS = {"i": {"y1": 1, "y2": 1, "y3": 1, "y4": 1}, "s": {"y1": 0, "y2": 1, "y3": 2, "y4": 3}}


def _sem_example(seed: int):
    """A small simulate_mixture_sem data set (two factors, f2 on f1 and x1) and the bm.mixture_sem options."""
    lam = np.array([[1.0, 0.8, 1.2, 0, 0, 0], [0, 0, 0, 1.0, 0.7, 1.3]])
    sim = simulate_mixture_sem(120, loading=lam, intercept=np.zeros(6), factor_mean=[[0, 0], [2.0, -1.0]],
                               factor_cov=np.diag([0.6, 0.4]), residual_sd=0.5, regression=[[0, 0], [0.5, 0]],
                               covariate_effect=[[0.0, 0.4]], n_covariates=1, class_intercept=[0.3], seed=seed)
    factors = {"f1": {"y1": 1, "y2": None, "y3": None}, "f2": {"y4": 1, "y5": None, "y6": None}}
    return sim.data, {"items": sim.items, "n_classes": 2, "factors": factors, "regressions": {"f2": ["f1", "x1"]}}


def _growth_example(seed: int):
    """A small simulate_growth_mixture data set and the bm.mixture_sem growth mixture options."""
    sim = simulate_growth_mixture(120, growth_mean=[[0, 0.5], [3, -0.5]], growth_cov=[[1.0, 0.1], [0.1, 0.2]],
                                  residual_sd=0.7, class_intercept=[0.4], seed=seed)
    return sim.data, {"items": sim.items, "n_classes": 2, "factors": GROWTH_FACTORS}


register(Family("mixture_sem", mixture_sem, MixtureSEMModel,
                description="mixture SEM: factors, structural regressions and covariates within classes (eq. 2-4)",
                simulators={"simulate_mixture_sem": simulate_mixture_sem,
                            "simulate_growth_mixture": simulate_growth_mixture},
                sbc_cases=sbc.CASES,
                examples={"simulate_mixture_sem": _sem_example, "simulate_growth_mixture": _growth_example}))
