"""Latent transition analysis, single and two level (paper sections 3-4, eq. 6-15).

A class variable C_t per unit and time point t = 1..T, each measured by its
own block of items (the wide layout ``items_by_time``), linked by a recursive
system of multinomial logits:

    P(C_1 = k | x)              = softmax_k(a_k + b_k' x + alpha_1kj)                  (eq. 8, 12)
    P(C_t = k | C_{t-1} = j, x) = softmax_k(tau_tjk + g_tk' x + alpha_tkj)             (eq. 9, 13)

with the last class the reference (a_K = tau_tjK = 0). ``tau_tjk`` is eq. 9's
alpha_2k + gamma_kj written per previous class j: alpha_tk = tau_tKk and
gamma_tjk = tau_tjk - tau_tKk (:func:`bayesmix.families.lta.results.transition_effects`
reports the paper's form, with eq. 14's R-squared for two classes). The
classes are summed out exactly by the forward algorithm
(:mod:`bayesmix.marginal.chain`), so NUTS samples only continuous
parameters. Two-level models add classroom random intercepts alpha_tkj on the
class logits at every time, correlated (``random_form="cholesky"``) or linked
by the between-level regression alpha_tj = beta alpha_(t-1)j + e_tj of
eq. 15 (``random_form="structural"``; its intercept mu sits in tau).

Also here: :func:`long_to_wide` and :func:`wide_to_long`, the converters
between a long layout (one row per unit and time) and ``items_by_time``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from ...class_model import ClassModel, class_labels
from ...constraints import constrained_model
from ...data import check_columns, encode, infer_item_type, looks_like_rating_scale, warn_rating_scales
from ...kernels import build_kernels
from ...latent import LatentEffects
from ...options import check_bool, check_clusters, check_integration, check_needs_cluster
from ...priors import DEFAULT_PRIORS, PriorSet
from ...structure import ChainClasses
from ...structure.chain import check_paths
from ...transition import TransitionModel
from .model import LTAModel

__all__ = ["lta", "LTA_PRIORS", "RANDOM_FORMS"]

#: priors of the parameters only LTA has (the rest come from :data:`bayesmix.priors.DEFAULT_PRIORS`)
LTA_PRIORS: dict[str, tuple[str, dict[str, Any]]] = {
    # tau_tjk of eq. 9: logit of C_t = k vs the last class given C_{t-1} = j; staying in a class
    # has logits of 2-4 in typical LTAs (the paper's 7% switching: logit 2.6), within the prior's 1-2 SD
    "transition_logit": ("Normal", {"mu": 0.0, "sigma": 2.5}),
    # covariate effects on the transition logits (eq. 9's beta_2d x)
    "transition_slope": ("Normal", {"mu": 0.0, "sigma": 1.0}),
    # markov=False: effect of the class at an earlier time s < t-1 on C_t (last class of s the reference)
    "transition_lag_effect": ("Normal", {"mu": 0.0, "sigma": 2.5}),
}

RANDOM_FORMS = ("cholesky", "structural", "diagonal")


# --------------------------------------------------------------------------- transitions (eq. 9)


# --------------------------------------------------------------------------- measurement

def _owner_kernels(encoded, items_by_time, times, invariant, link, equal_variances):
    """The kernels that own the item parameters: time 1's items (invariant) or every time's items."""
    items = items_by_time[times[0]] if invariant else None
    return build_kernels(encoded, link=link, items=items, equal_variances=equal_variances)


def _kernels_by_time(owners, encoded, items_by_time, times, invariant):
    """Per time point, the kernels that measure its items (call after the owners are built).

    Invariant measurement: the owners themselves at time 1 and, at later
    times, ``bind()`` copies over the same items' columns (matched by
    position) sharing the parameters. Time-specific: views of the owners
    restricted to the time's items (:meth:`ItemKernel.restrict`).
    """
    if invariant:
        first = items_by_time[times[0]]
        specs = {it.name: it for it in encoded.items}
        per_time = [list(owners)]
        for t in times[1:]:
            position = {name: items_by_time[t][p] for p, name in enumerate(first)}
            per_time.append([kernel.bind([specs[position[n]] for n in kernel.names], encoded) for kernel in owners])
        return per_time
    return [[k.restrict(items_by_time[t]) for k in owners if set(k.names) & set(items_by_time[t])]
            for t in times]


def _item_maps(items_by_time, times, invariant):
    """Per time point, the kernels' items -> the time's columns (:attr:`ChainClasses.item_maps`)."""
    if invariant:  # the owner's item p is the time's item p
        return [dict(zip(items_by_time[times[0]], items_by_time[t])) for t in times]
    return [{name: name for name in items_by_time[t]} for t in times]  # one kernel holds every time's items


# --------------------------------------------------------------------------- validation

def _check_items_by_time(data, items_by_time, invariant):
    if not isinstance(items_by_time, Mapping):
        raise ValueError("items_by_time must be a dict time label -> item columns, e.g. "
                         "{'t1': ['a1', 'b1'], 't2': ['a2', 'b2']}.")
    if len(items_by_time) < 2:
        raise ValueError(f"items_by_time has {len(items_by_time)} time point(s); latent transition analysis "
                         "needs at least 2 (for one time point use bm.lca).")
    times = [str(t) for t in items_by_time]
    if len(set(times)) != len(times):
        raise ValueError(f"items_by_time has time labels that coincide as strings: {list(items_by_time)}.")
    out = {}
    for label, items in items_by_time.items():
        if isinstance(items, str) or not isinstance(items, Sequence) or not len(items):
            raise ValueError(f"items_by_time[{label!r}] must be a non-empty list of item columns, got {items!r}.")
        out[str(label)] = list(items)
    everything = [c for items in out.values() for c in items]
    twice = sorted({c for c in everything if everything.count(c) > 1})
    if twice:
        raise ValueError(f"columns {twice} are listed at more than one time point (or twice at one); "
                         "each time point needs its own columns.")
    check_columns(data, everything, "items_by_time")
    if invariant:
        sizes = {t: len(v) for t, v in out.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"invariant_measurement=True needs the same items at every time point, matched by "
                             f"position, but the numbers of items differ: {sizes}. Give the items in the same "
                             "order at each time, or use invariant_measurement=False.")
    return out, times


def _resolve_types(data, items_by_time, times, item_types, invariant):
    """Item type per column; under invariance one type per position, inferred from all times pooled."""
    all_items = [c for t in times for c in items_by_time[t]]
    if item_types is None or isinstance(item_types, str):
        given = {c: item_types for c in all_items} if isinstance(item_types, str) else {}
    elif isinstance(item_types, Mapping):
        unknown = sorted(set(item_types) - set(all_items))
        if unknown:
            raise ValueError(f"item_types names {unknown}, which are not in items_by_time; give types for item "
                             "columns (under invariant measurement, the time-1 column sets every time point).")
        given = dict(item_types)
    else:
        raise ValueError(f"item_types must be a type name or a dict column -> type, got {item_types!r}.")
    if not invariant:
        return {c: given[c] for c in all_items if given.get(c)} or None
    out = {}
    likert = []
    n_items = len(items_by_time[times[0]])
    for p in range(n_items):
        columns = [items_by_time[t][p] for t in times]
        kinds = {given[c] for c in columns if given.get(c)}
        if len(kinds) > 1:
            raise ValueError(f"item_types gives different types {sorted(kinds)} to {columns}, the same item at "
                             "different time points; invariant measurement needs one type per item.")
        if kinds:
            kind = kinds.pop()
        else:
            pooled = pd.concat([data[c] for c in columns], ignore_index=True)
            if isinstance(data[columns[0]].dtype, pd.CategoricalDtype):
                pooled = pooled.astype(data[columns[0]].dtype)
            kind = infer_item_type(pooled)
            if kind == "nominal" and looks_like_rating_scale(pooled):
                likert.append(columns[0])
        out.update({c: kind for c in columns})
    if likert:  # the types go to encode as given, so it does not warn itself
        warn_rating_scales(likert, stacklevel=4)
    return out


def _check_invariant_codes(encoded, items_by_time, times):
    specs = {it.name: it for it in encoded.items}
    for p, name in enumerate(items_by_time[times[0]]):
        first = specs[name]
        for t in times[1:]:
            other = specs[items_by_time[t][p]]
            if other.kind != "continuous" and tuple(other.categories) != tuple(first.categories):
                raise ValueError(
                    f"item {other.name!r} (time {t}) has the observed codes {list(other.categories)} but "
                    f"{name!r} (time {times[0]}) has {list(first.categories)}; invariant measurement needs the "
                    "same codes at every time point (a category nobody chose at one time cannot share the "
                    "other time's parameters). Recode or merge the rare category, or use "
                    "invariant_measurement=False.")


def _check_options(n_classes, cluster, random_intercepts, random_form, cluster_covariates, markov,
                   stationary, ordered, items_by_time, times, invariant):
    check_needs_cluster(cluster, ["random_intercepts=True"] if random_intercepts else [])
    if random_intercepts and isinstance(n_classes, (int, np.integer)) and n_classes < 2:
        raise ValueError("random_intercepts=True needs n_classes >= 2 (it varies the class logits).")
    if cluster_covariates and not random_intercepts:
        raise ValueError("cluster_covariates predict the classroom random intercepts of the class logits "
                         "(eq. 5, 15); add random_intercepts=True or drop cluster_covariates.")
    if random_form not in RANDOM_FORMS:
        raise ValueError(f"random_form={random_form!r} is unknown; use one of {RANDOM_FORMS} "
                         "('structural' is eq. 15: alpha_t regressed on alpha_(t-1)).")
    for name, value in (("markov", markov), ("stationary_transitions", stationary), ("invariant_measurement",
                                                                                     invariant)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r}.")
    if not markov and isinstance(n_classes, (int, np.integer)):
        check_paths(int(n_classes), len(times), "markov=False")
    if ordered is not None:
        allowed = items_by_time[times[0]] if invariant else [c for t in times for c in items_by_time[t]]
        if ordered not in allowed:
            raise ValueError(f"ordered={ordered!r} must be one of the items {allowed}"
                             f"{' (the time-1 items: measurement is invariant)' if invariant else ''}.")


# --------------------------------------------------------------------------- the factory

def lta(
    data: pd.DataFrame,
    items_by_time: Mapping[str, Sequence[str]],
    n_classes: int,
    *,
    cluster: str | None = None,
    random_intercepts: bool = False,
    random_form: str = "cholesky",
    invariant_measurement: bool = True,
    markov: bool = True,
    stationary_transitions: bool = False,
    covariates: Sequence[str] | None = None,
    cluster_covariates: Sequence[str] | None = None,
    item_types: str | Mapping[str, str] | None = None,
    link: str = "logit",
    priors: Mapping[str, Any] | None = None,
    missing_codes: Sequence[Any] | Mapping[str, Sequence[Any]] | None = None,
    missing_covariates: str = "error",
    ordered: str | None = None,
    equal_variances: bool = False,
    integration: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    equal: Any = None,
) -> "LTAModel":
    """Latent transition analysis: a class C_t per unit and time point, classes summed out exactly.

    **Model** (sections 3-4). Time t's items are measured given C_t by the
    item kernels of eq. 1-2 (eq. 6, 11: binary, ordinal, nominal, continuous,
    mixed), the same parameters at every time (``invariant_measurement=True``,
    items matched by position) or one set per time point. The classes follow
    the recursive logits of eq. 8-9 with the last class the reference:

    - ``class_intercept`` a_k (and ``class_slope`` on ``covariates``): P(C_1 = k), eq. 8, 12;
    - ``transition_logit`` tau[t, j, k]: logit of C_t = k vs the last class given C_{t-1} = j
      (dims ``transition, class, class_free``), eq. 9, 13; the paper's alpha_2k = tau[K, k]
      and gamma_kj = tau[j, k] - tau[K, k] come from :meth:`LTAModel.transition_effects`;
    - ``transition_slope`` (with ``covariates``): the same covariates act on every transition
      (eq. 9's beta_2d x), one slope set per step.

    The log-likelihood of a unit is the forward algorithm over T time points
    (cost T K^2, :mod:`bayesmix.marginal.chain`); units seen at some occasions
    only keep their observed ones (a missing occasion contributes 1 for every
    class). ``markov=False`` lets C_t depend on every earlier class
    (``transition_lag_effect`` adds the class at each time s < t-1, the last
    class of s the reference; the sum runs over the K^T paths).

    **Two level** (``cluster=``, ``random_intercepts=True``, section 4): random
    intercepts alpha_tkj on the K-1 class logits at every time t (``random_z``
    (cluster, class_time); effect labels ``"<time>:<class>"``), correlated
    through an LKJ Cholesky factor (``random_form="cholesky"``), independent
    (``"diagonal"``), or linked by the between-level regression of eq. 15
    alpha_tkj = beta alpha_(t-1)kj + e_tkj (``"structural"``:
    ``random_regression``; eq. 15's mu is the mean logit in tau). They are
    regressed on ``cluster_covariates`` (eq. 5). NUTS samples them; ML and the
    per-cluster ``log_likelihood`` integrate them by quadrature
    (``integration``; T (K-1) dimensions: 15 x 15 = 225 trapezoid nodes for
    T = 2, K = 2, but 7^4 = 2401 by default for T (K-1) = 4; for three or more
    dimensions pass fewer points, ``{"points": 5}``, or
    ``{"method": "monte-carlo", "points": 1000}``, or use NUTS).

    Parameters
    ----------
    data : DataFrame, one row per unit (wide; see :func:`long_to_wide`).
    items_by_time : time label -> item columns, in time order, e.g.
        ``{"fall": ["stub_f", "brk_f"], "spring": ["stub_s", "brk_s"]}``.
    n_classes : K classes at every time (required; no silent default).
    cluster : cluster id column (classrooms); needs ``random_intercepts=True``
        for a two-level model (without it the clusters only group the
        log-likelihood per cluster).
    random_intercepts, random_form : see *Two level*.
    invariant_measurement : one set of item parameters for all times (eq. 11)
        -- a single labeling of the classes across time -- or per time.
    markov : first-order chain (True) or every earlier class (False).
    stationary_transitions : one transition table for every step (T > 2).
    covariates : unit columns on the initial and every transition logit.
    cluster_covariates : cluster columns predicting the random intercepts.
    item_types : one type for all items or a dict column -> type; under
        invariant measurement the type of one column sets its item at every
        time, and inferred types pool all time points.
    link : ``"logit"`` or ``"probit"`` (binary and ordinal items).
    missing_codes : list or dict, optional
        Item codes that mean "missing" (survey codes such as -9, 9 or 999):
        ``[-9, 999]`` for every item or ``{"A": [9], "B": [-1]}`` per item;
        those cells become missing and leave the likelihood (full information).
        Without it, suspicious codes warn and are taken as real categories.
    missing_covariates : ``"error"`` or ``"drop"``
        The policy for rows with a missing covariate (or cluster covariate):
        ``"error"`` (default) refuses them, naming the column; ``"drop"``
        leaves them out with a warning naming the count and the columns. The
        kept rows keep their labels, so ``bm.compare(..., units="common")``
        sets the model against one fitted to all rows without covariates.
    priors : overrides by name: ``class_intercept``, ``class_slope``,
        ``transition_logit`` (default Normal(0, 2.5)), ``transition_slope``
        (Normal(0, 1)), ``transition_lag_effect``, item parameters
        (``binary_logit`` ...), ``random_sd``, ``random_corr_eta``,
        ``random_regression``, ``random_slope``.
    ordered : an item (binary or continuous; a time-1 item under invariance)
        whose class parameter increases over classes (identifies the labels).
    equal_variances : continuous items share one variance across classes.
    integration : quadrature for ML and LOO's per-cluster log-likelihood.
    fixed, equal : constraints by parameter name and coordinate labels (Mplus ``@`` and ``(1)``), e.g.
        ``fixed={"transition_logit[class1, class1]": 0.0}``, ``equal={"binary_logit[*, A]": "class"}``; fixed elements and ties
        leave the parameter count and hold for every estimator (see :mod:`bayesmix.constraints`).

    Returns
    -------
    LTAModel
        A :class:`~bayesmix.MixtureModel` (``fit_ml``, ``fit_map``,
        ``fit_laplace``, ``sample``; ``class_probabilities`` is time 1) with
        LTA results: ``class_proportions_by_time``, ``transition_matrices``,
        ``transition_effects`` (gamma, R-squared of eq. 14),
        ``time_class_probabilities``, ``path_probabilities``,
        ``most_likely_paths`` (Viterbi) and, two-level, ``variance_explained``.

    Examples
    --------
    >>> sai = bm.datasets.load("sai_lta")                                  # doctest: +SKIP
    >>> items = ["tense", "worrying", "anxious", "nervous", "jittery"]
    >>> m = bm.lta(sai, {"t1": [f"{i}_t1" for i in items], "t2": [f"{i}_t2" for i in items]},
    ...            n_classes=2)                                              # doctest: +SKIP
    >>> ml = m.fit_ml(starts=20, seed=1); m.transition_matrices(ml)          # doctest: +SKIP
    """
    call = {"factory": "lta", "arguments": dict(locals())}  # to rebuild: save/load, predict
    for flag in ("random_intercepts", "invariant_measurement", "markov", "stationary_transitions", "equal_variances"):
        check_bool(call["arguments"][flag], flag)
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    items_by_time, times = _check_items_by_time(data, items_by_time, invariant_measurement)
    _check_options(n_classes, cluster, random_intercepts, random_form, cluster_covariates, markov,
                   stationary_transitions, ordered, items_by_time, times, invariant_measurement)
    types = _resolve_types(data, items_by_time, times, item_types, invariant_measurement)
    all_items = [c for t in times for c in items_by_time[t]]
    encoded = encode(data, all_items, n_classes, item_types=types, covariates=covariates, cluster=cluster,
                     cluster_covariates=cluster_covariates, missing_codes=missing_codes,
                     missing_covariates=missing_covariates)
    integration = check_integration(integration)
    if invariant_measurement:
        _check_invariant_codes(encoded, items_by_time, times)
    if random_intercepts:
        check_clusters(encoded.cluster_index, cluster, random_options=["random_intercepts"])
    if ordered is not None:
        kind = {it.name: it.kind for it in encoded.items}[ordered]
        if kind not in ("binary", "continuous"):
            raise ValueError(f"ordered={ordered!r} is a {kind} item; the ordering constraint is available for a "
                             "binary or continuous item.")

    labels = class_labels(n_classes)
    known = set(DEFAULT_PRIORS) | set(LTA_PRIORS)
    prior_set = PriorSet(priors, known=known, extra=LTA_PRIORS)
    class_model = ClassModel(n_classes, encoded.covariates, encoded.covariate_names)
    transitions = TransitionModel(n_classes, times, encoded.covariates, encoded.covariate_names,
                                  stationary=bool(stationary_transitions), markov=bool(markov))
    coords = {"class": labels, "unit": list(encoded.units), "item": encoded.item_names(), "time": times}
    if cluster is not None:
        coords["cluster"] = list(encoded.clusters)
    coords.update(class_model.coords(labels))
    coords.update(transitions.coords(labels))
    owners = _owner_kernels(encoded, items_by_time, times, invariant_measurement, link, equal_variances)
    for kernel in owners:
        coords.update(kernel.coords())

    n_units, n_times, k = encoded.n_units, len(times), n_classes
    with constrained_model(coords, fixed, equal) as model:
        class_model.build(prior_set)
        if k > 1:
            transitions.build(prior_set)
        for kernel in owners:
            kernel.build(prior_set, ordered_item=ordered)
        per_time = _kernels_by_time(owners, encoded, items_by_time, times, invariant_measurement)
        emission = pt.stack([sum(kern.loglik() for kern in kernels) for kernels in per_time], axis=-2)  # (N, T, K)
        effects = None
        if random_intercepts:
            effects = _random_intercepts(encoded, labels, times, random_form, prior_set)

        def offsets(z, rows=None):
            """(alpha_1 (..., N, K-1), alpha_2..T (..., N, T-1, K-1)) or (None, None); ``rows``: those units."""
            if effects is None:
                return None, None
            u = effects.unit_values(z)  # (..., N, T*(K-1))
            if rows is not None:
                u = u[..., rows, :]
            u = u.reshape((*u.shape[:-1], n_times, k - 1))
            return u[..., 0, :], u[..., 1:, :]

        # ``rows`` (population quantities over representative units) only arises without unit covariates,
        # where the class model varies over units through the random intercepts alone
        def log_initial_at(z, rows=None):
            return class_model.log_prior(offset=offsets(z, rows)[0])

        def log_transition_at(z, rows=None):
            if k == 1:
                return pt.zeros((1, n_times - 1, 1, 1))
            return transitions.log_transition(offsets(z, rows)[1])

        def log_path_prior_at(z, rows=None):
            first, later = offsets(z, rows)
            return transitions.log_path_prior(class_model.log_prior(offset=first), later)

        population = None
        if class_model.covariates is None:  # all units of a cluster share the class model: one row per cluster
            if effects is None:
                population = (np.array([0]), np.array([1.0]))
            else:
                first_rows = np.array([np.flatnonzero(encoded.cluster_index == j)[0]
                                       for j in range(len(encoded.clusters))])
                population = (first_rows, np.bincount(encoded.cluster_index) / n_units)

        clustering = {} if cluster is None else {"cluster_index": encoded.cluster_index,
                                                 "n_clusters": len(encoded.clusters)}
        markov_chain = markov or n_times == 2 or k == 1
        structure = ChainClasses(log_initial_at, log_transition_at, lambda z: emission, n_units, n_times, k,
                                 log_path_prior_at=None if markov_chain else log_path_prior_at,
                                 time_labels=times, latent=effects, population_rows=population,
                                 item_maps=_item_maps(items_by_time, times, invariant_measurement), **clustering)
        structure.add_potential()
    prior_set.check_unused()
    return LTAModel(
        model=model,
        data=encoded,
        kernels=owners,
        class_model=class_model,
        class_labels=labels,
        structure=structure,
        components=[transitions] if k > 1 else [],
        name="lta",
        ordered=ordered,
        options={"call": call, "link": link, "items_by_time": items_by_time, "times": times,
                 "invariant_measurement": bool(invariant_measurement), "markov": bool(markov_chain),
                 "stationary_transitions": bool(stationary_transitions), "random_intercepts": bool(random_intercepts),
                 "random_form": random_form if random_intercepts else None, "equal_variances": equal_variances,
                 "transitions": transitions},
        integration=integration,
        sample_size=encoded.n_units,
        sample_size_basis="units (rows)",
    )


def _random_intercepts(encoded, labels, times, form, priors):
    """alpha_tkj for every time t and free class k (eq. 15), D = T (K-1) effects per cluster."""
    free = labels[:-1]
    effect_labels = [f"{t}:{c}" for t in times for c in free]
    structure = None
    if form == "structural":  # alpha_tk on alpha_(t-1)k: eq. 15
        d = len(effect_labels)
        structure = np.zeros((d, d), bool)
        for t in range(1, len(times)):
            for c in range(len(free)):
                structure[t * len(free) + c, (t - 1) * len(free) + c] = True
    effects = LatentEffects(effect_labels, encoded.cluster_index, len(encoded.clusters),
                            encoded.cluster_covariates, encoded.cluster_covariate_names,
                            form=form, structure=structure, dim="class_time")
    effects.build(priors)
    variance = effects.variances()
    pm.Deterministic("class_icc", variance / (variance + np.pi**2 / 3), dims="class_time")
    return effects


# --------------------------------------------------------------------------- the model object


# --------------------------------------------------------------------------- long <-> wide


