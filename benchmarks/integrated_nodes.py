#!/usr/bin/env python
"""Quadrature error of the integrated log-likelihood vs the node count (the default of ``sample(latent="integrated")``).

GoM K = 2 logistic-normal at section 7's size (N = 7,326 x 17, the data of
``bench_gom.py`` / ``bench_integrated_nuts.py``, seed 1). Points: the
generating values (at N = 7,326 within about one SE of the ML estimate) and 20
perturbations of them (theta + N(0, 0.05^2) on the unconstrained scale), i.e.
the neighbourhood the posterior occupies. Reference: trapezoid with 400 nodes.
For Q in (10, 15, 20, 30, 40, 60) trapezoid nodes and Gauss-Hermite 20 / 30,
reports the largest absolute error of the total log-likelihood and of any
person's log-likelihood over the 21 points. Writes
``benchmarks/results/integrated_nodes.json``. Not a test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

import bayesmix as bm
from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom
from bayesmix.inference.objective import flat_model

k = 2
sim = simulate_gom(7326, 17, k, profiles=asb_like_profiles(17, k), class_intercept=np.full(k - 1, -1.0),
                   membership_cov=4.0 * np.eye(k - 1), seed=1)
mm = bm.gom(sim.data, sim.items, k)
ref = flat_model(mm, {"method": "trapezoid", "points": 400})
truth = {"binary_logit": sim.truth["binary_logit"], "class_intercept": sim.truth["class_intercept"],
         "membership_sd": np.array([2.0])}
base = ref.to_theta(truth)
rng = np.random.default_rng(0)
thetas = [base] + [base + rng.normal(scale=0.05, size=base.shape) for _ in range(20)]
reference = np.array([ref.unit_loglik(t) for t in thetas])
rows = []
for method, q in [("trapezoid", 10), ("trapezoid", 15), ("trapezoid", 20), ("trapezoid", 30), ("trapezoid", 40),
                  ("trapezoid", 60), ("gauss-hermite", 20), ("gauss-hermite", 30)]:
    flat = flat_model(mm, {"method": method, "points": q})
    values = np.array([flat.unit_loglik(t) for t in thetas])
    row = {"method": method, "points": q,
           "max_abs_error_total": float(np.max(np.abs(values.sum(1) - reference.sum(1)))),
           "max_abs_error_person": float(np.max(np.abs(values - reference)))}
    print(json.dumps(row), flush=True)
    rows.append(row)
out = {"n_units": 7326, "n_items": 17, "points": len(thetas), "reference": "trapezoid 400",
       "total_loglik_at_truth": float(reference[0].sum()), "rows": rows, "load": os.getloadavg()[0]}
Path(__file__).with_name("results").joinpath("integrated_nodes.json").write_text(json.dumps(out, indent=1))
