"""Mplus-style random starts (``STARTS = N M``) for ML and MAP.

N random starting sets (drawn by the model's ``random_start``) each get a
short optimization; the M best are then optimized to convergence. The best
solution is reported with how many of the M final runs reached it (within
``tol`` in log-likelihood), so users see whether the best LL was replicated.

A final run repeats another when both started from the same initial-stage
solution: M final runs fed by initial-stage optimizations that had already
reached one point (equal initial-stage values within ``tol``) explore one
basin, not M. So the final stage takes the best of each distinct
initial-stage solution before any repeat (:func:`select_final`), and the
report counts the distinct initial-stage solutions that fed the final stage
and calls the best value replicated only when it was reached from at least
two of them (``n_replicated``; the raw count of final runs is ``n_reached``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from .em import CategoricalEM, supported as em_supported

from .objective import flat_model
from .._warn import PACKAGE_FRAMES


@dataclass
class StartReport:
    """Outcome of the random starts, as Mplus prints it, with the basins the final stage explored.

    Initial-stage solutions with values within ``tol`` count as one solution
    (one basin). ``n_replicated``: distinct initial-stage solutions from
    which a final run reached the best value (final runs from one basin
    count once; when the initial stage found a single solution, every start
    agreed and each final run counts), or, if more, the different random
    starts that had already converged to the best solution in the initial
    stage (identical starts count once); ``n_reached``: final runs that reached
    the best value; ``n_distinct``: distinct initial-stage solutions among
    the ``n_final`` fed to the final stage; ``n_basins``: distinct solutions
    the initial stage found; ``n_starts_behind``: random starts whose
    initial-stage solution led to the best value.

    The replication count has one meaning wherever it is printed
    (:attr:`replication`, ``ml.summary()``, ``fit_table``, the CLI): the
    best LL was reached from ``n_replicated`` of the ``n_initial`` starting
    sets (random and given), "k of n" with k <= n. ``n_reached`` of
    ``n_final`` counts final-stage optimizations, and is printed only as such.
    """

    n_initial: int
    n_final: int
    final_values: np.ndarray  # objective (LL or log posterior) of each final run, best first
    n_replicated: int
    tol: float
    n_reached: int | None = None
    n_distinct: int | None = None
    n_basins: int | None = None
    n_starts_behind: int | None = None
    #: starts from smaller models' solutions among ``n_initial`` (section 10; :func:`nested_seed_starts`)
    n_seeded: int = 0
    #: ... of which reached the best value
    n_seeded_behind: int = 0

    def __post_init__(self):
        if self.n_reached is None:
            self.n_reached = self.n_replicated
        if self.n_distinct is None:
            self.n_distinct = self.n_final

    @property
    def replication(self) -> str:
        """The best value's replication, "k of n": reached from k of the n starting sets (k <= n)."""
        return f"{self.n_replicated} of {self.n_initial}"

    def _repr_html_(self) -> str:
        """Jupyter: the report as a one-column table, the best final values below."""
        import pandas as pd
        rows = {"starting sets (initial stage)": self.n_initial, "final-stage optimizations": self.n_final,
                "final runs at the best value": self.n_reached, "best value replicated": self.replication,
                "distinct initial-stage solutions": self.n_basins, "best value": float(self.final_values[0])}
        table = pd.Series(rows, name="value").to_frame().to_html()
        return f"<b>Random starts</b>{table}<small>best final values: " + ", ".join(
            f"{v:.4f}" for v in self.final_values[:5]) + "</small>"

    def __str__(self) -> str:
        vals = ", ".join(f"{v:.4f}" for v in self.final_values[: min(5, len(self.final_values))])
        basins = "" if self.n_basins is None else (
            f" ({self.n_basins} distinct initial-stage solution{'s' if self.n_basins != 1 else ''}, "
            f"{self.n_distinct} of them fed the final stage)")
        behind = "" if self.n_starts_behind is None else (
            f", {self.n_starts_behind} {'initial-stage' if self.n_seeded else 'random'} starts behind it")
        verdict = "" if self.n_final < 2 else (
            f"; replicated{behind}" if self.n_replicated >= 2
            else f"; NOT replicated (one initial-stage solution{behind})")
        seeded = "" if not self.n_seeded else (
            f", {self.n_seeded} of them from smaller models' solutions ({self.n_seeded_behind} reached the best value)")
        return (
            f"{self.n_initial} initial stage starts{seeded}{basins}, {self.n_final} final stage optimizations "
            f"({self.n_reached} ended at the best value, tol {self.tol:g}); best value reached by "
            f"{self.replication} starts{verdict}; best: {vals}"
        )


def distinct_groups(values, tol: float) -> np.ndarray:
    """Group labels of ``values``: values within ``tol`` of a group's first (largest) value share it."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-values, kind="stable")
    labels = np.empty(len(values), dtype=int)
    group, anchor = -1, None
    for i in order:
        if anchor is None or anchor - values[i] > tol:
            group, anchor = group + 1, values[i]
        labels[i] = group
    return labels


@dataclass
class Optimum:
    theta: np.ndarray
    value: float  # maximized objective (log-likelihood or log-posterior)
    converged: bool
    report: StartReport
    all_thetas: list = field(default_factory=list)
    message: str = ""  # the optimizer's own word on the best run (e.g. why it stopped)
    iterations: int = 0


def select_final(values, n_final: int, tol: float) -> tuple[list[int], np.ndarray]:
    """Which initial-stage solutions (values sorted best first) go to the final stage, and their group.

    The best of each distinct initial-stage solution first (values within
    ``tol`` are one solution), best first; when there are fewer distinct ones
    than ``n_final``, the next best repeats fill the remaining places. Mplus
    takes the ``n_final`` best outright, so a basin that several random starts
    reach can take every final place; here every basin the initial stage
    found gets a final run before any gets a second one.
    Returns (positions in ``values``, group label of each selected one).
    """
    groups = distinct_groups(values, tol)
    first = [int(np.flatnonzero(groups == g)[0]) for g in np.unique(groups)]
    first.sort(key=lambda i: -values[i])
    rest = [i for i in range(len(values)) if i not in set(first)]
    chosen = (first + rest)[:n_final]
    return chosen, groups[chosen]


#: reference-coded class logits that are levels, not effects: splitting a class halves its probability,
#: so both halves' logits are lowered by log 2 (eq. 4 intercepts; eq. 9's tau_tjk, a level per previous class j)
_LEVEL_LOGITS = ("intercept", "transition_logit")


def class_axes(mm, name: str, class_dim: str = "class") -> list[tuple[int, bool]]:
    """Every class axis of the registered class-specific parameter ``name``: (axis, reference coded).

    The registry records a parameter's class axis and whether it is
    reference coded; a parameter may hold the classes on more than one axis
    (LTA's ``transition_logit``, dims ``transition, class, class_free``: the
    previous class in full, the next class reference coded), so its dims name
    them all: ``class_dim`` holds K classes, ``<class_dim>_free`` the K-1
    reference-coded ones. Without dims, the registry's axis alone.

    Parameters
    ----------
    mm : MixtureModel
    name : str
        A parameter the registry lists as class-specific (``mm.parameters``).
    class_dim : str
        The class variable (``"class"``, ``"between_class"``).

    Returns
    -------
    list of (int, bool)
        (axis of the constrained value, reference coded) per class axis, in axis order.

    Examples
    --------
    >>> class_axes(bm.lta(df, items_by_time, 3), "transition_logit")   # doctest: +SKIP
    [(1, False), (2, True)]
    """
    info = mm.parameters[name]
    dims = tuple(mm.model.named_vars_to_dims.get(name) or ())
    axes = [(axis, dim == f"{class_dim}_free") for axis, dim in enumerate(dims)
            if dim in (class_dim, f"{class_dim}_free")]
    return axes or [(info.class_axis, info.reference_coded)]


def _split_axis(value: np.ndarray, axis: int, reference: bool, split: int, level: bool,
                jitter: float, rng: np.random.Generator) -> np.ndarray:
    """``value`` with class ``split`` on ``axis`` followed by a copy of it (one more class on that axis).

    Reference-coded logits (last class 0) are split in full and re-expressed
    against the new last class; a level's two halves are lowered by log 2 so
    they share the class's probability. A plain class axis gets the copy plus
    N(0, ``jitter``) noise.
    """
    if reference:
        full = np.concatenate([value, np.zeros_like(np.take(value, [0], axis=axis))], axis=axis)
        piece = np.take(full, [split], axis=axis) - (np.log(2.0) if level else 0.0)
        full = np.concatenate([np.take(full, range(split), axis=axis), piece, piece,
                               np.take(full, range(split + 1, full.shape[axis]), axis=axis)], axis=axis)
        last = np.take(full, [full.shape[axis] - 1], axis=axis)
        return np.take(full - last, range(full.shape[axis] - 1), axis=axis)
    piece = np.take(value, [split], axis=axis)
    copy = piece + jitter * rng.standard_normal(piece.shape) if jitter else piece
    return np.concatenate([np.take(value, range(split + 1), axis=axis), copy,
                           np.take(value, range(split + 1, value.shape[axis]), axis=axis)], axis=axis)


def split_class_start(mm, smaller: dict, split: int, rng: np.random.Generator | None = None,
                      class_dim: str = "class", jitter: float = 0.1) -> dict[str, np.ndarray]:
    """A start for K classes from a (K-1)-class solution with class ``split`` divided in two.

    Section 10 of the paper recommends starting a K-class search from the
    nested smaller model. Every class axis of every parameter of
    ``class_dim`` (the model's parameter registry, :func:`class_axes`) gets a
    copy of class ``split``'s slice next to it: reference-coded class logits
    (last class 0, eq. 4) are re-expressed against the new last class, and
    those that are levels (class intercepts, eq. 4; LTA's transition logits
    tau_tjk, eq. 9, whose previous-class rows are copied too) are lowered by
    log 2 in both halves, so the two halves share the class's probability.
    With ``jitter=0`` the K-class log-likelihood at this start equals the
    (K-1)-class one (the K-class model lumps back to the smaller one);
    ``jitter`` adds N(0, jitter) noise to the copy on plain class axes of
    parameters that are not reference coded (item parameters) so that the
    optimizer can move the halves apart. Parameters that are not
    class-specific are taken from ``smaller``; anything missing there from
    ``mm.random_start(rng)``.

    Parameters
    ----------
    mm : MixtureModel
        The K-class model.
    smaller : dict
        The (K-1)-class solution on the natural scale (``ml.point``).
    split : int
        The class (0-based, of the K-1) divided in two.
    rng : numpy.random.Generator, optional
        Random values of parameters ``smaller`` lacks, and the jitter.
    class_dim : str
        The class variable split (``"class"``).
    jitter : float
        SD of the noise on the copy's item parameters.

    Returns
    -------
    dict
        A start by the model's free variables (natural scale).

    Examples
    --------
    >>> ml2 = bm.lta(df, items_by_time, 2).fit_ml(seed=1)                            # doctest: +SKIP
    >>> start = split_class_start(bm.lta(df, items_by_time, 3), ml2.point, split=0)   # doctest: +SKIP
    """
    from ..parameters import free_start, with_full
    rng = rng or np.random.default_rng()
    registry = mm.parameters
    # constrained parameters are split in full (fixed elements and ties restored by free_start below)
    start = {k: np.asarray(v, dtype=float) for k, v in with_full(registry, mm.random_start(rng)).items()}
    free_names = {info.free_name for info in registry if info.free_name and info.name in smaller}
    smaller = {k: v for k, v in smaller.items() if k not in free_names}
    classes = registry.class_parameters(class_dim)
    for name, value in smaller.items():
        if name not in start:
            continue
        new = np.asarray(value, dtype=float)
        if name in classes:
            axes = class_axes(mm, name, class_dim)
            reference_coded = any(reference for _, reference in axes)
            level = any(part in name for part in _LEVEL_LOGITS)
            for axis, reference in axes:
                new = _split_axis(new, axis, reference, split, level and reference,
                                  0.0 if reference_coded else jitter, rng)
        if new.shape == start[name].shape:
            start[name] = new.copy()
    return free_start(registry, start)


def parse_starts(starts, n_given: int = 0) -> tuple[int, int]:
    """(N, M) of ``starts``; ``n_given`` user starts join the N random ones (``starts=0``: only they)."""
    if isinstance(starts, (tuple, list)):
        if len(starts) != 2:
            raise ValueError("starts must be an int N or a pair (N, M), like Mplus STARTS = N M.")
        n, m = int(starts[0]), int(starts[1])
    else:
        n = int(starts)
        m = max(1, n // 4)
    if n == 0 and n_given == 0:
        raise ValueError("starts=0 (no random starts, Mplus STARTS = 0) needs start values: pass start=.")
    if n < 0 or m < 1 or m > n + n_given:
        raise ValueError(f"starts=({n}, {m}) is invalid: need N + (given starts: {n_given}) >= M >= 1.")
    return n, m


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text, refresh=True):
        pass

    def close(self):
        pass


def progress_bar(total: int, label: str | bool | None):
    """A tqdm bar (terminal or notebook, ``tqdm.auto``) counting optimizations; a silent stand-in without ``label``."""
    if not label:
        return _NoBar()
    with warnings.catch_warnings():  # tqdm.auto warns once when a notebook lacks ipywidgets (it falls back to text)
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
        return tqdm(total=total, desc=label if isinstance(label, str) else "optimizing", unit="start",
                    leave=True, dynamic_ncols=True)


def multistart(mm, *args, **kwargs) -> Optimum:
    """Maximize the log-likelihood or log-posterior; see :func:`_multistart`.

    BLAS is held to one thread meanwhile: PyTensor (pip builds) falls back to
    NumPy's OpenBLAS for matrix products, and its thread start-up on every
    small product made each evaluation ~10x slower on 2 cores (measured in
    benchmarks/bench_ml_stepmix.py).
    """
    from threadpoolctl import threadpool_limits
    from ..relabel import order_by_size
    with threadpool_limits(limits=1, user_api="blas"):
        opt = _multistart(mm, *args, **kwargs)
        kind = args[0] if args else kwargs.get("kind", "loglik")
        return order_by_size(mm, opt, kind, integration=kwargs.get("integration"))  # one labeling (issue 13)


#: closed-form EM (:mod:`.em`, :mod:`.em_chain`) for the starts of single-level LCAs and LTAs of binary / nominal items
EM_WARMUP = True
#: the initial stage runs up to this many times ``initial_iterations`` EM steps per start (each stops once
#: converged): an EM step gains less than a gradient step, and 25 of them ranked the basins of a flat
#: likelihood wrongly (nominal N = 10,000 x 10, K = 4: 2.05 below StepMix/poLCA; 100 steps find their optimum)
EM_INITIAL_FACTOR = 4
#: EM steps (maps M(theta), SQUAREM's extrapolations counted as the steps they cost) that take a
#: final-stage candidate to its optimum, capped by the user's ``max_iterations``: a batched EM step
#: costs ~1,000x less than an evaluation of the model's gradient, and 2,000 plain steps left all 20
#: starts of gss82 K = 4 unconverged (each then took 70-636 L-BFGS-B iterations); SQUAREM converged
#: them in 625-2,626 steps
EM_FINAL_ITERATIONS = 5000
#: the final stage accelerates EM by SQUAREM (:func:`.em.iterate`); the initial stage stays plain EM unless
#: the EM object says ``accelerate_initial = True`` (the IRT EM, :mod:`.em_irt`: its maps cost ~2 ms, not ~2 us)
EM_ACCELERATE = True
#: the best converged EM optimum is taken on by SQUAREM until a step gains less than this per unit
#: before L-BFGS-B polishes it (None: not): on a flat likelihood the EM_FINAL_TOL point is still
#: far from a zero gradient in parameter terms (gss82 K = 4: 375 L-BFGS-B iterations, 2.4 s, against
#: milliseconds of EM maps)
EM_POLISH_TOL = 1e-13
#: ... or until one step gains less log-likelihood than this per unit, i.e. a total gain below
#: EM_FINAL_TOL x N (StepMix's ``tol`` is on the average LL, the same rule; poLCA's ``tol`` is on the
#: total LL, so an equal-work comparison passes poLCA tol x N); the best EM optimum is then finished
#: by the gradient optimizer
EM_FINAL_TOL = 1e-10


def _origin(flat, start: dict) -> bytes:
    """A start's identity: two starts count as independent replications only if they differ."""
    return np.round(flat.to_theta(start), 10).tobytes()


def _categorical_em(mm, integration=None):
    return CategoricalEM(mm) if em_supported(mm) else None


def _chain_em(mm, integration=None):
    from . import em_chain
    return em_chain.ChainEM(mm) if em_chain.supported(mm) else None


def _nested_em(mm, integration=None):
    from . import em_nested
    return em_nested.NestedEM(mm) if em_nested.supported(mm) else None


def _item_factor_em(mm, integration=None):
    from . import em_irt
    return em_irt.build(mm, integration)


def _membership_em(mm, integration=None):
    from . import em_gom
    return em_gom.build(mm, integration)


#: served only by ``fit_ml(em=True)`` (:func:`em_for`): slower than the gradient starts at N >= 3,000 (em_gom)
_membership_em.by_default = False


#: the EMs that serve ML starts, tried in order: ``build(mm, integration) -> EM object or None``
#: (:func:`register_em` adds one; an EM object has ``run_batch``, ``n_units`` and optionally ``seed_starts``,
#: ``information`` (fit_ml's SEs: :func:`em_information`), ``accelerate_initial``, ``initial_factor`` (for
#: :data:`EM_INITIAL_FACTOR`) and ``final_iterations`` (a cap on :data:`EM_FINAL_ITERATIONS`; 0: the final
#: stage is L-BFGS-B's alone)). A builder whose ``by_default`` attribute is False serves only ``fit_ml(em=True)``.
EM_BUILDERS: list = [_categorical_em, _chain_em, _nested_em, _item_factor_em, _membership_em]


def register_em(build, by_default: bool = True):
    """Add an EM for ML starts: ``build(mm, integration)`` returns it for the models it serves, else None.

    ``by_default=False``: it serves only fits that ask for it (``fit_ml(em=True)``), as the GoM EM.
    """
    if not by_default:
        build.by_default = False
    if build not in EM_BUILDERS:
        EM_BUILDERS.append(build)
    return build


def check_em(em) -> None:
    """``fit_ml(em=)`` is ``"auto"``, True or False; anything else is a ValueError naming ``em``."""
    if not (isinstance(em, (bool, np.bool_)) or (isinstance(em, str) and em == "auto")):
        raise ValueError(f"em={em!r}: use em='auto' (the EMs that serve each family by default: LCA, LTA, "
                         "within-between, 2PL / 3PL; not GoM), em=True (also the opt-in ones: GoM) or em=False "
                         "(gradient starts only).")


def em_for(mm, integration: dict | None = None, em: bool | str = "auto"):
    """The closed-form EM that serves the model's starts (found once per model and integration setting), or None.

    ``em``: ``"auto"`` (default) tries the builders that serve by default, True all of them (the GoM
    EM too), False none (gradient starts; None). The first of :data:`EM_BUILDERS` that serves the model:
    :class:`CategoricalEM` for single-level LCAs, :class:`~.em_chain.ChainEM`
    (Baum-Welch) for single-level LTAs of binary / nominal items,
    :class:`~.em_nested.NestedEM` for within and between classes (section 6,
    eq. 24-26) of binary / nominal items, :class:`~.em_irt.ItemFactorEM`
    (Bock-Aitkin) for the 2PL / 3PL models whose family gives an item-factor
    form (:meth:`bayesmix.MixtureModel.item_factor_form`), on the quadrature
    rule of ``integration``, :class:`~.em_gom.MembershipEM` (``em=True`` only) for the
    logistic-normal and restricted GoM whose family gives a membership form
    (:meth:`bayesmix.MixtureModel.membership_form`). An EM object may offer
    ``seed_starts(rng, tol, distinct=)``: starts from the solutions of smaller
    models (section 10), which :func:`_multistart` adds to the random starts
    (:data:`NESTED_STARTS`).
    """
    check_em(em)
    if not em:
        return None
    every = bool(em is True or em is np.True_)
    key = ("em", tuple(sorted(mm.settings(integration).items())), every)
    if key not in mm._cache:
        builders = [build for build in EM_BUILDERS if every or getattr(build, "by_default", True)]
        mm._cache[key] = next((found for found in (build(mm, integration) for build in builders)
                               if found is not None), None)
    return mm._cache[key]


def em_information(mm, flat, theta: np.ndarray, integration: dict | None = None, em: bool | str = "auto"):
    """(observed information, per-unit scores) in theta from the model's EM, or None (the difference Hessian).

    The hook of ``fit_ml``'s standard errors: an EM object (:func:`em_for`) may offer
    ``information(theta, flat)`` returning both in the model's own unconstrained parameters
    (``flat``'s theta, every element, boundary ones included: the caller keeps the free
    block), or None where it cannot (:meth:`~.em_irt.ItemFactorEM.information`: Louis' identity
    on the Bock-Aitkin EM's nodes). Without it (and with ``em=False``), :meth:`.objective.FlatModel.hessian` serves.
    """
    information = getattr(em_for(mm, integration, em), "information", None)
    return None if information is None else information(theta, flat)


#: default of ``fit_ml(nested_starts=)``: add the starts an EM offers from smaller models (section 10)
NESTED_STARTS = True


def nested_seed_starts(mm, em, seed, tol: float) -> tuple[list[dict], list[int], int]:
    """Starts from smaller models' solutions (section 10 of the paper), as the model's EM offers them.

    Section 10 recommends using the solutions of smaller models as starting
    values. Where the model's closed-form EM (:func:`em_for`) has a
    ``seed_starts`` member it builds them (for between classes:
    :meth:`~.em_nested.NestedEM.seed_starts`, from the one-between-class
    solution by k-means++ partitions of the clusters and splits of the
    (M-1)-class solution); otherwise there are none. They use their own random
    stream (derived from ``seed``), so the N random starts are those of a fit
    without them.

    Returns
    -------
    starts : list of dict
        Natural-scale starts, best first (distinct optima within ``tol``).
    behind : list of int
        Candidates of the smaller models that reached each start.
    n_candidates : int
        Candidates tried (0: no seeded starts for this model).
    """
    make = getattr(em, "seed_starts", None)
    if make is None:
        return [], [], 0
    rng = np.random.default_rng(None if seed is None else [int(seed), 104_729])
    return make(rng, tol=EM_FINAL_TOL * max(1.0, em.n_units), distinct=tol)


def em_finish(em, em_starts: list, flat, candidates: list, iterations: int = EM_FINAL_ITERATIONS) -> dict:
    """Final stage of the EM-served LCAs: EM to convergence for every candidate at once.

    EM is accelerated by SQUAREM (:data:`EM_ACCELERATE`, :func:`.em.iterate`: the same stopping
    rule, one EM step gaining less than :data:`EM_FINAL_TOL` x N). ``em_starts``: the
    initial-stage EM values of each final candidate (None: not from EM). ``candidates`` (thetas)
    are replaced in place by the EM optima. The best converged EM optimum (first taken on by
    SQUAREM to :data:`EM_POLISH_TOL`) and any candidate EM did not converge go on to the
    gradient optimizer of the model's own likelihood,
    which reports the solution; the other converged ones are returned
    (index -> result) with their EM log-likelihood (the same eq. 4 likelihood,
    tested equal to the model's to 1e-8), which only counts replications.
    """
    from_em = [j for j, start in enumerate(em_starts) if start is not None]
    iterations = min(iterations, getattr(em, "final_iterations", iterations))  # an EM may leave the rest to L-BFGS-B
    if em is None or not from_em or iterations <= 0:
        return {}
    near, lls, converged = em.run_batch([em_starts[j] for j in from_em], iterations,
                                        tol=EM_FINAL_TOL * max(1.0, em.n_units), accelerate=EM_ACCELERATE)
    for j, values in zip(from_em, near):
        candidates[j] = flat.to_theta(values)
    best = int(np.argmax(np.where(converged, lls, -np.inf))) if converged.any() else -1
    if best >= 0 and EM_ACCELERATE and EM_POLISH_TOL is not None:
        (closer,), _, _ = em.run_batch([near[best]], iterations, tol=EM_POLISH_TOL * max(1.0, em.n_units),
                                       accelerate=True)
        candidates[from_em[best]] = flat.to_theta(closer)
    return {j: OptimizeResult(x=candidates[j], fun=-float(ll), success=True, nit=0, message="EM optimum")
            for i, (j, ll, done) in enumerate(zip(from_em, lls, converged)) if done and i != best}


#: a line search that stalls ("ABNORMAL_TERMINATION_IN_LNSRCH") counts as converged when the largest
#: projected gradient element is below this fraction of |objective|: the decrease still available,
#: about |g|^2 / curvature, is then below the objective's floating-point resolution (large N: at
#: N = 200,000, LL -6e5, L-BFGS stops with |g| ~ 1e-5, a gain of ~1e-15 LL units left)
STALL_GRADIENT_RTOL = 1e-9


def _projected_gradient(x: np.ndarray, g: np.ndarray, bounds) -> np.ndarray:
    """The gradient of a minimization with the components pushing through an active bound set to 0."""
    g = np.asarray(g, dtype=float).copy()
    for i, (lo, hi) in enumerate(bounds or []):
        if lo is not None and x[i] <= lo and g[i] > 0:
            g[i] = 0.0
        if hi is not None and x[i] >= hi and g[i] < 0:
            g[i] = 0.0
    return g


def _accept_stalled_line_search(res, bounds) -> None:
    """Mark an L-BFGS-B run converged when its line search failed only for lack of floating-point room.

    L-BFGS-B's absolute ``gtol`` cannot be met when the objective is a sum over very many units
    (its rounding exceeds the decrease left), so a run at the optimum ends "ABNORMAL". Such a run is
    converged when ``max |projected gradient| <= STALL_GRADIENT_RTOL * max(1, |f|)``; its message says so.
    """
    if res.success or "ABNORMAL" not in str(getattr(res, "message", "")) or getattr(res, "jac", None) is None:
        return
    largest = float(np.max(np.abs(_projected_gradient(res.x, res.jac, bounds)), initial=0.0))
    if np.isfinite(largest) and largest <= STALL_GRADIENT_RTOL * max(1.0, abs(float(res.fun))):
        res.success = True
        res.message = (f"converged (the line search stalled at the optimum: max |gradient| {largest:.2g}, "
                       f"below {STALL_GRADIENT_RTOL:g} x |objective|)")


#: the final ML optimization holds boundary elements where they are once the set of elements past
#: their boundary rule (:meth:`~.objective.FlatModel.at_bound`: logits beyond +-15, probit thresholds
#: beyond +-5, probit threshold log-gaps below log(1e-4)) has stayed the same for this many
#: iterations, and optimizes the rest to convergence: along a boundary direction the likelihood is
#: flat (a category probability ~0), and L-BFGS-B drifting there ran into the iteration limit
#: (psych bfi, 25 ordinal items, GoM K = 2 probit: 5,000 iterations, information not positive definite)
BOUNDARY_PATIENCE = 25
#: rounds of releasing held elements: a held element whose log-likelihood gradient points back inside
#: by more than :data:`BOUNDARY_RELEASE` is released for the next round (holding itself is not limited:
#: each hold adds elements, so there are at most as many as parameters)
BOUNDARY_ROUNDS = 4
BOUNDARY_RELEASE = 1e-3


class _BoundaryWatch:
    """L-BFGS-B callback: stop once the same elements (not yet held) sat past their boundary for a while."""

    def __init__(self, flat, held: np.ndarray, patience: int):
        self.flat, self.held, self.patience = flat, held, patience
        self.mask: np.ndarray | None = None
        self.same = 0
        self.stopped = False

    def __call__(self, intermediate_result) -> None:
        mask = self.flat.at_bound(intermediate_result.x) & ~self.held
        if not mask.any():
            self.mask, self.same = None, 0
            return
        if self.mask is not None and np.array_equal(mask, self.mask):
            self.same += 1
        else:
            self.mask, self.same = mask, 0
        if self.same >= self.patience:
            self.stopped = True
            raise StopIteration


def minimize_holding_boundary(fun, theta, flat, options: dict, hold: bool = True, kind: str = "loglik"):
    """L-BFGS-B within ``flat.bounds`` that holds boundary elements fixed once only they still move.

    Without ``hold`` (or when no element stays past its boundary rule and the
    run converges within :data:`NEWTON_AFTER` iterations) this is one L-BFGS-B
    run. With it, elements that stayed past their rule for
    :data:`BOUNDARY_PATIENCE` iterations are held at their values (bounds
    lo = hi) and the rest is optimized on -- the boundary solutions Mplus
    fixes at +-15 for its SEs, here for the optimization too, so the fit
    converges instead of drifting along a flat direction to the iteration
    limit. Held elements whose gradient points back inside are released. A
    run still creeping after :data:`NEWTON_AFTER` iterations gets a Newton
    step on the information of the elements not held (:func:`_newton_step`),
    at most :data:`NEWTON_STEPS` times. The result's ``nit`` counts all
    iterations, ``max_iterations`` holds for their sum, and ``held`` is the
    mask of held elements.
    """
    bounds = list(flat.bounds)
    held = np.zeros(len(theta), dtype=bool)
    limit, used = int(options.get("maxiter", 15000)), 0
    rounds, newton = (BOUNDARY_ROUNDS, NEWTON_STEPS) if hold else (0, 0)
    res = None
    while True:
        watch = _BoundaryWatch(flat, held, BOUNDARY_PATIENCE) if hold else None
        segment = limit - used if newton == 0 else min(limit - used, NEWTON_AFTER)
        run_bounds = [(x, x) if h else b for x, h, b in zip(theta, held, bounds)]
        res = minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=run_bounds,
                       options={**options, "maxiter": max(1, segment)}, callback=watch)
        _accept_stalled_line_search(res, run_bounds)
        used += int(res.nit)
        theta = res.x
        if used >= limit:
            break
        if watch is not None and watch.stopped:
            held |= watch.mask
            continue
        if not res.success and newton > 0 and int(res.nit) >= segment:  # creeping: Newton steps, then go on
            for _ in range(NEWTON_STEPS_PER_PHASE):
                before = float(fun(theta)[0])
                theta = _newton_step(fun, theta, flat, held, kind)
                if before - float(fun(theta)[0]) <= NEWTON_MIN_GAIN:
                    break
            newton -= 1
            continue
        if not held.any() or rounds <= 0:
            break
        # release held elements the log-likelihood pulls back inside (gradient of the minimized -LL)
        grad = np.asarray(fun(theta)[1], dtype=float)
        inward = np.where(theta <= flat.boundary_low, -grad, np.where(theta >= flat.boundary_high, grad, 0.0))
        release = held & (inward > BOUNDARY_RELEASE)
        if not release.any():
            break
        held &= ~release
        rounds -= 1
    res.nit, res.held = used, held
    if held.any() and res.success:
        res.message = f"{res.message} ({int(held.sum())} element(s) held at the boundary)"
    return res


#: L-BFGS-B iterations of the final ML optimization before a Newton step (:func:`_newton_step`); measured on
#: psych bfi's 25 ordinal items, GoM K = 2 probit (252 parameters): L-BFGS-B crept along weakly curved
#: threshold gaps for 5,000 iterations, gaining < 0.01 LL
NEWTON_AFTER = 500
#: at most this many phases of Newton steps per final optimization, each of at most
#: :data:`NEWTON_STEPS_PER_PHASE` steps (a phase ends when a step gains less than :data:`NEWTON_MIN_GAIN`);
#: measured there: one step (504 gradients, ~10 s) gained what 500 L-BFGS-B iterations did not
NEWTON_STEPS = 3
NEWTON_STEPS_PER_PHASE = 8
NEWTON_MIN_GAIN = 1e-6
#: eigenvalues of the information below this fraction of the largest count as flat (no Newton step along them)
NEWTON_RTOL = 1e-10
#: along a flat or negatively curved direction the Newton step moves this far (theta units) uphill
NEWTON_RADIUS = 1.0


def _newton_step(fun, theta, flat, held, kind: str) -> np.ndarray:
    """One Newton step on the elements not held, by the eigenvectors of the information, with backtracking.

    Along firmly curved directions the step is -g/lambda; along flat or
    negatively curved ones (those L-BFGS-B creeps along) it goes
    :data:`NEWTON_RADIUS` uphill -- or not at all, whichever of the two is
    better. The steps are halved until the objective improves (10 halvings;
    otherwise theta is returned unchanged) and kept inside ``flat.bounds``.
    """
    free = np.flatnonzero(~held)
    if free.size == 0:
        return theta
    value, grad = fun(theta)
    g = np.asarray(grad, dtype=float)[free]
    info = flat.hessian(theta, kind)[np.ix_(free, free)]
    vals, vecs = np.linalg.eigh(info)
    firm = vals > NEWTON_RTOL * max(float(np.max(np.abs(vals), initial=0.0)), 1e-300)
    proj = vecs.T @ g
    coef = np.where(firm, -proj / np.where(firm, vals, 1.0), -np.sign(proj) * NEWTON_RADIUS)
    steps = [vecs @ coef, vecs @ np.where(firm, coef, 0.0)]  # with and without the uphill moves along flat ones
    lo = np.array([-np.inf if b[0] is None else b[0] for b in flat.bounds], dtype=float)[free]
    hi = np.array([np.inf if b[1] is None else b[1] for b in flat.bounds], dtype=float)[free]
    for halving in range(11):
        best, best_value = None, value
        for step in steps:
            candidate = theta.copy()
            candidate[free] = np.clip(theta[free] + step / 2 ** halving, lo, hi)
            f = float(fun(candidate)[0])
            if f < best_value:
                best, best_value = candidate, f
        if best is not None:
            return best
    return theta


def _multistart(mm, kind: str = "loglik", starts=20, seed=None, initial_iterations: int = 25,
               tol: float = 1e-3, max_iterations: int = 5000, warn_unreplicated: bool = True,
               integration: dict | None = None, extra_starts: list[dict] | None = None,
               progress: str | bool | None = None, nested_starts: bool | None = None,
               use_em: bool | str = "auto") -> Optimum:
    """Maximize the log-likelihood (``kind="loglik"``) or log-posterior (``"posterior"``).

    ``integration`` overrides the model's quadrature for random effects
    (``{"method": "trapezoid", "points": 30}``). ``extra_starts``: starting
    values (dicts of the free variables' constrained values, e.g. from
    :func:`split_class_start` or :func:`bayesmix.inference.starts.user_starts`)
    that join the initial stage besides the N random ones (which run first).
    ``progress``: the label of a progress bar counting the optimizations of
    both stages with the best value so far (None / False: silent).
    ``nested_starts`` (default :data:`NESTED_STARTS`): for ``kind="loglik"``,
    add the starts from smaller models' solutions the model's EM offers
    (:func:`nested_seed_starts`, section 10); they join the initial stage
    next to the random ones, and the candidates behind the best of them
    count as its replications in the report. ``use_em``: ``fit_ml(em=)``, which EMs
    may serve the starts (:func:`em_for`).
    """
    check_em(use_em)
    extra = list(extra_starts or [])
    n_initial, n_final = parse_starts(starts, len(extra))
    bar = progress_bar(n_initial + len(extra) + n_final, progress)
    bar.set_postfix_str("compiling (first fit only)")
    flat = flat_model(mm, integration)
    fun = flat.value_and_grad(kind)
    rng = np.random.default_rng(seed)
    em = em_for(mm, integration, use_em) if kind == "loglik" and EM_WARMUP else None
    use_seeds = NESTED_STARTS if nested_starts is None else bool(nested_starts)
    seeded, behind, n_candidates = (nested_seed_starts(mm, em, seed, tol) if em is not None and use_seeds
                                    else ([], [], 0))
    stage1 = []
    what = "LL" if kind == "loglik" else "log-posterior"
    if em is not None and n_initial + len(seeded):  # random (and seeded) starts: closed-form EM steps, all at once
        origins = [mm.random_start(rng) for _ in range(n_initial)] + seeded
        values, lls, _ = em.run_batch(origins, getattr(em, "initial_factor", EM_INITIAL_FACTOR) * initial_iterations,
                                      tol=EM_FINAL_TOL * max(1.0, em.n_units),
                                      accelerate=getattr(em, "accelerate_initial", False))
        stage1 = [(-ll, flat.to_theta(start), start, _origin(flat, origin))
                  for start, ll, origin in zip(values, lls, origins)]
        bar.update(n_initial)
    seed_origins = {_origin(flat, start): count for start, count in zip(seeded, behind)}
    for i in range(n_initial if em is not None else 0, n_initial + len(extra)):
        start = extra[i - n_initial] if i >= n_initial else mm.random_start(rng)
        theta0 = flat.to_theta(start)
        flat.adapt(theta0)
        res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=flat.bounds,
                       options={"maxiter": initial_iterations})
        stage1.append((res.fun, res.x, None, _origin(flat, start)))
        bar.set_postfix_str(f"initial stage, best {what} {-min(t[0] for t in stage1):.4f}", refresh=False)
        bar.update()
    stage1.sort(key=lambda t: t[0])
    stage1_values = np.array([-t[0] for t in stage1])
    groups = distinct_groups(stage1_values, tol)
    selected, source = select_final(stage1_values, n_final, tol)
    finals = []
    full = {"maxiter": max_iterations, "maxfun": 4 * max_iterations, "ftol": 1e-13, "gtol": 1e-7}
    candidates = [stage1[i][1] for i in selected]
    at_em_optimum = em_finish(em, [stage1[i][2] for i in selected], flat, candidates,
                              iterations=min(EM_FINAL_ITERATIONS, max_iterations))  # the user's limit holds for EM too
    for j, theta in enumerate(candidates):
        if j in at_em_optimum:  # converged EM below the best EM optimum: its LL, not polished
            finals.append(at_em_optimum[j])
            finals[-1].source = int(source[len(finals) - 1])
            bar.update()
            continue
        flat.adapt(theta)
        res = minimize_holding_boundary(fun, theta, flat, full, hold=kind == "loglik", kind=kind)
        for _ in range(10 if flat.adaptive is not None else 0):  # re-center the adaptive rule, re-optimize
            flat.adapt(res.x)
            again = minimize_holding_boundary(fun, res.x, flat, full, hold=kind == "loglik", kind=kind)
            converged = abs(again.fun - res.fun) < 1e-8
            res = again
            if converged:
                break
        if flat.adaptive is not None:
            # report the objective with the rule centered at the solution itself: with nodes held
            # fixed, the optimizer can otherwise profit from the rule's error
            flat.adapt(res.x)
            res.fun = fun(res.x)[0]
        res.adapted_center = None if flat.adaptive is None else (
            flat.adaptive.center.get_value().copy(), flat.adaptive.scale.get_value().copy())
        res.source = int(source[len(finals)])
        finals.append(res)
        bar.set_postfix_str(f"final stage, best {what} {-min(r.fun for r in finals):.4f}", refresh=False)
        bar.update()
    bar.close()
    finals.sort(key=lambda r: r.fun)
    values = np.array([-r.fun for r in finals])
    best_runs = values >= values[0] - tol
    n_reached = int(np.sum(best_runs))
    best_sources = {r.source for r, hit in zip(finals, best_runs) if hit}
    n_basins = int(groups.max()) + 1
    starts_behind = int(np.isin(groups, list(best_sources)).sum())
    # replicated = reached from distinct initial-stage solutions; when the initial stage found one
    # solution only, every start agreed and each final run counts
    # ... or, when several different starts converged to the best solution already in the initial
    # stage, each of them (identical starts count once)
    best_origins = {stage1[i][3] for i in np.flatnonzero(np.isin(groups, list(best_sources)))}
    n_rep = max(len(best_sources) if n_basins > 1 else n_reached, len(best_origins))
    # a seeded start stands for the smaller models' candidates that reached it (each a different start)
    seeded_behind = sum(seed_origins.get(origin, 0) for origin in best_origins)
    n_rep = max(n_rep, len(best_origins - set(seed_origins)) + seeded_behind)
    n_distinct = int(len(set(source.tolist())))
    report = StartReport(n_initial + len(extra) + n_candidates, n_final, values, n_rep, tol, n_reached=n_reached,
                         n_distinct=n_distinct, n_basins=n_basins, n_starts_behind=starts_behind,
                         n_seeded=n_candidates, n_seeded_behind=seeded_behind)
    if warn_unreplicated and n_final > 1 and n_rep < 2:
        how = (f"only one of {n_final} final-stage optimizations" if n_reached < 2 else
               f"{n_reached} of {n_final} final-stage optimizations, all started from one initial-stage "
               f"solution (one basin, reached by {starts_behind} of the {len(stage1)} starts)")
        warnings.warn(
            f"the best {'log-likelihood' if kind == 'loglik' else 'log-posterior'} "
            f"{values[0]:.4f} was reached by {how}; "
            "it may be a local optimum: increase starts, e.g. starts=(100, 20).",
            UserWarning,
            skip_file_prefixes=PACKAGE_FRAMES,
        )
    best = finals[0]
    if flat.adaptive is not None:  # leave the rule at the best solution's clusters (for SEs)
        flat.adaptive.update(*best.adapted_center)
    return Optimum(theta=best.x, value=-best.fun, converged=bool(best.success), report=report,
                   all_thetas=[r.x for r in finals], message=str(getattr(best, "message", "")),
                   iterations=int(getattr(best, "nit", 0)))
