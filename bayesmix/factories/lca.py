"""Moved to :mod:`bayesmix.families.lca`; this alias keeps old imports and pickles working for one release."""

from ..class_model import class_labels  # noqa: F401
from ..families.lca.factory import *  # noqa: F401,F403
from ..families.lca.factory import lca  # noqa: F401
