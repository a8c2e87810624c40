import sys, warnings, time, numpy as np, xarray as xr
sys.path.insert(0, "benchmarks")
warnings.simplefilter("ignore")
import pymc as pm
from bayesmix import sbc
from bayesmix.inference.integrated import check_latent, integrated_model
from bayesmix.inference.labels import align_labels
from bayesmix.inference.sampling import initial_point, complete_point
from sbc_refit import rebuild
r = int(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
case, fit, theta, data, seed = rebuild("mixture_regression_random_intercept", r, 90)
mm = case.build(data)
point, _ = initial_point(mm, "map", seed, fit["starts"])
free = {rv.name for rv in mm.model.free_RVs}
reference = complete_point(mm, {k: v for k, v in point.items() if k in free})
model = integrated_model(mm, check_latent(mm, "integrated", None))
cpu = time.process_time()
with model:
    tr = pm.sample_smc(draws=n, chains=2, cores=1, random_seed=seed, progressbar=False, compute_convergence_checks=False)
cpu = time.process_time() - cpu
post = tr["posterior"].to_dataset() if hasattr(tr, "children") or hasattr(tr, "__getitem__") else tr.posterior
names = ["class_intercept", "regression_intercept", "regression_slope", "residual_sd", "random_sd"]
ds = xr.Dataset({k: post[k] for k in names})
ds = ds.rename({d: d for d in ds.dims})
aligned, nrel = align_labels(mm, ds, reference)
prior_ds = sbc._dataset(mm, theta, names)
prior_ds, sw = align_labels(mm, prior_ds, reference)
truth = case.quantities(sbc._stack(prior_ds)); q = case.quantities(sbc._stack(aligned))
print(f"rep {r} SMC {n}x2 cpu {cpu:.0f}s relabeled {nrel}")
for k in truth:
    t = float(np.ravel(truth[k])[0]); v = np.asarray(q[k])
    print(f"  {k:18s} truth {t:7.3f} quantile {np.mean(v < t):.3f}  post mean {v.mean():7.3f} 2.5/97.5 {np.percentile(v,2.5):7.3f} {np.percentile(v,97.5):7.3f}")
