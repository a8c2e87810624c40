#!/usr/bin/env python
"""Profile: one value + gradient of GoM's integrated log-likelihood, per-person quadrature vs per pattern (issue 23).

Section 7's size (N = 7,326 x 17 binary items, the data of ``bench_integrated_nuts.py gom``),
the model's quadrature (trapezoid, 30 nodes). Two graphs of the same total
sum_j log sum_q w_q exp f_j(z_q): the per-person one (``integrate`` over
``ItemClasses.conditional_loglik``: a (Q, 34) x (34, N) one-hot product, logsumexp over (Q, N)) and the
per-pattern one (``ItemClasses.pattern_loglik``, what ``m.integrated_loglik`` now uses: the
same over the P unique response patterns, gathered to the persons). Both compiled with
PyTensor's C backend, one BLAS thread (as nutpie's chains run), timed side by side in CPU
seconds at a perturbed start point. Writes ``benchmarks/results/gom_density_profile.json``.
Not a test.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np


def main() -> dict:
    import pytensor
    from threadpoolctl import threadpool_limits

    import bayesmix as bm
    from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom
    from bayesmix.inference.quadrature import integrate
    rows = []
    for k, membership in ((2, "logistic-normal"), (3, "restricted")):
        sim = simulate_gom(7326, 17, k, profiles=asb_like_profiles(17, k), class_intercept=np.full(k - 1, -1.0),
                           membership_cov=2.0**2 * np.eye(k - 1), seed=1)
        mm = bm.gom(sim.data, sim.items, k, membership=membership)
        settings = mm.settings()
        graphs = {"per_pattern": mm.integrated_loglik(settings),
                  "per_person": integrate(mm.structure.conditional_loglik, settings["method"], settings["points"],
                                          dim=mm.latent.n_dims, nodes_weights=mm.rule(settings))}
        values = [mm.model.rvs_to_values[rv] for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        start = mm.model.initial_point()
        point = {v.name: start[v.name] + np.random.default_rng(0).normal(scale=0.3, size=np.shape(start[v.name]))
                 for v in values}
        out = {}
        for name, graph in graphs.items():
            total = mm.model.replace_rvs_by_values([graph.sum()])[0]
            f = pytensor.function(values, [total, *pytensor.grad(total, values)])
            with threadpool_limits(limits=1, user_api="blas"):
                result = f(**point)
                reps = 200
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(reps):
                    f(**point)
                out[name] = {"cpu_ms": (time.process_time() - cpu) / reps * 1e3,
                             "wall_ms": (time.perf_counter() - wall) / reps * 1e3, "total": float(result[0])}
        rows.append({"n_classes": k, "membership": membership, "n_units": mm.n_units,
                     "n_patterns": mm.structure.patterns.n_patterns, "points": len(mm.rule(settings)[0]), **out,
                     "cpu_ratio": out["per_person"]["cpu_ms"] / out["per_pattern"]["cpu_ms"],
                     "abs_diff_total": abs(out["per_person"]["total"] - out["per_pattern"]["total"])})
        print(json.dumps(rows[-1]), flush=True)
    result = {"rows": rows, "load": os.getloadavg()[0], "uptime": os.popen("uptime").read().strip()}
    path = Path(__file__).parent / "results" / "gom_density_profile.json"
    path.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
