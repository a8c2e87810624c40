#!/usr/bin/env python
"""Benchmark: ML latent class analysis, bayesmix ``fit_ml`` against StepMix and the C++ poLCA port (time to the best LL).

Usage (from the repository root)::

    ~/.pyenv/versions/3.12.1/bin/python3 -m venv /tmp/stepmix-venv
    /tmp/stepmix-venv/bin/pip install stepmix pandas           # StepMix is NOT a bayesmix dependency
    ~/.pyenv/versions/3.12.1/bin/python3 -m venv /tmp/polca-venv
    /tmp/polca-venv/bin/pip install polca                      # C++ poLCA port (module ``pypolca``), optional
    .venv/bin/python benchmarks/bench_ml_stepmix.py            # carcinoma, sim, gss82like, nominal; K = 2, 3, 4
    .venv/bin/python benchmarks/bench_ml_stepmix.py --datasets carcinoma,gss82 --ks 3
    .venv/bin/python benchmarks/bench_ml_stepmix.py --profile  # + cProfile of the warm multistart
    .venv/bin/python benchmarks/bench_ml_stepmix.py --show benchmarks/results/bench_ml_stepmix-<stamp>.csv

Data sets (every one written to CSV under ``benchmarks/results/`` with
0-based integer codes; *all* tools read that CSV, so they fit identical data):

* ``carcinoma`` (binary): ``bm.datasets.load("carcinoma")``, items A-G, N = 118.
* ``sim`` (binary): ``bm.datasets.simulate_lca(n_units=10000, n_items=20,
  n_classes=3, seed=1)``, simulated once with 3 classes and fitted with every K.
* ``gss82like`` (nominal): the shape of poLCA's ``gss82`` (N = 1,202; PURPOSE 3,
  ACCURACY 2, UNDERSTA 2, COOPERAT 3 categories), simulated from the 3-class
  truth in ``GSS82LIKE_WEIGHTS`` / ``GSS82LIKE_PROBS`` below (seed 82).
* ``nominal`` (nominal): N = 10,000, 10 items with 3, 4, 3, 4, ... categories,
  K = 3 truth drawn by :func:`simulate_nominal` (seed 1; the truth is written
  next to the CSV as ``nominal_truth.json``).
* ``gss82`` (nominal, optional, not in the default list): the real GSS 1982
  data shipped inside the ``polca`` package (read from the poLCA venv; the
  file is not copied into this repository).

For every data set and K, fresh subprocesses run one after another:

* bayesmix (this interpreter, ``--worker``): ``bm.lca(df, items, K)`` (nominal
  data sets: ``item_types={item: "nominal"}``), then
  ``fit_ml(starts=20, seed=1)`` twice on the same model object. The first call
  is the cold total (PyTensor compiles the objective/gradient, Hessian, scores
  and delta-method Jacobians; the on-disk PyTensor cache is whatever is there,
  unless ``--fresh-compiledir``); the second (best of ``--repeat``) is the warm
  time. Time inside ``pytensor.function`` during the cold call is reported as
  ``compile_s``; the warm call is split into the random-start optimization
  (``multistart``) and the standard errors (``ml_result``), and the number and
  time of objective+gradient evaluations are counted. With ``--profile`` the
  worker then runs ``bayesmix.inference.optimize.multistart(m, "loglik",
  starts=20, seed=1)`` once more under cProfile.
* StepMix (``--stepmix-python``, running ``benchmarks/_stepmix_runner.py``):
  ``StepMix(n_components=K, measurement="binary" | "categorical", n_init=20,
  random_state=1, max_iter=...)`` then ``.fit(X)``; LL = ``score(X) * N``.
* poLCA port (``--polca-python``, running ``benchmarks/_polca_runner.py``):
  ``pypolca.fit("cbind(items) ~ 1", nclass=K, nrep=20, seed=1, maxiter=...,
  tol=1e-10 * N, calc_se=False)`` on the codes + 1 (poLCA's tol is on the total LL
  change; until 2026-12-06 the runner passed 1e-10, N times stricter than bayesmix); then one start from the
  optimum with and without ``calc_se`` gives the SE time.

Class-conditional category probabilities P(item = c | class) (all categories)
of the solutions are compared after matching classes with the Hungarian
algorithm. The 1-minute load average is recorded before and after every
timed run (2-core machine, shared with other jobs: timings are noisy).

This is not a test: pytest only collects ``tests/`` and nothing imports this file.
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
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RUNNER = HERE / "_stepmix_runner.py"
POLCA_RUNNER = HERE / "_polca_runner.py"
DEFAULT_STEPMIX_PYTHON = "/tmp/stepmix-venv/bin/python"
DEFAULT_POLCA_PYTHON = "/tmp/polca-venv/bin/python"
DATASETS = ("carcinoma", "sim", "gss82like", "nominal", "gss82")
NOMINAL_DATASETS = ("gss82like", "nominal", "gss82")

# gss82like: the truth the data are simulated from (N = 1,202, seed 82). Item names and
# category counts follow poLCA's gss82 (McCutcheon 1987): PURPOSE good/depends/waste of
# time, ACCURACY mostly true/not true, UNDERSTA good/fair-poor, COOPERAT interested/
# cooperative/impatient-hostile. Class 1 "ideal" respondents, class 2 "believers" who
# find surveys inaccurate, class 3 "skeptics"; every item separates some pair of
# classes, none perfectly (smallest probability 0.04), as in real survey data.
GSS82LIKE_N, GSS82LIKE_SEED = 1202, 82
GSS82LIKE_WEIGHTS = (0.60, 0.22, 0.18)
GSS82LIKE_PROBS = {  # item: one row of category probabilities per class
    "PURPOSE": ((0.90, 0.06, 0.04), (0.20, 0.20, 0.60), (0.55, 0.30, 0.15)),
    "ACCURACY": ((0.65, 0.35), (0.05, 0.95), (0.40, 0.60)),
    "UNDERSTA": ((0.90, 0.10), (0.70, 0.30), (0.25, 0.75)),
    "COOPERAT": ((0.70, 0.26, 0.04), (0.55, 0.35, 0.10), (0.15, 0.45, 0.40)),
}
PUBLISHED_CARCINOMA = {2: -317.2568, 3: -293.7050, 4: -289.2859}  # poLCA and StepMix 3.0 agree
LL_TOL = 1e-3
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="carcinoma,sim,gss82like,nominal",
                   help=f"comma-separated subset of {','.join(DATASETS)} (gss82 needs the poLCA venv)")
    p.add_argument("--ks", default="2,3,4", help="numbers of classes, comma-separated")
    p.add_argument("--starts", type=int, default=20, help="bayesmix fit_ml(starts=...) and StepMix n_init")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-iter", type=int, default=1000, help="StepMix max_iter (EM iterations per start)")
    p.add_argument("--sim-n", type=int, default=10000)
    p.add_argument("--sim-items", type=int, default=20)
    p.add_argument("--sim-classes", type=int, default=3)
    p.add_argument("--nominal-n", type=int, default=10000)
    p.add_argument("--nominal-items", type=int, default=10)
    p.add_argument("--repeat-small", type=int, default=2,
                   help="best of R warm timings for data sets with N < 1000 (both tools)")
    p.add_argument("--repeat-large", type=int, default=1, help="best of R for larger data sets")
    p.add_argument("--stepmix-python", default=DEFAULT_STEPMIX_PYTHON)
    p.add_argument("--skip-stepmix", action="store_true")
    p.add_argument("--polca-python", default=DEFAULT_POLCA_PYTHON,
                   help="interpreter with the C++ poLCA port (pip package polca, module pypolca)")
    p.add_argument("--skip-polca", action="store_true")
    p.add_argument("--profile", action="store_true",
                   help="cProfile the warm multistart in the bayesmix worker; printed for cases below --profile-below")
    p.add_argument("--profile-below", type=float, default=5.0, help="print profiles of cases with ratio_opt below this")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="set OPENBLAS/OMP/MKL_NUM_THREADS for both tools' subprocesses (default: leave unset)")
    p.add_argument("--fresh-compiledir", action="store_true",
                   help="bayesmix worker compiles into an empty PyTensor compiledir (truly cold)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per subprocess")
    p.add_argument("--no-save", action="store_true", help="do not write the table to benchmarks/results/")
    p.add_argument("--show", default=None, metavar="CSV", help="print a saved results table and exit")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # internal: one bayesmix fit
    p.add_argument("--csv", default=None, help=argparse.SUPPRESS)
    p.add_argument("--k", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--nominal", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lca import _Timer as _BaseTimer, _loadavg  # noqa: E402  (shared benchmark helpers)
import numpy as np  # noqa: E402


class _Timer(_BaseTimer):
    """bench_lca's timer, resettable between warm-up and timed calls."""

    def reset(self):
        self.seconds, self.calls = 0.0, 0


# ---------------------------------------------------------------------- bayesmix worker
def run_worker(args) -> dict:
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import pytensor

    import bayesmix as bm
    import bayesmix.inference.ml as ml_mod
    from bayesmix.inference.objective import flat_model
    import_s = time.perf_counter() - t0

    # every compile (bayesmix's and PyMC's) goes through pytensor.function
    compile_timer = _Timer(pytensor.function)
    pytensor.function = compile_timer
    ms_timer, se_timer = _Timer(ml_mod.multistart), _Timer(ml_mod.ml_result)
    ml_mod.multistart, ml_mod.ml_result = ms_timer, se_timer

    df = pd.read_csv(args.csv)
    items = list(df.columns)
    t = time.perf_counter()
    item_types = {item: "nominal" for item in items} if args.nominal else None
    m = bm.lca(df, items=items, n_classes=args.k, item_types=item_types)
    build_s = time.perf_counter() - t

    # cold: the first fit_ml in this process
    load_cold = [_loadavg()]
    t = time.perf_counter()
    cold = m.fit_ml(starts=args.starts, seed=args.seed)
    cold_s = time.perf_counter() - t
    load_cold.append(_loadavg())
    compile_s, n_compiles = compile_timer.seconds, compile_timer.calls
    cold_ms_s, cold_se_s = ms_timer.seconds, se_timer.seconds

    # count objective+gradient evaluations from here on
    flat = flat_model(m)
    vg_timer = _Timer(flat._functions[("vg", "loglik")])
    flat._functions[("vg", "loglik")] = vg_timer

    runs, best = [], None
    for _ in range(args.repeat):
        for timer in (ms_timer, se_timer, vg_timer, compile_timer):
            timer.reset()
        load_before = _loadavg()
        t = time.perf_counter()
        res = m.fit_ml(starts=args.starts, seed=args.seed)
        seconds = time.perf_counter() - t
        run = {"seconds": seconds, "load_before": load_before, "load_after": _loadavg(),
               "multistart_s": ms_timer.seconds, "se_s": se_timer.seconds,
               "n_evals": vg_timer.calls, "eval_s": vg_timer.seconds,
               "compile_s": compile_timer.seconds, "loglik": res.loglik}
        runs.append(run)
        if best is None or seconds < best[0]["seconds"]:
            best = (run, res)
    run, res = best

    est = res.profiles.xs("estimate", level="statistic", axis=1)  # rows (item, category), columns classes
    blocks = []
    for item in items:
        block = np.zeros((args.k, int(df[item].max()) + 1))  # classes x codes 0..C-1, like the peers
        seen = [int(float(cat)) for cat in est.loc[item].index]
        block[:, seen] = est.loc[item].to_numpy().T  # categories x classes -> classes x categories
        if len(seen) == block.shape[1] - 1:  # binary items list P(item = 1 | class) only
            block[:, [c for c in range(block.shape[1]) if c not in seen]] = 1 - block[:, seen].sum(1, keepdims=True)
        blocks.append(block)
    profile = _profile_multistart(m, args) if args.profile else None
    return {
        "tool": "bayesmix",
        "versions": _versions(),
        "pytensor_compiledir": str(pytensor.config.compiledir),
        "threadpools": _threadpools(),
        "n_units": len(df),
        "n_items": len(items),
        "k": args.k,
        "starts": args.starts,
        "import_s": import_s,
        "build_s": build_s,
        "cold_s": cold_s,
        "cold_load": load_cold,
        "cold_multistart_s": cold_ms_s,
        "cold_se_s": cold_se_s,
        "compile_s": compile_s,
        "n_compiles": n_compiles,
        "cold_loglik": cold.loglik,
        "runs": runs,
        "warm_s": run["seconds"],
        "multistart_s": run["multistart_s"],
        "se_s": run["se_s"],
        "n_evals": run["n_evals"],
        "eval_s": run["eval_s"],
        "loglik": res.loglik,
        "final_values": np.asarray(res.starts.final_values).tolist(),
        "n_replicated": res.starts.n_replicated,
        "n_final": res.starts.n_final,
        "n_starts": res.starts.n_initial,
        "converged": res.converged,
        "n_boundary": res.n_boundary,
        "n_params": res.n_params,
        "probs": np.concatenate(blocks, axis=1).tolist(),  # K x (sum of categories): P(item = c | class)
        "profile": profile,
        "weights": res.class_proportions["estimate"].to_numpy().tolist(),
        "items": items,
    }


def _profile_multistart(m, args) -> str:
    """cProfile of one warm ``multistart`` (random starts to the best LL, no SEs): top functions."""
    import cProfile
    import io
    import pstats

    from bayesmix.inference import optimize

    prof = cProfile.Profile()
    prof.enable()
    optimize.multistart(m, "loglik", starts=args.starts, seed=args.seed)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


def _threadpools():
    try:
        import scipy.optimize  # noqa: F401  (loads scipy's own OpenBLAS, used by L-BFGS-B)
        from threadpoolctl import threadpool_info
        return [{k: d.get(k) for k in ("internal_api", "num_threads", "prefix", "version")}
                for d in threadpool_info()]
    except Exception:  # informational only
        return []


def _versions():
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for pkg in ("bayesmix", "pymc", "pytensor", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


# ---------------------------------------------------------------------- parent
def _draw_categories(rng, probs, classes):
    """One categorical draw per unit from ``probs[classes[i]]`` (classes x categories)."""
    cum = np.cumsum(np.asarray(probs)[classes], axis=1)
    return (rng.random(len(classes))[:, None] > cum[:, :-1]).sum(axis=1)


def simulate_gss82like(n: int = GSS82LIKE_N, seed: int = GSS82LIKE_SEED):
    """Nominal data of gss82's shape from the 3-class truth ``GSS82LIKE_WEIGHTS`` / ``GSS82LIKE_PROBS``."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    classes = rng.choice(len(GSS82LIKE_WEIGHTS), size=n, p=GSS82LIKE_WEIGHTS)
    return pd.DataFrame({item: _draw_categories(rng, probs, classes) for item, probs in GSS82LIKE_PROBS.items()})


def simulate_nominal(n: int = 10000, n_items: int = 10, seed: int = 1):
    """Nominal data from a 3-class truth drawn with the same seed; returns (data, truth).

    Class weights 0.5, 0.3, 0.2; item j has 3 categories (j even) or 4 (j odd);
    each class's category probabilities are 0.75 * Dirichlet(1, ..., 1) + 0.25 / C,
    so every probability is at least 0.0625-0.083 and classes differ on every item.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = np.array([0.5, 0.3, 0.2])
    n_cats = [3 + j % 2 for j in range(n_items)]
    probs = {f"Y{j + 1}": 0.75 * rng.dirichlet(np.ones(c), size=len(weights)) + 0.25 / c
             for j, c in enumerate(n_cats)}
    classes = rng.choice(len(weights), size=n, p=weights)
    data = pd.DataFrame({item: _draw_categories(rng, pr, classes) for item, pr in probs.items()})
    truth = {"weights": weights.tolist(), "probs": {k: v.tolist() for k, v in probs.items()}, "seed": seed}
    return data, truth


def _polca_gss82(polca_python: str):
    """poLCA's gss82 from the ``polca`` package's data folder (categories coded 0.. in sorted order)."""
    import pandas as pd

    if not Path(polca_python).exists():
        raise SystemExit(f"gss82 needs the poLCA venv ({polca_python}): see --help")
    where = subprocess.run([polca_python, "-c", "import pypolca.data, os; "
                            "print(os.path.dirname(pypolca.data.__file__))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    raw = pd.read_csv(Path(where) / "gss82.csv")
    return raw.apply(lambda col: col.astype("category").cat.codes).astype(int)


def prepare_data(args) -> dict[str, tuple[Path, str]]:
    """Write each data set to CSV (0-based integer codes); returns name -> (path, "binary" | "nominal")."""
    import bayesmix as bm

    RESULTS.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in args.datasets.split(","):
        if name == "carcinoma":
            df = bm.datasets.load("carcinoma")[list("ABCDEFG")].astype(int)
            path = RESULTS / "carcinoma.csv"
        elif name == "sim":
            sim = bm.datasets.simulate_lca(n_units=args.sim_n, n_items=args.sim_items,
                                           n_classes=args.sim_classes, seed=args.seed)
            df = sim.data[sim.items].astype(int)
            path = RESULTS / f"sim_lca_n{args.sim_n}_i{args.sim_items}_k{args.sim_classes}_seed{args.seed}.csv"
        elif name == "gss82like":
            df = simulate_gss82like()
            path = RESULTS / f"gss82like_n{GSS82LIKE_N}_seed{GSS82LIKE_SEED}.csv"
        elif name == "nominal":
            df, truth = simulate_nominal(args.nominal_n, args.nominal_items, seed=args.seed)
            path = RESULTS / f"nominal_n{args.nominal_n}_i{args.nominal_items}_k3_seed{args.seed}.csv"
            path.with_name(path.stem + "_truth.json").write_text(json.dumps(truth, indent=1))
        elif name == "gss82":
            df = _polca_gss82(args.polca_python)
            path = RESULTS / "gss82_polca.csv"
        else:
            raise SystemExit(f"unknown data set {name!r}: use {', '.join(DATASETS)}")
        df.to_csv(path, index=False)
        paths[name] = (path, "nominal" if name in NOMINAL_DATASETS else "binary")
    return paths


def _run(cmd, timeout, env=None) -> tuple[dict | None, float, float, float, str]:
    """Run a subprocess writing JSON to its --out; returns (result, wall, load before, load after, stderr tail)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    load_before = _loadavg()
    t = time.perf_counter()
    try:
        proc = subprocess.run([*cmd, "--out", out], capture_output=True, text=True, timeout=timeout, env=env)
        err = proc.stderr[-2000:]
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        ok, err = False, f"timeout after {timeout} s"
    wall = time.perf_counter() - t
    load_after = _loadavg()
    result = None
    if ok:
        with open(out) as f:
            result = json.load(f)
    os.unlink(out)
    return result, wall, load_before, load_after, err


def compare(bmr: dict, peer: dict) -> dict:
    """Largest differences of category probabilities and class weights after Hungarian class matching."""
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(bmr["probs"]), np.asarray(peer["probs"])  # K x (sum of categories) each
    cost = np.abs(a[:, None, :] - b[None, :, :]).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    dprob = float(np.abs(a[rows] - b[cols]).max())
    dweight = float(np.abs(np.asarray(bmr["weights"])[rows] - np.asarray(peer["weights"])[cols]).max())
    return {"max_dprob": dprob, "max_dweight": dweight, "class_match": cols.tolist()}


def _higher(bm_ll: float, peer_ll: float, peer: str) -> str:
    dll = abs(bm_ll - peer_ll)
    if dll != dll:
        return ""
    if dll <= LL_TOL:
        return "equal"
    return "bayesmix" if bm_ll > peer_ll else peer


def _best_run(result: dict) -> dict:
    return min(result.get("runs", [{}]), key=lambda r: r.get("seconds", 0))


def _load(run: dict) -> str:
    return f"{run.get('load_before', float('nan')):.2f}->{run.get('load_after', float('nan')):.2f}"


def run_parent(args):
    import pandas as pd

    paths = prepare_data(args)
    ks = [int(k) for k in args.ks.split(",")]
    have_stepmix = not args.skip_stepmix and Path(args.stepmix_python).exists()
    if not args.skip_stepmix and not have_stepmix:
        print(f"StepMix interpreter {args.stepmix_python} not found: create the venv (see --help); "
              "running without StepMix", file=sys.stderr)
    have_polca = not args.skip_polca and Path(args.polca_python).exists()
    if not args.skip_polca and not have_polca:
        print(f"poLCA interpreter {args.polca_python} not found: create the venv (see --help); "
              "running without poLCA", file=sys.stderr)
    env = dict(os.environ)
    if args.blas_threads is not None:
        for var in BLAS_ENV:
            env[var] = str(args.blas_threads)
    compiledir = None
    if args.fresh_compiledir:
        compiledir = tempfile.mkdtemp(prefix="pytensor-cold-")

    nan = float("nan")
    rows, details, profiles = [], [], []
    for name, (path, kind) in paths.items():
        n_units = sum(1 for _ in open(path)) - 1
        repeat = args.repeat_small if n_units < 1000 else args.repeat_large
        for k in ks:
            row = {"dataset": name, "n_units": n_units, "K": k,
                   "blas_threads": "default" if args.blas_threads is None else args.blas_threads}
            wenv = env
            if compiledir:
                wenv = {**env, "PYTENSOR_FLAGS": f"compiledir={compiledir}/k{k}-{name}"}
            common = ["--csv", str(path), "--k", str(k), "--seed", str(args.seed), "--repeat", str(repeat)]
            print(f"[{name} K={k}] bayesmix ...", file=sys.stderr, flush=True)
            bmr, bm_wall, _, _, err = _run(
                [sys.executable, __file__, "--worker", *common, "--starts", str(args.starts),
                 *(["--nominal"] if kind == "nominal" else []), *(["--profile"] if args.profile else [])],
                args.timeout, wenv)
            if bmr is None:
                print(f"  bayesmix failed:\n{err}", file=sys.stderr)
                bmr = {}
            smr, sm_wall = {}, None
            if have_stepmix:
                print(f"[{name} K={k}] StepMix ...", file=sys.stderr, flush=True)
                smr, sm_wall, _, _, err = _run(
                    [args.stepmix_python, str(RUNNER), *common, "--n-init", str(args.starts),
                     "--max-iter", str(args.max_iter), "--measurement",
                     "categorical" if kind == "nominal" else "binary"], args.timeout, env)
                if smr is None:
                    print(f"  StepMix failed:\n{err}", file=sys.stderr)
                    smr = {}
            plr, pl_wall = {}, None
            if have_polca:
                print(f"[{name} K={k}] poLCA ...", file=sys.stderr, flush=True)
                plr, pl_wall, _, _, err = _run(
                    [args.polca_python, str(POLCA_RUNNER), *common, "--nrep", str(args.starts),
                     "--max-iter", str(args.max_iter)], args.timeout, env)
                if plr is None:
                    print(f"  poLCA failed:\n{err}", file=sys.stderr)
                    plr = {}
            bm_ll, sm_ll, pl_ll = (r.get("loglik", nan) for r in (bmr, smr, plr))
            cmp_ = compare(bmr, smr) if bmr and smr else {}
            cmp_pl = compare(bmr, plr) if bmr and plr else {}
            warm, cold, sm_s, pl_s = bmr.get("warm_s", nan), bmr.get("cold_s", nan), smr.get("fit_s", nan), \
                plr.get("fit_s", nan)
            opt = bmr.get("multistart_s", nan)  # random starts only, no standard errors
            bm_run, sm_run, pl_run = _best_run(bmr), _best_run(smr), _best_run(plr)
            row.update({
                "kind": kind,
                "ll_bayesmix": bm_ll, "ll_stepmix": sm_ll, "abs_dll": abs(bm_ll - sm_ll),
                "higher_ll": _higher(bm_ll, sm_ll, "StepMix"),
                "bm_opt_s": opt, "bm_warm_s": warm, "bm_compile_s": bmr.get("compile_s", nan),
                "bm_cold_s": cold, "stepmix_s": sm_s,
                "ratio_opt": sm_s / opt, "ratio_warm": sm_s / warm, "ratio_cold": sm_s / cold,
                "max_dprob": cmp_.get("max_dprob", nan),
                "ll_polca": pl_ll, "higher_ll_polca": _higher(bm_ll, pl_ll, "poLCA"),
                "polca_s": pl_s, "ratio_polca_opt": pl_s / opt, "max_dprob_polca": cmp_pl.get("max_dprob", nan),
                "bm_se_s": bmr.get("se_s", nan), "polca_se_s": plr.get("se_s", nan),
                "load_bm": _load(bm_run), "load_sm": _load(sm_run), "load_pl": _load(pl_run),
            })
            rows.append(row)
            sm_starts = smr.get("per_start_ll", [])
            sm_rep = sum(v >= max(sm_starts) - LL_TOL for v in sm_starts) if sm_starts else None
            details.append({
                "dataset": name, "K": k, "kind": kind,
                "bm_build_s": bmr.get("build_s"), "bm_cold_load": bmr.get("cold_load"),
                "bm_cold_multistart_s": bmr.get("cold_multistart_s"), "bm_cold_se_s": bmr.get("cold_se_s"),
                "bm_n_compiles": bmr.get("n_compiles"),
                "bm_multistart_s": bmr.get("multistart_s"), "bm_se_s": bmr.get("se_s"),
                "bm_n_evals": bmr.get("n_evals"), "bm_eval_s": bmr.get("eval_s"),
                "bm_ms_per_eval": 1e3 * bmr["eval_s"] / bmr["n_evals"] if bmr.get("n_evals") else None,
                "bm_replicated": f"{bmr.get('n_replicated')} of {bmr.get('n_starts', '?')}",  # k of n starts
                "bm_boundary": bmr.get("n_boundary"), "bm_cold_ll": bmr.get("cold_loglik"),
                "bm_import_s": bmr.get("import_s"), "bm_runs": bmr.get("runs"),
                "sm_best_n_iter": smr.get("best_n_iter"), "sm_any_converged": smr.get("any_start_converged"),
                "sm_replicated": f"{sm_rep}/{len(sm_starts)}" if sm_starts else None,
                "sm_import_s": smr.get("import_s"), "sm_runs": smr.get("runs"),
                "max_dweight": cmp_.get("max_dweight"), "class_match": cmp_.get("class_match"),
                "published_ll": PUBLISHED_CARCINOMA.get(k) if name == "carcinoma" else None,
                "bm_subprocess_wall_s": bm_wall, "sm_subprocess_wall_s": sm_wall, "pl_subprocess_wall_s": pl_wall,
                "stepmix_version": smr.get("stepmix_version"), "sm_threadpools": smr.get("threadpools"),
                "bm_final_values": bmr.get("final_values"), "sm_per_start_ll": smr.get("per_start_ll"),
                "bm_versions": bmr.get("versions"), "bm_threadpools": bmr.get("threadpools"),
                "pytensor_compiledir": bmr.get("pytensor_compiledir"),
                "pl_version": plr.get("polca_version"), "pl_best_n_iter": plr.get("best_n_iter"),
                "pl_converged": plr.get("converged"), "pl_runs": plr.get("runs"),
                "pl_max_dweight": cmp_pl.get("max_dweight"), "pl_threadpools": plr.get("threadpools"),
            })
            if bmr.get("profile"):
                profiles.append({"dataset": name, "K": k, "ratio_opt": row["ratio_opt"],
                                 "ratio_polca_opt": row["ratio_polca_opt"], "profile": bmr["profile"]})
            print_row(row)

    if compiledir:
        shutil.rmtree(compiledir, ignore_errors=True)
    table = pd.DataFrame(rows)
    print()
    print_table(table)
    print()
    print_details(details)
    for prof in profiles:
        if not (min(prof["ratio_opt"], prof["ratio_polca_opt"]) >= args.profile_below):  # NaN prints too
            print(f"\n==== cProfile of the warm multistart, {prof['dataset']} K={prof['K']} "
                  f"(ratio_opt {prof['ratio_opt']:.2f}, vs poLCA {prof['ratio_polca_opt']:.2f}) ====")
            print(prof["profile"])
    if not args.no_save:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        if args.blas_threads is not None:
            stamp += f"-blas{args.blas_threads}"
        RESULTS.mkdir(parents=True, exist_ok=True)
        table.to_csv(RESULTS / f"bench_ml_stepmix-{stamp}.csv", index=False)
        info = {"args": vars(args), "blas_env": {v: env.get(v) for v in BLAS_ENV},
                "platform": platform.platform(), "cpu_count": os.cpu_count(),
                "data": {k: str(v) for k, (v, _) in paths.items()}, "details": details, "profiles": profiles}
        (RESULTS / f"bench_ml_stepmix-{stamp}.json").write_text(json.dumps(info, indent=2, default=str))
        print(f"\nsaved {RESULTS / f'bench_ml_stepmix-{stamp}.csv'} and .json")
    return table


def print_row(row):
    print(f"  {row['dataset']} K={row['K']}: LL {row['ll_bayesmix']:.4f} vs {row['ll_stepmix']:.4f} "
          f"({row['higher_ll']}), bayesmix warm {row['bm_warm_s']:.2f} s / cold {row['bm_cold_s']:.2f} s, "
          f"StepMix {row['stepmix_s']:.2f} s; poLCA LL {row['ll_polca']:.4f} ({row['higher_ll_polca']}) "
          f"{row['polca_s']:.2f} s", file=sys.stderr, flush=True)


def print_table(table):
    import pandas as pd

    cols = ["dataset", "K", "blas_threads", "ll_bayesmix", "ll_stepmix", "abs_dll", "higher_ll", "bm_opt_s",
            "bm_warm_s", "bm_compile_s", "bm_cold_s", "stepmix_s", "ratio_opt", "ratio_warm", "ratio_cold",
            "max_dprob", "load_bm", "load_sm"]
    polca_cols = ["dataset", "K", "ll_bayesmix", "ll_polca", "higher_ll_polca", "bm_opt_s", "polca_s",
                  "ratio_polca_opt", "max_dprob_polca", "bm_se_s", "polca_se_s", "load_pl"]
    fmt = {"ll_bayesmix": "{:.4f}", "ll_stepmix": "{:.4f}", "ll_polca": "{:.4f}", "abs_dll": "{:.1e}",
           "max_dprob": "{:.1e}", "max_dprob_polca": "{:.1e}"}
    fmt.update({c: "{:.2f}" for c in ("bm_opt_s", "bm_warm_s", "bm_compile_s", "bm_cold_s", "stepmix_s",
                                      "ratio_opt", "ratio_warm", "ratio_cold", "polca_s", "ratio_polca_opt",
                                      "bm_se_s", "polca_se_s")})
    print("bm_opt_s: bayesmix random starts only (no SEs), bm_warm_s: whole fit_ml incl. SEs, bm_cold_s: first "
          "fit_ml in a fresh process (bm_compile_s of it in pytensor.function)")
    print("ratio_* = stepmix_s / bayesmix s (> 1: bayesmix faster); higher_ll: 'equal' if |dLL| <= 1e-3")
    for which in (cols, polca_cols):
        t = table[[c for c in which if c in table]].copy()
        for c, f in fmt.items():
            if c in t:
                t[c] = [f.format(v) if pd.notna(v) else "nan" for v in t[c]]
        print(t.to_string(index=False))
        if which is cols and "polca_s" in table:
            print("\npoLCA port (pypolca, C++ EM, nrep=20, calc_se=False); ratio_polca_opt = polca_s / bm_opt_s; "
                  "SEs: bayesmix fit_ml's SE part vs poLCA's calc_se from the optimum")


def print_details(details):
    print("where the time goes (bayesmix warm call; StepMix: EM iterations of the best start, "
          "replication = starts within 1e-3 of the best LL)")
    for d in details:
        ms_eval = f"{d['bm_ms_per_eval']:.3f}" if d.get("bm_ms_per_eval") else "nan"
        fmt = lambda v: f"{v:.2f}" if isinstance(v, (int, float)) else "nan"  # noqa: E731
        print(f"  {d['dataset']:>9} K={d['K']}: bayesmix multistart {fmt(d['bm_multistart_s'])} s "
              f"({d['bm_n_evals']} obj+grad evals, {fmt(d['bm_eval_s'])} s in them, {ms_eval} ms/eval), "
              f"SEs {fmt(d['bm_se_s'])} s; cold: {d['bm_n_compiles']} compiles, multistart "
              f"{fmt(d['bm_cold_multistart_s'])} s, SEs {fmt(d['bm_cold_se_s'])} s; replicated {d['bm_replicated']}"
              f" | StepMix best start {d['sm_best_n_iter']} EM iters, replicated {d['sm_replicated']}"
              f" | poLCA best rep {d.get('pl_best_n_iter')} EM iters"
              + (f" | published LL {d['published_ll']}" if d.get("published_ll") else ""))


def main(argv=None):
    args = parse_args(argv)
    if args.show:
        import pandas as pd
        print_table(pd.read_csv(args.show))
        return
    if args.worker:
        row = run_worker(args)
        with open(args.out, "w") as fh:
            json.dump(row, fh, default=float)
        return
    run_parent(args)


if __name__ == "__main__":
    main()
