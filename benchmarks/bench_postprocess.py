"""Post-processing over posterior draws: the per-draw loop vs the batched draw axis (issue 11 item 4).

Times ``log_likelihood_dataset`` (per-unit / per-cluster log-likelihood, the
``log_likelihood`` group for LOO) and ``class_probabilities`` two ways on the
same draws: the reference loop (``draw_function`` once per draw) and
``results.evaluate_draws`` (the graph with a leading draw axis, stacked draws
in batches). The draws are prior draws (random SDs clipped to [0.05, 2]):
the cost does not depend on where the draws come from. Reports seconds per
1,000 draws, warm (compile excluded; compile time reported apart) and the
largest difference between the two paths. Not a test.

    python benchmarks/bench_postprocess.py                          # Stan harness two-level LCA (J = 200) + J = 1000 + single level
    python benchmarks/bench_postprocess.py --cases lca2l_J200 --draws 400
    python benchmarks/bench_postprocess.py --cases lca2l_J200,lca2l_J1000 --draws 200 --sample 300
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parent / "stan" / "simulate.py"
CASES = {  # name: (harness model, N, J)
    "lca_N200": ("lca", 200, None),
    "lca_N1000": ("lca", 1000, None),
    "lca2l_J200": ("lca2l", 2000, 200),
    "lca2l_J1000": ("lca2l", 10000, 1000),
    "lca_N5000": ("lca", 5000, None),
}


def data_for(case: str, workdir: Path):
    import pandas as pd
    model, n, j = CASES[case]
    path = workdir / f"{case}.csv"
    if not path.exists():
        args = [sys.executable, str(HARNESS), model, "--out", str(path), "--N", str(n)]
        if model == "lca":
            args += ["--P", "7" if n <= 200 else "10" if n <= 1000 else "15"]
        if j:
            args += ["--J", str(j)]
        subprocess.run(args, check=True, capture_output=True)
    return pd.read_csv(path)


def run(case: str, draws: int, workdir: Path, sample_draws: int = 0) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    import pymc as pm
    import bayesmix as bm
    from bayesmix import results as R
    df = data_for(case, workdir)
    items = [c for c in df.columns if c.startswith("y")]
    two_level = "cluster" in df.columns
    m = (bm.lca(df, items, 2, cluster="cluster", random_intercept=True) if two_level
         else bm.lca(df, items, 2))
    with m.model:
        prior = pm.sample_prior_predictive(draws=draws, random_seed=1,
                                           var_names=[rv.name for rv in m.model.free_RVs])
    post = prior.prior.to_dataset() if hasattr(prior.prior, "to_dataset") else prior.prior
    for name in list(post.data_vars):
        if name.endswith("_sd"):
            post[name] = post[name].clip(0.05, 2.0)
    row = {"case": case, "n_units": int(m.data.n_units), "draws": draws, "work_size": m.work_size(),
           "batch": R.batch_size(m, draws)}
    for label, graph in [("loglik", m.integrated_loglik()), ("class_prob", m.class_probability_tensor())]:
        names = R.posterior_rv_names(m, post)
        t0 = time.perf_counter()
        fn = R.draw_function(m, f"{label}_loop", graph, names)
        arrays = [post[n].transpose("chain", "draw", ...).to_numpy()[0, :1] for n in names]
        fn(*[a[0] for a in arrays])
        row[f"{label}_loop_compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = np.stack([np.asarray(fn(*v)) for _, v in R.iterate_draws(m, post)])
        row[f"{label}_loop_s_per_1000"] = (time.perf_counter() - t0) / draws * 1000
        t0 = time.perf_counter()
        R.evaluate_draws(m, f"{label}_batched", graph, post, max_draws=2)
        row[f"{label}_batched_compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, got = R.evaluate_draws(m, f"{label}_batched", graph, post)
        row[f"{label}_batched_s_per_1000"] = (time.perf_counter() - t0) / draws * 1000
        row[f"{label}_speedup"] = row[f"{label}_loop_s_per_1000"] / row[f"{label}_batched_s_per_1000"]
        row[f"{label}_max_abs_diff"] = float(np.max(np.abs(got - ref)))
    if sample_draws:
        # the real thing: sample (default sampler), then time the post-processing steps on its posterior
        from bayesmix.inference.sampling import log_likelihood_dataset
        t0 = time.perf_counter()
        idata = m.sample(draws=sample_draws, tune=sample_draws, chains=2, random_seed=1, progressbar=False,
                         convergence_checks=False)
        row["sample_wall_s"] = time.perf_counter() - t0
        row["sampler"] = idata.attrs.get("bayesmix_sampler")
        row["sampling_s"] = float(idata.attrs["bayesmix_sampling_seconds"])
        row["post_in_sample_s"] = row["sample_wall_s"] - row["sampling_s"]
        posterior = idata["posterior"].to_dataset()
        t0 = time.perf_counter()
        log_likelihood_dataset(m, posterior)
        row["loglik_after_sample_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        m.class_probabilities(idata)
        row["class_prob_after_sample_s"] = time.perf_counter() - t0
        row["post_over_sampling"] = row["loglik_after_sample_s"] / row["sampling_s"]
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--workdir", default="benchmarks/results")
    ap.add_argument("--sample", type=int, default=0,
                    help="also sample 2 chains x SAMPLE tune + SAMPLE draws and time post-processing on them")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.worker:
        print("ROW " + json.dumps(run(args.worker, args.draws, workdir, args.sample)))
        return
    rows = []
    for case in args.cases.split(","):
        out = subprocess.run([sys.executable, __file__, "--worker", case, "--draws", str(args.draws),
                              "--workdir", str(workdir), "--sample", str(args.sample)],
                             capture_output=True, text=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("ROW ")]
        if not line:
            print(case, "failed:", out.stderr[-2000:])
            continue
        rows.append(json.loads(line[0][4:]))
        r = rows[-1]
        print(f"{case:12s} N={r['n_units']:6d} batch={r['batch']:5d}  "
              f"loglik s/1000 draws: loop {r['loglik_loop_s_per_1000']:.2f} batched {r['loglik_batched_s_per_1000']:.2f}"
              f" ({r['loglik_speedup']:.1f}x, diff {r['loglik_max_abs_diff']:.1e})  "
              f"class_prob: loop {r['class_prob_loop_s_per_1000']:.2f} batched {r['class_prob_batched_s_per_1000']:.2f}"
              f" ({r['class_prob_speedup']:.1f}x)", flush=True)
        if "sampling_s" in r:
            print(f"{'':12s} sample ({r['sampler']}, 2 x {args.sample}/{args.sample}): sampling {r['sampling_s']:.1f} s, "
                  f"log_likelihood {r['loglik_after_sample_s']:.1f} s ({100 * r['post_over_sampling']:.0f}% of sampling), "
                  f"class_probabilities {r['class_prob_after_sample_s']:.1f} s", flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (workdir / f"bench_postprocess-{stamp}.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
