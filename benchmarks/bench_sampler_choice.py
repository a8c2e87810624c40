"""Measured cost of one log-density + gradient evaluation per NUTS backend, at a few sizes.

What ``sampler="auto"`` decides on (``bayesmix.inference.sampling.gradient_costs``)
for models above ``MEASURE_ABOVE`` elements per evaluation (``MixtureModel.work_size``;
smaller ones take nutpie unmeasured, with its jax backend where installed; the
"auto" column says which path a size takes):
the model's logp+gradient compiled by PyTensor in the mode each sampler runs it
in -- CVM (bayesmix's C mode; PyMC's own NUTS), NUMBA (what nutpie compiles)
and, with ``--jax``, JAX (nutpie's jax backend, numpyro) -- timed at the
model's initial point (median of repeats, after one warm-up call). With
``--pymc-overhead`` it also measures PyMC's per-leapfrog-step cost beyond the
gradient (a short PyMC run on the smallest model: sampling seconds / gradient
evaluations - gradient time), the constant ``PYMC_STEP_OVERHEAD`` that
``auto`` adds to PyMC's side.

    .venv/bin/python benchmarks/bench_sampler_choice.py                  # N = 2k, 20k, 200k
    .venv/bin/python benchmarks/bench_sampler_choice.py --sizes 2000 --jax --pymc-overhead

Data: ``bm.datasets.simulate_lca(n_units=N, n_items=10, n_classes=3, seed=1)``
(``--missing 0.05`` blanks cells). Not a test: nothing imports this file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import bayesmix as bm  # noqa: E402
from bayesmix.inference.sampling import MEASURE_ABOVE, choose_sampler, gradient_costs, nutpie_backend  # noqa: E402


def pymc_overhead(m, grad_seconds: float, iterations: int = 150) -> float:
    """Seconds per leapfrog step of PyMC's NUTS (CVM) beyond one gradient evaluation."""
    import pymc as pm
    with m.model:
        step = pm.NUTS(compile_kwargs={"mode": "CVM"})
    point = m.fit_map(starts=(2, 1), seed=1).point
    point = {m.model.rvs_to_values[rv].name: m.model.rvs_to_transforms[rv].forward(point[rv.name]).eval()
             if m.model.rvs_to_transforms.get(rv) is not None else point[rv.name] for rv in m.model.free_RVs}
    for _ in range(iterations):  # tune the step size first
        point, _ = step.step(point)
    step.stop_tuning()
    steps, start = 0, time.perf_counter()
    for _ in range(iterations):
        point, stats = step.step(point)
        stat = stats[0] if isinstance(stats, (list, tuple)) else stats
        steps += int(stat.get("n_steps", stat.get("tree_size", 0)))
    return (time.perf_counter() - start) / steps - grad_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,20000,200000")
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--missing", type=float, default=0.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jax", action="store_true", help="also time the JAX mode")
    parser.add_argument("--pymc-overhead", action="store_true")
    args = parser.parse_args()
    modes = ("CVM", "NUMBA") + (("JAX",) if args.jax else ())
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        sim = bm.datasets.simulate_lca(n_units=n, n_items=args.items, n_classes=args.classes,
                                       missing_rate=args.missing, seed=1)
        m = bm.lca(sim.data, items=sim.items, n_classes=args.classes)
        costs, compile_s = gradient_costs(m, modes, repeats=args.repeats, with_compile_time=True)
        choice = choose_sampler(costs)
        if m.work_size() <= MEASURE_ABOVE:
            choice = f"nutpie/{nutpie_backend()} unmeasured (cheaper measured: {choice})"
        rows.append((n, costs, compile_s, choice))
        cells = "  ".join(f"{mode} {1000 * costs[mode]:9.2f} ms (compile {compile_s[mode]:5.1f} s)" for mode in modes)
        print(f"N={n:>8} (work {m.work_size():,})  {cells}  -> auto: {choice}", flush=True)
        if args.pymc_overhead and n == min(int(s) for s in args.sizes.split(",")):
            print(f"  PyMC NUTS overhead per leapfrog step beyond the gradient: "
                  f"{1000 * pymc_overhead(m, costs['CVM']):.3f} ms", flush=True)
    print()
    print("| N | " + " | ".join(f"{mode} ms" for mode in modes) + " | auto |")
    print("|---|" + "---|" * len(modes) + "---|")
    for n, costs, _, choice in rows:
        print(f"| {n} | " + " | ".join(f"{1000 * costs[mode]:.2f}" for mode in modes) + f" | {choice} |")



if __name__ == "__main__":
    main()
