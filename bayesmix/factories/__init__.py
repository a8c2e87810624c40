"""Moved to :mod:`bayesmix.families` (one package per family); these aliases keep old imports working for one release."""

from ..families.fma import fma, fma_gom
from ..families.gom import gom
from ..families.irt import irt_3pl
from ..families.lca import lca
from ..families.lta import lta
from ..families.regression import mixture_regression

__all__ = ["lca", "mixture_regression", "gom", "lta", "fma", "fma_gom", "irt_3pl"]
