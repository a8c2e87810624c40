"""poLCA side of ``bench_ml_stepmix.py``: the C++ port of R's poLCA (pip package ``polca``, module ``pypolca``).

pypolca is not a bayesmix dependency (GPL-2.0-or-later; it needs Python >= 3.12 and
polars). ``bench_ml_stepmix.py`` runs this file with another interpreter (default
``/tmp/polca-venv/bin/python``)::

    ~/.pyenv/versions/3.12.1/bin/python3 -m venv /tmp/polca-venv
    /tmp/polca-venv/bin/pip install polca

Usage (normally called by the benchmark, not by hand)::

    python _polca_runner.py --csv DATA.csv --k 3 --nrep 20 --seed 1 --out result.json

The CSV holds 0-based integer codes (the benchmark writes it); poLCA wants
1-based codes, so 1 is added. Timed: ``pypolca.fit("cbind(items) ~ 1",
nclass=K, nrep=..., seed=..., maxiter=..., tol=1e-10 * N, calc_se=False)`` (poLCA's
EM stops when the total log-likelihood gains less than ``tol``, so the per-unit
1e-10 of ``--tol`` is scaled by N: bayesmix's EM stops at a gain below 1e-10 x N),
``repeat`` times.
Then, from the best solution's probabilities (``probs_start``), one fit with
``calc_se=True`` and one without: their difference is the SE time. Writes JSON:
wall times, the best LL, EM iterations of the best replication, the category
probabilities ``probs`` (K x sum of categories, codes 0..C-1) and class weights.
"""

from __future__ import annotations

import json
import platform
import sys
import time

from _peer_common import base_parser, loadavg, threadpools, version  # the runner's own folder is on sys.path


def main(argv=None):
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--nrep", type=int, default=20)
    p.add_argument("--tol", type=float, default=1e-10,
                   help="per unit: poLCA gets tol x N, because it stops on the total LL change, as bayesmix's "
                        "EM stops when one step gains less than 1e-10 x N (equal tolerance on both sides)")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    import numpy as np
    import polars as pl
    import pypolca
    import_s = time.perf_counter() - t0

    data = pl.read_csv(args.csv)
    items = list(data.columns)
    data = data.with_columns([pl.col(c).cast(pl.Int64) + 1 for c in items])
    formula = f"cbind({', '.join(items)}) ~ 1"
    total_tol = args.tol * data.height  # poLCA's tol is on the total log-likelihood change
    fit = lambda **kw: pypolca.fit(formula, data=data, nclass=args.k, maxiter=args.max_iter,  # noqa: E731
                                   tol=total_tol, **kw)
    runs, best, best_s = [], None, float("inf")
    for _ in range(args.repeat):
        load_before = loadavg()
        t = time.perf_counter()
        res = fit(nrep=args.nrep, seed=args.seed, calc_se=False)
        seconds = time.perf_counter() - t
        runs.append({"seconds": seconds, "load_before": load_before, "load_after": loadavg()})
        if seconds < best_s:
            best, best_s = res, seconds
    start = np.asarray(best.params.vecprobs, dtype=float)
    t = time.perf_counter()
    fit(nrep=1, seed=args.seed, calc_se=False, probs_start=start)
    em_from_opt_s = time.perf_counter() - t
    t = time.perf_counter()
    with_se = fit(nrep=1, seed=args.seed, calc_se=True, probs_start=start)
    se_fit_s = time.perf_counter() - t
    out = {
        "tool": "polca",
        "polca_version": version("polca"),
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "threadpools": threadpools(),
        "n_units": data.height,
        "n_items": len(items),
        "k": args.k,
        "nrep": args.nrep,
        "max_iter": args.max_iter,
        "tol": args.tol,
        "tol_total": total_tol,
        "import_s": import_s,
        "runs": runs,
        "fit_s": best_s,
        "em_from_optimum_s": em_from_opt_s,
        "se_fit_s": se_fit_s,
        "se_s": max(se_fit_s - em_from_opt_s, 0.0),
        "se_fit_loglik": float(with_se.loglik),
        "loglik": float(best.loglik),
        "best_n_iter": int(best.iterations),
        "converged": bool(best.converged),
        "probs": np.concatenate(best.probs, axis=1).tolist(),  # K x (sum of categories)
        "weights": np.asarray(best.P, dtype=float).tolist(),
        "items": items,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)



if __name__ == "__main__":
    main()
