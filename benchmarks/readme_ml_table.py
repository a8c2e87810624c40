#!/usr/bin/env python
"""The README's ML speed rows and its first-``fit_ml`` figures, from the committed raw results.

Reads ``benchmarks/results/ml_ratios.json`` (written by ``bench_ml_stepmix.py``:
medians of interleaved rounds of bayesmix, StepMix and the poLCA C++ port) and
``benchmarks/results/ml_first_fit.json`` (``bench_ml_stepmix.py --first-fit``:
fresh processes with an empty PyTensor compiledir), and prints the table rows.
With ``--write`` it replaces them in ``README.md``: the row starting
``| first `fit_ml` on carcinoma``, the block of ML rows starting ``| ML to the
best LL`` (followed by ``| same, `` rows) and the sentence
"carcinoma's first `fit_ml` takes about ... s". Nothing is typed by hand.
A case re-measured later on its own (``bench_ml_stepmix.py --datasets D --ks K --save-as
results/ml_ratios_remeasure-<name>.json``) is added to its data set's row as a note beside the
table's own medians, with its rounds, date and load (the table's run is not overwritten).

Usage (from the repository root)::

    .venv/bin/python benchmarks/readme_ml_table.py            # print the rows
    .venv/bin/python benchmarks/readme_ml_table.py --write    # and put them into README.md
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RATIOS = HERE / "results" / "ml_ratios.json"
FIRST_FIT = HERE / "results" / "ml_first_fit.json"
REMEASURED = "ml_ratios_remeasure-*.json"
LABELS = {
    "carcinoma": "carcinoma (N = 118, 7 binary items)",
    "sim": "N = 10,000 x 20 binary",
    "gss82": "gss82 (poLCA's data, N = 1,202, 4 nominal items)",
    "gss82like": "gss82-like (N = 1,202, 4 nominal items)",
    "nominal": "nominal N = 10,000 x 10 items (3-4 categories)",
}


def _s(values) -> str:
    """Seconds, 2 significant digits below 10 s."""
    out = []
    for v in values:
        if v != v:
            out.append("n/a")
            continue
        out.append(f"{v:.2f}" if v < 1 else f"{v:.1f}" if v < 10 else f"{v:.0f}")
    return ", ".join(out)


def _x(values) -> str:
    return ", ".join("n/a" if v != v else f"{v:.1f}" for v in values) + "x"


def _ll_note(cases) -> str:
    """'same LL' or the differences (bayesmix minus peer) where they exceed 1e-3."""
    notes = []
    for c in cases:
        m = c["median"]
        for peer, key in (("StepMix", "stepmix_ll"), ("poLCA", "polca_ll")):
            d = m["bm_ll"] - m[key]
            if d == d and abs(d) > 1e-3:
                notes.append(f"K = {c['K']}: {peer} {abs(d):.2f} {'lower' if d > 0 else 'higher'} LL")
    return "same LL" if not notes else "; ".join(notes)


def _rounds(data: dict) -> str:
    """How many rounds every shown case has (a stopped run has fewer than it planned): never claim more."""
    shown = [c for c in data["cases"] if c["median"]["stepmix_s"] == c["median"]["stepmix_s"]
             or c["median"]["polca_s"] == c["median"]["polca_s"]]
    measured = min(len(c["bm_equal"]["to_best_ll_s"]) for c in shown)
    if measured == 1:
        return f"one round (of {data['rounds']} planned: not a median)"
    return f"medians of {measured} interleaved rounds"


def remeasure_notes(files) -> dict[str, list[str]]:
    """Per data set, one sentence per re-measured case: medians, per-round ratio range, rounds, date, load."""
    notes: dict[str, list[str]] = {}
    for path in sorted(files):
        data = json.loads(Path(path).read_text())
        for c in data["cases"]:
            m, bm, sm = c["median"], c["bm_equal"]["to_best_ll_s"], c["stepmix"]["fit_s"]
            per_round = [s / b for s, b in zip(sm, bm)]
            loads = [v for pair in c["bm_equal"]["load"] for v in pair]
            notes.setdefault(c["dataset"], []).append(
                f"K = {c['K']} re-measured ({len(bm)} rounds, {data['date'][:10]}, load {min(loads):.0f}-{max(loads):.0f}, "
                f"`{Path(path).name}`): {_s([m['bm_equal_s']])} s vs StepMix {_s([m['stepmix_s']])} s, "
                f"{m['ratio_stepmix_equal']:.1f}x ({min(per_round):.1f}-{max(per_round):.1f}x per round), "
                f"poLCA {m['ratio_polca_equal']:.1f}x")
    return notes


def ml_rows(data: dict, notes: dict[str, list[str]] | None = None) -> list[str]:
    by_set: dict[str, list] = {}
    for c in data["cases"]:
        if c["median"]["stepmix_s"] == c["median"]["stepmix_s"] or c["median"]["polca_s"] == c["median"]["polca_s"]:
            by_set.setdefault(c["dataset"], []).append(c)  # cases no peer reached (a stopped run) are left out
    date = data["date"][:10]
    loads = [c["median"]["max_load"] for c in data["cases"]]
    rows = []
    for i, (name, cases) in enumerate(by_set.items()):
        cases.sort(key=lambda c: c["K"])
        ks = ", ".join(str(c["K"]) for c in cases)
        med = [c["median"] for c in cases]
        starts = cases[0]["starts"]
        if i == 0:
            task = (f"ML to the best LL with {starts} starts each run to convergence (`fit_ml(starts=({starts}, "
                    f"{starts}))`, StepMix `n_init={starts}`, poLCA `nrep={starts}`; EM stops on a total LL "
                    f"change below 1e-10 x N in all three, at most 1,000 EM iterations in the peers), {LABELS.get(name, name)}, K = {ks} ({_ll_note(cases)}); "
                    f"beside: the whole `fit_ml` with SEs, and Mplus's convention `starts={starts}` "
                    f"({starts} short starts, {starts // 4} to convergence); {_rounds(data)}, {date}, "
                    f"load up to {max(loads):.1f} (`readme_ml_table.py`)")
        else:
            task = f"same, {LABELS.get(name, name)}, K = {ks} ({_ll_note(cases)})"
        ours = (f"{_s(m['bm_equal_s'] for m in med)} s; with SEs {_s(m['bm_equal_fit_ml_s'] for m in med)} s; "
                f"`starts={starts}` {_s(m['bm_mplus_s'] for m in med)} s")
        peer = (f"StepMix {_s(m['stepmix_s'] for m in med)} s "
                f"(ratio {_x(m['ratio_stepmix_equal'] for m in med)}; with SEs "
                f"{_x(m['ratio_stepmix_fit_ml'] for m in med)}; vs `starts={starts}` "
                f"{_x(m['ratio_stepmix_mplus'] for m in med)}); "
                f"poLCA (C++) {_s(m['polca_s'] for m in med)} s (ratio {_x(m['ratio_polca_equal'] for m in med)}; "
                f"with SEs {_x(m['ratio_polca_fit_ml'] for m in med)})")
        for note in (notes or {}).get(name, []):
            peer += f". {note}"
        rows.append(f"| {task} | {ours} | {peer} |")
    return rows


def first_fit_row(data: dict) -> str:
    m = data["median"]
    return (f"| first `fit_ml` on carcinoma, fresh environment (empty compile caches); a new K after it "
            f"(median of {len(data['runs'])} fresh processes, {data['date'][:10]}, `readme_ml_table.py`) | "
            f"{m['K2_fit_ml_s']:.1f} s; {m['K3_fit_ml_s']:.1f} s | 58-77 s before |")


def write(readme: Path, first: str | None, rows: list[str], first_s: float | None) -> None:
    lines = readme.read_text().split("\n")
    if first is not None:
        hit = [i for i, line in enumerate(lines) if line.startswith("| first `fit_ml` on carcinoma")]
        if len(hit) != 1:
            raise SystemExit("README: expected one row starting '| first `fit_ml` on carcinoma'")
        lines[hit[0]] = first
    if rows:
        starts = [i for i, line in enumerate(lines)
                  if line.startswith("| ML to the best LL") or line.startswith("| `fit_ml(starts=20)` to the best LL")]
        if len(starts) != 1:
            raise SystemExit("README: expected one row starting '| ML to the best LL'")
        end = starts[0] + 1
        while end < len(lines) and lines[end].startswith("| same, "):
            end += 1
        lines[starts[0]:end] = rows
    text = "\n".join(lines)
    if first_s is not None:
        text, n = re.subn(r"carcinoma's first `fit_ml` takes about [0-9.]+ s",
                          f"carcinoma's first `fit_ml` takes about {first_s:.1f} s", text)
        if n != 1:
            raise SystemExit("README: the sentence \"carcinoma's first `fit_ml` takes about ... s\" was not found")
    readme.write_text(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="replace the rows in README.md")
    p.add_argument("--readme", default=str(ROOT / "README.md"))
    p.add_argument("--only", choices=("all", "ratios", "first-fit"), default="all",
                   help="which README figures to write (e.g. keep first-fit figures measured on a quiet machine)")
    args = p.parse_args(argv)
    notes = remeasure_notes((HERE / "results").glob(REMEASURED))
    rows = ml_rows(json.loads(RATIOS.read_text()), notes) if RATIOS.exists() else []
    first_data = json.loads(FIRST_FIT.read_text()) if FIRST_FIT.exists() else None
    first = first_fit_row(first_data) if first_data else None
    for row in ([first] if first else []) + rows:
        print(row)
    if args.write:
        if args.only == "ratios":
            first, first_data = None, None
        if args.only == "first-fit":
            rows = []
        write(Path(args.readme), first, rows, first_data["median"]["K2_fit_ml_s"] if first_data else None)


if __name__ == "__main__":
    main()
