"""The save format runs no code (issue 26 item 3): JSON + Parquet + netCDF, atomic writes, legacy
pickles only behind allow_pickle=True, netCDF-compatible DataTrees, picklable models.

Oracles: every field of the saved MLResult / MAPResult compared exactly with the original;
``pickle.load`` patched to fail while loading; a save interrupted midway.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmix as bm
import bayesmix.io as bio

ITEMS = list("ABCDEFG")


@pytest.fixture(scope="module")
def carc_fits():
    carc = bm.datasets.load("carcinoma")
    m = bm.lca(carc, items=ITEMS, n_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = m.fit_ml(starts=(4, 2), seed=1, progressbar=False)
        mode = m.fit_map(starts=(2, 1), seed=1, progressbar=False)
    return m, ml, mode


def _assert_same(a, b, where=""):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(b, a, check_exact=True, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(b, a, check_exact=True, obj=where)
    elif isinstance(a, np.ndarray):
        assert b.dtype == a.dtype and b.shape == a.shape, where
        np.testing.assert_array_equal(b, a, err_msg=where)
    elif isinstance(a, dict):
        assert list(b) == list(a), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif dataclasses.is_dataclass(a):
        assert type(b) is type(a), where
        for f in dataclasses.fields(a):
            _assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert type(b) is type(a) and (b == a or (a != a and b != b)), (where, a, b)


def test_save_writes_json_parquet_and_load_never_unpickles(carc_fits, tmp_path, monkeypatch):
    m, ml, mode = carc_fits
    path = bm.save(tmp_path / "fit.bmx", m, {"ml": ml, "map": mode, "nothing": None})
    files = sorted(os.listdir(path))
    assert "bayesmix.json" in files and "data.parquet" in files and "ml.profiles.parquet" in files
    assert not [f for f in files if f.endswith(".pkl")]

    def refuse(*args, **kwargs):
        raise AssertionError("bm.load unpickled something")
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    model, results = bm.load(path)
    _assert_same(ml, results["ml"], "ml")
    _assert_same(mode, results["map"], "map")
    assert results["nothing"] is None
    assert results["ml"].bic == ml.bic and str(results["ml"].starts) == str(ml.starts)
    pd.testing.assert_frame_equal(model.predict_proba(m.data.frame.head(5), results["ml"]),
                                  m.predict_proba(m.data.frame.head(5), ml), check_exact=True)


def test_tables_and_data_of_every_dtype_round_trip(tmp_path):
    """Nullable booleans / integers with missing values, categoricals, text with missing cells,
    an unused column mixing int and str, and profiles whose categories mix int and str codes."""
    rng = np.random.default_rng(1)
    n = 60
    df = pd.DataFrame({
        "flag": pd.array(rng.choice([True, False], n), dtype="boolean"),
        "count": pd.array(rng.integers(1, 4, n), dtype="Int64"),
        "answer": rng.choice(["yes", "no"], n).astype(object),
        "size": pd.Categorical(rng.choice(["small", "large"], n), categories=["small", "large"], ordered=True),
        "note": [1 if i % 3 else "x" for i in range(n)],  # not an item: mixed types kept as they are
    }, index=pd.Index([f"u{i}" for i in range(n)], name="person"))
    df.loc[df.index[[2, 7]], "flag"] = pd.NA
    df.loc[df.index[3], "count"] = pd.NA
    df.loc[df.index[[1, 5]], "answer"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = bm.lca(df, items=["flag", "count", "answer", "size"], n_classes=2)
        ml = m.fit_ml(starts=(2, 1), seed=1, progressbar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, back = bm.load(bm.save(tmp_path / "fit.bmx", m, ml))
    _assert_same(ml, back, "ml")
    pd.testing.assert_frame_equal(model.options["call"]["arguments"]["data"], df, check_exact=True)


def test_tables_with_mixed_labels_and_missing_values_round_trip(tmp_path):
    """Index levels and columns mixing int / str / tuple labels, NaN vs None, nullable dtypes, attrs."""
    index = pd.MultiIndex.from_tuples([("A", 1), ("A", "two"), ("B", 3.5)], names=["item", "category"])
    columns = pd.MultiIndex.from_tuples([(1, "estimate"), ("c2", "se"), ("c2", "flag")], names=["class", None])
    table = pd.DataFrame({columns[0]: [0.1, np.nan, -np.inf], columns[1]: [1e-300, 2.0, 3.0],
                          columns[2]: pd.array([True, None, False], dtype="boolean")}, index=index)
    table.attrs["note"] = {"k": (1, 2)}
    texts = pd.Series(["a", None, "c"], dtype=object, name=("x", 1))
    nans = pd.Series(["a", np.nan, "c"], dtype=object, index=pd.RangeIndex(2, 8, 2, name="r"))
    for i, value in enumerate([table, texts, nans]):
        target = tmp_path / f"t{i}.parquet"
        bio._write_table(value, target, f"t{i}")
        back = bio._read_table(target)
        _assert_same(value, back, f"t{i}")
        assert back.attrs == value.attrs
    assert bio._read_table(tmp_path / "t1.parquet").iloc[1] is None
    assert isinstance(bio._read_table(tmp_path / "t2.parquet").iloc[1], float)


def test_old_pickled_directories_load_only_with_allow_pickle(carc_fits, tmp_path):
    m, ml, _ = carc_fits
    old = tmp_path / "old.bmx"
    old.mkdir()
    meta = {"format": 1, "bayesmix_version": "0", "call": m.options["call"], "data_hash": bio.data_hash(m),
            "single": True, "results": {"result": ("object", ml)}}
    with open(old / "bayesmix.pkl", "wb") as fh:
        pickle.dump(meta, fh)
    with pytest.raises(ValueError, match=r"pickle format.*allow_pickle=True"):
        bm.load(old)
    _, back = bm.load(old, allow_pickle=True)
    assert back.loglik == ml.loglik


def test_an_interrupted_save_leaves_no_directory_and_keeps_the_old_one(carc_fits, tmp_path, monkeypatch):
    m, ml, mode = carc_fits
    path = bm.save(tmp_path / "fit.bmx", m, mode)
    real = bio._write_table
    calls = []

    def crash(table, target, where):
        calls.append(where)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a crash or Ctrl-C in the middle of writing
        return real(table, target, where)
    monkeypatch.setattr(bio, "_write_table", crash)
    with pytest.raises(KeyboardInterrupt):
        bm.save(tmp_path / "new.bmx", m, ml)
    with pytest.raises(KeyboardInterrupt):
        calls.clear()
        bm.save(path, m, ml, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["fit.bmx"]  # no partial directory, no staging left behind
    _, back = bm.load(path)
    assert type(back).__name__ == "MAPResult"  # the old save, intact
    monkeypatch.setattr(bio, "_write_table", real)
    _, back = bm.load(bm.save(path, m, ml, overwrite=True))
    assert back.loglik == ml.loglik and sorted(os.listdir(tmp_path)) == ["fit.bmx"]


def test_save_names_what_it_cannot_store(carc_fits, tmp_path):
    m, ml, _ = carc_fits
    with pytest.raises(ValueError, match=r"result 'bad' is a str"):
        bm.save(tmp_path / "x.bmx", m, {"bad": "text"})
    assert not (tmp_path / "x.bmx").exists()


def test_datatrees_bayesmix_returns_write_with_to_netcdf(carc_fits, tmp_path):
    m = carc_fits[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = m.sample(draws=20, tune=20, chains=1, cores=1, sampler="pymc", random_seed=1, progressbar=False)
        laplace = m.fit_laplace(draws=20, starts=(2, 1), seed=1)
        ppc = m.posterior_predictive(idata, seed=1, draws=10)
    for name, tree in {"sample": idata, "laplace": laplace, "ppc": ppc}.items():
        target = tmp_path / f"{name}.nc"
        tree.to_netcdf(target, engine="h5netcdf")
        back = xr.open_datatree(target, engine="h5netcdf").load()
        assert back.attrs.keys() == tree.attrs.keys(), name
    assert idata.attrs["bayesmix_convergence_ok"] in (0, 1) and idata.attrs["bayesmix_interrupted"] == 0


def test_models_pickle_as_their_factory_call(carc_fits):
    m, ml, _ = carc_fits
    again = pickle.loads(pickle.dumps(m))
    assert type(again) is type(m) and again is not m
    pd.testing.assert_frame_equal(again.predict_proba(m.data.frame.head(4), ml),
                                  m.predict_proba(m.data.frame.head(4), ml), check_exact=True)
    assert pickle.loads(pickle.dumps(ml)).loglik == ml.loglik
    bare = pickle.loads(pickle.dumps(m))
    bare.options.pop("call")
    with pytest.raises(TypeError, match=r"cannot be pickled.*bm\.save"):
        pickle.dumps(bare)
