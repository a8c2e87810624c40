"""Golden snapshot of every spec in ``models/`` (fast mode) and every SBC case.

A refactor that only moves code must not move a number. For each case this
records, with fixed seeds:

- the integrated log-likelihood (ML objective) and its gradient at a fixed
  unconstrained point ``theta0`` (initial point + 0.1 * N(0, 1) with seed 0);
- ``fit_ml`` with a few starts: LL, parameter estimates and SEs, profiles
  and class proportions;
- ``posterior_predictive`` at the ML point (two replicates, seed 1).

``python tests/golden/make_golden.py`` rewrites ``tests/golden/golden.npz``
(only when a change is meant to move numbers, said in its commit);
``tests/test_golden.py`` recomputes and compares.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden.npz"

#: fit_ml settings of the snapshot (few starts: the point is determinism, not the optimum)
ML_STARTS = (2, 1)
ML_SEED = 1
#: optimizer iterations (a stopped fit is as deterministic as a converged one, and cheaper)
ML_MAX_ITERATIONS = 40


def spec_cases() -> dict:
    import bayesmix as bm

    out = {}
    for name in sorted(bm.spec.bundled_specs()):
        out[f"spec:{name}"] = lambda name=name: bm.read_spec(name).build(fast=True), name
    return out


def sbc_cases() -> dict:
    from bayesmix import sbc

    out = {}
    for name in sorted(sbc.CASES):
        def build(name=name):
            case = sbc.make_case(name)
            return case.build(case.template(np.random.default_rng(0)))
        out[f"sbc:{name}"] = build, None
    return out


def all_cases() -> dict:
    return {**spec_cases(), **sbc_cases()}


def _ml_options(spec_name: str | None) -> dict:
    import bayesmix as bm

    opts = {}
    if spec_name is not None:
        opts = dict(bm.read_spec(spec_name).ml_options(fast=True) or {})
    opts.update(starts=ML_STARTS, seed=ML_SEED, progressbar=False, max_iterations=ML_MAX_ITERATIONS)
    return opts


def snapshot(key: str) -> dict[str, np.ndarray]:
    """All numbers of one case as name -> float array."""
    from bayesmix.inference.objective import flat_model

    build, spec_name = all_cases()[key]
    mm = build()
    out: dict[str, np.ndarray] = {}
    ml_opts = _ml_options(spec_name)
    flat = flat_model(mm, ml_opts.get("integration"))
    rng = np.random.default_rng(0)
    theta0 = np.concatenate([np.ravel(flat.point[n]) for n in flat.names]).astype(float)
    theta0 = theta0 + 0.1 * rng.standard_normal(theta0.size)
    value, grad = flat.value_and_grad("loglik")(theta0)
    out["loglik_at_theta0"] = np.array([value])
    out["grad_at_theta0"] = np.asarray(grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = mm.fit_ml(**ml_opts)
        out["ml_loglik"] = np.array([ml.loglik, ml.n_params])
        out["ml_estimate"] = ml.params["estimate"].to_numpy(float)
        out["ml_se"] = ml.params["se"].to_numpy(float)
        out["ml_profiles"] = np.asarray(ml.profiles.select_dtypes("number").to_numpy(float)).ravel()
        out["ml_class_proportions"] = np.asarray(ml.class_proportions.select_dtypes("number").to_numpy(float)).ravel()
        ppc = mm.posterior_predictive(ml, seed=1, draws=2)
        reps = ppc["posterior_predictive"].to_dataset()
        for name in sorted(reps.data_vars):
            arr = reps[name].to_numpy()
            if arr.dtype.kind in "fiub":
                out[f"ppc_{name}"] = arr.astype(float).ravel()
            else:  # text-coded categories: compare as codes
                out[f"ppc_{name}"] = np.unique(arr.astype(str).ravel(), return_inverse=True)[1].astype(float)
    return out


def main(argv: list[str]) -> None:
    keys = argv or list(all_cases())
    arrays = dict(np.load(GOLDEN)) if GOLDEN.exists() else {}
    for key in keys:
        print(key, flush=True)
        for name, value in snapshot(key).items():
            arrays[f"{key}|{name}"] = value
    np.savez_compressed(GOLDEN, **arrays)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    main(sys.argv[1:])
