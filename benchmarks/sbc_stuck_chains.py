"""What separates the chains of stuck SBC fits: refit replications of a ``benchmarks/sbc_all.py`` case, per chain.

    python benchmarks/sbc_stuck_chains.py <case> <rep,rep,...> <replications of the run> ['{"draws": 300, "tune": 600}']

Each replication is rebuilt as :func:`bayesmix.sbc.run_sbc` made it (``sbc_refit.rebuild``: the prior draw, data
and fit seed) and refitted with the run's settings (a JSON of overrides replaces them, e.g. longer chains or
``{"latent": "integrated"}``). Printed: max R-hat, min bulk ESS, CPU s, each chain's mean log density (``lp``; a chain
far below the other sits in a minor mode), the truth and the start, chain means of every variable with R-hat > 1.05,
and for random-intercept regressions b_k + mean(u) per chain (equal while b_k differs: the intercept / cluster-mean
ridge). The output behind ``benchmarks/results/sbc/checks/*_stuck_refits.txt``.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _short(values: dict) -> dict:
    return {k: np.round(np.asarray(v), 3).ravel()[:4].tolist() for k, v in values.items() if not k.endswith("_z")}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    warnings.simplefilter("ignore")
    import arviz as az
    from sbc_refit import rebuild, refit

    case_name, reps, n = argv[0], [int(r) for r in argv[1].split(",")], int(argv[2])
    overrides = json.loads(argv[3]) if len(argv) > 3 else {}
    for r in reps:
        case, fit, theta, data, seed = rebuild(case_name, r, n)
        cpu = time.process_time()
        _, point, idata = refit(case, fit, data, seed, **overrides)
        cpu = time.process_time() - cpu
        attrs = idata.attrs
        print(f"== rep {r} seed {seed} cpu {cpu:.1f} s max R-hat {attrs.get('bayesmix_max_rhat'):.3f} min ESS "
              f"{attrs.get('bayesmix_min_ess_bulk'):.1f} treedepth hits {attrs.get('bayesmix_max_treedepth_hits')} "
              f"div {attrs.get('bayesmix_divergences')} relabeled {attrs.get('bayesmix_relabeled_draws')}")
        lp = idata["sample_stats"]["lp"].to_numpy()
        print("  lp per chain mean/sd", np.round(lp.mean(1), 1), np.round(lp.std(1), 1))
        print("  truth:", _short(theta))
        print("  start:", _short(point))
        post = idata["posterior"].to_dataset()
        rhat = az.rhat(post)
        for name in post.data_vars:
            values = np.asarray(rhat[name]).ravel()
            means = post[name].mean("draw").to_numpy().reshape(post.sizes["chain"], -1)
            if values.size and np.nanmax(values) > 1.05:
                print(f"  {name}: R-hat {np.round(values[:10], 2).tolist()} chain means "
                      f"{np.round(means[:, :10], 2).tolist()}")
        if "random_z" in post and "regression_intercept" in post:
            b = post["regression_intercept"].to_numpy()
            u = post["random_z"].to_numpy()[..., 0] * post["random_sd"].to_numpy()[..., :1]
            truth = theta["regression_intercept"] + theta["random_sd"][0] * theta["random_z"][:, 0].mean()
            print("  b + mean u per chain:", np.round((b + u.mean(-1, keepdims=True)).mean(1), 3).tolist(),
                  " mean u:", np.round(u.mean(-1).mean(1), 3).tolist(), " truth b + mean u:", np.round(truth, 3).tolist())
        sys.stdout.flush()


if __name__ == "__main__":
    main()
