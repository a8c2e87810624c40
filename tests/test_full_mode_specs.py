"""Full-mode settings are valid without a full run (issue 24).

CI executes the case-study notebooks in fast mode only (``BAYESMIX_FAST=1``),
so a setting read only in full mode -- a spec's full-size data, its
``[inference]`` / ``[montecarlo]`` options, or a notebook reading a spec key
that no longer exists (``spec.options["integration"]``) -- would first fail in
a full-mode run. These tests build every bundled spec at its full size and
check its full-mode options against ``fit_ml`` / ``sample`` / ``montecarlo``
without fitting, and check statically that every spec key the notebooks read
(``<spec>.options[...]``, ``<spec>.raw[...]...``, in either mode's branch) exists.
"""

from __future__ import annotations

import ast
import inspect
import json
import warnings
from pathlib import Path

import pytest

import bayesmix as bm
from bayesmix.inference.ml import check_fit_keywords
from bayesmix.inference.sampling import SAMPLERS, check_sample_arguments
from bayesmix.spec import bundled_specs, read_spec

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "case_studies").glob("*.ipynb"))
SCRIPTS = sorted((REPO / "case_studies").glob("*.py"))


def _check_ml(options: dict, where: str) -> None:
    explicit = set(inspect.signature(bm.MixtureModel.fit_ml).parameters) - {"self", "kwargs"}
    check_fit_keywords({k: v for k, v in options.items() if k not in explicit}, f"fit_ml ({where})",
                       options.get("integration"))
    starts = options.get("starts", 20)
    pair = list(starts) if isinstance(starts, (list, tuple)) else [starts]
    assert 1 <= len(pair) <= 2 and all(isinstance(s, int) and s >= 0 for s in pair), f"{where}: starts={starts!r}"


def _check_sample(options: dict, where: str) -> None:
    rest = {k: v for k, v in options.items() if k not in ("draws", "tune", "chains", "cores")}
    check_sample_arguments(options.get("draws", 1000), options.get("tune", 1000), options.get("chains", 4),
                           options.get("cores"), {k: v for k, v in rest.items() if k not in (
                               "sampler", "random_seed", "init", "progressbar", "target_accept", "starts")})
    assert options.get("sampler", "auto") in ("auto",) + SAMPLERS, f"{where}: sampler={options.get('sampler')!r}"
    assert options.get("init", "map") in ("map", "ml", "adapt_diag", "jitter+adapt_diag"), \
        f"{where}: init={options.get('init')!r}"


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_full_mode_spec_builds_at_full_size_and_its_options_are_accepted(name):
    """Full-size data and model (graph only: nothing compiled or fitted), full-mode ML / NUTS / Monte Carlo options."""
    spec = read_spec(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = spec.build(fast=False)
    assert model.options["call"]["factory"] == spec.factory
    if spec.is_simulated:  # full mode simulates the spec's own sizes, not the [fast.data] ones
        full = spec.raw["data"].get("parameters", {})
        for key, value in spec.raw.get("fast", {}).get("data", {}).items():
            if key in ("n_units", "n_clusters") and key in full:
                assert full[key] != value, f"{name}: full and fast {key} coincide"
    ml = spec.ml_options(False) or {}
    _check_ml(ml, f"{name} [inference.ml]")
    if ml.get("integration") is not None:
        model.settings(ml["integration"])  # the model accepts the setting (method, points, adaptive ...)
    if spec.raw.get("inference", {}).get("sample") is not None:
        _check_sample(spec.sample_options(False) or {}, f"{name} [inference.sample]")
    if "montecarlo" in spec.raw:  # what bm.montecarlo passes to each replication's fit_ml
        section = spec.raw["montecarlo"]
        assert spec.is_simulated, f"{name}: [montecarlo] without a simulator"
        _check_ml({**ml, **section.get("ml", {})}, f"{name} [montecarlo.ml]")
        assert bm.registry.get(spec.factory).montecarlo


def _code_cells(path: Path) -> list[str]:
    if path.suffix == ".py":
        return [path.read_text()]
    cells = json.loads(path.read_text())["cells"]
    out = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        out.append("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines))
    return out


def _spec_variables(tree: ast.AST) -> dict[str, str]:
    """``var = read_spec("name")`` (and tuple assignments of several) -> {var: name}."""
    out: dict[str, str] = {}

    def spec_name(node):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "read_spec"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            return node.args[0].value
        return None

    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and spec_name(node.value):
                out[target.id] = spec_name(node.value)
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for t, v in zip(target.elts, node.value.elts):
                    if isinstance(t, ast.Name) and spec_name(v):
                        out[t.id] = spec_name(v)
    return out


def _spec_reads(tree: ast.AST, variables: dict[str, str]) -> list[tuple[str, str, list[str], int]]:
    """Every ``var.options[k]`` / ``var.raw[k1][k2]...`` with constant keys: (spec, attribute, keys, line)."""
    reads = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Subscript):
            continue
        keys, base = [], node
        while isinstance(base, ast.Subscript) and isinstance(base.slice, ast.Constant):
            keys.insert(0, base.slice.value)
            base = base.value
        if (isinstance(base, ast.Attribute) and base.attr in ("options", "raw")
                and isinstance(base.value, ast.Name) and base.value.id in variables and keys):
            reads.append((variables[base.value.id], base.attr, keys, node.lineno))
    # keep the longest chain of each subscript expression (inner nodes are prefixes of it)
    return [r for r in reads if not any(o is not r and o[:2] == r[:2] and o[3] == r[3] and len(o[2]) > len(r[2])
                                        and o[2][:len(r[2])] == r[2] for o in reads)]


@pytest.mark.parametrize("path", NOTEBOOKS + SCRIPTS, ids=lambda p: p.name)
def test_every_spec_key_a_case_study_reads_exists(path):
    """Static: the specs a case study reads with read_spec exist, and so does every key it subscripts."""
    source = "\n".join(_code_cells(path))
    tree = ast.parse(source)
    variables = _spec_variables(tree)
    names = set(bundled_specs())
    for var, spec_name in variables.items():
        assert spec_name in names, f"{path.name}: {var} = read_spec({spec_name!r}) is not a bundled spec"
    missing = []
    for spec_name, attribute, keys, line in _spec_reads(tree, variables):
        spec = read_spec(spec_name)
        value = spec.options if attribute == "options" else spec.raw
        for depth, key in enumerate(keys):
            present = (key in value if isinstance(value, dict) else
                       isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value))
            if not present:
                missing.append(f"line {line}: {spec_name}.{attribute}" + "".join(f"[{k!r}]" for k in keys[:depth + 1]))
                break
            value = value[key]
    assert not missing, f"{path.name} reads spec keys that do not exist: {missing}"


def test_the_static_check_finds_a_missing_key():
    """The check above on a snippet with the full-mode-only KeyError of issue 24."""
    source = ('spec = read_spec("section8_fma_gom_adhd_like")\n'
              'x = spec.options["no_such_option"] if not FAST else None\n'
              'y = spec.raw["paper_values"]["loglik"]\n')
    tree = ast.parse(source)
    variables = _spec_variables(tree)
    reads = _spec_reads(tree, variables)
    assert ("section8_fma_gom_adhd_like", "options", ["no_such_option"], 2) in reads
    assert ("section8_fma_gom_adhd_like", "raw", ["paper_values", "loglik"], 3) in reads
    assert len(reads) == 2
    assert "no_such_option" not in read_spec("section8_fma_gom_adhd_like").options
