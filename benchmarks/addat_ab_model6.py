"""A/B: CPU ms of one ML objective+gradient of Table 3 Model 6 (trapezoid 30^2 nodes), old graphs vs slots."""
import sys, time, json, numpy as np, warnings
warnings.filterwarnings("ignore")
import pytensor, pytensor.tensor as pt
import bayesmix as bm
import os
MODE = os.environ.get("ABMODE") or None
from bayesmix.inference.objective import flat_model
from bayesmix.latent import LatentEffects, segments

def old_unit_values(self, z=None):
    u = self.values(z)
    return u if self.level_index is None else u[..., self.level_index, :]

def build(old, profile=False):
    orig = (segments.PAD_LIMIT, LatentEffects.unit_values)
    if old:
        segments.PAD_LIMIT = 0
        LatentEffects.unit_values = old_unit_values
    try:
        m = bm.read_spec(sys.argv[1] if len(sys.argv) > 1 else "table3_model6").build()
        flat = flat_model(m, {"method": "trapezoid", "points": 30})
        obj = flat._objective("loglik")
        from bayesmix._compile import function
        fn = function([flat.theta], [-obj, -pt.grad(obj, flat.theta)], size=flat.work_size, mode=MODE)
    finally:
        segments.PAD_LIMIT, LatentEffects.unit_values = orig
    return fn, flat.n_params

fns = {k: build(k == "old") for k in ("old", "new")}
th = np.random.default_rng(0).normal(scale=0.1, size=fns["old"][1])
a, b = fns["old"][0](th), fns["new"][0](th)
print("value diff", abs(a[0] - b[0]), "grad diff", np.abs(a[1] - b[1]).max(), flush=True)
times = {"old": [], "new": []}
for r in range(int(sys.argv[2]) if len(sys.argv) > 2 else 5):
    for k in ("old", "new"):
        t = time.process_time()
        for _ in range(5):
            fns[k][0](th)
        times[k].append((time.process_time() - t) / 5 * 1e3)
print({k: [round(x, 1) for x in v] for k, v in times.items()})
print({k: round(float(np.median(v)), 1) for k, v in times.items()})
from collections import Counter
for k in ("old", "new"):
    c = Counter(type(n.op).__name__ for n in fns[k][0].maker.fgraph.toposort())
    print(k, {n: v for n, v in c.items() if "Subtensor" in n or "Reshape" in n})
    for n in fns[k][0].maker.fgraph.toposort():
        if type(n.op).__name__ == "AdvancedIncSubtensor":
            print("   ", n.op, n.op.idx_list, [i.type for i in n.inputs])
import cProfile, pstats
for k in ("old", "new"):
    pr = cProfile.Profile(time.process_time)
    t = time.process_time()
    pr.enable()
    for _ in range(10):
        fns[k][0](th)
    pr.disable()
    print(k, "cpu ms/eval", (time.process_time() - t) / 10 * 1e3)
    pstats.Stats(pr).sort_stats("tottime").print_stats(4)
