"""The committed full-mode agreement tables of the case studies agree with the paper within their tolerances (issue 24).

Each notebook in ``case_studies/`` writes its comparison with the paper (paper /
ours / difference / tolerance with its reason) to
``case_studies/agreement/<notebook>.json`` in full mode (``case_studies/_agreement.py``;
fast-mode runs write to ``agreement/fast/``, not committed). These tests read the
committed files: every row within its stated tolerance, every table (1-6) and
figure (1-4) of the paper covered, every tolerance stated with a reason, and the
README's "reproduced in" table saying which results are on the paper's design
and which in kind, as the files do.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AGREEMENT = REPO / "case_studies" / "agreement"
#: the notebooks that reproduce the paper's sections; the other case studies (the general model on
#: bfi, the election workflow) compare estimators on public data, with no paper numbers to agree with
NOTEBOOKS = sorted((REPO / "case_studies").glob("section*.ipynb"))
FILES = sorted(AGREEMENT.glob("*.json"))
PAPER_ITEMS = [f"Table {i}" for i in range(1, 7)] + [f"Figure {i}" for i in range(1, 5)]
BASES = {"exact", "design", "single sample", "in kind"}
#: rows outside their tolerance that the notebooks and the README report as open disagreements with the paper
#: (file stem, item, quantity) -> where it is discussed; such a row must stay outside (else update this list)
KNOWN_DISAGREEMENTS = {
    ("section2_5_tables2_3", "Table 2", "Model 3: MSE of alpha_1"):
        "section 2/5 notebook, 'Reading Table 2' (ours 0.135, MC SE 0.021, 100 replications; paper 0.26)",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_notebook_has_a_full_mode_agreement_file():
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in FILES}, \
        "run each case-study notebook in full mode and commit case_studies/agreement/<notebook>.json"
    for path in FILES:
        payload = _load(path)
        assert payload["mode"] == "full", f"{path.name} was written in {payload['mode']} mode"
        assert payload["notebook"] == path.stem
        assert payload["rows"], f"{path.name} has no rows"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_rows_are_within_their_stated_tolerance(path):
    for row in _load(path)["rows"]:
        where = f"{path.name}: {row['item']} / {row['quantity']}"
        assert row["basis"] in BASES, where
        assert isinstance(row["tolerance_reason"], str) and len(row["tolerance_reason"]) > 20, \
            f"{where}: state why the tolerance is what it is"
        tol, diff = row["tolerance"], row["difference"]
        assert math.isfinite(tol) and tol >= 0, f"{where}: tolerance {tol}"
        assert math.isfinite(diff), f"{where}: difference {diff}"
        assert abs(diff - (row["ours"] - row["paper"])) <= 1e-9 * max(1.0, abs(row["paper"])), where
        if (path.stem, row["item"], row["quantity"]) in KNOWN_DISAGREEMENTS:
            assert abs(diff) > tol and row["within_tolerance"] is False, \
                f"{where} is back inside its tolerance: remove it from KNOWN_DISAGREEMENTS and the README"
        else:
            assert abs(diff) <= tol, f"{where}: |{diff:.4g}| > tolerance {tol:.4g} ({row['tolerance_reason']})"
            assert row["within_tolerance"] is True, where
        if row["basis"] == "design":   # a Monte Carlo row says how many replications and its Monte Carlo error
            assert row["replications"] >= 2 and math.isfinite(row["mc_se"]), where


def test_every_paper_table_and_figure_is_covered():
    covered = {row["item"] for path in FILES for row in _load(path)["rows"]}
    missing = [item for item in PAPER_ITEMS if item not in covered]
    assert not missing, f"no agreement row for {missing}"


def test_table2_and_table3_are_on_the_paper_design_by_monte_carlo():
    rows = [row for path in FILES for row in _load(path)["rows"]]
    for item in ("Table 2", "Table 3"):
        design = [row for row in rows if row["item"] == item and row["basis"] == "design"]
        assert design, f"{item}: no Monte Carlo rows"
    table2 = {row["quantity"] for row in rows if row["item"] == "Table 2"}
    assert {f"Model {m}: MSE of alpha_1" for m in (1, 2, 3, 4)} <= table2


def _readme_rows() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    start = text.index("| paper | spec(s) | reproduced in")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = line
    return rows


def test_readme_table_says_what_the_agreement_files_say():
    """A README row naming a paper table or figure states the basis the JSON rows have (design / in kind ...)."""
    rows = [row for path in FILES for row in _load(path)["rows"]]
    bases: dict[str, set[str]] = {}
    for row in rows:
        bases.setdefault(row["item"], set()).add(row["basis"])
    readme = _readme_rows()
    for item in PAPER_ITEMS:
        lines = [line for key, line in readme.items()
                 if re.search(rf"\b{item}\b", key) or re.search(rf"\b{item.lower()}\b", key.lower())]
        assert lines, f"the README's 'reproduced in' table has no row for {item}"
        line = " ".join(lines).lower()
        for basis in bases[item]:
            word = {"exact": "exact", "design": "paper's design", "single sample": "one sample",
                    "in kind": "in kind"}[basis]
            assert word in line, f"README row for {item} should say '{word}' (its agreement rows are {basis})"


def _agreement_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("_agreement", REPO / "case_studies" / "_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fast_mode_writes_elsewhere_and_rows_state_their_tolerance(tmp_path):
    agree = _agreement_module()
    rows = [agree.single_sample("Table 1", "p", 0.46, 0.55, 0.026, "ML SE"),
            agree.draw_of_design("Table 3", "mu_1", 0.90, 1.0, 0.1, 30, "SD over replications"),
            agree.in_kind("Table 5", "gain", 2.0, 2.6, 0.477, "within a factor 3")]
    assert rows[0]["tolerance"] == pytest.approx(3.5 * math.sqrt(2) * 0.026)
    assert rows[0]["within_tolerance"] and rows[1]["within_tolerance"] and not rows[2]["within_tolerance"]
    assert rows[1]["tolerance"] == pytest.approx(3.5 * math.sqrt(0.01 + 0.01 / 30))
    full = agree.write("nb", rows, fast=False, directory=tmp_path)
    fast = agree.write("nb", rows[:1], fast=True, directory=tmp_path)
    assert full == tmp_path / "nb.json" and fast == tmp_path / "fast" / "nb.json"
    assert len(_load(full)["rows"]) == 3 and _load(full)["mode"] == "full"   # fast mode left it alone
    with pytest.raises(ValueError, match="reason"):
        agree.row("Table 2", "x", 0.0, 0.0, 1.0, "", "exact")
    with pytest.raises(ValueError, match="item"):
        agree.row("Tab. 2", "x", 0.0, 0.0, 1.0, "numerical", "exact")


def test_known_disagreements_are_reported_in_the_readme():
    readme = (REPO / "README.md").read_text()
    for (stem, item, quantity) in KNOWN_DISAGREEMENTS:
        assert f"{item} {quantity}" in readme and "open disagreement" in readme, \
            f"the README must report {item} {quantity} ({stem}) as an open disagreement"
