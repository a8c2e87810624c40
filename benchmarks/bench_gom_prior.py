#!/usr/bin/env python
"""Does a narrower prior on GoM probit item parameters keep NUTS near ML? (issue 23, item 1)

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_gom_prior.py --out benchmarks/results/gom_prior_nuts.json

Data: ``simulate_gom`` (probit, K = 2 logistic-normal, the default profiles
0.85 / 0.15 alternating, alpha = 0, membership SD ``--sd``, seed 1). One ML fit
(``starts=10``), then NUTS (nutpie, membership integrated inside the density,
2 chains x ``--draws`` after ``--tune``) once per prior on ``binary_logit``
(the probit item intercepts): the default Normal(0, 2.5) and each ``--sigmas``.
Reported per run: the membership SD's posterior median, mean and 5-95%
interval, the ML estimate and SE, the largest |posterior median - ML| over the
item intercepts (probit units), wall time, min bulk ESS, max R-hat. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from _peer_common import emit_json  # benchmarks/ is on sys.path when the script runs


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-units", type=int, default=500)
    p.add_argument("--n-items", type=int, default=10)
    p.add_argument("--sd", type=float, default=2.5)
    p.add_argument("--sigmas", default="1.5", help="comma-separated prior SDs besides the default")
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import arviz as az
    import bayesmix as bm
    from bayesmix.datasets.simulate_gom import simulate_gom

    sim = simulate_gom(args.n_units, args.n_items, 2, membership_cov=np.array([[args.sd ** 2]]), seed=args.seed)
    out = {"n_units": args.n_units, "n_items": args.n_items, "true_membership_sd": args.sd, "seed": args.seed,
           "uptime_before": os.popen("uptime").read().strip(), "runs": []}
    t = time.perf_counter()
    ml = bm.gom(sim.data, sim.items, 2).fit_ml(starts=10, seed=args.seed, progressbar=False)
    sd_row = ml.params.filter(like="membership_sd", axis=0).iloc[0]
    logits_ml = ml.params.filter(like="binary_logit", axis=0)["estimate"].to_numpy()
    out["ml"] = {"loglik": ml.loglik, "membership_sd": float(sd_row["estimate"]), "membership_sd_se": float(sd_row["se"]),
                 "seconds": time.perf_counter() - t, "max_abs_intercept": float(np.abs(logits_ml).max())}
    for sigma in [None] + [float(s) for s in args.sigmas.split(",") if s]:
        priors = None if sigma is None else {"binary_logit": {"mu": 0.0, "sigma": sigma}}
        mm = bm.gom(sim.data, sim.items, 2, priors=priors)
        t = time.perf_counter()
        idata = mm.sample(draws=args.draws, tune=args.tune, chains=2, sampler="nutpie", backend="jax",
                          random_seed=args.seed, progressbar=False, latent="integrated", convergence_checks=False)
        wall = time.perf_counter() - t
        post = idata["posterior"]
        sd = np.asarray(post["membership_sd"]).reshape(-1)
        logits = np.median(np.asarray(post["binary_logit"]).reshape(-1, logits_ml.size), axis=0)
        names = ["binary_logit", "class_intercept", "membership_sd"]
        ess = az.ess(idata, var_names=names, method="bulk")
        rhat = az.rhat(idata, var_names=names)
        out["runs"].append({
            "prior_sigma": 2.5 if sigma is None else sigma, "default": sigma is None,
            "membership_sd_median": float(np.median(sd)), "membership_sd_mean": float(sd.mean()),
            "membership_sd_q05_q95": [float(np.quantile(sd, 0.05)), float(np.quantile(sd, 0.95))],
            "max_abs_intercept_median_minus_ml": float(np.abs(logits - logits_ml).max()),
            "wall_s": wall, "min_ess_bulk": float(min(float(ess[v].min()) for v in ess.data_vars)),
            "max_rhat": float(max(float(rhat[v].max()) for v in rhat.data_vars)),
            "divergences": int(idata["sample_stats"]["diverging"].sum()),
            "load_after": os.getloadavg()[0]})
        print(json.dumps(out["runs"][-1]), flush=True)
    return emit_json(out, args.out)


if __name__ == "__main__":
    main()
