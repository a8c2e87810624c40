"""Session-scoped fitted models shared by many result tests (bambi-style).

Each model is compiled and sampled once per test session, with small data,
few draws and fixed seeds.
"""

from __future__ import annotations

import os
import sys
import warnings

# One thread per pytest worker for every pool, in this process and in every child it starts (PyMC's
# chain processes, dask workers, notebook kernels, CLI subprocesses inherit the environment): the
# suite runs 2 workers on 2 cores (``make test``), so any pool wider than one thread oversubscribes
# the cores, and on a busy machine spinning BLAS threads and the per-draw messages between PyMC's
# chain processes slow a test far more than the load predicts (issue 26 item 5). Set before
# bayesmix (and so numpy's OpenBLAS, numba and jax) is imported here; explicit settings win.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
    # XLA's CPU client: no Eigen thread pool; 4 host devices as bayesmix asks for numpyro's parallel chains
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 "
                 "--xla_force_host_platform_device_count=4",
    # sample(cores=None) runs the chains in the calling process (see bayesmix.inference.sampling.default_cores)
    "BAYESMIX_CORES": "1",
}
for _name, _value in THREAD_ENV.items():
    os.environ.setdefault(_name, _value)


def compile_flags(environ) -> str:
    """``PYTENSOR_FLAGS`` for the tests (issue 26 item 5; benchmarks/results/suite_cold_compile_20261207.json).

    CI starts from an empty compile cache, where most of a compile-heavy test's time is g++ (a
    ``fit_ml`` + NUTS test: ~40% of its CPU). Two settings cut it, each unless the environment already
    sets it (``PYTENSOR_FLAGS`` entries the user gave win; ``BAYESMIX_TEST_GXX=fast`` switches
    the first on, ``BAYESMIX_TEST_COMPILEDIR=shared`` the second off):

    - ``gcc__cxxflags=-O1 -g0`` (opt-in: ``BAYESMIX_TEST_GXX=fast``; off by default because the tests
      should run the binaries users run, and measured: -O1 moved one 4 x 500-draw NUTS run's R-hat from
      below 1.01 to 1.0109, tests/test_recovery.py): PyTensor builds every module ``-O3 -g``; ``-O1`` without debug
      information took a third less g++ CPU per module (0.77-0.82 -> 0.51-0.54 s); evaluations were up
      to 13% slower (an LCA at N = 20,000 x 20, benchmarks/bench_gxx_flags.py), not measurably so in the
      tests (Models 5/6's own CPU 80.5 vs 79.6 s). The flags are part of PyTensor's module key, so these
      modules never mix with ``-O3`` ones in a shared cache.
    - one compiledir per xdist worker (``compiledir_format`` + ``-gwN``): PyTensor holds a file lock on
      the compiledir while it runs g++, so with one shared directory the workers' compiles ran one at a
      time (a worker waited 28-47% of its time for the lock; on a 2-core runner its core idles);
      separate directories compile side by side, at the price of building a module both workers need
      twice (18 of 142 modules, +6% CPU, in the measured pair).
    """
    flags = environ.get("PYTENSOR_FLAGS", "")
    given = {part.split("=", 1)[0].strip() for part in flags.split(",") if "=" in part}
    extra = []
    if environ.get("BAYESMIX_TEST_GXX", "default") == "fast" and "gcc__cxxflags" not in given:
        extra.append("gcc__cxxflags=-O1 -g0")
    worker = environ.get("PYTEST_XDIST_WORKER")
    if worker and environ.get("BAYESMIX_TEST_COMPILEDIR", "per-worker") != "shared" and \
            not given & {"compiledir", "compiledir_format"}:
        extra.append("compiledir_format=compiledir_%(short_platform)s-%(processor)s-%(python_version)s-"
                     f"%(python_bitwidth)s-{worker}")
    return ",".join([flags] * bool(flags) + extra)


# before PyTensor is imported (bayesmix below); children (notebook kernels, CLI runs) inherit it
os.environ["PYTENSOR_FLAGS"] = compile_flags(os.environ)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import bayesmix as bm  # noqa: E402

# numpy may have been imported (and OpenBLAS started its threads) by a pytest plugin before this file
threadpool_limits(limits=1)
if "numba" in sys.modules:
    import numba
    numba.set_num_threads(1)

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


# Files that take longest, longest first (per-file seconds on 2 workers, benchmarks/results/suite_durations.csv).
# pytest-xdist's --dist loadfile hands out files in collection order, and by default first re-sorts them by
# their NUMBER of tests, which put the few-test, minutes-long files (notebooks, SBC, the wheel) last, where
# one worker ran them alone while the other idled. Longest first (LPT) keeps both workers busy to the end.
# The notebooks are split over three files (tests/notebook_runner.py) so that no file holds a worker alone.
LONGEST_FIRST = ("test_notebooks_fma.py", "test_notebooks_tables.py", "test_notebooks.py", "test_sbc.py", "test_sbc_controls.py", "test_lta.py", "test_fma.py", "test_mixture_regression.py",
                 "test_two_level.py", "test_wheel.py", "test_mplus_10faq.py", "test_golden.py",
                 "test_adaptive_quadrature.py", "test_mixed_items.py", "test_gom.py", "test_sampling.py",
                 "test_workflow.py", "test_distributed.py", "test_mixture_sem_random.py", "test_frictions.py")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # xdist installed: keep the order set below
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
