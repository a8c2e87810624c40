#!/usr/bin/env python
"""Benchmark: the 3PL (section 9) by ML and NUTS, mirt-py for comparison, and FMA-GoM at the ADHD size.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_irt.py                  # 3PL 20 items x 5,000 ML; NUTS 10 x 500; FMA-GoM
    .venv/bin/python benchmarks/bench_irt.py --quick          # smaller everything
    .venv/bin/python benchmarks/bench_irt.py --parts ml,mirt  # only some parts
    .venv/bin/python benchmarks/bench_irt.py --mirt-python /tmp/mirt-venv/bin/python

Parts:

- ``ml``: ``bm.irt_3pl(data, items)`` (direct parameterization) on
  ``simulate_3pl(5000, 20)``: build, ``fit_ml(starts=...)`` wall time, LL,
  largest error of a, b, g against the truth; the same for
  ``parameterization="fma-gom"`` (eq. 43-47).
- ``mirt``: the same data through mirt-py (``pip install mirt``, the Python
  package "Multidimensional Item Response Theory for Python"), run in its own
  virtual environment given by ``--mirt-python`` so it cannot disturb this
  one; skipped with the reason printed when that interpreter is missing.
- ``equal``: one start to convergence on both sides on the same rule, mirt-py's
  Gauss-Hermite at 21 and 61 points (bayesmix ``fit_ml(starts=(1, 1))`` with
  ``integration={"method": "gauss-hermite", "points": P}``, mirt-py
  ``fit_mirt(n_quadpts=P, tol=T)`` at its default T = 1e-4 and at 1e-8, which
  reaches the optimum's LL), and bayesmix on its trapezoid at 21 points (the
  rule of the pre-EM run in ``results/irt_3pl_vs_mirt.json``); with and without
  SEs, wall and CPU seconds (CPU time is the fairer figure on a loaded machine),
  ``--rounds`` interleaved rounds: ``results/irt_3pl_vs_mirt_em.json``.
- ``nuts``: ``sample(sampler="pymc", chains=2)`` on ``simulate_3pl(500, 10)``
  (the person factor is sampled, 500 extra dimensions): wall time, minimum
  bulk ESS of the item parameters, ESS per second.
- ``gom``: 2-class FMA-GoM on data simulated to the ADHD size (425 x 18,
  section 8), ``fit_ml(starts=--gom-starts)`` with 2-D quadrature.

Measured on 2026-11-25 23:06-23:25 UTC (AMD EPYC, 2 cores shared with other
sessions; each row's load average is in its JSON in ``results/``), after
the node-table evaluations (commit ecf41b8) and FMA-GoM's exact membership
integral; ``fit_ml`` times include the SEs (Hessian) and a warm compile cache:

=========================================  ================  ================
part                                       load ~8 (run 1)   load ~2 (run 2)
=========================================  ================  ================
3PL 20 x 5,000, direct, starts=5           44.6 s            18.2 s
3PL 20 x 5,000, as FMA-GoM, starts=5       12.2 s            2.4 s
mirt-py 1.2.0 EM, 21 points (its default)  7.8 s             0.71 s
mirt-py 1.2.0 EM, 61 points (R mirt's)     15.5 s            2.15 s
NUTS 3PL 10 x 500, 2 x (500 + 500)         111.6 s, 1.2/s    45.8 s, 2.9/s
FMA-GoM 425 x 18, K = 2, starts=20         392.3 s           -
=========================================  ================  ================

- 3PL: both parameterizations reach LL -57352.359 (60 parameters), mirt-py
  -57352.3588 at 61 points (-57352.4693 at 21): the same maximum. One start
  of mirt-py's EM against bayesmix's 5 starts + SEs; per start the FMA-GoM
  form is now on par with mirt-py, the direct form ~8x slower (before the
  node tables: direct 154 s vs mirt-py 4.6 s at load ~7, the FMA-GoM form
  did not finish in 22 minutes). Largest errors against the truth: a 0.28,
  b 0.28, g 0.15 (both forms).
- NUTS (PyMC, 2 chains, the person factor sampled): minimum bulk ESS of the
  item parameters 134.4 in both runs (sampling alone 94 s and 37 s).
- FMA-GoM at the ADHD size (``simulate_fma_gom(425, 18, membership_sd=4.9,
  seed=1)``, eta on 30 trapezoid points, the membership exact): LL -3691.83
  (56 parameters), the membership SD ran to the FMA limit (6715; FMA's LL on
  these data -3691.8335); the best LL was reached by 1 of the 5 final-stage
  runs (-3691.8349, -3691.8527, -3692.9455, -3693.7047, -3693.7455).
  ``fit_ml(starts=(0, 2), start=fma_result)`` gets there in two runs.

This is not a test: pytest only collects ``tests/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

MIRT_SCRIPT = r"""
import json, sys, time
import numpy as np
y = np.load(sys.argv[1])
import mirt
out = {"version": getattr(mirt, "__version__", "?")}
try:
    for points in (21, 61):  # mirt-py's default quadrature, and R mirt's 61
        t = time.time()
        fit = mirt.fit_mirt(y, model="3PL", n_quadpts=points)
        out[f"seconds_q{points}"] = round(time.time() - t, 2)
        out[f"loglik_q{points}"] = float(fit.log_likelihood)
        out["n_params"] = int(fit.n_parameters)
        out[f"converged_q{points}"] = bool(fit.converged)
except Exception as err:  # report, do not hide
    out["error"] = f"{type(err).__name__}: {err}"
    out["api"] = [n for n in dir(mirt) if not n.startswith("_")][:60]
print(json.dumps(out))
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="ml,mirt,nuts,gom")
    p.add_argument("--n-units", type=int, default=5000)
    p.add_argument("--n-items", type=int, default=20)
    p.add_argument("--ml-starts", type=int, default=5)
    p.add_argument("--nuts-units", type=int, default=500)
    p.add_argument("--nuts-items", type=int, default=10)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--gom-starts", type=int, default=20)
    p.add_argument("--mirt-python", default="/tmp/mirt-venv/bin/python")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the 'equal' part")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.quick:
        args.n_units, args.n_items, args.ml_starts = 1000, 10, 2
        args.nuts_units, args.draws, args.tune, args.gom_starts = 200, 100, 100, 2
    return args


def truth(n_items):
    return (np.linspace(0.8, 2.2, n_items), np.linspace(-1.5, 2.0, n_items),
            np.tile([0.2, 0.15, 0.25, 0.1], n_items)[:n_items])


def part_ml(args, rows):
    import bayesmix as bm
    from bayesmix.datasets.simulate_irt import simulate_3pl
    a, b, g = truth(args.n_items)
    sim = simulate_3pl(args.n_units, args.n_items, a=a, b=b, g=g, seed=args.seed)
    for par in ("direct", "fma-gom"):
        t0 = time.perf_counter()
        m = bm.irt_3pl(sim.data, sim.items, parameterization=par)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ml = m.fit_ml(starts=args.ml_starts, seed=args.seed, progressbar=False)
        t2 = time.perf_counter()
        table = m.irt_parameters(ml)
        t3 = time.perf_counter()
        est = {q: table[(q, "estimate")].to_numpy() for q in ("a", "b", "g")}
        rows.append({"part": f"ml-{par}", "n_units": args.n_units, "n_items": args.n_items,
                     "build_s": round(t1 - t0, 2), "fit_ml_s": round(t2 - t1, 2),
                     "conversions_s": round(t3 - t2, 2), "loglik": round(ml.loglik, 3), "n_params": ml.n_params,
                     "starts": str(ml.starts), "max_err_a": round(float(np.max(np.abs(est["a"] - a))), 3),
                     "max_err_b": round(float(np.max(np.abs(est["b"] - b))), 3),
                     "max_err_g": round(float(np.max(np.abs(est["g"] - g))), 3),
                     "loadavg_1": round(os.getloadavg()[0], 2)})
        print(rows[-1], flush=True)
    return sim


def part_mirt(args, rows, sim):
    python = Path(args.mirt_python)
    if not python.exists():
        rows.append({"part": "mirt", "skipped": f"{python} missing: create a venv and `pip install mirt` there"})
        print(rows[-1], flush=True)
        return
    if sim is None:
        from bayesmix.datasets.simulate_irt import simulate_3pl
        a, b, g = truth(args.n_items)
        sim = simulate_3pl(args.n_units, args.n_items, a=a, b=b, g=g, seed=args.seed)
    path = HERE / "results"
    path.mkdir(exist_ok=True)
    data = path / "bench_irt_y.npy"
    np.save(data, sim.data.to_numpy())
    t0 = time.perf_counter()
    proc = subprocess.run([str(python), "-c", MIRT_SCRIPT, str(data)], capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    try:
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        out = {"error": proc.stderr[-500:]}
    rows.append({"part": "mirt-py", "wall_s": round(wall, 2), **out, "loadavg_1": round(os.getloadavg()[0], 2)})
    print(rows[-1], flush=True)


def part_nuts(args, rows):
    import arviz as az
    import bayesmix as bm
    from bayesmix.datasets.simulate_irt import simulate_3pl
    a, b, g = truth(args.nuts_items)
    sim = simulate_3pl(args.nuts_units, args.nuts_items, a=a, b=b, g=g, seed=args.seed)
    m = bm.irt_3pl(sim.data, sim.items)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = m.sample(draws=args.draws, tune=args.tune, chains=2, sampler="pymc", random_seed=args.seed,
                         progressbar=False, starts=4)
    wall = time.perf_counter() - t0
    ess = az.ess(idata, var_names=["binary_logit", "factor_loading", "irt_guessing"])
    min_ess = float(min(float(ess[v].min()) for v in ess.data_vars))
    rows.append({"part": "nuts-pymc", "n_units": args.nuts_units, "n_items": args.nuts_items, "chains": 2,
                 "tune": args.tune, "draws": args.draws, "wall_s": round(wall, 1),
                 "min_ess_bulk": round(min_ess, 1), "ess_per_s": round(min_ess / wall, 3),
                 "loadavg_1": round(os.getloadavg()[0], 2)})
    print(rows[-1], flush=True)


def part_gom(args, rows):
    import bayesmix as bm
    from bayesmix.datasets.simulate_irt import simulate_fma_gom
    sim = simulate_fma_gom(425, 18, membership_sd=4.9, seed=args.seed)  # ICC of alpha_1j 0.88 (paper: 86%)
    m = bm.fma_gom(sim.data, sim.items, 2)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=args.gom_starts, seed=args.seed, progressbar=False)
    wall = time.perf_counter() - t0
    sd = float(np.ravel(ml.point["factor_membership_sd"])[0])
    rows.append({"part": "fma-gom-ml", "n_units": 425, "n_items": 18, "starts": args.gom_starts,
                 "integration": "eta: trapezoid 30, membership exact" if m.exact_membership() else str(m.integration),
                 "fit_ml_s": round(wall, 1), "loglik": round(ml.loglik, 2), "n_params": ml.n_params,
                 "membership_sd": round(sd, 3), "icc": round(sd**2 / (sd**2 + np.pi**2 / 3), 3),
                 "start_report": str(ml.starts), "loadavg_1": round(os.getloadavg()[0], 2)})
    print(rows[-1], flush=True)


MIRT_EQUAL_SCRIPT = r"""
import json, sys, time
import numpy as np
y = np.load(sys.argv[1])
points, tol = int(sys.argv[2]), float(sys.argv[3])
import mirt
out = {"version": getattr(mirt, "__version__", "?"), "points": points, "tol": tol}
mirt.fit_mirt(y, model="3PL", n_quadpts=points, compute_standard_errors=False)  # warm-up (first-call costs)
for se in (False, True):
    t, c = time.perf_counter(), time.process_time()
    fit = mirt.fit_mirt(y, model="3PL", n_quadpts=points, compute_standard_errors=se, tol=tol, max_iter=5000)
    key = "with_se" if se else "no_se"
    out[key + "_s"] = time.perf_counter() - t
    out[key + "_cpu_s"] = time.process_time() - c
    out[key + "_loglik"] = float(fit.log_likelihood)
    out[key + "_converged"] = bool(fit.converged)
    out["n_params"] = int(fit.n_parameters)
    out["iterations"] = int(fit.n_iterations)
print(json.dumps(out))
"""

#: bayesmix rules of the ``equal`` part: mirt-py's own (Gauss-Hermite, ``n_quadpts``) at 21 and 61 points,
#: and bayesmix's default trapezoid at 21 (the rule of the stored pre-EM run, irt_3pl_vs_mirt.json)
EQUAL_RULES = (("gauss-hermite", 21), ("gauss-hermite", 61), ("trapezoid", 21))
#: mirt-py's EM tolerances (largest parameter change): its default, and one that reaches the optimum's LL
MIRT_TOLS = (1e-4, 1e-8)


def part_equal(args, rows, sim=None):
    """3PL ML at equal work: one start to convergence, at the same numbers of quadrature points as mirt-py.

    bayesmix: ``irt_3pl(..., integration={"method": "trapezoid", "points": P})``, a warm
    ``fit_ml(starts=(1, 1))`` (its multistart is the time to the LL; the whole call adds the SEs);
    mirt-py: ``fit_mirt(model="3PL", n_quadpts=P)`` with and without ``compute_standard_errors``
    (its EM stops on a parameter change below 1e-4; its own start values). Median of ``--rounds``
    interleaved rounds; each round's load is recorded. The information matrix that the warm-up left
    cached at the same optimum is dropped before every timed call (the runs before 2026-12-07 16:50 reused
    it, so their bayesmix "with SEs" times left the SEs' Hessian out). Writes ``results/irt_3pl_vs_mirt_em.json``.
    """
    import bayesmix as bm
    import bayesmix.inference.ml as ml_mod
    from bayesmix.datasets.simulate_irt import simulate_3pl
    from bayesmix.inference.em_irt import ItemFactorEM
    from bayesmix.inference.objective import FlatModel
    if sim is None:
        a, b, g = truth(args.n_items)
        sim = simulate_3pl(args.n_units, args.n_items, a=a, b=b, g=g, seed=args.seed)
    data = HERE / "results" / "bench_irt_y.npy"
    data.parent.mkdir(exist_ok=True)
    np.save(data, sim.data.to_numpy())
    have_mirt = Path(args.mirt_python).exists()
    timer = {"ms": 0.0, "ms_cpu": 0.0}
    inner = ml_mod.multistart

    def timed_multistart(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        try:
            return inner(*a, **k)
        finally:
            timer["ms"] += time.perf_counter() - t
            timer["ms_cpu"] += time.process_time() - c

    ml_mod.multistart = timed_multistart
    em_step = ItemFactorEM.step

    def counted_step(self, theta):
        timer["maps"] = timer.get("maps", 0) + 1
        return em_step(self, theta)

    ItemFactorEM.step = counted_step
    models = {}
    results = []
    try:
        for rnd in range(args.rounds):
            for method, points in EQUAL_RULES:
                for par in ("direct", "fma-gom"):
                    key = (par, method, points)
                    if key not in models:
                        models[key] = bm.irt_3pl(sim.data, sim.items, parameterization=par,
                                                 integration={"method": method, "points": points})
                        with warnings.catch_warnings():  # warm-up: compiles
                            warnings.simplefilter("ignore")
                            models[key].fit_ml(starts=(1, 1), seed=args.seed, progressbar=False)
                    load = os.getloadavg()[0]
                    timer["ms"] = timer["ms_cpu"] = 0.0
                    timer["maps"] = 0
                    for cached in models[key]._cache.values():  # the warm-up's information matrix at the same
                        if isinstance(cached, FlatModel):       # optimum would be reused: the SEs are timed too
                            cached._hessian_cache.clear()
                            cached._score_cache = None
                    t, c = time.perf_counter(), time.process_time()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        ml = models[key].fit_ml(starts=(1, 1), seed=args.seed, progressbar=False)
                    wall, cpu = time.perf_counter() - t, time.process_time() - c
                    results.append({"round": rnd, "tool": f"bayesmix-{par}", "method": method, "points": points,
                                    "to_ll_s": timer["ms"], "with_se_s": wall, "to_ll_cpu_s": timer["ms_cpu"],
                                    "with_se_cpu_s": cpu, "loglik": ml.loglik,
                                    "iterations": ml.iterations, "em_maps": timer["maps"],
                                    "converged": bool(ml.converged),
                                    "n_params": ml.n_params, "load": [load, os.getloadavg()[0]]})
                    print(results[-1], flush=True)
                if have_mirt and method == "gauss-hermite":  # mirt-py's rule
                    for tol in MIRT_TOLS:
                        load = os.getloadavg()[0]
                        proc = subprocess.run([args.mirt_python, "-c", MIRT_EQUAL_SCRIPT, str(data), str(points),
                                               str(tol)], capture_output=True, text=True, timeout=3600,
                                              env={**os.environ, "RAYON_NUM_THREADS": "1"})
                        try:
                            out = json.loads(proc.stdout.strip().splitlines()[-1])
                        except (IndexError, json.JSONDecodeError):
                            out = {"error": proc.stderr[-500:]}
                        results.append({"round": rnd, "tool": f"mirt-py tol {tol:g}", "method": method,
                                        "points": points, "to_ll_s": out.get("no_se_s"),
                                        "with_se_s": out.get("with_se_s"), "to_ll_cpu_s": out.get("no_se_cpu_s"),
                                        "with_se_cpu_s": out.get("with_se_cpu_s"), "loglik": out.get("no_se_loglik"),
                                        "loglik_with_se": out.get("with_se_loglik"),
                                        "converged": out.get("no_se_converged"), "n_params": out.get("n_params"),
                                        "iterations": out.get("iterations"), "version": out.get("version"),
                                        "error": out.get("error"), "load": [load, os.getloadavg()[0]]})
                        print(results[-1], flush=True)
    finally:
        ml_mod.multistart = inner
        ItemFactorEM.step = em_step
    summary = []
    for tool in dict.fromkeys(r["tool"] for r in results):
        for method, points in EQUAL_RULES:
            rs = [r for r in results if r["tool"] == tool and r["points"] == points and r["method"] == method
                  and r.get("to_ll_s") is not None]
            if rs:
                summary.append({"tool": tool, "method": method, "points": points,
                                "to_ll_s": float(np.median([r["to_ll_s"] for r in rs])),
                                "with_se_s": float(np.median([r["with_se_s"] for r in rs])),
                                "to_ll_cpu_s": float(np.median([r["to_ll_cpu_s"] for r in rs])),
                                "with_se_cpu_s": float(np.median([r["with_se_cpu_s"] for r in rs])),
                                "loglik": max(r["loglik"] for r in rs),
                                "max_load": max(max(r["load"]) for r in rs)})
    for s in summary:
        print(f"  {s['tool']:>18} {s['method']} {s['points']}: to the LL {s['to_ll_cpu_s']:.3f} CPU-s, with SEs "
              f"{s['with_se_cpu_s']:.3f} CPU-s, LL {s['loglik']:.6f} (load up to {s['max_load']:.1f})", flush=True)
    out = {"what": "3PL 20 x 5,000 ML, one start to convergence at equal quadrature rules (bench_irt.py "
                   "--parts equal): bayesmix (Bock-Aitkin EM + L-BFGS-B) on mirt-py's Gauss-Hermite rule and "
                   "its own trapezoid; mirt-py at its default tol 1e-4 and at 1e-8; medians of interleaved rounds; "
                   "CPU seconds are process_time (BLAS and mirt's Rayon held to one thread)",
           "date": time.strftime("%Y-%m-%d %H:%M"), "n_units": args.n_units, "n_items": args.n_items,
           "seed": args.seed, "rounds": args.rounds, "summary": summary, "runs": results}
    (HERE / "results" / "irt_3pl_vs_mirt_em.json").write_text(json.dumps(out, indent=1, default=float))
    rows.append({"part": "equal", "summary": summary})
    return sim


def main(argv=None):
    args = parse_args(argv)
    parts = args.parts.split(",")
    rows: list[dict] = [{"part": "machine", "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                         "loadavg_1_5_15": [round(v, 2) for v in os.getloadavg()]}]
    print(rows[-1], flush=True)
    sim = part_ml(args, rows) if "ml" in parts else None
    if "mirt" in parts:
        part_mirt(args, rows, sim)
    if "equal" in parts:
        part_equal(args, rows, sim)
    if "nuts" in parts:
        part_nuts(args, rows)
    if "gom" in parts:
        part_gom(args, rows)
    rows.append({"part": "machine-end", "loadavg_1_5_15": [round(v, 2) for v in os.getloadavg()]})
    print(rows[-1], flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"bench_irt-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(rows, indent=1, default=str))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
