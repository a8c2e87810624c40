"""StepMix side of ``bench_ml_stepmix.py``. Runs in a separate venv that has StepMix.

StepMix is not a bayesmix dependency. ``bench_ml_stepmix.py`` runs this file
with another interpreter (default ``/tmp/stepmix-venv/bin/python``)::

    ~/.pyenv/versions/3.12.1/bin/python3 -m venv /tmp/stepmix-venv
    /tmp/stepmix-venv/bin/pip install stepmix pandas

Usage (normally called by the benchmark, not by hand)::

    python _stepmix_runner.py --csv DATA.csv --k 3 --n-init 20 --seed 1 --out result.json

It fits ``StepMix(n_components=K, measurement=..., n_init=..., random_state=...,
max_iter=...)`` (``--measurement binary`` for 0/1 items, ``categorical`` for
nominal items given as 0-based integer codes, which StepMix one-hot encodes itself) (``abs_tol``/``rel_tol`` left at their defaults: 1e-10 on the
change of the average log-likelihood per sample, no relative tolerance) on every
column of the CSV, ``repeat`` times with a fresh estimator each time, and
writes JSON: the wall time of each ``.fit(X)``, the log-likelihood
``score(X) * N`` (``score`` is the average log-likelihood per sample), the LL
reached by each random start (``lower_bound_buffer_`` * N), StepMix's own
``pis``, the category probabilities ``probs`` (K x sum of categories, item by
item, codes 0..C-1) and class weights of the best start.
Only the standard library, numpy, pandas and StepMix are imported here.
"""

from __future__ import annotations

import json
import platform
import sys
import time

from _peer_common import base_parser, loadavg, threadpools, version  # the runner's own folder is on sys.path


def main(argv=None):
    p = base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--n-init", type=int, default=20)
    p.add_argument("--measurement", default="binary", choices=("binary", "categorical"))
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import stepmix
    from stepmix.stepmix import StepMix
    import_s = time.perf_counter() - t0

    X = pd.read_csv(args.csv)
    n = len(X)
    runs = []
    best_model, best_s = None, float("inf")
    for _ in range(args.repeat):
        model = StepMix(n_components=args.k, measurement=args.measurement, n_init=args.n_init,
                        random_state=args.seed, max_iter=args.max_iter, progress_bar=0, verbose=0)
        load_before = loadavg()
        t = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - t
        runs.append({"seconds": seconds, "load_before": load_before, "load_after": loadavg()})
        if seconds < best_s:
            best_model, best_s = model, seconds
    model = best_model
    t = time.perf_counter()
    loglik = float(model.score(X)) * n
    score_s = time.perf_counter() - t
    params = model.get_parameters()
    per_start = np.asarray(model.lower_bound_buffer_, dtype=float) * n
    pis = np.asarray(params["measurement"]["pis"])
    n_cats = (X.max(axis=0).to_numpy() + 1).astype(int)
    if args.measurement == "binary":  # pis[k, j] = P(item j = 1 | class k)
        probs = np.concatenate([np.stack([1 - pis[:, j], pis[:, j]], axis=1) for j in range(X.shape[1])], axis=1)
    else:  # pis[k, j * L + c] = P(item j = c | class k), L = the largest number of categories
        width = pis.shape[1] // X.shape[1]
        probs = np.concatenate([pis[:, j * width:j * width + c] for j, c in enumerate(n_cats)], axis=1)
    out = {
        "tool": "stepmix",
        "stepmix_version": getattr(stepmix, "__version__", None) or version("stepmix"),
        "numpy_version": np.__version__,
        "sklearn_version": version("scikit-learn"),
        "python": platform.python_version(),
        "executable": sys.executable,
        "threadpools": threadpools(),
        "n_units": n,
        "n_items": X.shape[1],
        "k": args.k,
        "n_init": args.n_init,
        "max_iter": args.max_iter,
        "abs_tol": model.abs_tol,
        "rel_tol": model.rel_tol,
        "import_s": import_s,
        "runs": runs,
        "fit_s": best_s,
        "score_s": score_s,
        "loglik": loglik,
        "lower_bound_ll": float(model.lower_bound_) * n,
        "per_start_ll": per_start.tolist(),
        "best_n_iter": int(model.n_iter_),
        "any_start_converged": bool(model.converged_),
        "measurement": args.measurement,
        "pis": pis.tolist(),
        "probs": probs.tolist(),
        "weights": np.asarray(params["weights"]).tolist(),
        "items": list(X.columns),
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)



if __name__ == "__main__":
    main()
