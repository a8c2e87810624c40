"""Simulate the 3-step comparison data and fit StepMix 3.0 on it (the fixture of tests/test_threestep.py).

Run in a separate environment with StepMix (never needed by the test suite):

    python -m venv /tmp/stepmix-venv && /tmp/stepmix-venv/bin/pip install stepmix==3.0.0
    /tmp/stepmix-venv/bin/python scripts/threestep_stepmix_fixture.py

Writes tests/data/threestep/data.csv (the data, rounded, as read by both sides) and
tests/data/threestep/stepmix.json (StepMix's step-1 and step-3 estimates for every
structural model x correction x assignment, in StepMix's class order) and
tests/data/threestep/stepmix_posterior.csv (StepMix's step-1 posterior class probabilities).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "threestep"
ITEMS = [f"u{j}" for j in range(1, 7)]


def simulate(n=1000, seed=2025):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    logits = np.column_stack([0.5 + 1.0 * x, 0.0 - 0.5 * x, np.zeros(n)])   # class3 the reference
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    c = (rng.random(n)[:, None] > p.cumsum(1)).sum(1)
    prof = np.array([[.85] * 6, [.85, .85, .85, .2, .2, .2], [.15] * 6])
    u = (rng.random((n, 6)) < prof[c]).astype(int)
    y = np.array([0.0, 1.0, 2.0])[c] + np.array([1.0, 1.5, 1.0])[c] * rng.normal(size=n)
    z = (rng.random(n) < np.array([.2, .5, .8])[c]).astype(int)
    pw = np.array([[.6, .3, .1], [.2, .6, .2], [.1, .3, .6]])[c]
    w = (rng.random(n)[:, None] > pw.cumsum(1)).sum(1)
    df = pd.DataFrame(u, columns=ITEMS)
    df["x"], df["y"], df["z"], df["w"], df["true_class"] = x.round(4), y.round(4), z, w, c + 1
    return df


def main():
    import stepmix
    from stepmix import StepMix
    from stepmix.corrections import compute_bch_matrix

    OUT.mkdir(parents=True, exist_ok=True)
    df = simulate()
    df.to_csv(OUT / "data.csv", index=False)
    df = pd.read_csv(OUT / "data.csv")
    X = df[ITEMS].to_numpy()
    common = {"n_components": 3, "measurement": "bernoulli", "n_steps": 3, "n_init": 10, "max_iter": 10000,
              "abs_tol": 1e-10, "rel_tol": 0.0, "random_state": 1, "progress_bar": 0, "verbose": 0}
    settings = {"covariate": ("covariate", ["x"], {"method": "newton-raphson", "max_iter": 100, "tol": 1e-8}),
                "continuous": ("gaussian_diag", ["y"], {}),
                "binary": ("bernoulli", ["z"], {}),
                "nominal": ("categorical", ["w"], {})}
    out = {"stepmix_version": stepmix.__version__ if hasattr(stepmix, "__version__") else "3.0.0",
           "common_settings": {k: v for k, v in common.items()}, "fits": {}}
    step1 = StepMix(**{**common, "n_steps": 1}).fit(X)
    post = step1.predict_proba_class(X)
    out["step1"] = {"weights": step1.weights_.tolist(), "pis": step1._mm.parameters["pis"].tolist(),
                    "loglik": float(step1.score(X) * len(X)),
                    "D_modal": compute_bch_matrix(post, "modal")[0].tolist(),
                    "D_soft": compute_bch_matrix(post, "soft")[0].tolist(),
                    "posterior_head": post[:20].tolist()}
    pd.DataFrame(post, columns=[f"stepmix_class{c}" for c in range(post.shape[1])]).to_csv(
        OUT / "stepmix_posterior.csv", index=False, float_format="%.12g")
    for name, (structural, cols, sparams) in settings.items():
        for correction in (None, "BCH", "ML"):
            for assignment in ("modal", "soft"):
                t0 = time.perf_counter()
                model = StepMix(**common, structural=structural, structural_params=sparams,
                                correction=correction, assignment=assignment)
                model.fit(X, df[cols].to_numpy())
                seconds = time.perf_counter() - t0
                sm = {k: np.asarray(v).tolist() for k, v in model._sm.parameters.items()}
                key = f"{name}|{correction}|{assignment}"
                out["fits"][key] = {"structural": structural, "structural_params": sparams,
                                    "correction": correction, "assignment": assignment,
                                    "weights": model.weights_.tolist(),
                                    "pis": model._mm.parameters["pis"].tolist(),
                                    "params": sm, "seconds": round(seconds, 3)}
                print(key, round(seconds, 2), {k: np.round(np.asarray(v), 4).tolist() for k, v in sm.items()})
    (OUT / "stepmix.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
