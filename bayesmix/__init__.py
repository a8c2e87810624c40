"""bayesmix: Bayesian multilevel mixture models (Asparouhov & Muthén 2006) with PyMC."""

from . import _compile, datasets  # noqa: F401  (_compile sets compile options first)
from .compare import compare, loo, waic
from .loo_patterns import loo_by_pattern  # (PSIS-LOO per unique pattern, issue 11)
from .factories import lca, mixture_regression
from .inference.ml import MLResult, lrt, select_classes
from .model import MixtureModel
from .io import load, save, to_netcdf  # noqa: E402  (issue 13: workflow)
from .predict import point_posterior  # noqa: E402
from .relabel import relabel  # noqa: E402
from .fit_statistics import blrt  # noqa: E402

__version__ = "0.1.0"
__all__ = ["lca", "mixture_regression", "MixtureModel", "MLResult", "compare", "loo", "waic", "lrt", "select_classes",
           "datasets", "__version__"]
__all__ += ["save", "load", "to_netcdf", "relabel", "point_posterior", "blrt", "loo_by_pattern"]
from .factories.gom import gom  # noqa: E402  (grade of membership, section 7)
__all__ += ["gom"]
from .factories.lta import lta  # noqa: E402  (latent transition analysis, issue 8)
__all__ += ["lta"]
from .factories.fma import fma, fma_gom  # noqa: E402  (factor mixture analysis, section 8)
from .factories.irt import irt_3pl  # noqa: E402  (3PL guessing model, section 9)
from . import irt_conversions  # noqa: E402,F401
__all__ += ["fma", "fma_gom", "irt_3pl", "irt_conversions"]
from .spec import from_spec, read_spec, to_spec, write_spec  # noqa: E402  (model specs, issue 12)
from .montecarlo import montecarlo  # noqa: E402  (Monte Carlo studies on dask, issue 12)
__all__ += ["from_spec", "read_spec", "to_spec", "write_spec", "montecarlo"]
from .vlmr import vlmr  # noqa: E402  (Vuong-Lo-Mendell-Rubin test, issue 13)
__all__ += ["vlmr"]
