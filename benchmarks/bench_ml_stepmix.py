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
    .venv/bin/python benchmarks/bench_ml_stepmix.py --show benchmarks/results/ml_ratios.json
    .venv/bin/python benchmarks/bench_ml_stepmix.py --first-fit              # README's first fit_ml figures
    .venv/bin/python benchmarks/readme_ml_table.py --write                   # README rows from the JSON

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

``--rounds`` (default 3) interleaved rounds: in each, every data set and K runs
bayesmix, StepMix and poLCA in fresh subprocesses one after another; medians over
rounds are reported and ``results/ml_ratios.json`` (rewritten after every run) keeps
every round's values:

* bayesmix (this interpreter, ``--worker``): ``bm.lca(df, items, K)`` (nominal
  data sets: ``item_types={item: "nominal"}``), ``fit_ml(starts=20, seed=1)``
  once cold (PyTensor compiles; ``compile_s`` is the time inside
  ``pytensor.function``), then warm ``fit_ml(starts=(20, 20))`` -- every start
  to convergence, equal work with the peers: the headline -- and
  ``fit_ml(starts=20)`` (Mplus's STARTS 20 5 convention), each split into the
  random starts (``multistart``: time to the best LL) and the SEs
  (``ml_result``), with the objective+gradient evaluations counted. With
  ``--profile`` the last round's worker runs ``multistart(m, "loglik",
  starts=(20, 20))`` under cProfile, printed for cases below ``--profile-below``.
* StepMix (``--stepmix-python``, running ``benchmarks/_stepmix_runner.py``):
  ``StepMix(n_components=K, measurement="binary" | "categorical", n_init=20,
  random_state=1, max_iter=...)`` then ``.fit(X)``; LL = ``score(X) * N``.
* poLCA port (``--polca-python``, running ``benchmarks/_polca_runner.py``):
  ``pypolca.fit("cbind(items) ~ 1", nclass=K, nrep=20, seed=1, maxiter=...,
  tol=1e-10 * N, calc_se=False)`` on the codes + 1 (poLCA's tol is on the total LL
  change; until 2026-12-06 the runner passed 1e-10, N times stricter than bayesmix); then one start from the
  optimum with and without ``calc_se`` gives the SE time.

``--first-fit`` instead measures the README's first-``fit_ml`` figures (carcinoma
K = 2, then K = 3, in fresh processes with an empty PyTensor compiledir):
``results/ml_first_fit.json``. ``benchmarks/readme_ml_table.py`` writes the README
rows from both JSON files.

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
    p.add_argument("--first-fit", action="store_true",
                   help="only the README's first fit_ml figures: carcinoma K = 2 then K = 3 in one fresh process "
                        "with an empty PyTensor compiledir, --rounds times; writes ml_first_fit.json")
    p.add_argument("--first-fit-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds (every tool on every case, then again); medians are reported")
    p.add_argument("--save-as", default=None, help="JSON output (default benchmarks/results/ml_ratios.json)")
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
    cold = m.fit_ml(starts=args.starts, seed=args.seed, progressbar=False)
    # xarray imports dask (when installed) the first time it builds a Variable; bayesmix first does so
    # when the labeling permutes a point (relabel.permute_point), which fell into the first warm call on
    # sim K = 2 (~2 s of 2.3-3.5 s at load 21-25, 2026-12-07): a first-call cost, counted as cold
    import xarray as xr
    xr.Dataset({"x": ("d", np.zeros(1))})
    cold_s = time.perf_counter() - t
    load_cold.append(_loadavg())
    compile_s, n_compiles = compile_timer.seconds, compile_timer.calls
    cold_ms_s, cold_se_s = ms_timer.seconds, se_timer.seconds

    # count objective+gradient evaluations from here on
    flat = flat_model(m)
    vg_timer = _Timer(flat._functions[("vg", "loglik")])
    flat._functions[("vg", "loglik")] = vg_timer

    # warm, whole user calls: fit_ml(starts=(S, S)) runs every start to convergence (the peers' work);
    # fit_ml(starts=S) is the Mplus convention (S short starts, S // 4 to convergence). Each call is split
    # into the multistart (time to the best LL) and the standard errors (ml_result).
    modes = {"equal": (args.starts, args.starts), "mplus": args.starts}
    runs, res = {}, None
    for mode, starts in modes.items():
        for timer in (ms_timer, se_timer, vg_timer, compile_timer):
            timer.reset()
        load_before = _loadavg()
        t = time.perf_counter()
        fit = m.fit_ml(starts=starts, seed=args.seed, progressbar=False)
        seconds = time.perf_counter() - t
        runs[mode] = {"starts": list(starts) if isinstance(starts, tuple) else starts,
                      "seconds": seconds, "load_before": load_before, "load_after": _loadavg(),
                      "multistart_s": ms_timer.seconds, "se_s": se_timer.seconds,
                      "n_evals": vg_timer.calls, "eval_s": vg_timer.seconds,
                      "compile_s": compile_timer.seconds, "loglik": fit.loglik,
                      "replication": fit.starts.replication, "n_final": fit.starts.n_final}
        if mode == "equal":
            res = fit
    run = runs["equal"]

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
    optimize.multistart(m, "loglik", starts=(args.starts, args.starts), seed=args.seed)
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


def first_fit_worker(args) -> dict:
    """One fresh process: import, carcinoma K = 2 ``fit_ml(starts=20)``, then K = 3 (a new K after it)."""
    t0 = time.perf_counter()
    import bayesmix as bm
    import_s = time.perf_counter() - t0
    df = bm.datasets.load("carcinoma")
    out = {"import_s": import_s}
    for k in (2, 3):
        m = bm.lca(df, items=list("ABCDEFG"), n_classes=k)
        load = _loadavg()
        t = time.perf_counter()
        res = m.fit_ml(starts=args.starts, seed=args.seed, progressbar=False)
        out[f"K{k}"] = {"fit_ml_s": time.perf_counter() - t, "loglik": res.loglik, "load_before": load,
                        "load_after": _loadavg()}
    return out


def first_fit(args) -> dict:
    """The README's first-``fit_ml`` figures: fresh processes with empty compile caches (``--rounds`` of them)."""
    runs = []
    for rnd in range(args.rounds):
        compiledir = tempfile.mkdtemp(prefix="pytensor-cold-")
        env = {**os.environ, "PYTENSOR_FLAGS": f"compiledir={compiledir}"}
        result, wall, lb, la, err = _run([sys.executable, __file__, "--first-fit-worker", "--starts",
                                          str(args.starts), "--seed", str(args.seed)], args.timeout, env)
        shutil.rmtree(compiledir, ignore_errors=True)
        if result is None:
            raise SystemExit(f"first-fit worker failed:\n{err}")
        result.update({"process_wall_s": wall, "load": [lb, la]})
        runs.append(result)
        print(f"[round {rnd + 1}] K=2 first fit_ml {result['K2']['fit_ml_s']:.2f} s, K=3 after it "
              f"{result['K3']['fit_ml_s']:.2f} s, import {result['import_s']:.2f} s, process {wall:.1f} s "
              f"(load {lb}->{la})", file=sys.stderr, flush=True)
    out = {"what": "first fit_ml(starts=20) on carcinoma in a fresh process with an empty PyTensor compiledir "
                   "(K = 2), then K = 3 in the same process; import and process wall time beside",
           "date": datetime.now().isoformat(timespec="seconds"), "starts": args.starts, "seed": args.seed,
           "runs": runs,
           "median": {"K2_fit_ml_s": _median([r["K2"]["fit_ml_s"] for r in runs]),
                      "K3_fit_ml_s": _median([r["K3"]["fit_ml_s"] for r in runs]),
                      "import_s": _median([r["import_s"] for r in runs]),
                      "process_wall_s": _median([r["process_wall_s"] for r in runs])}}
    print(json.dumps(out["median"]))
    if not args.no_save:
        (RESULTS / "ml_first_fit.json").write_text(json.dumps(out, indent=1))
    return out


def _median(values):
    vals = [v for v in values if v is not None and v == v]
    return float(np.median(vals)) if vals else float("nan")


def run_parent(args):
    """``--rounds`` interleaved rounds (bayesmix, StepMix, poLCA on every case, then again); medians per case."""
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

    raw = {(name, k): {"bayesmix": [], "stepmix": [], "polca": []} for name in paths for k in ks}
    for rnd in range(args.rounds):
        for name, (path, kind) in paths.items():
            for k in ks:
                common = ["--csv", str(path), "--k", str(k), "--seed", str(args.seed), "--repeat", "1"]
                profile = args.profile and rnd == args.rounds - 1
                tools = [("bayesmix", [sys.executable, __file__, "--worker", *common, "--starts", str(args.starts),
                                       *(["--nominal"] if kind == "nominal" else []),
                                       *(["--profile"] if profile else [])], True)]
                if have_stepmix:
                    tools.append(("stepmix", [args.stepmix_python, str(RUNNER), *common, "--n-init",
                                              str(args.starts), "--max-iter", str(args.max_iter), "--measurement",
                                              "categorical" if kind == "nominal" else "binary"], False))
                if have_polca:
                    tools.append(("polca", [args.polca_python, str(POLCA_RUNNER), *common, "--nrep",
                                            str(args.starts), "--max-iter", str(args.max_iter)], False))
                for tool, cmd, _ in tools:
                    print(f"[round {rnd + 1}/{args.rounds}] {name} K={k} {tool} ...", file=sys.stderr, flush=True)
                    result, wall, lb, la, err = _run(cmd, args.timeout, env)
                    if result is None:
                        print(f"  {tool} failed:\n{err}", file=sys.stderr)
                        continue
                    result["subprocess_wall_s"], result["subprocess_load"] = wall, [lb, la]
                    raw[(name, k)][tool].append(result)
                    out = collect(raw, args, env, quiet=True)  # saved after every run: a partial run keeps its data
                    if not args.no_save:
                        _save(out, args)
    out = collect(raw, args, env)
    print_summary(out["cases"])
    if not args.no_save:
        print(f"\nsaved {_save(out, args)}")
    return out


def _save(out: dict, args) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = Path(args.save_as) if args.save_as else RESULTS / "ml_ratios.json"
    target.write_text(json.dumps(out, indent=1, default=float))
    return target


def collect(raw: dict, args, env, quiet: bool = False) -> dict:
    """The JSON of the runs so far: per case the raw per-round values and their medians (cases every tool ran)."""
    cases = []
    for (name, k), by_tool in raw.items():
        bm_runs, sm_runs, pl_runs = by_tool["bayesmix"], by_tool["stepmix"], by_tool["polca"]
        if not bm_runs:
            continue
        case = {"dataset": name, "K": k, "n_units": bm_runs[0]["n_units"] if bm_runs else None,
                "n_items": bm_runs[0]["n_items"] if bm_runs else None, "starts": args.starts}
        for mode in ("equal", "mplus"):
            rs = [r["runs"][mode] for r in bm_runs]
            case[f"bm_{mode}"] = {
                "starts": rs[0]["starts"] if rs else None,
                "to_best_ll_s": [r["multistart_s"] for r in rs], "fit_ml_s": [r["seconds"] for r in rs],
                "se_s": [r["se_s"] for r in rs], "loglik": [r["loglik"] for r in rs],
                "replication": [r["replication"] for r in rs], "n_evals": [r["n_evals"] for r in rs],
                "load": [[r["load_before"], r["load_after"]] for r in rs]}
        case["bm_cold"] = {"fit_ml_s": [r["cold_s"] for r in bm_runs], "compile_s": [r["compile_s"] for r in bm_runs],
                           "load": [r["cold_load"] for r in bm_runs], "starts": args.starts}
        case["stepmix"] = {"n_init": args.starts, "max_iter": args.max_iter,
                           "abs_tol_per_unit": sm_runs[0]["abs_tol"] if sm_runs else None,
                           "fit_s": [r["fit_s"] for r in sm_runs], "loglik": [r["loglik"] for r in sm_runs],
                           "best_n_iter": [r["best_n_iter"] for r in sm_runs],
                           "load": [[r["runs"][0]["load_before"], r["runs"][0]["load_after"]] for r in sm_runs],
                           "version": sm_runs[0].get("stepmix_version") if sm_runs else None}
        case["polca"] = {"nrep": args.starts, "max_iter": args.max_iter,
                         "tol_total": pl_runs[0]["tol_total"] if pl_runs else None,
                         "fit_s": [r["fit_s"] for r in pl_runs], "se_s": [r["se_s"] for r in pl_runs],
                         "loglik": [r["loglik"] for r in pl_runs],
                         "best_n_iter": [r["best_n_iter"] for r in pl_runs],
                         "load": [[r["runs"][0]["load_before"], r["runs"][0]["load_after"]] for r in pl_runs],
                         "version": pl_runs[0].get("polca_version") if pl_runs else None}
        if bm_runs and sm_runs:
            case["max_dprob_stepmix"] = compare(bm_runs[-1], sm_runs[-1])["max_dprob"]
        if bm_runs and pl_runs:
            case["max_dprob_polca"] = compare(bm_runs[-1], pl_runs[-1])["max_dprob"]
        if name == "carcinoma":
            case["published_ll"] = PUBLISHED_CARCINOMA.get(k)
        summarize_case(case)
        cases.append(case)
        prof = next((r["profile"] for r in bm_runs if r.get("profile")), None)
        ratio = min(case["median"]["ratio_stepmix_equal"], case["median"]["ratio_polca_equal"])
        if prof and not quiet and not ratio >= args.profile_below:
            print(f"\n==== cProfile of the warm multistart (starts=({args.starts}, {args.starts})), {name} K={k} "
                  f"(ratio {ratio:.2f}) ====\n{prof}")
    out = {"what": "bench_ml_stepmix.py: bayesmix fit_ml vs StepMix and the poLCA C++ port at equal converged "
                   "starts (medians of interleaved rounds; raw per-round values)",
           "date": datetime.now().isoformat(timespec="seconds"), "rounds": args.rounds, "seed": args.seed,
           "platform": platform.platform(), "cpu_count": os.cpu_count(),
           "blas_env": {v: env.get(v) for v in BLAS_ENV},
           "bayesmix_versions": raw and next((r[0]["versions"] for t in raw.values() for r in [t["bayesmix"]] if r), None),
           "cases": cases}
    return out



def summarize_case(case: dict) -> None:
    """Medians over rounds and the ratios (peer seconds / bayesmix seconds; > 1: bayesmix faster)."""
    med = {
        "bm_equal_s": _median(case["bm_equal"]["to_best_ll_s"]),
        "bm_equal_fit_ml_s": _median(case["bm_equal"]["fit_ml_s"]),
        "bm_mplus_s": _median(case["bm_mplus"]["to_best_ll_s"]),
        "bm_mplus_fit_ml_s": _median(case["bm_mplus"]["fit_ml_s"]),
        "bm_cold_fit_ml_s": _median(case["bm_cold"]["fit_ml_s"]),
        "stepmix_s": _median(case["stepmix"]["fit_s"]),
        "polca_s": _median(case["polca"]["fit_s"]),
        "polca_with_se_s": _median([a + b for a, b in zip(case["polca"]["fit_s"], case["polca"]["se_s"])]),
        "bm_ll": max(case["bm_equal"]["loglik"], default=float("nan")),
        "bm_mplus_ll": max(case["bm_mplus"]["loglik"], default=float("nan")),
        "stepmix_ll": max(case["stepmix"]["loglik"], default=float("nan")),
        "polca_ll": max(case["polca"]["loglik"], default=float("nan")),
        "max_load": max([x for r in (case["bm_equal"]["load"] + case["stepmix"]["load"] + case["polca"]["load"])
                         for x in r], default=float("nan")),
    }
    med["ratio_stepmix_equal"] = med["stepmix_s"] / med["bm_equal_s"]
    med["ratio_polca_equal"] = med["polca_s"] / med["bm_equal_s"]
    med["ratio_stepmix_fit_ml"] = med["stepmix_s"] / med["bm_equal_fit_ml_s"]
    med["ratio_polca_fit_ml"] = med["polca_with_se_s"] / med["bm_equal_fit_ml_s"]
    med["ratio_stepmix_mplus"] = med["stepmix_s"] / med["bm_mplus_s"]
    med["ratio_polca_mplus"] = med["polca_s"] / med["bm_mplus_s"]
    case["median"] = med


def print_summary(cases: list[dict]) -> None:
    print("seconds are medians of interleaved rounds; ratio = peer s / bayesmix s (> 1: bayesmix faster)")
    print("equal: fit_ml(starts=(S, S)), every start to convergence, time to the best LL (no SEs) | fit_ml: the "
          "whole call with SEs (poLCA: + calc_se) | mplus: fit_ml(starts=S), S short + S//4 to convergence")
    head = (f"{'case':>14} {'LL bm':>11} {'LL sm':>11} {'LL pl':>11} | {'bm eq':>6} {'sm':>6} {'pl':>6} "
            f"{'x sm':>5} {'x pl':>5} | {'fit_ml':>6} {'x sm':>5} {'x pl':>5} | {'mplus':>6} {'x sm':>5} "
            f"{'x pl':>5} | load")
    print(head)
    for c in cases:
        m = c["median"]
        print(f"{c['dataset'] + ' K=' + str(c['K']):>14} {m['bm_ll']:11.4f} {m['stepmix_ll']:11.4f} "
              f"{m['polca_ll']:11.4f} | {m['bm_equal_s']:6.2f} {m['stepmix_s']:6.2f} {m['polca_s']:6.2f} "
              f"{m['ratio_stepmix_equal']:5.1f} {m['ratio_polca_equal']:5.1f} | {m['bm_equal_fit_ml_s']:6.2f} "
              f"{m['ratio_stepmix_fit_ml']:5.1f} {m['ratio_polca_fit_ml']:5.1f} | {m['bm_mplus_s']:6.2f} "
              f"{m['ratio_stepmix_mplus']:5.1f} {m['ratio_polca_mplus']:5.1f} | {m['max_load']:.1f}")


def main(argv=None):
    args = parse_args(argv)
    if args.show:
        print_summary(json.loads(Path(args.show).read_text())["cases"])
        return
    if args.first_fit:
        first_fit(args)
        return
    if args.first_fit_worker:
        with open(args.out, "w") as fh:
            json.dump(first_fit_worker(args), fh)
        return
    if args.worker:
        row = run_worker(args)
        with open(args.out, "w") as fh:
            json.dump(row, fh, default=float)
        return
    run_parent(args)


if __name__ == "__main__":
    main()
