"""The suite pins every thread pool to one thread per pytest worker (issue 26 item 5; see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

from bayesmix.inference.sampling import default_cores


def test_blas_and_openmp_pools_of_this_worker_hold_one_thread():
    pools = threadpool_info()
    assert pools, "threadpoolctl found no BLAS/OpenMP library: numpy is always linked to one"
    assert {p["num_threads"] for p in pools} == {1}, pools


def test_child_processes_inherit_the_one_thread_settings():
    """Notebook kernels, CLI subprocesses, dask workers and PyMC's forks start from this environment."""
    code = ("import os, numpy; from threadpoolctl import threadpool_info; "
            "print({p['num_threads'] for p in threadpool_info()}, os.environ['BAYESMIX_CORES'], "
            "os.environ['NUMBA_NUM_THREADS'], 'xla_cpu_multi_thread_eigen=false' in os.environ['XLA_FLAGS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["{1}", "1", "1", "True"], out.stdout + out.stderr


def test_default_cores_follows_bayesmix_cores(monkeypatch):
    monkeypatch.setenv("BAYESMIX_CORES", "1")
    assert default_cores(4) == 1
    monkeypatch.delenv("BAYESMIX_CORES")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_cores(4) == min(4, cpus) and default_cores(1) == 1
    monkeypatch.setenv("BAYESMIX_CORES", "64")  # caps, never raises the CPUs available
    assert default_cores(64) == cpus
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("BAYESMIX_CORES", bad)
        with pytest.raises(ValueError, match="BAYESMIX_CORES"):
            default_cores(2)
