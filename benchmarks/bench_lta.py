"""Benchmark: two-level latent transition analysis (section 4 design), T = 2 and T = 4.

Data: :func:`bayesmix.datasets.simulate_lta.simulate_lta` with J classrooms of
20 students (default J = 100, N = 2,000), ten binary items per time point
(the Table 1 profiles), two classes, random intercepts on the class logits at
every time related by eq. 15 (alpha_tj = beta alpha_(t-1)j + e_tj). The model is
``bm.lta(..., random_intercepts=True, random_form="structural")``: T random
intercepts per classroom, so ML integrates a T-dimensional product rule
(``--points`` per dimension: 15^2 = 225 nodes for T = 2; 5^4 = 625 for
T = 4 by default).

Each (T, backend) runs in a fresh subprocess: ML (``fit_ml``) wall time, LL and
start replication; for a NUTS backend the MAP (from ``--map-starts`` starts)
then ``sample`` from it: wall time, the sampler's own time, minimum bulk ESS
over the global parameters (class, transition and item logits, random SDs and
regressions), ESS/s, max R-hat, divergences; peak memory (this process plus
its largest child). Not a test.

    python benchmarks/bench_lta.py                               # T = 2, 4; ml, pymc, nutpie (if installed)
    python benchmarks/bench_lta.py --times 2 --backends ml pymc --draws 300
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

GLOBALS = ["class_intercept", "transition_logit", "binary_logit", "random_sd", "random_regression"]


def worker(args) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    import arviz as az

    import bayesmix as bm
    from bayesmix.datasets.simulate_lta import simulate_lta
    load_before = _loadavg()
    sim = simulate_lta(args.clusters * args.cluster_size, n_times=args.times, n_clusters=args.clusters,
                       calibrate=args.times == 2, seed=args.seed)
    points = args.points or (15 if args.times == 2 else 5)
    t0 = time.perf_counter()
    m = bm.lta(sim.data, sim.items_by_time, n_classes=2, cluster=sim.cluster, random_intercepts=True,
               random_form="structural", integration={"method": "trapezoid", "points": points})
    row = {"T": args.times, "clusters": args.clusters, "units": len(sim.data), "backend": args.backend,
           "nodes": points ** args.times, "build_s": time.perf_counter() - t0}
    if args.backend == "ml":
        t0 = time.perf_counter()
        ml = m.fit_ml(starts=args.ml_starts, seed=args.seed)
        row.update(wall_s=time.perf_counter() - t0, loglik=ml.loglik, n_params=ml.n_params,
                   best_ll_replicated=ml.starts.n_replicated)
        first = m.transition_matrices(ml)["estimate"].xs(m.structure.time_labels[0] + "->"
                                                          + m.structure.time_labels[1])
        off = [float(v) for (a, b), v in first.items() if a != b]  # switching probabilities (K = 2: both)
        row["switch_min"], row["switch_max"] = min(off), max(off)
    else:
        t0 = time.perf_counter()
        fit = m.fit_map(starts=args.map_starts, seed=args.seed)
        row["map_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        idata = m.sample(draws=args.draws, tune=args.tune, chains=args.chains, sampler=args.backend,
                         random_seed=args.seed, init=fit, progressbar=False, convergence_checks=False)
        row["wall_s"] = time.perf_counter() - t0
        row["sampler_s"] = float(idata.attrs["bayesmix_sampling_seconds"])
        names = [v for v in GLOBALS if v in idata.posterior]
        ess = az.ess(idata, var_names=names, method="bulk")
        ess = getattr(ess, "dataset", ess)
        rhat = az.rhat(idata, var_names=names)
        rhat = getattr(rhat, "dataset", rhat)
        row["min_ess_bulk"] = min(float(ess[v].min()) for v in names)
        row["ess_per_s"] = row["min_ess_bulk"] / row["sampler_s"]
        row["max_rhat"] = max(float(rhat[v].max()) for v in names)
        row["divergences"] = int(idata.sample_stats["diverging"].sum())
        row["relabeled"] = int(idata.attrs.get("bayesmix_relabeled_draws", 0))
    self_mb, child_mb = _peak_memory_mb()
    row.update(peak_mb=self_mb + child_mb, load_before=load_before, load_after=_loadavg())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--cluster-size", type=int, default=20)
    parser.add_argument("--backends", nargs="+", default=None)
    parser.add_argument("--points", type=int, default=None, help="quadrature points per dimension")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--map-starts", type=int, default=4)
    parser.add_argument("--ml-starts", type=int, nargs="+", default=[8, 2])
    parser.add_argument("--timeout", type=float, default=3 * 3600)
    parser.add_argument("--worker", nargs=2, metavar=("T", "BACKEND"))
    args = parser.parse_args()
    args.ml_starts = tuple(args.ml_starts) if len(args.ml_starts) == 2 else args.ml_starts[0]
    if args.worker:
        args.times, args.backend = int(args.worker[0]), args.worker[1]
        print(json.dumps(worker(args)))
        return
    import pandas as pd
    backends = args.backends or ["ml"] + [b for b in ("pymc", "nutpie") if importlib.util.find_spec(b)]
    rows = []
    for times in args.times:
        for backend in backends:
            cmd = [sys.executable, __file__, "--worker", str(times), backend, "--clusters", str(args.clusters),
                   "--cluster-size", str(args.cluster_size), "--draws", str(args.draws), "--tune", str(args.tune),
                   "--chains", str(args.chains), "--seed", str(args.seed), "--map-starts", str(args.map_starts),
                   "--ml-starts", *[str(s) for s in (args.ml_starts if isinstance(args.ml_starts, tuple)
                                                       else (args.ml_starts,))]]
            if args.points:
                cmd += ["--points", str(args.points)]
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            except subprocess.TimeoutExpired:
                rows.append({"T": times, "backend": backend, "error": f"timeout after {args.timeout:.0f} s"})
            except (IndexError, json.JSONDecodeError):
                rows.append({"T": times, "backend": backend,
                             "error": out.stderr.strip().splitlines()[-1] if out.stderr else "no output"})
            print(pd.DataFrame([rows[-1]]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print("\n" + table.round(3).to_string(index=False))
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    table.to_csv(results / f"bench_lta-{time.strftime('%Y%m%d-%H%M%S')}.csv", index=False)


if __name__ == "__main__":
    main()
