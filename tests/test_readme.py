"""The README's quick start runs (issue 13, "Done when"): its first code block, in fast settings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
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


def capturing(code: str) -> ast.Module:
    """The code with each top-level expression's value kept in ``_shown[source]`` (what a notebook displays)."""
    tree = ast.parse(code)
    body = []
    for node in tree.body:
        if isinstance(node, ast.Expr):
            source = ast.get_source_segment(code, node)
            node = ast.parse(f"_shown[{source!r}] = {source}").body[0]
        body.append(node)
    tree.body = body
    return tree


def shown(values: dict, start: str):
    """The displayed value of the one expression beginning with ``start``."""
    (key,) = [k for k in values if k.startswith(start)]
    return values[key]


@pytest.mark.filterwarnings("ignore")
def test_quick_start_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"_shown": {}}
    exec(compile(capturing(fast(quick_start())), str(README), "exec"), namespace)
    values = namespace["_shown"]
    printed = capsys.readouterr().out
    assert "-317.2568" in printed and re.search(r"\b(\d+) of \1\b", printed)  # LL, "k of n" replicated, k = n
    assert (tmp_path / "profiles.png").stat().st_size > 0
    assert (tmp_path / "carcinoma.bmx").is_dir()
    m, fits = namespace["m"], namespace["fits"]
    assert set(fits) == {"ml", "nuts"} and "posterior_predictive" in fits["nuts"].children
    assert namespace["ml"].loglik == pytest.approx(-317.2568, abs=1e-3)  # Agresti (2002)
    assert m.class_proportions(fits["nuts"])["mean"].sum() == pytest.approx(1.0)
    df, ml = namespace["df"], namespace["ml"]

    gof = shown(values, "m.goodness_of_fit(")  # the values the README's comment gives
    assert gof["G2"] == pytest.approx(62.37, abs=0.01) and gof["X2"] == pytest.approx(92.65, abs=0.01)
    assert gof["df"] == 112

    vlmr = shown(values, "bm.vlmr(")  # two classes against one: a large LR, rejected
    assert vlmr["statistic"] == pytest.approx(2 * (ml.loglik - vlmr["loglik_h0"]))
    assert vlmr["p_value"] < 0.01 and vlmr["lmr_p_value"] < 0.01 and vlmr["lmr_statistic"] < vlmr["statistic"]

    profiles = shown(values, "m.profiles(")
    assert profiles.shape[0] == 7
    for label in ("class1", "class2"):
        p = profiles[label]
        assert ((p["lower"] <= p["mean"]) & (p["mean"] <= p["upper"]) & p["mean"].between(0, 1)).all()

    posterior = shown(values, "m.class_probabilities(")
    assert posterior.shape == (118, 2) and np.allclose(posterior.sum(axis=1), 1.0)

    proba = shown(values, "m.predict_proba(")  # new rows = the first three units: Bayes' rule equals their posterior
    np.testing.assert_allclose(proba.to_numpy(), m.class_probabilities(ml).iloc[:3].to_numpy(), atol=1e-8)
    predicted = shown(values, "m.predict(")
    assert list(predicted) == list(posterior.iloc[:3].idxmax(axis=1))

    pairs = shown(values, "m.ppc_item_pairs(")  # 21 pairs of 7 items, least explained first
    assert len(pairs) == 21 and pairs["ppp"].between(0, 1).all() and pairs["ppp"].is_monotonic_increasing

    patterns = shown(values, "m.ppc_patterns(")  # observed counts are the data's pattern counts
    counts = df[list("ABCDEFG")].astype(int).astype(str).agg("".join, axis=1).value_counts()
    assert (patterns["observed"] == counts.reindex(patterns.index).to_numpy()).all()

    ranking = shown(values, "bm.compare(")  # ranked by elpd, the best first with elpd_diff 0
    assert list(ranking["rank"]) == [0, 1] and ranking["elpd"].is_monotonic_decreasing
    assert ranking["elpd_diff"].iloc[0] == 0
    assert isinstance(ranking, pd.DataFrame)
