"""Compare a re-executed notebook with its committed version: changed outputs, agreement rows, stale prose.

Run from the repository root after a full-mode run (issue 24: every sentence that quotes an output must
match the new output)::

    python case_studies/_compare_runs.py case_studies/section4_lta.ipynb [--old REV]

It prints, against the notebook at git revision ``REV`` (default ``HEAD``):

1. per code cell, the output lines whose numbers changed (old line, new line);
2. the rows of ``case_studies/agreement/<notebook>.json`` whose value, tolerance or verdict changed, and
   rows added or removed;
3. the numbers quoted in markdown cells that match (at the quoted precision) a number of the old outputs
   but none of the new ones: the sentences that probably quote a stale output.

It only reads; nothing is written.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _git_show(rev: str, path: Path) -> str:
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True, cwd=path.parent).stdout.strip()
    rel = path.resolve().relative_to(root)
    return subprocess.run(["git", "show", f"{rev}:{rel}"], capture_output=True, text=True, check=True,
                          cwd=root).stdout


def _text(output: dict) -> str:
    if "text" in output:
        return "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
    plain = output.get("data", {}).get("text/plain", "")
    return "".join(plain) if isinstance(plain, list) else plain


def _code_outputs(book: dict) -> list[str]:
    return ["".join(_text(o) for o in cell.get("outputs", [])) for cell in book["cells"] if cell["cell_type"] == "code"]


def _numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def _renderings(texts: list[str]) -> set[str]:
    """Every number of ``texts`` as written and rounded to 1-4 decimals (how prose quotes them)."""
    out = set()
    for text in texts:
        for token in _numbers(text):
            out.add(token.replace(",", "").lstrip("+"))
            try:
                value = _value(token)
            except ValueError:
                continue
            for digits in range(1, 5):  # integers count only as written (prose has many: 100 replications)
                rounded = f"{value:.{digits}f}"
                out.add(rounded)
                out.add(rounded.lstrip("-"))
                if rounded.startswith(("0.", "-0.")):
                    out.add(rounded.replace("0.", ".", 1).lstrip("-"))
    return out


def changed_lines(old: list[str], new: list[str], limit: int = 40) -> list[str]:
    report = []
    for i, (a, b) in enumerate(zip(old, new)):
        if _numbers(a) == _numbers(b):
            continue
        lines = [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
                 if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        report.append(f"--- code cell {i}: {len(lines)} changed lines")
        report.extend("  " + line[:200] for line in lines[:limit])
        if len(lines) > limit:
            report.append(f"  ... {len(lines) - limit} more")
    if len(old) != len(new):
        report.append(f"code cells: {len(old)} old, {len(new)} new")
    return report


def agreement_changes(old: dict, new: dict) -> list[str]:
    key = lambda r: (r["item"], r["quantity"])  # noqa: E731
    a, b = {key(r): r for r in old.get("rows", [])}, {key(r): r for r in new.get("rows", [])}
    report = [f"agreement: {len(a)} rows old, {len(b)} new; run seconds {old.get('run_seconds')} -> "
              f"{new.get('run_seconds')}"]
    for k in sorted(set(a) | set(b), key=str):
        if k not in a or k not in b:
            report.append(f"  {'added' if k in b else 'removed'}: {k}")
            continue
        ra, rb = a[k], b[k]
        fields = [f for f in ("paper", "ours", "tolerance", "sd", "replications", "within_tolerance")
                  if f in ra or f in rb]
        diffs = [f"{f} {ra.get(f)} -> {rb.get(f)}" for f in fields
                 if ra.get(f) != rb.get(f) and not (_close(ra.get(f), rb.get(f)))]
        if diffs:
            flag = "  VERDICT CHANGED" if ra.get("within_tolerance") != rb.get("within_tolerance") else ""
            report.append(f"  {k[0]} | {k[1]}: " + "; ".join(diffs) + flag)
    return report


def _close(x, y) -> bool:
    try:
        return abs(float(x) - float(y)) <= 1e-12 * max(1.0, abs(float(x)))
    except (TypeError, ValueError):
        return False


def stale_quotes(book: dict, old_outputs: list[str], new_outputs: list[str]) -> list[str]:
    old, new = _renderings(old_outputs), _renderings(new_outputs)
    report = []
    for i, cell in enumerate(book["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        for sentence in re.split(r"(?<=[.;:!?])\s+", source):
            tokens = [t.replace(",", "").lstrip("+-") for t in _numbers(sentence)]
            hits = [t for t in tokens if t in old and t not in new]
            if hits:
                report.append(f"  markdown cell {i}: {hits} in: {' '.join(sentence.split())[:240]}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--old", default="HEAD", help="git revision of the old run (default HEAD)")
    args = parser.parse_args(argv)
    new_book = json.loads(args.notebook.read_text())
    old_book = json.loads(_git_show(args.old, args.notebook))
    old_out, new_out = _code_outputs(old_book), _code_outputs(new_book)
    print("\n".join(changed_lines(old_out, new_out)) or "no output number changed")
    agreement = args.notebook.parent / "agreement" / f"{args.notebook.stem}.json"
    if agreement.exists():
        try:
            old_json = json.loads(_git_show(args.old, agreement))
        except subprocess.CalledProcessError:
            old_json = {}
        print("\n".join(agreement_changes(old_json, json.loads(agreement.read_text()))))
    stale = stale_quotes(new_book, old_out, new_out)
    print("prose quoting numbers of the old outputs only:" if stale else "no stale quote found")
    print("\n".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
