"""Moved to :mod:`bayesmix.families.regression`; this alias keeps old imports and pickles working for one release."""

from ..families.regression.factory import *  # noqa: F401,F403
from ..families.regression.factory import mixture_regression  # noqa: F401
