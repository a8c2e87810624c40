"""Benchmark: bm.vlmr and bm.enumerate_classes on election-like data (issue 25 item 1).

Data: 1,800 respondents x 12 nominal items with 4 categories (poLCA's
``election`` has 1,785 x 12 with 4 categories), 3 true classes, 20% of the
answers missing at random; ``bm.lca(df, items, k, item_types="nominal")``,
K = 1..5 (36, 73, 110, 147, 184 parameters). Times per K:

- ``fit_s``: ``m.fit_ml(starts=(20, 5), seed=1)`` (K = 1: one start);
- ``vlmr_s``: ``bm.vlmr`` of K - 1 against K right after the fits (the
  information and scores fit_ml computed for the SEs are reused);
- ``vlmr_cold_s``: the same with the models' cached Hessians and scores
  cleared (what a comparison costs without reuse: one 2P-gradient sweep per fit);

then ``bm.enumerate_classes`` for K = 1..5 end to end. Not a test.

Measured on the shared 2-core machine (one BLAS thread), bm.vlmr per
comparison, 1 vs 2 / 2 vs 3 / 3 vs 4 / 4 vs 5 classes: at fcf7b26 (before
the reuse) 3.3 / 4.7 / 2.2 / 2.9 s (a compile of the per-unit LL, a Hessian
sweep per fit, Imhof's integral far in the tail); now 0.02 / 0.03 / 0.60 /
0.24 s right after the fits, 0.7 / 1.0 / 2.5 / 2.1 s with the caches
cleared; fit_ml 1.7-4.6 s per K; enumerate_classes K = 1..5: 15 s.

    PYTHONPATH=. python benchmarks/bench_vlmr.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

import bayesmix as bm
from bayesmix.inference.objective import flat_model


def election_like(n: int = 1800, n_items: int = 12, n_categories: int = 4, missing: float = 0.2,
                  seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = np.array([0.45, 0.35, 0.2])
    probs = rng.dirichlet(np.full(n_categories, 0.8), size=(len(weights), n_items))
    classes = rng.choice(len(weights), size=n, p=weights)
    y = np.empty((n, n_items))
    for j in range(n_items):
        y[:, j] = (rng.uniform(size=(n, 1)) > probs[classes, j].cumsum(1)).sum(1) + 1
    y[rng.uniform(size=y.shape) < missing] = np.nan
    return pd.DataFrame(y, columns=[f"Q{j + 1}" for j in range(n_items)])


def main() -> None:
    warnings.simplefilter("ignore")
    df = election_like()
    items = list(df.columns)
    fits, rows = {}, []
    for k in range(1, 6):
        m = bm.lca(df, items, n_classes=k, item_types="nominal")
        t = time.perf_counter()
        fit = m.fit_ml(starts=(20, 5) if k > 1 else 1, seed=1, progressbar=False)
        row = {"K": k, "n_params": fit.n_params, "loglik": round(fit.loglik, 3), "fit_s": time.perf_counter() - t}
        fits[k] = (m, fit)
        if k > 1:
            t = time.perf_counter()
            out = bm.vlmr(*fits[k - 1], *fits[k])
            row["vlmr_s"] = time.perf_counter() - t
            row["vlmr_p"] = out["p_value"]
            for mm, _ in (fits[k - 1], fits[k]):
                flat = flat_model(mm)
                flat._hessian_cache, flat._score_cache = {}, None
            t = time.perf_counter()
            bm.vlmr(*fits[k - 1], *fits[k])
            row["vlmr_cold_s"] = time.perf_counter() - t
        rows.append(row)
        print(row, flush=True)
    print(pd.DataFrame(rows).set_index("K").round(3).to_string())
    t = time.perf_counter()
    enum = bm.enumerate_classes(bm.lca, df, items, classes=range(1, 6), starts={1: 1, 2: (20, 5), 3: (20, 5),
                                4: (20, 5), 5: (20, 5)}, seed=1, item_types="nominal", progressbar=False)
    print(f"\nenumerate_classes K = 1..5: {time.perf_counter() - t:.1f} s\n{enum}")


if __name__ == "__main__":
    main()
