"""The case-study notebooks execute in fast mode (BAYESMIX_FAST=1: few draws, small data) so they cannot rot (issue 12).

This file checks the committed notebooks and executes its share of them (:data:`notebook_runner.GROUPS`);
test_notebooks_fma.py and test_notebooks_tables.py execute the others, so that ``--dist loadfile`` can run
them on both workers.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_runner import GROUPS, NOTEBOOKS, execute_fast, group

TESTS = Path(__file__).resolve().parent


def test_the_paper_sections_have_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"section2_5_tables2_3.ipynb", "section4_lta.ipynb", "section6_within_between.ipynb",
            "section7_gom.ipynb", "section8_9_fma_3pl.ipynb"} <= names


def test_every_notebook_runs_in_exactly_one_file():
    assigned = [stem for stems in GROUPS.values() for stem in stems]
    assert sorted(assigned) == sorted(p.stem for p in NOTEBOOKS)  # each once, none forgotten
    for name in GROUPS:
        source = (TESTS / name).read_text()
        assert f'group("{name}")' in source and "execute_fast(" in source, name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_outputs_come_from_the_full_mode(path):
    """The committed notebooks carry outputs of a full-mode run without errors (CI re-runs them in fast mode)."""
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code and all(cell.get("outputs") for cell in code[:2]), "run the notebook and commit its outputs"
    outputs = [o for cell in code for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    first = "".join(str(o.get("text", "")) for o in code[0].get("outputs", []))
    assert "full mode" in first


@pytest.mark.parametrize("path", **group("test_notebooks.py"))
def test_notebook_executes_in_fast_mode(path, monkeypatch):
    execute_fast(path, monkeypatch)
