"""The Python description of a within-level mixture SEM (eq. 2-4) and its validation.

:class:`WithinSpec` is what :func:`bayesmix.mixture_sem` builds its model
from, written the way Mplus and lavaan users write a model::

    factors     = {"f1": ["y1", "y2", "y3"],            # f1 BY y1-y3   (lavaan f1 =~ y1 + y2 + y3)
                   "i": {"y1": 1, "y2": 1, "y3": 1},    # fixed loadings: i BY y1@1 y2@1 y3@1
                   "f2": {"y4": 1, "y5": None}}         # marker: y4@1, y5 free
    regressions = {"f2": ["f1", "x1"],                  # f2 ON f1 x1   (B and Gamma of eq. 3)
                   "y1": ["x2"]}                        # y1 ON x2      (K of eq. 2, direct effect)
    class_covariates = ["x1"]                           # c ON x1       (eq. 4)
    class_specific = ("loadings",)                      # what varies over classes besides the factor means

Everything here is plain Python: :func:`parse` checks the description
against the item and column names and raises a ``ValueError`` naming the
argument and the fix before any PyMC model exists.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["CLASS_SPECIFIC", "FACTOR_KINDS", "RANDOM_COVARIANCES", "RANDOM_KEYS", "RandomTerm", "WithinSpec",
           "check_item_kinds", "parse", "parse_random"]

#: parameter groups that may vary over classes (factor means always do, see the identification rules)
CLASS_SPECIFIC = ("intercepts", "loadings", "variances", "regressions", "covariate_effects",
                  "item_covariate_effects", "residual_variances")

#: keys of ``random=`` (eq. 5): which within-model parameters vary over clusters, and how they covary
RANDOM_KEYS = ("intercepts", "slopes", "loadings", "regressions", "covariance")

#: ``random["covariance"]``: independent effects, a full covariance (Cholesky), or one between-level factor
RANDOM_COVARIANCES = {"diagonal": "diagonal", "full": "cholesky", "factor": "factor"}

#: how a factor's scale is set: "standardized" (all loadings free: variance 1, first loading positive),
#: "marker" (a nonzero fixed loading, others free: variance free), "fixed" (all loadings fixed: growth factor)
FACTOR_KINDS = ("standardized", "marker", "fixed")


@dataclass(frozen=True)
class RandomTerm:
    """One cluster random coefficient (eq. 5) of a within-model parameter, written lavaan style.

    ``kind``: ``"intercept"`` (item intercept nu_j, eq. 2; ``lhs`` an item), ``"mean"``
    (factor intercept mu, eq. 3; ``lhs`` a factor), ``"slope"`` (Gamma: factor ``lhs`` on
    covariate ``rhs``, eq. 3), ``"regression"`` (B: factor ``lhs`` on factor ``rhs``),
    ``"direct"`` (K: item ``lhs`` on covariate ``rhs``, eq. 2), ``"loading"`` (Lambda:
    factor ``lhs`` measured by item ``rhs``, eq. 2).
    """

    kind: str
    lhs: str
    rhs: str = ""

    @property
    def label(self) -> str:
        """``y1~1``, ``f1~1``, ``f1~x1``, ``f2~f1``, ``y1~x2``, ``f1=~y2``."""
        if self.kind in ("intercept", "mean"):
            return f"{self.lhs}~1"
        if self.kind == "loading":
            return f"{self.lhs}=~{self.rhs}"
        return f"{self.lhs}~{self.rhs}"


@dataclass(frozen=True)
class WithinSpec:
    """A validated within-level model (eq. 2-4); see the module docstring.

    Attributes
    ----------
    items : tuple of str
    factors : dict factor -> {item: fixed loading or None (free)}
    factor_regressions : list of (factor, factor) -- B: lhs ON rhs
    covariate_effects : list of (factor, covariate) -- Gamma: factor ON covariate
    item_covariate_effects : list of (item, covariate) -- K: item ON covariate
    class_covariates : tuple of str -- eq. 4
    class_specific : frozenset of :data:`CLASS_SPECIFIC`
    zero_variance : frozenset of factors with variance 0 (latent class growth analysis)
    orthogonal : exogenous factors uncorrelated
    random : tuple of :class:`RandomTerm` -- cluster random coefficients (eq. 5), empty for one level
    random_covariance : ``"diagonal"``, ``"full"`` or ``"factor"`` (see :data:`RANDOM_COVARIANCES`)
    random_regressions : list of (label, label) -- B of eq. 5 among the random coefficients (lhs ON rhs)
    """

    items: tuple
    factors: dict
    factor_regressions: list = field(default_factory=list)
    covariate_effects: list = field(default_factory=list)
    item_covariate_effects: list = field(default_factory=list)
    class_covariates: tuple = ()
    class_specific: frozenset = frozenset()
    zero_variance: frozenset = frozenset()
    orthogonal: bool = False
    random: tuple = ()
    random_covariance: str = "diagonal"
    random_regressions: list = field(default_factory=list)

    # ------------------------------------------------------------------ derived
    @property
    def factor_names(self) -> list[str]:
        return list(self.factors)

    @property
    def n_factors(self) -> int:
        return len(self.factors)

    def kind(self, factor: str) -> str:
        """One of :data:`FACTOR_KINDS` (how the factor's scale and mean are identified)."""
        values = list(self.factors[factor].values())
        if all(v is None for v in values):
            return "standardized"
        if all(v is not None for v in values):
            return "fixed"
        return "marker"

    @property
    def random_factors(self) -> list[str]:
        """Factors with a (residual) variance: the dimensions integrated by quadrature / sampled by NUTS."""
        return [f for f in self.factors if f not in self.zero_variance]

    @property
    def endogenous(self) -> set[str]:
        return {lhs for lhs, _ in self.factor_regressions}

    @property
    def covariates(self) -> list[str]:
        """Every covariate column the model uses (class, factors, items), in first-use order."""
        out: list[str] = []
        for name in [*self.class_covariates, *(x for _, x in self.covariate_effects),
                     *(x for _, x in self.item_covariate_effects)]:
            if name not in out:
                out.append(name)
        return out

    def indicators(self, factor: str) -> list[str]:
        return list(self.factors[factor])

    def growth_items(self) -> list[str]:
        """Indicators of fixed-loading (growth) factors: their intercepts are fixed at 0."""
        return [i for i in self.items if any(i in self.factors[f] and self.kind(f) == "fixed" for f in self.factors)]

    def invariant_intercept_items(self) -> list[str]:
        """Indicators of other factors whose intercepts are held equal over classes (default)."""
        if "intercepts" in self.class_specific:
            return []
        growth = set(self.growth_items())
        return [i for i in self.items if i not in growth
                and any(i in self.factors[f] and self.kind(f) != "fixed" for f in self.factors)]

    def free_mean(self, factor: str, class_index: int) -> bool:
        """Whether factor mean (structural intercept) mu_c of ``factor`` is free in class ``class_index``."""
        if self.kind(factor) == "fixed":
            return True
        if "intercepts" in self.class_specific:
            return False
        return class_index > 0

    def describe(self) -> str:
        """The model in Mplus-like syntax (one statement a line)."""
        lines = []
        for f, loads in self.factors.items():
            parts = [f"{i}@{v:g}" if v is not None else i for i, v in loads.items()]
            lines.append(f"{f} BY {' '.join(parts)};")
        for lhs, rhs in [*self.factor_regressions, *self.covariate_effects, *self.item_covariate_effects]:
            lines.append(f"{lhs} ON {rhs};")
        for f in self.zero_variance:
            lines.append(f"{f}@0;")
        if self.class_covariates:
            lines.append(f"c ON {' '.join(self.class_covariates)};")
        if self.random:
            lines.append(f"! random over clusters (eq. 5, {self.random_covariance} covariance): "
                         f"{', '.join(t.label for t in self.random)}")
        if self.class_specific:
            lines.append(f"! class-specific: {', '.join(sorted(self.class_specific))} (and factor means)")
        else:
            lines.append("! class-specific: factor means only")
        return "\n".join(lines)


# --------------------------------------------------------------------------- validation
def _names(value: Any, argument: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{argument} must be a list of names, e.g. ['y1', 'y2']; got {value!r}.")
    return list(value)


def _cycle(edges: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle among the nodes of ``edges`` (lhs -> rhs), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in edges:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def parse(items: Sequence[str], columns: Sequence[str], n_classes: int, *,
          factors: Mapping[str, Any] | None = None, regressions: Mapping[str, Any] | None = None,
          class_covariates: Sequence[str] | None = None, class_specific: Sequence[str] = (),
          zero_variance: bool | Sequence[str] = (), orthogonal: bool = False,
          item_kinds: Mapping[str, str] | None = None) -> WithinSpec:
    """Validate the description of :func:`bayesmix.mixture_sem` and return a :class:`WithinSpec`.

    ``columns``: the data's column names (covariates must be among them);
    ``item_kinds``: item -> ``"binary" | "ordinal" | "nominal" | "continuous"`` (after encoding).
    """
    items = tuple(items)
    columns = set(columns)
    # ---- factors (measurement, eq. 2)
    if factors is None:
        factors = {}
    if not isinstance(factors, Mapping):
        raise ValueError("factors must be a dict factor -> indicators, e.g. {'f1': ['y1', 'y2', 'y3']} "
                         f"(Mplus 'f1 BY y1-y3'); got {type(factors).__name__}.")
    parsed: dict[str, dict[str, float | None]] = {}
    for f, spec in factors.items():
        if not isinstance(f, str) or not f.isidentifier():
            raise ValueError(f"factors: the factor name {f!r} must be an identifier string such as 'f1'.")
        if f in items or f in columns:
            raise ValueError(f"factors: the factor name {f!r} is also a column of the data; rename the factor.")
        if isinstance(spec, Mapping):
            loads = {}
            for item, value in spec.items():
                if value is None or value == "free":
                    loads[item] = None
                elif isinstance(value, numbers.Real) and not isinstance(value, bool):
                    loads[item] = float(value)
                else:
                    raise ValueError(f"factors[{f!r}][{item!r}] = {value!r}: a loading is a number (fixed, Mplus "
                                     "'@') or None (free).")
        else:
            loads = {item: None for item in _names(spec, f"factors[{f!r}]")}
        if not loads:
            raise ValueError(f"factors[{f!r}] has no indicator: a factor needs at least one item that loads on it; "
                             f"give its items, e.g. factors={{{f!r}: ['y1', 'y2', 'y3']}}, or drop it.")
        unknown = [i for i in loads if i not in items]
        if unknown:
            raise ValueError(f"factors[{f!r}]: {unknown} are not among items {list(items)}; add them to items= "
                             "or fix the names.")
        parsed[f] = loads
    # ---- regressions (structural, eq. 3; direct effects, eq. 2)
    b_paths, gamma_paths, k_paths = [], [], []
    for lhs, rhs in (regressions or {}).items():
        rhs = _names(rhs, f"regressions[{lhs!r}]")
        if lhs not in parsed and lhs not in items:
            raise ValueError(f"regressions[{lhs!r}]: {lhs!r} is neither a factor {list(parsed)} nor an item; "
                             "the left side of a regression is a factor (eq. 3) or an item (direct effect, eq. 2).")
        for x in rhs:
            if x in parsed:
                if lhs in items:
                    raise ValueError(f"regressions[{lhs!r}] = [..., {x!r}]: an item on a factor is a loading; put "
                                     f"{lhs!r} under factors[{x!r}] instead.")
                b_paths.append((lhs, x))
            elif x in items:
                raise ValueError(f"regressions[{lhs!r}]: {x!r} is an item; a regression's right side is a factor "
                                 "or a covariate column (items are outcomes of the factors).")
            elif x not in columns:
                raise ValueError(f"regressions[{lhs!r}]: the covariate {x!r} is not a column of the data; add the "
                                 "column or fix the name.")
            elif lhs in parsed:
                gamma_paths.append((lhs, x))
            else:
                k_paths.append((lhs, x))
    for group in (b_paths, gamma_paths, k_paths):
        dup = sorted({p for p in group if group.count(p) > 1})
        if dup:
            raise ValueError(f"regressions: {dup} given twice; name each path once.")
    edges: dict[str, list[str]] = {}
    for lhs, rhs in b_paths:
        edges.setdefault(lhs, []).append(rhs)
    cycle = _cycle(edges)
    if cycle:
        raise ValueError(f"regressions among factors are cyclic ({' ON '.join(cycle)}): B must be acyclic "
                         "(a recursive model); drop one of these paths.")
    # ---- class model (eq. 4)
    class_covariates = _names(list(class_covariates or []), "class_covariates")
    bad = [c for c in class_covariates if c not in columns]
    if bad:
        raise ValueError(f"class_covariates {bad} are not columns of the data; add the columns or fix the names.")
    bad = [c for c in class_covariates if c in items]
    if bad:
        raise ValueError(f"class_covariates {bad} are items; a column is either an item or a covariate.")
    # ---- options
    class_specific = _names(list(class_specific or []), "class_specific")
    unknown = [c for c in class_specific if c not in CLASS_SPECIFIC]
    if unknown:
        raise ValueError(f"class_specific={unknown} unknown; choose among {list(CLASS_SPECIFIC)} (factor means "
                         "are class-specific always).")
    if class_specific and n_classes < 2:
        raise ValueError(f"class_specific={class_specific} needs n_classes >= 2.")
    if zero_variance is True:
        zero = list(parsed)
    elif zero_variance is False or zero_variance is None:
        zero = []
    else:
        zero = _names(list(zero_variance), "zero_variance")
    unknown = [f for f in zero if f not in parsed]
    if unknown:
        raise ValueError(f"zero_variance={unknown}: not factors {list(parsed)}.")
    if not isinstance(orthogonal, bool):
        raise ValueError(f"orthogonal must be True or False, got {orthogonal!r}.")
    spec = WithinSpec(items=items, factors=parsed, factor_regressions=b_paths, covariate_effects=gamma_paths,
                      item_covariate_effects=k_paths, class_covariates=tuple(class_covariates),
                      class_specific=frozenset(class_specific), zero_variance=frozenset(zero), orthogonal=orthogonal)
    _check_identification(spec, n_classes, item_kinds or {})
    return spec


def check_item_kinds(spec: WithinSpec, kinds: Mapping[str, str]) -> None:
    """Nominal items cannot load on a factor or take a direct covariate effect (no single latent response)."""
    shifted = {i for f in spec.factors for i in spec.factors[f]} | {i for i, _ in spec.item_covariate_effects}
    shifted |= {t.lhs for t in spec.random if t.kind == "intercept"}
    nominal = sorted(i for i in shifted if kinds.get(i) == "nominal")
    if nominal:
        raise ValueError(f"items {nominal} are nominal: a factor or covariate shifts one latent response, which "
                         "nominal items lack; declare them 'ordinal' or 'binary' with item_types=, or leave them "
                         "out of factors= / regressions= (they can still indicate the classes).")


def _check_identification(spec: WithinSpec, n_classes: int, kinds: Mapping[str, str]) -> None:
    """The identification rules of :func:`bayesmix.mixture_sem` (module docstring of its factory)."""
    check_item_kinds(spec, kinds)
    specific = spec.class_specific
    for f, loads in spec.factors.items():
        kind = spec.kind(f)
        if kind != "standardized" and all(v == 0.0 for v in loads.values() if v is not None) \
                and all(v is not None for v in loads.values()):
            raise ValueError(f"factors[{f!r}]: every loading is fixed at 0, so the factor measures nothing; fix "
                             "one loading at a nonzero value or leave loadings free (None).")
        if kind == "marker" and not any(v not in (None, 0.0) for v in loads.values()):
            raise ValueError(f"factors[{f!r}]: the fixed loadings are all 0, so nothing sets the factor's scale; "
                             "fix one loading at 1 (marker) or leave all loadings free (variance 1).")
        if kind == "standardized" and len(loads) < 2:
            raise ValueError(f"factors[{f!r}] has one free loading: with a single indicator the loading and the "
                             "item's residual are not identified; add indicators or fix the loading, e.g. "
                             f"factors={{{f!r}: {{{next(iter(loads))!r}: 1.0}}}}.")
        if kind == "standardized" and f in spec.zero_variance:
            raise ValueError(f"zero_variance: {f!r} has only free loadings, so with variance 0 its scale is not "
                             "identified; fix its loadings (growth factor) or give it a variance.")
        if kind == "standardized" and "variances" in specific and "loadings" in specific:
            raise ValueError(f"class_specific has both 'loadings' and 'variances': factor {f!r} (all loadings "
                             "free) has variance 1 in every class then (its class variance is absorbed by its "
                             "loadings); drop 'variances' or fix a marker loading.")
    standardized = [f for f in spec.factors if spec.kind(f) == "standardized"]
    for a in range(len(standardized)):
        for b in range(a + 1, len(standardized)):
            fa, fb = standardized[a], standardized[b]
            if set(spec.factors[fa]) == set(spec.factors[fb]):
                raise ValueError(f"factors {fa!r} and {fb!r} have the same indicators and only free loadings: "
                                 "the pattern is unidentified (any rotation of the two fits equally); fix a "
                                 f"loading at 0, e.g. factors[{fb!r}] = {{..., "
                                 f"{next(iter(spec.factors[fb]))!r}: 0.0}}, or give them distinct indicators.")
    if spec.n_factors and n_classes >= 2 and "intercepts" in specific:
        pass  # factor means 0 in every class (FMA): the class differences sit in the intercepts
    for f in spec.factors:
        if spec.kind(f) == "fixed" and "intercepts" in specific:
            raise ValueError(f"class_specific='intercepts' with the growth factor {f!r} (all loadings fixed): its "
                             "indicators' intercepts are fixed at 0 and its means carry the classes; drop "
                             "'intercepts'.")


def _pairs(value: Any, argument: str, example: str) -> list[tuple[str, str]]:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{argument} must be a list of (left, right) pairs, e.g. {example}; got {value!r}.")
    out = []
    for pair in value:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, str) for v in pair)):
            raise ValueError(f"{argument}: {pair!r} is not a (left, right) pair of names, e.g. {example}.")
        out.append((pair[0], pair[1]))
    return out


def parse_random(random: Mapping[str, Any] | None, spec: WithinSpec) -> WithinSpec:
    """Validate ``random=`` of :func:`bayesmix.mixture_sem` against ``spec``; the spec with its random terms.

    ``random`` (eq. 5; Mplus ``%BETWEEN%`` / ``s | f ON x``, lavaan ``level: 2``)::

        {"intercepts": ["y1", "y2", "f1"],   # random item intercepts nu_j (items), factor intercept mu (factors)
         "slopes": [("f1", "x1"),            # random Gamma: f1 ON x1 (the path must be in regressions=)
                    ("f2", "f1"),            # random B: f2 ON f1
                    ("y3", "x2")],           # random direct effect K: y3 ON x2
         "loadings": [("f1", "y2")],         # random loading: f1 BY y2
         "regressions": {"f1~x1": ["f1~1"]}, # B of eq. 5: the random slope on the random intercept (labels)
         "covariance": "diagonal"}           # or "full" (correlated), "factor" (one between-level factor)

    Labels of the random coefficients: ``y1~1`` (item intercept), ``f1~1`` (factor
    intercept), ``f1~x1`` / ``f2~f1`` / ``y3~x2`` (slopes), ``f1=~y2`` (loading).

    Each named parameter becomes its class-specific (or invariant) value plus a
    cluster deviation u_j = Gamma_w' w_j + Lambda_u z_j (eq. 5; w_j the
    ``cluster_covariates``), the same deviation in every class.
    """
    if random is None:
        return spec
    if not isinstance(random, Mapping):
        raise ValueError("random must be a dict such as {'intercepts': ['y1', 'y2'], 'slopes': [('f1', 'x1')]} "
                         f"(cluster random coefficients, eq. 5); got {type(random).__name__}.")
    unknown = [k for k in random if k not in RANDOM_KEYS]
    if unknown:
        raise ValueError(f"random: unknown key(s) {unknown}; use {list(RANDOM_KEYS)}, e.g. "
                         "random={'intercepts': ['y1'], 'slopes': [('f1', 'x1')], 'loadings': [('f1', 'y2')]}.")
    factors, items = spec.factors, spec.items
    terms: list[RandomTerm] = []
    for name in _names(list(random.get("intercepts", []) or []) if not isinstance(random.get("intercepts"), str)
                       else [random["intercepts"]], "random['intercepts']"):
        if name in factors:
            terms.append(RandomTerm("mean", name))
        elif name in items:
            terms.append(RandomTerm("intercept", name))
        else:
            raise ValueError(f"random['intercepts']: {name!r} is neither an item {list(items)} nor a factor "
                             f"{list(factors)}; name the items whose intercepts (eq. 2) or the factors whose "
                             "intercepts (eq. 3) vary over clusters.")
    paths = {"slope": spec.covariate_effects, "regression": spec.factor_regressions,
             "direct": spec.item_covariate_effects}
    for lhs, rhs in _pairs(random.get("slopes", []) or [], "random['slopes']", "[('f1', 'x1')]"):
        kind = next((k for k, p in paths.items() if (lhs, rhs) in p), None)
        if kind is None:
            raise ValueError(f"random['slopes']: ({lhs!r}, {rhs!r}) is not a regression of the model; a random "
                             f"slope varies a path that is there: add it, regressions={{{lhs!r}: [{rhs!r}]}}, "
                             "or fix the names.")
        terms.append(RandomTerm(kind, lhs, rhs))
    for f, item in _pairs(random.get("loadings", []) or [], "random['loadings']", "[('f1', 'y2')]"):
        if f not in factors or item not in factors[f]:
            raise ValueError(f"random['loadings']: ({f!r}, {item!r}) is not a loading of the model (factors: "
                             f"{ {k: list(v) for k, v in factors.items()} }); give (factor, item) pairs of factors=.")
        terms.append(RandomTerm("loading", f, item))
    labels = [t.label for t in terms]
    dup = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dup:
        raise ValueError(f"random: {dup} given twice; name each random coefficient once.")
    if not terms:
        raise ValueError("random names no parameter; give e.g. random={'intercepts': ['y1']}, or drop random= "
                         "(and cluster=) for a one-level model.")
    covariance = random.get("covariance", "diagonal")
    if covariance not in RANDOM_COVARIANCES:
        raise ValueError(f"random['covariance'] = {covariance!r}; use one of {list(RANDOM_COVARIANCES)} "
                         "(independent effects, correlated effects, one between-level factor).")
    if covariance == "factor" and len(terms) < 2:
        raise ValueError("random['covariance'] = 'factor' needs at least two random coefficients (one between "
                         "factor loading on them); with one, use 'diagonal'.")
    paths: list[tuple[str, str]] = []
    given = random.get("regressions") or {}
    if not isinstance(given, Mapping):
        raise ValueError("random['regressions'] must be a dict label -> list of labels, e.g. {'f1~x1': ['f1~1']} "
                         f"(B of eq. 5 among the random coefficients {labels}); got {given!r}.")
    for lhs, rhs in given.items():
        for r in _names(rhs, f"random['regressions'][{lhs!r}]"):
            bad = [v for v in (lhs, r) if v not in labels]
            if bad:
                raise ValueError(f"random['regressions']: {bad} are not random coefficients of this model; use "
                                 f"their labels {labels}.")
            if r == lhs or (lhs, r) in paths:
                raise ValueError(f"random['regressions']: {lhs!r} ON {r!r} is a self-loop or given twice.")
            paths.append((lhs, r))
    if paths:
        if covariance != "diagonal":
            raise ValueError("random['regressions'] (B of eq. 5) needs random['covariance'] = 'diagonal': the "
                             "regressions carry the covariances of the random coefficients.")
        edges: dict[str, list[str]] = {}
        for lhs, r in paths:
            edges.setdefault(lhs, []).append(r)
        cycle = _cycle(edges)
        if cycle:
            raise ValueError(f"random['regressions'] are cyclic ({' ON '.join(cycle)}); drop one of these paths.")
        order: list[str] = []  # predictors before the coefficients regressed on them
        def place(label):
            if label in order:
                return
            for r in edges.get(label, []):
                place(r)
            order.append(label)
        for label in labels:
            place(label)
        terms = sorted(terms, key=lambda t: order.index(t.label))
    return replace(spec, random=tuple(terms), random_covariance=covariance, random_regressions=paths)
