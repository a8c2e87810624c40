#!/usr/bin/env python
"""Benchmark: GoM ML starts with and without the GoM EM warm-up (issue 23 item 3), side by side.

Data as ``bench_gom.py``: ``simulate_gom`` with ``asb_like_profiles`` (17 binary items shaped
like section 7's ASB items), logistic-normal membership alpha = -1, Var(alpha_1j) = 2^2 (K - 1
independent logits), seed 1. One process: the model is built and its PyTensor functions compiled
by an untimed warm-up fit, then ``m.fit_ml(starts=S, seed=1, em=...)`` runs ``--repeats`` times with the
EM (``em=True``, :mod:`bayesmix.inference.em_gom`) and without it (``em=False``, the default's choice for GoM: the
gradient initial stage), interleaved (EM first in even repeats), so both see the same
load and do the same number of starts. Recorded per run: CPU seconds of the process
(``time.process_time``), wall seconds, LL, the start report, whether the best optimization
converged, the 1-minute load average before. Prints one JSON object (``--out`` writes it). Not a test.

    PYTHONPATH=. python benchmarks/bench_gom_em.py --n-units 2000 --out benchmarks/results/gom_em_N2000.json
    PYTHONPATH=. python benchmarks/bench_gom_em.py --n-classes 3 --membership restricted
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-units", type=int, default=7326)
    p.add_argument("--n-items", type=int, default=17)
    p.add_argument("--n-classes", type=int, default=2)
    p.add_argument("--membership", default="logistic-normal")
    p.add_argument("--starts", type=int, nargs="+", default=[20])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import bayesmix as bm
    from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom
    from bayesmix.inference import optimize


    k = args.n_classes
    sim = simulate_gom(args.n_units, args.n_items, k, profiles=asb_like_profiles(args.n_items, k),
                       class_intercept=np.full(k - 1, -1.0), membership_cov=2.0**2 * np.eye(k - 1), seed=args.seed)
    m = bm.gom(sim.data, sim.items, k, membership=args.membership)
    starts = args.starts[0] if len(args.starts) == 1 else tuple(args.starts)
    out = {"n_units": args.n_units, "n_items": args.n_items, "n_classes": k, "membership": args.membership,
           "starts": starts, "seed": args.seed, "em": type(optimize.em_for(m, em=True)).__name__,
           "em_initial_factor": getattr(optimize.em_for(m, em=True), "initial_factor", optimize.EM_INITIAL_FACTOR),
           "em_final_iterations": getattr(optimize.em_for(m, em=True), "final_iterations", optimize.EM_FINAL_ITERATIONS),
           "runs": []}
    warnings.simplefilter("ignore")
    t = time.process_time()
    m.fit_ml(starts=(1, 1), seed=0, progressbar=False, em=False)  # compiles the density, gradient and Hessian
    out["warmup_cpu_s"] = time.process_time() - t
    for rep in range(args.repeats):
        for use_em in ((True, False) if rep % 2 == 0 else (False, True)):
            load = _load()
            c, w = time.process_time(), time.perf_counter()
            fit = m.fit_ml(starts=starts, seed=args.seed, progressbar=False, em=use_em)
            cpu, wall = time.process_time() - c, time.perf_counter() - w
            run = {"repeat": rep, "em": use_em, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                   "loglik": fit.loglik, "converged": bool(fit.converged), "starts_report": str(fit.starts),
                   "load_before": load, "load_after": _load()}
            out["runs"].append(run)
            print(json.dumps(run), flush=True)
    for use_em in (True, False):
        runs = [r for r in out["runs"] if r["em"] == use_em]
        out["em_on" if use_em else "em_off"] = {"median_cpu_s": float(np.median([r["cpu_s"] for r in runs])),
                                                "median_wall_s": float(np.median([r["wall_s"] for r in runs])),
                                                "best_loglik": max(r["loglik"] for r in runs)}
    out["cpu_ratio_off_over_on"] = out["em_off"]["median_cpu_s"] / out["em_on"]["median_cpu_s"]
    out["same_best_ll"] = abs(out["em_off"]["best_loglik"] - out["em_on"]["best_loglik"]) < 1e-3
    print(json.dumps(out))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
