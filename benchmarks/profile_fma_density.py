#!/usr/bin/env python
"""FMA's integrated log-likelihood: one value + gradient per unique response pattern vs per person (issue 23 item 1).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/profile_fma_density.py adhd bfi`` (repository root).
``adhd``: ``bench_integrated_nuts.py fma-adhd``'s data (425 x 18 binary, ``simulate_fma`` seed 1);
``bfi``: bfi N1-N5 (ordinal 1-6, complete rows, 2,617 persons). Compiles the sum of
``m.integrated_loglik()`` (the pattern path) and the model's per-person quadrature of
``structure.conditional_loglik`` with their gradients (C backend), checks they agree,
and times them interleaved (5 rounds of >= 1 CPU second each; median CPU ms per call).
Appends rows to ``benchmarks/results/fma_density_profile.json``. Not a test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def build(case: str):
    import bayesmix as bm
    if case == "adhd":
        from bayesmix.datasets.simulate_irt import simulate_fma
        sim = simulate_fma(425, 18, 2, class_intercept=[0.5], link="probit", seed=1)
        return bm.fma(sim.data, sim.items, 2)
    df = bm.datasets.load("bfi_en")
    items = ["N1", "N2", "N3", "N4", "N5"]
    return bm.fma(df[items].dropna(), items, 2, item_types="ordinal")


def profile(case: str) -> dict:
    import pytensor
    import pytensor.tensor as pt
    from bayesmix.inference.quadrature import integrate
    m = build(case)
    settings = m.settings()
    by_pattern = m.integrated_loglik(settings).sum()
    by_person = integrate(m.structure.conditional_loglik, settings["method"], settings["points"],
                          dim=m.latent.n_dims, nodes_weights=m.rule(settings)).sum()
    by_pattern, by_person = m.model.replace_rvs_by_values([by_pattern, by_person])
    values = [m.model.rvs_to_values[rv] for rv in m.model.free_RVs if rv.name not in m.integrated]
    start = m.model.initial_point()
    rng = np.random.default_rng(0)
    x = [np.asarray(start[v.name]) + rng.normal(0, 0.3, np.shape(start[v.name])) for v in values]
    fns = {k: pytensor.function(values, [g, *pt.grad(g, values)]) for k, g in
           (("pattern", by_pattern), ("person", by_person))}
    out = {k: f(*x) for k, f in fns.items()}
    times: dict = {k: [] for k in fns}
    load0 = os.getloadavg()[0]
    for _ in range(5):
        for k, f in fns.items():
            t, n = time.process_time(), 0
            while time.process_time() - t < 1.0:
                f(*x)
                n += 1
            times[k].append((time.process_time() - t) / n * 1e3)
    ms = {k: float(np.median(v)) for k, v in times.items()}
    return {"case": case, "n_units": m.n_units, "n_patterns": m.structure.node_patterns.n_patterns,
            "points": len(m.rule(settings)[0]),
            "value_abs_diff": float(abs(out["pattern"][0] - out["person"][0])),
            "value": float(out["person"][0]),
            "grad_max_abs_diff": float(max(np.abs(a - b).max() for a, b in zip(out["pattern"][1:], out["person"][1:]))),
            "cpu_ms_value_grad": ms, "ratio_person_over_pattern": ms["person"] / ms["pattern"],
            "cpu_ms_all_rounds": times, "load_before": load0, "load_after": os.getloadavg()[0],
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "time": time.strftime("%Y-%m-%d %H:%M:%S")}


if __name__ == "__main__":
    path = Path(__file__).parent / "results" / "fma_density_profile.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    for case in sys.argv[1:] or ["adhd", "bfi"]:
        row = profile(case)
        print(json.dumps(row), flush=True)
        rows.append(row)
        path.write_text(json.dumps(rows, indent=1))
