"""bayesmix: Bayesian multilevel mixture models (Asparouhov & Muthén 2006) with PyMC."""

from . import _compile, datasets  # noqa: F401  (_compile sets compile options first)
from .compare import compare, loo, waic
from .curves import class_probability_curves
from . import families  # noqa: F401  (importing it registers every family)
from .families.fma import fma, fma_gom
from .families.gom import gom
from .families.irt import conversions as irt_conversions, irt_3pl
from .families.lca import lca
from .families.lta import lta
from .families.mixture_sem import mixture_sem
from .families.regression import mixture_regression
from .enumeration import ClassEnumeration, enumerate_classes
from .fit_statistics import blrt
from .inference.ml import MLResult, lrt, select_classes
from .io import load, save, to_netcdf
from .loo_patterns import loo_by_pattern
from .model import MixtureModel
from .montecarlo import montecarlo
from . import plots  # noqa: F401  (matplotlib is imported by the first plot, not here)
from .predict import point_posterior
from .relabel import relabel
from .spec import from_spec, read_spec, to_spec, write_spec
from .threestep import ThreeStepResult, classification_error, distal_outcome, three_step, three_step_bayes
from .vlmr import vlmr

__version__ = "0.1.0"
__all__ = ["lca", "mixture_sem", "mixture_regression", "lta", "gom", "fma", "fma_gom", "irt_3pl", "MixtureModel",
           "MLResult", "compare", "loo", "waic", "lrt", "select_classes", "vlmr", "blrt", "save", "load", "to_netcdf",
           "relabel", "point_posterior", "loo_by_pattern", "from_spec", "read_spec", "to_spec", "write_spec",
           "montecarlo", "datasets", "irt_conversions", "__version__"]
__all__ += ["enumerate_classes", "ClassEnumeration"]
__all__ += ["class_probability_curves"]
__all__ += ["ThreeStepResult", "classification_error", "distal_outcome", "three_step", "three_step_bayes"]
__all__ += ["plots"]
