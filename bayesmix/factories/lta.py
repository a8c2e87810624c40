"""Moved to :mod:`bayesmix.families.lta`; this alias keeps old imports and pickles working for one release."""

from ..families.lta.factory import *  # noqa: F401,F403
from ..families.lta.model import LTAModel  # noqa: F401
from ..families.lta.reshape import long_to_wide, wide_to_long  # noqa: F401
from ..transition import TransitionModel  # noqa: F401
