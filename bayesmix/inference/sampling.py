"""NUTS sampling over the marginalized model, with initialization and post-processing.

All backends sample the same PyMC model (classes already summed out). The
chains start at one mode found by multi-start optimization (different
random-start optima are how LCA local modes and label permutations show up),
and afterwards every draw is aligned to that mode's labels. The returned
DataTree gets a ``log_likelihood`` group with one value per independent unit
and an ``observed_data`` group.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np
import pymc as pm
import xarray as xr

from .._compile import COMPILE_MODE, no_c_compiler, python_mode, sampler_mode
from ..evaluate import fit_kind
from ..latent import LatentEffects
from ..parameters import free_start
from ..results import evaluate_draws
from .diagnostics import check_convergence
from .labels import align_labels
from .._warn import PACKAGE_FRAMES

_log = logging.getLogger("bayesmix")

SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax")
_PACKAGE = {"pymc": "pymc", "nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}
_EXTRA = {"nutpie": "bayesmix[nutpie]", "numpyro": "bayesmix[jax]", "blackjax": "blackjax==1.2.5"}


def _installed(package: str) -> bool:
    """Whether ``package`` can be imported, without importing it.

    A module already in ``sys.modules`` counts as installed without touching it:
    ArviZ registers lazy modules (``importlib.util.LazyLoader``) for numpyro and
    jax, and ``find_spec`` reads their ``__spec__``, which imports them (~3 s of
    a first ``sample()`` went to importing numpyro and jax only to be listed).
    """
    return package in sys.modules or importlib.util.find_spec(package) is not None


def installed_samplers() -> list[str]:
    return [s for s in SAMPLERS if _installed(_PACKAGE[s])]


#: PyMC's NUTS runs its tree building in Python: per leapfrog step it costs this many seconds
#: beyond the gradient (measured by benchmarks/bench_sampler_choice.py --pymc-overhead: 0.02-0.03 ms
#: on an idle 2-core machine, 0.12 ms when loaded; N = 2,000 LCA). nutpie's loop is compiled (Rust): ~0.
PYMC_STEP_OVERHEAD = 6e-5
#: the compile mode each sampler runs the model's log density in
SAMPLER_MODE = {"pymc": COMPILE_MODE, "nutpie": "NUMBA"}
#: ``sampler="auto"`` measures (:func:`gradient_costs`) only for models whose log-likelihood touches more
#: elements than this per evaluation (``MixtureModel.work_size``); below it nutpie is taken unmeasured.
#: Evidence (benchmarks/bench_sampler_choice.py, one BLAS thread, 2 shared cores, 2026-11-26): one
#: logp+gradient of an LCA with 10 items, K = 3 took CVM / NUMBA / JAX 0.14 / 0.10 / 0.15 ms at N = 2,000
#: (work 60,000), 1.2-1.7 / 0.83-0.89 / 0.90 ms at N = 20,000 (600,000), 32 / 24 / 10 ms at N = 200,000
#: (6,000,000): numba never lost, and PyMC adds its Python step overhead on top. The measurement compiles the
#: model twice (C and numba: 46-60 s fresh on carcinoma, 5-15 s with warm caches), which at 1e6 elements
#: (~1.5-4 ms per gradient, ~10^5 gradients in 4 x 2,000 iterations: minutes of sampling) is a small
#: share of the run; below it the measurement cost more than sampling itself.
MEASURE_ABOVE = 1_000_000


def gradient_costs(mm, modes=None, *, repeats: int = 5, with_compile_time: bool = False, model=None):
    """Measured seconds of one log-density + gradient evaluation of ``mm`` per PyTensor mode.

    ``modes``: e.g. ``("CVM", "NUMBA", "JAX")``; each is compiled (the model's
    ``logp_dlogp_function``, as the samplers compile it) and timed at the
    model's initial point: the median of ``repeats`` calls after a warm-up call.
    With ``with_compile_time`` also returns the compile seconds per mode.
    ``model``: the ``pymc.Model`` to time (default ``mm.model``; ``sample(latent="integrated")``
    passes its integrated model).
    """
    from threadpoolctl import threadpool_limits
    modes = tuple(modes or (COMPILE_MODE, "NUMBA"))
    with threadpool_limits(limits=1, user_api="blas"):  # as the samplers run it (see _run_sampler)
        return _gradient_costs(mm.model if model is None else model, modes, repeats, with_compile_time)


def _gradient_costs(model, modes, repeats, with_compile_time):
    from pymc.blocking import DictToArrayBijection
    point = model.initial_point()
    costs, compiled = {}, {}
    for mode in modes:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn = model.logp_dlogp_function(ravel_inputs=True, mode=mode, initial_point=point)
            x = DictToArrayBijection.map({v.name: point[v.name] for v in fn._grad_vars}).data
            np.asarray(fn(x)[1])
        compiled[mode] = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            _, grad = fn(x)
            np.asarray(grad)  # JAX: wait for the result
            times.append(time.perf_counter() - t)
        costs[mode] = float(np.median(times))
    return (costs, compiled) if with_compile_time else costs


def choose_sampler(costs: dict, available=None) -> str:
    """The sampler with the lowest measured cost per leapfrog step (``costs`` from :func:`gradient_costs`).

    PyMC's NUTS pays its gradient (in bayesmix's compile mode) plus
    :data:`PYMC_STEP_OVERHEAD`; nutpie pays its numba gradient.
    """
    available = installed_samplers() if available is None else available
    per_step = {}
    if SAMPLER_MODE["pymc"] in costs:
        per_step["pymc"] = costs[SAMPLER_MODE["pymc"]] + PYMC_STEP_OVERHEAD
    if "nutpie" in available and "NUMBA" in costs:
        per_step["nutpie"] = costs["NUMBA"]
    return min(per_step, key=per_step.get) if per_step else "pymc"


def nutpie_backend() -> str:
    """nutpie's backend when ``sampler="auto"`` chose nutpie unmeasured: ``jax`` where installed, else ``numba``.

    Compilation, not sampling, is what a small model waits for: in a fresh
    environment (empty caches) nutpie's numba backend spent ~30-40 s compiling
    carcinoma's logp+gradient (numba types and lowers every op of the graph,
    ~340 numba functions for 63 nodes), JAX ~2-3 s; sampling then took about as
    long (N = 2,000, 10 items, K = 3, warm caches, 4 x 1,000/1,000: jax 10.6 s
    against numba 17.7 s including its compile; same ESS).
    """
    return "jax" if _installed("jax") and _installed("jaxlib") else "numba"


def auto_sampler(mm, model=None, settings: dict | None = None) -> tuple[str, dict]:
    """``sampler="auto"``: nutpie for small models, otherwise the backend with the cheaper measured step.

    Models whose log-likelihood touches at most :data:`MEASURE_ABOVE` elements
    per evaluation (``mm.work_size()``) take nutpie (backend :func:`nutpie_backend`)
    without measuring: there PyMC's per-step Python overhead is larger than a
    gradient, and compiling the model twice to measure cost more than sampling.
    Larger models time one logp+gradient in PyMC's mode and in NUMBA
    (:func:`gradient_costs`) and take the cheaper per step (:func:`choose_sampler`).
    Decided once per model (kept in the model's cache); returns the choice and
    the figures for ``idata.attrs`` (``bayesmix_nutpie_backend`` when nutpie is
    chosen). Without nutpie there is nothing to choose. ``model`` / ``settings``:
    the integrated model of ``sample(latent="integrated")`` and its quadrature
    (default: the model's own ``pymc.Model``).
    """
    available = installed_samplers()
    if "nutpie" not in available:
        return "pymc", {"bayesmix_sampler_choice": "auto: pymc (nutpie not installed)"}
    key = ("sampler_choice", COMPILE_MODE) + (() if settings is None else tuple(sorted(settings.items())))
    if key not in mm._cache:
        size = mm.work_size(settings)
        if size <= MEASURE_ABOVE:
            backend = nutpie_backend()
            text = (f"auto: nutpie ({backend} backend), not measured: one log-likelihood evaluation touches "
                    f"{size:,} elements (at most {MEASURE_ABOVE:,}), where PyMC's Python NUTS costs more per "
                    f"step than the gradient and compiling the model to measure costs more than sampling")
            mm._cache[key] = ("nutpie", {"bayesmix_sampler_choice": text, "bayesmix_nutpie_backend": backend,
                                         "bayesmix_work_size": size})
        else:
            costs = gradient_costs(mm, (SAMPLER_MODE["pymc"], "NUMBA"), model=model)
            choice = choose_sampler(costs, available)
            ms = {mode: 1000 * c for mode, c in costs.items()}
            text = (f"auto: {choice}; one log-likelihood evaluation touches {size:,} elements (above "
                    f"{MEASURE_ABOVE:,}), so it was measured: one logp+gradient took "
                    f"{ms[SAMPLER_MODE['pymc']]:.3f} ms in {SAMPLER_MODE['pymc']} (pymc, + "
                    f"{1000 * PYMC_STEP_OVERHEAD:.2f} ms per step of its Python NUTS) and {ms['NUMBA']:.3f} ms "
                    f"in NUMBA (nutpie)")
            info = {"bayesmix_sampler_choice": text, "bayesmix_work_size": size,
                    **{f"bayesmix_gradient_ms_{mode.lower()}": v for mode, v in ms.items()}}
            if choice == "nutpie":
                info["bayesmix_nutpie_backend"] = "numba"  # what was measured (its op cache is now warm)
            mm._cache[key] = (choice, info)
        _log.info("bayesmix: %s", mm._cache[key][1]["bayesmix_sampler_choice"])
    return mm._cache[key]


def resolve_sampler(sampler: str) -> str:
    """Check the requested backend and return its name (``auto``: decided later by :func:`auto_sampler`)."""
    available = installed_samplers()
    if sampler == "auto":
        return "auto"
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is unknown; use one of {('auto',) + SAMPLERS}.")
    if sampler not in available:
        raise ValueError(
            f"sampler={sampler!r} is not installed (pip install '{_EXTRA[sampler]}'); "
            f"installed samplers: {available}."
        )
    if sampler == "blackjax":
        version = importlib.metadata.version("blackjax")
        if tuple(int(p) for p in version.split(".")[:2]) >= (1, 3):
            raise ValueError(
                f"sampler='blackjax' does not run with blackjax {version} under PyMC "
                f"{pm.__version__} (PyMC passes a progress_bar argument that blackjax>=1.3 rejects); "
                f"use blackjax==1.2.5, or one of the working samplers: "
                f"{[s for s in available if s != 'blackjax']}."
            )
    return sampler


def initial_point(mm, init, random_seed, starts, progressbar=False):
    """(reference point for labels, per-chain initial values) on the constrained scale."""
    names = {rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated}
    if isinstance(init, str) and init == "auto":  # the model's latest ML fit, else a posterior-mode search
        if getattr(mm, "latest_ml", None) is not None:
            return dict(mm.latest_ml.point), None
        init = "map"
    if isinstance(init, str):
        what = {"map": "posterior mode", "ml": "ML"}.get(init, init)
        label = f"sample: start values ({what}, {starts} starts)" if progressbar else False
        if init == "map":
            result = mm.fit_map(starts=starts, seed=random_seed, warn_unreplicated=False, progressbar=label)
        elif init == "ml":
            result = mm.fit_ml(starts=starts, seed=random_seed, warn_unreplicated=False, progressbar=label)
        else:
            raise ValueError(f"init={init!r} is unknown; use 'auto', 'map', 'ml', a fitted result, a dict of "
                             "values or a list of dicts.")
        _warn_unreplicated_start(init, starts, result.starts)
        return result.point, None
    if fit_kind(init) in ("ml", "map"):
        return dict(init.point), None
    if isinstance(init, dict):
        init = free_start(mm.parameters, init)  # constrained parameters may be given in full
        missing = names - set(init)
        if missing:
            raise ValueError(f"init is missing values for {sorted(missing)}.")
        return dict(init), None
    if isinstance(init, (list, tuple)):
        for point in init:
            missing = names - set(point)
            if missing:
                raise ValueError(f"init contains a point missing values for {sorted(missing)}.")
        return dict(init[0]), [dict(p) for p in init]
    raise ValueError("init must be 'auto', 'map', 'ml', a fitted result, a dict of values or a list of dicts.")


def _warn_unreplicated_start(init: str, starts, report) -> None:
    """The chains' starting mode was found once only: say so in terms of ``sample``'s own arguments."""
    if report.n_final < 2 or report.n_replicated >= 2:
        return
    what = "posterior mode" if init == "map" else "ML solution"
    larger = 4 * report.n_initial if isinstance(starts, int) else (4 * report.n_initial, 4 * report.n_final)
    warnings.warn(
        f"sample(): the chains start at the best {what} of sample's start-value search (init={init!r}, "
        f"starts={starts!r}), reached by only 1 of the {report.n_final} best searches; there may be better "
        f"modes. The convergence checks after sampling show whether the chains agree; if they do not, "
        f"pass starts={larger!r} to sample, or a fitted result as init (init=m.fit_ml(starts=...)).",
        UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


def complete_point(mm, point: dict, model=None) -> dict:
    """Start sampled random effects (standardized z) at their conditional mode given ``point``, unless given.

    A latent block that overrides ``sampler_start()`` (a Dirichlet membership:
    its log-ratios at 0) starts there; a normal block at :func:`latent_start`
    (z = 0 when it has more than two dimensions). ``model``: the model sampled
    (default ``mm.model``); an integrated model (``sample(latent="integrated")``)
    has no z, so nothing is added.
    """
    model = mm.model if model is None else model
    full = model.initial_point()
    for rv in model.free_RVs:
        if rv.name in mm.integrated and rv.name not in point:
            block = mm.latent
            if type(block).sampler_start is LatentEffects.sampler_start:  # a normal block: its conditional mode
                start = latent_start(mm, point)
            else:  # a non-normal latent (a Dirichlet membership) has its own start (None: at 0)
                start = block.sampler_start()
            zeros = np.zeros_like(full[model.rvs_to_values[rv].name])
            point[rv.name] = zeros if start is None or np.shape(start) != zeros.shape else start
    return point


#: largest grid of :func:`latent_start` per dimension (1-D, 2-D) and its budget of likelihood elements
LATENT_START_POINTS = {1: 401, 2: 61}
LATENT_START_BUDGET = 20_000_000


def latent_start(mm, point: dict) -> np.ndarray | None:
    """Standardized latent effects at each level's conditional posterior mode given the parameters in ``point``.

    argmax over a grid of z_q of f_j(z_q) + log phi(z_q) per level j (cluster
    or person), f_j the conditional log-likelihood that NUTS and quadrature use
    (the cluster's classes summed out given its effects u_j of eq. 5, e.g. eq. 19's random intercept)
    (the trapezoid grid on [-5, 5], up to :data:`LATENT_START_POINTS` points per
    dimension, fewer beyond :data:`LATENT_START_BUDGET` elements of one
    evaluation but at least 15, the size of ML's default 2-D rule).
    A global search per level, not a local one: with a small residual SD a
    cluster's conditional density of z is multimodal (its units fitted by
    their own class, or by another class with the cluster effect shifted by
    the class intercepts' difference), and z = 0 starts many clusters in the
    wrong basin, which NUTS does not leave (the stuck chains of the
    random-intercept mixture regression's SBC, benchmarks/results/sbc/notes.md).
    Returns (levels, dims), or None for blocks of more than two dimensions.
    """
    dims = mm.latent.n_dims
    if dims not in LATENT_START_POINTS:
        return None
    import pytensor.tensor as pt
    from ..evaluate import evaluate_at_fit
    from .quadrature import rule
    per_node = int(mm.data.n_units) * max(1, len(mm.data.items)) * mm.n_classes
    points = int(min(LATENT_START_POINTS[dims], max(15, (LATENT_START_BUDGET / per_node) ** (1 / dims))))
    nodes, logw = rule("trapezoid", points, dims)
    graph = mm.structure.conditional_loglik(pt.as_tensor(nodes[:, None, :]))  # (Q, levels)
    free = {rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated}
    values = evaluate_at_fit(mm, {k: v for k, v in point.items() if k in free}, graph,
                             key=f"latent_start:{points}", se=False).estimate
    if np.ndim(values) != 2 or np.shape(values)[1] != mm.latent.n_levels:  # z not one per independent unit
        return None
    return nodes[np.argmax(np.asarray(values) + logw[:, None], axis=0)]


class _Interrupts:
    """Notices Ctrl-C while sampling: a SIGINT (chained to the previous handler) or a
    KeyboardInterrupt raised by a user's ``callback`` (PyMC's documented way to stop).

    PyMC and nutpie both swallow the KeyboardInterrupt and return what they have;
    this flag is how :func:`sample` knows the run was cut short.
    """

    def __init__(self, callback=None):
        self.seen = False
        self.user_callback = callback
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def _handler(self, signum, frame):
        self.seen = True
        if callable(self._previous):
            self._previous(signum, frame)
        elif self._previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def callback(self, trace, draw):
        if self.user_callback is None:
            return
        try:
            self.user_callback(trace=trace, draw=draw)
        except KeyboardInterrupt:
            self.seen = True
            raise


def _run_sampler(model, sampler, draws, tune, chains, cores, seed, point, per_chain, progressbar, target_accept,
                 kwargs, interrupts):
    initvals = per_chain if per_chain is not None else [point] * chains
    if per_chain is not None and len(per_chain) != chains:
        raise ValueError(f"init gives {len(per_chain)} points for {chains} chains; give one per chain.")
    nuts = {"target_accept": target_accept, **kwargs.pop("nuts", {})}
    if sampler == "pymc":
        from threadpoolctl import threadpool_limits
        kwargs.pop("callback", None)
        # parallel chains (forked processes inherit the limit): one BLAS thread each, as for nutpie below
        with threadpool_limits(limits=1 if cores > 1 else None, user_api="blas"):
            return _pymc_sample(draws, tune, chains, cores, seed, model, initvals, progressbar, nuts,
                                interrupts, kwargs)
    if per_chain is not None and sampler != "pymc":
        raise ValueError(f"sampler={sampler!r} takes one initial point for all chains; pass a dict or use sampler='pymc'.")
    if sampler == "nutpie":
        import nutpie
        from threadpoolctl import threadpool_limits
        # nutpie runs the chains as threads; numba's matrix products call OpenBLAS, whose own threads
        # then oversubscribe the cores (measured: 0.7 ms per gradient at N = 20,000 on an idle machine,
        # 512 ms in one run under load). One BLAS thread per chain: the chains are the parallelism.
        nuts.pop("target_accept")
        backend = kwargs.pop("backend", "numba")
        if backend == "jax" and "jaxlib" not in sys.modules:  # before jax's first import (as for numpyro
            # below), so that a later sampler="numpyro" in this process still runs its chains in parallel
            os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={max(chains, 1)}")
        auto_info = kwargs.pop("auto_info", None)
        with threadpool_limits(limits=1, user_api="blas"):
            compiled = _nutpie_compile(model, point, backend, auto_info)
            return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                                 progress_bar=progressbar, target_accept=target_accept, **nuts, **kwargs)
    if sampler == "numpyro" and "jaxlib" not in sys.modules:  # (arviz registers a lazy "jax" module)
        os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={max(chains, 1)}")
    try:
        return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, model=model,
                         nuts_sampler=sampler, initvals=point, progressbar=progressbar,
                         compute_convergence_checks=False, nuts=nuts, **kwargs)
    except TypeError as err:
        if "progress_bar" in str(err):
            raise ValueError(f"sampler={sampler!r} failed with this PyMC version ({err}); use "
                             f"{[s for s in installed_samplers() if s != sampler]}.") from err
        raise


def _nutpie_compile(model, point, backend, auto_info=None):
    """nutpie's compiled model; ``sampler="auto"``'s jax backend falls back to numba (said in ``auto_info``)
    for a graph JAX cannot compile (an op without a JAX implementation)."""
    import nutpie
    try:
        return nutpie.compile_pymc_model(model, initial_points=point, jitter_rvs=set(), backend=backend)
    except Exception as err:
        if auto_info is None or backend != "jax":
            raise
        _log.info("bayesmix: nutpie's jax backend failed to compile the model (%s); using numba", err)
        auto_info["bayesmix_nutpie_backend"] = "numba"
        auto_info["bayesmix_sampler_choice"] += (f"; the jax backend could not compile this model "
                                                 f"({type(err).__name__}: {str(err)[:200]}), numba used")
        return nutpie.compile_pymc_model(model, initial_points=point, jitter_rvs=set(), backend="numba")


def _pymc_sample(draws, tune, chains, cores, seed, model, initvals, progressbar, nuts, interrupts, kwargs):
    mode = kwargs.pop("mode", None) or sampler_mode()
    python = isinstance(mode, str) and mode.upper() == "PY"
    # Python thunks (BAYESMIX_COMPILE_MODE=PY): no C compiler call for the ops without a Python implementation either
    with no_c_compiler() if python else contextlib.nullcontext():
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed, model=model,
                         nuts_sampler="pymc", initvals=initvals, init="adapt_diag", progressbar=progressbar,
                         compute_convergence_checks=False, nuts=nuts, callback=interrupts.callback,
                         compile_kwargs={"mode": python_mode() if python else mode}, **kwargs)


def _drawn(idata) -> int:
    """Draws per chain in the posterior that hold values in every chain (an aborted run can pad with NaN)."""
    if "posterior" not in idata.children:
        return 0
    posterior = idata["posterior"].to_dataset()
    n = int(posterior.sizes.get("draw", 0))
    if n == 0 or not posterior.data_vars:
        return n
    first = next(iter(posterior.data_vars.values()))
    finite = np.isfinite(first.values.reshape(first.sizes["chain"], n, -1)).all(axis=(0, 2))
    return int(finite.sum()) if not finite.all() else n


def _keep_draws(idata, n: int):
    """Keep the first ``n`` draws in every group with a draw dimension."""
    for name, node in idata.children.items():
        ds = node.to_dataset()
        if "draw" in ds.dims and ds.sizes["draw"] > n and name != "warmup_posterior" and not name.startswith("warmup"):
            idata[name] = xr.DataTree(ds.isel(draw=slice(0, n)))
    return idata


def _interrupted_during_tuning(sampler, tune) -> KeyboardInterrupt:
    return KeyboardInterrupt(f"sampling ({sampler}) was interrupted during tuning (tune={tune}); no posterior "
                             "draws were kept. Run again, with fewer tune/draws for a quick look.")


def _loglik_by_pattern(mm, posterior: xr.Dataset) -> np.ndarray | None:
    """(chain, draw, N) per-unit log-likelihood computed once per unique response pattern, or None.

    Units with the same responses and covariates have the same marginal
    log-likelihood at every draw (:mod:`bayesmix.loo_patterns`), so the graph is
    evaluated on the P representative rows and gathered back to the N units
    (checked against the per-unit graph at one draw). Measured: at N = 5,000
    x 10 binary items, K = 3, 4 x 1,000 draws the per-unit evaluation took
    20 s, as long as sampling. None (per-unit path) for per-cluster
    log-likelihoods, fewer than two units per pattern on average, or a model
    whose units of one pattern differ (unit-level inputs the patterns do not see).
    """
    if mm.loglik_dim != "unit" or mm.data.cluster_index is not None:
        return None
    from ..loo_patterns import pattern_loglik, unit_patterns
    try:
        patterns = unit_patterns(mm)
        if not patterns.worthwhile:
            return None
        values = pattern_loglik(mm, xr.DataTree.from_dict({"posterior": posterior}), patterns)
    except Exception as err:  # e.g. per-unit latent draws: the per-unit graph is the reference
        _log.debug("bayesmix: log_likelihood per unit, not per pattern (%s)", err)
        return None
    return np.asarray(values, dtype=float)[..., patterns.inverse]


def log_likelihood_dataset(mm, posterior: xr.Dataset, integration: dict | None = None) -> xr.Dataset:
    """Pointwise marginal log-likelihood, one value per independent unit (chain, draw, unit).

    The per-unit (per-cluster, latent effects integrated by quadrature)
    log-likelihood of :meth:`MixtureModel.integrated_loglik`, evaluated over
    all draws in batches with a leading draw axis
    (:func:`bayesmix.results.evaluate_draws`), not once per draw, and once
    per unique response pattern where units share them (:func:`_loglik_by_pattern`).
    ``integration``: the quadrature setting (default: the model's; ``sample(latent="integrated")``
    passes the one its density used, so the group is the sampled density's per-unit terms).
    """
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    units = mm.data.units if mm.loglik_dim == "unit" else mm.data.clusters
    out = _loglik_by_pattern(mm, posterior) if integration is None else None
    if out is None:
        key = "unit_loglik" if integration is None else f"unit_loglik:{sorted(integration.items())}"
        _, values = evaluate_draws(mm, key, mm.integrated_loglik(integration), posterior)
        out = np.asarray(values, dtype=float).reshape(n_chain, n_draw, len(units))
    coords = {"chain": posterior["chain"].values, "draw": posterior["draw"].values, mm.loglik_dim: np.asarray(units)}
    return xr.Dataset({"y": (("chain", "draw", mm.loglik_dim), out)}, coords=coords)


#: ``sample(log_likelihood="auto")`` stores the pointwise group up to this many values (2 GB in float64)
LOG_LIKELIHOOD_BUDGET = 250_000_000


def default_cores(chains: int) -> int:
    """Parallel chains of ``sample(cores=None)``: min(chains, CPUs), the CPUs capped by ``BAYESMIX_CORES``.

    CPUs are those this process may run on (``os.sched_getaffinity``, e.g.
    under ``taskset`` or a CPU-limited container), else ``os.cpu_count()``.
    ``BAYESMIX_CORES=1`` runs the chains one after another in the calling
    process: the test suite sets it, because its pytest workers already keep
    every core busy and PyMC's per-draw messages between the chain processes
    then cost more than the parallel chains gain (a 2-class LCA on carcinoma,
    4 x 1000 iterations at load 8 on 2 cores: 4 s of CPU and 13 s of wall
    time with one core, 6.4 s and 20 s with two).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    setting = os.environ.get("BAYESMIX_CORES", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"the environment variable BAYESMIX_CORES={setting!r} must be an integer >= 1 "
                             "(or unset: all CPUs of this process).")
        cpus = min(cpus, int(setting))
    return max(1, min(chains, cpus))


def _keep_log_likelihood(mm, setting, chains: int, draws: int) -> bool:
    """``log_likelihood`` of ``sample``: True / False as given; "auto": within the budget (else warn, leave out)."""
    if isinstance(setting, str) and setting != "auto":
        raise ValueError(f"log_likelihood={setting!r}: use True, False or 'auto'.")
    if setting != "auto":
        return bool(setting)
    n = len(mm.data.units if mm.loglik_dim == "unit" else mm.data.clusters)
    size = chains * draws * n
    if size <= LOG_LIKELIHOOD_BUDGET:
        return True
    warnings.warn(
        f"sample(): the pointwise log_likelihood group would hold {chains} x {draws} x {n:,} = {size:,} values "
        f"({size * 8 / 1e9:.1f} GB), so it is left out. bm.loo_by_pattern(m, idata) computes PSIS-LOO once per "
        "unique response pattern without it (same result); pass log_likelihood=True to store it anyway.",
        UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    return False


def finalize(mm, idata, reference: dict | None, info: dict, log_likelihood: bool = True,
             integration: dict | None = None) -> xr.DataTree:
    """Align labels, add ``log_likelihood`` (unless ``log_likelihood=False``) and ``observed_data``, record what was done.

    ``integration``: the quadrature of ``sample(latent="integrated")``'s density (used for the
    ``log_likelihood`` group and recorded as ``bayesmix_integration``, JSON text that :func:`bayesmix.evaluate.integration_attr` reads).
    """
    posterior = idata["posterior"].to_dataset()
    relabeled = 0
    if reference is not None and mm.ordered is None and mm.n_classes > 1:
        posterior, relabeled = align_labels(mm, posterior, reference)
        if relabeled:
            _log.info("bayesmix: relabeled %d draw(s) to the reference class labels", relabeled)
        idata["posterior"] = xr.DataTree(posterior)
    if log_likelihood:
        idata["log_likelihood"] = xr.DataTree(log_likelihood_dataset(mm, posterior, integration))
    idata["observed_data"] = xr.DataTree(mm.observed_data())
    attrs = {"bayesmix_model": mm.name, "bayesmix_relabeled_draws": relabeled, **info}
    if integration is not None:
        attrs["bayesmix_integration"] = json.dumps(dict(integration))  # netCDF attributes hold no dicts
    idata.attrs.update(attrs)
    idata["posterior"].attrs.update(attrs)
    return idata


#: keywords ``sample`` passes on through ``**kwargs``: its own extras and those of the backends' sample functions
SAMPLE_EXTRAS = ("convergence_checks", "nuts", "callback", "mode", "backend", "log_likelihood")
SAMPLE_ARGUMENTS = ("draws", "tune", "chains", "sampler", "random_seed", "init", "progressbar", "target_accept",
                    "cores", "starts", "latent", "integration")


def check_sample_arguments(draws, tune, chains, cores, kwargs) -> None:
    """Counts and keyword names of ``sample``, refused before any work (issue 14)."""
    import inspect
    from ..options import check_count, check_keywords
    check_count(draws, "draws", "sample")
    check_count(tune, "tune", "sample", minimum=0)
    check_count(chains, "chains", "sample")
    if cores is not None:
        check_count(cores, "cores", "sample")
    backend = [name for name, p in inspect.signature(pm.sample).parameters.items()
               if p.kind is not p.VAR_KEYWORD and name not in SAMPLE_ARGUMENTS]
    check_keywords(kwargs, SAMPLE_EXTRAS + tuple(backend), "sample", SAMPLE_ARGUMENTS + SAMPLE_EXTRAS)


def sample(mm, draws=1000, tune=1000, chains=4, *, sampler="auto", random_seed=None, init="auto",
           progressbar=True, target_accept=0.8, cores=None, starts=10, latent: str = "sampled",
           integration: dict | None = None, **kwargs) -> xr.DataTree:
    """Sample the posterior with NUTS; returns an ArviZ ``DataTree``.

    Chains start at the model's latest ``fit_ml`` solution when there is
    one (``init="auto"``, the default: no new search, no warning), else at
    the best of ``starts`` posterior-mode optimizations (as ``init="map"``),
    or at ``init="ml"``'s new ML search, a given fit (``init=ml``), or
    user-given values, and are aligned to that solution's class labels afterwards. That mode follows
    the model's one labeling (:mod:`bayesmix.relabel`): after ``fit_ml``
    the posterior's class1 is the ML class1. The result has a
    ``log_likelihood`` group with one value per independent unit (the
    marginal over classes; a cluster in two-level models), ``observed_data``,
    and labelled coords.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    draws, tune : int
        Posterior draws and tuning steps per chain.
    chains : int
        Number of chains.
    sampler : str
        ``"auto"`` (the cheaper of PyMC and nutpie per step, measured on
        this model), ``"pymc"``, ``"nutpie"``, ``"numpyro"`` or ``"blackjax"``.
    random_seed : int, optional
        Seeds the start search and the sampler.
    init : ``"auto"``, ``"map"``, ``"ml"``, a fitted result, a dict or a list of dicts
        Where the chains start (and whose labels they take). ``"auto"``
        (default): the point of the model's latest ``m.fit_ml()`` result
        (``m.latest_ml``) if one exists, else as ``"map"``. ``"map"`` /
        ``"ml"`` first run that optimizer (``starts`` random starts) and warn
        when its best mode was reached only once. A result (``init=ml``,
        ``init=m.fit_map(...)``) starts at its point.
    progressbar : bool
        Bars for the start-value search (labelled "sample: start values
        (posterior mode, ...)") and for sampling; False: silent.
    target_accept : float
        NUTS target acceptance rate.
    cores : int, optional
        Parallel chains (default: min(chains, CPUs available to this process);
        the environment variable ``BAYESMIX_CORES`` caps the CPUs, see
        :func:`default_cores`).
    starts : int
        Random starts of the start-value search (``init="map"`` / ``"ml"``, or
        ``"auto"`` without an earlier ``fit_ml``).
    latent : ``"sampled"`` or ``"integrated"``
        What NUTS does with the continuous latent effects (GoM memberships,
        FMA factors, random class intercepts: ``m.integrated``).
        ``"sampled"`` (default): samples them (non-centered) next to the
        parameters. ``"integrated"``: samples the structural parameters only,
        the latent effects integrated per unit (cluster) by the same
        quadrature as ML inside the density,
        log p(y | theta) = sum_j log sum_q w_q exp f_j(z_q) (section 10;
        :mod:`bayesmix.inference.integrated`). It pays with many units and
        few latent dimensions per unit (GoM K = 2 / restricted, FMA with one
        factor, one random intercept): far fewer parameters and the
        curvature of the marginal likelihood, at Q nodes per unit per
        gradient. The posterior then holds no draws of z; results computed
        from the parameters (class probabilities, membership scores, factor
        scores) average over each unit's posterior of z by quadrature, as
        after ML. Refused for models without latent effects. GoM at section
        7's size (N = 7,326 x 17, K = 2): the membership SD and the profiles
        lie on a curved ridge (more extreme profiles, smaller SD); nutpie's
        low-rank metric, ``sampler="nutpie", nuts={"adaptation": "low_rank",
        "mass_matrix_eigval_cutoff": 2}``, and a few thousand draws per chain
        serve: 2 chains x 5,500 draws reached a bulk ESS of 706 (R-hat 1.0045)
        in 342 s wall on 2 near-idle cores, the whole call
        (``benchmarks/bench_integrated_nuts.py``); FMA K = 2 on bfi's
        N1-N5 (2,617 x 5 ordinal) with the same metric: ESS 560 from
        2 x 1,000 draws in about 110 CPU seconds (5.7x the diagonal metric's
        ESS per gradient).
    integration : dict, optional
        Quadrature of ``latent="integrated"`` (default: the model's own,
        ``m.settings()``), e.g. ``{"method": "gauss-hermite", "points": 20}``;
        not adaptive. Recorded in ``idata.attrs["bayesmix_integration"]``.
    **kwargs
        ``convergence_checks=False``, ``nuts={...}``, ``callback`` (PyMC),
        ``log_likelihood=False`` (no per-unit group: it is draws x N floats,
        6.4 GB at N = 200,000 x 4,000 draws; :func:`bayesmix.loo_by_pattern`
        computes LOO without it; default ``"auto"``: left out with a warning
        above 2.5e8 values); see :func:`bayesmix.inference.sampling.sample`.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``,
        ``observed_data``; ``attrs`` record the sampler, relabeled draws and
        convergence figures. A ``ConvergenceWarning`` names problems.

    Examples
    --------
    >>> m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)  # doctest: +SKIP
    >>> idata = m.sample(draws=1000, chains=4, random_seed=1)                            # doctest: +SKIP
    >>> m.profiles(idata)                                                                # doctest: +SKIP
    """
    check_sample_arguments(draws, tune, chains, cores, kwargs)
    from .integrated import check_latent, dropped_deterministics, integrated_model
    settings = check_latent(mm, latent, integration)
    sampler = resolve_sampler(sampler)
    convergence_checks = kwargs.pop("convergence_checks", True)
    with_log_likelihood = _keep_log_likelihood(mm, kwargs.pop("log_likelihood", "auto"), chains, draws)
    if cores is None:
        cores = default_cores(chains)
    seed = None if random_seed is None else int(np.random.default_rng(random_seed).integers(2**31 - 1))
    point, per_chain = initial_point(mm, init, random_seed, starts, progressbar)
    model = mm.model if settings is None else integrated_model(mm, settings)
    from .signs import free_sign_model
    reflection = free_sign_model(mm, model)  # one-factor models: NUTS on both signs, folded below (signs.py)
    if reflection is not None:
        model = reflection.model
    names = {rv.name for rv in model.free_RVs}
    point = complete_point(mm, {k: v for k, v in point.items() if k in names}, model)
    if per_chain is not None:
        per_chain = [complete_point(mm, {k: v for k, v in p.items() if k in names}, model) for p in per_chain]
    info = {"bayesmix_latent": latent}
    if settings is not None:
        info["bayesmix_integrated"] = ", ".join(mm.integrated)
        dropped = dropped_deterministics(mm, model)
        if dropped:
            info["bayesmix_dropped_deterministics"] = ", ".join(dropped)
    if sampler == "auto":
        sampler, choice = auto_sampler(mm, None if settings is None else model, settings)
        info.update(choice)
        info = dict(info)
        if sampler == "nutpie" and "backend" in kwargs:  # the user's backend wins
            info["bayesmix_nutpie_backend"] = kwargs["backend"]
        elif sampler == "nutpie":
            kwargs["backend"] = info["bayesmix_nutpie_backend"]
            kwargs["auto_info"] = info  # an unmeasured jax choice falls back to numba if jax cannot compile
    start = time.perf_counter()
    with warnings.catch_warnings(), _Interrupts(kwargs.get("callback")) as interrupts:
        warnings.filterwarnings("ignore", message=".*initvals.*")
        try:
            idata = _run_sampler(model, sampler, draws, tune, chains, cores, seed, point, per_chain,
                                 progressbar, target_accept, dict(kwargs), interrupts)
        except Exception:
            if interrupts.seen:  # PyMC swallowed the interrupt, then failed on an empty trace
                raise _interrupted_during_tuning(sampler, tune) from None
            raise
    info.update({"bayesmix_sampler": sampler, "bayesmix_sampling_seconds": time.perf_counter() - start})
    kept = _drawn(idata)
    interrupted = interrupts.seen or kept < draws
    if interrupted and kept == 0:
        raise _interrupted_during_tuning(sampler, tune)
    if interrupted:
        idata = _keep_draws(idata, kept)
        n_chains = int(idata["posterior"].to_dataset().sizes["chain"])
        warnings.warn(f"sampling was interrupted after tuning: the trace holds {kept} of the {draws} requested "
                      f"draws per chain ({n_chains} chains, {kept * n_chains} draws in all); treat it as a partial "
                      "result (the convergence checks below refer to these draws).", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
    info["bayesmix_interrupted"] = int(bool(interrupted))  # 1 / 0: netCDF has no boolean attribute
    if reflection is not None:  # draws with lambda_1 < 0 reflected to the model's sign, (lambda, eta) -> (-lambda, -eta)
        folded, n_reflected = reflection.fold(idata["posterior"].to_dataset())
        idata["posterior"] = xr.DataTree(folded)
        info["bayesmix_reflected_draws"] = n_reflected
    idata = finalize(mm, idata, point, info, log_likelihood=with_log_likelihood, integration=settings)
    figures = check_convergence(idata, warn=convergence_checks, stacklevel=4,
                                max_treedepth=kwargs.get("nuts", {}).get("max_treedepth"))
    idata.attrs.update(figures)
    idata["posterior"].attrs.update(figures)
    return idata
