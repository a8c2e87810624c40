"""BLRT (bm.blrt) against Mplus 8.11 TECH14 on the 10 FAQ LCA data, 4 vs 5 classes (issue 26 item 1).

Mplus: 2 dLL = 17.805, BLRT p = 0.1923 from 26 bootstrap draws (5 of 26 at or above the
statistic). This draws B replicates (default 50) and compares the two proportions with
Fisher's exact test: a p-value of the comparison above 0.05 means the two bootstraps agree
within their binomial noise. About 2.5 s per replicate on one core. Not a test
(tests/test_mplus_10faq.py checks 3 vs 4 classes in CI).

    python benchmarks/bench_blrt_10faq.py --draws 50
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import bayesmix as bm

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "mplus_10faq" / "lca10faq.csv"
ITEMS = [f"PYDI{i}Ab" for i in range(1, 8)]
MPLUS_EXCEED, MPLUS_DRAWS = 5, 26  # TECH14, 4 vs 5 classes: p = 0.1923 = 5 / 26


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    data = pd.read_csv(DATA)
    models = {k: bm.lca(data, ITEMS, n_classes=k, missing_codes=[9999]) for k in (4, 5)}
    fits = {k: models[k].fit_ml(starts=(100, 25), seed=1, progressbar=False) for k in (4, 5)}
    t0 = time.perf_counter()
    out = bm.blrt(models[4], fits[4], models[5], fits[5], n_bootstrap=args.draws, seed=args.seed,
                  n_jobs=args.jobs)
    exceed = int(np.sum(out.attrs["replicates"] >= out["statistic"]))
    table = [[exceed, args.draws - exceed], [MPLUS_EXCEED, MPLUS_DRAWS - MPLUS_EXCEED]]
    agreement = stats.fisher_exact(table).pvalue
    print(f"LR {out['statistic']:.3f} (Mplus 17.805); bootstrap LRs at or above it: {exceed} of {args.draws} "
          f"(Mplus {MPLUS_EXCEED} of {MPLUS_DRAWS}); p = {out['p_value']:.4f} (Mplus 0.1923); "
          f"Fisher's exact test of equal proportions p = {agreement:.3f}; "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
