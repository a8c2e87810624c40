"""``bm.compare`` identifies units by label (issue 25 item 4): same-count different-row fits are refused,
and ``units="common"`` compares on the shared units (checked against ArviZ's LOO of the subsets)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr

import bayesmix as bm


def _tree(labels, seed: int, dim: str = "unit", shift: float = 0.0) -> xr.DataTree:
    """A DataTree with a (2 chains, 200 draws, units) log_likelihood labelled by ``labels``."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    base = rng.normal(-1.0 + shift, 0.3, size=n)
    ll = base + rng.normal(0, 0.2, size=(2, 200, n))
    coords = {"chain": [0, 1], "draw": np.arange(200), dim: list(labels)}
    post = xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(2, 200)))}, coords={"chain": [0, 1],
                                                                                       "draw": np.arange(200)})
    loglik = xr.Dataset({"y": (("chain", "draw", dim), ll)}, coords=coords)
    return xr.DataTree.from_dict({"posterior": post, "log_likelihood": loglik})


def test_same_count_but_different_rows_is_refused():
    a, b = _tree(range(0, 50), 1), _tree(range(10, 60), 2)
    with pytest.raises(ValueError, match=r"different units .*40 units in common.*units='common'"):
        bm.compare({"a": a, "b": b})


def test_different_counts_are_refused_with_the_shared_count():
    a, b = _tree(range(0, 50), 1), _tree(range(0, 45), 2)
    with pytest.raises(ValueError, match=r"45 units in common"):
        bm.compare({"a": a, "b": b})


def test_different_levels_are_refused():
    a, b = _tree(range(0, 20), 1), _tree(range(0, 20), 2, dim="cluster")
    with pytest.raises(ValueError, match="different levels"):
        bm.compare({"a": a, "b": b}, units="common")


@pytest.mark.parametrize("ic", ["loo", "waic"])
def test_common_units_equal_the_criterion_of_the_subsets(ic):
    """elpd, se and p over the shared units equal ArviZ LOO (or WAIC) of each log-likelihood subset."""
    complete = [i for i in range(60) if i % 7 != 3]  # rows with a covariate observed
    a, b = _tree(complete, 1, shift=0.1), _tree(range(60), 2)
    table = bm.compare({"with x": a, "without x": b}, ic=ic, units="common")
    assert table.attrs["n_units"] == len(complete)
    for name, tree in (("with x", a), ("without x", b)):
        subset = tree.copy()
        subset["log_likelihood"] = tree["log_likelihood"].to_dataset().sel(unit=complete)
        want = az.loo(subset) if ic == "loo" else bm.waic(subset)
        assert table.loc[name, "elpd"] == pytest.approx(float(want.elpd), rel=1e-10)
        assert table.loc[name, "se"] == pytest.approx(float(want.se), rel=1e-10)
        assert table.loc[name, "p"] == pytest.approx(float(want.p), rel=1e-8)
    with pytest.raises(ValueError, match="units='bogus' is unknown"):
        bm.compare({"a": a, "b": b}, units="bogus")


def test_same_units_in_the_same_order_compare_as_before():
    a, b = _tree(range(30), 1), _tree(range(30), 2, shift=0.2)
    table = bm.compare({"a": a, "b": b})
    assert table.index[0] == "b" and table.attrs["n_units"] == 30
    assert table.loc["a", "elpd"] == pytest.approx(float(az.loo(a).elpd), rel=1e-12)
