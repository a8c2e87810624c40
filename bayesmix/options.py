"""Validation of the options several factories share (cluster, class level, integration).

One rule, one message: every factory calls these before building any graph,
so the same mistake gives the same ``ValueError`` (naming the argument and
the fix) whichever model the user asked for.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .data import check_keys
from .inference.quadrature import DEFAULT_METHOD, METHODS

CLASS_LEVELS = ("within", "between")
INTEGRATION_KEYS = ("method", "points", "seed", "adaptive")
#: the rules of normal latent effects (every method but the Dirichlet membership's Gauss-Jacobi rule)
NORMAL_METHODS = tuple(m for m in METHODS if m != "gauss-jacobi")


def check_class_level(class_level: str) -> None:
    if class_level not in CLASS_LEVELS:
        raise ValueError(f"class_level={class_level!r} is unknown; use 'within' or 'between'.")


def check_needs_cluster(cluster: str | None, options: Sequence[str]) -> None:
    """``options``: the names of the options given that need a cluster column."""
    if options and cluster is None:
        raise ValueError(f"{', '.join(options)} need{'s' if len(options) == 1 else ''} "
                         "cluster='<cluster id column>'.")


def check_between_level(class_level: str, covariates: Sequence[str] | None) -> None:
    if class_level == "between" and covariates:
        raise ValueError("a between-level class can only be predicted by cluster-level covariates (eq. 17): "
                         "pass them as cluster_covariates, not covariates.")


def check_clusters(cluster_index: np.ndarray, cluster: str, *, n_between_classes: int | None = None,
                   between_option: str = "class_level='between'", random_options: Sequence[str] = ()) -> None:
    """Cluster counts and sizes against the options that need them.

    ``n_between_classes``: classes on the cluster level (a between class, or D of section 6);
    ``random_options``: names of the random-effect options given (cluster variances).
    """
    sizes = np.bincount(cluster_index)
    n_clusters = len(sizes)
    if n_between_classes is not None and n_clusters < n_between_classes:
        raise ValueError(f"{n_clusters} clusters cannot identify {n_between_classes} between-level classes "
                         f"({between_option}); use fewer classes.")
    if random_options:
        names = " / ".join(random_options)
        if n_clusters < 2:
            raise ValueError(f"cluster {cluster!r} has a single cluster, so a cluster random-effect variance "
                             f"({names}) is not identified: drop {names} or use a column with several clusters.")
        if np.all(sizes == 1):
            raise ValueError(f"every cluster of {cluster!r} has one row, so a cluster random effect is not "
                             f"identified from the within-cluster variation: drop {names}.")


def check_integration(integration: Mapping[str, Any] | None, methods: Sequence[str] = NORMAL_METHODS) -> dict:
    """Complete and validate a quadrature setting: default trapezoid, points per dimension.

    ``methods``: the accepted methods (default: the rules of normal latent effects; the
    Dirichlet membership's ``"gauss-jacobi"`` is accepted where the model's own rule checks it).
    """
    if integration is not None and not isinstance(integration, Mapping):
        raise ValueError(f"integration must be a dict such as {{'method': 'trapezoid', 'points': 30}}, "
                         f"got {integration!r}.")
    given = dict(integration or {})
    check_keys(given, INTEGRATION_KEYS, "integration")
    out = {"method": DEFAULT_METHOD, "points": None, **given}
    if out["method"] not in methods:
        raise ValueError(f"integration method {out['method']!r} is unknown; use one of {tuple(methods)}"
                         + ("" if "gauss-jacobi" in methods else " ('gauss-jacobi' integrates a Dirichlet "
                            "membership, bm.gom(..., membership='dirichlet'))") + ".")
    points = out["points"]
    if points is not None and (isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1):
        raise ValueError(f"integration points must be an integer >= 1 (per dimension), got {points!r}.")
    return out


def check_count(value: Any, name: str, method: str, minimum: int = 1) -> None:
    """An integer argument of ``method`` that must be at least ``minimum`` (``chains``, ``draws``, ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{method}({name}=...) must be an integer >= {minimum}, got {value!r}.")


def check_keywords(given: Mapping[str, Any], accepted: Sequence[str], method: str, public: Sequence[str]) -> None:
    """Refuse keyword arguments of ``method`` that it does not take, naming the closest public one.

    ``accepted``: the names passed on through ``**kwargs``; ``public``: every
    name the user may give (listed in the message, so no private function is named).
    """
    import difflib

    unknown = [key for key in given if key not in accepted]
    if unknown:
        hints = []
        for key in unknown:
            match = difflib.get_close_matches(str(key), list(public), n=1, cutoff=0.6)
            hints.append(f"{key!r} (did you mean {match[0]!r}?)" if match else repr(key))
        raise ValueError(f"{method}() got unknown keyword argument(s) {', '.join(hints)}; "
                         f"{method} takes {sorted(set(public))}.")


def check_bool(value: Any, name: str) -> None:
    """Refuse a non-boolean for a True / False option (``"no"`` and ``1`` are not booleans)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__}); "
                         f"pass {name}=True or {name}=False.")


def check_probability(value: Any, name: str) -> None:
    """Refuse an interval probability outside (0, 1) (``hdi_prob`` / ``ci_prob``), before anything is computed."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not number or not 0 < float(value) < 1:
        raise ValueError(f"{name} must be a probability strictly between 0 and 1, e.g. {name}=0.94 for a 94% "
                         f"interval; got {value!r}.")
