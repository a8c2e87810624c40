"""Sphinx configuration of the bayesmix documentation (``make docs``).

Built with the PyMC ecosystem's stack: pydata-sphinx-theme, myst-nb (Markdown
pages and the case-study notebooks rendered from their stored outputs, never
executed), numpydoc (the docstrings) and autodoc. The API pages name objects by
their public top-level names (``bayesmix.lca``, ``bayesmix.MixtureModel``);
classes reached only through what the factories return are written ``@Name@``
and resolved here to wherever the class is defined at build time, so moving
modules inside ``bayesmix/`` does not break the docs.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's bayesmix (an installed one would do as well)
os.environ.setdefault("MPLBACKEND", "Agg")

import bayesmix  # noqa: E402

project = "bayesmix"
author = "The bayesmix developers"
copyright = "2026, The bayesmix developers"
try:
    release = importlib.metadata.version("bayesmix")
except importlib.metadata.PackageNotFoundError:  # a bare checkout on sys.path
    release = bayesmix.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_design",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "case_studies/*.py"]
templates_path = []
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# --- Markdown and notebooks (myst-nb): stored outputs only
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_merge_streams = True
# Progress bars are stored as ipywidgets state (no widget JS on a static page):
# their text form is shown instead, and the stderr stream is kept.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
suppress_warnings = ["mystnb.unknown_mime_type"]

# --- API reference
autodoc_default_options = {"members": True}
toc_object_entries = False  # the page tables of contents list sections, not every method
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters section carries the types
add_module_names = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# --- Theme
html_theme = "pydata_sphinx_theme"
html_title = f"bayesmix {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
if os.environ.get("BAYESMIX_DOCS_MATHJAX"):  # a local MathJax (offline screenshots); default: its CDN
    mathjax_path = os.environ["BAYESMIX_DOCS_MATHJAX"]


def _import_all() -> None:
    """Import every bayesmix module once (some are imported lazily by the package)."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(bayesmix.__path__, "bayesmix."):
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional dependency missing: its classes are not documented
            pass


def _qualified(name: str) -> str:
    """Where the class ``name`` is defined inside bayesmix (unique among its modules)."""
    if not getattr(_qualified, "imported", False):
        _import_all()
        _qualified.imported = True
    found = set()
    for mod_name, module in list(sys.modules.items()):
        if not mod_name.startswith("bayesmix") or module is None:
            continue
        obj = getattr(module, name, None)
        if inspect.isclass(obj) and obj.__module__.startswith("bayesmix"):
            found.add(f"{obj.__module__}.{obj.__qualname__}")
    if len(found) != 1:
        raise RuntimeError(f"docs: class {name!r} found {len(found)} times in bayesmix: {sorted(found)}")
    return found.pop()


def _resolve_placeholders(app, docname, source):
    source[0] = re.sub(r"@([A-Z]\w*)@", lambda m: _qualified(m.group(1)), source[0])


_STDERR_NOISE = re.compile(r"TqdmWarning|from \.autonotebook import|distributed\.nanny")
_WARNING_SOURCE = re.compile(r"^/tmp/ipykernel_\d+/\d+\.py:\d+: ", re.M)


def _clean_notebook_stderr(app, docname, source):
    """The rendered notebooks keep their warnings (e.g. ConvergenceWarning) but not the noise of the
    machine that ran them (tqdm's missing-ipywidgets notice, dask's worker shutdown, kernel file paths).
    Only the page changes; the stored notebook is left as it is."""
    if not app.env.doc2path(docname).suffix == ".ipynb":
        return
    import json

    nb = json.loads(source[0])
    for cell in nb.get("cells", []):
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                lines = [line for line in text.splitlines(keepends=True) if not _STDERR_NOISE.search(line)]
                text = _WARNING_SOURCE.sub("", "".join(lines))
                if not text.strip():
                    continue
                out = {**out, "text": text}
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    source[0] = json.dumps(nb)


def _no_class_signature(app, what, name, obj, options, signature, return_annotation):
    """Classes are made by the factories and fits, never by users: no constructor signature."""
    if what == "class":
        return "", None
    return None


def setup(app):
    app.connect("source-read", _resolve_placeholders)
    app.connect("source-read", _clean_notebook_stderr)
    app.connect("autodoc-process-signature", _no_class_signature)
