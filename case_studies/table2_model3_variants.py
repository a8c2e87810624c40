"""Table 2, Model 3: does a richer estimation model explain the paper's larger MSE of alpha_1?

The section 2/5 notebook finds MSE(alpha_1) = 0.135 (Monte Carlo SE 0.021, 100 replications at population
starts) for Model 3 (between-level class, eq. 16-19, v = 0.1) against the paper's 0.26. One candidate cause is
the estimation model: the paper says "estimated with the correct specification" without saying whether the
covariance of the random intercept and slope, or class-specific residual variances, were free. This script
refits the *same* replications (``bm.montecarlo``'s seeds: ``SeedSequence(2006).spawn(100)``, the spec's
simulator, population starts, 10 x 10 Gauss-Hermite nodes) under three estimation models and writes one JSON
line per replication:

- ``diagonal``: the spec's model (Cov(mu_j, beta_j) = 0, as simulated; one residual variance);
- ``full``: the random intercept and slope correlated (one more parameter, started at correlation 0);
- ``full_unequal``: also class-specific residual variances (two more, started at 1).

Usage: ``python case_studies/table2_model3_variants.py FIRST LAST > out.jsonl`` (replications FIRST..LAST-1;
about 25 CPU-seconds per replication). The committed output is ``case_studies/agreement/
table2_model3_variants.jsonl``; summary: ``python case_studies/table2_model3_variants.py --summary FILE``.
"""
from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np

VARIANTS = {"diagonal": {}, "full": {"random_covariance": "full"},
            "full_unequal": {"random_covariance": "full", "equal_variances": False}}
SPEC, SEED, REPLICATIONS = "table2_model3", 2006, 100
INTEGRATION = {"method": "gauss-hermite", "points": 10}


def fit_variant(replication_seed: int, extra: dict) -> dict:
    """One replication refitted under one estimation model, started at the population values."""
    from bayesmix.inference.starts import user_starts
    from bayesmix.montecarlo import population_start, population_values
    from bayesmix.relabel import set_label_reference_at
    from bayesmix.spec import read_spec

    spec = read_spec(SPEC)
    spec.options.update(extra)
    sim = spec.simulate(seed=replication_seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = spec.build(sim.data)
        population = population_values(model, sim.truth)
        fill = {}
        if extra.get("random_covariance") == "full":
            fill["random_chol"] = 0.0        # replaced below by the packed Cholesky factor at correlation 0
        if extra.get("equal_variances") is False:
            fill.update({"residual_sd[class1]": 1.0, "residual_sd[class2]": 1.0})
        start = population_start(model, population, fill)
        if "random_chol" in fill:           # LKJCholeskyCov packs (L00, L10, L11)
            start["random_chol"] = np.array([population["random_sd[intercept]"], 0.0,
                                             population["random_sd[slope[x]]"]])
        set_label_reference_at(model, user_starts(model, start)[0], INTEGRATION)
        t0 = time.process_time()
        ml = model.fit_ml(starts=0, start=start, integration=INTEGRATION, progressbar=False)
    name = next(n for n in ml.params.index if n.startswith("class_intercept"))
    return {"estimate": float(ml.params.loc[name, "estimate"]), "se": float(ml.params.loc[name, "se"]),
            "loglik": float(ml.loglik), "converged": bool(ml.converged), "n_params": int(len(ml.params)),
            "cpu_seconds": time.process_time() - t0,
            "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught if "BLAS" not in str(w.message)})}


def summarize(path: str) -> None:
    rows = [json.loads(line) for line in open(path)]
    print(f"{len(rows)} replications (population alpha_1 = 0)")
    for variant in VARIANTS:
        a = np.array([r[variant]["estimate"] for r in rows])
        se = np.array([r[variant]["se"] for r in rows])
        print(f"{variant:13s} MSE {np.mean(a ** 2):.3f} (MC SE {(a ** 2).std(ddof=1) / np.sqrt(len(a)):.3f}), "
              f"SD {a.std(ddof=1):.3f}, mean SE {np.nanmean(se):.3f}")
    for variant in ("full", "full_unequal"):
        d = np.array([r[variant]["estimate"] ** 2 - r["diagonal"]["estimate"] ** 2 for r in rows])
        print(f"paired MSE difference {variant} - diagonal: {d.mean():.3f} (SE {d.std(ddof=1) / np.sqrt(len(d)):.3f})")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--summary"]:
        summarize(argv[1])
        return
    first, last = int(argv[0]), int(argv[1])
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(SEED).spawn(REPLICATIONS)]
    for replication in range(first, last):
        row = {"replication": replication, "seed": seeds[replication]}
        row.update({variant: fit_variant(seeds[replication], extra) for variant, extra in VARIANTS.items()})
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
