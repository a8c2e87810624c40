"""Small simulated data with binary and nominal items and missing cells, shared by the EM and pattern tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mixed_items(seed: int = 0, n: int = 300) -> pd.DataFrame:
    """Two classes; items a, b binary, c (3 categories) and d (4 categories); ~10% of b and c missing."""
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "a": (rng.uniform(size=n) < np.where(cls, 0.8, 0.2)).astype(float),
        "b": (rng.uniform(size=n) < np.where(cls, 0.7, 0.3)).astype(float),
        "c": np.where(cls, rng.choice(3, n, p=[0.6, 0.3, 0.1]), rng.choice(3, n, p=[0.1, 0.3, 0.6])).astype(float),
        "d": np.where(cls, rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]), rng.choice(4, n)).astype(float),
    })
    frame.loc[rng.uniform(size=n) < 0.1, "b"] = np.nan
    frame.loc[rng.uniform(size=n) < 0.1, "c"] = np.nan
    return frame
