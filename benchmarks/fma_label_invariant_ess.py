#!/usr/bin/env python
"""ESS of FMA draws as labelled vs of label-invariant summaries (the larger / smaller class), from saved draws.

Usage: ``python benchmarks/fma_label_invariant_ess.py _logs/adhd-default1000.npz [...]`` (npz written by
``fma_nuts_diagnose.py --save``). For a K = 2 FMA posterior whose mass sits where one class is nearly empty,
the per-draw class labels of the small class are arbitrary: this prints the bulk ESS of the class intercept
and item intercepts as labelled and ordered by class size (the larger class first), the share of draws
with |alpha_1| < 2 (both classes populated), and appends one JSON row per file to
``benchmarks/results/fma_label_invariant_ess.json``. Not a test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import arviz as az
import numpy as np


def summarize(path: str) -> dict:
    d = np.load(path)
    alpha = d["class_intercept"][..., 0]  # (chain, draw)
    tau = d["binary_logit"].reshape(*alpha.shape, 2, -1)  # (chain, draw, class, item)
    larger_first = alpha[..., None] >= 0
    big = np.where(larger_first, tau[:, :, 0], tau[:, :, 1])
    small = np.where(larger_first, tau[:, :, 1], tau[:, :, 0])

    def ess(x):
        x = x.reshape(x.shape[0], x.shape[1], -1)
        return float(min(az.ess(x[..., j], method="bulk") for j in range(x.shape[-1])))

    def rhat(x):
        x = x.reshape(x.shape[0], x.shape[1], -1)
        return float(max(az.rhat(x[..., j]) for j in range(x.shape[-1])))

    return {"file": Path(path).name, "draws": int(alpha.size),
            "share_abs_alpha_below_2": round(float((np.abs(alpha) < 2).mean()), 4),
            "share_alpha_positive": round(float((alpha > 0).mean()), 4),
            "label_flips_per_chain": (np.diff(np.sign(alpha), axis=1) != 0).sum(1).tolist(),
            "smaller_class_share_median": round(float(np.median(1 / (1 + np.exp(np.abs(alpha))))), 4),
            "ess_as_labelled": {"class_intercept": ess(alpha), "binary_logit": ess(tau)},
            "rhat_as_labelled": {"class_intercept": rhat(alpha), "binary_logit": rhat(tau)},
            "ess_by_size": {"abs_class_intercept": ess(np.abs(alpha)), "larger_class_binary_logit": ess(big),
                            "smaller_class_binary_logit": ess(small)},
            "rhat_by_size": {"abs_class_intercept": rhat(np.abs(alpha)), "larger_class_binary_logit": rhat(big),
                             "smaller_class_binary_logit": rhat(small)},
            "smaller_class_intercept_sd": round(float(small.std(axis=(0, 1)).mean()), 3),
            "larger_class_intercept_sd": round(float(big.std(axis=(0, 1)).mean()), 3)}


if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "fma_label_invariant_ess.json"
    rows = json.loads(out.read_text()) if out.exists() else []
    for path in sys.argv[1:]:
        row = summarize(path)
        print(json.dumps(row))
        rows.append(row)
    out.write_text(json.dumps(rows, indent=1))
