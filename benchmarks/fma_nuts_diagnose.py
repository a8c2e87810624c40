#!/usr/bin/env python
"""FMA NUTS at the ADHD size (425 x 18, K = 2), factors integrated: what limits the ESS (issue 23 item 1).

Usage (repository root; one configuration per call, each appends one JSON row)::

    .venv/bin/python benchmarks/fma_nuts_diagnose.py --adaptation diag --tag default
    .venv/bin/python benchmarks/fma_nuts_diagnose.py --adaptation low_rank --cutoff 2 --tag low_rank

The data are ``bench_integrated_nuts.py fma-adhd``'s (``simulate_fma`` seed 1,
probit, class intercept 0.5). ``m.sample(latent="integrated", sampler="nutpie")``
with the given metric adaptation, quadrature points, backend and start
(``--init map``: the default posterior-mode search; ``ml``: ``fit_ml`` first,
the chains start at its point). Per run: min bulk ESS by variable and the
lowest few elements, R-hat, gradient evaluations (``n_steps``), tree depth,
step size, CPU seconds of the process (both chain threads), the per-chain
means of the class intercept and first loading (label switching / sign fold),
the number of reflected draws, and the posterior correlations of the
lowest-ESS elements with the rest (ridges). Appends to
``benchmarks/results/fma_nuts_diagnose.json``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def build(case: str):
    """The two FMA data sets of profile_fma_density.py (one definition): fma-adhd / fma-bfi."""
    from profile_fma_density import build as build_case  # benchmarks/ is on sys.path when run as a script
    return build_case("adhd" if case == "fma-adhd" else "bfi")


def flat_draws(post, names):
    """(chain, draw, P) array and element labels."""
    cols, labels = [], []
    for n in names:
        a = np.asarray(post[n])
        a = a.reshape(a.shape[0], a.shape[1], -1)
        for j in range(a.shape[2]):
            cols.append(a[:, :, j])
            labels.append(f"{n}[{j}]")
    return np.stack(cols, axis=-1), labels


def main(argv=None):
    from bayesmix.evaluate import integration_attr
    p = argparse.ArgumentParser()
    p.add_argument("--case", default="fma-adhd", choices=["fma-adhd", "fma-bfi"])
    p.add_argument("--adaptation", default="diag")
    p.add_argument("--cutoff", type=float, default=None)
    p.add_argument("--points", type=int, default=None)
    p.add_argument("--method", default=None)
    p.add_argument("--backend", default="jax")
    p.add_argument("--init", default="map", choices=["map", "ml"])
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tag", default="")
    p.add_argument("--save", default=None, help="write the draws (npz) here")
    args = p.parse_args(argv)

    import arviz as az
    mm = build(args.case)
    kwargs = {"backend": args.backend}
    if args.adaptation != "diag":
        kwargs["nuts"] = {"adaptation": args.adaptation}
        if args.cutoff is not None:
            kwargs["nuts"]["mass_matrix_eigval_cutoff"] = args.cutoff
    integration = {}
    if args.points is not None:
        integration["points"] = args.points
    if args.method is not None:
        integration["method"] = args.method
    if integration:
        kwargs["integration"] = integration
    load0, cpu0, t0 = os.getloadavg()[0], _cpu_s(), time.perf_counter()
    if args.init == "ml":
        mm.fit_ml(starts=2, seed=args.seed, progressbar=False)
    idata = mm.sample(draws=args.draws, tune=args.tune, chains=args.chains, sampler="nutpie",
                      random_seed=args.seed, progressbar=False, starts=2, latent="integrated",
                      convergence_checks=False, **kwargs)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    names = [rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated]
    post = idata["posterior"].to_dataset()
    ess = az.ess(idata, var_names=names, method="bulk")
    rhat = az.rhat(idata, var_names=names)
    x, labels = flat_draws(post, names)
    ess_flat = np.concatenate([np.asarray(ess[n]).ravel() for n in names])
    rhat_flat = np.concatenate([np.asarray(rhat[n]).ravel() for n in names])
    low = np.argsort(ess_flat)[:5]
    z = x.reshape(-1, x.shape[-1])
    corr = np.corrcoef(z, rowvar=False)
    ridges = {}
    for i in low:
        c = corr[i].copy()
        c[i] = 0
        top = np.argsort(-np.abs(c))[:4]
        ridges[labels[i]] = {labels[j]: round(float(c[j]), 3) for j in top}
    eig = np.linalg.eigvalsh(np.corrcoef(z, rowvar=False))
    stats = idata["sample_stats"].to_dataset()
    n_steps = np.asarray(stats["n_steps"])
    depth = np.asarray(stats["depth"]) if "depth" in stats else None
    step = np.asarray(stats["step_size"]) if "step_size" in stats else None
    chain_means = {n: np.asarray(post[n]).reshape(post.sizes["chain"], post.sizes["draw"], -1).mean(axis=1)[:, :3]
                   .round(3).tolist() for n in names if n.startswith(("class_intercept", "factor_loading_positive"))}
    draws_total = args.chains * args.draws
    row = {"case": args.case, "tag": args.tag, "adaptation": args.adaptation, "cutoff": args.cutoff,
           "integration": integration_attr(idata.attrs), "backend": args.backend,
           "init": args.init, "chains": args.chains, "draws": args.draws, "tune": args.tune, "seed": args.seed,
           "wall_s": round(wall, 1), "sampling_s": round(float(idata.attrs["bayesmix_sampling_seconds"]), 1),
           "cpu_s": round(cpu, 1),
           "min_ess_bulk": round(float(ess_flat.min()), 1), "max_rhat": round(float(rhat_flat.max()), 4),
           "ess_per_draw": round(float(ess_flat.min()) / draws_total, 4),
           "grad_evals": int(n_steps.sum()), "grad_evals_per_draw": round(float(n_steps.mean()), 1),
           "grad_evals_per_draw_by_chain": n_steps.mean(axis=1).round(1).tolist(),
           "min_ess_per_1000_grad": round(1000 * float(ess_flat.min()) / float(n_steps.sum()), 3),
           "mean_depth": None if depth is None else round(float(depth.mean()), 2),
           "step_size_by_chain": None if step is None else step[:, -1].round(4).tolist(),
           "divergences": int(np.asarray(stats["diverging"]).sum()),
           "reflected_draws": idata.attrs.get("bayesmix_reflected_draws"),
           "min_ess_by_variable": {n: round(float(np.min(ess[n])), 1) for n in names},
           "max_rhat_by_variable": {n: round(float(np.max(rhat[n])), 4) for n in names},
           "lowest_ess_elements": {labels[i]: [round(float(ess_flat[i]), 1), round(float(rhat_flat[i]), 4)]
                                   for i in low},
           "correlations_of_lowest": ridges,
           "posterior_corr_eigenvalues_min_max": [round(float(eig[0]), 5), round(float(eig[-1]), 2)],
           "chain_means": chain_means,
           "load_before": load0, "load_after": os.getloadavg()[0], "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(json.dumps(row), flush=True)
    out = Path(__file__).parent / "results" / "fma_nuts_diagnose.json"
    rows = json.loads(out.read_text()) if out.exists() else []
    rows.append(row)
    out.write_text(json.dumps(rows, indent=1))
    if args.save:  # the draws of the structural parameters and the sampler statistics (npz)
        np.savez(args.save, **{n: np.asarray(post[n]) for n in names},
                 **{f"stat_{k}": np.asarray(v) for k, v in stats.items() if np.asarray(v).dtype.kind in "fiub"})


if __name__ == "__main__":
    main()
