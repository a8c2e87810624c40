"""Session-scoped fitted models shared by many result tests (bambi-style).

Each model is compiled and sampled once per test session, with small data,
few draws and fixed seeds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayesmix as bm

warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")


class ModelBuiltTooEarly(Exception):
    """Raised if a PyMC model / PyTensor function is built during input validation."""


@pytest.fixture
def no_model_building(monkeypatch):
    """Bad input must fail before any graph: building one raises a non-ValueError."""
    import pymc as pm
    import pytensor

    def forbidden(*args, **kwargs):
        raise ModelBuiltTooEarly("a PyMC model or PyTensor function was built before validation failed")

    monkeypatch.setattr(pm.Model, "__init__", forbidden)
    monkeypatch.setattr(pytensor, "function", forbidden)
    yield


@pytest.fixture(scope="session")
def carcinoma():
    return bm.datasets.load("carcinoma")


@pytest.fixture(scope="session")
def sim2():
    """2-class binary LCA, 6 items, N = 600, no covariates."""
    return bm.datasets.simulate_lca(n_units=600, n_items=6, n_classes=2, missing_rate=0.05, seed=11)


@pytest.fixture(scope="session")
def sim2_fit(sim2):
    m = bm.lca(sim2.data, items=sim2.items, n_classes=2)
    idata = m.sample(draws=500, tune=500, chains=4, sampler="pymc", random_seed=3, progressbar=False)
    return m, idata


@pytest.fixture(scope="session")
def sim3():
    """3-class binary LCA, 8 items, N = 900, one covariate on the class (eq. 4)."""
    return bm.datasets.simulate_lca(n_units=900, n_items=8, n_classes=3,
                                    class_intercept=[0.4, 0.1], class_slope=[[1.0, -0.8]], seed=5)


@pytest.fixture(scope="session")
def sim3_fit(sim3):
    m = bm.lca(sim3.data, items=sim3.items, n_classes=3, covariates=sim3.covariates)
    # 4 x 1000 draws: the recovery test demands R-hat < 1.01 of all 30 parameters (4 x 500 gave 1.012)
    idata = m.sample(draws=1000, tune=500, chains=4, sampler="pymc", random_seed=4, progressbar=False)
    return m, idata


@pytest.fixture(scope="session")
def carcinoma_k2(carcinoma):
    return bm.lca(carcinoma, items=list("ABCDEFG"), n_classes=2)


@pytest.fixture(scope="session")
def carcinoma_k2_ml(carcinoma_k2):
    return carcinoma_k2.fit_ml(starts=20, seed=1)


@pytest.fixture(scope="session")
def carcinoma_k2_idata(carcinoma_k2):
    return carcinoma_k2.sample(draws=500, tune=500, chains=4, sampler="pymc", random_seed=2, progressbar=False)


def interval_contains(samples: np.ndarray, truth: np.ndarray, prob: float = 0.94) -> np.ndarray:
    lo, hi = np.quantile(samples, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return (lo <= truth) & (truth <= hi)
