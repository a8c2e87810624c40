"""Diagnose stuck FMA chains: per chain structural means, local MAP from each chain, log posterior compare."""
import sys, warnings
sys.path.insert(0, "benchmarks")
import numpy as np
warnings.simplefilter("ignore")
import sbc_all
from bayesmix import sbc
from bayesmix.inference.sampling import initial_point

def rebuild(case_name, replication, replications, seed=2026):
    case, fit = sbc_all._case(case_name)
    rng = np.random.default_rng([seed, 0])
    template = case.build(case.template(np.random.default_rng([seed, 1])))
    pool = sbc.prior_draws(template, max(2 * replications, 8), seed=int(1000 * seed))
    for _ in range(replication + 1):
        while True:
            theta = pool.pop(0)
            data = case.simulate(theta, rng)
            try:
                case.build(data); break
            except ValueError:
                continue
    fit_seed = int(np.random.default_rng([seed, 2, replication]).integers(2**31 - 1))
    return case, fit, theta, data, fit_seed

STRUCT = ["class_intercept", "binary_logit", "factor_loading_positive", "factor_loading_free"]

def main(case_name, reps, replications):
    for r in reps:
        case, fit, theta, data, fit_seed = rebuild(case_name, r, replications)
        mm = case.build(data)
        point, _ = initial_point(mm, "map", fit_seed, fit["starts"])
        idata = mm.sample(draws=fit["draws"], tune=fit["tune"], chains=fit["chains"], sampler="pymc", cores=1,
                          init=point, random_seed=fit_seed, progressbar=False, target_accept=0.9,
                          convergence_checks=False, log_likelihood=False)
        post = idata["posterior"].to_dataset()
        names = [n for n in STRUCT if n in post]
        import arviz as az
        rh = az.rhat(post)
        for v in rh.data_vars:
            x = np.asarray(rh[v]).ravel()
            if x.size and np.nanmax(x) > 1.1:
                print("   R-hat", v, np.round(np.sort(x)[-3:], 3), "n>1.1:", int((x > 1.1).sum()), "of", x.size)
        print(f"== {case_name} rep {r}: max R-hat {idata.attrs.get('bayesmix_max_rhat'):.2f} relabeled {idata.attrs.get('bayesmix_relabeled_draws')} reflected {idata.attrs.get('bayesmix_reflected_draws')} min ESS {idata.attrs.get('bayesmix_min_ess_bulk'):.0f}")
        print("  truth loading", np.round(theta["factor_loading"], 2), "tau", np.round(np.asarray(theta["binary_logit"]), 2).tolist(), "alpha", np.round(np.asarray(theta["class_intercept"]),2))
        print("  MAP start loading", np.round(np.r_[np.atleast_1d(point.get("factor_loading_positive")), point.get("factor_loading_free")], 2))
        for c in range(post.sizes["chain"]):
            lam = post["factor_loading"].isel(chain=c).mean("draw").to_numpy()
            tau = post["binary_logit"].isel(chain=c).mean("draw").to_numpy()
            start = {n: post[n].isel(chain=c, draw=-1).to_numpy() for n in names}
            try:
                raise RuntimeError('skipped')
                res = mm.fit_map(starts=0, start=start, progressbar=False)
                lp = res.ll if hasattr(res, "ll") else None
                mlam = np.r_[np.atleast_1d(res.point["factor_loading_positive"]), res.point["factor_loading_free"]]
                extra = f"local MAP: logpost {getattr(res, 'log_posterior', None)} LL {res.ll:.3f} loading {np.round(mlam, 2)} tau {np.round(res.point['binary_logit'], 2).tolist()}"
            except Exception as e:
                extra = f"MAP failed {e!r}"
            print(f"  chain {c}: loading {np.round(lam, 2)} tau {np.round(tau, 2).tolist()}")
            print(f"     {extra}")
        sys.stdout.flush()

if __name__ == "__main__":
    main(sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]))
