"""Moved to :mod:`bayesmix.families.irt`; this alias keeps old imports and pickles working for one release."""

from ..families.irt.factory import *  # noqa: F401,F403
from ..families.irt.model import ThreePLModel  # noqa: F401
from ..kernels.guessing import GuessingKernel  # noqa: F401
