"""Simulation-based calibration (SBC) of the bayesmix factories.

SBC (Talts, Betancourt, Simpson, Vehtari & Gelman 2018, arXiv:1804.06788)
checks the whole chain prior -> simulator -> likelihood -> sampler: draw
theta' from the model's prior, simulate data y' from the model's own
generative process at theta', fit y' with NUTS and take the rank of
q(theta') among the L posterior draws q(theta_1..L) of every scalar summary q.
If the posterior is right, the ranks are uniform on 0..L; a wrong Jacobian,
a prior other than the documented one, a likelihood that does not match
the generative process or a label alignment that biases the draws all
bend the rank distribution.

Here each replication

1. draws theta' (every free variable, random effects included, and the
   deterministics) by forward sampling the factory's own PyMC model, built
   once on a template data set of the simulated shape (the priors must not
   depend on the data: the cases pass every data-scaled prior explicitly);
2. simulates y' with NumPy code written from the paper's equations (eq. 1,
   4, 9, 16-19, 24, 28-30, 34-38, 42), independent of the likelihood
   graphs it checks;
3. builds the model on y' (the data are graph constants: one new model per
   replication; the PyMC sampler's C code is cached across them) and fits
   it as users do: the start search of ``sample(init="map")`` (its mode is
   the label reference), NUTS from there, labels aligned to that mode;
4. aligns theta' to the same reference with the same function
   (:func:`bayesmix.inference.labels.align_labels`). The labeling is then a
   function of (theta, y) applied to theta' and to every posterior draw
   alike, so the ranks of the aligned quantities are uniform exactly when
   the aligned posterior is calibrated (SBC "sees what users get");
5. ranks q(theta') among L posterior draws thinned evenly over the chains.

Simulated data the factory refuses (a ValueError, e.g. an item that came out
constant) are redrawn with a new theta'. That conditions on an event of y'
alone, which leaves p(theta | y') and so the uniformity of the ranks intact;
the count of redraws is reported.

Uniformity is tested per quantity on the randomized fractional ranks
u = (rank + U) / (L + 1), U ~ Uniform(0, 1), which are Uniform(0, 1) under
calibration: a chi-square test on equal-width bins and the ECDF test of
Säilynoja, Bürkner & Vehtari (2022, Statistics and Computing 32:32), whose
statistic is the smallest two-sided binomial tail probability of the ECDF over
the evaluation points, calibrated by simulation; its simultaneous band is what
:func:`plot_ecdf_difference` draws. :func:`power` says how large a
miscalibration a given number of replications can detect.

The ``simuk`` package (0.3.0) was tried first: its loop conditions one fixed
PyMC model on new data through ``pm.observe`` / ``pm.set_data`` and calls
``pm.sample`` itself, but bayesmix's likelihood is a ``pm.Potential`` over
summed-out classes with the data as graph constants, and the fit users get
(``MixtureModel.sample``: start search, label alignment) is not ``pm.sample``;
this module is written on the same rank statistics instead.

The cases live with their families (``bayesmix/families/<family>/sbc.py``,
registered as ``Family(sbc_cases=...)``, written with the helpers of
:mod:`bayesmix.sbc_cases`); :data:`CASES` lists them from the registry in the
paper's order.

Examples
--------
>>> from bayesmix import sbc
>>> case = sbc.make_case("lca", n_units=60, n_items=4)             # doctest: +SKIP
>>> result = sbc.run_sbc(case, n_replications=50, seed=1)          # doctest: +SKIP
>>> sbc.uniformity_table(result)                                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from . import _reuse, registry
from ._compile import python_mode
from .families.regression.sbc import REGRESSION_PRIORS  # noqa: F401  (the cases moved to their families)
from .sbc_cases import PROBIT_PRIORS, SBCCase, cdf  # noqa: F401  (SBCCase and the helpers moved to sbc_cases)

__all__ = [
    "SBCCase", "SBCResult", "CASES", "make_case", "run_sbc", "prior_draws", "ranks_of", "fractional_ranks",
    "miscalibrated",
    "chi_square_uniformity", "ecdf_uniformity", "ecdf_band", "uniformity_table", "verdict", "power",
    "replications_for_power",
    "plot_rank_histograms", "plot_ecdf_difference",
]

_log = logging.getLogger("bayesmix")


# ============================================================================ cases (written by the families)
class _QuietPyMC:
    """Silence PyMC's sampler messages (one set per replication) while the loop runs."""

    def __enter__(self):
        names = [n for n in logging.root.manager.loggerDict if n == "pymc" or n.startswith("pymc.")] + ["pymc"]
        self.levels = {n: logging.getLogger(n).level for n in set(names)}
        for n in self.levels:
            logging.getLogger(n).setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        for n, level in self.levels.items():
            logging.getLogger(n).setLevel(level)
        return False


class _Cases(Mapping):
    """``name -> make_case(**sizes)`` of every registered family's SBC cases (read-only, in registration order).

    A live view of :func:`bayesmix.registry.sbc_cases`: the families register
    their cases (``Family(sbc_cases=...)``, written in
    ``bayesmix/families/<family>/sbc.py``), in the paper's order.
    """

    def __getitem__(self, name: str) -> Callable[..., SBCCase]:
        return registry.sbc_cases()[name]

    def __iter__(self):
        return iter(registry.sbc_cases())

    def __len__(self) -> int:
        return len(registry.sbc_cases())

    def __repr__(self) -> str:
        return f"CASES({list(self)})"


#: name -> case maker (keyword sizes and ``priors`` overrides), from the registry
CASES: Mapping[str, Callable[..., SBCCase]] = _Cases()


def make_case(name: str, **sizes: Any) -> SBCCase:
    """The SBC case ``name`` (one of :data:`CASES`) at the given sizes.

    Parameters
    ----------
    name : str
        ``"lca"``, ``"lca_random_intercept"``, ``"lca_between"``,
        ``"lca_within_between"``, ``"mixture_regression"``,
        ``"mixture_regression_random_intercept"``, ``"lta"``,
        ``"gom_logistic_normal"``, ``"gom_restricted"``, ``"gom_dirichlet"``,
        ``"fma"``, ``"fma_gom"``, ``"irt_3pl"`` or ``"irt_3pl_fma_gom"``.
    **sizes
        ``n_units``, ``n_items``, ``n_clusters``, ``cluster_size`` (as the case
        takes them) and ``priors`` (overrides passed to the factory).

    Returns
    -------
    SBCCase

    Examples
    --------
    >>> case = make_case("lca", n_units=60, n_items=4)
    >>> case.name
    'lca'
    """
    cases = registry.sbc_cases()
    if name not in cases:
        raise ValueError(f"SBC case {name!r} is unknown; use one of {sorted(cases)}.")
    return cases[name](**sizes)


# ============================================================================ the loop
@dataclass
class SBCResult:
    """Truths, thinned posterior draws, ranks and per-replication figures of one SBC run.

    ``truth`` (replications x quantities) holds q(theta') after label
    alignment; ``draws`` (replications, quantities, L) the L thinned posterior
    draws of every quantity; ``ranks`` the integer ranks in 0..L (ties broken
    at random); ``fractional`` the randomized ranks (rank + U) / (L + 1) in
    (0, 1); ``fits`` one row per replication (seed, seconds, divergences,
    max R-hat, min bulk ESS, relabeled draws, rejected simulations before it;
    ``seconds`` is wall time, ``cpu_seconds`` the CPU time of the fitting process).
    """

    case: str
    description: str
    truth: pd.DataFrame
    draws: np.ndarray
    ranks: pd.DataFrame
    fractional: pd.DataFrame
    fits: pd.DataFrame
    n_posterior: int
    settings: dict
    priors: dict

    @property
    def quantities(self) -> list[str]:
        return list(self.truth.columns)


def ranks_of(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each truth among its posterior draws: #(draws < truth), ties broken at random.

    Parameters
    ----------
    truth : array (R, Q)
    draws : array (R, Q, L)
    rng : numpy Generator

    Returns
    -------
    array (R, Q) of integers in 0..L

    Examples
    --------
    >>> ranks_of(np.array([[0.5]]), np.array([[[0.1, 0.2, 0.9]]]), np.random.default_rng(0))
    array([[2]])
    """
    truth = np.asarray(truth, dtype=float)[..., None]
    below = (draws < truth).sum(axis=-1)
    ties = (draws == truth).sum(axis=-1)
    return below + np.floor(rng.random(below.shape) * (ties + 1)).astype(int)


def miscalibrated(result: SBCResult, *, bias: float = 0.0, scale: float = 1.0, seed: int = 0) -> SBCResult:
    """The same fits with every posterior made wrong on purpose: a negative control for the tests.

    Each replication's draws of each quantity are moved by ``bias``
    posterior SDs and shrunk around their mean by ``1 / scale`` (``scale``
    > 1: too narrow), then ranked again. A test that does not reject these
    ranks had no power at this number of replications.
    """
    draws = result.draws
    mean = draws.mean(axis=-1, keepdims=True)
    sd = draws.std(axis=-1, keepdims=True)
    wrong = mean + (draws - mean) / scale + bias * sd
    rng = np.random.default_rng(seed)
    ranks = ranks_of(result.truth.to_numpy(), wrong, rng)
    frac = fractional_ranks(ranks, result.n_posterior, rng)
    columns = result.truth.columns
    return SBCResult(f"{result.case} (bias {bias:g} SD, scale {scale:g})", result.description, result.truth, wrong,
                     pd.DataFrame(ranks, columns=columns), pd.DataFrame(frac, columns=columns), result.fits,
                     result.n_posterior, result.settings, result.priors)


def prior_draws(mm, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """``n`` forward draws of every free variable and deterministic of ``mm``'s PyMC model.

    The only potential of a bayesmix model is its likelihood, so forward
    sampling the free variables is sampling the prior (checked).

    Parameters
    ----------
    mm : MixtureModel
    n : int
        Number of draws.
    seed : int

    Returns
    -------
    list of dict
        One dict per draw: variable name -> array.
    """
    model = mm.model
    if len(model.potentials) != 1:
        raise ValueError(f"{mm.name}: the model has {len(model.potentials)} potentials; forward draws of its free "
                         "variables are its prior only when the likelihood is the one potential.")
    variables = list(model.free_RVs) + list(model.deterministics)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = pm.draw(variables, draws=n, random_seed=seed, mode=python_mode())  # no C compile
    if n == 1:  # pm.draw adds no draw axis for a single draw
        values = [np.asarray(v)[None] for v in values]
    return [{v.name: np.asarray(arr[i]) for v, arr in zip(variables, values)} for i in range(n)]


def _dataset(mm, draw: dict, names) -> xr.Dataset:
    """One draw as a (chain=1, draw=1) dataset with the model's dims (what align_labels reads)."""
    dims = mm.model.named_vars_to_dims
    out = {}
    for name in names:
        value = np.asarray(draw[name])
        var_dims = tuple(dims.get(name) or ())
        if len(var_dims) != value.ndim:
            var_dims = tuple(f"{name}_dim_{i}" for i in range(value.ndim))
        out[name] = (("chain", "draw") + var_dims, value[None, None])
    return xr.Dataset(out)


def _stack(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """name -> (chain * draw, ...) arrays."""
    out = {}
    for name, da in ds.data_vars.items():
        arr = da.transpose("chain", "draw", ...).to_numpy()
        out[name] = arr.reshape((-1,) + arr.shape[2:])
    return out


def _thin(posterior: xr.Dataset, n_posterior: int) -> xr.Dataset:
    """``n_posterior`` draws spread evenly over every chain (thinning against autocorrelation)."""
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    per_chain = n_posterior // n_chain
    if per_chain < 1 or per_chain * n_chain != n_posterior or per_chain > n_draw:
        raise ValueError(f"n_posterior={n_posterior} must be a multiple of chains={n_chain} and at most "
                         f"chains x draws = {n_chain * n_draw}.")
    index = np.linspace(0, n_draw - 1, per_chain).round().astype(int)
    return posterior.isel(draw=index)


def run_sbc(case: SBCCase, n_replications: int, *, draws: int = 200, tune: int = 300, chains: int = 2,
            n_posterior: int = 100, starts: int = 4, seed: int = 0, max_rejections: int = 200,
            target_accept: float = 0.9, progress: Callable[[str], None] | None = None,
            scheduler: Any = None, n_workers: int | None = None, reuse_compiled: bool = True,
            latent: str = "sampled", integration: Mapping[str, Any] | None = None,
            on_fit: Callable[[int, tuple], None] | None = None,
            completed: Mapping[int, tuple] | None = None) -> SBCResult:
    """Run SBC on ``case``: prior draw, simulation, NUTS fit with label alignment, ranks.

    Parameters
    ----------
    case : SBCCase
        From :func:`make_case`.
    n_replications : int
        Number of simulated data sets fitted.
    draws, tune, chains : int
        NUTS settings of every fit (PyMC's sampler, one core: its C code
        compiles once and is reused by every replication's model).
    n_posterior : int
        L, posterior draws the prior draw is ranked among (thinned evenly
        from each chain; a multiple of ``chains``).
    starts : int
        Random starts of the posterior-mode search that places the chains
        and gives the label reference (``sample(init="map", starts=...)``).
    seed : int
        Seeds the prior draws, the simulations, the start search and NUTS.
    max_rejections : int
        Simulated data sets the factory may refuse (e.g. a constant item)
        before the run stops with an error.
    target_accept : float
        NUTS target acceptance rate.
    progress : callable, optional
        Called with a one-line message after each replication.
    scheduler : str or distributed.Client, optional
        Where the fits run (:mod:`bayesmix.distributed`): ``"serial"``
        (default: here), ``"local"`` (a dask ``LocalCluster`` of
        ``n_workers`` processes), a dask scheduler address or a
        ``distributed.Client``. Prior draws and simulated data sets are made
        here first, each fit has its own seed: the result is the same
        wherever the fits run.
    n_workers : int, optional
        Worker processes of ``scheduler="local"`` (default 2).
    reuse_compiled : bool
        Compile each of the model's functions once per process and reuse it
        for every replication whose graph has the same structure, with the
        new data swapped in (:mod:`bayesmix._reuse`): a replication of the
        LCA case then costs about a third less CPU time. The draws are the
        same as with ``False`` (every case checked so far, bit for bit;
        tested); ``False`` compiles every replication's model afresh.
    latent : ``"sampled"`` or ``"integrated"``
        Passed to :meth:`MixtureModel.sample`: ``"integrated"`` fits NUTS on
        the structural parameters only, the continuous latent effects
        (person factors, GoM memberships, random class intercepts)
        integrated by quadrature inside the density
        (:mod:`bayesmix.inference.integrated`). The truths theta' and the
        simulated data still include the latent effects; the ranked
        quantities are structural, whose posterior (the marginal over the
        latent effects) integrating does not change, so this is an SBC of
        the same posterior through another sampler's path (and of the
        quadrature). Cases whose quantities read latent effects cannot use it.
    integration : dict, optional
        The quadrature of ``latent="integrated"`` (default: the model's own).
    on_fit : callable, optional
        ``on_fit(r, outcome)`` as each replication's fit finishes (completion
        order on a cluster), ``outcome`` = (truth dict, draws array
        (quantities x L), fit record): a caller can save it, so that a run cut
        off before its end loses no fit (``benchmarks/sbc_all.py`` writes
        them to a JSON-lines file).
    completed : mapping, optional
        Replication index -> outcome (as given to ``on_fit``) of fits already
        made by a cut-off run with the same case, settings and ``seed``: those
        replications are not fitted again. The prior draws, data sets and rank
        tie-breaks are made again from ``seed`` as before, so the result equals
        the uncut run's.

    Returns
    -------
    SBCResult

    Examples
    --------
    >>> result = run_sbc(make_case("lca", n_units=60), n_replications=20, seed=1)   # doctest: +SKIP
    >>> uniformity_table(result)                                                    # doctest: +SKIP
    """
    if n_replications < 1:
        raise ValueError(f"n_replications must be >= 1, got {n_replications!r}.")
    completed = dict(completed or {})
    outside = sorted(set(completed) - set(range(n_replications)))
    if outside:
        raise ValueError(f"completed has replications {outside} outside 0..{n_replications - 1}.")
    rng = np.random.default_rng([seed, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template_data = case.template(np.random.default_rng([seed, 1]))
        template = (case.prior_build or case.build)(template_data)
        fitted = template if case.prior_build is None else case.build(template_data)
    from .inference.integrated import check_latent
    check_latent(fitted, latent, integration)  # a bad value, or a model without latent effects, is refused here
    pool: list[dict] = []
    batch = 0

    def next_theta() -> dict:
        nonlocal batch
        if not pool:
            pool.extend(prior_draws(template, max(2 * n_replications, 8), seed=int(1000 * seed + batch)))
            batch += 1
        return pool.pop(0)

    from .distributed import map_tasks, resolve_scheduler
    resolve_scheduler(scheduler)  # a bad value is refused before any fit
    tasks = []
    rejected_total = 0
    for r in range(n_replications):  # prior draws and data sets here, in order: the same wherever fits run
        rejected = 0
        while True:
            theta = next_theta()
            data = case.simulate(theta, rng)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    case.build(data)
                break
            except ValueError as err:  # conditioning on an event of y' alone keeps the ranks uniform
                rejected += 1
                _log.debug("sbc %s: simulated data refused (%s)", case.name, err)
                if rejected_total + rejected > max_rejections:
                    raise RuntimeError(f"SBC {case.name}: more than {max_rejections} simulated data sets refused by "
                                       f"the factory; the last: {err}") from err
        rejected_total += rejected
        fit_seed = int(np.random.default_rng([seed, 2, r]).integers(2**31 - 1))
        # the fit rebuilds the model from the data (milliseconds; no model is held across replications)
        tasks.append((case, data, theta, r, fit_seed, rejected,
                      dict(draws=draws, tune=tune, chains=chains, starts=starts, target_accept=target_accept,
                           n_posterior=n_posterior, reuse_compiled=reuse_compiled, latent=latent,
                           integration=None if integration is None else dict(integration))))

    pending = [r for r in range(n_replications) if r not in completed]

    def report(index: int, outcome: tuple) -> None:
        r = pending[index]
        if on_fit is not None:
            on_fit(r, outcome)
        if progress is not None:
            record = outcome[2]
            progress(f"{case.name} {r + 1}/{n_replications}: {record['seconds']:.1f} s, "
                     f"{record['divergences']} divergences, max R-hat {record['max_rhat']:.3f}")

    fitted_now = map_tasks(_fit_replication, [tasks[r] for r in pending], scheduler=scheduler,
                           n_workers=n_workers, name=f"bayesmix-sbc-{case.name}", on_result=report) if pending else []
    completed.update(zip(pending, fitted_now))
    outcomes = [completed[r] for r in range(n_replications)]
    truths = [outcome[0] for outcome in outcomes]
    posterior_draws = [outcome[1] for outcome in outcomes]
    fits = [outcome[2] for outcome in outcomes]
    settings = {"n_replications": n_replications, "draws": draws, "tune": tune, "chains": chains, "starts": starts,
                "seed": seed, "target_accept": target_accept, "rejected_simulations": rejected_total,
                "latent": latent, "integration": None if integration is None else dict(integration)}
    truth_frame = pd.DataFrame(truths)
    draws_array = np.stack(posterior_draws)  # (R, Q, L)
    ranks = ranks_of(truth_frame.to_numpy(), draws_array, rng)
    fractional = fractional_ranks(ranks, n_posterior, rng)
    return SBCResult(case.name, case.description, truth_frame, draws_array,
                     pd.DataFrame(ranks, columns=truth_frame.columns),
                     pd.DataFrame(fractional, columns=truth_frame.columns), pd.DataFrame(fits), n_posterior,
                     settings, dict(case.priors))


#: compiled functions of this process, per case (kept across the replications a process fits)
_STORES: dict[tuple, "_reuse.CompileStore"] = {}
_REUSE_LOCK = threading.Lock()


def _store(case: SBCCase) -> "_reuse.CompileStore":
    key = (case.name, case.description, repr(sorted(case.priors.items())) if case.priors else "")
    if key not in _STORES:
        if len(_STORES) >= 8:  # a few cases per process; the oldest store is dropped
            _STORES.pop(next(iter(_STORES)))
        _STORES[key] = _reuse.CompileStore()
    return _STORES[key]


def _fit_replication(case: SBCCase, data: pd.DataFrame, theta: dict, r: int, fit_seed: int, rejected: int,
                     settings: dict) -> tuple[dict, np.ndarray, dict]:
    """One SBC fit (here or on a dask worker): q(theta') aligned, q of the thinned draws, the fit's figures."""
    from .inference.labels import align_labels
    from .inference.sampling import complete_point, initial_point

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mm = case.build(data)
    start, cpu_start = time.perf_counter(), time.process_time()
    reuse = settings.get("reuse_compiled", False)
    # a worker with several threads runs its replications one at a time: the swapped data are per process
    with (_REUSE_LOCK if reuse else contextlib.nullcontext()), warnings.catch_warnings(), _QuietPyMC(), \
            (_reuse.reuse_compiled(_store(case)) if reuse else contextlib.nullcontext()):
        warnings.simplefilter("ignore")
        point, _ = initial_point(mm, "map", fit_seed, settings["starts"])
        free = {rv.name for rv in mm.model.free_RVs}
        reference = complete_point(mm, {k: v for k, v in point.items() if k in free})  # as sample() completes it
        idata = mm.sample(draws=settings["draws"], tune=settings["tune"], chains=settings["chains"],
                          sampler="pymc", cores=1, init=point, random_seed=fit_seed, progressbar=False,
                          target_accept=settings["target_accept"], convergence_checks=False,
                          log_likelihood=False,  # ranks need no pointwise LL
                          latent=settings.get("latent", "sampled"), integration=settings.get("integration"))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    posterior = idata["posterior"].to_dataset()
    prior_ds = _dataset(mm, theta, list(posterior.data_vars))
    if mm.ordered is None and mm.n_classes > 1:  # what sample() does to the draws (finalize)
        prior_ds, _ = align_labels(mm, prior_ds, reference)
    truth = case.quantities(_stack(prior_ds))
    draws_q = case.quantities(_stack(_thin(posterior, settings["n_posterior"])))
    record = {"replication": r, "seed": fit_seed, "seconds": seconds, "cpu_seconds": cpu_seconds,
              "rejected_before": rejected,
              "divergences": idata.attrs.get("bayesmix_divergences", 0),
              "treedepth_hits": idata.attrs.get("bayesmix_max_treedepth_hits", 0),
              "max_rhat": idata.attrs.get("bayesmix_max_rhat", np.nan),
              "min_ess_bulk": idata.attrs.get("bayesmix_min_ess_bulk", np.nan),
              "relabeled_draws": idata.attrs.get("bayesmix_relabeled_draws", 0),
              "latent": idata.attrs.get("bayesmix_latent", "sampled")}
    record.update(_ess_thinned_ranks(truth, case.quantities(_stack(posterior)), posterior.sizes["chain"],
                                     settings["n_posterior"], np.random.default_rng([fit_seed, 3])))
    return ({name: float(np.asarray(value).reshape(-1)[0]) for name, value in truth.items()},
            np.stack([np.asarray(draws_q[name], dtype=float).reshape(-1) for name in truth]), record)


def _ess_thinned_ranks(truth: dict, values: dict, n_chain: int, n_posterior: int,
                       rng: np.random.Generator) -> dict:
    """Per quantity: bulk ESS of the fit's draws and the truth's rank among draws thinned to about that ESS.

    Ranks among autocorrelated draws are not uniform even for a right posterior (the truth lands beyond
    every draw more often than 1 / (L + 1) when the L draws are worth fewer independent ones; Talts et al.
    2018, sec. 5.1): each chain is thinned evenly to ``min(L, ESS) / chains`` draws (at least one).
    Returned as ``ess_bulk[q]``, ``rank_ess[q]`` (0..L_q) and ``L_ess[q]`` for the fits table.
    """
    import arviz as az
    out = {}
    for name, t in truth.items():
        draws = np.asarray(values[name], dtype=float).reshape(n_chain, -1)
        ess = float(az.ess(draws, method="bulk")) if np.ptp(draws) > 0 else float(draws.size)
        per_chain = int(max(1, min(n_posterior // n_chain, np.floor(ess / n_chain), draws.shape[1])))
        kept = draws[:, np.linspace(0, draws.shape[1] - 1, per_chain).round().astype(int)].ravel()
        t = float(np.asarray(t).reshape(-1)[0])
        below, ties = int((kept < t).sum()), int((kept == t).sum())
        out[f"ess_bulk[{name}]"] = ess
        out[f"rank_ess[{name}]"] = below + int(np.floor(rng.random() * (ties + 1)))
        out[f"L_ess[{name}]"] = kept.size
    return out


def fractional_ranks(ranks: np.ndarray, n_posterior: int, rng: np.random.Generator) -> np.ndarray:
    """(rank + U) / (L + 1), U ~ Uniform(0, 1): Uniform(0, 1) when the ranks are uniform on 0..L."""
    ranks = np.asarray(ranks, dtype=float)
    return (ranks + rng.random(ranks.shape)) / (n_posterior + 1)


# ============================================================================ uniformity tests
def chi_square_uniformity(u: np.ndarray, bins: int | None = None) -> tuple[float, float, int]:
    """Pearson chi-square test of Uniform(0, 1) on equal-width bins.

    Parameters
    ----------
    u : array
        Fractional ranks in (0, 1).
    bins : int, optional
        Default: about 5 expected per bin, between 4 and 20.

    Returns
    -------
    (statistic, p_value, bins)

    Examples
    --------
    >>> stat, p, b = chi_square_uniformity(np.linspace(0.01, 0.99, 50))
    >>> p > 0.99
    True
    """
    u = np.asarray(u, dtype=float)
    n = len(u)
    bins = int(bins or min(20, max(4, n // 5)))
    observed = np.bincount(np.minimum((u * bins).astype(int), bins - 1), minlength=bins)
    expected = n / bins
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, bins - 1)), bins


def _ecdf_statistic(u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """min over ``points`` of the two-sided binomial tail probability of the ECDF counts (per row of u)."""
    u = np.atleast_2d(u)
    n = u.shape[1]
    counts = (u[:, :, None] <= points[None, None, :]).sum(axis=1)  # (rows, P)
    lower = stats.binom.cdf(counts, n, points[None, :])
    upper = stats.binom.sf(counts - 1, n, points[None, :])
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper)).min(axis=1)


def _ecdf_points(n: int) -> np.ndarray:
    k = min(n, 100)
    return np.arange(1, k) / k


def _null_statistics(n: int, n_simulations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _ecdf_statistic(rng.random((n_simulations, n)), _ecdf_points(n))


def ecdf_uniformity(u: np.ndarray, n_simulations: int = 5000, seed: int = 0) -> tuple[float, float]:
    """ECDF test of Uniform(0, 1) (Säilynoja, Bürkner & Vehtari 2022).

    The statistic is the smallest two-sided binomial tail probability of
    the ECDF count at ``min(n, 100) - 1`` evenly spaced points; its null
    distribution is simulated (``n_simulations`` uniform samples of size n).

    Parameters
    ----------
    u : array
        Fractional ranks in (0, 1).
    n_simulations : int
    seed : int

    Returns
    -------
    (statistic, p_value)

    Examples
    --------
    >>> _, p = ecdf_uniformity(np.random.default_rng(0).random(40) ** 3)
    >>> p < 0.01
    True
    """
    u = np.asarray(u, dtype=float)
    statistic = float(_ecdf_statistic(u, _ecdf_points(len(u)))[0])
    null = _null_statistics(len(u), n_simulations, seed)
    return statistic, float((np.sum(null <= statistic) + 1) / (n_simulations + 1))


def ecdf_band(n: int, prob: float = 0.95, n_simulations: int = 5000, seed: int = 0):
    """Simultaneous ``prob`` band of the ECDF of n Uniform(0, 1) values (same test as :func:`ecdf_uniformity`).

    Returns
    -------
    (points, lower, upper)
        ECDF values (fractions) the band allows at each evaluation point.
    """
    points = _ecdf_points(n)
    gamma = float(np.quantile(_null_statistics(n, n_simulations, seed), 1 - prob))
    lower = stats.binom.ppf(gamma / 2, n, points) / n
    upper = stats.binom.isf(gamma / 2, n, points) / n
    return points, lower, upper


def uniformity_table(result: SBCResult, n_simulations: int = 5000) -> pd.DataFrame:
    """Per quantity: chi-square and ECDF p-values of the fractional ranks, mean rank, and the fits' figures.

    Parameters
    ----------
    result : SBCResult
    n_simulations : int
        Simulations of the ECDF test's null distribution.

    Returns
    -------
    DataFrame
        Rows quantities; columns ``n``, ``mean_u`` (0.5 expected; above:
        the truth sits high in the posterior, i.e. the posterior is biased
        low), ``sd_u`` (0.289 expected; below: posterior too wide, above: too
        narrow), ``chi2``, ``bins``, ``p_chi2``, ``p_ecdf``.
    """
    rows = {}
    for name in result.fractional.columns:
        u = result.fractional[name].to_numpy()
        chi2, p_chi2, bins = chi_square_uniformity(u)
        _, p_ecdf = ecdf_uniformity(u, n_simulations)
        rows[name] = {"n": len(u), "mean_u": float(u.mean()), "sd_u": float(u.std(ddof=1)), "chi2": chi2,
                      "bins": bins, "p_chi2": p_chi2, "p_ecdf": p_ecdf}
    return pd.DataFrame.from_dict(rows, orient="index")


def verdict(table: pd.DataFrame, alpha: float = 0.05) -> tuple[str, float]:
    """One verdict per case: Bonferroni over quantities and both tests at family level ``alpha``.

    Returns
    -------
    (verdict, adjusted p)
        ``"not rejected"`` when the smallest p-value times the number of tests
        is at least ``alpha``, else ``"rejected"``; the adjusted p. "Not
        rejected" is not "calibrated": how strong the evidence is depends on
        the test's power at the replications run (:func:`power`).
    """
    p = np.concatenate([table["p_chi2"].to_numpy(), table["p_ecdf"].to_numpy()])
    adjusted = float(min(1.0, p.min() * len(p)))
    return ("not rejected" if adjusted >= alpha else "rejected"), adjusted


def power(n_replications: int, *, bias: float = 0.0, scale: float = 1.0, alpha: float = 0.05,
          n_tests: int = 1, n_simulations: int = 400, seed: int = 0) -> dict[str, float]:
    """Probability that the tests reject at ``alpha / n_tests`` for a given miscalibration.

    With a normal posterior whose mean is off by ``bias`` posterior SDs and
    whose SD is ``1 / scale`` of the right one (``scale`` > 1: too narrow),
    the truth's fractional rank is u = Phi(scale * Z + bias), Z ~ N(0, 1).

    Parameters
    ----------
    n_replications : int
    bias : float
        In posterior SDs.
    scale : float
        Ratio of the right to the reported posterior SD.
    alpha : float
    n_tests : int
        Bonferroni divisor (quantities x tests of a case).
    n_simulations : int
    seed : int

    Returns
    -------
    dict
        ``chi2`` and ``ecdf``: rejection rates.

    Examples
    --------
    >>> power(50, bias=1.0)["ecdf"] > 0.9
    True
    """
    rng = np.random.default_rng(seed)
    level = alpha / n_tests
    u = stats.norm.cdf(scale * rng.standard_normal((n_simulations, n_replications)) + bias)
    chi = np.array([chi_square_uniformity(row)[1] for row in u])
    null = _null_statistics(n_replications, 4000, seed + 1)
    ecdf_stat = _ecdf_statistic(u, _ecdf_points(n_replications))
    p_ecdf = (np.sum(null[None, :] <= ecdf_stat[:, None], axis=1) + 1) / (len(null) + 1)
    return {"chi2": float(np.mean(chi < level)), "ecdf": float(np.mean(p_ecdf < level))}


def replications_for_power(n_quantities: int, *, bias: float = 0.5, target: float = 0.8, alpha: float = 0.05,
                           step: int = 10, max_replications: int = 1000, n_simulations: int = 400,
                           seed: int = 0) -> tuple[int, float]:
    """Fewest replications (a multiple of ``step``) whose ECDF test has power >= ``target`` against ``bias``.

    The test is the one :func:`verdict` applies: each of the
    ``n_quantities`` quantities' ranks tested by chi-square and ECDF at the
    Bonferroni level ``alpha / (2 n_quantities)``; the power is that of the
    ECDF test (:func:`power`) when one quantity's posterior mean is off by
    ``bias`` posterior SDs (normal posteriors), so "power 0.8 against a 0.5-SD
    bias in any monitored quantity". Power rises with the replications, so
    the search doubles then bisects on multiples of ``step``.

    Parameters
    ----------
    n_quantities : int
        Quantities a case ranks (the Bonferroni divisor is twice this).
    bias : float
        In posterior SDs.
    target : float
    alpha : float
    step : int
    max_replications : int
        The search stops with a ValueError above this.
    n_simulations : int
        Simulated rank samples per power estimate (its Monte Carlo SE at 0.8 is
        about 0.02 for 400).
    seed : int

    Returns
    -------
    (replications, power at that count)

    Examples
    --------
    >>> n, p = replications_for_power(9, n_simulations=200)
    >>> 60 <= n <= 120 and p >= 0.8
    True
    """
    if n_quantities < 1:
        raise ValueError(f"n_quantities must be >= 1, got {n_quantities!r}.")
    if not 0 < target < 1:
        raise ValueError(f"target must be in (0, 1), got {target!r}.")

    def pw(n: int) -> float:
        return power(n, bias=bias, alpha=alpha, n_tests=2 * n_quantities, n_simulations=n_simulations,
                     seed=seed)["ecdf"]

    low, high = 0, step
    while pw(high) < target:
        low, high = high, 2 * high
        if high > max_replications:
            raise ValueError(f"power {target} against a {bias}-SD bias needs more than max_replications="
                             f"{max_replications} replications.")
    while high - low > step:  # invariant: pw(high) >= target, low is below target (or 0)
        middle = (low + high) // (2 * step) * step
        if pw(middle) >= target:
            high = middle
        else:
            low = middle
    return high, pw(high)


# ============================================================================ plots
def _grid(n: int):
    import matplotlib.pyplot as plt
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_rank_histograms(result: SBCResult, path=None, bins: int | None = None):
    """Rank histograms per quantity with the 99% band of a uniform bin count (gray).

    Parameters
    ----------
    result : SBCResult
    path : str or Path, optional
        Where to save a PNG.
    bins : int, optional
        Default as :func:`chi_square_uniformity`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(result.fractional.columns)
    n = len(result.fractional)
    bins = int(bins or min(20, max(4, n // 5)))
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / bins, color="0.5", lw=0.8)
        ax.hist(result.fractional[name], bins=np.linspace(0, 1, bins + 1), color="C0", edgecolor="white")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([0, 0.5, 1])
        ax.tick_params(labelsize=7)
    fig.suptitle(f"SBC rank histograms: {result.case} ({n} replications, L = {result.n_posterior})", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def plot_ecdf_difference(result: SBCResult, path=None, prob: float = 0.95):
    """ECDF of the fractional ranks minus the uniform CDF, with the simultaneous ``prob`` band.

    Parameters
    ----------
    result : SBCResult
    path : str or Path, optional
        Where to save a PNG.
    prob : float
        Band level (the band of :func:`ecdf_band`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(result.fractional.columns)
    n = len(result.fractional)
    points, lower, upper = ecdf_band(n, prob)
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        u = np.sort(result.fractional[name].to_numpy())
        ecdf = (u[None, :] <= points[:, None]).mean(axis=1)
        ax.fill_between(points, lower - points, upper - points, step="mid", color="0.85")
        ax.axhline(0, color="0.5", lw=0.8)
        inside = np.all((ecdf >= lower) & (ecdf <= upper))
        ax.step(points, ecdf - points, where="mid", color="C0" if inside else "C3")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"SBC ECDF difference: {result.case} ({n} replications, {int(100 * prob)}% simultaneous band)",
                 fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig
