"""SBC negative controls at the issue's effect sizes (issue 26.2): does SBC reject real model bugs, and with how many
replications?

Three planted defects (bayesmix.sbc_controls.negative_control), each a case SBC must reject:

- ``shift``: mixture regression (eq. 19), 80 units: data simulated with the class-1 slope 1 prior SD (1.0) too
  high, the truth recorded at theta';
- ``prior_x2``: two-level LCA with a random class-logit intercept (Model 6), 5 clusters x 4 units x 3 items,
  where the random-intercept SD is prior-dominated (5 clusters): fitted prior HalfNormal(5) against the
  HalfNormal(2.5) the truths come from (a prior scale only shows where the posterior depends on the prior);
- ``jacobian``: the same case with the log-Jacobian of the random-intercept SD dropped from the fitted density.

For each: the SBC verdict (Bonferroni over quantities x 2 tests at 0.05, as ``sbc.verdict``), the p-values of
the planted quantity, the defect's effect size measured from the fits (``sbc_controls.effect_size``: mean and
SD of z = (truth - posterior mean) / posterior SD), and the replications at which ``sbc.power`` with that effect
size and the case's Bonferroni divisor reaches 0.8.

Run: ``PYTHONPATH=. python benchmarks/sbc_negative_controls.py [name ...] [--replications R]``
Writes ``benchmarks/results/sbc_negative_controls.json`` (merged over runs) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from bayesmix import sbc
from bayesmix.sbc_controls import effect_size, negative_control

OUT = Path(__file__).parent / "results" / "sbc_negative_controls.json"
FIT = dict(draws=100, tune=200, chains=2, n_posterior=50, starts=3)
ALPHA = 0.05


def _tiny_random_intercept():
    return sbc.make_case("lca_random_intercept", n_clusters=5, cluster_size=4, n_items=3)


CONTROLS = {
    "shift": (lambda: negative_control(sbc.make_case("mixture_regression"), "simulator_shift",
                                       variable="regression_slope", index=(0, 0), shift=1.0, sd=1.0),
              "slope[class1]"),
    "prior_x2": (lambda: negative_control(_tiny_random_intercept(), "prior_scale", variable="random_sd", factor=2.0),
                 "random_sd"),
    "jacobian": (lambda: negative_control(_tiny_random_intercept(), "drop_jacobian", variable="random_sd"),
                 "random_sd"),
}


def replications_for_power(bias: float, scale: float, n_tests: int, target: float = 0.8,
                           grid=(5, 8, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200)) -> tuple[int | None, dict]:
    """Smallest n in ``grid`` whose ECDF-test power (sbc.power, Bonferroni ``n_tests``) reaches ``target``."""
    curve = {}
    for n in grid:
        p = sbc.power(n, bias=bias, scale=scale, alpha=ALPHA, n_tests=n_tests, n_simulations=300)
        curve[n] = max(p["ecdf"], p["chi2"])
        if curve[n] >= target:
            return n, curve
    return None, curve


def run(name: str, replications: int, seed: int = 1) -> dict:
    make, quantity = CONTROLS[name]
    control = make()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sbc.run_sbc(control, replications, seed=seed, **FIT)
    seconds = time.perf_counter() - start
    table = sbc.uniformity_table(result)
    decision, adjusted = sbc.verdict(table, alpha=ALPHA)
    effect = effect_size(result, quantity)
    n_tests = 2 * len(table)
    needed, curve = replications_for_power(effect["bias"], effect["scale"], n_tests)
    return {"control": name, "case": control.name, "description": control.description, "quantity": quantity,
            "replications": replications, "seed": seed, "fit": FIT, "verdict": decision, "bonferroni_p": adjusted,
            "p_chi2": float(table.loc[quantity, "p_chi2"]), "p_ecdf": float(table.loc[quantity, "p_ecdf"]),
            "mean_u": effect["mean_u"], "effect_bias_sd": effect["bias"], "effect_scale": effect["scale"],
            "n_tests": n_tests, "replications_for_power_0.8": needed,
            "power_curve": {str(k): v for k, v in curve.items()},
            "seconds": seconds, "seconds_per_fit": float(result.fits["seconds"].mean()),
            "fits_rhat_over_1.05": int((result.fits["max_rhat"] > 1.05).sum()),
            "divergent_fits": int((result.fits["divergences"] > 0).sum()),
            "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(CONTROLS))
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    stored = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in args.names:
        row = run(name, args.replications, args.seed)
        stored[name] = row
        OUT.write_text(json.dumps(stored, indent=1))
        print(json.dumps({k: v for k, v in row.items() if k not in ("power_curve", "fit", "description")}),
              flush=True)
    print("\n| control | case | replications | verdict | Bonferroni p | planted quantity p chi2 / ECDF | mean u | "
          "effect (bias SD, scale) | replications for power 0.8 | s per fit |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in stored.values():
        print(f"| {row['control']} | {row['case']} | {row['replications']} | {row['verdict']} | "
              f"{row['bonferroni_p']:.2g} | {row['p_chi2']:.2g} / {row['p_ecdf']:.2g} | {row['mean_u']:.2f} | "
              f"{row['effect_bias_sd']:.2f}, {row['effect_scale']:.2f} | {row['replications_for_power_0.8']} | "
              f"{row['seconds_per_fit']:.1f} |")


if __name__ == "__main__":
    main()
