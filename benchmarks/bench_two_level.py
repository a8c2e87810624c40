"""Benchmark: the paper's Model 5 (between-level class) and Model 6 (within-between class).

Data from Model 5 (section 5: mu = 1/0, beta = 0.2/0.8, theta = 1, v = 0.2,
equal classes) with J clusters of 10. Each (model, J, backend) runs in a fresh
subprocess: ML (quadrature) time and LL, then NUTS from the MAP with 4 chains:
wall time, sampler time, min bulk ESS over the global parameters, ESS/s,
max R-hat, divergences, peak memory. Not a test.

    python benchmarks/bench_two_level.py                       # J = 100 and 1000, all backends
    python benchmarks/bench_two_level.py --clusters 100 --backends pymc --draws 300
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lca import _loadavg, _peak_memory_mb  # noqa: E402

GLOBALS = ["regression_intercept", "regression_slope", "residual_sd", "random_sd"]


def build(model: str, data):
    import bayesmix as bm
    if model == "model5":
        return bm.mixture_regression(data, "y", ["x"], 2, cluster="cluster", class_level="between",
                                     random=("intercept",))
    return bm.mixture_regression(data, "y", ["x"], 2, cluster="cluster", class_level="within",
                                 random=("intercept",), random_class_intercept=True)


def worker(args) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    import arviz as az
    import bayesmix as bm
    load_before = _loadavg()
    sim = bm.datasets.simulate_mixture_regression(n_clusters=args.clusters, cluster_size=10, seed=args.seed)
    m = build(args.model, sim.data)
    row = {"model": args.model, "clusters": args.clusters, "backend": args.backend}
    if args.backend == "ml":
        t0 = time.perf_counter()
        ml = m.fit_ml(starts=args.ml_starts, seed=args.seed)
        row.update(wall_s=time.perf_counter() - t0, loglik=ml.loglik, best_ll_replicated=ml.starts.n_replicated)
    else:
        t0 = time.perf_counter()
        fit = m.fit_map(starts=args.map_starts, seed=args.seed)
        row["map_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        idata = m.sample(draws=args.draws, tune=args.tune, chains=args.chains, sampler=args.backend,
                         random_seed=args.seed, init=fit, progressbar=False)
        row["wall_s"] = time.perf_counter() - t0
        row["sampler_s"] = float(idata.attrs["bayesmix_sampling_seconds"])
        names = [v for v in GLOBALS if v in idata.posterior]
        ess = getattr(az.ess(idata, var_names=names, method="bulk"), "dataset", None)
        rhat = getattr(az.rhat(idata, var_names=names), "dataset", None)
        row["min_ess_bulk"] = min(float(ess[v].min()) for v in names)
        row["ess_per_s"] = row["min_ess_bulk"] / row["sampler_s"]
        row["max_rhat"] = max(float(rhat[v].max()) for v in names)
        row["divergences"] = int(idata.sample_stats["diverging"].sum())
    self_mb, child_mb = _peak_memory_mb()
    row.update(peak_mb=self_mb + child_mb, load_before=load_before, load_after=_loadavg())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--models", nargs="+", default=["model5", "model6"])
    parser.add_argument("--backends", nargs="+", default=None)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--map-starts", type=int, default=10)
    parser.add_argument("--ml-starts", type=int, default=20)
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "CLUSTERS", "BACKEND"))
    args = parser.parse_args()
    if args.worker:
        args.model, args.clusters, args.backend = args.worker[0], int(args.worker[1]), args.worker[2]
        print(json.dumps(worker(args)))
        return
    import pandas as pd
    backends = args.backends or ["ml"] + [b for b in ("pymc", "nutpie", "numpyro") if importlib.util.find_spec(b)]
    rows = []
    for clusters in args.clusters:
        for model in args.models:
            for backend in backends:
                cmd = [sys.executable, __file__, "--worker", model, str(clusters), backend,
                       "--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains),
                       "--seed", str(args.seed), "--map-starts", str(args.map_starts),
                       "--ml-starts", str(args.ml_starts)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                try:
                    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                except (IndexError, json.JSONDecodeError):
                    rows.append({"model": model, "clusters": clusters, "backend": backend,
                                 "error": out.stderr.strip().splitlines()[-1] if out.stderr else "no output"})
                print(pd.DataFrame([rows[-1]]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print("\n" + table.round(3).to_string(index=False))
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    table.to_csv(results / f"bench_two_level-{time.strftime('%Y%m%d-%H%M%S')}.csv", index=False)


if __name__ == "__main__":
    main()
