#!/usr/bin/env python
"""Benchmark: how the cost of an LCA grows with N, the number of items and K (log-log table).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_scaling.py            # the grid below, ~15 min on 2 shared cores
    .venv/bin/python benchmarks/bench_scaling.py --quick    # smoke run, small sizes, ~3 min
    .venv/bin/python benchmarks/bench_scaling.py --big      # N = 200,000 x 10, K = 3: sample + LOO
    .venv/bin/python benchmarks/bench_scaling.py --big --draws 250 --tune 250 --chains 2

Data: ``bm.datasets.simulate_lca(n_units=N, n_items=I, n_classes=K, seed=1)``,
model ``bm.lca(sim.data, items=sim.items, n_classes=K)`` (binary items).

Grid (each point in a fresh subprocess, so compile caches held in memory and
peak memory stay separate): N in {2e3, 2e4, 2e5} (10 items, K = 3), items in
{5, 10, 20} (N = 2e4, K = 3), K in {2, 3, 4, 6} (N = 2e4, 10 items). Per point:

* ``cold_s``: the first ``fit_ml(starts=20, seed=1)`` in the process (compiles);
* ``warm_s``: the second call on the same model, split as in
  ``bench_ml_stepmix.py`` into ``multistart_s`` (random starts to the best LL,
  no standard errors) and ``se_s`` (``ml_result``: Hessian, scores, tables);
  ``ms_eval`` is the mean ms of one objective+gradient evaluation of the ML
  objective during the warm call (``n_evals`` of them);
* ``grad_<mode>_ms``: one logp+dlogp of the *sampler's* log density
  (:func:`bayesmix.inference.sampling.gradient_costs`: PyMC's default compile
  mode and NUMBA, which nutpie runs), median of 5 after a warm-up;
* ``rss_after_warm_mb``: ru_maxrss (worker + largest child) after the two
  ``fit_ml`` calls, i.e. the peak of ML alone; ``peak_mb``: the same at the
  end, after compiling the sampler's gradients too (numba's LLVM dominates at
  small N);
* ``load``: the 1-minute load average before -> after the worker.

The parent prints the table and, for each series, the least-squares slope of
log(cost) on log(size) (cost ~ N^a, items^b, K^c), and writes
``benchmarks/results/bench_scaling-<timestamp>.json``.

``--big`` times ``m.sample(draws, tune, chains, sampler="auto", random_seed=1,
log_likelihood=False)`` at N = 200,000 x 10, K = 3, split into the start-value
search (posterior mode, ``starts=10``), the automatic sampler choice, the
backend's compile, sampling and post-processing (label alignment, convergence
figures); then, in this order (ru_maxrss only grows, so the cheap path goes
first): ``bm.loo_by_pattern(m, idata)`` (PSIS-LOO per unique pattern, from
the posterior), the per-unit ``log_likelihood`` group that ``m.sample()``
builds by default (its time and size), ``bm.loo`` (ArviZ PSIS-LOO on the
(chains, draws, N) group), and ``loo_by_pattern`` on the same draws (the
differences are reported); these per-unit steps use the first
``--unit-loo-draws`` draws per chain (default 250: a 4 x 1000 group at N =
200,000 is 6.4 GB, and ArviZ holds several arrays of that size), so their
memory is measured at a known draws x N and scales linearly. With min bulk
ESS, max R-hat and ru_maxrss after every phase.

This is not a test: pytest only collects ``tests/`` and nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from bench_lca import _Timer, _loadavg, _peak_memory_mb  # noqa: E402  (shared benchmark helpers)

GRID = {
    "N": [(2_000, 10, 3), (20_000, 10, 3), (200_000, 10, 3)],
    "items": [(20_000, 5, 3), (20_000, 10, 3), (20_000, 20, 3)],
    "K": [(20_000, 10, 2), (20_000, 10, 3), (20_000, 10, 4), (20_000, 10, 6)],
}
QUICK_GRID = {
    "N": [(500, 6, 2), (2_000, 6, 2)],
    "items": [(500, 4, 2), (500, 8, 2)],
    "K": [(500, 6, 2), (500, 6, 3)],
}
SERIES_AXIS = {"N": "n_units", "items": "n_items", "K": "k"}
SLOPE_COLUMNS = ("cold_s", "warm_s", "multistart_s", "se_s", "ms_eval", "grad_cvm_ms", "grad_numba_ms",
                 "rss_after_warm_mb", "peak_mb")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, 5 starts (smoke run)")
    p.add_argument("--big", action="store_true", help="N = 200,000 x 10, K = 3: sample + LOO (no grid)")
    p.add_argument("--series", default="N,items,K", help="grid series to run, comma-separated")
    p.add_argument("--starts", type=int, default=20, help="fit_ml(starts=...)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--big-n", type=int, default=200_000)
    p.add_argument("--draws", type=int, default=1000, help="--big: draws per chain")
    p.add_argument("--tune", type=int, default=1000, help="--big: tuning steps per chain")
    p.add_argument("--chains", type=int, default=4, help="--big: chains")
    p.add_argument("--sampler", default="auto", help="--big: m.sample(sampler=...)")
    p.add_argument("--unit-loo-draws", type=int, default=250,
                   help="--big: per-unit log_likelihood group + bm.loo on the first D draws per chain (0: all)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per subprocess")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: "grid" or "big"
    p.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--items", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.starts = min(args.starts, 5)
        args.big_n = min(args.big_n, 2_000)
        args.draws, args.tune, args.chains = min(args.draws, 100), min(args.tune, 100), min(args.chains, 2)
    return args


def _model(n, items, k, seed):
    import bayesmix as bm
    sim = bm.datasets.simulate_lca(n_units=n, n_items=items, n_classes=k, seed=seed)
    t = time.perf_counter()
    m = bm.lca(sim.data, items=sim.items, n_classes=k)
    build_s = time.perf_counter() - t
    return m, build_s, int(len(sim.data[sim.items].drop_duplicates()))


def _wrap(owner, name: str) -> _Timer:
    """Replace ``owner.name`` by a timer around it (callers that look it up at call time are timed)."""
    timer = _Timer(getattr(owner, name))
    setattr(owner, name, timer)
    return timer


def _memory(tag, out):
    self_mb, child_mb = _peak_memory_mb()
    out[f"rss_{tag}_mb"] = round(self_mb + child_mb, 1)


# ---------------------------------------------------------------------- grid worker
def run_grid_worker(args) -> dict:
    load_before = _loadavg()
    t0 = time.perf_counter()
    import pytensor

    import bayesmix.inference.ml as ml_mod
    from bayesmix.inference.objective import flat_model
    from bayesmix.inference.sampling import COMPILE_MODE, gradient_costs
    import_s = time.perf_counter() - t0
    compile_timer = _wrap(pytensor, "function")
    ms_timer, se_timer = _wrap(ml_mod, "multistart"), _wrap(ml_mod, "ml_result")

    m, build_s, n_patterns = _model(args.n, args.items, args.k, args.seed)
    out = {"n_units": args.n, "n_items": args.items, "k": args.k, "import_s": import_s, "build_s": build_s,
           "n_patterns": n_patterns}
    t = time.perf_counter()
    cold = m.fit_ml(starts=args.starts, seed=args.seed, progressbar=False)
    out.update(cold_s=time.perf_counter() - t, compile_s=compile_timer.seconds, n_compiles=compile_timer.calls,
               cold_loglik=cold.loglik)
    _memory("after_cold", out)

    flat = flat_model(m)
    vg_timer = _Timer(flat._functions[("vg", "loglik")])
    flat._functions[("vg", "loglik")] = vg_timer
    for timer in (ms_timer, se_timer, compile_timer):
        timer.seconds, timer.calls = 0.0, 0
    t = time.perf_counter()
    warm = m.fit_ml(starts=args.starts, seed=args.seed, progressbar=False)
    out.update(warm_s=time.perf_counter() - t, multistart_s=ms_timer.seconds, se_s=se_timer.seconds,
               n_evals=vg_timer.calls, ms_eval=1e3 * vg_timer.seconds / max(vg_timer.calls, 1),
               warm_compile_s=compile_timer.seconds, loglik=warm.loglik,
               n_replicated=warm.starts.replication)  # "k of n" starts
    _memory("after_warm", out)

    costs, compiled = gradient_costs(m, (COMPILE_MODE, "NUMBA"), with_compile_time=True)
    out.update(grad_cvm_ms=1e3 * costs[COMPILE_MODE], grad_numba_ms=1e3 * costs["NUMBA"],
               grad_cvm_compile_s=compiled[COMPILE_MODE], grad_numba_compile_s=compiled["NUMBA"],
               compile_mode=str(COMPILE_MODE), work_size=int(m.work_size()))
    patterns = getattr(m.structure, "patterns", None)
    out["n_patterns_used"] = None if patterns is None else int(patterns.n_patterns)
    self_mb, child_mb = _peak_memory_mb()
    out.update(rss_self_mb=self_mb, rss_children_mb=child_mb, peak_mb=self_mb + child_mb,
               load_before=load_before, load_after=_loadavg(), wall_s=time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------- big worker
def run_big_worker(args) -> dict:
    load_before = _loadavg()
    t0 = time.perf_counter()
    import numpy as np
    import nutpie

    import bayesmix as bm
    import bayesmix.inference.sampling as smod

    import pymc.sampling.mcmc as mcmc
    phases = {
        "start_values_s": _wrap(smod, "initial_point"),       # posterior mode, starts=10
        "auto_choice_s": _wrap(smod, "auto_sampler"),          # compiles + times CVM and NUMBA gradients
        "nutpie_compile_s": _wrap(nutpie, "compile_pymc_model"),
        "backend_s": _wrap(smod, "_run_sampler"),              # compile + sampling
        "finalize_s": _wrap(smod, "finalize"),                 # labels (+ log_likelihood) + observed_data
        "convergence_s": _wrap(smod, "check_convergence"),
        "pymc_init_nuts_s": _wrap(mcmc, "init_nuts"),
    }

    m, build_s, n_patterns = _model(args.n, args.items, args.k, args.seed)
    out = {"n_units": args.n, "n_items": args.items, "k": args.k, "build_s": build_s, "n_patterns": n_patterns,
           "draws": args.draws, "tune": args.tune, "chains": args.chains}
    _memory("after_build", out)
    t = time.perf_counter()
    idata = m.sample(draws=args.draws, tune=args.tune, chains=args.chains, sampler=args.sampler,
                     random_seed=args.seed, progressbar=False, log_likelihood=False)
    out["sample_wall_s"] = time.perf_counter() - t
    out.update({k: v.seconds for k, v in phases.items()})
    out["sampler"] = idata.attrs.get("bayesmix_sampler")
    out["sampler_choice"] = {k: v for k, v in idata.attrs.items() if "choice" in k or "gradient" in k}
    compile_s = out["nutpie_compile_s"] if out["sampler"] == "nutpie" else out["pymc_init_nuts_s"]
    out["compile_s"] = compile_s
    out["sampling_s"] = out["backend_s"] - compile_s
    out["post_s"] = out["sample_wall_s"] - out["start_values_s"] - out["auto_choice_s"] - out["backend_s"]
    out["min_ess_bulk"] = idata.attrs.get("bayesmix_min_ess_bulk")
    out["max_rhat"] = idata.attrs.get("bayesmix_max_rhat")
    stats = idata["sample_stats"].to_dataset()
    out["divergences"] = int(np.asarray(stats["diverging"]).sum())
    for name in ("n_steps", "tree_size", "depth", "tree_depth"):
        if name in stats:
            out[f"mean_{name}"] = float(np.asarray(stats[name]).mean())
    _memory("after_sample", out)

    # 1. the fix: PSIS-LOO per unique pattern straight from the posterior (no (draws, N) matrix)
    t = time.perf_counter()
    pfit = bm.loo_by_pattern(m, idata)
    out.update(pattern_loo_s=time.perf_counter() - t, pattern_elpd_loo=pfit.elpd, pattern_se_loo=pfit.se,
               pattern_p_loo=pfit.p, pattern_max_pareto_k=float(np.nanmax(pfit.pareto_k)),
               n_patterns_loo=pfit.n_patterns)
    _memory("after_pattern_loo", out)

    # 2. what m.sample() does by default: the per-unit log_likelihood group, then ArviZ's LOO on it;
    #    on the first --unit-loo-draws draws per chain (memory grows linearly with draws x N)
    import xarray as xr
    posterior = idata["posterior"].to_dataset()
    if args.unit_loo_draws and args.unit_loo_draws < posterior.sizes["draw"]:
        posterior = posterior.isel(draw=slice(0, args.unit_loo_draws))
    sub = xr.DataTree.from_dict({"posterior": posterior})
    out["unit_loo_samples"] = int(posterior.sizes["chain"] * posterior.sizes["draw"])
    t = time.perf_counter()
    ll = smod.log_likelihood_dataset(m, posterior)
    out["log_likelihood_group_s"] = time.perf_counter() - t
    out["log_likelihood_mb"] = sum(v.nbytes for v in ll.data_vars.values()) / 1e6
    out["log_likelihood_dtype"] = str(next(iter(ll.data_vars.values())).dtype)
    sub["log_likelihood"] = xr.DataTree(ll)
    del ll
    _memory("after_log_likelihood_group", out)
    t = time.perf_counter()
    fit = bm.loo(sub)
    out.update(loo_s=time.perf_counter() - t, elpd_loo=float(fit.elpd), se_loo=float(fit.se), p_loo=float(fit.p),
               max_pareto_k=float(np.nanmax(np.asarray(fit.pareto_k))))
    _memory("after_loo", out)
    del fit
    same = bm.loo_by_pattern(m, sub)  # the same draws by pattern: equal to bm.loo up to rounding
    out["abs_diff_elpd"] = abs(out["elpd_loo"] - same.elpd)
    out["abs_diff_se"] = abs(out["se_loo"] - same.se)
    out["abs_diff_p"] = abs(out["p_loo"] - same.p)
    self_mb, child_mb = _peak_memory_mb()
    out.update(rss_self_mb=self_mb, rss_children_mb=child_mb, peak_mb=self_mb + child_mb,
               load_before=load_before, load_after=_loadavg(), wall_s=time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------- parent
def _run(cmd, timeout) -> tuple[dict | None, str]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        proc = subprocess.run([*cmd, "--out", out], capture_output=True, text=True, timeout=timeout)
        ok, err = proc.returncode == 0, proc.stderr[-3000:]
    except subprocess.TimeoutExpired:
        ok, err = False, f"timeout after {timeout} s"
    result = None
    if ok:
        with open(out) as f:
            result = json.load(f)
    os.unlink(out)
    return result, err


def slopes(rows: list[dict]) -> dict:
    """Least-squares slope of log(cost) on log(size) per series and cost column."""
    import numpy as np
    out = {}
    for series, axis in SERIES_AXIS.items():
        sub = [r for r in rows if r.get("series") == series]
        if len(sub) < 2:
            continue
        x = np.log([r[axis] for r in sub])
        out[series] = {}
        for col in SLOPE_COLUMNS:
            y = np.array([r.get(col, np.nan) for r in sub], dtype=float)
            ok = np.isfinite(y) & (y > 0)
            out[series][col] = float(np.polyfit(x[ok], np.log(y[ok]), 1)[0]) if ok.sum() >= 2 else float("nan")
    return out


def print_table(rows: list[dict]):
    import pandas as pd
    cols = ["series", "n_units", "n_items", "k", "cold_s", "warm_s", "multistart_s", "se_s", "n_evals",
            "ms_eval", "grad_cvm_ms", "grad_numba_ms", "rss_after_warm_mb", "peak_mb", "load"]
    table = pd.DataFrame(rows)
    table["load"] = [f"{r['load_before']:.2f}->{r['load_after']:.2f}" for r in rows]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.3g}".format):
        print(table[cols].to_string(index=False))


def print_slopes(fitted: dict):
    print("\nlog-log slopes (cost ~ size^slope):")
    width = [max(len(c), 6) + 2 for c in SLOPE_COLUMNS]
    print(f"{'series':8s}" + "".join(f"{c:>{w}s}" for c, w in zip(SLOPE_COLUMNS, width)))
    for series, vals in fitted.items():
        print(f"{series:8s}" + "".join(f"{vals[c]:{w}.2f}" for c, w in zip(SLOPE_COLUMNS, width)))


def run_grid(args):
    grid = QUICK_GRID if args.quick else GRID
    rows, failed = [], []
    for series in args.series.split(","):
        for n, items, k in grid[series]:
            print(f"[{series}] N={n} items={items} K={k} ...", file=sys.stderr, flush=True)
            res, err = _run([sys.executable, __file__, "--worker", "grid", "--n", str(n), "--items", str(items),
                             "--k", str(k), "--starts", str(args.starts), "--seed", str(args.seed)], args.timeout)
            if res is None:
                print(f"  failed:\n{err}", file=sys.stderr)
                failed.append({"series": series, "n_units": n, "n_items": items, "k": k, "error": err})
                continue
            res["series"] = series
            rows.append(res)
            print(f"  warm {res['warm_s']:.2f} s (starts {res['multistart_s']:.2f} s), grad numba "
                  f"{res['grad_numba_ms']:.2f} ms, peak {res['peak_mb']:.0f} MB, load {res['load_before']:.2f}",
                  file=sys.stderr, flush=True)
    if rows:
        print_table(rows)
    fitted = slopes(rows)
    print_slopes(fitted)
    return {"rows": rows, "failed": failed, "slopes": fitted}


def run_big(args):
    print(f"[big] N={args.big_n} x 10, K=3: sample({args.chains} x {args.tune}/{args.draws}) + LOO ...",
          file=sys.stderr, flush=True)
    res, err = _run([sys.executable, __file__, "--worker", "big", "--n", str(args.big_n), "--items", "10",
                     "--k", "3", "--seed", str(args.seed), "--draws", str(args.draws), "--tune", str(args.tune),
                     "--chains", str(args.chains), "--sampler", args.sampler,
                     "--unit-loo-draws", str(args.unit_loo_draws)], args.timeout)
    if res is None:
        print(f"  failed:\n{err}", file=sys.stderr)
        return {"big": None, "error": err}
    for key, value in res.items():
        print(f"  {key:24s} {value:.4g}" if isinstance(value, float) else f"  {key:24s} {value}")
    return {"big": res}


def _versions():
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for pkg in ("bayesmix", "pymc", "pytensor", "nutpie", "numba", "numpy", "arviz", "arviz-stats"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        result = run_grid_worker(args) if args.worker == "grid" else run_big_worker(args)
        Path(args.out).write_text(json.dumps(result, default=str))
        return
    info = run_big(args) if args.big else run_grid(args)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S") + ("-big" if args.big else "") + ("-quick" if args.quick else "")
        path = RESULTS / f"bench_scaling-{stamp}.json"
        info.update(args=vars(args), versions=_versions(), platform=platform.platform(), cpu_count=os.cpu_count())
        path.write_text(json.dumps(info, indent=2, default=str))
        print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
