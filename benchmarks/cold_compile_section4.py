"""CPU seconds of section 4's first fit cell (fast mode) by stage, to compare compile modes with a cold cache.

    d=$(mktemp -d); PYTENSOR_FLAGS=compiledir=$d/pt NUMBA_CACHE_DIR=$d/nb [BAYESMIX_COMPILE_MODE=PY] \
        PYTHONPATH=. .venv/bin/python benchmarks/cold_compile_section4.py [--python-sampler]

The two-level LTA of case_studies/section4_lta.ipynb (N = 400, 20 classrooms, 15 x 15 trapezoid nodes):
``fit_ml`` then PyMC NUTS 2 x (60 + 60) from the ML point, CPU seconds of this process and the g++ children
it reaped per stage (results: benchmarks/results/suite_cold_20261207.csv, issue 26 item 5).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402,F401  (one thread per pool, as the suite runs)


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python-sampler", action="store_true", help="sample(mode='PY'): PyMC in Python thunks")
    args = parser.parse_args()
    t = cpu()

    def mark(what: str) -> None:
        nonlocal t
        now = cpu()
        print(f"{what}: {now - t:.1f} CPU-s", flush=True)
        t = now

    import bayesmix as bm  # noqa: F401
    from bayesmix.spec import read_spec
    mark("import")
    spec = read_spec("section4_lta_two_level")
    sim = spec.simulate(fast=True)
    m = spec.build(sim.data, fast=True)
    mark("build")
    ml = m.fit_ml(**spec.ml_options(True), progressbar=False)
    mark("ml")
    extra = {"mode": "PY"} if args.python_sampler else {}
    m.sample(**{**spec.sample_options(True), "init": ml, "progressbar": False}, **extra)
    mark("sample")


if __name__ == "__main__":
    main()
