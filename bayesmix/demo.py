"""Demo: two-class LCA of the carcinoma data, by ML and by NUTS.

Run with ``python -m bayesmix.demo`` (or ``make demo``). Set
``BAYESMIX_DEMO_QUICK=1`` for a fast check (200 draws, 200 tuning steps,
2 chains instead of 1000/1000/4).

The data (Agresti 2002, Table 13.1): 118 slides rated by 7 pathologists
(items A-G, 1 = carcinoma). The published 2-class ML log-likelihood is
-317.2568.
"""

from __future__ import annotations

import os
import time
import warnings

import pandas as pd

import bayesmix as bm

LITERATURE_LL = -317.2568


def header(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def settings() -> dict:
    quick = os.environ.get("BAYESMIX_DEMO_QUICK", "").strip().lower() not in ("", "0", "false", "no")
    if quick:
        return {"draws": 200, "tune": 200, "chains": 2, "quick": True}
    return {"draws": 1000, "tune": 1000, "chains": 4, "quick": False}


def profile_table(m, idata, ml) -> pd.DataFrame:
    """Posterior mean [94% interval] next to the ML estimate (SE), per item and class.

    ML and the posterior share one labeling (``fit_ml`` ran first, ``sample``'s
    starting mode takes its labels; see ``bayesmix.relabel``), so the columns
    line up without matching classes by hand.
    """
    post = m.profiles(idata)
    columns = {}
    for c in m.class_labels:
        columns[(c, "post.mean")] = post[(c, "mean")]
        columns[(c, "lower")] = post[(c, "lower")]
        columns[(c, "upper")] = post[(c, "upper")]
        columns[(c, "ML")] = ml.profiles[(c, "estimate")]
        columns[(c, "ML se")] = ml.profiles[(c, "se")]
    table = pd.DataFrame(columns)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["class", ""])
    return table.round(3)


def main() -> None:
    import arviz as az

    opts = settings()
    pd.set_option("display.width", 140)
    pd.set_option("display.max_columns", 40)

    header("Data")
    df = bm.datasets.load("carcinoma")
    items = list("ABCDEFG")
    print(f"carcinoma: {len(df)} slides x {len(items)} pathologists (A-G), 1 = carcinoma")
    m = bm.lca(df, items=items, n_classes=2)

    header("Maximum likelihood (20 random starts)")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # boundary estimates are reported in the summary
        ml = m.fit_ml(starts=20, seed=1)
    print(ml)
    print(f"literature LL {LITERATURE_LL}  (difference {ml.loglik - LITERATURE_LL:+.4f});"
          f" {time.perf_counter() - t0:.0f} s")

    header(f"NUTS: {opts['chains']} chains x {opts['draws']} draws ({opts['tune']} tuning)"
           + ("  [BAYESMIX_DEMO_QUICK]" if opts["quick"] else ""))
    t0 = time.perf_counter()
    idata = m.sample(draws=opts["draws"], tune=opts["tune"], chains=opts["chains"], random_seed=1)
    sampler = idata.attrs.get("bayesmix_sampler", "?")
    print(f"sampler: {sampler}; {time.perf_counter() - t0:.0f} s (including compilation)")

    stats = idata["sample_stats"]
    if "diverging" in stats.data_vars:
        n_div = int(stats["diverging"].sum())
        print(f"divergences: {n_div}")
    else:
        print("divergences: (not reported by this sampler)")
    names = [rv.name for rv in m.model.free_RVs]
    summary = m.summary(idata, names, kind="diagnostics")  # per variable: ArviZ 1.3 mislabels shared dims
    print(f"max R-hat: {summary['r_hat'].max():.3f}   min bulk ESS: {summary['ess_bulk'].min():.0f}")

    header("Class proportions (posterior)")
    print(m.class_proportions(idata).round(3).to_string())

    header("Profiles: P(item = 1 | class), posterior vs ML")
    print(profile_table(m, idata, ml).to_string())

    header("LOO (per slide, classes marginalized)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # high Pareto k is shown in the table below
        loo = az.loo(idata)
    print(loo)
    print(f"(relative entropy of the posterior classification: {m.entropy(idata):.3f})")


if __name__ == "__main__":
    main()
