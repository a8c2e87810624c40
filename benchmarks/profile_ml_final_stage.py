#!/usr/bin/env python
"""Where the time of ``fit_ml(starts=(20, 20))``'s optimizer goes: EM stages and L-BFGS-B runs.

Companion to ``bench_ml_stepmix.py`` (its CSVs in ``results/``): runs the warm
``multistart`` of one case once more with timers around the initial-stage EM,
the final-stage EM (:func:`bayesmix.inference.optimize.em_finish`, SQUAREM) and
every L-BFGS-B run, and counts EM maps per start and objective evaluations.
Prints a JSON line (``--out`` also writes it).

    .venv/bin/python benchmarks/profile_ml_final_stage.py --csv benchmarks/results/gss82_polca.csv --k 4 --nominal
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--nominal", action="store_true")
    p.add_argument("--starts", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import pandas as pd
    import bayesmix as bm
    from bayesmix.inference import em as em_module, optimize

    df = pd.read_csv(args.csv)
    items = list(df.columns)
    kw = {"item_types": {c: "nominal" for c in items}} if args.nominal else {}
    m = bm.lca(df, items, args.k, **kw)
    m.fit_ml(starts=args.starts, seed=args.seed, progressbar=False)  # compile (cold), as the benchmark's worker

    record = {"em_calls": [], "lbfgs": []}
    iterate, minimize, em_finish = em_module.iterate, optimize.minimize, optimize.em_finish

    def timed_iterate(step, parts, masks, iterations, tol=0.0, accelerate=False):
        used = [0]

        def counted(x):
            used[0] += len(x[0])
            return step(x)
        t = time.perf_counter()
        out = iterate(counted, parts, masks, iterations, tol, accelerate)
        record["em_calls"].append({"accelerate": accelerate, "starts": len(parts[0]), "maps": used[0],
                                   "converged": int(out[1].sum()), "s": time.perf_counter() - t})
        return out

    def timed_minimize(fun, x0, **kw):
        t = time.perf_counter()
        res = minimize(fun, x0, **kw)
        record["lbfgs"].append({"nfev": int(res.nfev), "nit": int(res.nit), "s": time.perf_counter() - t,
                                "maxiter": kw.get("options", {}).get("maxiter")})
        return res

    em_module.iterate, optimize.minimize = timed_iterate, timed_minimize
    try:
        t = time.perf_counter()
        opt = optimize.multistart(m, "loglik", starts=(args.starts, args.starts), seed=args.seed,
                                  warn_unreplicated=False)
        total = time.perf_counter() - t
    finally:
        em_module.iterate, optimize.minimize = iterate, minimize
    out = {"csv": os.path.basename(args.csv), "K": args.k, "multistart_s": total, "loglik": opt.value,
           "replication": opt.report.replication, "load": os.getloadavg()[0],
           "em": record["em_calls"], "lbfgs_runs": len(record["lbfgs"]),
           "lbfgs_nfev": int(sum(r["nfev"] for r in record["lbfgs"])),
           "lbfgs_s": float(sum(r["s"] for r in record["lbfgs"])), "lbfgs": record["lbfgs"]}
    print(json.dumps(out))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
