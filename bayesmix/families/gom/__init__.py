"""Grade of membership: logistic-normal, restricted one-factor and Dirichlet (paper section 7, eq. 27-35)."""

from ...datasets.simulate_gom import simulate_gom
from ...registry import Family, register
from .factory import MEMBERSHIPS, gom
from .results import integration_error, membership_curves, membership_scores

__all__ = ["gom", "MEMBERSHIPS", "membership_scores", "integration_error", "membership_curves"]

register(Family("gom", gom, description="grade of membership (section 7)",
                simulators={"simulate_gom": simulate_gom},
                results={"membership_scores": membership_scores, "integration_error": integration_error,
                         "membership_curves": membership_curves}))
