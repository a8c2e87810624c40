"""CPU seconds per code cell of a case-study notebook in fast mode, as tests/test_notebooks.py runs it (issue 26 item 5).

    PYTHONPATH=. .venv/bin/python benchmarks/notebook_cell_cpu.py case_studies/section8_9_fma_3pl.ipynb \
        --out benchmarks/results/notebook_cells_section8_9.json

After every code cell a probe cell (not stored anywhere) prints the kernel's CPU seconds (its own plus
those of the children it reaped, e.g. dask workers) and the wall clock; the differences are the cell's
cost. CPU time hardly depends on the load of the machine, wall time does (each row records the load average
at the end of the run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import conftest  # noqa: E402,F401  (sets THREAD_ENV: one thread per pool in the kernel, as the suite runs it)
from notebook_runner import kernel_env  # noqa: E402  (the fast-mode kernel's environment of the tests)

PROBE = ("import resource as _r, time as _t, json as _j\n"
         "_s, _c = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)\n"
         "print('@@PROBE' + _j.dumps([_s.ru_utime + _s.ru_stime, _c.ru_utime + _c.ru_stime, _t.time()]))")


def profile(path: Path, fast: bool = True, save: Path | None = None, compile_mode: str | None = None) -> list[dict]:
    """Execute the notebook with a probe after every code cell; one row per code cell."""
    book = nbformat.read(path, as_version=4)
    cells, index = [nbformat.v4.new_code_cell(PROBE)], [None]
    for i, cell in enumerate(book.cells):
        cells.append(cell)
        index.append(None)
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(PROBE))
            index.append(i)
    book.cells = cells
    if fast:
        os.environ.update(kernel_env(path.stem))  # as tests/notebook_runner.py runs it (its compile mode included)
    if compile_mode is not None:  # e.g. "auto": C as a user's default, to compare with the tests' PY
        os.environ["BAYESMIX_COMPILE_MODE"] = compile_mode
    NotebookClient(book, timeout=3600, startup_timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.resolve().parent)}}).execute()
    if save is not None:  # the executed notebook, probes included (its outputs: what the cells printed)
        nbformat.write(book, save)
    rows, last = [], None
    for cell, source_index in zip(book.cells, index):
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        if "@@PROBE" not in text or cell.source != PROBE:
            continue
        probe = json.loads(text.split("@@PROBE", 1)[1].splitlines()[0])
        if last is not None and source_index is not None:
            rows.append({"cell": source_index, "cpu_s": round(probe[0] + probe[1] - last[0] - last[1], 2),
                         "wall_s": round(probe[2] - last[2], 2), "load1": round(os.getloadavg()[0], 2),
                         "source": book_source(path, source_index)})
        last = probe
    return rows


def book_source(path: Path, i: int) -> str:
    return nbformat.read(path, as_version=4).cells[i].source.splitlines()[0][:80]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--save", type=Path, help="also write the executed notebook here")
    parser.add_argument("--compile-mode", help="BAYESMIX_COMPILE_MODE of the kernel (default: the tests' choice in "
                        "fast mode, notebook_runner.kernel_env); auto = C above bayesmix._compile.PY_LIMIT and for "
                        "PyMC's sampler")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = profile(args.notebook, save=args.save, compile_mode=args.compile_mode)
    for row in rows:
        print(f"cell {row['cell']:3d}  cpu {row['cpu_s']:7.2f} s  wall {row['wall_s']:7.2f} s  {row['source']}")
    print(f"total cpu {sum(r['cpu_s'] for r in rows):.1f} s, wall {time.perf_counter() - t0:.1f} s")
    if args.out is not None:
        args.out.write_text(json.dumps({"notebook": args.notebook.name, "cells": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
