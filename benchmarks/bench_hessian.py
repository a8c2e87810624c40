"""Benchmark: observed-information and sandwich SEs at GoM size, exact Hessian vs from gradients.

Model: the logistic-normal grade-of-membership model as a long-format LCA
(core review, "Scale probe"): one row per person x item, 17 binary item
columns of which only the row's own item is observed, ``bm.lca(long, items, 2,
cluster="person", random_intercept=True)``: 2 x 17 item logits + 1 class
intercept + 1 random SD = 36 parameters, 30 trapezoid nodes. Each (size,
variant) runs in a fresh subprocess and reports wall times and the worker's
peak RSS (``ru_maxrss``) for

- ``hessian_s``: ``FlatModel.hessian(theta, method=variant)`` cold (compile included),
- ``scores_s``: ``FlatModel.scores(theta)`` right after (free after ``"gradient"``),
- ``vg_s``: one value+gradient with one BLAS thread (as ``fit_ml`` optimizes), ``vg_default_threads_s``:
  with OpenBLAS' default threads (10x slower on a loaded 2-core machine),
- ``compile_s``: time inside ``pytensor.function`` during both,
- ``base_mb``: RSS before the Hessian (model built, value+gradient compiled), ``peak_mb``: peak RSS,

at the data-generating parameters (no fit: the SE step alone). Not a test.

    python benchmarks/bench_hessian.py                           # N = 1,000 and 7,000, both variants
    python benchmarks/bench_hessian.py --sizes 1000 --variants gradient
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

N_ITEMS, N_CLASSES = 17, 2


def simulate_long(n_persons: int, n_items: int = N_ITEMS, seed: int = 1):
    """Long GoM data: person membership logit 0.3 + z, item logits +-1.5 alternating by class."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    p_first = 1 / (1 + np.exp(-(0.3 + rng.standard_normal(n_persons))))
    rows = np.repeat(np.arange(n_persons), n_items)
    cols = np.tile(np.arange(n_items), n_persons)
    cls = (rng.uniform(size=rows.size) > p_first[rows]).astype(int)  # one class per response (GoM)
    logit = np.where(cols % 2 == cls, 1.5, -1.5)
    y = (rng.uniform(size=rows.size) < 1 / (1 + np.exp(-logit))).astype(float)
    wide = np.full((rows.size, n_items), np.nan)
    wide[np.arange(rows.size), cols] = y
    items = [f"y{i + 1}" for i in range(n_items)]
    frame = pd.DataFrame(wide, columns=items)
    frame["person"] = rows
    truth = {"class_intercept": np.array([0.3]), "random_sd": np.array([1.0]),
             "binary_logit": np.where(np.arange(n_items)[None, :] % 2 == np.arange(N_CLASSES)[:, None], 1.5, -1.5)}
    return frame, items, truth


def worker(n_persons: int, variant: str) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    import bayesmix as bm
    import bayesmix.inference.objective as objective

    compile_s = [0.0]
    inner = objective.function

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            compile_s[0] += time.perf_counter() - t0

    objective.function = timed
    frame, items, truth = simulate_long(n_persons)
    m = bm.lca(frame, items, N_CLASSES, cluster="person", random_intercept=True)
    flat = objective.flat_model(m)
    theta = flat.to_theta(truth)
    t0 = time.perf_counter()
    flat.value_and_grad("loglik")(theta)
    vg_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    flat.value_and_grad("loglik")(theta)
    vg_default_s = time.perf_counter() - t0
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):  # as fit_ml optimizes
        t0 = time.perf_counter()
        flat.value_and_grad("loglik")(theta)
        vg_s = time.perf_counter() - t0
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    compile_s[0] = 0.0
    t0 = time.perf_counter()
    h = flat.hessian(theta, "loglik", method=variant)
    hessian_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = flat.scores(theta)
    scores_s = time.perf_counter() - t0
    eig = np.linalg.eigvalsh(h)
    return {"persons": n_persons, "rows": len(frame), "variant": variant, "n_params": flat.n_params,
            "vg_cold_s": vg_cold, "vg_s": vg_s, "vg_default_threads_s": vg_default_s, "hessian_s": hessian_s, "scores_s": scores_s,
            "compile_s": compile_s[0], "base_mb": base_mb,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "min_eig": float(eig.min()), "max_eig": float(eig.max()), "h_trace": float(np.trace(h)),
            "score_sq_trace": float((s ** 2).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,7000", help="persons, comma-separated")
    parser.add_argument("--variants", default="exact,gradient", help="hessian methods, comma-separated")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--worker", nargs=2, metavar=("PERSONS", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(int(args.worker[0]), args.worker[1])))
        return
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        for variant in args.variants.split(","):
            try:
                out = subprocess.run([sys.executable, __file__, "--worker", str(n), variant],
                                     capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                rows.append({"persons": n, "variant": variant, "error": f"timeout {args.timeout:.0f} s"})
                continue
            lines = out.stdout.strip().splitlines()
            if out.returncode or not lines:
                rows.append({"persons": n, "variant": variant, "error": (out.stderr.strip().splitlines() or ["?"])[-1]})
                continue
            rows.append(json.loads(lines[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    cols = ["persons", "rows", "variant", "n_params", "vg_s", "hessian_s", "scores_s", "compile_s", "base_mb",
            "peak_mb", "min_eig", "h_trace"]
    print(" ".join(f"{c:>11}" for c in cols))
    for row in rows:
        if "error" in row:
            print(f"{row['persons']:>11} {'':>11} {row['variant']:>11}  error: {row['error']}")
            continue
        print(" ".join(f"{row[c]:>11.4g}" if isinstance(row[c], float) else f"{row[c]:>11}" for c in cols))
    ok = [r for r in rows if "error" not in r]
    for n in {r["persons"] for r in ok}:
        pair = {r["variant"]: r for r in ok if r["persons"] == n}
        if {"exact", "gradient"} <= set(pair):
            e, g = pair["exact"], pair["gradient"]
            print(f"N = {n}: trace(H) relative difference {abs(e['h_trace'] - g['h_trace']) / abs(e['h_trace']):.2e}, "
                  f"sum of squared scores {abs(e['score_sq_trace'] - g['score_sq_trace']) / e['score_sq_trace']:.2e}")


if __name__ == "__main__":
    main()
