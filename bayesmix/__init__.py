"""bayesmix: Bayesian multilevel mixture models (Asparouhov & Muthén 2006) with PyMC."""

from . import datasets
from .factories import lca
from .model import MixtureModel

__version__ = "0.1.0"
__all__ = ["lca", "MixtureModel", "datasets", "__version__"]
