"""mixture_regression_random_intercept: the seed-2026 and seed-2027 SBC runs side by side and pooled (issue 26.2).

Reads the stored ranks (``../<case>_ranks.csv``, seed 2026, and ``../<case>_seed2027_ranks.csv``), both 90
replications of the same plan (80 units, 10 clusters, 2 x (200 + 100) NUTS, L = 50) on independent prior draws and
data sets. Per run and pooled (180 replications; the pooling was decided after seed 2026 was rejected, so the
seed-2027 run alone is the confirmation test and the pooled line is the estimate): per quantity the chi-square and
ECDF p-values (``bayesmix.sbc``, the verdict's tests, ECDF null from 5,000 simulations as ``uniformity_table``), mean
and SD of u, the folded 2|u - 1/2| tests (the spread, free of the mirror noise of the slopes), ranks >= 48 vs <= 2
of 50 with the two-sided binomial p of that split, the Bonferroni verdict over quantities x 2 tests at 0.05 and the
ECDF test's power at that many replications against a 0.5 / 1-SD bias and a posterior half as wide.

    PYTHONPATH=. .venv/bin/python benchmarks/results/sbc/checks/mrri_two_seeds.py   # writes mrri_two_seeds.json
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bayesmix import sbc

HERE = Path(__file__).resolve().parent
CASE = "mixture_regression_random_intercept"
RUNS = {"seed 2026": HERE.parent / f"{CASE}_ranks.csv", "seed 2027": HERE.parent / f"{CASE}_seed2027_ranks.csv"}
L, ALPHA = 50, 0.05


def _tests(u: np.ndarray) -> tuple[float, float]:
    return sbc.chi_square_uniformity(u)[1], sbc.ecdf_uniformity(u, 5000)[1]


def analyse(frac: pd.DataFrame, ranks: pd.DataFrame) -> dict:
    n, q = frac.shape
    rows = {}
    for name in frac:
        u, r = frac[name].to_numpy(), ranks[name].to_numpy()
        p_chi2, p_ecdf = _tests(u)
        f_chi2, f_ecdf = _tests(2 * np.abs(u - 0.5))
        top, bottom = int((r >= L - 2).sum()), int((r <= 2).sum())
        rows[name] = {"mean_u": float(u.mean()), "sd_u": float(u.std(ddof=1)), "p_chi2": p_chi2, "p_ecdf": p_ecdf,
                      "folded_p_chi2": f_chi2, "folded_p_ecdf": f_ecdf, "ranks_ge_48": top, "ranks_le_2": bottom,
                      "p_top_vs_bottom": float(stats.binomtest(top, top + bottom).pvalue) if top + bottom else 1.0}
    table = pd.DataFrame.from_dict(rows, orient="index")
    decision, adjusted = sbc.verdict(table, ALPHA)
    power = {key: sbc.power(n, alpha=ALPHA, n_tests=2 * q, n_simulations=300, **kw)["ecdf"]
             for key, kw in {"bias_0.5": {"bias": 0.5}, "bias_1": {"bias": 1.0}, "half_width": {"scale": 2.0}}.items()}
    return {"replications": n, "quantities": q, "verdict": decision, "bonferroni_p": adjusted,
            "worst_quantity": str(table[["p_chi2", "p_ecdf"]].min(axis=1).idxmin()), "power": power,
            "extreme_rank_share": float(np.isin(ranks.to_numpy(), [0, L]).mean()), "quantities_table": rows}


def main() -> dict:
    frames = {k: pd.read_csv(p, header=[0, 1], index_col=0) for k, p in RUNS.items() if p.exists()}
    parts = {k: (f["fractional"], f["rank"]) for k, f in frames.items()}
    if len(parts) == 2:
        parts["pooled"] = tuple(pd.concat([parts[k][i] for k in RUNS], ignore_index=True) for i in (0, 1))
    out = {k: analyse(*v) for k, v in parts.items()}
    (HERE / "mrri_two_seeds.json").write_text(json.dumps(out, indent=1))
    for k, a in out.items():
        print(f"{k}: {a['verdict']} (Bonferroni p {a['bonferroni_p']:.4f}, {a['replications']} reps, worst "
              f"{a['worst_quantity']}; power 0.5 SD {a['power']['bias_0.5']:.2f}, 1 SD {a['power']['bias_1']:.2f})")
        print(pd.DataFrame(a["quantities_table"]).T.round(4).to_string())
    return out


if __name__ == "__main__":
    main()
