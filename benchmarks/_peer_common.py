"""Helpers shared by the peer runners of ``bench_ml_stepmix.py`` (``_stepmix_runner.py``, ``_polca_runner.py``)
and by benchmarks that print their JSON record and write it to ``--out`` (``bench_gom_bfi.py``, ``bench_gom_prior.py``).

The runners execute in the peers' own venvs, so this module imports only the
standard library (threadpoolctl if it happens to be there).
"""

from __future__ import annotations

import argparse
import json
import os


def loadavg() -> float:
    """The 1-minute load average (NaN where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def base_parser(description: str) -> argparse.ArgumentParser:
    """Arguments every runner takes: data, classes, seed, EM iteration cap, repeats, output file."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--csv", required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-iter", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--out", required=True)
    return p


def threadpools() -> list[dict]:
    """BLAS/OpenMP thread pools of this process (informational; empty without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
        return [{k: d.get(k) for k in ("internal_api", "num_threads", "version")} for d in threadpool_info()]
    except Exception:  # informational only
        return []


def version(dist: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        from importlib.metadata import version as _v
        return _v(dist)
    except Exception:
        return None


def emit_json(record: dict, out: str | os.PathLike | None = None) -> dict:
    """Print ``record`` as indented JSON and, if ``out`` is given, write the same text (and a newline) there."""
    text = json.dumps(record, indent=1)
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")
    return record
