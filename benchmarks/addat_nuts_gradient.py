"""NUTS logp+dlogp (the sampled z path) of Table 3 Model 6, C backend (PyMC's sampler): old graphs vs new."""
import sys, json, os, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
import bayesmix as bm
from bayesmix.inference.sampling import gradient_costs
from bayesmix.latent import LatentEffects, segments
out = {}
for label in ("old", "new"):
    orig = (segments.PAD_LIMIT, LatentEffects.unit_values)
    if label == "old":
        segments.PAD_LIMIT = 0
        LatentEffects.unit_values = lambda self, z=None: (lambda u: u if self.level_index is None else u[..., self.level_index, :])(self.values(z))
    try:
        m = bm.read_spec("table3_model6").build()
        costs = gradient_costs(m, ("CVM",), repeats=21)
    finally:
        segments.PAD_LIMIT, LatentEffects.unit_values = orig
    out[label] = {k: v * 1e3 for k, v in costs.items()}
    print(label, out[label], flush=True)
out["load"] = os.getloadavg()
print(json.dumps(out))
