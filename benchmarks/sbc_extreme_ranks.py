"""Refit SBC replications whose truth sits at an extreme rank, and say whether the posterior or the sampler put it there.

    python benchmarks/sbc_extreme_ranks.py <case> <rep,rep,...> <replications of the run> [quantity]
        ['{"draws": 1000, "tune": 1000, "chains": 4}']

Each replication is rebuilt as :func:`bayesmix.sbc.run_sbc` made it (``sbc_refit.rebuild``), refitted with the
run's settings (or the JSON overrides) and the truth aligned exactly as ``_fit_replication`` aligns it. Printed per
replication: the truth's rank of ``quantity`` among the run's L thinned draws and its quantile among all draws,
each chain's mean of the quantity, the relabeled draws, and the model's log density (unconstrained space, Jacobian
included: the ``lp`` of ``sample_stats``) at the truth (its own cluster effects) against the chains' lp. A truth
whose lp lies far above every draw's is posterior mass the chains never reached (a sampler problem); a truth inside
the draws' lp range at an extreme rank is what a wrong posterior (model, prior or alignment) would give.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def truth_logp(mm, theta: dict) -> float:
    """The model's log density with Jacobian at the truth (value variables from the constrained truth)."""
    model = mm.model
    point = {}
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        transform = model.rvs_to_transforms.get(rv)
        x = np.asarray(theta[rv.name], dtype=float)
        point[value.name] = x if transform is None else np.asarray(transform.forward(x, *rv.owner.inputs).eval())
    return float(model.compile_logp(jacobian=True)(point))


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    warnings.simplefilter("ignore")
    from bayesmix import sbc
    from bayesmix.inference.labels import align_labels
    from bayesmix.inference.sampling import complete_point
    from sbc_refit import rebuild, refit

    case_name, reps, n = argv[0], [int(r) for r in argv[1].split(",")], int(argv[2])
    quantity = argv[3] if len(argv) > 3 and not argv[3].startswith("{") else "slope[class2]"
    overrides = json.loads(argv[-1]) if argv[-1].startswith("{") else {}
    for r in reps:
        case, fit, theta, data, seed = rebuild(case_name, r, n)
        cpu = time.process_time()
        mm, point, idata = refit(case, fit, data, seed, **overrides)
        cpu = time.process_time() - cpu
        free = {rv.name for rv in mm.model.free_RVs}
        reference = complete_point(mm, {k: v for k, v in point.items() if k in free})
        posterior = idata["posterior"].to_dataset()
        prior_ds = sbc._dataset(mm, theta, list(posterior.data_vars))
        prior_ds, swapped = align_labels(mm, prior_ds, reference)
        truth = case.quantities(sbc._stack(prior_ds))
        n_post = fit["n_posterior"] if not overrides else posterior.sizes["chain"] * (fit["n_posterior"] // 2)
        n_post = n_post - n_post % posterior.sizes["chain"]
        thinned = case.quantities(sbc._stack(sbc._thin(posterior, n_post)))
        everything = case.quantities(sbc._stack(posterior))
        t = float(np.ravel(truth[quantity])[0])
        per_chain = np.asarray(everything[quantity]).reshape(posterior.sizes["chain"], -1)
        lp = idata["sample_stats"]["lp"].to_numpy()
        lp_truth = truth_logp(mm, theta)
        attrs = idata.attrs
        print(f"== rep {r} ({json.dumps(overrides) or 'run settings'}) cpu {cpu:.1f} s, max R-hat "
              f"{attrs.get('bayesmix_max_rhat'):.3f}, min ESS {attrs.get('bayesmix_min_ess_bulk'):.1f}, relabeled "
              f"{attrs.get('bayesmix_relabeled_draws')}, truth relabeled {swapped}")
        print(f"  {quantity}: truth {t:.3f}, rank {int((np.asarray(thinned[quantity]) < t).sum())} of {n_post}, "
              f"quantile {float((np.asarray(everything[quantity]) < t).mean()):.3f}; chain means "
              f"{np.round(per_chain.mean(1), 3).tolist()}, chain 2.5-97.5% "
              f"{[np.round(np.percentile(c, [2.5, 97.5]), 2).tolist() for c in per_chain]}")
        print("  truth:", {k: round(float(np.ravel(v)[0]), 3) for k, v in truth.items()})
        print("  posterior means:", {k: round(float(np.mean(v)), 3) for k, v in everything.items()})
        print(f"  lp: truth {lp_truth:.1f}; chains mean {np.round(lp.mean(1), 1).tolist()}, max "
              f"{np.round(lp.max(1), 1).tolist()}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
