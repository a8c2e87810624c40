import numpy as np, warnings
warnings.simplefilter("ignore")
from bayesmix import sbc
rng = np.random.default_rng(1)
R, C, D, L, rho = 2000, 2, 100, 50, 0.8
truth = rng.standard_normal(R)
chains = np.empty((R, C, D))
x = rng.standard_normal((R, C))
for t in range(D):
    x = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((R, C)); chains[:, :, t] = x
idx = np.linspace(0, D - 1, L // C).round().astype(int)
even = chains[:, :, idx].reshape(R, -1)
r_even = (even < truth[:, None]).sum(1); u_even = (r_even + rng.random(R)) / (L + 1)
us = []
for i in range(R):
    rec = sbc._ess_thinned_ranks({"q": truth[i:i+1]}, {"q": chains[i].ravel()}, C, L, rng)
    us.append((rec["rank_ess[q]"] + rng.random()) / (rec["L_ess[q]"] + 1))
us = np.array(us)
for name, u in (("even", u_even), ("ess", us)):
    print(name, "sd u %.3f" % u.std(), "top/bottom 5%%: %.3f %.3f" % ((u > 0.95).mean(), (u < 0.05).mean()), "chi2 p", sbc.chi_square_uniformity(u)[1])
