"""g++ flags against compile cost and run cost of the C modules a cold test run builds (issue 26 item 5).

For each flag set, in a fresh PyTensor compiledir (one subprocess each): compile a K = 3 LCA's
(carcinoma or a simulated N x 20) logp+gradient (``logp_dlogp_function``, CVM: what PyMC's NUTS
compiles) and time one evaluation (median wall and mean CPU of 200 after warm-up). Reports the process's
CPU s, the g++ children's CPU s, modules built, eval ms.
usage: python benchmarks/bench_gxx_flags.py [--out results.json] [--units N (simulated LCA, 20 items, K = 3;
0: carcinoma)] ['<cxxflags>' ...]
"""

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, resource, time, numpy as np
t0 = os.times()
import bayesmix as bm
from pymc.blocking import DictToArrayBijection
units = int(os.environ["BENCH_UNITS"])
if units:
    sim = bm.datasets.simulate_lca(n_units=units, n_items=20, n_classes=3, seed=1)
    m = bm.lca(sim.data, items=sim.items, n_classes=3)
else:
    m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=3)
model = m.model
point = model.initial_point()
c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t1 = os.times()
fn = model.logp_dlogp_function(ravel_inputs=True, mode="CVM", initial_point=point)
x = DictToArrayBijection.map({v.name: point[v.name] for v in fn._grad_vars}).data
fn(x)
t2 = os.times()
c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
for _ in range(20): fn(x)
ts = []
c = time.process_time()
for _ in range(200):
    s = time.perf_counter(); fn(x); ts.append(time.perf_counter() - s)
c = time.process_time() - c
print(json.dumps({"compile_cpu": t2.user + t2.system - t1.user - t1.system,
                  "gxx_cpu": c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime,
                  "eval_ms": 1000 * float(np.median(ts)), "eval_cpu_ms": 1000 * c / 200, "load1": os.getloadavg()[0]}))
"""


def run(flags: str, units: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={d}/pt" + (f",gcc__cxxflags={flags}" if flags else ""),
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", BENCH_UNITS=str(units))
        out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["modules"] = sum(1 for p in os.scandir(next(os.scandir(f"{d}/pt")).path) if p.name.startswith("tmp"))
        r["flags"] = flags or "(default: -O3 -g)"
        r["units"] = units or "carcinoma (118)"
        return r


if __name__ == "__main__":
    args = sys.argv[1:]
    out, units = None, 0
    if args[:1] == ["--out"]:
        out, args = args[1], args[2:]
    if args[:1] == ["--units"]:
        units, args = int(args[1]), args[2:]
    results = []
    for flags in args or ["", "-O1 -g0", "-O0 -g0"]:
        r = run(flags, units)
        print(json.dumps(r), flush=True)
        results.append(r)
    if out:
        with open(out, "w") as f:
            json.dump(results, f, indent=1)
