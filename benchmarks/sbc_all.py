"""Simulation-based calibration of every factory (issue 14): plots and a verdict table.

    .venv/bin/python benchmarks/sbc_all.py                       # every case, the replications below
    .venv/bin/python benchmarks/sbc_all.py --cases lca,fma --replications 20
    .venv/bin/python benchmarks/sbc_all.py --jobs 2              # cases in 2 worker processes
    .venv/bin/python benchmarks/sbc_all.py --table               # rebuild verdicts.md from saved results
    .venv/bin/python benchmarks/sbc_all.py --power --cases lca --scheduler local --workers 2
                                       # power >= 0.8 against a 0.5-SD bias, fits on a 2-process LocalCluster
    .venv/bin/python benchmarks/sbc_all.py --plan-power          # replications and CPU time power needs, per case
    BAYESMIX_SBC_OUT=_logs/x .venv/bin/python benchmarks/sbc_all.py ...  # write the files elsewhere
    # a run cut off resumes from <case>_partial.jsonl when started again with the same options (--fresh: refit all)

For each case of :data:`bayesmix.sbc.CASES` (sizes and replications in
:data:`PLAN`), :func:`bayesmix.sbc.run_sbc` draws parameters from the prior,
simulates data, fits NUTS with label alignment and ranks the truth. Written to
``benchmarks/results/sbc/`` (kept in the repository):

- ``<case>_ranks.csv``: truth, integer rank and fractional rank per replication and quantity;
- ``<case>_fits.csv``: seconds, divergences, max R-hat, min bulk ESS, relabeled draws per fit;
- ``<case>_uniformity.csv``: chi-square and ECDF p-values per quantity;
- ``<case>_ecdf.png`` (ECDF difference with the 95% simultaneous band) and ``<case>_hist.png``;
- ``<case>_summary.json`` and ``verdicts.md`` / ``verdicts.csv``: one line per case (a case run
  later replaces its line; the others are kept);
- ``<case>_partial.jsonl`` while a case runs: a header (case, seed, replications, fit settings), then one line per
  finished fit (truth, thinned draws, fit record). A run cut off (killed, session ended) loses no fit: the same
  command again resumes from it (``run_sbc(completed=...)``: the prior draws, data sets and rank tie-breaks are
  made again from the seed, so the result equals an uncut run's), and it is removed once the case's files are
  written. ``--fresh`` ignores it.

The verdict is Bonferroni over the quantities and both tests at family level
0.05; the table also gives the power of that test at the case's number of
replications against a posterior off by 0.5 / 1 posterior SD or half as wide
as it should be (:func:`bayesmix.sbc.power`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(os.environ.get("BAYESMIX_SBC_OUT", Path(__file__).resolve().parent / "results" / "sbc"))
ALPHA = 0.05

#: case -> (sizes, replications), in the order the cases are run. The replications are what one session on
#: the shared 2-core machine allowed (see verdicts.md for the power this gives); ``--replications`` asks for more.
PLAN: dict[str, tuple[dict, int]] = {
    "lca": ({"n_units": 60, "n_items": 4}, 40),
    "lca_random_intercept": ({"n_clusters": 10, "cluster_size": 8, "n_items": 4}, 30),
    "lca_between": ({"n_clusters": 24, "cluster_size": 4, "n_items": 4}, 30),
    "mixture_regression": ({"n_units": 80}, 25),
    "mixture_regression_random_intercept": ({"n_units": 80, "n_clusters": 10}, 30),
    # 3x longer chains: is the twice-rejected rank test the fits' mixing? (benchmarks/results/sbc/notes.md)
    "mixture_regression_random_intercept_long_chains": ({"case": "mixture_regression_random_intercept", "n_units": 80,
                                                         "n_clusters": 10,
                                                         "fit": {"draws": 300, "tune": 600, "n_posterior": 50}}, 90),
    "lta": ({"n_units": 60, "n_items": 3}, 30),
    "fma": ({"n_units": 50, "n_items": 5}, 30),
    # the same FMA with a narrower loading prior, and with 3x longer chains (see the notes in verdicts.md)
    "fma_loading_sd1": ({"case": "fma", "n_units": 50, "n_items": 5,
                         "priors": {"binary_logit": {"sigma": 1.5}, "factor_loading": {"sigma": 1.0}}}, 30),
    "fma_long_chains": ({"case": "fma", "n_units": 50, "n_items": 5,
                         "fit": {"draws": 300, "tune": 600, "n_posterior": 50}}, 20),
    "irt_3pl": ({"n_units": 60, "n_items": 5}, 30),
    "irt_3pl_fma_gom": ({"n_units": 60, "n_items": 5}, 30),
    "gom_logistic_normal": ({"n_units": 50, "n_items": 5}, 30),
    "gom_restricted": ({"n_units": 50, "n_items": 5}, 30),
    "lca_within_between": ({"n_clusters": 20, "cluster_size": 5, "n_items": 4}, 30),
    "fma_gom": ({"n_units": 40, "n_items": 5}, 30),
    "gom_dirichlet": ({"n_units": 30, "n_items": 5}, 30),
    # 3x longer chains: the FMA-GoM's stuck fits mix at 600 + 300 (benchmarks/results/sbc/notes.md)
    "fma_gom_long_chains": ({"case": "fma_gom", "n_units": 40, "n_items": 5,
                             "fit": {"draws": 300, "tune": 600, "n_posterior": 50}}, 30),
    # the stuck-chain cases with the person effects integrated by quadrature inside the NUTS density
    # (sample(latent="integrated")): the same structural posterior, NUTS in the structural parameters only
    "fma_integrated": ({"case": "fma", "n_units": 50, "n_items": 5, "fit": {"latent": "integrated"}}, 10),
    "irt_3pl_integrated": ({"case": "irt_3pl", "n_units": 60, "n_items": 5, "fit": {"latent": "integrated"}}, 10),
    "gom_restricted_integrated": ({"case": "gom_restricted", "n_units": 50, "n_items": 5,
                                   "fit": {"latent": "integrated"}}, 10),
    "fma_gom_integrated": ({"case": "fma_gom", "n_units": 40, "n_items": 5, "fit": {"latent": "integrated"}}, 10),
    # Dirichlet memberships integrated exactly (the Gauss-Jacobi rule of ML, nodes and weights graphs of the
    # concentration; importance sampling before 2026-12-07 evening): the same structural posterior
    "gom_dirichlet_integrated": ({"case": "gom_dirichlet", "n_units": 30, "n_items": 5,
                                  "fit": {"latent": "integrated"}}, 10),
}
#: every fit: NUTS with 200 tune + 100 draws x 2 chains, ranks among L = 50 draws (thinned by 4)
FIT = {"draws": 100, "tune": 200, "chains": 2, "n_posterior": 50, "starts": 3}


#: the miscalibration every case's replications are sized against with ``--power``
POWER_BIAS, POWER_TARGET = 0.5, 0.8


def _case(name: str):
    from bayesmix import sbc
    sizes = dict(PLAN[name][0])
    fit = {**FIT, **sizes.pop("fit", {})}
    case = sbc.make_case(sizes.pop("case", name), **sizes)
    case.name = name
    return case, fit


def n_quantities(name: str) -> int:
    """Quantities the case ranks (from one prior draw on its template data; no fit)."""
    import warnings
    from bayesmix import sbc
    case, _ = _case(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mm = (case.prior_build or case.build)(case.template(np.random.default_rng(0)))
    theta = sbc.prior_draws(mm, 1, seed=0)[0]
    return len(case.quantities(sbc._stack(sbc._dataset(mm, theta, [k for k in theta if k in mm.model.named_vars]))))


def power_plan(name: str) -> dict:
    """Replications for power >= POWER_TARGET against a POWER_BIAS-SD bias, and the CPU time they take."""
    from bayesmix import sbc
    q = n_quantities(name)
    n, pw = sbc.replications_for_power(q, bias=POWER_BIAS, target=POWER_TARGET)
    previous = OUT / f"{name}_fits.csv"
    per_fit = float(pd.read_csv(previous)["seconds"].mean()) if previous.exists() else float("nan")
    return {"case": name, "quantities": q, "replications_for_power": n, "power": pw,
            "seconds_per_fit_last_run": per_fit, "projected_cpu_minutes": n * per_fit / 60}


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _checkpoint_header(name: str, n: int, seed: int, fit: dict) -> dict:
    return json.loads(json.dumps({"case": name, "sizes": PLAN[name][0], "replications": n, "seed": seed,
                                  "fit": fit}, default=_json_default))


def read_checkpoint(path: Path, header: dict) -> dict[int, tuple]:
    """Fits saved by a run of the same case, replications, seed and settings: replication -> outcome.

    A file written by another run (other seed, settings or replications) is moved aside to
    ``<path>.stale`` and nothing is resumed; a last line cut mid-write is dropped.
    """
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    try:
        saved = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        saved = None
    if saved != header:
        path.replace(path.with_name(path.name + ".stale"))
        return {}
    completed = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # the process was killed while writing this line
            continue
        completed[int(entry["r"])] = (entry["truth"], np.asarray(entry["draws"], dtype=float), entry["record"])
    return completed


def run_case(name: str, replications: int | None, seed: int, scheduler=None, workers: int | None = None,
             resume: bool = True) -> dict:
    from bayesmix import sbc

    n = replications or PLAN[name][1]
    case, fit = _case(name)
    start = time.perf_counter()
    cpu_start = time.process_time() + _children_cpu()
    log = OUT / f"{name}.log"
    partial = OUT / f"{name}_partial.jsonl"
    header = _checkpoint_header(name, n, seed, fit)
    completed = read_checkpoint(partial, header) if resume else {}
    if not completed:
        partial.write_text(json.dumps(header) + "\n")
    with open(log, "a" if completed else "w") as handle, open(partial, "a") as saved:
        if completed:
            print(f"{name}: resuming from {partial.name} with {len(completed)} of {n} fits already made",
                  file=handle, flush=True)

        def save(r: int, outcome: tuple) -> None:
            truth, draws, record = outcome
            saved.write(json.dumps({"r": r, "truth": truth, "draws": draws, "record": record},
                                   default=_json_default) + "\n")
            saved.flush()

        result = sbc.run_sbc(case, n, seed=seed, progress=lambda m: print(m, file=handle, flush=True),
                             scheduler=scheduler, n_workers=workers, on_fit=save, completed=completed, **fit)
    wall = time.perf_counter() - start
    cpu = time.process_time() + _children_cpu() - cpu_start
    frame = pd.concat({"truth": result.truth, "rank": result.ranks, "fractional": result.fractional}, axis=1)
    frame.to_csv(OUT / f"{name}_ranks.csv", index_label="replication")
    result.fits.to_csv(OUT / f"{name}_fits.csv", index=False)
    table = sbc.uniformity_table(result)
    table.to_csv(OUT / f"{name}_uniformity.csv", index_label="quantity")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.close(sbc.plot_ecdf_difference(result, OUT / f"{name}_ecdf.png"))
    plt.close(sbc.plot_rank_histograms(result, OUT / f"{name}_hist.png"))
    decision, adjusted = sbc.verdict(table, ALPHA)
    n_tests = 2 * len(table)
    pw = {f"{key}": sbc.power(n, alpha=ALPHA, n_tests=n_tests, n_simulations=300, **kw)["ecdf"]
          for key, kw in {"power_bias_0.5": {"bias": 0.5}, "power_bias_1": {"bias": 1.0},
                          "power_half_width": {"scale": 2.0}}.items()}
    worst = table.assign(p=table[["p_chi2", "p_ecdf"]].min(axis=1))["p"].idxmin()
    summary = {
        "case": name, "description": result.description, "replications": n, "quantities": len(table),
        "replications_for_power": sbc.replications_for_power(len(table), bias=POWER_BIAS, target=POWER_TARGET)[0],
        "L": result.n_posterior, **{k: v for k, v in fit.items() if k != "n_posterior"},
        "priors": result.priors or "defaults", "verdict": decision, "bonferroni_p": adjusted,
        "worst_quantity": worst, "worst_mean_u": float(table.loc[worst, "mean_u"]),
        "worst_sd_u": float(table.loc[worst, "sd_u"]),
        "extreme_rank_share": float(np.isin(result.ranks.to_numpy(), [0, result.n_posterior]).mean()),
        "divergent_fits": int((result.fits["divergences"] > 0).sum()),
        "fits_rhat_over_1.05": int((result.fits["max_rhat"] > 1.05).sum()),
        "rejected_simulations": result.settings["rejected_simulations"],
        "seconds_per_fit": float(result.fits["seconds"].mean()), "wall_seconds": wall,
        "fit_wall_seconds_sum": float(result.fits["seconds"].sum()),
        "fit_cpu_seconds_sum": float(result.fits["cpu_seconds"].sum()),
        "cpu_seconds_here": cpu if scheduler in (None, "serial") else None, **pw,
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "seed": seed,
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
    }
    if completed:
        summary["resumed_fits"] = len(completed)  # their seconds / CPU are the cut run's, at its load
    (OUT / f"{name}_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    partial.unlink()
    return summary


def _children_cpu() -> float:
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: a fit whose largest R-hat exceeds this has chains in different places (stuck), not just short ones: mixing
#: AR(1) chains of 2 x 100 draws (autocorrelation 0.5, over 60 parameters) have a median max R-hat of 1.06
STUCK_RHAT = 1.2


def _load(text: str) -> float:
    try:
        return float(str(text).rsplit("load", 1)[1])
    except (IndexError, ValueError):
        return float("nan")


def _row(case: str, r: pd.Series) -> dict:
    """Derived columns of one case: power reached?, stuck chains, CPU per fit, what power would need."""
    fits = pd.read_csv(OUT / f"{case}_fits.csv")
    stuck = int((fits["max_rhat"] > STUCK_RHAT).sum())
    if "cpu_seconds" in fits:
        cpu_per_fit, measured = float(fits["cpu_seconds"].mean()), True
    else:  # older runs recorded wall seconds only: CPU about wall x cores / load on the 2-core machine
        cpu_per_fit, measured = float(fits["seconds"].mean()) * min(1.0, 2 / max(_load(r["machine"]), 1e-9)), False
    needed = r.get("replications_for_power")
    if needed is None or pd.isna(needed):
        from bayesmix import sbc
        needed, _ = sbc.replications_for_power(int(r["quantities"]), bias=POWER_BIAS, target=POWER_TARGET)
    return {"stuck": stuck, "n_fits": len(fits), "cpu_per_fit": cpu_per_fit, "cpu_measured": measured,
            "needed": int(needed), "powered": r["power_bias_0.5"] >= POWER_TARGET}


def write_table() -> pd.DataFrame:
    rows = []
    for path in sorted(OUT.glob("*_summary.json")):
        # a row per file: "<case>_seed<N>_*" files are a rerun of <case> with another seed (other data sets),
        # kept beside the plan seed's "<case>_*" files and listed after them
        rows.append({**json.loads(path.read_text()), "case": path.name[: -len("_summary.json")]})
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).set_index("case")
    order = [key for c in PLAN for key in sorted(table.index, key=lambda k: (k != c, k))
             if key == c or re.fullmatch(re.escape(c) + r"_seed\d+", key)]
    table = table.loc[order]
    table["verdict"] = table["verdict"].replace({"calibrated": "not rejected", "miscalibrated": "rejected"})
    derived = pd.DataFrame({case: _row(case, r) for case, r in table.iterrows()}).T
    table = table.join(derived)
    table.to_csv(OUT / "verdicts.csv")
    lines = ["# SBC verdicts (benchmarks/sbc_all.py)", "",
             f"**\"Not rejected\" is not \"calibrated\".** Each verdict says how strong it is: the power of its "
             f"test against a posterior off by {POWER_BIAS} posterior SD in any one quantity. A case is called "
             f"calibrated only when it is not rejected, that power is at least {POWER_TARGET}, and no fit has "
             f"stuck chains (max R-hat > {STUCK_RHAT}); the other not-rejected cases caught only gross errors. "
             "Replications for power: `python benchmarks/sbc_all.py --plan-power`; a powered run: "
             "`--power --cases <case> --scheduler local --workers 2`.", "",
             "Verdict: chi-square and ECDF uniformity tests of every quantity's ranks, Bonferroni over "
             f"quantities and both tests at family level {ALPHA}. Power: probability that this test rejects "
             "at the case's replications when a posterior is off by 0.5 / 1 posterior SD, or half as wide "
             "as it should be (normal posteriors, `bayesmix.sbc.power`). Fits: NUTS (PyMC sampler) from the "
             f"start search's mode, labels aligned as `sample` does; {FIT['tune']} tune + {FIT['draws']} draws x "
             f"{FIT['chains']} chains, ranks among L = {FIT['n_posterior']} thinned draws (`fma_long_chains`: "
             "600 + 300; `<case>_integrated`: `sample(latent=\"integrated\")`, the person effects integrated by "
             "quadrature inside the NUTS density, so the R-hat columns are over the structural parameters only). CPU: per fit, measured in the fitting process (runs since 2026-12-07, with the "
             "compiled functions reused across replications), else estimated as wall x 2 / load. "
             "`<case>_seed<N>`: the case rerun with seed N (new prior draws and data sets), beside the run with "
             "the plan's seed 2026.", "",
             "| case | replications | quantities | verdict | called calibrated | Bonferroni p | "
             "worst quantity (mean u, sd u) | power 0.5 SD / 1 SD / half width | fits with divergences | "
             f"fits R-hat > 1.05 | fits R-hat > {STUCK_RHAT} (stuck) | rejected simulations | CPU s per fit | "
             "priors |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case, r in table.iterrows():
        priors = r["priors"] if isinstance(r["priors"], str) else json.dumps(r["priors"])
        worst = str(r["worst_quantity"]).replace("|", "\\|")
        if r["verdict"] == "not rejected":
            verdict_text = f"not rejected (power {r['power_bias_0.5']:.2f} at 0.5 SD, {r['replications']} reps)"
        else:
            verdict_text = f"**{r['verdict']}** ({r['replications']} reps)"
        if r["verdict"] != "not rejected":
            called = "no: rejected"
        elif r["stuck"] > 0:
            called = f"no: stuck chains in {r['stuck']} of {r['n_fits']} fits"
        elif not r["powered"]:
            called = f"no: power < {POWER_TARGET} (needs {r['needed']} reps)"
        else:
            called = "**yes**"
        cpu = f"{r['cpu_per_fit']:.1f}" + ("" if r["cpu_measured"] else " (est.)")
        lines.append(
            f"| {case} | {r['replications']} | {r['quantities']} | {verdict_text} | {called} | "
            f"{r['bonferroni_p']:.3f} | {worst} ({r['worst_mean_u']:.2f}, {r['worst_sd_u']:.2f}) | "
            f"{r['power_bias_0.5']:.2f} / {r['power_bias_1']:.2f} / {r['power_half_width']:.2f} | "
            f"{r['divergent_fits']} | {r['fits_rhat_over_1.05']} | {r['stuck']} | {r['rejected_simulations']} | "
            f"{cpu} | {priors} |")
    short = table[~table["powered"].astype(bool)]
    if len(short):
        lines += ["", f"**Not yet run at power {POWER_TARGET}** (against a {POWER_BIAS}-SD bias): the "
                  "replications needed and the CPU time they would take at the CPU per fit above (without "
                  "compile reuse for the older runs: reuse saves about a third):", "",
                  "| case | replications run | needed | projected CPU minutes |", "|---|---|---|---|"]
        for case, r in short.iterrows():
            lines.append(f"| {case} | {r['replications']} | {r['needed']} | {r['needed'] * r['cpu_per_fit'] / 60:.0f} |")
    for case, r in table.iterrows():
        if r["verdict"] != "not rejected":
            u = pd.read_csv(OUT / f"{case}_uniformity.csv", index_col=0)
            u = u.assign(p=u[["p_chi2", "p_ecdf"]].min(axis=1)).sort_values("p").head(3)
            worst = "; ".join(f"{q} (p chi2 {x.p_chi2:.3f}, p ECDF {x.p_ecdf:.3f}, mean u {x.mean_u:.2f}, sd u "
                              f"{x.sd_u:.2f})" for q, x in u.iterrows())
            ranks = pd.read_csv(OUT / f"{case}_ranks.csv", header=[0, 1], index_col=0)["rank"].to_numpy()
            share = float(np.isin(ranks, [0, r["L"]]).mean())
            lines += ["", f"**{case}**: {worst}. Ranks at 0 or L (truth outside every posterior draw): "
                      f"{share:.1%} of all, {2 / (r['L'] + 1):.1%} expected."]
    lines += ["", "Priors: the factories' defaults, except (1) the mixture regression, whose default priors are "
              "scaled on the data (Normal(mean y, 2 sd y), ...), which SBC cannot use (the prior must not depend on "
              "the data it is checked on): fixed ones are passed; (2) the probit models (GoM, FMA, FMA-GoM), where "
              "the default item prior Normal(0, 2.5) puts 30% of its mass on |tau| > 2.6 (P(y = 1 | class) beyond "
              "0.005 / 0.995): at these sizes 17-52% of the simulated data sets then have a constant item, which "
              "the factory refuses (measured over 300 prior draws: FMA 52, GoM logistic-normal 115, FMA-GoM 37, "
              "GoM Dirichlet 155, against 9, 38, 11 and 69 with Normal(0, 1.5)); SBC uses Normal(0, 1.5) there. "
              "Refused simulations are redrawn (conditioning on an event of the data alone keeps the ranks "
              "uniform); the column counts them.", "",
              "Fits with R-hat > 1.05: the largest R-hat over every parameter (person / cluster effects "
              "included) of two short chains; see the R-hat section below for what correctly mixing chains "
              f"give, and why fits over {STUCK_RHAT} are read as stuck chains.", ""]
    lines += ["Models and sizes:", ""]
    lines += [f"- `{case}`: {r['description']}"
              + ("; NUTS with `latent=\"integrated\"`" if r.get("latent") == "integrated" else "")
              + f" (run {r['date']}, {r['machine']})" for case, r in table.iterrows()]
    lines += ["", "Plots: `<case>_ecdf.png` (ECDF of the fractional ranks minus the uniform CDF, 95% "
              "simultaneous band) and `<case>_hist.png` (rank histograms, 99% band of a uniform bin count).", ""]
    notes = OUT / "notes.md"  # hand-written sections (R-hat pattern, negative controls), kept on every rewrite
    if notes.exists():
        lines += [notes.read_text()]
    (OUT / "verdicts.md").write_text("\n".join(lines))
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(PLAN), help="comma-separated cases (default: all)")
    parser.add_argument("--replications", type=int, default=None, help="override every case's replications")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=1, help="cases run in this many worker processes")
    parser.add_argument("--table", action="store_true", help="only rebuild verdicts.md from saved summaries")
    parser.add_argument("--power", action="store_true",
                        help=f"replications for power >= {POWER_TARGET} against a {POWER_BIAS}-SD bias per case")
    parser.add_argument("--plan-power", action="store_true",
                        help="print the replications --power would run and their projected CPU time, run nothing")
    parser.add_argument("--scheduler", default=None, help="where each case's fits run: serial (default), local")
    parser.add_argument("--workers", type=int, default=None, help="worker processes of --scheduler local")
    parser.add_argument("--fresh", action="store_true",
                        help="refit every replication, ignoring a cut run's <case>_partial.jsonl (default: resume)")
    args = parser.parse_args(argv)
    # SIGTERM (a session's end) exits through the context managers: the dask cluster is closed, the fits made so
    # far are in <case>_partial.jsonl already
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    OUT.mkdir(parents=True, exist_ok=True)
    if args.plan_power:
        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
        plan = pd.DataFrame([power_plan(c) for c in cases]).set_index("case")
        print(plan.round(2).to_string())
        return
    if args.power or args.scheduler:
        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
        for case in cases:  # one case at a time, its fits spread over the scheduler's workers
            n = power_plan(case)["replications_for_power"] if args.power else args.replications
            s = run_case(case, n, args.seed, scheduler=args.scheduler, workers=args.workers, resume=not args.fresh)
            print(f"{case}: {s['verdict']} (Bonferroni p {s['bonferroni_p']:.3f}, {s['replications']} "
                  f"replications, power {s['power_bias_0.5']:.2f} at 0.5 SD, {s['seconds_per_fit']:.1f} s per fit, "
                  f"{s['wall_seconds']:.0f} s wall)", flush=True)
            write_table()
        args.table = True
    if not args.table:
        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
        unknown = [c for c in cases if c not in PLAN]
        if unknown:
            sys.exit(f"unknown case(s) {unknown}; choose from {list(PLAN)}")
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {c: pool.submit(run_case, c, args.replications, args.seed, resume=not args.fresh)
                       for c in cases}
            for case, future in futures.items():
                try:
                    s = future.result()
                    print(f"{case}: {s['verdict']} (Bonferroni p {s['bonferroni_p']:.3f}, {s['replications']} "
                          f"replications, {s['seconds_per_fit']:.1f} s per fit)", flush=True)
                except Exception as err:  # one failing case does not lose the others
                    print(f"{case}: FAILED {type(err).__name__}: {err}", flush=True)
                write_table()
    table = write_table()
    print(table[["replications", "verdict", "bonferroni_p", "worst_quantity"]].to_string()
          if len(table) else "no results yet")


if __name__ == "__main__":
    main()
