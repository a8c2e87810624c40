#!/usr/bin/env python
"""Benchmark: ML latent class analysis, bayesmix ``fit_ml`` against StepMix (time to the best LL).

Usage (from the repository root)::

    ~/.pyenv/versions/3.12.1/bin/python3 -m venv /tmp/stepmix-venv
    /tmp/stepmix-venv/bin/pip install stepmix pandas           # StepMix is NOT a bayesmix dependency
    .venv/bin/python benchmarks/bench_ml_stepmix.py            # carcinoma + simulated N=10000, K = 2, 3, 4
    .venv/bin/python benchmarks/bench_ml_stepmix.py --datasets carcinoma --ks 3
    .venv/bin/python benchmarks/bench_ml_stepmix.py --show benchmarks/results/bench_ml_stepmix-<stamp>.csv

Data sets: ``carcinoma`` (``bm.datasets.load("carcinoma")``, items A-G, N = 118)
and ``sim`` (``bm.datasets.simulate_lca(n_units=10000, n_items=20, n_classes=3,
seed=1)``, simulated once with 3 classes and fitted with every K). Both are
written to CSV under ``benchmarks/results/`` and *both* tools read that CSV, so
they fit identical data.

For every data set and K, two fresh subprocesses run:

* bayesmix (this interpreter, ``--worker``): ``bm.lca(df, items, K)``, then
  ``fit_ml(starts=20, seed=1)`` twice on the same model object. The first call
  is the cold total (PyTensor compiles the objective/gradient, Hessian, scores
  and delta-method Jacobians; the on-disk PyTensor cache is whatever is there,
  unless ``--fresh-compiledir``); the second (best of ``--repeat``) is the warm
  time. Time inside ``pytensor.function`` during the cold call is reported as
  ``compile_s``; the warm call is split into the random-start optimization
  (``multistart``) and the standard errors (``ml_result``), and the number and
  time of objective+gradient evaluations are counted.
* StepMix (``--stepmix-python``, running ``benchmarks/_stepmix_runner.py``):
  ``StepMix(n_components=K, measurement="binary", n_init=20, random_state=1,
  max_iter=...)`` then ``.fit(X)``; LL = ``score(X) * N``.

Item probabilities P(item = 1 | class) of the two solutions are compared after
matching classes with the Hungarian algorithm. The 1-minute load average is
recorded before and after every timed run (2-core machine, shared with other
jobs: timings are noisy).

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
DEFAULT_STEPMIX_PYTHON = "/tmp/stepmix-venv/bin/python"
PUBLISHED_CARCINOMA = {2: -317.2568, 3: -293.7050, 4: -289.2859}  # poLCA and StepMix 3.0 agree
LL_TOL = 1e-3
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="carcinoma,sim", help="comma-separated subset of carcinoma,sim")
    p.add_argument("--ks", default="2,3,4", help="numbers of classes, comma-separated")
    p.add_argument("--starts", type=int, default=20, help="bayesmix fit_ml(starts=...) and StepMix n_init")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-iter", type=int, default=1000, help="StepMix max_iter (EM iterations per start)")
    p.add_argument("--sim-n", type=int, default=10000)
    p.add_argument("--sim-items", type=int, default=20)
    p.add_argument("--sim-classes", type=int, default=3)
    p.add_argument("--repeat-small", type=int, default=2,
                   help="best of R warm timings for data sets with N < 1000 (both tools)")
    p.add_argument("--repeat-large", type=int, default=1, help="best of R for larger data sets")
    p.add_argument("--stepmix-python", default=DEFAULT_STEPMIX_PYTHON)
    p.add_argument("--skip-stepmix", action="store_true")
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
    p.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lca import _Timer as _BaseTimer, _loadavg  # noqa: E402  (shared benchmark helpers)


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
    m = bm.lca(df, items=items, n_classes=args.k)
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

    est = res.profiles.xs("estimate", level="statistic", axis=1)
    cats = est.index.get_level_values("category")
    est = est[[str(c) == "1" or c == 1 for c in cats]]  # P(item = 1 | class)
    est.index = est.index.get_level_values("item")
    est = est.loc[items]
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
        "converged": res.converged,
        "n_boundary": res.n_boundary,
        "n_params": res.n_params,
        "pis": est.to_numpy().T.tolist(),  # K x items, like StepMix
        "weights": res.class_proportions["estimate"].to_numpy().tolist(),
        "items": items,
    }


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
def prepare_data(args) -> dict[str, Path]:
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
        else:
            raise SystemExit(f"unknown data set {name!r}: use carcinoma or sim")
        df.to_csv(path, index=False)
        paths[name] = path
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


def compare(bmr: dict, smr: dict) -> dict:
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(bmr["pis"]), np.asarray(smr["pis"])  # K x items each
    cost = np.abs(a[:, None, :] - b[None, :, :]).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    dprob = float(np.abs(a[rows] - b[cols]).max())
    dweight = float(np.abs(np.asarray(bmr["weights"])[rows] - np.asarray(smr["weights"])[cols]).max())
    return {"max_dprob": dprob, "max_dweight": dweight, "class_match": cols.tolist()}


def run_parent(args):
    import pandas as pd

    paths = prepare_data(args)
    ks = [int(k) for k in args.ks.split(",")]
    have_stepmix = not args.skip_stepmix and Path(args.stepmix_python).exists()
    if not args.skip_stepmix and not have_stepmix:
        print(f"StepMix interpreter {args.stepmix_python} not found: create the venv (see --help); "
              "running bayesmix only", file=sys.stderr)
    env = dict(os.environ)
    if args.blas_threads is not None:
        for var in BLAS_ENV:
            env[var] = str(args.blas_threads)
    compiledir = None
    if args.fresh_compiledir:
        compiledir = tempfile.mkdtemp(prefix="pytensor-cold-")

    rows, details = [], []
    for name, path in paths.items():
        n_units = sum(1 for _ in open(path)) - 1
        repeat = args.repeat_small if n_units < 1000 else args.repeat_large
        for k in ks:
            row = {"dataset": name, "n_units": n_units, "K": k,
                   "blas_threads": "default" if args.blas_threads is None else args.blas_threads}
            wenv = env
            if compiledir:
                wenv = {**env, "PYTENSOR_FLAGS": f"compiledir={compiledir}/k{k}-{name}"}
            print(f"[{name} K={k}] bayesmix ...", file=sys.stderr, flush=True)
            bmr, bm_wall, lb0, lb1, err = _run(
                [sys.executable, __file__, "--worker", "--csv", str(path), "--k", str(k),
                 "--starts", str(args.starts), "--seed", str(args.seed), "--repeat", str(repeat)],
                args.timeout, wenv)
            if bmr is None:
                print(f"  bayesmix failed:\n{err}", file=sys.stderr)
                bmr = {}
            smr = {}
            if have_stepmix:
                print(f"[{name} K={k}] StepMix ...", file=sys.stderr, flush=True)
                smr, sm_wall, sb0, sb1, err = _run(
                    [args.stepmix_python, str(RUNNER), "--csv", str(path), "--k", str(k),
                     "--n-init", str(args.starts), "--seed", str(args.seed), "--max-iter", str(args.max_iter),
                     "--repeat", str(repeat)], args.timeout, env)
                if smr is None:
                    print(f"  StepMix failed:\n{err}", file=sys.stderr)
                    smr = {}
            bm_ll, sm_ll = bmr.get("loglik", float("nan")), smr.get("loglik", float("nan"))
            dll = abs(bm_ll - sm_ll)
            if dll != dll:
                higher = ""
            elif dll <= LL_TOL:
                higher = "equal"
            else:
                higher = "bayesmix" if bm_ll > sm_ll else "StepMix"
            cmp_ = compare(bmr, smr) if bmr and smr else {}
            nan = float("nan")
            warm, cold, sm_s = bmr.get("warm_s", nan), bmr.get("cold_s", nan), smr.get("fit_s", nan)
            opt = bmr.get("multistart_s", nan)  # random starts only, no standard errors
            bm_run = min(bmr.get("runs", [{}]), key=lambda r: r.get("seconds", 0))
            sm_run = min(smr.get("runs", [{}]), key=lambda r: r.get("seconds", 0))
            row.update({
                "ll_bayesmix": bm_ll, "ll_stepmix": sm_ll, "abs_dll": dll, "higher_ll": higher,
                "bm_opt_s": opt, "bm_warm_s": warm, "bm_compile_s": bmr.get("compile_s", float("nan")),
                "bm_cold_s": cold, "stepmix_s": sm_s,
                "ratio_opt": sm_s / opt, "ratio_warm": sm_s / warm, "ratio_cold": sm_s / cold,
                "max_dprob": cmp_.get("max_dprob", float("nan")),
                "load_bm": f"{bm_run.get('load_before', float('nan')):.2f}->{bm_run.get('load_after', float('nan')):.2f}",
                "load_sm": f"{sm_run.get('load_before', float('nan')):.2f}->{sm_run.get('load_after', float('nan')):.2f}",
            })
            rows.append(row)
            sm_starts = smr.get("per_start_ll", [])
            sm_rep = sum(v >= max(sm_starts) - LL_TOL for v in sm_starts) if sm_starts else None
            details.append({
                "dataset": name, "K": k,
                "bm_build_s": bmr.get("build_s"), "bm_cold_load": bmr.get("cold_load"),
                "bm_cold_multistart_s": bmr.get("cold_multistart_s"), "bm_cold_se_s": bmr.get("cold_se_s"),
                "bm_n_compiles": bmr.get("n_compiles"),
                "bm_multistart_s": bmr.get("multistart_s"), "bm_se_s": bmr.get("se_s"),
                "bm_n_evals": bmr.get("n_evals"), "bm_eval_s": bmr.get("eval_s"),
                "bm_ms_per_eval": 1e3 * bmr["eval_s"] / bmr["n_evals"] if bmr.get("n_evals") else None,
                "bm_replicated": f"{bmr.get('n_replicated')}/{bmr.get('n_final')}",
                "bm_boundary": bmr.get("n_boundary"), "bm_cold_ll": bmr.get("cold_loglik"),
                "bm_import_s": bmr.get("import_s"), "bm_runs": bmr.get("runs"),
                "sm_best_n_iter": smr.get("best_n_iter"), "sm_any_converged": smr.get("any_start_converged"),
                "sm_replicated": f"{sm_rep}/{len(sm_starts)}" if sm_starts else None,
                "sm_import_s": smr.get("import_s"), "sm_runs": smr.get("runs"),
                "max_dweight": cmp_.get("max_dweight"), "class_match": cmp_.get("class_match"),
                "published_ll": PUBLISHED_CARCINOMA.get(k) if name == "carcinoma" else None,
                "bm_subprocess_wall_s": bm_wall,
                "sm_subprocess_wall_s": sm_wall if have_stepmix else None,
                "stepmix_version": smr.get("stepmix_version"), "sm_threadpools": smr.get("threadpools"),
                "bm_final_values": bmr.get("final_values"), "sm_per_start_ll": smr.get("per_start_ll"),
                "bm_versions": bmr.get("versions"), "bm_threadpools": bmr.get("threadpools"), "pytensor_compiledir": bmr.get("pytensor_compiledir"),
            })
            print_row(row)

    if compiledir:
        shutil.rmtree(compiledir, ignore_errors=True)
    table = pd.DataFrame(rows)
    print()
    print_table(table)
    print()
    print_details(details)
    if not args.no_save:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        if args.blas_threads is not None:
            stamp += f"-blas{args.blas_threads}"
        RESULTS.mkdir(parents=True, exist_ok=True)
        table.to_csv(RESULTS / f"bench_ml_stepmix-{stamp}.csv", index=False)
        info = {"args": vars(args), "blas_env": {v: env.get(v) for v in BLAS_ENV},
                "platform": platform.platform(), "cpu_count": os.cpu_count(),
                "data": {k: str(v) for k, v in paths.items()}, "details": details}
        (RESULTS / f"bench_ml_stepmix-{stamp}.json").write_text(json.dumps(info, indent=2, default=str))
        print(f"\nsaved {RESULTS / f'bench_ml_stepmix-{stamp}.csv'} and .json")
    return table


def print_row(row):
    print(f"  {row['dataset']} K={row['K']}: LL {row['ll_bayesmix']:.4f} vs {row['ll_stepmix']:.4f} "
          f"({row['higher_ll']}), bayesmix warm {row['bm_warm_s']:.2f} s / cold {row['bm_cold_s']:.2f} s, "
          f"StepMix {row['stepmix_s']:.2f} s", file=sys.stderr, flush=True)


def print_table(table):
    import pandas as pd

    cols = ["dataset", "K", "blas_threads", "ll_bayesmix", "ll_stepmix", "abs_dll", "higher_ll", "bm_opt_s",
            "bm_warm_s", "bm_compile_s", "bm_cold_s", "stepmix_s", "ratio_opt", "ratio_warm", "ratio_cold",
            "max_dprob", "load_bm", "load_sm"]
    t = table[[c for c in cols if c in table]].copy()
    fmt = {"ll_bayesmix": "{:.4f}", "ll_stepmix": "{:.4f}", "abs_dll": "{:.1e}", "max_dprob": "{:.1e}"}
    fmt.update({c: "{:.2f}" for c in ("bm_opt_s", "bm_warm_s", "bm_compile_s", "bm_cold_s", "stepmix_s",
                                      "ratio_opt", "ratio_warm", "ratio_cold")})
    for c, f in fmt.items():
        if c in t:
            t[c] = [f.format(v) if pd.notna(v) else "nan" for v in t[c]]
    print("bm_opt_s: bayesmix random starts only (no SEs), bm_warm_s: whole fit_ml incl. SEs, bm_cold_s: first "
          "fit_ml in a fresh process (bm_compile_s of it in pytensor.function)")
    print("ratio_* = stepmix_s / bayesmix s (> 1: bayesmix faster); higher_ll: 'equal' if |dLL| <= 1e-3")
    print(t.to_string(index=False))


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
