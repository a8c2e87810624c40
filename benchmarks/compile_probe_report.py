"""Summarize benchmarks/compile_probe.py output: per file and per run totals, duplicate C modules.

usage: python benchmarks/compile_probe_report.py <run dir> [<run dir> ...] [--json out.json]
A run dir is what benchmarks/cold_subset.sh writes (probe/*.jsonl, time.txt, uptime_*.txt, modules.txt).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

FIELDS = ("wall", "cpu", "child_cpu", "c_compiles", "gxx_wall", "gxx_child_cpu", "lock_wait", "lock_hold",
          "numba_compile", "nutpie_compile", "jax_compile")


def load(run: Path) -> dict:
    tests, modules = [], []
    for f in sorted((run / "probe").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            (tests if r["kind"] == "test" else modules).append(r)
    files: dict = defaultdict(lambda: defaultdict(float))
    for r in tests:
        d = files[r["file"]]
        for k in FIELDS:
            d[k] += r[k]
        d["worker"] = r["pid"]
        if r["when"] == "call":
            d["tests"] += 1
    by_src = defaultdict(set)
    for m in modules:
        by_src[m["src"]].add(m["pid"])
    total = {k: round(sum(d[k] for d in files.values()), 1) for k in FIELDS}
    pids = sorted({r["pid"] for r in tests})
    per_worker = {str(p): {k: round(sum(r[k] for r in tests if r["pid"] == p), 1) for k in FIELDS} for p in pids}
    timing = (run / "time.txt").read_text().split() if (run / "time.txt").exists() else []
    out = {
        "run": run.name,
        "time": dict(zip(timing[0::2], map(float, timing[1::2]))) if timing else None,
        "uptime_before": (run / "uptime_before.txt").read_text().strip()
        if (run / "uptime_before.txt").exists() else None,
        "uptime_after": (run / "uptime_after.txt").read_text().strip() if (run / "uptime_after.txt").exists() else None,
        "outcome": next((ln.strip("= ") for ln in reversed((run / "pytest.log").read_text().splitlines())
                         if " in " in ln and ("passed" in ln or "failed" in ln)), None)
        if (run / "pytest.log").exists() else None,
        "module_dirs": len((run / "modules.txt").read_text().split()) if (run / "modules.txt").exists() else None,
        "modules_compiled": len(modules),
        "distinct_sources": len(by_src),
        "compiled_by_both_workers": sum(len(p) > 1 for p in by_src.values()),
        "mean_load1_at_tests": round(sum(r["load1"] for r in tests) / max(len(tests), 1), 2),
        "total": total,
        "per_worker": per_worker,
        "files": {f: {k: (round(v, 1) if isinstance(v, float) else v) for k, v in sorted(d.items())}
                  for f, d in sorted(files.items(), key=lambda kv: -kv[1]["cpu"] - kv[1]["child_cpu"])},
    }
    return out


def main(argv: list[str]) -> None:
    dest = None
    if "--json" in argv:
        i = argv.index("--json")
        dest = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    runs = [load(Path(a)) for a in argv]
    for r in runs:
        print(f"== {r['run']}: {r['outcome']}; time {r['time']}; modules {r['modules_compiled']} "
              f"(dirs {r['module_dirs']}, distinct {r['distinct_sources']}, by both workers "
              f"{r['compiled_by_both_workers']}); mean load1 {r['mean_load1_at_tests']}")
        print("   total", r["total"])
        for p, w in r["per_worker"].items():
            print("   worker", p, w)
        print(f"   {'file':34s} {'n':>3s} {'wall':>7s} {'cpu':>7s} {'child':>7s} {'mods':>5s} {'gxxW':>6s} "
              f"{'gxxC':>6s} {'lockW':>6s} {'numba':>6s} {'nutpie':>6s} {'jax':>5s}")
        for f, d in r["files"].items():
            print(f"   {f:34s} {int(d.get('tests', 0)):3d} {d['wall']:7.1f} {d['cpu']:7.1f} {d['child_cpu']:7.1f} "
                  f"{int(d['c_compiles']):5d} {d['gxx_wall']:6.1f} {d['gxx_child_cpu']:6.1f} {d['lock_wait']:6.1f} "
                  f"{d['numba_compile']:6.1f} {d['nutpie_compile']:6.1f} {d['jax_compile']:5.1f}")
    if dest:
        Path(dest).write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
