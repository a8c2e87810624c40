#!/usr/bin/env python
"""Benchmark: NUTS with the latent effects sampled vs integrated inside the density (issue 23 items 1-2).

Usage (from the repository root; one case per process, one heavy run at a time)::

    .venv/bin/python benchmarks/bench_integrated_nuts.py gom --latent integrated          # K = 2 logistic-normal
    .venv/bin/python benchmarks/bench_integrated_nuts.py gom --n-classes 3 --membership restricted
    .venv/bin/python benchmarks/bench_integrated_nuts.py fma-adhd --latent sampled,integrated
    .venv/bin/python benchmarks/bench_integrated_nuts.py fma-bfi --latent integrated

Cases:

- ``gom``: section 7's size, N = 7,326 persons x 17 binary items (``simulate_gom``
  with ``asb_like_profiles``, alpha = -1, Var(alpha_1j) = 2^2 I, seed 1: the data of
  ``bench_gom.py``); with ``--membership restricted`` the data follow the restricted
  model (eq. 35: Var = lambda lambda', lambda = 2 (1, 0.75, ...)): fitted to data with
  Var = 4 I, a one-factor membership has no best direction (a circle of equal fits,
  chains at R-hat 1.8-2.0 with equal log-likelihoods, 2026-12-08);
- ``fma-adhd``: FMA K = 2 (eq. 36-37) at the ADHD size, 425 x 18 binary items
  (``simulate_fma``, seed 1; the ADHD data are not bundled);
- ``fma-bfi``: FMA K = 2 on bfi's neuroticism items N1-N5 (``bm.datasets.load("bfi_en")``,
  ordinal 1-6).

Each latent setting runs in the same process, one after the other (same load):
the start values (``sample``'s default ``init``: a posterior-mode search, ``starts``
random starts), compile, sampling and post-processing are all inside ``wall``.
Reported per setting: ``wall`` (s, the whole ``m.sample`` call), ``sampling`` (s),
``min_ess`` (min bulk ESS over the structural parameters: every free RV but the
latent z), ``max_rhat`` (same), ``ess_per_s`` (min_ess / wall), divergences,
``peak_mb`` (the process' maximum RSS so far), ``load`` (1-minute load average
before and after). Writes ``benchmarks/results/bench_integrated_nuts-<case>-<timestamp>.json``
and prints one JSON line per setting. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build(args):
    import bayesmix as bm
    if args.case == "gom":
        from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom
        k = args.n_classes
        cov = 2.0**2 * np.eye(k - 1)
        if args.membership == "restricted":  # eq. 35's one factor: Sigma = lambda lambda' (rank one), lambda_1 > 0
            loading = 2.0 * 0.75 ** np.arange(k - 1)
            cov = np.outer(loading, loading)
        sim = simulate_gom(args.n_units, 17, k, profiles=asb_like_profiles(17, k),
                           class_intercept=np.full(k - 1, -1.0), membership_cov=cov, seed=1)
        return bm.gom(sim.data, sim.items, k, membership=args.membership)
    if args.case == "fma-adhd":
        from bayesmix.datasets.simulate_irt import simulate_fma
        sim = simulate_fma(425, 18, 2, class_intercept=[0.5], link="probit", seed=1)
        return bm.fma(sim.data, sim.items, 2)
    if args.case == "fma-bfi":
        df = bm.datasets.load("bfi_en")
        items = ["N1", "N2", "N3", "N4", "N5"]
        return bm.fma(df[items].dropna(), items, 2, item_types="ordinal")
    raise ValueError(args.case)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("case", choices=["gom", "fma-adhd", "fma-bfi"])
    p.add_argument("--latent", default="integrated", help="comma-separated: sampled,integrated")
    p.add_argument("--n-units", type=int, default=7326)
    p.add_argument("--n-classes", type=int, default=2)
    p.add_argument("--membership", default="logistic-normal")
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--starts", type=int, default=2)
    p.add_argument("--sampler", default="nutpie")
    p.add_argument("--backend", default="jax", help="nutpie backend (jax compiles in ~10 s, numba in ~50 s)")
    p.add_argument("--points", type=int, default=None, help="quadrature points (default: the model's)")
    p.add_argument("--low-rank", action="store_true",
                   help="nutpie's low-rank modified mass matrix (nuts={'low_rank_modified_mass_matrix': True})")
    p.add_argument("--adaptation", default=None,
                   help="nutpie's mass matrix adaptation: diag (its default), draw_diag, low_rank")
    p.add_argument("--eigval-cutoff", type=float, default=None,
                   help="nutpie's mass_matrix_eigval_cutoff (low_rank; its default 100, near 1 ~ a dense metric)")
    p.add_argument("--gamma", type=float, default=None, help="nutpie's mass_matrix_gamma (low_rank)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save-idata", default=None, help="write each setting's DataTree here (<path>-<latent>.nc)")
    args = p.parse_args(argv)

    import arviz as az
    from bayesmix import evaluate as bm_evaluate
    t0 = time.perf_counter()
    mm = build(args)
    build_s = time.perf_counter() - t0
    rows = []
    for latent in args.latent.split(","):
        kwargs = {"backend": args.backend} if args.sampler == "nutpie" else {}
        if args.low_rank:
            kwargs["nuts"] = {"low_rank_modified_mass_matrix": True}
        for key, value in (("adaptation", args.adaptation), ("mass_matrix_eigval_cutoff", args.eigval_cutoff),
                           ("mass_matrix_gamma", args.gamma)):
            if value is not None:
                kwargs.setdefault("nuts", {})[key] = value
        if latent == "integrated" and args.points is not None:
            kwargs["integration"] = {"points": args.points}
        load_before = os.getloadavg()[0]
        t = time.perf_counter()
        cpu0 = _cpu_s()
        idata = mm.sample(draws=args.draws, tune=args.tune, chains=args.chains, sampler=args.sampler,
                          random_seed=args.seed, progressbar=False, starts=args.starts, latent=latent,
                          convergence_checks=False, **kwargs)
        wall = time.perf_counter() - t
        cpu = _cpu_s() - cpu0
        names = [rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated]
        ess = az.ess(idata, var_names=names, method="bulk")
        rhat = az.rhat(idata, var_names=names)
        min_ess = float(min(float(ess[v].min()) for v in ess.data_vars))
        by_var = {v: round(float(ess[v].min()), 1) for v in ess.data_vars}
        rhat_by_var = {v: round(float(rhat[v].max()), 4) for v in rhat.data_vars}
        max_rhat = float(max(float(rhat[v].max()) for v in rhat.data_vars))
        row = {"case": args.case, "n_units": mm.n_units, "n_items": len(mm.data.items), "n_classes": mm.n_classes,
               "membership": args.membership if args.case == "gom" else None, "latent": latent,
               "sampler": args.sampler, "backend": args.backend if args.sampler == "nutpie" else None,
               "low_rank": bool(args.low_rank),
               "integration": bm_evaluate.integration_attr(idata.attrs),
               "chains": args.chains, "draws": args.draws, "tune": args.tune, "starts": args.starts,
               "seed": args.seed, "build_s": build_s, "wall_s": wall,
               "sampling_s": float(idata.attrs["bayesmix_sampling_seconds"]), "cpu_s": cpu,
               "adaptation": args.adaptation, "eigval_cutoff": args.eigval_cutoff, "gamma": args.gamma,
               "min_ess_bulk": min_ess, "max_rhat": max_rhat,
               "min_ess_by_variable": by_var, "max_rhat_by_variable": rhat_by_var, "ess_per_s": min_ess / wall, "ess_per_cpu_s": min_ess / cpu,
               "grad_evals": int(idata["sample_stats"]["n_steps"].sum()) if "n_steps" in idata["sample_stats"] else None,
               "divergences": int(idata["sample_stats"]["diverging"].sum()),
               "n_structural": int(sum(np.prod(idata["posterior"][n].shape[2:]) for n in names)),
               "peak_mb": _peak_mb(), "load_before": load_before, "load_after": os.getloadavg()[0],
               "uptime": os.popen("uptime").read().strip()}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if args.save_idata:
            idata.to_netcdf(f"{args.save_idata}-{latent}.nc")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    tag = args.case + (f"-K{args.n_classes}-{args.membership}" if args.case == "gom" else "") + (
        "-lowrank" if args.low_rank else "") + (f"-{args.adaptation}" if args.adaptation else "") + (
        f"-N{args.n_units}" if args.n_units != 7326 else "")
    path = out / f"bench_integrated_nuts-{tag}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
