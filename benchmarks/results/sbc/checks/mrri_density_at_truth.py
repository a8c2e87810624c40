import sys, warnings, numpy as np
sys.path.insert(0, "benchmarks")
warnings.simplefilter("ignore")
from scipy.special import logsumexp
from scipy import stats
from sbc_refit import rebuild
r = int(sys.argv[1])
case, fit, theta, data, seed = rebuild("mixture_regression_random_intercept", r, 90)
mm = case.build(data)
model = mm.model
free = [rv.name for rv in model.free_RVs]
pt_ = {}
for rv in model.free_RVs:
    v = model.rvs_to_values[rv]; tr = model.rvs_to_transforms.get(rv)
    x = np.asarray(theta[rv.name], float)
    pt_[v.name] = x if tr is None else np.asarray(tr.forward(x, *rv.owner.inputs).eval())
pot = model.compile_logp(vars=model.potentials, jacobian=False)(pt_)
prior = model.compile_logp(vars=model.free_RVs, jacobian=False)(pt_)
from scipy import stats as st
print("prior model", float(prior))
y = data["y"].to_numpy(); x = data["x"].to_numpy(); cl = data["cluster"].to_numpy()
j = np.array([int(c[1:]) - 1 for c in cl])
a = theta["class_intercept"][0]; logpi = np.log(np.array([np.exp(a), 1.0]) / (1 + np.exp(a)))
u = theta["random_z"][:, 0] * theta["random_sd"][0]
mean = theta["regression_intercept"][None, :] + theta["regression_slope"][None, :, 0] * x[:, None] + u[j][:, None]
ll = logsumexp(logpi + stats.norm.logpdf(y[:, None], mean, theta["residual_sd"]), axis=1).sum()
print("model potential", float(pot), "numpy", ll)
print(data.head(10)); print(mm.data.clusters if hasattr(mm.data, "clusters") else None, mm.data.cluster_index[:20])
lp = (stats.norm.logpdf(theta["class_intercept"], 0, 1.5).sum() + stats.norm.logpdf(theta["regression_intercept"], 0, 2).sum()
      + stats.norm.logpdf(theta["regression_slope"], 0, 1).sum() + stats.halfnorm.logpdf(theta["residual_sd"], scale=1).sum()
      + stats.halfnorm.logpdf(theta["random_sd"], scale=1).sum() + stats.norm.logpdf(theta["random_z"]).sum())
print("prior numpy", lp)
for rv in model.free_RVs: print(rv.name, rv.owner.op, [str(i) for i in rv.owner.inputs[2:]])
