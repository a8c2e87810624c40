"""Input validation and encoding (bayesmix.data, scikit-learn style).

Every bad input must raise a ``ValueError`` that names the offending
argument/column and the fix, *before* any PyMC model or PyTensor function is
built. The ``no_model_building`` fixture enforces that: it makes
``pymc.Model(...)`` and ``pytensor.function(...)`` raise a non-ValueError, so
a check that only fires after graph building makes the test fail.

Fast: no compilation, no sampling, no fitting.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytest

import bayesmix as bm
from bayesmix.data import encode, infer_item_type
from conftest import ModelBuiltTooEarly


@pytest.fixture
def df():
    """12 units: binary A, B, 3-code nominal C, two numeric covariates, a cluster id."""
    return pd.DataFrame(
        {
            "A": [0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0],
            "B": [1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0],
            "C": [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3],
            "age": np.linspace(-1.0, 1.0, 12),
            "income": np.arange(12.0),
            "school": ["s1"] * 4 + ["s2"] * 4 + ["s3"] * 4,
        }
    )


def test_guard_fixture_really_blocks_model_building(no_model_building, df):
    """Sanity check of the guard itself: a valid call reaches pm.Model and is stopped."""
    with pytest.raises(ModelBuiltTooEarly):
        bm.lca(df, items=["A", "B"], n_classes=2)


# --------------------------------------------------------------------------- bad input via bm.lca
@pytest.mark.usefixtures("no_model_building")
class TestBadInputRaisesBeforeModelBuilding:
    def test_unknown_item_column(self, df):
        with pytest.raises(ValueError, match=r"items names column\(s\) \['Z'\].*not in the DataFrame.*available columns"):
            bm.lca(df, items=["A", "Z"], n_classes=2)

    def test_constant_item(self, df):
        df["K"] = 1
        with pytest.raises(ValueError, match=r"item 'K' is constant.*remove it from items"):
            bm.lca(df, items=["A", "K"], n_classes=2)

    def test_constant_item_ignoring_missing(self, df):
        df["K"] = [1.0, np.nan] * 6  # one observed code only
        with pytest.raises(ValueError, match=r"item 'K' is constant.*remove it from items"):
            bm.lca(df, items=["A", "K"], n_classes=2)

    def test_binary_item_with_three_codes(self, df):
        with pytest.raises(ValueError, match=r"item 'C' is binary but has 3 observed codes.*declare it 'nominal' or 'ordinal'"):
            bm.lca(df, items=["A", "C"], n_classes=2, item_types={"C": "binary"})

    def test_non_numeric_covariate(self, df):
        with pytest.raises(ValueError, match=r"covariates column 'school' is not numeric.*encode it as numbers"):
            bm.lca(df, items=["A", "B"], n_classes=2, covariates=["school"])

    def test_nan_in_covariate(self, df):
        df.loc[3, "age"] = np.nan
        with pytest.raises(ValueError, match=r"covariates column 'age' has 1 missing value.*drop or impute"):
            bm.lca(df, items=["A", "B"], n_classes=2, covariates=["income", "age"])

    def test_unknown_covariate_column(self, df):
        with pytest.raises(ValueError, match=r"covariates names column\(s\) \['height'\].*available columns"):
            bm.lca(df, items=["A", "B"], n_classes=2, covariates=["height"])

    def test_column_both_item_and_covariate(self, df):
        with pytest.raises(ValueError, match=r"\['A'\] are given both as items and as covariates; use each once"):
            bm.lca(df, items=["A", "B"], n_classes=2, covariates=["A"])

    def test_fewer_rows_than_classes(self, df):
        small = df.iloc[:2]
        with pytest.raises(ValueError, match=r"2 usable row\(s\) but n_classes=3.*fewer classes or more data"):
            bm.lca(small, items=["A", "B"], n_classes=3)

    def test_fewer_usable_rows_than_classes_after_dropping_all_missing(self, df):
        small = df.iloc[:3].astype({"A": float, "B": float})
        small.loc[0, ["A", "B"]] = np.nan
        with pytest.warns(UserWarning, match="dropping 1 row"):
            with pytest.raises(ValueError, match=r"2 usable row\(s\) but n_classes=3"):
                bm.lca(small, items=["A", "B"], n_classes=3)

    @pytest.mark.parametrize("n_classes", [0, -1, 2.5, True, None, "2"])
    def test_bad_n_classes(self, df, n_classes):
        with pytest.raises(ValueError, match=r"n_classes must be an integer >= 1, got " + re.escape(repr(n_classes))):
            bm.lca(df, items=["A", "B"], n_classes=n_classes)

    def test_duplicate_item_names(self, df):
        with pytest.raises(ValueError, match=r"items lists \['A'\] more than once; give each column once"):
            bm.lca(df, items=["A", "B", "A"], n_classes=2)

    def test_empty_dataframe(self):
        empty = pd.DataFrame({"A": pd.Series(dtype=float), "B": pd.Series(dtype=float)})
        with pytest.raises(ValueError, match=r"data is empty \(0 rows\).*one row per unit"):
            bm.lca(empty, items=["A", "B"], n_classes=2)

    def test_data_not_a_dataframe(self, df):
        with pytest.raises(ValueError, match=r"data must be a pandas DataFrame, got ndarray"):
            bm.lca(df[["A", "B"]].to_numpy(), items=["A", "B"], n_classes=2)

    def test_items_given_as_string(self, df):
        with pytest.raises(ValueError, match=r"items must be a list of column names, e\.g\. items=\['A', 'B'\], not a string"):
            bm.lca(df, items="A", n_classes=2)

    def test_items_empty(self, df):
        with pytest.raises(ValueError, match=r"items is empty; name at least one item column"):
            bm.lca(df, items=[], n_classes=2)

    def test_unknown_item_type(self, df):
        with pytest.raises(ValueError, match=r"item_types\['C'\] = 'count' is not a known type; use one of .*'ordinal'"):
            bm.lca(df, items=["A", "C"], n_classes=2, item_types={"C": "count"})

    def test_item_type_for_a_non_item(self, df):
        with pytest.raises(ValueError, match=r"item_types names \['age'\], which are not in items.*only for the item columns"):
            bm.lca(df, items=["A", "C"], n_classes=2, item_types={"age": "continuous"})

    def test_ordinal_with_non_integer_codes(self, df):
        df["F"] = np.linspace(0, 1, 12).round(2)
        with pytest.raises(ValueError, match=r"item 'F' is declared ordinal.*integer codes or an ordered pandas Categorical"):
            bm.lca(df, items=["A", "F"], n_classes=2, item_types={"F": "ordinal"})

    def test_continuous_with_strings(self, df):
        with pytest.raises(ValueError, match=r"item 'school' is declared continuous.*give numbers or declare it 'nominal'"):
            bm.lca(df, items=["A", "school"], n_classes=2, item_types={"school": "continuous"})

    def test_unknown_prior_name(self, df):
        with pytest.raises(ValueError, match=r"priors names \['binary_slope'\].*priors can be set for .*'binary_logit'"):
            bm.lca(df, items=["A", "B"], n_classes=2, priors={"binary_slope": {"sigma": 2.0}})

    def test_malformed_prior_spec(self, df):
        with pytest.raises(ValueError, match=r"priors\['binary_logit'\] must be a dict of keyword arguments"):
            bm.lca(df, items=["A", "B"], n_classes=2, priors={"binary_logit": 3.0})

    def test_unknown_link(self, df):
        with pytest.raises(ValueError, match=r"link='cloglog' is not supported; use one of .*'probit'"):
            bm.lca(df, items=["A", "B"], n_classes=2, link="cloglog")

    def test_ordered_names_a_non_item(self, df):
        with pytest.raises(ValueError, match=r"ordered='age' is not one of the items \['A', 'B'\]"):
            bm.lca(df, items=["A", "B"], n_classes=2, ordered="age")

    def test_ordered_on_nominal_item(self, df):
        with pytest.raises(ValueError, match=r"ordered='C' is a nominal item.*binary or continuous item"):
            bm.lca(df, items=["A", "C"], n_classes=2, ordered="C")

    def test_ordered_with_one_class(self, df):
        with pytest.raises(ValueError, match=r"ordered= needs n_classes >= 2"):
            bm.lca(df, items=["A", "B"], n_classes=1, ordered="A")

    def test_every_row_all_missing(self, df):
        df[["A", "B"]] = np.nan
        with pytest.raises(ValueError, match=r"every row has all items missing"):
            bm.lca(df, items=["A", "B"], n_classes=2)


# ------------------------------------------------------------------- bad input via encode (clusters)
@pytest.mark.usefixtures("no_model_building")
class TestClusterValidation:
    def test_nan_in_cluster_id(self, df):
        df["school"] = df["school"].astype(object)
        df.loc[5, "school"] = None
        with pytest.raises(ValueError, match=r"cluster column 'school' has 1 missing id.*drop those rows or give them an id"):
            encode(df, ["A", "B"], 2, cluster="school")

    def test_cluster_covariate_varies_within_cluster(self, df):
        df["size"] = [10.0] * 4 + [20.0] * 4 + [30.0] * 3 + [31.0]
        with pytest.raises(ValueError, match=r"cluster_covariates \['size'\] vary within cluster 's3'.*constant within each cluster"):
            encode(df, ["A", "B"], 2, cluster="school", cluster_covariates=["size"])

    def test_cluster_covariates_need_a_cluster(self, df):
        df["size"] = 1.0
        with pytest.raises(ValueError, match=r"cluster_covariates need a cluster column: pass cluster="):
            encode(df, ["A", "B"], 2, cluster_covariates=["size"])

    def test_unknown_cluster_column(self, df):
        with pytest.raises(ValueError, match=r"cluster names column\(s\) \['district'\].*available columns"):
            encode(df, ["A", "B"], 2, cluster="district")

    def test_cluster_column_also_an_item(self, df):
        with pytest.raises(ValueError, match=r"cluster column 'A' is also an item or covariate; use it once"):
            encode(df, ["A", "B"], 2, cluster="A")

    def test_valid_cluster_encoding(self, df):
        df["size"] = [10.0] * 4 + [20.0] * 4 + [30.0] * 4
        enc = encode(df, ["A", "B"], 2, cluster="school", cluster_covariates=["size"])
        assert list(enc.clusters) == ["s1", "s2", "s3"]
        np.testing.assert_array_equal(enc.cluster_index, np.repeat([0, 1, 2], 4))
        np.testing.assert_array_equal(enc.cluster_covariates, [[10.0], [20.0], [30.0]])


# ------------------------------------------------------------------------ all-missing rows dropped
def test_all_missing_rows_are_dropped_with_a_warning(df):
    df.index = [f"u{i}" for i in range(12)]
    df = df.astype({"A": float, "B": float})
    df.loc["u4", ["A", "B", "C"]] = np.nan
    with pytest.warns(UserWarning, match=r"dropping 1 row\(s\) with every item missing"):
        m = bm.lca(df, items=["A", "B", "C"], n_classes=2, covariates=["age"])
    assert m.n_units == 11
    assert m.data.n_units == 11
    assert list(m.model.coords["unit"]) == [f"u{i}" for i in range(12) if i != 4]
    assert m.data.codes["binary"].shape == (11, 2)
    assert m.data.covariates.shape == (11, 1)
    # remaining rows keep their own covariate values (no misalignment after dropping)
    np.testing.assert_allclose(m.data.covariates[:, 0], np.delete(df["age"].to_numpy(), 4))


def test_no_warning_without_all_missing_rows(df, recwarn):
    df = df.astype({"A": float})
    df.loc[2, "A"] = np.nan  # a missing cell, not a missing row
    encode(df, ["A", "B"], 2)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# ---------------------------------------------------------------------------- item type inference
def _mixed_frame():
    return pd.DataFrame(
        {
            "zero_one": [0, 1, 0, 1, 1, 0],
            "yes_no": ["yes", "no", "no", "yes", "yes", "no"],
            "codes4": [1, 2, 3, 4, 2, 1],
            "floats": [0.3, -1.2, 2.5, 0.0, 1.7, -0.4],
            "rating": pd.Categorical(
                ["low", "high", "mid", "low", "high", "mid"], categories=["low", "mid", "high"], ordered=True
            ),
        }
    )


def test_item_type_inference():
    enc = encode(_mixed_frame(), ["zero_one", "yes_no", "codes4", "floats", "rating"], 2)
    kinds = {it.name: it.kind for it in enc.items}
    assert kinds == {
        "zero_one": "binary",
        "yes_no": "binary",
        "codes4": "nominal",
        "floats": "continuous",
        "rating": "ordinal",
    }
    cats = {it.name: list(it.categories) for it in enc.items}
    assert cats["zero_one"] == [0, 1]
    assert cats["yes_no"] == ["no", "yes"]  # both labels kept, sorted
    assert cats["codes4"] == [1, 2, 3, 4]
    assert cats["floats"] == []
    assert cats["rating"] == ["low", "mid", "high"]  # the Categorical's order, not alphabetical
    # codes: binary columns are (zero_one, yes_no); "yes" is the second code
    np.testing.assert_array_equal(enc.codes["binary"][:, 0], [0, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(enc.codes["binary"][:, 1], [1, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(enc.codes["nominal"][:, 0], [0, 1, 2, 3, 1, 0])
    np.testing.assert_array_equal(enc.codes["ordinal"][:, 0], [0, 2, 1, 0, 2, 1])
    np.testing.assert_allclose(enc.values[:, 0], _mixed_frame()["floats"])


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0, 1, 1, 0], "binary"),
        ([True, False, True, False], "binary"),
        (["yes", "no", "yes", "no"], "binary"),
        ([1, 2, 3, 4], "nominal"),
        (["a", "b", "c", "a"], "nominal"),
        ([0.5, 1.5, 2.25, 3.0], "continuous"),
        (list(range(20)), "continuous"),  # many integer codes -> continuous
    ],
)
def test_infer_item_type_single_columns(values, expected):
    assert infer_item_type(pd.Series(values)) == expected


def test_unordered_categorical_is_nominal():
    col = pd.Series(pd.Categorical(["x", "y", "z", "x"], ordered=False))
    assert infer_item_type(col) == "nominal"


def test_item_types_override():
    frame = _mixed_frame()
    enc = encode(
        frame,
        ["zero_one", "codes4", "floats"],
        2,
        item_types={"codes4": "ordinal", "zero_one": "nominal"},
    )
    kinds = {it.name: it.kind for it in enc.items}
    assert kinds == {"zero_one": "nominal", "codes4": "ordinal", "floats": "continuous"}
    np.testing.assert_array_equal(enc.codes["ordinal"][:, 0], [0, 1, 2, 3, 1, 0])
    # one type for all items as a string
    enc = encode(frame, ["codes4", "floats"], 2, item_types="continuous")
    assert [it.kind for it in enc.items] == ["continuous", "continuous"]
    assert enc.values.shape == (6, 2)


def test_inferred_types_reach_the_model():
    """The public factory uses the inferred kinds: one kernel per kind, with item coords."""
    m = bm.lca(_mixed_frame(), items=["zero_one", "yes_no", "codes4", "floats", "rating"], n_classes=2)
    assert [k.kind for k in m.kernels] == ["binary", "nominal", "ordinal", "continuous"]
    coords = m.model.coords
    assert list(coords["binary_item"]) == ["zero_one", "yes_no"]
    assert list(coords["nominal_item"]) == ["codes4"]
    assert list(coords["ordinal_item"]) == ["rating"]
    assert list(coords["continuous_item"]) == ["floats"]
    assert list(coords["nominal_parameter"]) == ["codes4[2]", "codes4[3]", "codes4[4]"]


def test_numpy_integer_n_classes_accepted(df):
    enc = encode(df, ["A", "B"], np.int64(2))
    assert enc.n_units == 12


# ------------------------------------------------------------------------------ missing responses
def test_missing_responses_allowed_and_coded_minus_one():
    frame = pd.DataFrame(
        {
            "b": [0, 1, np.nan, 1, 0, 1],
            "s": ["yes", None, "no", "yes", "no", "no"],
            "n": [1, 2, 3, np.nan, 2, 3],
            "o": pd.Categorical(["lo", "hi", None, "mid", "lo", "hi"], categories=["lo", "mid", "hi"], ordered=True),
            "c": [0.5, np.nan, 1.5, 2.0, -0.3, 0.1],
        }
    )
    enc = encode(frame, ["b", "s", "n", "o", "c"], 2)
    assert enc.n_units == 6  # no row is all missing
    kinds = {it.name: it.kind for it in enc.items}
    assert kinds == {"b": "binary", "s": "binary", "n": "nominal", "o": "ordinal", "c": "continuous"}
    # missing is not a category
    assert {it.name: it.n_categories for it in enc.items} == {"b": 2, "s": 2, "n": 3, "o": 3, "c": 0}
    np.testing.assert_array_equal(enc.codes["binary"], [[0, 1], [1, -1], [-1, 0], [1, 1], [0, 0], [1, 0]])
    np.testing.assert_array_equal(enc.codes["nominal"][:, 0], [0, 1, 2, -1, 1, 2])
    np.testing.assert_array_equal(enc.codes["ordinal"][:, 0], [0, 2, -1, 1, 0, 2])
    assert np.isnan(enc.values[1, 0]) and np.isfinite(np.delete(enc.values[:, 0], 1)).all()

    m = bm.lca(frame, items=["b", "s", "n", "o", "c"], n_classes=2)  # builds without error
    assert m.n_units == 6
