"""Fast-mode execution of the case-study notebooks, shared by tests/test_notebooks*.py (issue 12, issue 26 item 5).

The notebooks are split over three test files because ``make test`` runs ``--dist loadfile``: a file runs
on one worker, and the seven notebooks in one file (about 800 CPU-s with an empty compile cache) kept one
worker busy for 13 minutes while the other had finished. :data:`GROUPS` assigns each notebook to one file
(cold, CPU-s: section 4 + 6 ~185, section 8-9 128 alone (241 before its fast-mode cut), the other four ~180;
benchmarks/results/notebook_fast_cpu_20261207.csv, notebook_fast_cpu_section8_9_20261208.csv);
``test_notebooks.py::test_every_notebook_runs_in_exactly_one_file`` checks the assignment covers all.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

CASE_STUDIES = Path(__file__).resolve().parent.parent / "case_studies"
NOTEBOOKS = sorted(CASE_STUDIES.glob("*.ipynb"))

#: the kernel's environment: fast mode, one thread
KERNEL_ENV = {"BAYESMIX_FAST": "1", "OMP_NUM_THREADS": "1"}
#: notebooks whose kernel keeps the default compile mode (auto: bayesmix's functions above
#: ``bayesmix._compile.PY_LIMIT`` and PyMC's sampler in C); every other fast-mode kernel runs with
#: BAYESMIX_COMPILE_MODE=PY (Python thunks, no C compiler). CI starts with an empty compile cache, where
#: compiling a fast-mode model to C costs more than its faster evaluations save. Cold cache, equal work, CPU-s
#: (benchmarks/results/notebook_fast_cpu_20261207.csv): section 2/5 103 auto against 77 PY, section 6 118 / 82,
#: section 7 91 / 48. Section 8-9 kept auto while its fast-mode NUTS ran PyMC's sampler in C; it now samples as
#: its full mode does (``sampler="auto"``: nutpie, jax backend, no g++), its fast-mode ML functions are below
#: PY_LIMIT anyway, and under PY its NUTS start's latent grid is not compiled to C either
#: (benchmarks/results/notebook_fast_cpu_section8_9_20261208.csv).
AUTO_NOTEBOOKS: frozenset = frozenset()


def kernel_env(stem: str) -> dict:
    """The environment variables the fast-mode kernel of notebook ``stem`` runs with."""
    return {**KERNEL_ENV, "BAYESMIX_COMPILE_MODE": "auto" if stem in AUTO_NOTEBOOKS else "PY"}


#: test file -> the notebooks it executes in fast mode (balanced by cold CPU seconds)
GROUPS = {
    "test_notebooks.py": ("section4_lta", "section6_within_between"),
    "test_notebooks_fma.py": ("section8_9_fma_3pl",),
    "test_notebooks_tables.py": ("section2_5_tables2_3", "general_model_bfi_sem", "section7_gom", "workflow_election"),
}


def group(test_file: str) -> dict:
    """``pytest.mark.parametrize`` arguments: the paths of ``test_file``'s notebooks, ids their stems."""
    paths = [CASE_STUDIES / f"{stem}.ipynb" for stem in GROUPS[test_file]]
    return {"argvalues": paths, "ids": [p.stem for p in paths]}


def execute_fast(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute ``path`` with :func:`kernel_env`: no cell may fail, and the output says fast mode and compares."""
    for name, value in kernel_env(path.stem).items():
        monkeypatch.setenv(name, value)
    book = nbformat.read(path, as_version=4)
    # generous limits: a busy machine (load 8+ on 2 cores) stretches a 1-minute cell and the kernel start-up
    NotebookClient(book, timeout=1800, startup_timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(CASE_STUDIES)}}).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "fast mode" in text
    assert "difference" in text  # each notebook shows the paper's number, ours and the difference
