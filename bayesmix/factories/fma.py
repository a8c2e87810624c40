"""Moved to :mod:`bayesmix.families.fma`; this alias keeps old imports and pickles working for one release."""

from ..families.fma.factory import *  # noqa: F401,F403
from ..families.fma.model import *  # noqa: F401,F403
from ..families.fma.model import FactorMixtureModel  # noqa: F401
from ..latent.factor import PersonFactor  # noqa: F401
