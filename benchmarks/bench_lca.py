#!/usr/bin/env python
"""Benchmark: 2-class LCA on simulated binary items, every installed NUTS backend + ML.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_lca.py              # N=5000, 15 items, 4 x (1000 tune + 1000 draws)
    .venv/bin/python benchmarks/bench_lca.py --quick      # smoke run: N=500, 100 tune / 100 draws
    .venv/bin/python benchmarks/bench_lca.py --backends nutpie,ml --chains 2

Each backend (and the ML fit) runs in a fresh subprocess of this script
(``--worker BACKEND``) so that compile caches held in memory, imported JAX
state, forked PyMC workers and peak memory do not leak between backends.
The parent prints one row per backend and writes the table to
``benchmarks/results/`` (CSV and JSON; that directory is gitignored).
See ``benchmarks/README.md`` for what every column means.

This is not a test: pytest only collects ``tests/`` and nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ALL_BACKENDS = ("pymc", "nutpie", "numpyro")
VAR_NAMES = ["class_intercept", "binary_logit"]

COLUMNS = [
    "backend", "n_units", "n_items", "chains", "tune", "draws",
    "build_s", "opt_compile_s", "opt_s", "sample_wall_s", "backend_s", "sampler_compile_s",
    "sampling_s", "post_s", "total_s", "min_ess_bulk", "ess_per_s", "ess_per_s_sampling",
    "max_rhat", "divergences", "max_abs_err", "loglik", "peak_mb", "rss_self_mb", "rss_children_mb",
    "load_before", "load_after",
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-units", type=int, default=5000)
    p.add_argument("--n-items", type=int, default=15)
    p.add_argument("--n-classes", type=int, default=2)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--cores", type=int, default=None, help="default: bayesmix's (min(chains, cpu count))")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--xla-devices", type=int, default=None,
                   help="numpyro only: set XLA_FLAGS host device count (default: leave as bayesmix/PyMC set it)")
    p.add_argument("--map-starts", type=int, default=10)
    p.add_argument("--ml-starts", type=int, default=20)
    p.add_argument("--backends", default=None,
                   help="comma-separated subset of pymc,nutpie,numpyro,ml (default: every installed sampler + ml)")
    p.add_argument("--quick", action="store_true", help="smoke run: N=500, 100 tune / 100 draws")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per backend subprocess")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    p.add_argument("--show", default=None, metavar="CSV", help="print a saved results table and exit")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: run one backend
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)     # internal: worker's JSON output
    args = p.parse_args(argv)
    if args.quick:
        args.n_units, args.draws, args.tune = 500, 100, 100
    return args


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def _peak_memory_mb():
    """ru_maxrss (KiB on Linux) of this process and of its largest waited-for child, in MB."""
    scale = 1024.0 if sys.platform != "darwin" else 1.0  # macOS reports bytes
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 1e6
    return self_mb, child_mb


# ---------------------------------------------------------------------- worker
class _Timer:
    """Wraps a function and accumulates the wall time spent in it."""

    def __init__(self, fn):
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


def _instrument(backend):
    """Time the backend's own compile step where it can be wrapped from outside.

    pymc: ``pymc.sampling.mcmc.init_nuts`` (compiles logp/dlogp and builds the NUTS step);
    nutpie: ``nutpie.compile_pymc_model`` (numba compile). numpyro has no separable
    step here (the XLA JIT happens inside its sampling loop).
    """
    if backend == "pymc":
        import pymc.sampling.mcmc as mcmc
        timer = _Timer(mcmc.init_nuts)
        mcmc.init_nuts = timer
        return timer
    if backend == "nutpie":
        import nutpie
        timer = _Timer(nutpie.compile_pymc_model)
        nutpie.compile_pymc_model = timer
        return timer
    return None


def _recovery_error(mm, idata, truth):
    """max |posterior mean - truth| of binary_logit, over the best class permutation."""
    import itertools

    import numpy as np
    post = idata["posterior"]["binary_logit"]
    dims = [d for d in post.dims if d not in ("chain", "draw")]
    mean = post.mean(("chain", "draw")).values
    axis = mm.class_parameters()["binary_logit"][0]
    mean = np.moveaxis(mean, axis, 0)
    true = np.asarray(truth["binary_logit"])  # (K, I)
    if mean.shape != true.shape:
        return float("nan")
    return float(min(np.abs(mean[list(p)] - true).max() for p in itertools.permutations(range(true.shape[0]))))


def run_worker(args) -> dict:
    backend = args.worker
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    load_before = _loadavg()
    t_import = time.perf_counter()
    import numpy as np
    import arviz as az
    import bayesmix as bm
    from bayesmix.inference.objective import flat_model
    import_s = time.perf_counter() - t_import

    sim = bm.datasets.simulate_lca(n_units=args.n_units, n_items=args.n_items, n_classes=args.n_classes,
                                   seed=args.seed)
    t0 = time.perf_counter()
    m = bm.lca(sim.data, items=sim.items, n_classes=args.n_classes)
    build_s = time.perf_counter() - t0

    row = {c: float("nan") for c in COLUMNS}
    row.update(backend=backend, n_units=args.n_units, n_items=args.n_items, build_s=build_s)
    extra = {"import_s": import_s}
    kind = "loglik" if backend == "ml" else "posterior"

    # Compile the optimizer's objective (value + gradient) and the start transform
    # up front, so that the optimization time below is (almost) free of compilation.
    t0 = time.perf_counter()
    flat = flat_model(m)
    flat.value_and_grad(kind)
    flat.to_theta(m.random_start(np.random.default_rng(0)))
    row["opt_compile_s"] = time.perf_counter() - t0

    if backend == "ml":
        row.update(chains=0, tune=0, draws=0)
        t0 = time.perf_counter()
        ml = m.fit_ml(starts=args.ml_starts, seed=args.seed)
        row["opt_s"] = time.perf_counter() - t0  # includes SE (Hessian, scores) compile + evaluation
        row["loglik"] = float(ml.loglik)
        row["total_s"] = row["opt_compile_s"] + row["opt_s"]
        truth = np.asarray(sim.truth["binary_logit"])
        est = ml.params["estimate"]
        vals = np.array([est[k] for k in est.index if k.startswith("binary_logit[")])
        extra.update(best_ll_replicated=int(ml.starts.n_replicated), n_params=int(ml.n_params),
                     ml_starts=str(ml.starts))
        if vals.size == truth.size:
            # labels: params are (class, item) ordered like the model's dims; check both permutations
            K = args.n_classes
            vals = vals.reshape(truth.shape) if m.class_parameters()["binary_logit"][0] == 0 \
                else vals.reshape(truth.shape[::-1]).T
            import itertools
            row["max_abs_err"] = float(min(np.abs(vals[list(p)] - truth).max()
                                           for p in itertools.permutations(range(K))))
    else:
        row.update(chains=args.chains, tune=args.tune, draws=args.draws)
        t0 = time.perf_counter()
        fit = m.fit_map(starts=args.map_starts, seed=args.seed)
        row["opt_s"] = time.perf_counter() - t0
        row["loglik"] = float(fit.loglik)
        timer = _instrument(backend)
        t0 = time.perf_counter()
        idata = m.sample(draws=args.draws, tune=args.tune, chains=args.chains, sampler=backend,
                         random_seed=args.seed, init=fit, progressbar=False, cores=args.cores)
        row["sample_wall_s"] = time.perf_counter() - t0
        row["backend_s"] = float(idata.attrs["bayesmix_sampling_seconds"])
        row["post_s"] = row["sample_wall_s"] - row["backend_s"]
        sampling_time = idata["posterior"].attrs.get("sampling_time")
        extra["posterior_sampling_time_attr"] = sampling_time
        if timer is not None and timer.calls:
            row["sampler_compile_s"] = timer.seconds
        if sampling_time is not None:
            row["sampling_s"] = float(sampling_time)
            if timer is None or not timer.calls:
                row["sampler_compile_s"] = row["backend_s"] - row["sampling_s"]
        elif timer is not None and timer.calls:
            row["sampling_s"] = row["backend_s"] - row["sampler_compile_s"]
        row["total_s"] = row["opt_compile_s"] + row["opt_s"] + row["sample_wall_s"]

        ess = az.ess(idata, var_names=VAR_NAMES, method="bulk")
        ess = getattr(ess, "dataset", ess)
        rhat = az.rhat(idata, var_names=VAR_NAMES)
        rhat = getattr(rhat, "dataset", rhat)
        row["min_ess_bulk"] = float(min(float(ess[v].min()) for v in VAR_NAMES))
        row["max_rhat"] = float(max(float(rhat[v].max()) for v in VAR_NAMES))
        row["ess_per_s"] = row["min_ess_bulk"] / row["backend_s"]
        if np.isfinite(row["sampling_s"]) and row["sampling_s"] > 0:
            row["ess_per_s_sampling"] = row["min_ess_bulk"] / row["sampling_s"]
        row["divergences"] = int(idata["sample_stats"]["diverging"].sum())
        row["max_abs_err"] = _recovery_error(m, idata, sim.truth)
        extra["relabeled_draws"] = int(idata.attrs.get("bayesmix_relabeled_draws", 0))
        extra["map_log_posterior"] = float(fit.log_posterior)
        if backend == "numpyro":
            import jax
            extra["jax_devices"] = jax.local_device_count()
            extra["XLA_FLAGS"] = os.environ.get("XLA_FLAGS")

    row["load_after"] = _loadavg()
    row["load_before"] = load_before
    self_mb, child_mb = _peak_memory_mb()
    row.update(rss_self_mb=self_mb, rss_children_mb=child_mb, peak_mb=self_mb + child_mb)
    row["extra"] = extra
    return row


# ---------------------------------------------------------------------- parent
def _worker_command(args, backend, out):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", backend, "--out", out,
           "--n-units", str(args.n_units), "--n-items", str(args.n_items), "--n-classes", str(args.n_classes),
           "--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains),
           "--seed", str(args.seed), "--map-starts", str(args.map_starts), "--ml-starts", str(args.ml_starts)]
    if args.cores is not None:
        cmd += ["--cores", str(args.cores)]
    return cmd


def _installed():
    # Only find_spec: the parent must not import PyMC/JAX (each worker starts clean).
    import importlib.util
    return [b for b in ALL_BACKENDS if importlib.util.find_spec(b) is not None]


def run_parent(args):
    import pandas as pd

    installed = _installed()
    wanted = args.backends.split(",") if args.backends else [*installed, "ml"]
    wanted = [b.strip() for b in wanted if b.strip()]
    for b in wanted:
        if b not in (*ALL_BACKENDS, "ml"):
            sys.exit(f"unknown backend {b!r}; choose from {(*ALL_BACKENDS, 'ml')}")
    skipped = [b for b in wanted if b != "ml" and b not in installed]
    backends = [b for b in wanted if b not in skipped]
    cores = args.cores if args.cores is not None else max(1, min(args.chains, os.cpu_count() or 1))
    print(f"bench_lca: N={args.n_units}, items={args.n_items}, K={args.n_classes}, "
          f"{args.chains} chains x ({args.tune} tune + {args.draws} draws), cores={cores}, "
          f"backends={backends}" + (f" (not installed: {skipped})" if skipped else "")
          + f"; cpu_count={os.cpu_count()}, load={os.getloadavg()}", flush=True)

    rows, meta = [], {}
    for backend in backends:
        env = dict(os.environ)
        if backend == "numpyro" and args.xla_devices:
            # By default the worker leaves XLA_FLAGS alone and measures what bayesmix does as
            # shipped: ArviZ registers a lazy "jax" module on import, so bayesmix's own
            # XLA_FLAGS set-up (device count = cores) never fires, and importing
            # pymc.sampling.jax then forces 100 host devices (all chains in parallel).
            # --xla-devices N overrides that (numpyro runs chains sequentially if N < chains).
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.xla_devices}"
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
            out = fh.name
        print(f"\n=== {backend} " + "=" * 60, flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(_worker_command(args, backend, out), env=env, timeout=args.timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        elapsed = time.perf_counter() - t0
        if rc == 0:
            with open(out) as fh:
                row = json.load(fh)
            meta[backend] = {"subprocess_s": elapsed, **row.pop("extra", {})}
            rows.append(row)
            print(f"--- {backend}: done in {elapsed:.1f} s; "
                  + ", ".join(f"{k}={row[k]:.4g}" if isinstance(row[k], float) else f"{k}={row[k]}"
                              for k in ("opt_s", "sample_wall_s", "min_ess_bulk", "ess_per_s", "max_rhat",
                                        "divergences", "peak_mb")), flush=True)
        else:
            print(f"--- {backend}: FAILED ({rc}) after {elapsed:.1f} s", flush=True)
            meta[backend] = {"subprocess_s": elapsed, "error": str(rc)}
            rows.append({"backend": backend})
        Path(out).unlink(missing_ok=True)

    table = pd.DataFrame(rows).reindex(columns=COLUMNS).set_index("backend")
    print_table(table)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
        table.to_csv(RESULTS / f"bench_lca-{stamp}.csv")
        info = {"args": {k: v for k, v in vars(args).items() if k not in ("worker", "out")},
                "cores": cores, "cpu_count": os.cpu_count(), "python": platform.python_version(),
                "platform": platform.platform(), "versions": _versions(), "backends": meta,
                "rows": json.loads(table.reset_index().to_json(orient="records"))}
        (RESULTS / f"bench_lca-{stamp}.json").write_text(json.dumps(info, indent=2, default=str))
        print(f"\nsaved {RESULTS / f'bench_lca-{stamp}.csv'} and .json")
    return table


def print_table(table):
    """Print the results table (one row per backend) and the fastest backends."""
    import pandas as pd
    formatters = {"loglik": lambda v: f"{v:.2f}", "min_ess_bulk": lambda v: f"{v:.0f}",
                  "max_rhat": lambda v: f"{v:.4f}", "max_abs_err": lambda v: f"{v:.3f}",
                  "peak_mb": lambda v: f"{v:.0f}", "rss_self_mb": lambda v: f"{v:.0f}",
                  "rss_children_mb": lambda v: f"{v:.0f}"}
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print("\n" + table.to_string(float_format=lambda v: f"{v:.4g}", formatters=formatters))
    sampled = table.drop(index="ml", errors="ignore").dropna(subset=["ess_per_s"])
    if len(sampled):
        print(f"\nhighest ESS/s (backend seconds): {sampled['ess_per_s'].idxmax()}; "
              f"highest ESS/s (sampling seconds): {sampled['ess_per_s_sampling'].idxmax()}; "
              f"shortest sample wall time: {sampled['sample_wall_s'].idxmin()}; "
              f"shortest total (compile+MAP+sample): {sampled['total_s'].idxmin()}")


def _versions():
    import importlib.metadata as md
    out = {}
    for pkg in ("bayesmix", "pymc", "pytensor", "arviz", "nutpie", "numba", "numpyro", "jax", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.show:
        import pandas as pd
        print_table(pd.read_csv(args.show, index_col="backend"))
        return
    if args.worker:
        row = run_worker(args)
        with open(args.out, "w") as fh:
            json.dump(row, fh, default=float)
        return
    run_parent(args)


if __name__ == "__main__":
    main()
