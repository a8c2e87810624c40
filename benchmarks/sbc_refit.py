"""Refit one SBC replication of a ``benchmarks/sbc_all.py`` case and print its parameters with R-hat > 1.1.

    python benchmarks/sbc_refit.py <case> <replication> <replications of the run> [--seed 2026]

The prior draw, simulated data and fit seed are rebuilt the way :func:`bayesmix.sbc.run_sbc` makes them (in task
order; redrawn refusals included), so a stuck fit of ``<case>_fits.csv`` can be looked at parameter by
parameter: which variables separate the chains, their chain means and the truth.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def data_sets(case, count: int, replications: int, seed: int = 2026):
    """The first ``count`` (theta, data) of :func:`bayesmix.sbc.run_sbc`'s replications (prior draws of the
    template, data sets the factory refuses redrawn), in order, without fits."""
    from bayesmix import sbc

    rng = np.random.default_rng([seed, 0])
    template = case.build(case.template(np.random.default_rng([seed, 1])))
    pool: list = []
    batch = 0
    out = []
    while len(out) < count:
        if not pool:
            pool.extend(sbc.prior_draws(template, max(2 * replications, 8), seed=int(1000 * seed + batch)))
            batch += 1
        theta = pool.pop(0)
        data = case.simulate(theta, rng)
        try:
            case.build(data)
        except ValueError:  # a constant item: run_sbc redraws
            continue
        out.append((theta, data))
    return out


def rebuild(case_name: str, replication: int, replications: int, seed: int = 2026):
    """(case, fit settings, truth theta, data, fit seed) of one replication, as :func:`bayesmix.sbc.run_sbc` makes them."""
    import sbc_all

    case, fit = sbc_all._case(case_name)
    theta, data = data_sets(case, replication + 1, replications, seed)[-1]
    fit_seed = int(np.random.default_rng([seed, 2, replication]).integers(2**31 - 1))
    return case, fit, theta, data, fit_seed


def refit(case, fit, data, fit_seed, **overrides):
    """The replication's NUTS fit with the run's settings (``overrides`` replace ``fit`` entries or add
    keyword arguments of ``sample``)."""
    from bayesmix.inference.sampling import initial_point

    fit = {**fit, **overrides}
    mm = case.build(data)
    point, _ = initial_point(mm, "map", fit_seed, fit["starts"])
    extra = {k: v for k, v in fit.items() if k not in ("draws", "tune", "chains", "n_posterior", "starts", "latent")}
    idata = mm.sample(draws=fit["draws"], tune=fit["tune"], chains=fit["chains"], sampler="pymc", cores=1,
                      init=point, random_seed=fit_seed, progressbar=False, convergence_checks=False,
                      log_likelihood=False, latent=fit.get("latent", "sampled"), **{"target_accept": 0.9, **extra})
    return mm, point, idata


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("replication", type=int)
    parser.add_argument("replications", type=int, help="replications of the run (sizes its pool of prior draws)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import arviz as az

    case, fit, theta, data, fit_seed = rebuild(args.case, args.replication, args.replications, args.seed)
    _, _, idata = refit(case, fit, data, fit_seed)
    posterior = idata["posterior"].to_dataset()
    rhat = az.rhat(posterior)
    for name in rhat.data_vars:
        values = np.asarray(rhat[name]).ravel()
        if values.size and np.nanmax(values) > 1.1:
            means = posterior[name].mean("draw").to_numpy().reshape(posterior.sizes["chain"], -1)[:, :6]
            truth = np.asarray(theta.get(name, np.nan)).ravel()[:6]
            print(f"{name}: R-hat {np.round(values[:6], 2)}, chain means {np.round(means, 2).tolist()}, "
                  f"truth {np.round(truth, 2).tolist()}")
    print("max R-hat", idata.attrs.get("bayesmix_max_rhat"), "relabeled draws",
          idata.attrs.get("bayesmix_relabeled_draws"))


if __name__ == "__main__":
    main()
