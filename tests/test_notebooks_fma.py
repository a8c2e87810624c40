"""Fast-mode execution of its share of the case-study notebooks (see tests/notebook_runner.py, issue 26 item 5)."""

from __future__ import annotations

import pytest
from notebook_runner import execute_fast, group


@pytest.mark.parametrize("path", **group("test_notebooks_fma.py"))
def test_notebook_executes_in_fast_mode(path, monkeypatch):
    execute_fast(path, monkeypatch)
