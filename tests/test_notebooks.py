"""The case-study notebooks execute in fast mode (BAYESMIX_FAST=1: few draws, small data) so they cannot rot (issue 12)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

CASE_STUDIES = Path(__file__).resolve().parent.parent / "case_studies"
NOTEBOOKS = sorted(CASE_STUDIES.glob("*.ipynb"))


def test_the_paper_sections_have_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"section2_5_tables2_3.ipynb", "section6_within_between.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_fast_mode(path, monkeypatch):
    monkeypatch.setenv("BAYESMIX_FAST", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(CASE_STUDIES)}}).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "fast mode" in text
    assert "difference" in text  # each notebook shows the paper's number, ours and the difference
