"""Relabeling a point is plain NumPy: the same values as the xarray path, and a first fit_ml without dask."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

import bayesmix as bm
from bayesmix.inference.labels import apply_permutations
from bayesmix.relabel import _point_variables, permute_point

ROOT = Path(__file__).resolve().parents[1]


def test_permute_point_matches_the_dataset_path():
    """permute_point (arrays) equals apply_permutations on the same point as a Dataset (reference logits too)."""
    import xarray as xr
    df = bm.datasets.load("carcinoma")
    m = bm.lca(df, list("ABCDEFG"), 3)
    point = m.random_start(np.random.default_rng(3))
    perm = np.array([2, 0, 1])
    ds = xr.Dataset({name: (list(dims), arr) for name, (dims, arr) in _point_variables(m, point).items()})
    expected = apply_permutations(ds, perm[None, None, :], mm=m)
    got = permute_point(m, point, perm)
    assert set(got) == set(point)
    for name in point:
        np.testing.assert_allclose(got[name], expected[name].values[0, 0], rtol=0, atol=0)
    # the permutation really moved something: class 0 of the new point is old class 2
    np.testing.assert_allclose(got["binary_logit"][0], point["binary_logit"][2])
    full = np.append(point["class_intercept"], 0.0)
    np.testing.assert_allclose(got["class_intercept"], (full[perm] - full[perm][-1])[:-1])


SCRIPT = r"""
import sys, warnings
import numpy as np
import bayesmix as bm
relabel = sys.modules["bayesmix.relabel"]
calls = []
inner = relabel.permute_point
def counted(*a, **k):
    calls.append(1)
    return inner(*a, **k)
relabel.permute_point = counted
df = bm.datasets.load("carcinoma")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for seed in range(6):
        m = bm.lca(df, list("ABCDEFG"), 2)
        m.fit_ml(starts=(2, 1), seed=seed, progressbar=False)
        if calls:
            break
print(len(calls), "dask" in sys.modules)
"""


def test_first_fit_ml_does_not_import_dask():
    """``import bayesmix`` + a small LCA's fit_ml whose labeling permutes the solution: dask stays unimported."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    calls, dask = out.stdout.split()[-2:]
    assert int(calls) >= 1  # the permutation ran
    assert dask == "False"
