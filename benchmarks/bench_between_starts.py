"""Starts for between classes: does the default ``fit_ml`` reach the best LL on sai_2level M = 3? (issue 22 item 3)

Model: ``bm.lca(sai_2level, [tense, worrying, anxious, nervous, jittery], 2,
cluster="study", n_between_classes=3)`` (within K = 2, between M = 3, P(C | D)
free, 15 parameters; 2,966 persons in 28 studies). Reference optimum
-8256.7686 (an independent EM in R and Stan's optimizer agree); a local
optimum at -8257.2516 attracts most random starts. For each seed, a freshly
built model and the default ``m.fit_ml(starts=20, seed=s)`` (the model is
rebuilt so each fit pays its own graph compilation, as a user's first fit
does; PyTensor's on-disk cache is warm after an untimed warm-up fit). Prints
LL, gap to the reference, wall time and the start report per seed, and writes
``benchmarks/results/bench_between_starts-<label>.json`` (load average and
versions included). Not a test.

    python benchmarks/bench_between_starts.py --seeds 1-10 --label after
    python benchmarks/bench_between_starts.py --nested-starts off --label no-nested
    PYTHONPATH=<checkout before the change> python benchmarks/bench_between_starts.py --label before

``--nested-starts off`` turns the section 10 starts off (``fit_ml(nested_starts=False)``);
the closed-form EM warm-up of the random starts stays on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

REFERENCE = -8256.7686
ITEMS = ["tense", "worrying", "anxious", "nervous", "jittery"]


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def fit(df, seed: int, nested: str) -> dict:
    import bayesmix as bm
    kwargs = {} if nested == "default" else {"nested_starts": nested == "on"}
    t0 = time.perf_counter()
    m = bm.lca(df, ITEMS, 2, cluster="study", n_between_classes=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ml = m.fit_ml(starts=20, seed=seed, progressbar=False, **kwargs)
    wall = time.perf_counter() - t0
    r = ml.starts
    return {"seed": seed, "loglik": round(float(ml.loglik), 4), "gap": round(REFERENCE - float(ml.loglik), 4),
            "reached": bool(abs(REFERENCE - ml.loglik) < 1e-3), "wall_s": round(wall, 2),
            "n_params": int(ml.n_params), "report": str(r), "replication": r.replication,
            "n_seeded": int(getattr(r, "n_seeded", 0)),
            "warned_local": any("local optimum" in str(w.message) for w in caught)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-10", help="e.g. 1-10 or 1,2,3")
    ap.add_argument("--nested-starts", choices=("default", "on", "off"), default="default")
    ap.add_argument("--label", default="after")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    import bayesmix as bm
    df = bm.datasets.load("sai_2level")
    fit(df, 0, args.nested_starts)  # warm-up: imports and PyTensor's disk cache (untimed)
    load_before = os.getloadavg()
    rows = []
    print(f"{'seed':>4} {'LL':>11} {'gap':>7} {'wall_s':>7}  report")
    for seed in seeds_arg(args.seeds):
        row = fit(df, seed, args.nested_starts)
        rows.append(row)
        print(f"{row['seed']:>4} {row['loglik']:>11.4f} {row['gap']:>7.4f} {row['wall_s']:>7.2f}  {row['report']}",
              flush=True)
    walls = [r["wall_s"] for r in rows]
    summary = {"label": args.label, "nested_starts": args.nested_starts, "reference": REFERENCE,
               "reached": f"{sum(r['reached'] for r in rows)} of {len(rows)}",
               "wall_s_mean": round(sum(walls) / len(walls), 2), "wall_s_max": max(walls),
               "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
               "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
               "bayesmix": str(Path(bm.__file__).parent), "python": platform.python_version(),
               "cpu_count": os.cpu_count(), "rows": rows}
    print(f"reached the reference in {summary['reached']} seeds; mean wall {summary['wall_s_mean']} s; "
          f"load {load_before} -> {summary['loadavg_after']}")
    if not args.no_save:
        out = Path(__file__).parent / "results" / f"bench_between_starts-{args.label}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
