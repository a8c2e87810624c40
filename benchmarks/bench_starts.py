"""Random starts on a two-level within+between LCA: does the default find the best LL? (issue 11 item 3)

Model: ``bm.lca(sai_lta, <t1 items>, 2, cluster="study", n_between_classes=3)``
(within classes K = 2, between classes M = 3; 1,176 persons in 13 studies).
For each seed, ``fit_ml(starts=20)`` twice: with bayesmix's final-stage
selection (the best of every distinct initial-stage solution first) and with
Mplus's (the M best initial-stage solutions outright), then a reference
``starts=(100, 20)``. Prints LL, gap to the reference, the start report and
wall time. Not a test.

    python benchmarks/bench_starts.py --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings


def fit(m, starts, seed, rule):
    import numpy as np
    from bayesmix.inference import optimize as O
    original = O.select_final
    if rule == "mplus":
        O.select_final = lambda values, n_final, tol: (list(range(n_final)),
                                                        O.distinct_groups(values, tol)[:n_final])
    try:
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ml = m.fit_ml(starts=starts, seed=seed)
        wall = time.perf_counter() - t0
    finally:
        O.select_final = original
    r = ml.starts
    warned = any("local optimum" in str(w.message) for w in caught)
    return {"rule": rule, "seed": seed, "starts": str(starts), "loglik": float(ml.loglik), "wall_s": wall,
            "n_reached": r.n_reached, "n_final": r.n_final, "n_replicated": r.n_replicated,
            "n_distinct": r.n_distinct, "n_basins": r.n_basins, "warned_local": warned,
            "final_values": np.round(r.final_values, 4).tolist()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import bayesmix as bm
    df = bm.datasets.load("sai_lta")
    items = [c for c in df.columns if c.endswith("_t1")]
    m = bm.lca(df, items, 2, cluster="study", n_between_classes=3)
    rows = []
    ref = None
    if not args.no_reference:
        rows.append(fit(m, (100, 20), 99, "bayesmix"))
        ref = rows[-1]["loglik"]
        print(json.dumps(rows[-1]), flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for rule in ("mplus", "bayesmix"):
            row = fit(m, args.starts, seed, rule)
            row["gap_to_reference"] = None if ref is None else ref - row["loglik"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
