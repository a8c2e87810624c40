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


def test_compile_settings_cheap_gxx_per_worker_dir_and_the_environment_wins():
    """conftest.compile_flags: a compiledir per xdist worker, -O1 -g0 on request, the environment's settings win."""
    from conftest import compile_flags
    flags = compile_flags({"PYTEST_XDIST_WORKER": "gw1", "PYTENSOR_FLAGS": "base_compiledir=/tmp/x"})
    parts = flags.split(",")
    assert parts[0] == "base_compiledir=/tmp/x" and not any(p.startswith("gcc__cxxflags") for p in parts)
    assert "gcc__cxxflags=-O1 -g0" in compile_flags({"PYTEST_XDIST_WORKER": "gw1", "BAYESMIX_TEST_GXX": "fast"})
    assert [p for p in parts if p.startswith("compiledir_format=")][0].endswith("%(python_bitwidth)s-gw1")
    assert compile_flags({}) == ""  # one process: the shared default compiledir, PyTensor's g++ flags
    assert compile_flags({"BAYESMIX_TEST_GXX": "fast"}) == "gcc__cxxflags=-O1 -g0"
    assert compile_flags({"PYTEST_XDIST_WORKER": "gw0", "BAYESMIX_TEST_COMPILEDIR": "shared"}) == ""
    given = "gcc__cxxflags=-O2,compiledir=/tmp/c"
    assert compile_flags({"PYTEST_XDIST_WORKER": "gw0", "PYTENSOR_FLAGS": given}) == given


def test_this_process_and_its_children_compile_with_the_test_settings():
    """The flags conftest set are PyTensor's here and in a child process (notebook kernels, CLI runs)."""
    import pytensor
    parts = os.environ["PYTENSOR_FLAGS"].split(",")
    fast = "gcc__cxxflags=-O1 -g0" in parts
    assert (pytensor.config.gcc__cxxflags.split()[:2] == ["-O1", "-g0"]) == fast
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    per_worker = any(p.startswith("compiledir_format=") and p.endswith(f"-{worker}") for p in parts)
    assert str(pytensor.config.compiledir).endswith(f"-{worker}") == per_worker
    code = "import pytensor; print(pytensor.config.compiledir, pytensor.config.gcc__cxxflags.split()[:1])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split()[0] == str(pytensor.config.compiledir), out.stdout + out.stderr
    assert ("'-O1'" in out.stdout) == fast, out.stdout
