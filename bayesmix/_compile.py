"""One place that decides how bayesmix compiles its own PyTensor functions.

Compilation, not computation, is what a user waits for on a first fit: with
the C (CVM) linker a first ``fit_ml`` on carcinoma (118 x 7) spent 57 s
compiling C modules, then 0.8 s when called again (the cache is per machine).
For graphs of modest size the Python implementations of the same ops (NumPy
underneath, no C to compile) give the answer at once: measured here, the same
first ``fit_ml`` took 1.7 s, at 3x the cost per evaluation (1.25 against
0.41 ms for a value and gradient at N = 5,000 x 15 items, K = 3).

``BAYESMIX_COMPILE_MODE`` chooses: ``auto`` (default) compiles with C only
when the work per evaluation (``size``: units x items x classes x quadrature
nodes, as given by the caller) exceeds :data:`PY_LIMIT`, where C's faster
evaluations repay its compile time over an ML fit's thousands of
evaluations; ``PY`` always Python thunks, and PyMC's NUTS sampler too (no C compiler
call at all: :func:`sampler_mode`); ``CVM`` (C) or ``NUMBA`` always that
PyTensor mode. Otherwise the NUTS samplers compile the model themselves (see
:mod:`bayesmix.inference.sampling`): C for PyMC's sampler, numba for nutpie.

The fast-mode notebooks run under ``PY`` in the tests
(``tests/notebook_runner.py``): CI starts from an empty compile cache, where
compiling C costs more than it saves at fast-mode sizes once NUTS runs few,
short trees (2 x (30 + 30) iterations, tree depth <= 5). Measured with an
empty cache (section 4's two-level LTA, N = 400, 15 x 15 trapezoid nodes,
load 10-24, CPU seconds): ``fit_ml`` 130 s with C against 21 s in Python;
PyMC NUTS 2 x (60 + 60) 75-92 s with C against 62 s
(``benchmarks/results/suite_cold_20261207.csv``); whole notebooks in
``benchmarks/results/notebook_fast_cpu_20261207.csv``.
"""

from __future__ import annotations

import logging
import os
import warnings

import pytensor
from pytensor.compile.mode import Mode
from pytensor.link.vm import VMLinker

# pip-installed PyTensor has no BLAS to link and says so for every compiled model; the NumPy
# C-API fallback it then uses is what the timings in benchmarks/ measured, so the notice is noise.
logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=".*could not link to a BLAS installation.*")

_SETTING = os.environ.get("BAYESMIX_COMPILE_MODE", "auto")
#: mode of the C backend, also what the PyMC sampler uses
COMPILE_MODE = "CVM" if _SETTING.upper() in ("AUTO", "PY") else _SETTING
#: above this many elements per evaluation, bayesmix's own functions are compiled to C
PY_LIMIT = 1_000_000
#: ... and above this many elements over all the calls a caller announces (``calls``: e.g. the
#: posterior draws a result is evaluated at). Measured on 2 idle cores (two-level LCA, J = 200
#: clusters of 10, 10 items, 30 trapezoid nodes: 75,580 elements per draw, 4 x 1000 draws; the
#: per-cluster ``log_likelihood`` of ``sample``): Python thunks 7.5 s, C 2.9 s plus ~2.6 s of
#: compiling with an empty cache: C repays its compile from about 2e8 elements on.
TOTAL_LIMIT = 200_000_000


def python_mode() -> Mode:
    """Python thunks (NumPy implementations), full graph rewrites without elementwise fusion."""
    return Mode(linker=VMLinker(use_cloop=False, c_thunks=False), optimizer="fast_run").excluding("fusion")


def no_c_compiler():
    """Context in which PyTensor calls no C compiler at all.

    :func:`python_mode` alone still compiles the inner graphs of some ops
    (Scan, OpFromGraph) and the ops without a Python ``perform`` to C: with
    an empty compile cache that was ~1 s of g++ per op, tens of seconds for
    one small model's ``compile_logp`` / ``compile_dlogp``. Functions compiled
    inside the context keep their Python thunks when called afterwards.
    """
    return pytensor.config.change_flags(cxx="")


def sampler_mode() -> str:
    """The mode PyMC's NUTS sampler compiles the model in: ``"PY"`` (Python thunks) under ``PY``, else C (CVM)."""
    return "PY" if _SETTING.upper() == "PY" else COMPILE_MODE


def choose_mode(size: int | None = None, calls: int = 1):
    """The mode for a function whose evaluations touch about ``size`` elements, called about ``calls`` times."""
    setting = _SETTING.upper()
    small = size is None or (size <= PY_LIMIT and size * max(1, calls) <= TOTAL_LIMIT)
    if setting == "PY" or (setting == "AUTO" and small):
        return "PY"
    return COMPILE_MODE


def function(inputs, outputs, *, size: int | None = None, calls: int = 1, **kwargs):
    """``pytensor.function`` with bayesmix's compile mode (see the module docstring).

    ``size``: elements one evaluation touches; ``calls``: about how many evaluations the caller
    will make (:func:`choose_mode`).
    """
    kwargs.setdefault("on_unused_input", "ignore")
    mode = kwargs.pop("mode", None) or choose_mode(size, calls)
    if mode == "PY":
        with no_c_compiler():
            return pytensor.function(inputs, outputs, mode=python_mode(), **kwargs)
    return pytensor.function(inputs, outputs, mode=mode, **kwargs)
