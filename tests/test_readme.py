"""The README's quick start runs (issue 13, "Done when"): its first code block, in fast settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    """The first ```python block after the '## Quick start' heading."""
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def fast(code: str) -> str:
    """The same code with fewer random starts and a short PyMC NUTS run (the only changes)."""
    code = re.sub(r"starts=\d+", "starts=3", code)
    code = re.sub(r"\b(draws|chains|tune)=\d+, ", "", code)
    return code.replace(".sample(", '.sample(draws=100, tune=100, chains=2, sampler="pymc", cores=1, '
                                     "progressbar=False, ")


def test_quick_start_shows_the_workflow():
    code = quick_start()
    for call in ("fit_ml(", ".summary()", "goodness_of_fit(", "bm.vlmr(", ".sample(", "predict_proba(",
                 ".predict(", "posterior_predictive(", "ppc_item_pairs(", "ppc_patterns(", "plot_profiles(",
                 "bm.save(", "bm.load(", "bm.compare("):
        assert call in code, f"the README quick start does not show {call}"


@pytest.mark.filterwarnings("ignore")
def test_quick_start_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(fast(quick_start()), str(README), "exec"), namespace)
    assert (tmp_path / "profiles.png").stat().st_size > 0
    assert (tmp_path / "carcinoma.bmx").is_dir()
    m, fits = namespace["m"], namespace["fits"]
    assert set(fits) == {"ml", "nuts"} and "posterior_predictive" in fits["nuts"].children
    assert namespace["ml"].loglik == pytest.approx(-317.2568, abs=1e-3)  # Agresti (2002)
    assert m.class_proportions(fits["nuts"])["mean"].sum() == pytest.approx(1.0)
