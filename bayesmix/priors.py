"""Weakly informative default priors, overridable by parameter name.

A factory asks :class:`PriorSet` for each named parameter. Users override by
name with either a dict of keyword arguments for the default distribution
(``{"binary_logit": {"sigma": 3.0}}``) or a ``(distribution_name, kwargs)``
pair (``{"class_intercept": ("StudentT", {"nu": 4, "mu": 0, "sigma": 2})}``).
"""

from __future__ import annotations

from typing import Any, Mapping

import pymc as pm

#: name -> (PyMC distribution name, keyword arguments)
DEFAULT_PRIORS: dict[str, tuple[str, dict[str, Any]]] = {
    # multinomial class logits vs the last (reference) class, eq. 4
    "class_intercept": ("Normal", {"mu": 0.0, "sigma": 1.5}),
    "class_slope": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # item kernels, eq. 1-2
    "binary_logit": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "nominal_logit": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "ordinal_first_threshold": ("Normal", {"mu": -1.0, "sigma": 2.5}),
    "ordinal_log_gap": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # normal items: mean prior centred/scaled on the item (set by the kernel)
    "normal_mean": ("Normal", {"mu": 0.0, "sigma": 2.0}),
    "normal_sd": ("HalfNormal", {"sigma": 1.0}),
    # mixture regression, eq. 19: mu_c, beta_c and sqrt(theta); the factory sets data-based scales
    # (intercept Normal(mean y, 2 sd y), slope Normal(0, 2 sd y / sd x), residual SD HalfNormal(2 sd y))
    "regression_intercept": ("Normal", {"mu": 0.0, "sigma": 2.0}),
    "regression_slope": ("Normal", {"mu": 0.0, "sigma": 2.0}),
    "residual_sd": ("HalfNormal", {"sigma": 2.0}),
    # cluster random effects, eq. 5: SDs, LKJ shape for correlations, regressions on cluster covariates.
    # On class logits, HalfNormal(2.5) puts 95% prior mass on SD < 4.9, i.e. a class ICC (eq. 20)
    # below 0.88; widen with priors={"random_sd": {"sigma": 25}} when a between-level class is suspected.
    "random_sd": ("HalfNormal", {"sigma": 2.5}),
    "random_corr_eta": ("LKJ", {"eta": 2.0}),
    "random_slope": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # between-level class logits, eq. 17 / 26
    "between_class_intercept": ("Normal", {"mu": 0.0, "sigma": 1.5}),
    "between_class_slope": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # effect of the between class D on the within class C (gamma_cd of eq. 24)
    "class_between_effect": ("Normal", {"mu": 0.0, "sigma": 2.5}),
}


class PriorSet:
    """Default priors with user overrides; validates override names."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, known: set[str] | None = None):
        self.overrides = dict(overrides or {})
        known = set(DEFAULT_PRIORS) if known is None else known
        unknown = set(self.overrides) - known
        if unknown:
            raise ValueError(
                f"priors names {sorted(unknown)}, which this model does not have; "
                f"priors can be set for {sorted(known)}."
            )
        for name, spec in self.overrides.items():
            if not (isinstance(spec, Mapping) or (isinstance(spec, tuple) and len(spec) == 2)):
                raise ValueError(
                    f"priors[{name!r}] must be a dict of keyword arguments or a "
                    "(distribution_name, kwargs) pair, e.g. ('Normal', {'mu': 0, 'sigma': 2})."
                )

    def spec(self, name: str, **defaults: Any) -> tuple[str, dict[str, Any]]:
        """Distribution name and kwargs for ``name`` (defaults may be data-based)."""
        dist, kwargs = DEFAULT_PRIORS[name]
        kwargs = {**kwargs, **defaults}
        override = self.overrides.get(name)
        if isinstance(override, tuple):
            dist, kwargs = override[0], dict(override[1])
        elif override is not None:
            kwargs.update(override)
        return dist, kwargs

    def create(self, name: str, *, dims=None, **defaults: Any):
        """Create the PyMC random variable ``name`` in the current model context."""
        dist, kwargs = self.spec(name, **defaults)
        try:
            cls = getattr(pm, dist)
        except AttributeError as err:
            raise ValueError(f"priors[{name!r}]: PyMC has no distribution {dist!r}.") from err
        return cls(name, dims=dims, **kwargs)
