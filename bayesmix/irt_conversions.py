"""Moved to :mod:`bayesmix.families.irt.conversions`; this alias keeps old imports and pickles working for one release."""

from .families.irt.conversions import *  # noqa: F401,F403
