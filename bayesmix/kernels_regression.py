"""Moved to :mod:`bayesmix.kernels.regression`; this alias keeps old imports and pickles working for one release."""

from .kernels.regression import *  # noqa: F401,F403
from .kernels.regression import RegressionKernel  # noqa: F401
