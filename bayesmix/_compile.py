"""One place that decides how bayesmix compiles its own PyTensor functions.

Measured here (pytensor 3.3, 2-core machine, carcinoma LCA): the C/CVM
linker's cache is shared across models of different shapes, so after the
first model later models compile in seconds (cold: 72 s then +4 s), while
numba recompiled per model (85 s then +36 s); one value+gradient evaluation
took 0.03 ms (CVM) against 0.24 ms (numba). Override with the environment
variable ``BAYESMIX_COMPILE_MODE`` (e.g. ``NUMBA``).
"""

from __future__ import annotations

import logging
import os
import warnings

import pytensor

# pip-installed PyTensor has no BLAS to link and says so for every compiled model; the NumPy
# C-API fallback it then uses is what the timings in benchmarks/ measured, so the notice is noise.
logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=".*could not link to a BLAS installation.*")

COMPILE_MODE = os.environ.get("BAYESMIX_COMPILE_MODE", "CVM")


def function(inputs, outputs, **kwargs):
    """``pytensor.function`` with bayesmix's compile mode."""
    kwargs.setdefault("on_unused_input", "ignore")
    kwargs.setdefault("mode", COMPILE_MODE)
    return pytensor.function(inputs, outputs, **kwargs)
