import sys, warnings, json, numpy as np
sys.path.insert(0, "benchmarks")
warnings.simplefilter("ignore")
from sbc_refit import rebuild
r = int(sys.argv[1]); over = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
case, fit, theta, data, seed = rebuild("mixture_regression_random_intercept", r, 90)
mm = case.build(data)
free = [rv.name for rv in mm.model.free_RVs]
init = {k: np.asarray(theta[k]) for k in free}
idata = mm.sample(draws=over.get("draws", 100), tune=over.get("tune", 200), chains=2, sampler="pymc", cores=1, init=init,
                  random_seed=seed, progressbar=False, convergence_checks=False, log_likelihood=False, target_accept=0.9)
post = idata["posterior"].to_dataset()
print("truth:", {k: np.round(np.asarray(theta[k]), 3).ravel().tolist() for k in ["class_intercept","regression_intercept","regression_slope","residual_sd","random_sd"]})
for name in ["class_intercept","regression_intercept","regression_slope","residual_sd","random_sd"]:
    v = post[name].to_numpy().reshape(post.sizes["chain"], post.sizes["draw"], -1)
    print(name, "chain means", np.round(v.mean(1), 3).tolist())
s = post["regression_slope"].to_numpy()[..., 1, 0]
print("slope2 chain 2.5/50/97.5", np.round(np.percentile(s, [2.5, 50, 97.5], axis=1).T, 2).tolist(), "quantile of truth", (s < theta["regression_slope"][1, 0]).mean())
lp = idata["sample_stats"]["lp"].to_numpy(); print("lp chain means", np.round(lp.mean(1), 1).tolist(), "relabeled", idata.attrs["bayesmix_relabeled_draws"], "rhat", idata.attrs["bayesmix_max_rhat"])
ic = post["regression_intercept"].to_numpy()
print("chain1 intercept/slope2 traj", np.round(np.concatenate([ic[0, ::10], s[0, ::10, None]], 1), 2).tolist())
