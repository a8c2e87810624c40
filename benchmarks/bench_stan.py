#!/usr/bin/env python
"""Benchmark: two-level LCA by NUTS, bayesmix vs Stan, in ESS per second of TOTAL wall time (issue 11 item 4).

The model is the Stan harness's ``lca2l.stan`` (``benchmarks/stan/``):
K = 2 classes, binary items, a cluster random intercept on the class-1 logit
(non-centered), the unit's class marginalized. bayesmix fits the same model as
``bm.lca(df, items, 2, cluster="cluster", random_intercept=True)`` with the
Stan priors: ``class_intercept`` Normal(0, 2) (Stan's gamma0), ``random_sd``
HalfNormal(1) (sigma_u), ``binary_logit`` Normal(0, 2.5) (Stan puts iid
normal(0, 2.5) on its item logits ``logit_p``). Identification differs only in
the labels: Stan orders the classes on their mean item logit, bayesmix aligns
the draws to the start mode's labels.

Same data file (``benchmarks/results/lca2l_J200.csv``, ``lca2l_J1000.csv``,
written by the harness's ``simulate.py``), 4 chains x 1000 warm-up + 1000
draws, 2 cores, the same seed on both sides (``--seed`` + repeat). Each run is
a fresh subprocess, interleaved so both sides see the same machine load:

    Stan cold, bayesmix cold, Stan warm, bayesmix warm   (per J and repeat)

*cold*: an empty compile cache (Stan: a new ``--cache-dir``; bayesmix:
``PYTENSOR_FLAGS=base_compiledir=<new dir>`` and ``NUMBA_CACHE_DIR=<new dir>``);
*warm*: the cache the cold run of the same repeat left behind.

Columns (seconds unless said): ``wall`` the subprocess's wall time (interpreter
start, imports, data, compile, sampling, post-processing: what a user waits),
``compile`` (Stan: ``stan_model`` or loading the cached model; bayesmix: the
``sampler="auto"`` choice, which compiles the log density in two modes, plus
the chosen sampler's own compile), ``start`` (bayesmix's posterior-mode start
search, ``init="map"``, its compile included; Stan starts at random inits),
``sampling``, ``post`` (bayesmix: label alignment, the per-cluster
``log_likelihood`` by quadrature, observed data, convergence checks; Stan:
everything in the R script after sampling), ``loglik`` (bayesmix's
per-cluster log_likelihood alone), ``min_ess`` (min bulk ESS over the GLOBAL
parameters: item logits, class intercept, random SD; not the cluster
effects), ``ess/s`` (per second of wall), ``ess/s_smp`` (per second of
sampling), ``max_rhat`` (same parameters), ``div`` (divergences), ``peak_mb``
(largest resident set in the process tree). The summary gives the ratio
bayesmix / Stan of both ESS rates per (J, cache state), medians over repeats.
``--sides stan,bayesmix,bayesmix-blas1`` adds a diagnostic bayesmix run with
OPENBLAS/OMP/MKL_NUM_THREADS=1 (not bayesmix's default): on the loaded 2-core
machine OpenBLAS's own threads made each (nodes x patterns) @ (patterns x
clusters) product of the per-cluster log_likelihood take 40-150 ms instead of
0.15 ms (J = 200, load 7-11). ``cpu_s`` is the user + system time of the whole
process tree (``os.wait4``), so ``ess_per_cpu_s`` does not depend on the load;
Stan rows also keep ``chain_cpu_s``, Stan 2.21's own per-chain clock() times.

Further bayesmix sides (issue 23 item 2; ``BAYESMIX_SIDES``): ``bayesmix-integrated``
(``m.sample(latent="integrated", sampler="nutpie")``: the random class
intercepts integrated by the model's quadrature inside the NUTS density, 22
parameters at J = 200 instead of 222), ``bayesmix-integrated-lowrank`` (the
same with nutpie's ``adaptation="low_rank"`` mass matrix),
``bayesmix-integrated-ml`` (the same started at ``init="ml"``) and
``bayesmix-lowrank`` (the cluster effects sampled, low-rank mass matrix); the
nutpie backend is the one ``sampler="auto"`` would take (jax where installed).
With ``--states warm`` alone each side's cache is filled once per J by an
untimed short run (``--prime-draws``) and the repeats run interleaved
(A, B, C, A, B, C, ...). The summary gives per side the medians over repeats of
the ESS rates, wall, min bulk ESS and peak memory, the largest R-hat, the load
range, and the ratios to Stan (ESS per second of wall, of sampling, per CPU
second). See benchmarks/README.md for the latest figures.

    .venv/bin/python benchmarks/bench_stan.py                 # J = 200 and 1000, 2 repeats (30-60 min)
    .venv/bin/python benchmarks/bench_stan.py --quick         # smoke: J = 200, 4 x 100/100, 1 repeat
    .venv/bin/python benchmarks/bench_stan.py --clusters 200 --repeats 1 --sides bayesmix
    .venv/bin/python benchmarks/bench_stan.py --clusters 200 --repeats 3 --states warm \
        --sides stan,bayesmix,bayesmix-integrated,bayesmix-integrated-lowrank

Needs rstan (``benchmarks/stan/README.md``): ``--rlibs`` names the R
library with the BH copy (default ``/tmp/stan-rlib``). Writes
``benchmarks/results/bench_stan-<timestamp>.json``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_lca import _loadavg  # noqa: E402
RESULTS = HERE / "results"
HARNESS = Path(__file__).resolve().parent / "stan"
#: Stan's priors in lca2l.stan, as bayesmix prior overrides (binary_logit's default is already Normal(0, 2.5))
STAN_PRIORS = {"class_intercept": {"sigma": 2.0}, "random_sd": {"sigma": 1.0}}
GLOBALS = ["class_intercept", "random_sd", "binary_logit"]
#: the bayesmix sides: ``m.sample`` options (``blas_threads``: OPENBLAS/OMP/MKL_NUM_THREADS of the process;
#: ``backend="auto"``: nutpie's backend as ``sampler="auto"`` picks it, ``nutpie_backend()``)
BAYESMIX_SIDES = {
    "bayesmix": {},  # m.sample() with its defaults: latent="sampled", sampler="auto", init="auto" (= "map" here)
    "bayesmix-blas1": {"blas_threads": 1},  # a diagnosis, not bayesmix's default
    # the random class intercepts integrated by quadrature inside the NUTS density (issue 23 item 2)
    "bayesmix-integrated": {"latent": "integrated", "sampler": "nutpie", "backend": "auto"},
    "bayesmix-integrated-lowrank": {"latent": "integrated", "sampler": "nutpie", "backend": "auto",
                                    "nuts": {"adaptation": "low_rank"}},
    "bayesmix-integrated-ml": {"latent": "integrated", "sampler": "nutpie", "backend": "auto", "init": "ml"},
    "bayesmix-lowrank": {"sampler": "nutpie", "backend": "auto", "nuts": {"adaptation": "low_rank"}},
}
SIDES = ("stan", *BAYESMIX_SIDES)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clusters", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sides", default="stan,bayesmix", help=f"from {','.join(SIDES)}")
    p.add_argument("--states", default="cold,warm",
                   help="cold (empty compile cache), warm (the cold run's cache; with warm alone, one untimed "
                        "priming run per side and J fills a cache that every repeat then uses)")
    p.add_argument("--prime-draws", type=int, default=20, help="draws = tune of the untimed priming runs (warm alone)")
    p.add_argument("--rlibs", default="/tmp/stan-rlib", help="R library holding the BH copy (see the harness README)")
    p.add_argument("--timeout", type=float, default=2400.0, help="seconds per subprocess")
    p.add_argument("--quick", action="store_true", help="smoke run: J = 200, 4 chains x 100/100, 1 repeat")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--J", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--side", default="bayesmix", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = set(args.sides.split(",")) - set(SIDES)
    if unknown:
        p.error(f"--sides: unknown {sorted(unknown)}; choose from {', '.join(SIDES)}")
    if args.quick:
        args.clusters, args.repeats, args.draws, args.tune = [200], 1, 100, 100
    return args


def data_path(J: int) -> Path:
    """The harness's data file for J clusters of 10 (written by simulate.py when absent or of another shape)."""
    path = RESULTS / f"lca2l_J{J}.csv"
    header = f"cluster,{','.join(f'y{p}' for p in range(1, 11))}"
    if not path.exists() or path.open().readline().strip() != header:
        subprocess.run([sys.executable, str(HARNESS / "simulate.py"), "lca2l", "--out", str(path),
                        "--N", str(10 * J), "--J", str(J)], check=True, capture_output=True)
    return path


# ---------------------------------------------------------------------- bayesmix worker
def bayesmix_worker(args) -> dict:
    t_process = time.perf_counter()
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    import pandas as pd
    import arviz as az
    import nutpie
    import pymc.sampling.mcmc as mcmc
    import bayesmix as bm
    from bayesmix.inference import sampling as S
    from bench_lca import _peak_memory_mb, _Timer
    import_s = time.perf_counter() - t_process

    timers = {name: _Timer(getattr(S, name)) for name in
              ("initial_point", "auto_sampler", "finalize", "log_likelihood_dataset", "align_labels",
               "check_convergence")}
    for name, timer in timers.items():
        setattr(S, name, timer)
    timers["nutpie_compile"] = nutpie.compile_pymc_model = _Timer(nutpie.compile_pymc_model)
    timers["init_nuts"] = mcmc.init_nuts = _Timer(mcmc.init_nuts)
    mode_compile = {}  # sampler="auto" compiles the log density + gradient once per mode: keep each mode's seconds
    gradient_costs = S._gradient_costs

    def _gradient_costs(mm, modes, repeats, with_compile_time):
        costs, compiled = gradient_costs(mm, modes, repeats, True)
        mode_compile.update(compiled)
        return (costs, compiled) if with_compile_time else costs
    S._gradient_costs = _gradient_costs

    from bayesmix.inference import integrated as I
    timers["integrated_model"] = I.integrated_model = _Timer(I.integrated_model)

    options = {k: v for k, v in BAYESMIX_SIDES[args.side].items() if k != "blas_threads"}
    if options.get("backend") == "auto":
        options["backend"] = S.nutpie_backend()
    df = pd.read_csv(data_path(args.J))
    items = [c for c in df.columns if c.startswith("y")]
    t0 = time.perf_counter()
    m = bm.lca(df, items, 2, cluster="cluster", random_intercept=True, priors=STAN_PRIORS)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = m.sample(draws=args.draws, tune=args.tune, chains=args.chains, cores=args.cores,
                     random_seed=args.seed, progressbar=False, **options)  # the side's options, else the defaults
    sample_s = time.perf_counter() - t0
    sampler = idata.attrs["bayesmix_sampler"]
    backend_s = float(idata.attrs["bayesmix_sampling_seconds"])  # the backend call: its compile + sampling
    sampler_compile = timers["nutpie_compile"].seconds if sampler == "nutpie" else timers["init_nuts"].seconds
    attr_time = idata["posterior"].attrs.get("sampling_time")
    sampling_s = float(attr_time) if sampler != "nutpie" and attr_time is not None else backend_s - sampler_compile
    if sampler != "nutpie" and attr_time is not None:
        sampler_compile = backend_s - sampling_s
    ess = az.ess(idata, var_names=GLOBALS, method="bulk")
    rhat = az.rhat(idata, var_names=GLOBALS)
    ess, rhat = getattr(ess, "dataset", ess), getattr(rhat, "dataset", rhat)
    self_mb, child_mb = _peak_memory_mb()
    row = {
        "options": options, "latent": idata.attrs.get("bayesmix_latent"),
        "integration": bm.evaluate.integration_attr(idata.attrs),
        "integrated_model_s": timers["integrated_model"].seconds,
        "import_s": import_s, "build_s": build_s, "sample_call_s": sample_s,
        "start_s": timers["initial_point"].seconds,
        "choose_s": timers["auto_sampler"].seconds,
        "choose_compile_s_by_mode": mode_compile,
        "sampler_compile_s": sampler_compile,
        "compile_s": timers["auto_sampler"].seconds + sampler_compile,
        "sampling_s": sampling_s,
        "post_s": timers["finalize"].seconds + timers["check_convergence"].seconds,
        "loglik_s": timers["log_likelihood_dataset"].seconds,
        "align_s": timers["align_labels"].seconds,
        "checks_s": timers["check_convergence"].seconds,
        "in_process_s": time.perf_counter() - t_process,
        "min_ess_bulk": float(min(float(ess[v].min()) for v in GLOBALS)),
        "ess_by_param": {v: float(ess[v].min()) for v in GLOBALS},
        "max_rhat": float(max(float(rhat[v].max()) for v in GLOBALS)),
        "divergences": int(idata["sample_stats"]["diverging"].sum()),
        "backend": sampler + (f" ({options['backend']})" if "backend" in options else ""),
        "backend_choice": idata.attrs.get("bayesmix_sampler_choice"),
        "n_steps_per_draw": float(idata["sample_stats"]["n_steps"].mean()) if "n_steps" in idata["sample_stats"] else None,
        "step_size": float(idata["sample_stats"]["step_size"].mean()) if "step_size" in idata["sample_stats"] else None,
        "relabeled_draws": int(idata.attrs.get("bayesmix_relabeled_draws", 0)),
        "posterior_mean": {v: float(idata["posterior"][v].mean()) for v in ("class_intercept", "random_sd")},
        "priors": {v: f"{type(m.model[v].owner.op).__name__}{[np.asarray(i.eval()).ravel()[:1].tolist() for i in m.model[v].owner.inputs[2:]]}"
                   for v in ("class_intercept", "random_sd", "binary_logit")},
        "self_peak_mb": self_mb, "children_peak_mb": child_mb,
    }
    return row


# ---------------------------------------------------------------------- parent
def _run(cmd: list[str], env: dict, timeout: float) -> tuple[float, float, str, str, int, float]:
    """Run cmd; (wall s, peak RSS MB of the largest process in its tree, stdout, stderr, return code,
    CPU seconds (user + system) of the process and its waited-for descendants)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=HERE.parent, text=True)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (wall, usage.ru_maxrss * 1024 / 1e6, out.read(), err.read(), proc.returncode,
                usage.ru_utime + usage.ru_stime)


def run_stan(args, J: int, seed: int, cache_dir: str) -> dict:
    cmd = ["Rscript", str(HARNESS / "run_stan.R"), "--model", "lca2l", "--data", str(data_path(J)),
           "--items-prefix", "y", "--K", "2", "--chains", str(args.chains), "--iter", str(args.tune + args.draws),
           "--warmup", str(args.tune), "--cores", str(args.cores), "--seed", str(seed), "--cache-dir", cache_dir]
    if args.rlibs and Path(args.rlibs).exists():
        cmd += ["--rlibs", args.rlibs]
    wall, peak, out, err, rc, cpu = _run(cmd, dict(os.environ), args.timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if rc != 0 or not lines:
        return {"error": f"rc={rc}: {err[-1500:]}", "wall_s": wall}
    r = json.loads(lines[-1])
    compile_s = r["load_s"] if r["cached"] else r["compile_s"]
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak, "compile_s": compile_s, "start_s": 0.0,
            "sampling_s": r["sampling_s"],
            "post_s": max(0.0, r["wall_total_s"] - compile_s - r["sampling_s"]), "loglik_s": 0.0,
            "min_ess_bulk": r["min_ess_bulk"], "max_rhat": r["max_rhat"], "divergences": r["divergences"],
            "backend": "rstan " + ("cached model" if r["cached"] else "fresh compile"),
            # Stan 2.21 times its chains with clock(): CPU seconds of warm-up + sampling, summed over chains
            "chain_cpu_s": r["chain_time_sum_s"],
            "stan": {k: r[k] for k in ("chain_time_max_s", "chain_time_sum_s", "min_ess_tail", "max_rhat_all", "treedepth_hits",
                                       "min_ebfmi", "stepsize", "n_leapfrog_per_draw", "grad_evals_total",
                                       "wall_total_s", "compile_s")}}


def run_bayesmix(args, J: int, seed: int, cache_dir: str, side: str = "bayesmix") -> dict:
    env = dict(os.environ)
    blas_threads = BAYESMIX_SIDES[side].get("blas_threads")
    if blas_threads is not None:
        env.update({k: str(blas_threads) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and not f.startswith("base_compiledir=")]
    env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
    env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out_path = fh.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "bayesmix", "--J", str(J), "--out", out_path,
           "--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains),
           "--cores", str(args.cores), "--seed", str(seed), "--side", side]
    wall, peak, _, err, rc, cpu = _run(cmd, env, args.timeout)
    try:
        row = json.loads(Path(out_path).read_text())
    except (OSError, ValueError):
        return {"error": f"rc={rc}: {err[-1500:]}", "wall_s": wall}
    finally:
        Path(out_path).unlink(missing_ok=True)
    row.update(wall_s=wall, peak_mb=peak, cpu_s=cpu)
    return row


def _finish(row: dict) -> dict:
    if "error" not in row:
        row["ess_per_s_wall"] = row["min_ess_bulk"] / row["wall_s"]
        row["ess_per_s_sampling"] = row["min_ess_bulk"] / row["sampling_s"]
        row["ess_per_cpu_s"] = row["min_ess_bulk"] / row["cpu_s"]  # load-independent: the whole process tree
    return row


def print_row(r: dict) -> None:
    if "error" in r:
        print(f"J={r['J']:5d} rep {r['repeat']} {r['side']:28s} {r['state']:4s}  FAILED after {r['wall_s']:.0f} s: "
              f"{r['error'][-400:]}", flush=True)
        return
    print(f"J={r['J']:5d} rep {r['repeat']} {r['side']:28s} {r['state']:4s} {r['wall_s']:7.1f} {r['compile_s']:7.1f} "
          f"{r['start_s']:6.1f} {r['sampling_s']:7.1f} {r['post_s']:6.1f} {r['loglik_s']:6.1f} "
          f"{r['min_ess_bulk']:7.0f} {r['ess_per_s_wall']:6.2f} {r['ess_per_s_sampling']:9.2f} {r['max_rhat']:6.3f} "
          f"{r['divergences']:4d} {r['peak_mb']:7.0f}  {r['backend']}  (load {r['load_before']}->{r['load_after']})",
          flush=True)


HEADER = (f"{'case':50s} {'wall':>7s} {'compile':>7s} {'start':>6s} {'sampling':>7s} {'post':>6s} {'loglik':>6s} "
          f"{'min_ess':>7s} {'ess/s':>6s} {'ess/s_smp':>9s} {'rhat':>6s} {'div':>4s} {'peak_mb':>7s}  backend")


def summarize(rows: list[dict]) -> list[dict]:
    """Medians over repeats per (J, state, side), each bayesmix side's ratio to Stan (medians of the ESS rates).

    Per side: the median of ESS/s of wall and of sampling, wall, sampling, min bulk ESS, ESS per CPU second,
    peak memory; the largest R-hat and the load range over its repeats.
    """
    import statistics
    keys = ("ess_per_s_wall", "ess_per_s_sampling", "wall_s", "sampling_s", "min_ess_bulk", "ess_per_cpu_s",
            "peak_mb", "start_s", "compile_s", "post_s", "loglik_s")
    out = []
    for J in sorted({r["J"] for r in rows}):
        for state in ("cold", "warm"):
            got = {}
            for side in SIDES:
                ok = [r for r in rows if (r["J"], r["state"], r["side"]) == (J, state, side) and "error" not in r]
                if ok:
                    got[side] = {k: statistics.median(r[k] for r in ok) for k in keys} | {
                        "n": len(ok), "max_rhat": max(r["max_rhat"] for r in ok),
                        "divergences": sum(r["divergences"] for r in ok),
                        "load": [min(r["load_before"] for r in ok), max(r["load_after"] for r in ok)]}
            if "stan" not in got:
                continue
            s = got["stan"]
            for variant in SIDES[1:]:
                if variant in got:
                    b = got[variant]
                    out.append({"J": J, "state": state, "side": variant, "stan": s, "bayesmix": b,
                                "ratio_ess_per_s_wall": b["ess_per_s_wall"] / s["ess_per_s_wall"],
                                "ratio_ess_per_s_sampling": b["ess_per_s_sampling"] / s["ess_per_s_sampling"],
                                "ratio_ess_per_cpu_s": b["ess_per_cpu_s"] / s["ess_per_cpu_s"]})
    return out


def _prime(args, J: int, sides: list[str], caches: dict) -> list[dict]:
    """Untimed runs (``--prime-draws`` draws and tuning steps) that fill each side's compile cache for J."""
    short = argparse.Namespace(**{**vars(args), "draws": args.prime_draws, "tune": args.prime_draws})
    out = []
    for side in sides:
        t0 = time.perf_counter()
        row = run_stan(short, J, args.seed, caches[side]) if side == "stan" else \
            run_bayesmix(short, J, args.seed, caches[side], side)
        out.append({"J": J, "side": side, "wall_s": time.perf_counter() - t0, "error": row.get("error")})
        print(f"primed {side} J={J}: {out[-1]['wall_s']:.0f} s" + (f" FAILED {row['error'][-300:]}" if "error" in row else ""),
              flush=True)
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        row = bayesmix_worker(args)
        Path(args.out).write_text(json.dumps(row))
        return row
    if "stan" in args.sides and shutil.which("Rscript") is None:
        raise SystemExit("Rscript not found: install rstan as benchmarks/stan/README.md says, "
                         "or pass --sides bayesmix")
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "cores": os.cpu_count(),
            "python": platform.python_version(), "load_start": _loadavg(),
            "settings": {k: getattr(args, k) for k in ("clusters", "repeats", "draws", "tune", "chains", "cores",
                                                       "seed", "sides", "states")}}
    try:
        info["rstan"] = subprocess.run(["Rscript", "-e", "cat(as.character(packageVersion('rstan')))"],
                                       capture_output=True, text=True).stdout.strip()
    except OSError:
        info["rstan"] = None
    sides = [s for s in SIDES if s in args.sides.split(",")]
    states = [s for s in ("cold", "warm") if s in args.states.split(",")]
    rows = []
    path = None if args.no_save else RESULTS / f"bench_stan-{time.strftime('%Y%m%d-%H%M%S')}.json"
    print(HEADER, flush=True)
    primed = info["primed"] = []
    for J in args.clusters:
        data_path(J)
        # warm alone: one cache per side for every repeat, filled by an untimed short run first; with cold, each
        # repeat's cold run fills the cache its warm run then uses
        shared = None
        if states == ["warm"]:
            shared = {side: tempfile.mkdtemp(prefix=f"bench_stan_{side}_") for side in sides}
            primed += _prime(args, J, sides, shared)
        try:
            for rep in range(args.repeats):
                seed = args.seed + rep
                caches = shared or {side: tempfile.mkdtemp(prefix=f"bench_stan_{side}_") for side in sides}
                try:
                    for state in states:
                        for side in sides:  # interleaved: A, B, C, A, B, C, ...
                            load_before = _loadavg()
                            if side == "stan":
                                row = _finish(run_stan(args, J, seed, caches[side]))
                            else:
                                row = _finish(run_bayesmix(args, J, seed, caches[side], side))
                            row.update(J=J, repeat=rep, seed=seed, side=side, state=state, load_before=load_before,
                                       load_after=_loadavg())
                            rows.append(row)
                            print_row(row)
                            if path is not None:  # after every row: an interrupted run keeps what it measured
                                path.write_text(json.dumps({"machine": info, "rows": rows,
                                                            "summary": summarize(rows)}, indent=1))
                finally:
                    if shared is None:
                        for d in caches.values():
                            shutil.rmtree(d, ignore_errors=True)
        finally:
            for d in (shared or {}).values():
                shutil.rmtree(d, ignore_errors=True)
    summary = summarize(rows)
    info["load_end"] = _loadavg()
    print(f"\n{info['date_utc']} UTC, {info['cores']} cores, load {info['load_start']} -> {info['load_end']}; "
          f"medians over repeats; ratio = bayesmix / Stan (> 1: bayesmix ahead)")
    print(f"{'J':>5s} {'state':5s} {'side':28s} {'n':>2s} {'ess/s wall':>10s} {'ratio':>6s} {'ess/s smp':>9s} "
          f"{'ratio':>6s} {'min_ess':>7s} {'max_rhat':>8s} {'wall':>6s} {'peak_mb':>7s}  load")
    stan_printed = set()
    for s in summary:
        lines = [] if (s["J"], s["state"]) in stan_printed else [("stan", s["stan"])]
        stan_printed.add((s["J"], s["state"]))
        for side, b in lines + [(s["side"], s["bayesmix"])]:
            ratio = (f"{s['ratio_ess_per_s_wall']:6.2f}", f"{s['ratio_ess_per_s_sampling']:6.2f}") if side != "stan" \
                else ("", "")
            print(f"{s['J']:5d} {s['state']:5s} {side:28s} {b['n']:2d} {b['ess_per_s_wall']:10.2f} {ratio[0]:>6s} "
                  f"{b['ess_per_s_sampling']:9.2f} {ratio[1]:>6s} {b['min_ess_bulk']:7.0f} {b['max_rhat']:8.3f} "
                  f"{b['wall_s']:6.1f} {b['peak_mb']:7.0f}  {b['load'][0]}-{b['load'][1]}")
    for r in rows:
        if "error" not in r:
            print(f"J={r['J']} rep {r['repeat']} {r['state']} {r['side']}: {r['cpu_s']:.0f} CPU s in all, "
                  f"{r['ess_per_cpu_s']:.2f} ESS per CPU second"
                  + (f"; Stan's chains {r['chain_cpu_s']:.0f} CPU s" if "chain_cpu_s" in r else ""))
        if r["side"] != "stan" and "error" not in r:
            print(f"J={r['J']} rep {r['repeat']} {r['state']}: per-cluster log_likelihood {r['loglik_s']:.1f} s = "
                  f"{100 * r['loglik_s'] / r['sampling_s']:.0f}% of sampling (target < 20%); backend {r['backend']}"
                  f" ({r['side']})")
    if path is not None:
        path.write_text(json.dumps({"machine": info, "rows": rows, "summary": summary}, indent=1))
        print(f"wrote {path}")
    return {"rows": rows, "summary": summary}


if __name__ == "__main__":
    main()
