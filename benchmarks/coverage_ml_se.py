"""Coverage of ML 95% Wald intervals (model-based and robust SEs) over simulated replications.

Not a test (takes minutes): python benchmarks/coverage_ml_se.py --reps 100
Prints, per SE type, the share of replications whose interval covers the
true value, over all parameters of a 2-class binary LCA with a covariate.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import bayesmix as bm


def aligned_truth(sim, estimate):
    truth = np.concatenate([sim.truth["class_intercept"], sim.truth["class_slope"].ravel(),
                            sim.truth["binary_logit"].ravel()])
    swapped = np.concatenate([-sim.truth["class_intercept"], -sim.truth["class_slope"].ravel(),
                              sim.truth["binary_logit"][::-1].ravel()])
    return swapped if np.sum((estimate - swapped) ** 2) < np.sum((estimate - truth) ** 2) else truth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--n-units", type=int, default=500)
    args = parser.parse_args()
    covered = {"se": [], "se_robust": []}
    start = time.perf_counter()
    for rep in range(args.reps):
        sim = bm.datasets.simulate_lca(n_units=args.n_units, n_items=6, n_classes=2, class_slope=[[0.7]],
                                       seed=1000 + rep)
        m = bm.lca(sim.data, items=sim.items, n_classes=2, covariates=sim.covariates)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ml = m.fit_ml(starts=8, seed=rep)
        est = ml.params["estimate"].to_numpy()
        truth = aligned_truth(sim, est)
        for kind in covered:
            se = ml.params[kind].to_numpy()
            covered[kind].append(np.abs(est - truth) <= 1.96 * se)
    elapsed = time.perf_counter() - start
    print(f"{args.reps} replications of N={args.n_units}, {elapsed:.0f} s")
    for kind, hits in covered.items():
        hits = np.array(hits)
        print(f"{kind:10s} coverage of 95% intervals: overall {hits.mean():.3f}; "
              f"per parameter min {hits.mean(0).min():.2f} max {hits.mean(0).max():.2f}")


if __name__ == "__main__":
    main()
