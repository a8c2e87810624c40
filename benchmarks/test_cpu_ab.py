"""Before/after CPU seconds of single tests, each on an EMPTY compile cache, interleaved (issue 26 item 5).

    PYTHONPATH=. .venv/bin/python benchmarks/test_cpu_ab.py --before <commit> --repeats 1 \
        --out benchmarks/results/x.csv 'tests/test_sbc.py::test_fits_can_integrate_the_latent_effects' ...

For every node id and repeat, the test runs twice, once from ``git archive <before>`` of tests/ and
case_studies/ (unpacked under _logs/ab_before_<pid>/; the package code is this worktree's in both, so only the
tests and notebooks differ) and once from this worktree, in alternating order, each in its own pytest process
with a fresh PyTensor compiledir and numba cache (CI's case). A row per run: the test's own CPU seconds (the
process and the children it reaped, fixtures included: benchmarks/pytest_cpuprof.py), the children's part of it
(g++ compiling C modules, as the tests run their chains in-process), the whole process's CPU
(imports and collection included), wall seconds, the outcome, the load average before and after.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def unpack(commit: str, where: Path) -> None:
    """tests/, case_studies/ and pyproject.toml of ``commit`` into ``where`` (recreated)."""
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(HERE), "archive", commit, "tests", "case_studies", "pyproject.toml"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)


def run_one(root: Path, nodeid: str) -> dict:
    """One pytest process in ``root`` on ``nodeid`` with empty caches: CPU of the test and of the process."""
    cache = Path(tempfile.mkdtemp(prefix="ab_cache_"))
    prof = cache / "prof.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{HERE}:{HERE / 'benchmarks'}", "CPUPROF_OUT": str(prof),
           "PYTENSOR_FLAGS": f"base_compiledir={cache / 'pytensor'}", "NUMBA_CACHE_DIR": str(cache / "numba")}
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_cpuprof",
                           nodeid], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = [json.loads(line) for line in prof.read_text().splitlines()] if prof.exists() else []
    shutil.rmtree(cache, ignore_errors=True)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    return {"tests": len(rows), "test_cpu_s": round(sum(r["cpu_self"] + r["cpu_children"] for r in rows), 2),
            "test_children_cpu_s": round(sum(r["cpu_children"] for r in rows), 2),
            "process_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "wall_s": round(wall, 1), "rc": proc.returncode, "outcome": tail, "load1_before": round(load0, 2),
            "load1_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("nodeids", nargs="+")
    parser.add_argument("--before", required=True, help="commit whose tests/ and case_studies/ are 'before'")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", choices=["before", "after"], help="run one side only")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    old = HERE / "_logs" / f"ab_before_{os.getpid()}"  # one per run: runs may overlap
    if args.only != "after":
        unpack(args.before, old)
    fields = ["nodeid", "side", "repeat", "tests", "test_cpu_s", "test_children_cpu_s", "process_cpu_s", "wall_s",
              "rc", "outcome", "load1_before", "load1_after"]
    new_file = not args.out.exists()
    with args.out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if new_file:
            writer.writeheader()
        for nodeid in args.nodeids:
            for repeat in range(args.repeats):
                sides = ["before", "after"] if repeat % 2 == 0 else ["after", "before"]
                for side in sides:
                    if args.only and side != args.only:
                        continue
                    row = {"nodeid": nodeid, "side": side, "repeat": repeat,
                           **run_one(old if side == "before" else HERE, nodeid)}
                    writer.writerow(row)
                    handle.flush()
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
