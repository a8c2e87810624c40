#!/usr/bin/env python
"""Check: the Dirichlet GoM's exact Gauss-Jacobi rule against importance sampling (issue 26, stop note).

Usage (from the repository root)::

    .venv/bin/python benchmarks/gom_dirichlet_exact.py recovery --out benchmarks/results/gom_dirichlet_exact_recovery.json
    .venv/bin/python benchmarks/gom_dirichlet_exact.py sbc --out benchmarks/results/gom_dirichlet_exact_sbc.json
    .venv/bin/python benchmarks/gom_dirichlet_exact.py cost --out benchmarks/results/gom_dirichlet_exact_cost.json
    .venv/bin/python benchmarks/gom_dirichlet_exact.py nuts --out benchmarks/results/gom_dirichlet_exact_nuts.json

- ``recovery``: ``simulate_gom`` (K = 2, 17 binary items, default profiles) at known
  concentrations a = (0.5, 0.2), (2, 1), (0.1, 0.1), N = 1,500, seeds 1-3; ``fit_ml(starts=4,
  seed=1)`` with the default rule (``"gauss-jacobi"``) and with importance sampling
  (``{"method": "monte-carlo"}``, 1,000 nodes) on the same data; the concentration estimates,
  SEs, z = (estimate - truth) / SE (classes aligned to the truth by the profiles), and the LL
  of each fit evaluated exactly.
- ``sbc``: the first 6 data sets of the gom_dirichlet SBC case (80 persons x 5 items, the
  recipe of :func:`bayesmix.sbc.run_sbc` with seed 2026 and 90 replications, as the powered
  run) fitted by ``fit_ml(starts=4, seed=1)`` with both rules.
- ``cost``: CPU seconds per log-likelihood + gradient evaluation (compiled, mean of 5 after a
  warm call) at N = 7,326 x 17 binary items (``asb_like_profiles``; K = 2 and 3) and on bfi's
  2,800 x 25 ordinal items (K = 2 and 3), per rule, side by side in one process.
- ``nuts``: NUTS with the memberships integrated exactly (``latent="integrated"``) vs sampled
  (standardized log-ratios w) on 3 data sets of the SBC case's size (30 persons x 5 items, SBC fit
  settings): CPU s per fit, min bulk ESS, max R-hat.

Each run prints and writes one JSON object. Not a test: nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np

import bayesmix as bm
from bayesmix._compile import function
from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom

RULES = {"gauss-jacobi": None, "monte-carlo": {"method": "monte-carlo"}}


def _loglik_function(mm, integration=None):
    rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    fn = function(rvs, mm.integrated_loglik(integration).sum())
    return lambda point: float(fn(*[point[rv.name] for rv in rvs]))


def _fit(data, items, rule, n_classes=2):
    mm = bm.gom(data, items, n_classes, membership="dirichlet", integration=RULES[rule])
    start = time.process_time()
    fit = mm.fit_ml(starts=4, seed=1, progressbar=False)
    cpu = time.process_time() - start
    params = fit.params
    a = params.filter(like="membership_concentration", axis=0)
    beta = params["estimate"].filter(like="binary_logit").to_numpy().reshape(n_classes, -1)
    point = {"binary_logit": beta, "membership_concentration": a["estimate"].to_numpy()}
    return mm, fit, a, beta, point, cpu


def recovery(args) -> dict:
    rows = []
    for truth in ([0.5, 0.2], [2.0, 1.0], [0.1, 0.1]):
        for seed in (1, 2, 3):
            sim = simulate_gom(1500, 17, 2, membership="dirichlet", concentration=truth, seed=seed)
            exact_ll = None
            for rule in RULES:
                mm, fit, a, beta, point, cpu = _fit(sim.data, sim.items, rule)
                swap = np.abs(beta - sim.truth["binary_logit"]).sum() > np.abs(beta[::-1] - sim.truth["binary_logit"]).sum()
                est, se = a["estimate"].to_numpy(), a["se"].to_numpy()
                if swap:
                    est, se = est[::-1], se[::-1]
                if exact_ll is None:
                    exact_mm = mm
                    exact_ll = _loglik_function(exact_mm)
                    truth_ll = exact_ll({"binary_logit": sim.truth["binary_logit"],
                                         "membership_concentration": np.array(truth)})
                row = {"truth": truth, "seed": seed, "rule": rule, "estimate": est.tolist(), "se": se.tolist(),
                       "z": ((est - truth) / se).tolist(), "fit_loglik": fit.loglik,
                       "exact_loglik_at_estimate": exact_ll(point), "exact_loglik_at_truth": truth_ll,
                       "converged": bool(fit.converged), "cpu_seconds": round(cpu, 1),
                       "load": round(os.getloadavg()[0], 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return {"rows": rows}


def sbc_data_sets(n: int = 6, seed: int = 2026, replications: int = 90):
    """The first ``n`` (theta, data) of run_sbc(make_case('gom_dirichlet'), replications, seed=seed), without fits."""
    from sbc_refit import data_sets

    from bayesmix import sbc
    return data_sets(sbc.make_case("gom_dirichlet"), n, replications, seed)


def sbc_refits(args) -> dict:
    rows = []
    for r, (theta, data) in enumerate(sbc_data_sets()):
        items = list(data.columns)
        truth = np.asarray(theta["membership_concentration"], float)
        lca = bm.lca(data, items, 2, link="probit").fit_ml(starts=4, seed=1, progressbar=False)
        exact_ll = _loglik_function(bm.gom(data, items, 2, membership="dirichlet"))
        truth_ll = exact_ll({"binary_logit": np.asarray(theta["binary_logit"]), "membership_concentration": truth})
        for rule in RULES:
            row = {"replication": r, "rule": rule, "truth": truth.tolist(), "exact_loglik_at_truth": truth_ll,
                   "lca_loglik": lca.loglik}
            try:
                mm, fit, a, beta, point, cpu = _fit(data, items, rule)
            except Exception as err:  # recorded, not hidden
                row["error"] = f"{type(err).__name__}: {err}"
            else:
                row.update({"estimate": a["estimate"].tolist(), "se": a["se"].tolist(), "fit_loglik": fit.loglik,
                            "exact_loglik_at_estimate": exact_ll(point), "converged": bool(fit.converged),
                            "ran_off": bool(np.any(a["estimate"].to_numpy() > 1e3)),
                            "lca_limit": bool(np.all(a["estimate"].to_numpy() < 1e-3)), "cpu_seconds": round(cpu, 1)})
            row["load"] = round(os.getloadavg()[0], 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return {"sbc_seed": 2026, "replications_recipe": 90, "rows": rows}


def cost(args) -> dict:
    import pytensor.tensor as pt

    from bayesmix import sbc
    rows = []
    sets = []
    for k in (2, 3):
        profiles = asb_like_profiles(17, k)
        sim = simulate_gom(7326, 17, k, membership="dirichlet", profiles=profiles, concentration=[0.5] * k, seed=1)
        sets.append((f"asb-size 7326 x 17 binary, K={k}", sim.data, sim.items, k))
    bfi = bm.datasets.load("bfi")
    bfi_items = [c for c in bfi.columns if c[0] in "ACENO" and c[1:].isdigit()][:25]
    for k in (2, 3):
        sets.append((f"bfi 2800 x 25 ordinal, K={k}", bfi, bfi_items, k))
    for label, data, items, k in sets:
        for rule, integration in RULES.items():
            mm = bm.gom(data, items, k, membership="dirichlet", integration=integration)
            rvs = [rv for rv in mm.model.free_RVs if rv.name not in mm.integrated]
            total = mm.integrated_loglik().sum()
            start = time.process_time()
            fn = function(rvs, [total, *pt.grad(total, rvs)], size=mm.work_size())
            draw = {**sbc.prior_draws(mm, 1, seed=0)[0], "membership_concentration": np.full(k, 0.5)}
            point = [np.asarray(draw[rv.name]) for rv in rvs]
            fn(*point)
            compile_cpu = time.process_time() - start
            start = time.process_time()
            for _ in range(5):
                value = fn(*point)[0]
            per_eval = (time.process_time() - start) / 5
            from bayesmix.inference.quadrature import n_nodes
            nodes = mm.rule()[0]
            row = {"data": label, "rule": rule, "points": mm.integration["points"],
                   "nodes": n_nodes(nodes),
                   "patterns": None if mm.structure.patterns is None else mm.structure.patterns.n_patterns,
                   "loglik_at_point": float(value), "cpu_s_per_eval": round(per_eval, 4),
                   "compile_and_first_cpu_s": round(compile_cpu, 1), "load": round(os.getloadavg()[0], 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return {"rows": rows}


def nuts(args) -> dict:
    """sample(latent="integrated") (exact rule) vs the sampled w form on gom_dirichlet SBC-size data sets."""
    import arviz as az
    from bayesmix import sbc
    rows = []
    case = sbc.make_case("gom_dirichlet", n_units=30, n_items=5)
    rng = np.random.default_rng([2026, 0])
    draws = sbc.prior_draws(case.build(case.template(np.random.default_rng([2026, 1]))), 20, seed=2026000)
    done = 0
    for theta in draws:
        data = case.simulate(theta, rng)
        try:
            case.build(data)
        except ValueError:
            continue
        for latent in ("sampled", "integrated"):
            mm = case.build(data)
            start = time.process_time()
            idata = mm.sample(draws=100, tune=200, chains=2, sampler="pymc", cores=1, random_seed=done + 1,
                              progressbar=False, starts=3, latent=latent)
            cpu = time.process_time() - start
            post = idata["posterior"].dataset[["membership_concentration", "binary_logit"]]
            ess = az.ess(post, method="bulk")
            rhat = az.rhat(post)
            row = {"data_set": done, "latent": latent, "cpu_seconds": round(cpu, 1),
                   "min_ess_bulk": float(min(float(ess[v].min()) for v in ess.data_vars)),
                   "ess_bulk_concentration": [float(x) for x in np.ravel(ess["membership_concentration"])],
                   "max_rhat": float(max(float(rhat[v].max()) for v in rhat.data_vars)),
                   "divergences": int(idata["sample_stats"]["diverging"].sum()),
                   "load": round(os.getloadavg()[0], 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        done += 1
        if done == args.data_sets:
            break
    return {"settings": "pymc NUTS 2 chains x (200 tune + 100 draws), 3-start mode search, 30 persons x 5 items",
            "rows": rows}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["recovery", "sbc", "cost", "nuts"])
    parser.add_argument("--out")
    parser.add_argument("--data-sets", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    start = time.time()
    result = {"what": args.what, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "load_before": round(os.getloadavg()[0], 1),
              **{"recovery": recovery, "sbc": sbc_refits, "cost": cost, "nuts": nuts}[args.what](args)}
    result["wall_seconds"] = round(time.time() - start, 1)
    result["load_after"] = round(os.getloadavg()[0], 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
