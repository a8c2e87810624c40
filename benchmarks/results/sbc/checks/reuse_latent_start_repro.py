"""Reproduction of the open _reuse defect (notes.md, "The sampled latent effects' start"): under reuse_compiled, the
conditional log-likelihood at 401 grid nodes, compiled anew (a store miss, constants lifted to shared variables),
differs from the same graph compiled without the store (max abs diff ~89; nearly constant over the nodes).
Run: PYTHONPATH=<worktree> python benchmarks/results/sbc/checks/reuse_latent_start_repro.py"""
import sys, warnings
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
warnings.simplefilter("ignore")
import numpy as np, pytensor.tensor as pt
from sbc_refit import rebuild
from bayesmix import _reuse
from bayesmix.inference.sampling import initial_point
from bayesmix.inference.quadrature import rule
from bayesmix.evaluate import evaluate_at_fit
store = _reuse.CompileStore()
case, fit, theta, data, fit_seed = rebuild("mixture_regression_random_intercept", 0, 90)
mm = case.build(data)
with _reuse.reuse_compiled(store):
    point, _ = initial_point(mm, "map", fit_seed, 3)
    print("after MAP", store)
    nodes, logw = rule("trapezoid", 401, 1)
    graph = mm.structure.conditional_loglik(pt.as_tensor(nodes[:, None, :]))
    free = {rv.name for rv in mm.model.free_RVs if rv.name not in mm.integrated}
    v = evaluate_at_fit(mm, {k: p for k, p in point.items() if k in free}, graph, key="x", se=False).estimate
    print("after eval", store, v.shape)
mm2 = case.build(data)
graph2 = mm2.structure.conditional_loglik(pt.as_tensor(nodes[:, None, :]))
w = evaluate_at_fit(mm2, {k: p for k, p in point.items() if k in free}, graph2, key="x", se=False).estimate
print("max abs diff", np.abs(v - w).max(), "argmax equal", np.array_equal(v.argmax(0), w.argmax(0)))
print("v[:3,:3]", v[:3, :3], "w", w[:3, :3])
