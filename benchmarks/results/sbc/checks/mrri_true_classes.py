import sys, warnings, numpy as np
sys.path.insert(0, "benchmarks")
warnings.simplefilter("ignore")
import bayesmix.families.regression.sbc as RS
rec = []
orig = RS.categorical
def cat(rng, p):
    c = orig(rng, p); rec.append(c); return c
RS.categorical = cat
from sbc_refit import rebuild
r = int(sys.argv[1])
case, fit, theta, data, seed = rebuild("mixture_regression_random_intercept", r, 90)
c = rec[-1]
y = data["y"].to_numpy(); x = data["x"].to_numpy(); j = np.arange(80) * 10 // 80
u = theta["random_z"][:, 0] * theta["random_sd"][0]
print("class counts", np.bincount(c, minlength=2), "truth b", theta["regression_intercept"], "s", theta["regression_slope"][:, 0])
for k in range(2):
    m = c == k
    A = np.column_stack([np.ones(m.sum()), x[m]])
    coef = np.linalg.lstsq(A, y[m] - u[j][m], rcond=None)[0]
    coef2 = np.linalg.lstsq(A, y[m], rcond=None)[0]
    print("class", k + 1, "n", m.sum(), "OLS (y - u) on x", np.round(coef, 3), " OLS y on x", np.round(coef2, 3))
    print("   x", np.round(x[m], 2).tolist()); print("   y-u", np.round((y - u[j])[m], 2).tolist()); print("   cluster", j[m].tolist())
res = y - (theta["regression_intercept"][c] + theta["regression_slope"][c, 0] * x + u[j])
print("residual SD with true classes", res.std(), "truth", theta["residual_sd"])
print("classes", c.tolist())
