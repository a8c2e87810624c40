"""Weakly informative default priors, overridable by parameter name.

A factory asks :class:`PriorSet` for each named parameter. Users override by
name with either a dict of keyword arguments for the default distribution
(``{"binary_logit": {"sigma": 3.0}}``) or a ``(distribution_name, kwargs)``
pair (``{"class_intercept": ("StudentT", {"nu": 4, "mu": 0, "sigma": 2})}``).

Overrides are checked when the :class:`PriorSet` is made, before any model is
built: the name must be a parameter the factory knows, the distribution must
exist in PyMC and every keyword must be one of the distribution's (a typo such
as ``"sgima"`` names the closest valid keyword). After the model is built,
:meth:`PriorSet.check_unused` refuses overrides for parameters this
particular model does not have (e.g. ``random_sd`` without random effects).
"""

from __future__ import annotations

import difflib
import inspect
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
    "ordinal_location": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "ordinal_restricted_log_gap": ("Normal", {"mu": 0.0, "sigma": 1.0}),
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
    # factor form of a latent block (eq. 35): loadings after the first (the first is an SD-like
    # positive loading with the random_sd prior); regressions among effects (B of eq. 5, eq. 15)
    "random_loading": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    "random_regression": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # Dirichlet GoM membership concentration a_k (Erosheva): mean 1, 95% in (0.12, 2.8)
    "membership_concentration": ("Gamma", {"alpha": 2.0, "beta": 2.0}),
    # between-level class logits, eq. 17 / 26
    "between_class_intercept": ("Normal", {"mu": 0.0, "sigma": 1.5}),
    "between_class_slope": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # effect of the between class D on the within class C (gamma_cd of eq. 24)
    "class_between_effect": ("Normal", {"mu": 0.0, "sigma": 2.5}),
}


#: what a prior override needs in the model, for the message of :meth:`PriorSet.check_unused`
_NEEDS = {
    "class_slope": "covariates=[...]",
    "binary_logit": "a binary item",
    "nominal_logit": "a nominal item",
    "ordinal_first_threshold": "an ordinal item",
    "ordinal_log_gap": "an ordinal item with three or more categories",
    "ordinal_location": "an item declared 'ordinal-restricted'",
    "ordinal_restricted_log_gap": "an item declared 'ordinal-restricted' with three or more categories",
    "normal_mean": "a continuous item",
    "normal_sd": "a continuous item",
    "random_sd": "cluster random effects (e.g. cluster=... with random_intercept=True)",
    "random_corr_eta": "two or more correlated random effects (e.g. random_intercept=True with n_classes >= 3)",
    "random_slope": "random effects regressed on cluster_covariates",
    "between_class_intercept": "between-level classes (n_between_classes=...)",
    "between_class_slope": "between-level classes with cluster_covariates",
    "class_between_effect": "within and between classes (n_between_classes=...)",
}


def _closest(word: str, choices) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def valid_keywords(dist: str, default: tuple[str, dict[str, Any]]) -> set[str] | None:
    """Keyword arguments of PyMC distribution ``dist``; None when they cannot be told."""
    default_dist, default_kwargs = default
    cls = getattr(pm, dist, None)
    if cls is None or not hasattr(cls, "dist"):
        return set(default_kwargs) if dist == default_dist else None
    try:
        params = inspect.signature(cls.dist).parameters.values()
    except (TypeError, ValueError):
        return None
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"cls", "self"}
    return names or None


class PriorSet:
    """Default priors with user overrides; validates override names and keywords.

    ``extra``: a family's own parameter names and their default priors (e.g.
    LTA's transition logits), known and overridable like :data:`DEFAULT_PRIORS`.
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None, known: set[str] | None = None,
                 extra: Mapping[str, tuple[str, dict[str, Any]]] | None = None):
        self.extra = dict(extra or {})
        if overrides is not None and not isinstance(overrides, Mapping):
            raise ValueError(
                f"priors must be a dict of parameter name -> override, e.g. "
                f"{{'binary_logit': {{'sigma': 3}}}}, got {type(overrides).__name__}."
            )
        self.overrides = dict(overrides or {})
        self._asked: set[str] = set()
        known = set(DEFAULT_PRIORS) | set(self.extra) if known is None else set(known)
        unknown = set(self.overrides) - known
        if unknown:
            hints = "".join(_closest(name, known) for name in sorted(unknown))
            raise ValueError(
                f"priors names {sorted(unknown)}, which this model does not have{hints}; "
                f"priors can be set for {sorted(known)}."
            )
        for name, spec in self.overrides.items():
            if not (isinstance(spec, Mapping) or (isinstance(spec, tuple) and len(spec) == 2)):
                raise ValueError(
                    f"priors[{name!r}] must be a dict of keyword arguments or a "
                    "(distribution_name, kwargs) pair, e.g. ('Normal', {'mu': 0, 'sigma': 2})."
                )
            self._check_keywords(name, spec)

    def _check_keywords(self, name: str, spec: Any) -> None:
        default = self.extra.get(name) or DEFAULT_PRIORS.get(name, ("Normal", {}))
        if isinstance(spec, tuple):
            dist, kwargs = spec
            if not isinstance(dist, str) or not isinstance(kwargs, Mapping):
                raise ValueError(
                    f"priors[{name!r}] must be a (distribution_name, kwargs) pair with a string and a dict, "
                    f"e.g. ('Normal', {{'mu': 0, 'sigma': 2}}); got {spec!r}."
                )
            if dist != default[0] and not hasattr(getattr(pm, dist, None), "dist"):
                raise ValueError(f"priors[{name!r}]: PyMC has no distribution {dist!r}{_closest(dist, dir(pm))}.")
        else:
            dist, kwargs = default[0], spec
        valid = valid_keywords(dist, default)
        if valid is None:
            return
        bad = [key for key in kwargs if key not in valid]
        if bad:
            hints = "".join(_closest(key, valid) for key in bad)
            raise ValueError(
                f"priors[{name!r}] has keyword(s) {bad} that {dist} does not take{hints}; "
                f"valid keywords: {sorted(valid)}."
            )

    def unused(self) -> list[str]:
        """Overridden names the model never asked for (call after the model is built)."""
        return sorted(set(self.overrides) - self._asked)

    def check_unused(self) -> None:
        """Refuse overrides for parameters this model does not have (call after the model is built).

        Building a PyMC model compiles nothing, so this still fails before any compilation.
        """
        unused = self.unused()
        if unused:
            needs = "; ".join(f"{name} needs {_NEEDS[name]}" for name in unused if name in _NEEDS)
            raise ValueError(
                f"priors names {unused}, but this model has no such parameter"
                f"{' (' + needs + ')' if needs else ''}; remove them from priors. "
                f"This model's priors: {sorted(self._asked)}."
            )

    def defaults_for(self, name: str) -> tuple[str, dict[str, Any]]:
        """The default (distribution, kwargs) of ``name`` (a family's ``extra`` first)."""
        return self.extra[name] if name in self.extra else DEFAULT_PRIORS[name]

    def spec(self, name: str, **defaults: Any) -> tuple[str, dict[str, Any]]:
        """Distribution name and kwargs for ``name`` (defaults may be data-based)."""
        self._asked.add(name)
        dist, kwargs = self.defaults_for(name)
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
