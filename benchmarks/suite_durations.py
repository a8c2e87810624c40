"""Per-file durations of the test suite from pytest_cpuprof.py's JSON lines (issue 26 item 5).

    CPUPROF_OUT=/tmp/after.jsonl PYTHONPATH=.:benchmarks .venv/bin/python -m pytest -q -n 2 --dist loadfile \
        -p pytest_cpuprof tests
    .venv/bin/python benchmarks/suite_durations.py /tmp/before.jsonl /tmp/after.jsonl --out results/x.csv

One row per test file: wall seconds (setup + call + teardown of its tests, fixtures included) and CPU
seconds of the worker plus the children it reaped (PyMC chain processes, notebook kernels with their
dask workers, CLI subprocesses). CPU time hardly depends on the load of the machine; wall time does,
so compare files by CPU and read wall beside the load averages recorded with each test.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def per_file(path: Path) -> pd.DataFrame:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frame = pd.DataFrame(rows)
    frame["file"] = frame["nodeid"].str.split("::").str[0]
    frame["cpu"] = frame["cpu_self"] + frame["cpu_children"]
    return frame.groupby("file").agg(tests=("nodeid", "size"), wall_s=("wall", "sum"), cpu_s=("cpu", "sum"),
                                     load1_mean=("load1", "mean"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    table = per_file(args.before)
    if args.after is not None:
        table = table.add_suffix("_before").join(per_file(args.after).add_suffix("_after"), how="outer")
        table["cpu_change"] = table["cpu_s_after"] / table["cpu_s_before"] - 1
        table = table.sort_values("cpu_s_before", ascending=False)
    else:
        table = table.sort_values("cpu_s", ascending=False)
    print(table.round(2).to_string())
    print("total:", table.filter(like="cpu_s").sum().round(1).to_dict(), table.filter(like="wall_s").sum().round(1).to_dict())
    if args.out is not None:
        table.round(2).to_csv(args.out)


if __name__ == "__main__":
    main()
