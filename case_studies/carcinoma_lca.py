"""Carcinoma (Agresti 2002, Table 13.1): LCA by ML and by NUTS, side by side with published values.

Run: .venv/bin/python case_studies/carcinoma_lca.py   (about a minute)
Set BAYESMIX_QUICK=1 for fewer draws.
"""

from __future__ import annotations

import os

import arviz as az
import pandas as pd

import bayesmix as bm

PUBLISHED = {  # poLCA and StepMix 3.0 agree (shared/data/README.md)
    2: {"loglik": -317.2568, "n_params": 15, "bic": 706.074},
    3: {"loglik": -293.7050, "n_params": 23, "bic": 697.136},
    4: {"loglik": -289.2859, "n_params": 31, "bic": None},
}


def main() -> None:
    quick = os.environ.get("BAYESMIX_QUICK") == "1"
    df = bm.datasets.load("carcinoma")
    items = list("ABCDEFG")
    table = bm.select_classes(bm.lca, df, items=items, k_max=4, starts=(60, 15), seed=1)
    table["published_loglik"] = [None] + [PUBLISHED[k]["loglik"] for k in (2, 3, 4)]
    table["published_bic"] = [None] + [PUBLISHED[k]["bic"] for k in (2, 3, 4)]
    print("Maximum likelihood, K = 1..4 (ours vs published)")
    print(table.round(4).to_string())

    draws = 300 if quick else 1000
    fits = {}
    for k in (2, 3):
        m = bm.lca(df, items=items, n_classes=k)
        idata = m.sample(draws=draws, tune=draws, chains=4, random_seed=1, progressbar=False)
        fits[f"K={k}"] = idata
        print(f"\nK={k}: divergences {int(idata.sample_stats['diverging'].sum())}, "
              f"max R-hat {float(az.rhat(idata).dataset.to_array().max()):.3f}")
        print(pd.concat({"posterior": m.class_proportions(idata)["mean"]}, axis=1).round(3).T.to_string())
        print(m.profiles(idata).xs("mean", axis=1, level="statistic").round(3).to_string())
    print("\nLOO comparison (per slide)")
    print(bm.compare(fits).round(2).to_string())
    print("\nWAIC comparison")
    print(bm.compare(fits, ic="waic").round(2).to_string())


if __name__ == "__main__":
    main()
