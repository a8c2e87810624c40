"""Property test of the data layer (issue 14, item 4): random DataFrames through ``bm.lca``.

Hypothesis draws small DataFrames of mixed dtypes (0/1, 1/2 and 1..5 codes,
survey missing-value codes such as -9 / 9 / 99 / -999, floats with inf,
strings, booleans, nullable Int64 / boolean with ``pd.NA``, ordered and
unordered Categoricals, object columns mixing numbers and strings, constant
and all-missing columns), missing cells as NaN / None / ``pd.NA``,
covariates, cluster ids, declared item types and class counts. For every
frame, ``bm.lca`` must either

- refuse it with a ``ValueError`` before anything is compiled (a compile
  during the factory call raises ``ModelBuiltTooEarly``, which is no
  ValueError, so a late refusal or a crash of another type fails), or
- build a model whose log-likelihood (the model's one potential) and log
  density at the initial point are finite, with the encoded codes in range.

Runtime about 30-60 s on one core (``max_examples`` below, no deadline).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd
import pytensor
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bayesmix as bm
from bayesmix._compile import no_c_compiler, python_mode
from conftest import ModelBuiltTooEarly

MISSING_CODES = [-999, -99, -9, -1, 9, 99, 999]


@contextlib.contextmanager
def nothing_compiled():
    """Inside: any PyTensor compilation raises ModelBuiltTooEarly (not a ValueError)."""
    original = pytensor.function

    def forbidden(*args, **kwargs):
        raise ModelBuiltTooEarly("a PyTensor function was compiled before validation finished")

    pytensor.function = forbidden
    try:
        yield
    finally:
        pytensor.function = original


# ------------------------------------------------------------------------------ strategies
def _with_missing(draw, values: list, rate: float, marker) -> list:
    mask = draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    if rate == 0.0:
        return values
    keep_all = rate < 0.5
    return [marker if (m and (not keep_all or i % 2 == 0)) else v for i, (v, m) in enumerate(zip(values, mask))]


@st.composite
def item_column(draw, n: int) -> pd.Series:
    """One item column of ``n`` rows in one of many dtypes and codings."""
    usual = ["binary", "one_two", "codes", "codes_with_missing_code", "floats", "strings", "bools", "nullable_int",
             "nullable_bool", "ordered_cat", "cat", "mixed_object", "negative_codes", "many_ints"]
    rare = ["floats_inf", "constant", "all_missing"]
    kind = draw(st.sampled_from(usual * 3 + rare))
    rate = draw(st.sampled_from([0.0, 0.0, 0.2, 0.6]))
    ints = lambda lo, hi: draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))  # noqa: E731
    if kind == "binary":
        return pd.Series(_with_missing(draw, [float(v) for v in ints(0, 1)], rate, np.nan))
    if kind == "one_two":
        return pd.Series(_with_missing(draw, ints(1, 2), rate, None), dtype=object if rate else None)
    if kind == "codes":
        return pd.Series(_with_missing(draw, [float(v) for v in ints(1, 5)], rate, np.nan))
    if kind == "codes_with_missing_code":
        code = draw(st.sampled_from(MISSING_CODES))
        values = [float(v) for v in ints(1, 5)]
        hits = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=max(1, n // 3)))
        for i in hits:
            values[i] = float(code)
        return pd.Series(_with_missing(draw, values, rate, np.nan))
    if kind == "negative_codes":
        return pd.Series([float(v) for v in ints(-3, 2)])
    if kind == "floats":
        values = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n))
        return pd.Series(_with_missing(draw, values, rate, np.nan), dtype=float)
    if kind == "floats_inf":
        values = draw(st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n))
        values[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.inf, -np.inf]))
        return pd.Series(values, dtype=float)
    if kind == "strings":
        values = draw(st.lists(st.sampled_from(["a", "b", "c", "yes", "no", ""]), min_size=n, max_size=n))
        return pd.Series(_with_missing(draw, values, rate, None), dtype=object)
    if kind == "bools":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "nullable_int":
        return pd.Series(pd.array(_with_missing(draw, ints(0, 3), rate, pd.NA), dtype="Int64"))
    if kind == "nullable_bool":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        return pd.Series(pd.array(_with_missing(draw, values, rate, pd.NA), dtype="boolean"))
    if kind in ("ordered_cat", "cat"):
        levels = ["lo", "mid", "hi", "top"][: draw(st.integers(2, 4))]
        values = _with_missing(draw, draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n)), rate, None)
        return pd.Series(pd.Categorical(values, categories=levels, ordered=kind == "ordered_cat"))
    if kind == "mixed_object":
        values = draw(st.lists(st.sampled_from([1, 2, "x", "y", 3.5]), min_size=n, max_size=n))
        return pd.Series(_with_missing(draw, values, rate, None), dtype=object)
    if kind == "constant":
        return pd.Series([1.0] * n)
    if kind == "all_missing":
        return pd.Series([np.nan] * n)
    return pd.Series([float(v) for v in ints(0, 40)])  # many_ints: continuous by inference


@st.composite
def covariate_column(draw, n: int) -> pd.Series:
    kind = draw(st.sampled_from(["normal"] * 6 + ["bool", "ints"] * 2
                                + ["with_nan", "with_inf", "constant", "strings", "nullable_bool_na"]))
    normal = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=n, max_size=n))
    if kind == "normal":
        return pd.Series(normal, dtype=float)
    if kind == "with_nan":
        normal[draw(st.integers(0, n - 1))] = np.nan
        return pd.Series(normal, dtype=float)
    if kind == "with_inf":
        normal[draw(st.integers(0, n - 1))] = np.inf
        return pd.Series(normal, dtype=float)
    if kind == "constant":
        return pd.Series([2.0] * n)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "strings":
        return pd.Series(draw(st.lists(st.sampled_from(["u", "v"]), min_size=n, max_size=n)), dtype=object)
    if kind == "nullable_bool_na":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        values[0] = pd.NA
        return pd.Series(pd.array(values, dtype="boolean"))
    return pd.Series(draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n)))


@st.composite
def lca_call(draw):
    """(data, keyword arguments of bm.lca)."""
    n = draw(st.integers(1, 30))
    n_items = draw(st.integers(1, 4))
    items = [f"i{j}" for j in range(n_items)]
    frame = pd.DataFrame({name: draw(item_column(n)) for name in items})  # dtypes kept (nullable, categorical)
    kwargs: dict = {"items": items, "n_classes": draw(st.sampled_from([1, 2, 2, 3]))}
    if draw(st.integers(0, 2)) == 0:
        kwargs["item_types"] = {name: draw(st.sampled_from(["binary", "nominal", "ordinal", "continuous"]))
                                for name in items if draw(st.booleans())}
    if draw(st.integers(0, 2)) == 0:
        covariates = [f"x{j}" for j in range(draw(st.integers(1, 2)))]
        for name in covariates:
            frame[name] = draw(covariate_column(n))
        kwargs["covariates"] = covariates
    if n >= 2 and draw(st.integers(0, 2)) == 0:
        ids = draw(st.lists(st.sampled_from(["s1", "s2", "s3"] * 5 + [None]), min_size=n, max_size=n))
        frame["school"] = pd.Series(ids, dtype=object)
        kwargs["cluster"] = "school"
        kwargs.update(draw(st.sampled_from([{"random_intercept": True}, {"class_level": "between"}])))
    if draw(st.integers(0, 9)) == 0:  # a duplicated column name
        frame = pd.concat([frame, frame[[items[0]]]], axis=1)
    return frame, kwargs


# ------------------------------------------------------------------------------ the property
def _check_encoding(m) -> None:
    """Codes in range per kind, continuous values finite where observed."""
    for kind, codes in m.data.codes.items():
        specs = [it for it in m.data.items if it.kind == kind]
        for j, spec in enumerate(specs):
            column = np.asarray(codes)[:, j]
            assert column.min() >= -1 and column.max() < spec.n_categories, (spec.name, kind)
    if m.data.values is not None:
        values = np.asarray(m.data.values, dtype=float)
        assert not np.isinf(values).any()


#: words a refusal may name instead of a column: the arguments of the call and the frame itself
ARGUMENT_WORDS = ("items", "n_classes", "covariates", "cluster", "item_types", "random_intercept",
                  "class_level")


def _names_the_culprit(message: str, frame: pd.DataFrame, kwargs: dict) -> bool:
    """Whether a refusal names an offending column (quoted as in the frame) or an argument of the call."""
    columns = {str(c) for c in frame.columns}
    quoted = [f"{q}{c}{q}" for c in columns for q in ("'", '"', "`")]
    return any(q in message for q in quoted) or any(word in message for word in ARGUMENT_WORDS)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(call=lca_call())
def test_lca_refuses_before_compiling_or_builds_a_finite_model(call):
    frame, kwargs = call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # suspicious-but-legal inputs warn; the property is about errors
        try:
            with nothing_compiled():
                m = bm.lca(frame, **kwargs)
        except ValueError as err:
            # raised before any compilation (the guard raises no ValueError), and the message names
            # what to fix: a column of the frame or an argument of the call
            assert _names_the_culprit(str(err), frame, kwargs), (str(err), kwargs)
            event("refused", str(err).split(";")[0][:60])
            return
    event("built")
    _check_encoding(m)
    point = m.model.initial_point()
    with no_c_compiler():
        loglik = m.model.compile_logp(vars=m.model.potentials, mode=python_mode())(point)
        logp = m.model.compile_logp(mode=python_mode())(point)
    assert np.isfinite(loglik), (kwargs, frame.dtypes.to_dict())
    assert np.isfinite(logp)


def test_fuzz_guard_blocks_compilation():
    """The guard of the property: a compile inside it raises ModelBuiltTooEarly, which is no ValueError."""
    assert not issubclass(ModelBuiltTooEarly, ValueError)
    frame = pd.DataFrame({"a": [0, 1, 1, 0], "b": [1, 0, 1, 1]})
    m = bm.lca(frame, items=["a", "b"], n_classes=2)
    with nothing_compiled(), pytest.raises(ModelBuiltTooEarly):
        m.model.compile_logp()(m.model.initial_point())


def test_culprit_check_rejects_messages_that_name_nothing():
    """The message check of the property could fail: a numpy broadcasting error names no column or argument."""
    frame = pd.DataFrame({"i0": [0, 1], "x0": [0.1, 0.2]})
    kwargs = {"items": ["i0"], "n_classes": 2}
    assert not _names_the_culprit("operands could not be broadcast together with shapes (2,) (3,)", frame, kwargs)
    assert _names_the_culprit("item 'i0' is constant (observed codes: [1.0])", frame, kwargs)
    assert _names_the_culprit("n_classes must be an integer >= 1", frame, kwargs)
