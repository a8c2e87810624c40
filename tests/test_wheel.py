"""Installable as users install (issue 25 item 9): the built wheel in a fresh venv, outside the checkout.

The wheel is built from a copy of the files it is made of (``pyproject.toml``,
``README.md``, ``LICENSE``, ``bayesmix/``, ``models/``), so the checkout gets no
``build/`` or ``*.egg-info``. It is installed with ``--no-deps`` into a new venv
whose only view of the already-installed dependencies is a ``.pth`` file naming
this environment's site-packages as a plain path line: Python adds the folder but
does not run the ``.pth`` files inside it, so the editable install of the
checkout stays invisible and ``import bayesmix`` finds the wheel. From a
temporary folder it then runs ``bayesmix list``, ``bayesmix run carcinoma_lca_k2
--fast``, the README's 30-second example and its quick start (in the fast
settings of ``test_readme``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from test_readme import README, fast, quick_start

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["pyproject.toml", "README.md", "LICENSE", "bayesmix", "models"]


def thirty_seconds() -> str:
    """The README's first python block (the 30-second example above the quick start)."""
    return README.read_text().split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv python, venv bin folder, wheel path): the wheel installed in a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SHIPPED:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(dist)],
                   check=True, cwd=tmp)
    (wheel,) = dist.glob("bayesmix-*.whl")

    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_bayesmix_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, cwd=tmp)
    return python, env_dir / "bin", wheel


def _run(args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BAYESMIX_MODELS", "BAYESMIX_FAST")}
    env.update(MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_wheel_ships_specs_license_and_py_typed(installed):
    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    specs = {Path(n).name for n in names if n.startswith("bayesmix/models/") and n.endswith(".toml")}
    assert specs == {p.name for p in (REPO / "models").glob("*.toml")}
    assert "bayesmix/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
    assert "bayesmix/datasets/data/carcinoma.csv" in names


def test_installed_cli_and_quick_start(installed, tmp_path):
    python, bin_dir, _ = installed
    work = tmp_path / "work"
    work.mkdir()
    where = _run([python, "-c", "import bayesmix, importlib.metadata as md; "
                                "print(bayesmix.__file__); print(md.version('bayesmix'))"], work)
    location, version = where.split()
    assert Path(location).is_relative_to(python.parent.parent) and not Path(location).is_relative_to(REPO)
    assert version == "0.1.0"

    listing = _run([bin_dir / "bayesmix", "list"], work)
    assert "carcinoma_lca_k2" in listing and "table3_model6" in listing
    assert str(REPO) not in listing  # the specs come from the installed package

    _run([bin_dir / "bayesmix", "run", "carcinoma_lca_k2", "--fast", "--out", work / "out"], work)
    summary = (work / "out" / "summary.txt").read_text()
    assert "-317.2" in summary  # carcinoma K = 2 ML log-likelihood (Agresti 2002: -317.2568)
    assert (work / "out" / "fit.bmx").is_dir()

    first = work / "thirty_seconds.py"
    first.write_text(fast(thirty_seconds()) + "\nprint('LL', round(ml.loglik, 4))\n")
    assert "LL -317.2568" in _run([python, first], work)

    script = work / "quick_start.py"
    script.write_text(fast(quick_start()) + "\nprint('LL', round(ml.loglik, 4))\n"
                      "print('SUM', round(float(m.class_proportions(fits['nuts'])['mean'].sum()), 6))\n")
    printed = _run([python, script], work)
    assert "LL -317.2568" in printed and "SUM 1.0" in printed
    assert (work / "profiles.png").stat().st_size > 0 and (work / "carcinoma.bmx").is_dir()
