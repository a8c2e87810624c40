"""The family registry: every model family registers its factory and hooks here; the workflow consults it.

A *family* is one factory (``bm.lca``, ``bm.fma_gom`` ...) with what the
workflow needs to know about it: the model class it returns, the simulators
that draw data of its shape, its simulation-based calibration cases, result
functions, and capabilities. ``io``, ``spec``, ``cli``, ``predict``,
``fit_statistics``, ``montecarlo``, ``sbc`` and ``posterior_predictive`` look
families up here instead of switching on names, so a new family is one
package under ``bayesmix/families/`` plus one :func:`register` call (see
``ARCHITECTURE.md``).

This module imports nothing from bayesmix, so any layer may consult it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["Family", "MonteCarloHooks", "register", "get", "families", "factories", "simulators", "sbc_cases", "family_of"]


@dataclass(frozen=True)
class MonteCarloHooks:
    """How :func:`bayesmix.montecarlo` reads a family's simulated truth (defaults: the generic rules).

    Attributes
    ----------
    population : callable or None
        ``population(model, sim) -> {parameter name: value}``: the simulator's
        truth under the fitted parameter names (``name[label, ...]``, the
        index of ``ml.params``). Default
        :func:`bayesmix.montecarlo.population_values` of ``sim.truth``.
    true_membership : callable or None
        ``true_membership(model, sim) -> array (..., K)``: one-hot true classes
        (units x classes by default; an LTA: units x times x classes).
    membership : callable or None
        ``membership(model, fit) -> array``: the fit's class posterior in the
        shape of ``true_membership``. When given, the replication's labels are
        aligned *after* the fit (the permutation of classes that best matches
        the truth, then ML restarted from the permuted estimates so SEs are
        in the aligned labeling); without it the true membership is the
        model's label reference before the fit.
    """

    population: Callable[[Any, Any], Mapping[str, float]] | None = None
    true_membership: Callable[[Any, Any], Any] | None = None
    membership: Callable[[Any, Any], Any] | None = None


@dataclass(frozen=True)
class Family:
    """What the workflow needs to know about one factory.

    Attributes
    ----------
    name : str
        The factory's name, as specs and saved models record it (``"lca"``).
    factory : callable
        ``factory(data, ...) -> MixtureModel``.
    model_class : type or None
        The class the factory returns (``None``: :class:`~bayesmix.MixtureModel`).
    description : str
        One line for listings (paper section and equations).
    simulators : mapping
        ``name -> simulate(...)`` functions that draw data sets of this family
        (spec files name them in ``[data] simulate``).
    sbc_cases : mapping
        ``name -> make_case(**sizes) -> SBCCase`` for :mod:`bayesmix.sbc`.
    results : mapping
        ``name -> function(model, fit, **kwargs)``: family-specific result functions.
    summary_extra : callable or None
        ``summary_extra(model, fit) -> str``: text the command-line summary adds
        after the ML summary (LTA: proportions by time and transitions).
    montecarlo : bool
        Whether :func:`bayesmix.montecarlo` can map this family's simulated truth
        onto its parameters.
    montecarlo_hooks : MonteCarloHooks or None
        Family-specific truth mapping and label alignment of Monte Carlo
        replications (``None``: the generic rules).
    predict : bool
        Whether :meth:`~bayesmix.MixtureModel.predict_proba` classifies new
        rows of this family's models (the conformance test checks it).
    examples : mapping
        ``simulator name -> example(seed) -> (data, options)``: a small data set
        drawn by that simulator and the factory keyword options that fit it
        (``factory(data, **options)``); one per entry of ``simulators``. The
        conformance test (``tests/test_families.py``) and docs use them.
    option_types : mapping
        Types of factory options that :meth:`option_schema` cannot infer from
        the signature's defaults (``name -> type``); spec files are checked
        against the schema.

    Examples
    --------
    >>> from bayesmix.registry import get
    >>> fam = get("lca")
    >>> fam.accepts("cluster"), "lca" in fam.sbc_cases
    (True, True)
    """

    name: str
    factory: Callable[..., Any]
    model_class: type | None = None
    description: str = ""
    simulators: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    sbc_cases: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    results: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    summary_extra: Callable[[Any, Any], str] | None = None
    montecarlo: bool = True
    montecarlo_hooks: MonteCarloHooks | None = None
    predict: bool = True
    examples: Mapping[str, Callable[[int], tuple[Any, dict]]] = field(default_factory=dict)
    option_types: Mapping[str, Any] = field(default_factory=dict)

    def accepts(self, argument: str) -> bool:
        """Whether the factory takes the keyword ``argument`` (e.g. ``"item_types"``)."""
        return argument in inspect.signature(self.factory).parameters

    def option_schema(self) -> dict[str, Any]:
        """Keyword options of the factory (its signature but ``data``) -> expected type (``Any``: unchecked).

        Types come from ``option_types``, else from a simple default (bool,
        int, float); ``n_classes`` is an int. :mod:`bayesmix.spec` checks
        ``[model]`` tables against it.
        """
        schema: dict[str, Any] = {}
        for name, p in inspect.signature(self.factory).parameters.items():
            if name == "data" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = p.default
            if name in self.option_types:
                schema[name] = self.option_types[name]
            elif name == "n_classes":
                schema[name] = int
            elif isinstance(default, (bool, int, float)):
                schema[name] = type(default)
            else:
                schema[name] = Any
        return schema

    def required_options(self) -> list[str]:
        """Factory options without a default (besides ``data``): a spec's ``[model]`` must give them."""
        return [n for n, p in inspect.signature(self.factory).parameters.items()
                if n != "data" and p.default is inspect.Parameter.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family`` to the registry (its name must be new); returns it.

    Parameters
    ----------
    family : Family

    Returns
    -------
    Family

    Examples
    --------
    >>> from bayesmix.registry import get
    >>> get("lca").name
    'lca'
    """
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        raise ValueError(f"a family named {family.name!r} is already registered.")
    _FAMILIES[family.name] = family
    return family


def get(name: str) -> Family:
    """The registered family ``name``; a ValueError lists the known ones."""
    if name not in _FAMILIES:
        raise ValueError(f"no model family {name!r}; registered: {sorted(_FAMILIES)}.")
    return _FAMILIES[name]


def families() -> dict[str, Family]:
    """All registered families by name (registration order)."""
    return dict(_FAMILIES)


def factories() -> dict[str, Callable[..., Any]]:
    """``name -> factory`` of every registered family."""
    return {name: fam.factory for name, fam in _FAMILIES.items()}


def simulators() -> dict[str, Callable[..., Any]]:
    """``name -> simulate`` over all families."""
    out: dict[str, Callable[..., Any]] = {}
    for fam in _FAMILIES.values():
        out.update(fam.simulators)
    return out


def sbc_cases() -> dict[str, Callable[..., Any]]:
    """``case name -> make_case`` over all families."""
    out: dict[str, Callable[..., Any]] = {}
    for fam in _FAMILIES.values():
        out.update(fam.sbc_cases)
    return out


def family_of(model: Any) -> Family:
    """The family that built ``model`` (from the factory call it records, else its name)."""
    call = getattr(model, "options", {}).get("call") or {}
    return get(call.get("factory", getattr(model, "name", "")))
