"""Section 7 (Table 5 and figure 4 in kind): the LL gain of grade of membership over LCA.

The paper fits 2- and 3-class LCA and GoM models (3-class GoM: the restricted
form, eq. 35) to 17 antisocial-behaviour items of the NLSY (N = 7,326). That
extract is NOT bundled with bayesmix, so part 1 uses data *simulated to
resemble it* (``asb_like_profiles``: 8 property, 5 personal, 4 drug items
with an offense-prone class; logistic-normal membership alpha = -1,
Var(alpha_1j) = 4), and reproduces the comparison in kind -- not the paper's
numbers. Part 2 makes the same comparison on real responses: the bundled
carcinoma (7 pathologists, N = 118) and lsat7 (5 LSAT items, N = 1,000) data.
Figure 4 in kind: the offense-prone class profile of GoM against LCA
(saved as ``section7_gom_figure4.png`` next to the output when matplotlib is
available; the correlation is printed).

Run: .venv/bin/python case_studies/section7_gom.py          (N = 2,000, a few minutes)
     BAYESMIX_FULL=1 ... for the paper's N = 7,326; BAYESMIX_QUICK=1 for N = 600.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmix as bm
from bayesmix.datasets.simulate_gom import asb_like_profiles, simulate_gom

PAPER_TABLE5 = pd.DataFrame({"2 class": [-42625.7, -42159.1], "3 class": [-41713.1, -41554.6]},
                            index=["LCA", "GoM"])


def _ll_table(data: pd.DataFrame, items: list[str], starts: int, seed: int = 1) -> tuple[pd.DataFrame, dict]:
    """LL and parameters of LCA and GoM (K = 2 logistic-normal, K = 3 restricted), probit items as the paper."""
    rows, fits = {}, {}
    for k in (2, 3):
        lca_model = bm.lca(data, items, k, link="probit")
        lca_fit = lca_model.fit_ml(starts=starts, seed=seed)
        membership = "logistic-normal" if k == 2 else "restricted"
        gom_model = bm.gom(data, items, k, membership=membership)
        gom_fit = gom_model.fit_ml(starts=starts, seed=seed)
        fits[k] = (lca_model, lca_fit, gom_model, gom_fit)
        rows[f"{k} class"] = {"LCA": lca_fit.loglik, "GoM": gom_fit.loglik,
                              "LCA params": lca_fit.n_params, "GoM params": gom_fit.n_params,
                              "gain": gom_fit.loglik - lca_fit.loglik,
                              "BIC LCA": lca_fit.bic, "BIC GoM": gom_fit.bic}
    return pd.DataFrame(rows), fits


def _offense_prone(fit, n_items: int) -> np.ndarray:
    """P(y = 1 | class) of the class with the higher mean profile (K = 2)."""
    table = fit.profiles.xs("estimate", axis=1, level="statistic").to_numpy()  # (items, K)
    return table[:, int(np.argmax(table.mean(axis=0)))]


def main() -> None:
    n = 7326 if os.environ.get("BAYESMIX_FULL") == "1" else 600 if os.environ.get("BAYESMIX_QUICK") == "1" else 2000
    starts = 10
    sim = simulate_gom(n, 17, 2, profiles=asb_like_profiles(17, 2), class_intercept=[-1.0],
                       membership_cov=[[4.0]], seed=7)
    print(f"Part 1: simulated ASB-like data (NLSY extract not bundled), N = {n}, 17 binary items, "
          f"{starts} random starts per fit")
    table, fits = _ll_table(sim.data, sim.items, starts)
    print(table.round(1).to_string())
    print("\nPaper's Table 5 (NLSY, N = 7,326) for reference:")
    print(PAPER_TABLE5.to_string())

    lca_fit, gom_fit = fits[2][1], fits[2][3]
    x, y = _offense_prone(lca_fit, 17), _offense_prone(gom_fit, 17)
    print(f"\nFigure 4 in kind: offense-prone class, GoM vs LCA item probabilities: correlation "
          f"{np.corrcoef(x, y)[0, 1]:.3f}; GoM higher on {int((y > x).sum())} of 17 items")
    print(pd.DataFrame({"LCA": x, "GoM": y, "true": asb_like_profiles(17, 2)[0]}, index=sim.items).round(3).T
          .to_string())
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(x, y)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax.set(xlabel="LCA probability", ylabel="GoM probability", title="Offense-prone class (simulated ASB)")
        out = Path(__file__).with_name("section7_gom_figure4.png")
        fig.savefig(out, dpi=100, bbox_inches="tight")
        print(f"figure saved: {out}")
    except ImportError:
        pass

    print("\nPart 2: real responses")
    for name, items in (("carcinoma", list("ABCDEFG")), ("lsat7", ["Q1", "Q2", "Q3", "Q4", "Q5"])):
        df = bm.datasets.load(name)
        rows = {}
        for k in (2,):
            lca_fit = bm.lca(df, items, k, link="probit").fit_ml(starts=starts, seed=1)
            gom_fit = bm.gom(df, items, k).fit_ml(starts=starts, seed=1)
            sd = float(gom_fit.params.loc["membership_sd[class1]", "estimate"])
            rows[f"{k} class"] = {"LCA": lca_fit.loglik, "GoM": gom_fit.loglik, "gain": gom_fit.loglik - lca_fit.loglik,
                                  "SD alpha_1j": sd, "ICC alpha_1j": sd**2 / (sd**2 + np.pi**2 / 3)}
        print(f"{name} (N = {len(df)}, items {items}):")
        print(pd.DataFrame(rows).round(3).to_string())


if __name__ == "__main__":
    main()
