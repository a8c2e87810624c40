"""All speed comparisons of issue 11 in one command, bayesmix and its peer side by side, as ratios.

Runs, each in its own subprocesses (the scripts below), one after another so
both sides of a ratio see the same machine load:

| block | script | ratio printed |
|---|---|---|
| post-processing over draws | `bench_postprocess.py` | per-draw loop / batched draw axis (> 1: batched faster); with `--sample N`, log_likelihood time / sampling time |
| random starts, two-level within+between | `bench_starts.py` | LL gap to `starts=(100, 20)` and wall time, final-stage selection of bayesmix vs Mplus's top M |
| ML vs StepMix | `bench_ml_stepmix.py` | StepMix s / bayesmix s (> 1: bayesmix faster), only when the StepMix venv exists |
| two-level NUTS vs Stan (only with `--only stan`: 30-60 min) | `bench_stan.py` | bayesmix / Stan ESS per second of total wall time, cold and warm compile cache (> 1: bayesmix ahead), only when Rscript exists |

    python benchmarks/run_all.py                 # everything, small sizes (about 5-10 minutes on 2 loaded cores)
    python benchmarks/run_all.py --only post,starts --sample 250
    python benchmarks/run_all.py --stepmix-datasets carcinoma,sim --stepmix-ks 2,3,4
    python benchmarks/run_all.py --only stan                    # bench_stan.py, J = 200 and 1000 (30-60 min)

Prints one table at the end with date, machine (CPU, cores, load) and every
ratio; writes it to `benchmarks/results/run_all-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STEPMIX_PYTHON = "/tmp/stepmix-venv/bin/python"


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "cpu": cpu, "cores": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2), "python": platform.python_version()}


def _run(args: list[str], timeout: float) -> tuple[str, str]:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    return out.stdout, out.stderr


def post(args) -> list[dict]:
    extra = ["--sample", str(args.sample)] if args.sample else []
    _run([str(HERE / "bench_postprocess.py"), "--cases", args.post_cases, "--draws", str(args.draws), *extra],
         args.timeout)
    latest = sorted(RESULTS.glob("bench_postprocess-*.json"))[-1]
    rows = []
    for r in json.loads(latest.read_text()):
        rows.append({"comparison": f"log_likelihood over draws, {r['case']}", "bayesmix": "batched draw axis",
                     "peer": "per-draw loop", "bayesmix_s": r["loglik_batched_s_per_1000"],
                     "peer_s": r["loglik_loop_s_per_1000"], "ratio": r["loglik_speedup"],
                     "note": f"s per 1000 draws; max |diff| {r['loglik_max_abs_diff']:.1e}"})
        rows.append({"comparison": f"class_probabilities over draws, {r['case']}", "bayesmix": "batched draw axis",
                     "peer": "per-draw loop", "bayesmix_s": r["class_prob_batched_s_per_1000"],
                     "peer_s": r["class_prob_loop_s_per_1000"], "ratio": r["class_prob_speedup"],
                     "note": "s per 1000 draws"})
        if "sampling_s" in r:
            rows.append({"comparison": f"log_likelihood / sampling, {r['case']}", "bayesmix": "log_likelihood",
                         "peer": f"sampling ({r['sampler']})", "bayesmix_s": r["loglik_after_sample_s"],
                         "peer_s": r["sampling_s"], "ratio": r["post_over_sampling"],
                         "note": f"2 chains x {args.sample}/{args.sample}; target < 0.2"})
    return rows


def starts(args) -> list[dict]:
    stdout, _ = _run([str(HERE / "bench_starts.py"), "--seeds", args.start_seeds], args.timeout)
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    out = []
    for seed in sorted({r["seed"] for r in rows if r["starts"] == "20"}):
        bm_row = next(r for r in rows if r["seed"] == seed and r["rule"] == "bayesmix" and r["starts"] == "20")
        mp_row = next(r for r in rows if r["seed"] == seed and r["rule"] == "mplus")
        out.append({"comparison": f"starts=20, two-level K=2 M=3 (sai_lta), seed {seed}",
                    "bayesmix": "distinct basins first", "peer": "Mplus top-M",
                    "bayesmix_s": bm_row["wall_s"], "peer_s": mp_row["wall_s"],
                    "ratio": mp_row["wall_s"] / bm_row["wall_s"],
                    "note": (f"LL gap to (100,20): {bm_row['gap_to_reference']:.2g} vs {mp_row['gap_to_reference']:.2g}; "
                             f"final runs from {bm_row['n_distinct']} vs {mp_row['n_distinct']} distinct "
                             "initial-stage solutions")})
    return out


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def stepmix(args) -> list[dict]:
    if not Path(args.stepmix_python).exists():
        print(f"StepMix: {args.stepmix_python} not found, skipped (see benchmarks/README.md to create the venv)")
        return []
    _run([str(HERE / "bench_ml_stepmix.py"), "--datasets", args.stepmix_datasets, "--ks", args.stepmix_ks,
          "--blas-threads", "1", "--stepmix-python", args.stepmix_python], args.timeout)
    import csv
    latest = sorted(RESULTS.glob("bench_ml_stepmix-*.csv"))
    if not latest:
        return []
    with open(latest[-1]) as fh:
        rows = [{k: _num(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    out = []
    for r in rows:
        if "ratio_opt" not in r:
            continue
        out.append({"comparison": f"fit_ml vs StepMix, {r.get('dataset')} K={int(r['K']) if isinstance(r.get('K'), float) else r.get('K')}",
                    "bayesmix": "fit_ml starts only", "peer": "StepMix n_init=20",
                    "bayesmix_s": r.get("bm_opt_s"), "peer_s": r.get("stepmix_s"), "ratio": r.get("ratio_opt"),
                    "note": f"higher LL: {r.get('higher_ll')}"})
    return out


def stan(args) -> list[dict]:
    import shutil
    if shutil.which("Rscript") is None:
        print("Stan: Rscript not found, skipped (see benchmarks/stan/README.md to install rstan)")
        return []
    extra = ["--quick"] if args.stan_quick else []
    _run([str(HERE / "bench_stan.py"), "--clusters", *args.stan_clusters.split(","), "--repeats",
          str(args.stan_repeats), *extra], max(args.timeout, 3 * 3600.0))
    summary = json.loads(sorted(RESULTS.glob("bench_stan-*.json"))[-1].read_text())["summary"]
    return [{"comparison": f"two-level NUTS vs Stan, J = {s['J']}, {s['state']} cache", "bayesmix": s["side"],
             "peer": "rstan", "bayesmix_s": s["bayesmix"]["wall_s"], "peer_s": s["stan"]["wall_s"],
             "ratio": s["ratio_ess_per_s_wall"],
             "note": (f"ratio = ESS/s of total wall, bayesmix / Stan; of sampling: "
                      f"{s['ratio_ess_per_s_sampling']:.2f}; target >= 3")} for s in summary]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="post,starts,stepmix")
    ap.add_argument("--post-cases", default="lca_N200,lca_N1000,lca2l_J200")
    ap.add_argument("--draws", type=int, default=500, help="draws for the loop vs batched timing")
    ap.add_argument("--sample", type=int, default=0, help="also sample 2 x N/N and time log_likelihood against it")
    ap.add_argument("--start-seeds", default="1,2")
    ap.add_argument("--stepmix-datasets", default="carcinoma")
    ap.add_argument("--stepmix-ks", default="2,3")
    ap.add_argument("--stepmix-python", default=STEPMIX_PYTHON)
    ap.add_argument("--stan-clusters", default="200,1000")
    ap.add_argument("--stan-repeats", type=int, default=2)
    ap.add_argument("--stan-quick", action="store_true", help="bench_stan.py --quick (smoke run)")
    ap.add_argument("--timeout", type=float, default=3600.0)
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    rows = []
    blocks = {"post": post, "starts": starts, "stepmix": stepmix, "stan": stan}
    for name in args.only.split(","):
        t0 = time.perf_counter()
        try:
            rows.extend(blocks[name](args))
        except Exception as exc:  # one failing block does not hide the others
            print(f"{name}: failed ({exc})")
        print(f"[{name}] {time.perf_counter() - t0:.0f} s", flush=True)
    info["load_1min_after"] = round(os.getloadavg()[0], 2)
    print(f"\n{info['date_utc']} UTC, {info['cpu']}, {info['cores']} cores, load {info['load_1min']} -> "
          f"{info['load_1min_after']}")
    print(f"{'comparison':58s} {'bayesmix':>10s} {'peer':>10s} {'ratio':>7s}  note")
    for r in rows:
        fmt = lambda v: "-" if v is None else f"{v:10.3f}"  # noqa: E731
        print(f"{r['comparison'][:58]:58s} {fmt(r['bayesmix_s'])} {fmt(r['peer_s'])} "
              f"{'-' if r['ratio'] is None else format(r['ratio'], '7.2f')}  {r['note']}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"run_all-{stamp}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
