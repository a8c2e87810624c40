"""Monte Carlo studies like Mplus MONTECARLO (``bm.montecarlo`` / ``bayesmix montecarlo``).

From a spec with a simulator (``[data] simulate = ...``), each replication
draws a data set at the population values (the simulator's ``truth``), builds
the spec's model and fits it by ML; the study reports per parameter

- ``population``: the true value,
- ``mean``: the mean estimate, ``sd``: the SD of the estimates across replications,
- ``mean_se``: the mean standard error (compare with ``sd``),
- ``mse``: mean squared error, mean (estimate - population)^2 (the paper's
  Table 2 reports it for the class logit alpha_1),
- ``coverage``: share of 95% intervals estimate +- 1.96 SE holding the population value,
- ``n``: replications it is computed from (completed and converged);

and per replication the seed, log-likelihood, whether ML converged, and the
error of a replication that raised (recorded; the study goes on).

Starts: ``starts="random"`` (the default) fits each replication with the
spec's random starts (``[montecarlo.ml] starts``), as an analyst would fit
one data set. ``starts="population"`` is **Mplus's MONTECARLO convention**:
each replication starts at the population values (the simulator's truth,
:func:`population_start`) and nothing else (``STARTS = 0``). It is much
cheaper (one optimization instead of N + M) and its labels start at the
true ones, but it measures a different thing: a replication lands on the
optimum *nearest the truth*, which can be a local optimum that a
random-start search would pass over for a higher one elsewhere (a label
swap, a boundary solution), so its spread is that of the local estimator
around the truth. Parameters the simulator does not define (e.g. the class
random-intercept SD of a within-between model fitted to between-class
data, whose population value is infinite) take ``start_values``.

Class labels: before fitting, each replication's model takes the simulated
true classes as its label reference (:mod:`bayesmix.relabel`), so the
estimated class 1 is the class that matches the true class 1 best in
membership, and estimates line up with the population values. A family
whose classes are not one (units x classes) table (LTA: classes per time
point) registers :class:`~bayesmix.registry.MonteCarloHooks`: its true and
fitted memberships are compared after the fit (:func:`align_to_truth`, the
``relabeled`` column of ``replications``), and its ``population`` hook maps
the simulator's truth onto the fitted names (LTA: the structural or marginal
SDs of the random class intercepts, by ``random_form``).

Replications run on dask.distributed: a ``LocalCluster`` (``n_workers``
processes, one thread each) by default, or the scheduler at ``scheduler``
(an address such as ``"tcp://10.0.0.5:8786"`` or a ``distributed.Client``),
so a study moves to a cluster unchanged; ``scheduler="serial"`` runs them
in this process. The same ``scheduler=`` serves SBC, the bootstrap LRT and
class enumeration (:mod:`bayesmix.distributed`). Install with
``pip install 'bayesmix[dask]'``.
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from . import registry

__all__ = ["montecarlo", "MonteCarloResult", "population_values", "population_start", "align_to_truth"]


@dataclass
class MonteCarloResult:
    """A Monte Carlo study (:func:`bayesmix.montecarlo`).

    Attributes
    ----------
    table : DataFrame
        Per parameter: population, mean, sd, mean_se, mse, coverage (95%), n.
    replications : DataFrame
        Per replication: seed, ok, converged, relabeled, loglik, seconds, error, warnings (the
        package's warnings of that replication, one per line: recorded, not silenced).
    estimates : DataFrame
        Every replication's estimates (long).
    spec_name : str
    converged : float
        Share of replications with a converged ML solution.
    failed : DataFrame
        Replications that raised, with their error.
    warnings : DataFrame
        The package's warnings across replications, grouped by message with the numbers masked: how
        many replications raised each group, an example message and the numbers' ranges.

    Examples
    --------
    >>> study = bm.montecarlo("lca_power_k2", replications=100, seed=1)   # doctest: +SKIP
    >>> study.table                                                       # doctest: +SKIP
    """

    table: pd.DataFrame
    replications: pd.DataFrame
    estimates: pd.DataFrame
    spec_name: str

    @property
    def converged(self) -> float:
        """Share of replications that completed with a converged ML solution."""
        return float(self.replications["converged"].mean()) if len(self.replications) else float("nan")

    @property
    def warnings(self) -> pd.DataFrame:
        """The package's warnings across replications, grouped by their message with the numbers masked.

        Messages that differ only in their numbers (eigenvalues, loadings of a flat direction, counts,
        category labels such as ``[4.0]``) form one group, so 42 "information matrix not positive
        definite" warnings with 42 different eigenvalues are one row. Index: the message with each number
        replaced by ``#``. Columns: ``replications`` (how many replications raised a message of the group,
        each counted once), ``messages`` (the distinct messages in the group), ``example`` (one of them, the
        first raised) and ``summary`` (the message with each number that varies within the group replaced
        by its range ``<min..max>``). Most frequent first.
        """
        return _group_warnings(self.replications.get("warnings", pd.Series(dtype=str)))

    @property
    def failed(self) -> pd.DataFrame:
        """Replications that raised, with their error."""
        return self.replications[~self.replications["ok"]]

    def __str__(self) -> str:
        r = self.replications
        lines = [f"Monte Carlo study of {self.spec_name}: {len(r)} replications, {int(r['ok'].sum())} completed, "
                 f"{int(r['converged'].sum())} converged ({self.converged:.0%}), {int((~r['ok']).sum())} failed"]
        if len(r[r["ok"]]):
            lines.append(f"mean LL {r.loc[r['ok'], 'loglik'].mean():.3f} (SD {r.loc[r['ok'], 'loglik'].std():.3f}); "
                         f"mean time per replication {r['seconds'].mean():.1f} s")
        lines.append("")
        lines.append(self.table.to_string(float_format=lambda v: f"{v:.4f}"))
        for _, row in self.failed.iterrows():
            lines.append(f"replication {row['replication']} failed: {row['error'].strip().splitlines()[-1]}")
        groups = self.warnings
        if len(groups):
            lines.append("warnings of the package (number of replications that raised each; messages that differ "
                         "only in their numbers counted together, their ranges as <min..max>):")
            lines.extend(f"  {row.replications} x {_shorten(row.summary)}" for row in groups.itertuples())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{str(self).splitlines()[0]}</pre>" + self.table.to_html(float_format=lambda v: f"{v:.4f}")


def population_values(model, truth: Mapping[str, Any]) -> dict[str, float]:
    """The simulator's ``truth`` under the ML parameter names (``name[label, ...]``) of ``model``.

    Arrays are matched to the variable's coords by position; dicts by label
    (``{"intercept": 0.45}`` -> ``random_sd[intercept]``); scalars by name.
    Truth entries that are not model variables are left out.
    """
    pm_model = model.model
    dims_of = getattr(pm_model, "named_vars_to_dims", {})
    out: dict[str, float] = {}
    for name, value in truth.items():
        if name not in pm_model.named_vars:
            continue
        dims = dims_of.get(name) or ()
        if isinstance(value, Mapping):
            for label, v in value.items():
                out[f"{name}[{label}]"] = float(v)
            continue
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0 or not dims:
            if arr.size == 1:
                out[name] = float(arr.reshape(()))
            continue
        labels = [list(pm_model.coords[d]) for d in dims]
        if arr.shape != tuple(len(x) for x in labels):
            continue
        for index in np.ndindex(arr.shape):
            key = ", ".join(str(labels[a][i]) for a, i in enumerate(index))
            out[f"{name}[{key}]"] = float(arr[index])
    return out


def population_start(model, population: Mapping[str, float],
                     start_values: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """A complete ``fit_ml(start=...)`` dict from population values by ML parameter name (``name[label, ...]``).

    ``population`` is what :func:`population_values` (or a family's
    ``MonteCarloHooks.population``) returns; ``start_values`` (same naming)
    fill or override elements, e.g. a parameter whose population value the
    simulator does not define. Every free parameter of ``model`` (random
    effects that are integrated out excepted) must be covered, else a
    ``ValueError`` names the missing elements: a start at the population
    values is Mplus's MONTECARLO convention, not a partial random start.
    """
    pm_model = model.model
    dims_of = getattr(pm_model, "named_vars_to_dims", {})
    values = {**dict(population), **dict(start_values or {})}
    integrated = set(getattr(model, "integrated", ()) or ())
    out: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for rv in pm_model.free_RVs:
        name = rv.name
        if name in integrated:
            continue
        dims = dims_of.get(name) or ()
        if not dims:
            if name in values:
                out[name] = np.asarray(float(values[name]))
            else:
                missing.append(name)
            continue
        labels = [list(pm_model.coords[d]) for d in dims]
        arr = np.full(tuple(len(x) for x in labels), np.nan)
        for index in np.ndindex(arr.shape):
            key = f"{name}[{', '.join(str(labels[a][i]) for a, i in enumerate(index))}]"
            if key in values:
                arr[index] = float(values[key])
            else:
                missing.append(key)
        out[name] = arr
    if missing:
        raise ValueError(f"starts='population': the simulator's truth gives no population value for {missing}; "
                         "give them as start_values={name: value} (spec: [montecarlo.start_values]) or use "
                         "starts='random'.")
    return out


def _true_membership(model, classes) -> np.ndarray | None:
    """One-hot true classes in the rows the model's class posterior has (units, or clusters for a between class)."""
    if classes is None:
        return None
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(classes) != len(model.data.frame) or classes.max() >= model.n_classes:
        return None
    members = np.eye(model.n_classes)[classes.astype(int)]
    if getattr(model.structure, "class_level", "unit") == "cluster":  # one class per cluster (eq. 16)
        index = np.asarray(model.data.cluster_index)
        first = np.array([np.flatnonzero(index == j)[0] for j in range(index.max() + 1)])
        members = members[first]
    return members


def align_to_truth(model, ml, membership, reference, ml_options: Mapping[str, Any] | None = None):
    """``ml`` in the class labels that best match the true classes; returns ``(ml, relabeled)``.

    ``membership`` (the fit's class posterior) and ``reference`` (one-hot true
    classes) have the same shape (..., K); the permutation maximizing
    sum P_fit(unit, perm k) 1[true class = k] over all leading axes (Hungarian
    algorithm) is applied to the estimates (reference-coded logits
    re-expressed, :func:`bayesmix.relabel.permute_point`) and ML restarts from
    them alone (``starts=0``), so estimates and SEs are those of the aligned
    labeling, which becomes the model's label reference; the log-likelihood
    must stay the same (else ``ml`` is kept).
    """
    from scipy.optimize import linear_sum_assignment

    from .relabel import permute_point
    k = model.n_classes
    est = np.asarray(membership, dtype=float).reshape(-1, k)
    ref = np.asarray(reference, dtype=float).reshape(-1, k)
    if est.shape != ref.shape:
        raise ValueError(f"membership {np.shape(membership)} and reference {np.shape(reference)} differ in shape.")
    rows, cols = linear_sum_assignment(-(est.T @ ref))  # fitted class rows[j] -> true class cols[j]
    perm = np.empty(k, dtype=int)
    perm[cols] = rows
    if np.array_equal(perm, np.arange(k)):
        return ml, False
    point = permute_point(model, ml.point, perm)
    labeling = model.labeling
    if labeling is not None:  # the model's one labeling (bayesmix.relabel) follows, or ML would undo the swap
        model.labeling = np.asarray(labeling)[..., perm]
    options = {name: v for name, v in (ml_options or {}).items() if name not in ("starts", "seed", "start")}
    aligned = model.fit_ml(starts=0, start=point, **{"progressbar": False, **options})
    if not abs(aligned.loglik - ml.loglik) <= 1e-4 * max(1.0, abs(ml.loglik)):
        model.labeling = labeling
        return ml, False
    return aligned, True


def _replicate(raw: dict, source: str | None, replication: int, seed: int, fast: bool, ml_options: dict,
               prepare: Callable | None, starts: str = "random",
               start_values: Mapping[str, float] | None = None) -> dict:
    """One replication: simulate, build, align labels to the true classes, fit ML (runs on a worker)."""
    import warnings
    from pathlib import Path

    t0 = time.perf_counter()
    record: dict[str, Any] = {"replication": replication, "seed": seed, "ok": False, "converged": False,
                              "relabeled": False, "loglik": np.nan, "error": "", "seconds": np.nan, "estimates": {},
                              "population": {}, "warnings": ""}
    try:
        from .relabel import set_label_reference
        from .spec import read_spec
        spec = read_spec(raw)
        spec.source = Path(source) if source else None
        sim = spec.simulate(seed=seed, fast=fast)
        data = sim.data
        # the package's warnings of each replication (boundary estimates, unreplicated optima, ...) are
        # recorded, not silenced: ``replications["warnings"]`` lists them, ``MonteCarloResult.warnings`` groups and counts them
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if prepare is not None:
                data = prepare(replication, data)
            model = spec.build(data, fast=fast)
            hooks = registry.get(spec.factory).montecarlo_hooks or registry.MonteCarloHooks()
            if hooks.true_membership is not None:
                reference = hooks.true_membership(model, sim)
            else:
                reference = _true_membership(model, getattr(sim, "classes", None))
            if reference is not None and hooks.membership is None:
                set_label_reference(model, reference)
            population = (hooks.population(model, sim) if hooks.population is not None
                          else population_values(model, sim.truth))
            options = {"progressbar": False, **ml_options}  # replications: no bar each
            if starts == "population":  # Mplus MONTECARLO: the population values alone (STARTS = 0)
                start = population_start(model, population, start_values)
                if model.labeling is None:  # no truth reference before the fit: keep the start's labels
                    from .relabel import set_label_reference_at  # (not ordered by size; checked below)
                    from .inference.starts import user_starts
                    set_label_reference_at(model, user_starts(model, start)[0], options.get("integration"))
                options.update(starts=0, start=start)
            ml = model.fit_ml(**options)
            if reference is not None and hooks.membership is not None:
                ml, record["relabeled"] = align_to_truth(model, ml, hooks.membership(model, ml), reference,
                                                         ml_options)
        record["population"] = population
        params = ml.params
        record["estimates"] = {name: (float(params.loc[name, "estimate"]), float(params.loc[name, "se"]))
                               for name in params.index}
        record.update(ok=True, converged=bool(ml.converged), loglik=float(ml.loglik))
        record["warnings"] = _distinct_warnings(caught)
    except Exception:  # noqa: BLE001  (a failing replication is recorded, the study goes on)
        record["error"] = traceback.format_exc()
    record["seconds"] = time.perf_counter() - t0
    return record


def _distinct_warnings(caught) -> str:
    """The package's warnings of one replication, one line each, in order, without repeats (BLAS notes dropped).

    A message's own line breaks become spaces, so each line is one warning."""
    seen: list[str] = []
    for w in caught:
        text = " ".join(f"{w.category.__name__}: {w.message}".split())
        if "BLAS" not in text and text not in seen:
            seen.append(text)
    return "\n".join(seen)


#: a number in a warning message (not one inside a name such as ``class1``): masked to group messages
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _group_warnings(cells: pd.Series) -> pd.DataFrame:
    """``MonteCarloResult.warnings``: the replications' warning lines grouped by message with numbers masked."""
    groups: dict[str, dict] = {}
    for cell in cells:
        counted: set[str] = set()
        for message in str(cell).split("\n") if isinstance(cell, str) else ():
            if not message:
                continue
            pattern = _NUMBER.sub("#", message)
            group = groups.setdefault(pattern, {"replications": 0, "messages": [], "numbers": []})
            if message not in group["messages"]:
                group["messages"].append(message)
                group["numbers"].append(_NUMBER.findall(message))
            if pattern not in counted:  # a replication counts once per group
                counted.add(pattern)
                group["replications"] += 1
    rows = []
    for pattern, group in groups.items():
        pieces = pattern.split("#")
        summary = pieces[0]
        for slot, piece in enumerate(pieces[1:]):
            tokens = [numbers[slot] for numbers in group["numbers"]]
            values = [float(t) for t in tokens]
            low, high = tokens[int(np.argmin(values))], tokens[int(np.argmax(values))]
            summary += (low if min(values) == max(values) else f"<{low}..{high}>") + piece
        rows.append({"pattern": pattern, "replications": group["replications"], "messages": len(group["messages"]),
                     "example": group["messages"][0], "summary": summary})
    table = pd.DataFrame(rows, columns=["pattern", "replications", "messages", "example", "summary"])
    return (table.set_index("pattern").sort_values("replications", ascending=False, kind="stable")
            .astype({"replications": int, "messages": int}))


def _shorten(text: str, width: int = 240) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _summarize(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    reps = pd.DataFrame([{k: r.get(k, "") for k in ("replication", "seed", "ok", "converged", "relabeled", "loglik",
                                                      "seconds", "error", "warnings")}
                         for r in records]).sort_values("replication").reset_index(drop=True)
    rows = []
    for r in records:
        for name, (est, se) in r["estimates"].items():
            rows.append({"replication": r["replication"], "converged": r["converged"], "parameter": name,
                         "population": r["population"].get(name, np.nan), "estimate": est, "se": se})
    long = pd.DataFrame(rows, columns=["replication", "converged", "parameter", "population", "estimate", "se"])
    used = long[long["converged"]]
    table_rows = []
    for name, group in used.groupby("parameter", sort=False):
        pop = group["population"].iloc[0]
        est, se = group["estimate"].to_numpy(), group["se"].to_numpy()
        err = est - pop
        covered = np.abs(err) <= 1.96 * se
        table_rows.append({"parameter": name, "population": pop, "mean": est.mean(),
                           "sd": est.std(ddof=1) if len(est) > 1 else np.nan,
                           "mean_se": np.nanmean(se) if np.isfinite(se).any() else np.nan,
                           "mse": np.mean(err**2) if np.isfinite(pop) else np.nan,
                           "coverage": covered[np.isfinite(se)].mean() if np.isfinite(pop) and np.isfinite(se).any()
                           else np.nan,
                           "n": len(est)})
    table = pd.DataFrame(table_rows, columns=["parameter", "population", "mean", "sd", "mean_se", "mse", "coverage",
                                              "n"]).set_index("parameter")
    return table, reps, long


def _ml_options(parsed, ml: Mapping[str, Any] | None, fast: bool) -> dict:
    """The ``fit_ml`` options of each replication: ``ml``, else ``[montecarlo.ml]`` over ``[inference.ml]``.

    In fast mode the fast-mode defaults and the spec's ``[fast.ml]`` overrides apply on top of
    ``[montecarlo.ml]`` too (as they do on top of ``[inference.ml]`` for a single fit).
    """
    from .spec import FAST_DEFAULTS, _merge

    section = parsed.raw.get("montecarlo", {})
    if ml is not None:
        ml_options = dict(ml)
    elif "ml" in section:
        ml_options = {**(parsed.ml_options(False) or {}), **section["ml"]}
        if fast:
            ml_options = _merge(_merge(ml_options, FAST_DEFAULTS["ml"]), parsed.raw.get("fast", {}).get("ml", {}))
    else:
        ml_options = parsed.ml_options(fast) or {}
    if isinstance(ml_options.get("starts"), list):
        ml_options["starts"] = tuple(ml_options["starts"])
    ml_options.setdefault("warn_unreplicated", False)
    return ml_options


def montecarlo(spec, replications: int | None = None, seed: int | None = None, scheduler: Any = None, *,
               n_workers: int | None = None, fast: bool | None = None, ml: Mapping[str, Any] | None = None,
               prepare: Callable[[int, pd.DataFrame], pd.DataFrame] | None = None,
               progress: bool = False, starts: str | None = None,
               start_values: Mapping[str, float] | None = None) -> MonteCarloResult:
    """Run a Monte Carlo study of a spec (simulate at the population values, fit by ML, summarize).

    Parameters
    ----------
    spec : path, bundled spec name, dict or Spec
        Needs ``[data] simulate = ...`` (population values: the simulator's
        parameters and its ``truth``).
    replications : int, optional
        Number of data sets (default: the spec's ``[montecarlo] replications`` or 100).
    seed : int, optional
        Seeds the replications (one ``SeedSequence`` child per replication;
        default: the spec's ``[montecarlo] seed`` or 0). Same seed, same study.
    scheduler : str or distributed.Client, optional
        Where the replications run (:mod:`bayesmix.distributed`): ``"local"``
        (the default: a dask ``LocalCluster`` with ``n_workers``, default 2,
        single-threaded worker processes, closed afterwards), ``"serial"``
        (this process), a dask scheduler address or a ``distributed.Client``.
    fast : bool, optional
        The spec's fast mode (smaller simulated data); default from ``BAYESMIX_FAST``.
    ml : dict, optional
        ``fit_ml`` options (default: ``[montecarlo.ml]``, else ``[inference.ml]``).
    prepare : callable, optional
        ``prepare(replication, data) -> data`` applied to each simulated data
        set before fitting (e.g. to impose a missing-data design); runs on the workers.
    progress : bool
        Print a line per finished replication.
    starts : {"random", "population"}, optional
        ``"random"`` (default: the spec's ``[montecarlo] starts``, else
        random): each replication runs the ``ml`` random starts.
        ``"population"``: Mplus's MONTECARLO convention -- each replication
        starts at the population values alone (:func:`population_start`,
        ``starts=0``; ``ml``'s ``starts`` and ``seed`` are then unused). Much
        cheaper, but a replication can land on a local optimum near the
        truth that random starts would leave for a higher one, so the two
        conventions can give different spreads. The truth alignment of the
        labels is kept either way.
    start_values : dict, optional
        With ``starts="population"``: start values by ML parameter name
        (``{"random_sd[class1]": 10.0}``) for parameters the simulator's truth
        does not define, or overriding it (default: ``[montecarlo.start_values]``).

    Returns
    -------
    MonteCarloResult
        ``table`` per parameter: population, mean, sd, mean_se, mse, coverage
        (95%), n; ``replications`` (seed, ok, converged, loglik, seconds,
        error, warnings: the package's warnings of the replication, recorded
        rather than silenced); ``converged`` share; ``failed`` replications;
        ``warnings``: how many replications raised each warning, messages
        that differ only in their numbers grouped (with the numbers' ranges).

    Examples
    --------
    >>> study = bm.montecarlo("lca_power_k2", replications=100, seed=1)   # doctest: +SKIP
    >>> print(study)                                                      # doctest: +SKIP
    """
    from .spec import Spec, fast_mode, read_spec
    parsed = spec if isinstance(spec, Spec) else read_spec(spec)
    if not parsed.is_simulated:
        raise ValueError(f"spec {parsed.name!r} has no simulator ([data] simulate = ...); a Monte Carlo study "
                         "draws its data sets from one.")
    if not registry.get(parsed.factory).montecarlo:  # a family may opt out
        # the family's simulated truth is not mapped onto its parameters (labels, population values):
        # refuse rather than report wrong values
        raise ValueError(f"spec {parsed.name!r} uses bm.{parsed.factory}; Monte Carlo studies of its specs are not "
                         "supported yet (labels and random-effect population values are not mapped). Fit its "
                         f"simulated data with `bayesmix run` or loop over its simulator yourself.")
    from .distributed import map_tasks, resolve_scheduler
    resolve_scheduler(scheduler, "local")  # a bad value is refused before any replication
    fast = fast_mode() if fast is None else fast
    section = parsed.raw.get("montecarlo", {})
    replications = int(replications if replications is not None else section.get("replications", 100))
    if replications < 1:
        raise ValueError(f"replications={replications}; give at least 1.")
    seed = int(seed if seed is not None else section.get("seed", 0))
    starts = starts if starts is not None else section.get("starts", "random")
    if starts not in ("random", "population"):
        raise ValueError(f"starts={starts!r}; give \"random\" (the ml random starts per replication) or "
                         "\"population\" (start at the population values alone, Mplus's MONTECARLO convention).")
    start_values = dict(start_values if start_values is not None else section.get("start_values", {}))
    if start_values and starts != "population":
        raise ValueError("start_values are used only with starts=\"population\"; drop start_values or pass "
                         "starts=\"population\".")
    ml_options = _ml_options(parsed, ml, fast)
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(replications)]
    source = str(parsed.source) if parsed.source is not None else None

    finished = 0

    def report(_index: int, record: dict) -> None:
        nonlocal finished
        finished += 1
        if progress:
            status = ("converged" if record["converged"] else "not converged") if record["ok"] else "FAILED"
            print(f"[{finished}/{replications}] replication {record['replication']}: {status}"
                  + (f", LL {record['loglik']:.3f}" if record["ok"] else "")
                  + f" ({record['seconds']:.1f} s)", flush=True)

    records = map_tasks(_replicate, [(parsed.raw, source, r + 1, s, fast, ml_options, prepare, starts, start_values)
                                     for r, s in enumerate(seeds)],
                        scheduler=scheduler, default="local", n_workers=n_workers,
                        name=f"bayesmix-mc-{parsed.name}", on_result=report)
    table, reps, long = _summarize(records)
    return MonteCarloResult(table=table, replications=reps, estimates=long, spec_name=parsed.name)
