"""The ``bayesmix`` command line: run a model spec, list the bundled specs and model families, Monte Carlo studies.

::

    bayesmix list
    bayesmix run models/carcinoma_lca_k2.toml [--data file.csv] [--out DIR] [--ml] [--sampler nutpie] [--fast]
    bayesmix montecarlo models/lca_power_k2.toml --replications 100 [--scheduler ADDRESS] [--out DIR]

``run`` fits what the spec's ``[inference]`` lists (ML and/or NUTS; ``--ml``
fits by ML only) and writes into ``DIR`` (default ``bayesmix_out/<spec name>``):

- ``summary.txt``: ML fit (LL, AIC, BIC, aBIC, entropy), class proportions,
  profiles and parameters with SEs; posterior class proportions, profiles,
  the ArviZ summary (R-hat, ESS), divergences, and the paper's values next to
  ours when the spec lists them;
- ``fit.bmx/``: the model and results (:func:`bayesmix.save`; posteriors as netCDF-4);
- ``profiles.png``, ``class_proportions.png`` (and ``membership.png``) plots.

``--fast`` (or ``BAYESMIX_FAST=1``) runs the spec's fast mode (few draws,
smaller simulated data). A spec argument may also be a bundled spec's name.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence

__all__ = ["main", "run_spec"]


def _section(title: str) -> str:
    return f"\n== {title} " + "=" * max(0, 70 - len(title)) + "\n"


def _number(v: float) -> str:
    """Four decimals, the summary's number format."""
    return f"{v:.4f}"


def _by_time_tables(model, fit) -> str:
    """Text the model's family adds after the summary (its registered ``summary_extra``; LTA: every time point)."""
    from .registry import family_of
    extra = family_of(model).summary_extra
    return extra(model, fit) if extra is not None else ""


def _paper_table(spec, ml) -> str:
    """The spec's ``[paper_values]`` next to the ML estimates (when names match)."""
    values = spec.raw.get("paper_values") or {}
    if not values or ml is None:
        return ""
    import pandas as pd
    rows = []
    for key, paper in values.items():
        ours = None
        if key == "loglik":
            ours = ml.loglik
        elif key in ml.params.index:
            ours = float(ml.params.loc[key, "estimate"])
        rows.append({"quantity": key, "paper": paper, "ours (ML)": ours,
                     "difference": None if ours is None else ours - paper})
    frame = pd.DataFrame(rows).set_index("quantity")
    return _section("Paper vs ours (ML; blank: not a direct ML parameter)") + frame.to_string(float_format=lambda v: f"{v:.4f}") + "\n"


def _timed(fit, options: dict, label: str, caught: list[str]):
    """Run ``fit(**options)``; returns (result, seconds) and appends its warnings (BLAS notice left out) to ``caught``."""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        result = fit(**options)
    caught += [f"{label}: {x.message}" for x in w
               if issubclass(x.category, UserWarning) and "BLAS" not in str(x.message)]
    return result, time.perf_counter() - t0


def run_spec(spec_path, *, data=None, out=None, ml_only: bool = False, sampler: str | None = None,
             fast: bool | None = None, quiet: bool = False) -> Path:
    """Fit a spec and write summary, results and plots into ``out`` (see the module docstring).

    Returns the output directory.
    """
    import pandas as pd

    import bayesmix as bm
    from .spec import fast_mode, read_spec

    fast = fast_mode() if fast is None else fast
    spec = read_spec(spec_path)
    out = Path(out) if out is not None else Path("bayesmix_out") / spec.name
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 40)

    text = io.StringIO()
    text.write(f"bayesmix {bm.__version__}: spec {spec.name}" + (" [fast mode]" if fast else "") + "\n")
    if spec.description:
        text.write(spec.description + "\n")
    if spec.paper:
        text.write(f"Paper: {spec.paper}\n")
    say(text.getvalue().rstrip())
    model = spec.build(data, fast=fast)
    text.write(f"Data: {len(model.data.frame)} rows; model {model.name} ({spec.factory})\n")

    ml_opts = spec.ml_options(fast)
    sample_opts = None if ml_only else spec.sample_options(fast)
    if ml_only and ml_opts is None:
        ml_opts = spec.ml_options(fast) or {}
    if ml_opts is None and sample_opts is None:
        ml_opts = {}
    results: dict = {}
    ml = idata = None
    caught: list[str] = []
    if ml_opts is not None:
        say(f"ML: fit_ml({ml_opts})")
        ml, seconds = _timed(model.fit_ml, ml_opts, "fit_ml", caught)
        results["ml"] = ml
        text.write(_section(f"Maximum likelihood ({seconds:.1f} s)"))
        text.write(str(ml.summary()) + "\n")
        text.write(_by_time_tables(model, ml))
        text.write(_paper_table(spec, ml))
    if sample_opts is not None:
        if sampler is not None:
            sample_opts["sampler"] = sampler
        sample_opts.setdefault("progressbar", False)
        say(f"NUTS: sample({sample_opts})")
        idata, seconds = _timed(model.sample, sample_opts, "sample", caught)
        results["nuts"] = idata
        text.write(_section(f"NUTS posterior ({seconds:.1f} s; "
                            f"sampler {idata.attrs.get('bayesmix_sampler', sample_opts.get('sampler', 'auto'))})"))
        by_time = _by_time_tables(model, idata)
        if by_time:  # LTA: every time point's classes in place of C_1's
            text.write(by_time + "\n")
        else:
            text.write("Class proportions (posterior mean, interval):\n")
            text.write(model.class_proportions(idata).to_string(float_format=_number) + "\n\n")
        text.write("Profiles:\n" + model.profiles(idata).to_string(float_format=_number) + "\n\n")
        summary = model.summary(idata)
        text.write("Diagnostics (ArviZ):\n" + summary.to_string() + "\n")
        stats = idata.sample_stats
        divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
        rhat = pd.to_numeric(summary.get("r_hat"), errors="coerce") if "r_hat" in summary else None
        text.write(f"divergences: {divergences}; max R-hat: "
                   f"{float(rhat.max()) if rhat is not None else float('nan'):.3f}; "
                   f"min bulk ESS: {float(pd.to_numeric(summary.get('ess_bulk'), errors='coerce').min()):.0f}\n")
    if caught:
        text.write(_section("Warnings") + "\n".join(dict.fromkeys(caught)) + "\n")
    (out / "summary.txt").write_text(text.getvalue())
    bm.save(out / "fit.bmx", model, results, overwrite=True)
    _plots(model, idata if idata is not None else ml, out, say)
    say(f"wrote {out}/summary.txt, {out}/fit.bmx, plots")
    return out


def _plots(model, result, out: Path, say) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plots (pip install 'bayesmix[plot]').")
        return
    from . import plots
    for name, fn in (("profiles", plots.plot_profiles), ("class_proportions", plots.plot_class_proportions),
                     ("membership", plots.plot_membership)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = fn(model, result)
            figure = ax.figure if hasattr(ax, "figure") else ax
            figure.savefig(out / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(figure)
        except Exception as err:  # noqa: BLE001  (a plot this model lacks must not lose the fit)
            say(f"no {name} plot: {err}")


def _families_text() -> str:
    """The registered model families: factory, description, simulators (for ``[data] simulate``)."""
    from . import registry
    known = registry.families()
    width = max(map(len, known), default=0)
    lines = ["model families (factory = ...; [data] simulate = ...):"]
    for name, family in known.items():
        simulators = ", ".join(family.simulators) or "-"
        lines.append(f"  {name:<{width}}  {family.description}; simulators: {simulators}")
    return "\n".join(lines)


def _cmd_list(args) -> int:
    from .spec import bundled_dir, bundled_specs, read_spec
    specs = bundled_specs()
    if not specs:
        print(f"no bundled specs in {bundled_dir()} (set BAYESMIX_MODELS to a models/ folder).")
        print(_families_text())
        return 1
    print(f"bundled specs ({bundled_dir()}):")
    width = max(map(len, specs))
    for name, path in specs.items():
        spec = read_spec(path)
        print(f"  {name:<{width}}  {spec.factory:<18}  {spec.description}")
    print(_families_text())
    return 0


def _cmd_run(args) -> int:
    run_spec(args.spec, data=args.data, out=args.out, ml_only=args.ml, sampler=args.sampler,
             fast=True if args.fast else None)
    return 0


def _cmd_montecarlo(args) -> int:
    from .montecarlo import montecarlo
    from .spec import read_spec
    spec = read_spec(args.spec)
    study = montecarlo(spec, replications=args.replications, seed=args.seed, scheduler=args.scheduler,
                       n_workers=args.workers, fast=True if args.fast else None, progress=True,
                       starts=args.starts)
    text = str(study)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "montecarlo.txt").write_text(text + "\n")
        study.table.to_csv(out / "montecarlo.csv")
        study.replications.to_csv(out / "replications.csv", index=False)
        print(f"wrote {out}/montecarlo.txt, montecarlo.csv, replications.csv")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesmix`` command."""
    parser = argparse.ArgumentParser(prog="bayesmix", description="Bayesian multilevel mixture models from TOML specs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show the bundled specs and the model families").set_defaults(func=_cmd_list)
    run = sub.add_parser("run", help="fit a spec; write summary, results (bm.save) and plots")
    run.add_argument("spec", help="a spec file or a bundled spec name")
    run.add_argument("--data", help="a CSV replacing the spec's data (same columns)")
    run.add_argument("--out", help="output directory (default bayesmix_out/<name>)")
    run.add_argument("--ml", action="store_true", help="fit by maximum likelihood only")
    run.add_argument("--sampler", help="NUTS backend: auto, pymc, nutpie, numpyro")
    run.add_argument("--fast", action="store_true", help="fast mode (also BAYESMIX_FAST=1)")
    run.set_defaults(func=_cmd_run)
    mc = sub.add_parser("montecarlo", help="Monte Carlo study from the spec's simulator (ML per replication)")
    mc.add_argument("spec")
    mc.add_argument("--replications", type=int, default=None, help="default: the spec's [montecarlo] or 100")
    mc.add_argument("--seed", type=int, default=None)
    mc.add_argument("--scheduler", default=None,
                    help="'local' (a dask LocalCluster, the default), 'serial' (this process) or a dask scheduler address")
    mc.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: 2)")
    mc.add_argument("--out", default=None, help="write the table and per-replication results here")
    mc.add_argument("--fast", action="store_true")
    mc.add_argument("--starts", choices=["random", "population"], default=None,
                    help="'population': start each replication at the population values alone (Mplus's MONTECARLO "
                         "convention); default: the spec's [montecarlo] starts, else 'random'")
    mc.set_defaults(func=_cmd_montecarlo)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, ImportError) as err:  # bad input, or an optional extra not installed (its pip line)
        print(f"bayesmix: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m bayesmix.cli
    sys.exit(main())
