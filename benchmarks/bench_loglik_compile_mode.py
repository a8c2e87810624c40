#!/usr/bin/env python
"""Benchmark: the per-cluster ``log_likelihood`` group of a two-level NUTS fit, Python thunks vs C (issue 23 item 2).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_loglik_compile_mode.py [--clusters 200] [--repeats 3]

The data of ``bench_stan.py`` (J clusters of 10, 10 binary items; ``bm.lca(..., cluster=,
random_intercept=True)`` with its priors), a posterior of 4 chains x 1,000 prior draws (the values
do not change the work), and ``sampling.log_likelihood_dataset`` with the quadrature of
``sample(latent="integrated")``, as ``sample`` calls it. Each repeat times, interleaved, the
function compiled in Python thunks (``PY``: what ``choose_mode`` picked by the work of one draw
before 2026-12-08) and in C (``CVM``: what it picks now that the work over all draws counts,
``bayesmix._compile.TOTAL_LIMIT``); the first call of each mode includes building and compiling
its function (with this machine's compile cache). Writes
``benchmarks/results/bench_loglik_compile_mode-J<J>-<timestamp>.json``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clusters", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    import pandas as pd
    import pymc as pm
    import xarray as xr

    import bayesmix as bm
    from bayesmix import _compile
    from bayesmix.inference import sampling as S
    from bayesmix.inference.integrated import check_latent
    from bench_stan import STAN_PRIORS, data_path

    df = pd.read_csv(data_path(args.clusters))
    items = [c for c in df.columns if c.startswith("y")]
    m = bm.lca(df, items, 2, cluster="cluster", random_intercept=True, priors=STAN_PRIORS)
    names = ["class_intercept", "random_sd", "binary_logit"]
    with m.model:
        prior = pm.sample_prior_predictive(draws=4000, var_names=names, random_seed=1)["prior"].to_dataset()
    posterior = xr.Dataset(
        {n: (("chain", "draw", *prior[n].dims[2:]), prior[n].values.reshape((4, 1000, *prior[n].shape[2:])))
         for n in names}, coords={"chain": np.arange(4), "draw": np.arange(1000)})
    integration = check_latent(m, "integrated", None)
    rows, values = [], {}
    for repeat in range(args.repeats):
        for mode in ("PY", "CVM"):
            _compile._SETTING = mode  # the mode every function compiled now gets (choose_mode)
            if repeat == 0:
                m._cache.pop("batch_functions", None)
                m._cache.pop("draw_functions", None)
            load = os.getloadavg()[0]
            t, c = time.perf_counter(), time.process_time()
            ds = S.log_likelihood_dataset(m, posterior, integration)
            rows.append({"repeat": repeat, "mode": mode, "wall_s": time.perf_counter() - t,
                         "cpu_s": time.process_time() - c, "load": load})
            values[mode] = ds["y"].values
            print(json.dumps(rows[-1]), flush=True)
    warm = {mode: float(np.median([r["wall_s"] for r in rows if r["mode"] == mode and r["repeat"] > 0]))
            for mode in ("PY", "CVM")}
    out = {"clusters": args.clusters, "draws": 4000, "work_per_draw": m.work_size(),
           "max_abs_difference": float(np.max(np.abs(values["PY"] - values["CVM"]))),
           "warm_median_wall_s": warm, "warm_ratio_py_over_c": warm["PY"] / warm["CVM"], "rows": rows,
           "uptime": os.popen("uptime").read().strip()}
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"bench_loglik_compile_mode-J{args.clusters}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
