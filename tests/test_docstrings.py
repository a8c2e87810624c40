"""Docstrings (issue 13 item 10): every public function and result class has Parameters, Returns and Examples.

The rule, numpy style: functions and methods have a ``Returns`` and an
``Examples`` section, and a ``Parameters`` section when they take arguments
(besides ``self``); classes have ``Parameters`` or ``Attributes`` and
``Examples``; properties have a docstring. Walked: everything in
``bm.__all__`` (and the ``__all__`` of the modules it exports), and the
public methods and properties of the model and result classes.
"""

from __future__ import annotations

import inspect
import re

import pytest

import bayesmix as bm
from bayesmix.families.fma import FactorMixtureModel
from bayesmix.families.irt import ThreePLModel
from bayesmix.families.lta import LTAModel
from bayesmix.inference.ml import MAPResult, MLResult
from bayesmix.montecarlo import MonteCarloResult
from bayesmix.spec import Spec
from bayesmix.summary import FitSummary

CLASSES = [bm.MixtureModel, MLResult, MAPResult, FitSummary, Spec, MonteCarloResult, LTAModel,
           FactorMixtureModel, ThreePLModel, bm.ClassEnumeration]


def _sections(doc: str) -> set[str]:
    return set(re.findall(r"^\s*(\w[\w ]*)\n\s*-{3,}\s*$", doc or "", re.M))


def _takes_arguments(func) -> bool:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in params)


def _public_functions():
    out = {}
    for name in bm.__all__:
        obj = getattr(bm, name)
        if inspect.ismodule(obj):
            for inner in getattr(obj, "__all__", []):
                out[f"{name}.{inner}"] = getattr(obj, inner)
        elif callable(obj) and not inspect.isclass(obj):
            out[name] = obj
    return out


def _public_members():
    out = {}
    for cls in CLASSES:
        for name, value in vars(cls).items():
            if name.startswith("_"):
                continue
            if isinstance(value, property):
                out[f"{cls.__name__}.{name}"] = ("property", value)
            elif inspect.isfunction(value):
                out[f"{cls.__name__}.{name}"] = ("method", value)
            elif isinstance(value, (staticmethod, classmethod)):
                out[f"{cls.__name__}.{name}"] = ("method", value.__func__)
    return out


FUNCTIONS = _public_functions()
MEMBERS = _public_members()
_POINTER = re.compile(r"^See :func:`(bayesmix(?:\.\w+)+)`\.$")


def _pointed(func):
    """The function a one-line wrapper docstring ("See :func:`bayesmix.results.profiles`.") points to, or None."""
    match = _POINTER.match((inspect.getdoc(func) or "").strip())
    if match is None:
        return None
    import importlib
    module, _, name = match.group(1).rpartition(".")
    return getattr(importlib.import_module(module), name)


POINTED = {f"{name} -> {_POINTER.match(inspect.getdoc(value)).group(1)}": _pointed(value)
           for name, (kind, value) in MEMBERS.items() if kind == "method" and _pointed(value) is not None}


def _missing(func) -> list[str]:
    sections = _sections(inspect.getdoc(func))
    need = ["Returns", "Examples"] + (["Parameters"] if _takes_arguments(func) else [])
    return [s for s in need if s not in sections]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_exported_function_docstring(name):
    assert not _missing(FUNCTIONS[name]), f"{name} lacks {_missing(FUNCTIONS[name])}"


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_method_and_property_docstring(name):
    kind, value = MEMBERS[name]
    if kind == "property":
        assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    else:
        target = _pointed(value) or value  # a one-line wrapper: the function it points to is checked
        assert not _missing(target), f"{name} lacks {_missing(target)}"


@pytest.mark.parametrize("name", sorted(POINTED))
def test_wrapper_points_to_a_documented_function(name):
    """Wrappers carry one line pointing at the function; that function has the full docstring."""
    assert not _missing(POINTED[name]), f"{name} lacks {_missing(POINTED[name])}"


@pytest.mark.parametrize("cls", CLASSES + [getattr(bm, n) for n in bm.__all__ if inspect.isclass(getattr(bm, n))],
                         ids=lambda c: c.__name__)
def test_class_docstring(cls):
    sections = _sections(cls.__doc__)
    assert "Examples" in sections and ({"Parameters", "Attributes"} & sections), \
        f"{cls.__name__} has sections {sorted(sections)}"


def test_help_shows_the_full_fit_ml_text():
    """``help(m.fit_ml)`` points at :func:`bayesmix.inference.ml.fit_ml`, whose docstring names every keyword it accepts."""
    import pydoc
    from bayesmix.inference import ml, optimize
    text = pydoc.render_doc(_pointed(bm.MixtureModel.fit_ml) or bm.MixtureModel.fit_ml, renderer=pydoc.plaintext)
    for section in ("Parameters", "Returns", "Examples"):
        assert section in text
    keywords = set(inspect.signature(bm.MixtureModel.fit_ml).parameters) | set(inspect.signature(ml.fit_ml).parameters)
    keywords |= {p.name for p in inspect.signature(optimize._multistart).parameters.values()
                 if p.kind == p.KEYWORD_ONLY}
    private = {"self", "mm", "kwargs", "kind", "extra_starts"}
    undocumented = sorted(k for k in keywords - private if not re.search(rf"^\s*{k}\b.*:", text, re.M))
    assert not undocumented, f"help(m.fit_ml) does not document {undocumented}"


def _example_objects():
    objects = dict(FUNCTIONS)
    objects.update({name: value for name, (kind, value) in MEMBERS.items() if kind == "method"})
    objects.update(POINTED)
    objects.update({cls.__name__: cls for cls in CLASSES})
    return objects


EXAMPLES = _example_objects()


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_run(name):
    """The examples not marked ``+SKIP`` run and print what they show (the fast fits included: carcinoma, 5 starts)."""
    import doctest

    import numpy as np
    import pandas as pd
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(EXAMPLES[name], name, globs={"bm": bm, "np": np, "pd": pd}):
        report: list[str] = []
        result = runner.run(test, out=report.append)
        assert result.failed == 0, f"{name}: {result.failed} example(s) failed\n" + "".join(report)
