"""Marginal log posterior (person factor integrated, no Jacobian) at each chain's mean, constrained vs free-sign NUTS."""
import sys, warnings; sys.path.insert(0, "benchmarks/results/sbc/checks"); warnings.simplefilter("ignore")
import numpy as np
from fma_sign_diagnosis_refit import rebuild
import bayesmix.inference.signs as signs
from bayesmix.inference.sampling import initial_point
from bayesmix.inference.integrated import integrated_model
real = signs.free_sign_model
for r in [22, 11]:
    case, fit, theta, data, fit_seed = rebuild("fma", r, 30)
    mm = case.build(data)
    imodel = integrated_model(mm, mm.settings())
    logp = imodel.compile_logp(jacobian=False)
    def lp(values):
        pt = {}
        for rv in imodel.free_RVs:
            x = np.asarray(values[rv.name], float)
            tr = imodel.rvs_to_transforms.get(rv)
            pt[imodel.rvs_to_values[rv].name] = x if tr is None else tr.forward(x, *rv.owner.inputs).eval()
        return float(logp(pt))
    print(f"rep {r}: truth {lp(theta):.2f}", flush=True)
    point, _ = initial_point(mm, "map", fit_seed, fit["starts"])
    print(f"   MAP start {lp(point):.2f}", flush=True)
    for label, fn in [("constrained", lambda mm, model=None: None), ("free-sign", real)]:
        signs.free_sign_model = fn
        idata = mm.sample(draws=100, tune=200, chains=2, sampler="pymc", cores=1, init=point, random_seed=fit_seed,
                          progressbar=False, target_accept=0.9, convergence_checks=False, log_likelihood=False)
        post = idata["posterior"].to_dataset()
        for c in range(2):
            means = {rv.name: post[rv.name].isel(chain=c).mean("draw").to_numpy() for rv in imodel.free_RVs}
            print(f"   {label} chain {c}: log posterior at chain mean {lp(means):.2f}, loadings "
                  f"{np.round(post['factor_loading'].isel(chain=c).mean('draw').to_numpy(), 2)}", flush=True)
