"""Moved to :mod:`bayesmix.families.lta.results`; this alias keeps old imports and pickles working for one release."""

from .families.lta.results import *  # noqa: F401,F403
