"""The paper-agreement table every case-study notebook writes (issue 24, item 5).

Each notebook collects rows -- one paper number, ours, their difference and a
tolerance stated with its reason -- and writes them with :func:`write` to
``case_studies/agreement/<notebook>.json`` (full mode, committed) or
``case_studies/agreement/fast/<notebook>.json`` (fast mode, CI; not committed),
so a CI run never overwrites the full-mode numbers. ``tests/test_paper_agreement.py``
reads the committed full-mode files and checks every row against its tolerance
and that every table (1-6) and figure (1-4) of the paper has a row.

Bases (what kind of agreement a row claims):

- ``"exact"``: the same data or a deterministic identity (the carcinoma LL, a
  nesting, the curve of figures 2-3): the tolerance is numerical.
- ``"design"``: a Monte Carlo study over replications of the paper's design
  (Table 2, Table 3): ours is a mean over replications, the tolerance
  ``Z * sqrt(mc_se**2 + paper_mc_se**2)`` covers the Monte Carlo error of both.
- ``"single sample"``: one sample simulated at the paper's published values;
  the paper's number is one draw of (the paper's) design and ours another, so
  the difference has SD ``sqrt(2) * sd`` with ``sd`` the design's SD of the
  estimate (Monte Carlo SD where run, else our standard error):
  tolerance ``Z * sqrt(2) * sd``.
- ``"in kind"``: data of the paper's shape (the paper's data are not
  public or not bundled), invented values tuned to its magnitude: the
  tolerance says what "the same in kind" means for that row.

``Z = 3.5`` is a two-sided 5% family-wise level over about 100 statistical rows
(Bonferroni: z = Phi^-1(1 - 0.025 / 100) = 3.48).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

Z = 3.5
BASES = ("exact", "design", "single sample", "in kind")
PAPER_ITEMS = tuple([f"Table {i}" for i in range(1, 7)] + [f"Figure {i}" for i in range(1, 5)])
HERE = Path(__file__).resolve().parent


def row(item: str, quantity: str, paper: float, ours: float, tolerance: float, reason: str, basis: str, *,
        sd: float | None = None, mc_se: float | None = None, replications: int | None = None,
        note: str = "") -> dict:
    """One comparison: the paper's number, ours, the difference and the tolerance with its reason.

    ``item`` names the paper's table or figure ("Table 2", "Figure 3"); ``sd``
    is the spread of ours over the design (Monte Carlo SD, or an SE),
    ``mc_se`` the Monte Carlo SE of a mean over ``replications``.
    """
    if item not in PAPER_ITEMS and not item.startswith("Section "):
        raise ValueError(f"item={item!r}; use one of {PAPER_ITEMS} or 'Section <n> (...)' for a result in the text.")
    if basis not in BASES:
        raise ValueError(f"basis={basis!r}; use one of {BASES}.")
    if not reason:
        raise ValueError(f"{item} {quantity}: state the reason for the tolerance.")
    paper, ours, tolerance = float(paper), float(ours), float(tolerance)
    out = {"item": item, "quantity": quantity, "paper": paper, "ours": ours, "difference": ours - paper,
           "tolerance": tolerance, "tolerance_reason": reason, "basis": basis}
    for key, value in (("sd", sd), ("mc_se", mc_se)):
        if value is not None:
            out[key] = float(value)
    if replications is not None:
        out["replications"] = int(replications)
    if note:
        out["note"] = note
    out["within_tolerance"] = bool(math.isfinite(out["difference"]) and abs(out["difference"]) <= tolerance)
    return out


def single_sample(item: str, quantity: str, paper: float, ours: float, sd: float, what: str, *,
                  population: float | None = None, **kw) -> dict:
    """A row of one sample simulated at the paper's values: tolerance Z * sqrt(2) * sd (see the module).

    ``population``: the simulated design's own value where it is not the
    paper's (a design calibrated to several published numbers cannot always
    hit all of them); the offset |population - paper| is added to the
    tolerance and named in its reason.
    """
    tol = Z * math.sqrt(2) * sd
    reason = (f"one simulated sample vs the paper's own sample: Z = {Z} times the SD of the difference of two "
              f"draws of the design, sqrt(2) x {sd:.4g} ({what})")
    offset = 0.0 if population is None or not math.isfinite(population) else abs(float(population) - float(paper))
    if offset > 0.005:
        tol += offset
        reason += (f", plus the design's own offset |population - paper| = {offset:.3g} (the simulation's "
                   f"population value is {float(population):.4g}, not the paper's)")
    if population is not None:
        kw["note"] = (kw.get("note", "") + f" population {float(population):.4g}").strip()
    return row(item, quantity, paper, ours, tol, reason, "single sample", sd=sd, **kw)


def draw_of_design(item: str, quantity: str, paper: float, mean: float, sd: float, replications: int,
                   what: str, **kw) -> dict:
    """The paper's single-sample value against our Monte Carlo mean: tolerance Z * sqrt(sd^2 + sd^2 / R).

    The paper's number is one draw of the design (SD ``sd`` over replications),
    ours the mean of ``replications`` draws (Monte Carlo SE sd / sqrt(R)).
    """
    tol = Z * math.sqrt(sd**2 + sd**2 / replications)
    return row(item, quantity, paper, mean, tol,
               f"the paper's value is one draw of the design, ours a mean over R = {replications} replications: "
               f"Z = {Z} times sqrt(SD^2 + SD^2 / R), SD = {sd:.3g} ({what})", "design", sd=sd,
               mc_se=sd / math.sqrt(replications), replications=replications, **kw)


def in_kind(item: str, quantity: str, paper: float, ours: float, tolerance: float, meaning: str, **kw) -> dict:
    """A row on data of the paper's shape, not its data: ``meaning`` says what agreement in kind is here."""
    return row(item, quantity, paper, ours, tolerance, f"in kind: {meaning}", "in kind", **kw)


def exact(item: str, quantity: str, paper: float, ours: float, tolerance: float, meaning: str, **kw) -> dict:
    """A row of an identity or of the same data: the tolerance is numerical."""
    return row(item, quantity, paper, ours, tolerance, f"exact: {meaning}", "exact", **kw)


def design(item: str, quantity: str, paper: float, ours: float, mc_se: float, paper_mc_se: float,
           replications: int, what: str, **kw) -> dict:
    """A row of a Monte Carlo study of the paper's design: tolerance Z * sqrt(mc_se^2 + paper_mc_se^2)."""
    tol = Z * math.hypot(mc_se, paper_mc_se)
    return row(item, quantity, paper, ours, tol,
               f"Monte Carlo error of both studies: Z = {Z} times sqrt({mc_se:.3g}^2 + {paper_mc_se:.3g}^2) "
               f"({what})", "design", mc_se=mc_se, replications=replications, **kw)


def table(rows: list[dict]):
    """The rows as a DataFrame (paper / ours / difference / tolerance / within), for display."""
    import pandas as pd
    frame = pd.DataFrame(rows)
    cols = ["item", "quantity", "basis", "paper", "ours", "difference", "tolerance", "within_tolerance"]
    extra = [c for c in ("sd", "mc_se", "replications") if c in frame]
    return frame[cols + extra].set_index(["item", "quantity"])


def write(notebook: str, rows: list[dict], *, fast: bool, seconds: float | None = None,
          directory: str | os.PathLike | None = None) -> Path:
    """Write the rows to ``agreement/<notebook>.json`` (full mode) or ``agreement/fast/<notebook>.json`` (fast).

    Returns the path written. Fast-mode files never replace the committed full-mode ones.
    """
    import bayesmix
    base = Path(directory) if directory is not None else HERE / "agreement"
    path = (base / "fast" if fast else base) / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"notebook": notebook, "mode": "fast" if fast else "full", "bayesmix": bayesmix.__version__,
               "written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
                          f"{platform.python_version()}",
               "run_seconds": None if seconds is None else round(float(seconds), 1),
               "z": Z, "rows": rows}
    path.write_text(json.dumps(payload, indent=1, allow_nan=True) + "\n")
    outside = [r for r in rows if not r["within_tolerance"]]
    print(f"wrote {len(rows)} rows to {path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path}"
          f" ({'fast' if fast else 'full'} mode); outside tolerance: {len(outside)}")
    for r in outside:
        print(f"  OUTSIDE: {r['item']} {r['quantity']}: |{r['difference']:.4g}| > {r['tolerance']:.4g}")
    return path
