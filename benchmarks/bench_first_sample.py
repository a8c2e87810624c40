"""A first ``sample()`` in a fresh environment (issue 11: under 30 s on carcinoma).

Each run is a new process with empty compile caches (``PYTENSOR_FLAGS=base_compiledir=<new dir>``,
``NUMBA_CACHE_DIR=<new dir>``) doing what a new user does::

    m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)
    m.sample(progressbar=False)

and reports the wall time of ``import bayesmix`` and of the first ``sample()``, its phases
(start values = the MAP search, the ``sampler="auto"`` decision, the sampler with its compile,
post-processing, convergence checks), the process's CPU seconds (user + sys of all its threads and of
the C compiler it ran: comparable across machine loads, unlike wall time) and the load average. ``--previous`` runs the
decision as it was before 2026-11-26 (always compile and time the model in C and numba;
``installed_samplers`` importing numpyro and jax through ArviZ's lazy modules), interleaved with
the current one::

    .venv/bin/python benchmarks/bench_first_sample.py --runs 3 --previous

Measured 2026-11-26 (2 shared cores, load 5-14 from other jobs; wall seconds of the first
``sample()``, CPU seconds of the process):

| version | load | first sample() | MAP start | auto decision | sampler + compile | CPU |
|---|---|---|---|---|---|---|
| previous | 0.4 | 61.0 | - | (48.7 in the issue's profile) | 8.8 | - |
| previous | 5.4-11 | 97-523 | 2.8-24 | 68-466 | 13-60 | 54-69 |
| current | 6.1-8.4 | 14.8-16.6 | 3.2-3.5 | 0.0 | 10.8-12.3 | 9.2-9.7 |
| current | 9.4-13.6 | 15.0-48.0 | 4.4-21.5 | 0.0 | 9.7-22.9 | 11-12 |

(the CPU of the 'previous' rows from ``/usr/bin/time``, which counts gcc; post-processing 0.4-3.3 s.)

Not a test: nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
import bayesmix as bm
from bayesmix.inference import sampling
if sys.argv[1] == "previous":
    import importlib.util
    sampling.MEASURE_ABOVE = -1
    sampling._installed = lambda package: importlib.util.find_spec(package) is not None
t1 = time.perf_counter()
phases = {}
def timed(name):
    function = getattr(sampling, name)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
    setattr(sampling, name, wrapper)
for name in ("resolve_sampler", "initial_point", "auto_sampler", "_run_sampler", "finalize", "check_convergence"):
    timed(name)
m = bm.lca(bm.datasets.load("carcinoma"), items=list("ABCDEFG"), n_classes=2)
idata = m.sample(progressbar=False, random_seed=1)
t2 = time.perf_counter()
cpu = sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                            resource.getrusage(resource.RUSAGE_CHILDREN)))  # + the C compiler's
print(json.dumps({"import_s": t1 - t0, "sample_s": t2 - t1, "cpu_s": cpu,
                  "phases": phases, "sampler": idata.attrs["bayesmix_sampler"],
                  "backend": idata.attrs.get("bayesmix_nutpie_backend"),
                  "min_ess_bulk": idata.attrs["bayesmix_min_ess_bulk"], "max_rhat": idata.attrs["bayesmix_max_rhat"]}))
"""


def run(version: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bayesmix-fresh-") as fresh:
        env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={fresh}/pytensor", NUMBA_CACHE_DIR=f"{fresh}/numba")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        out = subprocess.run([sys.executable, "-c", CHILD, version], env=env, cwd=root, capture_output=True,
                             text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--previous", action="store_true", help="also run the previous decision, interleaved")
    args = parser.parse_args()
    versions = ("current", "previous") if args.previous else ("current",)
    print("| version | import s | first sample() s | MAP start s | auto decision s | sampler+compile s | "
          "post-processing s | CPU s | sampler | min ESS bulk | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for _ in range(args.runs):
        for version in versions:
            r = run(version)
            p = r["phases"]
            print(f"| {version} | {r['import_s']:.1f} | {r['sample_s']:.1f} | {p['initial_point']:.1f} | "
                  f"{p.get('auto_sampler', 0) + p.get('resolve_sampler', 0):.1f} | {p['_run_sampler']:.1f} | "
                  f"{p['finalize'] + p['check_convergence']:.1f} | {r['cpu_s']:.1f} | {r['sampler']}/{r['backend']} | "
                  f"{r['min_ess_bulk']:.0f} | {r['load']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
