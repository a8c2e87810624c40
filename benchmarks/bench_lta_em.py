"""Benchmark: ML random starts of a single-level LTA with and without the Baum-Welch EM warm-up (issue 23 item 3).

Cases (binary items, invariant measurement, first-order transitions):

- ``sim4``: :func:`bayesmix.datasets.simulate_lta`, N = 3,000, 2 occasions x 5
  binary items, K = 4 classes with overlapping profiles (item probabilities
  0.15-0.85, two classes differing on a few items only), 70-80% staying;
- ``sai3``: the bundled ``sai_lta`` (1,176 persons, 2 x 5 binary items), K = 3.

Each (case, EM on/off) runs ``m.fit_ml(starts=(100, 20), seed=1)`` in a fresh
subprocess (``--worker``; EM off sets ``bayesmix.inference.optimize.EM_WARMUP
= False``, the gradient initial stage of before), the on/off runs of a case
back to back so they see the same load. Printed: fit wall time (compilation
included, the same for both), model build time, LL, the replication of the
best LL, peak memory of the worker and the 1-minute load average before and
after. Not a test.

    PYTHONPATH=. python benchmarks/bench_lta_em.py
    PYTHONPATH=. python benchmarks/bench_lta_em.py --cases sai3 --starts 20 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

CASES = ("sim4", "sai3")
SAI_ITEMS = ["tense", "worrying", "anxious", "nervous", "jittery"]

#: K = 4 overlapping classes on 5 binary items (rows: classes)
SIM4_PROFILES = [[0.85, 0.80, 0.80, 0.75, 0.85],
                 [0.15, 0.20, 0.15, 0.25, 0.15],
                 [0.75, 0.70, 0.60, 0.25, 0.20],
                 [0.25, 0.30, 0.45, 0.70, 0.75]]
SIM4_INITIAL = [0.30, 0.30, 0.20, 0.20]
SIM4_TRANSITION = [[0.80, 0.05, 0.10, 0.05],
                   [0.05, 0.80, 0.05, 0.10],
                   [0.10, 0.10, 0.70, 0.10],
                   [0.10, 0.10, 0.10, 0.70]]


def _loadavg() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def make_model(case: str):
    import bayesmix as bm
    if case == "sim4":
        from bayesmix.datasets.simulate_lta import simulate_lta
        sim = simulate_lta(3000, n_times=2, profiles=SIM4_PROFILES, initial=SIM4_INITIAL,
                           transition=SIM4_TRANSITION, item_stems=list("abcde"), seed=2006)
        return bm.lta(sim.data, sim.items_by_time, n_classes=4)
    if case == "sai3":
        by_time = {t: [f"{i}_{t}" for i in SAI_ITEMS] for t in ("t1", "t2")}
        return bm.lta(bm.datasets.load("sai_lta"), by_time, n_classes=3)
    raise ValueError(case)


def worker(case: str, em: bool, starts: tuple[int, int], seed: int) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    from bayesmix.inference import optimize
    optimize.EM_WARMUP = em
    load_before = _loadavg()
    t0 = time.perf_counter()
    m = make_model(case)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ml = m.fit_ml(starts=starts, seed=seed, progressbar=False)
    wall = time.perf_counter() - t0
    return {"case": case, "em": em, "units": int(m.data.n_units), "K": int(m.n_classes), "starts": list(starts),
            "fit_s": round(wall, 2), "build_s": round(build_s, 2), "loglik": round(float(ml.loglik), 6),
            "replication": ml.starts.replication, "n_reached": f"{ml.starts.n_reached} of {ml.starts.n_final}",
            "converged": bool(ml.converged),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, 1),
            "load_before": load_before, "load_after": _loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--starts", type=int, nargs=2, default=[100, 20])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--order", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "EM"))
    args = parser.parse_args()
    starts = tuple(args.starts)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1] == "on", starts, args.seed)))
        return
    rows = []
    for case in args.cases:
        for em in args.order:
            cmd = [sys.executable, __file__, "--worker", case, em, "--starts", *map(str, starts),
                   "--seed", str(args.seed)]
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            except subprocess.TimeoutExpired:
                rows.append({"case": case, "em": em == "on", "error": f"timeout after {args.timeout:.0f} s"})
            except (IndexError, json.JSONDecodeError):
                rows.append({"case": case, "em": em == "on",
                             "error": out.stderr.strip().splitlines()[-1] if out.stderr else "no output"})
            print(json.dumps(rows[-1]), flush=True)
    import pandas as pd
    table = pd.DataFrame(rows)
    print("\n" + table.to_string(index=False))
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    table.to_csv(results / f"bench_lta_em-{time.strftime('%Y%m%d-%H%M%S')}.csv", index=False)


if __name__ == "__main__":
    main()
