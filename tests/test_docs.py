"""The documentation site builds with warnings as errors (issue 25 item 8), notebooks not executed.

``make docs`` runs the same build into ``docs/_build/html``; here it goes to a
temporary folder. The case-study notebooks are rendered from their stored
outputs (``nb_execution_mode = "off"`` in ``docs/conf.py``). Besides a clean
build, the API reference must cover every public top-level name and every
notebook must have its page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bayesmix as bm

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("numpydoc")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("sphinx_design")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            "-d", str(out / "doctrees"), str(REPO / "docs"), str(out / "html")],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"sphinx build failed:\n{build.stdout[-5000:]}\n{build.stderr[-5000:]}"
    return out / "html"


def test_docs_build_without_warnings(html):
    for page in ("index", "getting-started", "user-guide/index", "api/index", "case-studies", "changelog"):
        assert (html / f"{page}.html").is_file(), page
    assert "-317.2568" in (html / "index.html").read_text()  # the 30-second example


def test_api_reference_covers_the_public_names(html):
    ids = set()
    for page in (html / "api").glob("*.html"):
        ids |= set(re.findall(r'id="(bayesmix\.[\w.]+)"', page.read_text()))
    expected = {f"bayesmix.{name}" for name in bm.__all__ if name not in ("__version__", "datasets", "irt_conversions", "plots")}
    expected |= {f"bayesmix.datasets.{name}" for name in bm.datasets.__all__}
    expected |= {f"bayesmix.irt_conversions.{name}" for name in bm.irt_conversions.__all__}
    expected |= {f"bayesmix.plots.{name}" for name in bm.plots.__all__}
    assert not expected - ids, f"not in the API reference: {sorted(expected - ids)}"
    models = (html / "api" / "models.html").read_text()
    for method in ("fit_ml", "sample", "transition_matrices", "factor_scores", "irt_parameters"):
        assert f"{method}" in models


def test_every_case_study_notebook_is_rendered_with_its_outputs(html):
    for notebook in sorted((REPO / "case_studies").glob("*.ipynb")):
        page = html / "case_studies" / f"{notebook.stem}.html"
        assert page.is_file(), f"{notebook.name} has no page"
        assert "cell_output" in page.read_text(), f"{notebook.name}: no stored outputs rendered"
    assert "<img" in (html / "case_studies" / "section4_lta.html").read_text()
