"""Input validation and encoding (bayesmix.data, scikit-learn style).

Every bad input must raise a ``ValueError`` that names the offending
argument/column and the fix, *before* any PyMC model or PyTensor function is
built. The ``no_model_building`` fixture enforces that: it makes
``pymc.Model(...)`` and ``pytensor.function(...)`` raise a non-ValueError, so
a check that only fires after graph building makes the test fail.

Fast: no compilation, no sampling, no fitting.
"""

from __future__ import annotations

import importlib
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


# ============================================================================ issue 14: malformed input
# One row per bad input: (id, call(df) -> builds a model, the ValueError's message must match, and
# name the column/argument). Every row runs under the no_model_building guard: a refusal that only
# came after pm.Model(...) or pytensor.function(...) would raise ModelBuiltTooEarly instead.
from bayesmix.data import suspected_missing_codes  # noqa: E402
from bayesmix.priors import PriorSet  # noqa: E402


def _with(df, **columns):
    out = df.copy()
    for name, values in columns.items():
        out[name] = values
    return out


def _inf_at(values, position=0, sign=1.0):
    out = np.asarray(values, dtype=float).copy()
    out[position] = sign * np.inf
    return out


def _regression_frame(df):
    rng = np.random.default_rng(0)
    return _with(df, y=rng.normal(size=12), x=rng.normal(size=12))


MALFORMED = [
    # non-finite values
    ("inf in a binary item",
     lambda df: bm.lca(_with(df, A=_inf_at(df["A"])), items=["A", "B"], n_classes=2),
     r"item 'A' has 1 infinite value\(s\) \(inf / -inf\); replace them by NaN"),
    ("-inf in a nominal item",
     lambda df: bm.lca(_with(df, C=_inf_at(df["C"], 3, -1.0)), items=["A", "C"], n_classes=2,
                       item_types={"C": "nominal"}),
     r"item 'C' has 1 infinite value"),
    ("inf in a continuous item",
     lambda df: bm.lca(_with(df, age=_inf_at(df["age"], 5)), items=["A", "age"], n_classes=2),
     r"item 'age' has 1 infinite value.*replace\(\[np\.inf, -np\.inf\], np\.nan\)"),
    ("inf in an object item",
     lambda df: bm.lca(_with(df, S=pd.Series(["a", "b", np.inf] * 4, dtype=object)), items=["A", "S"], n_classes=2),
     r"item 'S' has 4 infinite value"),
    ("inf in a covariate",
     lambda df: bm.lca(_with(df, age=_inf_at(df["age"], 2)), items=["A", "B"], n_classes=2, covariates=["age"]),
     r"covariates column 'age' has 1 infinite value"),
    ("-inf in a cluster covariate",
     lambda df: bm.lca(_with(df, size=_inf_at(np.repeat([10.0, 20.0, 30.0], 4), 0, -1.0)), items=["A", "B"],
                       n_classes=2, cluster="school", random_intercept=True, cluster_covariates=["size"]),
     r"cluster_covariates column 'size' has 1 infinite value"),
    ("inf in a regression predictor",
     lambda df: bm.mixture_regression(_with(_regression_frame(df), x=_inf_at(np.arange(12.0), 4)), y="y", x="x",
                                      n_classes=2),
     r"x column 'x' has 1 infinite value"),
    ("nullable boolean covariate with pd.NA",
     lambda df: bm.lca(_with(df, flag=pd.array([True, False, pd.NA] * 4, dtype="boolean")), items=["A", "B"],
                       n_classes=2, covariates=["flag"]),
     r"covariates column 'flag' has 4 missing value\(s\).*drop or impute"),
    ("nullable integer covariate with pd.NA",
     lambda df: bm.lca(_with(df, n=pd.array([1, 2, None] * 4, dtype="Int64")), items=["A", "B"],
                       n_classes=2, covariates=["n"]),
     r"covariates column 'n' has 4 missing value"),
    # duplicated column names
    ("duplicated item column",
     lambda df: bm.lca(pd.concat([df, df[["A"]]], axis=1), items=["A", "B"], n_classes=2),
     r"data has 2 columns named 'A' \(used in items\).*rename or drop the duplicates"),
    ("duplicated covariate column",
     lambda df: bm.lca(pd.concat([df, df[["age"]]], axis=1), items=["A", "B"], n_classes=2, covariates=["age"]),
     r"data has 2 columns named 'age' \(used in covariates\)"),
    ("duplicated outcome column (regression)",
     lambda df: bm.mixture_regression(pd.concat([_regression_frame(df), _regression_frame(df)[["y"]]], axis=1), y="y", x="x",
                           n_classes=2),
     r"data has 2 columns named 'y' \(used in y\)"),
    # a type declaration that does not fit the data
    ("continuous float item declared nominal",
     lambda df: bm.lca(_with(df, F=np.linspace(0.1, 3.3, 12)), items=["A", "F"], n_classes=2,
                       item_types={"F": "nominal"}),
     r"item 'F' is declared nominal but has 12 distinct non-integer values.*declare it 'continuous'"),
    # typos in priors
    ("unknown keyword of a prior",
     lambda df: bm.lca(df, items=["A", "B"], n_classes=2, priors={"binary_logit": {"sgima": 1}}),
     r"priors\['binary_logit'\] has keyword\(s\) \['sgima'\] that Normal does not take \(did you mean 'sigma'\?\); "
     r"valid keywords: \['mu', 'sigma', 'tau'\]"),
    ("unknown keyword of a HalfNormal prior",
     lambda df: bm.lca(df, items=["A", "age"], n_classes=2, priors={"normal_sd": {"mu": 0, "sigma": 1}}),
     r"priors\['normal_sd'\] has keyword\(s\) \['mu'\] that HalfNormal does not take; valid keywords: \['sigma', 'tau'\]"),
    ("unknown keyword of a (distribution, kwargs) prior",
     lambda df: bm.lca(df, items=["A", "B"], n_classes=2,
                       priors={"class_intercept": ("StudentT", {"nu": 4, "mu": 0, "sd": 2})}),
     r"priors\['class_intercept'\] has keyword\(s\) \['sd'\] that StudentT does not take.*'sigma'"),
    ("unknown distribution of a prior",
     lambda df: bm.lca(df, items=["A", "B"], n_classes=2, priors={"class_intercept": ("Studentt", {"nu": 4})}),
     r"priors\['class_intercept'\]: PyMC has no distribution 'Studentt' \(did you mean 'StudentT'\?\)"),
    ("unknown prior name, closest suggested",
     lambda df: bm.lca(df, items=["A", "B"], n_classes=2, priors={"binary_logits": {"sigma": 2}}),
     r"priors names \['binary_logits'\].*did you mean 'binary_logit'"),
    ("priors not a dict",
     lambda df: bm.lca(df, items=["A", "B"], n_classes=2, priors=[("binary_logit", {"sigma": 2})]),
     r"priors must be a dict of parameter name -> override"),
    ("random_sd prior on a single-level mixture regression",
     lambda df: bm.mixture_regression(_regression_frame(df), y="y", x="x", n_classes=2,
                                      priors={"random_sd": {"sigma": 1}}),
     r"priors names \['random_sd'\], which this model does not have"),
    # not identified
    ("constant covariate",
     lambda df: bm.lca(_with(df, one=1.0), items=["A", "B"], n_classes=2, covariates=["age", "one"]),
     r"covariates column 'one' is constant \(1\); it is collinear with the intercept.*remove it from covariates"),
    ("collinear covariates",
     lambda df: bm.lca(_with(df, age2=2 * df["age"] + 1), items=["A", "B"], n_classes=2,
                       covariates=["age", "age2"]),
     r"covariates column 'age2' is a linear combination of the intercept and \['age'\].*remove 'age2'"),
    ("cluster covariate constant across clusters",
     lambda df: bm.lca(_with(df, size=5.0), items=["A", "B"], n_classes=2, cluster="school",
                       random_intercept=True, cluster_covariates=["size"]),
     r"cluster_covariates column 'size' is constant \(5 across clusters\)"),
    ("random_intercept=True with a single cluster",
     lambda df: bm.lca(_with(df, school="s1"), items=["A", "B"], n_classes=2, cluster="school",
                       random_intercept=True),
     r"cluster column 'school' has a single cluster \('s1'\).*need at least 2.*drop cluster="),
    ("between-level classes with a single cluster",
     lambda df: bm.lca(_with(df, school="s1"), items=["A", "B"], n_classes=2, cluster="school",
                       class_level="between"),
     r"cluster column 'school' has a single cluster"),
    ("random intercept regression with a single cluster",
     lambda df: bm.mixture_regression(_with(_regression_frame(df), school="s1"), y="y", x="x", n_classes=2,
                                      cluster="school", random="intercept"),
     r"cluster column 'school' has a single cluster"),
]


@pytest.mark.parametrize("build, match", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_input_refused_before_model_building(no_model_building, df, build, match):
    with pytest.raises(ValueError, match=match):
        build(df)


# Legal but suspicious input: a UserWarning naming the column and the fix, emitted before any model
# is built (the guard then stops the build, so the warning cannot come from later stages).
SUSPICIOUS = [
    ("0/1 item declared continuous",
     lambda df: bm.lca(df, items=["A", "B"], n_classes=2, item_types={"A": "continuous"}),
     r"item 'A' is continuous \(normal within class\) but takes only the two values \[0, 1\].*"
     r"item_types=\{'A': 'binary'\}"),
    ("-999 on a 1..3 coded item",
     lambda df: bm.lca(_with(df, C=np.where(np.arange(12) < 2, -999, df["C"])), items=["A", "C"], n_classes=2),
     r"item 'C' has code\(s\) \[-999\] \(2 row\(s\)\) beyond its other values \(1\.\.3\); they look like survey "
     r"missing-value codes.*data\['C'\] = data\['C'\]\.replace\(\[-999\], np\.nan\)"),
    ("9 on a 0/1 item",
     lambda df: bm.lca(_with(df, B=np.where(np.arange(12) == 5, 9, df["B"])), items=["A", "B"], n_classes=2),
     r"item 'B' has code\(s\) \[9\] \(1 row\(s\)\) beyond its other values \(0\.\.1\).*taken as real nominal"),
    ("8 and 9 on a declared ordinal 1..3 item",
     lambda df: bm.lca(_with(df, C=np.where(np.arange(12) < 2, [8, 9] * 6, df["C"])), items=["A", "C"],
                       n_classes=2, item_types={"C": "ordinal"}),
     r"item 'C' has code\(s\) \[8, 9\].*taken as real ordinal"),
    ("999 on a continuous item",
     lambda df: bm.lca(_with(df, age=np.where(np.arange(12) == 0, 999.0, df["age"])), items=["A", "age"],
                       n_classes=2),
     r"item 'age' has code\(s\) \[999\].*taken as real continuous"),
]


@pytest.mark.parametrize("build, match", [case[1:] for case in SUSPICIOUS], ids=[case[0] for case in SUSPICIOUS])
def test_suspicious_input_warns_before_model_building(no_model_building, df, build, match):
    with pytest.warns(UserWarning, match=match):
        with pytest.raises(ModelBuiltTooEarly):
            build(df)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1, 2, 3, 4, 5, 9], [9]),
        ([0, 1, 9], [9]),
        ([1, 2, 3, 4, 5, -9], [-9]),
        ([1, 2, 3, 4, 5, -1], [-1]),
        ([1, 2, 3, 4, 5, 8, 9], [8, 9]),
        ([1, 2, 3, 4, 5, 6, 7, 9], [9]),  # 7-point scale, 9 = don't know
        (list(range(11)) + [98, 99], [98, 99]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], []),  # a 9-point scale
        ([-2, -1, 0, 1, 2], []),
        ([-1, 0, 1], []),
        (list(range(-9, 10)), []),
        (list(np.arange(18, 91)) + [99], []),  # a 99-year-old is possible
        (list(np.arange(18, 91)) + [999], [999]),
        (list(np.linspace(0.1, 3.0, 30)) + [-99.0], [-99]),
        (list(np.linspace(-3.0, 3.0, 30)), []),
        ([0, 9], []),
        ([7, 8, 9], []),
    ],
)
def test_suspected_missing_codes(values, expected):
    assert suspected_missing_codes(pd.Series(values * 2)) == expected


@pytest.mark.parametrize(
    "column",
    [pd.Series(["1", "2", "9"] * 3), pd.Series(pd.Categorical([1, 2, 9] * 3)), pd.Series([True, False] * 3)],
)
def test_no_missing_code_guess_for_labels(column):
    assert suspected_missing_codes(column) == []


@pytest.mark.parametrize("name", ["carcinoma", "lsat7", "sai_lta"])
def test_bundled_data_encode_without_warnings(name, recwarn):
    data = bm.datasets.load(name)
    items = [c for c in data.columns if c not in ("study", "id", "person", "unit", "slide")]
    encode(data, items, 2)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)], [str(w.message) for w in recwarn]


def test_simulated_data_encode_without_warnings(sim2, recwarn):
    encode(sim2.data, sim2.items, 2)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_valid_unusual_input_still_accepted(df):
    """Nullable dtypes without NA, boolean covariates, 1/2 coding, integer-coded nominal: no refusal."""
    frame = _with(
        df,
        A=pd.array(list(df["A"] + 1), dtype="Int64"),
        flag=pd.array([True, False] * 6, dtype="boolean"),
        plain=[True, False, False] * 4,
        C=np.where(np.arange(12) == 0, np.nan, df["C"]),
    )
    enc = encode(frame, ["A", "B", "C"], 2, covariates=["age", "flag", "plain"], cluster="school",
                 item_types={"C": "nominal"})
    assert enc.covariates.shape == (12, 3)
    assert [it.categories for it in enc.items][0] == (1, 2)


# -------------------------------------------------------------- priors for parameters the model lacks
def test_prior_set_reports_unused_overrides():
    priors = PriorSet({"binary_logit": {"sigma": 3}, "random_sd": {"sigma": 1}})
    priors.spec("class_intercept")
    priors.spec("binary_logit")
    assert priors.unused() == ["random_sd"]
    with pytest.raises(ValueError, match=r"priors names \['random_sd'\], but this model has no such parameter "
                                         r"\(random_sd needs cluster random effects.*random_intercept=True\)"):
        priors.check_unused()
    PriorSet({"binary_logit": {"sigma": 3}}).spec("binary_logit")  # all used: no error


@pytest.fixture
def recorded_prior_sets(monkeypatch):
    """The PriorSet instances bm.lca makes (to see which overrides the built model asked for)."""
    lca_module = importlib.import_module("bayesmix.families.lca.factory")

    made = []

    class Recording(PriorSet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(lca_module, "PriorSet", Recording)
    return made


def test_lca_leaves_a_random_sd_prior_unused_on_a_single_level_model(df, recorded_prior_sets):
    with pytest.raises(ValueError, match="random_sd"):
        bm.lca(df, items=["A", "B"], n_classes=2, priors={"random_sd": {"sigma": 1}})
    assert recorded_prior_sets[-1].unused() == ["random_sd"]


@pytest.mark.parametrize(
    "options, priors",
    [
        (dict(items=["A", "B", "C", "age"], covariates=["income"], item_types={"C": "ordinal"}),
         ["class_intercept", "class_slope", "binary_logit", "ordinal_first_threshold", "ordinal_log_gap",
          "normal_mean", "normal_sd"]),
        (dict(items=["A", "C"], item_types={"C": "nominal"}, link="probit", ordered="A"),
         ["binary_logit", "nominal_logit"]),
        (dict(items=["A", "B"], n_classes=3, cluster="school", random_intercept=True, cluster_covariates=["size"]),
         ["random_sd", "random_corr_eta", "random_slope"]),
        (dict(items=["A", "B"], cluster="school", n_between_classes=2, cluster_covariates=["size"]),
         ["between_class_intercept", "between_class_slope", "class_between_effect"]),
    ],
)
def test_lca_uses_every_prior_its_model_has(df, recorded_prior_sets, options, priors):
    """No false alarm from PriorSet.unused(): overrides of parameters the model has are all asked for."""
    frame = _with(df, size=np.repeat([10.0, 20.0, 35.0], 4))
    overrides = {name: dict(PriorSet({}).spec(name)[1]) for name in priors}
    bm.lca(frame, **{"n_classes": 2, **options}, priors=overrides)
    assert recorded_prior_sets[-1].unused() == []


def test_random_sd_prior_on_a_single_level_lca_is_refused_before_compilation(df, monkeypatch):
    """check_unused runs after pm.Model is built (graphs only), so this guard blocks compilation only."""
    def forbidden(*args, **kwargs):
        raise ModelBuiltTooEarly("a PyTensor function was compiled before validation failed")

    monkeypatch.setattr(pytensor, "function", forbidden)
    with pytest.raises(ValueError, match=r"priors names \['random_sd'\], but this model has no such parameter"):
        bm.lca(df, items=["A", "B"], n_classes=2, priors={"random_sd": {"sigma": 1}})


def test_check_keys_names_the_unknown_key_and_the_closest_valid_one():
    from bayesmix.data import check_keys

    check_keys(None, ("method", "points"), "integration")
    check_keys({"method": "trapezoid", "points": 30}, ("method", "points"), "integration")
    with pytest.raises(ValueError, match=r"integration has unknown key\(s\) 'npoints' \(did you mean 'points'\?\); "
                                         r"valid keys: \['method', 'points'\]"):
        check_keys({"npoints": 2}, ("method", "points"), "integration")
    with pytest.raises(ValueError, match=r"integration must be a dict"):
        check_keys([("points", 2)], ("method", "points"), "integration")


# ------------------------------------------------------------- integrator arguments (issue 14, item 2)
@pytest.fixture
def built(df):
    return bm.lca(df, items=["A", "B"], n_classes=2)


@pytest.fixture
def nothing_compiled(monkeypatch):
    """Block compilation only (the model is built): a refusal must come before any function is compiled."""
    def forbidden(*args, **kwargs):
        raise ModelBuiltTooEarly("a PyTensor function was compiled before the arguments were checked")

    monkeypatch.setattr(pytensor, "function", forbidden)


BAD_ARGUMENTS = [
    ("sample chains=0", lambda m: m.sample(chains=0), r"sample\(chains=\.\.\.\) must be an integer >= 1, got 0"),
    ("sample draws=0", lambda m: m.sample(draws=0), r"sample\(draws=\.\.\.\) must be an integer >= 1, got 0"),
    ("sample tune=-1", lambda m: m.sample(tune=-1), r"sample\(tune=\.\.\.\) must be an integer >= 0, got -1"),
    ("sample chains=2.5", lambda m: m.sample(chains=2.5), r"sample\(chains=\.\.\.\) must be an integer"),
    ("sample cores=0", lambda m: m.sample(cores=0), r"sample\(cores=\.\.\.\) must be an integer >= 1"),
    ("sample n_draws", lambda m: m.sample(n_draws=100),
     r"sample\(\) got unknown keyword argument\(s\) 'n_draws' \(did you mean 'draws'\?\); sample takes \["),
    ("fit_ml maxiter", lambda m: m.fit_ml(maxiter=10),
     r"fit_ml\(\) got unknown keyword argument\(s\) 'maxiter' \(did you mean 'max_iterations'\?\)"),
    ("fit_ml integration typo", lambda m: m.fit_ml(integration={"npoints": 2}),
     r"integration has unknown key\(s\) 'npoints' \(did you mean 'points'\?\)"),
    ("fit_map unknown keyword", lambda m: m.fit_map(sead=1), r"fit_map\(\) got unknown keyword argument\(s\) 'sead' "
                                                             r"\(did you mean 'seed'\?\)"),
    ("fit_laplace draws=0", lambda m: m.fit_laplace(draws=0), r"fit_laplace\(draws=\.\.\.\) must be an integer >= 1"),
]


@pytest.mark.parametrize("call, match", [case[1:] for case in BAD_ARGUMENTS], ids=[case[0] for case in BAD_ARGUMENTS])
def test_bad_integrator_arguments_refused_before_compiling(built, nothing_compiled, call, match):
    with pytest.raises(ValueError, match=match) as info:
        call(built)
    assert "_multistart" not in str(info.value)


def test_unknown_fit_laplace_keyword_names_the_public_method(built, nothing_compiled):
    with pytest.raises(TypeError, match=r"fit_laplace\(\) got an unexpected keyword argument 'foo'"):
        built.fit_laplace(foo=1)


# ---------------------------------------------------------------------------- missing_codes= (issue 14)
def _with_survey_codes():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"A": rng.integers(1, 3, 80).astype(float), "B": rng.integers(1, 4, 80).astype(float),
                          "C": rng.integers(0, 2, 80).astype(float)})
    frame.loc[[3, 7], "A"] = 9.0
    frame.loc[[5], "B"] = -999.0
    return frame


def test_missing_codes_turn_survey_codes_into_missing_cells():
    frame = _with_survey_codes()
    with pytest.warns(UserWarning, match="missing_codes="):
        bm.lca(frame, ["A", "B", "C"], 2)
    import warnings as _w
    with _w.catch_warnings():
        _w.simplefilter("error")  # no suspicious-code warning once the codes are declared
        m = bm.lca(frame, ["A", "B", "C"], 2, missing_codes=[9, -999])
    cleaned = frame.replace({"A": {9.0: np.nan}, "B": {-999.0: np.nan}})
    ref = bm.lca(cleaned, ["A", "B", "C"], 2)
    assert [it.n_categories for it in m.data.items] == [it.n_categories for it in ref.data.items] == [2, 3, 2]
    np.testing.assert_array_equal(m.data.codes["binary"], ref.data.codes["binary"])
    per_item = bm.lca(frame, ["A", "B", "C"], 2, missing_codes={"A": [9], "B": [-999]})
    np.testing.assert_array_equal(per_item.data.codes["binary"], ref.data.codes["binary"])


@pytest.mark.parametrize("codes, message", [
    ({"Z": [9]}, r"missing_codes names 'Z'.*not items"),
    ({"a": [9]}, r"did you mean 'A'"),
    ("9", r"missing_codes must be a list of codes"),
])
def test_missing_codes_bad_arguments(codes, message, no_model_building):
    with pytest.raises(ValueError, match=message):
        bm.lca(_with_survey_codes(), ["A", "B", "C"], 2, missing_codes=codes)


def test_duplicate_row_labels_and_fits_of_another_model_are_refused_by_name():
    """Issue 26 probe: duplicate index labels passed silently; a 2-class fit given to a 3-class model ended in a
    numpy broadcasting error."""
    import warnings
    df = bm.datasets.load("carcinoma")
    with pytest.raises(ValueError, match=r"2 duplicate row label\(s\).*reset_index"):
        bm.lca(df.set_axis([0, 0, 1, 1] + list(range(2, 116))), list("ABCDEFG"), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = bm.lca(df, list("ABCDEFG"), 2).fit_ml(starts=2, seed=1, progressbar=False)
    three = bm.lca(df, list("ABCDEFG"), 3)
    with pytest.raises(ValueError, match=r"not a fit of this model: parameter 'class_intercept' has shape \(1,\)"):
        three.profiles(ml)
    with pytest.raises(ValueError, match="not a fit of this model"):
        three.class_proportions(ml.point)
