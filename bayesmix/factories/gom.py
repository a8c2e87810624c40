"""Moved to :mod:`bayesmix.families.gom`; this alias keeps old imports and pickles working for one release."""

from ..families.gom.factory import *  # noqa: F401,F403
from ..families.gom.results import integration_error, membership_curves, membership_scores  # noqa: F401
from ..latent.dirichlet import DirichletMembership  # noqa: F401
